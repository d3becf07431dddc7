/* The transformer's backward pass against central differences of its
 * loss (softmax cross-entropy at every position, random targets):
 *   g_fd = (L(p + h) - L(p - h)) / 2h,  h = 1e-5,
 * for every parameter tensor of tiny stacks (d_model 4, 1-2 heads, T = 3,
 * L = 1-2, vocab 5, 2 sequences), over every combination of ln (post,
 * pre, none), residual_scale (none, deepnorm, rezero, gpt2), skip, mlp
 * and the causal mask; then the edges (d_head 1, d_model 1, T = 1, one
 * block, vocab 2, one sequence) and relu.
 *
 * Tolerance: relative error ||g - g_fd|| / max(||g||, ||g_fd||, 3e-4)
 * below 1e-6 per tensor. Truncation is ~h^2 = 1e-10 relative; rounding
 * is a few ulp of the loss (~1.6) over 2h, ~2e-11 per entry, 6e-11 was
 * measured over a tensor of 16: the floor makes the check an absolute
 * 3e-10 for the tensors whose gradient is below 3e-4 (query and key
 * weights of these tiny stacks reach 1e-6), still 1e-6 relative for
 * the others (gradients up to ~5). Tensors whose gradient is
 * zero in exact arithmetic are checked for that instead: the key bias bk
 * (it adds q_i . bk to every logit of row i, which softmax removes), and
 * with T = 1 Wq, Wk and bq (one key: the probability is 1 whatever the
 * logit) - analytic norm below 1e-13 and the differences' norm below
 * 3e-10 (a few ulp of a loss ~1.6, over 2h).
 *
 * Dropout (p = 0.5): the same checks with the masks held fixed
 * (gs_tf_dropout_hold) - the gradient of the loss the held masks define -
 * over post, pre and none, 1 and 2 heads, causal and ReZero, each net's
 * masks checked to drop some entries and keep others.
 *
 * Also: the causal mask (logits at positions < t do not move when token
 * t changes; without the mask they do), results bitwise equal on 1 and 2
 * threads (with and without dropout), gs_tf_block_stats against closed
 * forms, and dropout's masks: kept fraction within a binomial bound,
 * values 0 or 1/(1-p), none in evaluation (whose outputs are the p = 0
 * net's, bit for bit), a row's mask independent of n, new masks per
 * training forward, the same while held.
 *
 * QK-norm (qk_norm = 1, d_head 2 and 4): the same checks over post, pre
 * and none, 1 and 2 heads, causal and not, with dropout, ReZero and
 * T = 1. With it bk's gradient is general (LN(k + c) = LN(k) only for c
 * the same across a head's values, which bk is not) and the keys' shift
 * kn_b's is zero in exact arithmetic (it adds q_i . kn_b to every logit
 * of row i). With d_head 2 each normed pair is +-(a - b) / sqrt((a - b)^2
 * + 4 eps), nearly a sign: its third derivative is large and so is the
 * differences' truncation error - measured worst 1.7e-6 (Wk) at h = 1e-5,
 * 1.5e-5 at h = 3e-5 (x 9 = 3^2: truncation, h^2, not a wrong gradient),
 * so those nets are checked at 1e-5; d_head 4 at 1e-6 as the others.
 * Its closed form: |q.k| <= d_head max|g_q| max|g_k| with shifts 0, so
 * the largest scaled logit is at most sqrt(d_head) max|g_q| max|g_k|
 * (sqrt(d_head) at init), where without it the same weights exceed it;
 * d_head 1 refused; 1 and 2 threads bitwise.
 *
 * TF_FD_VERBOSE=1 prints every tensor whose relative error is above 1e-7
 * (how the floor above was chosen). */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/transformer.h"
#include "fdcheck.h"
#include "tap.h"

#define H_FD 1e-5
#define ZERO_FLOOR 3e-4
#define REL_TOL 1e-6
#define QK2_TOL 1e-5   /* QK-norm with d_head 2: see the top */

typedef struct {
    gs_net_t *net;
    size_t n, T, V;
    const double *tok;
    const int *y;
} problem_t;

static double loss_of(problem_t *p)
{
    p->net->ops->forward(p->net, p->tok, p->n, 1);
    return gs_softmax_ce_forward(p->net->dout, p->net->out, p->y, p->n * p->T, p->V, NULL);
}

static double problem_loss(void *ctx)
{
    return loss_of(ctx);
}

