/* Lines over an experiment's runs: one per configuration (the median
 * over its repeats with their 10-90% band), loaded before drawing
 * because the axes need their ranges; their legend keys; medians of a
 * run value over a configuration's repeats. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "report/charts.h"

void rp_lineset_free(rp_lineset_t *ls)
{
    for (size_t i = 0; ls->lines && i < ls->n_runs; i++) {
        rp_series_free(&ls->lines[i]);
        free(ls->lo ? ls->lo[i] : NULL);
        free(ls->hi ? ls->hi[i] : NULL);
    }
    free(ls->lines);
    free(ls->lo);
    free(ls->hi);
    free(ls->drawn);
    free(ls->used);
    rp_values_free(&ls->y);
    memset(ls, 0, sizeof *ls);
}

/* Runs i0 .. i0+n-1 (the repeats of one configuration): the median and
 * the 10-90% band at each x of the longest of their lines, over the
 * repeats that have a finite value there (a diverged repeat stops early).
 * -1 when memory is short. */
static int lineset_merge(rp_lineset_t *ls, size_t i0, size_t n)
{
    size_t g = i0;
    for (size_t k = i0; k < i0 + n; k++)
        if (ls->lines[k].n > ls->lines[g].n)
            g = k;
    size_t len = ls->lines[g].n;
    if (len == 0)
        return 0;
    double *x = malloc(len * sizeof *x), *y = malloc(len * sizeof *y);
    double *lo = malloc(len * sizeof *lo), *hi = malloc(len * sizeof *hi);
    double *v = malloc(n * sizeof *v);
    if (!x || !y || !lo || !hi || !v) {
        free(x), free(y), free(lo), free(hi), free(v);
        return -1;
    }
    for (size_t j = 0; j < len; j++) {
        x[j] = ls->lines[g].x[j];
        size_t c = 0;
        for (size_t k = i0; k < i0 + n; k++) {
            const rp_series_t *l = &ls->lines[k];
            if (l->n > j && l->x[j] == x[j] && isfinite(l->y[j]))
                v[c++] = l->y[j];
        }
        y[j] = rp_quantiles(v, c, &lo[j], &hi[j]);
    }
    free(v);
    for (size_t k = i0; k < i0 + n; k++)
        rp_series_free(&ls->lines[k]);
    ls->lines[i0] = (rp_series_t){x, y, len};
    ls->lo[i0] = lo;
    ls->hi[i0] = hi;
    ls->bands = 1;
    return 0;
}

/* 0 when at least one configuration has a line; -1 when none has (or
 * memory is short). max_runs bounds the runs read. */
int rp_lineset_load(rp_lineset_t *ls, rp_model_t *m, const rp_exp_t *e, size_t max_runs,
                        rp_loader_t load, const char *column)
{
    memset(ls, 0, sizeof *ls);
    ls->e = e;
    ls->n_runs = e->n_runs < max_runs ? e->n_runs : max_runs;
    ls->lines = calloc(ls->n_runs + 1, sizeof *ls->lines);
    ls->lo = calloc(ls->n_runs + 1, sizeof *ls->lo);
    ls->hi = calloc(ls->n_runs + 1, sizeof *ls->hi);
    ls->drawn = calloc(ls->n_runs + 1, sizeof *ls->drawn);
    ls->used = calloc(ls->n_runs + 1, sizeof *ls->used);
    ls->x = (rp_range_t){INFINITY, -INFINITY};
    if (!ls->lines || !ls->lo || !ls->hi || !ls->drawn || !ls->used)
        goto fail;
    for (size_t i = 0; i < ls->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        rp_series_t *l = &ls->lines[i];
        if (rp_usable(r) && load(m, r, column, l) == 0 && l->n > 0)
            ls->used[ls->n_used++] = r;
    }
    /* repeats of a configuration are consecutive runs with one combo */
    for (size_t i = 0, j; i < ls->n_runs; i = j) {
        for (j = i + 1; j < ls->n_runs && e->runs[j].sc->combo == e->runs[i].sc->combo; j++)
            ;
        if (j - i > 1 && lineset_merge(ls, i, j - i) != 0)
            goto fail;
        const rp_series_t *l = &ls->lines[i];
        if (l->n == 0)
            continue;
        rp_range_add(&ls->x, l->x, l->n, 0);
        if (rp_values_add(&ls->y, l->y, l->n) != 0 ||
            (ls->lo[i] && (rp_values_add(&ls->y, ls->lo[i], l->n) != 0 ||
                           rp_values_add(&ls->y, ls->hi[i], l->n) != 0)))
            goto fail;
        ls->drawn[ls->n_drawn++] = &e->runs[i];
    }
    if (ls->n_drawn > 0)
        return 0;
fail:
    rp_lineset_free(ls);
    return -1;
}

