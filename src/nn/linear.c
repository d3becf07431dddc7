#include <config.h>

#include "nn/linear.h"

#include <math.h>
#include <string.h>

#include "nn/gemm.h"
#include "nn/par.h"

void gs_linear_forward_ar(const gs_arith_t *ar, double *out, const double *inp, const double *w,
                          const double *bias, size_t B, size_t I, size_t O)
{
    /* out (B,O) = bias on every row, then += inp (B,I) W^T (I,O): with
     * beta = 1 the BLAS skips its pass that would zero out */
    if (bias) {
#pragma omp parallel for schedule(static) if (B * O >= GS_PAR_MIN)
        for (size_t b = 0; b < B; b++)
            memcpy(out + b * O, bias, O * sizeof *out);
    }
    gs_gemm_fmt(ar, 0, 1, B, O, I, 1.0, inp, I, w, I, bias ? 1.0 : 0.0, out, O);
}

void gs_linear_forward(double *out, const double *inp, const double *w,
                       const double *bias, size_t B, size_t I, size_t O)
{
    gs_linear_forward_ar(NULL, out, inp, w, bias, B, I, O);
}

/* Columns per task of gs_colsum_add. */
#define COLSUM_BLOCK 64

void gs_colsum_add(double *sum, const double *x, size_t rows, size_t cols)
{
    /* each thread a block of columns; within it row by row, so that each
     * column is summed in row order whatever the split, and the inner loop
     * runs along memory */
    size_t blocks = (cols + COLSUM_BLOCK - 1) / COLSUM_BLOCK;
#pragma omp parallel for schedule(static) if (rows * cols >= GS_PAR_MIN && blocks > 1)
    for (size_t k = 0; k < blocks; k++) {
        size_t c0 = k * COLSUM_BLOCK, c1 = c0 + COLSUM_BLOCK < cols ? c0 + COLSUM_BLOCK : cols;
        for (size_t r = 0; r < rows; r++) {
            const double *xr = x + r * cols;
#pragma omp simd
            for (size_t c = c0; c < c1; c++)
                sum[c] += xr[c];
        }
    }
}

size_t gs_linear_fmt_work(size_t B, size_t I, size_t O)
{
    size_t w[3] = {gs_gemm_fmt_work(B, O, I), gs_gemm_fmt_work(O, I, B), gs_gemm_fmt_work(B, I, O)};
    size_t most = 0;
    for (int k = 0; k < 3; k++)
        most = w[k] > most ? w[k] : most;
    return most;
}

void gs_linear_backward_weights_ar(const gs_arith_t *ar, double *dw, double *dbias,
                                   const double *dout, const double *inp, size_t B, size_t I,
                                   size_t O)
{
    /* dW (O,I) = dout^T (O,B) inp (B,I): written, not added, so that no
     * pass over the gradients has to zero them first (the BLAS clears
     * each tile of C just before it accumulates into it, in cache) */
    gs_gemm_fmt(ar, 1, 0, O, I, B, 1.0, dout, O, inp, I, 0.0, dw, I);
    if (dbias) {
        memset(dbias, 0, O * sizeof *dbias);
        gs_colsum_add(dbias, dout, B, O);
        if (ar && ar->fmt)
            gs_fmt_round_array(ar->fmt, dbias, O, 0);
    }
}

void gs_linear_backward_input_ar(const gs_arith_t *ar, double *dinp, const double *dout,
                                 const double *w, size_t B, size_t I, size_t O, int add)
{
    /* dinp (B,I) (+)= dout (B,O) W (O,I) */
    gs_gemm_fmt(ar, 0, 0, B, I, O, 1.0, dout, O, w, I, add ? 1.0 : 0.0, dinp, I);
}

void gs_linear_backward_weights(double *dw, double *dbias, const double *dout,
                                const double *inp, size_t B, size_t I, size_t O)
{
    gs_linear_backward_weights_ar(NULL, dw, dbias, dout, inp, B, I, O);
}

void gs_linear_backward_input(double *dinp, const double *dout, const double *w,
                              size_t B, size_t I, size_t O, int add)
{
    gs_linear_backward_input_ar(NULL, dinp, dout, w, B, I, O, add);
}