/* A net with its parameters moved off their init where the init is
 * special (norm gains 1, shifts 0, ReZero 0), so every gradient is
 * general; tokens and targets drawn. */
static gs_net_t *make(const gs_tf_spec_t *spec, gs_rng_t *rng, double *tok, int *y, size_t n)
{
    gs_net_t *net = gs_tf_create(spec);
    if (!net)
        return NULL;
    gs_init_spec_t is = {gs_init_find("xavier"), 0, 1.0, 0.1};
    gs_tf_init(net, &is, rng);
    for (size_t t = 0; t < net->n_tensors; t++) {
        const gs_tensor_t *T = &net->tensors[t];
        if (T->weight)
            continue;
        for (size_t i = 0; i < T->rows * T->cols; i++)
            net->params[T->offset + i] += (T->kind == GS_TENSOR_REZERO ? 0.7 : 0.0) +
                                          0.3 * gs_rng_normal(rng);
    }
    for (size_t i = 0; i < n * spec->seq_len; i++) {
        tok[i] = (double)gs_rng_below(rng, spec->vocab);
        y[i] = (int)gs_rng_below(rng, spec->vocab);
    }
    return net;
}

static gs_tf_spec_t tiny(void)
{
    return (gs_tf_spec_t){.vocab = 5, .seq_len = 3, .d_model = 4, .heads = 2, .ffn = 6,
                          .depth = 2, .capacity = 2, .act = gs_activation_find("gelu"),
                          .ln = GS_LN_POST, .residual_scale = GS_RS_NONE, .skip = 1, .mlp = 1};
}

/* tiny() with the switches the checks vary */
static gs_tf_spec_t variant(gs_ln_place_t ln, int skip, int mlp, int causal, size_t depth,
                            size_t seq_len)
{
    gs_tf_spec_t s = tiny();
    s.ln = ln, s.skip = skip, s.mlp = mlp, s.causal = causal, s.depth = depth;
    s.seq_len = seq_len;
    return s;
}

/* A net of spec s over n sequences, its generator seeded with seed. */
static gs_net_t *make_seeded(const gs_tf_spec_t *s, unsigned seed, double *tok, int *y, size_t n)
{
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, 0);
    return make(s, &rng, tok, y, n);
}

/* Is this tensor's gradient zero in exact arithmetic (see the top)? */
static int zero_in_theory(const gs_tensor_t *T, const gs_tf_spec_t *s)
{
    if (T->kind == (s->qk_norm ? GS_TENSOR_KN_B : GS_TENSOR_BK))
        return 1;
    return s->seq_len == 1 &&
           (T->kind == GS_TENSOR_WQ || T->kind == GS_TENSOR_WK || T->kind == GS_TENSOR_BQ ||
            (s->qk_norm && (T->kind == GS_TENSOR_BK || T->kind == GS_TENSOR_QN_G ||
                            T->kind == GS_TENSOR_QN_B || T->kind == GS_TENSOR_KN_G)));
}

static void describe(char *buf, size_t len, const gs_tf_spec_t *s, size_t n)
{
    snprintf(buf, len, "ln=%s residual_scale=%s skip=%d mlp=%d causal=%d act=%s d=%zu heads=%zu "
             "T=%zu L=%zu vocab=%zu ffn=%zu n=%zu%s", gs_ln_place_names[s->ln],
             gs_res_scale_names[s->residual_scale], s->skip, s->mlp, s->causal, s->act->name,
             s->d_model, s->heads, s->seq_len, s->depth, s->vocab, s->ffn, n,
             s->qk_norm ? " qk_norm" : "");
}

/* One ok per configuration: every tensor within its tolerance; the worst
 * relative error and its tensor in the message. */
