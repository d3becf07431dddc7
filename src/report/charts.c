/* Which charts an experiment's data supports, and drawing them. Every
 * chart is decided from what the experiment varies and what the database
 * holds; a chart without data is left out. */
#include <config.h>

#include <assert.h>
#include <math.h>
#include <plplot.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/activation.h"
#include "report/chart.h"
#include "report/model.h"
#include "util/clock.h"
#include "util/hash.h"

#define MAX_FACETS 6
#define MAX_LINES 64

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
    int series[MAX_LINES];
    size_t n = ax->n_values < max ? ax->n_values : max;
    assert(n <= MAX_LINES);
    for (size_t v = 0; v < n; v++)
        series[v] = (int)v;
    gs_chart_legend(c, n, (const char *const *)ax->values, series, NULL, ax->key);
}

/* ---- helpers over an experiment's axes ---- */

#define axis_of rp_axis_of
#define value_index rp_value_index
#define usable rp_usable

static const rp_run_t *first_usable(const rp_exp_t *e)
{
    for (size_t i = 0; i < e->n_runs; i++)
        if (usable(&e->runs[i]))
            return &e->runs[i];
    return NULL;
}

/* The first usable run of e when e varies key (*a: its axis), else NULL. */
static const rp_run_t *varying(const rp_exp_t *e, const char *key, int *a)
{
    *a = axis_of(e, key);
    return *a >= 0 ? first_usable(e) : NULL;
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

/* One series per configuration of an experiment, loaded before drawing
 * because the axes need their ranges. A configuration run once is its
 * run's line; one with repeats is the median over its repeats at each x,
 * with the 10-90% band around it, on the slot of its first run (its
 * other runs' slots stay empty), so charts draw one line per
 * configuration whatever `repeats` is. */
typedef struct {
    const rp_exp_t *e;
    rp_series_t *lines;       /* per run (n = 0: no line) */
    double **lo, **hi;        /* per run: band edges at lines[i].x (NULL: no band) */
    const rp_run_t **drawn;   /* the runs with a line, in order: one per configuration */
    const rp_run_t **used;    /* every run whose data is drawn (the chart's provenance) */
    size_t n_runs, n_drawn, n_used;
    rp_range_t x;             /* of the finite values */
    rp_values_t y;            /* every y drawn (lines and bands), for the axis's range */
    int bands;                /* a configuration has repeats: bands drawn */
} lineset_t;

typedef int (*loader_t)(rp_model_t *, const rp_run_t *, const char *, rp_series_t *);

static void lineset_free(lineset_t *ls)
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
static int lineset_merge(lineset_t *ls, size_t i0, size_t n)
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
static int lineset_load(lineset_t *ls, rp_model_t *m, const rp_exp_t *e, size_t max_runs,
                        loader_t load, const char *column)
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
    lineset_free(ls);
    return -1;
}

/* The first axis of e that is not one of the n shown (-1 entries are
 * ignored), or -1. */
static int first_unshown(const rp_exp_t *e, const int *shown, size_t n)
{
    for (size_t a = 0; a < e->ex->n_axes; a++) {
        int used = 0;
        for (size_t k = 0; k < n; k++)
            used |= shown[k] == (int)a;
        if (!used)
            return (int)a;
    }
    return -1;
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

/* The median of get(run) over the usable repeats of the configuration
 * whose runs start at i (repeats follow, one combo), NaN when none is
 * finite; lo and hi (may be NULL) get the 10% and 90% quantiles, n the
 * count. */
#define MAX_REPEATS_READ 256
static double combo_median(const rp_exp_t *e, size_t i, double (*get)(const rp_run_t *),
                           double *lo, double *hi, size_t *n)
{
    double v[MAX_REPEATS_READ], l, h;
    size_t c = 0;
    for (size_t j = i; j < e->n_runs && e->runs[j].sc->combo == e->runs[i].sc->combo; j++)
        if (usable(&e->runs[j]) && isfinite(get(&e->runs[j])) && c < MAX_REPEATS_READ)
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

/* log10 of the backpropagated gradient's ratio ||dL/dh_1|| / ||dL/dh_depth||
 * at initialization, the verdict's measure (NaN for a dead run). */
static double get_log_h_ratio(const rp_run_t *r)
{
    return r->grad_h_ratio > 0 ? log10(r->grad_h_ratio) : NAN;
}

/* Whether every usable repeat of the configuration starting at run i is
 * dead (a layer's gradient exactly zero: no ratio). */
static int combo_dead(const rp_exp_t *e, size_t i)
{
    size_t n = 0, dead = 0;
    for (size_t j = i; j < e->n_runs && e->runs[j].sc->combo == e->runs[i].sc->combo; j++)
        if (usable(&e->runs[j])) {
            n++;
            dead += strcmp(e->runs[j].diagnosis, "dead") == 0;
        }
    return n > 0 && dead == n;
}

/* Run i's line, named for its configuration, with its band when it
 * stands for repeats. */
static void lineset_draw(gs_chart_t *c, const lineset_t *ls, size_t i, int series, int style)
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
static void line_keys(gs_chart_t *c, const rp_exp_t *e, int da, int band, int theory)
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
                 first_usable(e) ? first_usable(e)->sc->cell.repeats : 0L);
        gs_chart_legend_key(c, s, GS_SERIES_GREY, GS_KEY_BAND);
    }
    if (theory)
        gs_chart_legend_key(c, "dotted: mean-field theory", GS_SERIES_GREY, GS_THEORY);
}

int rp_longest(const char *const *labels, size_t n, const char *title)
{
    size_t m = title ? strlen(title) : 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] && strlen(labels[i]) > m)
            m = strlen(labels[i]);
    return (int)m + 1;
}

/* Keys that shape a network at initialization; the others (optimizer,
 * lr, clip, ...) only matter once it trains. */
static int shapes_init(const char *key)
{
    return (gs_cell_key_flags(key) & GS_KEYF_SHAPES_INIT) != 0;
}

static size_t init_axes(const rp_exp_t *e)
{
    size_t n = 0;
    for (size_t a = 0; a < e->ex->n_axes; a++)
        n += shapes_init(e->ex->axes[a].key);
    return n;
}

void rp_grid_for(int n, int *nx, int *ny)
{
    *nx = n <= 3 ? n : (n == 4 ? 2 : 3);
    *ny = (n + *nx - 1) / *nx;
}

/* ---- 1. the activation gallery ---- */

