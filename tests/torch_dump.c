/* Writes small MLPs (weights, a batch, their loss and every gradient, and
 * each layer's ||dL/dh_l||) as text for tests/torch_compare.py, which
 * rebuilds them in PyTorch with identical weights. One block per config:
 *   config <activation> <param> <norm> <residual> <in> <width> <depth> <out> <batch>
 *   tensor <name> <rows> <cols> <values...>        (weights)
 *   x <values...> / y <labels...>
 *   loss <value>
 *   grad <name> <values...>
 *   grad_pre_norm <one per hidden layer>
 *   stats <layer> act_mean act_std saturated_frac dead_frac grad_w_norm w_norm
 * and recurrent blocks:
 *   recurrent <cell> <activation> <in per step> <width> <depth> <seq_len> <out> <batch>
 *   tensor ... / x ... / y ... / loss ... / grad ... as above
 *   time <hidden_norm...> / time_grad <grad_hidden_norm...>   (t = 1..T) */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "nn/loss.h"
#include "nn/mlp.h"
#include "nn/rnn.h"

/* A random batch (inputs N(0,1), labels uniform) through one forward and
 * backward pass with softmax cross-entropy; returns the loss. */
static double random_step(gs_net_t *net, gs_rng_t *rng, double *x, size_t nx, int *y, size_t B,
                          size_t out)
{
    for (size_t i = 0; i < nx; i++)
        x[i] = gs_rng_normal(rng);
    for (size_t i = 0; i < B; i++)
        y[i] = (int)gs_rng_below(rng, out);
    net->ops->forward(net, x, B, 1);
    double loss = gs_softmax_ce_forward(net->dout, net->out, y, B, out, NULL);
    gs_softmax_ce_backward(net->dout, net->dout, y, B, out, 1.0 / (double)B);
    gs_net_zero_grad(net);
    net->ops->backward(net, B);
    return loss;
}

static void dump_values(FILE *f, const gs_net_t *net, const double *vals, int grads)
{
    for (size_t t = 0; t < net->n_tensors; t++) {
        const gs_tensor_t *T = &net->tensors[t];
        if (grads)
            fprintf(f, "grad %s", T->name);
        else
            fprintf(f, "tensor %s %zu %zu", T->name, T->rows, T->cols);
        for (size_t i = 0; i < T->rows * T->cols; i++)
            fprintf(f, " %.17g", vals[T->offset + i]);
        fprintf(f, "\n");
    }
}

/* The block body every config shares: weights, batch, loss, gradients. */
static void dump_step(FILE *f, const gs_net_t *net, const double *x, size_t nx, const int *y,
                      size_t B, double loss)
{
    dump_values(f, net, net->params, 0);
    fprintf(f, "x");
    for (size_t i = 0; i < nx; i++)
        fprintf(f, " %.17g", x[i]);
    fprintf(f, "\ny");
    for (size_t i = 0; i < B; i++)
        fprintf(f, " %d", y[i]);
    fprintf(f, "\nloss %.17g\n", loss);
    dump_values(f, net, net->grads, 1);
}

static void dump(FILE *f, const gs_activation_t *act, gs_norm_kind_t norm, int residual,
                 uint64_t seed)
{
    enum { IN = 7, WIDTH = 9, DEPTH = 4, OUT = 5, BATCH = 6 };
    double a = act->has_param ? 0.2 : 0.0;
    gs_mlp_spec_t spec = {IN, WIDTH, DEPTH, OUT, BATCH, act, a, norm, residual};
    gs_net_t *net = gs_mlp_create(&spec);
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, 0);
    gs_init_spec_t is = {gs_init_find("he"), 0, 1.0, 0.1};
    gs_mlp_init(net, &is, &rng);
    for (size_t i = 0; i < net->n_params; i++)   /* gamma, beta off 1, 0 too */
        net->params[i] += 0.05 * gs_rng_normal(&rng);
    double x[BATCH * IN];
    int y[BATCH];
    double loss = random_step(net, &rng, x, BATCH * IN, y, BATCH, OUT);
    gs_layer_stats_t st[DEPTH + 1];
    gs_mlp_layer_stats(net, BATCH, st);

    fprintf(f, "config %s %.17g %s %d %d %d %d %d %d\n", act->name, a, gs_norm_names[norm],
            residual, IN, WIDTH, DEPTH, OUT, BATCH);
    dump_step(f, net, x, BATCH * IN, y, BATCH, loss);
    fprintf(f, "grad_pre_norm");
    for (size_t l = 0; l < DEPTH; l++)
        fprintf(f, " %.17g", st[l].grad_pre_norm);
    fprintf(f, "\n");
    for (size_t l = 0; l < DEPTH; l++)
        fprintf(f, "stats %zu %.17g %.17g %.17g %.17g %.17g %.17g\n", l + 1, st[l].act_mean,
                st[l].act_std, st[l].saturated_frac, st[l].dead_frac, st[l].grad_w_norm,
                st[l].w_norm);
    gs_net_free(net);
}

static void dump_recurrent(FILE *f, gs_cell_kind_t cell, const char *act, uint64_t seed)
{
    enum { D = 3, H = 5, DEPTH = 2, T = 6, OUT = 4, BATCH = 3 };
    static const char *const names[] = {"rnn", "lstm", "gru"};
    gs_rnn_spec_t spec = {cell, D, H, DEPTH, T, OUT, BATCH, gs_activation_find(act), 0.0, 1.0};
    gs_net_t *net = gs_rnn_create(&spec);
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, 0);
    gs_init_spec_t is = {gs_init_find("orthogonal"), 0, 1.1, 0.1};
    gs_rnn_init(net, &is, &rng);
    double x[BATCH * T * D];
    int y[BATCH];
    double loss = random_step(net, &rng, x, BATCH * T * D, y, BATCH, OUT);
    gs_time_stats_t ts[T];
    gs_rnn_time_stats(net, BATCH, ts);
    fprintf(f, "recurrent %s %s %d %d %d %d %d %d\n", names[cell], act, D, H, DEPTH, T, OUT, BATCH);
    dump_step(f, net, x, BATCH * T * D, y, BATCH, loss);
    fprintf(f, "time");
    for (size_t t = 0; t < T; t++)
        fprintf(f, " %.17g", ts[t].hidden_norm);
    fprintf(f, "\ntime_grad");
    for (size_t t = 0; t < T; t++)
        fprintf(f, " %.17g", ts[t].grad_hidden_norm);
    fprintf(f, "\n");
    gs_net_free(net);
}

int main(void)
{
    uint64_t seed = 1;
    for (size_t a = 0; a < gs_n_activations; a++)
        for (int norm = 0; norm < 3; norm++)
            for (int res = 0; res < 2; res++)
                dump(stdout, &gs_activations[a], (gs_norm_kind_t)norm, res, seed++);
    dump_recurrent(stdout, GS_CELL_RNN, "tanh", seed++);
    dump_recurrent(stdout, GS_CELL_RNN, "relu", seed++);
    dump_recurrent(stdout, GS_CELL_LSTM, "tanh", seed++);
    dump_recurrent(stdout, GS_CELL_GRU, "tanh", seed++);
    return 0;
}
