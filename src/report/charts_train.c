/* The charts of gradients watched during training (train_layer_log): the
 * deck's view of gradient norms across layers at chosen steps with the
 * clip threshold, a layer x step heatmap of log10 ||dL/dW_l||, the update
 * ratio of every layer over training, and for recurrent models the ratio
 * ||dL/dh_1|| / ||dL/dh_T|| over training. One panel per run, up to
 * MAX_PANELS; a caption says when runs were left out. */
#include <config.h>

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "report/charts.h"

#define MAX_PANELS 9
#define N_PICKED 4          /* steps drawn in the across-layers view */
#define HEAT_COLS 8         /* steps (columns) of a heatmap panel */

/* The training runs with a per-layer log, up to MAX_PANELS; *total counts
 * them all. */
static size_t panel_runs(rp_model_t *m, const rp_exp_t *e, const rp_run_t **runs, size_t *total)
{
    size_t n = 0;
    *total = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        rp_series_t s = {0};
        if (!rp_usable(r) || r->sc->cell.task != GS_TASK_TRAIN || r->sc->cell.repeat != 0 ||
            rp_layer_log_series(m, r, 1, "grad_w_norm", &s) != 0 || s.n == 0) {
            rp_series_free(&s);
            continue;
        }
        rp_series_free(&s);
        if (n < MAX_PANELS)
            runs[n++] = r;
        (*total)++;
    }
    return n;
}

/* k steps spread over a run's logged steps (first and last included); the
 * count picked (fewer when fewer were logged). */
static size_t pick_steps(rp_model_t *m, const rp_run_t *r, size_t k, long *out)
{
    rp_series_t s = {0};
    if (rp_layer_log_series(m, r, 1, "grad_w_norm", &s) != 0 || s.n == 0) {
        rp_series_free(&s);
        return 0;
    }
    size_t n = s.n < k ? s.n : k;
    for (size_t i = 0; i < n; i++)
        out[i] = (long)s.x[n == 1 ? 0 : i * (s.n - 1) / (n - 1)];
    rp_series_free(&s);
    return n;
}

/* The caption's note on what is not shown: runs past MAX_PANELS, repeats. */
static void left_out(char *buf, size_t len, const rp_run_t *r0, size_t shown, size_t total)
{
    size_t l = 0;
    buf[0] = '\0';
    if (total > shown)
        l += (size_t)snprintf(buf, len, " The first %zu of the experiment's %zu configurations "
                              "are shown.", shown, total);
    if (r0->sc->cell.repeats > 1 && l < len)
        snprintf(buf + l, len - l, " Each panel is the first of the configuration's %ld "
                 "repeats.", r0->sc->cell.repeats);
}

/* What a training chart is drawn for: the model, the experiment, the
 * report's folder and chart list, the runs of its panels (n of the
 * experiment's total), and the message buffer. */
typedef struct {
    rp_model_t *m;
    rp_exp_t *e;
    const char *dir;
    rp_charts_t *out;
    const rp_run_t **runs;
    size_t n, total;
    char *err;
    size_t errlen;
} panels_t;

/* Publish chart c of p with its caption: text, then what is left out. */
static int publish(gs_chart_t *c, const panels_t *p, const rp_chart_name_t *nm, const char *text)
{
    char cap[1024], more[192];
    left_out(more, sizeof more, p->runs[0], p->n, p->total);
    snprintf(cap, sizeof cap, "%s%s", text, more);
    return rp_chart_publish(c, p->m, p->dir, nm->file, nm->title, p->runs, p->n, cap, p->out,
                            p->err, p->errlen);
}

/* ---- 1. norms across layers at chosen steps (the deck's slide 14) ---- */

