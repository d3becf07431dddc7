/* One and two steps of each optimizer, and each clipping mode, against
 * values computed by hand (written out below). Tolerance 1e-14. */
#include <config.h>

#include <math.h>
#include <string.h>

#include "nn/optim.h"
#include "tap.h"

static void step2(const char *name, const double want1[2], const double want2[2])
{
    const gs_optimizer_t *o = gs_optimizer_find(name);
    double p[2] = {1.0, -2.0}, g[2] = {0.5, -0.25}, st[4] = {0};
    o->step(p, g, st, 2, 0.1, 1, NULL);
    tap_close(p[0], want1[0], 1e-14, "%s step 1, p[0]", name);
    tap_close(p[1], want1[1], 1e-14, "%s step 1, p[1]", name);
    o->step(p, g, st, 2, 0.1, 2, NULL);   /* same gradient again */
    tap_close(p[0], want2[0], 1e-14, "%s step 2, p[0]", name);
    tap_close(p[1], want2[1], 1e-14, "%s step 2, p[1]", name);
    /* with delta: the same parameters bit for bit, and delta holds each
     * step's change (p_after - p_before, exact here: the d that was added
     * to p_before gives p_after exactly when p_before + d rounds to it,
     * which the comparison checks in the other direction) */
    double q[2] = {1.0, -2.0}, sq[4] = {0}, d[2], before[2];
    for (long t = 1; t <= 2; t++) {
        memcpy(before, q, sizeof q);
        o->step(q, g, sq, 2, 0.1, t, d);
        for (int i = 0; i < 2; i++)
            tap_ok(before[i] + d[i] == q[i] && d[i] != 0.0,
                   "%s step %ld with delta: p[%d] = p_before + delta", name, t, i);
    }
    tap_ok(memcmp(p, q, sizeof p) == 0, "%s: the step with delta moves p exactly as without", name);
}

int main(void)
{
    /* sgd: p - 0.1 g */
    step2("sgd", (double[]){0.95, -1.975}, (double[]){0.90, -1.95});
    /* momentum: v1 = g, v2 = 1.9 g */
    step2("momentum", (double[]){0.95, -1.975}, (double[]){0.95 - 0.1 * 0.95, -1.975 + 0.1 * 0.475});
    /* rmsprop: s1 = 0.01 g^2, step lr g/(0.1|g| + 1e-8); s2 = 0.0199 g^2 */
    double r1a = 1.0 - 0.1 * 0.5 / (0.1 * 0.5 + 1e-8);
    double r1b = -2.0 + 0.1 * 0.25 / (0.1 * 0.25 + 1e-8);
    double r2a = r1a - 0.1 * 0.5 / (sqrt(0.0199) * 0.5 + 1e-8);
    double r2b = r1b + 0.1 * 0.25 / (sqrt(0.0199) * 0.25 + 1e-8);
    step2("rmsprop", (double[]){r1a, r1b}, (double[]){r2a, r2b});
    /* adam: with a constant gradient, m_hat = g and v_hat = g^2 at every
     * step, so each step moves by lr g / (|g| + 1e-8) */
    double a1a = 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), a1b = -2.0 + 0.1 * 0.25 / (0.25 + 1e-8);
    step2("adam", (double[]){a1a, a1b},
          (double[]){a1a - 0.1 * 0.5 / (0.5 + 1e-8), a1b + 0.1 * 0.25 / (0.25 + 1e-8)});
    /* adam with a gradient that changes between the steps: a wrong bias
     * correction (or moment update) gives another p, which the constant
     * gradient above cannot show. Step 2 written out from the definition:
     * m2 = 0.9 (0.1 g1) + 0.1 g2, v2 = 0.999 (0.001 g1^2) + 0.001 g2^2,
     * p2 = p1 - lr (m2 / (1 - 0.9^2)) / (sqrt(v2 / (1 - 0.999^2)) + 1e-8) */
    {
        const gs_optimizer_t *o = gs_optimizer_find("adam");
        double p[1] = {1.0}, g1[1] = {0.5}, g2[1] = {-2.0}, st[2] = {0.0, 0.0};
        o->step(p, g1, st, 1, 0.1, 1, NULL);
        double p1 = 1.0 - 0.1 * 0.5 / (0.5 + 1e-8);
        tap_close(p[0], p1, 1e-14, "adam, changing gradient: step 1");
        o->step(p, g2, st, 1, 0.1, 2, NULL);
        double m2 = 0.9 * 0.1 * 0.5 + 0.1 * -2.0, v2 = 0.999 * 0.001 * 0.25 + 0.001 * 4.0;
        double p2 = p1 - 0.1 * (m2 / (1.0 - 0.81)) / (sqrt(v2 / (1.0 - 0.999 * 0.999)) + 1e-8);
        tap_close(p[0], p2, 1e-14, "adam, changing gradient: step 2 (bias corrections)");
        tap_close(st[0], m2, 1e-15, "adam: first moment after two steps");
        tap_close(st[1], v2, 1e-15, "adam: second moment after two steps");
    }
    tap_ok(gs_optimizer_find("lbfgs") == NULL, "unknown optimizer gives NULL");

    /* clipping by global norm: (3, 4) has norm 5 */
    double g[2] = {3.0, 4.0};
    gs_clip_result_t r = gs_clip(g, 2, GS_CLIP_NORM, 1.0);
    tap_close(r.pre_norm, 5.0, 1e-15, "clip norm: pre-clip norm 5");
    tap_ok(r.fired, "clip norm: fired above the threshold");
    tap_close(g[0], 0.6, 1e-15, "clip norm: g[0] = 3/5");
    tap_close(g[1], 0.8, 1e-15, "clip norm: g[1] = 4/5");
    tap_close(r.post_norm, 1.0, 1e-15, "clip norm: post-clip norm 1");
    double g0 = g[0], g1 = g[1];
    r = gs_clip(g, 2, GS_CLIP_NORM, 2.0);
    tap_ok(!r.fired && g[0] == g0 && g[1] == g1, "clip norm: below the threshold nothing changes");
    /* clipping by value */
    double h[3] = {3.0, -4.0, 0.5};
    r = gs_clip(h, 3, GS_CLIP_VALUE, 1.0);
    tap_ok(r.fired && h[0] == 1.0 && h[1] == -1.0 && h[2] == 0.5, "clip value: clamps to [-1, 1]");
    tap_close(r.pre_norm, sqrt(25.25), 1e-15, "clip value: pre-clip norm");
    tap_close(r.post_norm, sqrt(2.25), 1e-15, "clip value: post-clip norm");
    double k[2] = {3.0, 4.0};
    r = gs_clip(k, 2, GS_CLIP_NORM, 0.0);
    tap_ok(!r.fired && k[0] == 3.0 && r.pre_norm == 5.0, "clip none: measures, never changes");
    double nanv[2] = {NAN, 1.0};
    r = gs_clip(nanv, 2, GS_CLIP_NORM, 1.0);
    tap_ok(isnan(r.pre_norm), "a NaN gradient gives a NaN norm (divergence is seen)");
    return tap_done();
}
