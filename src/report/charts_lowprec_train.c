/* Reduced-precision runs (issue 20, precision=): two line charts, one
 * line a configuration (the median over its repeats with the 10-90% band,
 * charts_lines.c), labelled in words (the format, where the weights are
 * kept, how the update is rounded, the loss scale):
 *  - "lost-updates": the share of the hidden layers' nonzero weight
 *    updates that rounded back to the stored weight (train_layer_log.
 *    lost_update_frac, the mean over layers 1..depth) against the step;
 *  - "twin-error": the relative error of ||dL/dh_l|| against the float64
 *    twin's (layer_stats.twin_rel_err at step 0) per layer, log y.
 * The captions' numbers, and findings_lowprec_train.c's, come from the
 * same lines through the helpers below. A database without these columns
 * or rows draws neither chart. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/format.h"
#include "report/chart.h"
#include "report/charts.h"
#include "report/findings.h"

/* the thresholds of the twin chart's caption and finding, and its lines */
const double rp_twin_thresholds[RP_N_TWIN_THRESHOLDS] = {0.01, 0.1};

/* The parts of run r's words: its format, where its weights are kept and
 * how they are rounded (training), its loss scale, then every other axis
 * of e as key=value. Their count. */
#define MAX_PARTS 12
typedef char part_t[64];
static size_t precision_parts(const rp_exp_t *e, const rp_run_t *r, part_t *p)
{
    const gs_cell_t *c = &r->sc->cell;
    const char *fmt = gs_precision_names[c->precision];
    size_t n = 0;
    snprintf(p[n++], sizeof *p, "%s", fmt);
    if (c->task == GS_TASK_TRAIN && c->precision > 0) {
        snprintf(p[n++], sizeof *p, "weights in %s",
                 c->master_weights == GS_MASTER_SAME ? fmt : gs_master_names[c->master_weights]);
        snprintf(p[n++], sizeof *p, "%s", c->rounding == GS_ROUND_STOCHASTIC
                                              ? "stochastic rounding" : "round to nearest");
    }
    if (c->loss_scale == GS_LOSS_SCALE_DYNAMIC)
        snprintf(p[n++], sizeof *p, "dynamic loss scale");
    else if (c->loss_scale > 0)
        snprintf(p[n++], sizeof *p, "loss scale %g", c->loss_scale);
    else if (c->precision > 0)
        snprintf(p[n++], sizeof *p, "no loss scale");
    static const char *const said[] = {"precision", "master_weights", "rounding", "loss_scale"};
    for (size_t a = 0; a < e->ex->n_axes && n < MAX_PARTS; a++) {
        const gs_axis_t *ax = &e->ex->axes[a];
        int other = 1;
        for (size_t k = 0; k < sizeof said / sizeof *said; k++)
            other &= strcmp(ax->key, said[k]) != 0;
        if (other) {   /* cut to fit, as a label is */
            p[n][0] = '\0';
            rp_appendf(p[n++], sizeof *p, "%s=%s", ax->key,
                       ax->values[rp_value_index(e, (int)a, r)]);
        }
    }
    return n;
}

void rp_precision_words(const rp_exp_t *e, const rp_run_t *r, char *buf, size_t len)
{
    part_t p[MAX_PARTS];
    size_t n = precision_parts(e, r, p);
    buf[0] = '\0';
    for (size_t k = 0; k < n; k++)
        rp_appendf(buf, len, "%s%s", k ? ", " : "", p[k]);
}

double rp_series_mean(const rp_series_t *s)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (isfinite(s->y[i])) {
            sum += s->y[i];
            n++;
        }
    return n ? sum / (double)n : NAN;
}

long rp_twin_first_over(const rp_series_t *s, long depth, double threshold)
{
    long best = 0;   /* the highest layer over: the first from the output */
    for (size_t i = 0; i < s->n; i++)
        if (s->y[i] > threshold && (long)s->x[i] > best)
            best = (long)s->x[i];
    return best > 0 ? depth - best + 1 : 0;
}

