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
#include "nn/arena.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "theory/meanfield.h"
#include "theory/spectrum.h"
#include "util/clock.h"

const char *const gs_status_names[] = {"done", "diverged", "failed", "crashed"};
const char *const gs_diag_names[] = {"healthy", "vanishing", "exploding", "diverged", "dead"};
const char *const gs_hist_quantity_names[] = {"weight", "weight_input", "jacobian_log10_sv"};
_Static_assert(sizeof gs_hist_quantity_names / sizeof *gs_hist_quantity_names ==
                   GS_N_HIST_QUANTITIES, "histogram quantity names");
const char *const gs_nonfinite_names[] = {"weight", "activation", "gradient", "loss"};
_Static_assert(sizeof gs_nonfinite_names / sizeof *gs_nonfinite_names == GS_N_NONFINITE,
               "non-finite tensor names");
_Static_assert(sizeof gs_status_names / sizeof *gs_status_names == GS_N_STATUS, "status names");
_Static_assert(sizeof gs_diag_names / sizeof *gs_diag_names == GS_N_DIAG, "diagnosis names");

#define N_CLASSES 10
#define TRAIN_FRAC 0.8
#define GAUSSIAN_MIN_ROWS 2000
#define ADDING_MAX_ROWS 20000
#define ADDING_MAX_INPUTS 4000000   /* values of the whole adding data set */
#define MEMORY_SHARE 0.8            /* of the machine's memory a cell may plan to use */

/* Random-stream numbers of one cell's seed. */
enum { STREAM_WEIGHTS = 1, STREAM_BATCHES = 2 };

/* Inputs per row for an MLP; per time step for a recurrent model. */
static size_t input_dim(const gs_cell_t *c)
{
    if (c->dataset == GS_DATA_DIGITS)
        return gs_cell_is_recurrent(c) ? GS_DIGITS_DIM / 8 : GS_DIGITS_DIM;
    if (c->dataset == GS_DATA_ADDING)
        return 2;
    return (size_t)(c->input_dim ? c->input_dim : c->width);
}

static size_t steps_per_row(const gs_cell_t *c)
{
    return gs_cell_is_recurrent(c) ? (size_t)c->seq_len : 1;
}

/* Rows of the synthetic data sets: enough that the training part holds a
 * batch; the adding problem gets up to 20,000 sequences (fewer for long
 * ones: at most 4 million inputs). */
static size_t synthetic_rows(const gs_cell_t *c)
{
    size_t need = (size_t)ceil((double)c->batch / TRAIN_FRAC) + 1;
    size_t base = GAUSSIAN_MIN_ROWS;
    if (c->dataset == GS_DATA_ADDING) {
        size_t cap = ADDING_MAX_INPUTS / (2 * (size_t)c->seq_len);
        base = cap < ADDING_MAX_ROWS ? (cap > GAUSSIAN_MIN_ROWS ? cap : GAUSSIAN_MIN_ROWS)
                                     : ADDING_MAX_ROWS;
    }
    return need > base ? need : base;
}

static size_t total_rows(const gs_cell_t *c)
{
    return c->dataset == GS_DATA_DIGITS ? GS_DIGITS_ROWS : synthetic_rows(c);
}

static size_t train_rows(const gs_cell_t *c)
{
    return (size_t)llround(TRAIN_FRAC * (double)total_rows(c));
}

static int regression(const gs_cell_t *c)
{
    return c->dataset == GS_DATA_ADDING;
}

/* A probe reads one batch, and the adding problem's baseline the targets
 * of the test rows: of a synthetic data set it makes those rows alone
 * (load_batch). Digits are a file, and standardized with the whole
 * training part's statistics. */
static int batch_only(const gs_cell_t *c)
{
    return c->task != GS_TASK_TRAIN && c->dataset != GS_DATA_DIGITS;
}

static gs_mlp_spec_t mlp_spec(const gs_cell_t *c)
{
    gs_mlp_spec_t s = {
        .in_dim = input_dim(c),
        .width = (size_t)c->width,
        .depth = (size_t)c->depth,
        .n_out = regression(c) ? 1 : N_CLASSES,
        .capacity = (size_t)c->batch,
        .act = c->act,
        .act_param = c->act_param,
        .norm = (gs_norm_kind_t)c->norm,
        .residual = c->residual,
    };
    return s;
}

