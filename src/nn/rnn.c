#include <config.h>

#include "nn/rnn.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/arena.h"
#include "nn/format.h"
#include "nn/gemm.h"
#include "nn/linear.h"
#include "nn/par.h"
#include "nn/vmath.h"

/* ---- the cells: pointwise work of one step over n rows ----
 * zx, zh, gates: (n, G*H); h_prev, c_prev, h, c: (n, H).
 * A fused cell (RNN, LSTM) needs only the sums zx + zh: its gates arrive
 * holding them (the step's GEMM adds Wh h_{t-1} onto the input projection,
 * whose bias is bx + bh), zx and zh are unused, and its two pre-activation
 * gradients are one, dzh == dzx. The GRU keeps zh apart (r scales its n
 * block).
 * Backward gets dh = dL/dh_t (all paths) and, for the LSTM, dc = dL/dc_t
 * from step t+1 (updated in place to dL/dc_{t-1}); it writes dzx (and dzh
 * when not fused) and adds to dh_prev the part of dL/dh_{t-1} that does not
 * pass through Wh (the GRU's; fused cells have none).
 * In a reduced precision (fmt set, issue 20) every value a cell writes -
 * each gate after its sum and after its function, c_t, tanh(c_t), h_t,
 * dL/dc, every dL/dz, the GRU's part of dL/dh_{t-1} - is rounded to fmt
 * as it is written: the maths of one expression in double, rounded once
 * (as the MLP's elementwise work). fmt NULL (float64): no rounding, the
 * loops as they were. */
typedef struct {
    const double *zx, *zh, *h_prev, *c_prev;
    double *gates, *h, *c, *tc;
    const gs_fmt_t *fmt;
} cell_fwd_t;

typedef struct {
    const double *dh, *gates, *zh, *h_prev, *c_prev, *tc, *h;
    double *dc, *dzx, *dzh, *dh_prev;
    const gs_fmt_t *fmt;
} cell_bwd_t;

/* x[0..n) rounded to f (NULL: as it is) */
static void rnd(const gs_fmt_t *f, double *x, size_t n)
{
    if (f)
        gs_fmt_round_array(f, x, n, 0);
}

/* One value rounded to f (NULL: itself; inlined with a constant NULL,
 * the float64 loops compile to what they were) */
static inline double rd1(const gs_fmt_t *f, double x)
{
    return f ? gs_fmt_round(f, x, 0) : x;
}

typedef struct {
    const char *name;
    size_t gates;   /* G */
    int fused;      /* gates arrive holding zx + zh; dzh == dzx */
    void (*forward)(const cell_fwd_t *a, size_t n, size_t H, const gs_activation_t *act, double ap);
    void (*backward)(const cell_bwd_t *a, size_t n, size_t H, const gs_activation_t *act, double ap);
} cell_t;

/* rnn (fused): gates hold z = zx + zh, h = phi(z) */
static void rnn_cell_fwd(const cell_fwd_t *a, size_t n, size_t H, const gs_activation_t *act, double ap)
{
    gs_act_forward(act, ap, a->h, a->gates, n * H);
    rnd(a->fmt, a->h, n * H);
}

static void rnn_cell_bwd(const cell_bwd_t *a, size_t n, size_t H, const gs_activation_t *act, double ap)
{
    gs_act_backward(act, ap, a->dzx, a->dh, a->gates, a->h, n * H);
    rnd(a->fmt, a->dzx, n * H);
}

/* LSTM (fused) gates in PyTorch's order i, f, g, o; per row the gate
 * functions over whole blocks (nn/vmath.h), in place on the sums */
static void lstm_cell_fwd(const cell_fwd_t *a, size_t n, size_t H, const gs_activation_t *act, double ap)
{
#pragma omp parallel for schedule(static) if (n * H >= GS_PAR_MIN_HEAVY)
    for (size_t b = 0; b < n; b++) {
        double *g = a->gates + b * 4 * H;
        const double *cp = a->c_prev + b * H;
        double *c = a->c + b * H, *tc = a->tc + b * H, *h = a->h + b * H;
        gs_vsigmoid(g, g, 2 * H);           /* i, f */
        gs_vtanh(g + 2 * H, g + 2 * H, H);  /* g */
        gs_vsigmoid(g + 3 * H, g + 3 * H, H);   /* o */
        rnd(a->fmt, g, 4 * H);
#pragma omp simd
        for (size_t j = 0; j < H; j++)
            c[j] = g[H + j] * cp[j] + g[j] * g[2 * H + j];
        rnd(a->fmt, c, H);
        gs_vtanh(tc, c, H);
        rnd(a->fmt, tc, H);
#pragma omp simd
        for (size_t j = 0; j < H; j++)
            h[j] = g[3 * H + j] * tc[j];
        rnd(a->fmt, h, H);
    }
}

