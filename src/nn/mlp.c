#include <config.h>

#include "nn/mlp.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/arena.h"
#include "nn/gemm.h"
#include "nn/linear.h"
#include "nn/par.h"

/* Views into the parameter and activation arenas, one per layer. */
typedef struct {
    double *w, *b, *gamma, *beta;       /* parameters */
    double *dw, *db, *dgamma, *dbeta;   /* their gradients */
    size_t in, out;
    double *h;                          /* (cap, out) pre-activation */
    double *xhat, *a;                   /* (cap, out) with norm; a = h without */
    double *mean, *rstd;                /* (max(cap, out)) normalization stats */
    double *run_mean, *run_var;         /* (out) batch norm */
    double *x;                          /* (cap, out) layer output */
    double grad_pre_norm;
} mlp_layer_t;

typedef struct {
    gs_net_t net;          /* first: a gs_net_t* is a gs_mlp_t* */
    gs_mlp_spec_t spec;
    mlp_layer_t *layers;   /* depth hidden layers, then the readout */
    const double *input;   /* (cap, in_dim) rows of the last forward */
    double *acts;          /* activation arena */
    double *dx, *dx_prev, *da, *dh;   /* (cap, width) backward scratch */
    double *ortho_work;    /* ortho_work_size(): the largest W, for orthogonal init */
    gs_arith_t ar;         /* spec.fmt and the float scratch of its products */
    gs_tensor_t tensor_store[];
} gs_mlp_t;

static size_t n_layer_tensors(const gs_mlp_spec_t *s)
{
    return s->norm != GS_NORM_NONE ? 4 : 2;
}

static size_t n_tensors(const gs_mlp_spec_t *s)
{
    return s->depth * n_layer_tensors(s) + 2;
}

/* Scratch of the orthogonal init: as many doubles as the largest weight
 * matrix (fan_out x fan_in) - the readout's n_out x width can be the
 * largest, with a narrow net. */
