/* Training a transformer cell (issue 21, experiment/train_tf.c):
 *
 * - block_stats at step 0 and at every logged step: (logged steps + 1) x
 *   depth x the sublayers the model has; update_ratio NaN at step 0 and in
 *   the 'block' rows; with sgd and no clipping a step moves every matrix
 *   and norm gain by -lr_t dL/dW, so update_ratio w_norm / grad_w_norm
 *   gives back the applied rate lr_t = lr min(1, t/N) of the warm-up to
 *   1e-12 relative, at every step and in every matrix row (depth 1 and 2,
 *   widths 4-8, 1-2 heads, ln post/pre/none, mlp=no, causal=yes, dropout).
 * - step 0 is the probe: the training cell's step-0 rows, init_loss,
 *   grad_ratio, grad_h_ratio, diagnosis and output_change are bitwise the
 *   probe's of the same keys (same weights, same first batch; with
 *   dropout the same masks: the first key of the cell's stream).
 * - it learns: reverse and copy (T = 8, 16 symbols) reach >= 95% held-out
 *   token accuracy in 200 Adam steps, from chance (1/16); recall's
 *   queries are answered above chance (the loss falls below the pair
 *   positions' floor).
 * - the held-out evaluation does not touch training: eval_rows=0 and 64
 *   give bitwise the same losses and block rows; the held-out values are
 *   finite at logged steps with eval_rows=64, NaN with 0; with dropout
 *   too (evaluation draws no masks), and dropout changes the training.
 * - divergence: sgd at lr 1e4 diverges; the run says at which step, names
 *   a block 1..depth and what went non-finite, logs the step, and has
 *   diagnosis_final diverged and no final losses.
 * - the token tasks only for transformers; their shape checks. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/experiment.h"
#include "nn/optim.h"
#include "cells.h"
#include "tap.h"

/* sublayer rows a block has: q k v o, w1 w2 (mlp), ln1 ln2 (ln != none;
 * ln2 only with the mlp), and the block row */
static size_t rows_per_block(const gs_cell_t *c)
{
    int ln = c->ln != 2;   /* gs_ln_place_names: post, pre, none */
    return 4 + (c->mlp ? 2 : 0) + (ln ? 1 + (c->mlp ? 1 : 0) : 0) + 1;
}

/* 1. the rows and the applied rate */
static void rows_and_rate(void)
{
    static const char *const cells[] = {
        "model=transformer task=train depth=2 width=8 heads=2 seq_len=4 vocab=8 batch=4 "
        "steps=6 log_every=1 optimizer=sgd lr=0.05 warmup=4 activation=gelu",
        "model=transformer task=train depth=1 width=4 heads=1 seq_len=3 vocab=5 batch=2 "
        "steps=4 log_every=1 optimizer=sgd lr=0.2 warmup=3 ln=post",
        "model=transformer task=train depth=2 width=6 heads=2 seq_len=5 vocab=7 batch=3 "
        "steps=5 log_every=1 optimizer=sgd lr=0.1 warmup=10 ln=none mlp=no causal=yes",
        "model=transformer task=train depth=2 width=8 heads=2 seq_len=6 vocab=8 batch=4 "
        "steps=5 log_every=1 optimizer=sgd lr=0.1 warmup=2 dataset=reverse ln=pre "
        "residual_scale=deepnorm",
        "model=transformer task=train depth=2 width=8 heads=2 seq_len=5 vocab=8 batch=4 "
        "steps=5 log_every=1 optimizer=sgd lr=0.1 warmup=3 ln=post dropout=0.2",
    };
    for (size_t k = 0; k < sizeof cells / sizeof *cells; k++) {
        gs_cell_t c;
        gs_result_t r;
        if (tc_run(cells[k], &c, &r) != 0) {
            tap_ok(0, "cell %zu ran", k);
            continue;
        }
        size_t per = rows_per_block(&c), L = (size_t)c.depth;
        tap_ok(r.status == GS_STATUS_DONE && r.n_log == (size_t)c.steps &&
                   r.n_block == ((size_t)c.steps + 1) * L * per && r.n_layers == 0,
               "cell %zu: %zu block rows = (%ld logged steps + step 0) x %zu blocks x %zu "
               "sublayers; no layer rows", k, r.n_block, c.steps, L, per);
        int ok = 1;
        double worst = 0.0;
        size_t checked = 0;
        for (size_t i = 0; i < r.n_block; i++) {
            const gs_block_row_t *b = &r.block[i];
            long want_step = (long)(i / (L * per));
            ok &= b->step == want_step && b->layer == (int32_t)(i / per % L) + 1;
            if (b->sublayer == GS_SUB_BLOCK || b->step == 0) {
                ok &= isnan(b->update_ratio);
                if (b->sublayer == GS_SUB_BLOCK)
                    ok &= isnan(b->w_norm) && isfinite(b->rms) && isfinite(b->grad_x_norm);
                continue;
            }
            double lr_t = gs_warmup_lr(c.lr, c.warmup, b->step);
            double closed = c.lr * fmin(1.0, (double)b->step / (double)c.warmup);
            double got = b->update_ratio * b->w_norm / b->grad_w_norm;
            if (!(b->grad_w_norm > 0) || !isfinite(got)) {
                ok = 0;
                continue;
            }
            double e = fmax(fabs(got - lr_t), fabs(got - closed)) / lr_t;
            worst = e > worst ? e : worst;
            checked++;
        }
        tap_ok(ok && checked > 0 && worst <= 1e-12,
               "cell %zu: every matrix row's update_ratio * w_norm / grad_w_norm = lr min(1, t/%ld) "
               "(%zu rows, worst %.1e); NaN at step 0 and in block rows", k, c.warmup, checked,
               worst);
        gs_result_free(&r);
    }
}