/* unit j of row b; every value written rounded to fm */
static inline void lstm_unit_bwd(const cell_bwd_t *a, size_t b, size_t j, size_t H,
                                 const gs_fmt_t *fm)
{
    const double *g = a->gates + b * 4 * H;
    double *dz = a->dzx + b * 4 * H;
    size_t k = b * H + j;
    double i = g[j], f = g[H + j], c = g[2 * H + j], o = g[3 * H + j];
    double tc = a->tc[k];
    double dh = a->dh[k];
    double dc = rd1(fm, a->dc[k] + dh * o * (1.0 - tc * tc));
    double dzi = dc * c * i * (1.0 - i);
    double dzf = dc * a->c_prev[k] * f * (1.0 - f);
    double dzg = dc * i * (1.0 - c * c);
    double dzo = dh * tc * o * (1.0 - o);
    a->dc[k] = rd1(fm, dc * f);
    dz[j] = rd1(fm, dzi);
    dz[H + j] = rd1(fm, dzf);
    dz[2 * H + j] = rd1(fm, dzg);
    dz[3 * H + j] = rd1(fm, dzo);
}

static void lstm_cell_bwd(const cell_bwd_t *a, size_t n, size_t H, const gs_activation_t *act, double ap)
{
    const gs_fmt_t *fm = a->fmt;
#pragma omp parallel for schedule(static) if (n * H >= GS_PAR_MIN_HEAVY)
    for (size_t b = 0; b < n; b++) {
        if (!fm) {
#pragma omp simd
            for (size_t j = 0; j < H; j++)
                lstm_unit_bwd(a, b, j, H, NULL);
        } else {
            for (size_t j = 0; j < H; j++)
                lstm_unit_bwd(a, b, j, H, fm);
        }
    }
}

/* GRU gates in PyTorch's order r, z, n; zh keeps Wh_n h + bh_n for backward */
static void gru_cell_fwd(const cell_fwd_t *a, size_t n, size_t H, const gs_activation_t *act, double ap)
{
#pragma omp parallel for schedule(static) if (n * H >= GS_PAR_MIN_HEAVY)
    for (size_t b = 0; b < n; b++) {
        const double *zx = a->zx + b * 3 * H, *zh = a->zh + b * 3 * H;
        double *g = a->gates + b * 3 * H;
        const double *hp = a->h_prev + b * H;
        double *h = a->h + b * H;
#pragma omp simd
        for (size_t k = 0; k < 2 * H; k++)
            g[k] = zx[k] + zh[k];
        rnd(a->fmt, g, 2 * H);
        gs_vsigmoid(g, g, 2 * H);   /* r, z */
        rnd(a->fmt, g, 2 * H);
#pragma omp simd
        for (size_t j = 0; j < H; j++)
            g[2 * H + j] = zx[2 * H + j] + g[j] * zh[2 * H + j];
        rnd(a->fmt, g + 2 * H, H);
        gs_vtanh(g + 2 * H, g + 2 * H, H);   /* n */
        rnd(a->fmt, g + 2 * H, H);
#pragma omp simd
        for (size_t j = 0; j < H; j++)
            h[j] = (1.0 - g[H + j]) * g[2 * H + j] + g[H + j] * hp[j];
        rnd(a->fmt, h, H);
    }
}

