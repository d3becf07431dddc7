#include <config.h>

#include "report/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"

void rp_series_free(rp_series_t *s)
{
    free(s->x);
    free(s->y);
    s->x = s->y = NULL;
    s->n = 0;
}

void rp_series_free_all(rp_series_t *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        rp_series_free(&s[i]);
}

int rp_varies(const rp_exp_t *e, const char *key)
{
    for (size_t a = 0; a < e->ex->n_axes; a++)
        if (strcmp(e->ex->axes[a].key, key) == 0)
            return 1;
    return 0;
}

/* Run a query with one bound id whose rows are (x, y). */
static int series_query(rp_model_t *m, const char *sql, sqlite3_int64 id, rp_series_t *out)
{
    static const char *const xy[] = {"x", "y"};
    memset(out, 0, sizeof *out);
    gs_query_t q;
    char err[256];
    if (gs_query_prepare(&q, m->db, m->db_path, sql, xy, 2, err, sizeof err) != 0)
        return -1;
    sqlite3_bind_int64(q.stmt, 1, id);
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && gs_query_step(&q, err, sizeof err) == 1) {
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            double *x = realloc(out->x, cap * sizeof *x), *y = realloc(out->y, cap * sizeof *y);
            out->x = x ? x : out->x;
            out->y = y ? y : out->y;
            if (!x || !y) {
                rp_series_free(out);
                rc = -1;
                break;
            }
        }
        out->x[out->n] = gs_query_real(&q, 0);
        out->y[out->n] = gs_query_real(&q, 1);
        out->n++;
    }
    gs_query_finish(&q);
    return rc;
}

/* The series of run r that the query fmt (SELECT x, y ... WHERE run_id =
 * ?1 ...) selects once its printf arguments are filled in. Column names
 * are fixed strings of this file's callers, never user text. */
static int series_of(rp_model_t *m, const rp_run_t *r, rp_series_t *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int series_of(rp_model_t *m, const rp_run_t *r, rp_series_t *s, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return series_query(m, sql, r->id, s);
}

int rp_layer_series(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s)
{
    return series_of(m, r, s, "SELECT layer AS x, %s AS y FROM layer_stats WHERE run_id = ?1 AND "
                     "step = 0 AND layer <= %ld ORDER BY layer", column, r->sc->cell.depth);
}

int rp_layer_series_set(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s)
{
    return series_of(m, r, s, "SELECT layer AS x, %s AS y FROM layer_stats WHERE run_id = ?1 AND "
                     "step = 0 AND layer <= %ld AND %s IS NOT NULL ORDER BY layer", column,
                     r->sc->cell.depth, column);
}

int rp_layer_log_mean(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s)
{
    return series_of(m, r, s, "SELECT step AS x, avg(%s) AS y FROM train_layer_log WHERE "
                     "run_id = ?1 AND layer <= %ld GROUP BY step HAVING count(%s) > 0 "
                     "ORDER BY step", column, r->sc->cell.depth, column);
}

int rp_log_series(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s)
{
    return series_of(m, r, s, "SELECT step AS x, %s AS y FROM train_log WHERE run_id = ?1 "
                     "ORDER BY step", column);
}

int rp_layer_log_series(rp_model_t *m, const rp_run_t *r, int layer, const char *column,
                        rp_series_t *s)
{
    return series_of(m, r, s, "SELECT step AS x, %s AS y FROM train_layer_log WHERE "
                     "run_id = ?1 AND layer = %d ORDER BY step", column, layer);
}

int rp_layer_log_at(rp_model_t *m, const rp_run_t *r, long step, const char *column,
                    rp_series_t *s)
{
    return series_of(m, r, s, "SELECT layer AS x, %s AS y FROM train_layer_log WHERE "
                     "run_id = ?1 AND step = %ld ORDER BY layer", column, step);
}

int rp_time_series(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s)
{
    return series_of(m, r, s, "SELECT t AS x, %s AS y FROM time_stats WHERE run_id = ?1 AND "
                     "step = 0 ORDER BY t", column);
}

/* A run computed in that format (precision=, issue 20) counted values
 * already rounded to it: what the format flushed is zero there, not a
 * nonzero value it would flush (zero_frac 0). Its share flushed is the
 * share of its values that are zero. */
static int run_in_format(const rp_run_t *r, const char *format)
{
    return r->sc->cell.precision != 0 && strcmp(gs_precision_names[r->sc->cell.precision], format) == 0;
}

int rp_format_tensor_zero_series(rp_model_t *m, const rp_run_t *r, const char *tensor,
                                 const char *format, rp_series_t *s)
{
    return series_of(m, r, s, "SELECT layer AS x, %s AS y FROM format_stats WHERE run_id = "
                     "?1 AND tensor = '%s' AND format = '%s' AND layer <= %ld AND "
                     "step = (SELECT min(step) FROM format_stats WHERE run_id = ?1) ORDER BY x",
                     run_in_format(r, format) ? "1.0 - CAST(nonzero AS REAL) / n_values" : "zero_frac",
                     tensor, format, r->sc->cell.depth);
}

int rp_format_zero_series(rp_model_t *m, const rp_run_t *r, const char *format, rp_series_t *s)
{
    return rp_format_tensor_zero_series(m, r, "grad_activation", format, s);
}

int rp_scale_window(rp_model_t *m, const rp_run_t *r, const char *format, rp_series_t *s)
{
    /* none for a run in a reduced precision: its gradients are already
     * scaled and flushed - the window is its float64 twin's to show */
    return series_of(m, r, s, "SELECT lo_log2 AS x, hi_log2 AS y FROM loss_scale_window WHERE "
                     "run_id = ?1 AND tensor = 'grad_activation' AND format = '%s' AND step = "
                     "(SELECT min(step) FROM format_stats WHERE run_id = ?1)%s", format,
                     r->sc->cell.precision != 0 ? " AND 0" : "");
}

/* The counts of a histogram's JSON array ("[3,0,12]") into y[0..cap):
 * how many were read. Reading stops at the first thing that is not a
 * count: a hand-edited or foreign row gives fewer bins, never a crash. */
static size_t hist_counts(const char *json, double *y, size_t cap)
{
    size_t n = 0;
    const char *p = json;
    if (!p || *p++ != '[')
        return 0;
    while (n < cap) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || (*end != ',' && *end != ']'))
            break;
        y[n++] = v;
        if (*end == ']')
            break;
        p = end + 1;
    }
    return n;
}

