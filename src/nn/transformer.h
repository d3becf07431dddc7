/* A decoder/encoder transformer stack over token sequences (GPT-2's
 * layout, after llm.c's train_gpt2.c), in double precision
 * or in an emulated narrower format (spec.fmt).
 *
 * Input: n sequences of T token ids (passed as doubles, in_dim = T).
 * Output: logits (n, T * vocab), i.e. (n T, vocab) rows, one per position;
 * the caller puts softmax cross-entropy at every position.
 *
 *   x_0 = wte[tok_t] + wpe[t]                                  (T, d)
 *   block l = 1..L, sublayers F = attention, then the MLP (mlp = yes):
 *     post:  x <- LN(alpha x + s F(x))
 *     pre:   x <- alpha x + s F(LN(x))          (a final LN after block L)
 *     none:  x <- alpha x + s F(x)
 *     skip = no drops the residual:  x <- LN(s F(x)) / s F(LN(x)) / s F(x)
 *   attention: Q, K, V = x Wq^T + bq, ...; per head h (d_head = d / heads)
 *     P_h = softmax(Q_h K_h^T / sqrt(d_head) [+ causal mask -inf above
 *     the diagonal]), O = [P_1 V_1 ... P_H V_H] Wo^T + bo
 *   MLP: phi(x Wfc^T + bfc) Wproj^T + bproj, phi = gelu or relu
 *   logits = x_L W_out^T + b_out
 *
 * QK-norm (qk_norm = 1; Dehghani et al. 2023, Wortsman et al. 2023): per
 * block, each head's query and key vectors (d_head values of a token)
 * go through a layer norm before Q_h K_h^T, Q <- LN_q(Q), K <- LN_k(K),
 * with a learned gain and shift of d_head values, one pair for the
 * queries and one for the keys, shared by the heads (PyTorch/timm's
 * q_norm = k_norm = nn.LayerNorm(head_dim)); initialized gain 1, shift 0.
 * With shift 0, |q.k| <= d_head max|g|^2 (each xhat has norm sqrt(d_head)
 * at most), so |scaled logit| <= sqrt(d_head) max|g|^2. qk_norm = 0: no
 * tensor, nothing allocated, the model as without it.
 *
 * Dropout p (0: none), in training forwards only (train = 1), where
 * PyTorch's nn.TransformerEncoderLayer has it: on each head's P before
 * P V, on the attention's output F(x) before the residual sum (dropout1),
 * on the MLP's phi(.) (dropout) and on its output (dropout2). Inverted:
 * a kept value is multiplied by 1/(1-p), a dropped one is 0. The masks
 * are a function of (a key, block, site, row): the key is drawn per
 * training forward from the net's own generator (gs_tf_dropout_rng,
 * seeded by the caller), row r's mask from its own generator seeded with
 * the key and (block, site, r) - so they depend on neither the thread
 * count nor the number of sequences n. Backward uses the last forward's.
 *
 * Residual schemes (residual_scale):
 *   none      alpha = 1, s = 1
 *   deepnorm  alpha = (2L)^(1/4); Wv, Wo, Wfc, Wproj initialized with the
 *             init's gain times beta = (8L)^(-1/4)   (Wang et al. 2022)
 *   rezero    s = a scalar per sublayer, a parameter initialized at 0
 *   gpt2      Wo and Wproj initialized scaled by 1/sqrt(2L)
 *
 * Backward writes every parameter gradient (embeddings included: rows of
 * tokens absent from the batch get 0). Every matrix product is one
 * gs_gemm (gs_gemm_fmt with a format, below); attention runs one
 * (sequence, head) pair per task, so the result does not depend on the
 * thread count (with a format, each task's products round their inputs
 * into the task's own slice of float scratch, T T + 2 T d_head floats,
 * laid out at create for capacity x heads tasks: no two tasks share one,
 * and the model's size does not depend on the thread count). Layer norm is nn/norm.c's
 * (eps 1e-5). Parameters start at zero: call gs_tf_init. */
#ifndef GS_NN_TRANSFORMER_H
#define GS_NN_TRANSFORMER_H

#include <stddef.h>

#include "nn/activation.h"
#include "nn/format.h"
#include "nn/init.h"
#include "nn/net.h"
#include "nn/rng.h"

typedef enum { GS_LN_POST, GS_LN_PRE, GS_LN_NONE } gs_ln_place_t;
extern const char *const gs_ln_place_names[];   /* "post", "pre", "none", NULL */

typedef enum { GS_RS_NONE, GS_RS_DEEPNORM, GS_RS_REZERO, GS_RS_GPT2 } gs_res_scale_t;
extern const char *const gs_res_scale_names[];  /* "none", "deepnorm", "rezero", "gpt2", NULL */

typedef struct {
    size_t vocab, seq_len, d_model, heads, ffn, depth;   /* depth = L blocks */
    size_t capacity;                 /* most sequences per forward/backward */
    const gs_activation_t *act;      /* of the MLP */
    double act_param;
    gs_ln_place_t ln;
    gs_res_scale_t residual_scale;
    int skip, mlp, causal;           /* 0 or 1 */
    double dropout;                  /* p in [0, 1); 0: none (nothing allocated) */
    int qk_norm;                     /* 0 or 1: QK-LayerNorm (d_head >= 2) */
    /* The arithmetic (issue 20): NULL is float64; a format (nn/format.h)
     * as the MLP's (nn/mlp.h): every product through gs_gemm_fmt (inputs
     * rounded, float32 sums, the result rounded) - the four linear layers
     * of a block, the readout, and each (sequence, head)'s Q K^T, P V and
     * their backward products - and every tensor the network keeps
     * (x_0, qkv, the logits, P, the attention's and the MLP's outputs,
     * residual sums, norm outputs, dropout outputs, logits, every
     * gradient and parameter gradient) rounded to the format once;
     * softmax, the norms, phi and their derivatives in double, rounded
     * once. Norm statistics (mean, rstd) stay in double. */
    const gs_fmt_t *fmt;
} gs_tf_spec_t;

