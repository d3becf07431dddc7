/* The probe and the trainer of one cell whose model and data are built
 * (internal to src/experiment): batches and epochs, the training step
 * with its clipping, logging and measurements, and the final diagnosis
 * and losses. Everything about the cell comes from its plan. */
#ifndef GS_EXPERIMENT_TRAIN_H
#define GS_EXPERIMENT_TRAIN_H

#include <stddef.h>

#include "data/dataset.h"
#include "experiment/experiment.h"
#include "experiment/plan.h"
#include "nn/net.h"
#include "nn/optim.h"
#include "nn/rng.h"

/* Scratch of the model's capacity in rows for evaluating a data set. */
typedef struct {
    double *x;
    int *y;
    double *t;                  /* regression only, else NULL */
    size_t *idx;
} ex_eval_scratch_t;

/* Everything a training run holds besides the model and its data. */
typedef struct {
    const gs_plan_t *p;
    gs_net_t *net;
    gs_result_t *r;
    const gs_progress_t *progress;
    double *opt_state;
    double *delta;              /* (n_params) the logged steps' updates */
    gs_layer_stats_t *stats;    /* (n_layers) of the step in hand */
    gs_fmt_counts_t *grad_pre;  /* (n_layers) format_stats=yes: dL/dh's counts, by backward */
    long clipped;
    const gs_dataset_t *heldout;   /* the test part: its first p->eval_rows rows are
                                      evaluated at every logged step */
    ex_eval_scratch_t ev;       /* for those and the final losses */
    double heldout_now[2];      /* the step in hand's held-out loss and accuracy */
    /* reduced precision (experiment/precision.h; p->fmt NULL: unused) */
    double *prev;               /* (n_params) the stored weights before an update */
    gs_rng_t round_rng;         /* rounding=stochastic: the roundings' stream */
    double scale;               /* the loss scale in force (1: none) */
    long clean;                 /* steps since the dynamic scale last changed */
    long skipped;               /* steps loss_scale=dynamic skipped */
    gs_net_t *twin;             /* the float64 twin (same weights' seed), for init */
    double *twin_grad_pre;      /* 2 x ex_prec_twin_doubles: the two nets' dL/dh */
} ex_trainer_t;

/* The batch's loss of net's last forward over n rows (y: classes, or t:
 * regression targets); with grad, dL/dout (mean over the batch) into
 * net->dout; correct, when not NULL, counts the right classes. */
double ex_batch_loss(gs_net_t *net, size_t n, const int *y, const double *t, int grad,
                     size_t *correct);

/* The steps (or the probe) of a cell whose model and data are built;
 * x, y, t are batch scratch, order the training rows' order (brng NULL:
 * train is a probe's batch, in order, made by the data loading of a
 * batch_only plan). -1 when the measurements at init failed. */
int ex_run_steps(ex_trainer_t *tr, const gs_dataset_t *train, gs_rng_t *brng, double *x, int *y,
                 double *t, size_t *order);

/* The diagnosis at the end, the clip share, the final losses (over
 * tr->ev). */
void ex_finish(ex_trainer_t *tr, const gs_dataset_t *train, const gs_dataset_t *test);

/* Clip the step's gradient (tr->clipped, steps_run and the last finite
 * norm kept); 1 when the step diverged: its loss, or its gradient norm
 * unless skip (loss_scale=dynamic skips the step: ex_prec_unscale), is
 * not finite. */
int ex_clip(ex_trainer_t *tr, long step, double loss, int skip, gs_clip_result_t *cr);

/* The optimizer's step at the warm-up's rate for `step` (gs_warmup_lr);
 * delta, when not NULL, receives the update. With a reduced precision
 * the weights are then rounded to their storage (ex_prec_store: rows,
 * when not NULL, get lost_update_frac); a no-op at float64. */
void ex_update(ex_trainer_t *tr, long step, double *delta, gs_train_layer_row_t *rows);

/* model=transformer (train_tf.c): the steps of a training cell, its
 * block_stats rows at init and every logged step (r->block), the
 * verdicts, output_change and the train_log rows. -1 when memory is
 * short. */
int ex_tf_train(ex_trainer_t *tr, const gs_dataset_t *train, gs_rng_t *brng);

/* The probe of a transformer cell (measure_tf.c): forward, cross-entropy
 * at every position, backward over the batch's first p->batch
 * sequences, in the plan's precision with its loss scale (as the MLP's
 * probe: experiment/precision.h); the block rows at step 0, grad_ratio,
 * grad_h_ratio, the diagnosis, init_loss and output_change into tr->r
 * (r->block holds the plan's n_block_max rows). -1 when memory is short. */
int ex_tf_probe(ex_trainer_t *tr, const gs_dataset_t *batch);

/* The clip share and the final losses over every position of train and
 * test (or a diverged run's NaNs), as ex_finish for the MLP. */
void ex_tf_finish(ex_trainer_t *tr, const gs_dataset_t *train, const gs_dataset_t *test);

#endif