/* unit j of row b; every value written rounded to fm */
static inline void gru_unit_bwd(const cell_bwd_t *a, size_t b, size_t j, size_t H,
                                const gs_fmt_t *fm)
{
    const double *g = a->gates + b * 3 * H, *zh = a->zh + b * 3 * H;
    double *dzx = a->dzx + b * 3 * H, *dzh = a->dzh + b * 3 * H;
    size_t k = b * H + j;
    double r = g[j], z = g[H + j], nn = g[2 * H + j];
    double dh = a->dh[k];
    double dnp = rd1(fm, dh * (1.0 - z) * (1.0 - nn * nn));
    double dzp = rd1(fm, dh * (a->h_prev[k] - nn) * z * (1.0 - z));
    double drp = rd1(fm, dnp * zh[2 * H + j] * r * (1.0 - r));
    dzx[j] = dzh[j] = drp;
    dzx[H + j] = dzh[H + j] = dzp;
    dzx[2 * H + j] = dnp;
    dzh[2 * H + j] = rd1(fm, dnp * r);
    a->dh_prev[k] = rd1(fm, a->dh_prev[k] + dh * z);
}

static void gru_cell_bwd(const cell_bwd_t *a, size_t n, size_t H, const gs_activation_t *act, double ap)
{
    const gs_fmt_t *fm = a->fmt;
#pragma omp parallel for schedule(static) if (n * H >= GS_PAR_MIN_HEAVY)
    for (size_t b = 0; b < n; b++) {
        if (!fm) {
#pragma omp simd
            for (size_t j = 0; j < H; j++)
                gru_unit_bwd(a, b, j, H, NULL);
        } else {
            for (size_t j = 0; j < H; j++)
                gru_unit_bwd(a, b, j, H, fm);
        }
    }
}

static const cell_t cells[] = {
    [GS_CELL_RNN] = {"rnn", 1, 1, rnn_cell_fwd, rnn_cell_bwd},
    [GS_CELL_LSTM] = {"lstm", 4, 1, lstm_cell_fwd, lstm_cell_bwd},
    [GS_CELL_GRU] = {"gru", 3, 0, gru_cell_fwd, gru_cell_bwd},
};

/* ---- the model ---- */

typedef struct {
    double *wx, *wh, *bx, *bh;
    double *dwx, *dwh, *dbx, *dbh;
    size_t in;           /* D of this layer */
    double *zh;          /* (T, n, G*H) Wh h_{t-1} + bh; the GRU's only */
    double *gates;       /* (T, n, G*H) */
    double *h, *c;       /* (T+1, n, H); step 0 is the zero state */
    double *tc;          /* (T, n, H) lstm: tanh(c_t), kept for backward */
    double *dh_in;       /* (T, n, H) dL/dh_t arriving from above */
    double grad_pre_norm;
    double grad_h_first, grad_h_last;   /* ||dL/dh_t|| at t = 1 and T (measured steps) */
} rnn_layer_t;

typedef struct {
    gs_net_t net;
    gs_rnn_spec_t spec;
    const cell_t *cell;
    rnn_layer_t *layers;
    double *w_out, *b_out, *dw_out, *db_out;
    double *acts;
    double *x0;          /* (T, cap, D) the input, time-major */
    double *zx;          /* (T, cap, G*H) shared by the layers; the GRU's only */
    double *dzx, *dzh;   /* (T, cap, G*H) shared backward scratch; dzh the GRU's only */
    double *bias_sum;    /* (G*H) bx + bh of the layer in hand (fused cells) */
    double *dh0, *dc;    /* (cap, H) dL/dh_0 (discarded), dL/dc_t */
    double *time_grad;   /* (T) ||dL/dh_t|| of the top layer */
    double *ortho_work;
    gs_arith_t ar;       /* spec.fmt and the float scratch of its products */
    size_t n_last;       /* rows of the last forward */
    gs_tensor_t tensor_store[];
} gs_rnn_t;

static size_t n_tensors(const gs_rnn_spec_t *s)
{
    return 4 * s->depth + 2;
}

/* Scratch of the orthogonal init: the largest matrix it fills - a gate
 * block of Wx (H, D) or Wh (H, H), or the readout (n_out, H). */
static size_t ortho_work_size(const gs_rnn_spec_t *s)
{
    size_t D = s->in_dim > s->width ? s->in_dim : s->width;
    return s->width * (s->n_out > D ? s->n_out : D);
}

