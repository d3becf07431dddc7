/* Batch norm's running statistics and its evaluation path, written out
 * from the definitions in nn/norm.h (PyTorch's convention): after each
 * training-mode forward, running_mean = 0.9 running_mean + 0.1 mean and
 * running_var = 0.9 running_var + 0.1 var_unbiased, per unit, from 0 and
 * 1; the evaluation forward is gamma (h - running_mean) /
 * sqrt(running_var + 1e-5) + beta, row by row, with no batch statistics.
 * Batches of B = 2 (the smallest batch norm allows) and B = 7, W = 1 and
 * W = 3. Tolerance 1e-13 relative. */
#include <config.h>

#include <math.h>
#include <stdlib.h>

#include "nn/norm.h"
#include "nn/rng.h"
#include "tap.h"

static void check(size_t B, size_t W, gs_rng_t *rng)
{
    double *h = malloc(B * W * sizeof *h), *out = malloc(B * W * sizeof *out);
    double *xhat = malloc(B * W * sizeof *xhat), *ev = malloc(B * W * sizeof *ev);
    double *mean = malloc((B > W ? B : W) * sizeof *mean), *rstd = malloc((B > W ? B : W) * sizeof *rstd);
    double *gamma = malloc(W * sizeof *gamma), *beta = malloc(W * sizeof *beta);
    double *rm = malloc(W * sizeof *rm), *rv = malloc(W * sizeof *rv);
    double *wm = malloc(W * sizeof *wm), *wv = malloc(W * sizeof *wv);
    for (size_t j = 0; j < W; j++) {
        gamma[j] = 0.5 + 0.25 * (double)j;
        beta[j] = -0.3 + 0.1 * (double)j;
        rm[j] = wm[j] = 0.0;
        rv[j] = wv[j] = 1.0;
    }
    double worst_run = 0.0;
    for (int step = 0; step < 3; step++) {
        for (size_t i = 0; i < B * W; i++)
            h[i] = 2.0 * gs_rng_normal(rng) + 1.5 + (double)step;
        gs_norm_forward(out, xhat, mean, rstd, h, gamma, beta, rm, rv, B, W, GS_NORM_BATCH);
        for (size_t j = 0; j < W; j++) {   /* the definition, independently */
            double m = 0.0, v = 0.0;
            for (size_t b = 0; b < B; b++)
                m += h[b * W + j];
            m /= (double)B;
            for (size_t b = 0; b < B; b++)
                v += (h[b * W + j] - m) * (h[b * W + j] - m);
            v /= (double)(B - 1);
            wm[j] = 0.9 * wm[j] + 0.1 * m;
            wv[j] = 0.9 * wv[j] + 0.1 * v;
            worst_run = fmax(worst_run, fabs(rm[j] - wm[j]) / fmax(1.0, fabs(wm[j])));
            worst_run = fmax(worst_run, fabs(rv[j] - wv[j]) / fmax(1.0, fabs(wv[j])));
        }
    }
    tap_ok(worst_run < 1e-13, "batch norm B=%zu W=%zu: running mean and unbiased variance "
           "after 3 steps, momentum 0.1 (max error %.1e)", B, W, worst_run);
    for (size_t i = 0; i < B * W; i++)
        h[i] = gs_rng_normal(rng);
    gs_batchnorm_eval(ev, h, gamma, beta, rm, rv, B, W);
    double worst_eval = 0.0;
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < W; j++) {
            double want = gamma[j] * (h[b * W + j] - wm[j]) / sqrt(wv[j] + 1e-5) + beta[j];
            worst_eval = fmax(worst_eval, fabs(ev[b * W + j] - want) / fmax(1.0, fabs(want)));
        }
    tap_ok(worst_eval < 1e-13, "batch norm B=%zu W=%zu: evaluation uses the running "
           "statistics (max error %.1e)", B, W, worst_eval);
    /* evaluation is per row: one row alone gives the same as in the batch */
    gs_batchnorm_eval(out, h + (B - 1) * W, gamma, beta, rm, rv, 1, W);
    int same = 1;
    for (size_t j = 0; j < W; j++)
        same &= out[j] == ev[(B - 1) * W + j];
    tap_ok(same, "batch norm B=%zu W=%zu: evaluation of a row does not depend on the others",
           B, W);
    free(h); free(out); free(xhat); free(ev); free(mean); free(rstd);
    free(gamma); free(beta); free(rm); free(rv); free(wm); free(wv);
}

int main(void)
{
    gs_rng_t rng;
    gs_rng_seed(&rng, 21, 0);
    const size_t Bs[] = {2, 7}, Ws[] = {1, 3};
    for (size_t i = 0; i < 2; i++)
        for (size_t k = 0; k < 2; k++)
            check(Bs[i], Ws[k], &rng);
    return tap_done();
}