double rp_twin_growth(const rp_series_t *s, long depth, size_t *n_fit)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!(s->y[i] > 0 && s->y[i] < 1))
            continue;   /* exact, or the gradient lost whole: no rate */
        double k = (double)depth - s->x[i] + 1, v = log(s->y[i]);
        sx += k;
        sy += v;
        sxx += k * k;
        sxy += k * v;
        n++;
    }
    *n_fit = n;
    double den = (double)n * sxx - sx * sx;
    return n >= 2 && den > 0 ? exp(((double)n * sxy - sx * sy) / den) : NAN;
}

/* Every second configuration dashed: where two lines coincide (a static
 * and a dynamic loss scale that never overflows) both stay visible. */
#define LINE_STYLE(d) ((d) % 2 ? GS_DASHED : GS_SOLID)

/* Each drawn configuration's line with its words, the solid ones first
 * so that a dashed line shows over one it coincides with; the series
 * index is the configuration's place among the drawn. */
static void draw_lines(gs_chart_t *c, const rp_exp_t *e, const rp_lineset_t *ls)
{
    char words[256];
    for (size_t pass = 0; pass < 2; pass++)
        for (size_t d = pass; d < ls->n_drawn && d < RP_MAX_LINES; d += 2) {
            size_t i = (size_t)(ls->drawn[d] - e->runs);
            const rp_series_t *l = &ls->lines[i];
            rp_precision_words(e, &e->runs[i], words, sizeof words);
            gs_chart_series(c, words);
            if (ls->lo[i])
                gs_chart_line_band(c, l->x, l->y, ls->lo[i], ls->hi[i], l->n, (int)d,
                                   LINE_STYLE(d));
            else
                gs_chart_line(c, l->x, l->y, l->n, (int)d, LINE_STYLE(d));
        }
}

/* The drawn configurations' legend labels (labels[d] = words[d]): the
 * parts of their words that differ between them (the format when none
 * does), so that a label fits the legend; their count. */
static size_t config_words(const rp_exp_t *e, const rp_lineset_t *ls, char (*words)[256],
                           const char **labels)
{
    size_t n = ls->n_drawn < RP_MAX_LINES ? ls->n_drawn : RP_MAX_LINES;
    part_t p0[MAX_PARTS], p[MAX_PARTS];
    size_t n0 = n ? precision_parts(e, ls->drawn[0], p0) : 0;
    int differs[MAX_PARTS] = {0};
    for (size_t d = 1; d < n; d++) {
        size_t np = precision_parts(e, ls->drawn[d], p);
        for (size_t k = 0; k < MAX_PARTS; k++)
            differs[k] |= k < np && k < n0 ? strcmp(p[k], p0[k]) != 0 : (k < np) != (k < n0);
    }
    for (size_t d = 0; d < n; d++) {
        size_t np = precision_parts(e, ls->drawn[d], p);
        words[d][0] = '\0';
        for (size_t k = 0; k < np; k++)
            if (differs[k] || (k == 0 && n == 1))
                rp_appendf(words[d], sizeof words[d], "%s%s", words[d][0] ? ", " : "", p[k]);
        if (!words[d][0])
            snprintf(words[d], sizeof words[d], "%s", p[0]);
        labels[d] = words[d];
    }
    return n;
}

/* Begin a one-panel chart whose legend holds the configurations' words. */
static void words_grid(gs_chart_t *c, const char *const *labels, size_t n)
{
    gs_chart_grid(c, 1, 1, rp_longest(labels, n, "configuration"));
}

/* A legend of the drawn configurations in words. */
static void words_legend(gs_chart_t *c, const rp_exp_t *e, const rp_lineset_t *ls,
                         const char *const *labels, size_t n)
{
    int series[RP_MAX_LINES], style[RP_MAX_LINES];
    for (size_t d = 0; d < n; d++) {
        series[d] = (int)d;
        style[d] = LINE_STYLE(d);
    }
    gs_chart_legend(c, n, labels, series, style, "configuration");
    if (ls->bands)
        rp_line_keys(c, e, -1, 1, 0);
}

/* A chart of this file: its lines, their legend labels, the chart. */
typedef struct {
    rp_lineset_t ls;
    char words[RP_MAX_LINES][256];
    const char *labels[RP_MAX_LINES];
    size_t n_words;
    gs_chart_t *c;
    rp_chart_name_t nm;
} lines_chart_t;

