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
    char software[128], source[4600], hash[32], when[32], path[4400];
    snprintf(software, sizeof software, "gradsweep %s (PLplot %s, libpng %s)", PACKAGE_VERSION,
             PLPLOT_VERSION, PNG_LIBPNG_VER_STRING);
    snprintf(source, sizeof source, "sweep %s, database %s", m->sw.name, m->db_path);
    snprintf(hash, sizeof hash, "%016llx (%zu runs)", (unsigned long long)h, n_runs);
    gs_utc_iso(when, sizeof when);
    gs_png_text_t text[] = {
        {"Title", title}, {"Software", software}, {"Source", source},
        {"Config hash", hash}, {"Creation Time", when},
    };
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return gs_chart_end(c, path, text, sizeof text / sizeof text[0], err, errlen);
}

/* finish() and, when the chart is written, list it with its caption. */
int rp_chart_publish(gs_chart_t *c, rp_model_t *m, const char *dir, const char *file,
                   const char *title, const rp_run_t *const *runs, size_t n_runs,
                   const char *caption, rp_charts_t *out, char *err, size_t errlen)
{
    int rc = finish(c, m, dir, file, title, runs, n_runs, err, errlen);
    if (rc == 0)
        add_chart(out, file, title, caption);
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

/* One series per configuration of an experiment, loaded before drawing
 * because the axes need their ranges. A configuration run once is its
 * run's line; one with repeats is the median over its repeats at each x,
 * with the 10-90% band around it, on the slot of its first run (its
 * other runs' slots stay empty), so charts draw one line per
 * configuration whatever `repeats` is. */
typedef struct {
    rp_series_t *lines;       /* per run (n = 0: no line) */
    double **lo, **hi;        /* per run: band edges at lines[i].x (NULL: no band) */
    const rp_run_t **drawn;   /* the runs with a line, in order: one per configuration */
    const rp_run_t **used;    /* every run whose data is drawn (the chart's provenance) */
    size_t n_runs, n_drawn, n_used;
    rp_range_t x, y;          /* of the finite (positive, for y) values, bands included */
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
    memset(ls, 0, sizeof *ls);
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
        qsort(v, c, sizeof *v, cmp_dbl);
        y[j] = c ? quantile(v, c, 0.5) : NAN;
        lo[j] = c ? quantile(v, c, 0.1) : NAN;
        hi[j] = c ? quantile(v, c, 0.9) : NAN;
    }
    free(v);
    for (size_t k = i0; k < i0 + n; k++)
        rp_series_free(&ls->lines[k]);
    ls->lines[i0] = (rp_series_t){x, y, len};
    ls->lo[i0] = lo;
    ls->hi[i0] = hi;
    return 0;
}

/* 0 when at least one configuration has a line; -1 when none has (or
 * memory is short). max_runs bounds the runs read. */
static int lineset_load(lineset_t *ls, rp_model_t *m, const rp_exp_t *e, size_t max_runs,
                        loader_t load, const char *column)
{
    memset(ls, 0, sizeof *ls);
    ls->n_runs = e->n_runs < max_runs ? e->n_runs : max_runs;
    ls->lines = calloc(ls->n_runs + 1, sizeof *ls->lines);
    ls->lo = calloc(ls->n_runs + 1, sizeof *ls->lo);
    ls->hi = calloc(ls->n_runs + 1, sizeof *ls->hi);
    ls->drawn = calloc(ls->n_runs + 1, sizeof *ls->drawn);
    ls->used = calloc(ls->n_runs + 1, sizeof *ls->used);
    ls->x = ls->y = (rp_range_t){INFINITY, -INFINITY};
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
        rp_range_add(&ls->y, l->y, l->n, 1);
        if (ls->lo[i]) {
            rp_range_add(&ls->y, ls->lo[i], l->n, 1);
            rp_range_add(&ls->y, ls->hi[i], l->n, 1);
        }
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
    double v[MAX_REPEATS_READ];
    size_t c = 0;
    for (size_t j = i; j < e->n_runs && e->runs[j].sc->combo == e->runs[i].sc->combo; j++)
        if (usable(&e->runs[j]) && isfinite(get(&e->runs[j])) && c < MAX_REPEATS_READ)
            v[c++] = get(&e->runs[j]);
    qsort(v, c, sizeof *v, cmp_dbl);
    if (lo)
        *lo = c ? quantile(v, c, 0.1) : NAN;
    if (hi)
        *hi = c ? quantile(v, c, 0.9) : NAN;
    if (n)
        *n = c;
    return c ? quantile(v, c, 0.5) : NAN;
}

