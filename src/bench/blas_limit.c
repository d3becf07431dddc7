/* The BLAS limit of one MLP training step, for pipeline/bench: every
 * matrix product of the step and nothing else, timed.
 *
 * The network is gradsweep's MLP: layer 1 maps in_dim -> width, layers
 * 2..depth width -> width, the readout width -> n_out. Per layer l, with
 * X (batch, in) its input, W (out, in) its weights and D (batch, out) the
 * gradient at its output, a step does three products:
 *
 *   forward          Y  = X W^T      (batch, out)
 *   input gradient   DX = D W        (batch, in)
 *   weight gradient  DW += D^T X     (out, in)
 *
 * so 3 (depth + 1) products and 3 * 2 * batch * sum(in * out) FLOPs; a
 * probe (one forward and one backward) does the same products. No
 * activations, loss or update: what is left is the floor the engine's
 * kernels can approach.
 *
 * Two ways to spread the products over threads, both printed (the limit
 * is the better one):
 *   blas     the BLAS's own threads (gs_blas_set_threads), one
 *            cblas_dgemm per product;
 *   gs_gemm  the engine's entry point (nn/gemm.h): a single-threaded BLAS
 *            on at most 2 x 2 tiles spread over OpenMP threads.
 *
 *   blas_limit DEPTH WIDTH BATCH IN_DIM N_OUT THREADS REPS
 *
 * Output, one line each (for pipeline/bench to parse):
 *   blas: <gs_blas_describe()>
 *   shape: depth=.. width=.. batch=.. in_dim=.. n_out=.. products=.. gflop_per_step=..
 *   mode=blas threads=N reps=R ms_per_step=.. gflops=..
 *   mode=gs_gemm threads=N reps=R ms_per_step=.. gflops=.. */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/gemm.h"
#include "util/clock.h"

typedef struct {
    size_t depth, width, batch, in_dim, n_out;
    size_t n_layers;     /* depth + 1 */
    size_t *fan_in;      /* (n_layers) */
    size_t *fan_out;     /* (n_layers) */
    double **w, **dw;    /* per layer (fan_out, fan_in) */
    double **x;          /* n_layers + 1 activations (batch, fan); x[0] the input */
    double **d;          /* n_layers + 1 gradients, same shapes as x */
} limit_net_t;

typedef void (*product_fn)(int trans_a, int trans_b, size_t M, size_t N, size_t K,
                           double alpha, const double *A, size_t lda, const double *B,
                           size_t ldb, double beta, double *C, size_t ldc);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Values in [-0.5, 0.5) from a fixed LCG: timing does not depend on them,
 * but they must be normal numbers (no denormals, no NaN). */
static double *filled(size_t n, unsigned long long *state)
{
    double *p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = (double)(*state >> 11) * 0x1.0p-53 - 0.5;
    }
    return p;
}

static void net_free(limit_net_t *n)
{
    for (size_t l = 0; l < n->n_layers; l++) {
        free(n->w ? n->w[l] : NULL);
        free(n->dw ? n->dw[l] : NULL);
    }
    for (size_t l = 0; l <= n->n_layers; l++) {
        free(n->x ? n->x[l] : NULL);
        free(n->d ? n->d[l] : NULL);
    }
    free(n->w);
    free(n->dw);
    free(n->x);
    free(n->d);
    free(n->fan_in);
    free(n->fan_out);
}

static int net_alloc(limit_net_t *n)
{
    n->n_layers = n->depth + 1;
    size_t L = n->n_layers;
    n->fan_in = calloc(L, sizeof *n->fan_in);
    n->fan_out = calloc(L, sizeof *n->fan_out);
    n->w = calloc(L, sizeof *n->w);
    n->dw = calloc(L, sizeof *n->dw);
    n->x = calloc(L + 1, sizeof *n->x);
    n->d = calloc(L + 1, sizeof *n->d);
    if (!n->fan_in || !n->fan_out || !n->w || !n->dw || !n->x || !n->d)
        return -1;
    unsigned long long s = 42;
    for (size_t l = 0; l < L; l++) {
        n->fan_in[l] = l == 0 ? n->in_dim : n->width;
        n->fan_out[l] = l == L - 1 ? n->n_out : n->width;
        n->w[l] = filled(n->fan_out[l] * n->fan_in[l], &s);
        n->dw[l] = calloc(n->fan_out[l] * n->fan_in[l], sizeof *n->dw[l]);
        if (!n->w[l] || !n->dw[l])
            return -1;
    }
    for (size_t l = 0; l <= L; l++) {
        size_t fan = l == 0 ? n->in_dim : n->fan_out[l - 1];
        n->x[l] = filled(n->batch * fan, &s);
        n->d[l] = filled(n->batch * fan, &s);
        if (!n->x[l] || !n->d[l])
            return -1;
    }
    return 0;
}

