/* Reduced-precision arithmetic through whole cells (issue 20: precision,
 * master_weights, loss_scale, rounding; experiment/precision.h):
 * - float32 runs differ from float64 by less than 1e-4 relative in
 *   grad_ratio and every layer's ||dL/dh|| (and not by zero); bfloat16
 *   by more than float32; the float64 twin's relative error is the
 *   difference from the float64 probe bit for bit, its cosine near 1;
 * - a power-of-two loss scale changes no reported gradient statistic in
 *   bfloat16 (scaling by 2^k commutes with every rounding away from
 *   under- and overflow: the gradients are unscaled exactly);
 * - float16 without a loss scale flushes a deep sigmoid network's lower
 *   gradients to zero and 2^16 rescues them (against the float64 twin);
 * - SGD at lr 1e-4 in bfloat16 with master_weights=same loses >= 90% of
 *   the updates, with float32 master weights <= 20%; stochastic rounding
 *   keeps some (fewer lost than nearest);
 * - loss_scale=dynamic halves on an injected overflow, skips that step
 *   (the weights of the next step are those of the skipped one) and
 *   doubles after the growth interval;
 * - determinism in every precision on 1 and 2 threads (stochastic
 *   rounding and dynamic scaling on);
 * - edges: width 1 and depth 1 in every precision; the keys' errors
 *   (the training keys need a precision). The recurrent models'
 *   arithmetic: tests/precision_rnn.c; the transformer's:
 *   tests/precision_tf.c. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/experiment.h"
#include "sweep/cell.h"
#include "cells.h"
#include "tap.h"

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

static void against_float64(void)
{
    static const char *const names[] = {"float64", "float32", "bfloat16"};
    gs_result_t r[3];
    char w[256];
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        snprintf(w, sizeof w, "task=probe activation=tanh depth=10 width=64 batch=64 precision=%s",
                 names[k]);
        ok &= run(w, &r[k]) == 0 && r[k].status == GS_STATUS_DONE;
    }
    if (!tap_ok(ok, "tanh probes in float64, float32 and bfloat16 run"))
        return;
    double d32 = rel(r[1].grad_ratio, r[0].grad_ratio), d16 = rel(r[2].grad_ratio, r[0].grad_ratio);
    double worst = 0;
    for (size_t l = 0; l < r[0].n_layers; l++) {
        double d = rel(r[1].layers[l].grad_pre_norm, r[0].layers[l].grad_pre_norm);
        worst = d > worst ? d : worst;
    }
    tap_ok(d32 < 1e-4 && d32 > 0 && worst < 1e-4,
           "float32: grad_ratio %.3e relative from float64 (< 1e-4, not 0), ||dL/dh_l|| at most %.3e",
           d32, worst);
    tap_ok(d16 > d32, "bfloat16 differs more: %.3e > %.3e", d16, d32);
    /* the twin is the float64 run of the same seeds and batch: its
     * relative error is the two probes' (the same norms, bit for bit) */
    int twin_ok = 1, nan64 = 1;
    double cos_min32 = 1, cos_min16 = 1, err16 = 0;
    for (size_t l = 0; l < r[0].n_layers; l++) {
        const gs_layer_stats_t *a = &r[1].layers[l], *b = &r[2].layers[l];
        twin_ok &= a->twin_rel_err == rel(a->grad_pre_norm, r[0].layers[l].grad_pre_norm) &&
                   b->twin_rel_err == rel(b->grad_pre_norm, r[0].layers[l].grad_pre_norm);
        cos_min32 = a->twin_cos < cos_min32 ? a->twin_cos : cos_min32;
        cos_min16 = b->twin_cos < cos_min16 ? b->twin_cos : cos_min16;
        err16 = b->twin_rel_err > err16 ? b->twin_rel_err : err16;
        nan64 &= isnan(r[0].layers[l].twin_rel_err) && isnan(r[0].layers[l].twin_cos);
    }
    tap_ok(twin_ok && nan64, "the float64 twin: twin_rel_err is each layer's relative difference from "
           "the float64 probe, bit for bit; NULL in float64");
    tap_ok(cos_min32 > 1 - 1e-10 && cos_min32 <= 1 + 1e-12 && cos_min16 < cos_min32 && cos_min16 > 0.99,
           "twin_cos: float32 at least 1 - %.1e, bfloat16 %.6f (below float32's, above 0.99; "
           "its largest relative error %.2e)", 1 - cos_min32, cos_min16, err16);
    for (int k = 0; k < 3; k++)
        gs_result_free(&r[k]);
}

