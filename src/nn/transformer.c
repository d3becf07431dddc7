#include <config.h>

#include "nn/transformer.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/arena.h"
#include "nn/format.h"
#include "nn/gemm.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/par.h"
#include "nn/vmath.h"

const char *const gs_ln_place_names[] = {"post", "pre", "none", NULL};
const char *const gs_res_scale_names[] = {"none", "deepnorm", "rezero", "gpt2", NULL};

/* The two sublayers of a block */
enum { SUB_ATTN, SUB_MLP, N_SUB };

/* One sublayer's wrapper around its function F (attention or MLP) and
 * the activations it keeps for backward; N = n T rows of d values. */
typedef struct {
    double *xhat, *mean, *rstd;   /* its norm's (N, d), (N), (N); ln = none: NULL */
    double *normed;               /* (N, d) pre: F's input; post: the sublayer's output */
    double *f;                    /* (N, d) F's output */
    double *res;                  /* (N, d) alpha x + s f: post's LN input, else the output */
    const double *in;             /* (N, d) the sublayer's input (the stream) */
    const double *in_f;           /* F's input: normed (pre) or in */
    const double *out;            /* normed (post) or res */
} tf_sub_t;

/* The block kinds of tf_block_t's p and g: those up to ReZero's (the
 * QK-norm's live in tf_qkn_t, so that without it the model's size is what
 * it was) */
#define TF_BLOCK_KINDS (GS_TENSOR_REZERO + 1)

/* A block: its parameters and gradients by tensor kind (NULL where the
 * spec has none), its sublayers, and what attention and the MLP keep. */
typedef struct {
    double *p[TF_BLOCK_KINDS], *g[TF_BLOCK_KINDS];
    tf_sub_t sub[N_SUB];
    double *qkv;     /* (N, 3d) Q | K | V per row */
    double *prob;    /* (n, H, T, T) attention probabilities */
    double *lmax;    /* (n, H) largest scaled logit of each (sequence, head) */
    double *atty;    /* (N, d) the heads' outputs, concatenated */
    double *fch;     /* (N, ffn) MLP pre-activation */
    double *fcg;     /* (N, ffn) its activation */
    double grad_x_norm;
} tf_block_t;

/* A block's dropout (dropout > 0; apart from tf_block_t, so that without
 * dropout the model's size is what it was): the masks by site (shapes of
 * gs_tf_drop_site_t; NULL where the spec has no such site) and fcd (N,
 * ffn), fcg dropped: the MLP's second product's input (fcg stays phi(fch)
 * for phi's backward) */
typedef struct {
    double *mask[GS_TF_N_DROP];
    double *fcd;
} tf_drop_t;

/* A block's QK-norm (qk_norm = 1): the gains and shifts of the queries'
 * and the keys' norms (d_head each; index kind - GS_TENSOR_QN_G: qn_g,
 * qn_b, kn_g, kn_b), their gradients, and what backward needs: xhat (N,
 * 2d) and rstd (N, 2H), row i holding Q's H heads then K's */
typedef struct {
    double *p[4], *g[4];
    double *xhat, *rstd;
} tf_qkn_t;

typedef struct {
    gs_net_t net;                 /* first: a gs_net_t* is a gs_tf_t* */
    gs_tf_spec_t spec;
    double alpha;
    tf_block_t *blocks;           /* depth */
    tf_drop_t *drop;              /* depth when dropout > 0, else NULL */
    tf_qkn_t *qkn;                /* depth when qk_norm, else NULL */
    double *top_p[GS_N_TENSOR_KINDS], *top_g[GS_N_TENSOR_KINDS];   /* wte, wpe, final norm, head */
    const double *tokens;         /* (n, T) of the last forward, as doubles */
    double *x0;                   /* (N, d) embeddings */
    double *fxhat, *fmean, *frstd, *fnormed;   /* the final norm (ln = pre) */
    const double *xL;             /* the head's input */
    double *acts;
    /* backward scratch */
    double *dx, *dA, *dB, *dC;    /* (N, d) */
    double *dqkv;                 /* (N, 3d) */
    double *datty;                /* (N, d) */
    double *dprob;                /* (n, H, T, T) */
    double *dh;                   /* (N, ffn) */
    double *init_work;            /* the largest weight matrix, for orthogonal init */
    /* the arithmetic (spec.fmt; fmt NULL: float64, nothing laid out): ar
     * for the products outside the attention's tasks, and capacity x
     * heads slices of attn_work_n floats from attn_work, one per
     * (sequence, head) task, for its Q K^T, P V and their backward
     * products */
    gs_arith_t ar;
    float *attn_work;
    size_t attn_work_n;
    /* dropout: the keys' generator, the key of the masks in use, and
     * whether the last forward applied them */
    gs_rng_t drop_rng;
    uint64_t drop_key;
    int drop_have_key, drop_hold, drop_on;
    gs_tensor_t tensor_store[];
} gs_tf_t;

/* ---- the table of parameter sizes ---- */

typedef struct {
    gs_tensor_kind_t kind;
    size_t layer, rows, cols;     /* layer 0: the embeddings, final norm and head */
} tf_shape_t;

/* Every parameter tensor in the order of the arena (Wq, Wk, Wv adjacent,
 * then bq, bk, bv: together the stacked (3d, d) matrix and (3d) bias of one
 * product). shapes NULL: count only. Returns the number of tensors. */
static size_t param_shapes(const gs_tf_spec_t *s, tf_shape_t *shapes)
{
    size_t k = 0, d = s->d_model, f = s->ffn;
#define ADD(KIND, LAYER, R, C)                                          \
    do {                                                                \
        if (shapes)                                                     \
            shapes[k] = (tf_shape_t){(KIND), (LAYER), (R), (C)};        \
        k++;                                                            \
    } while (0)
    ADD(GS_TENSOR_WTE, 0, s->vocab, d);
    ADD(GS_TENSOR_WPE, 0, s->seq_len, d);
    for (size_t l = 1; l <= s->depth; l++) {
        ADD(GS_TENSOR_WQ, l, d, d);
        ADD(GS_TENSOR_WK, l, d, d);
        ADD(GS_TENSOR_WV, l, d, d);
        ADD(GS_TENSOR_BQ, l, 1, d);
        ADD(GS_TENSOR_BK, l, 1, d);
        ADD(GS_TENSOR_BV, l, 1, d);
        ADD(GS_TENSOR_WO, l, d, d);
        ADD(GS_TENSOR_BO, l, 1, d);
        if (s->qk_norm) {
            ADD(GS_TENSOR_QN_G, l, 1, d / s->heads);
            ADD(GS_TENSOR_QN_B, l, 1, d / s->heads);
            ADD(GS_TENSOR_KN_G, l, 1, d / s->heads);
            ADD(GS_TENSOR_KN_B, l, 1, d / s->heads);
        }
        if (s->ln != GS_LN_NONE) {
            ADD(GS_TENSOR_LN1_G, l, 1, d);
            ADD(GS_TENSOR_LN1_B, l, 1, d);
        }
        if (s->mlp) {
            ADD(GS_TENSOR_WFC, l, f, d);
            ADD(GS_TENSOR_BFC, l, 1, f);
            ADD(GS_TENSOR_WPROJ, l, d, f);
            ADD(GS_TENSOR_BPROJ, l, 1, d);
            if (s->ln != GS_LN_NONE) {
                ADD(GS_TENSOR_LN2_G, l, 1, d);
                ADD(GS_TENSOR_LN2_B, l, 1, d);
            }
        }
        if (s->residual_scale == GS_RS_REZERO)
            ADD(GS_TENSOR_REZERO, l, 1, s->mlp ? 2 : 1);
    }
    if (s->ln == GS_LN_PRE) {
        ADD(GS_TENSOR_GAMMA, 0, 1, d);
        ADD(GS_TENSOR_BETA, 0, 1, d);
    }
    ADD(GS_TENSOR_W, 0, s->vocab, d);
    ADD(GS_TENSOR_B, 0, 1, s->vocab);
#undef ADD
    return k;
}

