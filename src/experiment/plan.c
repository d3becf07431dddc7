#include <config.h>

#include "experiment/plan.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "data/digits.h"
#include "data/tokens.h"
#include "experiment/experiment.h"

#define N_CLASSES 10
#define TRAIN_FRAC 0.8
#define GAUSSIAN_MIN_ROWS 2000
#define TOKEN_TASK_ROWS 10000   /* copy, reverse, recall: sequences made (charlm: its text's) */
#define ADDING_MAX_ROWS 20000
#define ADDING_MAX_INPUTS 4000000   /* values of the whole adding data set */
#define MEMORY_SHARE 0.8            /* of the machine's memory a cell may plan to use */

/* Inputs per row for an MLP; per time step for a recurrent model. */
static size_t input_dim(const gs_cell_t *c, int recurrent)
{
    if (c->dataset == GS_DATA_DIGITS)
        return recurrent ? GS_DIGITS_DIM / 8 : GS_DIGITS_DIM;
    if (c->dataset == GS_DATA_ADDING)
        return 2;
    if (c->dataset == GS_DATA_TOKENS || GS_DATA_IS_TOKEN_TASK(c->dataset))
        return (size_t)c->seq_len;
    return (size_t)(c->input_dim ? c->input_dim : c->width);
}

/* Rows of the synthetic data sets: enough that the training part holds a
 * batch; the adding problem gets up to 20,000 sequences (fewer for long
 * ones: at most 4 million inputs). */
static size_t synthetic_rows(const gs_cell_t *c)
{
    size_t need = (size_t)ceil((double)c->batch / TRAIN_FRAC) + 1;
    size_t base = GS_DATA_IS_TOKEN_TASK(c->dataset) ? TOKEN_TASK_ROWS : GAUSSIAN_MIN_ROWS;
    if (c->dataset == GS_DATA_ADDING) {
        size_t cap = ADDING_MAX_INPUTS / (2 * (size_t)c->seq_len);
        base = cap < ADDING_MAX_ROWS ? (cap > GAUSSIAN_MIN_ROWS ? cap : GAUSSIAN_MIN_ROWS)
                                     : ADDING_MAX_ROWS;
    }
    return need > base ? need : base;
}

double gs_experiment_sigma_w2(const gs_cell_t *c)
{
    size_t W = (size_t)c->width;
    return (double)W * gs_init_variance(c->init, W, W, c->init_param, c->gain);
}

/* Which theory applies: mean field without norm or residuals; batch norm's
 * growth for relu without residuals; the length growth of residual
 * networks without norm; Pascanu's bound for the rnn (none for the gated
 * cells). */
static gs_plan_theory_t theory_of(const gs_cell_t *c, int recurrent)
{
    int mlp = c->model == GS_MODEL_MLP, plain = mlp && !c->residual;
    gs_plan_theory_t t = {
        .layer_slope = mlp,
        .meanfield = plain && c->norm == GS_NORM_NONE,
        .batchnorm_relu = plain && c->norm == GS_NORM_BATCH && c->act->kind == GS_ACT_RELU,
        .residual_growth = mlp && c->residual && c->norm == GS_NORM_NONE && c->depth >= 2,
        .step_bound = c->model == GS_MODEL_RNN,
        .sigma_w2 = gs_experiment_sigma_w2(c),
        .sigma_b2 = c->bias_std * c->bias_std,
    };
    return t;
}

/* Multiply-adds of one forward pass of one row, times two: the cost
 * estimate's unit. */
static double forward_flops(const gs_plan_t *p)
{
    double W = (double)p->width, D = (double)p->in_dim, out = (double)p->n_out;
    double per_row;
    if (p->transformer) {   /* per sequence: projections, attention, MLP, logits */
        double T = (double)p->tf.seq_len, F = (double)p->tf.ffn;
        per_row = (double)p->depth * T * (4.0 * W * W + 2.0 * T * W + 2.0 * W * F) + T * W * out;
    } else if (p->recurrent) {
        double G = p->model == GS_MODEL_LSTM ? 4 : p->model == GS_MODEL_GRU ? 3 : 1;
        per_row = (double)p->n_time * G * W * (D + W + (double)(p->depth - 1) * 2.0 * W) +
                  W * out;
    } else {
        per_row = D * W + (double)(p->depth - 1) * W * W + W * out;
    }
    return 2.0 * per_row;
}

/* The plan without its seeds: hashing the canonical key is most of what
 * a plan costs, and checking or pricing a cell (every cell of a sweep,
 * when it is parsed) needs no seed. */
