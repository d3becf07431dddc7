/* One cell from start to end: resolve it into its plan (plan.c), make its
 * data and model (here), probe or train (train.c) with the measurements
 * of each step (measure.c), and hand back the result. */
#include <config.h>

#include "experiment/experiment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/digits.h"
#include "data/tokens.h"
#include "data/synthetic.h"
#include "experiment/measure.h"
#include "experiment/precision.h"
#include "experiment/plan.h"
#include "experiment/train.h"
#include "nn/arena.h"
#include "util/clock.h"

const char *const gs_status_names[] = {"done", "diverged", "failed", "crashed"};
const char *const gs_diag_names[] = {"healthy", "vanishing", "exploding", "diverged", "dead",
                                     "collapsed"};
const char *const gs_sublayer_names[] = {"q", "k", "v", "o", "w1", "w2", "ln1", "ln2", "block"};
_Static_assert(sizeof gs_sublayer_names / sizeof *gs_sublayer_names == GS_N_SUBLAYERS,
               "sublayer names");
const char *const gs_hist_quantity_names[] = {"weight", "weight_input", "jacobian_log10_sv"};
const char *const gs_fmt_tensor_names[] = {"activation", "grad_activation", "grad_weight",
                                           "weight", "update"};
_Static_assert(sizeof gs_hist_quantity_names / sizeof *gs_hist_quantity_names ==
                   GS_N_HIST_QUANTITIES, "histogram quantity names");
const char *const gs_nonfinite_names[] = {"weight", "activation", "gradient", "loss"};
_Static_assert(sizeof gs_nonfinite_names / sizeof *gs_nonfinite_names == GS_N_NONFINITE,
               "non-finite tensor names");
_Static_assert(sizeof gs_status_names / sizeof *gs_status_names == GS_N_STATUS, "status names");
_Static_assert(sizeof gs_diag_names / sizeof *gs_diag_names == GS_N_DIAG, "diagnosis names");

gs_diag_t gs_diagnose(double grad_h_ratio, int dead, double vanishing_below,
                      double exploding_above)
{
    if (dead)
        return GS_DIAG_DEAD;
    if (isnan(grad_h_ratio))
        return GS_DIAG_DIVERGED;
    if (grad_h_ratio < vanishing_below)
        return GS_DIAG_VANISHING;
    if (grad_h_ratio > exploding_above)
        return GS_DIAG_EXPLODING;
    return GS_DIAG_HEALTHY;
}

void gs_result_free(gs_result_t *r)
{
    if (!r)
        return;
    free(r->layers);
    free(r->hist);
    r->hist = NULL;
    free(r->time);
    free(r->log);
    free(r->layer_log);
    free(r->fmt);
    r->fmt = NULL;
    r->n_fmt = 0;
    free(r->fmt_bins);
    r->fmt_bins = NULL;
    r->n_fmt_bins = 0;
    free(r->block);
    r->block = NULL;
    r->n_block = 0;
    free(r->head);
    r->head = NULL;
    r->n_head = 0;
    r->layers = NULL;
    r->time = NULL;
    r->log = NULL;
    r->layer_log = NULL;
}

static int fail(gs_result_t *r, const char *msg)
{
    r->status = GS_STATUS_FAILED;
    snprintf(r->error, sizeof r->error, "%s", msg);
    return -1;
}

/* The whole data set of a token task (data/tokens.h): charlm's text,
 * the others made from the base seed. */
static int make_token_task(const gs_plan_t *p, gs_dataset_t *all, char *err, size_t errlen)
{
    if (p->dataset == GS_DATA_CHARLM) {
        char path[4096];
        gs_charlm_path(path, sizeof path);
        return gs_charlm_load(path, p->in_dim, p->n_out, all, err, errlen);
    }
    if (gs_token_task_make(all, (gs_token_task_t)GS_DATA_TOKEN_TASK(p->dataset), p->total_rows,
                           p->in_dim, p->n_out, p->data_set_seed) != 0) {
        snprintf(err, errlen, "out of memory making dataset=%s", gs_dataset_names[p->dataset]);
        return -1;
    }
    return 0;
}

