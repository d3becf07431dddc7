/* The charts of theory beside measurement (the theory table): predicted
 * against measured slope of ln ||dL/dh_l|| per layer, and tanh's
 * order-to-chaos phase diagram with the experiment's runs placed on it.
 * The diagram's background is computed from the formulas (src/theory);
 * every point on it is a stored run. */
#include <config.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "report/charts.h"
#include "theory/meanfield.h"

#define PHASE_COLS 36       /* sigma_w^2 steps of the diagram */
#define PHASE_ROWS 16       /* sigma_b^2 steps */
#define PHASE_SW2_MAX 4.5
#define PHASE_SB2_MAX 0.3
#define SLOPE_FLAT 0.03     /* |slope| per layer below which a gradient counts as kept */

static int has_slopes(const rp_run_t *r)
{
    return rp_usable(r) && isfinite(r->predicted_slope) && isfinite(r->measured_slope);
}

/* ---- 1. predicted against measured slope ---- */

/* The scatter's axes among those of e: colour (activation when it
 * varies, else the axis with the most values) and marker shape (another
 * axis of at most 4 values, -1: none). */
static void slope_axes(const rp_exp_t *e, int *ca, int *sa)
{
    *ca = rp_axis_of(e, "activation");
    for (size_t a = 0; *ca < 0 && a < e->ex->n_axes; a++)
        if (*ca < 0 || e->ex->axes[a].n_values > e->ex->axes[*ca].n_values)
            *ca = (int)a;
    for (size_t a = 0; a < e->ex->n_axes; a++)
        if ((int)a != *ca && e->ex->axes[a].n_values <= 4) {
            *sa = (int)a;
            return;
        }
    *sa = -1;
}

/* The legend: a colour per value of ca, a grey marker per value of sa. */
static void slope_legend(gs_chart_t *c, const rp_exp_t *e, int ca, int sa)
{
    if (ca >= 0)
        rp_axis_legend(c, &e->ex->axes[ca], RP_MAX_LINES);
    for (size_t v = 0; sa >= 0 && v < e->ex->axes[sa].n_values; v++) {
        char s[160];
        snprintf(s, sizeof s, "%s %s", e->ex->axes[sa].key, e->ex->axes[sa].values[v]);
        gs_chart_legend_key(c, s, GS_SERIES_GREY, GS_KEY_CROSS + (int)((v + 1) % 4));
    }
    gs_chart_legend_key(c, "y = x: theory holds", GS_SERIES_GREY, GS_DASHED);
}

int rp_chart_slopes(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out,
                    char *err, size_t errlen)
{
    const rp_run_t **runs = calloc(e->n_runs + 1, sizeof *runs);
    size_t n = 0, off = 0;
    rp_range_t r = {INFINITY, -INFINITY};
    for (size_t i = 0; runs && i < e->n_runs; i++) {
        const rp_run_t *run = &e->runs[i];
        if (!has_slopes(run))
            continue;
        runs[n++] = run;
        rp_range_add(&r, &run->predicted_slope, 1, 0);
        rp_range_add(&r, &run->measured_slope, 1, 0);
    }
    int rc = 0, ca, sa;
    rp_chart_name_t nm;
    gs_chart_t *c = n >= 2 ? rp_chart_start(e, "theory-slopes", "gradient slope per layer, "
                                            "mean-field theory against measurement", &nm) : NULL;
    if (!c)
        goto done;
    slope_axes(e, &ca, &sa);
    double pad = 0.05 * fmax(r.hi - r.lo, 0.2);
    double lo = r.lo - pad, hi = r.hi + pad;
    gs_chart_grid(c, 1, 1, ca >= 0 ? rp_longest((const char *const *)e->ex->axes[ca].values,
                                                e->ex->axes[ca].n_values, "y = x: theory holds") : 20);
    gs_chart_axes(c, 0, lo, hi, lo, hi, 0, 0, "predicted: 1/2 ln chi_1 per layer toward the input",
                  "measured slope of ln ||dL/dh_l||", NULL);
    double xs[2] = {lo, hi};
    gs_chart_series(c, "y = x");
    gs_chart_line(c, xs, xs, 2, GS_SERIES_GREY, GS_DASHED);
    for (size_t i = 0; i < n; i++) {
        gs_chart_series(c, runs[i]->label);
        gs_chart_marker(c, runs[i]->predicted_slope, runs[i]->measured_slope,
                        rp_value_index(e, ca, runs[i]),
                        sa >= 0 ? (rp_value_index(e, sa, runs[i]) + 1) % 4 : GS_MARK_CIRCLE);
        off += fabs(runs[i]->measured_slope - runs[i]->predicted_slope) > SLOPE_FLAT;
    }
    slope_legend(c, e, ca, sa);
    char cap[1024];
    snprintf(cap, sizeof cap,
             "One point per run, coloured by %s%s%s: the slope of ln ||dL/dh_l|| per layer toward "
             "the input that mean-field theory predicts from the activation, sigma_w^2 and "
             "sigma_b^2 alone (1/2 ln chi_1; for batch-normalized ReLU 1/2 ln(pi/(pi-1))), "
             "against the slope measured at initialization over the deeper half of the layers. "
             "On the dashed line y = x the network follows the theory; %zu of %zu runs are more "
             "than %.2f per layer off it (finite width, few layers, normalization or residuals "
             "the theory does not cover).",
             ca >= 0 ? e->ex->axes[ca].key : "nothing", sa >= 0 ? ", shaped by " : "",
             sa >= 0 ? e->ex->axes[sa].key : "", off, n, SLOPE_FLAT);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, runs, n, cap, out, err, errlen);