static double get_log_ratio(const rp_run_t *r)
{
    return r->grad_ratio > 0 ? log10(r->grad_ratio) : NAN;
}

/* Run i's line, with its band when it stands for repeats. */
static void lineset_draw(gs_chart_t *c, const lineset_t *ls, size_t i, int series, int dashed)
{
    const rp_series_t *l = &ls->lines[i];
    if (!l->n)
        return;
    if (ls->lo[i])
        gs_chart_band(c, l->x, ls->lo[i], ls->hi[i], l->n, series);
    gs_chart_line(c, l->x, l->y, l->n, series, dashed);
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
        gs_chart_line(c, x, f, N, 0, 0);
        gs_chart_line(c, x, d, N, 1, 1);
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

/* The flow chart's axes: panels (residual, else activation, when few
 * enough values: fa), colours (init, else the first axis other than the
 * panels' and depth, else depth: ca). */
static void flow_axes(const rp_exp_t *e, int *fa, int *ca)
{
    *fa = axis_of(e, "residual");
    if (*fa < 0)
        *fa = axis_of(e, "activation");
    if (*fa >= 0 && e->ex->axes[*fa].n_values > MAX_FACETS)
        *fa = -1;
    *ca = axis_of(e, "init");
    if (*ca == *fa)
        *ca = -1;
    for (size_t a = 0; *ca < 0 && a < e->ex->n_axes; a++)
        if ((int)a != *fa && strcmp(e->ex->axes[a].key, "depth") != 0)
            *ca = (int)a;
    if (*ca < 0)
        *ca = axis_of(e, "depth");
}

/* Panel f of the flow chart: the lines of the runs with the panel axis's
 * value f, coloured by ca and dashed by da. */
static void flow_panel(gs_chart_t *c, const rp_exp_t *e, const lineset_t *ls, int f,
                       const int axes[3], int nx, rp_range_t yr, double clip)
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
    gs_chart_axes(c, f, 1, max_depth < 2 ? 2 : max_depth, yr.lo, yr.hi, 0, 1,
                  "layer l (1 = next to the input)", f % nx == 0 ? "||dL/dh_l||" : NULL, ptitle);
    for (size_t i = 0; i < ls->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!ls->lines[i].n || (fa >= 0 && value_index(e, fa, r) != f))
            continue;
        lineset_draw(c, ls, i, value_index(e, ca, r), value_index(e, da, r) > 0);
    }
    if (clip > 0)
        gs_chart_hline(c, clip, GS_SERIES_GREY, 1, "clip threshold");
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
    double clip = 0;
    for (size_t i = 0; i < ls.n_drawn; i++)
        clip = fmax(clip, ls.drawn[i]->sc->cell.clip);
    rp_range_t yr = ls.y;
    int rc = 0, nx, ny;
    rp_log_pad(&yr);
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "gradient-flow", "gradient flow at initialization, "
                                   "||dL/dh_l|| per layer", &nm);
    if (!c)
        goto done;
    rp_grid_for(nf, &nx, &ny);
    gs_chart_grid(c, nx, ny, ca >= 0 ? rp_longest((const char *const *)e->ex->axes[ca].values,
                                               e->ex->axes[ca].n_values, e->ex->axes[ca].key) : 0);
    const int axes[3] = {fa, ca, da};
    for (int f = 0; f < nf; f++)
        flow_panel(c, e, &ls, f, axes, nx, yr, clip);
    if (ca >= 0)
        rp_axis_legend(c, &e->ex->axes[ca], MAX_LINES);
    char cap[1024];
    snprintf(cap, sizeof cap,
             "One line per configuration: the gradient norm reaching each layer at "
             "initialization, on a log scale. Lines that fall toward layer 1 (left) vanish: "
             "the layers nearest the input get orders of magnitude less gradient than the "
             "last. Lines that rise toward layer 1 explode. Flat lines are healthy. Deeper "
             "networks give longer lines.%s", note);
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
 * the median grad_ratio over each configuration's repeats; every row's
 * label; the first run of every configuration drawn. Their count. */