static size_t n_tensors(const gs_tf_spec_t *s)
{
    return param_shapes(s, NULL);
}

const char *gs_tf_spec_error(const gs_tf_spec_t *s)
{
    if (!s->vocab || !s->seq_len || !s->d_model || !s->heads || !s->depth || !s->capacity)
        return "vocab, seq_len, width, heads, depth and the batch must be at least 1";
    if (s->mlp && !s->ffn)
        return "ffn must be at least 1 with mlp = yes";
    if (s->d_model % s->heads)
        return "width (d_model) must be a multiple of heads";
    if (!(s->dropout >= 0.0 && s->dropout < 1.0))
        return "dropout must lie in [0, 1)";
    if (s->qk_norm && s->d_model / s->heads < 2)
        return "qk_norm needs d_head = width / heads of at least 2 (the layer norm of one "
               "value is 0)";
    if (!s->act)
        return "the MLP needs an activation";
    /* sizes below 2^40 values each keep every product below size_t's range */
    double big = 1099511627776.0, N = (double)s->capacity * (double)s->seq_len;
    double widest = (double)(s->ffn > 3 * s->d_model ? s->ffn : 3 * s->d_model);
    if (N * widest > big || (double)s->vocab * N > big ||
        (double)s->capacity * (double)s->heads * (double)s->seq_len * (double)s->seq_len > big ||
        (double)s->depth * widest * (double)s->d_model > big)
        return "the shapes are too large";
    return NULL;
}

/* ---- the activation arena: one function counts it and lays it out ---- */

/* The next n doubles of the arena (c non-NULL), or only their count. */
static double *take(gs_arena_cursor_t *c, size_t *count, size_t n)
{
    *count += n;
    return c ? gs_arena_take(c, n) : NULL;
}

/* Floats of gs_gemm_fmt's scratch for the largest product outside the
 * attention's tasks: the linear layers and the readout (0 in float64) */
static size_t fmt_work_floats(const gs_tf_spec_t *s)
{
    if (!s->fmt)
        return 0;
    size_t N = s->capacity * s->seq_len, d = s->d_model, f = s->ffn;
    size_t w[] = {gs_linear_fmt_work(N, d, 3 * d), gs_linear_fmt_work(N, d, d),
                  s->mlp ? gs_linear_fmt_work(N, d, f) : 0, s->mlp ? gs_linear_fmt_work(N, f, d) : 0,
                  gs_linear_fmt_work(N, d, s->vocab)};
    size_t most = 0;
    for (size_t k = 0; k < sizeof w / sizeof *w; k++)
        most = w[k] > most ? w[k] : most;
    return most;
}

/* Doubles of one attention task's slice of float scratch: its largest
 * product, (T, T, d_head) - Q K^T, dP = dY V^T - or (T, d_head, T) - P V,
 * dV, dQ, dK (0 in float64) */
static size_t attn_slice_doubles(const gs_tf_spec_t *s)
{
    if (!s->fmt)
        return 0;
    size_t T = s->seq_len, dh = s->d_model / s->heads;
    size_t a = gs_gemm_fmt_work(T, T, dh), b = gs_gemm_fmt_work(T, dh, T);
    return ((a > b ? a : b) + 1) / 2;
}

static size_t init_work_size(const gs_tf_spec_t *s)
{
    size_t d = s->d_model, w = d * d;
    if (s->ffn * d > w)
        w = s->ffn * d;
    if (s->vocab * d > w)
        w = s->vocab * d;
    return w;
}

/* Lays out the activations and scratch of m from c, or with m NULL only
 * counts them: the count and the layout cannot disagree. */
static size_t lay_out_acts(const gs_tf_spec_t *s, gs_tf_t *m, gs_arena_cursor_t *c)
{
    size_t cnt = 0, N = s->capacity * s->seq_len, d = s->d_model, H = s->heads, T = s->seq_len;
    size_t nd = N * d, probs = s->capacity * H * T * T;
    int norm = s->ln != GS_LN_NONE;
    double *x0 = take(c, &cnt, nd);
    if (m)
        m->x0 = x0;
    for (size_t l = 0; l < s->depth; l++) {
        tf_block_t tmp, *b = m ? &m->blocks[l] : &tmp;
        for (int k = 0; k < N_SUB; k++) {
            tf_sub_t *u = &b->sub[k];
            if (k == SUB_MLP && !s->mlp)
                break;
            u->xhat = norm ? take(c, &cnt, nd) : NULL;
            u->mean = norm ? take(c, &cnt, N) : NULL;
            u->rstd = norm ? take(c, &cnt, N) : NULL;
            u->normed = norm ? take(c, &cnt, nd) : NULL;
            u->f = take(c, &cnt, nd);
            u->res = take(c, &cnt, nd);
        }
        b->qkv = take(c, &cnt, 3 * nd);
        b->prob = take(c, &cnt, probs);
        b->lmax = take(c, &cnt, s->capacity * H);
        b->atty = take(c, &cnt, nd);
        b->fch = s->mlp ? take(c, &cnt, N * s->ffn) : NULL;
        b->fcg = s->mlp ? take(c, &cnt, N * s->ffn) : NULL;
    }
    /* after everything else: dropout = 0 lays out the arena as before it */
    for (size_t l = 0; s->dropout > 0 && l < s->depth; l++) {
        tf_drop_t tmp, *b = m ? &m->drop[l] : &tmp;
        b->mask[GS_TF_DROP_ATTN] = take(c, &cnt, probs);
        b->mask[GS_TF_DROP_ATTN_OUT] = take(c, &cnt, nd);
        b->mask[GS_TF_DROP_ACT] = s->mlp ? take(c, &cnt, N * s->ffn) : NULL;
        b->mask[GS_TF_DROP_MLP_OUT] = s->mlp ? take(c, &cnt, nd) : NULL;
        b->fcd = s->mlp ? take(c, &cnt, N * s->ffn) : NULL;
    }
    for (size_t l = 0; s->qk_norm && l < s->depth; l++) {   /* so are qk_norm = 0's */
        tf_qkn_t tmp, *b = m ? &m->qkn[l] : &tmp;
        b->xhat = take(c, &cnt, 2 * nd);
        b->rstd = take(c, &cnt, 2 * N * H);
    }
    int fin = s->ln == GS_LN_PRE;
    double *fx = fin ? take(c, &cnt, nd) : NULL, *fm = fin ? take(c, &cnt, N) : NULL;
    double *fr = fin ? take(c, &cnt, N) : NULL, *fn = fin ? take(c, &cnt, nd) : NULL;
    double *out = take(c, &cnt, N * s->vocab), *dout = take(c, &cnt, N * s->vocab);
    double *dx = take(c, &cnt, nd), *dA = take(c, &cnt, nd), *dB = take(c, &cnt, nd);
    double *dC = take(c, &cnt, nd), *dqkv = take(c, &cnt, 3 * nd);
    double *datty = take(c, &cnt, nd), *dprob = take(c, &cnt, probs);
    double *dh = s->mlp ? take(c, &cnt, N * s->ffn) : NULL;
    double *iw = take(c, &cnt, init_work_size(s));
    /* the arithmetic's scratch, last: float64 lays out nothing here */
    size_t fw = fmt_work_floats(s), slice = attn_slice_doubles(s);
    double *lw = take(c, &cnt, (fw + 1) / 2), *aw = take(c, &cnt, s->capacity * H * slice);
    if (m) {
        m->ar = (gs_arith_t){s->fmt, (float *)lw, fw};
        m->attn_work = (float *)aw;
        m->attn_work_n = 2 * slice;
    }
    if (m) {
        m->fxhat = fx, m->fmean = fm, m->frstd = fr, m->fnormed = fn;
        m->net.out = out, m->net.dout = dout;
        m->dx = dx, m->dA = dA, m->dB = dB, m->dC = dC, m->dqkv = dqkv;
        m->datty = datty, m->dprob = dprob, m->dh = dh, m->init_work = iw;
    }
    return cnt;
}

