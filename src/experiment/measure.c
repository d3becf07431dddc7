#include <config.h>

#include "experiment/measure.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/linear.h"
#include "nn/transformer.h"
#include "theory/meanfield.h"
#include "theory/spectrum.h"

int ex_weight_layer(const gs_tensor_t *T, size_t depth)
{
    if (!T->weight)
        return 0;
    return T->layer ? (int)T->layer : (int)depth + 1;
}

/* The finite values of v counted into GS_HIST_BINS equal bins over
 * [lo, hi] (values outside go to the end bins). */
static void bin_into(gs_hist_t *h, const double *v, size_t n, double lo, double hi)
{
    h->lo = lo;
    h->hi = hi;
    memset(h->count, 0, sizeof h->count);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        long b = (long)((v[i] - lo) / (hi - lo) * GS_HIST_BINS);
        h->count[b < 0 ? 0 : b >= GS_HIST_BINS ? GS_HIST_BINS - 1 : b]++;
    }
}

/* Weight histograms of every weight matrix: the input weights of a
 * recurrent layer under weight_input, the others under weight. */
int ex_weight_histograms(const gs_plan_t *p, const gs_net_t *net, gs_result_t *r)
{
    r->hist = calloc(p->n_hist, sizeof *r->hist);
    if (!r->hist)
        return -1;
    for (size_t k = 0; k < net->n_tensors; k++) {
        const gs_tensor_t *T = &net->tensors[k];
        if (!T->weight)
            continue;
        assert(r->n_hist < p->n_hist);   /* the plan counted every weight matrix */
        gs_hist_t *h = &r->hist[r->n_hist++];
        h->layer = ex_weight_layer(T, p->depth);
        h->quantity = gs_hist_quantity_names[T->kind == GS_TENSOR_WX ? GS_HIST_WEIGHT_INPUT
                                                                     : GS_HIST_WEIGHT];
        const double *w = net->params + T->offset;
        size_t cnt = T->rows * T->cols;
        double m = 0.0;
#pragma omp simd reduction(max : m)
        for (size_t i = 0; i < cnt; i++)
            m = m > fabs(w[i]) ? m : fabs(w[i]);
        if (m == 0.0)
            m = 1.0;
        bin_into(h, w, cnt, -m, m);
    }
    assert(r->n_hist + (size_t)(p->spectrum != 0) == p->n_hist);
    return 0;
}

/* 1 at depth 1 (or the non-finite norm). 0/0 is NaN, not 0: no gradient
 * reaches even the last layer, and that is no ratio. */
double ex_grad_ratio(const gs_plan_t *p, const gs_layer_stats_t *st)
{
    size_t depth = p->depth;
    double first = st[0].grad_w_norm, last = st[depth - 1].grad_w_norm;
    if (depth == 1)
        return isfinite(first) ? 1.0 : first;
    return first / last;
}

/* The backpropagated gradient of one measured step (layer statistics st):
 * its ratio ||dL/dh_1|| / ||dL/dh_depth|| (mlp: over the hidden layers;
 * recurrent: the top layer's over time, t = 1 against t = T) into *ratio
 * and the verdict on it. A hidden layer whose gradient is exactly zero, or
 * whose units are all dead, makes the network dead and the ratio NaN: a
 * ratio taken from a zero would read as vanishing (or exploding) forever.
 * Weight gradients are not used: W's gradient is dL/dh times the layer's
 * input, and when activations shrink or grow with the gradient the two
 * cancel (Glorot & Bengio 2010). */
gs_diag_t ex_diagnose_step(const gs_plan_t *p, const gs_layer_stats_t *st, double *ratio)
{
    size_t depth = p->depth;
    double first, last;
    int dead = 0;
    if (p->recurrent) {
        first = st[depth - 1].grad_h_first;
        last = st[depth - 1].grad_h_last;
        dead = first == 0.0 || last == 0.0;
    } else {
        first = st[0].grad_pre_norm;
        last = st[depth - 1].grad_pre_norm;
        for (size_t l = 0; l < depth; l++)
            dead |= st[l].grad_pre_norm == 0.0 || st[l].dead_frac == 1.0;
    }
    *ratio = dead ? NAN : depth == 1 && !p->recurrent ? (isfinite(first) ? 1.0 : NAN)
                                                      : first / last;
    return gs_diagnose(*ratio, dead, p->vanishing_below, p->exploding_above);
}