static size_t map_fill(const rp_exp_t *e, int col, size_t rows, size_t cols, double *v,
                       char **labels, const rp_run_t **drawn)
{
    size_t n_drawn = 0;
    for (size_t i = 0; i < rows * cols; i++)
        v[i] = NAN;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (r->sc->cell.repeat != 0)
            continue;
        char lab[256];
        size_t row = map_row(e, col, r, lab, sizeof lab);
        assert(row < rows);
        if (!labels[row])
            labels[row] = strdup(lab);
        double lv = combo_median(e, i, get_log_ratio, NULL, NULL, NULL);   /* over repeats */
        if (!isfinite(lv))
            continue;
        v[row * cols + (size_t)value_index(e, col, r)] = lv;
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
    char **labels = calloc(rows, sizeof *labels);
    const rp_run_t **drawn = calloc(e->n_runs + 1, sizeof *drawn);
    int rc = 0;
    size_t n_drawn;
    if (!v || !labels || !drawn || (n_drawn = map_fill(e, col, rows, cols, v, labels, drawn)) == 0)
        goto done;
    /* the colours saturate at twice the diagnosis thresholds, so that
     * "vanishing" is clearly blue however deep the sweep goes */
    double L = 2.0 * fmax(fabs(log10(m->sw.vanishing_below)), fabs(log10(m->sw.exploding_above)));
    if (!(L > 0))
        L = 8;
    char rl[256] = "", cap[1024];
    for (size_t a = 0; a < e->ex->n_axes; a++)
        if ((int)a != col) {
            size_t l = strlen(rl);
            snprintf(rl + l, sizeof rl - l, "%s%s", l ? " / " : "", e->ex->axes[a].key);
        }
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "map", "log10 grad_ratio at initialization (blue vanishes, "
                                   "orange explodes)", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 1, 1, 12);
    gs_chart_heatmap(c, 0, rows, cols, v, (const char *const *)labels,
                     (const char *const *)cx->values, -L, 0, L, "%.1f", cx->key, rl,
                     "log10 grad_ratio");
    snprintf(cap, sizeof cap,
             "Each cell is log10 of grad_ratio, the gradient norm of the first layer over "
             "that of the last (for recurrent models: of the first time step over the last). "
             "0 (white) is a perfectly balanced network; below %g (blue) the sweep calls it "
             "vanishing, above %g (orange) exploding; the colours saturate at twice those "
             "values, the numbers do not. Read along a row to see a configuration degrade "
             "with %s.",
             log10(m->sw.vanishing_below), log10(m->sw.exploding_above), cx->key);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, drawn, n_drawn, cap, out, err, errlen);
done:
    for (size_t i = 0; labels && i < rows; i++)
        free(labels[i]);
    free(labels);
    free(v);
    free(drawn);
    return rc;
}

/* ---- 4 (and 10b). training loss against step ---- */

/* Where run r diverged, on its line l: a cross at the last finite loss
 * (the top of the panel otherwise), labelled. */