static size_t param_count(const gs_tf_spec_t *s)
{
    size_t nt = n_tensors(s), np = 0;
    tf_shape_t *sh = malloc(nt * sizeof *sh);
    if (!sh)
        return 0;
    param_shapes(s, sh);
    for (size_t i = 0; i < nt; i++)
        np += sh[i].rows * sh[i].cols;
    free(sh);
    return np;
}

size_t gs_tf_bytes(const gs_tf_spec_t *spec)
{
    if (gs_tf_spec_error(spec))
        return SIZE_MAX;
    size_t np = param_count(spec);
    size_t na = lay_out_acts(spec, NULL, NULL);
    return (2 * np + na) * sizeof(double) + n_tensors(spec) * sizeof(gs_tensor_t)
           + spec->depth * (sizeof(tf_block_t) + (spec->dropout > 0 ? sizeof(tf_drop_t) : 0) +
                            (spec->qk_norm ? sizeof(tf_qkn_t) : 0));
}

static void tf_forward(gs_net_t *net, const double *x, size_t n, int train);
static void tf_backward(gs_net_t *net, size_t n);
static void tf_free(gs_net_t *net);

static const gs_net_ops_t tf_ops = {tf_forward, tf_backward, tf_free};

double gs_tf_alpha(const gs_tf_spec_t *spec)
{
    return spec->residual_scale == GS_RS_DEEPNORM ? pow(2.0 * (double)spec->depth, 0.25) : 1.0;
}

gs_net_t *gs_tf_create(const gs_tf_spec_t *spec)
{
    if (gs_tf_spec_error(spec))
        return NULL;
    size_t nt = n_tensors(spec), np = param_count(spec);
    size_t na = lay_out_acts(spec, NULL, NULL);
    gs_tf_t *m = calloc(1, sizeof *m + nt * sizeof(gs_tensor_t));
    tf_shape_t *sh = malloc(nt * sizeof *sh);
    if (!m || !sh || !np) {
        free(m);
        free(sh);
        return NULL;
    }
    m->spec = *spec;
    m->alpha = gs_tf_alpha(spec);
    gs_rng_seed(&m->drop_rng, 0, 0);
    gs_net_init(&m->net, &tf_ops, spec->seq_len, spec->seq_len * spec->vocab, spec->capacity,
                np, m->tensor_store);
    m->blocks = calloc(spec->depth, sizeof *m->blocks);
    m->drop = spec->dropout > 0 ? calloc(spec->depth, sizeof *m->drop) : NULL;
    m->qkn = spec->qk_norm ? calloc(spec->depth, sizeof *m->qkn) : NULL;
    m->net.params = gs_arena_alloc(2 * np);
    m->acts = gs_arena_alloc(na);
    if (!m->blocks || (spec->dropout > 0 && !m->drop) || (spec->qk_norm && !m->qkn) ||
        !m->net.params || !m->acts) {
        free(sh);
        tf_free(&m->net);
        return NULL;
    }
    m->net.grads = m->net.params + np;
    param_shapes(spec, sh);
    for (size_t i = 0; i < nt; i++) {
        const tf_shape_t *t = &sh[i];
        double **p, **g;
        if (t->kind >= GS_TENSOR_QN_G) {   /* QK-norm's, of a block: past TF_BLOCK_KINDS */
            p = &m->qkn[t->layer - 1].p[t->kind - GS_TENSOR_QN_G];
            g = &m->qkn[t->layer - 1].g[t->kind - GS_TENSOR_QN_G];
        } else if (t->layer) {
            assert(t->kind < TF_BLOCK_KINDS);
            p = &m->blocks[t->layer - 1].p[t->kind];
            g = &m->blocks[t->layer - 1].g[t->kind];
        } else {
            p = &m->top_p[t->kind];
            g = &m->top_g[t->kind];
        }
        gs_net_add_tensor(&m->net, t->kind, t->layer, t->rows, t->cols, p, g);
        if (t->kind == GS_TENSOR_WTE || t->kind == GS_TENSOR_WPE)   /* "wte", not "wte_out" */
            strcpy(m->net.tensors[m->net.n_tensors - 1].name, gs_tensor_kinds[t->kind].prefix);
    }
    free(sh);
    gs_arena_cursor_t c = gs_arena_cursor(m->acts, na);
    size_t taken = lay_out_acts(spec, m, &c);
    gs_arena_end(&c);
    assert(taken == na);
    assert(m->net.n_tensors == nt && gs_net_tensors_end(&m->net) == np);
    /* Q, K, V stacked: one (3d, d) matrix and one (3d) bias */
    for (size_t l = 0; l < spec->depth; l++) {
        const tf_block_t *b = &m->blocks[l];
        size_t dd = spec->d_model * spec->d_model;
        assert(b->p[GS_TENSOR_WK] == b->p[GS_TENSOR_WQ] + dd &&
               b->p[GS_TENSOR_WV] == b->p[GS_TENSOR_WK] + dd);
        assert(b->p[GS_TENSOR_BK] == b->p[GS_TENSOR_BQ] + spec->d_model &&
               b->p[GS_TENSOR_BV] == b->p[GS_TENSOR_BK] + spec->d_model);
        (void)b;
    }
    return &m->net;
}

gs_rng_t *gs_tf_dropout_rng(gs_net_t *net)
{
    return &((gs_tf_t *)net)->drop_rng;
}

void gs_tf_dropout_hold(gs_net_t *net, int hold)
{
    ((gs_tf_t *)net)->drop_hold = hold;
}

const double *gs_tf_dropout_mask(const gs_net_t *net, size_t l, gs_tf_drop_site_t site)
{
    const gs_tf_t *m = (const gs_tf_t *)net;
    if (!m->drop_on || l < 1 || l > m->spec.depth || site >= GS_TF_N_DROP)
        return NULL;
    return m->drop[l - 1].mask[site];
}