static void fd_check(const gs_tf_spec_t *spec, size_t n, unsigned seed)
{
    char what[256];
    describe(what, sizeof what, spec, n);
    if (spec->dropout > 0) {
        size_t l = strlen(what);
        snprintf(what + l, sizeof what - l, " dropout=%g (masks held)", spec->dropout);
    }
    double *tok = malloc(n * spec->seq_len * sizeof *tok);
    int *y = malloc(n * spec->seq_len * sizeof *y);
    gs_net_t *net = make_seeded(spec, seed, tok, y, n);
    if (!net) {
        tap_ok(0, "%s: created", what);
        free(tok);
        free(y);
        return;
    }
    problem_t pb = {net, n, spec->seq_len, spec->vocab, tok, y};
    gs_tf_dropout_hold(net, 1);   /* the first forward draws the masks every other reuses */
    double loss = loss_of(&pb);
    if (spec->dropout > 0) {   /* masks that do something: some entries dropped, some kept */
        size_t zero = 0, kept = 0;
        for (size_t l = 1; l <= spec->depth; l++)
            for (int site = 0; site < GS_TF_N_DROP; site++) {
                const double *M = gs_tf_dropout_mask(net, l, (gs_tf_drop_site_t)site);
                size_t sz = site == GS_TF_DROP_ATTN ? n * spec->heads * spec->seq_len * spec->seq_len
                            : site == GS_TF_DROP_ACT ? n * spec->seq_len * spec->ffn
                                                     : n * spec->seq_len * spec->d_model;
                for (size_t i = 0; M && i < sz; i++) {
                    zero += M[i] == 0.0;
                    kept += M[i] != 0.0;
                }
            }
        if (!zero || !kept) {
            tap_diag("%s: masks drop %zu and keep %zu entries", what, zero, kept);
            loss = NAN;
        }
    }
    size_t rows = n * spec->seq_len;
    gs_softmax_ce_backward(net->dout, net->dout, y, rows, spec->vocab, 1.0 / (double)rows);
    for (size_t i = 0; i < net->n_params; i++)   /* backward must write every entry */
        net->grads[i] = NAN;
    net->ops->backward(net, n);
    double *g = malloc(net->n_params * sizeof *g);
    memcpy(g, net->grads, net->n_params * sizeof *g);
    double worst = 0.0, tol = spec->qk_norm && spec->d_model / spec->heads == 2 ? QK2_TOL : REL_TOL;
    const char *worst_name = "-";
    int ok = isfinite(loss);
    for (size_t t = 0; t < net->n_tensors; t++) {
        const gs_tensor_t *T = &net->tensors[t];
        double gn, rel = fd_tensor_error(net, T, g, problem_loss, &pb, H_FD, ZERO_FLOOR, &gn);
        int good;
        if (zero_in_theory(T, spec))   /* rel * floor is the absolute error here */
            good = gn < 1e-13 && rel * ZERO_FLOOR < 3e-10;
        else
            good = rel < tol && gn > 0;
        if (getenv("TF_FD_VERBOSE") && rel > 1e-7)
            tap_diag("%s %.3e %.3e", T->name, rel, gn);
        if (!good || !isfinite(rel)) {
            tap_diag("%s: %s relative error %.3e, ||g|| %.3e", what, T->name, rel, gn);
            ok = 0;
        }
        if (!zero_in_theory(T, spec) && rel > worst) {
            worst = rel;
            worst_name = T->name;
        }
    }
    tap_ok(ok, "%s: %zu tensors, worst relative error %.2e (%s)", what, net->n_tensors, worst,
           worst_name);
    free(g);
    free(tok);
    free(y);
    gs_net_free(net);
}


/* Logits at positions < t must not depend on token t under the causal
 * mask, and must without it. */
static void causal_check(void)
{
    for (int causal = 0; causal <= 1; causal++) {
        gs_tf_spec_t s = variant(GS_LN_POST, 1, 1, causal, 2, 5);
        s.capacity = 1;
        double tok[5];
        int y[5];
        gs_net_t *net = make_seeded(&s, 11, tok, y, 1);
        net->ops->forward(net, tok, 1, 1);
        double before[5 * 5];
        memcpy(before, net->out, sizeof before);
        tok[3] = fmod(tok[3] + 1.0, 5.0);
        net->ops->forward(net, tok, 1, 1);
        double early = 0.0, late = 0.0;   /* largest change at positions 0..2 and 3..4 */
        for (size_t i = 0; i < 25; i++) {
            double c = fabs(net->out[i] - before[i]);
            if (i < 15)
                early = c > early ? c : early;
            else
                late = c > late ? c : late;
        }
        /* with one sequence, dL/dwpe is dL/dx_0 itself: grad_x_norm of block 1 */
        gs_softmax_ce_forward(net->dout, net->out, y, 5, s.vocab, NULL);
        gs_softmax_ce_backward(net->dout, net->dout, y, 5, s.vocab, 1.0 / 5);
        net->ops->backward(net, 1);
        gs_tf_block_stats_t st[2];
        gs_tf_block_stats(net, 1, st);
        const gs_tensor_t *wpe = gs_net_tensor(net, "wpe");
        tap_close(st[0].grad_x_norm, gs_norm2(net->grads + wpe->offset, 5 * s.d_model), 1e-14,
                  "grad_x_norm of block 1 is ||dL/dwpe|| with one sequence");
        if (causal)
            tap_ok(early == 0.0 && late > 1e-6, "causal: token 4 moves no earlier logit "
                   "(max change %.1e) and moves its own (%.1e)", early, late);
        else
            tap_ok(early > 1e-6, "not causal: token 4 moves earlier logits (%.1e)", early);
        gs_net_free(net);
    }
}

