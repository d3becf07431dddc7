/* `gradsweep show DB RUN`: one stored cell - its keys, status and
 * diagnoses, the layer statistics at init, and for a training run the
 * loss curve and each layer's ||dL/dW|| over training as a table with a
 * sparkline per layer; where it diverged. --csv: the same rows as CSV. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/query.h"
#include "store/store.h"
#include "util/csv.h"
#include "util/exit.h"

#define SHOW_USAGE "gradsweep show DB RUN [--csv]   (RUN: runs.id or a config_hash prefix)"

/* The runs row's id of `which`: an id, or a unique prefix of a config
 * hash. 0 found; GS_EXIT_INPUT none or several (err says which). */
static int find_run(sqlite3 *db, const char *which, int64_t *id, char *err, size_t errlen)
{
    static const char *const cols[] = {"id"};
    gs_query_t q;
    if (gs_query_prepare(&q, db, "runs", "SELECT id FROM runs WHERE CAST(id AS TEXT) = ?1 OR "
                         "config_hash LIKE ?2 || '%' ESCAPE '\\' LIMIT 2", cols, 1, err, errlen) != 0)
        return GS_EXIT_RUNTIME;
    sqlite3_bind_text(q.stmt, 1, which, -1, SQLITE_STATIC);
    /* a hex prefix cannot hold LIKE's wildcards; anything else matches nothing */
    sqlite3_bind_text(q.stmt, 2, strspn(which, "0123456789abcdef") == strlen(which) ? which : "-",
                      -1, SQLITE_STATIC);
    int n = 0, rc;
    while ((rc = gs_query_step(&q, err, errlen)) == 1)
        if (n++ == 0)
            *id = gs_query_int(&q, 0);
    gs_query_finish(&q);
    if (rc < 0)
        return GS_EXIT_RUNTIME;
    if (n == 1)
        return GS_EXIT_OK;
    snprintf(err, errlen, "%s run '%s' (give runs.id or more digits of its config_hash)",
             n ? "more than one" : "no", which);
    return GS_EXIT_INPUT;
}

/* The runs row and its theory row as "key: value" lines (text) or one
 * CSV header + row: the cell's identity, then every column of the result
 * table in its order. */
static int show_run(sqlite3 *db, int64_t id, int csv, char *err, size_t errlen)
{
    const char *cols[GS_QUERY_MAX_COLS] = {"config_hash", "experiment", "repeat",
                                           "canonical_key"};
    size_t N = 4, n_columns;
    const gs_column_t *columns = gs_store_columns(&n_columns);
    for (size_t k = 0; k < n_columns && N < GS_QUERY_MAX_COLS; k++)
        cols[N++] = columns[k].name;
    gs_query_t q;
    if (gs_query_prepare(&q, db, "runs", "SELECT * FROM runs LEFT JOIN theory t ON "
                         "t.run_id = runs.id WHERE id = ?1", cols, N, err, errlen) != 0)
        return -1;
    sqlite3_bind_int64(q.stmt, 1, id);
    int rc = gs_query_step(&q, err, errlen);
    char buf[4096];
    for (size_t k = 0; rc == 1 && k < N; k++) {
        if (csv) {
            printf("%s%s", k ? "," : "", cols[k]);
            continue;
        }
        if (gs_query_null(&q, k))
            continue;   /* what this run does not have */
        printf("%-22s %s\n", cols[k], gs_query_text(&q, k, buf, sizeof buf));
    }
    for (size_t k = 0; csv && rc == 1 && k < N; k++) {
        fputs(k ? "," : "\n", stdout);
        gs_csv_field(stdout, gs_query_text(&q, k, buf, sizeof buf));
    }
    if (csv && rc == 1)
        putchar('\n');
    gs_query_finish(&q);
    if (rc == 0)
        snprintf(err, errlen, "run %lld vanished while being read", (long long)id);
    return rc == 1 ? 0 : -1;
}

