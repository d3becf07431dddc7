/* Activation table: f' against central differences of f over [-6, 6],
 * max|f'| against a fine scan, and a few closed-form values. The array
 * forms the engine runs (map, grad; sigmoid and tanh through glibc's
 * vector functions, within 4 ulp of libm) against the scalar f and f' over
 * [-40, 40] and the tails +-800, to 1e-15 relative (plus 1e-300 absolute
 * for values that underflow), for every length 1..9 (the vector tails);
 * g f' from f(x) and from x to 1e-13 of |f'| + 0.01 max|f'| (in the tails
 * f' = 1 - tanh^2 or s(1 - s) comes from a cancellation, whose absolute
 * error is an ulp of 1); a NaN stays a NaN. */
#include <config.h>

#include <math.h>

#include "nn/activation.h"
#include "nn/vmath.h"
#include "tap.h"

int main(void)
{
    for (size_t i = 0; i < gs_n_activations; i++) {
        const gs_activation_t *A = &gs_activations[i];
        double a = A->has_param ? 0.3 : 0.0;
        double worst = 0.0, maxd = 0.0;
        for (double x = -6.0; x <= 6.0; x += 0.01) {
            if (fabs(x) < 1e-3)
                continue;   /* relu-like kinks at 0 */
            double h = 1e-6;
            double fd = (A->f(x + h, a) - A->f(x - h, a)) / (2 * h);
            worst = fmax(worst, fabs(fd - A->df(x, a)));
        }
        for (double x = -20.0; x <= 20.0; x += 1e-4)
            maxd = fmax(maxd, fabs(A->df(x, A->default_param)));
        tap_ok(worst < 1e-8, "%s: f' matches central differences of f (max error %.2e)",
               A->name, worst);
        tap_close(maxd, A->max_slope, 1e-6, "%s: max|f'| = %.10g", A->name, A->max_slope);
        tap_ok(A->kind == (gs_act_kind_t)i && gs_activation_find(A->name) == A,
               "%s: its kind is its row", A->name);
    }
    enum { NX = 8011 };
    static double x[NX], y[NX], gr[NX], gy[NX], g1[NX];
    for (size_t k = 0; k < NX - 2; k++)
        x[k] = -40.0 + 0.01 * (double)k;
    x[NX - 2] = -800.0;
    x[NX - 1] = 800.0;
    for (size_t i = 0; i < gs_n_activations; i++) {
        const gs_activation_t *A = &gs_activations[i];
        double a = A->has_param ? 0.3 : A->default_param;
        gs_act_forward(A, a, y, x, NX);
        for (size_t k = 0; k < NX; k++)
            g1[k] = 1.0 + 0.001 * (double)(k % 7);
        gs_act_backward(A, a, gy, g1, x, y, NX);      /* f' from f(x) where the row can */
        gs_act_backward(A, a, gr, g1, x, NULL, NX);   /* f' from x */
        double wf = 0.0, wd = 0.0;
        for (size_t k = 0; k < NX; k++) {
            double f = A->f(x[k], a), d = g1[k] * A->df(x[k], a);
            wf = fmax(wf, fabs(y[k] - f) / (fabs(f) + 1e-300 / 1e-15));
            /* relative where f' is large; in the tails, where f' is got by
             * cancellation (1 - tanh^2 near 1), absolute against max|f'| */
            double scale = fabs(d) + 1e-2 * g1[k] * A->max_slope;
            wd = fmax(wd, fmax(fabs(gy[k] - d), fabs(gr[k] - d)) / scale);
        }
        tap_ok(wf < 1e-15, "%s: the array form equals f to %.1e (relative)", A->name, wf);
        tap_ok(wd < 1e-13, "%s: the array gradient equals g f' to %.1e, from f(x) and from x",
               A->name, wd);
        int tails = 1;
        for (size_t n = 1; n <= 9; n++) {   /* every tail length of 2- and 4-lane vectors */
            double yy[9];
            A->map(yy, x + 3000, n, a);
            for (size_t k = 0; k < n; k++)
                tails &= yy[k] == y[3000 + k];
        }
        tap_ok(tails, "%s: a value's result does not depend on the array's length", A->name);
        double nan_in = NAN, nan_out = 0.0;
        A->map(&nan_out, &nan_in, 1, a);
        tap_ok(isnan(nan_out), "%s: NaN in, NaN out (divergence stays visible)", A->name);
    }
    tap_diag("vector math: %s", gs_vmath_name());

    const gs_activation_t *s = gs_activation_find("sigmoid"), *g = gs_activation_find("gelu");
    tap_close(s->f(0, 0), 0.5, 1e-15, "sigmoid(0) = 1/2");
    tap_close(s->f(-800, 0), 0.0, 1e-300, "sigmoid(-800) is 0, not NaN");
    tap_close(g->f(1.0, 0), 0.8413447460685429, 1e-14, "gelu(1) = Phi(1)");
    tap_close(gs_activation_find("softplus")->f(800, 0), 800.0, 1e-15, "softplus(800) = 800");
    tap_close(gs_activation_find("selu")->f(1.0, 0), 1.0507009873554805, 1e-15, "selu(1) = lambda");
    tap_ok(gs_activation_find("nope") == NULL, "unknown name gives NULL");
    return tap_done();
}
