#include <config.h>

#include "nn/loss.h"

#include <math.h>

double gs_softmax_ce_forward(double *probs, const double *logits, const int *labels,
                             size_t B, size_t C, size_t *correct)
{
    double total = 0.0;
    size_t hits = 0;
    for (size_t b = 0; b < B; b++) {
        const double *z = logits + b * C;   // (C)
        double *p = probs + b * C;          // (C)
        double zmax = z[0];
        size_t arg = 0;
        for (size_t c = 1; c < C; c++)
            if (z[c] > zmax) {
                zmax = z[c];
                arg = c;
            }
        double sum = 0.0;
        for (size_t c = 0; c < C; c++) {
            p[c] = exp(z[c] - zmax);
            sum += p[c];
        }
        for (size_t c = 0; c < C; c++)
            p[c] /= sum;
        /* log p_y = z_y - zmax - log(sum), exact even when p_y underflows */
        total += -(z[labels[b]] - zmax - log(sum));
        if ((int)arg == labels[b])
            hits++;
    }
    if (correct)
        *correct = hits;
    return total / (double)B;
}

void gs_softmax_ce_backward(double *dlogits, const double *probs, const int *labels,
                            size_t B, size_t C, double scale)
{
    for (size_t b = 0; b < B; b++)
        for (size_t c = 0; c < C; c++)
            dlogits[b * C + c] = (probs[b * C + c] - ((int)c == labels[b] ? 1.0 : 0.0)) * scale;
}

double gs_mse_forward(const double *pred, const double *target, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (pred[i] - target[i]) * (pred[i] - target[i]);
    return s / (double)n;
}

void gs_mse_backward(double *dpred, const double *pred, const double *target,
                     size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        dpred[i] = 2.0 * (pred[i] - target[i]) * scale;
}
