#include <config.h>

#include "theory/meanfield.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

/* Quadrature for E[f(z)], z ~ N(0, 1): the half-lines are cut at Z (the
 * Gaussian's mass beyond is 1e-23) into PANELS panels each, with an
 * ORDER-point Gauss-Legendre rule per panel. Panels keep the rule exact
 * where phi(sqrt(q) z) bends sharply (tanh at large q has poles near the
 * real axis); splitting at 0 keeps it exact for the kinks of ReLU and its
 * kin. */
#define Z_MAX 10.0
#define PANELS 40
#define ORDER 16
#define N_NODES (2 * PANELS * ORDER)

typedef struct {
    double z[N_NODES], w[N_NODES];   /* w includes the Gaussian density */
} rule_t;

/* Gauss-Legendre nodes x and weights w on [-1, 1], by Newton's method on
 * the Legendre polynomial P_n (three-term recurrence). */
static void gauss_legendre(int n, double *x, double *w)
{
    for (int i = 0; i < (n + 1) / 2; i++) {
        double z = cos(M_PI * (i + 0.75) / (n + 0.5)), pp = 1.0;
        for (int it = 0; it < 100; it++) {
            double p1 = 1.0, p2 = 0.0;
            for (int j = 1; j <= n; j++) {
                double p3 = p2;
                p2 = p1;
                p1 = ((2.0 * j - 1.0) * z * p2 - (j - 1.0) * p3) / j;
            }
            pp = n * (z * p1 - p2) / (z * z - 1.0);
            double dz = p1 / pp;
            z -= dz;
            if (fabs(dz) < 1e-16)
                break;
        }
        x[i] = -z;
        x[n - 1 - i] = z;
        w[i] = w[n - 1 - i] = 2.0 / ((1.0 - z * z) * pp * pp);
    }
}

static void make_rule(rule_t *r)
{
    double x[ORDER], w[ORDER];
    gauss_legendre(ORDER, x, w);
    double h = Z_MAX / PANELS;
    int k = 0;
    for (int p = 0; p < PANELS; p++)
        for (int i = 0; i < ORDER; i++) {
            double t = h * (p + 0.5 * (x[i] + 1.0));
            double wt = 0.5 * h * w[i] * exp(-0.5 * t * t) / sqrt(2.0 * M_PI);
            r->z[k] = t;
            r->w[k++] = wt;
            r->z[k] = -t;
            r->w[k++] = wt;
        }
}

enum { E_PHI2, E_DPHI2, E_PHI };

/* E[phi(s z)^2], E[phi'(s z)^2] or E[phi(s z)], s = sqrt(q) */
static double expect(const rule_t *r, const gs_activation_t *act, double a, double q, int what)
{
    double s = sqrt(q), sum = 0.0;
    for (int k = 0; k < N_NODES; k++) {
        double v = what == E_DPHI2 ? act->df(s * r->z[k], a) : act->f(s * r->z[k], a);
        sum += r->w[k] * (what == E_PHI ? v : v * v);
    }
    return sum;
}

double gs_mf_e_phi2(const gs_activation_t *act, double a, double q)
{
    rule_t r;
    make_rule(&r);
    return expect(&r, act, a, q, E_PHI2);
}

double gs_mf_e_dphi2(const gs_activation_t *act, double a, double q)
{
    rule_t r;
    make_rule(&r);
    return expect(&r, act, a, q, E_DPHI2);
}

#define Q_ITERS 5000
#define Q_TOL 1e-14
#define Q_HUGE 1e12

/* q* from q = 1 (the inputs' scale) by iterating the length map; above
 * Q_HUGE the map has no finite fixed point (ReLU above criticality). */
static double fixed_point(const rule_t *r, const gs_activation_t *act, double a, double sw2,
                          double sb2)
{
    double q = 1.0;
    for (int it = 0; it < Q_ITERS; it++) {
        double next = sw2 * expect(r, act, a, q, E_PHI2) + sb2;
        if (!(next < Q_HUGE))
            return INFINITY;
        if (fabs(next - q) <= Q_TOL * fmax(1.0, q)) {
            q = next;
            break;
        }
        q = next;
    }
    return q;
}

