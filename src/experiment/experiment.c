#include <config.h>

#include "experiment/experiment.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/digits.h"
#include "data/synthetic.h"
#include "nn/loss.h"
#include "nn/optim.h"

const char *const gs_status_names[] = {"done", "diverged", "failed"};
const char *const gs_diag_names[] = {"healthy", "vanishing", "exploding", "diverged"};

#define N_CLASSES 10
#define TRAIN_FRAC 0.8
#define GAUSSIAN_MIN_ROWS 2000

/* Random-stream numbers of one cell's seed. */
enum { STREAM_WEIGHTS = 1, STREAM_BATCHES = 2 };

static size_t input_dim(const gs_cell_t *c)
{
    if (c->dataset == GS_DATA_DIGITS)
        return GS_DIGITS_DIM;
    return (size_t)(c->input_dim ? c->input_dim : c->width);
}

static size_t gaussian_rows(const gs_cell_t *c)
{
    /* enough that the training part holds at least one batch */
    size_t need = (size_t)ceil((double)c->batch / TRAIN_FRAC) + 1;
    return need > GAUSSIAN_MIN_ROWS ? need : GAUSSIAN_MIN_ROWS;
}

static size_t train_rows(const gs_cell_t *c)
{
    size_t n = c->dataset == GS_DATA_DIGITS ? GS_DIGITS_ROWS : gaussian_rows(c);
    return (size_t)llround(TRAIN_FRAC * (double)n);
}

static gs_mlp_spec_t mlp_spec(const gs_cell_t *c)
{
    gs_mlp_spec_t s = {
        .in_dim = input_dim(c),
        .width = (size_t)c->width,
        .depth = (size_t)c->depth,
        .n_out = N_CLASSES,
        .capacity = (size_t)c->batch,
        .act = c->act,
        .act_param = c->act_param,
        .norm = (gs_norm_kind_t)c->norm,
        .residual = c->residual,
    };
    return s;
}

static double gib(double bytes) { return bytes / (1024.0 * 1024.0 * 1024.0); }

int gs_experiment_check(const gs_cell_t *c, char *err, size_t errlen)
{
    if (gs_cell_validate(c, err, errlen) != 0)
        return -1;
    size_t n_train = train_rows(c);
    if ((size_t)c->batch > n_train) {
        snprintf(err, errlen, "batch=%ld: larger than the %zu training rows of dataset=%s; "
                 "use batch <= %zu", c->batch, n_train, gs_dataset_names[c->dataset], n_train);
        return -1;
    }
    if (c->norm == GS_NORM_BATCH && c->batch < 2) {
        snprintf(err, errlen, "batch=%ld: norm=batch needs at least 2 rows per batch",
                 c->batch);
        return -1;
    }
    gs_mlp_spec_t s = mlp_spec(c);
    size_t model = gs_mlp_bytes(&s);
    const gs_optimizer_t *o = c->opt;
    double need = model == SIZE_MAX ? INFINITY : (double)model;
    /* optimizer state and the data set */
    size_t np_est = s.width * (s.in_dim + s.width * (s.depth - 1) + s.n_out);
    need += (double)o->n_state * 8.0 * (double)np_est;
    double rows = c->dataset == GS_DATA_DIGITS ? GS_DIGITS_ROWS : (double)gaussian_rows(c);
    need += 2.0 * 8.0 * rows * (double)s.in_dim;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
    double have = pages > 0 && psize > 0 ? (double)pages * (double)psize : 16.0 * (1ull << 30);
    if (!(need <= 0.8 * have)) {
        snprintf(err, errlen, "width=%ld, depth=%ld, batch=%ld: the model and its data need "
                 "%.1f GiB, more than 80%% of this machine's %.1f GiB of memory; lower width, "
                 "depth or batch", c->width, c->depth, c->batch, gib(need), gib(have));
        return -1;
    }
    return 0;
}

