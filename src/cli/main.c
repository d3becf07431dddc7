#include <config.h>

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "data/digits.h"
#include "nn/gemm.h"
#include "store/store.h"
#include "util/exit.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command_t;

static const command_t commands[] = {
    {"probe", gs_cmd_probe, "one forward/backward at initialization: per-layer gradient table"},
    {"train", gs_cmd_train, "train one configuration: loss, gradient norms, clipping, accuracy"},
    {"plan", gs_cmd_plan, "check a sweep config; its experiments, cells and estimated cost"},
    {"run", gs_cmd_run, "run a sweep (under mpirun or alone) into its SQLite database; resumable"},
    {"report", gs_cmd_report, "PNG charts and an HTML summary of a sweep database"},
    {"status", gs_cmd_status, "cells done / diverged / failed / missing of a sweep database"},
    {"merge", gs_cmd_merge, "join the databases of one sweep's shards (run --shard I/N) into one"},
    {"prune", gs_cmd_prune, "delete the stored cells a config no longer has (no undo)"},
    {"show", gs_cmd_show, "one stored cell: keys, diagnoses, loss curve, per-layer gradients"},
    {"export", gs_cmd_export, "a table or view of a sweep database as CSV (or JSON lines)"},
    {"compare", gs_cmd_compare, "what changed between two sweep databases, per experiment and cell"},
    {"schema", gs_cmd_schema, "the database schema, every column explained"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out,
            "gradsweep %s - measure vanishing and exploding gradients\n\n"
            "usage: gradsweep COMMAND [ARGS...]\n"
            "       mpirun -np N gradsweep run SWEEP.ini\n\n"
            "commands:\n",
            PACKAGE_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'gradsweep COMMAND --help' lists the keys, their values and defaults.\n"
                 "Example: gradsweep probe depth=50 activation=tanh init=lecun gain=1.2\n\n");
    gs_exit_print_table(out);
    fprintf(out,
            "\nenvironment:\n"
            "  %-27s the folder of digits.csv.gz (default: %s, where\n"
            "  %-27s make install puts it; a gradsweep run from its build tree needs\n"
            "  %-27s the source tree's data/, which pipeline/run sets)\n"
            "  %-27s how long a write waits for another program's lock on the\n"
            "  %-27s database before it fails, in ms (default %d)\n"
            "  %-27s seconds after its last heartbeat that a run of another host\n"
            "  %-27s stops holding the database (default %.0f, at least %.0f;\n"
            "  %-27s on the run's own host its process decides)\n",
            GS_DATA_DIR_ENV, GS_PKGDATADIR, "", "", GS_BUSY_TIMEOUT_ENV, "", GS_BUSY_TIMEOUT_MS,
            GS_HEARTBEAT_LIMIT_ENV, "", GS_HEARTBEAT_LIMIT_S, GS_HEARTBEAT_LIMIT_MIN_S, "");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
#ifdef HAVE_MPI
        const char *mpi = "with MPI";
#else
        const char *mpi = "without MPI: run is the one-rank sweep";
#endif
        printf("gradsweep %s (BLAS %s; %s)\n", PACKAGE_VERSION, gs_blas_describe(), mpi);
        return 0;
    }
    gs_blas_init();   /* --threads then means OpenMP threads over BLAS tiles */
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gradsweep: unknown command '%s'; commands: ", argv[1]);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(stderr, "%s%s", i ? ", " : "", commands[i].name);
    fprintf(stderr, " (gradsweep --help)\n");
    return 2;
}
