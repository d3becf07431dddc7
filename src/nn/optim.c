#include <config.h>

#include "nn/optim.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "nn/linear.h"
#include "nn/par.h"

/* Each update is elementwise: shared among threads for large n (same
 * numbers for any split), vectorized within a thread. BODY computes the
 * step d of parameter i; p += d, and with delta, delta[i] = d (two loops,
 * so the plain step stores nothing more). */
#define UPDATE(BODY)                                                           \
    do {                                                                       \
        if (delta) {                                                           \
            _Pragma("omp parallel for simd schedule(static) if (n >= GS_PAR_MIN)") \
            for (size_t i = 0; i < n; i++) {                                   \
                BODY;                                                          \
                p[i] += d;                                                     \
                delta[i] = d;                                                  \
            }                                                                  \
        } else {                                                               \
            _Pragma("omp parallel for simd schedule(static) if (n >= GS_PAR_MIN)") \
            for (size_t i = 0; i < n; i++) {                                   \
                BODY;                                                          \
                p[i] += d;                                                     \
            }                                                                  \
        }                                                                      \
    } while (0)

static void sgd_step(double *p, const double *g, double *st, size_t n, double lr, long t,
                     double *delta)
{
    UPDATE(double d = -lr * g[i]);
}

static void momentum_step(double *p, const double *g, double *v, size_t n, double lr, long t,
                          double *delta)
{
    UPDATE(v[i] = 0.9 * v[i] + g[i]; double d = -lr * v[i]);
}

static void rmsprop_step(double *p, const double *g, double *s, size_t n, double lr, long t,
                         double *delta)
{
    UPDATE(s[i] = 0.99 * s[i] + 0.01 * g[i] * g[i]; double d = -lr * g[i] / (sqrt(s[i]) + 1e-8));
}

static void adam_step(double *p, const double *g, double *st, size_t n, double lr, long t,
                      double *delta)
{
    double *m = st, *v = st + n;
    double c1 = 1.0 - pow(0.9, (double)t), c2 = 1.0 - pow(0.999, (double)t);
    UPDATE(m[i] = 0.9 * m[i] + 0.1 * g[i]; v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
           double d = -lr * (m[i] / c1) / (sqrt(v[i] / c2) + 1e-8));
}

const gs_optimizer_t gs_optimizers[] = {
    {"sgd", 0, sgd_step},
    {"momentum", 1, momentum_step},
    {"rmsprop", 1, rmsprop_step},
    {"adam", 2, adam_step},
};
const size_t gs_n_optimizers = sizeof gs_optimizers / sizeof gs_optimizers[0];

const gs_optimizer_t *gs_optimizer_find(const char *name)
{
    for (size_t i = 0; i < gs_n_optimizers; i++)
        if (strcmp(gs_optimizers[i].name, name) == 0)
            return &gs_optimizers[i];
    return NULL;
}

double gs_warmup_lr(double lr, long warmup, long t)
{
    assert(warmup >= 0 && t >= 1);
    return t < warmup ? lr * (double)t / (double)warmup : lr;
}

const char *const gs_clip_mode_names[] = {"norm", "value", NULL};

gs_clip_result_t gs_clip(double *g, size_t n, gs_clip_mode_t mode, double threshold)
{
    gs_clip_result_t r = {gs_norm2(g, n), 0.0, 0};
    r.post_norm = r.pre_norm;
    if (threshold <= 0 || !isfinite(r.pre_norm))
        return r;
    if (mode == GS_CLIP_NORM) {
        if (r.pre_norm > threshold) {
            double s = threshold / r.pre_norm;
#pragma omp parallel for simd schedule(static) if (n >= GS_PAR_MIN)
            for (size_t i = 0; i < n; i++)
                g[i] *= s;
            r.fired = 1;
            r.post_norm = gs_norm2(g, n);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            if (g[i] > threshold) {
                g[i] = threshold;
                r.fired = 1;
            } else if (g[i] < -threshold) {
                g[i] = -threshold;
                r.fired = 1;
            }
        }
        if (r.fired)
            r.post_norm = gs_norm2(g, n);
    }
    return r;
}
