/* Activation table: f' against central differences of f over [-6, 6],
 * max|f'| against a fine scan, and a few closed-form values. */
#include <config.h>

#include <math.h>

#include "nn/activation.h"
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
    }
    const gs_activation_t *s = gs_activation_find("sigmoid"), *g = gs_activation_find("gelu");
    tap_close(s->f(0, 0), 0.5, 1e-15, "sigmoid(0) = 1/2");
    tap_close(s->f(-800, 0), 0.0, 1e-300, "sigmoid(-800) is 0, not NaN");
    tap_close(g->f(1.0, 0), 0.8413447460685429, 1e-14, "gelu(1) = Phi(1)");
    tap_close(gs_activation_find("softplus")->f(800, 0), 800.0, 1e-15, "softplus(800) = 800");
    tap_close(gs_activation_find("selu")->f(1.0, 0), 1.0507009873554805, 1e-15, "selu(1) = lambda");
    tap_ok(gs_activation_find("nope") == NULL, "unknown name gives NULL");
    return tap_done();
}