/* Forward and backward bitwise the same on 1 and 2 threads, at a size
 * where every parallel loop runs parallel. */
static void thread_check(double dropout, int qk_norm)
{
#ifdef _OPENMP
    gs_tf_spec_t s = {.vocab = 64, .seq_len = 32, .d_model = 64, .heads = 4, .ffn = 256,
                      .depth = 2, .capacity = 8, .act = gs_activation_find("gelu"),
                      .ln = GS_LN_PRE, .residual_scale = GS_RS_GPT2, .skip = 1, .mlp = 1,
                      .causal = 1, .dropout = dropout, .qk_norm = qk_norm};
    size_t n = 8, rows = n * s.seq_len;
    double *tok = malloc(rows * sizeof *tok), *out[2], *grad[2];
    int *y = malloc(rows * sizeof *y);
    gs_net_t *net = NULL;
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        net = make_seeded(&s, 5, tok, y, n);
        gs_rng_seed(gs_tf_dropout_rng(net), 77, 1);
        net->ops->forward(net, tok, n, 1);
        net->ops->forward(net, tok, n, 1);   /* the second key's masks */
        gs_softmax_ce_forward(net->dout, net->out, y, rows, s.vocab, NULL);
        out[k] = malloc(rows * s.vocab * sizeof(double));
        memcpy(out[k], net->out, rows * s.vocab * sizeof(double));
        gs_softmax_ce_backward(net->dout, net->dout, y, rows, s.vocab, 1.0 / (double)rows);
        net->ops->backward(net, n);
        grad[k] = malloc(net->n_params * sizeof(double));
        memcpy(grad[k], net->grads, net->n_params * sizeof(double));
        if (k == 0)
            gs_net_free(net);
    }
    tap_ok(memcmp(out[0], out[1], rows * s.vocab * sizeof(double)) == 0 &&
           memcmp(grad[0], grad[1], net->n_params * sizeof(double)) == 0,
           "dropout %g%s, 1 and 2 threads: logits and all %zu gradients bitwise equal", dropout,
           qk_norm ? " qk_norm" : "", net->n_params);
    omp_set_num_threads(2);
    gs_net_free(net);
    for (int k = 0; k < 2; k++) {
        free(out[k]);
        free(grad[k]);
    }
    free(tok);
    free(y);
#else
    tap_ok(1, "# SKIP built without OpenMP");
#endif
}

/* Dropout's masks at a size where they are drawn in parallel: kept
 * fraction, values, evaluation, independence of n, keys. */
