/* The gradsweep command line: one function per command. Each returns the
 * process exit status of the table in util/exit.h. */
#ifndef GS_CLI_CLI_H
#define GS_CLI_CLI_H

#include "store/store.h"

#define GS_THREADS_MAX 4096   /* the largest --threads a command takes */

int gs_cmd_probe(int argc, char **argv);
int gs_cmd_train(int argc, char **argv);
int gs_cmd_plan(int argc, char **argv);
int gs_cmd_run(int argc, char **argv);
int gs_cmd_status(int argc, char **argv);
int gs_cmd_prune(int argc, char **argv);
int gs_cmd_export(int argc, char **argv);
int gs_cmd_show(int argc, char **argv);
int gs_cmd_compare(int argc, char **argv);
int gs_cmd_schema(int argc, char **argv);
int gs_cmd_report(int argc, char **argv);
int gs_cmd_merge(int argc, char **argv);

/* Open a database for a command (readonly: for reading), or print
 * "gradsweep CMD: why" and set *code to the exit status of the failure
 * (2: the input's fault, 1: the machine's) and return NULL. */
gs_store_t *gs_cli_open(const char *cmd, const char *db, int readonly, int *code);

/* The arguments "DB NAME [FLAG...]" of show and export: help (printed
 * with the exit table, *code 0), a flag of flags[0..n_flags) (*flag its
 * index, the last given; left alone when none), DB and NAME (a missing
 * one is named: "which <what>?"). 0 to go on, else -1 with *code the
 * exit status. */
int gs_cli_db_and_name(int argc, char **argv, const char *cmd, const char *usage,
                       const char *help, const char *what, const char *const *flags,
                       int n_flags, int *flag, const char **db, const char **name, int *code);

#endif