/* One step's products: forward through every layer, then backward from
 * the readout to layer 1 (input gradient and weight gradient of each). */
static void step(limit_net_t *n, product_fn gemm)
{
    size_t B = n->batch;
    for (size_t l = 0; l < n->n_layers; l++) {
        size_t in = n->fan_in[l], out = n->fan_out[l];
        gemm(0, 1, B, out, in, 1.0, n->x[l], in, n->w[l], in, 0.0, n->x[l + 1], out);
    }
    for (size_t l = n->n_layers; l-- > 0;) {
        size_t in = n->fan_in[l], out = n->fan_out[l];
        gemm(0, 0, B, in, out, 1.0, n->d[l + 1], out, n->w[l], in, 0.0, n->d[l], in);
        gemm(1, 0, out, in, B, 1.0, n->d[l + 1], out, n->x[l], in, 1.0, n->dw[l], in);
    }
}

/* Median seconds per step over reps timed steps, after one warm-up step. */
static double time_steps(limit_net_t *n, product_fn gemm, int reps)
{
    double *t = malloc((size_t)reps * sizeof *t);
    if (!t)
        return -1.0;
    step(n, gemm);
    for (int r = 0; r < reps; r++) {
        double t0 = gs_now();
        step(n, gemm);
        t[r] = gs_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double m = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    free(t);
    return m;
}

static int parse_size(const char *s, const char *name, long lo, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > INT_MAX) {
        fprintf(stderr, "blas_limit: %s=%s is not an integer >= %ld\n", name, s, lo);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const char *names[] = {"depth", "width", "batch", "in_dim", "n_out", "threads",
                                  "reps"};
    long v[7];
    if (argc != 8) {
        fprintf(stderr, "usage: blas_limit DEPTH WIDTH BATCH IN_DIM N_OUT THREADS REPS\n"
                        "  times every matrix product of one MLP training step (see the "
                        "source's header)\n");
        return 2;
    }
    for (int i = 0; i < 7; i++)
        if (parse_size(argv[i + 1], names[i], 1, &v[i]) != 0)
            return 2;
    limit_net_t n = {.depth = (size_t)v[0], .width = (size_t)v[1], .batch = (size_t)v[2],
                     .in_dim = (size_t)v[3], .n_out = (size_t)v[4]};
    int threads = (int)v[5], reps = (int)v[6];
    if (net_alloc(&n) != 0) {
        fprintf(stderr, "blas_limit: out of memory for depth=%zu width=%zu batch=%zu\n",
                n.depth, n.width, n.batch);
        net_free(&n);
        return 1;
    }
    double macs = 0.0;
    for (size_t l = 0; l < n.n_layers; l++)
        macs += (double)n.fan_in[l] * (double)n.fan_out[l];
    double flop = 3.0 * 2.0 * (double)n.batch * macs;

    printf("blas: %s\n", gs_blas_describe());
    printf("shape: depth=%zu width=%zu batch=%zu in_dim=%zu n_out=%zu products=%zu "
           "gflop_per_step=%.6g\n",
           n.depth, n.width, n.batch, n.in_dim, n.n_out, 3 * n.n_layers, flop * 1e-9);

    /* (1) the BLAS's own threading */
    gs_blas_set_threads(threads);
    double s = time_steps(&n, gs_gemm_blas, reps);
    printf("mode=blas threads=%d reps=%d ms_per_step=%.4f gflops=%.3f\n", threads, reps,
           1e3 * s, flop / s * 1e-9);
    fflush(stdout);

    /* (2) the engine's gs_gemm: single-threaded BLAS, tiles over OpenMP */
    gs_blas_init();
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    s = time_steps(&n, gs_gemm, reps);
    printf("mode=gs_gemm threads=%d reps=%d ms_per_step=%.4f gflops=%.3f\n", threads, reps,
           1e3 * s, flop / s * 1e-9);

    net_free(&n);
    return s > 0 ? 0 : 1;
}
