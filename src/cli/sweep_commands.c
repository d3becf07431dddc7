/* The sweep commands: plan, run, status, schema. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "driver/driver.h"
#include "report/report.h"
#include "experiment/experiment.h"
#include "store/export.h"
#include "store/reuse.h"
#include "store/store.h"
#include "sweep/sweep.h"
#include "util/exit.h"
#include "util/files.h"
#include "util/hash.h"

static const gs_sweep_hooks_t hooks = {gs_experiment_check, gs_experiment_flops};

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

int gs_cli_db_and_name(int argc, char **argv, const char *cmd, const char *usage,
                       const char *help, const char *what, const char *const *flags,
                       int n_flags, int *flag, const char **db, const char **name, int *code)
{
    *db = *name = NULL;
    for (int i = 1; i < argc; i++) {
        int f = 0;
        while (f < n_flags && strcmp(argv[i], flags[f]) != 0)
            f++;
        if (is_help(argv[i])) {
            printf("usage: %s\n\n%s", usage, help);
            gs_exit_print_table(stdout);
            *code = GS_EXIT_OK;
            return -1;
        } else if (f < n_flags) {
            *flag = f;
        } else if (argv[i][0] == '-' || (*db && *name)) {
            fprintf(stderr, "gradsweep %s: unexpected '%s'; usage: %s\n", cmd, argv[i], usage);
            *code = GS_EXIT_INPUT;
            return -1;
        } else if (!*db) {
            *db = argv[i];
        } else {
            *name = argv[i];
        }
    }
    if (!*name) {
        fprintf(stderr, "gradsweep %s: which %s? usage: %s\n", cmd, *db ? what : "database",
                usage);
        *code = GS_EXIT_INPUT;
        return -1;
    }
    return 0;
}

gs_store_t *gs_cli_open(const char *cmd, const char *db, int readonly, int *code)
{
    char err[8192];
    gs_store_fault_t fault;
    gs_store_t *st = gs_store_open_kind(db, 0, readonly, &fault, err, sizeof err);
    *code = GS_EXIT_OK;
    if (!st) {
        fprintf(stderr, "gradsweep %s: %s\n", cmd, err);
        *code = fault == GS_STORE_FAULT_INPUT ? GS_EXIT_INPUT : GS_EXIT_RUNTIME;
    }
    return st;
}

static void default_db(char *buf, size_t len, const gs_sweep_t *sw, const char *db)
{
    if (db)
        snprintf(buf, len, "%s", db);
    else
        gs_sweep_default_db(sw, buf, len);
}

/* What a database holds for plan: its sweep's name (when it holds one)
 * and its stored hashes. */
typedef struct {
    int exists;          /* the file exists */
    char sweep[256];     /* the sweep it holds, or "" */
    char overrides[1024];  /* the [overrides] its sweep was run with, as sw->overrides */
    uint64_t *h;         /* stored hashes, sorted */
    size_t n;
    int seeding;         /* the seeding its cells have (gs_store_seeding_of; -1: none) */
} db_view_t;

/* Fill v from db: 0 (a missing file is an empty view), or the exit
 * status of the failure with err set. */
static int view_db(const char *db, db_view_t *v, char *err, size_t errlen)
{
    struct stat sb;
    *v = (db_view_t){.seeding = -1};
    if (stat(db, &sb) != 0)
        return GS_EXIT_OK;
    gs_store_fault_t fault;
    gs_store_t *st = gs_store_open_kind(db, 0, 1, &fault, err, errlen);
    if (!st)
        return fault == GS_STORE_FAULT_INPUT ? GS_EXIT_INPUT : GS_EXIT_RUNTIME;
    v->exists = 1;
    v->seeding = gs_store_seeding_of(gs_store_handle(st));
    char *text = gs_store_config_text(st, NULL);
    gs_sweep_t sw;
    if (text && gs_sweep_parse(&sw, text, "stored config", NULL, err, errlen) == 0) {
        snprintf(v->sweep, sizeof v->sweep, "%s", sw.name);
        snprintf(v->overrides, sizeof v->overrides, "%s", sw.overrides);
        gs_sweep_free(&sw);
    }
    free(text);
    int rc = gs_store_stored_hashes(st, &v->h, &v->n, err, errlen);
    gs_store_close(st);
    return rc == 0 ? GS_EXIT_OK : GS_EXIT_RUNTIME;
}

static void human_flops(char *buf, size_t len, double f)
{
    const char *unit[] = {"", "k", "M", "G", "T", "P"};
    int u = 0;
    while (f >= 1000 && u < 5) {
        f /= 1000;
        u++;
    }
    snprintf(buf, len, "%.3g %sFLOP", f, unit[u]);
}

static void human_time(char *buf, size_t len, double s)
{
    if (s < 60)
        snprintf(buf, len, "%.1f s", s);
    else if (s < 3600)
        snprintf(buf, len, "%.1f min", s / 60);
    else
        snprintf(buf, len, "%.1f h", s / 3600);
}