/* Train and test parts of the cell's data set. The split and the gaussian
 * data come from the base seed, so every cell of a sweep sees the same
 * data. */
static int load_data(const gs_plan_t *p, gs_dataset_t *train, gs_dataset_t *test,
                     char *err, size_t errlen)
{
    gs_dataset_t all;
    if (p->dataset == GS_DATA_DIGITS) {
        char path[4096];
        gs_digits_path(path, sizeof path);
        if (gs_digits_load(path, &all, err, errlen) != 0)
            return -1;
    } else if (p->dataset == GS_DATA_ADDING) {
        if (gs_adding_make(&all, p->total_rows, p->n_time, p->data_set_seed) != 0) {
            snprintf(err, errlen, "out of memory making dataset=adding");
            return -1;
        }
    } else if (p->dataset == GS_DATA_TOKENS) {
        if (gs_tokens_make(&all, p->total_rows, p->in_dim, p->n_out, p->data_set_seed) != 0) {
            snprintf(err, errlen, "out of memory making dataset=tokens");
            return -1;
        }
    } else if (GS_DATA_IS_TOKEN_TASK(p->dataset)) {
        if (make_token_task(p, &all, err, errlen) != 0)
            return -1;
    } else if (gs_gaussian_make(&all, p->total_rows, p->row_dim, p->n_out,
                                p->data_set_seed) != 0) {
        snprintf(err, errlen, "out of memory making dataset=gaussian");
        return -1;
    }
    int rc = gs_dataset_split(&all, p->train_frac, p->data_set_seed, train, test);
    gs_dataset_free(&all);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory splitting the data set");
        return -1;
    }
    if (p->dataset == GS_DATA_DIGITS)
        gs_dataset_standardize(train, test);
    return 0;
}

/* Test MSE of always answering 1 (the adding problem's baseline), over
 * targets t[rows[i]], i < n (rows NULL: t[0..n)). */
static double constant_baseline(const double *t, const size_t *rows, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = t[rows ? rows[i] : i];
        s += (v - 1.0) * (v - 1.0);
    }
    return s / (double)n;
}

/* A batch_only plan's batch of its synthetic data set into batch, in the
 * batch's order, and the adding problem's baseline: the rows and the
 * number load_data, ex_run_steps and the baseline over the test part give,
 * bit for bit, without the data set - the split's order
 * (gs_dataset_split_order), the batch's shuffle of the training part from
 * brng (as ex_run_steps draws it), then only those rows made.
 * tests/data.c compares them with the whole data set's. */
static int load_batch(const gs_plan_t *p, gs_rng_t *brng, gs_dataset_t *batch,
                      double *baseline, char *err, size_t errlen)
{
    size_t n = p->total_rows, n_train = p->train_rows, B = p->batch;
    size_t *perm = malloc(n * sizeof *perm), *order = malloc(n_train * sizeof *order);
    size_t *rows = malloc(B * sizeof *rows);
    double *targets = p->regression ? malloc(n * sizeof *targets) : NULL;
    int rc = -1;
    if (!perm || !order || !rows || (p->regression && !targets))
        goto out;
    gs_dataset_split_order(n, p->data_set_seed, perm);
    for (size_t i = 0; i < n_train; i++)
        order[i] = i;
    gs_rng_shuffle(brng, order, n_train);
    for (size_t i = 0; i < B; i++)
        rows[i] = perm[order[i]];
    if (p->regression) {
        rc = gs_adding_rows(batch, n, p->n_time, p->data_set_seed, rows, B, targets);
        *baseline = constant_baseline(targets, perm + n_train, n - n_train);
    } else if (p->dataset == GS_DATA_TOKENS) {
        rc = gs_tokens_rows(batch, p->in_dim, p->n_out, p->data_set_seed, rows, B);
    } else if (GS_DATA_IS_TOKEN_TASK(p->dataset)) {   /* made whole (small), its rows kept */
        gs_dataset_t all;
        if (make_token_task(p, &all, err, errlen) != 0) {
            rc = -2;   /* the message is set */
            goto out;
        }
        if ((rc = gs_dataset_alloc(batch, B, all.dim, all.n_classes, all.n_targets)) == 0)
            gs_dataset_gather(&all, rows, B, batch->x, batch->y, batch->t);
        gs_dataset_free(&all);
    } else {
        rc = gs_gaussian_rows(batch, n, p->row_dim, p->n_out, p->data_set_seed, rows, B);
    }
out:
    if (rc == -1)
        snprintf(err, errlen, "out of memory making the batch of dataset=%s",
                 gs_dataset_names[p->dataset]);
    free(perm);
    free(order);
    free(rows);
    free(targets);
    return rc ? -1 : 0;
}