static void dropout_check(double p)
{
    gs_tf_spec_t s = {.vocab = 16, .seq_len = 16, .d_model = 32, .heads = 4, .ffn = 128,
                      .depth = 3, .capacity = 8, .act = gs_activation_find("gelu"),
                      .ln = GS_LN_POST, .residual_scale = GS_RS_NONE, .skip = 1, .mlp = 1,
                      .dropout = p};
    gs_tf_spec_t s0 = s;
    s0.dropout = 0;
    size_t n = 8, rows = n * s.seq_len, no = rows * s.vocab;
    double *tok = malloc(rows * sizeof *tok), *out = malloc(no * sizeof *out);
    int *y = malloc(rows * sizeof *y);
    gs_net_t *net = make_seeded(&s, 21, tok, y, n), *net0 = make_seeded(&s0, 21, tok, y, n);
    gs_rng_seed(gs_tf_dropout_rng(net), 9, 4);
    net->ops->forward(net, tok, n, 1);
    /* kept count K ~ Binomial(N, 1-p) per site over the blocks: within 6
     * standard deviations, sqrt(N p (1-p)) (a false alarm ~1e-9) */
    size_t sizes[GS_TF_N_DROP] = {n * s.heads * s.seq_len * s.seq_len, rows * s.d_model,
                                  rows * s.ffn, rows * s.d_model};
    const char *names[GS_TF_N_DROP] = {"attention probabilities", "attention output",
                                       "MLP activation", "MLP output"};
    double scale = 1.0 / (1.0 - p);
    for (int site = 0; site < GS_TF_N_DROP; site++) {
        size_t kept = 0, odd = 0, N = sizes[site] * s.depth;
        for (size_t l = 1; l <= s.depth; l++) {
            const double *M = gs_tf_dropout_mask(net, l, (gs_tf_drop_site_t)site);
            for (size_t i = 0; M && i < sizes[site]; i++) {
                kept += M[i] != 0.0;
                odd += M[i] != 0.0 && M[i] != scale;
            }
        }
        double frac = (double)kept / (double)N, sd = sqrt((double)N * p * (1 - p));
        tap_ok(fabs((double)kept - (double)N * (1 - p)) < 6 * sd && odd == 0,
               "p %g, %s: kept fraction %.4f of %zu (1-p within 6 sd = %.4f), values 0 or "
               "1/(1-p) (%zu other)", p, names[site], frac, N, 6 * sd / (double)N, odd);
    }
    /* evaluation: no masks, and the p = 0 net's outputs bit for bit; p =
     * 0's training forward is its evaluation */
    net->ops->forward(net, tok, n, 0);
    int none = 1;
    for (int site = 0; site < GS_TF_N_DROP; site++)
        none &= gs_tf_dropout_mask(net, 1, (gs_tf_drop_site_t)site) == NULL;
    memcpy(out, net->out, no * sizeof *out);
    net0->ops->forward(net0, tok, n, 0);
    int same0 = memcmp(out, net0->out, no * sizeof *out) == 0;
    net0->ops->forward(net0, tok, n, 1);
    same0 &= memcmp(out, net0->out, no * sizeof *out) == 0;
    tap_ok(none && same0, "p %g: evaluation applies no mask; its logits are the p = 0 net's, "
           "whose training and evaluation forwards agree, bit for bit", p);
    /* a row's mask depends on the key, not on n: held, one sequence gets
     * the first rows of the n sequences' masks; unheld, a new key */
    double *first = malloc(sizes[GS_TF_DROP_ACT] * sizeof *first);
    net->ops->forward(net, tok, n, 1);
    memcpy(first, gs_tf_dropout_mask(net, 2, GS_TF_DROP_ACT), sizes[GS_TF_DROP_ACT] * sizeof *first);
    double *attn = malloc(sizes[GS_TF_DROP_ATTN] * sizeof *attn);
    memcpy(attn, gs_tf_dropout_mask(net, 2, GS_TF_DROP_ATTN), sizes[GS_TF_DROP_ATTN] * sizeof *attn);
    gs_tf_dropout_hold(net, 1);
    net->ops->forward(net, tok, 1, 1);
    int prefix = memcmp(first, gs_tf_dropout_mask(net, 2, GS_TF_DROP_ACT),
                        s.seq_len * s.ffn * sizeof *first) == 0 &&
                 memcmp(attn, gs_tf_dropout_mask(net, 2, GS_TF_DROP_ATTN),
                        s.heads * s.seq_len * s.seq_len * sizeof *attn) == 0;
    net->ops->forward(net, tok, n, 1);
    int held = memcmp(first, gs_tf_dropout_mask(net, 2, GS_TF_DROP_ACT),
                      sizes[GS_TF_DROP_ACT] * sizeof *first) == 0;
    gs_tf_dropout_hold(net, 0);
    net->ops->forward(net, tok, n, 1);
    int fresh = memcmp(first, gs_tf_dropout_mask(net, 2, GS_TF_DROP_ACT),
                       sizes[GS_TF_DROP_ACT] * sizeof *first) != 0;
    tap_ok(prefix && held && fresh, "p %g: held masks for 1 sequence are the first rows of those "
           "for %zu (%d), the same again for %zu (%d); unheld, new masks (%d)", p, n, prefix, n,
           held, fresh);
    free(first);
    free(attn);
    free(tok);
    free(out);
    free(y);
    gs_net_free(net);
    gs_net_free(net0);
}

/* Closed forms of the block statistics: with ln = none, skip = no, no
 * MLP, Wv = 0 and bv = c, every token's output is c Wo^T + bo (one
 * row): token cosine 1 and relative residual 0; with zero Wq and Wk
 * attention is uniform, entropy ln T (non-causal) exactly. */
