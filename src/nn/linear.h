/* Fully connected layer kernels over row-major arenas.
 *
 *   forward:  out = inp W^T + b            out (B,O), inp (B,I), W (O,I)
 *   backward: dW   += dout^T inp           dW (O,I)
 *             db   += sum_rows dout        db (O)
 *             dinp += dout W               dinp (B,I)   (skipped if NULL)
 *
 * Backward adds into its gradient buffers; callers zero them first.
 * OpenMP splits forward and dinp by batch row and dW by output unit, so no
 * two threads write one number and every sum runs in a fixed order: results
 * are bitwise identical for any thread count. */
#ifndef GS_NN_LINEAR_H
#define GS_NN_LINEAR_H

#include <stddef.h>

void gs_linear_forward(double *out, const double *inp, const double *w,
                       const double *bias, size_t B, size_t I, size_t O);

void gs_linear_backward(double *dinp, double *dw, double *dbias,
                        const double *dout, const double *inp, const double *w,
                        size_t B, size_t I, size_t O);

/* The two halves of gs_linear_backward: dW += dout^T inp, db += sum dout
 * (dbias may be NULL), and dinp += dout W. */
void gs_linear_backward_weights(double *dw, double *dbias, const double *dout,
                                const double *inp, size_t B, size_t I, size_t O);
void gs_linear_backward_input(double *dinp, const double *dout, const double *w,
                              size_t B, size_t I, size_t O);

/* Mean and (population) standard deviation of n values. */
void gs_mean_std(const double *x, size_t n, double *mean, double *std);

/* Frobenius norm of n values, summed in a fixed order. */
double gs_norm2(const double *x, size_t n);

#endif
