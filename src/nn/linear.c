#include <config.h>

#include "nn/linear.h"

#include <math.h>

void gs_linear_forward(double *out, const double *inp, const double *w,
                       const double *bias, size_t B, size_t I, size_t O)
{
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < B; b++) {
        const double *x = inp + b * I;   // (I)
        double *y = out + b * O;         // (O)
        for (size_t o = 0; o < O; o++) {
            const double *wr = w + o * I;
            double acc = bias ? bias[o] : 0.0;
            for (size_t i = 0; i < I; i++)
                acc += x[i] * wr[i];
            y[o] = acc;
        }
    }
}

void gs_linear_backward_weights(double *dw, double *dbias, const double *dout,
                                const double *inp, size_t B, size_t I, size_t O)
{
#pragma omp parallel for schedule(static)
    for (size_t o = 0; o < O; o++) {
        double *dwr = dw + o * I;   // (I)
        double db = 0.0;
        for (size_t b = 0; b < B; b++) {
            double g = dout[b * O + o];
            const double *x = inp + b * I;
            db += g;
            for (size_t i = 0; i < I; i++)
                dwr[i] += g * x[i];
        }
        if (dbias)
            dbias[o] += db;
    }
}

void gs_linear_backward_input(double *dinp, const double *dout, const double *w,
                              size_t B, size_t I, size_t O)
{
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < B; b++) {
        double *dx = dinp + b * I;        // (I)
        const double *g = dout + b * O;   // (O)
        for (size_t o = 0; o < O; o++) {
            const double *wr = w + o * I;
            double go = g[o];
            for (size_t i = 0; i < I; i++)
                dx[i] += go * wr[i];
        }
    }
}

void gs_linear_backward(double *dinp, double *dw, double *dbias,
                        const double *dout, const double *inp, const double *w,
                        size_t B, size_t I, size_t O)
{
    gs_linear_backward_weights(dw, dbias, dout, inp, B, I, O);
    if (dinp)
        gs_linear_backward_input(dinp, dout, w, B, I, O);
}

void gs_mean_std(const double *x, size_t n, double *mean, double *std)
{
    double sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    double m = n ? sum / (double)n : 0.0;
    for (size_t i = 0; i < n; i++)
        sq += (x[i] - m) * (x[i] - m);
    *mean = m;
    *std = n ? sqrt(sq / (double)n) : 0.0;
}

double gs_norm2(const double *x, size_t n)
{
    /* Scaled by the largest magnitude so that gradients near 1e-160 (deep
     * sigmoid nets get there) do not underflow when squared. A NaN or
     * infinity comes back as such: callers use it to detect divergence. */
    double amax = 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(x[i]);
        if (!isfinite(a))
            return isnan(a) ? NAN : INFINITY;
        if (a > amax)
            amax = a;
    }
    if (amax == 0.0)
        return 0.0;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = x[i] / amax;
        s += t * t;
    }
    return amax * sqrt(s);
}
