#include <config.h>

#include "report/report.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/findings.h"
#include "report/model.h"
#include "store/query.h"
#include "store/store.h"
#include "util/csv.h"
#include "util/files.h"

static int cmp_hash(const void *a, const void *b)
{
    const rp_run_t *x = *(rp_run_t *const *)a, *y = *(rp_run_t *const *)b;
    return x->sc->hash < y->sc->hash ? -1 : x->sc->hash > y->sc->hash;
}

/* ---- the columns the report reads ---- */

/* The result table's columns as the report reads them into rp_run_t
 * (each field has its column's name), by name through the store's query
 * API (store/query.h): a column added to the table lands in its field,
 * and adding one to the schema cannot shift what lands where. */
#define RUN_COLUMN(...) GS_COLUMN_ENTRY(R, rp_run_t, __VA_ARGS__)
static const gs_column_t run_columns[] = {GS_RUN_COLUMNS(RUN_COLUMN, RUN_COLUMN, RUN_COLUMN)};
#undef RUN_COLUMN
#define N_RUN_COLUMNS (sizeof run_columns / sizeof *run_columns)
_Static_assert(N_RUN_COLUMNS <= 64, "a bit of rp_run_t.null_cols per column");
enum { C_ID = N_RUN_COLUMNS, C_HASH, N_READ };   /* read after the table's columns */

/* Every column of run_columns from the query's current row (whose names
 * are run_columns', in order) into r. */
static void read_run(const gs_query_t *q, rp_run_t *r)
{
    for (size_t k = 0; k < N_RUN_COLUMNS; k++) {
        const gs_column_t *col = &run_columns[k];
        char *field = (char *)r + col->offset, text[64];
        double v;
        long n;
        int e;
        switch (col->type) {
        case GS_COL_REAL: case GS_COL_REAL_INF:
            v = gs_query_real(q, k);
            memcpy(field, &v, sizeof v);
            break;
        case GS_COL_INT: case GS_COL_SESSION:
            n = (long)gs_query_int(q, k);
            memcpy(field, &n, sizeof n);
            break;
        case GS_COL_TEXT:
            gs_query_text(q, k, field, GS_TEXT_MAX);
            break;
        default:   /* an enum: its value, RP_NONE for NULL */
            e = gs_query_null(q, k) ? RP_NONE
                                    : gs_column_value(col->type, gs_query_text(q, k, text,
                                                                               sizeof text));
            memcpy(field, &e, sizeof e);
            break;
        }
    }
    r->null_cols = 0;
    for (size_t k = 0; k < N_RUN_COLUMNS; k++)
        if (gs_query_null(q, k))
            r->null_cols |= (uint64_t)1 << k;
    r->id = gs_query_int(q, C_ID);
}

/* runs.csv: every stored run, its experiment, its label and every column
 * of the result table in its order, as read (so a column added to the
 * table is here without another line). Reals to 17 significant digits,
 * NULL empty. */
int rp_write_runs_csv(const rp_model_t *m, const char *path, char *err, size_t errlen)
{
    char tmp[4300];
    FILE *f = gs_replace_open(path, "w", tmp, sizeof tmp, err, errlen);
    if (!f)
        return -1;
    fputs("experiment,run,config_hash", f);
    for (size_t k = 0; k < N_RUN_COLUMNS; k++)
        fprintf(f, ",%s", run_columns[k].name);   /* C identifiers: nothing to quote */
    fputc('\n', f);
    for (size_t e = 0; e < m->n_exps; e++)
        for (size_t i = 0; i < m->exps[e].n_runs; i++) {
            const rp_run_t *r = &m->exps[e].runs[i];
            if (!r->stored)
                continue;
            gs_csv_field(f, m->exps[e].ex->name);
            fputc(',', f);
            gs_csv_field(f, r->label);
            fprintf(f, ",%s", r->sc->hash_hex);
            for (size_t k = 0; k < N_RUN_COLUMNS; k++) {
                const gs_column_t *col = &run_columns[k];
                char text[GS_TEXT_MAX];
                fputc(',', f);
                if (!(r->null_cols >> k & 1))   /* NULL: empty, whatever its type */
                    gs_csv_field(f, gs_column_text(col, (const char *)r + col->offset, text,
                                                   sizeof text));
            }
            fputc('\n', f);
        }
    return gs_replace_close(f, tmp, path, 1, err, errlen);
}

