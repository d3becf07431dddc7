/* Evaluation during training (issue 18): every logged step's loss and
 * accuracy on the held-out subset (the test part's first eval_rows rows).
 *
 * - At step 1 the weights are the init's: the test rebuilds the data set
 *   and the model itself (the data makers, the split, the init from the
 *   plan's weight seed), runs the forward pass one row at a time (other
 *   products, another summation order than the trainer's chunks) and
 *   computes the cross-entropy (log-sum-exp, its own code) or the MSE and
 *   the arg-max accuracy: equal within 1e-12 relative.
 * - Later steps: a run of N+1 steps evaluates at its last step with the
 *   weights after N updates, which is what the final evaluation of a run of
 *   N steps sees; with eval_rows >= the test part both cover the whole test
 *   part: bitwise equal to that run's test_loss and test_acc.
 * - Training is untouched: every training row (batch loss, norms,
 *   clipping, per-layer log, final losses) is bitwise the same with
 *   eval_rows = 0, the default and 2000 (batch norm's running statistics
 *   and the random streams unchanged).
 * - The subset's size: min(eval_rows, test rows), eval_rows above 2000
 *   refused; the same rows for arms that differ in training keys only
 *   (their step-1 values, from the same init, are bitwise equal). */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/synthetic.h"
#include "experiment/experiment.h"
#include "experiment/plan.h"
#include "nn/mlp.h"
#include "nn/rnn.h"
#include "cells.h"
#include "tap.h"

#define MAX_WORDS 16

static int cell_of(const char *const *words, gs_cell_t *c)
{
    char err[512];
    gs_cell_defaults(c);
    for (size_t i = 0; i < MAX_WORDS && words[i]; i++)
        if (gs_cell_set_word(c, words[i], err, sizeof err) != 0) {
            tap_diag("%s: %s", words[i], err);
            return -1;
        }
    return 0;
}

static int run(const char *const *words, gs_result_t *r)
{
    gs_cell_t c;
    memset(r, 0, sizeof *r);
    if (cell_of(words, &c) != 0)
        return -1;
    if (gs_experiment_run(&c, r, NULL) != 0) {
        tap_diag("run failed: %s", r->error);
        return -1;
    }
    return 0;
}

/* The held-out loss and accuracy of the cell's model at init over the
 * first k rows of its test part, computed apart from the trainer: one
 * row at a time, the loss by its formula. -1 when the cell cannot be
 * rebuilt here (the test covers the synthetic data sets). */
static int reference_at_init(const gs_cell_t *c, size_t k, double *loss, double *acc)
{
    gs_plan_t p;
    gs_plan_make(c, &p);
    gs_dataset_t all = {0}, train = {0}, test = {0};
    int made = p.dataset == GS_DATA_ADDING
                   ? gs_adding_make(&all, p.total_rows, p.n_time, p.data_set_seed)
                   : gs_gaussian_make(&all, p.total_rows, p.row_dim, p.n_out, p.data_set_seed);
    if (p.dataset == GS_DATA_DIGITS || made != 0 ||
        gs_dataset_split(&all, p.train_frac, p.data_set_seed, &train, &test) != 0)
        return -1;
    gs_dataset_free(&all);
    gs_rng_t rng;
    gs_rng_seed(&rng, p.weight_seed, GS_STREAM_WEIGHTS);
    gs_net_t *net;
    if (p.recurrent) {
        p.rnn.capacity = 1;
        if ((net = gs_rnn_create(&p.rnn)))
            gs_rnn_init(net, &p.init, &rng);
    } else {
        p.mlp.capacity = 1;
        if ((net = gs_mlp_create(&p.mlp)))
            gs_mlp_init(net, &p.init, &rng);
    }
    if (!net || k > test.n)
        return -1;
    double total = 0.0;
    size_t hits = 0;
    for (size_t i = 0; i < k; i++) {
        net->ops->forward(net, test.x + i * test.dim, 1, 0);
        const double *z = net->out;
        if (p.regression) {
            double d = z[0] - test.t[i];
            total += d * d;
            continue;
        }
        size_t best = 0;
        double mx = z[0];
        for (size_t j = 1; j < p.n_out; j++)
            if (z[j] > mx) {
                mx = z[j];
                best = j;
            }
        double se = 0.0;
        for (size_t j = 0; j < p.n_out; j++)
            se += exp(z[j] - mx);
        total += mx + log(se) - z[test.y[i]];
        hits += best == (size_t)test.y[i];
    }
    *loss = total / (double)k;
    *acc = p.regression ? NAN : (double)hits / (double)k;
    gs_net_free(net);
    gs_dataset_free(&train);
    gs_dataset_free(&test);
    return 0;
}

