#include <config.h>

#include "nn/net.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

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

size_t gs_net_tensors_end(const gs_net_t *net)
{
    if (net->n_tensors == 0)
        return 0;
    const gs_tensor_t *t = &net->tensors[net->n_tensors - 1];
    return t->offset + t->rows * t->cols;
}

void gs_net_add_tensor(gs_net_t *net, const char *prefix, size_t layer, size_t rows, size_t cols,
                       double **w, double **dw)
{
    size_t offset = gs_net_tensors_end(net);
    assert(offset + rows * cols <= net->n_params);   /* within the arena sized for them */
    gs_tensor_t *t = &net->tensors[net->n_tensors++];
    if (layer)
        snprintf(t->name, sizeof t->name, "%s%zu", prefix, layer);
    else
        snprintf(t->name, sizeof t->name, "%s_out", prefix);
    t->layer = layer;
    t->weight = prefix[0] == 'W';
    t->offset = offset;
    t->rows = rows;
    t->cols = cols;
    *w = net->params + offset;
    *dw = net->grads + offset;
}
