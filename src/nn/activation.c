#include <config.h>

#include "nn/activation.h"

#include "nn/par.h"
#include "nn/vmath.h"

#include <math.h>
#include <string.h>

#define SELU_LAMBDA 1.0507009873554804934193349852946
#define SELU_ALPHA 1.6732632423543772848170429916717

static inline double identity_f(double x, double a) { return x; }
static inline double identity_df(double x, double a) { return 1.0; }
static inline double sigmoid_f(double x, double a) { return gs_sigmoid(x); }
static inline double sigmoid_df(double x, double a) { double s = gs_sigmoid(x); return s * (1.0 - s); }
static inline double sigmoid_dfy(double y) { return y * (1.0 - y); }
static inline double tanh_f(double x, double a) { return tanh(x); }
static inline double tanh_df(double x, double a) { double t = tanh(x); return 1.0 - t * t; }
static inline double tanh_dfy(double y) { return 1.0 - y * y; }
/* written so that a NaN passes through (x > 0 ? x : 0 would turn it into 0
 * and hide a diverged layer) */
static inline double relu_f(double x, double a) { return x <= 0 ? 0.0 : x; }
static inline double relu_df(double x, double a) { return x > 0 ? 1.0 : 0.0; }
static inline double leaky_relu_f(double x, double a) { return x > 0 ? x : a * x; }
static inline double leaky_relu_df(double x, double a) { return x > 0 ? 1.0 : a; }
static inline double elu_f(double x, double a) { return x > 0 ? x : a * expm1(x); }
static inline double elu_df(double x, double a) { return x > 0 ? 1.0 : a * exp(x); }
static inline double selu_f(double x, double a)
{
    return SELU_LAMBDA * (x > 0 ? x : SELU_ALPHA * expm1(x));
}
static inline double selu_df(double x, double a)
{
    return SELU_LAMBDA * (x > 0 ? 1.0 : SELU_ALPHA * exp(x));
}
/* Phi(x) = (1 + erf(x/sqrt 2))/2, phi(x) = e^{-x^2/2}/sqrt(2 pi) */
static inline double gelu_f(double x, double a) { return 0.5 * x * erfc(-x * M_SQRT1_2); }
static inline double gelu_df(double x, double a)
{
    return 0.5 * erfc(-x * M_SQRT1_2) + x * exp(-0.5 * x * x) * (0.5 * M_2_SQRTPI * M_SQRT1_2);
}
static inline double silu_f(double x, double a) { return x * gs_sigmoid(x); }
static inline double silu_df(double x, double a)
{
    double s = gs_sigmoid(x);
    return s * (1.0 + x * (1.0 - s));
}
static inline double softplus_f(double x, double a)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}
static inline double softplus_df(double x, double a) { return gs_sigmoid(x); }

/* The array forms: the scalar functions inlined into plain loops (which
 * the compiler vectorizes where the function has no libm call). */
#define ARRAY_MAP(name)                                                        \
    static void name##_map(double *y, const double *x, size_t n, double a)    \
    {                                                                         \
        _Pragma("omp simd")                                                   \
        for (size_t i = 0; i < n; i++)                                        \
            y[i] = name##_f(x[i], a);                                         \
    }
#define ARRAY_GRAD(name)                                                       \
    static void name##_grad(double *out, const double *g, const double *x,    \
                            const double *y, size_t n, double a)              \
    {                                                                         \
        _Pragma("omp simd")                                                   \
        for (size_t i = 0; i < n; i++)                                        \
            out[i] = g[i] * name##_df(x[i], a);                               \
    }
/* rows whose f' is a function of f: one multiply instead of a libm call.
 * Without f(x) at hand (residual layers), f(x) is recomputed by the row's
 * vector map in stack chunks, never by a libm call per value. */