/* A one-line sparkline of v[0..n) on a log scale (NaN or <= 0: a space). */
static void sparkline(const double *v, size_t n)
{
    static const char *const bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (v[i] > 0 && isfinite(v[i])) {
            lo = fmin(lo, log10(v[i]));
            hi = fmax(hi, log10(v[i]));
        }
    for (size_t i = 0; i < n; i++) {
        if (!(v[i] > 0 && isfinite(v[i]))) {
            putchar(' ');
            continue;
        }
        int b = hi > lo ? (int)((log10(v[i]) - lo) / (hi - lo) * 7.0 + 0.5) : 3;
        fputs(bars[b], stdout);
    }
}

/* Per layer, ||dL/dW|| over the logged steps: first, last, sparkline.
 * Rows arrive ordered by layer, then step. */
static int show_layer_curves(sqlite3 *db, int64_t id, char *err, size_t errlen)
{
    static const char *const cols[] = {"layer", "step", "grad_w_norm"};
    gs_query_t q;
    if (gs_query_prepare(&q, db, "train_layer_log", "SELECT layer, step, grad_w_norm FROM "
                         "train_layer_log WHERE run_id = ?1 ORDER BY layer, step", cols, 3, err,
                         errlen) != 0)
        return -1;
    sqlite3_bind_int64(q.stmt, 1, id);
    double v[512];
    size_t n = 0;
    int64_t layer = -1;
    int rc, any = 0;
    for (;;) {
        rc = gs_query_step(&q, err, errlen);
        if (layer >= 0 && (rc != 1 || gs_query_int(&q, 0) != layer)) {
            printf("%5lld %12.4e %12.4e  ", (long long)layer, v[0], v[n - 1]);
            sparkline(v, n);
            putchar('\n');
            n = 0;
        }
        if (rc != 1)
            break;
        if (!any++)
            printf("\n||dL/dW_l|| over training (train_layer_log; sparkline on a log scale)\n"
                   "%5s %12s %12s  %s\n", "layer", "first", "last", "steps ->");
        layer = gs_query_int(&q, 0);
        if (n < sizeof v / sizeof *v)
            v[n++] = gs_query_real(&q, 2);
    }
    gs_query_finish(&q);
    return rc < 0 ? -1 : 0;
}

/* The rows of one SELECT as a table (text) or CSV, under a title. */
static int show_rows(sqlite3 *db, int64_t id, const char *title, const char *sql,
                     const char *const *cols, size_t n, int csv, char *err, size_t errlen)
{
    gs_query_t q;
    if (gs_query_prepare(&q, db, title, sql, cols, n, err, errlen) != 0)
        return -1;
    sqlite3_bind_int64(q.stmt, 1, id);
    int rc, rows = 0;
    char buf[64];
    while ((rc = gs_query_step(&q, err, errlen)) == 1) {
        if (!rows++) {
            printf(csv ? "\n" : "\n%s\n", title);
            for (size_t k = 0; k < n; k++)
                printf(csv ? "%s%s" : "%s%13s", k ? (csv ? "," : " ") : "", cols[k]);
            putchar('\n');
        }
        for (size_t k = 0; k < n; k++) {
            if (csv || sqlite3_column_type(q.stmt, q.index[k]) != SQLITE_FLOAT)
                gs_query_text(&q, k, buf, sizeof buf);
            else   /* the table is for eyes: 5 digits; --csv keeps them all */
                snprintf(buf, sizeof buf, "%.5g", gs_query_real(&q, k));
            printf(csv ? "%s%s" : "%s%13s", k ? (csv ? "," : " ") : "", buf);
        }
        putchar('\n');
    }
    gs_query_finish(&q);
    return rc < 0 ? -1 : 0;
}

