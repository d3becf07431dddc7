/* Multilayer perceptron, optionally residual and normalized.
 *
 * Hidden layer l = 1..depth, x_0 the input:
 *   h_l = W_l x_{l-1} + b_l                     pre-activation
 *   a_l = N(h_l)                                N = identity, batch or layer norm
 *   x_l = phi(a_l)                              plain layer
 *   x_l = x_{l-1} + phi(a_l)                    residual=yes and l >= 2
 * Readout (layer depth+1): out = W_out x_depth + b_out (logits).
 *
 * The residual block is one linear layer wide, so every hidden layer keeps
 * one W and the per-layer measurements stay one per layer. */
#ifndef GS_NN_MLP_H
#define GS_NN_MLP_H

#include <stddef.h>

#include "nn/activation.h"
#include "nn/init.h"
#include "nn/net.h"
#include "nn/norm.h"
#include "nn/rng.h"

typedef struct {
    size_t in_dim, width, depth, n_out;
    size_t capacity;                 /* most rows per forward/backward */
    const gs_activation_t *act;
    double act_param;
    gs_norm_kind_t norm;
    int residual;
    /* The arithmetic (issue 20; NULL: float64): every stored tensor -
     * pre-activations, normalized values, activations, outputs, every
     * gradient - is rounded to this format, every product is
     * gs_gemm_fmt's (inputs rounded, float32 sums), the elementwise maths
     * in double rounded once to the format (what a float32 computation
     * gives, without its own rounding before the format's). The weights
     * are read rounded to the format; the caller keeps their storage
     * (master weights) as it chooses. dL/dout is rounded on entry to
     * backward. */
    const gs_fmt_t *fmt;
} gs_mlp_spec_t;

/* Bytes gs_mlp_create would allocate, or SIZE_MAX on overflow. */
size_t gs_mlp_bytes(const gs_mlp_spec_t *spec);

/* NULL when memory is short. Parameters start at zero: call gs_mlp_init. */
gs_net_t *gs_mlp_create(const gs_mlp_spec_t *spec);

/* Weights by the init scheme (readout included), biases N(0, bias_std^2),
 * gamma = 1, beta = 0, running statistics 0 and 1. */
void gs_mlp_init(gs_net_t *net, const gs_init_spec_t *init, gs_rng_t *rng);


/* The input-output Jacobian of the hidden stack, J = dx_depth / dx_0
 * (width, in_dim), at batch row `row` of the last forward pass, for
 * networks without normalization (residual or not):
 *   J_1 = D_1 W_1,  J_l = D_l W_l J_{l-1} (+ J_{l-1} with residual),
 *   D_l = diag(phi'(a_l)) at that row.
 * work: width * in_dim doubles. -1 (nothing written) with norm != none. */
int gs_mlp_jacobian(const gs_net_t *net, size_t row, double *J, double *work);

/* x_l, the output of hidden layer l = 1..depth, (capacity, width) rows of
 * the last forward pass (for tests). */
const double *gs_mlp_layer_output(const gs_net_t *net, size_t l);

/* After forward(train=1) and backward over n rows: stats[0..depth]. */
void gs_mlp_layer_stats(const gs_net_t *net, size_t n, gs_layer_stats_t *stats);

#endif