static int all_nan(const gs_result_t *r)
{
    for (size_t i = 0; i < r->n_log; i++)
        if (!isnan(r->log[i].heldout_loss) || !isnan(r->log[i].heldout_acc))
            return 0;
    return 1;
}

static int all_finite(const gs_result_t *r, int regression)
{
    for (size_t i = 0; i < r->n_log; i++)
        if (!isfinite(r->log[i].heldout_loss) ||
            (regression ? !isnan(r->log[i].heldout_acc) : !isfinite(r->log[i].heldout_acc)))
            return 0;
    return 1;
}

/* 1. step 1 against the reference: mlp (depth 1 and widths 1-4 among
 * them, batch norm in eval mode, a batch of 1) and the recurrent cells */
static void against_reference(void)
{
    static const char *const cells[][MAX_WORDS] = {
        {"task=train", "depth=3", "width=16", "batch=32", "steps=1", "eval_rows=100"},
        {"task=train", "depth=1", "width=1", "batch=8", "steps=1", "eval_rows=37"},
        {"task=train", "depth=2", "width=4", "batch=1", "steps=1", "eval_rows=5",
         "activation=relu", "init=he"},
        {"task=train", "depth=4", "width=3", "batch=16", "steps=1", "eval_rows=2000",
         "norm=batch", "activation=relu"},
        {"task=train", "depth=2", "width=8", "batch=16", "steps=1", "norm=layer",
         "residual=yes", "input_dim=5"},
        {"task=train", "model=rnn", "dataset=adding", "seq_len=6", "width=4", "batch=16",
         "steps=1", "eval_rows=300"},
        {"task=train", "model=lstm", "dataset=adding", "seq_len=5", "width=3", "depth=2",
         "batch=8", "steps=1", "eval_rows=64"},
        {"task=train", "model=gru", "dataset=gaussian", "seq_len=4", "width=2", "batch=4",
         "steps=1", "eval_rows=50", "input_dim=3"},
    };
    for (size_t k = 0; k < sizeof cells / sizeof *cells; k++) {
        gs_cell_t c;
        gs_result_t r;
        double loss = NAN, acc = NAN;
        if (cell_of(cells[k], &c) != 0 || run(cells[k], &r) != 0 || r.n_log != 1 ||
            reference_at_init(&c, (size_t)r.heldout_rows, &loss, &acc) != 0) {
            tap_ok(0, "cell %zu: ran and rebuilt", k);
            continue;
        }
        gs_plan_t p;
        gs_plan_make(&c, &p);
        size_t want = (size_t)c.eval_rows < p.total_rows - p.train_rows
                          ? (size_t)c.eval_rows : p.total_rows - p.train_rows;
        tap_ok(r.heldout_rows == (long)want && want > 0,
               "cell %zu: heldout_rows %ld = min(eval_rows %ld, test rows %zu)", k,
               r.heldout_rows, c.eval_rows, p.total_rows - p.train_rows);
        tap_close(r.log[0].heldout_loss, loss, 1e-12,
                  "cell %zu: step 1's held-out loss = the reference's over the same %ld rows",
                  k, r.heldout_rows);
        if (p.regression)
            tap_ok(isnan(r.log[0].heldout_acc) && isnan(acc),
                   "cell %zu: regression: no held-out accuracy", k);
        else
            tap_ok(r.log[0].heldout_acc == acc, "cell %zu: held-out accuracy %.17g = %.17g", k,
                   r.log[0].heldout_acc, acc);
        gs_result_free(&r);
    }
}

/* 2. a later step: the last logged step of N+1 steps = the final
 * evaluation of N steps (the whole test part) */