int rp_chart_gallery(rp_model_t *m, const char *dir, rp_charts_t *out, char *err, size_t errlen)
{
    const char *title = "Activation functions f (solid) and their derivatives f' (dashed)";
    gs_chart_t *c = gs_chart_begin(GS_CHART_W, GS_CHART_H, title);
    if (!c)
        return 0;
    gs_chart_grid(c, 5, 2, 8);
    enum { N = 161 };
    double x[N], f[N], d[N];
    for (size_t k = 0; k < gs_n_activations && k < 10; k++) {
        const gs_activation_t *a = &gs_activations[k];
        double lo = 1e9, hi = -1e9;
        for (int i = 0; i < N; i++) {
            x[i] = -4.0 + 8.0 * i / (N - 1);
            f[i] = a->f(x[i], a->default_param);
            d[i] = a->df(x[i], a->default_param);
            lo = fmin(lo, fmin(f[i], d[i]));
            hi = fmax(hi, fmax(f[i], d[i]));
        }
        char name[64];
        if (a->has_param)
            snprintf(name, sizeof name, "%s(%g)", a->name, a->default_param);
        else
            snprintf(name, sizeof name, "%s", a->name);
        double pad = 0.08 * (hi - lo);
        gs_chart_axes(c, (int)k, -4, 4, lo - pad, hi + pad, 0, 0, "x", NULL, name);
        gs_chart_series(c, "f(x)");
        gs_chart_line(c, x, f, N, 0, GS_SOLID);
        gs_chart_series(c, "f'(x)");
        gs_chart_line(c, x, d, N, 1, GS_DASHED);
    }
    static const char *const labels[] = {"f(x)", "f'(x)"};
    static const int series[] = {0, 1}, dashed[] = {0, 1};
    gs_chart_legend(c, 2, labels, series, dashed, "");
    return rp_chart_publish(c, m, dir, "charts/activations.png", title, NULL, 0,
              "Where f' is near 0 a unit passes almost no gradient back: sigmoid's f' never "
              "exceeds 1/4 and vanishes in both tails, tanh's in both tails; ReLU passes 1 or 0 "
              "(dead units); leaky ReLU, ELU, SELU, GELU and SiLU keep some slope for negative "
              "inputs.", out, err, errlen);
}

/* ---- 2 and 8. gradient flow through depth ---- */

/* An axis of e by key for panels: when it varies with at most
 * MAX_FACETS values, else -1. */
static int facet_axis(const rp_exp_t *e, const char *key)
{
    int a = axis_of(e, key);
    return a >= 0 && e->ex->axes[a].n_values <= MAX_FACETS ? a : -1;
}

/* The flow chart's axes: panels (fa: residual, else activation, else
 * init, when few enough values), colours (ca: init, else activation,
 * else the first axis other than the panels' and depth, else depth).
 * Ten activations are colours, not dashes: the palette and its markers
 * keep them apart, panels would not fit. */
static void flow_axes(const rp_exp_t *e, int *fa, int *ca)
{
    static const char *const panels[] = {"residual", "activation", "init"};
    static const char *const colours[] = {"init", "activation"};
    *fa = *ca = -1;
    for (size_t k = 0; *fa < 0 && k < sizeof panels / sizeof panels[0]; k++)
        *fa = facet_axis(e, panels[k]);
    for (size_t k = 0; *ca < 0 && k < sizeof colours / sizeof colours[0]; k++)
        if ((*ca = axis_of(e, colours[k])) == *fa)
            *ca = -1;
    for (size_t a = 0; *ca < 0 && a < e->ex->n_axes; a++)
        if ((int)a != *fa && strcmp(e->ex->axes[a].key, "depth") != 0)
            *ca = (int)a;
    if (*ca < 0)
        *ca = axis_of(e, "depth");
}

/* The mean-field prediction over run r's measured line l, dotted in the
 * series' colour; 1 when drawn (theory applies: rp_flow_theory). */
static int flow_theory(gs_chart_t *c, const rp_run_t *r, const rp_series_t *l, int series)
{
    double *y = malloc((l->n + 1) * sizeof *y);
    int drawn = y && rp_flow_theory(r, l, y) == 0;
    if (drawn) {
        char s[320];
        snprintf(s, sizeof s, "theory: %s", r->config_label);
        gs_chart_series(c, s);
        gs_chart_line(c, l->x, y, l->n, series, GS_THEORY);
    }
    free(y);
    return drawn;
}

/* The legend column's width for the flow chart: the colour axis's values
 * and the keys line_keys may add. */
static int flow_legend_chars(const rp_exp_t *e, int ca, int da)
{
    const gs_axis_t *ax = ca >= 0 ? &e->ex->axes[ca] : NULL;
    int n = ax ? rp_longest((const char *const *)ax->values, ax->n_values, ax->key) : 0;
    if (da >= 0) {
        const gs_axis_t *d = &e->ex->axes[da];
        size_t l = strlen("dashed: , ...") + strlen(d->key);
        for (size_t v = 1; v < d->n_values && v <= 3; v++)
            l += 2 + strlen(d->values[v]);
        n = n > (int)l ? n : (int)l;
    }
    return n > 26 ? n : 26;   /* "dotted: mean-field theory" */
}

/* Panel f of the flow chart: the lines of the runs with the panel axis's
 * value f, coloured by ca and dashed by da, each with its mean-field
 * prediction (dotted) where the theory applies; *theory counts those. */
static void flow_panel(gs_chart_t *c, const rp_exp_t *e, const lineset_t *ls, int f,
                       const int axes[3], int nx, rp_range_t yr, int *theory)
{
    int fa = axes[0], ca = axes[1], da = axes[2];
    char ptitle[128] = "";
    if (fa >= 0) {
        const char *v = e->ex->axes[fa].values[f];
        if (strcmp(e->ex->axes[fa].key, "residual") == 0)
            snprintf(ptitle, sizeof ptitle, "%s", strcmp(v, "yes") == 0 ? "residual" : "plain");
        else
            snprintf(ptitle, sizeof ptitle, "%s", v);
    }
    double max_depth = ls->x.hi;
    gs_chart_axes(c, f, 1, max_depth < 2 ? 2 : max_depth, yr.lo, yr.hi, GS_AXIS_INT, GS_AXIS_LOG,
                  "layer l (1 = next to the input)", f % nx == 0 ? "||dL/dh_l||" : NULL, ptitle);
    double clip = 0;
    for (size_t i = 0; i < ls->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!ls->lines[i].n || (fa >= 0 && value_index(e, fa, r) != f))
            continue;
        lineset_draw(c, ls, i, value_index(e, ca, r), value_index(e, da, r) > 0);
        *theory += flow_theory(c, r, &ls->lines[i], value_index(e, ca, r));
        clip = fmax(clip, r->sc->cell.clip);
    }
    if (clip > 0)
        gs_chart_hline(c, clip, GS_SERIES_GREY, GS_DASHED, "clip threshold");
}