static void power_of_two_scale(void)
{
    gs_result_t a, b;
    const char *base = "task=probe activation=tanh depth=6 width=32 batch=32 precision=bfloat16";
    char w[256];
    snprintf(w, sizeof w, "%s loss_scale=1024", base);
    if (!tap_ok(run(base, &a) == 0 && run(w, &b) == 0, "bfloat16 probes with and without loss_scale=1024"))
        return;
    int same = a.grad_ratio == b.grad_ratio;
    for (size_t l = 0; l < a.n_layers; l++)
        same &= a.layers[l].grad_pre_norm == b.layers[l].grad_pre_norm &&
                a.layers[l].grad_w_norm == b.layers[l].grad_w_norm;
    int twin_same = 1;
    for (size_t l = 0; l < a.n_layers; l++)
        twin_same &= a.layers[l].twin_rel_err == b.layers[l].twin_rel_err &&
                     fabs(a.layers[l].twin_cos - b.layers[l].twin_cos) < 1e-15;
    tap_ok(same && a.grad_ratio > 0 && twin_same,
           "loss_scale=1024 (2^10): every layer's ||dL/dh|| and ||dL/dW||, grad_ratio and the twin's "
           "relative error bit for bit those of no scale, its cosine within 1e-15 (the scale divided out)");
    gs_result_free(&a);
    gs_result_free(&b);
}

/* A deep sigmoid network (chi_1 ~ 0.25 a layer at gain 1 xavier): its
 * gradient falls below float16's 2^-24 within a few layers of the
 * output. Without a scale the lowest layers' ||dL/dh|| are 0 or far off
 * the float64 twin's; loss_scale=65536 brings them within 10%. */
static void float16_rescue(void)
{
    const char *base = "task=probe activation=sigmoid depth=12 width=64 batch=64";
    char w[256];
    gs_result_t r64, none, scaled;
    snprintf(w, sizeof w, "%s precision=float16", base);
    int ok = run(base, &r64) == 0 && run(w, &none) == 0;
    snprintf(w, sizeof w, "%s precision=float16 loss_scale=65536", base);
    ok &= run(w, &scaled) == 0;
    if (!tap_ok(ok, "sigmoid depth 12: float64, float16, float16 with 2^16"))
        return;
    double g64 = r64.layers[0].grad_pre_norm, gn = none.layers[0].grad_pre_norm,
           gs = scaled.layers[0].grad_pre_norm;
    tap_ok(none.layers[0].twin_rel_err == 1.0 && isnan(none.layers[0].twin_cos) &&
               scaled.layers[0].twin_cos > 0.99,
           "the twin: float16 lost layer 1's gradient whole (relative error 1, cosine NULL); with 2^16 "
           "cosine %.5f", scaled.layers[0].twin_cos);
    tap_ok(g64 > 0 && rel(gn, g64) > 0.5 && rel(gs, g64) < 0.1,
           "layer 1's ||dL/dh||: float64 %.3e, float16 %.3e (off by %.0f%%), with 2^16 %.3e (%.1f%%)",
           g64, gn, 100 * rel(gn, g64), gs, 100 * rel(gs, g64));
    gs_result_free(&r64);
    gs_result_free(&none);
    gs_result_free(&scaled);
}

/* The mean lost_update_frac of the hidden layers over the logged steps */
static double lost_share(const gs_result_t *r)
{
    double s = 0;
    long n = 0;
    for (size_t i = 0; i < r->n_layer_log; i++) {
        const gs_train_layer_row_t *row = &r->layer_log[i];
        if ((size_t)row->layer < r->n_layers && isfinite(row->lost_update_frac)) {
            s += row->lost_update_frac;
            n++;
        }
    }
    return n ? s / (double)n : NAN;
}

