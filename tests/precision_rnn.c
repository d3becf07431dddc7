/* Reduced-precision arithmetic in the recurrent models (issue 20:
 * precision, loss_scale, master_weights, rounding with model=rnn, lstm,
 * gru; nn/rnn.h's spec.fmt):
 * - float32 runs differ from float64 by less than 1e-4 relative in
 *   grad_ratio, grad_h_ratio and every layer's ||dL/dz|| (and not by
 *   zero); bfloat16 by more than float32 (each cell, two stacked layers);
 *   the float64 twin's relative error is the difference from the
 *   float64 probe bit for bit, its cosine near 1;
 * - every value the model stores is a value of its format: the gates
 *   after their functions, c_t and tanh(c_t) (lstm), h_t, the output and
 *   every parameter gradient (each cell, every format, gs_fmt_round(x)
 *   == x bit for bit);
 * - float16 flushes a tanh RNN's gradient through 200 steps: at every
 *   step t where the float64 ||dL/dh_t|| times the loss scale is below
 *   2^-25 (so is each of its values: each rounds to 0), float16's is
 *   exactly 0 or below 1% of float64's; where the mean |value| is above
 *   float16's smallest normal 2^-14 it is within 5% (loss scales 1 and
 *   2^16);
 * - a power-of-two loss scale changes no reported gradient statistic
 *   (per layer, per time step) in bfloat16: they are divided by it;
 * - loss_scale=dynamic on a recurrent net: an injected overflow halves
 *   the scale and skips the step (its weights are the next step's), the
 *   scale doubles after the interval; the adding problem overflows at 2^16
 *   by itself, and each overflow halves the scale and skips its step;
 * - determinism on 1 and 2 threads in every precision (stochastic
 *   rounding, dynamic scaling, weights in the format), each cell;
 * - edges: width 1 to 4 and seq_len 1 in every precision, each cell;
 *   the transformer's arithmetic: tests/precision_tf.c. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/experiment.h"
#include "nn/format.h"
#include "nn/rnn.h"
#include "sweep/cell.h"
#include "cells.h"
#include "tap.h"

static const char *const cell_names[] = {"rnn", "lstm", "gru"};

/* tests/cells.c's run of a cell's words (its cell not kept) */
static int run(const char *words, gs_result_t *r)
{
    gs_cell_t c;
    return tc_run(words, &c, r);
}

static double rel(double a, double b)
{
    return fabs(a - b) / fabs(b);
}

/* The largest relative difference of the run's gradient measurements
 * from the float64 run's: grad_ratio, grad_h_ratio, each stacked layer's
 * ||dL/dz||, ||dL/dW||, ||dL/dh_1||, ||dL/dh_T||, and the top layer's
 * ||dL/dh_t|| at every t */
static double worst_rel(const gs_result_t *a, const gs_result_t *b)
{
    double w = fmax(rel(a->grad_ratio, b->grad_ratio), rel(a->grad_h_ratio, b->grad_h_ratio));
    for (size_t l = 0; l + 1 < a->n_layers; l++) {
        const gs_layer_stats_t *x = &a->layers[l], *y = &b->layers[l];
        w = fmax(w, fmax(rel(x->grad_pre_norm, y->grad_pre_norm), rel(x->grad_w_norm, y->grad_w_norm)));
        w = fmax(w, fmax(rel(x->grad_h_first, y->grad_h_first), rel(x->grad_h_last, y->grad_h_last)));
    }
    for (size_t t = 0; t < a->n_time; t++)
        w = fmax(w, rel(a->time[t].grad_hidden_norm, b->time[t].grad_hidden_norm));
    return w;
}