/* Load column's lines through load and begin chart kind with one panel
 * and the legend's room: 0; -1 (nothing to free) when no configuration
 * has a line (no such rows, or an older database without the column) or
 * the chart cannot begin. */
static int lines_start(lines_chart_t *k, rp_model_t *m, const rp_exp_t *e, rp_loader_t load,
                       const char *column, const char *kind, const char *what)
{
    if (rp_lineset_load(&k->ls, m, e, e->n_runs, load, column) != 0)
        return -1;
    k->n_words = config_words(e, &k->ls, k->words, k->labels);
    if (!(k->c = rp_chart_start(e, kind, what, &k->nm))) {
        rp_lineset_free(&k->ls);
        return -1;
    }
    words_grid(k->c, k->labels, k->n_words);
    return 0;
}

/* Draw the lines and their legend. */
static void lines_draw(lines_chart_t *k, const rp_exp_t *e)
{
    draw_lines(k->c, e, &k->ls);
    words_legend(k->c, e, &k->ls, k->labels, k->n_words);
}

/* Publish the chart with its caption and free the lines. */
static int lines_publish(lines_chart_t *k, rp_model_t *m, const char *dir, const char *cap,
                         rp_charts_t *out, char *err, size_t errlen)
{
    int rc = rp_chart_publish(k->c, m, dir, k->nm.file, k->nm.title, k->ls.used, k->ls.n_used,
                              cap, out, err, errlen);
    rp_lineset_free(&k->ls);
    return rc;
}

/* Configuration d's words in full appended to the caption cap (after a
 * "; " but for the first): its run slot. */
static size_t caption_config(char *cap, size_t len, const rp_exp_t *e, const lines_chart_t *k,
                             size_t d)
{
    size_t i = (size_t)(k->ls.drawn[d] - e->runs);
    char full[256];
    rp_precision_words(e, &e->runs[i], full, sizeof full);
    rp_appendf(cap, len, "%s %s", d ? ";" : "", full);
    return i;
}

/* A caption's lead: what is drawn (head), the y scale, "one line a
 * configuration" with the words on repeats where bands are drawn, then
 * tail. */
static void caption_lead(char *cap, size_t len, const char *head, const lines_chart_t *k,
                         int log_y, const char *tail)
{
    snprintf(cap, len, "%s, %s, one line a configuration%s%s", head,
             log_y ? "on a log scale" : "on a linear scale (some share is 0)",
             k->ls.bands ? " (the median over its repeats, the band their 10-90% range)" : "",
             tail);
}

static int chart_lost(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    lines_chart_t k;
    if (lines_start(&k, m, e, rp_layer_log_mean, "lost_update_frac", "lost-updates",
                    "share of the weight updates lost to rounding over training") != 0)
        return 0;   /* no reduced-precision training (or an older database) */
    const rp_lineset_t *ls = &k.ls;
    /* log y: float32 masters lose some 1e-4 of the updates, a format's
     * own weights nearly all; linear when some step loses none */
    int log_y = 1;
    for (size_t j = 0; j < ls->y.n; j++)
        log_y &= !(ls->y.v[j] <= 0);
    double x1 = ls->x.hi > ls->x.lo ? ls->x.hi : ls->x.lo + 1;
    rp_range_t yr = rp_log_range(ls->y.v, ls->y.n, RP_ALL);
    double y0 = !log_y ? 0 : yr.lo > 0 && yr.lo < 0.5 ? yr.lo : 0.1;
    gs_chart_axes(k.c, 0, ls->x.lo, x1, y0, 1, GS_AXIS_INT, log_y ? GS_AXIS_LOG : 0,
                  "training step", "share of the updates lost", NULL);
    lines_draw(&k, e);
    char cap[2048];
    caption_lead(cap, sizeof cap, "Per logged training step, the share of the hidden layers' "
                 "nonzero weight updates that rounded back to the stored weight - lost "
                 "(train_layer_log.lost_update_frac, the mean over layers 1..depth, the readout "
                 "left out)", &k, log_y,
                 ". An update smaller than half an ulp of its weight is lost to rounding to "
                 "nearest; float32 master weights keep it, and stochastic rounding loses it on "
                 "most steps but keeps it on average. Mean over the logged steps:");
    for (size_t d = 0; d < k.n_words; d++) {
        size_t i = caption_config(cap, sizeof cap, e, &k, d);
        rp_appendf(cap, sizeof cap, " %.2f%%", 100 * rp_series_mean(&ls->lines[i]));
    }
    rp_appendf(cap, sizeof cap, ".");
    return lines_publish(&k, m, dir, cap, out, err, errlen);
}