static gs_rnn_spec_t rnn_spec(const gs_cell_t *c)
{
    gs_rnn_spec_t s = {
        .cell = c->model == GS_MODEL_LSTM ? GS_CELL_LSTM
                : c->model == GS_MODEL_GRU ? GS_CELL_GRU : GS_CELL_RNN,
        .in_dim = input_dim(c),
        .width = (size_t)c->width,
        .depth = (size_t)c->depth,
        .seq_len = (size_t)c->seq_len,
        .n_out = regression(c) ? 1 : N_CLASSES,
        .capacity = (size_t)c->batch,
        .act = c->act,
        .act_param = c->act_param,
        .forget_bias = c->forget_bias,
    };
    return s;
}

/* Bytes of the model's arenas, SIZE_MAX when they overflow. */
static size_t model_bytes(const gs_cell_t *c)
{
    if (gs_cell_is_recurrent(c)) {
        gs_rnn_spec_t s = rnn_spec(c);
        return gs_rnn_bytes(&s);
    }
    gs_mlp_spec_t s = mlp_spec(c);
    return gs_mlp_bytes(&s);
}

static gs_net_t *build_net(const gs_cell_t *c, gs_rng_t *rng)
{
    gs_init_spec_t is = {c->init, c->init_param, c->gain, c->bias_std};
    gs_net_t *net;
    if (gs_cell_is_recurrent(c)) {
        gs_rnn_spec_t s = rnn_spec(c);
        if ((net = gs_rnn_create(&s)))
            gs_rnn_init(net, &is, rng);
    } else {
        gs_mlp_spec_t s = mlp_spec(c);
        if ((net = gs_mlp_create(&s)))
            gs_mlp_init(net, &is, rng);
    }
    return net;
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
    size_t model = model_bytes(c);
    double need = model == SIZE_MAX ? INFINITY : (double)model;
    /* optimizer state (bounded by the arenas, which hold the parameters
     * twice) and the data set, held twice while it is split (a probe's:
     * its batch) */
    need += (double)c->opt->n_state * 0.5 * need;
    double rows = batch_only(c) ? (double)c->batch : 2.0 * (double)total_rows(c);
    need += 8.0 * rows * (double)(input_dim(c) * steps_per_row(c));
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
    double have = pages > 0 && psize > 0 ? (double)pages * (double)psize : 16.0 * (1ull << 30);
    if (!(need <= MEMORY_SHARE * have)) {
        snprintf(err, errlen, "width=%ld, depth=%ld, batch=%ld: the model and its data need "
                 "%.1f GiB, more than %.0f%% of this machine's %.1f GiB of memory; lower width, "
                 "depth or batch", c->width, c->depth, c->batch, gib(need), 100.0 * MEMORY_SHARE,
                 gib(have));
        return -1;
    }
    return 0;
}