done:
    free(runs);
    return rc;
}

/* ---- 2. tanh's phase diagram ---- */

/* A run's marker: its diagnosis at initialization, decided by
 * grad_h_ratio (a square healthy, a circle vanishing, a triangle dead, a
 * cross exploding). */
static int phase_shape(const rp_run_t *r)
{
    switch (r->diagnosis) {
    case GS_DIAG_HEALTHY: return GS_MARK_SQUARE;
    case GS_DIAG_VANISHING: return GS_MARK_CIRCLE;
    case GS_DIAG_DEAD: return GS_MARK_TRIANGLE;
    default: return GS_MARK_CROSS;
    }
}

/* Why a run is not on tanh's diagram (a row each; NULL: it is). */
typedef enum { PH_PLACED, PH_NOT_TANH, PH_NO_THEORY, PH_OUTSIDE, PH_N } phase_fate_t;
static const char *const phase_fates[PH_N] = {
    NULL, "use another activation (the diagram is tanh's)",
    "have no mean-field prediction (normalization, residual or recurrent)",
    "lie beyond the diagram (sigma_w^2 > 4.5 or sigma_b^2 > 0.3)",
};

static phase_fate_t phase_fate(const rp_run_t *r)
{
    if (r->sc->cell.model != GS_MODEL_MLP || r->sc->cell.act->kind != GS_ACT_TANH)
        return r->sc->cell.model == GS_MODEL_MLP ? PH_NOT_TANH : PH_NO_THEORY;
    if (!isfinite(r->chi1) || !isfinite(r->sigma_w2) || !isfinite(r->sigma_b2))
        return PH_NO_THEORY;
    if (r->sigma_w2 > PHASE_SW2_MAX || r->sigma_b2 > PHASE_SB2_MAX)
        return PH_OUTSIDE;
    return PH_PLACED;
}

/* sigma_b^2 on the edge of chaos where the fixed point is q, and the
 * sigma_w^2 there (*sw2): chi_1 = 1 gives sigma_w^2 = 1 / E[phi'(sqrt(q) z)^2],
 * and the fixed point's equation q = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2
 * gives sigma_b^2. */
static double edge_sb2(const gs_activation_t *act, double q, double *sw2)
{
    double d = gs_mf_e_dphi2(act, 0, q);
    *sw2 = 1.0 / d;
    return q - gs_mf_e_phi2(act, 0, q) / d;
}

/* The edge of chaos at sb2: the sigma_w^2 where chi_1 = 1, NaN when there
 * is none. Along the edge sigma_b^2 grows with q* (edge_sb2), so the q*
 * of sb2 is found by bisection over q, two expectations a step. Bisecting
 * over sigma_w^2 instead (gs_mf_critical_sw2) iterates the length map to
 * its fixed point at every step, which near the edge converges slowly: it
 * took 14 of the seed report's 22 s, and at sigma_b^2 = 0 stopped short of
 * q* = 0 (sigma_w^2 1.0015 instead of 1). Elsewhere the two agree to 1e-12. */
