/* Reading transformer cells: block_stats series, the runs row's
 * transformer keys and output_change, and a run value's medians per
 * scheme and depth (transformer.h). */
#include <config.h>

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/charts.h"
#include "report/findings.h"
#include "report/transformer.h"
#include "store/query.h"

/* One row of one real column (out) of a query with one bound id; -1 when
 * it does not prepare (no such table or column) or has no row. */
static int one_real(rp_model_t *m, const char *sql, const char *column, sqlite3_int64 id,
                    double *out)
{
    const char *const names[] = {column};
    gs_query_t q;
    char err[256];
    *out = NAN;
    if (gs_query_prepare(&q, m->db, m->db_path, sql, names, 1, err, sizeof err) != 0)
        return -1;
    sqlite3_bind_int64(q.stmt, 1, id);
    int rc = gs_query_step(&q, err, sizeof err) == 1 ? 0 : -1;
    if (rc == 0)
        *out = gs_query_real(&q, 0);
    gs_query_finish(&q);
    return rc;
}

int rp_tf_run(rp_model_t *m, const rp_run_t *r)
{
    double n;
    return rp_usable(r) &&
           one_real(m, "SELECT count(*) AS n FROM block_stats WHERE run_id = ?1 AND step = 0 AND "
                    "sublayer = 'block'", "n", r->id, &n) == 0 && n > 0;
}

int rp_tf_experiment(rp_model_t *m, const rp_exp_t *e)
{
    for (size_t i = 0; i < e->n_runs; i++)
        if (rp_tf_run(m, &e->runs[i]))
            return 1;
    return 0;
}

int rp_tf_keys(rp_model_t *m, const rp_run_t *r, rp_tf_keys_t *k)
{
    enum { K_LN, K_SCALE, K_SKIP, K_MLP, N_K };
    static const char *const names[N_K] = {
        [K_LN] = "ln", [K_SCALE] = "residual_scale", [K_SKIP] = "skip", [K_MLP] = "mlp"};
    memset(k, 0, sizeof *k);
    gs_query_t q;
    char err[256];
    if (gs_query_prepare(&q, m->db, m->db_path, "SELECT * FROM runs WHERE id = ?1", names, N_K,
                         err, sizeof err) != 0)
        return -1;
    sqlite3_bind_int64(q.stmt, 1, r->id);
    int rc = gs_query_step(&q, err, sizeof err) == 1 ? 0 : -1;
    if (rc == 0) {
        gs_query_text(&q, K_LN, k->ln, sizeof k->ln);
        gs_query_text(&q, K_SCALE, k->scale, sizeof k->scale);
        gs_query_text(&q, K_SKIP, k->skip, sizeof k->skip);
        gs_query_text(&q, K_MLP, k->mlp, sizeof k->mlp);
    }
    gs_query_finish(&q);
    return rc;
}

