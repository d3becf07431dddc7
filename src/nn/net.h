/* What every model offers the trainer and the probe: one flat parameter
 * array with its gradient (so optimizers and clipping are one loop), a
 * table of the tensors inside it, and forward/backward over up to
 * `capacity` rows.
 *
 * Protocol for one step: forward(net, x, n, 1) fills net->out (n, n_out);
 * the caller writes dL/dout into net->dout; backward(net, n) writes
 * dL/dparams into net->grads - every entry, so no zeroing is needed (the
 * gradient checks start from NaN-filled gradients to prove it). */
#ifndef GS_NN_NET_H
#define GS_NN_NET_H

#include <stddef.h>

#include "nn/format.h"

/* What a tensor is, as data: code that treats kinds apart (the weight
 * histograms, the recurrent matrix of a layer) tests this, never the name.
 * gs_tensor_kinds[kind] gives the prefix of its name and whether it is a
 * weight matrix. */
typedef enum {
    GS_TENSOR_W,       /* a weight matrix: an mlp layer's, every readout's */
    GS_TENSOR_WX,      /* recurrent: input-to-hidden weights */
    GS_TENSOR_WH,      /* recurrent: hidden-to-hidden weights */
    GS_TENSOR_B,       /* a bias */
    GS_TENSOR_BX,      /* recurrent: the input projection's bias */
    GS_TENSOR_BH,      /* recurrent: the hidden projection's bias */
    GS_TENSOR_GAMMA,   /* normalization: scale */
    GS_TENSOR_BETA,    /* normalization: shift */
    /* transformer (nn/transformer.h): one kind per role, so that the
     * per-sublayer measurements find a tensor by kind and block */
    GS_TENSOR_WTE,     /* token embedding (vocab, d) */
    GS_TENSOR_WPE,     /* learned positions (T, d) */
    GS_TENSOR_WQ, GS_TENSOR_WK, GS_TENSOR_WV,   /* attention projections (d, d) */
    GS_TENSOR_BQ, GS_TENSOR_BK, GS_TENSOR_BV,
    GS_TENSOR_WO, GS_TENSOR_BO,                 /* attention output projection */
    GS_TENSOR_WFC, GS_TENSOR_BFC,               /* MLP up (ffn, d) */
    GS_TENSOR_WPROJ, GS_TENSOR_BPROJ,           /* MLP down (d, ffn) */
    GS_TENSOR_LN1_G, GS_TENSOR_LN1_B,           /* the norm of the attention sublayer */
    GS_TENSOR_LN2_G, GS_TENSOR_LN2_B,           /* the norm of the MLP sublayer */
    GS_TENSOR_REZERO,                           /* ReZero's residual scalars */
    GS_TENSOR_QN_G, GS_TENSOR_QN_B,             /* QK-norm: the queries' norm (d_head) */
    GS_TENSOR_KN_G, GS_TENSOR_KN_B              /* QK-norm: the keys' norm (d_head) */
} gs_tensor_kind_t;
#define GS_N_TENSOR_KINDS 31

typedef struct {
    const char *prefix;   /* of the tensor's name: "W", "Wx", "gamma", ... */
    int weight;           /* a weight matrix, not a bias or norm parameter */
} gs_tensor_kind_info_t;
extern const gs_tensor_kind_info_t gs_tensor_kinds[];   /* indexed by gs_tensor_kind_t */

typedef struct {
    char name[48];      /* e.g. "W3", "b3", "gamma3", "W_out" */
    size_t layer;       /* 1.., 0 for the readout */
    int weight;         /* gs_tensor_kinds[kind].weight: W, Wx or Wh */
    gs_tensor_kind_t kind;   /* beside weight, in what was its padding: the tensor
                                (and so the arenas, runs.work_bytes) no bigger */
    size_t offset;      /* into params / grads */
    size_t rows, cols;  /* row-major; vectors have rows = 1 */
} gs_tensor_t;

typedef struct gs_net gs_net_t;

/* Per-layer measurements of one step (the database's column names), as
 * each model's *_layer_stats fills them: index 0 is layer 1, index depth
 * the readout. */