/* The median of get(run) over the usable repeats of the configuration
 * whose runs start at i (repeats follow, one combo), NaN when none is
 * finite; lo and hi (may be NULL) get the 10% and 90% quantiles, n the
 * count. */
#define MAX_REPEATS_READ 256
double rp_combo_median(const rp_exp_t *e, size_t i, double (*get)(const rp_run_t *),
                           double *lo, double *hi, size_t *n)
{
    double v[MAX_REPEATS_READ], l, h;
    size_t c = 0;
    for (size_t j = i; j < e->n_runs && e->runs[j].sc->combo == e->runs[i].sc->combo; j++)
        if (rp_usable(&e->runs[j]) && isfinite(get(&e->runs[j])) && c < MAX_REPEATS_READ)
            v[c++] = get(&e->runs[j]);
    double med = rp_quantiles(v, c, &l, &h);
    if (lo)
        *lo = l;
    if (hi)
        *hi = h;
    if (n)
        *n = c;
    return med;
}

/* Run i's line, named for its configuration, with its band when it
 * stands for repeats. */
void rp_lineset_draw(gs_chart_t *c, const rp_lineset_t *ls, size_t i, int series, int style)
{
    const rp_series_t *l = &ls->lines[i];
    if (!l->n)
        return;
    gs_chart_series(c, ls->e->runs[i].config_label);
    if (ls->lo[i])
        gs_chart_line_band(c, l->x, l->y, ls->lo[i], ls->hi[i], l->n, series, style);
    else
        gs_chart_line(c, l->x, l->y, l->n, series, style);
}

/* Legend keys for what a line chart's styles mean: solid and dashed
 * (the values of axis da), the band over repeats, the theory line. */
void rp_line_keys(gs_chart_t *c, const rp_exp_t *e, int da, int band, int theory)
{
    char s[256];
    if (da >= 0) {
        const gs_axis_t *ax = &e->ex->axes[da];
        snprintf(s, sizeof s, "solid: %s %s", ax->key, ax->values[0]);
        gs_chart_legend_key(c, s, GS_SERIES_GREY, GS_SOLID);
        size_t l = (size_t)snprintf(s, sizeof s, "dashed: %s", ax->key);
        for (size_t v = 1; v < ax->n_values && v <= 3 && l < sizeof s; v++)
            l += (size_t)snprintf(s + l, sizeof s - l, "%s %s", v > 1 ? "," : "", ax->values[v]);
        if (ax->n_values > 4 && l < sizeof s)
            snprintf(s + l, sizeof s - l, ", ...");
        gs_chart_legend_key(c, s, GS_SERIES_GREY, GS_DASHED);
    }
    if (band) {
        snprintf(s, sizeof s, "band: 10-90%% of %ld repeats",
                 rp_first_usable(e) ? rp_first_usable(e)->sc->cell.repeats : 0L);
        gs_chart_legend_key(c, s, GS_SERIES_GREY, GS_KEY_BAND);
    }
    if (theory)
        gs_chart_legend_key(c, "dotted: mean-field theory", GS_SERIES_GREY, GS_THEORY);
}
