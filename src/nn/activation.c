#include <config.h>

#include "nn/activation.h"

#include <math.h>
#include <string.h>

#define SELU_LAMBDA 1.0507009873554804934193349852946
#define SELU_ALPHA 1.6732632423543772848170429916717

static double sigm(double x)
{
    /* stable on both tails */
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static double id_f(double x, double a) { return x; }
static double id_df(double x, double a) { return 1.0; }
static double sig_f(double x, double a) { return sigm(x); }
static double sig_df(double x, double a) { double s = sigm(x); return s * (1.0 - s); }
static double tanh_f(double x, double a) { return tanh(x); }
static double tanh_df(double x, double a) { double t = tanh(x); return 1.0 - t * t; }
static double relu_f(double x, double a) { return x > 0 ? x : 0.0; }
static double relu_df(double x, double a) { return x > 0 ? 1.0 : 0.0; }
static double leaky_f(double x, double a) { return x > 0 ? x : a * x; }
static double leaky_df(double x, double a) { return x > 0 ? 1.0 : a; }
static double elu_f(double x, double a) { return x > 0 ? x : a * expm1(x); }
static double elu_df(double x, double a) { return x > 0 ? 1.0 : a * exp(x); }
static double selu_f(double x, double a)
{
    return SELU_LAMBDA * (x > 0 ? x : SELU_ALPHA * expm1(x));
}
static double selu_df(double x, double a)
{
    return SELU_LAMBDA * (x > 0 ? 1.0 : SELU_ALPHA * exp(x));
}
/* Phi(x) = (1 + erf(x/sqrt 2))/2, phi(x) = e^{-x^2/2}/sqrt(2 pi) */
static double gelu_f(double x, double a) { return 0.5 * x * erfc(-x * M_SQRT1_2); }
static double gelu_df(double x, double a)
{
    return 0.5 * erfc(-x * M_SQRT1_2) + x * exp(-0.5 * x * x) * (0.5 * M_2_SQRTPI * M_SQRT1_2);
}
static double silu_f(double x, double a) { return x * sigm(x); }
static double silu_df(double x, double a)
{
    double s = sigm(x);
    return s * (1.0 + x * (1.0 - s));
}
static double softplus_f(double x, double a)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}
static double softplus_df(double x, double a) { return sigm(x); }

/* max|f'|: gelu' peaks at x = sqrt 2 (1.12890...), silu' at x = 2.3994
 * (1.0998...), selu' approaches lambda*alpha as x -> 0- (1.7581...);
 * tests/test_activation checks each against a fine scan. */
const gs_activation_t gs_activations[] = {
    {"identity", id_f, id_df, 0, 0.0, 1.0, 0},
    {"sigmoid", sig_f, sig_df, 0, 0.0, 0.25, 0},
    {"tanh", tanh_f, tanh_df, 0, 0.0, 1.0, 0},
    {"relu", relu_f, relu_df, 0, 0.0, 1.0, 1},
    {"leaky_relu", leaky_f, leaky_df, 1, 0.01, 1.0, 0},
    {"elu", elu_f, elu_df, 1, 1.0, 1.0, 0},
    {"selu", selu_f, selu_df, 0, 0.0, SELU_LAMBDA * SELU_ALPHA, 0},
    {"gelu", gelu_f, gelu_df, 0, 0.0, 1.128904145185155, 0},
    {"silu", silu_f, silu_df, 0, 0.0, 1.099839320128867, 0},
    {"softplus", softplus_f, softplus_df, 0, 0.0, 1.0, 0},
};
const size_t gs_n_activations = sizeof gs_activations / sizeof gs_activations[0];

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
    double thresh = 0.05 * gs_act_max_slope(act, a);
    size_t sat = 0, dead = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(act->df(x[i], a));
        sat += d < thresh;
        dead += d == 0.0;
    }
    *saturated_frac = n ? (double)sat / (double)n : 0.0;
    *dead_frac = n ? (double)dead / (double)n : 0.0;
}