/* plan's arguments: -1 to go on, else the exit status (help: 0). */
static int plan_args(int argc, char **argv, const char **cfg, const char **db,
                     const char **names, size_t *n_names, const char **overrides,
                     size_t *n_overrides, const char **reuse)
{
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            printf("usage: gradsweep plan CONFIG.ini [KEY=VALUE...] [--db PATH] [--experiment NAME]..."
                   " [--reuse OTHER.db]\n\n"
                   "Parses and checks a sweep config and prints every experiment with its axes,\n"
                   "its number of cells and their estimated cost, the total, and how many cells\n"
                   "the target database (default results/<sweep name>.db) already holds.\n"
                   "Seconds assume %.1f GFLOP/s per core: a rough guide. Exit status 2 on any\n"
                   "config error, with file:line. --experiment NAME (repeatable): only those\n"
                   "experiments, as run --experiment would run them. KEY=VALUE: override that\n"
                   "key in every experiment, as run does. --reuse OTHER.db: count the cells\n"
                   "run --reuse would copy from OTHER.db instead of running them. A sweep of\n"
                   "more than %d cells or %.0f h of estimated core time is named big:\n"
                   "run wants --yes for it.\n",
                   GS_ASSUMED_FLOPS_PER_CORE / 1e9, GS_BIG_SWEEP_CELLS,
                   GS_BIG_SWEEP_CORE_S / 3600.0);
            return 0;
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            *db = argv[++i];
        } else if (strcmp(argv[i], "--experiment") == 0 && i + 1 < argc) {
            names[(*n_names)++] = argv[++i];
        } else if (strcmp(argv[i], "--reuse") == 0 && i + 1 < argc) {
            *reuse = argv[++i];
        } else if (argv[i][0] != '-' && strchr(argv[i], '=')) {
            overrides[(*n_overrides)++] = argv[i];
        } else if (argv[i][0] == '-' || *cfg) {
            fprintf(stderr, "gradsweep plan: unexpected '%s' (gradsweep plan --help)\n", argv[i]);
            return 2;
        } else {
            *cfg = argv[i];
        }
    }
    if (!*cfg) {
        fprintf(stderr, "gradsweep plan: which config? usage: gradsweep plan CONFIG.ini [--db PATH]\n");
        return 2;
    }
    return -1;
}

/* One experiment of the plan: its cells, cost, stored cells (of the n
 * sorted hashes h) and axes; its FLOPs, and the unstored ones' added to
 * *remaining and its stored cells to *stored. */
static double plan_experiment(const gs_sweep_t *sw, const gs_experiment_t *ex, const uint64_t *h,
                              size_t nh, const gs_reuse_offer_t *offer, double *remaining,
                              size_t *stored, size_t *reusable)
{
    double fl = 0;
    size_t st = 0, re = 0;
    char f1[32], t1[32], key[2048], r1[64] = "";
    for (size_t i = ex->first_cell; i < ex->first_cell + ex->n_cells; i++) {
        fl += sw->cells[i].flops;
        if (gs_u64_contains(h, nh, sw->cells[i].hash))
            st++;
        else if (offer && gs_u64_contains(offer->hashes, offer->n, sw->cells[i].hash))
            re++;
        else
            *remaining += sw->cells[i].flops;
    }
    *stored += st;
    *reusable += re;
    if (offer)
        snprintf(r1, sizeof r1, ", %zu reusable", re);
    human_flops(f1, sizeof f1, fl);
    human_time(t1, sizeof t1, fl / GS_ASSUMED_FLOPS_PER_CORE);
    const gs_cell_t *c0 = &sw->cells[ex->first_cell].cell;
    printf("[%s] line %d: %zu cells, %s (~%s on one core), %zu stored%s\n", ex->name, ex->line,
           ex->n_cells, f1, t1, st, r1);
    printf("  model=%s task=%s dataset=%s, repeats %ld\n", gs_model_names[c0->model],
           gs_task_names[c0->task], gs_dataset_names[c0->dataset], c0->repeats);
    char settled[512];
    gs_cell_settle_describe(&ex->settled, settled, sizeof settled);
    if (settled[0])
        printf("  keys without effect here, reset to their default: %s\n", settled);
    if (ex->n_dropped)
        printf("  %zu combination%s dropped: the same cell as another once those keys are "
               "reset\n", ex->n_dropped, ex->n_dropped == 1 ? "" : "s");
    for (size_t a = 0; a < ex->n_axes; a++) {
        printf("  axis %-12s", ex->axes[a].key);
        for (size_t v = 0; v < ex->axes[a].n_values; v++)
            printf("%s%s", v ? ", " : " ", ex->axes[a].values[v]);
        printf("\n");
    }
    gs_cell_key(c0, key, sizeof key);
    printf("  first cell: %s\n\n", key);
    return fl;
}

/* The size of the selected experiments, up front: cells and estimated
 * core time, and whether run will want --yes. */
static void print_size(const gs_sweep_t *sw, const unsigned char *selected)
{
    double fl = 0;
    size_t n = 0;
    char t1[32], big[512];
    for (size_t i = 0; i < sw->n_cells; i++)
        if (selected[sw->cells[i].experiment]) {
            n++;
            fl += sw->cells[i].flops;
        }
    human_time(t1, sizeof t1, fl / GS_ASSUMED_FLOPS_PER_CORE);
    printf("size: %zu cells, ~%s of estimated core time\n", n, t1);
    if (gs_driver_too_big(sw, selected, big, sizeof big))
        printf("warning: a big sweep: %s; check its axes below - gradsweep run refuses it "
               "without --yes\n", big);
}

/* The sweep's head, every experiment, and the totals against the database
 * (and against what --reuse offers, when offer is not NULL). */
