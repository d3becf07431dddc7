/* Every init scheme: empirical mean and variance of a large matrix against
 * its formula (README, "Vocabulary"), orthogonal really orthogonal, the bias std. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/init.h"
#include "tap.h"

enum { FO = 500, FI = 800, N = FO * FI };

int main(void)
{
    double *w = malloc(N * sizeof *w), *work = malloc(N * sizeof *work);
    const double gain = 1.7;
    gs_rng_t rng;
    gs_rng_seed(&rng, 1, 0);
    for (size_t k = 0; k < gs_n_inits; k++) {
        const gs_init_t *I = &gs_inits[k];
        double p = I->has_param ? 0.2 : 0.0;
        gs_init_fill(w, FO, FI, I, p, gain, &rng, work);
        double m = 0, v = 0, amax = 0;
        for (size_t i = 0; i < N; i++)
            m += w[i];
        m /= N;
        for (size_t i = 0; i < N; i++) {
            v += (w[i] - m) * (w[i] - m);
            amax = fmax(amax, fabs(w[i]));
        }
        v /= N;
        double want = gs_init_variance(I, FI, FO, p, gain);
        /* the formula, written out independently of the table */
        double formula;
        switch (k) {
        case 0: formula = gain * gain * 2.0 / (FI + FO); break;
        case 1: formula = gain * gain * 6.0 / (FI + FO) / 3.0; break;
        case 2: formula = gain * gain * 2.0 / FI; break;
        case 3: formula = gain * gain * 6.0 / FI / 3.0; break;
        case 4: formula = gain * gain / FI; break;
        case 5: formula = gain * gain / FI; break;   /* g Q, orthonormal rows of length FI */
        case 6: formula = gain * gain * 0.04; break;
        default: formula = gain * gain * 0.04 / 3.0; break;
        }
        tap_close(want, formula, 1e-12, "%s: gs_init_variance matches the formula", I->name);
        /* sd of the sample mean is sqrt(v/N); allow 5 of them */
        tap_near(m, 0.0, 5.0 * sqrt(formula / N), "%s: mean %.3e is 0", I->name, m);
        /* relative sd of a variance estimate <= sqrt(2/N) = 0.22%; allow 2% */
        tap_close(v / formula, 1.0, 0.02, "%s: variance %.4e vs %.4e", I->name, v, formula);
        if (I->dist == GS_DIST_UNIFORM) {
            double b = sqrt(3.0 * formula);
            tap_ok(amax <= b && amax > 0.99 * b, "%s: all entries within +-%.4g", I->name, b);
        }
    }
    /* orthogonal: W W^T = g^2 I for a wide W, W^T W = g^2 I for a tall one */
    const gs_init_t *O = gs_init_find("orthogonal");
    enum { R = 60, C = 90 };
    double wide[R * C], tall[C * R];
    gs_init_fill(wide, R, C, O, 0, gain, &rng, work);
    gs_init_fill(tall, C, R, O, 0, gain, &rng, work);
    double ew = 0, et = 0;
    for (int i = 0; i < R; i++)
        for (int j = 0; j < R; j++) {
            double sw = 0, st = 0;
            for (int k = 0; k < C; k++) {
                sw += wide[i * C + k] * wide[j * C + k];
                st += tall[k * R + i] * tall[k * R + j];
            }
            double want = i == j ? gain * gain : 0.0;
            ew = fmax(ew, fabs(sw - want));
            et = fmax(et, fabs(st - want));
        }
    tap_ok(ew < 1e-12, "orthogonal 60x90: W W^T = g^2 I (max error %.1e)", ew);
    tap_ok(et < 1e-12, "orthogonal 90x60: W^T W = g^2 I (max error %.1e)", et);
    /* the orthogonal Q is unique (R's diagonal positive): Householder QR
     * (LAPACK, where built with it) and Gram-Schmidt twice agree to
     * rounding, from square 256 down to one column and one row */
    static const size_t shapes[][2] = {{256, 256}, {90, 60}, {4, 3}, {3, 1}, {1, 1}, {2, 2}};
    for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
        size_t m = shapes[t][0], n = shapes[t][1];
        double *g = malloc(m * n * sizeof *g), *h = malloc(m * n * sizeof *h);
        double *pad = malloc(m * n * sizeof *pad);
        gs_rng_t r2;
        gs_rng_seed(&r2, 99 + t, 3);
        gs_rng_normal_fill(&r2, g, m * n, 1.0);
        memcpy(h, g, m * n * sizeof *h);
        gs_gram_schmidt_columns(g, m, n);
        /* the same Gaussian through gs_init_fill: W = Q for fan_out >= fan_in */
        gs_rng_seed(&r2, 99 + t, 3);
        gs_init_fill(h, m, n, O, 0, 1.0, &r2, pad);
        double d = 0;
        for (size_t i = 0; i < m * n; i++)
            d = fmax(d, fabs(g[i] - h[i]));
        tap_ok(d < 1e-10, "orthogonal %zux%zu: the init's Q equals Gram-Schmidt's (max "
               "difference %.1e)", m, n, d);
        free(g);
        free(h);
        free(pad);
    }
    /* biases */
    gs_init_bias(w, N, 0.3, &rng);
    double bm = 0, bv = 0;
    for (size_t i = 0; i < N; i++)
        bm += w[i];
    bm /= N;
    for (size_t i = 0; i < N; i++)
        bv += (w[i] - bm) * (w[i] - bm);
    tap_close(sqrt(bv / N), 0.3, 0.01, "bias_std=0.3 gives biases of std 0.3");
    gs_init_bias(w, 10, 0.0, &rng);
    int zero = 1;
    for (int i = 0; i < 10; i++)
        zero &= w[i] == 0.0;
    tap_ok(zero, "bias_std=0 gives zero biases");
    free(w);
    free(work);
    /* gs_rng_normal_fill: the same draws in the same order as single calls
     * (to a few ulp: vector log/sin/cos), odd counts leaving the spare for
     * the next call, so that the two stay in step over any split */
    gs_rng_t a, b;
    gs_rng_seed(&a, 9, 3);
    gs_rng_seed(&b, 9, 3);
    const size_t counts[] = {1, 2, 3, 255, 256, 257, 513, 1000};
    double worst = 0.0, buf[1000];
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        gs_rng_normal_fill(&a, buf, counts[c], 1.0);
        for (size_t i = 0; i < counts[c]; i++)
            worst = fmax(worst, fabs(buf[i] - gs_rng_normal(&b)) / (1.0 + fabs(buf[i])));
    }
    tap_ok(worst < 1e-14, "normal_fill equals single draws, in step over odd counts (max "
           "error %.1e)", worst);
    gs_rng_normal_fill(&a, buf, 4, 2.0);
    double one = gs_rng_normal(&b);
    tap_ok(fabs(buf[0] - 2.0 * one) < 1e-14 * (1.0 + fabs(buf[0])), "normal_fill scales");
    return tap_done();
}