static void against_float64(void)
{
    static const char *const names[] = {"float64", "float32", "bfloat16"};
    for (int k = 0; k < 3; k++) {
        gs_result_t r[3];
        char w[256];
        int ok = 1;
        for (int p = 0; p < 3; p++) {
            snprintf(w, sizeof w, "model=%s task=probe depth=2 width=32 seq_len=30 batch=32 "
                     "precision=%s", cell_names[k], names[p]);
            ok &= run(w, &r[p]) == 0 && r[p].status == GS_STATUS_DONE;
        }
        if (tap_ok(ok, "%s: probes in float64, float32 and bfloat16 run", cell_names[k])) {
            double d32 = rel(r[1].grad_ratio, r[0].grad_ratio), w32 = worst_rel(&r[1], &r[0]);
            double d16 = rel(r[2].grad_ratio, r[0].grad_ratio);
            tap_ok(d32 > 0 && d32 < 1e-4 && w32 < 1e-4,
                   "%s float32: grad_ratio %.3e relative from float64 (< 1e-4, not 0); every "
                   "gradient norm (layers, time steps) at most %.3e", cell_names[k], d32, w32);
            tap_ok(d16 > d32, "%s bfloat16 differs more: %.3e > %.3e (its worst %.3e)",
                   cell_names[k], d16, d32, worst_rel(&r[2], &r[0]));
            /* the twin is the float64 run of the same seeds and batch:
             * its relative error is the two probes' */
            int twin_ok = 1, nan64 = 1;
            double cos32 = 1, cos16 = 1;
            for (size_t l = 0; l < r[0].n_layers; l++) {
                const gs_layer_stats_t *a = &r[1].layers[l], *b = &r[2].layers[l],
                                       *z = &r[0].layers[l];
                twin_ok &= a->twin_rel_err == rel(a->grad_pre_norm, z->grad_pre_norm) &&
                           b->twin_rel_err == rel(b->grad_pre_norm, z->grad_pre_norm);
                cos32 = fmin(cos32, a->twin_cos);
                cos16 = fmin(cos16, b->twin_cos);
                nan64 &= isnan(z->twin_rel_err) && isnan(z->twin_cos);
            }
            tap_ok(twin_ok && nan64 && cos32 > 1 - 1e-10 && cos16 < cos32 && cos16 > 0.99,
                   "%s: the float64 twin - twin_rel_err each layer's difference from the float64 "
                   "probe bit for bit (NULL in float64); cosine of dL/dz float32 1 - %.1e, "
                   "bfloat16 %.6f", cell_names[k], 1 - cos32, cos16);
        }
        for (int p = 0; p < 3; p++)
            gs_result_free(&r[p]);
    }
}

/* Straight at the model: a forward and backward in each format; every
 * stored value checked */
static void representable(void)
{
    gs_rng_t rng;
    gs_rng_seed(&rng, 7, 0);
    const size_t D = 3, H = 16, T = 9, n = 5, depth = 2, n_out = 4;
    double *x = malloc(n * T * D * sizeof *x);
    for (size_t i = 0; i < n * T * D; i++)
        x[i] = gs_rng_normal(&rng);
    for (int k = 0; k < 3; k++) {
        for (int f = 0; f < GS_N_FMT; f++) {
            const gs_fmt_t *fm = &gs_formats[f];
            gs_rnn_spec_t s = {(gs_cell_kind_t)k, D, H, depth, T, n_out, n,
                               gs_activation_find("tanh"), 0, 1.0, fm};
            gs_net_t *net = gs_rnn_create(&s);
            gs_init_spec_t init = {gs_init_find("xavier"), 0, 1, 0.1};
            gs_rnn_init(net, &init, &rng);
            net->ops->forward(net, x, n, 1);
            for (size_t i = 0; i < n * n_out; i++)
                net->dout[i] = 0.1 * gs_rng_normal(&rng);   /* rounded by backward */
            net->ops->backward(net, n);
            int ok = 1;
            size_t bad = 0, cnt;
            const char *what = "";
            for (size_t l = 0; ok && l < depth; l++) {
                const double *v = gs_rnn_layer_states(net, l, n, &cnt);
                if (!(ok = tc_in_format(fm, v, cnt, &bad)))
                    what = "h_t";
                static const char *const bufs[] = {"gates", "c_t", "tanh(c_t)"};
                for (int b = 0; ok && b < 3; b++) {
                    v = gs_rnn_layer_buffer(net, l, (gs_rnn_buf_t)b, n, &cnt);
                    ok = !v ? b > 0 && k != GS_CELL_LSTM : tc_in_format(fm, v, cnt, &bad);
                    if (!ok)
                        what = bufs[b];
                }
            }
            if (ok && !(ok = tc_in_format(fm, net->out, n * n_out, &bad)))
                what = "out";
            if (ok && !(ok = tc_in_format(fm, net->grads, net->n_params, &bad)))
                what = "grads";
            int some = 0;   /* and the gradients are not all zero */
            for (size_t i = 0; i < net->n_params; i++)
                some |= net->grads[i] != 0;
            tap_ok(ok && some, "%s in %s: every stored value (gates, c, tanh c, h, out, "
                   "gradients) is one of the format%s%s", cell_names[k], fm->name,
                   ok ? "" : "; not: ", what);
            if (!ok)
                tap_diag("index %zu", bad);
            gs_net_free(net);
        }
    }
    free(x);
}