static void mark_divergence(gs_chart_t *c, const rp_run_t *r, const rp_series_t *l, int series,
                            double top, double max_step)
{
    double y = top / 1.5;
    for (size_t j = l->n; j-- > 0;)
        if (isfinite(l->y[j]) && l->y[j] > 0) {
            y = l->y[j];
            break;
        }
    gs_chart_marker(c, (double)r->diverged_step, y, series, 0);
    gs_chart_text(c, (double)r->diverged_step + 0.01 * max_step, y * 1.3, 0.0, 0.9, "diverged");
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
    int *series = calloc(ls.n_drawn + 1, sizeof *series);
    int rc = 0, any_div = 0;
    if (!labels || !lab || !series)
        goto done;
    double baseline = NAN;
    size_t nd = 0;
    for (size_t i = 0; i < ls.n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!ls.lines[i].n)
            continue;
        if (isfinite(r->baseline_loss))
            baseline = r->baseline_loss;
        snprintf(lab[nd], sizeof lab[nd], "%s (%s)", r->config_label, r->diagnosis);
        labels[nd] = lab[nd];
        series[nd++] = (int)i;
    }
    rp_range_t yr = ls.y;
    double max_step = ls.x.hi > 1 ? ls.x.hi : 1;
    if (isfinite(baseline))
        rp_range_add(&yr, &baseline, 1, 1);
    rp_log_pad(&yr);
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "loss", "training loss against step", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 1, 1, rp_longest(labels, nd, NULL));
    gs_chart_axes(c, 0, 0, max_step, yr.lo, yr.hi, 0, 1, "training step",
                  r0->sc->cell.dataset == GS_DATA_ADDING ? "batch loss (MSE)" : "batch loss (cross-entropy)",
                  NULL);
    for (size_t i = 0; i < ls.n_runs; i++) {
        if (!ls.lines[i].n)
            continue;
        lineset_draw(c, &ls, i, (int)i, 0);
        if (e->runs[i].diverged_step) {
            mark_divergence(c, &e->runs[i], &ls.lines[i], (int)i, yr.hi, max_step);
            any_div = 1;
        }
    }
    if (isfinite(baseline))
        gs_chart_hline(c, baseline, GS_SERIES_GREY, 1, "answering 1 always (MSE ~ 1/6)");
    gs_chart_legend(c, nd, labels, series, NULL, "");
    char cap[1024];
    snprintf(cap, sizeof cap,
             "The loss of each logged training batch, on a log scale. Healthy networks "
             "fall steadily; vanishing ones stay flat near their starting loss because the "
             "early layers do not learn; exploding ones jump or become non-finite.%s%s",
             any_div ? " A cross marks where a run diverged (a non-finite loss or gradient "
                       "ended it)." : "",
             isfinite(baseline) ? " The dashed line is the adding problem's baseline: a "
                                  "model that always answers 1." : "");
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, ls.used, ls.n_used, cap, out, err, errlen);
done:
    lineset_free(&ls);
    free(labels);
    free(lab);
    free(series);
    return rc;
}

/* ---- 5. weight histograms per init scheme ---- */

static int chart_hist(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    int ia;
    if (!varying(e, "init", &ia))
        return 0;
    const gs_axis_t *ax = &e->ex->axes[ia];
    size_t nf = ax->n_values < 8 ? ax->n_values : 8;
    const rp_run_t *pick[8] = {0};
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        int v = value_index(e, ia, r);
        if (usable(r) && (size_t)v < nf && !pick[v])
            pick[v] = r;
    }
    rp_chart_name_t nm;
    gs_chart_t *c = NULL;
    const rp_run_t *drawn[8];
    size_t nd = 0;
    int nx = nf <= 4 ? (int)nf : 4, ny = (int)((nf + 3) / 4);
    for (size_t f = 0; f < nf; f++) {
        const rp_run_t *r = pick[f];
        if (!r)
            continue;
        int layer = r->sc->cell.depth >= 2 ? 2 : 1;
        rp_series_t h;
        double lo, hi;
        if (rp_hist(m, r, layer, "weight", &h, &lo, &hi) != 0 || h.n == 0) {
            rp_series_free(&h);
            continue;
        }
        if (!c) {
            c = rp_chart_start(e, "weights", "weight histograms at initialization, "
                               "hidden layer 2", &nm);
            if (!c) {
                rp_series_free(&h);
                return 0;
            }
            gs_chart_grid(c, nx, ny, 0);
        }
        double top = 0, mean = 0, var = 0, cnt = 0;
        for (size_t b = 0; b < h.n; b++) {
            top = fmax(top, h.y[b]);
            cnt += h.y[b];
            mean += h.y[b] * h.x[b];
        }
        mean /= cnt > 0 ? cnt : 1;
        for (size_t b = 0; b < h.n; b++)
            var += h.y[b] * (h.x[b] - mean) * (h.x[b] - mean);
        char pt[160];
        snprintf(pt, sizeof pt, "%s: std %.3g", ax->values[f], sqrt(var / (cnt > 0 ? cnt : 1)));
        gs_chart_axes(c, (int)nd, lo, hi, 0, top * 1.1, 0, 0, "weight", nd % (size_t)nx == 0 ? "count" : NULL, pt);
        double w = (hi - lo) / (double)h.n;
        for (size_t b = 0; b < h.n; b++)
            gs_chart_rect(c, h.x[b] - 0.45 * w, h.x[b] + 0.45 * w, 0, h.y[b], (int)f);
        rp_series_free(&h);
        drawn[nd++] = r;
    }
    if (!c)
        return 0;
    int rc = rp_chart_publish(c, m, dir, nm.file, nm.title, drawn, nd,
                  "The distribution of one hidden layer's weights as each scheme draws them "
                  "(each panel has its own scale: read the std). Xavier and LeCun scale the "
                  "spread with 1/fan-in, He doubles LeCun's variance for ReLU, uniform variants "
                  "have flat tops, orthogonal matrices spread like Gaussians of variance "
                  "gain^2/n; a fixed normal(std) ignores the layer width altogether.",
                 out, err, errlen);
    return rc;
}