static int chart_flow(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    const rp_run_t *r0 = first_usable(e);
    /* a training experiment that varies only training keys starts every
     * run from the same network: nothing to compare at initialization */
    if (!r0 || r0->sc->cell.model != GS_MODEL_MLP ||
        (r0->sc->cell.task == GS_TASK_TRAIN && init_axes(e) == 0))
        return 0;
    int fa, ca;
    flow_axes(e, &fa, &ca);
    int nf = fa >= 0 ? (int)e->ex->axes[fa].n_values : 1;
    /* depth shows as the length of a line; a further axis as dashes */
    int shown[3] = {fa, ca, axis_of(e, "depth")};
    int da = first_unshown(e, shown, 3);
    char note[512];
    rp_unshown_note(e, shown, 3, da, note, sizeof note);
    lineset_t ls;
    if (lineset_load(&ls, m, e, e->n_runs, rp_layer_series, "grad_pre_norm") != 0)
        return 0;
    rp_range_t yr = rp_log_range(ls.y.v, ls.y.n, RP_ALL);
    int rc = 0, nx, ny, theory = 0;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "gradient-flow", "gradient flow at initialization, "
                                   "||dL/dh_l|| per layer", &nm);
    if (!c)
        goto done;
    rp_grid_for(nf, &nx, &ny);
    gs_chart_grid(c, nx, ny, flow_legend_chars(e, ca, da));
    const int axes[3] = {fa, ca, da};
    for (int f = 0; f < nf; f++)
        flow_panel(c, e, &ls, f, axes, nx, yr, &theory);
    if (ca >= 0)
        rp_axis_legend(c, &e->ex->axes[ca], MAX_LINES);
    line_keys(c, e, da, ls.bands, theory > 0);
    char cap[1400];
    snprintf(cap, sizeof cap,
             "One line per configuration: the gradient norm reaching each layer at "
             "initialization, on a log scale. Lines that fall toward layer 1 (left) vanish: "
             "the layers nearest the input get orders of magnitude less gradient than the "
             "last. Lines that rise toward layer 1 explode. Flat lines are healthy. Deeper "
             "networks give longer lines.%s%s%s",
             ls.bands ? " Where a configuration has repeats, its line is their median and the "
                        "shaded band their 10-90% range." : "",
             theory ? " The dotted line of the same colour is mean-field theory's prediction "
                      "(the length map iterated layer by layer, each layer multiplying the "
                      "gradient by the square root of its chi), anchored at the measured last "
                      "layer; it is drawn for networks without normalization or residual "
                      "connections, where the theory applies." : "",
             note);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, ls.used, ls.n_used, cap, out, err, errlen);
done:
    lineset_free(&ls);
    return rc;
}

/* ---- 3. the vanishing/exploding map ---- */

/* The map's row of run r: the axes other than col in order, the last
 * fastest; lab gets their values, " / "-joined. */
static size_t map_row(const rp_exp_t *e, int col, const rp_run_t *r, char *lab, size_t len)
{
    size_t row = 0;
    lab[0] = '\0';
    for (size_t a = 0; a < e->ex->n_axes; a++) {
        if ((int)a == col)
            continue;
        int vi = value_index(e, (int)a, r);
        row = row * e->ex->axes[a].n_values + (size_t)vi;
        size_t l = strlen(lab);
        snprintf(lab + l, len - l, "%s%s", l ? " / " : "", e->ex->axes[a].values[vi]);
    }
    return row;
}

/* The map's cells (rows x cols, NaN where nothing is finite): log10 of
 * the median grad_h_ratio over each configuration's repeats, or the note
 * "dead" when all of them are; every row's label; the first run of every
 * configuration drawn. Their count. */
static size_t map_fill(const rp_exp_t *e, int col, size_t rows, size_t cols, double *v,
                       const char **notes, char **labels, const rp_run_t **drawn)
{
    size_t n_drawn = 0;
    for (size_t i = 0; i < rows * cols; i++)
        v[i] = NAN;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (r->sc->cell.repeat != 0)
            continue;
        char lab[256];
        size_t row = map_row(e, col, r, lab, sizeof lab), cell;
        assert(row < rows);
        if (!labels[row])
            labels[row] = strdup(lab);
        cell = row * cols + (size_t)value_index(e, col, r);
        v[cell] = combo_median(e, i, get_log_h_ratio, NULL, NULL, NULL);   /* over repeats */
        notes[cell] = combo_dead(e, i) ? "dead" : NULL;
        if (isfinite(v[cell]) || notes[cell])
            drawn[n_drawn++] = r;
    }
    for (size_t i = 0; i < rows; i++)
        if (!labels[i])
            labels[i] = strdup("");
    return n_drawn;
}

static int chart_heatmap(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                         size_t errlen)
{
    if (e->ex->n_axes < 2 || init_axes(e) < 2)
        return 0;
    int col = axis_of(e, "depth");
    if (col < 0)
        col = axis_of(e, "seq_len");
    if (col < 0)
        col = 0;
    const gs_axis_t *cx = &e->ex->axes[col];
    size_t cols = cx->n_values, rows = 1;
    for (size_t a = 0; a < e->ex->n_axes; a++)
        if ((int)a != col)
            rows *= e->ex->axes[a].n_values;
    if (rows > 40 || cols > 20)
        return 0;
    double *v = malloc(rows * cols * sizeof *v);
    const char **notes = calloc(rows * cols, sizeof *notes);
    char **labels = calloc(rows, sizeof *labels);
    const rp_run_t **drawn = calloc(e->n_runs + 1, sizeof *drawn);
    int rc = 0;
    size_t n_drawn;
    if (!v || !notes || !labels || !drawn ||
        (n_drawn = map_fill(e, col, rows, cols, v, notes, labels, drawn)) == 0)
        goto done;
    /* the colours saturate at twice the diagnosis thresholds, so that
     * "vanishing" is clearly blue however deep the sweep goes */
    double L = 2.0 * fmax(fabs(log10(m->sw.vanishing_below)), fabs(log10(m->sw.exploding_above)));
    if (!(L > 0))
        L = 8;
    char rl[256] = "", cap[1400];
    for (size_t a = 0; a < e->ex->n_axes; a++)
        if ((int)a != col) {
            size_t l = strlen(rl);
            snprintf(rl + l, sizeof rl - l, "%s%s", l ? " / " : "", e->ex->axes[a].key);
        }
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "map", "log10 grad_h_ratio = ||dL/dh_1|| / ||dL/dh_depth|| "
                                   "at initialization", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 1, 1, 12);
    gs_chart_series(c, "log10 grad_h_ratio");
    gs_chart_heatmap(c, 0, rows, cols, v, notes, (const char *const *)labels,
                     (const char *const *)cx->values, -L, 0, L, "%.1f", cx->key, rl,
                     "log10 grad_h_ratio");
    snprintf(cap, sizeof cap,
             "Each cell is log10 of grad_h_ratio, the norm of the backpropagated gradient "
             "dL/dh at the first layer over that at the last (for recurrent models: at the "
             "first time step over the last), the median over repeats: the measure the "
             "diagnosis is decided by. 0 (white) is a perfectly balanced network; below %g "
             "(blue) the sweep calls it vanishing, above %g (orange) exploding; the colours "
             "saturate at twice those values, the numbers do not. A dark cell marked dead is "
             "a configuration where a layer's gradient is exactly zero (no ratio). The weight "
             "gradients' ratio grad_ratio is not drawn: activations that shrink or grow with "
             "the gradient cancel in it. Read along a row to see a configuration degrade "
             "with %s.",
             log10(m->sw.vanishing_below), log10(m->sw.exploding_above), cx->key);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, drawn, n_drawn, cap, out, err, errlen);