/* Floats of gs_gemm_fmt's scratch for the largest product of forward
 * and backward (0 in float64): each layer's input projection over all
 * steps (T cap, in) -> (T cap, G H) with its dWx and dL/dinput, the
 * recurrent one per step (cap, H) -> (cap, G H) and its dWh over all
 * steps, the readout (cap, H) -> (cap, n_out). */
static size_t fmt_work_floats(const gs_rnn_spec_t *s)
{
    if (!s->fmt)
        return 0;
    size_t GH = cells[s->cell].gates * s->width, H = s->width, TN = s->seq_len * s->capacity;
    size_t w[] = {gs_linear_fmt_work(TN, s->in_dim, GH), gs_linear_fmt_work(TN, H, GH),
                  gs_linear_fmt_work(s->capacity, H, GH), gs_linear_fmt_work(s->capacity, H, s->n_out)};
    size_t most = 0;
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
        most = w[k] > most ? w[k] : most;
    return most;
}

static int arena_sizes(const gs_rnn_spec_t *s, size_t *n_params, size_t *n_acts)
{
    size_t G = cells[s->cell].gates, H = s->width, T = s->seq_len, cap = s->capacity;
    /* orthogonal init scratch: the largest matrix it fills - a gate block
     * of Wx (H, D) or Wh (H, H), or the readout (n_out, H) */
    size_t D = s->in_dim > H ? s->in_dim : H;
    if (s->n_out > D)
        D = s->n_out;
    if (H > SIZE_MAX / 64 / G || D > SIZE_MAX / 64 / (G * H) || T + 1 > SIZE_MAX / 64 / cap ||
        (T + 1) * cap > SIZE_MAX / 64 / (G * H + D))
        return 0;
    size_t apart = cells[s->cell].fused ? 0 : 1;   /* zh, zx, dzh kept apart */
    size_t np = 0, na = 0;
    for (size_t l = 0; l < s->depth; l++) {
        size_t in = l == 0 ? s->in_dim : H;
        np += G * H * in + G * H * H + 2 * G * H;
        na += (1 + apart) * T * cap * G * H + 2 * (T + 1) * cap * H + 2 * T * cap * H;
    }
    np += s->n_out * H + s->n_out;
    na += 2 * cap * s->n_out;            /* out, dout */
    na += T * cap * s->in_dim;           /* x0 */
    na += (1 + 2 * apart) * T * cap * G * H;   /* dzx; zx, dzh */
    na += G * H;                         /* bias_sum */
    na += 2 * cap * H + T;               /* dh0, dc, time_grad */
    na += ortho_work_size(s);            /* H x D (checked above) */
    na += (fmt_work_floats(s) + 1) / 2;  /* (T cap + G H)(D + G H) floats at most: as checked */
    *n_params = np;
    *n_acts = na;
    return np < SIZE_MAX / 64 && na < SIZE_MAX / 16;
}

size_t gs_rnn_bytes(const gs_rnn_spec_t *spec)
{
    size_t np, na;
    if (!arena_sizes(spec, &np, &na))
        return SIZE_MAX;
    return (2 * np + na) * sizeof(double) + n_tensors(spec) * sizeof(gs_tensor_t) +
           spec->depth * sizeof(rnn_layer_t);
}

static void rnn_forward(gs_net_t *net, const double *x, size_t n, int train);
static void rnn_backward(gs_net_t *net, size_t n);
static void rnn_free(gs_net_t *net);
static const gs_net_ops_t rnn_ops = {rnn_forward, rnn_backward, rnn_free};

/* Layer l's tensors (Wx, Wh, bx, bh) in the parameters, and its gates,
 * states and backward buffers carved from a. */
