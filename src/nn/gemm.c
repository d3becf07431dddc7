#include <config.h>

#include "nn/gemm.h"

#include <assert.h>
#include <stdio.h>

#include "nn/par.h"

#include GS_CBLAS_HEADER
#if defined(HAVE_BLI_THREAD_SET_NUM_THREADS) && !defined(HAVE_OPENBLAS_SET_NUM_THREADS)
#include <stdint.h>
void bli_thread_set_num_threads(int64_t n);   /* blis.h; cblas.h lacks it */
#endif

/* Tiling (a function of the shape only; see gemm.h). A dimension is cut in
 * two when each half keeps enough rows or columns for the BLAS's
 * micro-kernels to run full, and the product is large enough that a second
 * thread pays for its start-up: below 2^19 multiply-adds (~20 us) it did
 * not (a 64-wide RNN step ran slower on two threads). Halves are rounded
 * up to a multiple of 8, the register-tile height of the usual double
 * kernels. Measured figures: docs/architecture.md, "Matrix products". */
#define GS_GEMM_SPLIT_WORK ((double)(1 << 19))   /* multiply-adds */
#define GS_GEMM_MIN_M 32
#define GS_GEMM_MIN_N 128
#define GS_GEMM_ALIGN 8

static size_t half_up(size_t n)
{
    size_t h = (n + 1) / 2;
    return (h + GS_GEMM_ALIGN - 1) / GS_GEMM_ALIGN * GS_GEMM_ALIGN;
}

void gs_gemm_blas(int trans_a, int trans_b, size_t M, size_t N, size_t K, double alpha,
                  const double *A, size_t lda, const double *B, size_t ldb, double beta,
                  double *C, size_t ldc)
{
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda,
                B, (int)ldb, beta, C, (int)ldc);
}

/* Set by gs_blas_init; the first product makes sure of it, for programs
 * (tests) that never call it. gs_gemm is called outside parallel regions
 * only, so the check needs no lock. */
static int blas_ready;

void gs_gemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, double alpha,
             const double *A, size_t lda, const double *B, size_t ldb, double beta,
             double *C, size_t ldc)
{
    if (M == 0 || N == 0)
        return;
    if (!blas_ready)
        gs_blas_init();
    double work = (double)M * (double)N * (double)K;
    size_t mb = M, nb = N;
    if (work >= GS_GEMM_SPLIT_WORK && M >= GS_GEMM_MIN_M)
        mb = half_up(M);
    if (work >= 4 * GS_GEMM_SPLIT_WORK && N >= GS_GEMM_MIN_N)
        nb = half_up(N);
    size_t tm = (M + mb - 1) / mb, tn = (N + nb - 1) / nb;
    assert(tm <= 2 && tn <= 2);
    if (tm * tn == 1) {
        gs_gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t t = 0; t < tm * tn; t++) {
        size_t m0 = t / tn * mb, n0 = t % tn * nb;
        size_t mm = M - m0 < mb ? M - m0 : mb, nn = N - n0 < nb ? N - n0 : nb;
        /* rows m0.. of op(A): rows of A, or columns when transposed */
        const double *a = trans_a ? A + m0 : A + m0 * lda;
        /* columns n0.. of op(B): columns of B, or rows when transposed */
        const double *b = trans_b ? B + n0 * ldb : B + n0;
        gs_gemm_blas(trans_a, trans_b, mm, nn, K, alpha, a, lda, b, ldb, beta, C + m0 * ldc + n0,
                  ldc);
    }
}

size_t gs_gemm_fmt_work(size_t M, size_t N, size_t K)
{
    return M * K + K * N + M * N;
}

/* dst (rows, cols) contiguous = src (rows, cols; leading dimension ld)
 * rounded to f: exact as floats (f is at most float32) */
static void round_to_floats(const gs_fmt_t *f, float *dst, const double *src, size_t rows,
                            size_t cols, size_t ld)
{
#pragma omp parallel for schedule(static) if (rows * cols >= GS_PAR_MIN)
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            dst[i * cols + j] = f == &gs_formats[GS_FMT_FLOAT32]
                                    ? (float)src[i * ld + j]   /* the same rounding, in hardware */
                                    : (float)gs_fmt_round(f, src[i * ld + j], 0);
}

void gs_gemm_fmt(const gs_arith_t *ar, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                 double alpha, const double *A, size_t lda, const double *B, size_t ldb,
                 double beta, double *C, size_t ldc)
{
    if (!ar || !ar->fmt) {
        gs_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (M == 0 || N == 0)
        return;
    if (!blas_ready)
        gs_blas_init();
    assert(gs_gemm_fmt_work(M, N, K) <= ar->work_n);
    const gs_fmt_t *f = ar->fmt;
    /* the stored arrays, as stored: A is (M, K), or (K, M) transposed */
    float *a = ar->work, *b = a + M * K, *c = b + K * N;
    size_t ar_rows = trans_a ? K : M, ar_cols = trans_a ? M : K;
    size_t br_rows = trans_b ? N : K, br_cols = trans_b ? K : N;
    round_to_floats(f, a, A, ar_rows, ar_cols, lda);
    round_to_floats(f, b, B, br_rows, br_cols, ldb);
    if (beta != 0.0)
        round_to_floats(f, c, C, M, N, ldc);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, (float)alpha, a,
                (int)ar_cols, b, (int)br_cols, (float)beta, c, (int)N);
#pragma omp parallel for schedule(static) if (M * N >= GS_PAR_MIN)
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++)
            C[i * ldc + j] = f == &gs_formats[GS_FMT_FLOAT32] ? (double)c[i * N + j]
                                                               : gs_fmt_round(f, (double)c[i * N + j], 0);
}

void gs_blas_set_threads(int n)
{
#if defined(HAVE_OPENBLAS_SET_NUM_THREADS)
    openblas_set_num_threads(n);
#elif defined(HAVE_BLI_THREAD_SET_NUM_THREADS)
    bli_thread_set_num_threads(n);
#elif defined(HAVE_MKL_SET_NUM_THREADS)
    mkl_set_num_threads(n);
#else
    (void)n;
#endif
}

void gs_blas_init(void)
{
    gs_blas_set_threads(1);
    blas_ready = 1;
}

const char *gs_blas_describe(void)
{
    static char buf[256];
#if defined(HAVE_OPENBLAS_GET_CONFIG) && defined(HAVE_OPENBLAS_GET_CORENAME)
    snprintf(buf, sizeof buf, "%s: %s, core %s", GS_BLAS_NAME, openblas_get_config(),
             openblas_get_corename());
#else
    snprintf(buf, sizeof buf, "%s", GS_BLAS_NAME);
#endif
    return buf;
}