static void plan_shape(const gs_cell_t *c, gs_plan_t *p)
{
    int recurrent = gs_cell_is_recurrent(c);
    *p = (gs_plan_t){
        .model = (gs_model_kind_t)c->model,
        .recurrent = recurrent,
        .init = {c->init, c->init_param, c->gain, c->bias_std},
        .depth = (size_t)c->depth,
        .width = (size_t)c->width,
        .n_layers = (size_t)c->depth + 1,
        .n_time = recurrent ? (size_t)c->seq_len : 0,
        .act = c->act,
        .act_param = c->act_param,
        .dataset = (gs_data_kind_t)c->dataset,
        .regression = c->dataset == GS_DATA_ADDING,
        .in_dim = input_dim(c, recurrent),
        .total_rows = c->dataset == GS_DATA_DIGITS ? GS_DIGITS_ROWS
                      : c->dataset == GS_DATA_CHARLM
                          ? gs_charlm_rows(GS_CHARLM_CHARS, (size_t)c->seq_len)
                          : synthetic_rows(c),
        .train_frac = TRAIN_FRAC,
        .data_set_seed = c->seed,
        .trains = c->task == GS_TASK_TRAIN,
        .steps = c->task == GS_TASK_TRAIN ? c->steps : 1,
        .batch = (size_t)c->batch,
        .opt = c->opt,
        .lr = c->lr,
        .warmup = c->warmup,
        .clip_mode = (gs_clip_mode_t)c->clip_mode,
        .clip = c->clip,
        .log_every = c->log_every,
        .n_log_max = c->task == GS_TASK_TRAIN ? (size_t)(c->steps / c->log_every + 3) : 0,
        .spectrum = c->spectrum,
        .format_stats = c->format_stats,
        .fmt = c->precision ? &gs_formats[c->precision - 1] : NULL,
        .loss_scale = c->loss_scale,
        .rounding = (gs_rounding_t)c->rounding,
        .theory = theory_of(c, recurrent),
        .vanishing_below = c->vanishing_below,
        .exploding_above = c->exploding_above,
    };
    p->master = !p->fmt ? NULL
                : c->master_weights == GS_MASTER_SAME ? p->fmt : &gs_formats[GS_FMT_FLOAT32];
    p->row_dim = p->in_dim * (recurrent ? (size_t)c->seq_len : 1);
    p->n_hist = (recurrent ? 2 * p->depth : p->depth) + 1 + (size_t)(p->spectrum != 0);
    p->n_out = p->regression ? 1
               : p->dataset == GS_DATA_TOKENS || GS_DATA_IS_TOKEN_TASK(p->dataset) ? (size_t)c->vocab
                                                                                   : N_CLASSES;
    p->n_fmt_max = c->format_stats ? (p->trains ? p->n_log_max : 1) * p->n_layers * GS_N_FMT_TENSORS : 0;
    p->train_rows = (size_t)llround(TRAIN_FRAC * (double)p->total_rows);
    p->batch_only = !p->trains && p->dataset != GS_DATA_DIGITS;
    size_t test_rows = p->total_rows - p->train_rows;
    p->eval_rows = !p->trains ? 0 : (size_t)c->eval_rows < test_rows ? (size_t)c->eval_rows
                                                                       : test_rows;
    if (c->model == GS_MODEL_TRANSFORMER) {
        p->transformer = 1;
        p->n_hist = 0;
        /* step 0, and training's logged steps */
        p->n_block_max = (p->trains ? p->n_log_max + 1 : 1) * p->depth * GS_N_SUBLAYERS;
        p->n_head_max = (p->trains ? p->n_log_max + 1 : 1) * p->depth * (size_t)c->heads;
        p->tf = (gs_tf_spec_t){
            .vocab = (size_t)c->vocab,
            .seq_len = (size_t)c->seq_len,
            .d_model = p->width,
            .heads = (size_t)c->heads,
            .ffn = (size_t)gs_cell_ffn(c),
            .depth = p->depth,
            .capacity = p->batch,
            .act = c->act,
            .act_param = c->act_param,
            .ln = (gs_ln_place_t)c->ln,
            .residual_scale = (gs_res_scale_t)c->residual_scale,
            .skip = c->skip,
            .mlp = c->mlp,
            .causal = c->causal,
            .dropout = c->dropout,
            .qk_norm = c->qk_norm,
            .fmt = p->fmt,
        };
        p->model_bytes = gs_tf_bytes(&p->tf);
    } else if (recurrent) {
        p->rnn = (gs_rnn_spec_t){
            .cell = c->model == GS_MODEL_LSTM ? GS_CELL_LSTM
                    : c->model == GS_MODEL_GRU ? GS_CELL_GRU : GS_CELL_RNN,
            .in_dim = p->in_dim,
            .width = p->width,
            .depth = p->depth,
            .seq_len = (size_t)c->seq_len,
            .n_out = p->n_out,
            .capacity = p->batch,
            .act = c->act,
            .act_param = c->act_param,
            .forget_bias = c->forget_bias,
            .fmt = p->fmt,
        };
        p->model_bytes = gs_rnn_bytes(&p->rnn);
    } else {
        p->mlp = (gs_mlp_spec_t){
            .in_dim = p->in_dim,
            .width = p->width,
            .depth = p->depth,
            .n_out = p->n_out,
            .capacity = p->batch,
            .act = c->act,
            .act_param = c->act_param,
            .norm = (gs_norm_kind_t)c->norm,
            .residual = c->residual,
            .fmt = p->fmt,
        };
        p->model_bytes = gs_mlp_bytes(&p->mlp);
    }
    /* optimizer state (bounded by the arenas, which hold the parameters
     * twice) and the data set, held twice while it is split (a probe's
     * of a synthetic one: its batch) */
    double need = p->model_bytes == SIZE_MAX ? INFINITY : (double)p->model_bytes;
    need += (double)p->opt->n_state * 0.5 * need;
    double rows = p->batch_only ? (double)p->batch : 2.0 * (double)p->total_rows;
    p->need_bytes = need + 8.0 * rows * (double)p->row_dim +
                    (double)p->n_fmt_max *
                        (double)(sizeof(gs_fmt_record_t) + GS_FMT_HIST_BINS * sizeof(long));
    /* a step is about three forward passes; plus the held-out rows at every
     * logged step, the final evaluation and a fixed cost of setting up */
    double fwd = forward_flops(p);
    double eval = p->trains ? ((double)p->total_rows +
                               (double)p->n_log_max * (double)p->eval_rows) * fwd : 0.0;
    p->flops = (double)p->steps * 3.0 * (double)p->batch * fwd + eval + 2e6;
}

