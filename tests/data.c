/* Rows of the synthetic data sets made without the rest of the data set
 * (a probe reads one batch of its thousands of rows): gs_rng_skip against
 * the draws it skips, gs_gaussian_rows and gs_adding_rows against the
 * whole data set bit for bit (odd and even row lengths, the first and
 * last rows, neighbours, repeats, any order), and a probe's measurements
 * against those of the same cell trained for one step, whose first batch
 * comes from the whole data set (gs_dataset_split, then the batch order):
 * same weights, same rows, so the same numbers to the last bit. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/synthetic.h"
#include "experiment/experiment.h"
#include "nn/rng.h"
#include "tap.h"

static void test_skip(void)
{
    const uint64_t counts[] = {0, 1, 2, 7, 1000};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        gs_rng_t a, b;
        gs_rng_seed(&a, 99, 3);
        gs_rng_seed(&b, 99, 3);
        (void)gs_rng_normal(&a);   /* a spare waiting: skipping drops it */
        (void)gs_rng_normal(&b);
        for (uint64_t k = 0; k < counts[i]; k++)
            (void)gs_rng_u64(&a);
        gs_rng_skip(&b, counts[i]);
        uint64_t x = gs_rng_u64(&a), y = gs_rng_u64(&b);
        tap_ok(memcmp(a.s, b.s, sizeof a.s) == 0 && x == y && !b.has_spare,
               "gs_rng_skip(%llu) leaves the state %llu draws leave", (unsigned long long)counts[i],
               (unsigned long long)counts[i]);
    }
}

/* Rows to ask for from n: the first, the last, neighbours (a row that
 * starts on a Box-Muller pair's second draw follows one that ends on its
 * first), a repeat, out of order, and some at random. */
static size_t pick_rows(size_t n, size_t *rows, gs_rng_t *rng)
{
    size_t k = 0;
    rows[k++] = n - 1;
    rows[k++] = 0;
    rows[k++] = 1;
    rows[k++] = n / 2;
    rows[k++] = n / 2 + 1;
    rows[k++] = n / 2;
    for (int i = 0; i < 10; i++)
        rows[k++] = gs_rng_below(rng, n);
    return k;
}

static void test_gaussian(void)
{
    const size_t shapes[][2] = {{50, 3}, {40, 4}, {17, 1}, {31, 5}, {8, 7}};
    gs_rng_t pick;
    gs_rng_seed(&pick, 5, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t n = shapes[s][0], dim = shapes[s][1], rows[32];
        size_t k = pick_rows(n, rows, &pick);
        gs_dataset_t all, some;
        if (!tap_ok(gs_gaussian_make(&all, n, dim, 10, 1234 + s) == 0 &&
                        gs_gaussian_rows(&some, n, dim, 10, 1234 + s, rows, k) == 0,
                    "gaussian %zu x %zu: made", n, dim))
            continue;
        int same = some.n == k && some.dim == dim;
        for (size_t i = 0; same && i < k; i++)
            same = memcmp(some.x + i * dim, all.x + rows[i] * dim, dim * sizeof *all.x) == 0 &&
                   some.y[i] == all.y[rows[i]];
        tap_ok(same, "gaussian %zu x %zu: %zu rows (first, last, neighbours, a repeat, at "
               "random) bit for bit those of the whole data set, labels too", n, dim, k);
        gs_dataset_free(&all);
        gs_dataset_free(&some);
    }
}

static void test_adding(void)
{
    const size_t shapes[][2] = {{30, 2}, {25, 7}, {12, 50}};
    gs_rng_t pick;
    gs_rng_seed(&pick, 6, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t n = shapes[s][0], T = shapes[s][1], rows[32];
        size_t k = pick_rows(n, rows, &pick);
        gs_dataset_t all, some;
        double *targets = malloc(n * sizeof *targets);
        if (!tap_ok(targets && gs_adding_make(&all, n, T, 77 + s) == 0 &&
                        gs_adding_rows(&some, n, T, 77 + s, rows, k, targets) == 0,
                    "adding %zu x %zu: made", n, T)) {
            free(targets);
            continue;
        }
        int same = some.n == k && some.dim == 2 * T;
        for (size_t i = 0; same && i < k; i++)
            same = memcmp(some.x + i * 2 * T, all.x + rows[i] * 2 * T, 2 * T * sizeof *all.x) == 0 &&
                   some.t[i] == all.t[rows[i]];
        tap_ok(same, "adding %zu x %zu: %zu rows bit for bit those of the whole data set, "
               "targets too", n, T, k);
        tap_ok(memcmp(targets, all.t, n * sizeof *targets) == 0,
               "adding %zu x %zu: every row's target", n, T);
        free(targets);
        gs_dataset_free(&all);
        gs_dataset_free(&some);
    }
}