done:
    for (size_t i = 0; labels && i < rows; i++)
        free(labels[i]);
    free(labels);
    free(notes);
    free(v);
    free(drawn);
    return rc;
}

/* ---- 4 (and 10b). training loss against step ---- */

/* Where run r diverged: its step, and the last finite value of its
 * logged column before it (its own, not its configuration's median);
 * top when none was logged. */
static double diverged_at(rp_model_t *m, const rp_run_t *r, const char *column, double top)
{
    rp_series_t s = {0};
    double y = top;
    if (rp_log_series(m, r, column, &s) == 0)
        for (size_t j = 0; j < s.n && s.x[j] <= (double)r->diverged_step; j++)
            if (isfinite(s.y[j]) && s.y[j] > 0)
                y = s.y[j];
    rp_series_free(&s);
    return y;
}

/* A cross where each diverged run of e stopped on the lines of column,
 * in its line's colour (series[i] for run i's configuration); the count. */
static size_t mark_divergence(gs_chart_t *c, rp_model_t *m, const lineset_t *ls,
                              const int *series, const char *column, double top)
{
    const rp_exp_t *e = ls->e;
    size_t n = 0;
    for (size_t i = 0, first = 0; i < ls->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (i == 0 || r->sc->combo != e->runs[i - 1].sc->combo)
            first = i;   /* the configuration's slot: its line and colour */
        if (!rp_usable(r) || !r->diverged_step || !ls->lines[first].n)
            continue;
        char s[320];
        snprintf(s, sizeof s, "diverged: %s", r->label);
        gs_chart_series(c, s);
        gs_chart_marker(c, (double)r->diverged_step, diverged_at(m, r, column, top),
                        series[first], GS_MARK_CROSS | GS_MARK_CLAMP);
        n++;
    }
    return n;
}

static int chart_loss(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    const rp_run_t *r0 = first_usable(e);
    lineset_t ls;
    if (!r0 || r0->sc->cell.task != GS_TASK_TRAIN ||
        lineset_load(&ls, m, e, MAX_LINES, rp_log_series, "loss") != 0)
        return 0;
    const char **labels = calloc(ls.n_drawn + 1, sizeof *labels);
    char (*lab)[300] = calloc(ls.n_drawn + 1, sizeof *lab);
    int *series = calloc(ls.n_drawn + 1, sizeof *series), *of_run = calloc(ls.n_runs + 1, sizeof *of_run);
    int rc = 0;
    if (!labels || !lab || !series || !of_run)
        goto done;
    double baseline = NAN;
    size_t nd = 0;
    for (size_t i = 0; i < ls.n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!ls.lines[i].n)
            continue;
        if (isfinite(r->baseline_loss))
            baseline = r->baseline_loss;
        snprintf(lab[nd], sizeof lab[nd], "%s (%s%s)", r->config_label, r->diagnosis,
                 strcmp(r->status, "diverged") == 0 ? ", diverged" : "");
        labels[nd] = lab[nd];
        of_run[i] = (int)nd;   /* colours by configuration, in order */
        series[nd] = (int)nd;
        nd++;
    }
    if (isfinite(baseline))
        rp_values_add(&ls.y, &baseline, 1);
    rp_range_t yr = rp_log_range(ls.y.v, ls.y.n, RP_BULK);
    double max_step = ls.x.hi > 1 ? ls.x.hi : 1;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "loss", "training loss against step", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 1, 1, rp_longest(labels, nd, "band: 10-90% of 10 repeats"));
    gs_chart_axes(c, 0, 0, max_step, yr.lo, yr.hi, GS_AXIS_INT, GS_AXIS_LOG, "training step",
                  r0->sc->cell.dataset == GS_DATA_ADDING ? "batch loss (MSE)" : "batch loss (cross-entropy)",
                  NULL);
    for (size_t i = 0; i < ls.n_runs; i++)
        lineset_draw(c, &ls, i, of_run[i], GS_SOLID);
    size_t n_div = mark_divergence(c, m, &ls, of_run, "loss", yr.hi);
    if (isfinite(baseline))
        gs_chart_hline(c, baseline, GS_SERIES_GREY, GS_DASHED, "answering 1 always (MSE ~ 1/6)");
    gs_chart_legend(c, nd, labels, series, NULL, "");
    line_keys(c, e, -1, ls.bands, 0);
    if (n_div)
        gs_chart_legend_key(c, "diverged here (last finite loss)", GS_SERIES_GREY, GS_KEY_CROSS);
    char cap[1024];
    snprintf(cap, sizeof cap,
             "The loss of each logged training batch, on a log scale. A line that stays "
             "near its starting loss did not learn; one that ends in a cross went "
             "non-finite. Which runs did which, and their diagnoses at init, the findings "
             "above say from the same rows.%s%s%s",
             n_div ? " A cross in a line's colour marks where a run diverged: at the step a "
                     "non-finite loss or gradient ended it, at the last finite loss it logged "
                     "(on the edge when that is beyond the axis; the CSV has its value)." : "",
             ls.bands ? " Where a configuration has repeats, its line is their median and the "
                        "shaded band their 10-90% range." : "",
             isfinite(baseline) ? " The dashed line is the adding problem's baseline: a "
                                  "model that always answers 1." : "");
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, ls.used, ls.n_used, cap, out, err, errlen);
done:
    lineset_free(&ls);
    free(labels);
    free(lab);
    free(series);
    free(of_run);
    return rc;
}