static void against_final(void)
{
    static const char *const cells[][MAX_WORDS] = {
        {"task=train", "depth=3", "width=16", "batch=32", "steps=40", "log_every=10",
         "optimizer=adam", "lr=1e-2", "eval_rows=2000"},
        {"task=train", "dataset=digits", "depth=2", "width=24", "batch=16", "steps=30",
         "log_every=7", "norm=batch", "activation=relu", "init=he", "optimizer=momentum",
         "lr=0.05", "eval_rows=2000"},
        {"task=train", "model=gru", "dataset=digits", "seq_len=8", "width=8", "batch=16",
         "steps=20",
         "log_every=5", "optimizer=adam", "lr=1e-2", "clip=1", "eval_rows=2000"},
    };
    for (size_t k = 0; k < sizeof cells / sizeof *cells; k++) {
        const char *words[MAX_WORDS + 1] = {0};
        memcpy(words, cells[k], sizeof cells[k]);
        gs_cell_t c;
        gs_result_t a, b;
        if (cell_of(cells[k], &c) != 0 || run(cells[k], &a) != 0) {
            tap_ok(0, "cell %zu: ran", k);
            continue;
        }
        char more[32];
        snprintf(more, sizeof more, "steps=%ld", c.steps + 1);
        size_t n = 0;
        while (words[n])
            n++;
        words[n] = more;   /* the later steps= wins */
        if (run(words, &b) != 0) {
            tap_ok(0, "cell %zu: ran N+1 steps", k);
            gs_result_free(&a);
            continue;
        }
        gs_plan_t p;
        gs_plan_make(&c, &p);
        const gs_train_row_t *last = &b.log[b.n_log - 1];
        tap_ok(a.status == GS_STATUS_DONE && last->step == c.steps + 1 &&
                   b.heldout_rows == (long)(p.total_rows - p.train_rows) &&
                   memcmp(&last->heldout_loss, &a.test_loss, sizeof a.test_loss) == 0 &&
                   memcmp(&last->heldout_acc, &a.test_acc, sizeof a.test_acc) == 0,
               "cell %zu: held-out at step %ld of %ld (%.17g, acc %.6g) = the final test "
               "loss of %ld steps (%.17g, acc %.6g), bitwise", k, last->step, c.steps + 1,
               last->heldout_loss, last->heldout_acc, c.steps, a.test_loss, a.test_acc);
        tap_ok(all_finite(&a, p.regression),
               "cell %zu: every logged step has a finite held-out loss", k);
        gs_result_free(&a);
        gs_result_free(&b);
    }
}

/* 3. training rows bitwise the same with eval_rows 0, default, 2000 */
static void untouched(void)
{
    static const char *const cells[][MAX_WORDS] = {
        {"task=train", "dataset=digits", "depth=4", "width=24", "norm=batch", "residual=yes",
         "activation=relu", "init=he", "optimizer=adam", "lr=1e-3", "steps=30", "log_every=3",
         "batch=16"},
        {"task=train", "depth=3", "width=4", "norm=layer", "optimizer=momentum", "lr=0.05",
         "clip=0.5", "steps=25", "log_every=4", "batch=17"},
        {"task=train", "model=lstm", "dataset=adding", "seq_len=7", "depth=2", "width=6",
         "optimizer=adam", "lr=3e-3", "clip=1", "steps=20", "log_every=2", "batch=8"},
        {"task=train", "model=rnn", "dataset=digits", "seq_len=8", "width=10", "optimizer=rmsprop",
         "lr=1e-3", "clip=0.01", "clip_mode=value", "steps=15", "log_every=1"},
        /* a run that diverges: its last row is logged and evaluated too */
        {"task=train", "depth=6", "width=16", "activation=identity", "init=he", "gain=2",
         "lr=3", "steps=100", "log_every=10"},
    };
    for (size_t k = 0; k < sizeof cells / sizeof *cells; k++) {
        const char *words[MAX_WORDS + 1] = {0};
        memcpy(words, cells[k], sizeof cells[k]);
        size_t n = 0;
        while (words[n])
            n++;
        gs_result_t def, off, big;
        int rc = run(words, &def);
        words[n] = "eval_rows=0";
        rc |= run(words, &off);
        words[n] = "eval_rows=2000";
        rc |= run(words, &big);
        gs_cell_t c;
        cell_of(words, &c);
        gs_plan_t p;
        gs_plan_make(&c, &p);
        tap_ok(rc == 0 && tc_same_training(&def, &off) && tc_same_training(&big, &off),
               "cell %zu: training rows (%zu logged steps, status %s) bitwise the same with "
               "eval_rows 0, the default and 2000", k, off.n_log, gs_status_names[off.status]);
        tap_ok(rc == 0 && all_nan(&off) && off.heldout_rows == 0 && def.heldout_rows > 0 &&
                   big.heldout_rows >= def.heldout_rows,
               "cell %zu: eval_rows=0 evaluates nothing (NULL rows), the others %ld and %ld "
               "rows", k, def.heldout_rows, big.heldout_rows);
        if (rc != 0 || def.n_log < 2)
            tap_ok(0, "cell %zu: ran and logged", k);
        else if (off.status == GS_STATUS_DONE)
            tap_ok(all_finite(&def, p.regression) && all_finite(&big, p.regression),
                   "cell %zu: every logged step evaluated", k);
        else   /* the diverged step is logged, not scheduled: no held-out values */
            tap_ok(off.status == GS_STATUS_DIVERGED &&
                       def.log[def.n_log - 1].step == def.diverged_step &&
                       def.diverged_step % c.log_every != 0 &&
                       isnan(def.log[def.n_log - 1].heldout_loss) &&
                       isfinite(def.log[def.n_log - 2].heldout_loss),
                   "cell %zu: diverged at step %ld (not a scheduled log step): its row has no "
                   "held-out values (%g), the step before (%ld) has (%g)", k, def.diverged_step,
                   def.log[def.n_log - 1].heldout_loss, def.log[def.n_log - 2].step,
                   def.log[def.n_log - 2].heldout_loss);
        gs_result_free(&def);
        gs_result_free(&off);
        gs_result_free(&big);
    }
}

