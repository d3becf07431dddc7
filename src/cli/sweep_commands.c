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
#include "store/store.h"
#include "sweep/sweep.h"
#include "util/hash.h"

static const gs_sweep_hooks_t hooks = {gs_experiment_check, gs_experiment_flops};

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static void default_db(char *buf, size_t len, const gs_sweep_t *sw, const char *db)
{
    if (db)
        snprintf(buf, len, "%s", db);
    else
        gs_sweep_default_db(sw, buf, len);
}

/* Stored hashes of db, or none when it does not exist (0) / cannot be read (-1). */
static int stored_of(const char *db, uint64_t **h, size_t *n, char *err, size_t errlen)
{
    struct stat sb;
    *h = NULL;
    *n = 0;
    if (stat(db, &sb) != 0)
        return 0;
    gs_store_t *st = gs_store_open(db, 0, 1, err, errlen);
    if (!st)
        return -1;
    int rc = gs_store_stored_hashes(st, h, n, err, errlen);
    gs_store_close(st);
    return rc;
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
static int plan_args(int argc, char **argv, const char **cfg, const char **db)
{
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            printf("usage: gradsweep plan CONFIG.ini [--db PATH]\n\n"
                   "Parses and checks a sweep config and prints every experiment with its axes,\n"
                   "its number of cells and their estimated cost, the total, and how many cells\n"
                   "the target database (default results/<sweep name>.db) already holds.\n"
                   "Seconds assume %.1f GFLOP/s per core: a rough guide. Exit status 2 on any\n"
                   "config error, with file:line.\n", GS_ASSUMED_FLOPS_PER_CORE / 1e9);
            return 0;
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            *db = argv[++i];
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
                              size_t nh, double *remaining, size_t *stored)
{
    double fl = 0;
    size_t st = 0;
    char f1[32], t1[32], key[2048];
    for (size_t i = ex->first_cell; i < ex->first_cell + ex->n_cells; i++) {
        fl += sw->cells[i].flops;
        if (gs_u64_contains(h, nh, sw->cells[i].hash))
            st++;
        else
            *remaining += sw->cells[i].flops;
    }
    *stored += st;
    human_flops(f1, sizeof f1, fl);
    human_time(t1, sizeof t1, fl / GS_ASSUMED_FLOPS_PER_CORE);
    const gs_cell_t *c0 = &sw->cells[ex->first_cell].cell;
    printf("[%s] line %d: %zu cells, %s (~%s on one core), %zu stored\n", ex->name, ex->line,
           ex->n_cells, f1, t1, st);
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

/* The sweep's head, every experiment, and the totals against the database. */
static void print_plan(const gs_sweep_t *sw, const char *dbpath, int have_db, const uint64_t *h,
                       size_t nh)
{
    printf("sweep %s: %s\n", sw->name, sw->description[0] ? sw->description : "(no description)");
    printf("database: %s\n", dbpath);
    double all = 0;
    for (size_t i = 0; i < sw->n_cells; i++)
        all += sw->cells[i].flops;
    printf("flops: %.6g\n", all);
    printf("seed %llu, vanishing below %g, exploding above %g\n\n", (unsigned long long)sw->seed,
           sw->vanishing_below, sw->exploding_above);
    double total = 0, remaining = 0;
    size_t stored_total = 0;
    char f1[32], t1[32];
    for (size_t e = 0; e < sw->n_experiments; e++)
        total += plan_experiment(sw, &sw->experiments[e], h, nh, &remaining, &stored_total);
    human_flops(f1, sizeof f1, total);
    human_time(t1, sizeof t1, total / GS_ASSUMED_FLOPS_PER_CORE);
    printf("total: %zu cells, %s (~%s on one core)\n", sw->n_cells, f1, t1);
    human_time(t1, sizeof t1, remaining / GS_ASSUMED_FLOPS_PER_CORE);
    if (have_db)
        printf("%s holds %zu of them; %zu to run (~%s on one core)\n", dbpath, stored_total,
               sw->n_cells - stored_total, t1);
    else
        printf("%s does not exist yet: all %zu cells to run\n", dbpath, sw->n_cells);
}

int gs_cmd_plan(int argc, char **argv)
{
    const char *cfg = NULL, *db = NULL;
    int rc = plan_args(argc, argv, &cfg, &db);
    if (rc >= 0)
        return rc;
    gs_sweep_t sw;
    char err[8192];
    if (gs_sweep_load(&sw, cfg, &hooks, err, sizeof err) != 0) {
        fprintf(stderr, "gradsweep plan: %s\n", err);
        return 2;
    }
    char dbpath[4096];
    default_db(dbpath, sizeof dbpath, &sw, db);
    uint64_t *h;
    size_t nh;
    int have_db = stored_of(dbpath, &h, &nh, err, sizeof err);
    if (have_db < 0) {
        fprintf(stderr, "gradsweep plan: %s\n", err);
        rc = 2;
    } else {
        print_plan(&sw, dbpath, have_db, h, nh);
        rc = 0;
    }
    free(h);
    gs_sweep_free(&sw);
    return rc;
}

int gs_cmd_run(int argc, char **argv)
{
    gs_run_options_t o = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            printf("usage: gradsweep run CONFIG.ini [--db PATH] [--threads N] [--fresh]\n"
                   "       mpirun -np N gradsweep run CONFIG.ini ...\n\n"
                   "Runs every cell of the sweep that the database does not hold yet and stores\n"
                   "its measurements (default database results/<sweep name>.db). Without mpirun\n"
                   "one process computes every cell; under mpirun rank 0 coordinates and every\n"
                   "rank (rank 0 too, in a thread) computes cells, longest first. Rerunning the\n"
                   "same command resumes after any crash or kill: only whole cells are stored.\n"
                   "A cell that kills its process (a segfault) is noted in PATH-crashes; one\n"
                   "that has killed two runs is stored with status crashed and not run again.\n\n"
                   "  --db PATH     the database\n"
                   "  --threads N   OpenMP threads per rank (default: the node's cores shared\n"
                   "                among its ranks); results do not depend on it\n"
                   "  --fresh       delete the stored cells first (says how many)\n\n"
                   "SIGINT/SIGTERM commit what has arrived and exit 130/143; exit status 2 for\n"
                   "a config error, 1 for other failures (a full disk, a read-only folder,\n"
                   "another program's lock held over 10 s: the message names the database).\n"
                   "Progress goes to stderr.\n");
            return 0;
        } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
            o.db_path = argv[++i];
        } else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 1 || t > 4096) {
                fprintf(stderr, "gradsweep run: --threads %s: not a thread count; allowed: an "
                        "integer from 1 to 4096\n", argv[i]);
                return 2;
            }
            o.threads = (int)t;
        } else if (strcmp(a, "--fresh") == 0) {
            o.fresh = 1;
        } else if (a[0] == '-' || o.config_path) {
            fprintf(stderr, "gradsweep run: unexpected '%s'; usage: gradsweep run CONFIG.ini "
                    "[--db PATH] [--threads N] [--fresh]\n", a);
            return 2;
        } else {
            o.config_path = a;
        }
    }
    if (!o.config_path) {
        fprintf(stderr, "gradsweep run: which config? usage: gradsweep run CONFIG.ini [--db PATH] "
                "[--threads N] [--fresh]\n");
        return 2;
    }
    return gs_driver_run(&o);
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
} status_t;

