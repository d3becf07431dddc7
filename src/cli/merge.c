/* gradsweep merge OUT.db SHARD.db...: the shards of one sweep (run
 * --shard I/N) joined into one database (store/merge.h). */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/merge.h"
#include "util/exit.h"

#define MERGE_USAGE "gradsweep merge OUT.db SHARD.db [SHARD.db...]"

int gs_cmd_merge(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: " MERGE_USAGE "\n\n"
               "Joins the databases of one sweep's shards (gradsweep run --shard I/N, the\n"
               "tasks of a Slurm array) into OUT.db, created when missing. The shards must\n"
               "hold the same config text (sweep, keys, seed, overrides) and seeding; every\n"
               "one is read and checked before OUT.db is written, so a refusal writes\n"
               "nothing. A cell is copied whole (its runs row and every row of its tables,\n"
               "whatever its status); one that OUT.db holds already, or an earlier shard\n"
               "gave, is skipped, so overlapping shards and a shard given twice are fine.\n"
               "OUT.db holds the whole sweep: gradsweep report, status and compare read it,\n"
               "and gradsweep run CONFIG --db OUT.db runs the cells no shard stored.\n\n");
        gs_exit_print_table(stdout);
        return GS_EXIT_OK;
    }
    if (argc < 3 || argv[1][0] == '-') {
        fprintf(stderr, "gradsweep merge: %s; usage: " MERGE_USAGE "\n",
                argc < 2 ? "which output database?" : argc < 3 ? "which shards?" : "unexpected option");
        return GS_EXIT_INPUT;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], argv[1]) == 0) {
            fprintf(stderr, "gradsweep merge: %s is both the output and a shard; merge into "
                    "a database of its own\n", argv[1]);
            return GS_EXIT_INPUT;
        }
    char host[256] = "", err[8192];
    gethostname(host, sizeof host - 1);
    gs_merge_counts_t counts;
    int rc = gs_store_merge(argv[1], (const char *const *)argv + 2, (size_t)argc - 2, host,
                            &counts, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "gradsweep %s\n", err);
        return rc == -2 ? GS_EXIT_INPUT : GS_EXIT_RUNTIME;
    }
    printf("merged %d shard%s of sweep '%s' into %s: %zu cells copied, %zu skipped (held "
           "already); it holds %zu of the sweep's %zu cells\n", argc - 2, argc == 3 ? "" : "s",
           counts.sweep, argv[1], counts.copied, counts.duplicates, counts.stored,
           counts.n_cells);
    if (counts.stored < counts.n_cells)
        printf("the %zu missing: gradsweep run %s --db %s runs them (or merge the shards that "
               "hold them)\n", counts.n_cells - counts.stored, counts.config_path, argv[1]);
    return GS_EXIT_OK;
}