/* Every gradient norm of a measured step is finite (a step that overflowed
 * or produced NaN diverged, whatever its ratios say). */
int ex_gradients_finite(const gs_layer_stats_t *st, size_t n)
{
    for (size_t l = 0; l < n; l++)
        if (!isfinite(st[l].grad_w_norm) || !isfinite(st[l].grad_pre_norm))
            return 0;
    return 1;
}

void ex_layer_stats(const gs_plan_t *p, const gs_net_t *net, size_t n, gs_layer_stats_t *st)
{
    if (p->recurrent)
        gs_rnn_layer_stats(net, n, st);
    else
        gs_mlp_layer_stats(net, n, st);
    for (size_t l = 0; l < p->n_layers; l++)   /* the twin's, when there is one: ex_prec_twin */
        st[l].twin_rel_err = st[l].twin_cos = NAN;
}

/* The least-squares slope of ln v(k) against k = 0..n-1 (k counts steps
 * toward the input: layers or time steps away from the output) and its
 * R^2; NaN with fewer than 3 points or a v that is not positive and
 * finite. v(ctx, k) reads the k-th value. */
static void log_slope(double (*v)(const void *ctx, size_t k), const void *ctx, size_t n,
                      double *slope, double *r2)
{
    *slope = *r2 = NAN;
    if (n < 3)
        return;
    double sy = 0;
    for (size_t k = 0; k < n; k++) {
        double g = v(ctx, k);
        if (!(g > 0) || !isfinite(g))
            return;
        sy += log(g);
    }
    double mx = 0.5 * (double)(n - 1), my = sy / (double)n, sxx = 0, sxy = 0, syy = 0;
    for (size_t k = 0; k < n; k++) {
        double dx = (double)k - mx, dy = log(v(ctx, k)) - my;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    *slope = sxy / sxx;
    *r2 = syy > 0 ? sxy * sxy / (sxx * syy) : 1.0;
}

/* ctx: the last layer's statistics; k layers back from it */
static double layer_grad(const void *ctx, size_t k)
{
    return ((const gs_layer_stats_t *)ctx)[-(ptrdiff_t)k].grad_pre_norm;
}

/* ctx: the last time step's statistics; k steps back from it */
static double step_grad(const void *ctx, size_t k)
{
    return ((const gs_time_stats_t *)ctx)[-(ptrdiff_t)k].grad_hidden_norm;
}

/* The measured slope of an mlp: ln grad_pre_norm per layer toward the
 * input over layers depth/2 .. depth (where the length map has settled
 * at its fixed point). */
static void measured_slope(const gs_plan_t *p, const gs_layer_stats_t *st, double *slope,
                           double *r2)
{
    size_t depth = p->depth, first = depth / 2 > 0 ? depth / 2 : 1;
    log_slope(layer_grad, st + depth - 1, depth - first + 1, slope, r2);
}

/* rnn: Pascanu et al.'s bound on the per-step change of ln ||dL/dh_t||,
 * ln(lambda_1 gamma) with lambda_1 the top layer's largest singular value
 * of Wh and gamma = max |phi'|, beside the measured least-squares slope of
 * ln grad_hidden_norm per step toward t = 1 (top layer, t = 1..T). */
static void recurrent_theory(const gs_plan_t *p, const gs_net_t *net, gs_result_t *r)
{
    const gs_tensor_t *T = gs_net_tensor_of(net, GS_TENSOR_WH, p->depth);
    if (T) {
        double l1 = gs_spectrum_top_sv(net->params + T->offset, T->rows, T->cols);
        r->step_bound = log(l1 * gs_act_max_slope(p->act, p->act_param));
    }
    if (r->n_time)
        log_slope(step_grad, r->time + r->n_time - 1, r->n_time, &r->measured_slope,
                  &r->fit_r2);
}

/* Residual without norm: the growth of ln(||x_l||^2 / n) per block over
 * layers 1..depth, predicted from layer 1's measured length and measured
 * (the layer statistics: act_std^2 + act_mean^2 is the mean square). */
static void residual_theory(const gs_plan_t *p, gs_result_t *r)
{
    size_t depth = p->depth;
    const gs_layer_stats_t *first = &r->layers[0], *last = &r->layers[depth - 1];
    double p1 = first->act_std * first->act_std + first->act_mean * first->act_mean;
    double pL = last->act_std * last->act_std + last->act_mean * last->act_mean;
    r->residual_growth_measured = log(pL / p1) / (double)(depth - 1);
    r->residual_growth_predicted = gs_mf_residual_growth(
        p->act, p->act_param, p->theory.sigma_w2, p->theory.sigma_b2, p1, first->act_mean,
        (long)depth - 1);
}

/* The theory the plan says applies to the cell (gs_plan_theory_t). */
static void theory(const gs_plan_t *p, const gs_net_t *net, gs_result_t *r)
{
    const gs_plan_theory_t *th = &p->theory;
    r->q_star = r->chi1 = r->depth_scale = r->predicted_slope = NAN;
    r->measured_slope = r->fit_r2 = NAN;
    r->residual_growth_predicted = r->residual_growth_measured = r->step_bound = NAN;
    if (th->step_bound)
        recurrent_theory(p, net, r);
    if (th->layer_slope)
        measured_slope(p, r->layers, &r->measured_slope, &r->fit_r2);
    if (th->residual_growth)
        residual_theory(p, r);
    if (th->meanfield) {
        gs_meanfield_t mf = gs_meanfield(p->act, p->act_param, th->sigma_w2, th->sigma_b2);
        r->q_star = mf.q_star;
        r->chi1 = mf.chi1;
        r->depth_scale = mf.depth_scale;
        r->predicted_slope = mf.predicted_slope;
    } else if (th->batchnorm_relu) {
        r->predicted_slope = gs_mf_batchnorm_relu_slope();
    }
}

/* A histogram of n values over [min, max] (widened by 0.5 each side when
 * they are all equal) into h. */
static void histogram(gs_hist_t *h, const double *v, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            lo = fmin(lo, v[i]);
            hi = fmax(hi, v[i]);
        }
    if (!(lo <= hi))
        lo = hi = 0.0;
    if (hi - lo < 1e-12 * fmax(1.0, fabs(hi))) {
        lo -= 0.5;
        hi += 0.5;
    }
    bin_into(h, v, n, lo, hi);
}