#define GRAD_CHUNK 256
#define ARRAY_GRAD_FROM_Y(name)                                                \
    static void name##_grad(double *out, const double *g, const double *x,    \
                            const double *y, size_t n, double a)              \
    {                                                                         \
        if (y) {                                                              \
            _Pragma("omp simd")                                               \
            for (size_t i = 0; i < n; i++)                                    \
                out[i] = g[i] * name##_dfy(y[i]);                             \
            return;                                                           \
        }                                                                     \
        double f[GRAD_CHUNK];                                                 \
        for (size_t lo = 0; lo < n; lo += GRAD_CHUNK) {                       \
            size_t len = n - lo < GRAD_CHUNK ? n - lo : GRAD_CHUNK;           \
            name##_map(f, x + lo, len, a);                                    \
            _Pragma("omp simd")                                               \
            for (size_t i = 0; i < len; i++)                                  \
                out[lo + i] = g[lo + i] * name##_dfy(f[i]);                   \
        }                                                                     \
    }
#define ARRAY_FORMS(name) ARRAY_MAP(name) ARRAY_GRAD(name)

ARRAY_FORMS(identity)
/* sigmoid and tanh, the costly ones in deep and recurrent nets, map
 * through the vector functions (nn/vmath.h) */
static void sigmoid_map(double *y, const double *x, size_t n, double a) { gs_vsigmoid(y, x, n); }
ARRAY_GRAD_FROM_Y(sigmoid)
static void tanh_map(double *y, const double *x, size_t n, double a) { gs_vtanh(y, x, n); }
ARRAY_GRAD_FROM_Y(tanh)
ARRAY_FORMS(relu)
ARRAY_FORMS(leaky_relu)
ARRAY_FORMS(elu)
ARRAY_FORMS(selu)
/* gelu's erfc (and f''s exp) through the vector functions, in stack
 * chunks: a libm erfc per value was a tenth of a transformer step */
static void gelu_map(double *y, const double *x, size_t n, double a)
{
    double t[GRAD_CHUNK];
    for (size_t lo = 0; lo < n; lo += GRAD_CHUNK) {
        size_t len = n - lo < GRAD_CHUNK ? n - lo : GRAD_CHUNK;
        _Pragma("omp simd")
        for (size_t i = 0; i < len; i++)
            t[i] = -x[lo + i] * M_SQRT1_2;
        gs_verfc(t, t, len);
        _Pragma("omp simd")
        for (size_t i = 0; i < len; i++)
            y[lo + i] = 0.5 * x[lo + i] * t[i];
    }
}
static void gelu_grad(double *out, const double *g, const double *x, const double *y, size_t n,
                      double a)
{
    double t[GRAD_CHUNK], e[GRAD_CHUNK];
    for (size_t lo = 0; lo < n; lo += GRAD_CHUNK) {
        size_t len = n - lo < GRAD_CHUNK ? n - lo : GRAD_CHUNK;
        _Pragma("omp simd")
        for (size_t i = 0; i < len; i++) {
            t[i] = -x[lo + i] * M_SQRT1_2;
            e[i] = -0.5 * x[lo + i] * x[lo + i];
        }
        gs_verfc(t, t, len);
        gs_vexp(e, e, len);
        _Pragma("omp simd")
        for (size_t i = 0; i < len; i++)
            out[lo + i] = g[lo + i] * (0.5 * t[i] + x[lo + i] * e[i] * (0.5 * M_2_SQRTPI * M_SQRT1_2));
    }
}
ARRAY_FORMS(silu)
ARRAY_FORMS(softplus)

#define ROW(name, kind, has_param, default_param, max_slope, can_die, heavy)                \
    {#name, GS_ACT_##kind, name##_f, name##_df, name##_map, name##_grad, has_param,        \
     default_param, max_slope, can_die, heavy}

/* max|f'|: gelu' peaks at x = sqrt 2 (1.12890...), silu' at x = 2.3994
 * (1.0998...), selu' approaches lambda*alpha as x -> 0- (1.7581...);
 * tests/test_activation checks each against a fine scan. */
