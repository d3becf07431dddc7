/* Mean-field predictions for deep networks at initialization (Poole et
 * al. 2016; Schoenholz et al. 2017; the account is in
 * docs/architecture.md, "Theory"). No MPI, no SQLite.
 *
 * Weights N(0, sigma_w^2 / fan_in), biases N(0, sigma_b^2), z ~ N(0, 1):
 *   length map    q_l = sigma_w^2 E[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2
 *   fixed point   q*  (iterated from q = 1, the scale of the inputs)
 *   chi_1         sigma_w^2 E[phi'(sqrt(q*) z)^2]
 *   depth scale   xi = -1 / ln chi_1 (infinite at chi_1 = 1)
 *   slope         1/2 ln chi_1: the change of ln ||dL/dh_l|| per layer
 *                 going toward the input (negative: vanishing)
 *
 * Expectations are Gauss-Legendre sums over z in [-Z, 0] and [0, Z]
 * separately (the activations' kinks sit at 0), exact to about 1e-13 for
 * the table's activations (tests/theory.c). */
#ifndef GS_THEORY_MEANFIELD_H
#define GS_THEORY_MEANFIELD_H

#include "nn/activation.h"

typedef struct {
    double q_star;           /* INFINITY when q grows without bound */
    double chi1;
    double depth_scale;      /* xi; INFINITY at chi_1 = 1, NaN when chi_1 <= 0 */
    double predicted_slope;  /* 1/2 ln chi_1 per layer toward the input */
} gs_meanfield_t;

/* E[phi(sqrt(q) z)^2] and E[phi'(sqrt(q) z)^2] for z ~ N(0, 1). */
double gs_mf_e_phi2(const gs_activation_t *act, double a, double q);
double gs_mf_e_dphi2(const gs_activation_t *act, double a, double q);

/* The fixed point q*, chi_1, xi and the predicted slope. Answers are kept
 * for the process, for every thread (near the edge of chaos one takes
 * ~70 ms), and given back bit for bit; gs_meanfield_forget drops them
 * (tests compare a kept answer with a computed one). */
gs_meanfield_t gs_meanfield(const gs_activation_t *act, double a, double sw2, double sb2);
void gs_meanfield_forget(void);

/* The critical sigma_w^2 where chi_1 = 1 at this sigma_b^2, by bisection
 * over (0, 100]; NaN when chi_1 does not cross 1 there. */
double gs_mf_critical_sw2(const gs_activation_t *act, double a, double sb2);

/* Residual networks without norm, x_l = x_{l-1} + phi(W_l x_{l-1} + b_l):
 * the weights are independent of x_{l-1}, so with s^2 = sigma_w^2 p + sigma_b^2
 * the per-unit mean m and squared length p = ||x||^2 / n go, per block,
 *   m_l = m_{l-1} + E[phi(s z)]
 *   p_l = p_{l-1} + 2 m_{l-1} E[phi(s z)] + E[phi(s z)^2]
 * (the cross term is zero for odd phi, not for ReLU, whose outputs are
 * positive). From (p, m) at one layer, the mean growth of ln p per block
 * over the next `blocks` blocks. */
double gs_mf_residual_growth(const gs_activation_t *act, double a, double sw2, double sb2,
                             double p, double m, long blocks);

/* Batch norm without skips (Yang et al. 2019), ReLU, large batch: the
 * squared gradient grows by pi / (pi - 1) per layer toward the input; the
 * slope of ln ||dL/dh_l|| is half its log. */
double gs_mf_batchnorm_relu_slope(void);

#endif
