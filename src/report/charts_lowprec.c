/* Low precision (issue 20): for an experiment probed or trained with
 * format_stats=yes, the share of each hidden layer's dL/dh that float16,
 * bfloat16, e5m2 and e4m3 would round to zero, at the first measured
 * step - one panel a format, one line a configuration - and a caption
 * computed from the same rows: per format, how many configurations lose
 * more than half of some layer's gradient, and down from which layer.
 * When the experiment varies depth, a second chart: the loss-scale window
 * of dL/dh against depth per format, GradScaler's 2^16 drawn, its caption
 * naming the depths where the window is empty. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/format.h"
#include "report/charts.h"

/* the formats drawn (float32 flushes nothing a double net produces here) */
static const gs_fmt_id_t shown[] = {GS_FMT_FLOAT16, GS_FMT_BFLOAT16, GS_FMT_E5M2, GS_FMT_E4M3};
#define N_SHOWN (sizeof shown / sizeof *shown)
#define CAPTION_EXAMPLES 4   /* configurations named per format */

int rp_lowprec_half_lost(const rp_series_t *s)
{
    int k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->y[i] > 0.5 && s->x[i] > k)
            k = (int)s->x[i];
    return k;
}

long rp_lowprec_from_output(const rp_series_t *s, long depth)
{
    int k = s->n ? rp_lowprec_half_lost(s) : 0;
    return k > 0 ? depth - k + 1 : 0;
}

const char *rp_ordinal(long n)
{
    if (n % 100 >= 11 && n % 100 <= 13)
        return "th";
    return n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
}

/* Mean-field theory's layer, counted from the output (the top hidden
 * layer first), where the median |dL/dh| of run r falls below format f's
 * flush threshold min_subnormal/2 (float16: 2^-25): E[g^2] shrinks by
 * chi1 a layer, so |g| by sqrt(chi1), and the median starts at 0.6745
 * sigma of the top hidden layer, sigma = grad_pre_norm / sqrt(batch
 * width) (a Gaussian's median |g|). Below 1 when the top layer's median
 * is already under the threshold; NaN where it does not apply (no
 * chi1 < 1, no top gradient, not an MLP). */
double rp_lowprec_chi1_layer(rp_model_t *m, const rp_run_t *r, gs_fmt_id_t f)
{
    const gs_cell_t *c = &r->sc->cell;
    rp_series_t s;
    if (c->model != GS_MODEL_MLP || !(r->chi1 > 0 && r->chi1 < 1) ||
        rp_layer_series(m, r, "grad_pre_norm", &s) != 0)
        return NAN;   /* chi1 per layer, batch x width values a layer: the MLP's */
    double top = s.n ? s.y[s.n - 1] : NAN;
    rp_series_free(&s);
    double median = RP_GAUSS_MEDIAN_ABS * top / sqrt((double)c->batch * (double)c->width);
    if (!(median > 0) || !isfinite(median))
        return NAN;
    return 1.0 + 2.0 * log(median / (gs_formats[f].min_subnormal / 2)) / -log(r->chi1);
}

/* The caption's sentence on format f from its lines: the configurations
 * that lose more than half of some layer's gradient, the first few named
 * with the layers lost and the first such layer counted from the output. */
static void format_sentence(rp_model_t *m, const rp_exp_t *e, const rp_lineset_t *ls,
                            gs_fmt_id_t f, char *buf, size_t len)
{
    size_t n_lines = 0, n_lost = 0, used = 0;
    char examples[700] = "";
    for (size_t i = 0; i < ls->n_runs; i++) {
        if (!ls->lines[i].n)
            continue;
        n_lines++;
        int k = rp_lowprec_half_lost(&ls->lines[i]);
        if (k == 0)
            continue;
        long depth = e->runs[i].sc->cell.depth;
        if (n_lost++ >= CAPTION_EXAMPLES)
            continue;
        used += (size_t)snprintf(examples + used, used < sizeof examples ? sizeof examples - used : 0,
                                 "%s%s: layers 1-%d of %ld, the %ld%s from the output",
                                 used ? "; " : "", e->runs[i].config_label, k, depth,
                                 depth - k + 1, rp_ordinal(depth - k + 1));
        double pred = f == GS_FMT_FLOAT16 ? rp_lowprec_chi1_layer(m, &e->runs[i], f) : NAN;
        if (isfinite(pred) && pred >= 1 && used < sizeof examples)
            used += (size_t)snprintf(examples + used, sizeof examples - used,
                                     ", chi1 predicts %.1f", pred);
    }
    if (n_lost == 0)
        snprintf(buf, len, " %s: no layer loses more than half of its gradient (%zu "
                 "configurations).", gs_fmt_names[f], n_lines);
    else
        snprintf(buf, len, " %s: more than half of the gradient flushed to zero in %zu of %zu "
                 "configurations (%s%s).", gs_fmt_names[f], n_lost, n_lines, examples,
                 n_lost > CAPTION_EXAMPLES ? "; ..." : "");
}

