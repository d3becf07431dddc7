#include <config.h>

#include "nn/format.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "nn/par.h"

/* name, exponent bits, mantissa bits, bias, emax, max finite, min normal
 * 2^(1-bias), min subnormal 2^(1-bias-man_bits), overflow. */
const gs_fmt_t gs_formats[GS_N_FMT] = {
    [GS_FMT_FLOAT32] = {"float32", 8, 23, 127, 127, 0x1.fffffep127, 0x1p-126, 0x1p-149,
                        GS_FMT_OVERFLOW_INF},
    [GS_FMT_BFLOAT16] = {"bfloat16", 8, 7, 127, 127, 0x1.fep127, 0x1p-126, 0x1p-133,
                         GS_FMT_OVERFLOW_INF},
    [GS_FMT_FLOAT16] = {"float16", 5, 10, 15, 15, 65504.0, 0x1p-14, 0x1p-24, GS_FMT_OVERFLOW_INF},
    [GS_FMT_E5M2] = {"e5m2", 5, 2, 15, 15, 57344.0, 0x1p-14, 0x1p-16, GS_FMT_OVERFLOW_INF},
    [GS_FMT_E4M3] = {"e4m3", 4, 3, 7, 8, 448.0, 0x1p-6, 0x1p-9, GS_FMT_OVERFLOW_NAN},
};
const char *const gs_fmt_names[GS_N_FMT] = {"float32", "bfloat16", "float16", "e5m2", "e4m3"};

int gs_fmt_find(const char *name)
{
    for (int i = 0; name && i < GS_N_FMT; i++)
        if (strcmp(name, gs_fmt_names[i]) == 0)
            return i;
    return -1;
}

static double overflowed(const gs_fmt_t *f, double x, int saturate)
{
    if (saturate)
        return copysign(f->max_finite, x);
    return f->overflow == GS_FMT_OVERFLOW_INF ? copysign(INFINITY, x) : NAN;
}

double gs_fmt_round(const gs_fmt_t *f, double x, int saturate)
{
    if (isnan(x) || x == 0.0)
        return x;
    if (isinf(x))
        return overflowed(f, x, saturate);
    int emin = 1 - f->bias;
    int e = ilogb(x);   /* |x| = m 2^e, 1 <= m < 2 (exact, from the bits) */
    if (e < emin)
        e = emin;   /* subnormal: the quantum stays 2^(emin - man_bits) */
    int q = e - f->man_bits;
    /* |x| / 2^q is exact (a power-of-two scaling of a double that stays
     * normal); rint rounds it to the nearest integer, ties to even, in the
     * default rounding mode */
    double r = ldexp(rint(ldexp(fabs(x), -q)), q);
    if (r > f->max_finite)
        return overflowed(f, x, saturate);
    return copysign(r, x);
}

static uint64_t bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* Each threshold is the boundary the table implies, moved one double up
 * when the format rounds the boundary itself the other way (a tie: the
 * even neighbour wins) - so gs_fmt_round decides, and the counts agree
 * with it by construction. */
void gs_fmt_bounds(const gs_fmt_t *f, gs_fmt_bounds_t *b)
{
    double half = f->min_subnormal / 2;
    b->zero_max = bits_of(half) - (gs_fmt_round(f, half, 0) == 0.0 ? 0 : 1);
    double below_normal = f->min_normal - half;
    b->normal_from = bits_of(below_normal) + (gs_fmt_round(f, below_normal, 0) == f->min_normal ? 0 : 1);
    /* halfway between max_finite and the next binade step */
    double top = f->max_finite + ldexp(1.0, f->emax - f->man_bits - 1);
    b->overflow_from = bits_of(top) + (isfinite(gs_fmt_round(f, top, 0)) ? 1 : 0);
}

int gs_fmt_bin(int e)
{
    return e < GS_FMT_EXP_LO ? 0 : e > GS_FMT_EXP_HI ? GS_FMT_HIST_BINS - 1 : e - GS_FMT_EXP_LO;
}

void gs_fmt_counts_clear(gs_fmt_counts_t *c)
{
    memset(c, 0, sizeof *c);
}

#define ABS_MASK 0x7fffffffffffffffull
#define EXP_ALL 0x7ff0000000000000ull

/* The pass over x[0..n) into c, which holds counts already (its min/max
 * bits too: min_u = UINT64_MAX and max_u = 0 when none). */
