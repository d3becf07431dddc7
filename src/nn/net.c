#include <config.h>

#include "nn/net.h"

#include <stdio.h>
#include <string.h>

/* Blocks of zero_grad's memset shared among threads. */
#define ZERO_BLOCK 65536

void gs_net_zero_grad(gs_net_t *net)
{
    size_t n = net->n_params, blocks = (n + ZERO_BLOCK - 1) / ZERO_BLOCK;
#pragma omp parallel for schedule(static) if (blocks > 1)
    for (size_t b = 0; b < blocks; b++) {
        size_t lo = b * ZERO_BLOCK, len = n - lo < ZERO_BLOCK ? n - lo : ZERO_BLOCK;
        memset(net->grads + lo, 0, len * sizeof *net->grads);
    }
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
    t->offset = offset;
    t->rows = rows;
    t->cols = cols;
}