static double edge_sw2(const gs_activation_t *act, double sb2)
{
    double lo = 0.0, hi = 1.0, sw2;
    if (sb2 <= 0.0) {
        edge_sb2(act, 0.0, &sw2);
        return sw2;
    }
    for (int it = 0; edge_sb2(act, hi, &sw2) < sb2; it++) {
        if (it == 60)
            return NAN;
        hi *= 2.0;
    }
    for (int it = 0; it < 200 && hi - lo > 1e-15 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        if (edge_sb2(act, mid, &sw2) < sb2)
            lo = mid;
        else
            hi = mid;
    }
    edge_sb2(act, 0.5 * (lo + hi), &sw2);
    return sw2;
}

/* The diagram's theory: the background, ln chi_1 over (sigma_w^2,
 * sigma_b^2), row 0 at the top (the largest sigma_b^2), with every cell's
 * labels (the chart shows as many as fit); the edge of chaos at each
 * row's sigma_b^2 that lies on the map. */
typedef struct {
    double v[PHASE_ROWS * PHASE_COLS];
    char rlab[PHASE_ROWS][16], clab[PHASE_COLS][16];
    const char *rl[PHASE_ROWS], *cl[PHASE_COLS];
    double cx[PHASE_ROWS], cy[PHASE_ROWS];   /* the edge: sigma_w^2, sigma_b^2 */
    size_t nc;
} phase_grid_t;

static void phase_compute(phase_grid_t *g, const gs_activation_t *act, double dw, double db)
{
    for (int i = 0; i < PHASE_ROWS; i++) {
        double sb2 = (PHASE_ROWS - 1 - i) * db;
        snprintf(g->rlab[i], sizeof g->rlab[i], "%.3g", sb2);
        g->rl[i] = g->rlab[i];
        for (int j = 0; j < PHASE_COLS; j++)
            g->v[i * PHASE_COLS + j] = log(gs_meanfield(act, 0, (j + 1) * dw, sb2).chi1);
    }
    for (int j = 0; j < PHASE_COLS; j++) {
        snprintf(g->clab[j], sizeof g->clab[j], "%.3g", (j + 1) * dw);
        g->cl[j] = g->clab[j];
    }
    g->nc = 0;
    for (int i = 0; i < PHASE_ROWS; i++) {
        double sb2 = (PHASE_ROWS - 1 - i) * db, sw2 = edge_sw2(act, sb2);
        if (isfinite(sw2) && sw2 <= PHASE_SW2_MAX) {
            g->cx[g->nc] = sw2;
            g->cy[g->nc++] = sb2;
        }
    }
}

/* The diagram's theory depends on nothing but the grid: computed once
 * per process (576 fixed points and 16 bisections, about 0.4 s) and kept
 * for every experiment that draws the diagram - the seed sweep has six.
 * NULL: out of memory. */
static const phase_grid_t *phase_background(void)
{
    static phase_grid_t *grid;
    if (!grid && (grid = malloc(sizeof *grid)) != NULL)
        phase_compute(grid, gs_activation_find("tanh"), PHASE_SW2_MAX / PHASE_COLS,
                      PHASE_SB2_MAX / (PHASE_ROWS - 1));
    return grid;
}

void rp_chart_phase_prepare(void)
{
    phase_background();
}

/* The edge of chaos and the runs, in data units over the map (column j
 * is sigma_w^2 = (j+1) dw, row i is sigma_b^2 = (ROWS-1-i) db). */
static void phase_points(gs_chart_t *c, const phase_grid_t *g, const rp_run_t *const *runs,
                         size_t n)
{
    gs_chart_series(c, "edge of chaos (theory: chi_1 = 1)");
    gs_chart_line(c, g->cx, g->cy, g->nc, 6, GS_SOLID);   /* in black */
    for (size_t i = 0; i < n; i++) {
        /* the measured slope of ln ||dL/dh_l||: the gradient itself, not
         * grad_ratio (whose weight gradients can hide it: README) */
        double sl = runs[i]->measured_slope;
        int s = !isfinite(sl) ? 6 : sl < -SLOPE_FLAT ? 0 : sl > SLOPE_FLAT ? 3 : 2;
        char lab[400];
        snprintf(lab, sizeof lab, "%s (%s, measured slope %.3g)", runs[i]->label,
                 rp_diag_name(runs[i]->diagnosis), sl);
        gs_chart_series(c, lab);
        gs_chart_marker(c, runs[i]->sigma_w2, runs[i]->sigma_b2, s, phase_shape(runs[i]));
    }
}