/* the formats of the window chart: those whose windows are narrow */
static const gs_fmt_id_t window_shown[] = {GS_FMT_FLOAT16, GS_FMT_E5M2, GS_FMT_E4M3};
#define N_WINDOW (sizeof window_shown / sizeof *window_shown)
#define MAX_DEPTHS 64
/* the window chart's symbol per colour, each visible over the others */
static const int window_marks[] = {GS_MARK_CIRCLE, GS_MARK_CROSS, GS_MARK_TRIANGLE,
                                   GS_MARK_SQUARE};
#define N_WINDOW_MARKS (sizeof window_marks / sizeof *window_marks)

/* The window chart: per format a panel, per value of the colour axis the
 * window's lower end (solid) and upper end (dashed) against depth, from
 * the first repeat of every configuration. */
static int chart_window(rp_model_t *m, rp_exp_t *e, int ca, const char *dir, rp_charts_t *out,
                        char *err, size_t errlen)
{
    int da = rp_axis_of(e, "depth");
    if (da < 0 || e->n_runs > 4096)
        return 0;
    if (ca == da)
        ca = -1;   /* depth is the x axis: one colour */
    int nc = ca >= 0 ? (int)e->ex->axes[ca].n_values : 1;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "loss-scale", "the loss-scale window of dL/dh against depth",
                                   &nm);
    if (!c)
        return 0;
    gs_chart_grid(c, 2, 2, 24);
    const rp_run_t *used[4096];
    size_t n_used = 0;
    char cap[2048];
    size_t len = (size_t)snprintf(cap, sizeof cap,
        "The powers of two 2^k by which the loss could be scaled so that no layer loses more "
        "than 0.1%% of its nonzero dL/dh to zero (lower end, solid) and none overflows (upper "
        "end, dashed), per format, against depth, each depth's ends marked with the colour's "
        "symbol (where two colours' ends coincide, both symbols show); the dotted grey line "
        "is 2^16, GradScaler's initial scale. Where the lower end lies above the upper, the window is empty: no "
        "single loss scale saves the network.");
    for (size_t k = 0; k < N_WINDOW; k++) {
        const char *fname = gs_fmt_names[window_shown[k]];
        double xs[MAX_DEPTHS], lo[MAX_DEPTHS], hi[MAX_DEPTHS], ymin = 16, ymax = 16;
        /* the points of every colour value, then each one's lines */
        double pts[RP_MAX_LINES][MAX_DEPTHS][3];
        int npts[RP_MAX_LINES] = {0};
        for (size_t i = 0; i < e->n_runs; i++) {
            const rp_run_t *r = &e->runs[i];
            int ci = rp_value_index(e, ca, r);
            rp_series_t s;
            if (r->sc->cell.repeat != 0 || !rp_usable(r) || ci >= RP_MAX_LINES ||
                npts[ci] >= MAX_DEPTHS || rp_scale_window(m, r, fname, &s) != 0)
                continue;
            if (s.n == 1) {
                double *p = pts[ci][npts[ci]++];
                p[0] = (double)r->sc->cell.depth;
                p[1] = s.x[0];
                p[2] = s.y[0];
                ymin = fmin(ymin, fmin(s.x[0], s.y[0]));
                ymax = fmax(ymax, fmax(s.x[0], s.y[0]));
                if (k == 0 && n_used < 4096)
                    used[n_used++] = r;
            }
            rp_series_free(&s);
        }
        double dmin = INFINITY, dmax = -INFINITY;
        for (int ci = 0; ci < nc && ci < RP_MAX_LINES; ci++)
            for (int j = 0; j < npts[ci]; j++) {
                dmin = fmin(dmin, pts[ci][j][0]);
                dmax = fmax(dmax, pts[ci][j][0]);
            }
        if (!(dmin <= dmax))
            dmin = dmax = 1;
        /* room beside the first and last depths for their markers */
        gs_chart_axes(c, (int)k, dmin - 0.05 * (dmax - dmin) - 1, dmax + 0.05 * (dmax - dmin) + 1,
                      ymin - 4, ymax + 4, GS_AXIS_INT, 0, "depth",
                      k % 2 == 0 ? "log2 of the loss scale" : NULL, fname);
        gs_chart_hline(c, 16, GS_SERIES_GREY, GS_THEORY, NULL);   /* its key: the legend's */
        char empty[600] = "";
        size_t el = 0;
        for (int ci = 0; ci < nc && ci < RP_MAX_LINES; ci++) {
            int n = npts[ci];
            /* by depth, as the sweep's values may come in any order */
            for (int a = 1; a < n; a++)
                for (int b = a; b > 0 && pts[ci][b - 1][0] > pts[ci][b][0]; b--)
                    for (int q = 0; q < 3; q++) {
                        double t = pts[ci][b][q];
                        pts[ci][b][q] = pts[ci][b - 1][q];
                        pts[ci][b - 1][q] = t;
                    }
            char depths[200] = "";
            size_t dl = 0;
            for (int j = 0; j < n; j++) {
                xs[j] = pts[ci][j][0];
                lo[j] = pts[ci][j][1];
                hi[j] = pts[ci][j][2];
                if (lo[j] > hi[j] && dl < sizeof depths)
                    dl += (size_t)snprintf(depths + dl, sizeof depths - dl, "%s%g",
                                           dl ? ", " : "", xs[j]);
            }
            if (n == 0)
                continue;
            gs_chart_line(c, xs, lo, (size_t)n, ci, GS_SOLID);
            gs_chart_line(c, xs, hi, (size_t)n, ci, GS_DASHED);
            /* both ends marked, a symbol per colour: where two colours'
             * ends coincide (sigmoid's and tanh's upper ends in float16)
             * one line hides the other, their symbols do not */
            for (int j = 0; j < n; j++) {
                gs_chart_marker(c, xs[j], lo[j], ci, window_marks[ci % N_WINDOW_MARKS] | GS_MARK_SMALL);
                gs_chart_marker(c, xs[j], hi[j], ci, window_marks[ci % N_WINDOW_MARKS] | GS_MARK_SMALL);
            }
            if (dl && el < sizeof empty)
                el += (size_t)snprintf(empty + el, sizeof empty - el, "%s%s%sdepth %s",
                                       el ? "; " : "", ca >= 0 ? e->ex->axes[ca].values[ci] : "",
                                       ca >= 0 ? " at " : "", depths);
        }
        if (len < sizeof cap)
            len += (size_t)snprintf(cap + len, sizeof cap - len, " %s: %s%s.", fname,
                                    el ? "empty for " : "never empty here", empty);
    }
    if (ca >= 0) {   /* the colours with their symbols */
        const gs_axis_t *ax = &e->ex->axes[ca];
        int series[RP_MAX_LINES], style[RP_MAX_LINES];
        size_t nv = ax->n_values < RP_MAX_LINES ? ax->n_values : RP_MAX_LINES;
        for (size_t v = 0; v < nv; v++) {
            series[v] = (int)v;
            style[v] = GS_KEY_CROSS + window_marks[v % N_WINDOW_MARKS];
        }
        gs_chart_legend(c, nv, (const char *const *)ax->values, series, style, ax->key);
    }
    gs_chart_legend_key(c, "lower end", GS_SERIES_GREY, GS_SOLID);
    gs_chart_legend_key(c, "upper end", GS_SERIES_GREY, GS_DASHED);
    gs_chart_legend_key(c, "2^16 (GradScaler)", GS_SERIES_GREY, GS_THEORY);
    return rp_chart_publish(c, m, dir, nm.file, nm.title, used, n_used, cap, out, err, errlen);
}