const gs_tf_spec_t *gs_tf_spec(const gs_net_t *net)
{
    return &((const gs_tf_t *)net)->spec;
}

void gs_tf_init(gs_net_t *net, const gs_init_spec_t *init, gs_rng_t *rng)
{
    gs_tf_t *m = (gs_tf_t *)net;
    const gs_tf_spec_t *s = &m->spec;
    size_t L = s->depth;
    double beta = s->residual_scale == GS_RS_DEEPNORM ? pow(8.0 * (double)L, -0.25) : 1.0;
    double out_scale = s->residual_scale == GS_RS_GPT2 ? 1.0 / sqrt(2.0 * (double)L) : 1.0;
    /* the gain of each weight kind on top of the init's */
    double gain[GS_N_TENSOR_KINDS];
    for (int k = 0; k < GS_N_TENSOR_KINDS; k++)
        gain[k] = init->gain;
    gain[GS_TENSOR_WV] *= beta;
    gain[GS_TENSOR_WO] *= beta * out_scale;
    gain[GS_TENSOR_WFC] *= beta;
    gain[GS_TENSOR_WPROJ] *= beta * out_scale;
    for (size_t i = 0; i < net->n_tensors; i++) {
        const gs_tensor_t *T = &net->tensors[i];
        double *p = net->params + T->offset;
        size_t n = T->rows * T->cols;
        switch (T->kind) {
        case GS_TENSOR_WTE:
        case GS_TENSOR_WPE:
            gs_rng_normal_fill(rng, p, n, 1.0);
            break;
        case GS_TENSOR_LN1_G:
        case GS_TENSOR_LN2_G:
        case GS_TENSOR_QN_G:
        case GS_TENSOR_KN_G:
        case GS_TENSOR_GAMMA:
            for (size_t j = 0; j < n; j++)
                p[j] = 1.0;
            break;
        case GS_TENSOR_LN1_B:
        case GS_TENSOR_LN2_B:
        case GS_TENSOR_QN_B:
        case GS_TENSOR_KN_B:
        case GS_TENSOR_BETA:
        case GS_TENSOR_REZERO:
            memset(p, 0, n * sizeof *p);
            break;
        default:
            if (T->weight)   /* (fan_out, fan_in) */
                gs_init_fill(p, T->rows, T->cols, init->init, init->param, gain[T->kind], rng,
                             m->init_work);
            else
                gs_init_bias(p, n, init->bias_std, rng);
        }
    }
}

/* ---- kernels ---- */

/* out (N, d) = wte[tok] + wpe[t] */
static void embed_forward(double *out, const double *tokens, const double *wte,
                          const double *wpe, size_t n, size_t T, size_t d)
{
#pragma omp parallel for schedule(static) if (n * T * d >= GS_PAR_MIN)
    for (size_t r = 0; r < n * T; r++) {
        size_t tok = (size_t)tokens[r];
        const double *e = wte + tok * d, *p = wpe + (r % T) * d;
        double *o = out + r * d;
        for (size_t j = 0; j < d; j++)
            o[j] = e[j] + p[j];
    }
}

/* dwte (V, d), dwpe (T, d) written from dout (N, d): rows summed in row
 * order, each column apart, so any thread split gives the same sums */
static void embed_backward(double *dwte, double *dwpe, const double *dout, const double *tokens,
                           size_t n, size_t T, size_t V, size_t d)
{
    memset(dwte, 0, V * d * sizeof *dwte);
    memset(dwpe, 0, T * d * sizeof *dwpe);
#pragma omp parallel for schedule(static) if (n * T * d >= GS_PAR_MIN)
    for (size_t j = 0; j < d; j++)
        for (size_t r = 0; r < n * T; r++) {
            dwte[(size_t)tokens[r] * d + j] += dout[r * d + j];
            dwpe[(r % T) * d + j] += dout[r * d + j];
        }
}

/* mask (rows, cols) of dropout p: row r's entries from a generator of its
 * own, seeded with (key, site << 40 | r) - rows stay below 2^40
 * (gs_tf_spec_error) - so a row's mask depends on neither the thread
 * that draws it nor how many rows there are; 1/(1-p) with probability
 * 1-p (a uniform u < 1-p, PyTorch's bernoulli(1-p)), else 0. */
static void draw_mask(double *mask, size_t rows, size_t cols, uint64_t key, uint64_t site,
                      double p)
{
    double keep = 1.0 - p, scale = 1.0 / keep;
#pragma omp parallel for schedule(static) if (rows * cols >= GS_PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        gs_rng_t g;
        gs_rng_seed(&g, key, site << 40 | (uint64_t)r);
        double *mr = mask + r * cols;
        for (size_t j = 0; j < cols; j++)
            mr[j] = gs_rng_uniform(&g) < keep ? scale : 0.0;
    }
}

/* Block b's dropout */
static tf_drop_t *drop_of(gs_tf_t *m, const tf_block_t *b)
{
    return &m->drop[b - m->blocks];
}

/* out[i] = x[i] mask[i], i < n (out may be x) */
static void apply_mask(double *out, const double *x, const double *mask, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= GS_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        out[i] = x[i] * mask[i];
}

/* n values stored in the model's format (nothing in float64) */
static void to_fmt(const gs_tf_t *m, double *x, size_t n)
{
    gs_arith_round(&m->ar, x, n);
}

/* The arithmetic of attention task bh (sequence bh / H, head bh % H):
 * its own slice of scratch (float64: m->ar, gs_gemm) - no two tasks
 * share one, whichever threads run them, and the model's size does not
 * depend on the thread count. */
static gs_arith_t task_arith(const gs_tf_t *m, size_t bh)
{
    if (!m->ar.fmt)
        return m->ar;
    assert(bh < m->spec.capacity * m->spec.heads);
    return (gs_arith_t){m->ar.fmt, m->attn_work + bh * m->attn_work_n, m->attn_work_n};
}

/* Row i of S (T, T) in place: softmax of its first `valid` entries (the
 * causal mask: valid = i + 1), zeros after; returns the row's largest logit. */
static double softmax_row(double *s, size_t valid, size_t T)
{
    double mx = s[0];
    for (size_t j = 1; j < valid; j++)
        mx = s[j] > mx ? s[j] : mx;
    for (size_t j = 0; j < valid; j++)
        s[j] -= mx;
    gs_vexp(s, s, valid);   /* vector exp: a value's result depends on it alone */
    double sum = 0.0;
    for (size_t j = 0; j < valid; j++)
        sum += s[j];
    for (size_t j = 0; j < valid; j++)
        s[j] /= sum;
    for (size_t j = valid; j < T; j++)
        s[j] = 0.0;
    return mx;
}

/* QK-norm of block b in place on the first 2d values of each row of
 * qkv (N, 3d), Q's H heads then K's: group r < N 2H (row r / 2H, head
 * r % 2H of them) of d_head values x -> g xhat + s, xhat = (x - mean) /
 * sqrt(var + eps) as nn/norm.c's layer norm, g and s Q's or K's (shared
 * by the heads) */