/* 2. step 0 of training is the probe */
static void step0_is_probe(void)
{
    static const char *const keys[] = {
        "model=transformer depth=3 width=8 heads=2 seq_len=5 vocab=9 batch=4 activation=gelu",
        "model=transformer depth=2 width=8 heads=4 seq_len=6 vocab=8 batch=5 ln=post "
        "dataset=copy",
        "model=transformer depth=2 width=8 heads=2 seq_len=6 vocab=8 batch=4 ln=post "
        "dropout=0.3",
    };
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        char tw[512], pw[512];
        snprintf(tw, sizeof tw, "%s task=train steps=3 log_every=2 optimizer=adam lr=0.01", keys[k]);
        snprintf(pw, sizeof pw, "%s task=probe", keys[k]);
        gs_cell_t ct, cp;
        gs_result_t t, p;
        if (tc_run(tw, &ct, &t) != 0 || tc_run(pw, &cp, &p) != 0) {
            tap_ok(0, "%zu: ran", k);
            continue;
        }
        size_t n0 = 0;
        while (n0 < t.n_block && t.block[n0].step == 0)
            n0++;
        tap_ok(n0 == p.n_block && memcmp(t.block, p.block, n0 * sizeof *t.block) == 0,
               "%zu: the training's %zu step-0 rows are bitwise the probe's", k, n0);
        tap_ok(memcmp(&t.init_loss, &p.init_loss, sizeof(double)) == 0 &&
                   memcmp(&t.grad_h_ratio, &p.grad_h_ratio, sizeof(double)) == 0 &&
                   memcmp(&t.grad_ratio, &p.grad_ratio, sizeof(double)) == 0 &&
                   memcmp(&t.output_change, &p.output_change, sizeof(double)) == 0 &&
                   t.diagnosis == p.diagnosis && isfinite(t.output_change) &&
                   t.output_change > 0,
               "%zu: init_loss, grad_ratio, grad_h_ratio, diagnosis, output_change (%.4g) "
               "bitwise the probe's", k, t.output_change);
        gs_result_free(&t);
        gs_result_free(&p);
    }
}

/* 3. it learns */
static void learns(void)
{
    static const char *const tasks[] = {"reverse", "copy"};
    for (size_t k = 0; k < 2; k++) {
        char w[512];
        snprintf(w, sizeof w,
                 "model=transformer task=train dataset=%s depth=2 width=32 heads=4 seq_len=8 "
                 "vocab=16 batch=16 steps=200 log_every=100 optimizer=adam lr=3e-3 "
                 "activation=gelu ln=pre eval_rows=256", tasks[k]);
        gs_cell_t c;
        gs_result_t r;
        if (tc_run(w, &c, &r) != 0) {
            tap_ok(0, "%s: ran", tasks[k]);
            continue;
        }
        const gs_train_row_t *last = &r.log[r.n_log - 1];
        tap_ok(r.status == GS_STATUS_DONE && r.test_acc >= 0.95 && last->heldout_acc >= 0.95 &&
                   r.log[0].heldout_acc < 0.2 && r.test_loss < 0.1 * r.init_loss,
               "%s: held-out token accuracy %.3f at step 1 -> %.3f (test %.3f), loss %.3f -> %.3f",
               tasks[k], r.log[0].heldout_acc, last->heldout_acc, r.test_acc, r.init_loss,
               r.test_loss);
        gs_result_free(&r);
    }
    /* recall: a third of the positions are queries whose value has 1 in
     * vocab/2 = 8 chances; the pair positions (their own token) are
     * learnable at once. Chance on the queries leaves a loss of at least
     * (1/3) ln 8 = 0.69; below it the queries are answered. */
    gs_cell_t c;
    gs_result_t r;
    if (tc_run("model=transformer task=train dataset=recall depth=2 width=32 heads=4 seq_len=9 "
            "vocab=16 batch=16 steps=400 log_every=100 optimizer=adam lr=3e-3 activation=gelu "
            "ln=pre", &c, &r) == 0) {
        tap_ok(r.status == GS_STATUS_DONE && r.test_loss < (1.0 / 3.0) * log(8.0),
               "recall: test loss %.3f below the floor of guessing the queries' values (%.3f)",
               r.test_loss, log(8.0) / 3.0);
        gs_result_free(&r);
    } else
        tap_ok(0, "recall: ran");
}

