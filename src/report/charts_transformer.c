/* Transformers (issue 21): for an experiment with transformer cells
 * (block_stats rows at init), six charts from block_stats and
 * runs.output_change, every line the median over a configuration's
 * repeats with its 10-90% band, one colour a scheme (the configuration
 * without its depth):
 *   tf-gradient       ||dL/dW2|| of each block's FFN over block 1's, a
 *                     panel per depth (Xiong et al. 2020's profile);
 *   tf-ratio          that profile's last/first ratio against depth;
 *   tf-rank           token cosine and Dong et al.'s relative residual of
 *                     each block's output against the block;
 *   tf-entropy        the smallest per-head attention entropy per block;
 *   tf-heads          every head's attention entropy per block, a map of
 *                     each configuration's first run at its last measured
 *                     step (head_stats);
 *   tf-output-change  Admin's output change after one sign step against
 *                     depth.
 * The words about them are findings_transformer.c's. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/charts.h"
#include "report/findings.h"
#include "report/transformer.h"

#define MAX_PANELS 4   /* depths drawn as panels of the profile */

/* The legend of the schemes of e's transformer runs (colour k = scheme k). */
static void scheme_legend(gs_chart_t *c, rp_model_t *m, const rp_exp_t *e)
{
    char text[RP_TF_MAX_SCHEMES][256];
    const char *labels[RP_TF_MAX_SCHEMES];
    int series[RP_TF_MAX_SCHEMES], have[RP_TF_MAX_SCHEMES] = {0};
    size_t n = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        int s = rp_tf_scheme_of(e, &e->runs[i]);
        if (s < 0 || have[s] || !rp_tf_run(m, &e->runs[i]))
            continue;
        have[s] = 1;
        rp_label(e->ex, &e->runs[i].sc->cell, rp_axis_of(e, "depth"), text[n], sizeof text[n]);
        labels[n] = text[n];
        series[n++] = s;
    }
    gs_chart_legend(c, n, labels, series, NULL, "scheme");
}

/* Lines over runs (ls), each in its scheme's colour, into the current
 * panel; only runs of depth `depth` when depth > 0. */
static void draw_lines(gs_chart_t *c, const rp_lineset_t *ls, long depth)
{
    for (size_t i = 0; i < ls->n_runs; i++) {
        const rp_run_t *r = &ls->e->runs[i];
        int s = rp_tf_scheme_of(ls->e, r);
        if (ls->lines[i].n && s >= 0 && (depth <= 0 || r->sc->cell.depth == depth))
            rp_lineset_draw(c, ls, i, s, GS_SOLID);
    }
}

/* A run value against depth: a line per scheme with its band. */
static void draw_by_depth(gs_chart_t *c, const rp_tf_table_t *t)
{
    for (size_t s = 0; s < t->n_schemes; s++) {
        double x[RP_TF_MAX_DEPTHS], y[RP_TF_MAX_DEPTHS], lo[RP_TF_MAX_DEPTHS], hi[RP_TF_MAX_DEPTHS];
        size_t n = 0;
        for (size_t d = 0; d < t->n_depths; d++)
            if (t->n[s][d]) {
                x[n] = (double)t->depth[d];
                y[n] = t->med[s][d];
                lo[n] = t->lo[s][d];
                hi[n++] = t->hi[s][d];
            }
        if (!n)
            continue;
        gs_chart_series(c, t->scheme_label[s]);
        gs_chart_line_band(c, x, y, lo, hi, n, (int)s, GS_SOLID);
    }
}

/* The runs of a table (its provenance). */
static size_t table_runs(const rp_exp_t *e, const rp_tf_table_t *t, const rp_run_t **out)
{
    size_t n = 0;
    for (size_t i = 0; i < e->n_runs; i++)
        if (t->scheme[i] >= 0)
            out[n++] = &e->runs[i];
    return n;
}

