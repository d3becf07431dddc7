/* Which charts an experiment's data supports, and drawing them. Every
 * chart is decided from what the experiment varies and what the database
 * holds; a chart without data is left out. */
#include <config.h>

#include <assert.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/activation.h"
#include "report/chart.h"
#include "report/charts.h"

#define MAX_FACETS 6

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
        if (rp_usable(&e->runs[j])) {
            n++;
            dead += e->runs[j].diagnosis == GS_DIAG_DEAD;
        }
    return n > 0 && dead == n;
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
    int a = rp_axis_of(e, key);
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
        if ((*ca = rp_axis_of(e, colours[k])) == *fa)
            *ca = -1;
    for (size_t a = 0; *ca < 0 && a < e->ex->n_axes; a++)
        if ((int)a != *fa && strcmp(e->ex->axes[a].key, "depth") != 0)
            *ca = (int)a;
    if (*ca < 0)
        *ca = rp_axis_of(e, "depth");
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
 * and the keys rp_line_keys may add. */
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
static void flow_panel(gs_chart_t *c, const rp_exp_t *e, const rp_lineset_t *ls, int f,
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
        if (!ls->lines[i].n || (fa >= 0 && rp_value_index(e, fa, r) != f))
            continue;
        rp_lineset_draw(c, ls, i, rp_value_index(e, ca, r), rp_value_index(e, da, r) > 0);
        *theory += flow_theory(c, r, &ls->lines[i], rp_value_index(e, ca, r));
        clip = fmax(clip, r->sc->cell.clip);
    }
    if (clip > 0)
        gs_chart_hline(c, clip, GS_SERIES_GREY, GS_DASHED, "clip threshold");
}

static int chart_flow(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    const rp_run_t *r0 = rp_first_usable(e);
    /* a training experiment that varies only training keys starts every
     * run from the same network: nothing to compare at initialization */
    if (!r0 || r0->sc->cell.model != GS_MODEL_MLP ||
        (r0->sc->cell.task == GS_TASK_TRAIN && init_axes(e) == 0))
        return 0;
    int fa, ca;
    flow_axes(e, &fa, &ca);
    int nf = fa >= 0 ? (int)e->ex->axes[fa].n_values : 1;
    /* depth shows as the length of a line; a further axis as dashes */
    int shown[3] = {fa, ca, rp_axis_of(e, "depth")};
    int da = first_unshown(e, shown, 3);
    char note[512];
    rp_unshown_note(e, shown, 3, da, note, sizeof note);
    rp_lineset_t ls;
    if (rp_lineset_load(&ls, m, e, e->n_runs, rp_layer_series, "grad_pre_norm") != 0)
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
        rp_axis_legend(c, &e->ex->axes[ca], RP_MAX_LINES);
    rp_line_keys(c, e, da, ls.bands, theory > 0);
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
    rp_lineset_free(&ls);
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
        int vi = rp_value_index(e, (int)a, r);
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
        cell = row * cols + (size_t)rp_value_index(e, col, r);
        v[cell] = rp_combo_median(e, i, get_log_h_ratio, NULL, NULL, NULL);   /* over repeats */
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
    int col = rp_axis_of(e, "depth");
    if (col < 0)
        col = rp_axis_of(e, "seq_len");
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
    if (!rp_varying(e, "init", &ia))
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
        int v = rp_value_index(e, ia, r);
        if (rp_usable(r) && (size_t)v < nf && !pick[v])
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

/* ---- 7. normalization: activation spread per layer ---- */

static int chart_norm(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    int na;
    const rp_run_t *r0 = rp_varying(e, "norm", &na);
    if (!r0 || r0->sc->cell.model != GS_MODEL_MLP)
        return 0;
    int fa = rp_axis_of(e, "activation");
    if (fa >= 0 && e->ex->axes[fa].n_values > MAX_FACETS)
        fa = -1;
    int nf = fa >= 0 ? (int)e->ex->axes[fa].n_values : 1;
    /* a further axis (residual, say) as dashes, so its lines differ */
    int shown[3] = {fa, na, rp_axis_of(e, "depth")};
    int da = first_unshown(e, shown, 3);
    char note[512];
    rp_unshown_note(e, shown, 3, da, note, sizeof note);
    rp_lineset_t ls;
    if (rp_lineset_load(&ls, m, e, e->n_runs, rp_layer_series, "act_std") != 0)
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
            if (ls.lines[i].n && (fa < 0 || rp_value_index(e, fa, &e->runs[i]) == f))
                rp_lineset_draw(c, &ls, i, rp_value_index(e, na, &e->runs[i]),
                             rp_value_index(e, da, &e->runs[i]) > 0);
    }
    rp_axis_legend(c, &e->ex->axes[na], RP_MAX_LINES);
    rp_line_keys(c, e, da, ls.bands, 0);
    char cap[1024];
    snprintf(cap, sizeof cap,
             "The standard deviation of each layer's output at initialization. Without "
             "normalization it drifts layer after layer - collapsing toward 0 or growing "
             "without bound, depending on the init's scale; batch and layer normalization "
             "reset every layer to unit spread, so the signal (and with it the gradient) "
             "keeps its size.%s", note);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, ls.used, ls.n_used, cap, out, err, errlen);