/* The tanh RNN over 200 steps at init: its ||dL/dh_t|| falls by orders
 * of magnitude towards t = 1 (1e-41 there in float64) */
static void float16_flush(void)
{
    const char *base = "model=rnn task=probe depth=1 width=64 seq_len=200 batch=64";
    char w[256];
    gs_result_t r64;
    if (!tap_ok(run(base, &r64) == 0, "rnn over 200 steps in float64"))
        return;
    const double scales[] = {1, 65536};
    double nh = 64.0 * 64.0;   /* values of dL/dh_t: batch x width */
    for (int s = 0; s < 2; s++) {
        gs_result_t r;
        snprintf(w, sizeof w, "%s precision=float16%s", base, s ? " loss_scale=65536" : "");
        if (!tap_ok(run(w, &r) == 0 && r.n_time == 200, "the same in float16, loss scale %g", scales[s]))
            continue;
        int flushed = 1, kept = 1;
        long n_flush = 0, n_kept = 0, last_flush = 0, last_zero = 0;
        for (size_t t = 0; t < 200; t++) {
            double g64 = r64.time[t].grad_hidden_norm, g16 = r.time[t].grad_hidden_norm;
            if (g16 == 0)
                last_zero = (long)t + 1;
            /* below 2^-25 each value rounds to 0; the margin of 2^-4 is
             * for the values float16 computed larger than float64 (a
             * value just above 2^-25 at t + 1 is rounded up to 2^-24) */
            if (g64 * scales[s] < 0x1p-29) {
                flushed &= g16 == 0;
                n_flush++;
                last_flush = (long)t + 1;
            } else if (g64 * scales[s] / sqrt(nh) > 0x1p-14) {
                kept &= rel(g16, g64) < 0.05;
                n_kept++;
            }
        }
        tap_ok(flushed && n_flush > 0 && r.time[0].grad_hidden_norm == 0,
               "loss scale %g: at the %ld steps (t <= %ld) where float64's ||dL/dh_t|| x scale < "
               "2^-29, float16's is exactly 0 (so at t <= %ld; float64's at t = 1: %.2e)",
               scales[s], n_flush, last_flush, last_zero, r64.time[0].grad_hidden_norm);
        tap_ok(kept && n_kept > 0, "loss scale %g: at the %ld steps whose mean |dL/dh_t| x scale is "
               "above 2^-14, within 5%% of float64", scales[s], n_kept);
        if (s == 0)   /* the diagnosis sees the flushed gradient as none at all */
            tap_ok(r.diagnosis == GS_DIAG_DEAD && r64.diagnosis == GS_DIAG_VANISHING,
                   "diagnosis: float64 vanishing, float16 dead (dL/dh_1 exactly 0)");
        gs_result_free(&r);
    }
    gs_result_free(&r64);
}