static void print_plan(const gs_sweep_t *sw, const char *dbpath, const db_view_t *v,
                       const unsigned char *selected, const gs_reuse_offer_t *offer,
                       const char *reuse)
{
    const uint64_t *h = v->h;
    size_t nh = v->n;
    printf("sweep %s: %s\n", sw->name, sw->description[0] ? sw->description : "(no description)");
    print_size(sw, selected);
    printf("database: %s\n", dbpath);
    double all = 0;
    for (size_t i = 0; i < sw->n_cells; i++)
        all += sw->cells[i].flops;
    printf("flops: %.6g\n", all);
    printf("seed %llu, vanishing below %g, exploding above %g\n", (unsigned long long)sw->seed,
           sw->vanishing_below, sw->exploding_above);
    if (sw->overrides[0])
        printf("overrides ([" GS_OVERRIDES_SECTION "], every experiment): %s\n", sw->overrides);
    putchar('\n');
    double total = 0, remaining = 0;
    size_t stored_total = 0, reusable = 0;
    char f1[32], t1[32];
    size_t n_cells = 0;   /* of the experiments selected */
    for (size_t e = 0; e < sw->n_experiments; e++)
        if (selected[e]) {
            total += plan_experiment(sw, &sw->experiments[e], h, nh, offer, &remaining,
                                     &stored_total, &reusable);
            n_cells += sw->experiments[e].n_cells;
        }
    human_flops(f1, sizeof f1, total);
    human_time(t1, sizeof t1, total / GS_ASSUMED_FLOPS_PER_CORE);
    printf("total: %zu cells, %s (~%s on one core)\n", n_cells, f1, t1);
    human_time(t1, sizeof t1, remaining / GS_ASSUMED_FLOPS_PER_CORE);
    long orphans = gs_store_orphans(sw, h, nh, NULL);
    if (offer)
        printf("%s offers %zu of the cells not stored (run --reuse copies them)\n", reuse,
               reusable);
    if (!v->exists)
        printf("%s does not exist yet: %s%zu cells to run (~%s on one core)\n", dbpath,
               reusable ? "" : "all ", n_cells - reusable, t1);
    else if (v->sweep[0] && strcmp(v->sweep, sw->name) != 0)
        printf("%s holds sweep '%s' (%zu stored cells), not '%s': run refuses it; give another "
               "--db (--fresh would delete those %zu cells and sweep '%s' for good)\n", dbpath,
               v->sweep, nh, sw->name, nh, v->sweep);
    else
        printf("%s holds %zu of them (sweep '%s'); %zu to run (~%s on one core)\n", dbpath,
               stored_total, v->sweep[0] ? v->sweep : sw->name,
               n_cells - stored_total - reusable, t1);
    if (v->sweep[0] && strcmp(v->sweep, sw->name) == 0 && strcmp(v->overrides, sw->overrides) != 0)
        printf("%s's sweep was run with the overrides '%s', this plan has '%s': their cells "
               "differ\n", dbpath, v->overrides, sw->overrides);
    if (orphans > 0 && (!v->sweep[0] || strcmp(v->sweep, sw->name) == 0))
        printf("%ld stored cell%s not in this config (it changed since they ran); gradsweep "
               "prune removes them\n", orphans, orphans == 1 ? " is" : "s are");
}

/* What --reuse OTHER offers, against the seeding the cells of v would
 * be run with (as gs_store_begin_session picks it): the exit status. */
static int plan_offer(const char *reuse, const db_view_t *v, gs_reuse_offer_t *offer, char *err,
                      size_t errlen)
{
    int rc = gs_reuse_scan(reuse, offer, err, errlen);
    if (rc != 0)
        return rc == -2 ? GS_EXIT_INPUT : GS_EXIT_RUNTIME;
    int seeding = v->n > 0 && v->seeding >= 0 ? v->seeding : GS_SEEDING_PAIRED;
    return gs_reuse_check_seeding(offer, seeding, reuse, err, errlen) == 0 ? GS_EXIT_OK
                                                                           : GS_EXIT_INPUT;
}

/* The plan of sw against dbpath, for the experiments names select. */
static int plan_sweep(const gs_sweep_t *sw, const char *dbpath, const char **names, size_t n,
                      const char *reuse)
{
    char err[8192];
    db_view_t v = {0};
    gs_reuse_offer_t offer = {0};
    unsigned char *selected = malloc(sw->n_experiments + 1);
    int rc = GS_EXIT_RUNTIME;
    if (!selected)
        snprintf(err, sizeof err, "out of memory");
    else if (gs_driver_select(sw, names, n, selected, err, sizeof err) != 0)
        rc = GS_EXIT_INPUT;
    else if ((rc = view_db(dbpath, &v, err, sizeof err)) == GS_EXIT_OK &&
             (!reuse || (rc = plan_offer(reuse, &v, &offer, err, sizeof err)) == GS_EXIT_OK))
        print_plan(sw, dbpath, &v, selected, reuse ? &offer : NULL, reuse);
    if (rc != GS_EXIT_OK)
        fprintf(stderr, "gradsweep plan: %s\n", err);
    gs_reuse_offer_free(&offer);
    free(v.h);
    free(selected);
    return rc;
}

/* Read the config at path with the overrides appended and parse it
 * (with the experiment's checks): 0, or -1 with err. */
static int load_config(gs_sweep_t *sw, const char *path, const char *const *overrides, size_t n,
                       char *err, size_t errlen)
{
    char *file = gs_read_text(path, GS_CONFIG_MAX_BYTES, err, errlen), *text = NULL;
    int rc = -1;
    if (file && gs_sweep_with_overrides(file, overrides, n, &text, err, errlen) == 0)
        rc = gs_sweep_parse(sw, text, path, &hooks, err, errlen);
    free(file);
    free(text);
    return rc;
}

int gs_cmd_plan(int argc, char **argv)
{
    const char *cfg = NULL, *db = NULL, *reuse = NULL;
    const char **names = calloc((size_t)argc, sizeof *names);
    const char **overrides = calloc((size_t)argc, sizeof *overrides);
    size_t n = 0, n_overrides = 0;
    if (!names || !overrides) {
        fprintf(stderr, "gradsweep plan: out of memory\n");
        free(names);
        free(overrides);
        return GS_EXIT_RUNTIME;
    }
    int rc = plan_args(argc, argv, &cfg, &db, names, &n, overrides, &n_overrides, &reuse);
    gs_sweep_t sw;
    char err[8192], dbpath[4096];
    if (rc < 0 && load_config(&sw, cfg, overrides, n_overrides, err, sizeof err) != 0) {
        fprintf(stderr, "gradsweep plan: %s\n", err);
        rc = GS_EXIT_INPUT;
    } else if (rc < 0) {
        default_db(dbpath, sizeof dbpath, &sw, db);
        rc = plan_sweep(&sw, dbpath, names, n, reuse);
        gs_sweep_free(&sw);
    }
    free(names);
    free(overrides);
    return rc;
}

#define RUN_USAGE "gradsweep run CONFIG.ini [KEY=VALUE...] [--db PATH] [--threads N] [--fresh] " \
                  "[--retry] [--experiment NAME]... [--reuse OTHER.db] [--takeover] [--yes] " \
                  "[--shard I/N] [--term-grace S]"

static int run_args(int argc, char **argv, gs_run_options_t *opt, const char **names,
                    const char **overrides);

