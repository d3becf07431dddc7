/* Elementary functions over arrays, for the activations and recurrent
 * gates (the hot loops of sigmoid, tanh, LSTM and GRU nets).
 *
 *   gs_vexp      y = e^x
 *   gs_vtanh     y = tanh x
 *   gs_vsigmoid  y = 1 / (1 + e^-x)     (0 and 1 at the tails, never NaN)
 *   gs_vlog, gs_vsin, gs_vcos            (for Gaussian samples, nn/rng.h)
 *   gs_verfc     y = erfc x              (GELU, nn/activation.c)
 *
 * Where configure found glibc's libmvec (x86-64, glibc >= 2.35), these run
 * its vector functions - two values per call on any x86-64, four on CPUs
 * with AVX2 and FMA, chosen at run time - about 3 to 5 times faster than a
 * libm call per value, within 4 ulp of it. Elsewhere they loop over libm.
 * Every value is computed by the same vector function whatever its
 * position (a short tail is padded to a full vector), so a result depends
 * on the input value alone: never on n, nor on how an array is split among
 * threads. y may be x. */
#ifndef GS_NN_VMATH_H
#define GS_NN_VMATH_H

#include <stddef.h>

void gs_vexp(double *y, const double *x, size_t n);
void gs_vtanh(double *y, const double *x, size_t n);
void gs_vsigmoid(double *y, const double *x, size_t n);
void gs_vlog(double *y, const double *x, size_t n);
void gs_vsin(double *y, const double *x, size_t n);
void gs_vcos(double *y, const double *x, size_t n);
void gs_verfc(double *y, const double *x, size_t n);

/* "libmvec avx2", "libmvec sse" or "libm": which one runs here. */
const char *gs_vmath_name(void);

#endif