static void qk_norm_forward(double *qkv, tf_qkn_t *b, size_t N, size_t d, size_t H)
{
    size_t dh = d / H;
#pragma omp parallel for schedule(static) if (N * 2 * d >= GS_PAR_MIN)
    for (size_t r = 0; r < N * 2 * H; r++) {
        size_t c = r % (2 * H), part = c / H;   /* 0: Q, 1: K */
        double *x = qkv + (r / (2 * H)) * 3 * d + c * dh, *xh = b->xhat + r * dh;
        const double *g = b->p[2 * part], *sh = b->p[2 * part + 1];
        double mean = 0.0, var = 0.0;
        for (size_t j = 0; j < dh; j++)
            mean += x[j];
        mean /= (double)dh;
        for (size_t j = 0; j < dh; j++)
            var += (x[j] - mean) * (x[j] - mean);
        double rs = 1.0 / sqrt(var / (double)dh + GS_NORM_EPS);
        b->rstd[r] = rs;
        for (size_t j = 0; j < dh; j++) {
            xh[j] = (x[j] - mean) * rs;
            x[j] = g[j] * xh[j] + sh[j];
        }
    }
}

/* dqkv's first 2d values of each row hold dL/d(the normed Q, K): they get
 * dL/d(Q, K) before the norm, in place; the gains' and shifts' gradients
 * written, summed over rows then heads in that order (any thread split
 * gives the same sums) */
static void qk_norm_backward(double *dqkv, tf_qkn_t *b, size_t N, size_t d, size_t H)
{
    size_t dh = d / H;
    const double n = (double)dh;
#pragma omp parallel for schedule(static) if (N * 2 * d >= GS_PAR_MIN)
    for (size_t k = 0; k < 2 * dh; k++) {
        size_t part = k / dh, j = k % dh;
        double dg = 0.0, ds = 0.0;
        for (size_t i = 0; i < N; i++)
            for (size_t h = 0; h < H; h++) {
                size_t c = part * H + h;
                double dy = dqkv[i * 3 * d + c * dh + j];
                dg += dy * b->xhat[(i * 2 * H + c) * dh + j];
                ds += dy;
            }
        b->g[2 * part][j] = dg;
        b->g[2 * part + 1][j] = ds;
    }
#pragma omp parallel for schedule(static) if (N * 2 * d >= GS_PAR_MIN)
    for (size_t r = 0; r < N * 2 * H; r++) {
        size_t c = r % (2 * H), part = c / H;
        double *dx = dqkv + (r / (2 * H)) * 3 * d + c * dh;
        const double *xh = b->xhat + r * dh, *g = b->p[2 * part];
        double sg = 0.0, sgx = 0.0;
        for (size_t j = 0; j < dh; j++) {
            sg += dx[j] * g[j];
            sgx += dx[j] * g[j] * xh[j];
        }
        for (size_t j = 0; j < dh; j++)
            dx[j] = b->rstd[r] / n * (n * dx[j] * g[j] - sg - xh[j] * sgx);
    }
}

/* out (N, d) = attention of in (N, d): qkv (N, 3d), prob (n, H, T, T),
 * lmax (n, H), atty (N, d) kept for backward. With dropout on, Y = (P o M) V
 * (M the block's GS_TF_DROP_ATTN mask; P o M in the free backward scratch
 * dprob), prob keeps P. */
static void attention_forward(double *out, tf_block_t *b, const double *in, size_t n,
                              gs_tf_t *m)
{
    const gs_tf_spec_t *s = &m->spec;
    size_t T = s->seq_len, d = s->d_model, H = s->heads, dh = d / H, N = n * T;
    const double *mask = m->drop_on ? drop_of(m, b)->mask[GS_TF_DROP_ATTN] : NULL;
    double scale = 1.0 / sqrt((double)dh);
    gs_linear_forward_ar(&m->ar, b->qkv, in, b->p[GS_TENSOR_WQ], b->p[GS_TENSOR_BQ], N, d, 3 * d);
    if (s->qk_norm) {   /* qkv keeps the normed Q and K */
        tf_qkn_t *qn = &m->qkn[b - m->blocks];
        qk_norm_forward(b->qkv, qn, N, d, H);
        to_fmt(m, b->qkv, 3 * N * d);   /* V is a value of the format already */
        to_fmt(m, qn->xhat, 2 * N * d);
    }
    /* heads batched: one task per (sequence, head), each two products
     * (each a value of the format: the logits S, P after the softmax,
     * P o M and Y) */
#pragma omp parallel for schedule(static) if (n * H > 1 && N * T * d >= GS_PAR_MIN)
    for (size_t bh = 0; bh < n * H; bh++) {
        gs_arith_t ar = task_arith(m, bh);
        size_t q = bh / H, h = bh % H;
        const double *Q = b->qkv + q * T * 3 * d + h * dh, *K = Q + d, *V = Q + 2 * d;
        double *P = b->prob + bh * T * T;               /* (T, T) */
        gs_gemm_fmt(&ar, 0, 1, T, T, dh, scale, Q, 3 * d, K, 3 * d, 0.0, P, T);
        double mx = -INFINITY;
        for (size_t i = 0; i < T; i++) {
            double r = softmax_row(P + i * T, s->causal ? i + 1 : T, T);
            mx = r > mx ? r : mx;
        }
        gs_arith_round(&ar, P, T * T);
        b->lmax[bh] = mx;
        const double *Pd = P;
        if (mask) {
            double *D = m->dprob + bh * T * T;
            const double *M = mask + bh * T * T;
            for (size_t i = 0; i < T * T; i++)
                D[i] = P[i] * M[i];
            gs_arith_round(&ar, D, T * T);
            Pd = D;
        }
        double *Y = b->atty + q * T * d + h * dh;       /* (T, dh) of (N, d) */
        gs_gemm_fmt(&ar, 0, 0, T, dh, T, 1.0, Pd, T, V, 3 * d, 0.0, Y, d);
    }
    gs_linear_forward_ar(&m->ar, out, b->atty, b->p[GS_TENSOR_WO], b->p[GS_TENSOR_BO], N, d, d);
}

/* din (N, d) written from dout (N, d); the block's attention gradients
 * written. Uses m->dqkv, m->datty, m->dprob. */
