#include <config.h>

#include "nn/norm.h"

#include <math.h>

const char *const gs_norm_names[] = {"none", "batch", "layer", NULL};
const size_t gs_n_norms = 3;

/* Both norms normalise groups of n values: batch norm one group per unit
 * (the B rows of column j), layer norm one group per row (its W units).
 * Value i of group g sits at g*gs + i*es; its unit (for gamma, beta) is g
 * for batch norm and i for layer norm. */
typedef struct {
    size_t groups, n, gs, es;
    int per_unit;   /* batch norm: gamma index is the group */
} layout_t;

static layout_t layout(size_t B, size_t W, gs_norm_kind_t kind)
{
    if (kind == GS_NORM_BATCH)
        return (layout_t){W, B, 1, W, 1};
    return (layout_t){B, W, W, 1, 0};
}

void gs_norm_forward(double *out, double *xhat, double *mean, double *rstd,
                     const double *h, const double *gamma, const double *beta,
                     double *running_mean, double *running_var,
                     size_t B, size_t W, gs_norm_kind_t kind)
{
    if (kind == GS_NORM_NONE)
        return;
    const layout_t L = layout(B, W, kind);
#pragma omp parallel for schedule(static)
    for (size_t g = 0; g < L.groups; g++) {
        const double *hg = h + g * L.gs;
        double m = 0.0;
        for (size_t i = 0; i < L.n; i++)
            m += hg[i * L.es];
        m /= (double)L.n;
        double v = 0.0;
        for (size_t i = 0; i < L.n; i++)
            v += (hg[i * L.es] - m) * (hg[i * L.es] - m);
        double r = 1.0 / sqrt(v / (double)L.n + GS_NORM_EPS);
        mean[g] = m;
        rstd[g] = r;
        for (size_t i = 0; i < L.n; i++) {
            size_t k = g * L.gs + i * L.es, j = L.per_unit ? g : i;
            double xh = (h[k] - m) * r;
            xhat[k] = xh;
            out[k] = gamma[j] * xh + beta[j];
        }
        if (L.per_unit && running_mean) {
            double unbiased = L.n > 1 ? v / (double)(L.n - 1) : v;
            running_mean[g] = (1.0 - GS_BN_MOMENTUM) * running_mean[g] + GS_BN_MOMENTUM * m;
            running_var[g] = (1.0 - GS_BN_MOMENTUM) * running_var[g] + GS_BN_MOMENTUM * unbiased;
        }
    }
}

void gs_batchnorm_eval(double *out, const double *h, const double *gamma,
                       const double *beta, const double *running_mean,
                       const double *running_var, size_t B, size_t W)
{
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < W; j++) {
            double xh = (h[b * W + j] - running_mean[j]) / sqrt(running_var[j] + GS_NORM_EPS);
            out[b * W + j] = gamma[j] * xh + beta[j];
        }
}

void gs_norm_backward(double *dh, double *dgamma, double *dbeta,
                      const double *dout, const double *xhat, const double *rstd,
                      const double *gamma, size_t B, size_t W,
                      gs_norm_kind_t kind)
{
    /* dgamma, dbeta: per unit, summed over rows in row order */
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < W; j++) {
        double dg = 0.0, db = 0.0;
        for (size_t b = 0; b < B; b++) {
            dg += dout[b * W + j] * xhat[b * W + j];
            db += dout[b * W + j];
        }
        dgamma[j] = dg;
        dbeta[j] = db;
    }
    const layout_t L = layout(B, W, kind);
    const double n = (double)L.n;
#pragma omp parallel for schedule(static)
    for (size_t g = 0; g < L.groups; g++) {
        double sg = 0.0, sgx = 0.0;
        for (size_t i = 0; i < L.n; i++) {
            size_t k = g * L.gs + i * L.es;
            double gk = dout[k] * gamma[L.per_unit ? g : i];
            sg += gk;
            sgx += gk * xhat[k];
        }
        for (size_t i = 0; i < L.n; i++) {
            size_t k = g * L.gs + i * L.es;
            double gk = dout[k] * gamma[L.per_unit ? g : i];
            dh[k] = rstd[g] / n * (n * gk - sg - xhat[k] * sgx);
        }
    }
}