done:
    rp_lineset_free(&ls);
    return rc;
}

/* ---- 10. gradients through time ---- */

static int chart_time(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    const rp_run_t *r0 = rp_first_usable(e);
    if (!r0 || r0->sc->cell.model == GS_MODEL_MLP)
        return 0;
    /* colour: the model, else the first axis; dashes: the next axis
     * (a float16 RNN's loss scale beside its seq_len, say) */
    int ca = rp_axis_of(e, "model");
    if (ca < 0 && e->ex->n_axes > 0)
        ca = 0;
    int da = -1;
    for (size_t a = 0; a < e->ex->n_axes; a++)
        if ((int)a != ca && da < 0)
            da = (int)a;
    rp_lineset_t g, h;
    if (rp_lineset_load(&g, m, e, RP_MAX_LINES, rp_time_series, "grad_hidden_norm") != 0)
        return 0;
    if (rp_lineset_load(&h, m, e, RP_MAX_LINES, rp_time_series, "hidden_norm") != 0) {
        rp_lineset_free(&g);
        return 0;
    }
    const char **labels = calloc(g.n_drawn + 1, sizeof *labels);
    int *series = calloc(g.n_drawn + 1, sizeof *series), *dashed = calloc(g.n_drawn + 1, sizeof *dashed);
    int rc = 0;
    if (!labels || !series || !dashed)
        goto done;
    for (size_t i = 0; i < g.n_drawn; i++) {
        labels[i] = g.drawn[i]->config_label;
        series[i] = rp_value_index(e, ca, g.drawn[i]);
        dashed[i] = rp_value_index(e, da, g.drawn[i]) > 0;
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
            rp_lineset_draw(c, &g, i, rp_value_index(e, ca, &e->runs[i]),
                         rp_value_index(e, da, &e->runs[i]) > 0);
    gs_chart_axes(c, 1, 1, T, hr.lo, hr.hi, GS_AXIS_INT, GS_AXIS_LOG, "time step t", "||h_t||",
                  "hidden state size");
    for (size_t i = 0; i < h.n_runs; i++)
        if (h.lines[i].n)
            rp_lineset_draw(c, &h, i, rp_value_index(e, ca, &e->runs[i]),
                         rp_value_index(e, da, &e->runs[i]) > 0);
    gs_chart_legend(c, nd, labels, series, dashed, "");
    rp_line_keys(c, e, -1, g.bands, 0);
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
    rp_lineset_free(&g);
    rp_lineset_free(&h);
    free(labels);
    free(series);
    free(dashed);
    return rc;
}

int rp_exp_has_data(const rp_exp_t *e)
{
    return rp_first_usable(e) != NULL;
}

/* In the page's order; each kind draws nothing when e's data does not
 * support it. */
const rp_chart_kind_t rp_chart_kinds[] = {
    {"gradient-flow", chart_flow, NULL},
    {"map", chart_heatmap, NULL},
    {"norm", chart_norm, NULL},
    {"histogram", chart_hist, NULL},
    {"time", chart_time, NULL},
    {"loss", rp_chart_loss, NULL},
    {"clip", rp_chart_clip, NULL},
    {"accuracy", rp_chart_acc, NULL},
    {"theory-slopes", rp_chart_slopes, NULL},
    {"spectrum", rp_chart_spectrum, NULL},
    {"phase", rp_chart_phase, rp_chart_phase_prepare},
    {"training", rp_charts_training, NULL},
    {"lowprec", rp_chart_lowprec, NULL},
    {"lowprec-train", rp_chart_lowprec_train, NULL},
    {"transformer", rp_chart_transformer, NULL},
};
const size_t rp_n_chart_kinds = sizeof rp_chart_kinds / sizeof rp_chart_kinds[0];