/* The range of a table's values and bands. */
static rp_range_t table_range(const rp_tf_table_t *t, int positive)
{
    rp_range_t r = {INFINITY, -INFINITY};
    for (size_t s = 0; s < t->n_schemes; s++)
        for (size_t d = 0; d < t->n_depths; d++)
            if (t->n[s][d]) {
                double v[3] = {t->med[s][d], t->lo[s][d], t->hi[s][d]};
                rp_range_add(&r, v, 3, positive);
            }
    return r;
}

/* x axis over a table's depths, a little past both ends. */
static void depth_span(const rp_tf_table_t *t, double *x0, double *x1)
{
    double a = (double)t->depth[0], b = (double)t->depth[t->n_depths - 1];
    double pad = b > a ? 0.05 * (b - a) : 1;
    *x0 = a - pad;
    *x1 = b + pad;
}

/* (a) the profile, a panel per depth (the first MAX_PANELS) */
static int chart_gradient(rp_model_t *m, rp_exp_t *e, const rp_tf_table_t *ratio,
                          const char *dir, rp_charts_t *out, char *err, size_t errlen)
{
    rp_lineset_t ls;
    if (rp_lineset_load(&ls, m, e, e->n_runs, rp_block_w2_profile, "w2") != 0)
        return 0;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "tf-gradient", "||dL/dW2|| per block over block 1's, "
                                   "at init", &nm);
    int rc = 0;
    if (c) {
        int np = ratio->n_depths < MAX_PANELS ? (int)ratio->n_depths : MAX_PANELS, nx, ny;
        rp_grid_for(np, &nx, &ny);
        gs_chart_grid(c, nx, ny, 26);
        rp_range_t y = rp_log_range(ls.y.v, ls.y.n, RP_ALL);
        if (y.lo > 0.5)
            y.lo = 0.1;
        if (y.hi < 2)
            y.hi = 10;
        for (int p = 0; p < np; p++) {
            char title[64];
            snprintf(title, sizeof title, "L = %ld", ratio->depth[p]);
            gs_chart_axes(c, p, 0.8, (double)ratio->depth[p] + 0.2, y.lo, y.hi, GS_AXIS_INT,
                          GS_AXIS_LOG, "block (1 = next to the embeddings)",
                          p % nx == 0 ? "||dL/dW2|| / block 1's" : NULL, title);
            gs_chart_hline(c, 1, GS_SERIES_GREY, GS_THEORY, NULL);
            draw_lines(c, &ls, ratio->depth[p]);
        }
        scheme_legend(c, m, e);
        rp_line_keys(c, e, -1, ls.bands, 0);
        char cap[2048], more[128] = "";
        if (ratio->n_depths > MAX_PANELS)
            snprintf(more, sizeof more, " (the first %d depths; the ratio chart has them all)",
                     MAX_PANELS);
        snprintf(cap, sizeof cap,
                 "The gradient of each block's second FFN matrix W2 at initialization, "
                 "||dL/dW2||, divided by block 1's, per block, one panel a depth L%s, one colour "
                 "a scheme. Xiong et al. 2020: under Post-LN the gradient is largest near the "
                 "output (lines rising), under Pre-LN near the input (falling); DeepNorm keeps "
                 "it flat (the dotted line at 1).", more);
        rc = rp_chart_publish(c, m, dir, nm.file, nm.title, ls.used, ls.n_used, cap, out, err,
                              errlen);
    }
    rp_lineset_free(&ls);
    return rc;
}