static void lay_out_layer(gs_rnn_t *m, size_t l, gs_arena_cursor_t *a)
{
    size_t G = m->cell->gates, H = m->spec.width, T = m->spec.seq_len, cap = m->spec.capacity;
    rnn_layer_t *L = &m->layers[l];
    L->in = l == 0 ? m->spec.in_dim : H;
    gs_net_add_tensor(&m->net, GS_TENSOR_WX, l + 1, G * H, L->in, &L->wx, &L->dwx);
    gs_net_add_tensor(&m->net, GS_TENSOR_WH, l + 1, G * H, H, &L->wh, &L->dwh);
    gs_net_add_tensor(&m->net, GS_TENSOR_BX, l + 1, 1, G * H, &L->bx, &L->dbx);
    gs_net_add_tensor(&m->net, GS_TENSOR_BH, l + 1, 1, G * H, &L->bh, &L->dbh);
    if (!m->cell->fused)
        L->zh = gs_arena_take(a, T * cap * G * H);
    L->gates = gs_arena_take(a, T * cap * G * H);
    L->h = gs_arena_take(a, (T + 1) * cap * H);
    L->c = gs_arena_take(a, (T + 1) * cap * H);
    L->dh_in = gs_arena_take(a, T * cap * H);
    L->tc = gs_arena_take(a, T * cap * H);
}

/* The readout's tensors and the buffers the layers share: output, input,
 * backward scratch, the orthogonal init's work (the rest of a). */
static void lay_out_shared(gs_rnn_t *m, gs_arena_cursor_t *a)
{
    const gs_rnn_spec_t *spec = &m->spec;
    size_t G = m->cell->gates, H = spec->width, T = spec->seq_len, cap = spec->capacity;
    gs_net_add_tensor(&m->net, GS_TENSOR_W, 0, spec->n_out, H, &m->w_out, &m->dw_out);
    gs_net_add_tensor(&m->net, GS_TENSOR_B, 0, 1, spec->n_out, &m->b_out, &m->db_out);
    m->net.out = gs_arena_take(a, cap * spec->n_out);
    m->net.dout = gs_arena_take(a, cap * spec->n_out);
    m->x0 = gs_arena_take(a, T * cap * spec->in_dim);
    m->dzx = gs_arena_take(a, T * cap * G * H);
    if (m->cell->fused) {
        m->dzh = m->dzx;
    } else {
        m->zx = gs_arena_take(a, T * cap * G * H);
        m->dzh = gs_arena_take(a, T * cap * G * H);
    }
    m->bias_sum = gs_arena_take(a, G * H);
    m->dh0 = gs_arena_take(a, cap * H);
    m->dc = gs_arena_take(a, cap * H);
    m->time_grad = gs_arena_take(a, T);
    m->ortho_work = gs_arena_take(a, ortho_work_size(spec));
    size_t fw = fmt_work_floats(spec);
    m->ar = (gs_arith_t){spec->fmt, (float *)gs_arena_take(a, (fw + 1) / 2), fw};
}

gs_net_t *gs_rnn_create(const gs_rnn_spec_t *spec)
{
    size_t np, na;
    if (spec->depth == 0 || spec->width == 0 || spec->seq_len == 0 || spec->capacity == 0 ||
        spec->in_dim == 0 || !arena_sizes(spec, &np, &na))
        return NULL;
    gs_rnn_t *m = calloc(1, sizeof *m + n_tensors(spec) * sizeof(gs_tensor_t));
    if (!m)
        return NULL;
    m->spec = *spec;
    m->cell = &cells[spec->cell];
    gs_net_init(&m->net, &rnn_ops, spec->seq_len * spec->in_dim, spec->n_out, spec->capacity, np,
                m->tensor_store);
    m->layers = calloc(spec->depth, sizeof *m->layers);
    m->net.params = gs_arena_alloc(2 * np);
    m->acts = gs_arena_alloc(na);
    if (!m->layers || !m->net.params || !m->acts) {
        rnn_free(&m->net);
        return NULL;
    }
    m->net.grads = m->net.params + np;
    gs_arena_cursor_t a = gs_arena_cursor(m->acts, na);
    for (size_t l = 0; l < spec->depth; l++)
        lay_out_layer(m, l, &a);
    lay_out_shared(m, &a);
    gs_arena_end(&a);
    /* the tensors tile the parameters: as many as counted, ending at np */
    assert(m->net.n_tensors == n_tensors(spec) && gs_net_tensors_end(&m->net) == np);
    return &m->net;
}

