/* Weight initialisation schemes: one table row each.
 *
 * For a weight matrix W (fan_out x fan_in), with g = gain:
 *   xavier          N(0, s^2),  s = g sqrt(2/(fan_in+fan_out))
 *   xavier_uniform  U(-b, b),   b = g sqrt(6/(fan_in+fan_out))
 *   he              N(0, s^2),  s = g sqrt(2/fan_in)
 *   he_uniform      U(-b, b),   b = g sqrt(6/fan_in)
 *   lecun           N(0, s^2),  s = g sqrt(1/fan_in)
 *   orthogonal      g Q, Q with orthonormal rows or columns (QR of a
 *                   Gaussian matrix, signs fixed by diag R)
 *   normal(std)     N(0, (g std)^2)
 *   uniform(a)      U(-g a, g a)
 * Biases are N(0, bias_std^2) (zero when bias_std = 0).
 * So sigma_w^2 = fan_in Var(W) is g^2 for lecun and 2 g^2 for he. */
#ifndef GS_NN_INIT_H
#define GS_NN_INIT_H

#include <stddef.h>

#include "nn/rng.h"

typedef enum { GS_DIST_NORMAL, GS_DIST_UNIFORM, GS_DIST_ORTHOGONAL } gs_dist_t;

typedef struct {
    const char *name;
    gs_dist_t dist;
    int has_param;          /* written name(p): normal(std), uniform(a) */
    double default_param;
    /* std (normal), half-width (uniform) or multiplier (orthogonal),
     * before the gain */
    double (*scale)(size_t fan_in, size_t fan_out, double param);
} gs_init_t;

extern const gs_init_t gs_inits[];
extern const size_t gs_n_inits;

const gs_init_t *gs_init_find(const char *name);

/* A model's whole init: the scheme for its weight matrices and the bias std. */
typedef struct {
    const gs_init_t *init;
    double param, gain, bias_std;
} gs_init_spec_t;

/* The variance of one entry of W that the scheme targets. */
double gs_init_variance(const gs_init_t *init, size_t fan_in, size_t fan_out,
                        double param, double gain);

/* Fill w (fan_out x fan_in, row-major). Orthogonal needs `work` of
 * fan_in*fan_out doubles; the others ignore it (may be NULL). */
void gs_init_fill(double *w, size_t fan_out, size_t fan_in,
                  const gs_init_t *init, double param, double gain,
                  gs_rng_t *rng, double *work);

/* Gram-Schmidt twice over the columns of a (m x n, row-major, m >= n):
 * the orthogonal init's fallback where LAPACK is missing, and the
 * reference its Householder QR is tested against. */
void gs_gram_schmidt_columns(double *a, size_t m, size_t n);

/* Fill n biases with N(0, bias_std^2). */
void gs_init_bias(double *b, size_t n, double bias_std, gs_rng_t *rng);

#endif