static int show(sqlite3 *db, int64_t id, int csv, char *err, size_t errlen)
{
    static const char *const init_cols[] = {"layer", "grad_pre_norm", "grad_w_norm", "act_std",
                                            "saturated_frac", "dead_frac"};
#define SERIES_NAME(name, type, help) #name,
    /* every column of train_log: the held-out loss beside the batch's */
    static const char *const log_cols[] = {"step", GS_TRAIN_LOG_COLUMNS(SERIES_NAME)};
#undef SERIES_NAME
    /* a transformer's blocks: the block rows, then every matrix and gain */
    static const char *const block_cols[] = {"layer", "grad_x_norm", "rms", "token_cosine",
                                             "rank_residual", "attn_entropy_min",
                                             "attn_logit_max"};
    static const char *const sub_cols[] = {"layer", "sublayer", "grad_w_norm", "w_norm"};
    static const char *const head_cols[] = {"layer", "head", "attn_entropy", "attn_logit_max"};
    if (show_run(db, id, csv, err, errlen) != 0 ||
        show_rows(db, id, "at init (layer_stats, step 0)",
                  "SELECT * FROM layer_stats WHERE run_id = ?1 AND step = 0 ORDER BY layer",
                  init_cols, 6, csv, err, errlen) != 0 ||
        show_rows(db, id, "blocks at init (block_stats, step 0, sublayer 'block')",
                  "SELECT * FROM block_stats WHERE run_id = ?1 AND step = 0 AND sublayer = "
                  "'block' ORDER BY layer", block_cols, 7, csv, err, errlen) != 0 ||
        show_rows(db, id, "sublayers at init (block_stats, step 0)",
                  "SELECT * FROM block_stats WHERE run_id = ?1 AND step = 0 AND sublayer != "
                  "'block' ORDER BY layer, sublayer", sub_cols, 4, csv, err, errlen) != 0 ||
        show_rows(db, id, "heads at init (head_stats, step 0)",
                  "SELECT * FROM head_stats WHERE run_id = ?1 AND step = 0 ORDER BY layer, head",
                  head_cols, 4, csv, err, errlen) != 0 ||
        show_rows(db, id, "training (train_log)",
                  "SELECT * FROM train_log WHERE run_id = ?1 ORDER BY step", log_cols,
                  sizeof log_cols / sizeof *log_cols, csv, err, errlen) != 0)
        return -1;
    return csv ? 0 : show_layer_curves(db, id, err, errlen);
}

int gs_cmd_show(int argc, char **argv)
{
    static const char help[] =
        "One stored cell: its keys, status, diagnoses (at init and at the end of\n"
        "training), losses and, for a diverged run, the step, layer and tensor that\n"
        "went non-finite first; its layer statistics at init (a transformer: its\n"
        "block_stats rows, per block and per sublayer, and head_stats', per head); for\n"
        "a training run the loss curve (train_log: the batch loss and the held-out loss\n"
        "and accuracy)\n"
        "and each layer's ||dL/dW|| over training with a\n"
        "sparkline. --csv: the runs row, the layer statistics and the loss curve as\n"
        "CSV blocks, each with its header.\n\n";
    static const char *const flags[] = {"--csv"};
    const char *db, *which;
    int csv = -1, code;
    if (gs_cli_db_and_name(argc, argv, "show", SHOW_USAGE, help, "run", flags, 1, &csv, &db,
                           &which, &code) != 0)
        return code;
    csv = csv == 0;
    char err[8192];
    int rc;
    gs_store_t *st = gs_cli_open("show", db, 1, &rc);
    if (!st)
        return rc;
    int64_t id = 0;
    rc = find_run(gs_store_handle(st), which, &id, err, sizeof err);
    if (rc == GS_EXIT_OK && show(gs_store_handle(st), id, csv, err, sizeof err) != 0)
        rc = GS_EXIT_RUNTIME;
    if (rc != GS_EXIT_OK)
        fprintf(stderr, "gradsweep show: %s: %s\n", db, err);
    gs_store_close(st);
    return rc;
}
