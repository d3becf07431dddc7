/* Mean-field predictions (theory/meanfield.h) against closed forms and
 * the textbook values of Poole et al. 2016 and Schoenholz et al. 2017.
 * Tolerances: 1e-12 where a closed form is exact, the quoted digits
 * otherwise. */
#include <config.h>

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "nn/activation.h"
#include "tap.h"
#include "theory/meanfield.h"
#include "theory/spectrum.h"
#include "util/clock.h"

/* Threads asking gs_meanfield for the same keys (mt_ask(k)) at once. */
#define MT_THREADS 4
#define N_MT_KEYS 6
static gs_meanfield_t mt_want[N_MT_KEYS];
static size_t mt_offset[MT_THREADS] = {0, 1, 3, 5};   /* where each thread starts */

static gs_meanfield_t mt_ask(size_t k)
{
    static const char *const acts[N_MT_KEYS] = {"tanh", "tanh", "relu", "sigmoid", "tanh", "elu"};
    static const double sw2[N_MT_KEYS] = {1.0, 1.5, 2.0, 3.0, 0.9, 1.2};
    static const double sb2[N_MT_KEYS] = {0.0, 0.05, 0.0, 0.1, 0.0, 0.02};
    return gs_meanfield(gs_activation_find(acts[k]), k == 5 ? 1.0 : 0.0, sw2[k], sb2[k]);
}

static void *mt_thread(void *arg)
{
    size_t off = *(const size_t *)arg;
    for (size_t i = 0; i < 2 * N_MT_KEYS; i++) {
        size_t k = (i + off) % N_MT_KEYS;
        gs_meanfield_t m = mt_ask(k);
        if (memcmp(&m, &mt_want[k], sizeof m) != 0)
            return (void *)1;
    }
    return NULL;
}