/* ---- the layer x format heatmaps ---- */

/* The two maps: dL/dh (the finding's and the line chart's tensor) and
 * dL/dW; columns the shown formats, labelled short enough for a panel
 * (the caption spells them out). */
static const struct {
    const char *tensor, *kind, *what, *words;
} flush_maps[2] = {
    {"grad_activation", "flush-map", "share of each layer's dL/dh flushed to zero, by format",
     "backpropagated gradient dL/dh_l"},
    {"grad_weight", "flush-map-w", "share of each layer's dL/dW flushed to zero, by format",
     "weight gradient dL/dW_l"},
};
static const char *const short_fmt[GS_N_FMT] = {
    [GS_FMT_FLOAT32] = "f32", [GS_FMT_BFLOAT16] = "bf16", [GS_FMT_FLOAT16] = "f16",
    [GS_FMT_E5M2] = "e5m2", [GS_FMT_E4M3] = "e4m3"};
#define HEAT_PANELS 9          /* configurations drawn (repeat 0 of each) */
#define HEAT_MAX_DEPTH 200     /* rows of a panel, at most */
#define MARK_SHIFT 0.3         /* the marks' offset left of a cell's centre, in cells */

/* A panel's cells: row j format shown[j], column i the layer i+1
 * counted from the output; NaN where no row. *half: per column, the measured
 * layer from the output losing more than half (0: none). -1 when the run
 * has no rows. */