/* The legend: what colours and shapes of the runs say (measured slope
 * per layer; the diagnosis, from grad_h_ratio). */
static void phase_legend(gs_chart_t *c)
{
    static const struct {
        const char *label;
        int series, key;
    } keys[] = {
        {"edge of chaos", 6, GS_SOLID},
        {"slope < -0.03", 0, GS_KEY_SQUARE},
        {"|slope| < 0.03", 2, GS_KEY_SQUARE},
        {"slope > 0.03", 3, GS_KEY_SQUARE},
        {"healthy", GS_SERIES_GREY, GS_KEY_SQUARE},
        {"vanishing", GS_SERIES_GREY, GS_KEY_CIRCLE},
        {"exploding", GS_SERIES_GREY, GS_KEY_CROSS},
        {"dead", GS_SERIES_GREY, GS_KEY_TRIANGLE},
    };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        gs_chart_legend_key(c, keys[k].label, keys[k].series, keys[k].key);
}

/* The caption's sentence on the runs left off, by reason; empty when
 * every run is placed. */
static void phase_unplaced(const size_t count[PH_N], char *buf, size_t len)
{
    size_t total = 0, l = 0;
    buf[0] = '\0';
    for (int f = PH_PLACED + 1; f < PH_N; f++)
        total += count[f];
    if (total == 0)
        return;
    l += (size_t)snprintf(buf, len, " %zu of the experiment's runs could not be placed:", total);
    for (int f = PH_PLACED + 1; f < PH_N && l < len; f++)
        if (count[f])
            l += (size_t)snprintf(buf + l, len - l, " %zu %s;", count[f], phase_fates[f]);
    if (l < len)
        buf[l - 1] = '.';
}

int rp_chart_phase(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out,
                   char *err, size_t errlen)
{
    /* only where the experiment moves along sigma_w^2 or sigma_b^2 */
    if (rp_axis_of(e, "gain") < 0 && rp_axis_of(e, "init") < 0 && rp_axis_of(e, "bias_std") < 0)
        return 0;
    const rp_run_t **runs = calloc(e->n_runs + 1, sizeof *runs);
    const phase_grid_t *g = NULL;
    int rc = 0;
    size_t n = 0, count[PH_N] = {0};
    for (size_t i = 0; runs && i < e->n_runs; i++) {
        if (!rp_usable(&e->runs[i]))
            continue;
        phase_fate_t f = phase_fate(&e->runs[i]);
        count[f]++;
        if (f == PH_PLACED)
            runs[n++] = &e->runs[i];
    }
    double dw = PHASE_SW2_MAX / PHASE_COLS, db = PHASE_SB2_MAX / (PHASE_ROWS - 1);
    if (n < 2 || (g = phase_background()) == NULL)
        goto done;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "phase", "tanh's order-to-chaos phase diagram, ln chi_1 "
                                   "(blue ordered, orange chaotic)", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 1, 1, 30);   /* the colour bar, then the keys */
    gs_chart_series(c, "ln chi_1 (theory)");
    gs_chart_heatmap(c, 0, PHASE_ROWS, PHASE_COLS, g->v, NULL, g->rl, g->cl, -0.4, 0.0, 0.4, "",
                     "sigma_w^2", "sigma_b^2", "ln chi_1");
    gs_chart_heatmap_units(c, dw, dw, (PHASE_ROWS - 1) * db, -db);
    phase_points(c, g, runs, n);
    phase_legend(c);
    char cap[1400], unplaced[400];
    phase_unplaced(count, unplaced, sizeof unplaced);
    snprintf(cap, sizeof cap,
             "The background is theory: ln chi_1 for tanh over sigma_w^2 (across) and "
             "sigma_b^2 (up), blue where gradients shrink layer after layer (ordered phase), "
             "orange where they grow (chaotic phase); the black line is the edge of chaos, "
             "chi_1 = 1 (sigma_w^2 = 1 at sigma_b = 0). The markers are this experiment's %zu "
             "tanh runs, coloured by the slope of ln ||dL/dh_l|| measured in them: blue "
             "shrinking by more than %.2f per layer toward the input, red growing by more, "
             "green in between; the shape is the run's diagnosis at initialization, decided by "
             "grad_h_ratio = ||dL/dh_1|| / ||dL/dh_depth|| (square healthy, circle vanishing, "
             "cross exploding, triangle dead). Where the background is blue the measured "
             "gradients shrink, where it is orange they grow; deep networks keep their "
             "gradient near the line.%s",
             n, SLOPE_FLAT, unplaced);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, runs, n, cap, out, err, errlen);
