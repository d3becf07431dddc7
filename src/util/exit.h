/* The exit status of every gradsweep command: one table, printed by
 * `gradsweep --help` and documented in the README. The same condition
 * gives the same status in every command. */
#ifndef GS_UTIL_EXIT_H
#define GS_UTIL_EXIT_H

#include <stdio.h>

typedef enum {
    GS_EXIT_OK = 0,             /* done: every cell stored and none failed or crashed */
    GS_EXIT_RUNTIME = 1,        /* a runtime error: database, disk, memory, MPI */
    GS_EXIT_INPUT = 2,          /* bad input or usage: config, arguments, a path that is not
                                   a gradsweep database of this sweep */
    GS_EXIT_CELLS_FAILED = 3,   /* some cells failed or crashed (the rest stored) */
    GS_EXIT_INTERRUPTED = 130,  /* SIGINT or SIGTERM: what arrived is committed; or drained (SIGUSR1) */
} gs_exit_t;

/* The table as text, one "  N  meaning" line per status. */
void gs_exit_print_table(FILE *out);

#endif