static int heat_cells(rp_model_t *m, const rp_run_t *r, const char *tensor, double *v,
                      long *half)
{
    long depth = r->sc->cell.depth;
    for (long i = 0; i < depth * (long)N_SHOWN; i++)
        v[i] = NAN;
    size_t found = 0;
    for (size_t j = 0; j < N_SHOWN; j++) {
        rp_series_t s;
        if (rp_format_tensor_zero_series(m, r, tensor, gs_fmt_names[shown[j]], &s) != 0)
            return -1;
        for (size_t q = 0; q < s.n; q++) {
            long l = (long)s.x[q];
            if (l >= 1 && l <= depth)
                v[(long)j * depth + (depth - l)] = s.y[q];
        }
        found += s.n;
        half[j] = rp_lowprec_from_output(&s, depth);
        rp_series_free(&s);
    }
    return found ? 0 : -1;
}

/* Map t of flush_maps: a panel per configuration (its first repeat),
 * rows the formats, columns the layers from the output (a panel is
 * wider than tall: the layers' labels thin, the formats' stay); on the dL/dh map
 * the finding's layer (x) and chi1's (o) in each column. */
static int chart_flush_map(rp_model_t *m, rp_exp_t *e, size_t t, const char *dir,
                           rp_charts_t *out, char *err, size_t errlen)
{
    const rp_run_t *runs[HEAT_PANELS];
    size_t n = 0, n_more = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        rp_series_t z;
        if (r->sc->cell.repeat != 0 || !rp_usable(r) || r->sc->cell.depth < 1 ||
            r->sc->cell.depth > HEAT_MAX_DEPTH ||
            rp_format_tensor_zero_series(m, r, flush_maps[t].tensor, gs_fmt_names[shown[0]],
                                         &z) != 0)
            continue;
        size_t has_rows = z.n;
        rp_series_free(&z);
        if (!has_rows)
            continue;
        if (n < HEAT_PANELS)
            runs[n++] = r;
        else
            n_more++;
    }
    if (!n)
        return 0;
    double *v = malloc((size_t)HEAT_MAX_DEPTH * N_SHOWN * sizeof *v);
    char (*llab)[16] = calloc(HEAT_MAX_DEPTH, sizeof *llab);
    const char **ll = calloc(HEAT_MAX_DEPTH, sizeof *ll);
    int rc = 0;
    if (!v || !llab || !ll)
        goto done;
    for (size_t l = 0; l < HEAT_MAX_DEPTH; l++) {   /* thinned by the chart where they overlap */
        snprintf(llab[l], sizeof llab[l], "%zu", l + 1);
        ll[l] = llab[l];
    }
    const char *fl[N_SHOWN];
    for (size_t j = 0; j < N_SHOWN; j++)
        fl[j] = short_fmt[shown[j]];
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, flush_maps[t].kind, flush_maps[t].what, &nm);
    if (!c)
        goto done;
    int nx, ny, marks = t == 0, marked = 0, circled = 0;
    rp_grid_for((int)n, &nx, &ny);
    gs_chart_grid(c, nx, ny, marks ? 24 : 12);
    const rp_run_t *drawn[HEAT_PANELS];
    size_t n_drawn = 0;
    for (size_t k = 0; k < n; k++) {
        const rp_run_t *r = runs[k];
        long half[N_SHOWN], depth = r->sc->cell.depth;
        if (heat_cells(m, r, flush_maps[t].tensor, v, half) != 0)
            continue;
        drawn[n_drawn++] = r;
        gs_chart_series(c, r->label);
        gs_chart_heatmap(c, (int)k, N_SHOWN, (size_t)depth, v, NULL, fl, ll, 0, 0.5, 1, "%.2f",
                         r->label, k % (size_t)nx == 0 ? "format" : "", "share flushed to zero");
        /* cell coordinates now; the marks left of a cell's centre (where a
         * wide cell prints its number), none in a net of one layer */
        for (size_t j = 0; marks && depth > 1 && j < N_SHOWN; j++) {
            if (half[j] > 0 && ++marked)
                gs_chart_marker(c, (double)(half[j] - 1) - MARK_SHIFT, (double)j,
                                GS_SERIES_GREY, GS_MARK_CROSS);
            double pred = rp_lowprec_chi1_layer(m, r, shown[j]);
            if (isfinite(pred) && pred >= 1 && pred <= (double)depth && ++marked && ++circled)
                gs_chart_marker(c, pred - 1 - MARK_SHIFT, (double)j, GS_SERIES_GREY,
                                GS_MARK_CIRCLE);
        }
    }
    if (marked)
        gs_chart_legend_key(c, "first > 1/2", GS_SERIES_GREY, GS_KEY_CROSS);
    if (circled)   /* none where theory has no chi1 (a transformer) */
        gs_chart_legend_key(c, "chi1's", GS_SERIES_GREY, GS_KEY_CIRCLE);
    char cap[1200];
    snprintf(cap, sizeof cap,
             "Per configuration (its first repeat), the share of each hidden layer's nonzero "
             "%s values that a format rounds to zero at the first measured step: columns are "
             "layers counted from the output (1, at the left: the top hidden layer), rows "
             "float16 (f16), bfloat16 (bf16), e5m2 and e4m3. White is one half; orange: more is lost, blue: "
             "less. A run computed in a format (precision) counts values already rounded to it: "
             "its own format's row is the share of its values that are zero.%s%s%s",
             flush_maps[t].words,
             !marked ? "" : circled ? " In each row the cross marks the findings' layer - the "
                                      "first from the output losing more than half - and the "
                                      "circle the layer mean-field theory predicts from chi1 "
                                      "(where it falls inside the net)."
                                    : " In each row the cross marks the findings' layer - the "
                                      "first from the output losing more than half.",
             runs[0]->sc->cell.model == GS_MODEL_TRANSFORMER
                 ? " A transformer's layer is a block: its dL/dh is dL/dx of the residual stream "
                   "entering the block (block_stats' grad_x_norm), its dL/dW the gradients of "
                   "its attention's and MLP's matrices together." : "",
             n_more ? " Only the first configurations are drawn." : "");
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, drawn, n_drawn, cap, out, err, errlen);
done:
    free(v);
    free(llab);
    free(ll);
    return rc;
}