int gs_cmd_run(int argc, char **argv)
{
    gs_run_options_t o = {0};
    const char **names = calloc((size_t)argc, sizeof *names);       /* --experiment's */
    const char **overrides = calloc((size_t)argc, sizeof *overrides);   /* KEY=VALUE */
    int rc = GS_EXIT_RUNTIME;
    if (!names || !overrides)
        fprintf(stderr, "gradsweep run: out of memory\n");
    else if ((rc = run_args(argc, argv, &o, names, overrides)) < 0)
        rc = gs_driver_run(&o);
    free(names);
    free(overrides);
    return rc;
}

/* --shard I/N: 0 with *index and *count, or -1 having said why. */
static int parse_shard(const char *s, int *index, int *count)
{
    char *slash, *end = NULL;
    long i = strtol(s, &slash, 10), n = *slash == '/' ? strtol(slash + 1, &end, 10) : 0;
    if (slash == s || *slash != '/' || end == slash + 1 || *end || i < 0 || n < 1 ||
        n > GS_SHARDS_MAX || i >= n) {
        fprintf(stderr, "gradsweep run: --shard %s: not a shard; allowed: I/N with 0 <= I < N "
                "<= %d (a Slurm array's task: --shard $SLURM_ARRAY_TASK_ID/"
                "$SLURM_ARRAY_TASK_COUNT, the array numbered from 0)\n", s, GS_SHARDS_MAX);
        return -1;
    }
    *index = (int)i;
    *count = (int)n;
    return 0;
}

/* run's arguments into o (names: --experiment's; overrides: the
 * KEY=VALUE words): -1 to go on, else the exit status (help: 0). */
static int run_args(int argc, char **argv, gs_run_options_t *opt, const char **names,
                    const char **overrides)
{
    gs_run_options_t o = *opt;
    o.experiments = names;
    o.overrides = overrides;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            printf("usage: " RUN_USAGE "\n"
                   "       mpirun -np N gradsweep run CONFIG.ini ...\n\n"
                   "Runs every cell of the sweep that the database does not hold yet and stores\n"
                   "its measurements (default database results/<sweep name>.db). Without mpirun\n"
                   "one process computes every cell; under mpirun rank 0 coordinates and every\n"
                   "rank (rank 0 too, in a thread) computes cells, longest first. Rerunning the\n"
                   "same command resumes after any crash or kill: only whole cells are stored.\n"
                   "A cell that kills its process (a segfault) is noted in PATH-crashes; one\n"
                   "that has killed %d runs is stored with status crashed and not run again.\n"
                   "Stored cells the config no longer has are counted and kept (gradsweep prune\n"
                   "removes them).\n\n"
                   "  --db PATH     the database\n"
                   "  --threads N   OpenMP threads per rank (default: the node's cores shared\n"
                   "                among its ranks); results do not depend on it\n"
                   "  --fresh       delete the stored cells first and start over (says how many).\n"
                   "                On a database of another sweep it deletes that sweep whole:\n"
                   "                its cells, its sweeps row and its sessions. Every check is\n"
                   "                made first; a refusal deletes nothing\n"
                   "  --retry       run the cells stored as failed or crashed again (each new\n"
                   "                result replaces its row)\n"
                   "  --experiment NAME  run only that experiment (a config section); repeat\n"
                   "                it for several\n"
                   "  --reuse OTHER.db  copy the cells OTHER.db stores as done or diverged with\n"
                   "                the same config hash (and seeding) instead of running them\n"
                   "  --takeover    start even though the database says a run is writing it\n"
                   "                (that session is marked crashed). A run counts as live\n"
                   "                while, on its host, its process runs (pid and start time),\n"
                   "                and from another host until its heartbeat (refreshed every\n"
                   "                %.0f s) is " GS_HEARTBEAT_LIMIT_ENV " seconds old (default\n"
                   "                %.0f). Only for a run you know is gone: if it still runs,\n"
                   "                both write the database - each cell stays whole and holds\n"
                   "                the same numbers whichever run stored it, but cells are\n"
                   "                computed twice, the old run marks its session running\n"
                   "                again, and the sessions no longer say who wrote what\n"
                   "  --yes         run a sweep past the size limit (%d cells or %.0f h of\n"
                   "                estimated core time), which is refused without it\n"
                   "  KEY=VALUE     override that key in every experiment (steps=10), checked\n"
                   "                as its INI value would be; stored with the config's text\n"
                   "                as an [overrides] section, so status and report see it\n"
                   "  --shard I/N   run only the cells whose config hash modulo N is I (0 <= I\n"
                   "                < N <= %d), for the tasks of a Slurm array: each shard its\n"
                   "                own database (default results/<sweep>.shard-I-of-N.db),\n"
                   "                which records its shard; gradsweep merge joins them\n"
                   "  --term-grace S  SIGTERM drains as SIGUSR1 does, for at most S seconds,\n"
                   "                then stops as SIGINT does (default 0: stops at once). Under\n"
                   "                srun give it less than Slurm's KillWait\n\n"
                   "SIGINT/SIGTERM (to the process, to mpirun or to its process group) commit\n"
                   "what has arrived, mark the session interrupted and print the command that\n"
                   "resumes; the cells running then are run again next time. SIGUSR1 drains:\n"
                   "no more cells are handed out, the running ones finish and are stored, the\n"
                   "session is marked interrupted and the command that resumes printed (exit\n"
                   "130) - what a job about to reach its time limit wants (sbatch\n"
                   "--signal=B:USR1@SECONDS, pipeline/slurm.sbatch). Progress goes to\n"
                   "stderr.\n\n", GS_DEATHS_TO_CRASHED,
                   GS_HEARTBEAT_EVERY_S, GS_HEARTBEAT_LIMIT_S, GS_BIG_SWEEP_CELLS,
                   GS_BIG_SWEEP_CORE_S / 3600.0, GS_SHARDS_MAX);
            gs_exit_print_table(stdout);
            return GS_EXIT_OK;
        } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
            o.db_path = argv[++i];
        } else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 1 || t > GS_THREADS_MAX) {
                fprintf(stderr, "gradsweep run: --threads %s: not a thread count; allowed: an "
                        "integer from 1 to %d\n", argv[i], GS_THREADS_MAX);
                return GS_EXIT_INPUT;
            }
            o.threads = (int)t;
        } else if (strcmp(a, "--fresh") == 0) {
            o.fresh = 1;
        } else if (strcmp(a, "--retry") == 0) {
            o.retry = 1;
        } else if (strcmp(a, "--takeover") == 0) {
            o.takeover = 1;
        } else if (strcmp(a, "--experiment") == 0 && i + 1 < argc) {
            names[o.n_experiments++] = argv[++i];
        } else if (strcmp(a, "--reuse") == 0 && i + 1 < argc) {
            o.reuse_path = argv[++i];
        } else if (strcmp(a, "--yes") == 0) {
            o.yes = 1;
        } else if (strcmp(a, "--shard") == 0 && i + 1 < argc) {
            if (parse_shard(argv[++i], &o.shard_index, &o.shard_count) != 0)
                return GS_EXIT_INPUT;
        } else if (strcmp(a, "--term-grace") == 0 && i + 1 < argc) {
            char *end;
            double g = strtod(argv[++i], &end);
            if (end == argv[i] || *end || !(g >= 0 && g <= GS_TERM_GRACE_MAX)) {
                fprintf(stderr, "gradsweep run: --term-grace %s: not a number of seconds; "
                        "allowed: 0 to %.0f\n", argv[i], GS_TERM_GRACE_MAX);
                return GS_EXIT_INPUT;
            }
            o.term_grace_s = g;
        } else if (a[0] != '-' && strchr(a, '=')) {
            overrides[o.n_overrides++] = a;
        } else if (a[0] == '-' || o.config_path) {
            fprintf(stderr, "gradsweep run: unexpected '%s'; usage: " RUN_USAGE "\n", a);
            return GS_EXIT_INPUT;
        } else {
            o.config_path = a;
        }
    }
    if (!o.config_path) {
        fprintf(stderr, "gradsweep run: which config? usage: " RUN_USAGE "\n");
        return GS_EXIT_INPUT;
    }
    *opt = o;
    return -1;
}