/* ---- 6. clipping ---- */

/* Left panel: the pre-clip gradient norm of every run over training,
 * coloured by threshold (ca) and dashed by mode (ma), and the thresholds. */
static void clip_norms(gs_chart_t *c, const rp_exp_t *e, const lineset_t *ls, int ca, int ma)
{
    const gs_axis_t *cx = &e->ex->axes[ca];
    rp_range_t yr = ls->y;
    double max_step = ls->x.hi > 1 ? ls->x.hi : 1;
    for (size_t i = 0; i < ls->n_drawn; i++) {
        if (ls->drawn[i]->sc->cell.clip > 0)
            rp_range_add(&yr, &ls->drawn[i]->sc->cell.clip, 1, 1);
    }
    rp_log_pad(&yr);
    gs_chart_axes(c, 0, 0, max_step, yr.lo, yr.hi, 0, 1, "training step",
                  "gradient norm before clipping", "pre-clip ||g|| over training");
    for (size_t i = 0; i < ls->n_runs; i++)
        if (ls->lines[i].n) {
            const rp_run_t *r = &e->runs[i];
            lineset_draw(c, ls, i, value_index(e, ca, r), value_index(e, ma, r) > 0);
        }
    for (size_t v = 0; v < cx->n_values; v++) {
        double t = strtod(cx->values[v], NULL);
        if (t > 0) {
            char l[64];
            snprintf(l, sizeof l, "clip %s", cx->values[v]);
            gs_chart_hline(c, t, GS_SERIES_GREY, 1, l);
        }
    }
}

/* The median final training loss of the runs with threshold v (axis ca)
 * and mode md (axis ma); *div when any of them diverged. */
static double clip_final_loss(const rp_exp_t *e, int ca, int ma, size_t v, size_t md, int *div)
{
    double vals[64];
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
    qsort(vals, nv, sizeof *vals, cmp_dbl);
    return nv ? quantile(vals, nv, 0.5) : NAN;
}

/* Right panel: the final training loss against the threshold, one line
 * per mode, a cross where a run diverged. */
static void clip_losses(gs_chart_t *c, const rp_exp_t *e, int ca, int ma)
{
    const gs_axis_t *cx = &e->ex->axes[ca];
    rp_range_t lr = {INFINITY, -INFINITY};
    for (size_t i = 0; i < e->n_runs; i++)
        if (usable(&e->runs[i]))
            rp_range_add(&lr, &e->runs[i].train_loss, 1, 1);
    rp_log_pad(&lr);
    gs_chart_axes(c, 1, -0.5, (double)cx->n_values - 0.5, lr.lo, lr.hi, 0, 1, NULL,
                  "final training loss", "final loss against the clip threshold");
    gs_chart_xcategories(c, cx->n_values, (const char *const *)cx->values);
    size_t modes = ma >= 0 ? e->ex->axes[ma].n_values : 1;
    for (size_t md = 0; md < modes; md++) {
        double xs[32], ys[32];
        size_t k = 0;
        for (size_t v = 0; v < cx->n_values && v < 32; v++, k++) {
            int div;
            xs[k] = (double)v;
            ys[k] = clip_final_loss(e, ca, ma, v, md, &div);
            if (div) {
                gs_chart_marker(c, (double)v, lr.hi / 2, (int)(8 + md), 0);
                gs_chart_text(c, (double)v, lr.hi / 1.4, 0.5, 0.8, "diverged");
            }
        }
        gs_chart_line(c, xs, ys, k, 6, (int)md);
        for (size_t j = 0; j < k; j++)
            gs_chart_marker(c, xs[j], ys[j], 6, 1);
    }
}