/* The line chart: a panel a format, a line a configuration, the caption
 * from the same lines. */
static int chart_lines(rp_model_t *m, rp_exp_t *e, rp_lineset_t *ls, int ca, const char *dir,
                       rp_charts_t *out, char *err, size_t errlen)
{
    int shown_axes[2] = {ca, rp_axis_of(e, "depth")};
    char note[512];
    rp_unshown_note(e, shown_axes, 2, -1, note, sizeof note);
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "lowprec", "share of each layer's dL/dh flushed to zero "
                                   "by low-precision formats", &nm);
    if (!c)
        return 0;
    gs_chart_grid(c, 2, 2, ca >= 0 ? 24 : 0);
    char cap[2048];
    size_t used = (size_t)snprintf(cap, sizeof cap,
        "The share of each hidden layer's backpropagated gradient dL/dh_l (a recurrent "
        "layer's: dL/dz over all time steps) that each format would round to zero (round-to-nearest-even from the double value; float16 flushes "
        "|x| <= 2^-25, bfloat16 2^-134, e5m2 2^-17, e4m3 2^-10), at the first measured step, "
        "one line a configuration (depth shows as the length of a line). For float16, "
        "mean-field theory's layer is given beside the measured one: the median |dL/dh| "
        "falls below 2^-25 about 2 ln(median |g_top| 2^25) / (-ln chi1) layers under the top "
        "hidden layer. A run computed in a format (precision) counts values already rounded "
        "to it: its line in its own format is the share of its values that are zero.");
    for (size_t k = 0; k < N_SHOWN; k++) {
        double max_depth = ls[k].x.hi;
        gs_chart_axes(c, (int)k, 1, max_depth < 2 ? 2 : max_depth, 0, 1, GS_AXIS_INT, 0,
                      "layer l (1 = next to the input)", k % 2 == 0 ? "share flushed to zero" : NULL,
                      gs_fmt_names[shown[k]]);
        for (size_t i = 0; i < ls[k].n_runs; i++)
            if (ls[k].lines[i].n)
                rp_lineset_draw(c, &ls[k], i, rp_value_index(e, ca, &e->runs[i]), 0);
        gs_chart_hline(c, 0.5, GS_SERIES_GREY, GS_DASHED, k == 0 ? "half" : NULL);
        if (used < sizeof cap)
            format_sentence(m, e, &ls[k], shown[k], cap + used, sizeof cap - used);
        used = strlen(cap);
    }
    if (ca >= 0)
        rp_axis_legend(c, &e->ex->axes[ca], RP_MAX_LINES);
    if (used < sizeof cap)
        snprintf(cap + used, sizeof cap - used, "%s", note);
    return rp_chart_publish(c, m, dir, nm.file, nm.title, ls[0].used, ls[0].n_used, cap, out, err,
                            errlen);
}