double gs_experiment_flops(const gs_cell_t *c)
{
    double B = (double)c->batch, W = (double)c->width, D = (double)input_dim(c);
    double out = regression(c) ? 1.0 : N_CLASSES;
    double per_row;   /* multiply-adds of one forward pass of one row */
    if (gs_cell_is_recurrent(c)) {
        double G = c->model == GS_MODEL_LSTM ? 4 : c->model == GS_MODEL_GRU ? 3 : 1;
        per_row = (double)c->seq_len * G * W * (D + W + (double)(c->depth - 1) * 2.0 * W) + W * out;
    } else {
        per_row = D * W + (double)(c->depth - 1) * W * W + W * out;
    }
    double fwd = 2.0 * per_row;
    double steps = c->task == GS_TASK_TRAIN ? (double)c->steps : 1.0;
    double eval = c->task == GS_TASK_TRAIN ? (double)total_rows(c) * fwd : 0.0;
    /* a step is about three forward passes; plus a fixed cost of setting up */
    return steps * 3.0 * B * fwd + eval + 2e6;
}

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
    } else if (c->dataset == GS_DATA_ADDING) {
        if (gs_adding_make(&all, synthetic_rows(c), (size_t)c->seq_len, c->seed) != 0) {
            snprintf(err, errlen, "out of memory making dataset=adding");
            return -1;
        }
    } else if (gs_gaussian_make(&all, synthetic_rows(c), input_dim(c) * steps_per_row(c),
                                N_CLASSES, c->seed) != 0) {
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

/* The batch's loss; with grad, dL/dout (mean over the batch) goes into
 * net->dout. Classification: softmax cross-entropy (net->dout holds the
 * probabilities first); regression: MSE. */
static double batch_loss(gs_net_t *net, size_t n, const int *y, const double *t, int grad,
                         size_t *correct)
{
    if (t) {
        double l = gs_mse_forward(net->out, t, n * net->n_out);
        if (grad)
            gs_mse_backward(net->dout, net->out, t, n * net->n_out, 1.0 / (double)(n * net->n_out));
        return l;
    }
    double l = gs_softmax_ce_forward(net->dout, net->out, y, n, net->n_out, correct);
    if (grad)
        gs_softmax_ce_backward(net->dout, net->dout, y, n, net->n_out, 1.0 / (double)n);
    return l;
}

/* Mean loss and accuracy (NaN for regression) of ds in evaluation mode, in
 * chunks of the model's capacity; x, y, t, idx are scratch of that many
 * rows. */
static void evaluate(gs_net_t *net, const gs_dataset_t *ds, double *x, int *y, double *t,
                     size_t *idx, double *loss, double *acc)
{
    double total = 0.0;
    size_t hits = 0;
    double *tt = ds->n_targets ? t : NULL;
    for (size_t start = 0; start < ds->n; start += net->capacity) {
        size_t n = ds->n - start < net->capacity ? ds->n - start : net->capacity;
        for (size_t i = 0; i < n; i++)
            idx[i] = start + i;
        gs_dataset_gather(ds, idx, n, x, y, tt);
        net->ops->forward(net, x, n, 0);
        size_t correct = 0;
        total += (double)n * batch_loss(net, n, y, tt, 0, &correct);
        hits += correct;
    }
    *loss = total / (double)ds->n;
    *acc = tt ? NAN : (double)hits / (double)ds->n;
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

/* A probe's batch of a synthetic data set (batch_only) into batch, in the
 * batch's order, and the adding problem's baseline: the rows and the
 * number load_data, run_steps and finish give, bit for bit, without the
 * data set - the split's order (gs_dataset_split_order), the batch's
 * shuffle of the training part from brng (as run_steps draws it), then
 * only those rows made. tests/data.c compares them with the whole data
 * set's. */
static int load_batch(const gs_cell_t *c, gs_rng_t *brng, gs_dataset_t *batch, double *baseline,
                      char *err, size_t errlen)
{
    size_t n = synthetic_rows(c), n_train = (size_t)llround(TRAIN_FRAC * (double)n);
    size_t B = (size_t)c->batch;
    size_t *perm = malloc(n * sizeof *perm), *order = malloc(n_train * sizeof *order);
    size_t *rows = malloc(B * sizeof *rows);
    double *targets = regression(c) ? malloc(n * sizeof *targets) : NULL;
    int rc = -1;
    if (!perm || !order || !rows || (regression(c) && !targets))
        goto out;
    gs_dataset_split_order(n, c->seed, perm);
    for (size_t i = 0; i < n_train; i++)
        order[i] = i;
    gs_rng_shuffle(brng, order, n_train);
    for (size_t i = 0; i < B; i++)
        rows[i] = perm[order[i]];
    if (regression(c)) {
        rc = gs_adding_rows(batch, n, (size_t)c->seq_len, c->seed, rows, B, targets);
        *baseline = constant_baseline(targets, perm + n_train, n - n_train);
    } else {
        rc = gs_gaussian_rows(batch, n, input_dim(c) * steps_per_row(c), N_CLASSES, c->seed,
                              rows, B);
    }
out:
    if (rc != 0)
        snprintf(err, errlen, "out of memory making the batch of dataset=%s",
                 gs_dataset_names[c->dataset]);
    free(perm);
    free(order);
    free(rows);
    free(targets);
    return rc;
}

/* The layer (1..depth, depth+1 the readout) whose weight matrix tensor T
 * is, or 0 when T is not a weight matrix. */
static int weight_layer(const gs_tensor_t *T, size_t depth)
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

/* Weight histograms of every weight matrix (tensors named W...). */
static int weight_histograms(const gs_net_t *net, size_t depth, gs_result_t *r)
{
    size_t n = 0;
    for (size_t k = 0; k < net->n_tensors; k++)
        n += net->tensors[k].weight;
    r->hist = calloc(n + 1, sizeof *r->hist);
    if (!r->hist)
        return -1;
    for (size_t k = 0; k < net->n_tensors; k++) {
        const gs_tensor_t *T = &net->tensors[k];
        if (!T->weight)
            continue;
        gs_hist_t *h = &r->hist[r->n_hist++];
        h->layer = weight_layer(T, depth);
        h->quantity = gs_hist_quantity_names[T->name[1] == 'x'];
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
    return 0;
}

/* The weight-gradient ratio of one measured step, ||dL/dW_1|| /
 * ||dL/dW_depth|| (1 at depth 1, or the non-finite norm). 0/0 is NaN, not
 * 0: no gradient reaches even the last layer, and that is no ratio. */
static double grad_ratio_of(const gs_cell_t *c, const gs_layer_stats_t *st)
{
    size_t depth = (size_t)c->depth;
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
static gs_diag_t diagnose_step(const gs_cell_t *c, const gs_layer_stats_t *st, double *ratio)
{
    size_t depth = (size_t)c->depth;
    double first, last;
    int dead = 0;
    if (gs_cell_is_recurrent(c)) {
        first = st[depth - 1].grad_h_first;
        last = st[depth - 1].grad_h_last;
        dead = first == 0.0 || last == 0.0;
    } else {
        first = st[0].grad_pre_norm;
        last = st[depth - 1].grad_pre_norm;
        for (size_t l = 0; l < depth; l++)
            dead |= st[l].grad_pre_norm == 0.0 || st[l].dead_frac == 1.0;
    }
    *ratio = dead ? NAN : depth == 1 && !gs_cell_is_recurrent(c) ? (isfinite(first) ? 1.0 : NAN)
                                                               : first / last;
    return gs_diagnose(*ratio, dead, c->vanishing_below, c->exploding_above);
}

/* Every gradient norm of a measured step is finite (a step that overflowed
 * or produced NaN diverged, whatever its ratios say). */
static int gradients_finite(const gs_layer_stats_t *st, size_t n)
{
    for (size_t l = 0; l < n; l++)
        if (!isfinite(st[l].grad_w_norm) || !isfinite(st[l].grad_pre_norm))
            return 0;
    return 1;
}

static void layer_stats(const gs_cell_t *c, const gs_net_t *net, size_t n, gs_layer_stats_t *st)
{
    if (gs_cell_is_recurrent(c))
        gs_rnn_layer_stats(net, n, st);
    else
        gs_mlp_layer_stats(net, n, st);
}

double gs_experiment_sigma_w2(const gs_cell_t *c)
{
    size_t W = (size_t)c->width;
    return (double)W * gs_init_variance(c->init, W, W, c->init_param, c->gain);
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
static void measured_slope(const gs_cell_t *c, const gs_layer_stats_t *st, double *slope,
                           double *r2)
{
    size_t depth = (size_t)c->depth, first = depth / 2 > 0 ? depth / 2 : 1;
    log_slope(layer_grad, st + depth - 1, depth - first + 1, slope, r2);
}

/* rnn: Pascanu et al.'s bound on the per-step change of ln ||dL/dh_t||,
 * ln(lambda_1 gamma) with lambda_1 the top layer's largest singular value
 * of Wh and gamma = max |phi'|, beside the measured least-squares slope of
 * ln grad_hidden_norm per step toward t = 1 (top layer, t = 1..T). */
static void recurrent_theory(const gs_cell_t *c, const gs_net_t *net, gs_result_t *r)
{
    if (c->model != GS_MODEL_RNN)
        return;
    char name[48];
    snprintf(name, sizeof name, "Wh%ld", c->depth);
    const gs_tensor_t *T = gs_net_tensor(net, name);
    if (T) {
        double l1 = gs_spectrum_top_sv(net->params + T->offset, T->rows, T->cols);
        r->step_bound = log(l1 * gs_act_max_slope(c->act, c->act_param));
    }
    if (r->n_time)
        log_slope(step_grad, r->time + r->n_time - 1, r->n_time, &r->measured_slope,
                  &r->fit_r2);
}

/* Residual without norm: the growth of ln(||x_l||^2 / n) per block over
 * layers 1..depth, predicted from layer 1's measured length and measured
 * (the layer statistics: act_std^2 + act_mean^2 is the mean square). */
static void residual_theory(const gs_cell_t *c, gs_result_t *r)
{
    size_t depth = (size_t)c->depth;
    if (!c->residual || c->norm != GS_NORM_NONE || depth < 2)
        return;
    const gs_layer_stats_t *first = &r->layers[0], *last = &r->layers[depth - 1];
    double p1 = first->act_std * first->act_std + first->act_mean * first->act_mean;
    double pL = last->act_std * last->act_std + last->act_mean * last->act_mean;
    r->residual_growth_measured = log(pL / p1) / (double)(depth - 1);
    r->residual_growth_predicted = gs_mf_residual_growth(
        c->act, c->act_param, gs_experiment_sigma_w2(c), c->bias_std * c->bias_std, p1,
        first->act_mean, (long)depth - 1);
}

/* The theory that applies to a cell: mean field without norm or
 * residuals; batch norm's growth for relu without residuals; the length
 * growth of residual networks; Pascanu's bound for the rnn. */
static void theory(const gs_cell_t *c, const gs_net_t *net, gs_result_t *r)
{
    r->q_star = r->chi1 = r->depth_scale = r->predicted_slope = NAN;
    r->measured_slope = r->fit_r2 = NAN;
    r->residual_growth_predicted = r->residual_growth_measured = r->step_bound = NAN;
    if (gs_cell_is_recurrent(c)) {
        recurrent_theory(c, net, r);
        return;
    }
    measured_slope(c, r->layers, &r->measured_slope, &r->fit_r2);
    residual_theory(c, r);
    if (c->residual)
        return;
    if (c->norm == GS_NORM_NONE) {
        gs_meanfield_t mf = gs_meanfield(c->act, c->act_param, gs_experiment_sigma_w2(c),
                                         c->bias_std * c->bias_std);
        r->q_star = mf.q_star;
        r->chi1 = mf.chi1;
        r->depth_scale = mf.depth_scale;
        r->predicted_slope = mf.predicted_slope;
    } else if (c->norm == GS_NORM_BATCH && strcmp(c->act->name, "relu") == 0) {
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
static int spectrum(const gs_cell_t *c, gs_net_t *net, gs_result_t *r)
{
    r->sv2_min = r->sv2_max = r->sv2_mean = r->condition = NAN;
    if (!c->spectrum)
        return 0;
    size_t W = (size_t)c->width, D = net->in_dim, n = W < D ? W : D;
    double *J = malloc(W * D * sizeof *J), *work = malloc(W * D * sizeof *work);
    double *sv2 = malloc(n * sizeof *sv2);   /* work serves the Jacobian, then the SVD */
    gs_hist_t *hist = realloc(r->hist, (r->n_hist + 1) * sizeof *r->hist);
    int rc = -1;
    if (hist)
        r->hist = hist;
    if (!J || !work || !sv2 || !hist || gs_mlp_jacobian(net, 0, J, work) != 0 ||
        gs_spectrum_sv2(J, W, D, sv2, work) != 0)
        goto out;
    gs_spectrum_summary_t s = gs_spectrum_summary(sv2, n);
    r->sv2_min = s.sv2_min;
    r->sv2_max = s.sv2_max;
    r->sv2_mean = s.sv2_mean;
    r->condition = s.condition;
    for (size_t i = 0; i < n; i++)   /* log10 sigma = log10(sigma^2) / 2 */
        sv2[i] = sv2[i] > 0 ? 0.5 * log10(sv2[i]) : NAN;
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

/* Measurements at initialization from the first step's forward/backward;
 * -1 when the spectrum could not be computed. */
static int measure_init(const gs_cell_t *c, gs_net_t *net, size_t n, gs_result_t *r)
{
    layer_stats(c, net, n, r->layers);
    if (gs_cell_is_recurrent(c))
        gs_rnn_time_stats(net, n, r->time);
    r->grad_ratio = grad_ratio_of(c, r->layers);
    r->diagnosis = diagnose_step(c, r->layers, &r->grad_h_ratio);
    theory(c, net, r);
    return spectrum(c, net, r);
}

/* ---- training ---- */

/* Everything a training run holds besides the model and its data. */
typedef struct {
    const gs_cell_t *c;
    gs_net_t *net;
    gs_result_t *r;
    const gs_progress_t *progress;
    double *opt_state;
    double *delta;              /* (n_params) the logged steps' updates */
    gs_layer_stats_t *stats;    /* (n_layers) of the step in hand */
    long steps, clipped;
} trainer_t;

/* Where a diverged step first went non-finite, from its layer statistics
 * (a mean or norm over non-finite values is non-finite; one that
 * overflowed counts too): weights before activations before gradients,
 * which is the order the step computed them in. */
static void forensics(trainer_t *tr, double loss)
{
    gs_result_t *r = tr->r;
    size_t L = r->n_layers;
    const gs_layer_stats_t *st = tr->stats;
    for (size_t l = 0; l < L; l++)
        if (!isfinite(st[l].w_norm)) {
            r->diverged_layer = (int)l + 1;
            r->diverged_tensor = GS_NONFINITE_WEIGHT;
            return;
        }
    for (size_t l = 0; l < L; l++)
        if (!isfinite(st[l].act_mean) || !isfinite(st[l].act_std)) {
            r->diverged_layer = (int)l + 1;
            r->diverged_tensor = GS_NONFINITE_ACTIVATION;
            return;
        }
    r->diverged_layer = (int)L;   /* the readout, unless a gradient says otherwise */
    r->diverged_tensor = isfinite(loss) ? GS_NONFINITE_GRADIENT : GS_NONFINITE_LOSS;
    if (!isfinite(loss))
        return;
    for (size_t l = L; l-- > 0;)
        if (!isfinite(st[l].grad_w_norm)) {
            r->diverged_layer = (int)l + 1;
            return;
        }
}

/* The layer rows of a logged step from its statistics (update ratios
 * come after the update). */
static gs_train_layer_row_t *log_layers(trainer_t *tr, long step)
{
    gs_result_t *r = tr->r;
    gs_train_layer_row_t *rows = &r->layer_log[r->n_layer_log];
    for (size_t l = 0; l < r->n_layers; l++) {
        const gs_layer_stats_t *st = &tr->stats[l];
        rows[l] = (gs_train_layer_row_t){
            .step = step, .layer = (int)l + 1, .grad_w_norm = st->grad_w_norm,
            .w_norm = st->w_norm, .update_ratio = NAN, .dead_frac = st->dead_frac,
            .saturated_frac = st->saturated_frac, .grad_h_first = st->grad_h_first,
            .grad_h_last = st->grad_h_last};
    }
    r->n_layer_log += r->n_layers;
    return rows;
}

/* update_ratio of each layer: the norm of the update the optimizer
 * applied to its weight matrices (tr->delta) over their norm before it. */
static void update_ratios(trainer_t *tr, gs_train_layer_row_t *rows)
{
    const gs_net_t *net = tr->net;
    size_t L = tr->r->n_layers;
    for (size_t l = 0; l < L; l++)
        rows[l].update_ratio = 0.0;   /* the sum of squares first */
    for (size_t k = 0; k < net->n_tensors; k++) {
        const gs_tensor_t *T = &net->tensors[k];
        int l = weight_layer(T, L - 1);
        if (l > 0) {
            double d = gs_norm2(tr->delta + T->offset, T->rows * T->cols);
            rows[l - 1].update_ratio += d * d;
        }
    }
    for (size_t l = 0; l < L; l++)
        rows[l].update_ratio = sqrt(rows[l].update_ratio) / rows[l].w_norm;
}

/* One training step. 1 when the run diverged at it, -1 when its
 * measurements at init failed. */
static int train_step(trainer_t *tr, long step, const double *x, const int *y, const double *t,
                      size_t B)
{
    const gs_cell_t *c = tr->c;
    gs_net_t *net = tr->net;
    gs_result_t *r = tr->r;
    int logged = step == 1 || step % c->log_every == 0 || step == tr->steps;
    net->ops->forward(net, x, B, 1);
    double loss = batch_loss(net, B, y, t, 1, NULL);
    net->measure = logged;   /* step 1 is also the measurement at init */
    net->ops->backward(net, B);
    if (step == 1) {
        if (measure_init(c, net, B, r) != 0)
            return -1;
        r->init_loss = loss;
    }
    /* the layer statistics see the gradient before clipping; a step that
     * diverges by its gradient alone is not clipped (gs_clip leaves a
     * non-finite gradient as it is), so its statistics can wait */
    int have_stats = logged || !isfinite(loss);
    if (step == 1)   /* measure_init took them from this very step */
        memcpy(tr->stats, r->layers, r->n_layers * sizeof *r->layers);
    else if (have_stats)
        layer_stats(c, net, B, tr->stats);
    gs_clip_result_t cr = gs_clip(net->grads, net->n_params, (gs_clip_mode_t)c->clip_mode,
                                  c->clip);
    tr->clipped += cr.fired;
    r->steps_run = step;
    int diverged = !isfinite(loss) || !isfinite(cr.pre_norm);
    if (!diverged)
        r->last_finite_grad_norm = cr.pre_norm;
    if (!diverged && !logged) {
        c->opt->step(net->params, net->grads, tr->opt_state, net->n_params, c->lr, step, NULL);
        return 0;
    }
    if (!have_stats)
        layer_stats(c, net, B, tr->stats);
    gs_train_row_t *row = &r->log[r->n_log++];
    *row = (gs_train_row_t){step, loss, cr.pre_norm, cr.post_norm, cr.fired};
    gs_train_layer_row_t *rows = log_layers(tr, step);
    if (diverged) {
        r->status = GS_STATUS_DIVERGED;
        r->diverged_step = step;
        forensics(tr, loss);
    } else {
        r->grad_ratio_final = grad_ratio_of(c, tr->stats);
        r->diagnosis_final = diagnose_step(c, tr->stats, &r->grad_h_ratio_final);
        c->opt->step(net->params, net->grads, tr->opt_state, net->n_params, c->lr, step,
                     tr->delta);
        update_ratios(tr, rows);
    }
    if (tr->progress && tr->progress->on_log)
        tr->progress->on_log(tr->progress->ctx, row, rows, r->n_layers, tr->steps);
    return diverged;
}

/* The probe (task=probe): one forward and backward pass at init; -1 when
 * its measurements failed. */
static int probe(trainer_t *tr, const double *x, const int *y, const double *t, size_t B)
{
    gs_net_t *net = tr->net;
    gs_result_t *r = tr->r;
    net->ops->forward(net, x, B, 1);
    double loss = batch_loss(net, B, y, t, 1, NULL);
    net->measure = 1;
    net->ops->backward(net, B);
    if (measure_init(tr->c, net, B, r) != 0)
        return -1;
    r->init_loss = loss;
    r->steps_run = 1;
    if (!isfinite(loss) || !gradients_finite(r->layers, r->n_layers)) {
        r->status = GS_STATUS_DIVERGED;
        r->diverged_step = 1;
        memcpy(tr->stats, r->layers, r->n_layers * sizeof *r->layers);
        forensics(tr, loss);
    }
    return 0;
}

/* The result arrays of a cell, sized from its config; -1 when memory is
 * short. */
static int alloc_result(const gs_cell_t *c, gs_result_t *r)
{
    long n_log_max = c->task == GS_TASK_TRAIN ? c->steps / c->log_every + 3 : 0;
    r->n_layers = (size_t)c->depth + 1;
    r->layers = calloc(r->n_layers, sizeof *r->layers);
    r->n_time = gs_cell_is_recurrent(c) ? (size_t)c->seq_len : 0;
    r->time = calloc(r->n_time + 1, sizeof *r->time);
    r->log = calloc((size_t)n_log_max + 1, sizeof *r->log);
    r->layer_log = calloc((size_t)n_log_max * r->n_layers + 1, sizeof *r->layer_log);
    r->grad_ratio_final = r->grad_h_ratio_final = NAN;
    r->last_finite_grad_norm = NAN;
    return r->layers && r->time && r->log && r->layer_log ? 0 : -1;
}

/* The steps (or the probe) of a cell whose model and data are built;
 * x, y, t, idx are batch scratch, order the training rows' order (brng
 * NULL: train is a probe's batch, in order, drawn by load_batch). -1 when
 * the measurements at init failed. */
static int run_steps(trainer_t *tr, const gs_dataset_t *train, gs_rng_t *brng, double *x,
                      int *y, double *t, size_t *order)
{
    const gs_cell_t *c = tr->c;
    size_t B = (size_t)c->batch, cursor = 0;
    for (size_t i = 0; i < train->n; i++)
        order[i] = i;
    if (brng)
        gs_rng_shuffle(brng, order, train->n);
    tr->r->status = GS_STATUS_DONE;
    if (c->task != GS_TASK_TRAIN) {
        gs_dataset_gather(train, order, B, x, y, t);
        return probe(tr, x, y, t, B);
    }
    for (long step = 1; step <= tr->steps; step++) {
        if (cursor + B > train->n) {   /* next epoch: new order */
            gs_rng_shuffle(brng, order, train->n);
            cursor = 0;
        }
        gs_dataset_gather(train, order + cursor, B, x, y, t);
        cursor += B;
        int rc = train_step(tr, step, x, y, t, B);
        if (rc < 0)
            return -1;
        if (rc > 0)
            break;
    }
    return 0;
}

/* The diagnosis at the end, the clip share, the final losses. The
 * diagnosis at init was made at the first step and stays (a run that
 * diverges later was still healthy, say, at init); a diverged run has no
 * final losses or accuracy to report: its weights are not finite, and an
 * accuracy of what they predict would rank it among the others. */
static void finish(trainer_t *tr, const gs_dataset_t *train, const gs_dataset_t *test,
                   double *x, int *y, double *t, size_t *idx)
{
    const gs_cell_t *c = tr->c;
    gs_result_t *r = tr->r;
    int diverged = r->status == GS_STATUS_DIVERGED;
    r->train_loss = r->test_loss = r->test_acc = NAN;
    if (c->task != GS_TASK_TRAIN)
        return;
    r->clip_fraction = r->steps_run ? (double)tr->clipped / (double)r->steps_run : 0.0;
    if (diverged) {
        r->diagnosis_final = GS_DIAG_DIVERGED;
        r->grad_ratio_final = r->grad_h_ratio_final = NAN;
        return;
    }
    double acc;
    evaluate(tr->net, train, x, y, t, idx, &r->train_loss, &acc);
    evaluate(tr->net, test, x, y, t, idx, &r->test_loss, &r->test_acc);
}

int gs_experiment_run(const gs_cell_t *c, gs_result_t *r, const gs_progress_t *progress)
{
    memset(r, 0, sizeof *r);
    double t_start = gs_now();
    char err[512];
    if (gs_experiment_check(c, err, sizeof err) != 0)
        return fail(r, err);

    gs_rng_t wrng, brng;   /* paired seeding: the batches' seed ignores the model */
    gs_rng_seed(&wrng, gs_cell_seed(c), STREAM_WEIGHTS);
    gs_rng_seed(&brng, gs_cell_data_seed(c), STREAM_BATCHES);
    gs_dataset_t train = {0}, test = {0};
    int only_batch = batch_only(c);
    r->baseline_loss = NAN;
    if ((only_batch ? load_batch(c, &brng, &train, &r->baseline_loss, err, sizeof err)
                    : load_data(c, &train, &test, err, sizeof err)) != 0)
        return fail(r, err);
    if (!only_batch && regression(c))
        r->baseline_loss = constant_baseline(test.t, NULL, test.n);
    gs_net_t *net = build_net(c, &wrng);
    size_t B = (size_t)c->batch, in = train.dim, np = net ? net->n_params : 0;
    int trains = c->task == GS_TASK_TRAIN;
    trainer_t tr = {.c = c, .net = net, .r = r, .progress = progress,
                    .steps = trains ? c->steps : 1};
    double *x = malloc(B * in * sizeof *x);
    int *y = malloc(B * sizeof *y);
    double *t = regression(c) ? malloc(B * sizeof *t) : NULL;
    size_t *order = malloc(train.n * sizeof *order);
    size_t *idx = malloc(B * sizeof *idx);
    tr.opt_state = gs_arena_alloc((size_t)c->opt->n_state * np + 1);
    tr.delta = trains ? gs_arena_alloc(np + 1) : NULL;
    tr.stats = calloc((size_t)c->depth + 1, sizeof *tr.stats);
    int rc = 0;
    if (alloc_result(c, r) != 0 || !net || !x || !y || (regression(c) && !t) || !order ||
        !idx || !tr.opt_state || (trains && !tr.delta) || !tr.stats) {
        rc = fail(r, "out of memory building the model");
        goto out;
    }
    r->work_bytes = model_bytes(c) +
                    ((size_t)c->opt->n_state + (size_t)trains) * np * sizeof(double) +
                    (train.n + test.n) * train.dim * sizeof(double);
    if (weight_histograms(net, (size_t)c->depth, r) != 0) {
        rc = fail(r, "out of memory for the weight histograms");
        goto out;
    }
    double t_steps = gs_now();
    r->setup_s = t_steps - t_start;
    if (run_steps(&tr, &train, only_batch ? NULL : &brng, x, y, t, order) != 0) {
        rc = fail(r, "spectrum=yes: the Jacobian's singular values could not be computed "
                     "(out of memory, or LAPACK's eigensolver failed)");
        goto out;
    }
    double t_eval = gs_now();
    r->steps_s = t_eval - t_steps;
    finish(&tr, &train, &test, x, y, t, idx);
    r->eval_s = gs_now() - t_eval;
out:
    gs_net_free(net);
    free(x);
    free(y);
    free(t);
    free(order);
    free(idx);
    free(tr.stats);
    gs_arena_free(tr.opt_state);
    gs_arena_free(tr.delta);
    gs_dataset_free(&train);
    gs_dataset_free(&test);
    return rc;
}