/* spectrum=yes: the singular values of the hidden stack's input-output
 * Jacobian at the first row of the first batch, as a summary and as a
 * histogram of log10 sigma (layer 0). -1 when memory is short or the
 * eigensolver fails. */
static int spectrum(const gs_plan_t *p, gs_net_t *net, gs_result_t *r)
{
    r->sv2_min = r->sv2_max = r->sv2_mean = r->condition = NAN;
    if (!p->spectrum)
        return 0;
    size_t W = p->width, D = net->in_dim, n = W < D ? W : D;
    double *J = malloc(W * D * sizeof *J), *work = malloc(W * D * sizeof *work);
    double *sv2 = malloc(n * sizeof *sv2);   /* work serves the Jacobian, then the SVD */
    int rc = -1;
    if (!J || !work || !sv2 || gs_mlp_jacobian(net, 0, J, work) != 0 ||
        gs_spectrum_sv2(J, W, D, sv2, work) != 0)
        goto out;
    gs_spectrum_summary_t s = gs_spectrum_summary(sv2, n);
    r->sv2_min = s.sv2_min;
    r->sv2_max = s.sv2_max;
    r->sv2_mean = s.sv2_mean;
    r->condition = s.condition;
    for (size_t i = 0; i < n; i++)   /* log10 sigma = log10(sigma^2) / 2 */
        sv2[i] = sv2[i] > 0 ? 0.5 * log10(sv2[i]) : NAN;
    assert(r->n_hist < p->n_hist);   /* the plan's place for it */
    gs_hist_t *h = &r->hist[r->n_hist++];
    h->layer = 0;
    h->quantity = gs_hist_quantity_names[GS_HIST_JACOBIAN];
    histogram(h, sv2, n);
    rc = 0;
out:
    free(J);
    free(work);
    free(sv2);
    return rc;
}

