/* Training and probing in reduced precision (issue 20), around the
 * model's own emulated arithmetic (gs_mlp_spec_t.fmt, gs_rnn_spec_t's,
 * gs_tf_spec_t's): the loss scale,
 * the master weights and the rounding of every update to them.
 *
 * A step, for a plan with p->fmt set:
 *   ex_prec_scale_loss     dL/dout *= S (the model rounds it to its format)
 *   backward               gradients in the format, scaled by S
 *   ex_prec_unscale        g /= S in double (AMP unscales in float32; a
 *                          power-of-two S is exact either way); with
 *                          loss_scale=dynamic an inf or NaN in g skips the
 *                          step and halves S (GradScaler), and 2000 clean
 *                          steps in a row double it
 *   the optimizer          p += d in double, from the stored p
 *   ex_prec_store          p rounded to its storage (master_weights:
 *                          float32, or the format itself) by `rounding`;
 *                          on a logged step, per layer, lost_update_frac
 *
 * Adam's and momentum's state stay in double (AMP keeps them in float32:
 * the difference is below anything the formats resolve). */
#ifndef GS_EXPERIMENT_PRECISION_H
#define GS_EXPERIMENT_PRECISION_H

#include "experiment/train.h"

/* GradScaler's constants */
#define GS_SCALER_INIT 65536.0       /* 2^16 */
#define GS_SCALER_INTERVAL 2000      /* clean steps before the scale doubles */

/* Before the first step: the loss scale in force, the initial weights
 * rounded (to nearest) to their storage. Nothing without p->fmt. */
void ex_prec_start(ex_trainer_t *tr);

/* After the loss's gradient is in net->dout (n rows): multiply it by the
 * loss scale and tell the model (net->grad_scale). */
void ex_prec_scale_loss(ex_trainer_t *tr, size_t n);

/* After backward: the gradients divided by the loss scale. 1 when
 * loss_scale=dynamic finds an inf or NaN among them: the step is to be
 * skipped (the scale is halved, runs.skipped_steps counts it). */
int ex_prec_unscale(ex_trainer_t *tr, long step);

/* Before the optimizer's step: keep the stored weights (tr->prev). */
void ex_prec_before_update(ex_trainer_t *tr);

/* After it: round the weights to their storage; with rows (a logged
 * step), each layer's lost_update_frac; a clean step counted towards the
 * dynamic scale's growth. */
void ex_prec_store(ex_trainer_t *tr, gs_train_layer_row_t *rows);

/* Doubles of one net's kept dL/dh (nn/net.h keep_grad_pre; a recurrent
 * layer's: dL/dz over all steps): 0 without a format, and for a
 * transformer (no twin: twin_rel_err and twin_cos are layer_stats
 * columns, and a transformer has no layer rows) */
size_t ex_prec_twin_doubles(const gs_plan_t *p);

/* Build the float64 twin of a reduced-precision MLP or recurrent model
 * (its weights from the same seed: the net's before they were rounded),
 * and point the net's
 * keep_grad_pre at the first half of tr->twin_grad_pre for its first
 * backward. NULL twin when memory is short (-1); 0 without a format. */
int ex_prec_twin_setup(ex_trainer_t *tr);

/* At init, after the net's first backward over the batch x (n rows):
 * the twin's forward and backward over it, and per layer twin_rel_err and
 * twin_cos into r->layers. Stops the net keeping its dL/dh. */
void ex_prec_twin(ex_trainer_t *tr, const double *x, const int *y, const double *t, size_t n);

/* The run's loss_scale_final and skipped_steps */
void ex_prec_finish(ex_trainer_t *tr);

/* Tests only (experiment.h's gs_experiment_test_scaler): steps whose
 * gradient gets an injected inf, and the growth interval. */
extern const long *ex_prec_inject;
extern size_t ex_prec_n_inject;
extern long ex_prec_interval;

#endif