static gs_meanfield_t meanfield(const rule_t *r, const gs_activation_t *act, double a,
                                double sw2, double sb2)
{
    gs_meanfield_t m;
    m.q_star = fixed_point(r, act, a, sw2, sb2);
    /* without a finite fixed point chi_1 is taken at the large-q end,
     * where positively homogeneous activations (the ones that get there)
     * no longer depend on q */
    m.chi1 = sw2 * expect(r, act, a, isfinite(m.q_star) ? m.q_star : Q_HUGE, E_DPHI2);
    double l = log(m.chi1);
    m.depth_scale = m.chi1 <= 0 ? NAN : l == 0.0 ? INFINITY : -1.0 / l;
    m.predicted_slope = 0.5 * l;
    return m;
}

/* Near criticality the length map converges slowly (tanh at sigma_w^2 =
 * 1, sigma_b^2 = 0 takes all Q_ITERS maps of N_NODES nodes: about 70 ms,
 * as long as a thousand tiny cells), and a sweep asks again for every
 * repeat, depth and width of one configuration. So the process keeps
 * every answer (the oldest goes once MEMO_SIZE are kept), shared by the
 * threads that run cells, and gives it back bit for bit. A missing one is
 * computed outside the lock: two threads may compute the same answer at
 * once, and the second finds it kept. */
#define MEMO_SIZE 1024

typedef struct {
    const gs_activation_t *act;
    double args[3];   /* a, sw2, sb2, compared bit for bit */
    gs_meanfield_t m;
} memo_t;

static memo_t memo[MEMO_SIZE];
static size_t memo_used, memo_next;
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

/* The kept answer for (act, args), or NULL; under memo_lock. */
static const memo_t *memo_find(const gs_activation_t *act, const double args[3])
{
    for (size_t i = 0; i < memo_used; i++)
        if (memo[i].act == act && memcmp(memo[i].args, args, sizeof memo[i].args) == 0)
            return &memo[i];
    return NULL;
}

gs_meanfield_t gs_meanfield(const gs_activation_t *act, double a, double sw2, double sb2)
{
    const double args[3] = {a, sw2, sb2};
    pthread_mutex_lock(&memo_lock);
    const memo_t *hit = memo_find(act, args);
    gs_meanfield_t m;
    if (hit)
        m = hit->m;
    pthread_mutex_unlock(&memo_lock);
    if (hit)
        return m;
    rule_t r;
    make_rule(&r);
    m = meanfield(&r, act, a, sw2, sb2);
    pthread_mutex_lock(&memo_lock);
    if (!memo_find(act, args)) {
        memo[memo_next] = (memo_t){act, {a, sw2, sb2}, m};
        memo_next = (memo_next + 1) % MEMO_SIZE;
        memo_used += memo_used < MEMO_SIZE;
    }
    pthread_mutex_unlock(&memo_lock);
    return m;
}

void gs_meanfield_forget(void)
{
    pthread_mutex_lock(&memo_lock);
    memo_used = memo_next = 0;
    pthread_mutex_unlock(&memo_lock);
}

double gs_mf_critical_sw2(const gs_activation_t *act, double a, double sb2)
{
    rule_t r;
    make_rule(&r);
    double lo = 1e-3, hi = 100.0;
    double flo = meanfield(&r, act, a, lo, sb2).chi1 - 1.0;
    double fhi = meanfield(&r, act, a, hi, sb2).chi1 - 1.0;
    if (!(flo < 0 && fhi > 0))
        return NAN;
    for (int it = 0; it < 100 && hi - lo > 1e-12 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        if (meanfield(&r, act, a, mid, sb2).chi1 < 1.0)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

double gs_mf_residual_growth(const gs_activation_t *act, double a, double sw2, double sb2,
                             double p, double m, long blocks)
{
    if (blocks < 1 || !(p > 0))
        return NAN;
    rule_t r;
    make_rule(&r);
    double p0 = p;
    for (long l = 0; l < blocks; l++) {
        double q = sw2 * p + sb2, e1 = expect(&r, act, a, q, E_PHI);
        p += 2.0 * m * e1 + expect(&r, act, a, q, E_PHI2);
        m += e1;
    }
    return log(p / p0) / (double)blocks;
}

double gs_mf_batchnorm_relu_slope(void)
{
    return 0.5 * log(M_PI / (M_PI - 1.0));
}