static void lost_updates(void)
{
    const char *base = "task=train optimizer=sgd lr=1e-4 depth=4 width=32 batch=32 steps=20 "
                       "log_every=5 precision=bfloat16";
    static const char *const how[] = {"master_weights=same", "master_weights=float32",
                                      "master_weights=same rounding=stochastic"};
    gs_result_t r[3];
    char w[256];
    double f[3];
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        snprintf(w, sizeof w, "%s %s", base, how[k]);
        ok &= run(w, &r[k]) == 0 && r[k].status == GS_STATUS_DONE;
        f[k] = ok ? lost_share(&r[k]) : NAN;
    }
    if (!tap_ok(ok, "bfloat16 SGD at lr 1e-4: the three runs"))
        return;
    tap_ok(f[0] >= 0.9, "master_weights=same: %.1f%% of the updates lost (>= 90%%)", 100 * f[0]);
    tap_ok(f[1] <= 0.2, "float32 master weights: %.1f%% lost (<= 20%%)", 100 * f[1]);
    tap_ok(f[2] < f[0], "stochastic rounding to bfloat16 keeps some: %.2f%% lost against %.2f%%",
           100 * f[2], 100 * f[0]);
    double none = NAN;
    for (size_t i = 0; i < r[0].n_layer_log; i++)
        if (r[0].layer_log[i].step == 5)
            none = r[0].layer_log[i].lost_update_frac;
    tap_ok(isfinite(none) && r[0].skipped_steps == 0 && isnan(r[0].loss_scale_final),
           "without loss_scale: no step skipped, loss_scale_final NULL");
    for (int k = 0; k < 3; k++)
        gs_result_free(&r[k]);
    gs_result_t d;
    ok = run("task=train depth=2 width=8 batch=8 steps=4 log_every=1", &d) == 0;
    int all_nan = ok;
    for (size_t i = 0; ok && i < d.n_layer_log; i++)
        all_nan &= isnan(d.layer_log[i].lost_update_frac);
    tap_ok(all_nan, "float64: lost_update_frac NULL on every row");
    gs_result_free(&d);
}

static void dynamic_scale(void)
{
    const char *base = "task=train depth=3 width=16 batch=16 log_every=1 precision=float16 "
                       "loss_scale=dynamic optimizer=sgd lr=0.05";
    char w[256];
    gs_result_t r;
    const long at3[] = {3};
    gs_experiment_test_scaler(at3, 1, 5);
    snprintf(w, sizeof w, "%s steps=12", base);
    int ok = run(w, &r) == 0 && r.status == GS_STATUS_DONE;
    /* 2^16; step 3 overflows: 2^15, skipped; steps 4..8 clean: 2^16 */
    tap_ok(ok && r.skipped_steps == 1 && r.loss_scale_final == 65536.0,
           "an overflow injected at step 3: 1 step skipped, the scale halved and grown back after "
           "5 clean steps (final %g, want 65536)", ok ? r.loss_scale_final : NAN);
    int kept = ok && tc_skip_kept(&r, 3, 4);
    tap_ok(kept, "the skipped step 3 left the weights as they were (step 4 starts from them; step 4's "
           "update moves them)");
    gs_result_free(&r);
    /* the scale at the end of other runs: injected overflows, the growth
     * interval, the steps, a static scale */
    static const long at34[] = {3, 4};
    const struct {
        const long *inject;
        size_t n_inject;
        long interval;
        const char *words;
        double scale;
        long skipped;
        const char *what;
    } runs[] = {
        {at3, 1, 5, "steps=7", 32768.0, 1, "stopped at step 7 (4 clean steps since): still halved, 2^15"},
        {at34, 2, 5, "steps=7", 16384.0, 2, "two overflows in a row: halved twice, 2^14, 2 skipped"},
        {NULL, 0, 5, "steps=12", 262144.0, 0, "no overflow: doubled after steps 5 and 10, 2^18"},
        {NULL, 0, 0, "steps=12 loss_scale=512", 512.0, 0, "a static scale stays 512"},
    };
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        gs_experiment_test_scaler(runs[k].inject, runs[k].n_inject, runs[k].interval);
        snprintf(w, sizeof w, "%s %s", base, runs[k].words);
        ok = run(w, &r) == 0;
        tap_ok(ok && r.loss_scale_final == runs[k].scale && r.skipped_steps == runs[k].skipped,
               "%s (%g, %ld skipped)", runs[k].what, ok ? r.loss_scale_final : NAN,
               ok ? r.skipped_steps : -1L);
        gs_result_free(&r);
    }
    gs_experiment_test_scaler(NULL, 0, 0);
}

