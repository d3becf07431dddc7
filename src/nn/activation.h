/* Activation functions: one table row each (name, f, f', traits).
 *
 *   identity   f = x
 *   sigmoid    f = 1/(1+e^-x)                  f' = f(1-f)
 *   tanh       f = tanh x                      f' = 1-f^2
 *   relu       f = max(0, x)                   f' = [x > 0]
 *   leaky_relu f = x if x > 0 else a x         (a = 0.01)
 *   elu        f = x if x > 0 else a(e^x - 1)  (a = 1)
 *   selu       f = l x if x > 0 else l A(e^x - 1), l = 1.0507..., A = 1.6733...
 *   gelu       f = x Phi(x)                    (exact, erf form)
 *   silu       f = x sigmoid(x)
 *   softplus   f = log(1 + e^x)                f' = sigmoid(x)
 *
 * f and f' take the activation's input x (the pre-activation after any
 * normalization) and the parameter a (ignored by rows without one). */
#ifndef GS_NN_ACTIVATION_H
#define GS_NN_ACTIVATION_H

#include <math.h>
#include <stddef.h>

typedef double (*gs_act_fn)(double x, double a);
/* y[i] = f(x[i]) for i < n */
typedef void (*gs_act_map_fn)(double *y, const double *x, size_t n, double a);
/* out[i] = g[i] * f'(x[i]) for i < n; y is f(x) as the map wrote it, or
 * NULL (rows whose derivative is cheaper from f(x) use it when given);
 * out may be g. */
typedef void (*gs_act_grad_fn)(double *out, const double *g, const double *x,
                               const double *y, size_t n, double a);

/* Which function a row is, as data: code that treats one activation
 * apart (a theory that holds for relu alone) tests this, never the name.
 * In the order of gs_activations (gs_activations[k].kind == k). */
typedef enum {
    GS_ACT_IDENTITY, GS_ACT_SIGMOID, GS_ACT_TANH, GS_ACT_RELU, GS_ACT_LEAKY_RELU, GS_ACT_ELU,
    GS_ACT_SELU, GS_ACT_GELU, GS_ACT_SILU, GS_ACT_SOFTPLUS
} gs_act_kind_t;
#define GS_N_ACT_KINDS 10

typedef struct {
    const char *name;
    gs_act_kind_t kind;
    gs_act_fn f;
    gs_act_fn df;
    gs_act_map_fn map;     /* f over an array: the hot loops call these */
    gs_act_grad_fn grad;   /* g * f' over an array */
    int has_param;        /* written name(a), e.g. leaky_relu(0.2) */
    double default_param;
    /* max over x of |f'(x)| for the default parameter; with a parameter the
     * maximum is max(1, |a|) for leaky_relu and elu (see gs_act_max_slope). */
    double max_slope;
    int can_die;          /* f' is exactly 0 on a half-line */
    int heavy;            /* f calls libm: worth threads from fewer values */
} gs_activation_t;

extern const gs_activation_t gs_activations[];
extern const size_t gs_n_activations;

/* Row by name, or NULL. */
const gs_activation_t *gs_activation_find(const char *name);
/* max |f'| for this row and parameter: the saturation threshold's scale. */
double gs_act_max_slope(const gs_activation_t *act, double a);

/* Logistic function, stable on both tails. */
static inline double gs_sigmoid(double x)
{
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* act->map and act->grad over n values, shared among OpenMP threads when n
 * is large enough to pay for it. Elementwise, so the result does not
 * depend on the thread count. */
void gs_act_forward(const gs_activation_t *act, double a, double *y, const double *x, size_t n);
void gs_act_backward(const gs_activation_t *act, double a, double *out, const double *g,
                     const double *x, const double *y, size_t n);

/* Over the activation inputs x[0..n): the share with |f'(x)| below 5% of
 * max|f'| (saturated) and with f'(x) = 0 (dead). */
void gs_act_saturation(const gs_activation_t *act, double a, const double *x, size_t n,
                       double *saturated_frac, double *dead_frac);

#endif
