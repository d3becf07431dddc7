/* The recurrent engine:
 *  1. finite-difference gradient checks through time for rnn (several
 *     activations), lstm and gru, one and two layers, cross-entropy and MSE
 *     heads, every parameter tensor: relative error below 1e-6 (central
 *     differences, h = 1e-5; floor 1e-4 as in tests/gradcheck.c);
 *  2. Pascanu et al. 2013 in its exact linear form: identity activation,
 *     Wh = lambda Q (orthogonal), ||dL/dh_t|| = lambda^(T-t) ||dL/dh_T|| to
 *     1e-9 relative;
 *  3. their bound for a tanh RNN whose Wh has largest singular value
 *     lambda_1 < 1: ||dL/dh_t|| <= lambda_1^(T-t) ||dL/dh_T|| for every t,
 *     and nearly tight (within 1e-3) for small pre-activations and a Wh
 *     whose singular values are all lambda_1;
 *  4. the adding problem's data. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/synthetic.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/rnn.h"
#include "fdcheck.h"
#include "tap.h"

static const char *const cell_names[] = {"rnn", "lstm", "gru"};

typedef struct {
    gs_net_t *net;
    double *x, *t;
    int *y;
    size_t n;
    int mse;
} problem_t;

static double loss_of(problem_t *p, int grad)
{
    gs_net_t *net = p->net;
    net->ops->forward(net, p->x, p->n, 1);
    double l;
    if (p->mse) {
        l = gs_mse_forward(net->out, p->t, p->n * net->n_out);
        if (grad)
            gs_mse_backward(net->dout, net->out, p->t, p->n * net->n_out,
                            1.0 / (double)(p->n * net->n_out));
    } else {
        l = gs_softmax_ce_forward(net->dout, net->out, p->y, p->n, net->n_out, NULL);
        if (grad)
            gs_softmax_ce_backward(net->dout, net->dout, p->y, p->n, net->n_out, 1.0 / p->n);
    }
    if (grad) {
        for (size_t i = 0; i < net->n_params; i++)   /* backward must write every entry */
            net->grads[i] = NAN;
        net->ops->backward(net, p->n);
    }
    return l;
}

static double problem_loss(void *ctx)
{
    return loss_of(ctx, 0);
}

static void gradcheck(gs_cell_kind_t cell, const char *act, size_t depth, int mse)
{
    enum { D = 3, H = 4, T = 5, B = 3 };
    size_t out = mse ? 1 : 3;
    gs_rnn_spec_t spec = {cell, D, H, depth, T, out, B, gs_activation_find(act), 0.0, 0.7};
    gs_net_t *net = gs_rnn_create(&spec);
    gs_rng_t rng;
    gs_rng_seed(&rng, 11 + depth + (uint64_t)cell, 0);
    gs_init_spec_t is = {gs_init_find("xavier"), 0, 1.5, 0.2};
    gs_rnn_init(net, &is, &rng);
    double x[B * T * D], t[B];
    int y[B];
    for (size_t i = 0; i < B * T * D; i++)
        x[i] = gs_rng_normal(&rng);
    for (size_t i = 0; i < B; i++) {
        y[i] = (int)gs_rng_below(&rng, out);
        t[i] = gs_rng_normal(&rng);
    }
    problem_t p = {net, x, t, y, B, mse};
    loss_of(&p, 1);
    double *an = malloc(net->n_params * sizeof *an);
    memcpy(an, net->grads, net->n_params * sizeof *an);
    for (size_t k = 0; k < net->n_tensors; k++) {
        const gs_tensor_t *Tn = &net->tensors[k];
        double na;
        double rel = fd_tensor_error(net, Tn, an, problem_loss, &p, 1e-5, 1e-4, &na);
        tap_ok(rel < 1e-6 && na > 0, "%s(%s) depth %zu %s: %s through time, relative error %.2e",
               cell_names[cell], act, depth, mse ? "mse" : "ce", Tn->name, rel);
    }
    free(an);
    gs_net_free(net);
}

/* Probe a depth-1 RNN with the given Wh and inputs scaled by xscale;
 * returns ||dL/dh_t|| for t = 1..T in g[0..T). */
static void time_grads(const char *act, const gs_init_t *init, double gain, double xscale,
                       const double *wh, size_t H, size_t T, double *g)
{
    enum { D = 4, B = 8 };
    gs_rnn_spec_t spec = {GS_CELL_RNN, D, H, 1, T, 3, B, gs_activation_find(act), 0.0, 1.0};
    gs_net_t *net = gs_rnn_create(&spec);
    gs_rng_t rng;
    gs_rng_seed(&rng, 5, 0);
    gs_init_spec_t is = {init, 0, gain, 0.0};
    gs_rnn_init(net, &is, &rng);
    if (wh)
        memcpy(net->params + gs_net_tensor(net, "Wh1")->offset, wh, H * H * sizeof *wh);
    double *x = malloc(B * T * D * sizeof *x);
    int y[B];
    for (size_t i = 0; i < B * T * D; i++)
        x[i] = xscale * gs_rng_normal(&rng);
    for (size_t i = 0; i < B; i++)
        y[i] = (int)gs_rng_below(&rng, 3);
    problem_t p = {net, x, NULL, y, B, 0};
    loss_of(&p, 1);
    gs_time_stats_t *ts = malloc(T * sizeof *ts);
    gs_rnn_time_stats(net, B, ts);
    for (size_t t = 0; t < T; t++)
        g[t] = ts[t].grad_hidden_norm;
    free(ts);
    free(x);
    gs_net_free(net);
}

