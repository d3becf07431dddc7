/* The Jacobian dx_depth/dx_0 (gs_mlp_jacobian) and its singular values
 * (theory/spectrum.h):
 *   - identity activation, orthogonal init with gain g: J = g^depth Q, so
 *     every singular value is g^depth (1e-10);
 *   - identity, Gaussian init with sigma_w^2 = 1 (lecun), depth 50, width
 *     256: the mean squared singular value is 1 in expectation - its mean
 *     over 8 seeds within 10% - and the spectrum is wide (condition > 100);
 *   - J against central finite differences of x_depth (tanh, plain and
 *     residual, input wider than the layer and narrower): every entry and
 *     the sum of squared singular values (= ||J||_F^2) to 1e-6. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/mlp.h"
#include "tap.h"
#include "theory/spectrum.h"

static gs_net_t *make(const char *act, const char *init, double gain, size_t in, size_t width,
                      size_t depth, int residual, unsigned long long seed)
{
    gs_mlp_spec_t spec = {in, width, depth, 10, 4, gs_activation_find(act), 0.0,
                          GS_NORM_NONE, residual};
    gs_net_t *net = gs_mlp_create(&spec);
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, 0);
    gs_init_spec_t is = {gs_init_find(init), 0, gain, 0.1};
    gs_mlp_init(net, &is, &rng);
    return net;
}

static double *inputs(size_t n, unsigned long long seed)
{
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, 1);
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = gs_rng_normal(&rng);
    return x;
}

/* the squared singular values of the Jacobian at row 0 (n of them) */
static double *sv2_of(gs_net_t *net, size_t W, size_t D, size_t *n)
{
    double *J = malloc(W * D * sizeof *J), *work = malloc(W * D * sizeof *work);
    *n = W < D ? W : D;
    double *sv2 = malloc(*n * sizeof *sv2);
    if (gs_mlp_jacobian(net, 0, J, work) != 0 || gs_spectrum_sv2(J, W, D, sv2, work) != 0) {
        free(sv2);
        sv2 = NULL;
    }
    free(J);
    free(work);
    return sv2;
}

static void orthogonal(double gain, size_t width, size_t depth)
{
    gs_net_t *net = make("identity", "orthogonal", gain, width, width, depth, 0, 3);
    double *x = inputs(4 * width, 5);
    net->ops->forward(net, x, 4, 1);
    size_t n;
    double *sv2 = sv2_of(net, width, width, &n);
    double want = pow(gain, 2.0 * (double)depth), worst = 0;
    for (size_t i = 0; sv2 && i < n; i++)
        worst = fmax(worst, fabs(sv2[i] - want) / want);
    tap_ok(sv2 && worst <= 1e-10, "identity, orthogonal gain %g, depth %zu, width %zu: every "
           "sigma^2 = gain^(2 depth) = %g (worst relative error %.1e)", gain, depth, width, want,
           worst);
    free(sv2);
    free(x);
    gs_net_free(net);
}

static void gaussian(void)
{
    enum { SEEDS = 8, W = 256, DEPTH = 50 };
    double sum = 0, min_cond = INFINITY;
    int ok = 1;
    for (int s = 0; s < SEEDS; s++) {
        gs_net_t *net = make("identity", "lecun", 1.0, W, W, DEPTH, 0, 100 + s);
        double *x = inputs(4 * W, 200 + s);
        net->ops->forward(net, x, 4, 1);
        size_t n;
        double *sv2 = sv2_of(net, W, W, &n);
        if (!sv2) {
            ok = 0;
        } else {
            gs_spectrum_summary_t sm = gs_spectrum_summary(sv2, n);
            sum += sm.sv2_mean;
            min_cond = fmin(min_cond, sm.condition);
        }
        free(sv2);
        free(x);
        gs_net_free(net);
    }
    double mean = sum / SEEDS;
    tap_ok(ok && fabs(mean - 1.0) <= 0.1, "identity, Gaussian sigma_w^2 = 1, depth 50, width 256: "
           "mean sigma^2 over %d seeds %.4f, within 10%% of 1", SEEDS, mean);
    tap_ok(ok && min_cond > 100, "... and far from isometry: condition number >= %.3g > 100",
           min_cond);
}

/* J against central differences of x_depth at row 0 */
static void finite_differences(size_t in, size_t width, int residual)
{
    const size_t depth = 3, rows = 4;
    gs_net_t *net = make("tanh", "xavier", 1.2, in, width, depth, residual, 11);
    double *x = inputs(rows * in, 13);
    net->ops->forward(net, x, rows, 1);
    double *J = malloc(width * in * sizeof *J), *work = malloc(width * in * sizeof *work);
    gs_mlp_jacobian(net, 0, J, work);
    double *Jfd = malloc(width * in * sizeof *Jfd), worst = 0, fro = 0;
    const double h = 1e-6;
    for (size_t j = 0; j < in; j++) {
        double keep = x[j], plus[64], minus[64];
        x[j] = keep + h;
        net->ops->forward(net, x, rows, 1);
        memcpy(plus, gs_mlp_layer_output(net, depth), width * sizeof *plus);
        x[j] = keep - h;
        net->ops->forward(net, x, rows, 1);
        memcpy(minus, gs_mlp_layer_output(net, depth), width * sizeof *minus);
        x[j] = keep;
        for (size_t i = 0; i < width; i++) {
            Jfd[i * in + j] = (plus[i] - minus[i]) / (2 * h);
            worst = fmax(worst, fabs(Jfd[i * in + j] - J[i * in + j]));
            fro += Jfd[i * in + j] * Jfd[i * in + j];
        }
    }
    tap_ok(worst <= 1e-6, "tanh%s, input %zu, width %zu: J matches central differences "
           "(worst %.1e)", residual ? " residual" : "", in, width, worst);
    size_t n = width < in ? width : in;
    double *sv2 = malloc(n * sizeof *sv2), sum = 0;
    int rc = gs_spectrum_sv2(J, width, in, sv2, work);
    for (size_t i = 0; i < n; i++)
        sum += sv2[i];
    tap_close(rc == 0 ? sum : NAN, fro, 1e-6, "... the sum of its sigma^2 is the finite-difference "
              "||J||_F^2 (1e-6)");
    free(sv2);
    free(J);
    free(Jfd);
    free(work);
    free(x);
    gs_net_free(net);
}

int main(void)
{
    if (!gs_spectrum_available()) {
        tap_skip_all("built without LAPACK (apt-get install liblapack-dev or libopenblas-dev)");
        return 0;
    }
    orthogonal(1.0, 8, 5);
    orthogonal(1.1, 16, 20);
    orthogonal(0.9, 4, 50);
    orthogonal(1.0, 1, 3);
    gaussian();
    finite_differences(7, 5, 0);
    finite_differences(3, 6, 0);
    finite_differences(5, 5, 1);
    finite_differences(1, 4, 1);
    return tap_done();
}