static int diag_index(const char *d)
{
    for (int k = 0; d && k < GS_N_DIAG; k++)
        if (strcmp(d, gs_diag_names[k]) == 0)
            return k;
    return -1;
}

static void status_cb(void *ctx, uint64_t hash, const char *status, const char *diagnosis,
                      const char *diagnosis_final)
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
        if (status && strcmp(status, gs_status_names[k]) == 0)
            c->st[e][k]++;
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
                   "crashed (killed their process in two runs) and missing (from the config\n"
                   "text the database keeps), and the diagnosis\n"
                   "counts at initialization; for the experiments that train, the diagnoses\n"
                   "at the end of training and how many changed; whether a run is writing it\n"
                   "now; how its seeds were derived (paired: arms that differ only in training\n"
                   "keys start from the same weights). Safe while a sweep runs.\n");
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
                    calloc(sw->n_experiments, sizeof *c->fin), 0};
    if (!c->hashes || !c->cell_of || !c->st || !c->dg || !c->fin)
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
static void print_counts(const status_t *c)
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
        v[GS_N_STATUS] = (long)sw->experiments[e].n_cells - stored;
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
    gs_store_t *st = gs_store_open(db, 0, 1, err, sizeof err);
    if (!st) {
        fprintf(stderr, "gradsweep status: %s\n", err);
        return 2;
    }
    rc = 1;
    text = gs_store_config_text(st, &path);
    if (!text) {
        fprintf(stderr, "gradsweep status: %s: holds no sweep yet\n", db);
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
    print_seeding(gs_store_seeding_of(gs_store_handle(st)));
    if (gs_store_live_run(st, host, sizeof host, &pid))
        printf("a run is writing it now: host %s, pid %ld (the counts are partial)\n", host, pid);
    print_counts(&c);
    print_final(&c);
    if (c.other)
        printf("\n%ld stored cells are not in the config any more (it changed since they ran)\n",
               c.other);
    rc = 0;
out:
    status_free(&c);
    free(text);
    free(path);
    gs_sweep_free(&sw);
    gs_store_close(st);
    return rc;
}

int gs_cmd_schema(int argc, char **argv)
{
    if (argc > 1 && is_help(argv[1])) {
        printf("usage: gradsweep schema\n\nPrints the results database's schema (SQL) with a "
               "comment on every column.\n");
        return 0;
    }
    const char *sql = gs_store_schema_sql();
    if (!sql) {
        fprintf(stderr, "gradsweep schema: out of memory\n");
        return 1;
    }
    fputs(sql, stdout);
    return 0;
}

int gs_cmd_report(int argc, char **argv)
{
    const char *db = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            printf("usage: gradsweep report DB [-o DIR]\n\n"
                   "Writes DIR/index.html and DIR/charts/*.png (default DIR: reports/<sweep name>)\n"
                   "from the sweep database alone, and prints the path of index.html. Works while\n"
                   "a sweep is running (the page then says its data is partial). Charts for which\n"
                   "the database holds no data are left out.\n");
            return 0;
        } else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--out") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] == '-' || db) {
            fprintf(stderr, "gradsweep report: unexpected '%s'; usage: gradsweep report DB [-o DIR]\n",
                    argv[i]);
            return 2;
        } else {
            db = argv[i];
        }
    }
    if (!db) {
        fprintf(stderr, "gradsweep report: which database? usage: gradsweep report DB [-o DIR]\n");
        return 2;
    }
    char index[4400], err[8192];
    if (gs_report_write(db, out, index, sizeof index, err, sizeof err) != 0) {
        fprintf(stderr, "gradsweep report: %s\n", err);
        return 1;
    }
    printf("%s\n", index);
    return 0;
}