static void attention_backward(double *din, const double *dout, tf_block_t *b, const double *in,
                               size_t n, gs_tf_t *m)
{
    const gs_tf_spec_t *s = &m->spec;
    size_t T = s->seq_len, d = s->d_model, H = s->heads, dh = d / H, N = n * T;
    double scale = 1.0 / sqrt((double)dh);
    const double *mask = m->drop_on ? drop_of(m, b)->mask[GS_TF_DROP_ATTN] : NULL;
    gs_linear_backward_ar(&m->ar, m->datty, b->g[GS_TENSOR_WO], b->g[GS_TENSOR_BO], dout, b->atty,
                          b->p[GS_TENSOR_WO], N, d, d, 0);
    /* each task's dV, dP (masked), dS, dQ, dK values of the format */
#pragma omp parallel for schedule(static) if (n * H > 1 && N * T * d >= GS_PAR_MIN)
    for (size_t bh = 0; bh < n * H; bh++) {
        gs_arith_t ar = task_arith(m, bh);
        size_t q = bh / H, h = bh % H;
        size_t off = q * T * 3 * d + h * dh;
        const double *Q = b->qkv + off, *K = Q + d, *V = Q + 2 * d;
        double *dQ = m->dqkv + off, *dK = dQ + d, *dV = dQ + 2 * d;
        const double *P = b->prob + bh * T * T;
        double *dP = m->dprob + bh * T * T;
        const double *dY = m->datty + q * T * d + h * dh;
        if (mask) {   /* Y = (P o M) V: dV = (P o M)^T dY, dP = (dY V^T) o M */
            const double *M = mask + bh * T * T;
            for (size_t i = 0; i < T * T; i++)
                dP[i] = P[i] * M[i];
            gs_arith_round(&ar, dP, T * T);   /* the forward's P o M */
            gs_gemm_fmt(&ar, 1, 0, T, dh, T, 1.0, dP, T, dY, d, 0.0, dV, 3 * d);
            gs_gemm_fmt(&ar, 0, 1, T, T, dh, 1.0, dY, d, V, 3 * d, 0.0, dP, T);
            for (size_t i = 0; i < T * T; i++)
                dP[i] *= M[i];
            gs_arith_round(&ar, dP, T * T);
        } else {
            gs_gemm_fmt(&ar, 1, 0, T, dh, T, 1.0, P, T, dY, d, 0.0, dV, 3 * d);    /* dV = P^T dY */
            gs_gemm_fmt(&ar, 0, 1, T, T, dh, 1.0, dY, d, V, 3 * d, 0.0, dP, T);    /* dP = dY V^T */
        }
        /* dS = P (dP - sum_j P dP), masked entries P = 0 */
        for (size_t i = 0; i < T; i++) {
            const double *p = P + i * T;
            double *g = dP + i * T, dot = 0.0;
            for (size_t j = 0; j < T; j++)
                dot += p[j] * g[j];
            for (size_t j = 0; j < T; j++)
                g[j] = p[j] * (g[j] - dot);
        }
        gs_arith_round(&ar, dP, T * T);
        gs_gemm_fmt(&ar, 0, 0, T, dh, T, scale, dP, T, K, 3 * d, 0.0, dQ, 3 * d);   /* dQ = dS K */
        gs_gemm_fmt(&ar, 1, 0, T, dh, T, scale, dP, T, Q, 3 * d, 0.0, dK, 3 * d);   /* dK = dS^T Q */
    }
    if (s->qk_norm) {
        tf_qkn_t *qn = &m->qkn[b - m->blocks];
        qk_norm_backward(m->dqkv, qn, N, d, H);
        to_fmt(m, m->dqkv, 3 * N * d);   /* dV is a value of the format already */
        for (int k = 0; k < 4; k++)
            to_fmt(m, qn->g[k], dh);
    }
    gs_linear_backward_ar(&m->ar, din, b->g[GS_TENSOR_WQ], b->g[GS_TENSOR_BQ], m->dqkv,
                          in, b->p[GS_TENSOR_WQ], N, d, 3 * d, 0);
}

/* out (N, d) = phi(in Wfc^T + bfc) Wproj^T + bproj; with dropout on,
 * (phi(.) o M) Wproj^T + bproj, phi(.) o M kept in fcd */
static void mlp_forward(double *out, tf_block_t *b, const double *in, size_t n, gs_tf_t *m)
{
    const gs_tf_spec_t *s = &m->spec;
    size_t N = n * s->seq_len, d = s->d_model, f = s->ffn;
    gs_linear_forward_ar(&m->ar, b->fch, in, b->p[GS_TENSOR_WFC], b->p[GS_TENSOR_BFC], N, d, f);
    gs_act_forward(s->act, s->act_param, b->fcg, b->fch, N * f);
    to_fmt(m, b->fcg, N * f);
    const double *g = b->fcg;
    if (m->drop_on) {
        tf_drop_t *dr = drop_of(m, b);
        apply_mask(dr->fcd, b->fcg, dr->mask[GS_TF_DROP_ACT], N * f);
        to_fmt(m, dr->fcd, N * f);
        g = dr->fcd;
    }
    gs_linear_forward_ar(&m->ar, out, g, b->p[GS_TENSOR_WPROJ], b->p[GS_TENSOR_BPROJ], N, f, d);
}

static void mlp_backward(double *din, const double *dout, tf_block_t *b, const double *in,
                         size_t n, gs_tf_t *m)
{
    const gs_tf_spec_t *s = &m->spec;
    size_t N = n * s->seq_len, d = s->d_model, f = s->ffn;
    gs_linear_backward_ar(&m->ar, m->dh, b->g[GS_TENSOR_WPROJ], b->g[GS_TENSOR_BPROJ], dout,
                          m->drop_on ? drop_of(m, b)->fcd : b->fcg, b->p[GS_TENSOR_WPROJ], N, f,
                          d, 0);
    if (m->drop_on) {
        apply_mask(m->dh, m->dh, drop_of(m, b)->mask[GS_TF_DROP_ACT], N * f);
        to_fmt(m, m->dh, N * f);
    }
    gs_act_backward(s->act, s->act_param, m->dh, m->dh, b->fch, b->fcg, N * f);
    to_fmt(m, m->dh, N * f);
    gs_linear_backward_ar(&m->ar, din, b->g[GS_TENSOR_WFC], b->g[GS_TENSOR_BFC], m->dh, in,
                          b->p[GS_TENSOR_WFC], N, d, f, 0);
}

/* The norm's gain and shift of sublayer k, by kind */
static const gs_tensor_kind_t norm_kind[N_SUB][2] = {
    [SUB_ATTN] = {GS_TENSOR_LN1_G, GS_TENSOR_LN1_B},
    [SUB_MLP] = {GS_TENSOR_LN2_G, GS_TENSOR_LN2_B},
};

/* The residual scale s of sublayer k: ReZero's scalar, else 1 */
static double branch_scale(const tf_block_t *b, int k)
{
    return b->p[GS_TENSOR_REZERO] ? b->p[GS_TENSOR_REZERO][k] : 1.0;
}

/* The mask of sublayer k's output */
static const gs_tf_drop_site_t out_site[N_SUB] = {
    [SUB_ATTN] = GS_TF_DROP_ATTN_OUT, [SUB_MLP] = GS_TF_DROP_MLP_OUT,
};

/* Draws block l's (0-based) masks of sublayer k for n sequences */
static void draw_masks(gs_tf_t *m, size_t l, int k, size_t n)
{
    const gs_tf_spec_t *s = &m->spec;
    size_t N = n * s->seq_len, T = s->seq_len;
    tf_drop_t *b = &m->drop[l];
    uint64_t site = (uint64_t)l * GS_TF_N_DROP;
    if (k == SUB_ATTN)
        draw_mask(b->mask[GS_TF_DROP_ATTN], n * s->heads * T, T, m->drop_key,
                  site + GS_TF_DROP_ATTN, s->dropout);
    else
        draw_mask(b->mask[GS_TF_DROP_ACT], N, s->ffn, m->drop_key, site + GS_TF_DROP_ACT,
                  s->dropout);
    draw_mask(b->mask[out_site[k]], N, s->d_model, m->drop_key, site + out_site[k], s->dropout);
}

