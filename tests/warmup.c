/* Learning-rate warm-up (issue 21, `warmup = N`).
 *
 * - gs_warmup_lr against its closed form lr t / N for t < N, lr from N on,
 *   and lr itself, bit for bit, for N = 0 (and N = 1).
 * - The rate the trainer applies: with sgd and no clipping a step moves
 *   every weight matrix by -lr_t dL/dW, so the logged update ratio of a
 *   layer is lr_t ||dL/dW|| / ||W||; every logged step of a run (log_every
 *   = 1) gives back lr_t = update_ratio w_norm / grad_w_norm within 1e-12
 *   relative, for mlps (depth 1, widths 1-4 among them) and a recurrent
 *   net, with N below, equal to and above the run's steps.
 * - warmup = 0 changes nothing: the canonical key and hash of a cell with
 *   warmup=0 are those of the cell without the key, and the run is bitwise
 *   the same; warmup = 1 applies lr from step 1, so its run is bitwise the
 *   same too; warmup = 5 is not (the test can fail); every optimizer.
 * - Bad values are refused with a message; task=probe resets the key. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/experiment.h"
#include "nn/optim.h"
#include "sweep/cell.h"
#include "cells.h"
#include "tap.h"

/* 1. the schedule's closed form */
static void closed_form(void)
{
    const double lr = 0.37;
    int ok = 1;
    for (long t = 1; t <= 50; t++)
        ok &= memcmp(&(double){gs_warmup_lr(lr, 0, t)}, &lr, sizeof lr) == 0 &&
              gs_warmup_lr(lr, 1, t) == lr;
    tap_ok(ok, "warmup 0 and 1: lr itself at every step, bit for bit");
    const long N = 8;
    ok = 1;
    for (long t = 1; t <= 3 * N; t++) {
        double want = t < N ? lr * (double)t / (double)N : lr;
        ok &= fabs(gs_warmup_lr(lr, N, t) - want) <= 1e-15 * lr;
    }
    tap_ok(ok, "warmup %ld: lr t/N for t < N, lr from step N on", N);
    tap_close(gs_warmup_lr(lr, N, 1), lr / (double)N, 1e-15, "warmup %ld: step 1 applies lr/N", N);
    tap_ok(gs_warmup_lr(lr, N, N - 1) < lr && gs_warmup_lr(lr, N, N) == lr,
           "warmup %ld: below lr at step N-1, lr at step N", N);
    tap_close(gs_warmup_lr(lr, 1000, 1), lr * 1e-3, 1e-15, "warmup 1000: step 1 applies lr/1000");
}

/* 2. the rate the trainer applied, read back from every logged step */
static void applied_rate(void)
{
    static const struct {
        const char *words;
        long warmup;
    } runs[] = {
        {"task=train depth=3 width=8 batch=16 steps=12 log_every=1 optimizer=sgd lr=0.05 "
         "warmup=6", 6},
        {"task=train depth=1 width=1 batch=8 steps=5 log_every=1 optimizer=sgd lr=0.1 warmup=5", 5},
        {"task=train depth=2 width=4 batch=4 steps=6 log_every=1 optimizer=sgd lr=0.2 warmup=40 "
         "activation=relu init=he", 40},
        {"task=train depth=2 width=3 batch=8 steps=7 log_every=1 optimizer=sgd lr=0.03 warmup=3 "
         "norm=layer residual=yes", 3},
        {"task=train model=rnn dataset=adding seq_len=5 width=4 batch=8 steps=6 log_every=1 "
         "optimizer=sgd lr=0.02 warmup=4", 4},
    };
    for (size_t k = 0; k < sizeof runs / sizeof *runs; k++) {
        gs_cell_t c;
        gs_result_t r;
        if (tc_run(runs[k].words, &c, &r) != 0) {
            tap_ok(0, "run %zu ran", k);
            continue;
        }
        size_t L = r.n_layers;
        int ok = r.n_log == (size_t)c.steps && r.n_layer_log == r.n_log * L &&
                 r.status == GS_STATUS_DONE;
        double worst = 0.0;
        for (size_t i = 0; ok && i < r.n_layer_log; i++) {
            const gs_train_layer_row_t *row = &r.layer_log[i];
            double want = gs_warmup_lr(c.lr, runs[k].warmup, row->step);
            double closed = c.lr * fmin(1.0, (double)row->step / (double)runs[k].warmup);
            double got = row->update_ratio * row->w_norm / row->grad_w_norm;
            if (!(row->grad_w_norm > 0) || !isfinite(got)) {
                ok = 0;
                break;
            }
            double e = fmax(fabs(got - want), fabs(got - closed)) / want;
            worst = e > worst ? e : worst;
        }
        tap_ok(ok && worst <= 1e-12,
               "run %zu (warmup %ld over %ld steps, %zu layers): the applied rate "
               "update_ratio*w_norm/grad_w_norm = lr*min(1, t/N) at every step (worst %.1e)",
               k, runs[k].warmup, c.steps, L, worst);
        gs_result_free(&r);
    }
}