void gs_plan_make(const gs_cell_t *c, gs_plan_t *p)
{
    plan_shape(c, p);
    p->weight_seed = gs_cell_seed(c);
    p->batch_seed = gs_cell_data_seed(c);
}

int gs_plan_logged(const gs_plan_t *p, long step)
{
    return step == 1 || step % p->log_every == 0 || step == p->steps;
}

static double gib(double bytes) { return bytes / (1024.0 * 1024.0 * 1024.0); }

/* The checks that need the plan: the batch against the training rows,
 * batch norm's two rows, the memory against the machine's. */
static int plan_check(const gs_plan_t *p, char *err, size_t errlen)
{
    const char *bad = p->transformer ? gs_tf_spec_error(&p->tf) : NULL;
    if (bad) {
        snprintf(err, errlen, "model=transformer: %s", bad);
        return -1;
    }
    if (p->batch > p->train_rows) {
        snprintf(err, errlen, "batch=%zu: larger than the %zu training rows of dataset=%s; "
                 "use batch <= %zu", p->batch, p->train_rows, gs_dataset_names[p->dataset],
                 p->train_rows);
        return -1;
    }
    if (!p->recurrent && p->mlp.norm == GS_NORM_BATCH && p->batch < 2) {
        snprintf(err, errlen, "batch=%zu: norm=batch needs at least 2 rows per batch", p->batch);
        return -1;
    }
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
    double have = pages > 0 && psize > 0 ? (double)pages * (double)psize : 16.0 * (1ull << 30);
    if (!(p->need_bytes <= MEMORY_SHARE * have)) {
        snprintf(err, errlen, "width=%zu, depth=%zu, batch=%zu: the model and its data need "
                 "%.1f GiB, more than %.0f%% of this machine's %.1f GiB of memory; lower width, "
                 "depth or batch", p->width, p->depth, p->batch, gib(p->need_bytes),
                 100.0 * MEMORY_SHARE, gib(have));
        return -1;
    }
    return 0;
}

int gs_plan_resolve(const gs_cell_t *c, gs_plan_t *p, char *err, size_t errlen)
{
    if (gs_cell_validate(c, err, errlen) != 0)
        return -1;
    gs_plan_make(c, p);
    return plan_check(p, err, errlen);
}

int gs_experiment_check(const gs_cell_t *c, char *err, size_t errlen)
{
    if (gs_cell_validate(c, err, errlen) != 0)
        return -1;
    gs_plan_t p;
    plan_shape(c, &p);
    return plan_check(&p, err, errlen);
}

double gs_experiment_flops(const gs_cell_t *c)
{
    gs_plan_t p;
    plan_shape(c, &p);
    return p.flops;
}