/* ---- 5. weight histograms per init scheme ---- */

#define MAX_HISTS 8

/* A histogram's standard deviation from its bins. */
static double hist_std(const rp_series_t *h)
{
    double cnt = 0, mean = 0, var = 0;
    for (size_t b = 0; b < h->n; b++) {
        cnt += h->y[b];
        mean += h->y[b] * h->x[b];
    }
    mean /= cnt > 0 ? cnt : 1;
    for (size_t b = 0; b < h->n; b++)
        var += h->y[b] * (h->x[b] - mean) * (h->x[b] - mean);
    return sqrt(var / (cnt > 0 ? cnt : 1));
}

/* Panel k: run r's histogram h (bin width w) on the shared x range. */
static void hist_panel(gs_chart_t *c, int k, int nx, const rp_run_t *r, const rp_series_t *h,
                       double w, rp_range_t xr, int series)
{
    double top = 0;
    for (size_t b = 0; b < h->n; b++)
        top = fmax(top, h->y[b]);
    char pt[400];
    snprintf(pt, sizeof pt, "%s: std %.3g", r->label, hist_std(h));
    gs_chart_axes(c, k, xr.lo, xr.hi, 0, top * 1.1, 0, GS_AXIS_INT, "weight",
                  k % nx == 0 ? "count" : NULL, pt);
    gs_chart_series(c, r->label);
    for (size_t b = 0; b < h->n; b++)
        gs_chart_rect(c, h->x[b] - 0.45 * w, h->x[b] + 0.45 * w, 0, h->y[b], series);
}

static int chart_hist(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    int ia;
    if (!varying(e, "init", &ia))
        return 0;
    const gs_axis_t *ax = &e->ex->axes[ia];
    size_t nf = ax->n_values < MAX_HISTS ? ax->n_values : MAX_HISTS, nd = 0;
    const rp_run_t *pick[MAX_HISTS] = {0}, *drawn[MAX_HISTS];
    rp_series_t h[MAX_HISTS] = {{0}};
    double width[MAX_HISTS];
    int value[MAX_HISTS], rc = 0;
    rp_range_t xr = {INFINITY, -INFINITY};
    for (size_t i = 0; i < e->n_runs; i++) {   /* the first run of each init */
        const rp_run_t *r = &e->runs[i];
        int v = value_index(e, ia, r);
        if (usable(r) && (size_t)v < nf && !pick[v])
            pick[v] = r;
    }
    for (size_t f = 0; f < nf; f++) {   /* their histograms, on one x range */
        double lo, hi;
        const rp_run_t *r = pick[f];
        int layer = r && r->sc->cell.depth >= 2 ? 2 : 1;
        if (!r || rp_hist(m, r, layer, "weight", &h[nd], &lo, &hi) != 0 || h[nd].n == 0) {
            rp_series_free(&h[nd]);
            continue;
        }
        rp_range_add(&xr, (double[2]){lo, hi}, 2, 0);
        width[nd] = (hi - lo) / (double)h[nd].n;
        value[nd] = (int)f;
        drawn[nd++] = r;
    }
    rp_chart_name_t nm;
    gs_chart_t *c = nd ? rp_chart_start(e, "weights", "weight histograms at initialization, "
                                        "hidden layer 2", &nm) : NULL;
    if (!c)
        goto done;
    int nx = nd <= 4 ? (int)nd : 4, ny = (int)((nd + 3) / 4);
    gs_chart_grid(c, nx, ny, 0);
    for (size_t k = 0; k < nd; k++)
        hist_panel(c, (int)k, nx, drawn[k], &h[k], width[k], xr, value[k]);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, drawn, nd,
                  "The distribution of one hidden layer's weights as each scheme draws them, "
                  "every panel on the same weight scale (each titled with its run and the "
                  "weights' standard deviation). Xavier and LeCun scale the spread with "
                  "1/fan-in, He doubles LeCun's variance for ReLU, uniform variants have flat "
                  "tops, orthogonal matrices spread like Gaussians of variance gain^2/n; a fixed "
                  "normal(std) ignores the layer width altogether.",
                  out, err, errlen);
done:
    rp_series_free_all(h, nd);
    return rc;
}

/* ---- 6. clipping ---- */

/* Left panel: the pre-clip gradient norm of every run over training,
 * coloured by threshold (ca) and dashed by mode (ma), the thresholds, and
 * a cross where a run diverged; the count of those. */
static size_t clip_norms(gs_chart_t *c, rp_model_t *m, lineset_t *ls, int ca, int ma)
{
    const rp_exp_t *e = ls->e;
    const gs_axis_t *cx = &e->ex->axes[ca];
    double max_step = ls->x.hi > 1 ? ls->x.hi : 1;
    int *of_run = calloc(ls->n_runs + 1, sizeof *of_run);
    for (size_t i = 0; i < ls->n_drawn; i++)
        if (ls->drawn[i]->sc->cell.clip > 0)
            rp_values_add(&ls->y, &ls->drawn[i]->sc->cell.clip, 1);
    rp_range_t yr = rp_log_range(ls->y.v, ls->y.n, RP_BULK);
    gs_chart_axes(c, 0, 0, max_step, yr.lo, yr.hi, GS_AXIS_INT, GS_AXIS_LOG, "training step",
                  "gradient norm before clipping", "pre-clip ||g|| over training");
    for (size_t i = 0; i < ls->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (of_run)
            of_run[i] = value_index(e, ca, r);
        lineset_draw(c, ls, i, value_index(e, ca, r), value_index(e, ma, r) > 0);
    }
    for (size_t v = 0; v < cx->n_values; v++) {
        double t = strtod(cx->values[v], NULL);
        if (t > 0) {
            char l[64];
            snprintf(l, sizeof l, "clip %s", cx->values[v]);
            gs_chart_hline(c, t, GS_SERIES_GREY, GS_DASHED, l);
        }
    }
    size_t n_div = of_run ? mark_divergence(c, m, ls, of_run, "grad_norm", yr.hi) : 0;
    free(of_run);
    return n_div;
}

/* The median final training loss of the runs with threshold v (axis ca)
 * and mode md (axis ma); *div when any of them diverged. */
static double clip_final_loss(const rp_exp_t *e, int ca, int ma, size_t v, size_t md, int *div)
{
    double vals[64], lo, hi;
    size_t nv = 0;
    *div = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!usable(r) || value_index(e, ca, r) != (int)v || value_index(e, ma, r) != (int)md)
            continue;
        if (isfinite(r->train_loss) && nv < 64)
            vals[nv++] = r->train_loss;
        *div |= r->diverged_step || !isfinite(r->train_loss);
    }
    return rp_quantiles(vals, nv, &lo, &hi);
}