/* 4. the held-out evaluation leaves training alone */
static void heldout_apart(const char *drop)
{
    const char *base = "model=transformer task=train depth=2 width=8 heads=2 seq_len=5 vocab=8 "
                       "batch=4 steps=7 log_every=3 optimizer=adam lr=0.01 dataset=reverse";
    char w0[512], w64[512];
    snprintf(w0, sizeof w0, "%s%s eval_rows=0", base, drop);
    snprintf(w64, sizeof w64, "%s%s eval_rows=64", base, drop);
    gs_cell_t c;
    gs_result_t a, b;
    if (tc_run(w0, &c, &a) != 0 || tc_run(w64, &c, &b) != 0) {
        tap_ok(0, "held-out: ran");
        return;
    }
    int same = a.n_log == b.n_log && a.n_block == b.n_block &&
               memcmp(a.block, b.block, a.n_block * sizeof *a.block) == 0 &&
               memcmp(&a.test_loss, &b.test_loss, sizeof(double)) == 0;
    int nan0 = 1, fin64 = 1;
    for (size_t i = 0; same && i < a.n_log; i++) {
        same &= memcmp(&a.log[i].loss, &b.log[i].loss, sizeof(double)) == 0 &&
                memcmp(&a.log[i].grad_norm, &b.log[i].grad_norm, sizeof(double)) == 0;
        nan0 &= isnan(a.log[i].heldout_loss) && isnan(a.log[i].heldout_acc);
        fin64 &= isfinite(b.log[i].heldout_loss) && b.log[i].heldout_acc >= 0 &&
                 b.log[i].heldout_acc <= 1;
    }
    tap_ok(same && a.n_log == 4, "%s eval_rows=0 and 64: bitwise the same training (%zu logged "
           "steps)", drop, a.n_log);
    tap_ok(nan0 && fin64 && b.heldout_rows == 64,
           "%s held-out values NaN with eval_rows=0, finite with 64 (heldout_rows %ld)", drop,
           b.heldout_rows);
    if (*drop) {   /* and dropout is on in training: its losses are not those without */
        gs_result_t z;
        char wz[512];
        snprintf(wz, sizeof wz, "%s eval_rows=0", base);
        if (tc_run(wz, &c, &z) != 0) {
            tap_ok(0, "%s: dropout 0 ran", drop);
        } else {
            tap_ok(z.n_log == a.n_log && z.log[0].loss != a.log[0].loss &&
                       z.log[a.n_log - 1].loss != a.log[a.n_log - 1].loss,
                   "%s: training losses differ from dropout 0's (step 1: %.6f vs %.6f)", drop,
                   a.log[0].loss, z.log[0].loss);
            gs_result_free(&z);
        }
    }
    gs_result_free(&a);
    gs_result_free(&b);
}

