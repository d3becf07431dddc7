/* What every chart module shares: publishing a chart (its PNG with
 * provenance, listed with its caption), naming and starting one, axis
 * ranges, quantiles, legends and the caption's note on what a chart does
 * not tell apart. Nothing here knows a kind of chart. */
#include <config.h>

#include <assert.h>
#include <math.h>
#include <plplot.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "report/charts.h"
#include "util/hash.h"

void rp_charts_free(rp_charts_t *c)
{
    free(c->items);
    c->items = NULL;
    c->n = 0;
}

static rp_chart_t *add_chart(rp_charts_t *out, const char *file, const char *title,
                             const char *caption)
{
    rp_chart_t *it = realloc(out->items, (out->n + 1) * sizeof *it);
    if (!it)
        return NULL;
    out->items = it;
    rp_chart_t *c = &it[out->n++];
    memset(c, 0, sizeof *c);   /* whole: draw.c's workers write the struct to a pipe */
    snprintf(c->file, sizeof c->file, "%s", file);
    snprintf(c->title, sizeof c->title, "%s", title);
    snprintf(c->caption, sizeof c->caption, "%s", caption);
    return c;
}

/* Finish a chart: PNG with its provenance in tEXt chunks. The config hash
 * of the data is a hash of the config_hash of every run drawn. */
static int finish(gs_chart_t *c, rp_model_t *m, const char *dir, const char *file,
                  const char *title, const rp_run_t *const *runs, size_t n_runs, char *err,
                  size_t errlen)
{
    uint64_t h = GS_FNV_OFFSET;
    for (size_t i = 0; i < n_runs; i++)
        h = gs_fnv1a(h, runs[i]->sc->hash_hex, strlen(runs[i]->sc->hash_hex));
    char software[128], source[4600], hash[32], path[4400];
    snprintf(software, sizeof software, "gradsweep %s (PLplot %s, libpng %s)", PACKAGE_VERSION,
             PLPLOT_VERSION, PNG_LIBPNG_VER_STRING);
    snprintf(source, sizeof source, "sweep %s, database %s", m->sw.name, m->db_path);
    snprintf(hash, sizeof hash, "%016llx (%zu runs)", (unsigned long long)h, n_runs);
    gs_png_text_t text[] = {
        {"Title", title}, {"Software", software}, {"Source", source},
        {"Config hash", hash}, {"Creation Time", m->when},
    };
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return gs_chart_end(c, path, text, sizeof text / sizeof text[0], err, errlen);
}

/* finish() and, when the chart is written, list it with its caption. */
int rp_chart_publish(gs_chart_t *c, rp_model_t *m, const char *dir, const char *file,
                   const char *title, const rp_run_t *const *runs, size_t n_runs,
                   const char *caption, rp_charts_t *out, char *err, size_t errlen)
{
    /* what the axes leave out is said where the reader looks first */
    char cap[sizeof out->items->caption];
    size_t off = gs_chart_off_chart(c);
    snprintf(cap, sizeof cap, "%s", caption);
    if (off) {
        size_t l = strlen(cap);
        snprintf(cap + l, sizeof cap - l,
                 " %zu value%s %s beyond the axis range (too small or large to show "
                 "without flattening the rest, or exactly 0 on a log scale): a triangle at "
                 "the edge marks where a line leaves the axis, or stands for the point; the "
                 "CSV has every value.",
                 off, off == 1 ? "" : "s", off == 1 ? "lies" : "lie");
    }
    int rc = finish(c, m, dir, file, title, runs, n_runs, err, errlen);
    if (rc == 0)
        add_chart(out, file, title, cap);
    return rc;
}

gs_chart_t *rp_chart_start(const rp_exp_t *e, const char *kind, const char *what,
                           rp_chart_name_t *name)
{
    snprintf(name->title, sizeof name->title, "%s: %s", e->ex->name, what);
    snprintf(name->file, sizeof name->file, "charts/%s-%s.png", e->ex->slug, kind);
    return gs_chart_begin(GS_CHART_W, GS_CHART_H, name->title);
}

void rp_axis_legend(gs_chart_t *c, const gs_axis_t *ax, size_t max)
{
    int series[RP_MAX_LINES];
    size_t n = ax->n_values < max ? ax->n_values : max;
    assert(n <= RP_MAX_LINES);
    for (size_t v = 0; v < n; v++)
        series[v] = (int)v;
    gs_chart_legend(c, n, (const char *const *)ax->values, series, NULL, ax->key);
}

const rp_run_t *rp_first_usable(const rp_exp_t *e)
{
    for (size_t i = 0; i < e->n_runs; i++)
        if (rp_usable(&e->runs[i]))
            return &e->runs[i];
    return NULL;
}

/* The first usable run of e when e varies key (*a: its axis), else NULL. */
const rp_run_t *rp_varying(const rp_exp_t *e, const char *key, int *a)
{
    *a = rp_axis_of(e, key);
    return *a >= 0 ? rp_first_usable(e) : NULL;
}

void rp_range_add(rp_range_t *r, const double *v, size_t n, int positive)
{
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]) && (!positive || v[i] > 0)) {
            r->lo = fmin(r->lo, v[i]);
            r->hi = fmax(r->hi, v[i]);
        }
}