int rp_chart_lowprec(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                     size_t errlen)
{
    const rp_run_t *r0 = rp_first_usable(e);
    if (!r0 || !r0->sc->cell.format_stats)
        return 0;   /* recurrent too: a stacked layer's dL/dz over all time steps */
    rp_lineset_t ls[N_SHOWN];
    size_t loaded = 0;
    int rc = 0;
    for (; loaded < N_SHOWN; loaded++)
        if (rp_lineset_load(&ls[loaded], m, e, e->n_runs, rp_format_zero_series,
                            gs_fmt_names[shown[loaded]]) != 0)
            goto done;   /* no rows (an older database): no chart */
    /* the colours: the activation's values, else the first axis that is
     * not depth (the x of the window chart; a transformer's ln) */
    int ca = rp_axis_of(e, "activation");
    for (size_t a = 0; ca < 0 && a < e->ex->n_axes; a++)
        if (strcmp(e->ex->axes[a].key, "depth") != 0)
            ca = (int)a;
    if (ca < 0 && e->ex->n_axes > 0)
        ca = 0;
    /* nets of one hidden layer (the recurrent probes): no lines to draw,
     * the maps say it */
    if (ls[0].x.hi >= 2)
        rc = chart_lines(m, e, ls, ca, dir, out, err, errlen);
    for (size_t t = 0; rc == 0 && t < 2; t++)
        rc = chart_flush_map(m, e, t, dir, out, err, errlen);
    if (rc == 0)
        rc = chart_window(m, e, ca, dir, out, err, errlen);
done:
    for (size_t k = 0; k < loaded; k++)
        rp_lineset_free(&ls[k]);
    return rc;
}
