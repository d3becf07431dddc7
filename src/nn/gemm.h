/* The engine's one entry point for matrix products, over a CBLAS.
 *
 *   C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C     row-major
 *
 * op(X) is X or its transpose (trans_a / trans_b non-zero). Leading
 * dimensions are those of the stored (untransposed) arrays.
 *
 * Threads and determinism: the BLAS itself runs single-threaded; gs_gemm
 * cuts C into at most 2 x 2 tiles and hands the tiles to OpenMP threads,
 * each tile one BLAS call. The tiling depends on (M, N, K) only, never on
 * the thread count, so the BLAS sees the same calls in the same shapes
 * whatever the number of threads, and every element of C is summed in the
 * same order: results are bitwise identical for any thread count.
 * (docs/architecture.md, "Matrix products", gives the measurements behind this.) */
#ifndef GS_NN_GEMM_H
#define GS_NN_GEMM_H

#include <stddef.h>

#include "nn/format.h"

void gs_gemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, double alpha,
             const double *A, size_t lda, const double *B, size_t ldb, double beta,
             double *C, size_t ldc);

/* The same product as one BLAS call, untiled, on the BLAS's own threads
 * (gs_blas_set_threads): the BLAS alone, for pipeline/bench's limit. */
void gs_gemm_blas(int trans_a, int trans_b, size_t M, size_t N, size_t K, double alpha,
                  const double *A, size_t lda, const double *B, size_t ldb, double beta,
                  double *C, size_t ldc);

/* Reduced-precision arithmetic (issue 20): how a model computes when its
 * `precision` is not float64. fmt NULL is float64: the plain gs_gemm. */
typedef struct {
    const gs_fmt_t *fmt;   /* the format every stored tensor is rounded to */
    float *work;           /* gs_gemm_fmt_work(M, N, K) floats, or more */
    size_t work_n;         /* floats at work */
} gs_arith_t;

/* x[0..n) stored in the arithmetic of ar: rounded to ar->fmt (nearest,
 * not saturating), nothing in float64 (ar or ar->fmt NULL) - what every
 * model does to each tensor it writes. */
static inline void gs_arith_round(const gs_arith_t *ar, double *x, size_t n)
{
    if (ar && ar->fmt)
        gs_fmt_round_array(ar->fmt, x, n, 0);
}

/* Floats of work gs_gemm_fmt needs for an (M, N, K) product. */
size_t gs_gemm_fmt_work(size_t M, size_t N, size_t K);

/* The product in the arithmetic of ar, as tensor cores do it: op(A),
 * op(B) and (beta != 0) C rounded to ar->fmt into float copies in
 * ar->work, C = alpha op(A) op(B) + beta C by one cblas_sgemm (products
 * and sums in float32), the result rounded to ar->fmt (non-saturating:
 * overflow is inf, or NaN for e4m3). Every value of a format up to
 * float32 is a float, so the copies are exact once rounded. One BLAS call
 * on the BLAS's single thread: the same for any thread count. With
 * ar == NULL or ar->fmt == NULL, gs_gemm. */
void gs_gemm_fmt(const gs_arith_t *ar, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                 double alpha, const double *A, size_t lda, const double *B, size_t ldb,
                 double beta, double *C, size_t ldc);

/* Make the BLAS single-threaded (gs_gemm's contract). Call once before the
 * first product, outside any parallel region; repeated calls are cheap. */
void gs_blas_init(void);

/* Let the BLAS use n threads of its own (for measuring the BLAS alone, as
 * pipeline/bench does; the engine never calls it). No effect when the
 * BLAS offers no such call. */
void gs_blas_set_threads(int n);

/* One line naming the BLAS the program is linked with: its configure
 * name, and where the library says it, its version and the CPU core it
 * chose (e.g. "openblas: OpenBLAS 0.3.21 DYNAMIC_ARCH ... core Zen"). */
const char *gs_blas_describe(void);

#endif
