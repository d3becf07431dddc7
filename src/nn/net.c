#include <config.h>

#include "nn/net.h"

#include "nn/linear.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

const gs_tensor_kind_info_t gs_tensor_kinds[] = {
    [GS_TENSOR_W] = {"W", 1},      [GS_TENSOR_WX] = {"Wx", 1},      [GS_TENSOR_WH] = {"Wh", 1},
    [GS_TENSOR_B] = {"b", 0},      [GS_TENSOR_BX] = {"bx", 0},      [GS_TENSOR_BH] = {"bh", 0},
    [GS_TENSOR_GAMMA] = {"gamma", 0}, [GS_TENSOR_BETA] = {"beta", 0},
    [GS_TENSOR_WTE] = {"wte", 1},  [GS_TENSOR_WPE] = {"wpe", 1},
    [GS_TENSOR_WQ] = {"Wq", 1},    [GS_TENSOR_WK] = {"Wk", 1},      [GS_TENSOR_WV] = {"Wv", 1},
    [GS_TENSOR_BQ] = {"bq", 0},    [GS_TENSOR_BK] = {"bk", 0},      [GS_TENSOR_BV] = {"bv", 0},
    [GS_TENSOR_WO] = {"Wo", 1},    [GS_TENSOR_BO] = {"bo", 0},
    [GS_TENSOR_WFC] = {"Wfc", 1},  [GS_TENSOR_BFC] = {"bfc", 0},
    [GS_TENSOR_WPROJ] = {"Wproj", 1}, [GS_TENSOR_BPROJ] = {"bproj", 0},
    [GS_TENSOR_LN1_G] = {"ln1_g", 0}, [GS_TENSOR_LN1_B] = {"ln1_b", 0},
    [GS_TENSOR_LN2_G] = {"ln2_g", 0}, [GS_TENSOR_LN2_B] = {"ln2_b", 0},
    [GS_TENSOR_REZERO] = {"rezero", 0},
    [GS_TENSOR_QN_G] = {"qn_g", 0},  [GS_TENSOR_QN_B] = {"qn_b", 0},
    [GS_TENSOR_KN_G] = {"kn_g", 0},  [GS_TENSOR_KN_B] = {"kn_b", 0},
};
_Static_assert(sizeof gs_tensor_kinds / sizeof *gs_tensor_kinds == GS_N_TENSOR_KINDS,
               "one row per tensor kind");

void gs_net_init(gs_net_t *net, const gs_net_ops_t *ops, size_t in_dim, size_t n_out,
                 size_t capacity, size_t n_params, gs_tensor_t *tensors)
{
    net->ops = ops;
    net->in_dim = in_dim;
    net->n_out = n_out;
    net->capacity = capacity;
    net->n_params = n_params;
    net->tensors = tensors;
    net->n_tensors = 0;
    net->measure = 1;
    net->fmt_grad_pre = NULL;
    net->grad_scale = 1.0;
    net->keep_grad_pre = NULL;
}

void gs_net_zero_grad(gs_net_t *net)
{
    memset(net->grads, 0, net->n_params * sizeof *net->grads);
}

void gs_net_free(gs_net_t *net)
{
    if (net)
        net->ops->free(net);
}

const gs_tensor_t *gs_net_tensor(const gs_net_t *net, const char *name)
{
    for (size_t i = 0; i < net->n_tensors; i++)
        if (strcmp(net->tensors[i].name, name) == 0)
            return &net->tensors[i];
    return NULL;
}

const gs_tensor_t *gs_net_tensor_of(const gs_net_t *net, gs_tensor_kind_t kind, size_t layer)
{
    for (size_t i = 0; i < net->n_tensors; i++)
        if (net->tensors[i].kind == kind && net->tensors[i].layer == layer)
            return &net->tensors[i];
    return NULL;
}

size_t gs_net_tensors_end(const gs_net_t *net)
{
    if (net->n_tensors == 0)
        return 0;
    const gs_tensor_t *t = &net->tensors[net->n_tensors - 1];
    return t->offset + t->rows * t->cols;
}

void gs_net_add_tensor(gs_net_t *net, gs_tensor_kind_t kind, size_t layer, size_t rows,
                       size_t cols, double **w, double **dw)
{
    const char *prefix = gs_tensor_kinds[kind].prefix;
    size_t offset = gs_net_tensors_end(net);
    assert(offset + rows * cols <= net->n_params);   /* within the arena sized for them */
    gs_tensor_t *t = &net->tensors[net->n_tensors++];
    if (layer)
        snprintf(t->name, sizeof t->name, "%s%zu", prefix, layer);
    else
        snprintf(t->name, sizeof t->name, "%s_out", prefix);
    t->kind = kind;
    t->layer = layer;
    t->weight = gs_tensor_kinds[kind].weight;
    t->offset = offset;
    t->rows = rows;
    t->cols = cols;
    *w = net->params + offset;
    *dw = net->grads + offset;
}

double gs_net_output_change(gs_net_t *net, const double *x, size_t n, double lr, double *work)
{
    size_t np = net->n_params, no = n * net->n_out;
    double *saved = work, *out0 = work + np;
    memcpy(saved, net->params, np * sizeof *saved);
    memcpy(out0, net->out, no * sizeof *out0);
    for (size_t i = 0; i < np; i++) {
        double g = net->grads[i];
        net->params[i] -= lr * (double)((g > 0) - (g < 0));
    }
    net->ops->forward(net, x, n, 1);
    /* out0 becomes the change; the first output is restored from it */
    for (size_t i = 0; i < no; i++) {
        double moved = net->out[i];
        net->out[i] = out0[i];
        out0[i] = moved - out0[i];
    }
    double change = gs_norm2(out0, no) / gs_norm2(net->out, no);
    memcpy(net->params, saved, np * sizeof *saved);
    return change;
}