/* Right panel: the final training loss against the threshold, one line
 * per mode, a cross at the top where a run diverged (it has no final
 * loss); the count of those. */
static size_t clip_losses(gs_chart_t *c, const rp_exp_t *e, int ca, int ma)
{
    const gs_axis_t *cx = &e->ex->axes[ca];
    rp_range_t lr = {INFINITY, -INFINITY};
    size_t n_div = 0;
    for (size_t i = 0; i < e->n_runs; i++)
        if (usable(&e->runs[i]))
            rp_range_add(&lr, &e->runs[i].train_loss, 1, 1);
    rp_log_pad(&lr);
    gs_chart_axes(c, 1, -0.5, (double)cx->n_values - 0.5, lr.lo, lr.hi, 0, GS_AXIS_LOG, NULL,
                  "final training loss", "final loss against the clip threshold");
    gs_chart_xcategories(c, cx->n_values, (const char *const *)cx->values);
    size_t modes = ma >= 0 ? e->ex->axes[ma].n_values : 1;
    for (size_t md = 0; md < modes; md++) {
        double xs[32], ys[32];
        size_t k = 0;
        char s[128];
        snprintf(s, sizeof s, "final loss%s%s", ma >= 0 ? ", " : "", ma >= 0 ? e->ex->axes[ma].values[md] : "");
        for (size_t v = 0; v < cx->n_values && v < 32; v++, k++) {
            int div;
            xs[k] = (double)v;
            ys[k] = clip_final_loss(e, ca, ma, v, md, &div);
            if (div) {
                gs_chart_series(c, "diverged: no final loss");
                gs_chart_marker(c, (double)v, lr.hi / 2, 6, GS_MARK_CROSS);
                gs_chart_text(c, (double)v, lr.hi / 1.4, 0.5, 0.8, "diverged");
                n_div++;
            }
        }
        gs_chart_series(c, s);
        gs_chart_line(c, xs, ys, k, 6, md > 0 ? GS_DASHED : GS_SOLID);
        for (size_t j = 0; j < k; j++)
            gs_chart_marker(c, xs[j], ys[j], 6, GS_MARK_CIRCLE);
    }
    return n_div;
}

/* One entry per threshold and mode (no mode without clip), then the
 * final loss per mode. */
static void clip_legend(gs_chart_t *c, const rp_exp_t *e, int ca, int ma)
{
    const gs_axis_t *cx = &e->ex->axes[ca];
    size_t modes = ma >= 0 ? e->ex->axes[ma].n_values : 1;
    const char *labels[40];
    char buf[40][96];
    int series[40], dashed[40];
    size_t nl = 0;
    for (size_t v = 0; v < cx->n_values && nl < 30; v++)
        for (size_t md = 0; md < modes && nl < 30; md++) {
            if (md > 0 && strtod(cx->values[v], NULL) <= 0)
                continue;   /* no mode without clip: one cell (gs_cell_settle) */
            snprintf(buf[nl], sizeof buf[nl], "clip %s%s%s", cx->values[v], ma >= 0 ? ", " : "",
                     ma >= 0 ? e->ex->axes[ma].values[md] : "");
            labels[nl] = buf[nl];
            series[nl] = (int)v;
            dashed[nl] = md > 0;
            nl++;
        }
    for (size_t md = 0; md < modes && nl < 40; md++) {   /* the right panel's lines */
        snprintf(buf[nl], sizeof buf[nl], "final loss%s%s", ma >= 0 ? ", " : "",
                 ma >= 0 ? e->ex->axes[ma].values[md] : "");
        labels[nl] = buf[nl];
        series[nl] = 6;
        dashed[nl] = md > 0;
        nl++;
    }
    gs_chart_legend(c, nl, labels, series, dashed, "");
}

/* The legend's keys for the crosses, when there are any. */
static void clip_keys(gs_chart_t *c, size_t on_norms, size_t on_losses)
{
    if (on_norms)
        gs_chart_legend_key(c, "left: diverged here", GS_SERIES_GREY, GS_KEY_CROSS);
    if (on_losses)
        gs_chart_legend_key(c, "right: diverged, no final loss", GS_SERIES_GREY, GS_KEY_CROSS);
}

static int chart_clip(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    int ca;
    const rp_run_t *r0 = varying(e, "clip", &ca);
    if (!r0 || r0->sc->cell.task != GS_TASK_TRAIN)
        return 0;
    int ma = axis_of(e, "clip_mode");
    lineset_t ls;
    if (lineset_load(&ls, m, e, MAX_LINES, rp_log_series, "grad_norm") != 0)
        return 0;
    int rc = 0;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "clipping", "gradient clipping", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 2, 1, 31);
    size_t on_norms = clip_norms(c, m, &ls, ca, ma);
    size_t on_losses = clip_losses(c, e, ca, ma);
    clip_legend(c, e, ca, ma);
    line_keys(c, e, -1, ls.bands, 0);
    clip_keys(c, on_norms, on_losses);
    int shown[2] = {ca, ma};
    char note[512], cap[1400];
    rp_unshown_note(e, shown, 2, -1, note, sizeof note);
    snprintf(cap, sizeof cap, "%s%s%s%s",
             "Left: the global gradient norm before clipping at every logged step, with "
             "the thresholds as dashed lines - clipping rescales every step above its line. "
             "Right: the training loss each threshold ends with (the median over repeats). "
             "Clipping by norm keeps the direction of the gradient; clipping by value changes "
             "it. Without clipping there is no mode: that point is on the norm line.",
             on_norms ? " Crosses on the left mark where a run diverged (its step and last "
                        "finite norm); on the right, thresholds where a run diverged and so "
                        "has no final loss." : "",
             ls.bands ? " Shaded bands: the 10-90% range over repeats." : "",
             note);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, ls.used, ls.n_used, cap, out, err, errlen);
done:
    lineset_free(&ls);
    return rc;
}

/* ---- 7. normalization: activation spread per layer ---- */