static void count_range(gs_fmt_counts_t *c, uint64_t *min_u, uint64_t *max_u, const double *x,
                        size_t n, const gs_fmt_bounds_t *b)
{
    long nonzero = 0, nonfinite = 0;
    uint64_t lo = *min_u, hi = *max_u;
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &x[i], sizeof u);
        u &= ABS_MASK;
        if (u == 0)
            continue;
        if (u >= EXP_ALL) {
            nonfinite++;
            continue;
        }
        nonzero++;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        c->hist[gs_fmt_bin((int)(u >> 52) - 1023)]++;   /* a subnormal double: bin 0 */
        for (int f = 0; f < GS_N_FMT; f++) {
            c->zero[f] += u <= b[f].zero_max;
            c->subnormal[f] += (u > b[f].zero_max) & (u < b[f].normal_from);
            c->overflow[f] += u >= b[f].overflow_from;
        }
    }
    c->n += (long)n;
    c->nonzero += nonzero;
    c->nonfinite += nonfinite;
    *min_u = lo;
    *max_u = hi;
}

static double double_of(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* c += part (counts add; the magnitudes' extremes by their bits) */
static void merge(gs_fmt_counts_t *c, uint64_t *min_u, uint64_t *max_u, const gs_fmt_counts_t *part,
                  uint64_t pmin, uint64_t pmax)
{
    c->n += part->n;
    c->nonzero += part->nonzero;
    c->nonfinite += part->nonfinite;
    for (int f = 0; f < GS_N_FMT; f++) {
        c->zero[f] += part->zero[f];
        c->subnormal[f] += part->subnormal[f];
        c->overflow[f] += part->overflow[f];
    }
    for (int k = 0; k < GS_FMT_HIST_BINS; k++)
        c->hist[k] += part->hist[k];
    *min_u = pmin < *min_u ? pmin : *min_u;
    *max_u = pmax > *max_u ? pmax : *max_u;
}

void gs_fmt_count(gs_fmt_counts_t *c, const double *x, size_t n)
{
    gs_fmt_bounds_t b[GS_N_FMT];   /* 15 roundings: nothing against a tensor's pass */
    for (int f = 0; f < GS_N_FMT; f++)
        gs_fmt_bounds(&gs_formats[f], &b[f]);
    uint64_t min_u = c->nonzero ? bits_of(c->min_abs) : UINT64_MAX;
    uint64_t max_u = c->nonzero ? bits_of(c->max_abs) : 0;
    if (n < GS_PAR_MIN) {
        count_range(c, &min_u, &max_u, x, n, b);
    } else {
#pragma omp parallel
        {
            gs_fmt_counts_t part;   /* on the thread's stack: no allocation */
            gs_fmt_counts_clear(&part);
            uint64_t pmin = UINT64_MAX, pmax = 0;
#pragma omp for schedule(static)
            for (size_t i = 0; i < n; i += GS_PAR_MIN)
                count_range(&part, &pmin, &pmax, x + i, n - i < GS_PAR_MIN ? n - i : GS_PAR_MIN, b);
#pragma omp critical(gs_fmt_merge)
            merge(c, &min_u, &max_u, &part, pmin, pmax);
        }
    }
    c->min_abs = c->nonzero ? double_of(min_u) : 0.0;
    c->max_abs = c->nonzero ? double_of(max_u) : 0.0;
}

int gs_fmt_scale_window(const gs_fmt_t *f, const gs_fmt_counts_t *c, double max_lost_share,
                        int *lo, int *hi)
{
    if (c->nonzero == 0)
        return -1;
    /* lo: a value in binade e (|x| in [2^e, 2^(e+1))) scaled by 2^k is lost
     * whole when 2^(e+k+1) <= min_subnormal/2 = 2^(s-1), i.e. e <= s-2-k.
     * T = the highest binade such that the values at or below it are
     * within the allowance; then k >= s-2-T. */
    int s = ilogb(f->min_subnormal);
    double allowed = max_lost_share * (double)c->nonzero;
    long below = 0;
    int T = GS_FMT_EXP_LO - 1;
    for (int k = 0; k < GS_FMT_HIST_BINS; k++) {
        below += c->hist[k];
        if ((double)below > allowed)
            break;
        T = gs_fmt_bin_exp(k);
    }
    *lo = s - 2 - T;
    /* hi: the largest k with max_abs 2^k still finite in the format
     * (exact: scaling by a power of two changes no digit) */
    int k = ilogb(f->max_finite) - ilogb(c->max_abs);
    while (!isfinite(gs_fmt_round(f, ldexp(c->max_abs, k), 0)))
        k--;
    while (isfinite(gs_fmt_round(f, ldexp(c->max_abs, k + 1), 0)))
        k++;
    *hi = k;
    return 0;
}
