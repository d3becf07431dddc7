/* Finite-difference checks of a network's gradients, shared by the MLP and
 * recurrent tests: central differences (L(p + h) - L(p - h)) / 2h over every
 * entry of one parameter tensor, against the backward pass's gradient. */
#ifndef GS_TESTS_FDCHECK_H
#define GS_TESTS_FDCHECK_H

#include "nn/net.h"

/* The loss at the network's current parameters (forward only). */
typedef double (*fd_loss_fn)(void *ctx);

/* ||g - g_fd|| / max(||g||, ||g_fd||, floor) over tensor T, with g the
 * analytic gradient (n_params values, indexed like net->params). The
 * parameters are left as they were. *g_norm gets ||g|| over the tensor. */
double fd_tensor_error(gs_net_t *net, const gs_tensor_t *T, const double *g, fd_loss_fn loss,
                       void *ctx, double h, double floor, double *g_norm);

#endif
