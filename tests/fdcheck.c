#include <config.h>

#include "fdcheck.h"

#include <math.h>

double fd_tensor_error(gs_net_t *net, const gs_tensor_t *T, const double *g, fd_loss_fn loss,
                       void *ctx, double h, double floor, double *g_norm)
{
    double diff = 0.0, na = 0.0, nf = 0.0;
    for (size_t i = 0; i < T->rows * T->cols; i++) {
        double *p = &net->params[T->offset + i];
        double save = *p;
        *p = save + h;
        double lp = loss(ctx);
        *p = save - h;
        double lm = loss(ctx);
        *p = save;
        double fd = (lp - lm) / (2 * h), an = g[T->offset + i];
        diff += (an - fd) * (an - fd);
        na += an * an;
        nf += fd * fd;
    }
    if (g_norm)
        *g_norm = sqrt(na);
    return sqrt(diff) / fmax(fmax(sqrt(na), sqrt(nf)), floor);
}