/* ---- status ---- */

typedef struct {
    const gs_sweep_t *sw;
    uint64_t *hashes;   /* the config's cells, sorted, with their index */
    size_t *cell_of;
    long (*st)[GS_N_STATUS];     /* per experiment: cells per status */
    long (*dg)[GS_N_DIAG];       /* per experiment: diagnoses at init */
    long (*fin)[GS_N_DIAG + 1];  /* per experiment: at the end of training; then how
                                    many differ from the one at init */
    long other;         /* stored cells the config no longer has */
    char (*bad)[512];   /* the first STATUS_BAD_SHOWN failed or crashed cells, as lines */
    long n_bad;         /* all of them */
} status_t;

#define STATUS_BAD_SHOWN 20

static int diag_index(const char *d)
{
    for (int k = 0; d && k < GS_N_DIAG; k++)
        if (strcmp(d, gs_diag_names[k]) == 0)
            return k;
    return -1;
}

/* A failed or crashed cell of the config: a line with its error. */
static void note_bad(status_t *c, uint64_t hash, size_t e, const char *status, const char *error)
{
    if (c->n_bad < STATUS_BAD_SHOWN) {
        char hex[GS_HASH_HEX_LEN];
        gs_hash_hex(hash, hex);
        snprintf(c->bad[c->n_bad], sizeof c->bad[0], "  %s [%s] %s: %s", hex,
                 c->sw->experiments[e].name, status, error ? error : "(no error text)");
    }
    c->n_bad++;
}

static void status_cb(void *ctx, uint64_t hash, const char *status, const char *diagnosis,
                      const char *diagnosis_final, const char *error)
{
    status_t *c = ctx;
    size_t lo = 0, hi = c->sw->n_cells;   /* where hash sits in c->hashes */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->hashes[mid] < hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == c->sw->n_cells || c->hashes[lo] != hash) {
        c->other++;
        return;
    }
    size_t e = c->sw->cells[c->cell_of[lo]].experiment;
    for (int k = 0; k < GS_N_STATUS; k++)
        if (status && strcmp(status, gs_status_names[k]) == 0) {
            c->st[e][k]++;
            if (k == GS_STATUS_FAILED || k == GS_STATUS_CRASHED)
                note_bad(c, hash, e, status, error);
        }
    int d = diag_index(diagnosis), f = diag_index(diagnosis_final);
    if (d >= 0)
        c->dg[e][d]++;
    if (f >= 0) {
        c->fin[e][f]++;
        c->fin[e][GS_N_DIAG] += f != d;
    }
}

/* The diagnoses at the end of training, for the experiments that train. */
static void print_final(const status_t *c)
{
    const gs_sweep_t *sw = c->sw;
    int any = 0;
    for (size_t e = 0; e < sw->n_experiments; e++) {
        long n = 0;
        for (int k = 0; k < GS_N_DIAG; k++)
            n += c->fin[e][k];
        if (n == 0)
            continue;
        if (!any) {
            printf("\nat the end of training (diagnosis_final)\n%-24s", "experiment");
            for (int k = 0; k < GS_N_DIAG; k++)
                printf(" %9s", gs_diag_names[k]);
            printf("  changed since init\n");
        }
        any = 1;
        printf("%-24s", sw->experiments[e].name);
        for (int k = 0; k < GS_N_DIAG; k++)
            printf(" %9ld", c->fin[e][k]);
        printf("  %ld\n", c->fin[e][GS_N_DIAG]);
    }
}