int rp_block_series(rp_model_t *m, const rp_run_t *r, const char *sublayer, const char *column,
                    rp_series_t *s)
{
    static const char *const xy[] = {"x", "y"};
    char sql[256];
    memset(s, 0, sizeof *s);
    /* column and sublayer are fixed strings of the report, never user text */
    snprintf(sql, sizeof sql, "SELECT layer AS x, %s AS y FROM block_stats WHERE run_id = ?1 AND "
             "step = 0 AND sublayer = ?2 ORDER BY layer", column);
    gs_query_t q;
    char err[256];
    if (gs_query_prepare(&q, m->db, m->db_path, sql, xy, 2, err, sizeof err) != 0)
        return -1;
    sqlite3_bind_int64(q.stmt, 1, r->id);
    sqlite3_bind_text(q.stmt, 2, sublayer, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc = 0, st;
    while ((st = gs_query_step(&q, err, sizeof err)) == 1) {
        if (s->n == cap) {
            cap = cap ? 2 * cap : 32;
            double *x = realloc(s->x, cap * sizeof *x);
            s->x = x ? x : s->x;
            double *y = x ? realloc(s->y, cap * sizeof *y) : NULL;
            s->y = y ? y : s->y;
            if (!x || !y) {
                rc = -1;
                break;
            }
        }
        s->x[s->n] = gs_query_real(&q, 0);
        s->y[s->n] = gs_query_real(&q, 1);
        s->n++;
    }
    if (st < 0)
        rc = -1;
    gs_query_finish(&q);
    if (rc != 0)
        rp_series_free(s);
    return rc;
}

int rp_block_loader(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s)
{
    char sub[16];
    const char *dot = strchr(column, '.');
    assert(dot && (size_t)(dot - column) < sizeof sub);
    snprintf(sub, sizeof sub, "%.*s", (int)(dot - column), column);
    return rp_block_series(m, r, sub, dot + 1, s);
}

int rp_block_w2_profile(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s)
{
    (void)column;
    if (rp_block_series(m, r, "w2", "grad_w_norm", s) != 0)
        return -1;
    double first = s->n && s->x[0] == 1 ? s->y[0] : NAN;
    if (!(first > 0)) {
        rp_series_free(s);
        return 0;
    }
    for (size_t i = 0; i < s->n; i++)
        s->y[i] /= first;
    return 0;
}

double rp_tf_w2_ratio(rp_model_t *m, const rp_run_t *r)
{
    rp_series_t s;
    if (rp_block_w2_profile(m, r, NULL, &s) != 0)
        return NAN;
    /* the last block must be the top one: a partial series has no ratio */
    double v = s.n && s.x[s.n - 1] == (double)r->sc->cell.depth ? s.y[s.n - 1] : NAN;
    rp_series_free(&s);
    return v;
}

int rp_tf_heads(rp_model_t *m, const rp_exp_t *e, rp_tf_heads_t *t)
{
    static const char *const cols[] = {"step", "layer", "head", "v"};
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < e->n_runs; i++)
        if (rp_tf_run(m, &e->runs[i]) && (size_t)e->runs[i].sc->cell.depth > t->n_cols)
            t->n_cols = (size_t)e->runs[i].sc->cell.depth;
    if (!t->n_cols || !(t->v = malloc(RP_TF_MAX_HEAD_ROWS * t->n_cols * sizeof *t->v)))
        return t->n_cols ? -1 : 0;
    for (size_t k = 0; k < RP_TF_MAX_HEAD_ROWS * t->n_cols; k++)
        t->v[k] = NAN;
    gs_query_t q;
    char err[256];
    /* the run's rows at its last measured step; no table: no rows */
    if (gs_query_prepare(&q, m->db, m->db_path,
                         "SELECT step, layer, head, attn_entropy AS v FROM head_stats WHERE "
                         "run_id = ?1 AND step = (SELECT max(step) FROM head_stats WHERE run_id = "
                         "?1) ORDER BY head, layer", cols, 4, err, sizeof err) != 0) {
        rp_tf_heads_free(t);
        return 0;
    }
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)   /* its configuration drawn already */
            seen = rp_tf_run(m, &e->runs[j]) &&
                   strcmp(e->runs[j].config_label, r->config_label) == 0;
        if (seen || !rp_tf_run(m, r))
            continue;
        sqlite3_reset(q.stmt);
        sqlite3_bind_int64(q.stmt, 1, r->id);
        int st;
        size_t row = SIZE_MAX;
        while ((st = gs_query_step(&q, err, sizeof err)) == 1) {
            long head = (long)gs_query_int(&q, 2), layer = (long)gs_query_int(&q, 1);
            if (row == SIZE_MAX || head != t->head[row]) {
                if (t->n_rows == RP_TF_MAX_HEAD_ROWS)
                    break;
                row = t->n_rows++;
                t->run[row] = r;
                t->head[row] = head;
                t->step[row] = (long)gs_query_int(&q, 0);
                snprintf(t->label[row], sizeof t->label[row], "%.80s h%ld", r->config_label, head);
            }
            if (layer >= 1 && (size_t)layer <= t->n_cols)
                t->v[row * t->n_cols + (size_t)layer - 1] = gs_query_real(&q, 3);
        }
        if (st < 0)
            break;
    }
    gs_query_finish(&q);
    if (!t->n_rows)
        rp_tf_heads_free(t);
    return 0;
}

void rp_tf_heads_free(rp_tf_heads_t *t)
{
    free(t->v);
    memset(t, 0, sizeof *t);
}

double rp_tf_output_change(rp_model_t *m, const rp_run_t *r)
{
    double v;
    if (!rp_usable(r) || one_real(m, "SELECT output_change FROM runs WHERE id = ?1",
                                  "output_change", r->id, &v) != 0)
        return NAN;
    return v;
}