static int chart_across_layers(const panels_t *p)
{
    rp_values_t ys = {0};
    rp_series_t lines[MAX_PANELS][N_PICKED];
    memset(lines, 0, sizeof lines);
    size_t picked[MAX_PANELS] = {0};
    long steps[MAX_PANELS][N_PICKED];
    double max_layer = 2;
    int clipped = 0;
    for (size_t i = 0; i < p->n; i++) {
        picked[i] = pick_steps(p->m, p->runs[i], N_PICKED, steps[i]);
        for (size_t j = 0; j < picked[i]; j++) {
            if (rp_layer_log_at(p->m, p->runs[i], steps[i][j], "grad_w_norm", &lines[i][j]) != 0)
                continue;
            rp_values_add(&ys, lines[i][j].y, lines[i][j].n);
        }
        max_layer = fmax(max_layer, (double)p->runs[i]->sc->cell.depth + 1);
        if (p->runs[i]->sc->cell.clip > 0) {
            rp_values_add(&ys, &p->runs[i]->sc->cell.clip, 1);
            clipped = 1;
        }
    }
    rp_range_t yr = rp_log_range(ys.v, ys.n, RP_ALL);
    rp_chart_name_t nm;
    static const char *const labels[N_PICKED] = {"first logged step", "a third in",
                                                 "two thirds in", "last logged step"};
    static const int series[N_PICKED] = {0, 1, 2, 3};
    int nx, ny, rc = 0;
    rp_grid_for((int)p->n, &nx, &ny);
    gs_chart_t *c = rp_chart_start(p->e, "layers-train", "gradient norm per layer during "
                                   "training", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, nx, ny, rp_longest(labels, N_PICKED, "clip threshold"));
    for (size_t i = 0; i < p->n; i++) {
        gs_chart_axes(c, (int)i, 0.5, max_layer + 0.5, yr.lo, yr.hi, GS_AXIS_INT, GS_AXIS_LOG,
                      "layer", "||dL/dW_l||", p->runs[i]->label);
        for (size_t j = 0; j < picked[i]; j++)
            if (lines[i][j].n) {
                char s[64];
                snprintf(s, sizeof s, "step %ld", steps[i][j]);
                gs_chart_series(c, s);
                gs_chart_line(c, lines[i][j].x, lines[i][j].y, lines[i][j].n, (int)j, GS_SOLID);
            }
        if (p->runs[i]->sc->cell.clip > 0)
            gs_chart_hline(c, p->runs[i]->sc->cell.clip, GS_SERIES_GREY, 1, "clip");
    }
    gs_chart_legend(c, N_PICKED, labels, series, NULL, "");
    char text[800];
    snprintf(text, sizeof text,
             "The norm of each layer's weight gradient (before clipping; the readout is the "
             "last layer) at four moments of training, one panel per run. Lines that fall "
             "towards the input (left) are gradients vanishing on their way back; lines that "
             "rise are gradients exploding.%s",
             clipped ? " The dashed line is the clip threshold, which applies to the global "
                       "norm of all layers together." : "");
    rc = publish(c, p, &nm, text);
done:
    rp_series_free_all(&lines[0][0], MAX_PANELS * N_PICKED);
    rp_values_free(&ys);
    return rc;
}

/* ---- 2. layer x step heatmap of log10 ||dL/dW_l|| ---- */

/* The panels of the heatmap: one per run, its picked steps as columns. */
typedef struct {
    double *vals[MAX_PANELS];               /* (rows, cols) of each panel */
    size_t rows[MAX_PANELS], cols[MAX_PANELS];
    char clab[MAX_PANELS][HEAT_COLS][24];   /* the steps */
    const char *cl[MAX_PANELS][HEAT_COLS];
} heat_t;

/* Column j of a panel (layer l on row l - 1): log10 of each layer's
 * ||dL/dW_l|| at step, NaN where it is missing or not positive; vr widens
 * to the finite values. */
static void heat_column(rp_model_t *m, const rp_run_t *r, long step, size_t rows, size_t cols,
                        size_t j, double *vals, rp_range_t *vr)
{
    rp_series_t s = {0};
    for (size_t l = 0; l < rows; l++)
        vals[l * cols + j] = NAN;
    if (rp_layer_log_at(m, r, step, "grad_w_norm", &s) == 0)
        for (size_t k = 0; k < s.n; k++) {
            size_t l = (size_t)s.x[k] - 1;
            double v = s.y[k] > 0 && isfinite(s.y[k]) ? log10(s.y[k]) : NAN;
            if (l < rows)
                vals[l * cols + j] = v;
            rp_range_add(vr, &v, 1, 0);
        }
    rp_series_free(&s);
}

/* Panel i of h: run r's layers over k of its logged steps. */
static int heat_panel(rp_model_t *m, const rp_run_t *r, size_t k, heat_t *h, size_t i,
                      rp_range_t *vr)
{
    long steps[HEAT_COLS];
    assert(k <= HEAT_COLS);
    h->rows[i] = (size_t)r->sc->cell.depth + 1;
    h->cols[i] = pick_steps(m, r, k, steps);
    h->vals[i] = malloc((h->rows[i] * h->cols[i] + 1) * sizeof *h->vals[i]);
    if (!h->vals[i])
        return -1;
    for (size_t j = 0; j < h->cols[i]; j++) {
        snprintf(h->clab[i][j], sizeof h->clab[i][j], "%ld", steps[j]);   /* thinned by the chart */
        h->cl[i][j] = h->clab[i][j];
        heat_column(m, r, steps[j], h->rows[i], h->cols[i], j, h->vals[i], vr);
    }
    return 0;
}