/* ---- loading ---- */

/* The sweep, parsed from the config text the database keeps. */
static int load_sweep(rp_model_t *m, char *err, size_t errlen)
{
    char *path = NULL, *text = gs_store_config_text_of(m->db, &path);
    if (!text) {
        free(path);
        snprintf(err, errlen, "%s: holds no sweep yet", m->db_path);
        return -1;
    }
    int rc = gs_sweep_parse(&m->sw, text, path ? path : "config", NULL, err, errlen);
    free(text);
    free(path);
    return rc;
}

/* Every cell of the config as a run not (yet) stored, and index: the
 * runs sorted by config hash. */
static int make_runs(rp_model_t *m, rp_run_t **index, char *err, size_t errlen)
{
    size_t k = 0;
    m->n_exps = m->sw.n_experiments;
    m->exps = calloc(m->n_exps, sizeof *m->exps);
    if (!m->exps)
        goto oom;
    for (size_t e = 0; e < m->n_exps; e++) {
        rp_exp_t *x = &m->exps[e];
        x->ex = &m->sw.experiments[e];
        x->n_runs = x->ex->n_cells;
        x->runs = calloc(x->n_runs + 1, sizeof *x->runs);
        if (!x->runs)
            goto oom;
        for (size_t i = 0; i < x->n_runs; i++) {
            rp_run_t *r = &x->runs[i];
            r->sc = &m->sw.cells[x->ex->first_cell + i];
            for (size_t f = 0; f < N_RUN_COLUMNS; f++) {   /* NaN, none: not measured */
                char *field = (char *)r + run_columns[f].offset;
                if (run_columns[f].type == GS_COL_REAL || run_columns[f].type == GS_COL_REAL_INF)
                    memcpy(field, &(double){NAN}, sizeof(double));
                else if (gs_column_names(run_columns[f].type, &(size_t){0}))
                    memcpy(field, &(int){RP_NONE}, sizeof(int));
            }
            rp_label(x->ex, &r->sc->cell, -1, r->config_label, sizeof r->config_label);
            if (r->sc->cell.repeats > 1)
                snprintf(r->label, sizeof r->label, "%s / repeat %ld", r->config_label,
                         r->sc->cell.repeat + 1);
            else
                snprintf(r->label, sizeof r->label, "%s", r->config_label);
            index[k++] = r;
        }
    }
    assert(k == m->sw.n_cells);   /* the experiments' cells are the sweep's */
    qsort(index, k, sizeof *index, cmp_hash);
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* The run of config hash h among the n sorted runs, or NULL. */
static rp_run_t *run_of(rp_run_t **index, size_t n, uint64_t h)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (index[mid]->sc->hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && index[lo]->sc->hash == h ? index[lo] : NULL;
}

/* The stored runs, matched to the config's cells by config_hash, and the
 * counts by status and diagnosis. */
static int read_runs(rp_model_t *m, rp_run_t **index, char *err, size_t errlen)
{
    const char *names[N_READ];
    for (size_t k = 0; k < N_RUN_COLUMNS; k++)
        names[k] = run_columns[k].name;
    names[C_ID] = "id";
    names[C_HASH] = "config_hash";
    gs_query_t q;
    if (gs_query_prepare(&q, m->db, m->db_path, "SELECT runs.*, t.* FROM runs LEFT JOIN theory t "
                         "ON t.run_id = runs.id", names, N_READ, err, errlen) != 0)
        return -1;
    int rc;
    while ((rc = gs_query_step(&q, err, errlen)) == 1) {
        char hash[32];
        gs_query_text(&q, C_HASH, hash, sizeof hash);
        rp_run_t *r = run_of(index, m->sw.n_cells, strtoull(hash, NULL, 16));
        if (!r)
            continue;   /* a cell of an experiment no longer in the config */
        r->stored = 1;
        read_run(&q, r);
        m->n_stored++;
        if (r->status != RP_NONE)
            m->by_status[r->status]++;
        if (r->diagnosis != RP_NONE)
            m->by_diag[r->diagnosis]++;
    }
    gs_query_finish(&q);
    for (size_t e = 0; e < m->n_exps; e++)
        for (size_t i = 0; i < m->exps[e].n_runs; i++)
            m->exps[e].n_stored += m->exps[e].runs[i].stored;
    return rc;
}

/* The sessions, for provenance (none when they cannot be read). */
static void read_sessions(rp_model_t *m)
{
    enum { S_HOST, S_PID, S_RANKS, S_THREADS, S_STATUS, S_STARTED, S_ENDED, S_HOSTS, S_VERSION,
           S_WALL, N_S };
    static const char *const names[N_S] = {
        [S_HOST] = "host", [S_PID] = "pid", [S_RANKS] = "ranks", [S_THREADS] = "threads",
        [S_STATUS] = "status", [S_STARTED] = "started_at", [S_ENDED] = "ended_at",
        [S_HOSTS] = "hosts", [S_VERSION] = "gradsweep_version", [S_WALL] = "wall_s",
    };
    gs_query_t q;
    char err[256];
    if (gs_query_prepare(&q, m->db, m->db_path, "SELECT * FROM sessions ORDER BY id", names, N_S,
                         err, sizeof err) != 0)
        return;
    while (gs_query_step(&q, err, sizeof err) == 1) {
        rp_session_t *ns = realloc(m->sessions, (m->n_sessions + 1) * sizeof *ns);
        if (!ns)
            break;
        m->sessions = ns;
        rp_session_t *x = &ns[m->n_sessions++];
        gs_query_text(&q, S_HOST, x->host, sizeof x->host);
        x->pid = gs_query_int(&q, S_PID);
        x->ranks = gs_query_int(&q, S_RANKS);
        x->threads = gs_query_int(&q, S_THREADS);
        gs_query_text(&q, S_STATUS, x->status, sizeof x->status);
        gs_query_text(&q, S_STARTED, x->started, sizeof x->started);
        gs_query_text(&q, S_ENDED, x->ended, sizeof x->ended);
        gs_query_text(&q, S_HOSTS, x->hosts, sizeof x->hosts);
        gs_query_text(&q, S_VERSION, x->version, sizeof x->version);
        x->wall_s = gs_query_null(&q, S_WALL) ? 0 : gs_query_real(&q, S_WALL);
    }
    gs_query_finish(&q);
}

int rp_model_load(rp_model_t *m, char *err, size_t errlen)
{
    if (load_sweep(m, err, errlen) != 0)
        return -1;
    rp_run_t **index = malloc((m->sw.n_cells + 1) * sizeof *index);
    int rc = -1;
    if (!index)
        snprintf(err, errlen, "out of memory");
    else if (make_runs(m, index, err, errlen) == 0 && read_runs(m, index, err, errlen) == 0)
        rc = 0;
    free(index);
    if (rc == 0)
        read_sessions(m);
    return rc;
}

void rp_model_free(rp_model_t *m)
{
    for (size_t e = 0; m->exps && e < m->n_exps; e++)
        free(m->exps[e].runs);
    free(m->exps);
    free(m->sessions);
    gs_sweep_free(&m->sw);
    m->exps = NULL;
    m->sessions = NULL;
    m->n_exps = m->n_sessions = 0;
}
