/* Loss heads.
 *
 *   softmax cross-entropy: p = softmax(z), L = -(1/B) sum_b log p[b, y_b],
 *                          dz = (p - onehot(y)) / B
 *   mean squared error:    L = (1/(B K)) sum (z - t)^2, dz = 2 (z - t)/(B K)
 */
#ifndef GS_NN_LOSS_H
#define GS_NN_LOSS_H

#include <stddef.h>

/* Returns the mean loss; probs (B,C) may alias nothing else. Labels must
 * lie in [0, C). correct (may be NULL) receives the count of rows whose
 * arg-max equals the label. */
double gs_softmax_ce_forward(double *probs, const double *logits, const int *labels,
                             size_t B, size_t C, size_t *correct);
/* dlogits = (probs - onehot) * scale; scale is 1/B for the batch mean. */
void gs_softmax_ce_backward(double *dlogits, const double *probs, const int *labels,
                            size_t B, size_t C, double scale);

double gs_mse_forward(const double *pred, const double *target, size_t n);
void gs_mse_backward(double *dpred, const double *pred, const double *target,
                     size_t n, double scale);

#endif