/* NULL when the spec is valid, else what is wrong with it (d_model not a
 * multiple of heads, a zero size, ...). */
const char *gs_tf_spec_error(const gs_tf_spec_t *spec);

/* Bytes gs_tf_create would allocate, or SIZE_MAX on overflow (with a
 * format: the products' float scratch, the attention tasks' slices
 * included). */
size_t gs_tf_bytes(const gs_tf_spec_t *spec);

/* NULL when memory is short or the spec is invalid. */
gs_net_t *gs_tf_create(const gs_tf_spec_t *spec);

/* Weight matrices by the init scheme (fan_in, fan_out of each matrix;
 * DeepNorm's beta and GPT-2's 1/sqrt(2L) on top of init->gain), biases
 * N(0, bias_std^2), embeddings N(0, 1) (PyTorch's nn.Embedding), norm
 * gains 1 and shifts 0 (QK-norm's too), ReZero scalars 0. */
void gs_tf_init(gs_net_t *net, const gs_init_spec_t *init, gs_rng_t *rng);

/* alpha of the residual branch: (2L)^(1/4) for deepnorm, else 1. */
double gs_tf_alpha(const gs_tf_spec_t *spec);

/* Dropout's sites, in the order a block's forward meets them */
typedef enum {
    GS_TF_DROP_ATTN,       /* (n, H, T, T) on the attention probabilities P */
    GS_TF_DROP_ATTN_OUT,   /* (n T, d) on the attention sublayer's output (dropout1) */
    GS_TF_DROP_ACT,        /* (n T, ffn) on the MLP's activation (dropout) */
    GS_TF_DROP_MLP_OUT,    /* (n T, d) on the MLP sublayer's output (dropout2) */
    GS_TF_N_DROP
} gs_tf_drop_site_t;

/* The generator the masks' keys come from (one u64 per training forward
 * that draws): seed it (gs_rng_seed) from the cell's seed. Seeded with
 * (0, 0) by gs_tf_create. */
gs_rng_t *gs_tf_dropout_rng(gs_net_t *net);

/* hold = 1: training forwards reuse the last drawn key, i.e. the same
 * masks (rows past those drawn get theirs from the same key), until
 * hold = 0 - finite differences and Admin's output change measure the
 * loss with the masks held fixed. A forward with no key yet draws one. */
void gs_tf_dropout_hold(gs_net_t *net, int hold);

/* Block l's (1..depth) mask at a site as the last forward applied it
 * (values 0 or 1/(1-p), shapes above for that forward's n); NULL when it
 * applied none (eval, p = 0, mlp = no for the MLP's sites). */
const double *gs_tf_dropout_mask(const gs_net_t *net, size_t l, gs_tf_drop_site_t site);

/* Per-block measurements of the last forward (train = 1) and backward
 * over n sequences (the database's names). With dropout they are of what
 * that forward computed: rms, token_cosine and rank_residual of the
 * block's output after its dropped sublayers; the attention entropy and
 * logit of P before its dropout (a distribution over keys):
 *   grad_x_norm       ||dL/dx|| of the residual stream entering the block
 *                     (recorded by backward when net->measure), divided
 *                     by net->grad_scale (the loss scale of a format)
 *   rms               RMS of the block's output x_l
 *   token_cosine      mean over sequences and token pairs i != j of the
 *                     cosine between x_l's rows
 *   rank_residual     Dong et al.'s ||X - 1 xbar^T||_F / ||X||_F per
 *                     sequence (xbar the mean row, the minimizer), averaged
 *   attn_entropy_min  the smallest over heads of the mean over sequences
 *                     and query positions of -sum_j P_ij ln P_ij
 *   attn_logit_max    the largest scaled logit Q K^T / sqrt(d_head) */
typedef struct {
    double grad_x_norm, rms, token_cosine, rank_residual, attn_entropy_min, attn_logit_max;
} gs_tf_block_stats_t;

void gs_tf_block_stats(const gs_net_t *net, size_t n, gs_tf_block_stats_t *stats /* [depth] */);

/* Each head's of block l = 1..depth, of the last forward over n
 * sequences: its mean attention entropy over sequences and query
 * positions, -sum_j P_ij ln P_ij (attn_entropy_min above is the least of
 * them), and its largest scaled logit (attn_logit_max the largest). */
void gs_tf_head_stats(const gs_net_t *net, size_t n, size_t l, double *entropy /* [heads] */,
                      double *logit_max /* [heads] */);

/* The spec the net was made with. */
const gs_tf_spec_t *gs_tf_spec(const gs_net_t *net);

/* x_l (n T, d), the output of block l = 1..depth (0: the embeddings), of
 * the last forward pass; the logits' input after the final norm is
 * depth + 1 when ln = pre. NULL outside that range. */
const double *gs_tf_block_output(const gs_net_t *net, size_t l);

#endif
