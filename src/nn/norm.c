#include <config.h>

#include "nn/norm.h"

#include <math.h>

const char *const gs_norm_names[] = {"none", "batch", "layer"};
const size_t gs_n_norms = 3;

void gs_norm_forward(double *out, double *xhat, double *mean, double *rstd,
                     const double *h, const double *gamma, const double *beta,
                     double *running_mean, double *running_var,
                     size_t B, size_t W, gs_norm_kind_t kind)
{
    if (kind == GS_NORM_BATCH) {
#pragma omp parallel for schedule(static)
        for (size_t j = 0; j < W; j++) {
            double m = 0.0;
            for (size_t b = 0; b < B; b++)
                m += h[b * W + j];
            m /= (double)B;
            double v = 0.0;
            for (size_t b = 0; b < B; b++) {
                double d = h[b * W + j] - m;
                v += d * d;
            }
            double var = v / (double)B;
            double r = 1.0 / sqrt(var + GS_NORM_EPS);
            mean[j] = m;
            rstd[j] = r;
            for (size_t b = 0; b < B; b++) {
                double xh = (h[b * W + j] - m) * r;
                xhat[b * W + j] = xh;
                out[b * W + j] = gamma[j] * xh + beta[j];
            }
            if (running_mean) {
                double unbiased = B > 1 ? v / (double)(B - 1) : var;
                running_mean[j] = (1.0 - GS_BN_MOMENTUM) * running_mean[j] + GS_BN_MOMENTUM * m;
                running_var[j] = (1.0 - GS_BN_MOMENTUM) * running_var[j] + GS_BN_MOMENTUM * unbiased;
            }
        }
    } else if (kind == GS_NORM_LAYER) {
#pragma omp parallel for schedule(static)
        for (size_t b = 0; b < B; b++) {
            const double *hr = h + b * W;
            double m = 0.0;
            for (size_t j = 0; j < W; j++)
                m += hr[j];
            m /= (double)W;
            double v = 0.0;
            for (size_t j = 0; j < W; j++)
                v += (hr[j] - m) * (hr[j] - m);
            double r = 1.0 / sqrt(v / (double)W + GS_NORM_EPS);
            mean[b] = m;
            rstd[b] = r;
            for (size_t j = 0; j < W; j++) {
                double xh = (hr[j] - m) * r;
                xhat[b * W + j] = xh;
                out[b * W + j] = gamma[j] * xh + beta[j];
            }
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
        dgamma[j] += dg;
        dbeta[j] += db;
    }
    if (kind == GS_NORM_BATCH) {
        double n = (double)B;
#pragma omp parallel for schedule(static)
        for (size_t j = 0; j < W; j++) {
            double sg = 0.0, sgx = 0.0;
            for (size_t b = 0; b < B; b++) {
                double g = dout[b * W + j] * gamma[j];
                sg += g;
                sgx += g * xhat[b * W + j];
            }
            for (size_t b = 0; b < B; b++) {
                double g = dout[b * W + j] * gamma[j];
                dh[b * W + j] = rstd[j] / n * (n * g - sg - xhat[b * W + j] * sgx);
            }
        }
    } else {
        double n = (double)W;
#pragma omp parallel for schedule(static)
        for (size_t b = 0; b < B; b++) {
            double sg = 0.0, sgx = 0.0;
            for (size_t j = 0; j < W; j++) {
                double g = dout[b * W + j] * gamma[j];
                sg += g;
                sgx += g * xhat[b * W + j];
            }
            for (size_t j = 0; j < W; j++) {
                double g = dout[b * W + j] * gamma[j];
                dh[b * W + j] = rstd[b] / n * (n * g - sg - xhat[b * W + j] * sgx);
            }
        }
    }
}
