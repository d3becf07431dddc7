/* Finite-difference gradient checks: for every activation, every norm and
 * residual on and off, every parameter tensor of a small MLP, the
 * backward pass against central differences of the loss,
 *   g_fd = (L(p + h) - L(p - h)) / 2h,  h = 1e-5,
 * with relative error ||g - g_fd|| / max(||g||, ||g_fd||, 1e-4) < 1e-6 per
 * tensor (truncation error ~h^2, rounding ~1e-16/h: both far below). The
 * gradients here are 1e-2..1; the floor 1e-4 matters only for gradients
 * that are exactly zero in theory - a bias followed by batch norm - where
 * the difference quotient is rounding noise: each loss value (~2) carries
 * a few ulp of rounding from the forward pass (~1e-15), divided by 2h that
 * is ~5e-11 per entry, up to ~1.2e-10 over a bias of WIDTH entries (the
 * BLAS's fused multiply-adds round differently from a scalar loop, and
 * 1.1e-10 was measured). There the check is an absolute error below
 * 3e-10 - still 1e5 times below the gradients of the other tensors - and
 * the analytic value is checked to be zero to 1e-13. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/loss.h"
#include "nn/mlp.h"
#include "fdcheck.h"
#include "tap.h"

enum { IN = 5, WIDTH = 6, DEPTH = 3, OUT = 4, BATCH = 5 };
#define ZERO_FLOOR 1e-4   /* the relative error's floor (see above) */

typedef struct {
    gs_net_t *net;
    const double *x;
    const int *y;
} problem_t;

static double loss_of(gs_net_t *net, const double *x, const int *y)
{
    net->ops->forward(net, x, BATCH, 1);
    return gs_softmax_ce_forward(net->dout, net->out, y, BATCH, OUT, NULL);
}

static double problem_loss(void *ctx)
{
    problem_t *p = ctx;
    return loss_of(p->net, p->x, p->y);
}

static void check(const gs_activation_t *act, gs_norm_kind_t norm, int residual)
{
    /* a parameter of 0.3 exercises leaky_relu(a) and elu(a) off their defaults */
    gs_mlp_spec_t spec = {IN, WIDTH, DEPTH, OUT, BATCH, act, act->has_param ? 0.3 : 0.0,
                          norm, residual};
    gs_net_t *net = gs_mlp_create(&spec);
    gs_rng_t rng;
    gs_rng_seed(&rng, 7, 0);
    gs_init_spec_t is = {gs_init_find("xavier"), 0, 1.3, 0.2};
    gs_mlp_init(net, &is, &rng);
    /* move gamma and beta off 1 and 0 so their gradients are general */
    for (size_t t = 0; t < net->n_tensors; t++) {
        const gs_tensor_t *T = &net->tensors[t];
        if (strncmp(T->name, "gamma", 5) == 0 || strncmp(T->name, "beta", 4) == 0)
            for (size_t i = 0; i < T->rows * T->cols; i++)
                net->params[T->offset + i] += 0.3 * gs_rng_normal(&rng);
    }
    double x[BATCH * IN];
    int y[BATCH];
    for (size_t i = 0; i < BATCH * IN; i++)
        x[i] = gs_rng_normal(&rng);
    for (size_t i = 0; i < BATCH; i++)
        y[i] = (int)gs_rng_below(&rng, OUT);

    loss_of(net, x, y);
    gs_softmax_ce_backward(net->dout, net->dout, y, BATCH, OUT, 1.0 / BATCH);
    for (size_t i = 0; i < net->n_params; i++)   /* backward must write every entry */
        net->grads[i] = NAN;
    net->ops->backward(net, BATCH);
    double *analytic = malloc(net->n_params * sizeof *analytic);
    memcpy(analytic, net->grads, net->n_params * sizeof *analytic);

    problem_t pb = {net, x, y};
    for (size_t t = 0; t < net->n_tensors; t++) {
        const gs_tensor_t *T = &net->tensors[t];
        double gn;
        double rel = fd_tensor_error(net, T, analytic, problem_loss, &pb, 1e-5, ZERO_FLOOR, &gn);
        /* a bias right before batch norm cancels out: exactly zero gradient */
        int bias_before_bn = norm == GS_NORM_BATCH && T->name[0] == 'b' &&
                             strcmp(T->name, "b_out") != 0 && strncmp(T->name, "beta", 4) != 0;
        if (bias_before_bn)
            tap_ok(gn < 1e-13, "%s norm=batch residual=%s %s: zero, as batch norm "
                   "removes it (%.1e)", act->name, residual ? "yes" : "no", T->name, gn);
        double tol = bias_before_bn ? 3e-10 / ZERO_FLOOR : 1e-6;
        tap_ok(rel < tol && isfinite(rel), "%s norm=%s residual=%s %s: relative error %.2e",
               act->name, gs_norm_names[norm], residual ? "yes" : "no", T->name, rel);
    }
    free(analytic);
    gs_net_free(net);
}

int main(void)
{
    for (size_t a = 0; a < gs_n_activations; a++)
        for (int norm = 0; norm < 3; norm++)
            for (int res = 0; res < 2; res++)
                check(&gs_activations[a], (gs_norm_kind_t)norm, res);
    return tap_done();
}