static int same_result(const gs_result_t *a, const gs_result_t *b)
{
    int same = a->n_layers == b->n_layers && a->n_layer_log == b->n_layer_log &&
               memcmp(a->layers, b->layers, a->n_layers * sizeof *a->layers) == 0 &&
               memcmp(a->layer_log, b->layer_log, a->n_layer_log * sizeof *a->layer_log) == 0 &&
               a->n_log == b->n_log && memcmp(a->log, b->log, a->n_log * sizeof *a->log) == 0;
    return same && (a->train_loss == b->train_loss || (isnan(a->train_loss) && isnan(b->train_loss)));
}

static void threads(void)
{
#ifdef _OPENMP
    for (int k = 0; gs_precision_names[k]; k++) {
        char w[512];
        snprintf(w, sizeof w, "task=train activation=tanh width=200 depth=3 batch=128 steps=6 "
                 "log_every=2 eval_rows=0 precision=%s%s", gs_precision_names[k],
                 k ? " rounding=stochastic loss_scale=dynamic master_weights=same" : "");
        gs_result_t a, b;
        tap_ok(tc_run_threads(w, &a, &b) == 0 && same_result(&a, &b),
               "%s: 1 and 2 threads bit for bit (layers, train log, losses)", gs_precision_names[k]);
        gs_result_free(&a);
        gs_result_free(&b);
    }
#else
    tap_ok(1, "# SKIP no OpenMP");
#endif
}

static void edges(void)
{
    for (int k = 1; gs_precision_names[k]; k++) {
        char w[256];
        gs_result_t r;
        snprintf(w, sizeof w, "task=train width=1 depth=1 batch=3 input_dim=2 steps=3 log_every=1 "
                 "precision=%s", gs_precision_names[k]);
        int ok = run(w, &r) == 0;
        tap_ok(ok && r.n_layer_log == 3 * 2 && r.steps_run == 3,
               "width 1, depth 1 trains in %s (status %d)", gs_precision_names[k], ok ? (int)r.status : -1);
        gs_result_free(&r);
    }
    int names = strcmp(gs_precision_names[0], "float64") == 0 && !gs_precision_names[GS_N_FMT + 1];
    for (int f = 0; f < GS_N_FMT; f++)
        names &= strcmp(gs_precision_names[f + 1], gs_fmt_names[f]) == 0;
    tap_ok(names, "the precision key's values are float64 and nn/format.h's formats, in its order");
    gs_cell_t c;
    char err[512];
    tap_ok(tc_cell_of("model=transformer dataset=tokens precision=float16", &c, err, sizeof err) == 0,
           "precision accepted for model=transformer (tests/precision_tf.c)");
    tap_ok(tc_cell_of("task=train loss_scale=dynamic", &c, err, sizeof err) != 0 && strstr(err, "set precision"),
           "loss_scale without a precision refused (%s)", err);
    tap_ok(tc_cell_of("loss_scale=0", &c, err, sizeof err) != 0 && strstr(err, "loss_scale=0"),
           "loss_scale=0 refused (%s)", err);
    char key[2048], key0[2048];
    tc_cell_of("", &c, err, sizeof err);
    gs_cell_key(&c, key0, sizeof key0);
    tap_ok(!strstr(key0, "precision") && !strstr(key0, "loss_scale") && !strstr(key0, "rounding") &&
               !strstr(key0, "master_weights"),
           "the defaults leave the canonical key as before (no new key in it)");
    tc_cell_of("task=train precision=e4m3 loss_scale=dynamic rounding=stochastic master_weights=same",
            &c, err, sizeof err);
    gs_cell_key(&c, key, sizeof key);
    tap_ok(strstr(key, "precision=e4m3") && strstr(key, "loss_scale=dynamic") &&
               strstr(key, "rounding=stochastic") && strstr(key, "master_weights=same"),
           "set, they are in it: %s", key);
}

int main(void)
{
    against_float64();
    power_of_two_scale();
    float16_rescue();
    lost_updates();
    dynamic_scale();
    threads();
    edges();
    return tap_done();
}