/* (a') and (d): a run value against depth, a line per scheme */
static int chart_by_depth(rp_model_t *m, rp_exp_t *e, const rp_tf_table_t *t, const char *kind,
                          const char *what, const char *ylabel, double ref, const char *cap,
                          const char *dir, rp_charts_t *out, char *err, size_t errlen)
{
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, kind, what, &nm);
    if (!c)
        return 0;
    gs_chart_grid(c, 1, 1, 26);
    rp_range_t y = table_range(t, 1);
    if (isfinite(ref))
        rp_range_add(&y, &ref, 1, 1);
    rp_log_pad(&y);
    double x0, x1;
    depth_span(t, &x0, &x1);
    gs_chart_axes(c, 0, x0, x1, y.lo, y.hi, GS_AXIS_INT, GS_AXIS_LOG, "depth L (blocks)", ylabel,
                  NULL);
    if (isfinite(ref))
        gs_chart_hline(c, ref, GS_SERIES_GREY, GS_THEORY, NULL);
    draw_by_depth(c, t);
    scheme_legend(c, m, e);
    rp_line_keys(c, e, -1, rp_first_usable(e)->sc->cell.repeats > 1, 0);
    const rp_run_t *runs[e->n_runs + 1];
    size_t n = table_runs(e, t, runs);
    return rp_chart_publish(c, m, dir, nm.file, nm.title, runs, n, cap, out, err, errlen);
}

/* (b) token cosine and relative residual per block */
static int chart_rank(rp_model_t *m, rp_exp_t *e, const char *dir,
                      rp_charts_t *out, char *err, size_t errlen)
{
    rp_lineset_t cos, res;
    if (rp_lineset_load(&cos, m, e, e->n_runs, rp_block_loader, "block.token_cosine") != 0)
        return 0;
    if (rp_lineset_load(&res, m, e, e->n_runs, rp_block_loader, "block.rank_residual") != 0) {
        rp_lineset_free(&cos);
        return 0;
    }
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "tf-rank", "token cosine and relative residual per block, "
                                   "at init", &nm);
    int rc = 0;
    if (c) {
        gs_chart_grid(c, 2, 1, 26);
        double xmax = fmax(2, fmax(cos.x.hi, res.x.hi));
        rp_range_t yc = {INFINITY, -INFINITY};
        rp_range_add(&yc, cos.y.v, cos.y.n, 0);
        gs_chart_axes(c, 0, 0.8, xmax + 0.2, fmin(0, yc.lo), 1.05, GS_AXIS_INT, 0,
                      "block", "mean cosine between tokens", "token cosine");
        draw_lines(c, &cos, 0);
        rp_range_t yr = rp_log_range(res.y.v, res.y.n, RP_ALL);
        /* the threshold a decade inside, so that its label clears the axis */
        yr.lo = fmin(yr.lo, GS_COLLAPSED_BELOW / 10);
        if (yr.hi < 2)
            yr.hi = 2;
        gs_chart_axes(c, 1, 0.8, xmax + 0.2, yr.lo, yr.hi, GS_AXIS_INT, GS_AXIS_LOG, "block",
                      "||X - 1 mean^T||_F / ||X||_F", "relative residual (Dong et al.)");
        gs_chart_hline(c, GS_COLLAPSED_BELOW, GS_SERIES_GREY, GS_THEORY, "collapsed");
        draw_lines(c, &res, 0);
        scheme_legend(c, m, e);
        rp_line_keys(c, e, -1, cos.bands, 0);
        char cap[2048];
        snprintf(cap, sizeof cap,
                 "Each block's output x_l at initialization: the mean cosine between its tokens "
                 "(left; 1 = every token the same direction) and Dong et al. 2021's relative "
                 "residual ||X - 1 x_mean^T||_F / ||X||_F (right, log; 0 = rank one), one line a "
                 "configuration, one colour a scheme (depth shows as the length of a line). "
                 "Below the dotted %g the sweep calls the tokens collapsed. Dong et al.: pure "
                 "attention loses rank doubly exponentially with depth, skip connections stop "
                 "it; Noci et al. 2022: tokens align with depth.", GS_COLLAPSED_BELOW);
        rc = rp_chart_publish(c, m, dir, nm.file, nm.title, res.used, res.n_used, cap, out, err,
                              errlen);
    }
    rp_lineset_free(&cos);
    rp_lineset_free(&res);
    return rc;
}

