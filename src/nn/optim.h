/* Optimizers (one table row each) and gradient clipping, over flat
 * parameter and gradient arrays. Step t counts from 1.
 *
 *   sgd       p -= lr g
 *   momentum  v = 0.9 v + g;                       p -= lr v
 *   rmsprop   s = 0.99 s + 0.01 g^2;               p -= lr g / (sqrt(s) + 1e-8)
 *   adam      m = 0.9 m + 0.1 g; v = 0.999 v + 0.001 g^2;
 *             p -= lr (m / (1 - 0.9^t)) / (sqrt(v / (1 - 0.999^t)) + 1e-8)
 * (PyTorch's defaults and update forms.)
 *
 * Warm-up (Goyal et al. 2017; Vaswani et al. 2017): the rate applied at
 * step t of a schedule with `warmup` = N steps is
 *   lr_t = lr t / N   for t < N,   lr_t = lr   for t >= N (and for N = 0),
 * linear from lr/N at step 1 to lr at step N (gs_warmup_lr).
 *
 * Clipping:
 *   norm   if ||g||_2 > c: g *= c / ||g||_2   (global norm, Pascanu et al.)
 *   value  g = min(max(g, -c), c) elementwise */
#ifndef GS_NN_OPTIM_H
#define GS_NN_OPTIM_H

#include <stddef.h>

typedef struct {
    const char *name;
    int n_state;   /* state arrays of n_params doubles each */
    /* p += d with d the update of each parameter; delta, when not NULL,
     * receives d (the training log's update ratios) */
    void (*step)(double *p, const double *g, double *state, size_t n,
                 double lr, long t, double *delta);
} gs_optimizer_t;

extern const gs_optimizer_t gs_optimizers[];
extern const size_t gs_n_optimizers;

const gs_optimizer_t *gs_optimizer_find(const char *name);

/* The learning rate applied at step t (from 1) under a linear warm-up of
 * `warmup` steps (0: none, lr itself, bit for bit). */
double gs_warmup_lr(double lr, long warmup, long t);

typedef enum { GS_CLIP_NORM, GS_CLIP_VALUE } gs_clip_mode_t;
extern const char *const gs_clip_mode_names[];   /* indexed by gs_clip_mode_t; NULL-terminated */

typedef struct {
    double pre_norm;    /* ||g||_2 before clipping */
    double post_norm;   /* ||g||_2 after clipping */
    int fired;          /* clipping changed at least one value */
} gs_clip_result_t;

/* Clip g in place; threshold <= 0 means no clipping (norms still measured). */
gs_clip_result_t gs_clip(double *g, size_t n, gs_clip_mode_t mode, double threshold);

#endif