const gs_activation_t gs_activations[] = {
    ROW(identity, IDENTITY, 0, 0.0, 1.0, 0, 0),
    ROW(sigmoid, SIGMOID, 0, 0.0, 0.25, 0, 1),
    ROW(tanh, TANH, 0, 0.0, 1.0, 0, 1),
    ROW(relu, RELU, 0, 0.0, 1.0, 1, 0),
    ROW(leaky_relu, LEAKY_RELU, 1, 0.01, 1.0, 0, 0),
    ROW(elu, ELU, 1, 1.0, 1.0, 0, 1),
    ROW(selu, SELU, 0, 0.0, SELU_LAMBDA * SELU_ALPHA, 0, 1),
    ROW(gelu, GELU, 0, 0.0, 1.128904145185155, 0, 1),
    ROW(silu, SILU, 0, 0.0, 1.099839320128867, 0, 1),
    ROW(softplus, SOFTPLUS, 0, 0.0, 1.0, 0, 1),
};
const size_t gs_n_activations = sizeof gs_activations / sizeof gs_activations[0];
_Static_assert(sizeof gs_activations / sizeof gs_activations[0] == GS_N_ACT_KINDS,
               "one row per activation kind");

const gs_activation_t *gs_activation_find(const char *name)
{
    for (size_t i = 0; i < gs_n_activations; i++)
        if (strcmp(gs_activations[i].name, name) == 0)
            return &gs_activations[i];
    return NULL;
}

double gs_act_max_slope(const gs_activation_t *act, double a)
{
    if (act->has_param)
        return fmax(act->max_slope, fabs(a));
    return act->max_slope;
}


void gs_act_saturation(const gs_activation_t *act, double a, const double *x, size_t n,
                       double *saturated_frac, double *dead_frac)
{
    /* f' through the row's array form (g = 1), a stack chunk at a time:
     * the same values as act->df without a call per element */
    enum { CHUNK = 256 };
    double ones[CHUNK], d[CHUNK];
    for (size_t i = 0; i < CHUNK; i++)
        ones[i] = 1.0;
    double thresh = 0.05 * gs_act_max_slope(act, a);
    size_t sat = 0, dead = 0;
    for (size_t lo = 0; lo < n; lo += CHUNK) {
        size_t len = n - lo < CHUNK ? n - lo : CHUNK;
        act->grad(d, ones, x + lo, NULL, len, a);
        for (size_t i = 0; i < len; i++) {
            sat += fabs(d[i]) < thresh;
            dead += d[i] == 0.0;
        }
    }
    *saturated_frac = n ? (double)sat / (double)n : 0.0;
    *dead_frac = n ? (double)dead / (double)n : 0.0;
}

/* The array forms in chunks handed to threads (nn/par.h): chunk
 * boundaries depend on n alone. */
void gs_act_forward(const gs_activation_t *act, double a, double *y, const double *x, size_t n)
{
    size_t chunk = act->heavy ? GS_PAR_MIN_HEAVY : GS_PAR_MIN;
    size_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (size_t c = 0; c < chunks; c++) {
        size_t lo = c * chunk, len = n - lo < chunk ? n - lo : chunk;
        act->map(y + lo, x + lo, len, a);
    }
}

void gs_act_backward(const gs_activation_t *act, double a, double *out, const double *g,
                     const double *x, const double *y, size_t n)
{
    /* from y, even the heavy rows' derivatives are a multiply */
    size_t chunk = act->heavy && !y ? GS_PAR_MIN_HEAVY : GS_PAR_MIN;
    size_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (size_t c = 0; c < chunks; c++) {
        size_t lo = c * chunk, len = n - lo < chunk ? n - lo : chunk;
        act->grad(out + lo, g + lo, x + lo, y ? y + lo : NULL, len, a);
    }
}