/* (c) the smallest per-head attention entropy per block */
static int chart_entropy(rp_model_t *m, rp_exp_t *e, const char *dir,
                         rp_charts_t *out, char *err, size_t errlen)
{
    rp_lineset_t ls;
    if (rp_lineset_load(&ls, m, e, e->n_runs, rp_block_loader, "block.attn_entropy_min") != 0)
        return 0;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "tf-entropy", "smallest attention entropy per block, at "
                                   "init", &nm);
    int rc = 0;
    if (c) {
        gs_chart_grid(c, 1, 1, 26);
        double ln_t = log((double)rp_first_usable(e)->sc->cell.seq_len);
        rp_range_t y = {INFINITY, -INFINITY};
        rp_range_add(&y, ls.y.v, ls.y.n, 0);
        double top = fmax(y.hi, isfinite(ln_t) ? ln_t : 0);
        gs_chart_axes(c, 0, 0.8, fmax(2, ls.x.hi) + 0.2, 0, top > 0 ? 1.1 * top : 1, GS_AXIS_INT,
                      0, "block", "smallest per-head mean entropy (nats)", NULL);
        if (isfinite(ln_t) && ln_t > 0)
            gs_chart_hline(c, ln_t, GS_SERIES_GREY, GS_THEORY, NULL);   /* lines meet it */
        draw_lines(c, &ls, 0);
        scheme_legend(c, m, e);
        rp_line_keys(c, e, -1, ls.bands, 0);
        gs_chart_legend_key(c, "dotted: ln T, uniform attention", GS_SERIES_GREY, GS_THEORY);
        char cap[1024];
        snprintf(cap, sizeof cap,
                 "Per block at initialization, the smallest over heads of the mean entropy of a "
                 "query's attention weights (nats); the dotted line is ln T = %.2f, uniform "
                 "attention over the T = %ld tokens. Zhai et al. 2023: entropy collapsing toward "
                 "0 (every query on one key) goes with unstable training.", ln_t,
                 rp_first_usable(e)->sc->cell.seq_len);
        rc = rp_chart_publish(c, m, dir, nm.file, nm.title, ls.used, ls.n_used, cap, out, err,
                              errlen);
    }
    rp_lineset_free(&ls);
    return rc;
}

/* (c') every head's entropy: rows (configuration, head), columns blocks */
static int chart_heads(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out,
                       char *err, size_t errlen)
{
    rp_tf_heads_t t;
    if (rp_tf_heads(m, e, &t) != 0) {
        snprintf(err, errlen, "%s: out of memory", e->ex->name);
        return -1;
    }
    if (!t.n_rows)
        return 0;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "tf-heads", "attention entropy per head and block", &nm);
    int rc = 0;
    if (c) {
        const char *rows[RP_TF_MAX_HEAD_ROWS], *colv[RP_TF_MAX_DEPTHS * 4];
        char cols[RP_TF_MAX_DEPTHS * 4][8];
        size_t nc = t.n_cols < RP_TF_MAX_DEPTHS * 4 ? t.n_cols : RP_TF_MAX_DEPTHS * 4;
        for (size_t i = 0; i < t.n_rows; i++)
            rows[i] = t.label[i];
        for (size_t j = 0; j < nc; j++) {
            snprintf(cols[j], sizeof cols[j], "%zu", j + 1);
            colv[j] = cols[j];
        }
        const rp_run_t *used[RP_TF_MAX_HEAD_ROWS];
        size_t n_used = 0;
        long step_lo = t.step[0], step_hi = t.step[0];
        for (size_t i = 0; i < t.n_rows; i++) {
            if (!n_used || used[n_used - 1] != t.run[i])
                used[n_used++] = t.run[i];
            step_lo = t.step[i] < step_lo ? t.step[i] : step_lo;
            step_hi = t.step[i] > step_hi ? t.step[i] : step_hi;
        }
        double ln_t = log((double)t.run[0]->sc->cell.seq_len);
        gs_chart_grid(c, 1, 1, 12);
        /* nc < n_cols only past RP_TF_MAX_DEPTHS * 4 blocks: the rows' first nc
         * columns, row-major with stride n_cols, copied to stride nc */
        double *v = malloc(t.n_rows * nc * sizeof *v);
        if (!v) {
            rp_tf_heads_free(&t);
            snprintf(err, errlen, "%s: out of memory", e->ex->name);
            return -1;
        }
        for (size_t i = 0; i < t.n_rows; i++)
            memcpy(v + i * nc, t.v + i * t.n_cols, nc * sizeof *v);
        gs_chart_heatmap(c, 0, t.n_rows, nc, v, NULL, rows, colv, 0, ln_t / 2, ln_t, "%.2f",
                         "block (1 = next to the embeddings)", NULL, "entropy (nats)");
        free(v);
        char cap[1024], when[64];
        if (step_lo == step_hi)
            snprintf(when, sizeof when, step_hi ? "at step %ld, the last logged" : "at init",
                     step_hi);
        else
            snprintf(when, sizeof when, "at each run's last logged step (%ld-%ld)", step_lo,
                     step_hi);
        snprintf(cap, sizeof cap,
                 "Every head's mean attention entropy (nats) per block, %s: a row per "
                 "configuration and head (its first repeat; heads of different runs are not "
                 "the same head), orange at ln T = %.2f (uniform attention over T = %ld tokens), "
                 "blue toward 0 (every query on one key: Zhai et al. 2023's entropy collapse). "
                 "The tf-entropy chart draws each block's least of these at init.",
                 when, ln_t, t.run[0]->sc->cell.seq_len);
        rc = rp_chart_publish(c, m, dir, nm.file, nm.title, used, n_used, cap, out, err,
                              errlen);
    }
    rp_tf_heads_free(&t);
    return rc;
}