static gs_net_t *build_net(const gs_plan_t *p, gs_rng_t *rng)
{
    gs_net_t *net;
    if (p->transformer) {
        if ((net = gs_tf_create(&p->tf))) {
            gs_tf_init(net, &p->init, rng);
            gs_rng_seed(gs_tf_dropout_rng(net), p->weight_seed, GS_STREAM_DROPOUT);
        }
    } else if (p->recurrent) {
        if ((net = gs_rnn_create(&p->rnn)))
            gs_rnn_init(net, &p->init, rng);
    } else if ((net = gs_mlp_create(&p->mlp))) {
        gs_mlp_init(net, &p->init, rng);
    }
    return net;
}

/* The result arrays of a cell, sized from its plan; -1 when memory is
 * short. */
static int alloc_result(const gs_plan_t *p, gs_result_t *r)
{
    r->n_layers = p->n_layers;
    r->layers = calloc(r->n_layers, sizeof *r->layers);
    r->n_time = p->n_time;
    r->time = calloc(r->n_time + 1, sizeof *r->time);
    r->log = calloc(p->n_log_max + 1, sizeof *r->log);
    r->layer_log = calloc(p->n_log_max * r->n_layers + 1, sizeof *r->layer_log);
    r->fmt = p->n_fmt_max ? malloc(p->n_fmt_max * sizeof *r->fmt) : NULL;
    /* room for every record's whole histogram; the pages a run's few
     * nonzero bins do not reach are never touched */
    r->fmt_bins = p->n_fmt_max ? malloc(p->n_fmt_max * GS_FMT_HIST_BINS * sizeof *r->fmt_bins)
                               : NULL;
    r->block = p->n_block_max ? malloc(p->n_block_max * sizeof *r->block) : NULL;
    r->head = p->n_head_max ? malloc(p->n_head_max * sizeof *r->head) : NULL;
    r->grad_ratio_final = r->grad_h_ratio_final = NAN;
    r->output_change = NAN;   /* transformers only */
    r->last_finite_grad_norm = NAN;
    return r->layers && r->time && r->log && r->layer_log && ((r->fmt && r->fmt_bins) || !p->n_fmt_max) &&
           (r->block || !p->n_block_max) && (r->head || !p->n_head_max) ? 0 : -1;
}

