/* gs_gemm (nn/gemm.h) against a plain triple loop, for every transpose
 * combination and shapes that hit the edges of its tiling: 1x1x1, K = 0,
 * one row or one column, odd sizes just below and above the split
 * thresholds, and sizes that split both ways; with leading dimensions
 * wider than the matrices and beta = 0, 1 and 0.5. Tolerance: relative
 * 1e-13 of sum |a||b| per element (the products are sums of up to 300
 * terms of size ~1, each rounding below 1.1e-16). And with 1 and 2 OpenMP
 * threads, bitwise the same C - the contract that keeps results
 * independent of the thread count. And gs_norm2 (nn/linear.h) against a
 * long double sum: one pass in the safe range, rescaled outside it (1e-160
 * and 1e200, whose squares under- and overflow), over one and many blocks,
 * to 1e-15 sqrt(n) relative (a sum's rounding grows as sqrt(n): measured
 * up to 7e-15 at n = 1e5 when rescaled); NaN and infinity come back. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/gemm.h"
#include "nn/linear.h"
#include "nn/rng.h"
#include "tap.h"

#define PAD 3   /* extra columns in every leading dimension */

typedef struct {
    size_t M, N, K;
} shape_t;

static const shape_t shapes[] = {
    {1, 1, 1},     {1, 1, 0},     {1, 7, 5},      {7, 1, 5},     {4, 4, 4},
    {31, 127, 65}, {32, 128, 64}, {33, 129, 70},  {64, 256, 64}, {65, 300, 33},
    {128, 64, 3},  {3, 500, 200}, {300, 2, 300},  {40, 130, 1},  {257, 129, 17},
};

/* element (i, j) of op(X) for X stored with leading dimension ld */
static double at(const double *x, size_t ld, int trans, size_t i, size_t j)
{
    return trans ? x[j * ld + i] : x[i * ld + j];
}

static void fill(double *x, size_t n, gs_rng_t *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 2.0 * gs_rng_uniform(rng) - 1.0;
}

static void check(const shape_t *s, int ta, int tb, double beta, gs_rng_t *rng)
{
    size_t M = s->M, N = s->N, K = s->K;
    /* stored shapes: A is (M,K) or (K,M); B is (K,N) or (N,K) */
    size_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    size_t lda = ac + PAD, ldb = bc + PAD, ldc = N + PAD;
    double *A = malloc((ar * lda + 1) * sizeof *A), *B = malloc((br * ldb + 1) * sizeof *B);
    double *C0 = malloc(M * ldc * sizeof *C0), *C1 = malloc(M * ldc * sizeof *C1);
    double *C2 = malloc(M * ldc * sizeof *C2);
    fill(A, ar * lda + 1, rng);
    fill(B, br * ldb + 1, rng);
    fill(C0, M * ldc, rng);
    memcpy(C1, C0, M * ldc * sizeof *C0);
    memcpy(C2, C0, M * ldc * sizeof *C0);
    const double alpha = 0.75;
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    gs_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C1, ldc);
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    gs_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc);
    double worst = 0.0;
    int pad_kept = 1;
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++) {
            double want = beta * C0[i * ldc + j], mag = fabs(want);
            for (size_t k = 0; k < K; k++) {
                double t = at(A, lda, ta, i, k) * at(B, ldb, tb, k, j);
                want += alpha * t;
                mag += fabs(alpha * t);
            }
            double err = fabs(C1[i * ldc + j] - want) / (mag > 1e-300 ? mag : 1.0);
            worst = err > worst ? err : worst;
        }
        for (size_t j = N; j < ldc; j++)   /* the padding is not C's */
            pad_kept &= C1[i * ldc + j] == C0[i * ldc + j];
    }
    tap_ok(worst < 1e-13 && pad_kept, "%zux%zux%zu trans %d%d beta %.1f: max error %.1e of "
           "sum |terms|, padding untouched", M, N, K, ta, tb, beta, worst);
#ifdef _OPENMP
    tap_ok(memcmp(C1, C2, M * ldc * sizeof *C1) == 0,
           "%zux%zux%zu trans %d%d beta %.1f: 1 and 2 threads bitwise equal", M, N, K, ta, tb,
           beta);
#endif
    free(A);
    free(B);
    free(C0);
    free(C1);
    free(C2);
}

int main(void)
{
    gs_rng_t rng;
    gs_rng_seed(&rng, 5, 0);
    const double betas[] = {0.0, 1.0, 0.5};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            check(&shapes[s], t >> 1, t & 1, betas[(s + (size_t)t) % 3], &rng);
    const size_t ns[] = {1, 7, 16384, 100003};
    const double mags[] = {1.0, 1e-160, 1e200};
    static double v[100003];
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 3; b++) {
            long double ref = 0.0L;
            for (size_t i = 0; i < ns[a]; i++) {
                v[i] = (2.0 * gs_rng_uniform(&rng) - 1.0) * mags[b];
                long double t = (long double)(v[i] / mags[b]);
                ref += t * t;
            }
            double want = (double)(sqrtl(ref)) * mags[b], got = gs_norm2(v, ns[a]);
            double tol = 1e-15 * sqrt((double)ns[a]);   /* rounding grows as sqrt(n) */
            tap_ok(fabs(got - want) <= tol * want, "gs_norm2 of %zu values of size %g: "
                   "relative error %.1e", ns[a], mags[b], fabs(got - want) / want);
        }
    v[5] = NAN;
    tap_ok(isnan(gs_norm2(v, 100003)), "gs_norm2: a NaN gives NaN");
    v[5] = -INFINITY;
    tap_ok(isinf(gs_norm2(v, 100003)), "gs_norm2: an infinity gives infinity");
    tap_ok(gs_norm2(v, 0) == 0.0, "gs_norm2 of nothing is 0");
    tap_ok(strlen(gs_blas_describe()) > 0, "the BLAS names itself: %s", gs_blas_describe());
    return tap_done();
}