/* The failed and crashed cells with their error, and how to rerun them. */
static void print_bad(const status_t *c, const char *db)
{
    if (!c->n_bad)
        return;
    printf("\nfailed or crashed (%ld; gradsweep run CONFIG --db %s --retry reruns them)\n",
           c->n_bad, db);
    for (long i = 0; i < c->n_bad && i < STATUS_BAD_SHOWN; i++)
        printf("%s\n", c->bad[i]);
    if (c->n_bad > STATUS_BAD_SHOWN)
        printf("  ... and %ld more: sqlite3 %s \"SELECT config_hash, experiment, status, error "
               "FROM runs WHERE status IN ('failed', 'crashed')\"\n", c->n_bad - STATUS_BAD_SHOWN,
               db);
}

/* How the stored cells were seeded (sweeps.seeding). */
static void print_seeding(int seeding)
{
    if (seeding == GS_SEEDING_PAIRED)
        printf("seeds: paired (arms that differ only in training keys start from the same "
               "weights and see the same batches)\n");
    else if (seeding == GS_SEEDING_PER_CELL)
        printf("seeds: per_cell (written before paired seeding: every cell has weights of its "
               "own; resuming keeps that, a new database pairs arms)\n");
}

static const gs_sweep_t *sort_sweep;
static int cmp_cell_hash(const void *a, const void *b)
{
    uint64_t x = sort_sweep->cells[*(const size_t *)a].hash, y = sort_sweep->cells[*(const size_t *)b].hash;
    return x < y ? -1 : x > y;
}

/* status's arguments: -1 to go on, else the exit status (help: 0). */
static int status_args(int argc, char **argv, const char **db)
{
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            printf("usage: gradsweep status DB\n\n"
                   "Per experiment of the sweep stored in DB: cells done, diverged, failed,\n"
                   "crashed (killed their process in %d runs) and missing (from the config\n"
                   "text the database keeps), and the diagnosis\n"
                   "counts at initialization; for the experiments that train, the diagnoses\n"
                   "at the end of training and how many changed; whether a run is writing it\n"
                   "now; how its seeds were derived (paired: arms that differ only in training\n"
                   "keys start from the same weights). Safe while a sweep runs.\n",
                   GS_DEATHS_TO_CRASHED);
            return 0;
        } else if (argv[i][0] == '-' || *db) {
            fprintf(stderr, "gradsweep status: unexpected '%s'; usage: gradsweep status DB\n", argv[i]);
            return 2;
        }
        *db = argv[i];
    }
    if (!*db) {
        fprintf(stderr, "gradsweep status: which database? usage: gradsweep status DB\n");
        return 2;
    }
    return -1;
}

/* The counters of sw's experiments and its cells' hashes, sorted with
 * their index (for status_cb's search). -1 when memory is short. */
static int status_init(status_t *c, const gs_sweep_t *sw)
{
    *c = (status_t){sw, malloc((sw->n_cells + 1) * sizeof *c->hashes),
                    malloc((sw->n_cells + 1) * sizeof *c->cell_of),
                    calloc(sw->n_experiments, sizeof *c->st), calloc(sw->n_experiments, sizeof *c->dg),
                    calloc(sw->n_experiments, sizeof *c->fin), 0,
                    calloc(STATUS_BAD_SHOWN, sizeof *c->bad), 0};
    if (!c->hashes || !c->cell_of || !c->st || !c->dg || !c->fin || !c->bad)
        return -1;
    for (size_t i = 0; i < sw->n_cells; i++)
        c->cell_of[i] = i;
    sort_sweep = sw;
    qsort(c->cell_of, sw->n_cells, sizeof *c->cell_of, cmp_cell_hash);
    for (size_t i = 0; i < sw->n_cells; i++)
        c->hashes[i] = sw->cells[c->cell_of[i]].hash;
    return 0;
}

static void status_free(status_t *c)
{
    free(c->hashes);
    free(c->cell_of);
    free(c->st);
    free(c->dg);
    free(c->fin);
    free(c->bad);
}

/* One row of the status table: a name, then every status, missing, and
 * every diagnosis at init (the columns of print_counts). */
#define STATUS_COLS (GS_N_STATUS + 1 + GS_N_DIAG)

static void print_row(const char *name, const long *v)
{
    printf("%-24s", name);
    for (int k = 0; k < STATUS_COLS; k++)
        printf("%s%9ld", k == GS_N_STATUS + 1 ? "  " : " ", v[k]);
    putchar('\n');
}

/* The table of cells per status and diagnoses at init per experiment,
 * with totals; the columns come from the name tables. */
static void print_counts(const status_t *c, int shard_index, int shard_count)
{
    const gs_sweep_t *sw = c->sw;
    printf("\n%-24s", "experiment");
    for (int k = 0; k < GS_N_STATUS; k++)
        printf(" %9s", gs_status_names[k]);
    printf(" %9s ", "missing");
    for (int d = 0; d < GS_N_DIAG; d++)
        printf(" %9s", gs_diag_names[d]);
    putchar('\n');
    long tot[STATUS_COLS] = {0};
    for (size_t e = 0; e < sw->n_experiments; e++) {
        long v[STATUS_COLS], stored = 0;
        for (int k = 0; k < GS_N_STATUS; k++)
            stored += v[k] = c->st[e][k];
        long in_shard = 0;   /* the experiment's cells this database is to hold */
        for (size_t i = 0; i < sw->n_cells; i++)
            in_shard += sw->cells[i].experiment == e &&
                        gs_shard_holds(sw->cells[i].hash, shard_index, shard_count);
        v[GS_N_STATUS] = in_shard - stored;
        for (int d = 0; d < GS_N_DIAG; d++)
            v[GS_N_STATUS + 1 + d] = c->dg[e][d];
        print_row(sw->experiments[e].name, v);
        for (int k = 0; k < STATUS_COLS; k++)
            tot[k] += v[k];
    }
    print_row("total", tot);
}

