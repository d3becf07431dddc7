/* Normalization layers with learnable scale gamma and shift beta.
 *
 *   batch: per unit j over the B rows:  xhat = (h - mean_j) / sqrt(var_j + eps)
 *   layer: per row b over the W units:  xhat = (h - mean_b) / sqrt(var_b + eps)
 *   out = gamma_j xhat + beta_j   (both per unit), eps = 1e-5, biased var.
 *
 * Backward, with g = dout gamma over the normalised group of n values:
 *   dh = rstd/n (n g - sum g - xhat sum(g xhat)),
 *   dgamma = sum over rows of dout xhat, dbeta = sum over rows of dout.
 *
 * Batch norm evaluates with running statistics, updated in training as
 * running = (1-m) running + m batch, m = 0.1, unbiased batch variance
 * (PyTorch's convention). */
#ifndef GS_NN_NORM_H
#define GS_NN_NORM_H

#include <stddef.h>

typedef enum { GS_NORM_NONE, GS_NORM_BATCH, GS_NORM_LAYER } gs_norm_kind_t;

#define GS_NORM_EPS 1e-5
#define GS_BN_MOMENTUM 0.1

extern const char *const gs_norm_names[];   /* indexed by gs_norm_kind_t; NULL-terminated */
extern const size_t gs_n_norms;

/* Training-mode forward. stats (mean, rstd) hold W values for batch norm,
 * B values for layer norm. Batch norm also updates running_mean/var when
 * they are non-NULL. */
void gs_norm_forward(double *out, double *xhat, double *mean, double *rstd,
                     const double *h, const double *gamma, const double *beta,
                     double *running_mean, double *running_var,
                     size_t B, size_t W, gs_norm_kind_t kind);

/* Evaluation-mode batch norm with the running statistics. */
void gs_batchnorm_eval(double *out, const double *h, const double *gamma,
                       const double *beta, const double *running_mean,
                       const double *running_var, size_t B, size_t W);

/* dh, dgamma and dbeta are written (not added). */
void gs_norm_backward(double *dh, double *dgamma, double *dbeta,
                      const double *dout, const double *xhat, const double *rstd,
                      const double *gamma, size_t B, size_t W,
                      gs_norm_kind_t kind);

#endif