static void stats_check(void)
{
    gs_tf_spec_t s = variant(GS_LN_NONE, 0, 0, 0, 1, 4);
    double tok[8];
    int y[8];
    gs_net_t *net = make_seeded(&s, 3, tok, y, 2);
    for (size_t t = 0; t < net->n_tensors; t++) {
        const gs_tensor_t *T = &net->tensors[t];
        if (T->kind == GS_TENSOR_WQ || T->kind == GS_TENSOR_WK || T->kind == GS_TENSOR_WV ||
            T->kind == GS_TENSOR_BQ || T->kind == GS_TENSOR_BK)
            memset(net->params + T->offset, 0, T->rows * T->cols * sizeof(double));
    }
    net->ops->forward(net, tok, 2, 1);
    gs_softmax_ce_forward(net->dout, net->out, y, 8, s.vocab, NULL);
    gs_softmax_ce_backward(net->dout, net->dout, y, 8, s.vocab, 1.0 / 8);
    net->ops->backward(net, 2);
    gs_tf_block_stats_t st;
    gs_tf_block_stats(net, 2, &st);
    tap_close(st.token_cosine, 1.0, 1e-14, "identical tokens: cosine 1");
    tap_near(st.rank_residual, 0.0, 1e-14, "identical tokens: relative residual 0");
    tap_close(st.attn_entropy_min, log(4.0), 1e-14, "uniform attention: entropy ln T");
    tap_near(st.attn_logit_max, 0.0, 0.0, "zero Q, K: largest logit 0");
    const double *X = gs_tf_block_output(net, 1);
    double ms = 0.0;
    for (size_t i = 0; i < 8 * 4; i++)
        ms += X[i] * X[i];
    tap_close(st.rms, sqrt(ms / 32.0), 1e-13, "rms of the block output");
    tap_ok(st.grad_x_norm == 0.0, "output independent of the input: grad_x_norm 0 (%.1e)",
           st.grad_x_norm);
    gs_net_free(net);
}

/* Per head: with zero Wq, Wk (and biases) attention is uniform over the
 * keys a query sees - every head's entropy ln T, or with the causal mask
 * (query i sees i + 1 keys) (1/T) sum_i ln(i + 1) = ln(T!)/T; with the
 * trained-like random Wq, Wk of the seed, the heads differ and their
 * least and largest are gs_tf_block_stats' values bit for bit. */
static void head_check(void)
{
    for (int causal = 0; causal <= 1; causal++) {
        gs_tf_spec_t s = variant(GS_LN_PRE, 1, 1, causal, 2, 5);
        s.heads = 2;
        s.capacity = 3;
        double tok[15];
        int y[15];
        gs_net_t *net = make_seeded(&s, 11, tok, y, 3);
        net->ops->forward(net, tok, 3, 1);
        double e[2], lm[2], worst_min = 0.0;
        gs_tf_block_stats_t st[2];
        gs_tf_block_stats(net, 3, st);
        int agree = 1;
        for (size_t l = 1; l <= 2; l++) {
            gs_tf_head_stats(net, 3, l, e, lm);
            agree &= fmin(e[0], e[1]) == st[l - 1].attn_entropy_min &&
                     fmax(lm[0], lm[1]) == st[l - 1].attn_logit_max && e[0] != e[1];
            worst_min = fmax(worst_min, fabs(e[0] - e[1]));
        }
        tap_ok(agree, "%s, 2 heads, random weights: the heads differ (by up to %.3g nats); their "
               "least entropy and largest logit are the block's, bit for bit",
               causal ? "causal" : "non-causal", worst_min);
        for (size_t t = 0; t < net->n_tensors; t++) {
            const gs_tensor_t *T = &net->tensors[t];
            if (T->kind == GS_TENSOR_WQ || T->kind == GS_TENSOR_WK || T->kind == GS_TENSOR_BQ ||
                T->kind == GS_TENSOR_BK)
                memset(net->params + T->offset, 0, T->rows * T->cols * sizeof(double));
        }
        net->ops->forward(net, tok, 3, 1);
        double want = causal ? lgamma(6.0) / 5.0 : log(5.0), worst = 0.0, lmax = 0.0;
        for (size_t l = 1; l <= 2; l++) {
            gs_tf_head_stats(net, 3, l, e, lm);
            for (int h = 0; h < 2; h++) {
                worst = fmax(worst, fabs(e[h] - want));
                lmax = fmax(lmax, fabs(lm[h]));
            }
        }
        tap_ok(worst <= 1e-14 && lmax == 0.0,
               "%s, zero Q and K: every head's entropy %s = %.6f (worst error %.1e), largest "
               "logit 0", causal ? "causal" : "non-causal", causal ? "ln(T!)/T" : "ln T", want,
               worst);
        gs_net_free(net);
    }
}