double rp_tf_top(rp_model_t *m, const rp_run_t *r, const char *column)
{
    char sql[256];
    double v;
    snprintf(sql, sizeof sql, "SELECT %s AS v FROM block_stats WHERE run_id = ?1 AND step = 0 AND "
             "sublayer = 'block' AND layer = %ld", column, r->sc->cell.depth);
    if (!rp_usable(r) || one_real(m, sql, "v", r->id, &v) != 0)
        return NAN;
    return v;
}

int rp_tf_scheme_of(const rp_exp_t *e, const rp_run_t *r)
{
    int da = rp_axis_of(e, "depth");
    char want[256], lab[256], seen[RP_TF_MAX_SCHEMES][256];
    size_t n = 0;
    rp_label(e->ex, &r->sc->cell, da, want, sizeof want);
    for (size_t i = 0; i < e->n_runs; i++) {
        rp_label(e->ex, &e->runs[i].sc->cell, da, lab, sizeof lab);
        size_t k = 0;
        while (k < n && strcmp(seen[k], lab) != 0)
            k++;
        if (k == n) {
            if (n == RP_TF_MAX_SCHEMES)
                return -1;
            snprintf(seen[n++], sizeof seen[0], "%s", lab);
        }
        if (strcmp(lab, want) == 0)
            return (int)k;
    }
    return -1;
}

void rp_tf_table_free(rp_tf_table_t *t)
{
    free(t->scheme);
    free(t->depth_of);
    memset(t, 0, sizeof *t);
}

/* The index of depth d in t (added in order when new); -1 when full. */
static int depth_index(rp_tf_table_t *t, long d)
{
    size_t k = 0;
    while (k < t->n_depths && t->depth[k] < d)
        k++;
    if (k < t->n_depths && t->depth[k] == d)
        return (int)k;
    if (t->n_depths == RP_TF_MAX_DEPTHS)
        return -1;
    memmove(&t->depth[k + 1], &t->depth[k], (t->n_depths - k) * sizeof *t->depth);
    t->n_depths++;
    t->depth[k] = d;
    return (int)k;
}

int rp_tf_table(rp_model_t *m, const rp_exp_t *e, rp_tf_get_t get, rp_tf_table_t *t)
{
    memset(t, 0, sizeof *t);
    double *v = malloc((e->n_runs + 1) * sizeof *v);
    t->scheme = malloc((e->n_runs + 1) * sizeof *t->scheme);
    t->depth_of = malloc((e->n_runs + 1) * sizeof *t->depth_of);
    if (!v || !t->scheme || !t->depth_of) {
        free(v);
        rp_tf_table_free(t);
        return -1;
    }
    /* the depths first (sorted), then each run's place */
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        v[i] = rp_tf_run(m, r) ? get(m, r) : NAN;
        if (isfinite(v[i]))
            depth_index(t, r->sc->cell.depth);
    }
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        int s = isfinite(v[i]) ? rp_tf_scheme_of(e, r) : -1;
        int d = s >= 0 ? depth_index(t, r->sc->cell.depth) : -1;
        t->scheme[i] = d >= 0 ? s : -1;
        t->depth_of[i] = d >= 0 ? d : -1;
        if (t->scheme[i] < 0)
            continue;
        if ((size_t)s >= t->n_schemes) {
            for (size_t k = t->n_schemes; k <= (size_t)s; k++)
                t->scheme_label[k][0] = '\0';
            t->n_schemes = (size_t)s + 1;
        }
        rp_label(e->ex, &r->sc->cell, rp_axis_of(e, "depth"), t->scheme_label[s],
                 sizeof t->scheme_label[s]);
    }
    double *w = malloc((e->n_runs + 1) * sizeof *w);
    if (!w) {
        free(v);
        rp_tf_table_free(t);
        return -1;
    }
    for (size_t s = 0; s < t->n_schemes; s++)
        for (size_t d = 0; d < t->n_depths; d++) {
            size_t c = 0;
            for (size_t i = 0; i < e->n_runs; i++)
                if (t->scheme[i] == (int)s && t->depth_of[i] == (int)d)
                    w[c++] = v[i];
            t->n[s][d] = c;
            t->med[s][d] = rp_quantiles(w, c, &t->lo[s][d], &t->hi[s][d]);
        }
    free(w);
    free(v);
    return 0;
}