int gs_experiment_run(const gs_cell_t *c, gs_result_t *r, const gs_progress_t *progress)
{
    memset(r, 0, sizeof *r);
    double t_start = gs_now();
    char err[512];
    gs_plan_t p;   /* the cell resolved once: nothing below reads c */
    if (gs_plan_resolve(c, &p, err, sizeof err) != 0)
        return fail(r, err);

    gs_rng_t wrng, brng;   /* paired seeding: the batches' seed ignores the model */
    gs_rng_seed(&wrng, p.weight_seed, GS_STREAM_WEIGHTS);
    gs_rng_seed(&brng, p.batch_seed, GS_STREAM_BATCHES);
    gs_dataset_t train = {0}, test = {0};
    r->baseline_loss = NAN;
    if ((p.batch_only ? load_batch(&p, &brng, &train, &r->baseline_loss, err, sizeof err)
                      : load_data(&p, &train, &test, err, sizeof err)) != 0)
        return fail(r, err);
    if (!p.batch_only && p.regression)
        r->baseline_loss = constant_baseline(test.t, NULL, test.n);
    gs_net_t *net = build_net(&p, &wrng);
    size_t B = p.batch, in = train.dim, np = net ? net->n_params : 0;
    ex_trainer_t tr = {.p = &p, .net = net, .r = r, .progress = progress, .heldout = &test};
    double *x = malloc(B * in * sizeof *x);
    int *y = malloc(B * sizeof *y);
    double *t = p.regression ? malloc(B * sizeof *t) : NULL;
    size_t *order = malloc(train.n * sizeof *order);
    ex_eval_scratch_t *ev = &tr.ev;   /* the evaluations' rows, apart from the batch's */
    ev->x = malloc(B * in * sizeof *ev->x);
    ev->y = malloc(B * sizeof *ev->y);
    ev->t = p.regression ? malloc(B * sizeof *ev->t) : NULL;
    ev->idx = malloc(B * sizeof *ev->idx);
    tr.opt_state = gs_arena_alloc((size_t)p.opt->n_state * np + 1);
    tr.delta = p.trains ? gs_arena_alloc(np + 1) : NULL;
    tr.prev = p.trains && p.fmt ? gs_arena_alloc(np + 1) : NULL;
    tr.stats = calloc(p.n_layers, sizeof *tr.stats);
    tr.grad_pre = p.format_stats ? malloc(p.n_layers * sizeof *tr.grad_pre) : NULL;
    int rc = 0;
    if (alloc_result(&p, r) != 0 || !net || !x || !y || (p.regression && !t) || !order ||
        !ev->x || !ev->y || (p.regression && !ev->t) || !ev->idx || !tr.opt_state ||
        (p.trains && !tr.delta) || (p.trains && p.fmt && !tr.prev) || !tr.stats || (p.format_stats && !tr.grad_pre)) {
        rc = fail(r, "out of memory building the model");
        goto out;
    }
    net->fmt_grad_pre = tr.grad_pre;
    if (ex_prec_twin_setup(&tr) != 0) {
        rc = fail(r, "out of memory building the float64 twin of the model");
        goto out;
    }
    r->work_bytes = p.model_bytes +
                    ((size_t)p.opt->n_state + (size_t)p.trains * (p.fmt ? 2 : 1)) * np * sizeof(double) +
                    (train.n + test.n) * train.dim * sizeof(double);
    r->heldout_rows = (long)p.eval_rows;
    if (!p.transformer && ex_weight_histograms(&p, net, r) != 0) {   /* (none for blocks yet) */
        rc = fail(r, "out of memory for the weight histograms");
        goto out;
    }
    double t_steps = gs_now();
    r->setup_s = t_steps - t_start;
    /* a transformer is probed by measure_tf.c, trained by train_tf.c */
    if (p.transformer) {
        if ((p.trains ? ex_tf_train(&tr, &train, &brng) : ex_tf_probe(&tr, &train)) != 0) {
            rc = fail(r, "out of memory measuring the transformer");
            goto out;
        }
    } else if (ex_run_steps(&tr, &train, p.batch_only ? NULL : &brng, x, y, t, order) != 0) {
        rc = fail(r, "spectrum=yes: the Jacobian's singular values could not be computed "
                     "(out of memory, or LAPACK's eigensolver failed)");
        goto out;
    }
    double t_eval = gs_now();
    r->steps_s = t_eval - t_steps;
    if (p.transformer)
        ex_tf_finish(&tr, &train, &test);
    else
        ex_finish(&tr, &train, &test);
    r->eval_s = gs_now() - t_eval;
out:
    gs_net_free(net);
    free(x);
    free(y);
    free(t);
    free(order);
    free(ev->x);
    free(ev->y);
    free(ev->t);
    free(ev->idx);
    free(tr.stats);
    free(tr.grad_pre);
    gs_arena_free(tr.opt_state);
    gs_arena_free(tr.delta);
    gs_arena_free(tr.prev);
    gs_net_free(tr.twin);
    gs_arena_free(tr.twin_grad_pre);
    gs_dataset_free(&train);
    gs_dataset_free(&test);
    return rc;
}