int rp_chart_transformer(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out,
                         char *err, size_t errlen)
{
    if (!rp_tf_experiment(m, e))
        return 0;
    rp_tf_table_t ratio, change;
    if (rp_tf_table(m, e, rp_tf_w2_ratio, &ratio) != 0) {
        snprintf(err, errlen, "%s: out of memory", e->ex->name);
        return -1;
    }
    if (rp_tf_table(m, e, rp_tf_output_change, &change) != 0) {
        rp_tf_table_free(&ratio);
        snprintf(err, errlen, "%s: out of memory", e->ex->name);
        return -1;
    }
    int rc = 0;
    if (ratio.n_schemes) {
        rc = chart_gradient(m, e, &ratio, dir, out, err, errlen);
        if (rc == 0 && ratio.n_depths > 1)
            rc = chart_by_depth(m, e, &ratio, "tf-ratio", "the last block's ||dL/dW2|| over the "
                                "first's against depth", "||dL/dW2|| block L / block 1", 1,
                                "The ratio of the last block's ||dL/dW2|| to the first's at "
                                "initialization against depth, one line a scheme (median over "
                                "the repeats with their 10-90% band): the table of issue 21 as "
                                "a chart. Above the dotted 1 the gradient is largest near the "
                                "output (Post-LN, Xiong et al. 2020), below it near the input "
                                "(Pre-LN).", dir, out, err, errlen);
    }
    if (rc == 0)
        rc = chart_rank(m, e, dir, out, err, errlen);
    if (rc == 0)
        rc = chart_entropy(m, e, dir, out, err, errlen);
    if (rc == 0)
        rc = chart_heads(m, e, dir, out, err, errlen);
    if (rc == 0 && change.n_schemes)
        rc = chart_by_depth(m, e, &change, "tf-output-change", "relative output change after one "
                            "sign step against depth", "||f(theta') - f(theta)|| / ||f(theta)||",
                            NAN, "Admin's measure (Liu et al. 2020) at initialization: the "
                            "relative change of the logits after one step theta' = theta - 1e-4 "
                            "sign(dL/dtheta), against depth, one line a scheme (median over the "
                            "repeats with their 10-90% band). Liu et al.: it grows as O(N) under "
                            "Post-LN and O(log N) under Pre-LN; DeepNet (Wang et al. 2022) "
                            "bounds it.", dir, out, err, errlen);
    rp_tf_table_free(&ratio);
    rp_tf_table_free(&change);
    return rc;
}