int gs_cmd_status(int argc, char **argv)
{
    const char *db = NULL;
    int rc = status_args(argc, argv, &db);
    if (rc >= 0)
        return rc;
    char err[8192], host[256], *path = NULL, *text = NULL;
    long pid;
    gs_sweep_t sw = {0};
    status_t c = {0};
    gs_store_t *st = gs_cli_open("status", db, 1, &rc);
    if (!st)
        return rc;
    rc = GS_EXIT_RUNTIME;
    text = gs_store_config_text(st, &path);
    if (!text) {
        fprintf(stderr, "gradsweep status: %s: holds no sweep yet\n", db);
        rc = GS_EXIT_INPUT;
        goto out;
    }
    if (gs_sweep_parse(&sw, text, path ? path : "config", NULL, err, sizeof err) != 0) {
        fprintf(stderr, "gradsweep status: the stored config no longer parses: %s\n", err);
        goto out;
    }
    if (status_init(&c, &sw) != 0) {
        fprintf(stderr, "gradsweep status: out of memory\n");
        goto out;
    }
    if (gs_store_each_run(st, status_cb, &c, err, sizeof err) != 0) {
        fprintf(stderr, "gradsweep status: %s\n", err);
        goto out;
    }
    printf("sweep %s (%s): %zu cells\n", sw.name, db, sw.n_cells);
    int shard_index = 0, shard_count = 0;
    if (gs_store_shard_of(gs_store_handle(st), &shard_index, &shard_count))
        printf("shard %d/%d: the cells whose config hash modulo %d is %d (missing counts those "
               "only; gradsweep merge joins the shards)\n", shard_index, shard_count,
               shard_count, shard_index);
    print_seeding(gs_store_seeding_of(gs_store_handle(st)));
    if (gs_store_live_run(st, host, sizeof host, &pid))
        printf("a run is writing it now: host %s, pid %ld (the counts are partial)\n", host, pid);
    print_counts(&c, shard_index, shard_count);
    print_final(&c);
    print_bad(&c, db);
    if (c.other)
        printf("\n%ld stored cell%s not in the config any more (it changed since they ran); "
               "gradsweep prune CONFIG --db %s removes them\n", c.other,
               c.other == 1 ? " is" : "s are", db);
    rc = c.n_bad ? GS_EXIT_CELLS_FAILED : GS_EXIT_OK;
out:
    status_free(&c);
    free(text);
    free(path);
    gs_sweep_free(&sw);
    gs_store_close(st);
    return rc;
}

/* ---- prune ---- */

#define PRUNE_USAGE "gradsweep prune CONFIG.ini [KEY=VALUE...] [--db PATH]"

/* prune's arguments: -1 to go on, else the exit status (help: 0). */
static int prune_args(int argc, char **argv, const char **cfg, const char **db,
                      const char **overrides, size_t *n_overrides)
{
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            printf("usage: " PRUNE_USAGE "\n\n"
                   "Deletes from the database (default results/<sweep name>.db) every stored cell\n"
                   "that CONFIG no longer has - cells of an axis value or experiment since\n"
                   "removed - with all of their rows, in one transaction, and says how many.\n"
                   "It asks nothing, and it cannot be undone except from a backup of the\n"
                   "database (cp DB DB.bak first if unsure). Refused, deleting nothing, when\n"
                   "the database holds another sweep or a run is writing it, or when its sweep\n"
                   "was run with other KEY=VALUE overrides than those given here (they make\n"
                   "other cells: give the same ones).\n\n");
            gs_exit_print_table(stdout);
            return GS_EXIT_OK;
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            *db = argv[++i];
        } else if (argv[i][0] != '-' && strchr(argv[i], '=')) {
            overrides[(*n_overrides)++] = argv[i];
        } else if (argv[i][0] == '-' || *cfg) {
            fprintf(stderr, "gradsweep prune: unexpected '%s'; usage: " PRUNE_USAGE "\n", argv[i]);
            return GS_EXIT_INPUT;
        } else {
            *cfg = argv[i];
        }
    }
    if (!*cfg) {
        fprintf(stderr, "gradsweep prune: which config? usage: " PRUNE_USAGE "\n");
        return GS_EXIT_INPUT;
    }
    return -1;
}

/* Delete the orphans of sw from st: the exit status. */
static int prune_store(gs_store_t *st, const gs_sweep_t *sw, const char *dbpath)
{
    char err[8192];
    uint64_t *h = NULL, *orphans = NULL;
    size_t n = 0;
    int rc = GS_EXIT_RUNTIME;
    long k = 0;
    db_view_t v;
    if ((rc = view_db(dbpath, &v, err, sizeof err)) != GS_EXIT_OK)
        goto out;
    free(v.h);
    rc = GS_EXIT_INPUT;
    if (v.sweep[0] && strcmp(v.sweep, sw->name) != 0) {
        snprintf(err, sizeof err, "%s holds sweep '%s', not '%s'; nothing was deleted", dbpath,
                 v.sweep, sw->name);
        goto out;
    }
    if (v.sweep[0] && strcmp(v.overrides, sw->overrides) != 0) {
        snprintf(err, sizeof err, "%s: its sweep was last run with the overrides '%s', not '%s': "
                 "their cells differ, and all of them would count as no longer in the config; "
                 "nothing was deleted. Give the same KEY=VALUE words as the run", dbpath,
                 v.overrides, sw->overrides);
        goto out;
    }
    rc = GS_EXIT_RUNTIME;
    if (gs_store_stored_hashes(st, &h, &n, err, sizeof err) != 0)
        goto out;
    if (!(orphans = malloc((n + 1) * sizeof *orphans)) ||
        (k = gs_store_orphans(sw, h, n, orphans)) < 0) {
        snprintf(err, sizeof err, "out of memory");
        goto out;
    }
    if (gs_store_delete_cells(st, orphans, (size_t)k, err, sizeof err) != 0)
        goto out;
    printf("pruned %ld stored cell%s not in %s from %s (%zu kept); this cannot be undone except "
           "from a backup\n", k, k == 1 ? "" : "s", sw->path, dbpath, n - (size_t)k);
    rc = GS_EXIT_OK;
out:
    if (rc != GS_EXIT_OK)
        fprintf(stderr, "gradsweep prune: %s\n", err);
    free(h);
    free(orphans);
    return rc;
}

