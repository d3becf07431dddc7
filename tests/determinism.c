/* Same configuration and thread count -> bitwise identical numbers, run
 * after run; and (stronger, by the kernels' design) the same numbers with
 * 1 and with 2 OpenMP threads. A different seed must change them. */
#include <config.h>

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "experiment/experiment.h"
#include "tap.h"

static void run(const char *const *words, size_t n, uint64_t seed, gs_result_t *r)
{
    gs_cell_t c;
    char err[512];
    gs_cell_defaults(&c);
    for (size_t i = 0; i < n; i++)
        if (gs_cell_set_word(&c, words[i], err, sizeof err) != 0)
            tap_diag("%s", err);
    c.seed = seed;
    if (gs_experiment_run(&c, r, NULL) != 0)
        tap_diag("run failed: %s", r->error);
}

static int same(const gs_result_t *a, const gs_result_t *b)
{
    return a->n_layers == b->n_layers && a->n_log == b->n_log &&
           memcmp(a->layers, b->layers, a->n_layers * sizeof *a->layers) == 0 &&
           memcmp(a->log, b->log, a->n_log * sizeof *a->log) == 0 &&
           memcmp(&a->test_loss, &b->test_loss, sizeof a->test_loss) == 0 &&
           memcmp(&a->train_loss, &b->train_loss, sizeof a->train_loss) == 0 &&
           memcmp(&a->grad_ratio, &b->grad_ratio, sizeof a->grad_ratio) == 0 &&
           a->n_time == b->n_time &&
           (a->n_time == 0 || memcmp(a->time, b->time, a->n_time * sizeof *a->time) == 0) &&
           a->n_block == b->n_block &&
           (a->n_block == 0 || memcmp(a->block, b->block, a->n_block * sizeof *a->block) == 0) &&
           memcmp(&a->output_change, &b->output_change, sizeof a->output_change) == 0 &&
           memcmp(&a->init_loss, &b->init_loss, sizeof a->init_loss) == 0;
}

int main(void)
{
    static const char *const cfgs[][12] = {
        {"task=train", "dataset=digits", "depth=4", "width=48", "activation=relu", "init=he",
         "norm=batch", "residual=yes", "optimizer=adam", "lr=1e-3", "steps=40", "log_every=1"},
        {"task=train", "dataset=gaussian", "depth=6", "width=33", "activation=gelu",
         "norm=layer", "optimizer=momentum", "lr=0.05", "clip=0.5", "steps=30", "log_every=3",
         "batch=17"},
        {"task=train", "dataset=adding", "model=lstm", "depth=2", "width=12", "seq_len=9",
         "optimizer=adam", "lr=3e-3", "clip=1", "steps=25", "log_every=2", "batch=16"},
        {"task=train", "dataset=digits", "model=gru", "seq_len=8", "depth=1", "width=20",
         "optimizer=rmsprop", "lr=1e-3", "clip=0.01", "clip_mode=value", "steps=20", "log_every=1"},
        /* sizes where gs_gemm cuts its products into tiles shared among
         * threads (nn/gemm.h), and elementwise work runs in parallel */
        {"task=train", "dataset=gaussian", "depth=3", "width=256", "batch=128",
         "activation=tanh", "init=he", "optimizer=sgd", "lr=0.01", "clip=1", "steps=6",
         "log_every=1"},
        {"task=train", "dataset=adding", "model=lstm", "depth=1", "width=64", "seq_len=12",
         "batch=64", "optimizer=adam", "lr=3e-3", "clip=1", "steps=6", "log_every=1"},
        /* a transformer's probe: its block_stats rows and output change
         * (attention runs a task per sequence and head) */
        {"model=transformer", "dataset=tokens", "depth=3", "width=64", "heads=4", "seq_len=16",
         "batch=8", "activation=gelu", "ln=post", "residual_scale=deepnorm", "causal=yes",
         "vocab=32"},
    };
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        gs_result_t a, b, c, d;
#ifdef _OPENMP
        omp_set_num_threads(2);
#endif
        run(cfgs[k], 12, 42, &a);
        run(cfgs[k], 12, 42, &b);
        /* runs that fail alike would compare equal: they must have trained
         * (the transformer: measured its blocks) */
        tap_ok(a.status == GS_STATUS_DONE && b.status == GS_STATUS_DONE &&
               (a.n_log > 1 || a.n_block == 3 * 9) &&
               same(&a, &b), "config %zu: two runs, 2 threads: done, bitwise identical", k);
#ifdef _OPENMP
        omp_set_num_threads(1);
        run(cfgs[k], 12, 42, &c);
        tap_ok(c.status == GS_STATUS_DONE && same(&a, &c),
               "config %zu: 1 thread and 2 threads: bitwise identical", k);
#else
        run(cfgs[k], 12, 42, &c);
        tap_ok(1, "config %zu: 1 thread and 2 threads # SKIP built without OpenMP", k);
#endif
        run(cfgs[k], 12, 43, &d);
        tap_ok(!same(&a, &d), "config %zu: another seed gives other numbers", k);
        gs_result_free(&a);
        gs_result_free(&b);
        gs_result_free(&c);
        gs_result_free(&d);
    }
    return tap_done();
}
