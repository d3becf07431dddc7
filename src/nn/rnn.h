/* Recurrent networks: stacked RNN, LSTM or GRU layers read a sequence of
 * seq_len steps; a linear readout sees the top layer's last hidden state.
 *
 * Every layer has input weights Wx (G*H, D), recurrent weights Wh (G*H, H)
 * and two biases bx, bh (G*H) - PyTorch's parameterization - with G = 1
 * (rnn), 4 (lstm: gates i, f, g, o) or 3 (gru: gates r, z, n). With
 * zx = Wx x_t + bx and zh = Wh h_{t-1} + bh:
 *
 *   rnn   h_t = phi(zx + zh)
 *   lstm  i, f, o = sigmoid(zx + zh) (their blocks), g = tanh(zx + zh)
 *         c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)
 *   gru   r, z = sigmoid(zx + zh) (their blocks)
 *         n = tanh(zx_n + r zh_n),  h_t = (1 - z) n + z h_{t-1}
 *
 * h_0 = c_0 = 0. Inputs are rows of seq_len*D values, step-major
 * (x[b][t][d]); the model copies them time-major so that the input
 * projections of all steps are one matrix product. Backpropagation runs
 * through all steps (full BPTT); only dh_{t-1} = dz_t Wh is sequential,
 * the weight gradients are one product each over all steps. */
#ifndef GS_NN_RNN_H
#define GS_NN_RNN_H

#include <stddef.h>

#include "nn/activation.h"
#include "nn/init.h"
#include "nn/net.h"
#include "nn/rng.h"

typedef enum { GS_CELL_RNN, GS_CELL_LSTM, GS_CELL_GRU } gs_cell_kind_t;

typedef struct {
    gs_cell_kind_t cell;
    size_t in_dim;       /* D, inputs per step */
    size_t width;        /* H */
    size_t depth;        /* stacked layers */
    size_t seq_len;      /* T */
    size_t n_out;
    size_t capacity;     /* most rows (sequences) per forward/backward */
    const gs_activation_t *act;   /* rnn only; lstm and gru use their gates */
    double act_param;
    double forget_bias;  /* lstm: added to the forget gate's bias at init */
    /* The arithmetic (issue 20; NULL: float64), by the MLP's rules
     * (nn/mlp.h): every product through gs_gemm_fmt (inputs rounded,
     * float32 sums, the result rounded) - the input projections, each
     * step's Wh h_{t-1}, dL/dh_{t-1} = dz Wh, the weight gradients over
     * all steps, the readout; every value the cells write (gates, c_t,
     * tanh(c_t), h_t, dL/dc, dL/dz, dL/dh) rounded to it once per
     * elementwise expression; the biases' gradients summed in double and
     * rounded; dL/dout rounded on entry to backward. The weights are read
     * rounded to the format; their storage is the caller's. */
    const gs_fmt_t *fmt;
} gs_rnn_spec_t;

/* Per-time-step measurements of the top layer, t = 1..T (index t-1). */
typedef struct {
    double hidden_norm;        /* ||h_t|| per sequence, mean over the batch */
    double grad_hidden_norm;   /* ||dL/dh_t|| (Frobenius over the batch) */
} gs_time_stats_t;

size_t gs_rnn_bytes(const gs_rnn_spec_t *spec);
gs_net_t *gs_rnn_create(const gs_rnn_spec_t *spec);

/* Each gate block of Wx (H, D) and Wh (H, H) by the init scheme (so an
 * orthogonal Wh is orthogonal per gate), biases N(0, bias_std^2), the
 * LSTM forget block of bx raised by forget_bias; readout as the MLP's. */
void gs_rnn_init(gs_net_t *net, const gs_init_spec_t *init, gs_rng_t *rng);


/* After forward(train=1) and backward over n rows. stats[0..depth): per
 * stacked layer act_mean/act_std of h over all steps, saturated_frac and
 * dead_frac of phi' (rnn; 0 for gated cells), grad_pre_norm ||dL/dz||
 * over all steps, grad_w_norm ||[dWx dWh]||, w_norm ||[Wx Wh]||,
 * grad_h_first and grad_h_last ||dL/dh_t|| at t = 1 and T; stats[depth]
 * the readout. time[0..T) as above. */
void gs_rnn_layer_stats(const gs_net_t *net, size_t n, gs_layer_stats_t *stats);
void gs_rnn_time_stats(const gs_net_t *net, size_t n, gs_time_stats_t *time);
/* Stacked layer l's (0-based) hidden states h_1..h_T of the last forward
 * over n rows, time-major, and how many values (*count = T n H): what
 * format_stats counts as the layer's activation. */
const double *gs_rnn_layer_states(const gs_net_t *net, size_t l, size_t n, size_t *count);

/* Values of stacked layer l's dL/dz over all steps for n rows (l = depth:
 * the readout's dL/dout, n n_out): what backward copies to
 * net->keep_grad_pre (nn/net.h), at l times the largest of them at
 * capacity rows. */
size_t gs_rnn_grad_pre_count(const gs_rnn_spec_t *spec, size_t l, size_t n);

/* What a stacked layer l (0-based) keeps of the last forward over n rows,
 * time-major over steps 1..T, for tests: its gates after their functions
 * ((T, n, G H)), cell states c_t (lstm; (T, n, H)) and tanh(c_t) (lstm),
 * and *count values; NULL for a buffer the cell does not keep. */
typedef enum { GS_RNN_GATES, GS_RNN_CELL, GS_RNN_TANH_CELL } gs_rnn_buf_t;
const double *gs_rnn_layer_buffer(const gs_net_t *net, size_t l, gs_rnn_buf_t which, size_t n,
                                  size_t *count);

#endif