void gs_rnn_init(gs_net_t *net, const gs_init_spec_t *init, gs_rng_t *rng)
{
    gs_rnn_t *m = (gs_rnn_t *)net;
    size_t G = m->cell->gates, H = m->spec.width;
    for (size_t l = 0; l < m->spec.depth; l++) {
        rnn_layer_t *L = &m->layers[l];
        for (size_t k = 0; k < G; k++) {
            gs_init_fill(L->wx + k * H * L->in, H, L->in, init->init, init->param, init->gain,
                         rng, m->ortho_work);
            gs_init_fill(L->wh + k * H * H, H, H, init->init, init->param, init->gain, rng,
                         m->ortho_work);
        }
        gs_init_bias(L->bx, G * H, init->bias_std, rng);
        gs_init_bias(L->bh, G * H, init->bias_std, rng);
        if (m->spec.cell == GS_CELL_LSTM)
            for (size_t j = 0; j < H; j++)
                L->bx[H + j] += m->spec.forget_bias;
    }
    gs_init_fill(m->w_out, m->spec.n_out, H, init->init, init->param, init->gain, rng,
                 m->ortho_work);
    gs_init_bias(m->b_out, m->spec.n_out, init->bias_std, rng);
}

static void rnn_forward(gs_net_t *net, const double *x, size_t n, int train)
{
    gs_rnn_t *m = (gs_rnn_t *)net;
    const gs_rnn_spec_t *s = &m->spec;
    size_t G = m->cell->gates, H = s->width, T = s->seq_len, D = s->in_dim;
    m->n_last = n;
    /* x (n, T, D) -> x0 (T, n, D) */
#pragma omp parallel for schedule(static) if (T * n * D >= GS_PAR_MIN)
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < n; b++)
            for (size_t d = 0; d < D; d++)
                m->x0[(t * n + b) * D + d] = x[(b * T + t) * D + d];
    const double *inp = m->x0;
    int fused = m->cell->fused;
    const gs_fmt_t *f = s->fmt;
    for (size_t l = 0; l < s->depth; l++) {
        rnn_layer_t *L = &m->layers[l];
        /* input projections of all steps at once: (T n, D) -> (T n, G H),
         * into the gates with both biases when fused (in a format: their
         * sum of the two rounded, rounded) */
        if (fused) {
            for (size_t k = 0; k < G * H; k++)
                m->bias_sum[k] = rd1(f, rd1(f, L->bx[k]) + rd1(f, L->bh[k]));
            gs_linear_forward_ar(&m->ar, L->gates, inp, L->wx, m->bias_sum, T * n, L->in, G * H);
        } else {
            gs_linear_forward_ar(&m->ar, m->zx, inp, L->wx, L->bx, T * n, L->in, G * H);
        }
        memset(L->h, 0, n * H * sizeof *L->h);
        memset(L->c, 0, n * H * sizeof *L->c);
        for (size_t t = 0; t < T; t++) {
            const double *hp = L->h + t * n * H;
            double *gates = L->gates + t * n * G * H, *zh = NULL;
            if (fused) {   /* gates (n, G H) += h_{t-1} (n, H) Wh^T */
                gs_gemm_fmt(&m->ar, 0, 1, n, G * H, H, 1.0, hp, H, L->wh, H, 1.0, gates, G * H);
            } else {
                zh = L->zh + t * n * G * H;
                gs_linear_forward_ar(&m->ar, zh, hp, L->wh, L->bh, n, H, G * H);
            }
            cell_fwd_t a = {fused ? NULL : m->zx + t * n * G * H, zh, hp, L->c + t * n * H,
                            gates, L->h + (t + 1) * n * H, L->c + (t + 1) * n * H,
                            L->tc + t * n * H, f};
            m->cell->forward(&a, n, H, s->act, s->act_param);
        }
        inp = L->h + n * H;   /* steps 1..T: (T, n, H) */
    }
    const rnn_layer_t *top = &m->layers[s->depth - 1];
    gs_linear_forward_ar(&m->ar, net->out, top->h + T * n * H, m->w_out, m->b_out, n, H, s->n_out);
}