static int chart_grad_heatmap(const panels_t *p)
{
    size_t max_rows = 0;
    for (size_t i = 0; i < p->n; i++)
        max_rows = fmax(max_rows, (size_t)p->runs[i]->sc->cell.depth + 1);
    heat_t *h = calloc(1, sizeof *h);
    char (*rlab)[24] = calloc(max_rows + 1, sizeof *rlab);
    const char **rl = calloc(max_rows + 1, sizeof *rl);
    rp_range_t vr = {INFINITY, -INFINITY};
    int rc = 0;
    if (!h || !rlab || !rl)
        goto done;
    for (size_t l = 0; l < max_rows; l++) {   /* thinned by the chart where they would overlap */
        snprintf(rlab[l], sizeof rlab[l], "%zu", l + 1);
        rl[l] = rlab[l];
    }
    for (size_t i = 0; i < p->n; i++)
        if (heat_panel(p->m, p->runs[i], p->n <= 2 ? HEAT_COLS : HEAT_COLS - 2, h, i, &vr) != 0)
            goto done;
    if (!(vr.lo <= vr.hi))
        goto done;
    if (vr.hi - vr.lo < 1)
        vr.hi = vr.lo + 1;
    rp_chart_name_t nm;
    int nx, ny;
    rp_grid_for((int)p->n, &nx, &ny);
    gs_chart_t *c = rp_chart_start(p->e, "grad-heatmap", "log10 of each layer's gradient norm over "
                                   "training", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, nx, ny, 10);
    for (size_t i = 0; i < p->n; i++) {
        gs_chart_series(c, p->runs[i]->label);
        gs_chart_heatmap(c, (int)i, h->rows[i], h->cols[i], h->vals[i], NULL, rl, h->cl[i], vr.lo,
                         0.5 * (vr.lo + vr.hi), vr.hi, "%.1f", p->runs[i]->label,
                         "layer", "log10 ||dL/dW_l||");
    }
    rc = publish(c, p, &nm,
                 "Rows are layers (1 next to the input, the last the readout), columns logged "
                 "training steps; each cell's colour is log10 of that "
                 "layer's weight-gradient norm (the colour bar). A column that is blue at the top "
                 "rows and orange at the bottom is a gradient fading towards the input; a run that "
                 "turns orange everywhere is exploding; a grey cell is a non-finite norm.");
done:
    for (size_t i = 0; h && i < p->n; i++)
        free(h->vals[i]);
    free(h);
    free(rlab);
    free(rl);
    return rc;
}

/* ---- 3. update ratio per layer over training ---- */

static int chart_update_ratio(const panels_t *p)
{
    size_t L = 0;
    for (size_t i = 0; i < p->n; i++)
        L = L > (size_t)p->runs[i]->sc->cell.depth + 1 ? L : (size_t)p->runs[i]->sc->cell.depth + 1;
    rp_series_t *lines = calloc(p->n * L + 1, sizeof *lines);
    char (*lab)[48] = calloc(L + 1, sizeof *lab);
    const char **labels = calloc(L + 1, sizeof *labels);
    int *series = calloc(L + 1, sizeof *series);
    rp_range_t xr = {INFINITY, -INFINITY};
    rp_values_t ys = {0};
    int rc = 0;
    if (!lines || !lab || !labels || !series)
        goto done;
    for (size_t i = 0; i < p->n; i++)
        for (size_t l = 0; l < (size_t)p->runs[i]->sc->cell.depth + 1; l++) {
            rp_series_t *s = &lines[i * L + l];
            if (rp_layer_log_series(p->m, p->runs[i], (int)l + 1, "update_ratio", s) != 0)
                continue;
            rp_range_add(&xr, s->x, s->n, 0);
            rp_values_add(&ys, s->y, s->n);
        }
    /* a dead layer's ratio (1e-130) stays off the axis: rp_log_range */
    rp_range_t yr = rp_log_range(ys.v, ys.n, RP_BULK);
    if (!(xr.lo <= xr.hi) || ys.n == 0)
        goto done;
    for (size_t l = 0; l < L; l++) {   /* colours, then markers too: every layer told apart */
        snprintf(lab[l], sizeof lab[l], l + 1 == L ? "layer %zu (readout)" : "layer %zu", l + 1);
        labels[l] = lab[l];
        series[l] = (int)l;
    }
    rp_chart_name_t nm;
    int nx, ny;
    rp_grid_for((int)p->n, &nx, &ny);
    gs_chart_t *c = rp_chart_start(p->e, "update-ratio", "update ratio ||dW|| / ||W|| per layer "
                                   "over training", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, nx, ny, rp_longest(labels, L, NULL));
    for (size_t i = 0; i < p->n; i++) {
        gs_chart_axes(c, (int)i, 0, fmax(xr.hi, 1), yr.lo, yr.hi, GS_AXIS_INT, GS_AXIS_LOG,
                      "training step", "||dW|| / ||W||", p->runs[i]->label);
        for (size_t l = 0; l < L; l++) {
            const rp_series_t *s = &lines[i * L + l];
            gs_chart_series(c, labels[l]);
            if (s->n)
                gs_chart_line(c, s->x, s->y, s->n, (int)l, GS_SOLID);
        }
        gs_chart_hline(c, 1e-3, GS_SERIES_GREY, GS_DASHED, "1e-3");
    }
    gs_chart_legend(c, L, labels, series, NULL, "");
    rc = publish(c, p, &nm,
                 "How much each step's update changes a layer's weights, relative to their "
                 "size, one panel per run. Practitioners aim near 1e-3 (dashed): far below, that "
                 "layer barely learns (its gradient vanished or the learning rate is too low); "
                 "far above, its weights are being thrown around.");
done:
    rp_series_free_all(lines, p->n * L);
    free(lines);
    free(lab);
    free(labels);
    free(series);
    rp_values_free(&ys);
    return rc;
}