static int chart_norm(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    int na;
    const rp_run_t *r0 = varying(e, "norm", &na);
    if (!r0 || r0->sc->cell.model != GS_MODEL_MLP)
        return 0;
    int fa = axis_of(e, "activation");
    if (fa >= 0 && e->ex->axes[fa].n_values > MAX_FACETS)
        fa = -1;
    int nf = fa >= 0 ? (int)e->ex->axes[fa].n_values : 1;
    /* a further axis (residual, say) as dashes, so its lines differ */
    int shown[3] = {fa, na, axis_of(e, "depth")};
    int da = first_unshown(e, shown, 3);
    char note[512];
    rp_unshown_note(e, shown, 3, da, note, sizeof note);
    lineset_t ls;
    if (lineset_load(&ls, m, e, e->n_runs, rp_layer_series, "act_std") != 0)
        return 0;
    int rc = 0;
    rp_range_t yr = rp_log_range(ls.y.v, ls.y.n, RP_ALL);
    double max_depth = ls.x.hi > 2 ? ls.x.hi : 2;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "activations", "activation spread per layer at "
                                   "initialization", &nm);
    if (!c)
        goto done;
    int nx, ny;
    rp_grid_for(nf, &nx, &ny);
    gs_chart_grid(c, nx, ny, flow_legend_chars(e, na, da));
    for (int f = 0; f < nf; f++) {
        gs_chart_axes(c, f, 1, max_depth, yr.lo, yr.hi, GS_AXIS_INT, GS_AXIS_LOG, "layer l",
                      f % nx == 0 ? "std of the layer's output x_l" : NULL,
                      fa >= 0 ? e->ex->axes[fa].values[f] : "");
        for (size_t i = 0; i < ls.n_runs; i++)
            if (ls.lines[i].n && (fa < 0 || value_index(e, fa, &e->runs[i]) == f))
                lineset_draw(c, &ls, i, value_index(e, na, &e->runs[i]),
                             value_index(e, da, &e->runs[i]) > 0);
    }
    rp_axis_legend(c, &e->ex->axes[na], MAX_LINES);
    line_keys(c, e, da, ls.bands, 0);
    char cap[1024];
    snprintf(cap, sizeof cap,
             "The standard deviation of each layer's output at initialization. Without "
             "normalization it drifts layer after layer - collapsing toward 0 or growing "
             "without bound, depending on the init's scale; batch and layer normalization "
             "reset every layer to unit spread, so the signal (and with it the gradient) "
             "keeps its size.%s", note);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, ls.used, ls.n_used, cap, out, err, errlen);
done:
    lineset_free(&ls);
    return rc;
}

/* ---- 9. test accuracy as bars ---- */

/* A bar: a configuration's first run and its test accuracy, the median
 * over its repeats with their 10-90% range (n of them; diverged ones
 * have no accuracy: counted apart). */
typedef struct {
    const rp_run_t *r;
    double acc, lo, hi;
    size_t n, diverged, repeats;
} acc_bar_t;

/* Best first; a configuration without accuracy (all diverged) last. */
static int cmp_acc(const void *a, const void *b)
{
    const acc_bar_t *x = a, *y = b;
    double p = isfinite(x->acc) ? x->acc : -1, q = isfinite(y->acc) ? y->acc : -1;
    return p > q ? -1 : p < q;
}

static double get_test_acc(const rp_run_t *r) { return r->test_acc; }

/* The bar of the configuration whose runs start at i (repeats follow). */
static acc_bar_t acc_bar(const rp_exp_t *e, size_t i)
{
    acc_bar_t b = {&e->runs[i], NAN, NAN, NAN, 0, 0, 0};
    b.acc = combo_median(e, i, get_test_acc, &b.lo, &b.hi, &b.n);
    for (size_t j = i; j < e->n_runs && e->runs[j].sc->combo == e->runs[i].sc->combo; j++)
        if (rp_usable(&e->runs[j])) {
            b.repeats++;
            b.diverged += strcmp(e->runs[j].status, "diverged") == 0;
        }
    return b;
}

/* The colour of a diagnosis (at initialization) on bars and markers. */
static const struct {
    const char *diagnosis;
    int series;
} diag_colours[] = {
    {"healthy", 2}, {"vanishing", 0}, {"exploding", 3}, {"dead", 6},
};

int rp_diag_series(const char *diagnosis)
{
    for (size_t k = 0; k < sizeof diag_colours / sizeof diag_colours[0]; k++)
        if (strcmp(diagnosis, diag_colours[k].diagnosis) == 0)
            return diag_colours[k].series;
    return GS_SERIES_GREY;
}

/* What a bar says beside it: accuracy, configuration, diagnosis, the
 * spread of its repeats and how many diverged. */
static void acc_label(const acc_bar_t *b, char *v, size_t len)
{
    const rp_run_t *r = b->r;
    char spread[80] = "", div[64] = "";
    if (b->n > 1)
        snprintf(spread, sizeof spread, ", median of %zu: %.1f-%.1f%%", b->n, 100 * b->lo,
                 100 * b->hi);
    if (b->diverged)
        snprintf(div, sizeof div, ", %zu of %zu diverged", b->diverged, b->repeats);
    if (isfinite(b->acc))
        snprintf(v, len, "%.1f%%  %s (%s%s%s)", 100 * b->acc, r->config_label, r->diagnosis,
                 spread, div);
    else
        snprintf(v, len, "%s (%s): diverged, no test accuracy", r->config_label, r->diagnosis);
}

/* Bar i of n (best on top): its length the accuracy, its colour the
 * diagnosis, a whisker for the spread of its repeats, and its label
 * (inside a long bar, else right of the bar and its whisker). */
static void acc_draw_bar(gs_chart_t *c, const acc_bar_t *b, size_t i, size_t n)
{
    double y = (double)(n - 1 - i);
    int whisker = b->n > 1;   /* the spread of the repeats */
    char v[400];
    gs_chart_series(c, b->r->config_label);
    gs_chart_hbar(c, (size_t)y, b->acc, whisker ? b->lo : NAN, whisker ? b->hi : NAN,
                  rp_diag_series(b->r->diagnosis));
    acc_label(b, v, sizeof v);
    double at = isfinite(b->acc) ? b->acc : 0, end = whisker ? fmax(at, b->hi) : at;
    double w = gs_chart_text_width(c, 0.9, v), room = 0.99 - end - 0.01;
    if (w <= room)   /* right of the bar and its whisker */
        gs_chart_text(c, end + 0.01, y, 0.0, 0.9, v);
    else if (w + 0.02 <= (whisker ? fmin(at, b->lo) : at))   /* inside the bar */
        gs_chart_text(c, 0.01, y, 0.0, 0.9, v);
    else   /* right of it, smaller, down to 0.6 of the size; then over what it must */
        gs_chart_text(c, end + 0.01, y, 0.0, 0.9 * fmax(0.9 * room / w, 0.6), v);
}

/* Whether run r's test accuracy is a chart's: digits (accuracy means
 * something only on data with structure), trained. */