static void rnn_backward(gs_net_t *net, size_t n)
{
    gs_rnn_t *m = (gs_rnn_t *)net;
    const gs_rnn_spec_t *s = &m->spec;
    size_t G = m->cell->gates, H = s->width, T = s->seq_len;
    rnn_layer_t *top = &m->layers[s->depth - 1];
    /* readout: the loss sees only h_T of the top layer */
    gs_arith_round(&m->ar, net->dout, n * s->n_out);
    size_t keep_stride = gs_rnn_grad_pre_count(s, 0, s->capacity);
    if (keep_stride < gs_rnn_grad_pre_count(s, s->depth, s->capacity))
        keep_stride = gs_rnn_grad_pre_count(s, s->depth, s->capacity);
    if (net->keep_grad_pre)
        memcpy(net->keep_grad_pre + s->depth * keep_stride, net->dout,
               n * s->n_out * sizeof *net->dout);
    memset(top->dh_in, 0, T * n * H * sizeof *top->dh_in);
    gs_linear_backward_ar(&m->ar, top->dh_in + (T - 1) * n * H, m->dw_out, m->db_out, net->dout,
                          top->h + T * n * H, m->w_out, n, H, s->n_out, 1);
    if (net->measure && net->fmt_grad_pre) {   /* the readout's: dL/dout */
        gs_fmt_counts_clear(&net->fmt_grad_pre[s->depth]);
        gs_fmt_count(&net->fmt_grad_pre[s->depth], net->dout, n * s->n_out);
    }
    /* dh_in[t] collects dL/dh_t: from above (written whole before the
     * layer's turn), then from step t+1, which adds its parts into
     * dh_in[t-1] before the turn of step t-1 */
    for (size_t l = s->depth; l-- > 0;) {
        rnn_layer_t *L = &m->layers[l];
        memset(m->dc, 0, n * H * sizeof *m->dc);
        for (size_t t = T; t-- > 0;) {
            double *dh = L->dh_in + t * n * H;
            double *dprev = t > 0 ? dh - n * H : m->dh0;
            if (t == 0)
                memset(m->dh0, 0, n * H * sizeof *m->dh0);
            if (net->measure && (l == s->depth - 1 || t == 0 || t == T - 1)) {
                double g = gs_norm2(dh, n * H);
                if (l == s->depth - 1)
                    m->time_grad[t] = g;
                if (t == 0)
                    L->grad_h_first = g;
                if (t == T - 1)
                    L->grad_h_last = g;
            }
            double *dzh = m->dzh + t * n * G * H;
            cell_bwd_t a = {dh, L->gates + t * n * G * H, L->zh ? L->zh + t * n * G * H : NULL,
                            L->h + t * n * H, L->c + t * n * H, L->tc + t * n * H,
                            L->h + (t + 1) * n * H, m->dc, m->dzx + t * n * G * H,
                            dzh, dprev, s->fmt};
            m->cell->backward(&a, n, H, s->act, s->act_param);
            if (t > 0)   /* dL/dh_0 is of no use: h_0 is the zero state */
                gs_linear_backward_input_ar(&m->ar, dprev, dzh, L->wh, n, H, G * H, 1);
        }
        /* weight gradients over all steps at once */
        const double *inp = l == 0 ? m->x0 : m->layers[l - 1].h + n * H;
        gs_linear_backward_weights_ar(&m->ar, L->dwx, L->dbx, m->dzx, inp, T * n, L->in, G * H);
        gs_linear_backward_weights_ar(&m->ar, L->dwh, L->dbh, m->dzh, L->h, T * n, H, G * H);
        if (net->measure)
            L->grad_pre_norm = gs_norm2(m->dzx, T * n * G * H);
        if (net->keep_grad_pre)
            memcpy(net->keep_grad_pre + l * keep_stride, m->dzx, T * n * G * H * sizeof *m->dzx);
        if (net->measure && net->fmt_grad_pre) {   /* the same dL/dz, every step */
            gs_fmt_counts_clear(&net->fmt_grad_pre[l]);
            gs_fmt_count(&net->fmt_grad_pre[l], m->dzx, T * n * G * H);
        }
        if (l > 0) {
            double *below = m->layers[l - 1].dh_in;   /* written whole */
            gs_linear_backward_input_ar(&m->ar, below, m->dzx, L->wx, T * n, L->in, G * H, 0);
        }
    }
}

size_t gs_rnn_grad_pre_count(const gs_rnn_spec_t *spec, size_t l, size_t n)
{
    return l == spec->depth ? n * spec->n_out
                            : spec->seq_len * n * cells[spec->cell].gates * spec->width;
}

