/* The measurements of one step of a cell's model (internal to
 * src/experiment): the layer statistics, the gradients' ratios and the
 * verdict on them, and at initialization the weight histograms, the
 * theory beside the measurement and the Jacobian's spectrum. Everything
 * about the cell comes from its plan. */
#ifndef GS_EXPERIMENT_MEASURE_H
#define GS_EXPERIMENT_MEASURE_H

#include <stddef.h>

#include "experiment/experiment.h"
#include "experiment/plan.h"
#include "data/dataset.h"
#include "nn/net.h"

/* The layer (1..depth, depth+1 the readout) whose weight matrix tensor T
 * is, or 0 when T is not a weight matrix. */
int ex_weight_layer(const gs_tensor_t *T, size_t depth);

/* Histograms of every weight matrix into r->hist, allocated here for the
 * plan's n_hist (the spectrum's comes later); -1 when memory is short. */
int ex_weight_histograms(const gs_plan_t *p, const gs_net_t *net, gs_result_t *r);

/* The model's layer statistics of the last forward/backward over n rows. */
void ex_layer_stats(const gs_plan_t *p, const gs_net_t *net, size_t n, gs_layer_stats_t *st);

/* The weight-gradient ratio of one measured step, ||dL/dW_1|| /
 * ||dL/dW_depth|| (shown, never the verdict). */
double ex_grad_ratio(const gs_plan_t *p, const gs_layer_stats_t *st);

/* The backpropagated gradient's ratio of one measured step into *ratio,
 * and the verdict on it. */
gs_diag_t ex_diagnose_step(const gs_plan_t *p, const gs_layer_stats_t *st, double *ratio);

/* Every gradient norm of a measured step is finite. */
int ex_gradients_finite(const gs_layer_stats_t *st, size_t n);

/* format_stats=yes, after a measured backward over n rows (before
 * clipping and the update): the counts of every layer's activation,
 * grad_activation (from grad_pre, which backward filled through
 * net->fmt_grad_pre), grad_weight and weight at step `step` into r->fmt.
 * Nothing is allocated: r->fmt holds the plan's n_fmt_max records. */
void ex_format_stats(const gs_plan_t *p, const gs_net_t *net, size_t n, long step,
                     const gs_fmt_counts_t *grad_pre, gs_result_t *r);
/* The same for the update the optimizer applied (delta, n_params) */
void ex_format_updates(const gs_plan_t *p, const gs_net_t *net, long step, const double *delta,
                       gs_result_t *r);

/* Measurements at initialization from the first step's forward/backward
 * over n rows: layer and time statistics, ratios and diagnosis, theory,
 * spectrum. -1 when the spectrum could not be computed. */
int ex_measure_init(const gs_plan_t *p, gs_net_t *net, size_t n, gs_result_t *r);

/* ---- model=transformer (measure_tf.c) ---- */

/* The block_stats rows of the last forward/backward over n sequences at
 * step `step` into rows (room for depth x GS_N_SUBLAYERS): per block a
 * row per matrix sublayer and norm gain the model has (grad_w_norm,
 * w_norm, and update_ratio from delta, the update applied, when it is not
 * NULL), then the block's row (gs_tf_block_stats). Returns how many (0:
 * out of memory). */
size_t ex_tf_block_rows(const gs_plan_t *p, const gs_net_t *net, size_t n, long step,
                        const double *delta, gs_block_row_t *rows);

/* update_ratio of a logged step's matrix rows (measured before its
 * update, w_norm the weights' norm then): ||delta|| / ||W before||, from
 * the net's weights after the update delta. */
void ex_tf_update_ratios(const gs_net_t *net, const double *delta, gs_block_row_t *rows,
                         size_t n);

/* Admin's relative output change (gs_net_output_change at
 * GS_OUTPUT_CHANGE_LR) after a forward and backward over x, with the
 * dropout masks of that forward held for the moved forward: the change
 * of the function, not of the masks. */
double ex_tf_output_change(gs_net_t *net, const double *x, size_t n, double *work);

/* The head_stats rows of the last forward over n sequences at step
 * `step` into rows (room for depth x heads): per block, a row per head
 * (gs_tf_head_stats). Returns how many. */
size_t ex_tf_head_rows(const gs_plan_t *p, const gs_net_t *net, size_t n, long step,
                       gs_head_row_t *rows);

/* grad_ratio of a step's rows: ||dL/dW2|| of block 1 over block depth
 * (mlp=no: of Wo), as the MLP's first-over-last (shown, never the
 * verdict). */
double ex_tf_grad_ratio(const gs_plan_t *p, const gs_block_row_t *rows, size_t n);

/* The verdict on a step's rows: collapsed when the top block's
 * rank_residual < GS_COLLAPSED_BELOW (seq_len >= 2); else the MLP's rules (gs_diagnose)
 * on *ratio = grad_x_norm(block 1) / grad_x_norm(block depth), dead when
 * a block's is exactly zero. */
gs_diag_t ex_tf_diagnose(const gs_plan_t *p, const gs_block_row_t *rows, size_t n,
                         double *ratio);

#endif