static void power_of_two_scale(void)
{
    gs_result_t a, b;
    const char *base = "model=gru task=probe depth=2 width=16 seq_len=12 batch=16 precision=bfloat16";
    char w[256];
    snprintf(w, sizeof w, "%s loss_scale=1024", base);
    if (!tap_ok(run(base, &a) == 0 && run(w, &b) == 0, "gru bfloat16 probes with and without loss_scale=1024"))
        return;
    int same = a.grad_ratio == b.grad_ratio && a.grad_h_ratio == b.grad_h_ratio && a.grad_ratio > 0;
    for (size_t l = 0; l < a.n_layers; l++)
        same &= a.layers[l].grad_pre_norm == b.layers[l].grad_pre_norm &&
                a.layers[l].grad_w_norm == b.layers[l].grad_w_norm &&
                (a.layers[l].grad_h_first == b.layers[l].grad_h_first ||
                 (isnan(a.layers[l].grad_h_first) && isnan(b.layers[l].grad_h_first)));
    for (size_t t = 0; t < a.n_time; t++)
        same &= a.time[t].grad_hidden_norm == b.time[t].grad_hidden_norm;
    tap_ok(same, "loss_scale=1024 (2^10): every layer's ||dL/dz||, ||dL/dW||, ||dL/dh_1||, every "
           "step's ||dL/dh_t||, grad_ratio and grad_h_ratio bit for bit those of no scale");
    gs_result_free(&a);
    gs_result_free(&b);
}

static void dynamic_scale(void)
{
    static const long at3[] = {3};
    for (int k = 0; k < 3; k++) {
        char w[256];
        gs_result_t r;
        snprintf(w, sizeof w, "model=%s task=train depth=2 width=8 seq_len=10 "
                 "batch=16 log_every=1 steps=12 precision=float16 loss_scale=dynamic lr=0.01",
                 cell_names[k]);
        gs_experiment_test_scaler(at3, 1, 5);
        int ok = run(w, &r) == 0 && r.status == GS_STATUS_DONE;
        gs_experiment_test_scaler(NULL, 0, 0);
        tap_ok(ok && r.skipped_steps == 1 && r.loss_scale_final == 65536.0,
               "%s: an overflow injected at step 3: 1 step skipped, the scale halved and grown "
               "back after 5 clean steps (final %g, want 65536)", cell_names[k],
               ok ? r.loss_scale_final : NAN);
        int kept = ok && tc_skip_kept(&r, 3, 3);
        tap_ok(kept, "%s: the skipped step 3 left the weights as they were", cell_names[k]);
        gs_result_free(&r);
        gs_experiment_test_scaler(NULL, 0, 5);
        ok = run(w, &r) == 0;
        gs_experiment_test_scaler(NULL, 0, 0);
        tap_ok(ok && r.skipped_steps == 0 && r.loss_scale_final == 262144.0,
               "%s: no overflow: doubled after steps 5 and 10 (final %g, want 2^18)", cell_names[k],
               ok ? r.loss_scale_final : NAN);
        gs_result_free(&r);
    }
}

/* The adding problem (MSE, dL/dout up to 2|out - t|/batch): at 2^16
 * float16's backward overflows by itself (at init the readout's weight
 * gradient reaches 1.03, x 2^16 > 65504); GradScaler's halving finds a
 * scale that does not, and the run trains on */
static void real_overflow(void)
{
    gs_result_t r;
    int ok = run("model=rnn task=train dataset=adding depth=2 width=8 seq_len=10 batch=16 "
                 "log_every=1 steps=12 precision=float16 loss_scale=dynamic lr=0.05", &r) == 0;
    tap_ok(ok && r.status == GS_STATUS_DONE && r.skipped_steps >= 1 &&
               r.loss_scale_final == ldexp(65536.0, -(int)r.skipped_steps) && isfinite(r.train_loss),
           "rnn, adding problem, float16 at 2^16: %ld steps overflow and are skipped, the scale "
           "halved as often (final %g), the run done", ok ? r.skipped_steps : -1L,
           ok ? r.loss_scale_final : NAN);
    gs_result_free(&r);
}