/* The split's order is gs_dataset_split's. */
static void test_split_order(void)
{
    gs_dataset_t all, train, test;
    size_t n = 101, idx[101];
    if (gs_gaussian_make(&all, n, 2, 10, 9) != 0 || gs_dataset_split(&all, 0.8, 31, &train, &test) != 0) {
        tap_ok(0, "split: made");
        return;
    }
    gs_dataset_split_order(n, 31, idx);
    int same = train.n + test.n == n;
    for (size_t i = 0; same && i < n; i++) {
        const double *row = i < train.n ? train.x + i * 2 : test.x + (i - train.n) * 2;
        same = memcmp(row, all.x + idx[i] * 2, 2 * sizeof *row) == 0;
    }
    tap_ok(same, "gs_dataset_split_order: the rows of the training part, then the test part");
    gs_dataset_free(&all);
    gs_dataset_free(&train);
    gs_dataset_free(&test);
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* A probe (its batch alone) against the same cell trained one step (the
 * whole data set): the measurements at init. */
static void test_probe(const char *words)
{
    gs_cell_t probe, train;
    char err[512], buf[512];
    gs_cell_defaults(&probe);
    snprintf(buf, sizeof buf, "%s", words);
    int ok = 1;
    for (char *w = strtok(buf, " "); w && ok; w = strtok(NULL, " "))
        ok = gs_cell_set_word(&probe, w, err, sizeof err) == 0;
    train = probe;
    ok = ok && gs_cell_set_word(&train, "task=train", err, sizeof err) == 0 &&
         gs_cell_set_word(&train, "steps=1", err, sizeof err) == 0 &&
         gs_cell_set_word(&train, "log_every=1", err, sizeof err) == 0;
    gs_cell_settle(&probe, NULL);
    gs_cell_settle(&train, NULL);
    gs_result_t rp, rt;
    if (!tap_ok(ok, "%s: a cell (%s)", words, ok ? "" : err))
        return;
    gs_experiment_run(&probe, &rp, NULL);
    gs_experiment_run(&train, &rt, NULL);
    int same = rp.status == GS_STATUS_DONE && rt.status == GS_STATUS_DONE &&
               rp.n_layers == rt.n_layers && rp.n_time == rt.n_time &&
               memcmp(rp.layers, rt.layers, rp.n_layers * sizeof *rp.layers) == 0 &&
               memcmp(rp.time, rt.time, rp.n_time * sizeof *rp.time) == 0 &&
               same_bits(rp.init_loss, rt.init_loss) && same_bits(rp.grad_h_ratio, rt.grad_h_ratio) &&
               same_bits(rp.baseline_loss, rt.baseline_loss);
    tap_ok(same, "%s: the probe's batch is the whole data set's first batch: layer and time "
           "statistics, loss at init (%.17g, %.17g) and baseline (%.17g, %.17g) bit for bit",
           words, rp.init_loss, rt.init_loss, rp.baseline_loss, rt.baseline_loss);
    gs_result_free(&rp);
    gs_result_free(&rt);
}

int main(void)
{
    test_skip();
    test_gaussian();
    test_adding();
    test_split_order();
    test_probe("depth=3 width=7 batch=5");
    test_probe("depth=2 width=6 input_dim=5 batch=33 seed=8");
    test_probe("model=rnn seq_len=9 width=5 batch=4 depth=2");
    test_probe("model=gru dataset=adding seq_len=11 width=4 batch=7");
    test_probe("model=lstm dataset=adding seq_len=6 width=3 batch=3 seed=3");
    return tap_done();
}