static int chart_twin(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    lines_chart_t k;
    if (lines_start(&k, m, e, rp_layer_series_set, "twin_rel_err", "twin-error",
                    "relative error of ||dL/dh_l|| against the float64 twin, per layer") != 0)
        return 0;   /* no float64 twin (float64 cells, or an older database) */
    const rp_lineset_t *ls = &k.ls;
    rp_range_t yr = rp_log_range(ls->y.v, ls->y.n, RP_ALL);
    double lo = fmin(yr.lo, rp_twin_thresholds[0]), hi = fmax(yr.hi, rp_twin_thresholds[1]);
    if (!(lo > 0) || !isfinite(lo))
        lo = 1e-8;
    gs_chart_axes(k.c, 0, 1, ls->x.hi < 2 ? 2 : ls->x.hi, lo, hi, GS_AXIS_INT, GS_AXIS_LOG,
                  "layer l (1 = next to the input)", "| ||dL/dh_l|| / twin's - 1 |", NULL);
    lines_draw(&k, e);
    gs_chart_series(k.c, "1% and 10%");   /* the thresholds' rows of the CSV */
    for (size_t t = 0; t < RP_N_TWIN_THRESHOLDS; t++)
        gs_chart_hline(k.c, rp_twin_thresholds[t], GS_SERIES_GREY, GS_DASHED, NULL);
    gs_chart_legend_key(k.c, "1% and 10%", GS_SERIES_GREY, GS_DASHED);
    char cap[2400];
    caption_lead(cap, sizeof cap, "At initialization, per hidden layer, the relative error of "
                 "the norm of the backpropagated gradient ||dL/dh_l|| computed in the run's "
                 "format against its float64 twin (same weights before rounding, same batch; "
                 "layer_stats.twin_rel_err)", &k, 1,
                 "; the dashed lines are 1% and 10%. Rounding errors enter at every layer of the "
                 "backward pass, so the error grows from the output (right) towards the input; "
                 "an error of 1 (100%) is a gradient flushed to zero whole. Per configuration, "
                 "the first layer counted from the output whose error exceeds 1% / 10%, and the "
                 "growth factor per layer (a least-squares fit of ln error against the layer, "
                 "over the layers with 0 < error < 1):");
    for (size_t d = 0; d < k.n_words; d++) {
        size_t i = caption_config(cap, sizeof cap, e, &k, d);
        long depth = e->runs[i].sc->cell.depth;
        rp_appendf(cap, sizeof cap, ":");
        for (size_t t = 0; t < RP_N_TWIN_THRESHOLDS; t++) {
            long from = rp_twin_first_over(&ls->lines[i], depth, rp_twin_thresholds[t]);
            if (from)
                rp_appendf(cap, sizeof cap, " %ld%s", from, rp_ordinal(from));
            else
                rp_appendf(cap, sizeof cap, " none");
            rp_appendf(cap, sizeof cap, "%s", t + 1 < RP_N_TWIN_THRESHOLDS ? " /" : "");
        }
        size_t nf;
        double g = rp_twin_growth(&ls->lines[i], depth, &nf);
        if (isfinite(g))
            rp_appendf(cap, sizeof cap, ", x%.3g a layer", g);
    }
    rp_appendf(cap, sizeof cap, ".");
    return lines_publish(&k, m, dir, cap, out, err, errlen);
}

int rp_chart_lowprec_train(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out,
                           char *err, size_t errlen)
{
    const rp_run_t *r0 = rp_first_usable(e);
    /* the models with a precision: mlp, rnn, lstm, gru (a recurrent
     * layer's twin error is of its dL/dz over all steps) */
    if (!r0 || r0->sc->cell.model == GS_MODEL_TRANSFORMER)
        return 0;
    int rc = chart_lost(m, e, dir, out, err, errlen);
    return rc == 0 ? chart_twin(m, e, dir, out, err, errlen) : rc;
}
