#include <config.h>

#include "nn/init.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double xavier_s(size_t fi, size_t fo, double p) { return sqrt(2.0 / (double)(fi + fo)); }
static double xavier_b(size_t fi, size_t fo, double p) { return sqrt(6.0 / (double)(fi + fo)); }
static double he_s(size_t fi, size_t fo, double p) { return sqrt(2.0 / (double)fi); }
static double he_b(size_t fi, size_t fo, double p) { return sqrt(6.0 / (double)fi); }
static double lecun_s(size_t fi, size_t fo, double p) { return sqrt(1.0 / (double)fi); }
static double param_s(size_t fi, size_t fo, double p) { return p; }
static double one_s(size_t fi, size_t fo, double p) { return 1.0; }

const gs_init_t gs_inits[] = {
    {"xavier", GS_DIST_NORMAL, 0, 0.0, xavier_s},
    {"xavier_uniform", GS_DIST_UNIFORM, 0, 0.0, xavier_b},
    {"he", GS_DIST_NORMAL, 0, 0.0, he_s},
    {"he_uniform", GS_DIST_UNIFORM, 0, 0.0, he_b},
    {"lecun", GS_DIST_NORMAL, 0, 0.0, lecun_s},
    {"orthogonal", GS_DIST_ORTHOGONAL, 0, 0.0, one_s},
    {"normal", GS_DIST_NORMAL, 1, 0.01, param_s},
    {"uniform", GS_DIST_UNIFORM, 1, 0.05, param_s},
};
const size_t gs_n_inits = sizeof gs_inits / sizeof gs_inits[0];

const gs_init_t *gs_init_find(const char *name)
{
    for (size_t i = 0; i < gs_n_inits; i++)
        if (strcmp(gs_inits[i].name, name) == 0)
            return &gs_inits[i];
    return NULL;
}

double gs_init_variance(const gs_init_t *init, size_t fan_in, size_t fan_out,
                        double param, double gain)
{
    double s = gain * init->scale(fan_in, fan_out, param);
    switch (init->dist) {
    case GS_DIST_NORMAL:
        return s * s;
    case GS_DIST_UNIFORM:
        return s * s / 3.0;
    case GS_DIST_ORTHOGONAL:
        /* g Q with orthonormal columns (fan_out >= fan_in) has entries of
         * variance g^2/fan_out; with orthonormal rows, g^2/fan_in. */
        return s * s / (double)(fan_out >= fan_in ? fan_out : fan_in);
    }
    return 0.0;
}

#ifdef HAVE_LAPACK
/* LAPACK's Fortran entries (OpenBLAS, MKL and liblapack export them). */
void dgelqf_(const int *m, const int *n, double *a, const int *lda, double *tau, double *work,
             const int *lwork, int *info);
void dorglq_(const int *m, const int *n, const int *k, double *a, const int *lda,
             const double *tau, double *work, const int *lwork, int *info);

/* The same Q by Householder reflections (LAPACK): a row-major m x n is
 * the column-major n x m matrix B = a^T, and the LQ factorisation
 * B = L Q' gives a = Q'^T L^T, so Q'^T - which dorglq writes back over B,
 * read row-major - is a's Q with R = L^T. Column j of Q takes the sign
 * of L_jj, as Gram-Schmidt's positive diagonal would. Blocked, so BLAS-3
 * speed (pipeline/bench, item f). -1, a untouched, when the workspace
 * cannot be had: the caller then uses Gram-Schmidt. */