done:
    free(runs);
    return rc;
}

/* ---- 3. the Jacobian's singular values ---- */

#define MAX_SPECTRA 48

/* The density of log10 sigma of each spectrum=yes run, one panel per
 * depth, coloured by the experiment's first other axis and dashed by its
 * second. */
/* Run r's Jacobian spectrum as a density of log10 sigma into l: 0, or
 * -1 when it has none. */
static int spectrum_density(rp_model_t *m, const rp_run_t *r, rp_series_t *l, double *floor_)
{
    double lo, hi;
    if (!rp_usable(r) || !r->sc->cell.spectrum || r->sc->cell.repeat != 0 ||
        rp_hist(m, r, 0, gs_hist_quantity_names[GS_HIST_JACOBIAN], l, &lo, &hi) != 0)
        return -1;
    double total = 0, bw = (hi - lo) / (double)(l->n ? l->n : 1);
    for (size_t k = 0; k < l->n; k++)
        total += l->y[k];
    if (l->n == 0 || total <= 0) {
        rp_series_free(l);
        return -1;
    }
    for (size_t k = 0; k < l->n; k++)   /* counts -> density of log10 sigma */
        l->y[k] /= total * bw;
    /* the SVD's rounding floor: sigma_max n eps, n the larger side of J
     * (width x inputs; the width bounds it from below) */
    *floor_ = hi + log10((double)r->sc->cell.width * DBL_EPSILON);
    return 0;
}

/* Panel f (depth value f of axis fa): the spectra of its runs, coloured
 * by ca and dashed by da, on x range xy[0..1] and densities to xy[2],
 * and the SVD floor of its largest spectrum. */
static void spectrum_panel(gs_chart_t *c, const rp_exp_t *e, int f, const int axes[3],
                           const rp_series_t *lines, const rp_run_t *const *runs,
                           const double *floors, size_t n, const double xy[3], int first)
{
    int fa = axes[0], ca = axes[1], da = axes[2];
    char pt[64] = "";
    if (fa >= 0)
        snprintf(pt, sizeof pt, "depth %s", e->ex->axes[fa].values[f]);
    gs_chart_axes(c, f, xy[0], xy[1], 0, xy[2], 0, 0, "log10 sigma", first ? "density" : NULL, pt);
    double floor_ = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (fa >= 0 && rp_value_index(e, fa, runs[i]) != f)
            continue;
        gs_chart_series(c, runs[i]->label);
        gs_chart_line(c, lines[i].x, lines[i].y, lines[i].n, rp_value_index(e, ca, runs[i]),
                      rp_value_index(e, da, runs[i]) > 0);
        floor_ = fmax(floor_, floors[i]);
    }
    if (isfinite(floor_))
        gs_chart_vline(c, floor_, GS_SERIES_GREY, GS_DASHED, "SVD floor");
}