int gs_cmd_prune(int argc, char **argv)
{
    const char *cfg = NULL, *db = NULL;
    const char **overrides = calloc((size_t)argc, sizeof *overrides);
    size_t n_overrides = 0;
    if (!overrides) {
        fprintf(stderr, "gradsweep prune: out of memory\n");
        return GS_EXIT_RUNTIME;
    }
    int rc = prune_args(argc, argv, &cfg, &db, overrides, &n_overrides);
    gs_sweep_t sw;
    char err[8192], dbpath[4096];
    if (rc >= 0) {
        free(overrides);
        return rc;
    }
    rc = load_config(&sw, cfg, overrides, n_overrides, err, sizeof err);
    free(overrides);
    if (rc != 0) {
        fprintf(stderr, "gradsweep prune: %s\n", err);
        return GS_EXIT_INPUT;
    }
    default_db(dbpath, sizeof dbpath, &sw, db);
    gs_store_t *st = gs_cli_open("prune", dbpath, 0, &rc);
    if (st)
        rc = prune_store(st, &sw, dbpath);
    gs_store_close(st);
    gs_sweep_free(&sw);
    return rc;
}

/* ---- export ---- */

#define EXPORT_USAGE "gradsweep export DB TABLE|VIEW [--json]"

int gs_cmd_export(int argc, char **argv)
{
    static const char help[] =
        "Writes every row of a table or view of the database (runs, layer_stats,\n"
        "train_log, train_layer_log, time_stats, histogram_counts, theory, sessions,\n"
        "sweeps, in_flight, format_stats, format_exponents, block_stats, head_stats, the\n"
        "summary,\n"
        "histograms and the format views) to stdout: CSV with a\n"
        "header (RFC 4180; NULL empty, reals to 17 digits, inf as inf), or with --json\n"
        "one JSON object per line (NULL and infinities as null). Safe while a sweep runs.\n"
        "  python3 -c \"import pandas as pd; print(pd.read_csv('runs.csv'))\"\n\n";
    static const char *const flags[] = {"--csv", "--json"};   /* gs_export_format_t order */
    const char *db, *name;
    int fmt = GS_EXPORT_CSV, code;
    if (gs_cli_db_and_name(argc, argv, "export", EXPORT_USAGE, help, "table or view", flags, 2,
                           &fmt, &db, &name, &code) != 0)
        return code;
    char err[8192];
    int rc;
    gs_store_t *st = gs_cli_open("export", db, 1, &rc);
    if (!st)
        return rc;
    rc = gs_export(gs_store_handle(st), name, (gs_export_format_t)fmt, stdout, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "gradsweep export: %s: %s\n", db, err);
    gs_store_close(st);
    return rc == 0 ? GS_EXIT_OK : rc == -2 ? GS_EXIT_INPUT : GS_EXIT_RUNTIME;
}

int gs_cmd_schema(int argc, char **argv)
{
    if (argc > 1 && is_help(argv[1])) {
        printf("usage: gradsweep schema [--dump]\n\nPrints the results database's schema (SQL) "
               "with a comment on every column.\n\n  --dump   instead, the queries that list "
               "every stored number of every cell,\n           without rank, host and times: "
               "two databases of one sweep give\n           the same output, e.g.\n"
               "           sqlite3 a.db \"$(gradsweep schema --dump)\" | md5sum\n");
        return GS_EXIT_OK;
    }
    int dump = argc > 1 && strcmp(argv[1], "--dump") == 0;
    if (argc > 1 + dump) {
        fprintf(stderr, "gradsweep schema: unexpected '%s'; usage: gradsweep schema [--dump]\n",
                argv[1 + dump]);
        return GS_EXIT_INPUT;
    }
    char *dumped = dump ? gs_store_dump_sql() : NULL;
    const char *sql = dump ? dumped : gs_store_schema_sql();
    if (!sql) {
        fprintf(stderr, "gradsweep schema: out of memory\n");
        return GS_EXIT_RUNTIME;
    }
    fputs(sql, stdout);
    free(dumped);
    return GS_EXIT_OK;
}

int gs_cmd_report(int argc, char **argv)
{
    const char *db = NULL, *out = NULL;
    int jobs = 0;
    static const char usage[] = "usage: gradsweep report DB [-o DIR] [--jobs N]";
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            printf("%s\n\n"
                   "Writes DIR/index.html and DIR/charts/*.png (default DIR: reports/<sweep name>)\n"
                   "from the sweep database alone, and prints the path of index.html. Works while\n"
                   "a sweep is running (the page then says its data is partial). Charts for which\n"
                   "the database holds no data are left out.\n\n"
                   "  -o DIR      the report's folder\n"
                   "  --jobs N    draw the charts in N processes (default: one per online core);\n"
                   "              the files are the same for any N\n\n"
                   "SOURCE_DATE_EPOCH (seconds since 1970), when set, is the time the charts and\n"
                   "the page give as written, so that two reports can be compared byte for byte.\n",
                   usage);
            return 0;
        } else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--out") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end != '\0' || end == argv[i] || n < 1 || n > 1024) {
                fprintf(stderr, "gradsweep report: --jobs wants a whole number from 1 to 1024, "
                        "not '%s'\n", argv[i]);
                return 2;
            }
            jobs = (int)n;
        } else if (argv[i][0] == '-' || db) {
            fprintf(stderr, "gradsweep report: unexpected '%s'; %s\n", argv[i], usage);
            return 2;
        } else {
            db = argv[i];
        }
    }
    if (!db) {
        fprintf(stderr, "gradsweep report: which database? %s\n", usage);
        return 2;
    }
    char index[4400], err[8192];
    int code;
    gs_store_t *st = gs_cli_open("report", db, 1, &code);   /* the exit status every command gives */
    if (!st)
        return code;
    gs_store_close(st);
    if (gs_report_write(db, out, jobs, index, sizeof index, err, sizeof err) != 0) {
        fprintf(stderr, "gradsweep report: %s\n", err);
        return GS_EXIT_RUNTIME;
    }
    printf("%s\n", index);
    return 0;
}
