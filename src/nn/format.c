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

static uint64_t bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double double_of(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

#define ABS_MASK 0x7fffffffffffffffull
#define EXP_ALL 0x7ff0000000000000ull

static double overflowed(const gs_fmt_t *f, double x, int saturate)
{
    if (saturate)
        return copysign(f->max_finite, x);
    return f->overflow == GS_FMT_OVERFLOW_INF ? copysign(INFINITY, x) : NAN;
}

double gs_fmt_round(const gs_fmt_t *f, double x, int saturate)
{
    uint64_t u = bits_of(x), a = u & ABS_MASK;
    if (a >= EXP_ALL)   /* NaN stays NaN; an infinity overflows the format */
        return isnan(x) ? x : overflowed(f, x, saturate);
    if (a < bits_of(f->min_normal)) {
        /* zero or below the format's normals: one quantum, min_subnormal,
         * over the whole range; |x| / min_subnormal and back are exact
         * (powers of two, no overflow), rint rounds to the nearest
         * integer, ties to even, in the default rounding mode */
        return copysign(rint(fabs(x) / f->min_subnormal) * f->min_subnormal, x);
    }
    /* normal in the format: round the double's significand to man_bits
     * bits on its bits - add half the dropped part's unit, less one
     * unless the kept part is odd (ties to even), and clear the dropped
     * bits; a carry out of the significand moves the exponent up, as
     * rounding up to the next binade does (tests/format.c: against MPFR
     * and the hardware's float) */
    int shift = 52 - f->man_bits;
    uint64_t drop = (UINT64_C(1) << shift) - 1;
    a = (a + (drop >> 1) + ((a >> shift) & 1)) & ~drop;
    if (double_of(a) > f->max_finite)
        return overflowed(f, x, saturate);
    return double_of(a | (u & ~ABS_MASK));
}

const char *const gs_rounding_names[] = {"nearest", "stochastic", NULL};

double gs_fmt_round_stochastic(const gs_fmt_t *f, double x, int saturate, uint64_t bits)
{
    if (isnan(x) || x == 0.0)
        return x;
    if (isinf(x))
        return overflowed(f, x, saturate);
    int emin = 1 - f->bias;
    int e = ilogb(x);
    if (e < emin)
        e = emin;
    int q = e - f->man_bits;
    /* t = |x| / 2^q exactly, its integer part and fraction exactly too
     * (floor(t) <= t < floor(t) + 1: the difference is a double) */
    double t = ldexp(fabs(x), -q), lo = floor(t), frac = t - lo;
    double u = (double)(bits >> 11) * 0x1p-53;   /* [0, 1), 53 bits */
    double r = ldexp(lo + (u < frac ? 1.0 : 0.0), q);
    if (r > f->max_finite)
        return overflowed(f, x, saturate);
    return copysign(r, x);
}

void gs_fmt_round_array(const gs_fmt_t *f, double *x, size_t n, int saturate)
{
    if (f == &gs_formats[GS_FMT_FLOAT32] && !saturate) {
        /* the conversion rounds to nearest-even with float32's subnormals
         * and overflows to inf: gs_fmt_round's float32 (tests/format.c) */
#pragma omp parallel for simd schedule(static) if (n >= GS_PAR_MIN)
        for (size_t i = 0; i < n; i++)
            x[i] = (double)(float)x[i];
        return;
    }
#pragma omp parallel for schedule(static) if (n >= GS_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        x[i] = gs_fmt_round(f, x[i], saturate);
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

static int bin_of_bits(uint64_t u)
{
    return gs_fmt_bin((int)(u >> 52) - 1023);   /* a subnormal double: bin 0 */
}

/* What the pass needs of the formats. Each format has three limits on
 * |x|'s bits - the first value not rounded to zero (zero_max + 1), the
 * first normal (normal_from), the first overflowing (overflow_from) - and
 * the count under a limit is the histogram's bins under the limit's bin
 * plus the values of that bin under it. So the histogram is kept finer in
 * the bins that hold limits: a value goes to (bin, the number of its
 * bin's limits it reaches), found by comparing it with EDGE_MAX limits
 * without a branch (unused ones are 0, which every value reaches) - one
 * counter incremented a value, as a plain histogram. */
#define N_LIMITS (3 * GS_N_FMT)
#define EDGE_MAX 4
#define SUBS (EDGE_MAX + 1)
typedef struct {
    uint64_t lim[N_LIMITS];
    int bin[N_LIMITS];              /* the bin of lim - 1: the last value under it */
    int rank[N_LIMITS];             /* how many limits of its bin are smaller */
    int n_in[GS_FMT_HIST_BINS];     /* limits in a bin */
    uint64_t at[GS_FMT_HIST_BINS][EDGE_MAX];   /* a bin's limits, 0 for none */
} pass_plan_t;

static void pass_plan(pass_plan_t *p)
{
    memset(p->n_in, 0, sizeof p->n_in);
    memset(p->at, 0, sizeof p->at);
    for (int f = 0; f < GS_N_FMT; f++) {
        gs_fmt_bounds_t b;
        gs_fmt_bounds(&gs_formats[f], &b);
        uint64_t lims[3] = {b.zero_max + 1, b.normal_from, b.overflow_from};
        for (int kind = 0; kind < 3; kind++) {
            int i = f * 3 + kind, k = bin_of_bits(lims[kind] - 1);
            assert(p->n_in[k] < EDGE_MAX);   /* no binade holds more limits of these formats */
            p->lim[i] = lims[kind];
            p->bin[i] = k;
            p->at[k][p->n_in[k]++] = lims[kind];
        }
    }
    for (int i = 0; i < N_LIMITS; i++) {
        p->rank[i] = 0;
        for (int j = 0; j < N_LIMITS; j++)
            p->rank[i] += p->bin[j] == p->bin[i] && p->lim[j] < p->lim[i];
    }
}

/* One pass's (or one thread's) tallies: sub[bin][s], the values of a bin
 * that reach s - (EDGE_MAX - its limits) of its limits */
typedef struct {
    long sub[GS_FMT_HIST_BINS][SUBS];
    long nonzero, nonfinite;
    uint64_t min_u, max_u;   /* the nonzero magnitudes' bits (UINT64_MAX, 0: none) */
} tally_t;

static void tally_clear(tally_t *t)
{
    memset(t, 0, sizeof *t);
    t->min_u = UINT64_MAX;
}

static void tally_range(tally_t *t, const pass_plan_t *p, const double *x, size_t n)
{
    long nonzero = 0, nonfinite = 0;
    uint64_t lo = t->min_u, hi = t->max_u;
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
        int k = bin_of_bits(u), s = 0;
        for (int j = 0; j < EDGE_MAX; j++)
            s += u >= p->at[k][j];
        t->sub[k][s]++;
    }
    t->nonzero += nonzero;
    t->nonfinite += nonfinite;
    t->min_u = lo;
    t->max_u = hi;
}

static void tally_merge(tally_t *t, const tally_t *o)
{
    for (int k = 0; k < GS_FMT_HIST_BINS; k++)
        for (int s = 0; s < SUBS; s++)
            t->sub[k][s] += o->sub[k][s];
    t->nonzero += o->nonzero;
    t->nonfinite += o->nonfinite;
    t->min_u = o->min_u < t->min_u ? o->min_u : t->min_u;
    t->max_u = o->max_u > t->max_u ? o->max_u : t->max_u;
}

/* c += the tallies of n values: under a limit = the bins under its bin
 * plus its bin's values that reach fewer of the bin's limits than it */
static void tally_into(gs_fmt_counts_t *c, const tally_t *t, const pass_plan_t *p, size_t n)
{
    long under[GS_FMT_HIST_BINS + 1];   /* under[k]: the values of bins < k */
    under[0] = 0;
    for (int k = 0; k < GS_FMT_HIST_BINS; k++) {
        long h = 0;
        for (int s = 0; s < SUBS; s++)
            h += t->sub[k][s];
        under[k + 1] = under[k] + h;
        c->hist[k] += h;
    }
    long below[N_LIMITS];
    for (int i = 0; i < N_LIMITS; i++) {
        int k = p->bin[i], unused = EDGE_MAX - p->n_in[k];
        below[i] = under[k];
        for (int s = 0; s <= unused + p->rank[i]; s++)
            below[i] += t->sub[k][s];
    }
    for (int f = 0; f < GS_N_FMT; f++) {
        long zero = below[f * 3], below_normal = below[f * 3 + 1], below_over = below[f * 3 + 2];
        c->zero[f] += zero;
        c->subnormal[f] += below_normal - zero;
        c->overflow[f] += t->nonzero - below_over;
    }
    uint64_t min_u = c->nonzero ? bits_of(c->min_abs) : UINT64_MAX;
    uint64_t max_u = c->nonzero ? bits_of(c->max_abs) : 0;
    c->n += (long)n;
    c->nonzero += t->nonzero;
    c->nonfinite += t->nonfinite;
    min_u = t->min_u < min_u ? t->min_u : min_u;
    max_u = t->max_u > max_u ? t->max_u : max_u;
    c->min_abs = c->nonzero ? double_of(min_u) : 0.0;
    c->max_abs = c->nonzero ? double_of(max_u) : 0.0;
}

void gs_fmt_count(gs_fmt_counts_t *c, const double *x, size_t n)
{
    pass_plan_t p;   /* 15 roundings and 10 kB: little against a tensor's pass */
    pass_plan(&p);
    tally_t t;       /* on the stack, as the threads' below: no allocation */
    tally_clear(&t);
    if (n < GS_PAR_MIN) {
        tally_range(&t, &p, x, n);
    } else {
#pragma omp parallel
        {
            tally_t part;
            tally_clear(&part);
#pragma omp for schedule(static)
            for (size_t i = 0; i < n; i += GS_PAR_MIN)
                tally_range(&part, &p, x + i, n - i < GS_PAR_MIN ? n - i : GS_PAR_MIN);
#pragma omp critical(gs_fmt_merge)
            tally_merge(&t, &part);   /* integer sums and extremes: any order */
        }
    }
    tally_into(c, &t, &p, n);
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