int main(void)
{
    const gs_activation_t *id = gs_activation_find("identity");
    const gs_activation_t *relu = gs_activation_find("relu");
    const gs_activation_t *tanh_ = gs_activation_find("tanh");
    const gs_activation_t *sig = gs_activation_find("sigmoid");
    const gs_activation_t *lrelu = gs_activation_find("leaky_relu");

    /* the quadrature on closed forms: E[(s z)^2] = q, E[relu(s z)^2] = q/2,
     * E[relu'^2] = 1/2, E[leaky(s z)^2] = q (1 + a^2) / 2 */
    for (double q = 0.25; q <= 64; q *= 4) {
        tap_close(gs_mf_e_phi2(id, 0, q), q, 1e-12, "E[(sqrt(q) z)^2] = q at q = %g", q);
        tap_close(gs_mf_e_phi2(relu, 0, q), q / 2, 1e-12, "E[relu(sqrt(q) z)^2] = q/2 at q = %g", q);
        tap_close(gs_mf_e_dphi2(relu, 0, q), 0.5, 1e-12, "E[relu'^2] = 1/2 at q = %g", q);
        tap_close(gs_mf_e_phi2(lrelu, 0.2, q), q * 1.04 / 2, 1e-12,
                  "E[leaky_relu(0.2)^2] = q (1 + 0.04) / 2 at q = %g", q);
    }
    /* E[tanh'(s z)^2] at q -> 0 is tanh'(0)^2 = 1 */
    tap_close(gs_mf_e_dphi2(tanh_, 0, 1e-12), 1.0, 1e-10, "E[tanh'^2] -> 1 as q -> 0");

    /* ReLU: chi_1 = sigma_w^2 / 2 exactly, whatever sigma_b */
    for (double sw2 = 1; sw2 <= 3; sw2 += 1)
        for (double sb2 = 0; sb2 <= 0.1; sb2 += 0.1) {
            gs_meanfield_t m = gs_meanfield(relu, 0, sw2, sb2);
            tap_close(m.chi1, sw2 / 2, 1e-12, "relu sigma_w^2 = %g, sigma_b^2 = %g: chi_1 = %g",
                      sw2, sb2, sw2 / 2);
            tap_close(m.predicted_slope, 0.5 * log(sw2 / 2), 1e-12, "... slope 1/2 ln chi_1");
        }
    gs_meanfield_t m = gs_meanfield(relu, 0, 1.5, 0.1);
    tap_close(m.q_star, 0.1 / (1 - 0.75), 1e-12,
              "relu sigma_w^2 = 1.5, sigma_b^2 = 0.1: q* = sigma_b^2 / (1 - sigma_w^2/2) = 0.4");
    tap_close(m.depth_scale, -1 / log(0.75), 1e-12, "... depth scale -1/ln chi_1");
    m = gs_meanfield(relu, 0, 3, 0.0);
    tap_ok(isinf(m.q_star), "relu above criticality (sigma_w^2 = 3): q grows without bound");

    /* the edge of chaos */
    tap_close(gs_mf_critical_sw2(tanh_, 0, 0.0), 1.0, 2e-3,
              "tanh, sigma_b = 0: critical at sigma_w^2 = 1");
    tap_close(gs_mf_critical_sw2(tanh_, 0, 0.05), 1.761, 1e-3,
              "tanh, sigma_b^2 = 0.05: critical at sigma_w^2 ~ 1.761");
    tap_close(gs_mf_critical_sw2(relu, 0, 0.0), 2.0, 1e-9, "relu: critical at sigma_w^2 = 2");
    m = gs_meanfield(tanh_, 0, 0.5, 0.0);
    tap_close(m.chi1, 0.5, 1e-9, "tanh sigma_w^2 = 0.5, sigma_b = 0: q* = 0, chi_1 = sigma_w^2");
    m = gs_meanfield(sig, 0, 1.0, 0.0);
    tap_near(m.chi1, 0.0557, 5e-4, "sigmoid sigma_w^2 = 1, sigma_b = 0: chi_1 ~ 0.0557 (%.5f)",
             m.chi1);
    tap_ok(m.predicted_slope < 0 && m.depth_scale > 0 && m.depth_scale < 1,
           "sigmoid: vanishing, depth scale %.3f layers", m.depth_scale);
    m = gs_meanfield(tanh_, 0, 4.0, 0.0);
    tap_ok(m.chi1 > 1 && m.predicted_slope > 0, "tanh sigma_w^2 = 4: chaotic, chi_1 = %.4f > 1",
           m.chi1);
    {   /* gs_meanfield keeps its answers: a kept one is the computed one
         * bit for bit, for those arguments and no others, and after
         * gs_meanfield_forget it is computed again the same */
        gs_meanfield_forget();
        double t0 = gs_now();
        gs_meanfield_t a = gs_meanfield(tanh_, 0, 1.0, 0.0);   /* critical: all 5,000 maps */
        double t1 = gs_now();
        gs_meanfield_t b = gs_meanfield(tanh_, 0, 1.0, 0.0);
        double t2 = gs_now();
        gs_meanfield_t c = gs_meanfield(tanh_, 0, 1.0, 0.01);
        gs_meanfield_t d = gs_meanfield(sig, 0, 1.0, 0.0);
        for (int i = 0; i < 40; i++)
            gs_meanfield(relu, 0, 1.0 + 0.01 * i, 0.0);
        gs_meanfield_forget();
        gs_meanfield_t e = gs_meanfield(tanh_, 0, 1.0, 0.0);
        tap_ok(memcmp(&a, &b, sizeof a) == 0 && memcmp(&a, &e, sizeof a) == 0 &&
                   a.chi1 != c.chi1 && a.chi1 != d.chi1,
               "mean field: kept answers equal computed ones bit for bit (q* %.17g), keyed by "
               "activation, sigma_w^2 and sigma_b^2 (chi_1 %.6f, %.6f differ)", a.q_star, c.chi1,
               d.chi1);
        tap_diag("tanh at the edge of chaos: computed in %.1f ms, kept in %.4f ms",
                 1e3 * (t1 - t0), 1e3 * (t2 - t1));
        /* threads share the kept answers: each thread asks for every key
         * twice, in its own order, from a forgotten start; every answer is
         * the one computed alone */
        gs_meanfield_forget();
        for (size_t k = 0; k < N_MT_KEYS; k++)
            mt_want[k] = mt_ask(k);
        gs_meanfield_forget();
        pthread_t th[MT_THREADS];
        int bad = 0, started = 0;
        for (int i = 0; i < MT_THREADS; i++)
            started += pthread_create(&th[i], NULL, mt_thread, &mt_offset[i]) == 0;
        for (int i = 0; i < started; i++) {
            void *ret;
            pthread_join(th[i], &ret);
            bad += ret != NULL;
        }
        tap_ok(started == MT_THREADS && bad == 0, "mean field from %d threads at once: every "
               "answer, computed or kept, the one computed alone bit for bit (%d threads wrong)",
               MT_THREADS, bad);
    }
    tap_close(gs_mf_batchnorm_relu_slope(), 0.5 * log(M_PI / (M_PI - 1)), 1e-15,
              "batch-normalized relu: slope 1/2 ln(pi/(pi-1)) = 0.1916");
    tap_near(gs_mf_batchnorm_relu_slope(), 0.1916, 1e-4, "... = 0.1916");
    /* residual length growth: identity p_l = (1 + sigma_w^2) p_{l-1} + sigma_b^2,
     * relu p_l = (1 + sigma_w^2 / 2) p_{l-1} at sigma_b = 0 */
    tap_close(gs_mf_residual_growth(id, 0, 0.5, 0.0, 2.0, 0.0, 10), log(1.5), 1e-12,
              "residual identity, sigma_w^2 = 0.5: ln p grows by ln 1.5 per block");
    {   /* relu, sigma_b = 0, sigma_w^2 = 2: E[relu(s z)] = s / sqrt(2 pi), E[relu^2] = s^2/2 */
        double pp = 1.0, mm = 0.5;
        for (int l = 0; l < 20; l++) {
            double s_ = sqrt(2.0 * pp), e1 = s_ / sqrt(2 * M_PI);
            pp += 2 * mm * e1 + s_ * s_ / 2;
            mm += e1;
        }
        tap_close(gs_mf_residual_growth(relu, 0, 2.0, 0.0, 1.0, 0.5, 20), log(pp) / 20, 1e-12,
                  "residual relu, sigma_w^2 = 2: the (m, p) recursion with its cross term");
    }
    double p = 1.0;
    for (int l = 0; l < 5; l++)
        p = 1.3 * p + 0.1;
    tap_close(gs_mf_residual_growth(id, 0, 0.3, 0.1, 1.0, 0.0, 5), log(p) / 5, 1e-12,
              "residual identity with sigma_b^2 = 0.1: the recursion, 5 blocks");
    /* the top singular value by power iteration */
    double d[3 * 3] = {0, 3, 0, 2, 0, 0, 0, 0, -1};   /* singular values 3, 2, 1 */
    tap_close(gs_spectrum_top_sv(d, 3, 3), 3.0, 1e-9, "top singular value of a permuted "
              "diagonal (3, 2, 1): 3");
    double wide[2 * 4] = {1, 1, 1, 1, 1, -1, 1, -1};   /* rows orthogonal, norms 2 and 2 */
    tap_close(gs_spectrum_top_sv(wide, 2, 4), 2.0, 1e-12, "top singular value of a 2 x 4 "
              "matrix with orthogonal rows of norm 2: 2");
    return tap_done();
}