static int householder_columns(double *a, size_t m, size_t n)
{
    int M = (int)n, N = (int)m, K = (int)n, info = 0, lwork = -1;
    double q1 = 0.0, q2 = 0.0;
    dgelqf_(&M, &N, a, &M, NULL, &q1, &lwork, &info);   /* workspace queries */
    dorglq_(&M, &N, &K, a, &M, NULL, &q2, &lwork, &info);
    lwork = (int)fmax(1.0, fmax(q1, q2));
    double *tau = malloc(2 * n * sizeof *tau), *ws = malloc((size_t)lwork * sizeof *ws);
    if (!tau || !ws) {
        free(tau);
        free(ws);
        return -1;
    }
    double *sign = tau + n;   /* of L_jj, before dorglq overwrites L */
    dgelqf_(&M, &N, a, &M, tau, ws, &lwork, &info);
    assert(info == 0);   /* LAPACK fails only on arguments out of range */
    for (size_t j = 0; j < n; j++)
        sign[j] = a[j + j * n] < 0.0 ? -1.0 : 1.0;
    dorglq_(&M, &N, &K, a, &M, tau, ws, &lwork, &info);
    assert(info == 0);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            a[i * n + j] *= sign[j];
    free(tau);
    free(ws);
    return 0;
}
#endif

/* Orthonormalise the columns of a (m x n, row-major, m >= n) in place:
 * Q of a = QR with R's diagonal positive, which makes Q Haar-distributed
 * when a is Gaussian. By LAPACK's Householder QR where gradsweep has it;
 * otherwise (or if that fails) by Gram-Schmidt run twice ("twice is
 * enough": orthogonal to rounding), whose R has the column norms for its
 * diagonal. Both give the same Q up to rounding (tests/init.c). */
static void orthonormal_columns(double *a, size_t m, size_t n)
{
#ifdef HAVE_LAPACK
    if (householder_columns(a, m, n) == 0)
        return;
#endif
    gs_gram_schmidt_columns(a, m, n);
}

void gs_gram_schmidt_columns(double *a, size_t m, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        for (int pass = 0; pass < 2; pass++) {
            for (size_t k = 0; k < j; k++) {
                double dot = 0.0;
                for (size_t i = 0; i < m; i++)
                    dot += a[i * n + k] * a[i * n + j];
                for (size_t i = 0; i < m; i++)
                    a[i * n + j] -= dot * a[i * n + k];
            }
        }
        double nrm = 0.0;
        for (size_t i = 0; i < m; i++)
            nrm += a[i * n + j] * a[i * n + j];
        nrm = sqrt(nrm);
        for (size_t i = 0; i < m; i++)
            a[i * n + j] /= nrm;
    }
}

void gs_init_fill(double *w, size_t fan_out, size_t fan_in,
                  const gs_init_t *init, double param, double gain,
                  gs_rng_t *rng, double *work)
{
    size_t n = fan_out * fan_in;
    double s = gain * init->scale(fan_in, fan_out, param);
    switch (init->dist) {
    case GS_DIST_NORMAL:
        gs_rng_normal_fill(rng, w, n, s);
        break;
    case GS_DIST_UNIFORM:
        for (size_t i = 0; i < n; i++)
            w[i] = s * (2.0 * gs_rng_uniform(rng) - 1.0);
        break;
    case GS_DIST_ORTHOGONAL: {
        /* tall m x k Gaussian matrix, orthonormal columns, then W = Q
         * (fan_out >= fan_in) or W = Q^T (fan_out < fan_in). */
        size_t m = fan_out >= fan_in ? fan_out : fan_in;
        size_t k = fan_out >= fan_in ? fan_in : fan_out;
        gs_rng_normal_fill(rng, work, n, 1.0);
        orthonormal_columns(work, m, k);
        if (fan_out >= fan_in) {
            for (size_t i = 0; i < n; i++)
                w[i] = s * work[i];
        } else {
            for (size_t r = 0; r < fan_out; r++)
                for (size_t c = 0; c < fan_in; c++)
                    w[r * fan_in + c] = s * work[c * fan_out + r];
        }
        break;
    }
    }
}

void gs_init_bias(double *b, size_t n, double bias_std, gs_rng_t *rng)
{
    for (size_t i = 0; i < n; i++)
        b[i] = bias_std > 0 ? bias_std * gs_rng_normal(rng) : 0.0;
}