int rp_chart_spectrum(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out,
                      char *err, size_t errlen)
{
    rp_series_t lines[MAX_SPECTRA];
    const rp_run_t *runs[MAX_SPECTRA];
    double floors[MAX_SPECTRA];
    size_t n = 0;
    rp_range_t xr = {INFINITY, -INFINITY}, yr = {INFINITY, -INFINITY};
    for (size_t i = 0; i < e->n_runs && n < MAX_SPECTRA; i++) {
        if (spectrum_density(m, &e->runs[i], &lines[n], &floors[n]) != 0)
            continue;
        rp_range_add(&xr, lines[n].x, lines[n].n, 0);
        rp_range_add(&yr, lines[n].y, lines[n].n, 0);
        runs[n++] = &e->runs[i];
    }
    int rc = 0;
    if (n == 0)
        return 0;
    int fa = rp_axis_of(e, "depth"), ca = -1, da = -1;
    for (size_t a = 0; a < e->ex->n_axes; a++)
        if ((int)a != fa && strcmp(e->ex->axes[a].key, "spectrum") != 0) {
            if (ca < 0)
                ca = (int)a;
            else if (da < 0)
                da = (int)a;
        }
    int nf = fa >= 0 ? (int)e->ex->axes[fa].n_values : 1, nx, ny;
    rp_grid_for(nf, &nx, &ny);
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "spectrum", "singular values of the input-output Jacobian at "
                                   "initialization", &nm);
    if (!c)
        goto done;
    const gs_axis_t *cx = ca >= 0 ? &e->ex->axes[ca] : NULL;
    gs_chart_grid(c, nx, ny, cx ? rp_longest((const char *const *)cx->values, cx->n_values,
                                             "dashed: SVD rounding floor") : 26);
    /* the x axis spans every spectrum (a bin centre is half a bin inside
     * its histogram: reach the edges) */
    double half = 0.5 * (lines[0].n > 1 ? lines[0].x[1] - lines[0].x[0] : 0.2);
    for (int f = 0; f < nf; f++)
        spectrum_panel(c, e, f, (const int[3]){fa, ca, da}, lines, runs, floors, n,
                       (const double[3]){xr.lo - half, xr.hi + half, yr.hi * 1.05}, f % nx == 0);
    if (cx)
        rp_axis_legend(c, cx, MAX_SPECTRA);
    gs_chart_legend_key(c, "dashed: SVD rounding floor", GS_SERIES_GREY, GS_DASHED);
    char cap[1024], dash[256];
    int shown[3] = {fa, ca, rp_axis_of(e, "spectrum")};
    rp_unshown_note(e, shown, 3, da, dash, sizeof dash);
    snprintf(cap, sizeof cap,
             "The distribution of the singular values sigma of dx_depth/dx_0 (log10 scale) at "
             "one input, per depth. Dynamical isometry (Pennington et al. 2017) is all of them "
             "near 1 (log10 sigma = 0): a gradient then keeps its size and its direction through "
             "every layer. Orthogonal weights at the edge of chaos stay concentrated as the "
             "network deepens; Gaussian weights spread over decades even when the mean is "
             "right, and ReLU's dead units put singular values at 0 (off the chart). The grey "
             "dashed line is the SVD's rounding floor, n eps sigma_max of the panel's largest "
             "spectrum (n the width): singular values left of it are zeros in exact arithmetic, "
             "not measurements.%s",
             dash);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, runs, n, cap, out, err, errlen);
done:
    rp_series_free_all(lines, n);
    return rc;
}

/* ---- the prediction of ||dL/dh_l|| drawn over the gradient flow ---- */

/* Backpropagation through layer l multiplies E||dL/dh||^2 by
 * chi(q_l) = sigma_w^2 E[phi'(sqrt(q_l) z)^2], with q_l from the length
 * map q_l = sigma_w^2 E[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2 (layer 1 fed
 * inputs of unit mean square: q_1 = sigma_w^2 + sigma_b^2). So
 * ln ||dL/dh_l|| = ln ||dL/dh_depth|| + 1/2 sum_{k=l}^{depth-1} ln chi(q_k),
 * anchored at the measured last layer. Only mlps without norm or
 * residual: the theory does not cover those. */
int rp_flow_theory(const rp_run_t *r, const rp_series_t *l, double *y)
{
    const gs_cell_t *c = &r->sc->cell;
    size_t D = (size_t)c->depth;
    if (c->model != GS_MODEL_MLP || c->norm != GS_NORM_NONE || c->residual || D < 2 ||
        !isfinite(r->sigma_w2) || !isfinite(r->sigma_b2) || l->n == 0 || l->x[l->n - 1] != (double)D ||
        !(l->y[l->n - 1] > 0) || !isfinite(l->y[l->n - 1]))
        return -1;
    double *lg = malloc((D + 1) * sizeof *lg), *chi = malloc((D + 1) * sizeof *chi);
    if (!lg || !chi) {
        free(lg);
        free(chi);
        return -1;
    }
    double sw2 = r->sigma_w2, sb2 = r->sigma_b2, q = sw2 + sb2;
    for (size_t k = 1; k <= D; k++) {
        chi[k] = sw2 * gs_mf_e_dphi2(c->act, c->act_param, q);
        q = sw2 * gs_mf_e_phi2(c->act, c->act_param, q) + sb2;
    }
    lg[D] = log(l->y[l->n - 1]);
    for (size_t k = D - 1; k >= 1; k--)
        lg[k] = lg[k + 1] + 0.5 * log(chi[k]);
    for (size_t i = 0; i < l->n; i++) {
        double x = l->x[i];
        y[i] = x >= 1 && x <= (double)D && x == floor(x) ? exp(lg[(size_t)x]) : NAN;
    }
    free(lg);
    free(chi);
    return 0;
}