gs_diag_t gs_diagnose(double grad_ratio, double vanishing_below, double exploding_above)
{
    if (isnan(grad_ratio))
        return GS_DIAG_DIVERGED;
    if (grad_ratio < vanishing_below)
        return GS_DIAG_VANISHING;
    if (grad_ratio > exploding_above)
        return GS_DIAG_EXPLODING;
    return GS_DIAG_HEALTHY;
}

void gs_result_free(gs_result_t *r)
{
    if (!r)
        return;
    free(r->layers);
    free(r->log);
    r->layers = NULL;
    r->log = NULL;
}

static int fail(gs_result_t *r, const char *msg)
{
    r->status = GS_STATUS_FAILED;
    snprintf(r->error, sizeof r->error, "%s", msg);
    return -1;
}

/* Train and test parts of the cell's data set. The split and the gaussian
 * data come from the base seed, so every cell of a sweep sees the same
 * data. */
static int load_data(const gs_cell_t *c, gs_dataset_t *train, gs_dataset_t *test,
                     char *err, size_t errlen)
{
    gs_dataset_t all;
    if (c->dataset == GS_DATA_DIGITS) {
        char path[4096];
        gs_digits_path(path, sizeof path);
        if (gs_digits_load(path, &all, err, errlen) != 0)
            return -1;
    } else if (gs_gaussian_make(&all, gaussian_rows(c), input_dim(c), N_CLASSES, c->seed) != 0) {
        snprintf(err, errlen, "out of memory making dataset=gaussian");
        return -1;
    }
    int rc = gs_dataset_split(&all, TRAIN_FRAC, c->seed, train, test);
    gs_dataset_free(&all);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory splitting the data set");
        return -1;
    }
    if (c->dataset == GS_DATA_DIGITS)
        gs_dataset_standardize(train, test);
    return 0;
}

/* Mean cross-entropy and accuracy of ds in evaluation mode, in chunks of
 * the model's capacity. x and y are scratch of capacity rows. */
static void evaluate(gs_net_t *net, const gs_dataset_t *ds, double *x, int *y,
                     size_t *idx, double *loss, double *acc)
{
    double total = 0.0;
    size_t hits = 0;
    for (size_t start = 0; start < ds->n; start += net->capacity) {
        size_t n = ds->n - start < net->capacity ? ds->n - start : net->capacity;
        for (size_t i = 0; i < n; i++)
            idx[i] = start + i;
        gs_dataset_gather(ds, idx, n, x, y, NULL);
        net->ops->forward(net, x, n, 0);
        size_t correct;
        total += (double)n * gs_softmax_ce_forward(net->dout, net->out, y, n, net->n_out, &correct);
        hits += correct;
    }
    *loss = total / (double)ds->n;
    *acc = (double)hits / (double)ds->n;
}

