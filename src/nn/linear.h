/* Fully connected layer kernels over row-major arenas.
 *
 *   forward:  out = inp W^T + b            out (B,O), inp (B,I), W (O,I)
 *   backward: dW    = dout^T inp           dW (O,I)
 *             db    = sum_rows dout        db (O)
 *             dinp (+)= dout W             dinp (B,I)   (skipped if NULL)
 *
 * The parameter gradients are written; the input gradient is written, or
 * added when `add` is set (a residual path or another time step has put
 * its part there already).
 * Every product is one gs_gemm (nn/gemm.h), whose results are bitwise
 * identical for any thread count; the bias sums run in row order. */
#ifndef GS_NN_LINEAR_H
#define GS_NN_LINEAR_H

#include <stddef.h>

#include "nn/gemm.h"

void gs_linear_forward(double *out, const double *inp, const double *w,
                       const double *bias, size_t B, size_t I, size_t O);

void gs_linear_backward(double *dinp, double *dw, double *dbias,
                        const double *dout, const double *inp, const double *w,
                        size_t B, size_t I, size_t O, int add);

/* The two halves of gs_linear_backward: dW = dout^T inp, db = sum dout
 * (dbias may be NULL), and dinp (+)= dout W. */
void gs_linear_backward_weights(double *dw, double *dbias, const double *dout,
                                const double *inp, size_t B, size_t I, size_t O);
void gs_linear_backward_input(double *dinp, const double *dout, const double *w,
                              size_t B, size_t I, size_t O, int add);

/* The same layer in the arithmetic of ar (nn/gemm.h; NULL or fmt NULL:
 * float64, exactly the functions above): every product through
 * gs_gemm_fmt, the bias added in its float32 accumulation (rounded to the
 * format first, as every input), the bias gradient summed in double and
 * rounded to the format once. Every output is a value of the format. */
void gs_linear_forward_ar(const gs_arith_t *ar, double *out, const double *inp, const double *w,
                          const double *bias, size_t B, size_t I, size_t O);
void gs_linear_backward_ar(const gs_arith_t *ar, double *dinp, double *dw, double *dbias,
                           const double *dout, const double *inp, const double *w, size_t B,
                           size_t I, size_t O, int add);
void gs_linear_backward_weights_ar(const gs_arith_t *ar, double *dw, double *dbias,
                                   const double *dout, const double *inp, size_t B, size_t I,
                                   size_t O);
void gs_linear_backward_input_ar(const gs_arith_t *ar, double *dinp, const double *dout,
                                 const double *w, size_t B, size_t I, size_t O, int add);

/* Floats of gs_gemm_fmt's work (ar->work) that the three products of a
 * (B, I, O) layer need at most: forward, dW and dinp. */
size_t gs_linear_fmt_work(size_t B, size_t I, size_t O);

/* sum[c] += sum over rows r of x[r][c], x (rows, cols), in row order. */
void gs_colsum_add(double *sum, const double *x, size_t rows, size_t cols);

/* Mean and (population) standard deviation of n values. */
void gs_mean_std(const double *x, size_t n, double *mean, double *std);

/* Frobenius norm of n values, summed in an order fixed by n alone (so the
 * same for any thread count), at any magnitude (1e-160 to 1e200 tested),
 * to about sqrt(n) ulp (tests/gemm.c); NaN or infinity when a value is. */
double gs_norm2(const double *x, size_t n);

#endif