static size_t ortho_work_size(const gs_mlp_spec_t *s)
{
    size_t a = s->width * s->in_dim, b = s->width * s->width, c = s->n_out * s->width;
    return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

/* Floats of gs_gemm_fmt's scratch for the largest of the products of
 * forward and backward (0 in float64); the arena holds them as doubles. */
static size_t fmt_work_floats(const gs_mlp_spec_t *s)
{
    size_t most = 0;
    for (size_t l = 0; s->fmt && l <= s->depth; l++) {
        size_t in = l == 0 ? s->in_dim : s->width, out = l == s->depth ? s->n_out : s->width;
        size_t w = gs_linear_fmt_work(s->capacity, in, out);
        most = w > most ? w : most;
    }
    return most;
}

/* Count parameters and activation doubles; 0 on overflow. */
static int arena_sizes(const gs_mlp_spec_t *s, size_t *n_params, size_t *n_acts)
{
    size_t np = 0, na = 0;
    size_t cap = s->capacity, w = s->width;
    size_t stat = cap > w ? cap : w;
    for (size_t l = 0; l <= s->depth; l++) {
        size_t in = l == 0 ? s->in_dim : w;
        size_t out = l == s->depth ? s->n_out : w;
        if (out != 0 && in > SIZE_MAX / 8 / out)
            return 0;
        np += out * in + out;
        if (l == s->depth) {
            na += 2 * cap * out;   /* out and dout */
            break;
        }
        if (s->norm != GS_NORM_NONE)
            np += 2 * out;
        if (cap > SIZE_MAX / 16 / out)
            return 0;
        na += cap * out * (s->norm != GS_NORM_NONE ? 4 : 2) + 2 * stat + 2 * out;
    }
    na += 4 * cap * w;                       /* backward scratch */
    na += ortho_work_size(s);
    na += (fmt_work_floats(s) + 1) / 2;
    *n_params = np;
    *n_acts = na;
    return np < SIZE_MAX / 64 && na < SIZE_MAX / 16;
}

size_t gs_mlp_bytes(const gs_mlp_spec_t *spec)
{
    size_t np, na;
    if (!arena_sizes(spec, &np, &na))
        return SIZE_MAX;
    return (2 * np + na) * sizeof(double) + n_tensors(spec) * sizeof(gs_tensor_t)
           + (spec->depth + 1) * sizeof(mlp_layer_t);
}

static void mlp_forward(gs_net_t *net, const double *x, size_t n, int train);
static void mlp_backward(gs_net_t *net, size_t n);
static void mlp_free(gs_net_t *net);

static const gs_net_ops_t mlp_ops = {mlp_forward, mlp_backward, mlp_free};

/* Hidden layer l's tensors (W, b; gamma, beta with a norm) in the
 * parameters, and its activations, statistics and running statistics
 * carved from a. */
static void lay_out_hidden(gs_mlp_t *m, size_t l, gs_arena_cursor_t *a)
{
    const gs_mlp_spec_t *spec = &m->spec;
    mlp_layer_t *L = &m->layers[l];
    size_t cap = spec->capacity, w = spec->width;
    size_t stat = cap > w ? cap : w;
    L->in = l == 0 ? spec->in_dim : w;
    L->out = w;
    gs_net_add_tensor(&m->net, GS_TENSOR_W, l + 1, L->out, L->in, &L->w, &L->dw);
    gs_net_add_tensor(&m->net, GS_TENSOR_B, l + 1, 1, L->out, &L->b, &L->db);
    if (spec->norm != GS_NORM_NONE) {
        gs_net_add_tensor(&m->net, GS_TENSOR_GAMMA, l + 1, 1, L->out, &L->gamma, &L->dgamma);
        gs_net_add_tensor(&m->net, GS_TENSOR_BETA, l + 1, 1, L->out, &L->beta, &L->dbeta);
    }
    L->h = gs_arena_take(a, cap * w);
    if (spec->norm != GS_NORM_NONE) {
        L->xhat = gs_arena_take(a, cap * w);
        L->a = gs_arena_take(a, cap * w);
    } else {
        L->a = L->h;
    }
    L->x = gs_arena_take(a, cap * w);
    L->mean = gs_arena_take(a, stat);
    L->rstd = gs_arena_take(a, stat);
    L->run_mean = gs_arena_take(a, w);
    L->run_var = gs_arena_take(a, w);
}

/* The readout (W_out, b_out) and the network's output and its gradient. */
static void lay_out_readout(gs_mlp_t *m, gs_arena_cursor_t *a)
{
    const gs_mlp_spec_t *spec = &m->spec;
    mlp_layer_t *L = &m->layers[spec->depth];
    L->in = spec->width;
    L->out = spec->n_out;
    gs_net_add_tensor(&m->net, GS_TENSOR_W, 0, L->out, L->in, &L->w, &L->dw);
    gs_net_add_tensor(&m->net, GS_TENSOR_B, 0, 1, L->out, &L->b, &L->db);
    m->net.out = gs_arena_take(a, spec->capacity * L->out);
    m->net.dout = gs_arena_take(a, spec->capacity * L->out);
}

gs_net_t *gs_mlp_create(const gs_mlp_spec_t *spec)
{
    size_t np, na;
    if (spec->depth == 0 || spec->width == 0 || spec->capacity == 0 ||
        !arena_sizes(spec, &np, &na))
        return NULL;
    gs_mlp_t *m = calloc(1, sizeof *m + n_tensors(spec) * sizeof(gs_tensor_t));
    if (!m)
        return NULL;
    m->spec = *spec;
    gs_net_init(&m->net, &mlp_ops, spec->in_dim, spec->n_out, spec->capacity, np, m->tensor_store);
    m->layers = calloc(spec->depth + 1, sizeof *m->layers);
    m->net.params = gs_arena_alloc(2 * np);
    m->acts = gs_arena_alloc(na);
    if (!m->layers || !m->net.params || !m->acts) {
        mlp_free(&m->net);
        return NULL;
    }
    m->net.grads = m->net.params + np;
    size_t scratch = spec->capacity * spec->width;
    gs_arena_cursor_t a = gs_arena_cursor(m->acts, na);
    for (size_t l = 0; l < spec->depth; l++)
        lay_out_hidden(m, l, &a);
    lay_out_readout(m, &a);
    m->dx = gs_arena_take(&a, scratch);
    m->dx_prev = gs_arena_take(&a, scratch);
    m->da = gs_arena_take(&a, scratch);
    m->dh = gs_arena_take(&a, scratch);
    m->ortho_work = gs_arena_take(&a, ortho_work_size(spec));
    size_t fw = fmt_work_floats(spec);
    m->ar = (gs_arith_t){spec->fmt, (float *)gs_arena_take(&a, (fw + 1) / 2), fw};
    gs_arena_end(&a);
    /* the tensors tile the parameters: as many as counted, ending at np */
    assert(m->net.n_tensors == n_tensors(spec) && gs_net_tensors_end(&m->net) == np);
    return &m->net;
}

void gs_mlp_init(gs_net_t *net, const gs_init_spec_t *init, gs_rng_t *rng)
{
    gs_mlp_t *m = (gs_mlp_t *)net;
    for (size_t l = 0; l <= m->spec.depth; l++) {
        mlp_layer_t *L = &m->layers[l];
        gs_init_fill(L->w, L->out, L->in, init->init, init->param, init->gain, rng,
                     m->ortho_work);
        gs_init_bias(L->b, L->out, init->bias_std, rng);
        if (l == m->spec.depth)
            break;
        if (L->gamma)
            for (size_t j = 0; j < L->out; j++) {
                L->gamma[j] = 1.0;
                L->beta[j] = 0.0;
            }
        for (size_t j = 0; j < L->out; j++) {
            L->run_mean[j] = 0.0;
            L->run_var[j] = 1.0;
        }
    }
}

/* Round n values to the model's format (nothing in float64). */
static void to_fmt(const gs_mlp_t *m, double *x, size_t n)
{
    gs_arith_round(&m->ar, x, n);
}

static void mlp_forward(gs_net_t *net, const double *x, size_t n, int train)
{
    gs_mlp_t *m = (gs_mlp_t *)net;
    const gs_mlp_spec_t *s = &m->spec;
    m->input = x;
    const double *inp = x;
    for (size_t l = 0; l < s->depth; l++) {
        mlp_layer_t *L = &m->layers[l];
        size_t W = L->out;
        gs_linear_forward_ar(&m->ar, L->h, inp, L->w, L->b, n, L->in, W);
        if (s->norm == GS_NORM_BATCH && !train)
            gs_batchnorm_eval(L->a, L->h, L->gamma, L->beta, L->run_mean, L->run_var, n, W);
        else if (s->norm != GS_NORM_NONE)
            gs_norm_forward(L->a, L->xhat, L->mean, L->rstd, L->h, L->gamma, L->beta,
                            train ? L->run_mean : NULL, L->run_var, n, W, s->norm);
        if (s->norm != GS_NORM_NONE) {
            to_fmt(m, L->a, n * W);
            to_fmt(m, L->xhat, n * W);
        }
        /* x_l = phi(a_l), plus x_{l-1} on a residual block */
        gs_act_forward(s->act, s->act_param, L->x, L->a, n * W);
        to_fmt(m, L->x, n * W);
        if (s->residual && l > 0) {
#pragma omp parallel for simd schedule(static) if (n * W >= GS_PAR_MIN)
            for (size_t k = 0; k < n * W; k++)
                L->x[k] += inp[k];
            to_fmt(m, L->x, n * W);
        }
        inp = L->x;
    }
    mlp_layer_t *R = &m->layers[s->depth];
    gs_linear_forward_ar(&m->ar, net->out, inp, R->w, R->b, n, R->in, R->out);
}

static void mlp_backward(gs_net_t *net, size_t n)
{
    gs_mlp_t *m = (gs_mlp_t *)net;
    const gs_mlp_spec_t *s = &m->spec;
    size_t W = s->width;
    mlp_layer_t *R = &m->layers[s->depth];
    double *dx = m->dx, *dx_prev = m->dx_prev;
    to_fmt(m, net->dout, n * R->out);
    size_t keep_stride = s->capacity * (W > R->out ? W : R->out);
    if (net->keep_grad_pre)
        memcpy(net->keep_grad_pre + s->depth * keep_stride, net->dout, n * R->out * sizeof *dx);
    gs_linear_backward_ar(&m->ar, dx, R->dw, R->db, net->dout, m->layers[s->depth - 1].x, R->w,
                          n, R->in, R->out, 0);
    if (net->measure)
        R->grad_pre_norm = gs_norm2(net->dout, n * R->out);
    if (net->measure && net->fmt_grad_pre) {
        gs_fmt_counts_clear(&net->fmt_grad_pre[s->depth]);
        gs_fmt_count(&net->fmt_grad_pre[s->depth], net->dout, n * R->out);
    }
    for (size_t l = s->depth; l-- > 0;) {
        mlp_layer_t *L = &m->layers[l];
        /* dx = dL/dx_l; da = dx * phi'(a_l); phi(a_l) is x_l on plain layers */
        const double *y = s->residual && l > 0 ? NULL : L->x;
        gs_act_backward(s->act, s->act_param, m->da, dx, L->a, y, n * W);
        to_fmt(m, m->da, n * W);
        double *dh = m->da;
        if (s->norm != GS_NORM_NONE) {
            gs_norm_backward(m->dh, L->dgamma, L->dbeta, m->da, L->xhat, L->rstd,
                             L->gamma, n, W, s->norm);
            to_fmt(m, m->dh, n * W);
            to_fmt(m, L->dgamma, W);
            to_fmt(m, L->dbeta, W);
            dh = m->dh;
        }
        if (net->measure)
            L->grad_pre_norm = gs_norm2(dh, n * W);
        if (net->keep_grad_pre)
            memcpy(net->keep_grad_pre + l * keep_stride, dh, n * W * sizeof *dh);
        if (net->measure && net->fmt_grad_pre) {
            gs_fmt_counts_clear(&net->fmt_grad_pre[l]);
            gs_fmt_count(&net->fmt_grad_pre[l], dh, n * W);
        }
        const double *inp = l == 0 ? m->input : m->layers[l - 1].x;
        double *dinp = NULL;
        if (l > 0) {
            if (s->residual)   /* x_l = x_{l-1} + phi(a_l): identity path */
                memcpy(dx_prev, dx, n * W * sizeof *dx);
            dinp = dx_prev;
        }
        gs_linear_backward_ar(&m->ar, dinp, L->dw, L->db, dh, inp, L->w, n, L->in, W, s->residual);
        double *t = dx;
        dx = dx_prev;
        dx_prev = t;
    }
}

/* J (W, D) <- diag(phi'(a)) J, a the layer's pre-activation at one row */
static void scale_rows_by_slope(const gs_mlp_spec_t *s, double *J, const double *a, size_t W,
                                size_t D)
{
    for (size_t i = 0; i < W; i++) {
        double d = s->act->df(a[i], s->act_param);
#pragma omp simd
        for (size_t j = 0; j < D; j++)
            J[i * D + j] *= d;
    }
}

int gs_mlp_jacobian(const gs_net_t *net, size_t row, double *J, double *work)
{
    const gs_mlp_t *m = (const gs_mlp_t *)net;
    const gs_mlp_spec_t *s = &m->spec;
    if (s->norm != GS_NORM_NONE)
        return -1;
    size_t W = s->width, D = s->in_dim;
    const mlp_layer_t *L = &m->layers[0];
    memcpy(J, L->w, W * D * sizeof *J);   /* W_1 (W, D) */
    scale_rows_by_slope(s, J, L->a + row * W, W, D);
    for (size_t l = 1; l < s->depth; l++) {
        L = &m->layers[l];
        /* work (W, D) = W_l (W, W) J (W, D), then D_l, then the skip */
        gs_gemm(0, 0, W, D, W, 1.0, L->w, W, J, D, 0.0, work, D);
        scale_rows_by_slope(s, work, L->a + row * W, W, D);
        if (s->residual) {
#pragma omp simd
            for (size_t k = 0; k < W * D; k++)
                J[k] += work[k];
        } else {
            memcpy(J, work, W * D * sizeof *J);
        }
    }
    return 0;
}

const double *gs_mlp_layer_output(const gs_net_t *net, size_t l)
{
    const gs_mlp_t *m = (const gs_mlp_t *)net;
    return l >= 1 && l <= m->spec.depth ? m->layers[l - 1].x : NULL;
}

void gs_mlp_layer_stats(const gs_net_t *net, size_t n, gs_layer_stats_t *stats)
{
    const gs_mlp_t *m = (const gs_mlp_t *)net;
    const gs_mlp_spec_t *s = &m->spec;
    for (size_t l = 0; l <= s->depth; l++) {
        const mlp_layer_t *L = &m->layers[l];
        gs_layer_stats_t *st = &stats[l];
        size_t cnt = n * L->out;
        gs_mean_std(l == s->depth ? net->out : L->x, cnt, &st->act_mean, &st->act_std);
        st->saturated_frac = st->dead_frac = 0.0;
        if (l < s->depth)
            gs_act_saturation(s->act, s->act_param, L->a, cnt, &st->saturated_frac, &st->dead_frac);
        st->grad_pre_norm = L->grad_pre_norm / net->grad_scale;
        st->grad_w_norm = gs_norm2(L->dw, L->out * L->in);
        st->w_norm = gs_norm2(L->w, L->out * L->in);
        st->grad_h_first = st->grad_h_last = NAN;
    }
}

static void mlp_free(gs_net_t *net)
{
    gs_mlp_t *m = (gs_mlp_t *)net;
    free(m->layers);
    gs_arena_free(m->net.params);
    gs_arena_free(m->acts);
    free(m);
}