int ex_measure_init(const gs_plan_t *p, gs_net_t *net, size_t n, gs_result_t *r)
{
    ex_layer_stats(p, net, n, r->layers);
    if (p->recurrent)
        gs_rnn_time_stats(net, n, r->time);
    r->grad_ratio = ex_grad_ratio(p, r->layers);
    r->diagnosis = ex_diagnose_step(p, r->layers, &r->grad_h_ratio);
    theory(p, net, r);
    return spectrum(p, net, r);
}


/* ---- format_stats ---- */

/* Store c as the next record of r->fmt, for layer l (0-based) and
 * tensor t at step: its tally, the loss-scale windows of a gradient (from
 * the whole histogram) and the histogram's bins from its first nonzero
 * one to its last, appended to r->fmt_bins */
static void fmt_record(const gs_plan_t *p, gs_result_t *r, long step, size_t l,
                       gs_fmt_tensor_t t, const gs_fmt_counts_t *c)
{
    assert(r->n_fmt < p->n_fmt_max);   /* the plan counted every record */
    gs_fmt_record_t *rec = &r->fmt[r->n_fmt++];
    *rec = (gs_fmt_record_t){.step = step, .layer = (int32_t)l + 1, .tensor = (int32_t)t,
                             .counts = c->tally, .bin_at = r->n_fmt_bins};
    for (int f = 0; f < GS_N_FMT; f++) {
        int lo, hi;
        rec->scale_lo[f] = rec->scale_hi[f] = GS_FMT_NO_WINDOW;
        if (GS_FT_IS_GRADIENT(t) &&
            gs_fmt_scale_window(&gs_formats[f], c, GS_FMT_SCALE_MAX_LOST, &lo, &hi) == 0) {
            rec->scale_lo[f] = lo;
            rec->scale_hi[f] = hi;
        }
    }
    int first = 0, last = GS_FMT_HIST_BINS - 1;
    while (first < GS_FMT_HIST_BINS && c->hist[first] == 0)
        first++;
    if (first == GS_FMT_HIST_BINS)
        return;   /* every value zero: no bins */
    while (c->hist[last] == 0)
        last--;
    rec->bin_first = first;
    rec->n_bins = last - first + 1;
    /* the pool holds n_fmt_max whole histograms */
    assert(r->n_fmt_bins + (size_t)rec->n_bins <= p->n_fmt_max * GS_FMT_HIST_BINS);
    memcpy(r->fmt_bins + r->n_fmt_bins, c->hist + first, (size_t)rec->n_bins * sizeof *c->hist);
    r->n_fmt_bins += (size_t)rec->n_bins;
}

long gs_fmt_record_bin(const gs_result_t *r, const gs_fmt_record_t *rec, int bin)
{
    int k = bin - rec->bin_first;
    return k >= 0 && k < rec->n_bins ? r->fmt_bins[rec->bin_at + (size_t)k] : 0;
}

/* Layer l's (0-based; depth: the readout) weight matrices, counted as
 * one tensor (the counts add): the MLP's W_l or W_out; a recurrent
 * layer's Wx_l and Wh_l; a transformer block's Wq, Wk, Wv, Wo and, with
 * its MLP, Wfc and Wproj (block_stats' q .. w2). Returns how many, in
 * T[0..LAYER_WEIGHTS_MAX). */
#define LAYER_WEIGHTS_MAX 6
static size_t layer_weights(const gs_plan_t *p, const gs_net_t *net, size_t l,
                            const gs_tensor_t *T[LAYER_WEIGHTS_MAX])
{
    static const gs_tensor_kind_t block[LAYER_WEIGHTS_MAX] = {
        GS_TENSOR_WQ, GS_TENSOR_WK, GS_TENSOR_WV, GS_TENSOR_WO, GS_TENSOR_WFC, GS_TENSOR_WPROJ};
    size_t k = 0;
    if (l == p->depth) {
        T[k++] = gs_net_tensor_of(net, GS_TENSOR_W, 0);
    } else if (p->transformer) {
        for (size_t i = 0; i < LAYER_WEIGHTS_MAX; i++)
            if ((T[k] = gs_net_tensor_of(net, block[i], l + 1)))
                k++;   /* mlp = no: no Wfc, Wproj */
    } else if (!p->recurrent) {
        T[k++] = gs_net_tensor_of(net, GS_TENSOR_W, l + 1);
    } else {
        T[k++] = gs_net_tensor_of(net, GS_TENSOR_WX, l + 1);
        T[k++] = gs_net_tensor_of(net, GS_TENSOR_WH, l + 1);
    }
    for (size_t i = 0; i < k; i++)
        assert(T[i] != NULL);   /* every layer has them */
    assert(k >= 1);
    return k;
}