void rp_log_pad(rp_range_t *r)
{
    if (!(r->lo <= r->hi)) {
        r->lo = 0.1;
        r->hi = 10;
        return;
    }
    double a = floor(log10(r->lo)), b = ceil(log10(r->hi));
    if (b - a < 1)
        b = a + 1;
    r->lo = pow(10, a);
    r->hi = pow(10, b);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of n sorted values, interpolated linearly. */
static double quantile(const double *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t k = (size_t)pos;
    return k + 1 < n ? v[k] + (pos - (double)k) * (v[k + 1] - v[k]) : v[n - 1];
}

double rp_quantiles(double *v, size_t n, double *lo, double *hi)
{
    qsort(v, n, sizeof *v, cmp_dbl);
    *lo = n ? quantile(v, n, 0.1) : NAN;
    *hi = n ? quantile(v, n, 0.9) : NAN;
    return n ? quantile(v, n, 0.5) : NAN;
}

/* The range a log axis shows for the positive values v[0..n): whole
 * decades around the bulk of them, the trim..1-trim quantiles of
 * log10 v, reaching past them by twice their spread (at least
 * PAD_DECADES) but never beyond the data. With trim 0.25, one dead run
 * of several (an update ratio falling to 1e-130) does not flatten the
 * others; its values are drawn at the edge (chart.h). With trim 0 the
 * axis holds everything (a gradient vanishing through depth is the
 * message, not an outlier). 0.1..10 when there are none. */
#define PAD_DECADES 2.0
rp_range_t rp_log_range(const double *v, size_t n, double trim)
{
    double *l = malloc((n + 1) * sizeof *l);
    size_t m = 0;
    for (size_t i = 0; l && i < n; i++)
        if (v[i] > 0 && isfinite(v[i]))
            l[m++] = log10(v[i]);
    rp_range_t r = {INFINITY, -INFINITY};
    if (m > 0) {
        qsort(l, m, sizeof *l, cmp_dbl);
        double qa = quantile(l, m, trim), qb = quantile(l, m, 1 - trim);
        double pad = trim > 0 ? fmax(PAD_DECADES, 2 * (qb - qa)) : 0;
        r.lo = pow(10, fmax(l[0], qa - pad));
        r.hi = pow(10, fmin(l[m - 1], qb + pad));
    } else if (!l) {   /* out of memory: the whole range */
        rp_range_add(&r, v, n, 1);
    }
    free(l);
    rp_log_pad(&r);
    return r;
}

int rp_values_add(rp_values_t *s, const double *v, size_t n)
{
    if (s->n + n > s->cap) {
        size_t cap = (s->cap + n) * 2;
        double *t = realloc(s->v, cap * sizeof *t);
        if (!t)
            return -1;
        s->v = t;
        s->cap = cap;
    }
    if (n)
        memcpy(s->v + s->n, v, n * sizeof *v);
    s->n += n;
    return 0;
}

void rp_values_free(rp_values_t *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* A caption's sentence naming what a chart does not tell apart: the axes
 * of e that are not among the n shown, except dash (drawn dashed for its
 * values after the first, named so), e.g. " Dashed: width 512. Not told
 * apart here: lr (0.01, 0.1)." Empty when every axis is shown. */
void rp_unshown_note(const rp_exp_t *e, const int *shown, size_t n, int dash, char *buf,
                     size_t len)
{
    size_t l = 0;
    buf[0] = '\0';
    if (dash >= 0) {
        const gs_axis_t *ax = &e->ex->axes[dash];
        l += (size_t)snprintf(buf, len, " Dashed: %s", ax->key);
        for (size_t v = 1; v < ax->n_values && l < len; v++)
            l += (size_t)snprintf(buf + l, len - l, "%s %s", v > 1 ? "," : "", ax->values[v]);
        if (l < len)
            l += (size_t)snprintf(buf + l, len - l, " (solid: %s).", ax->values[0]);
    }
    int any = 0;
    for (size_t a = 0; a < e->ex->n_axes && l < len; a++) {
        int used = (int)a == dash;
        for (size_t k = 0; k < n; k++)
            used |= shown[k] == (int)a;
        if (used)
            continue;
        const gs_axis_t *ax = &e->ex->axes[a];
        l += (size_t)snprintf(buf + l, len - l, "%s%s (", any ? "; " : " Not told apart here: ",
                              ax->key);
        for (size_t v = 0; v < ax->n_values && l < len; v++)
            l += (size_t)snprintf(buf + l, len - l, "%s%s", v ? ", " : "", ax->values[v]);
        if (l < len)
            l += (size_t)snprintf(buf + l, len - l, ")");
        any = 1;
    }
    if (any && l < len)
        snprintf(buf + l, len - l, ": their lines share a colour.");
}

int rp_longest(const char *const *labels, size_t n, const char *title)
{
    size_t m = title ? strlen(title) : 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] && strlen(labels[i]) > m)
            m = strlen(labels[i]);
    return (int)m + 1;
}

void rp_grid_for(int n, int *nx, int *ny)
{
    *nx = n <= 3 ? n : (n == 4 ? 2 : 3);
    *ny = (n + *nx - 1) / *nx;
}

/* The colour of a diagnosis (at initialization) on bars and markers. */
int rp_diag_series(int diagnosis)
{
    static const int series[GS_N_DIAG] = {
        [GS_DIAG_HEALTHY] = 2, [GS_DIAG_VANISHING] = 0, [GS_DIAG_EXPLODING] = 3,
        [GS_DIAG_DIVERGED] = GS_SERIES_GREY, [GS_DIAG_DEAD] = 6,
        [GS_DIAG_COLLAPSED] = 5};
    return diagnosis >= 0 && diagnosis < GS_N_DIAG ? series[diagnosis] : GS_SERIES_GREY;
}