/* One entry per threshold and mode (no mode without clip), then the
 * final loss. */
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
    labels[nl] = "final loss";
    series[nl] = 6;
    dashed[nl] = 0;
    nl++;
    gs_chart_legend(c, nl, labels, series, dashed, "");
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
    gs_chart_grid(c, 2, 1, 24);
    clip_norms(c, e, &ls, ca, ma);
    clip_losses(c, e, ca, ma);
    clip_legend(c, e, ca, ma);
    int shown[2] = {ca, ma};
    char note[512], cap[1024];
    rp_unshown_note(e, shown, 2, -1, note, sizeof note);
    snprintf(cap, sizeof cap, "%s%s",
             "Left: the global gradient norm before clipping at every logged step, with "
             "the thresholds as dashed lines - clipping rescales every step above its line. "
             "Right: the training loss each threshold ends with (the median over repeats; "
             "crosses mark thresholds where a run diverged). Clipping by norm keeps the "
             "direction of the gradient; clipping by value changes it. Without clipping "
             "there is no mode: that point is on the norm line.",
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
    int shown[3] = {fa, na, axis_of(e, "depth")};
    char note[512];
    rp_unshown_note(e, shown, 3, -1, note, sizeof note);
    lineset_t ls;
    if (lineset_load(&ls, m, e, e->n_runs, rp_layer_series, "act_std") != 0)
        return 0;
    int rc = 0;
    rp_range_t yr = ls.y;
    double max_depth = ls.x.hi > 2 ? ls.x.hi : 2;
    rp_log_pad(&yr);
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "activations", "activation spread per layer at "
                                   "initialization", &nm);
    if (!c)
        goto done;
    int nx, ny;
    rp_grid_for(nf, &nx, &ny);
    gs_chart_grid(c, nx, ny, 12);
    for (int f = 0; f < nf; f++) {
        gs_chart_axes(c, f, 1, max_depth, yr.lo, yr.hi, 0, 1, "layer l",
                      f % nx == 0 ? "std of the layer's output x_l" : NULL,
                      fa >= 0 ? e->ex->axes[fa].values[f] : "");
        for (size_t i = 0; i < ls.n_runs; i++)
            if (ls.lines[i].n && (fa < 0 || value_index(e, fa, &e->runs[i]) == f))
                lineset_draw(c, &ls, i, value_index(e, na, &e->runs[i]), 0);
    }
    rp_axis_legend(c, &e->ex->axes[na], 8);
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
 * over its repeats with their 10-90% range. */
typedef struct {
    const rp_run_t *r;
    double acc, lo, hi;
    size_t n;
} acc_bar_t;

static int cmp_acc(const void *a, const void *b)
{
    const acc_bar_t *x = a, *y = b;
    return x->acc > y->acc ? -1 : x->acc < y->acc;
}

static double get_test_acc(const rp_run_t *r) { return r->test_acc; }

/* The bar of the configuration whose runs start at i (repeats follow). */
static acc_bar_t acc_bar(const rp_exp_t *e, size_t i)
{
    acc_bar_t b = {&e->runs[i], NAN, NAN, NAN, 0};
    b.acc = combo_median(e, i, get_test_acc, &b.lo, &b.hi, &b.n);
    return b;
}

/* Bar i of n (best on top): its length the accuracy, its colour the
 * diagnosis, a whisker for the spread of its repeats, and its label. */
static void acc_draw_bar(gs_chart_t *c, const acc_bar_t *b, size_t i, size_t n)
{
    double y = (double)(n - 1 - i);
    const rp_run_t *r = b->r;
    int s = strcmp(r->diagnosis, "healthy") == 0 ? 2 : strcmp(r->diagnosis, "vanishing") == 0 ? 0 : 3;
    gs_chart_rect(c, 0, b->acc, y - 0.35, y + 0.35, s);
    char v[400], spread[80] = "";
    if (b->n > 1) {   /* the spread of the repeats as a whisker */
        double wx[2] = {b->lo, b->hi}, wy[2] = {y, y};
        gs_chart_line(c, wx, wy, 2, GS_SERIES_GREY, 0);
        snprintf(spread, sizeof spread, ", median of %zu: %.1f-%.1f%%", b->n, 100 * b->lo,
                 100 * b->hi);
    }
    snprintf(v, sizeof v, "%.1f%%  %s (%s%s)", 100 * b->acc, r->config_label, r->diagnosis,
             spread);
    gs_chart_text(c, b->acc > 0.6 ? 0.01 : b->acc + 0.01, y - 0.12, 0.0, 0.9, v);
}