/* 3. warmup=0 (and 1) is the run without the key, for every optimizer */
static void zero_is_off(void)
{
    for (size_t o = 0; o < gs_n_optimizers; o++) {
        char base[256], w0[300], w1[300], w5[300];
        snprintf(base, sizeof base, "task=train depth=3 width=6 batch=16 steps=9 log_every=2 "
                 "lr=0.01 clip=1 optimizer=%s", gs_optimizers[o].name);
        snprintf(w0, sizeof w0, "%s warmup=0", base);
        snprintf(w1, sizeof w1, "%s warmup=1", base);
        snprintf(w5, sizeof w5, "%s warmup=5", base);
        const char *opt = gs_optimizers[o].name;
        gs_cell_t c, c0, c1, c5;
        gs_result_t r, r0, r1, r5;
        if (tc_run(base, &c, &r) != 0 || tc_run(w0, &c0, &r0) != 0 || tc_run(w1, &c1, &r1) != 0 ||
            tc_run(w5, &c5, &r5) != 0) {
            tap_ok(0, "%s: runs", opt);
            continue;
        }
        char k[2048], k0[2048];
        gs_cell_key(&c, k, sizeof k);
        gs_cell_key(&c0, k0, sizeof k0);
        tap_ok(strcmp(k, k0) == 0 && gs_cell_key_hash(&c) == gs_cell_key_hash(&c0) &&
                   gs_cell_seed(&c) == gs_cell_seed(&c0) && !strstr(k, "warmup"),
               "%s: warmup=0 has the key, hash and seed of the cell without it", opt);
        tap_ok(tc_same_training(&r, &r0), "%s: warmup=0 is bitwise the run without the key", opt);
        tap_ok(tc_same_training(&r, &r1), "%s: warmup=1 is bitwise the run without warm-up", opt);
        tap_ok(!tc_same_training(&r, &r5) && r5.log[0].loss == r.log[0].loss,
               "%s: warmup=5 starts from the same loss and then differs", opt);
        gs_result_free(&r);
        gs_result_free(&r0);
        gs_result_free(&r1);
        gs_result_free(&r5);
    }
}

/* 4. the key's edges */
static void key_edges(void)
{
    gs_cell_t c;
    char err[512], k[2048];
    gs_cell_defaults(&c);
    tap_ok(gs_cell_set_word(&c, "warmup=-1", err, sizeof err) != 0 && strstr(err, "warmup=-1"),
           "warmup=-1 refused, naming the key (%s)", err);
    tap_ok(gs_cell_set_word(&c, "warmup=2.5", err, sizeof err) != 0 &&
               strstr(err, "not an integer"),
           "warmup=2.5 refused: not an integer (%s)", err);
    gs_cell_defaults(&c);
    tap_ok(gs_cell_set_word(&c, "warmup=7", err, sizeof err) == 0 && c.warmup == 7,
           "warmup=7 accepted");
    gs_cell_key(&c, k, sizeof k);
    tap_ok(strstr(k, "warmup=7") != NULL, "a set warmup is in the canonical key");
    gs_settled_t note = {0};
    tap_ok(gs_cell_settle(&c, &note) == 1 && c.warmup == 0,
           "task=probe puts warmup back to 0 (a training key)");
}

int main(void)
{
    closed_form();
    applied_rate();
    zero_is_off();
    key_edges();
    return tap_done();
}