/* ---- 4. recurrent: ||dL/dh_1|| / ||dL/dh_T|| over training ---- */

static int chart_time_train(const panels_t *p)
{
    if (p->runs[0]->sc->cell.model == GS_MODEL_MLP)
        return 0;
    rp_series_t lines[MAX_PANELS];
    memset(lines, 0, sizeof lines);
    const char *labels[MAX_PANELS];
    int series[MAX_PANELS];
    rp_range_t xr = {INFINITY, -INFINITY};
    rp_values_t ys = {0};
    int rc = 0;
    for (size_t i = 0; i < p->n; i++) {
        int top = (int)p->runs[i]->sc->cell.depth;
        rp_series_t last = {0};
        labels[i] = p->runs[i]->label;   /* in the legend even without a line */
        series[i] = (int)i;
        if (rp_layer_log_series(p->m, p->runs[i], top, "grad_h_first", &lines[i]) != 0 ||
            rp_layer_log_series(p->m, p->runs[i], top, "grad_h_last", &last) != 0 ||
            last.n != lines[i].n) {
            rp_series_free(&last);
            rp_series_free(&lines[i]);
            continue;
        }
        for (size_t k = 0; k < last.n; k++)
            lines[i].y[k] /= last.y[k];
        rp_series_free(&last);
        rp_range_add(&xr, lines[i].x, lines[i].n, 0);
        rp_values_add(&ys, lines[i].y, lines[i].n);
    }
    rp_range_t yr = rp_log_range(ys.v, ys.n, RP_ALL);
    if (!(xr.lo <= xr.hi) || ys.n == 0)
        goto done;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(p->e, "time-train", "gradient reaching the first time step, "
                                   "over training", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 1, 1, rp_longest(labels, p->n, NULL));
    gs_chart_axes(c, 0, 0, fmax(xr.hi, 1), yr.lo, yr.hi, GS_AXIS_INT, GS_AXIS_LOG, "training step",
                  "||dL/dh_1|| / ||dL/dh_T||", NULL);
    for (size_t i = 0; i < p->n; i++)
        if (lines[i].n) {
            gs_chart_series(c, labels[i]);
            gs_chart_line(c, lines[i].x, lines[i].y, lines[i].n, (int)i, GS_SOLID);
        }
    gs_chart_hline(c, 1, GS_SERIES_GREY, GS_DASHED, "no loss over time");
    gs_chart_legend(c, p->n, labels, series, NULL, "");
    rc = publish(c, p, &nm,
                 "For the top recurrent layer, the gradient norm at the first time step over the "
                 "norm at the last, at every logged step of training. The adding problem's answer "
                 "depends on inputs anywhere in the sequence: a model whose ratio stays orders of "
                 "magnitude below 1 cannot learn from the early ones, whatever it was at "
                 "initialization; one whose ratio rises towards 1 has learnt to carry the "
                 "gradient back.");
done:
    rp_series_free_all(lines, p->n);
    rp_values_free(&ys);
    return rc;
}

int rp_charts_training(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                       size_t errlen)
{
    const rp_run_t *runs[MAX_PANELS];
    panels_t p = {m, e, dir, out, runs, 0, 0, err, errlen};
    p.n = panel_runs(m, e, runs, &p.total);
    if (p.n == 0)
        return 0;
    int (*const kinds[])(const panels_t *) = {
        chart_across_layers, chart_grad_heatmap, chart_update_ratio, chart_time_train,
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (kinds[k](&p) != 0)
            return -1;
    return 0;
}