/* 4. the subset: its bound, its size, the same rows for every arm */
static void subset(void)
{
    gs_cell_t c;
    char err[512];
    gs_cell_defaults(&c);
    int bad = gs_cell_set_word(&c, "eval_rows=2001", err, sizeof err);
    tap_ok(bad != 0 && strstr(err, "eval_rows") != NULL, "eval_rows=2001 refused: %s", err);
    tap_ok(gs_cell_set_word(&c, "eval_rows=2000", err, sizeof err) == 0 &&
               gs_cell_set_word(&c, "eval_rows=-1", err, sizeof err) != 0,
           "eval_rows=2000 accepted, -1 refused");
    /* the adding problem at seq_len 5 has 4,000 test rows: 2,000 of them */
    static const char *const adding[MAX_WORDS] = {"task=train", "model=gru", "dataset=adding",
                                                   "seq_len=5", "width=3", "steps=1",
                                                   "eval_rows=2000"};
    gs_result_t r;
    cell_of(adding, &c);
    gs_plan_t p;
    gs_plan_make(&c, &p);
    tap_ok(run(adding, &r) == 0 && p.total_rows - p.train_rows > 2000 && r.heldout_rows == 2000,
           "a test part of %zu rows: the held-out subset holds %ld (the bound)",
           p.total_rows - p.train_rows, r.heldout_rows);
    gs_result_free(&r);
    /* the key is in the canonical key only when set (cells stored before
     * it existed keep their ids) and outside the seeds (arms that differ
     * in it share weights and batches) */
    gs_cell_t d, e;
    char kd[1024], ke[1024];
    gs_cell_defaults(&d);
    gs_cell_defaults(&e);
    gs_cell_set_word(&d, "task=train", err, sizeof err);
    gs_cell_set_word(&e, "task=train", err, sizeof err);
    gs_cell_set_word(&e, "eval_rows=100", err, sizeof err);
    gs_cell_key(&d, kd, sizeof kd);
    gs_cell_key(&e, ke, sizeof ke);
    tap_ok(strstr(kd, "eval_rows") == NULL && strstr(ke, ";eval_rows=100;") != NULL &&
               gs_cell_seed(&d) == gs_cell_seed(&e) &&
               gs_cell_data_seed(&d) == gs_cell_data_seed(&e),
           "eval_rows: in the canonical key only when set (%s), never in the seeds", ke);
    /* a probe evaluates nothing and its plan has no held-out rows */
    static const char *const probe[MAX_WORDS] = {"task=probe", "depth=2", "eval_rows=100"};
    cell_of(probe, &c);
    gs_plan_make(&c, &p);
    tap_ok(p.eval_rows == 0 && c.eval_rows == 100, "a probe: no held-out rows in its plan");
    /* arms that differ only in training keys (lr, optimizer, clip, steps,
     * log_every) start from the same weights: their step-1 held-out values
     * are the same numbers */
    static const char *const arms[][MAX_WORDS] = {
        {"task=train", "dataset=digits", "depth=3", "width=20", "steps=3", "lr=0.1"},
        {"task=train", "dataset=digits", "depth=3", "width=20", "steps=5", "lr=0.001",
         "optimizer=adam", "clip=1", "log_every=2"},
        {"task=train", "dataset=digits", "depth=3", "width=20", "steps=2", "optimizer=rmsprop",
         "log_every=1"},
    };
    gs_result_t a0;
    if (run(arms[0], &a0) != 0) {
        tap_ok(0, "arm 0 ran");
        return;
    }
    for (size_t k = 1; k < sizeof arms / sizeof *arms; k++) {
        gs_result_t ak;
        int rc = run(arms[k], &ak);
        tap_ok(rc == 0 && ak.heldout_rows == a0.heldout_rows &&
                   memcmp(&ak.log[0].heldout_loss, &a0.log[0].heldout_loss, sizeof(double)) ==
                       0 && ak.log[0].heldout_acc == a0.log[0].heldout_acc,
               "arm %zu: step 1's held-out loss %.17g = arm 0's %.17g (the same rows and init)",
               k, ak.log[0].heldout_loss, a0.log[0].heldout_loss);
        gs_result_free(&ak);
    }
    gs_result_free(&a0);
}

int main(void)
{
    against_reference();
    against_final();
    untouched();
    subset();
    return tap_done();
}