/* Sublayer k of block b over the stream x (N, d): returns its output. */
static const double *sublayer_forward(gs_tf_t *m, tf_block_t *b, int k, const double *x, size_t n)
{
    const gs_tf_spec_t *s = &m->spec;
    size_t N = n * s->seq_len, d = s->d_model;
    tf_sub_t *u = &b->sub[k];
    const double *gam = b->p[norm_kind[k][0]], *bet = b->p[norm_kind[k][1]];
    u->in = x;
    u->in_f = x;
    if (s->ln == GS_LN_PRE) {
        gs_norm_forward(u->normed, u->xhat, u->mean, u->rstd, x, gam, bet, NULL, NULL, N, d,
                        GS_NORM_LAYER);
        to_fmt(m, u->normed, N * d);
        to_fmt(m, u->xhat, N * d);
        u->in_f = u->normed;
    }
    if (m->drop_on)
        draw_masks(m, (size_t)(b - m->blocks), k, n);
    if (k == SUB_ATTN)
        attention_forward(u->f, b, u->in_f, n, m);
    else
        mlp_forward(u->f, b, u->in_f, n, m);
    if (m->drop_on) {   /* F(x) o M: what the residual sum (and ReZero's ds) sees */
        apply_mask(u->f, u->f, drop_of(m, b)->mask[out_site[k]], N * d);
        to_fmt(m, u->f, N * d);
    }
    double a = s->skip ? m->alpha : 0.0, sc = branch_scale(b, k);
#pragma omp parallel for simd schedule(static) if (N * d >= GS_PAR_MIN)
    for (size_t i = 0; i < N * d; i++)
        u->res[i] = a * x[i] + sc * u->f[i];
    to_fmt(m, u->res, N * d);
    u->out = u->res;
    if (s->ln == GS_LN_POST) {
        gs_norm_forward(u->normed, u->xhat, u->mean, u->rstd, u->res, gam, bet, NULL, NULL, N, d,
                        GS_NORM_LAYER);
        to_fmt(m, u->normed, N * d);
        to_fmt(m, u->xhat, N * d);
        u->out = u->normed;
    }
    return u->out;
}

/* m->dx (N, d) holds dL/d(sublayer k's output) and gets dL/d(its input). */
static void sublayer_backward(gs_tf_t *m, tf_block_t *b, int k, size_t n)
{
    const gs_tf_spec_t *s = &m->spec;
    size_t N = n * s->seq_len, d = s->d_model;
    tf_sub_t *u = &b->sub[k];
    const double *gam = b->p[norm_kind[k][0]];
    double *dgam = b->g[norm_kind[k][0]], *dbet = b->g[norm_kind[k][1]];
    double *dx = m->dx, *dres = dx;
    if (s->ln == GS_LN_POST) {   /* dres = LN'(dx) */
        gs_norm_backward(m->dB, dgam, dbet, dx, u->xhat, u->rstd, gam, N, d, GS_NORM_LAYER);
        to_fmt(m, m->dB, N * d);
        to_fmt(m, dgam, d);
        to_fmt(m, dbet, d);
        dres = m->dB;
    }
    const double *df = dres;
    if (b->p[GS_TENSOR_REZERO]) {   /* res = a x + s f: ds = <dres, f>, df = s dres */
        double sc = branch_scale(b, k), ds = 0.0;
        for (size_t i = 0; i < N * d; i++) {
            ds += dres[i] * u->f[i];
            m->dC[i] = sc * dres[i];
        }
        b->g[GS_TENSOR_REZERO][k] = ds;
        to_fmt(m, &b->g[GS_TENSOR_REZERO][k], 1);
        to_fmt(m, m->dC, N * d);
        df = m->dC;
    }
    if (m->drop_on) {   /* f = F o M: dF = df o M */
        apply_mask(m->dC, df, drop_of(m, b)->mask[out_site[k]], N * d);
        to_fmt(m, m->dC, N * d);
        df = m->dC;
    }
    if (k == SUB_ATTN)
        attention_backward(m->dA, df, b, u->in_f, n, m);
    else
        mlp_backward(m->dA, df, b, u->in_f, n, m);
    const double *dinx = m->dA;   /* dL/dx through F */
    if (s->ln == GS_LN_PRE) {
        gs_norm_backward(m->dB, dgam, dbet, m->dA, u->xhat, u->rstd, gam, N, d, GS_NORM_LAYER);
        to_fmt(m, m->dB, N * d);
        to_fmt(m, dgam, d);
        to_fmt(m, dbet, d);
        dinx = m->dB;
    }
    double a = s->skip ? m->alpha : 0.0;
#pragma omp parallel for simd schedule(static) if (N * d >= GS_PAR_MIN)
    for (size_t i = 0; i < N * d; i++)
        dx[i] = dinx[i] + a * dres[i];
    to_fmt(m, dx, N * d);
}

static void tf_forward(gs_net_t *net, const double *x, size_t n, int train)
{
    gs_tf_t *m = (gs_tf_t *)net;   /* no running statistics: only dropout tells train apart */
    const gs_tf_spec_t *s = &m->spec;
    m->drop_on = train && s->dropout > 0;
    if (m->drop_on && (!m->drop_hold || !m->drop_have_key)) {
        m->drop_key = gs_rng_u64(&m->drop_rng);
        m->drop_have_key = 1;
    }
    assert(n <= s->capacity);
    size_t T = s->seq_len, d = s->d_model, N = n * T;
    for (size_t i = 0; i < N; i++)   /* the data's contract: whole ids below vocab */
        assert(x[i] >= 0 && x[i] < (double)s->vocab && x[i] == floor(x[i]));
    m->tokens = x;
    embed_forward(m->x0, x, m->top_p[GS_TENSOR_WTE], m->top_p[GS_TENSOR_WPE], n, T, d);
    to_fmt(m, m->x0, N * d);
    const double *h = m->x0;
    for (size_t l = 0; l < s->depth; l++) {
        tf_block_t *b = &m->blocks[l];
        h = sublayer_forward(m, b, SUB_ATTN, h, n);
        if (s->mlp)
            h = sublayer_forward(m, b, SUB_MLP, h, n);
    }
    if (s->ln == GS_LN_PRE) {
        gs_norm_forward(m->fnormed, m->fxhat, m->fmean, m->frstd, h, m->top_p[GS_TENSOR_GAMMA],
                        m->top_p[GS_TENSOR_BETA], NULL, NULL, N, d, GS_NORM_LAYER);
        to_fmt(m, m->fnormed, N * d);
        to_fmt(m, m->fxhat, N * d);
        h = m->fnormed;
    }
    m->xL = h;
    gs_linear_forward_ar(&m->ar, net->out, h, m->top_p[GS_TENSOR_W], m->top_p[GS_TENSOR_B], N, d,
                         s->vocab);
}