static double norm_pair(const double *a, size_t na, const double *b, size_t nb)
{
    return hypot(gs_norm2(a, na), gs_norm2(b, nb));
}

void gs_rnn_layer_stats(const gs_net_t *net, size_t n, gs_layer_stats_t *stats)
{
    const gs_rnn_t *m = (const gs_rnn_t *)net;
    const gs_rnn_spec_t *s = &m->spec;
    size_t G = m->cell->gates, H = s->width, T = s->seq_len;
    for (size_t l = 0; l < s->depth; l++) {
        const rnn_layer_t *L = &m->layers[l];
        gs_layer_stats_t *st = &stats[l];
        size_t cnt = T * n * H;
        gs_mean_std(L->h + n * H, cnt, &st->act_mean, &st->act_std);
        st->saturated_frac = st->dead_frac = 0.0;
        if (s->cell == GS_CELL_RNN)   /* gates hold the pre-activations */
            gs_act_saturation(s->act, s->act_param, L->gates, cnt, &st->saturated_frac,
                              &st->dead_frac);
        /* backward's norms are of the gradients it carried, scaled by
         * the loss scale (1 in float64); the weight gradients the caller
         * has unscaled */
        st->grad_pre_norm = L->grad_pre_norm / net->grad_scale;
        st->grad_w_norm = norm_pair(L->dwx, G * H * L->in, L->dwh, G * H * H);
        st->w_norm = norm_pair(L->wx, G * H * L->in, L->wh, G * H * H);
        st->grad_h_first = L->grad_h_first / net->grad_scale;
        st->grad_h_last = L->grad_h_last / net->grad_scale;
    }
    gs_layer_stats_t *ro = &stats[s->depth];
    memset(ro, 0, sizeof *ro);
    ro->grad_h_first = ro->grad_h_last = NAN;
    ro->grad_pre_norm = gs_norm2(net->dout, n * s->n_out) / net->grad_scale;
    ro->grad_w_norm = gs_norm2(m->dw_out, s->n_out * H);
    ro->w_norm = gs_norm2(m->w_out, s->n_out * H);
}

const double *gs_rnn_layer_states(const gs_net_t *net, size_t l, size_t n, size_t *count)
{
    const gs_rnn_t *m = (const gs_rnn_t *)net;
    assert(l < m->spec.depth && n <= m->spec.capacity);
    *count = m->spec.seq_len * n * m->spec.width;
    return m->layers[l].h + n * m->spec.width;   /* past the zero state h_0 */
}

const double *gs_rnn_layer_buffer(const gs_net_t *net, size_t l, gs_rnn_buf_t which, size_t n,
                                  size_t *count)
{
    const gs_rnn_t *m = (const gs_rnn_t *)net;
    assert(l < m->spec.depth && n <= m->spec.capacity);
    size_t TnH = m->spec.seq_len * n * m->spec.width;
    const rnn_layer_t *L = &m->layers[l];
    *count = 0;
    if (which == GS_RNN_GATES) {
        *count = TnH * m->cell->gates;
        return L->gates;
    }
    if (m->spec.cell != GS_CELL_LSTM)
        return NULL;
    *count = TnH;
    return which == GS_RNN_CELL ? L->c + n * m->spec.width : L->tc;
}

void gs_rnn_time_stats(const gs_net_t *net, size_t n, gs_time_stats_t *time)
{
    const gs_rnn_t *m = (const gs_rnn_t *)net;
    size_t H = m->spec.width, T = m->spec.seq_len;
    const rnn_layer_t *top = &m->layers[m->spec.depth - 1];
    for (size_t t = 0; t < T; t++) {
        const double *h = top->h + (t + 1) * n * H;
        double sum = 0.0;
        for (size_t b = 0; b < n; b++)
            sum += gs_norm2(h + b * H, H);
        time[t].hidden_norm = sum / (double)n;
        time[t].grad_hidden_norm = m->time_grad[t] / net->grad_scale;
    }
}

static void rnn_free(gs_net_t *net)
{
    gs_rnn_t *m = (gs_rnn_t *)net;
    free(m->layers);
    gs_arena_free(m->net.params);
    gs_arena_free(m->acts);
    free(m);
}