static int has_accuracy(const rp_run_t *r)
{
    return usable(r) && r->sc->cell.task == GS_TASK_TRAIN && r->sc->cell.dataset == GS_DATA_DIGITS;
}

static int chart_acc(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                     size_t errlen)
{
    acc_bar_t *bars = calloc(e->n_runs + 1, sizeof *bars);
    const rp_run_t **runs = calloc(e->n_runs + 1, sizeof *runs);
    size_t n = 0, n_used = 0, whiskers = 0;
    int rc = 0;
    for (size_t i = 0; bars && runs && i < e->n_runs && n < 30; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!has_accuracy(r))
            continue;
        runs[n_used++] = r;
        if (i == 0 || e->runs[i - 1].sc->combo != r->sc->combo) {
            bars[n] = acc_bar(e, i);
            whiskers += bars[n++].n > 1;
        }
    }
    if (n == 0)
        goto done;
    qsort(bars, n, sizeof *bars, cmp_acc);
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "accuracy", "test accuracy per configuration", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 1, 1, 0);
    /* horizontal bars, best on top, labelled inside */
    gs_chart_hbar_axes(c, 0, 0, 1, n, "test accuracy");
    for (size_t i = 0; i < n; i++)
        acc_draw_bar(c, &bars[i], i, n);
    gs_chart_series(c, "chance (10 classes)");
    double chance = 0.1;
    gs_chart_vline(c, chance, GS_SERIES_GREY, GS_DASHED, NULL);
    gs_chart_text(c, chance + 0.005, (double)n - 0.3, 0.0, 0.8, "chance (10 classes)");
    char cap[1024];
    snprintf(cap, sizeof cap,
             "Final test accuracy of each configuration%s, best on top; bar colour gives the "
             "diagnosis at initialization (green healthy, blue vanishing, red exploding, black "
             "dead). The dashed line is chance for 10 classes: a network whose early layers "
             "receive no gradient stays near it.",
             whiskers ? " (the median over its repeats that did not diverge, with the whisker "
                        "from their 10% to their 90% quantile)"
                      : " (one run each: no spread to show)");
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, runs, n_used, cap, out, err, errlen);
done:
    free(bars);
    free(runs);
    return rc;
}

/* ---- 10. gradients through time ---- */

static int chart_time(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    const rp_run_t *r0 = first_usable(e);
    if (!r0 || r0->sc->cell.model == GS_MODEL_MLP)
        return 0;
    int ca = axis_of(e, "model");
    int da = -1;
    for (size_t a = 0; a < e->ex->n_axes; a++)
        if ((int)a != ca && da < 0)
            da = (int)a;
    if (ca < 0) {
        ca = da;
        da = -1;
    }
    lineset_t g, h;
    if (lineset_load(&g, m, e, MAX_LINES, rp_time_series, "grad_hidden_norm") != 0)
        return 0;
    if (lineset_load(&h, m, e, MAX_LINES, rp_time_series, "hidden_norm") != 0) {
        lineset_free(&g);
        return 0;
    }
    const char **labels = calloc(g.n_drawn + 1, sizeof *labels);
    int *series = calloc(g.n_drawn + 1, sizeof *series), *dashed = calloc(g.n_drawn + 1, sizeof *dashed);
    int rc = 0;
    if (!labels || !series || !dashed)
        goto done;
    for (size_t i = 0; i < g.n_drawn; i++) {
        labels[i] = g.drawn[i]->config_label;
        series[i] = value_index(e, ca, g.drawn[i]);
        dashed[i] = value_index(e, da, g.drawn[i]) > 0;
    }
    size_t nd = g.n_drawn;
    rp_range_t gr = rp_log_range(g.y.v, g.y.n, RP_ALL), hr = rp_log_range(h.y.v, h.y.n, RP_ALL);
    double T = g.x.hi > 2 ? g.x.hi : 2;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "time", "gradients through time at initialization", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 2, 1, rp_longest(labels, nd, NULL));
    gs_chart_axes(c, 0, 1, T, gr.lo, gr.hi, GS_AXIS_INT, GS_AXIS_LOG, "time step t", "||dL/dh_t||",
                  "gradient reaching each step (loss at the last)");
    for (size_t i = 0; i < g.n_runs; i++)
        if (g.lines[i].n)
            lineset_draw(c, &g, i, value_index(e, ca, &e->runs[i]),
                         value_index(e, da, &e->runs[i]) > 0);
    gs_chart_axes(c, 1, 1, T, hr.lo, hr.hi, GS_AXIS_INT, GS_AXIS_LOG, "time step t", "||h_t||",
                  "hidden state size");
    for (size_t i = 0; i < h.n_runs; i++)
        if (h.lines[i].n)
            lineset_draw(c, &h, i, value_index(e, ca, &e->runs[i]),
                         value_index(e, da, &e->runs[i]) > 0);
    gs_chart_legend(c, nd, labels, series, dashed, "");
    line_keys(c, e, -1, g.bands, 0);
    int shown[2] = {ca, da};
    char note[512], cap[1024];
    rp_unshown_note(e, shown, 2, -1, note, sizeof note);
    snprintf(cap, sizeof cap,
             "Left: the norm of the gradient of the loss (taken at the last step) with "
             "respect to each hidden state, going back in time from the right: a line that "
             "falls toward t = 1 is a gradient that does not reach the early steps, one that "
             "rises grows on its way back. Right: the size of the hidden state itself. Each "
             "cell's ratio at t = 1 (grad_h_ratio) and its diagnosis are in the findings and "
             "the run table, from the same rows.%s", note);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, g.used, g.n_used, cap, out, err, errlen);
done:
    lineset_free(&g);
    lineset_free(&h);
    free(labels);
    free(series);
    free(dashed);
    return rc;
}

int rp_exp_has_data(const rp_exp_t *e)
{
    return first_usable(e) != NULL;
}

/* In the page's order; each kind draws nothing when e's data does not
 * support it. The phase diagram computes its background from theory
 * (~2 s): slow, handed out first. */
const rp_chart_kind_t rp_chart_kinds[] = {
    {"gradient-flow", chart_flow, 0},  {"map", chart_heatmap, 0},
    {"norm", chart_norm, 0},           {"histogram", chart_hist, 0},
    {"time", chart_time, 0},           {"loss", chart_loss, 0},
    {"clip", chart_clip, 0},           {"accuracy", chart_acc, 0},
    {"theory-slopes", rp_chart_slopes, 0}, {"spectrum", rp_chart_spectrum, 0},
    {"phase", rp_chart_phase, 1},      {"training", rp_charts_training, 0},
};
const size_t rp_n_chart_kinds = sizeof rp_chart_kinds / sizeof rp_chart_kinds[0];