/* 5. divergence */
static void diverges(void)
{
    gs_cell_t c;
    gs_result_t r;
    if (tc_run("model=transformer task=train depth=3 width=8 heads=2 seq_len=4 vocab=8 batch=4 "
            "steps=50 log_every=10 optimizer=sgd lr=1e6 ln=none", &c, &r) != 0) {
        tap_ok(0, "divergence: ran");
        return;
    }
    const gs_train_row_t *last = &r.log[r.n_log - 1];
    int rows_at = 0;
    for (size_t i = 0; i < r.n_block; i++)
        rows_at += r.block[i].step == r.diverged_step;
    tap_ok(r.status == GS_STATUS_DIVERGED && r.diverged_step >= 2 && r.diverged_step <= 50 &&
               last->step == r.diverged_step && r.steps_run == r.diverged_step &&
               rows_at == (int)(3 * rows_per_block(&c)),
           "sgd at lr 1e6 diverges at step %ld, logged with its %d block rows", r.diverged_step,
           rows_at);
    tap_ok(r.diverged_layer >= 1 && r.diverged_layer <= 3 &&
               r.diagnosis_final == GS_DIAG_DIVERGED && isnan(r.test_loss) &&
               isfinite(r.last_finite_grad_norm),
           "the forensics name block %ld (%s), diagnosis_final diverged, no final loss",
           r.diverged_layer, r.diverged_tensor == GS_NONFINITE_WEIGHT ? "weight"
                             : r.diverged_tensor == GS_NONFINITE_ACTIVATION ? "activation"
                             : r.diverged_tensor == GS_NONFINITE_GRADIENT ? "gradient" : "loss");
    /* the sublayer named is the one whose row at that step holds the first
     * non-finite value of that kind: w_norm (weight), rms (activation: the
     * block row), grad_w_norm (gradient); none for the loss alone */
    const gs_block_row_t *named = NULL;
    for (size_t i = 0; i < r.n_block; i++)
        if (r.block[i].step == r.diverged_step && r.block[i].layer == r.diverged_layer &&
            !strcmp(gs_sublayer_names[r.block[i].sublayer], r.diverged_sublayer))
            named = &r.block[i];
    int agrees = r.diverged_tensor == GS_NONFINITE_LOSS ? r.diverged_sublayer[0] == '\0'
                 : !named ? 0
                 : r.diverged_tensor == GS_NONFINITE_WEIGHT ? !isfinite(named->w_norm)
                 : r.diverged_tensor == GS_NONFINITE_ACTIVATION
                     ? named->sublayer == GS_SUB_BLOCK && !isfinite(named->rms)
                     : named->sublayer != GS_SUB_BLOCK && !isfinite(named->grad_w_norm);
    /* and no lower block's weight went non-finite before it (weights are
     * looked at first, lowest block first) */
    for (size_t i = 0; agrees && r.diverged_tensor == GS_NONFINITE_WEIGHT && i < r.n_block; i++)
        if (r.block[i].step == r.diverged_step && r.block[i].layer < r.diverged_layer &&
            r.block[i].sublayer != GS_SUB_BLOCK && !isfinite(r.block[i].w_norm))
            agrees = 0;
    tap_ok(agrees, "the forensics' sublayer '%s' of block %ld holds that non-finite value in its row",
           r.diverged_sublayer, r.diverged_layer);
    gs_result_free(&r);
}

/* 6. the token tasks' keys */
static void keys(void)
{
    gs_cell_t c;
    char err[512];
    tap_ok(tc_cell_of("model=mlp dataset=reverse", &c, err, sizeof err) != 0 &&
               strstr(err, "needs model=transformer"),
           "dataset=reverse with an mlp: refused (%s)", err);
    tap_ok(tc_cell_of("model=transformer dataset=recall seq_len=32 vocab=16", &c, err, sizeof err) != 0 &&
               strstr(err, "recall needs vocab"),
           "recall with 10 pairs over 16 symbols: refused (%s)", err);
    tap_ok(tc_cell_of("model=transformer dataset=charlm vocab=64", &c, err, sizeof err) != 0 &&
               strstr(err, "vocab >= 96"),
           "charlm with vocab 64: refused (%s)", err);
    gs_result_t r;
    int ran = tc_run("model=transformer dataset=charlm vocab=96 seq_len=16 width=8 heads=2 depth=1 "
                  "batch=4 task=train steps=2 log_every=1", &c, &r) == 0;
    tap_ok(ran && r.status == GS_STATUS_DONE && isfinite(r.test_loss) && r.test_loss > 0,
           "charlm: a training cell on the shipped text runs (test loss %.3f)",
           ran ? r.test_loss : NAN);
    gs_result_free(&r);
    ran = tc_run("model=transformer dataset=charlm vocab=96 seq_len=16 width=8 heads=2 depth=1 "
              "batch=4 task=probe", &c, &r) == 0;
    tap_ok(ran && r.status == GS_STATUS_DONE && isfinite(r.init_loss) && r.n_block == 9,
           "charlm: a probe reads its batch of the text (init loss %.3f)", ran ? r.init_loss : NAN);
    gs_result_free(&r);
}

int main(void)
{
    rows_and_rate();
    step0_is_probe();
    heldout_apart("");
    heldout_apart(" dropout=0.3");
    diverges();
    keys();
    learns();
    return tap_done();
}