/* The largest scaled logit q.k / sqrt(d_head) of the last forward, over
 * every block and head */
static double largest_logit(const gs_net_t *net, size_t n, size_t depth)
{
    gs_tf_block_stats_t st[4];
    gs_tf_block_stats(net, n, st);
    double mx = -INFINITY;
    for (size_t l = 0; l < depth; l++)
        mx = fmax(mx, st[l].attn_logit_max);
    return mx;
}

/* QK-norm's closed form: with shifts 0 each normed head vector is
 * g o xhat, ||xhat||^2 = d_head var / (var + eps) <= d_head, so
 * |q.k| <= d_head max|g_q| max|g_k| and the largest scaled logit is at
 * most sqrt(d_head) max|g_q| max|g_k| - sqrt(d_head) at init (gains 1).
 * Weights at gain 8 make the logits large: without QK-norm the same
 * weights (the same seed; qk_norm adds no random draw) exceed the bound,
 * with it they stay under it and near it (above 0.5 of it: aligned
 * queries and keys). Then gains drawn around 1.5 and shifts zeroed: the
 * bound with their largest magnitudes. */
static void qk_bound_check(size_t heads)
{
    gs_tf_spec_t s = {.vocab = 16, .seq_len = 8, .d_model = 8, .heads = heads, .ffn = 16,
                      .depth = 2, .capacity = 3, .act = gs_activation_find("gelu"),
                      .ln = GS_LN_PRE, .residual_scale = GS_RS_NONE, .skip = 1, .mlp = 1,
                      .causal = 0};
    size_t n = 3, dh = s.d_model / heads;
    double tok[24], bound = sqrt((double)dh), got[2];
    gs_init_spec_t is = {gs_init_find("xavier"), 0, 8.0, 0.0};
    for (int q = 0; q <= 1; q++) {
        s.qk_norm = q;
        gs_net_t *net = gs_tf_create(&s);
        gs_rng_t rng;
        gs_rng_seed(&rng, 21, 0);
        gs_tf_init(net, &is, &rng);
        for (size_t i = 0; i < n * s.seq_len; i++)
            tok[i] = (double)gs_rng_below(&rng, s.vocab);
        net->ops->forward(net, tok, n, 1);
        got[q] = largest_logit(net, n, s.depth);
        if (q) {
            tap_ok(got[1] <= bound * (1 + 1e-12) && got[1] > 0.5 * bound && got[0] > bound,
                   "qk_norm at init, d_head %zu, weights at gain 8: largest scaled logit %.4f <= "
                   "sqrt(d_head) = %.4f (without qk_norm %.4f)", dh, got[1], bound, got[0]);
            double gq = 0.0, gk = 0.0;
            for (size_t t = 0; t < net->n_tensors; t++) {
                const gs_tensor_t *T = &net->tensors[t];
                double *p = net->params + T->offset;
                for (size_t i = 0; i < T->rows * T->cols; i++) {
                    if (T->kind == GS_TENSOR_QN_G || T->kind == GS_TENSOR_KN_G)
                        p[i] = 1.5 + 0.5 * gs_rng_normal(&rng);
                    if (T->kind == GS_TENSOR_QN_G)
                        gq = fmax(gq, fabs(p[i]));
                    if (T->kind == GS_TENSOR_KN_G)
                        gk = fmax(gk, fabs(p[i]));
                }
            }
            net->ops->forward(net, tok, n, 1);
            double lm = largest_logit(net, n, s.depth), b2 = bound * gq * gk;
            tap_ok(lm <= b2 * (1 + 1e-12) && lm > bound, "qk_norm, gains up to %.3f (q) and "
                   "%.3f (k): largest scaled logit %.4f <= sqrt(d_head) max|g_q| max|g_k| = %.4f",
                   gq, gk, lm, b2);
        }
        gs_net_free(net);
    }
}