int rp_hist(rp_model_t *m, const rp_run_t *r, int layer, const char *quantity, rp_series_t *out,
            double *lo, double *hi)
{
    enum { H_LO, H_HI, H_COUNTS, N_H };
    static const char *const names[N_H] = {[H_LO] = "lo", [H_HI] = "hi", [H_COUNTS] = "counts"};
    memset(out, 0, sizeof *out);
    gs_query_t q;
    char err[256];
    if (gs_query_prepare(&q, m->db, m->db_path, "SELECT * FROM histogram_counts WHERE run_id = ?1 "
                         "AND layer = ?2 AND quantity = ?3", names, N_H, err, sizeof err) != 0)
        return -1;
    sqlite3_bind_int64(q.stmt, 1, r->id);
    sqlite3_bind_int(q.stmt, 2, layer);
    sqlite3_bind_text(q.stmt, 3, quantity, -1, SQLITE_STATIC);
    size_t cap = 64;
    out->x = malloc(cap * sizeof *out->x);
    out->y = malloc(cap * sizeof *out->y);
    *lo = INFINITY;
    *hi = -INFINITY;
    if (out->x && out->y && gs_query_step(&q, err, sizeof err) == 1) {
        /* the bins' edges as the histograms view gives them */
        double a = gs_query_real(&q, H_LO), b = gs_query_real(&q, H_HI);
        char counts[2048];
        out->n = hist_counts(gs_query_text(&q, H_COUNTS, counts, sizeof counts), out->y, cap);
        double w = (b - a) / (double)out->n;
        for (size_t k = 0; k < out->n; k++) {
            double left = a + (double)k * w, right = k + 1 < out->n ? a + (double)(k + 1) * w : b;
            out->x[k] = 0.5 * (left + right);
            *lo = fmin(*lo, left);
            *hi = fmax(*hi, right);
        }
    }
    gs_query_finish(&q);
    if (out->x && out->y)
        return 0;
    rp_series_free(out);
    return -1;
}

int rp_axis_of(const rp_exp_t *e, const char *key)
{
    for (size_t a = 0; a < e->ex->n_axes; a++)
        if (strcmp(e->ex->axes[a].key, key) == 0)
            return (int)a;
    return -1;
}

int rp_value_index(const rp_exp_t *e, int a, const rp_run_t *r)
{
    return a < 0 ? 0 : (int)gs_sweep_axis_value(e->ex, r->sc, (size_t)a);
}

int rp_usable(const rp_run_t *r)
{
    return r->stored && GS_STATUS_MEASURED(r->status);
}

int rp_diverged(const rp_run_t *r)
{
    return r->stored && r->status == GS_STATUS_DIVERGED;
}

const char *rp_diag_name(int diagnosis)
{
    return diagnosis >= 0 && diagnosis < GS_N_DIAG ? gs_diag_names[diagnosis] : "";
}

const char *rp_status_name(int status)
{
    return status >= 0 && status < GS_N_STATUS ? gs_status_names[status] : "";
}

const char *rp_nonfinite_name(int tensor)
{
    return tensor >= 0 && tensor < GS_N_NONFINITE ? gs_nonfinite_names[tensor] : "";
}
