#include <config.h>

#include "nn/net.h"

#include <stdio.h>
#include <string.h>

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

void gs_net_add_tensor(gs_net_t *net, const char *prefix, size_t layer, size_t offset,
                       size_t rows, size_t cols)
{
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
}
