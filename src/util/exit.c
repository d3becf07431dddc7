#include <config.h>

#include "util/exit.h"

static const struct {
    gs_exit_t code;
    const char *meaning;
} exit_table[] = {
    {GS_EXIT_OK, "done (run: every cell of the config stored, none failed or crashed)"},
    {GS_EXIT_CELLS_FAILED, "some cells failed or crashed, the rest stored (gradsweep status DB "
                           "lists them; run --retry reruns them)"},
    {GS_EXIT_RUNTIME, "a runtime error: the database, the disk, memory, MPI"},
    {GS_EXIT_INPUT, "bad input or usage: config, arguments, a missing database, a file that is "
                    "not a gradsweep database, a database of another sweep"},
    {GS_EXIT_INTERRUPTED, "interrupted by SIGINT or SIGTERM (what arrived is committed), or drained by SIGUSR1 (the running cells stored too)"},
};

void gs_exit_print_table(FILE *out)
{
    fprintf(out, "exit status (every command):\n");
    for (size_t i = 0; i < sizeof exit_table / sizeof *exit_table; i++)
        fprintf(out, "  %3d  %s\n", (int)exit_table[i].code, exit_table[i].meaning);
}