static int same_result(const gs_result_t *a, const gs_result_t *b)
{
    int same = a->n_layers == b->n_layers && a->n_layer_log == b->n_layer_log &&
               memcmp(a->layers, b->layers, a->n_layers * sizeof *a->layers) == 0 &&
               memcmp(a->layer_log, b->layer_log, a->n_layer_log * sizeof *a->layer_log) == 0 &&
               a->n_log == b->n_log && memcmp(a->log, b->log, a->n_log * sizeof *a->log) == 0 &&
               a->n_time == b->n_time && memcmp(a->time, b->time, a->n_time * sizeof *a->time) == 0;
    return same && (a->train_loss == b->train_loss || (isnan(a->train_loss) && isnan(b->train_loss)));
}

/* batch x width = 4096: the cells' row loops are shared among threads */
static void threads(void)
{
#ifdef _OPENMP
    for (int k = 0; k < 3; k++)
        for (int p = 1; gs_precision_names[p]; p++) {
            if (k > 0 && p != GS_FMT_FLOAT16 + 1 && p != GS_FMT_BFLOAT16 + 1)
                continue;   /* the gated cells in the two 16-bit formats */
            char w[512];
            snprintf(w, sizeof w, "model=%s task=train width=64 depth=2 seq_len=6 batch=64 "
                     "steps=4 log_every=2 eval_rows=0 precision=%s rounding=stochastic "
                     "loss_scale=dynamic master_weights=same", cell_names[k], gs_precision_names[p]);
            gs_result_t a, b;
            tap_ok(tc_run_threads(w, &a, &b) == 0 && same_result(&a, &b),
                   "%s %s: 1 and 2 threads bit for bit (layers, time steps, train log, losses)",
                   cell_names[k], gs_precision_names[p]);
            gs_result_free(&a);
            gs_result_free(&b);
        }
#else
    tap_ok(1, "# SKIP no OpenMP");
#endif
}

static void edges(void)
{
    for (int k = 0; k < 3; k++) {
        int all = 1;
        char bad[256] = "";
        for (int p = 1; gs_precision_names[p]; p++)
            for (int width = 1; width <= 4; width++)
                for (int T = 1; T <= 2; T++) {
                    char w[256];
                    gs_result_t r;
                    snprintf(w, sizeof w, "model=%s task=train width=%d depth=%d seq_len=%d "
                             "batch=3 input_dim=2 steps=3 log_every=1 precision=%s", cell_names[k],
                             width, 1 + (width == 2), T, gs_precision_names[p]);
                    int ok = run(w, &r) == 0 && r.steps_run == 3 && r.n_time == (size_t)T &&
                             r.n_layer_log == 3 * r.n_layers;
                    if (!ok && all)
                        snprintf(bad, sizeof bad, "; failed: %.200s", w);
                    all &= ok;
                    gs_result_free(&r);
                }
        tap_ok(all, "%s: width 1-4 (depth 2 at width 2), seq_len 1 and 2, trains 3 steps in every "
               "precision%s", cell_names[k], bad);
    }
    gs_cell_t c;
    char err[512];
    tap_ok(tc_cell_of("model=lstm precision=e4m3 loss_scale=dynamic rounding=stochastic", &c, err,
                   sizeof err) == 0,
           "precision, loss_scale and rounding accepted for model=lstm");
    tap_ok(tc_cell_of("model=gru precision=float16 master_weights=same", &c, err, sizeof err) == 0,
           "precision and master_weights accepted for model=gru");
}

int main(void)
{
    against_float64();
    representable();
    float16_flush();
    power_of_two_scale();
    dynamic_scale();
    real_overflow();
    threads();
    edges();
    return tap_done();
}