int main(void)
{
    unsigned seed = 1;
    for (int ln = 0; ln < 3; ln++)
        for (int rs = 0; rs < 4; rs++)
            for (int skip = 0; skip <= 1; skip++)
                for (int mlp = 0; mlp <= 1; mlp++)
                    for (int causal = 0; causal <= 1; causal++) {
                        /* 1 and 2 heads, 1 and 2 blocks alternate */
                        gs_tf_spec_t s = variant((gs_ln_place_t)ln, skip, mlp, causal,
                                                 1 + ((seed >> 1) & 1), 3);
                        s.residual_scale = (gs_res_scale_t)rs;
                        s.heads = 1 + (seed & 1);
                        fd_check(&s, 2, seed++);
                    }
    /* edges */
    gs_tf_spec_t e = tiny();
    e.heads = 4;   /* d_head 1 */
    fd_check(&e, 2, seed++);
    /* d_model 1: a layer norm of one value is 0 (post-LN would cut the
     * stack off: every gradient below it exactly 0), so without norms */
    e = tiny();
    e.d_model = 1, e.heads = 1, e.ln = GS_LN_NONE;
    fd_check(&e, 2, seed++);
    e = tiny();
    e.seq_len = 1;
    fd_check(&e, 2, seed++);
    e.ln = GS_LN_PRE, e.causal = 1;
    fd_check(&e, 2, seed++);
    e = tiny();
    e.depth = 1, e.vocab = 2, e.capacity = 1, e.ffn = 1;
    fd_check(&e, 1, seed++);
    e = tiny();
    e.act = gs_activation_find("relu"), e.ln = GS_LN_PRE;
    fd_check(&e, 2, seed++);
    /* dropout, masks held: post, pre, none; 1-2 heads; causal; ReZero */
    for (int ln = 0; ln < 3; ln++)
        for (int heads = 1; heads <= 2; heads++) {
            gs_tf_spec_t d = variant((gs_ln_place_t)ln, 1, 1, heads == 2, 2, 3);
            d.heads = (size_t)heads, d.dropout = 0.5;
            fd_check(&d, 2, seed++);
        }
    e = tiny();
    e.dropout = 0.5, e.residual_scale = GS_RS_REZERO, e.ln = GS_LN_PRE;
    fd_check(&e, 2, seed++);
    e = tiny();
    e.dropout = 0.5, e.mlp = 0, e.depth = 1;
    fd_check(&e, 2, seed++);
    /* QK-norm: post, pre, none; 1-2 heads (d_head 4, 2); causal and not */
    for (int ln = 0; ln < 3; ln++)
        for (int heads = 1; heads <= 2; heads++)
            for (int causal = 0; causal <= 1; causal++) {
                gs_tf_spec_t q = variant((gs_ln_place_t)ln, 1, 1, causal, 1 + (heads == causal), 3);
                q.heads = (size_t)heads, q.qk_norm = 1;
                fd_check(&q, 2, seed++);
            }
    e = tiny();
    e.qk_norm = 1, e.dropout = 0.5, e.ln = GS_LN_PRE, e.causal = 1;
    fd_check(&e, 2, seed++);
    e = tiny();
    e.qk_norm = 1, e.residual_scale = GS_RS_REZERO, e.mlp = 0, e.skip = 0;
    fd_check(&e, 2, seed++);
    e = tiny();
    e.qk_norm = 1, e.seq_len = 1;
    fd_check(&e, 2, seed++);
    causal_check();
    thread_check(0.0, 0);
    thread_check(0.1, 0);
    thread_check(0.0, 1);
    thread_check(0.1, 1);
    qk_bound_check(1);
    qk_bound_check(2);
    qk_bound_check(4);
    dropout_check(0.1);
    dropout_check(0.5);
    stats_check();
    head_check();
    gs_tf_spec_t bad = tiny();
    bad.heads = 3;
    tap_ok(gs_tf_spec_error(&bad) != NULL && gs_tf_create(&bad) == NULL,
           "d_model 4 with 3 heads refused: %s", gs_tf_spec_error(&bad));
    bad = tiny();
    bad.dropout = 1.0;
    tap_ok(gs_tf_spec_error(&bad) != NULL && gs_tf_create(&bad) == NULL,
           "dropout 1 refused: %s", gs_tf_spec_error(&bad));
    bad = tiny();
    bad.heads = 4, bad.qk_norm = 1;   /* d_head 1 */
    tap_ok(gs_tf_spec_error(&bad) != NULL && gs_tf_create(&bad) == NULL &&
           strstr(gs_tf_spec_error(&bad), "qk_norm") != NULL,
           "qk_norm with d_head 1 refused: %s", gs_tf_spec_error(&bad));
    bad.qk_norm = 0;
    tap_ok(gs_tf_spec_error(&bad) == NULL, "d_head 1 without qk_norm accepted");
    return tap_done();
}