/* The counts of the values at each of T[0..k)'s offsets in base, in c */
static const gs_fmt_counts_t *count_weights(gs_fmt_counts_t *c, const double *base,
                                            const gs_tensor_t *const *T, size_t k)
{
    gs_fmt_counts_clear(c);
    for (size_t i = 0; i < k; i++)
        gs_fmt_count(c, base + T[i]->offset, T[i]->rows * T[i]->cols);
    return c;
}

void ex_format_stats(const gs_plan_t *p, const gs_net_t *net, size_t n, long step,
                     const gs_fmt_counts_t *grad_pre, gs_result_t *r)
{
    if (!p->format_stats)
        return;
    gs_fmt_counts_t c;
    /* a transformer's rows are its n sequences' tokens */
    size_t rows = p->transformer ? n * p->tf.seq_len : n;
    for (size_t l = 0; l < p->n_layers; l++) {
        const gs_tensor_t *T[LAYER_WEIGHTS_MAX];
        size_t k = layer_weights(p, net, l, T), n_act;
        const double *act;
        if (l == p->depth) {
            act = net->out;
            n_act = rows * T[0]->rows;
        } else if (p->transformer) {
            act = gs_tf_block_output(net, l + 1);   /* the residual stream x_l */
            n_act = rows * p->tf.d_model;
        } else if (p->recurrent) {
            act = gs_rnn_layer_states(net, l, n, &n_act);   /* h_1..h_T */
        } else {
            act = gs_mlp_layer_output(net, l + 1);
            n_act = n * T[0]->rows;
        }
        gs_fmt_counts_clear(&c);
        gs_fmt_count(&c, act, n_act);
        fmt_record(p, r, step, l, GS_FT_ACTIVATION, &c);
        fmt_record(p, r, step, l, GS_FT_GRAD_ACTIVATION, &grad_pre[l]);
        fmt_record(p, r, step, l, GS_FT_GRAD_WEIGHT, count_weights(&c, net->grads, T, k));
        fmt_record(p, r, step, l, GS_FT_WEIGHT, count_weights(&c, net->params, T, k));
    }
}

void ex_format_updates(const gs_plan_t *p, const gs_net_t *net, long step, const double *delta,
                       gs_result_t *r)
{
    if (!p->format_stats)
        return;
    gs_fmt_counts_t c;
    for (size_t l = 0; l < p->n_layers; l++) {
        const gs_tensor_t *T[LAYER_WEIGHTS_MAX];
        size_t k = layer_weights(p, net, l, T);
        fmt_record(p, r, step, l, GS_FT_UPDATE, count_weights(&c, delta, T, k));
    }
}

void gs_format_row(const gs_fmt_record_t *rec, int f, gs_format_row_t *row)
{
    const gs_fmt_tally_t *c = &rec->counts;
    double nz = c->nonzero ? (double)c->nonzero : NAN;
    int window = rec->scale_lo[f] != GS_FMT_NO_WINDOW;
    *row = (gs_format_row_t){
        .n_values = c->n, .nonzero = c->nonzero,
        .zero_frac = (double)c->zero[f] / nz, .subnormal_frac = (double)c->subnormal[f] / nz,
        .overflow_frac = (double)c->overflow[f] / nz,
        .max_abs = c->nonzero ? c->max_abs : NAN, .min_abs = c->nonzero ? c->min_abs : NAN,
        .scale_lo_log2 = window ? rec->scale_lo[f] : NAN,
        .scale_hi_log2 = window ? rec->scale_hi[f] : NAN};
}