static void tf_backward(gs_net_t *net, size_t n)
{
    gs_tf_t *m = (gs_tf_t *)net;
    const gs_tf_spec_t *s = &m->spec;
    size_t T = s->seq_len, d = s->d_model, N = n * T;
    to_fmt(m, net->dout, N * s->vocab);
    if (net->measure && net->fmt_grad_pre) {   /* the readout's: dL/dlogits */
        gs_fmt_counts_clear(&net->fmt_grad_pre[s->depth]);
        gs_fmt_count(&net->fmt_grad_pre[s->depth], net->dout, N * s->vocab);
    }
    if (s->ln == GS_LN_PRE) {
        gs_linear_backward_ar(&m->ar, m->dA, m->top_g[GS_TENSOR_W], m->top_g[GS_TENSOR_B],
                              net->dout, m->xL, m->top_p[GS_TENSOR_W], N, d, s->vocab, 0);
        gs_norm_backward(m->dx, m->top_g[GS_TENSOR_GAMMA], m->top_g[GS_TENSOR_BETA], m->dA,
                         m->fxhat, m->frstd, m->top_p[GS_TENSOR_GAMMA], N, d, GS_NORM_LAYER);
        to_fmt(m, m->dx, N * d);
        to_fmt(m, m->top_g[GS_TENSOR_GAMMA], d);
        to_fmt(m, m->top_g[GS_TENSOR_BETA], d);
    } else {
        gs_linear_backward_ar(&m->ar, m->dx, m->top_g[GS_TENSOR_W], m->top_g[GS_TENSOR_B],
                              net->dout, m->xL, m->top_p[GS_TENSOR_W], N, d, s->vocab, 0);
    }
    for (size_t l = s->depth; l-- > 0;) {
        tf_block_t *b = &m->blocks[l];
        if (s->mlp)
            sublayer_backward(m, b, SUB_MLP, n);
        sublayer_backward(m, b, SUB_ATTN, n);
        if (net->measure)
            b->grad_x_norm = gs_norm2(m->dx, N * d);
        if (net->measure && net->fmt_grad_pre) {   /* the values of grad_x_norm */
            gs_fmt_counts_clear(&net->fmt_grad_pre[l]);
            gs_fmt_count(&net->fmt_grad_pre[l], m->dx, N * d);
        }
    }
    embed_backward(m->top_g[GS_TENSOR_WTE], m->top_g[GS_TENSOR_WPE], m->dx, m->tokens, n, T,
                   s->vocab, d);
    /* summed in double, rounded once (as a bias's gradient) */
    to_fmt(m, m->top_g[GS_TENSOR_WTE], s->vocab * d);
    to_fmt(m, m->top_g[GS_TENSOR_WPE], T * d);
}

/* ---- measurements ---- */

const double *gs_tf_block_output(const gs_net_t *net, size_t l)
{
    const gs_tf_t *m = (const gs_tf_t *)net;
    const gs_tf_spec_t *s = &m->spec;
    if (l == 0)
        return m->x0;
    if (l <= s->depth)
        return m->blocks[l - 1].sub[s->mlp ? SUB_MLP : SUB_ATTN].out;
    if (l == s->depth + 1 && s->ln == GS_LN_PRE)
        return m->fnormed;
    return NULL;
}

/* Over the n sequences of X (n T, d): the mean token cosine and Dong's
 * relative residual. T = 1 has no pairs: its cosine is NaN. */
static void token_geometry(const double *X, size_t n, size_t T, size_t d, double *cosine,
                           double *residual, double *work /* 2 d */)
{
    double *sum_u = work, *mean = work + d, cs = 0.0, rr = 0.0;
    for (size_t q = 0; q < n; q++) {
        const double *Xq = X + q * T * d;
        memset(work, 0, 2 * d * sizeof *work);
        double total = 0.0;
        for (size_t i = 0; i < T; i++) {
            const double *x = Xq + i * d;
            double nn = 0.0;
            for (size_t j = 0; j < d; j++)
                nn += x[j] * x[j];
            total += nn;
            double inv = nn > 0 ? 1.0 / sqrt(nn) : 0.0;
            for (size_t j = 0; j < d; j++) {
                sum_u[j] += x[j] * inv;
                mean[j] += x[j] / (double)T;
            }
        }
        /* sum over i != j of u_i . u_j = ||sum u||^2 - sum ||u_i||^2 */
        double su = 0.0;
        for (size_t j = 0; j < d; j++)
            su += sum_u[j] * sum_u[j];
        cs += (su - (double)T) / ((double)T * (double)(T - 1));
        double dev = 0.0;
        for (size_t i = 0; i < T; i++)
            for (size_t j = 0; j < d; j++) {
                double e = Xq[i * d + j] - mean[j];
                dev += e * e;
            }
        rr += total > 0 ? sqrt(dev / total) : 0.0;
    }
    *cosine = T > 1 ? cs / (double)n : NAN;
    *residual = rr / (double)n;
}

/* Head h's mean attention entropy over the n sequences and T query
 * positions of the last forward, -sum_j P_ij ln P_ij, and its largest
 * scaled logit. */
static void head_stats(const tf_block_t *b, size_t n, size_t T, size_t H, size_t h,
                       double *entropy, double *logit_max)
{
    double e = 0.0, lmax = -INFINITY;
    for (size_t q = 0; q < n; q++) {
        const double *P = b->prob + (q * H + h) * T * T;
        for (size_t i = 0; i < T * T; i++)
            e -= P[i] > 0 ? P[i] * log(P[i]) : 0.0;
        lmax = b->lmax[q * H + h] > lmax ? b->lmax[q * H + h] : lmax;
    }
    *entropy = e / (double)(n * T);
    *logit_max = lmax;
}

void gs_tf_block_stats(const gs_net_t *net, size_t n, gs_tf_block_stats_t *stats)
{
    const gs_tf_t *m = (const gs_tf_t *)net;
    const gs_tf_spec_t *s = &m->spec;
    size_t T = s->seq_len, d = s->d_model, H = s->heads;
    for (size_t l = 0; l < s->depth; l++) {
        const tf_block_t *b = &m->blocks[l];
        gs_tf_block_stats_t *st = &stats[l];
        const double *X = gs_tf_block_output(net, l + 1);
        st->grad_x_norm = b->grad_x_norm / net->grad_scale;   /* backward's is loss-scaled */
        st->rms = gs_norm2(X, n * T * d) / sqrt((double)(n * T * d));
        /* the backward scratch dqkv (3 N d >= 2 d) is free between steps */
        token_geometry(X, n, T, d, &st->token_cosine, &st->rank_residual, m->dqkv);
        double emin = INFINITY, lmax = -INFINITY;
        for (size_t h = 0; h < H; h++) {
            double e, lm;
            head_stats(b, n, T, H, h, &e, &lm);
            emin = e < emin ? e : emin;
            lmax = lm > lmax ? lm : lmax;
        }
        st->attn_entropy_min = emin;
        st->attn_logit_max = lmax;
    }
}

void gs_tf_head_stats(const gs_net_t *net, size_t n, size_t l, double *entropy,
                      double *logit_max)
{
    const gs_tf_t *m = (const gs_tf_t *)net;
    const gs_tf_spec_t *s = &m->spec;
    assert(l >= 1 && l <= s->depth && n <= s->capacity);
    for (size_t h = 0; h < s->heads; h++)
        head_stats(&m->blocks[l - 1], n, s->seq_len, s->heads, h, &entropy[h], &logit_max[h]);
}

static void tf_free(gs_net_t *net)
{
    gs_tf_t *m = (gs_tf_t *)net;
    free(m->blocks);
    free(m->drop);
    free(m->qkn);
    gs_arena_free(m->net.params);
    gs_arena_free(m->acts);
    free(m);
}