void gs_linear_backward_ar(const gs_arith_t *ar, double *dinp, double *dw, double *dbias,
                           const double *dout, const double *inp, const double *w, size_t B,
                           size_t I, size_t O, int add)
{
    gs_linear_backward_weights_ar(ar, dw, dbias, dout, inp, B, I, O);
    if (dinp)
        gs_linear_backward_input_ar(ar, dinp, dout, w, B, I, O, add);
}

void gs_linear_backward(double *dinp, double *dw, double *dbias,
                        const double *dout, const double *inp, const double *w,
                        size_t B, size_t I, size_t O, int add)
{
    gs_linear_backward_ar(NULL, dinp, dw, dbias, dout, inp, w, B, I, O, add);
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

/* Sum of squares and largest magnitude of n values in one pass, in
 * SUMSQ_LANES independent partial sums (lane i takes the values i mod
 * SUMSQ_LANES), added pairwise at the end: the order depends on n only,
 * and the adds of different lanes do not wait on each other. */
#define SUMSQ_LANES 8
static void sumsq_max(const double *x, size_t n, double *sumsq, double *amax)
{
    double s[SUMSQ_LANES] = {0}, m[SUMSQ_LANES] = {0};
    size_t full = n - n % SUMSQ_LANES;
    for (size_t i = 0; i < full; i += SUMSQ_LANES)
        for (size_t k = 0; k < SUMSQ_LANES; k++) {
            double v = x[i + k];
            s[k] += v * v;
            m[k] = m[k] > fabs(v) ? m[k] : fabs(v);
        }
    for (size_t k = 0; full + k < n; k++) {
        double v = x[full + k];
        s[k] += v * v;
        m[k] = m[k] > fabs(v) ? m[k] : fabs(v);
    }
    for (size_t w = SUMSQ_LANES / 2; w > 0; w /= 2)
        for (size_t k = 0; k < w; k++) {
            s[k] += s[k + w];
            m[k] = m[k] > m[k + w] ? m[k] : m[k + w];
        }
    *sumsq = s[0];
    *amax = m[0];
}

/* The rescaled sum: amax * sqrt(sum (x/amax)^2), safe from overflow and
 * underflow whatever the magnitudes. */
static double scaled_norm(const double *x, size_t n, double amax)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = x[i] / amax;
        s += t * t;
    }
    return amax * sqrt(s);
}

/* Blocks of gs_norm2: their number and size depend on n alone, so the
 * partial sums, and their sum in block order, are the same for any number
 * of threads. */
#define NORM_MAX_BLOCKS 64
#define NORM_MIN_BLOCK 16384
/* Squares of magnitudes inside [1e-140, 1e140] neither overflow (even
 * summed over 1e20 values) nor lose the largest terms to underflow. */
#define NORM_SAFE_LO 1e-140
#define NORM_SAFE_HI 1e140

double gs_norm2(const double *x, size_t n)
{
    /* Deep sigmoid nets reach gradients near 1e-160, whose squares
     * underflow: outside the safe range the sum is rescaled by the largest
     * magnitude. A NaN or infinity comes back as such: callers use it to
     * detect divergence. */
    size_t nb = n / NORM_MIN_BLOCK;
    nb = nb < 1 ? 1 : nb > NORM_MAX_BLOCKS ? NORM_MAX_BLOCKS : nb;
    size_t bs = (n + nb - 1) / nb;
    double ps[NORM_MAX_BLOCKS], pm[NORM_MAX_BLOCKS];
#pragma omp parallel for schedule(static) if (nb > 1)
    for (size_t k = 0; k < nb; k++) {
        size_t lo = k * bs, hi = lo + bs < n ? lo + bs : n;
        sumsq_max(x + lo, hi > lo ? hi - lo : 0, &ps[k], &pm[k]);
    }
    double s = 0.0, amax = 0.0;
    for (size_t k = 0; k < nb; k++) {
        s += ps[k];
        amax = pm[k] > amax ? pm[k] : amax;
    }
    if (isnan(s))
        return NAN;
    if (isinf(amax))
        return INFINITY;
    if (amax == 0.0)
        return 0.0;
    if (amax >= NORM_SAFE_LO && amax <= NORM_SAFE_HI)
        return sqrt(s);
    return scaled_norm(x, n, amax);
}