int gs_experiment_run(const gs_cell_t *c, gs_result_t *r, const gs_progress_t *progress)
{
    memset(r, 0, sizeof *r);
    char err[512];
    if (gs_experiment_check(c, err, sizeof err) != 0)
        return fail(r, err);

    gs_dataset_t train = {0}, test = {0};
    if (load_data(c, &train, &test, err, sizeof err) != 0)
        return fail(r, err);

    gs_mlp_spec_t spec = mlp_spec(c);
    gs_net_t *net = gs_mlp_create(&spec);
    size_t B = spec.capacity;
    long n_log_max = c->task == GS_TASK_TRAIN ? c->steps / c->log_every + 3 : 0;
    double *x = malloc(B * spec.in_dim * sizeof *x);
    int *y = malloc(B * sizeof *y);
    size_t *order = malloc(train.n * sizeof *order);
    size_t *idx = malloc(B * sizeof *idx);
    double *opt_state = calloc((size_t)c->opt->n_state * (net ? net->n_params : 0) + 1,
                               sizeof *opt_state);
    r->n_layers = spec.depth + 1;
    r->layers = calloc(r->n_layers, sizeof *r->layers);
    r->log = calloc((size_t)n_log_max + 1, sizeof *r->log);
    int rc = 0;
    if (!net || !x || !y || !order || !idx || !opt_state || !r->layers || !r->log) {
        rc = fail(r, "out of memory building the model");
        goto out;
    }

    uint64_t seed = gs_cell_seed(c);
    gs_rng_t wrng, brng;
    gs_rng_seed(&wrng, seed, STREAM_WEIGHTS);
    gs_rng_seed(&brng, seed, STREAM_BATCHES);
    gs_init_spec_t is = {c->init, c->init_param, c->gain, c->bias_std};
    gs_mlp_init(net, &is, &wrng);

    for (size_t i = 0; i < train.n; i++)
        order[i] = i;
    gs_rng_shuffle(&brng, order, train.n);
    size_t cursor = 0;
    long steps = c->task == GS_TASK_TRAIN ? c->steps : 1;
    long clipped = 0;
    r->status = GS_STATUS_DONE;
    for (long step = 1; step <= steps; step++) {
        if (cursor + B > train.n) {   /* next epoch: new order */
            gs_rng_shuffle(&brng, order, train.n);
            cursor = 0;
        }
        gs_dataset_gather(&train, order + cursor, B, x, y, NULL);
        cursor += B;
        net->ops->forward(net, x, B, 1);
        double loss = gs_softmax_ce_forward(net->dout, net->out, y, B, net->n_out, NULL);
        gs_softmax_ce_backward(net->dout, net->dout, y, B, net->n_out, 1.0 / (double)B);
        gs_net_zero_grad(net);
        net->ops->backward(net, B);
        if (step == 1) {
            gs_mlp_layer_stats(net, B, r->layers);
            r->init_loss = loss;
            double first = r->layers[0].grad_w_norm, last = r->layers[spec.depth - 1].grad_w_norm;
            /* 0/0: no gradient reaches even the last hidden layer; count it
             * as vanished rather than as NaN */
            r->grad_ratio = last == 0.0 && first == 0.0 ? 0.0 : first / last;
            if (spec.depth == 1)
                r->grad_ratio = isfinite(first) ? 1.0 : first;
        }
        if (c->task != GS_TASK_TRAIN) {
            if (!isfinite(loss) || !isfinite(r->grad_ratio) || !isfinite(r->layers[0].grad_w_norm)) {
                r->status = GS_STATUS_DIVERGED;
                r->diverged_step = 1;
            }
            break;
        }
        gs_clip_result_t cr = gs_clip(net->grads, net->n_params, (gs_clip_mode_t)c->clip_mode,
                                      c->clip);
        clipped += cr.fired;
        r->steps_run = step;
        int diverged = !isfinite(loss) || !isfinite(cr.pre_norm);
        if (diverged || step == 1 || step % c->log_every == 0 || step == steps) {
            gs_train_row_t *row = &r->log[r->n_log++];
            row->step = step;
            row->loss = loss;
            row->grad_norm = cr.pre_norm;
            row->grad_norm_clipped = cr.post_norm;
            row->clipped = cr.fired;
            if (progress && progress->on_log)
                progress->on_log(progress->ctx, row, steps);
        }
        if (diverged) {
            r->status = GS_STATUS_DIVERGED;
            r->diverged_step = step;
            break;
        }
        c->opt->step(net->params, net->grads, opt_state, net->n_params, c->lr, step);
    }
    r->diagnosis = gs_diagnose(r->grad_ratio, c->vanishing_below, c->exploding_above);
    if (r->status == GS_STATUS_DIVERGED)
        r->diagnosis = GS_DIAG_DIVERGED;
    if (c->task == GS_TASK_TRAIN) {
        double acc;
        r->clip_fraction = r->steps_run ? (double)clipped / (double)r->steps_run : 0.0;
        evaluate(net, &train, x, y, idx, &r->train_loss, &acc);
        evaluate(net, &test, x, y, idx, &r->test_loss, &r->test_acc);
    }
out:
    gs_net_free(net);
    free(x);
    free(y);
    free(order);
    free(idx);
    free(opt_state);
    gs_dataset_free(&train);
    gs_dataset_free(&test);
    return rc;
}