typedef struct {
    double act_mean, act_std;   /* of x_l over rows and units */
    double saturated_frac;      /* |phi'(a)| < 0.05 max|phi'| */
    double dead_frac;           /* phi'(a) == 0 */
    double grad_pre_norm;       /* ||dL/dh_l|| */
    double grad_w_norm;         /* ||dL/dW_l|| */
    double w_norm;              /* ||W_l|| */
    /* recurrent layers: ||dL/dh_t|| of the layer's hidden state at t = 1
     * and t = seq_len (all paths); NaN for the MLP and the readout */
    double grad_h_first, grad_h_last;
    /* reduced precision at init (issue 20): against the float64 twin (the
     * same weights' seed and batch), |‖dL/dh_l‖ - the twin's| / the twin's
     * and the cosine between the two dL/dh_l; NaN otherwise (the
     * experiment fills them: no model knows of its twin) */
    double twin_rel_err, twin_cos;
} gs_layer_stats_t;

typedef struct {
    void (*forward)(gs_net_t *net, const double *x, size_t n, int train);
    void (*backward)(gs_net_t *net, size_t n);
    void (*free)(gs_net_t *net);
} gs_net_ops_t;

struct gs_net {
    const gs_net_ops_t *ops;
    size_t in_dim, n_out, capacity;
    double *params, *grads;   /* n_params each, one allocation */
    size_t n_params;
    gs_tensor_t *tensors;     /* n_tensors entries */
    size_t n_tensors;
    double *out;              /* (capacity, n_out) */
    double *dout;             /* (capacity, n_out), written by the caller */
    /* Backward records the per-layer (and per-time-step) gradient norms
     * that *_layer_stats and *_time_stats report. 1 after create; a
     * trainer clears it for the steps it does not measure, saving a pass
     * over every layer's gradient. */
    int measure;
    /* When set (NULL after create), a measured backward also counts what
     * each low-precision format does to every layer's dL/dh into
     * fmt_grad_pre[0..depth] (the readout's: dL/dout; a recurrent layer's:
     * its dL/dz over all time steps, the values of grad_pre_norm) - the
     * one tensor that lives only inside backward. The caller owns the
     * array. */
    gs_fmt_counts_t *fmt_grad_pre;
    /* The loss scale dL/dout carried through the last backward (1 after
     * create; a trainer's loss_scale, issue 20): the gradients in grads
     * are the trainer's to unscale, and *_layer_stats report ||dL/dh||
     * divided by it - the true gradient, not the scaled one. */
    double grad_scale;
    /* When set (the MLP and the recurrent models; NULL after create),
     * backward copies every layer's dL/dh_l (as the net computed it:
     * rounded, scaled) to keep_grad_pre + l * stride, l = 0..depth-1, and
     * dL/dout at l = depth: the float64 twin's comparison. stride:
     * capacity * max(width, n_out) for the MLP; a recurrent layer's dL/dz
     * over all steps, gs_rnn_grad_pre_count. */
    double *keep_grad_pre;
};

/* A model's net before its arenas: its operations, shapes, the size of
 * its parameters and the table its tensors go in; measure on. */
void gs_net_init(gs_net_t *net, const gs_net_ops_t *ops, size_t in_dim, size_t n_out,
                 size_t capacity, size_t n_params, gs_tensor_t *tensors);
void gs_net_zero_grad(gs_net_t *net);   /* for callers that want clean buffers */
void gs_net_free(gs_net_t *net);   /* NULL is fine */
const gs_tensor_t *gs_net_tensor(const gs_net_t *net, const char *name);
/* The tensor of that kind in that layer (0: the readout), or NULL. */
const gs_tensor_t *gs_net_tensor_of(const gs_net_t *net, gs_tensor_kind_t kind, size_t layer);
/* Append a tensor of that kind to net->tensors (which the model sized for
 * all of them), laid out in params right after the previous one: named
 * its kind's prefix + layer number (1-based), or prefix + "_out" for
 * layer 0. *w and *dw point at it in params and grads. */
void gs_net_add_tensor(gs_net_t *net, gs_tensor_kind_t kind, size_t layer, size_t rows,
                       size_t cols, double **w, double **dw);
/* The offset in params where the tensors added so far end: n_params once
 * a model has added them all. */
size_t gs_net_tensors_end(const gs_net_t *net);

/* Admin's measure (Liu et al. 2020) of how far one update moves the
 * output: after forward(x, n) and backward, ||f(x; p - lr sign g) - f(x; p)||
 * / ||f(x; p)|| over the n rows of net->out, for the sign step that is
 * Adam's first update. The parameters and net->out are left as they were
 * (the step is undone); work holds n_params + n n_out doubles. */
double gs_net_output_change(gs_net_t *net, const double *x, size_t n, double lr, double *work);

#endif
