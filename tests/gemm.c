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

/* A product's operands, random, with padded leading dimensions: C0 the
 * C before, C1 and C2 copies of it for 1 and 2 threads */
typedef struct {
    double *A, *B, *C0, *C1, *C2;
    size_t lda, ldb, ldc;
} operands_t;

static operands_t make_operands(const shape_t *s, int ta, int tb, gs_rng_t *rng)
{
    size_t M = s->M, N = s->N, K = s->K;
    /* stored shapes: A is (M,K) or (K,M); B is (K,N) or (N,K) */
    size_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    operands_t o = {.lda = ac + PAD, .ldb = bc + PAD, .ldc = N + PAD};
    o.A = malloc((ar * o.lda + 1) * sizeof *o.A);
    o.B = malloc((br * o.ldb + 1) * sizeof *o.B);
    o.C0 = malloc(M * o.ldc * sizeof *o.C0);
    o.C1 = malloc(M * o.ldc * sizeof *o.C1);
    o.C2 = malloc(M * o.ldc * sizeof *o.C2);
    fill(o.A, ar * o.lda + 1, rng);
    fill(o.B, br * o.ldb + 1, rng);
    fill(o.C0, M * o.ldc, rng);
    memcpy(o.C1, o.C0, M * o.ldc * sizeof *o.C0);
    memcpy(o.C2, o.C0, M * o.ldc * sizeof *o.C0);
    return o;
}

static void free_operands(operands_t *o)
{
    free(o->A);
    free(o->B);
    free(o->C0);
    free(o->C1);
    free(o->C2);
}

static void check(const shape_t *s, int ta, int tb, double beta, gs_rng_t *rng)
{
    size_t M = s->M, N = s->N, K = s->K;
    operands_t o = make_operands(s, ta, tb, rng);
    const double *A = o.A, *B = o.B, *C0 = o.C0;
    double *C1 = o.C1, *C2 = o.C2;
    size_t lda = o.lda, ldb = o.ldb, ldc = o.ldc;
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
    free_operands(&o);
}

/* gs_gemm_fmt for format f: every result is a value of f, within one of
 * f's ulps (at the exact value's binade) plus float32's accumulation bound
 * K 2^-23 sum|terms| of the exact product of the rounded inputs (and the
 * rounded C), 1 and 2 threads bitwise equal; float32 results differ from
 * the float64 product somewhere (the arithmetic is not double's). */
static void check_fmt(gs_fmt_id_t id, const shape_t *s, int ta, int tb, double beta, gs_rng_t *rng)
{
    const gs_fmt_t *f = &gs_formats[id];
    size_t M = s->M, N = s->N, K = s->K;
    operands_t o = make_operands(s, ta, tb, rng);
    const double *A = o.A, *B = o.B, *C0 = o.C0;
    double *C1 = o.C1, *C2 = o.C2;
    size_t lda = o.lda, ldb = o.ldb, ldc = o.ldc;
    size_t wn = gs_gemm_fmt_work(M, N, K);
    gs_arith_t a = {f, malloc((wn + 1) * sizeof(float)), wn};
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    gs_gemm_fmt(&a, ta, tb, M, N, K, 1.0, A, lda, B, ldb, beta, C1, ldc);
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    gs_gemm_fmt(&a, ta, tb, M, N, K, 1.0, A, lda, B, ldb, beta, C2, ldc);
    long bad = 0, off_grid = 0, differ = 0;
    int pad_kept = 1;
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++) {
            double c = gs_fmt_round(f, C0[i * ldc + j], 0);
            double want = beta * c, mag = fabs(want), plain = beta * C0[i * ldc + j];
            for (size_t k = 0; k < K; k++) {
                double x = at(A, lda, ta, i, k), y = at(B, ldb, tb, k, j);
                double t = gs_fmt_round(f, x, 0) * gs_fmt_round(f, y, 0);
                want += t;
                mag += fabs(t);
                plain += x * y;
            }
            double got = C1[i * ldc + j];
            int e = want != 0.0 ? ilogb(want) : 0;
            e = e < 1 - f->bias ? 1 - f->bias : e;
            double tol = ldexp(1.0, e - f->man_bits) + (double)(K + 1) * 0x1p-23 * mag;
            bad += !(fabs(got - want) <= tol);
            off_grid += gs_fmt_round(f, got, 0) != got;
            differ += got != plain;
        }
        for (size_t j = N; j < ldc; j++)
            pad_kept &= C1[i * ldc + j] == C0[i * ldc + j];
    }
    tap_ok(bad == 0 && off_grid == 0 && pad_kept && (M * N == 0 || (K == 0 && beta == 0.0) || differ > 0),
           "%s %zux%zux%zu trans %d%d beta %.0f: %ld beyond one ulp + float32's sum bound, "
           "%ld not %s values, %ld of %zu differ from float64", f->name, M, N, K, ta, tb, beta,
           bad, off_grid, f->name, differ, M * N);
    tap_ok(memcmp(C1, C2, M * ldc * sizeof *C1) == 0, "%s %zux%zux%zu: 1 and 2 threads bitwise equal",
           f->name, M, N, K);
    free(a.work);
    free_operands(&o);
}

/* The formats' edges through a product: float16 300 x 300 overflows to
 * inf, e4m3 30 x 30 = 900 to NaN (it has no inf), float16 2^-13 x 2^-13 =
 * 2^-26 flushes to 0, bfloat16 rounds the input 1 + 2^-9 to 1 before
 * multiplying, e5m2 2^-8 x 2^-8 = 2^-16 is its smallest subnormal. */
static void fmt_edges(void)
{
    float work[8];
    struct { gs_fmt_id_t id; double a, b; double want; const char *what; } e[] = {
        {GS_FMT_FLOAT16, 300, 300, INFINITY, "float16 300 x 300 = inf"},
        {GS_FMT_E4M3, 30, 30, NAN, "e4m3 30 x 30 = NaN"},
        {GS_FMT_FLOAT16, 0x1p-13, 0x1p-13, 0.0, "float16 2^-13 x 2^-13 = 0"},
        {GS_FMT_BFLOAT16, 1 + 0x1p-9, 3, 3, "bfloat16 (1 + 2^-9) x 3 = 3"},
        {GS_FMT_E5M2, 0x1p-8, 0x1p-8, 0x1p-16, "e5m2 2^-8 x 2^-8 = 2^-16"},
        {GS_FMT_FLOAT32, 1 + 0x1p-30, 1, 1, "float32 (1 + 2^-30) x 1 = 1"},
    };
    for (size_t k = 0; k < sizeof e / sizeof e[0]; k++) {
        gs_arith_t a = {&gs_formats[e[k].id], work, 8};
        double c = -1.0;
        gs_gemm_fmt(&a, 0, 0, 1, 1, 1, 1.0, &e[k].a, 1, &e[k].b, 1, 0.0, &c, 1);
        tap_ok(isnan(e[k].want) ? isnan(c) : c == e[k].want, "%s (got %a)", e[k].what, c);
    }
}

int main(void)
{
    gs_rng_t rng;
    gs_rng_seed(&rng, 5, 0);
    const double betas[] = {0.0, 1.0, 0.5};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            check(&shapes[s], t >> 1, t & 1, betas[(s + (size_t)t) % 3], &rng);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            check_fmt((gs_fmt_id_t)((s + (size_t)t) % GS_N_FMT), &shapes[s], t >> 1, t & 1,
                      (double)((s + (size_t)t) % 2), &rng);
    fmt_edges();
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