/* Largest singular value of W (H x H) by power iteration on W^T W. */
static double top_singular(const double *w, size_t H)
{
    double *v = malloc(H * sizeof *v), *u = malloc(H * sizeof *u);
    for (size_t i = 0; i < H; i++)
        v[i] = 1.0 / sqrt((double)H) * (1.0 + 0.01 * (double)i);
    double s = 0;
    for (int it = 0; it < 5000; it++) {
        for (size_t i = 0; i < H; i++) {
            u[i] = 0;
            for (size_t j = 0; j < H; j++)
                u[i] += w[i * H + j] * v[j];
        }
        for (size_t j = 0; j < H; j++) {
            v[j] = 0;
            for (size_t i = 0; i < H; i++)
                v[j] += w[i * H + j] * u[i];
        }
        double n = gs_norm2(v, H);
        s = sqrt(n);
        for (size_t j = 0; j < H; j++)
            v[j] /= n;
    }
    free(v);
    free(u);
    return s;
}

int main(void)
{
    /* 1. finite differences through time */
    const char *rnn_acts[] = {"tanh", "sigmoid", "relu", "gelu", "identity"};
    for (size_t a = 0; a < 5; a++)
        gradcheck(GS_CELL_RNN, rnn_acts[a], 1, 0);
    for (int c = 0; c < 3; c++) {
        gradcheck((gs_cell_kind_t)c, "tanh", 2, 0);
        gradcheck((gs_cell_kind_t)c, "tanh", 1, 1);
    }

    /* 2. exact linear case */
    enum { H = 16, T = 40 };
    double g[T];
    const double lambdas[] = {0.9, 1.0, 1.1};
    for (size_t k = 0; k < 3; k++) {
        double lam = lambdas[k], worst = 0;
        time_grads("identity", gs_init_find("orthogonal"), lam, 1.0, NULL, H, T, g);
        for (size_t t = 0; t < T; t++) {
            double want = pow(lam, (double)(T - 1 - t)) * g[T - 1];
            worst = fmax(worst, fabs(g[t] - want) / want);
        }
        tap_ok(worst < 1e-9, "linear RNN, Wh = %.1f Q: ||dL/dh_t|| = %.1f^(T-t) ||dL/dh_T|| "
               "(worst relative error %.1e)", lam, lam, worst);
    }

    /* 3. the bound, with a random Wh scaled to lambda_1 = 0.95 */
    double wh[H * H];
    gs_rng_t rng;
    gs_rng_seed(&rng, 99, 0);
    for (size_t i = 0; i < H * H; i++)
        wh[i] = gs_rng_normal(&rng);
    double s1 = top_singular(wh, H);
    for (size_t i = 0; i < H * H; i++)
        wh[i] *= 0.95 / s1;
    double l1 = top_singular(wh, H);
    tap_close(l1, 0.95, 1e-10, "power iteration: lambda_1 = 0.95");
    time_grads("tanh", gs_init_find("xavier"), 1.0, 1.0, wh, H, T, g);
    int holds = 1;
    for (size_t t = 0; t < T; t++)
        holds &= g[t] <= pow(l1, (double)(T - 1 - t)) * g[T - 1] * (1 + 1e-12);
    tap_ok(holds, "tanh RNN, lambda_1 = 0.95: ||dL/dh_t|| <= lambda_1^(T-t) ||dL/dh_T|| for all t "
           "(t=1: %.3e <= %.3e)", g[0], pow(l1, T - 1) * g[T - 1]);
    /* tight: all singular values 0.95 (0.95 Q) and pre-activations ~1e-4 */
    time_grads("tanh", gs_init_find("orthogonal"), 0.95, 1e-4, NULL, H, T, g);
    double worst = 0;
    holds = 1;
    for (size_t t = 0; t < T; t++) {
        double bound = pow(0.95, (double)(T - 1 - t)) * g[T - 1];
        holds &= g[t] <= bound * (1 + 1e-12);
        worst = fmax(worst, 1.0 - g[t] / bound);
    }
    tap_ok(holds && worst < 1e-3, "tanh RNN, Wh = 0.95 Q, small inputs: the bound holds and is "
           "tight (largest gap %.1e)", worst);

    /* 4. the adding problem */
    gs_dataset_t ds;
    const size_t n = 20000, L = 50;
    tap_ok(gs_adding_make(&ds, n, L, 3) == 0, "adding: 20000 sequences of 50 steps");
    int markers_ok = 1, sums_ok = 1;
    double mse1 = 0;
    for (size_t i = 0; i < n; i++) {
        const double *x = ds.x + i * 2 * L;
        size_t first = 0, second = 0;
        double sum = 0;
        for (size_t t = 0; t < L; t++)
            if (x[2 * t + 1] == 1.0) {
                sum += x[2 * t];
                if (t < L / 2)
                    first++;
                else
                    second++;
            }
        markers_ok &= first == 1 && second == 1;
        sums_ok &= fabs(sum - ds.t[i]) < 1e-15;
        mse1 += (ds.t[i] - 1.0) * (ds.t[i] - 1.0);
    }
    tap_ok(markers_ok, "adding: one marker in each half of every sequence");
    tap_ok(sums_ok, "adding: the target is the sum of the two marked values");
    /* Var(U1 + U2) = 1/6; the sd of a 20000-sample mean of squares ~ 0.0013 */
    tap_near(mse1 / n, 1.0 / 6.0, 0.006, "adding: always answering 1 scores MSE ~ 1/6 (%.4f)",
             mse1 / n);
    gs_dataset_free(&ds);
    return tap_done();
}