static int chart_acc(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                     size_t errlen)
{
    acc_bar_t *bars = calloc(e->n_runs + 1, sizeof *bars);
    const rp_run_t **runs = calloc(e->n_runs + 1, sizeof *runs);
    size_t n = 0, n_used = 0;
    int rc = 0;
    for (size_t i = 0; bars && runs && i < e->n_runs && n < 30; i++) {
        const rp_run_t *r = &e->runs[i];
        /* accuracy means something only on data with structure */
        if (!usable(r) || r->sc->cell.task != GS_TASK_TRAIN || !isfinite(r->test_acc) ||
            r->sc->cell.dataset != GS_DATA_DIGITS)
            continue;
        runs[n_used++] = r;
        if (i == 0 || e->runs[i - 1].sc->combo != r->sc->combo)
            bars[n++] = acc_bar(e, i);
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
    double chance = 0.1;
    double xs[2] = {chance, chance}, ys[2] = {-0.5, (double)n - 0.5};
    gs_chart_line(c, xs, ys, 2, GS_SERIES_GREY, 1);
    gs_chart_text(c, chance + 0.005, (double)n - 0.3, 0.0, 0.8, "chance (10 classes)");
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, runs, n_used,
                  "Final test accuracy of each configuration (the median over its repeats, with "
                  "their 10-90% range as a grey whisker), best on top; bar colour gives the "
                  "diagnosis at initialization (green healthy, blue vanishing, red exploding or "
                  "diverged). The dashed line is chance for 10 classes: a network whose early "
                  "layers receive no gradient stays near it.",
                 out, err, errlen);
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
    rp_range_t gr = g.y, hr = h.y;
    double T = g.x.hi > 2 ? g.x.hi : 2;
    rp_log_pad(&gr);
    rp_log_pad(&hr);
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "time", "gradients through time at initialization", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 2, 1, rp_longest(labels, nd, NULL));
    gs_chart_axes(c, 0, 1, T, gr.lo, gr.hi, 0, 1, "time step t", "||dL/dh_t||",
                  "gradient reaching each step (loss at the last)");
    for (size_t i = 0; i < g.n_runs; i++)
        if (g.lines[i].n)
            lineset_draw(c, &g, i, value_index(e, ca, &e->runs[i]),
                         value_index(e, da, &e->runs[i]) > 0);
    gs_chart_axes(c, 1, 1, T, hr.lo, hr.hi, 0, 1, "time step t", "||h_t||", "hidden state size");
    for (size_t i = 0; i < h.n_runs; i++)
        if (h.lines[i].n)
            lineset_draw(c, &h, i, value_index(e, ca, &e->runs[i]),
                         value_index(e, da, &e->runs[i]) > 0);
    gs_chart_legend(c, nd, labels, series, dashed, "");
    int shown[2] = {ca, da};
    char note[512], cap[1024];
    rp_unshown_note(e, shown, 2, -1, note, sizeof note);
    snprintf(cap, sizeof cap,
             "Left: the norm of the gradient of the loss (taken at the last step) with "
             "respect to each hidden state, going back in time from the right. A plain RNN's "
             "line drops by orders of magnitude within a few dozen steps - it cannot learn "
             "what happened early; the gated LSTM and GRU carry the gradient much further. "
             "Right: the size of the hidden state itself.%s", note);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, g.used, g.n_used, cap, out, err, errlen);
done:
    lineset_free(&g);
    lineset_free(&h);
    free(labels);
    free(series);
    free(dashed);
    return rc;
}

int rp_charts_experiment(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out,
                         char *err, size_t errlen)
{
    if (!first_usable(e))
        return 0;
    int (*const kinds[])(rp_model_t *, rp_exp_t *, const char *, rp_charts_t *, char *, size_t) = {
        chart_flow, chart_heatmap, chart_norm, chart_hist, chart_time,
        chart_loss, chart_clip, chart_acc,
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (kinds[k](m, e, dir, out, err, errlen) != 0)
            return -1;
    if (rp_charts_theory(m, e, dir, out, err, errlen) != 0)
        return -1;
    return rp_charts_training(m, e, dir, out, err, errlen);
}
