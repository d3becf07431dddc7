/* A cell resolved once into what running it takes: the model and its nn
 * spec, the data set's shape and rows, what runs and what is logged and
 * measured, and what it costs in memory and work. gs_plan_make is the one
 * place that reads a cell's keys and derives these from them (which model
 * kind is recurrent, how many rows a data set has, which theory applies);
 * the probe, the trainer, the measurements and the result's allocation
 * read the plan, and gs_experiment_check, gs_experiment_flops and the
 * memory estimate come from the same plan. No MPI, no SQLite. */
#ifndef GS_EXPERIMENT_PLAN_H
#define GS_EXPERIMENT_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "nn/activation.h"
#include "nn/init.h"
#include "nn/mlp.h"
#include "nn/optim.h"
#include "nn/rnn.h"
#include "nn/transformer.h"
#include "sweep/cell.h"

/* The theory a cell's measurements at init are set beside
 * (docs/architecture.md, "The experiment"), decided from its keys. */
typedef struct {
    int layer_slope;      /* mlp: the measured slope of ln ||dL/dh_l|| over layers */
    int meanfield;        /* mlp without norm or residual: q*, chi_1, depth scale, slope */
    int batchnorm_relu;   /* mlp, batch norm, relu, no residual: the predicted slope */
    int residual_growth;  /* mlp, residual without norm, depth >= 2: length growth */
    int step_bound;       /* model=rnn: Pascanu's bound and the slope over time */
    double sigma_w2;      /* fan_in Var(W) of a hidden width x width matrix */
    double sigma_b2;      /* bias_std^2 */
} gs_plan_theory_t;

typedef struct {
    /* the model: spec.mlp (model=mlp), spec.rnn when recurrent, spec.tf
     * when transformer */
    gs_model_kind_t model;
    int recurrent;               /* rnn, lstm or gru */
    int transformer;             /* model=transformer: probed by ex_tf_probe */
    gs_mlp_spec_t mlp;
    gs_rnn_spec_t rnn;
    gs_tf_spec_t tf;
    gs_init_spec_t init;
    size_t depth, width;         /* hidden (or stacked) layers, units */
    size_t n_layers;             /* depth + 1: the hidden layers, then the readout
                                    (transformer: layer_stats has no rows) */
    size_t n_block_max;          /* transformer: block_stats rows at most (measured steps x
                                    blocks x sublayers) */
    size_t n_head_max;           /* and head_stats rows (measured steps x blocks x heads) */
    size_t n_time;               /* recurrent: seq_len, the time steps measured; else 0 */
    const gs_activation_t *act;
    double act_param;

    /* the data */
    gs_data_kind_t dataset;
    int regression;              /* dataset=adding: MSE against a target, else classes */
    size_t in_dim;               /* inputs per row (mlp) or per time step (recurrent);
                                    tokens: seq_len token ids */
    size_t row_dim;              /* inputs per row: in_dim times the time steps */
    size_t n_out;                /* 1 for regression, else the classes (tokens: vocab,
                                    at each of seq_len positions) */
    size_t total_rows;           /* of the whole data set (digits: its file's) */
    double train_frac;           /* the training part's share of the rows */
    size_t train_rows;           /* of its training part */
    uint64_t data_set_seed;      /* the synthetic data and the split: the base seed */
    int batch_only;              /* a probe of a synthetic data set: only its batch is made
                                    (the split's order, the batch's shuffle, those rows;
                                    the adding problem's baseline from every target) -
                                    digits are a file, standardized with the whole
                                    training part's statistics */

    /* what runs */
    int trains;                  /* task=train; else the probe */
    long steps;                  /* training steps; 1 for the probe */
    size_t batch;
    const gs_optimizer_t *opt;
    double lr;
    long warmup;                 /* linear warm-up steps (gs_warmup_lr); 0: none */
    gs_clip_mode_t clip_mode;
    double clip;                 /* 0: none */
    uint64_t weight_seed;        /* gs_cell_seed */
    uint64_t batch_seed;         /* gs_cell_data_seed */

    /* what is logged and measured */
    long log_every;
    size_t n_log_max;            /* logged steps at most (0 for the probe) */
    size_t eval_rows;            /* held-out rows evaluated at every logged step: the test
                                    part's first eval_rows (at most all of it; 0: none, and
                                    for the probe) - the split's order is a permutation
                                    drawn from data_set_seed, so they are a random subset
                                    that is the same for every arm, repeat and step */
    int spectrum;                /* the Jacobian's singular values at init */
    size_t n_hist;               /* histograms at init: one per weight matrix (mlp: depth
                                    + 1; recurrent: Wx and Wh of each layer and the
                                    readout), and the Jacobian's with the spectrum */
    int format_stats;            /* count what each low-precision format does */
    /* the arithmetic (issue 20): fmt NULL is float64 (and then master
     * NULL, loss_scale 1, nothing below applies); else mlp.fmt or rnn.fmt */
    const gs_fmt_t *fmt;
    const gs_fmt_t *master;      /* the weights' storage: float32 or fmt itself */
    double loss_scale;           /* GS_LOSS_SCALE_NONE, _DYNAMIC, or a number */
    gs_rounding_t rounding;      /* of the updated weights to master */
    size_t n_fmt_max;            /* its records at most: measured steps x layers x tensors */
    gs_plan_theory_t theory;
    double vanishing_below, exploding_above;

    /* what it costs */
    size_t model_bytes;          /* the model's arenas; SIZE_MAX when they overflow */
    double need_bytes;           /* model, optimizer state and data set (batch_only: the
                                    batch), for the memory check */
    double flops;                /* gs_experiment_flops */
} gs_plan_t;

/* The random streams of a cell's generators: the weights' init from
 * weight_seed, the batches' order from batch_seed (tests rebuild a cell's
 * model from them), a transformer's dropout masks from weight_seed. */
enum {
    GS_STREAM_WEIGHTS = 1, GS_STREAM_BATCHES = 2, GS_STREAM_ROUNDING = 3,
    GS_STREAM_DROPOUT = 4   /* a transformer's dropout keys, from weight_seed */
};

/* The plan of a cell (pure arithmetic over its keys: nothing is
 * allocated). Meaningful for a cell gs_cell_validate accepts. */
void gs_plan_make(const gs_cell_t *cell, gs_plan_t *plan);

/* gs_cell_validate, then the plan, then the checks that need the plan
 * (batch against the data set's rows, memory against the machine's): 0,
 * or -1 with a message naming the keys. */
int gs_plan_resolve(const gs_cell_t *cell, gs_plan_t *plan, char *err, size_t errlen);

/* Whether training step `step` (1-based) is logged: the first, every
 * log_every-th and the last (a diverged one is logged too, by the
 * trainer). */
int gs_plan_logged(const gs_plan_t *plan, long step);

#endif
