#include <config.h>

#include "nn/format.h"

#include <assert.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

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
 * every count a format needs is the number of values under a limit. So
 * the magnitudes are cut into intervals of |x|'s bits, in increasing
 * order: zero; the histogram's bins (the first from the smallest
 * subnormal double, the last to the largest finite one), each split
 * again at the limits it holds; inf and NaN. A count under a limit is
 * then a sum of whole intervals, and the pass increments one counter a
 * value: its interval, which is its binade's first (a table indexed by
 * the double's biased exponent: the bins' clamping comes free) plus how
 * many of that binade's inner cuts it reaches - EDGE_MAX comparisons
 * without a branch, unused cuts UINT64_MAX, which nothing reaches (binade
 * 0 has one: 1, which sets zero apart from the subnormal doubles). */
#define N_LIMITS (3 * GS_N_FMT)
#define EDGE_MAX 2
#define N_IV_MAX (GS_FMT_HIST_BINS + N_LIMITS + 2)   /* zero, bins, their splits, non-finite */
#define N_ROWS_MAX (N_LIMITS + 2)                    /* binades with inner cuts, + none */
typedef struct {
    uint32_t of_exp[2048];          /* binade e: its first interval | its cuts' row << 16 */
    uint64_t cut[N_ROWS_MAX][EDGE_MAX];   /* a row of inner cuts, ascending; row 0: none */
    int n_iv;                       /* intervals; the last is the non-finite one */
    int16_t bin[N_IV_MAX];          /* an interval's histogram bin (nonzero finite ones) */
    int16_t under[N_LIMITS];        /* limit i's interval: the values under it are 1..under-1 */
} pass_plan_t;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void pass_plan_build(pass_plan_t *p)
{
    /* the intervals' first values: zero, the smallest subnormal double,
     * the bins' lower edges after the first, the limits, inf */
    uint64_t start[N_IV_MAX + 1], lims[N_LIMITS];
    int n = 0;
    start[n++] = 0;
    start[n++] = 1;
    for (int k = 1; k < GS_FMT_HIST_BINS; k++)
        start[n++] = (uint64_t)(1023 + gs_fmt_bin_exp(k)) << 52;
    for (int f = 0; f < GS_N_FMT; f++) {
        gs_fmt_bounds_t b;
        gs_fmt_bounds(&gs_formats[f], &b);
        lims[f * 3] = b.zero_max + 1;
        lims[f * 3 + 1] = b.normal_from;
        lims[f * 3 + 2] = b.overflow_from;
        for (int kind = 0; kind < 3; kind++)
            start[n++] = lims[f * 3 + kind];
    }
    start[n++] = EXP_ALL;
    qsort(start, (size_t)n, sizeof *start, cmp_u64);
    int m = 0;
    for (int i = 0; i < n; i++)   /* a limit on a bin's edge cuts nothing new */
        if (m == 0 || start[i] != start[m - 1])
            start[m++] = start[i];
    p->n_iv = m;
    assert(m <= N_IV_MAX);
    for (int i = 0; i < m; i++)
        p->bin[i] = (int16_t)(start[i] == 0 || start[i] >= EXP_ALL ? -1 : bin_of_bits(start[i]));
    for (int i = 0; i < N_LIMITS; i++) {
        int j = 0;
        while (start[j] != lims[i])
            j++;
        p->under[i] = (int16_t)j;
    }
    /* each binade [e 2^52, (e + 1) 2^52): the interval of its first value
     * and the cuts strictly inside it */
    int rows = 1;
    for (int j = 0; j < EDGE_MAX; j++)
        p->cut[0][j] = UINT64_MAX;
    int iv = 0;
    for (uint64_t e = 0; e < 2048; e++) {
        uint64_t lo = e << 52, hi = lo + (UINT64_C(1) << 52);
        while (iv + 1 < m && start[iv + 1] <= lo)
            iv++;
        uint64_t inner[EDGE_MAX];
        int k = 0;
        for (int i = iv + 1; i < m && start[i] < hi; i++) {
            assert(k < EDGE_MAX);   /* no binade holds more cuts of these formats */
            inner[k++] = start[i];
        }
        int row = 0;
        if (k) {
            assert(rows < N_ROWS_MAX);
            row = rows++;
            for (int j = 0; j < EDGE_MAX; j++)
                p->cut[row][j] = j < k ? inner[j] : UINT64_MAX;
        }
        p->of_exp[e] = (uint32_t)iv | (uint32_t)row << 16;
    }
}

/* Built once, on first use (gs_fmt_bounds' 15 roundings and the tables:
 * a few microseconds, more than counting a small tensor) */
static pass_plan_t plan_once;
static atomic_int plan_ready;

static const pass_plan_t *pass_plan(void)
{
    if (!atomic_load_explicit(&plan_ready, memory_order_acquire)) {
#pragma omp critical(gs_fmt_plan)
        if (!atomic_load_explicit(&plan_ready, memory_order_relaxed)) {
            pass_plan_build(&plan_once);
            atomic_store_explicit(&plan_ready, 1, memory_order_release);
        }
    }
    return &plan_once;
}

/* A thread's totals: the values of each interval, the extremes of the
 * nonzero finite magnitudes' bits (min kept as bits - 1, so that a zero,
 * 0 - 1 = UINT64_MAX, never wins) */
typedef struct {
    long iv[N_IV_MAX];
    uint64_t min_m1, max_u;
} tally_t;

static void tally_clear(tally_t *t)
{
    memset(t->iv, 0, sizeof t->iv);
    t->min_m1 = UINT64_MAX;
    t->max_u = 0;
}

/* Values a block counts into 32-bit counters (each of COPIES sees a
 * quarter of them) before they are added to the tally's longs */
#define COPIES 4
#define BLOCK ((size_t)1 << 31)

_Static_assert(EDGE_MAX == 2, "interval_of compares with two cuts");
static inline unsigned interval_of(const pass_plan_t *p, uint64_t a)
{
    uint32_t s = p->of_exp[a >> 52];
    const uint64_t *c = p->cut[s >> 16];
    return (s & 0xffff) + (a >= c[0]) + (a >= c[1]);
}

/* t += the n values of x. Consecutive values mostly fall in the same few
 * binades: incrementing one counter each would wait for the previous
 * increment of the same counter, so four copies take turns (COPIES). The
 * largest magnitude is taken over every value and again over the finite
 * ones only when some value was inf or NaN (rare: a diverging run). */
static void tally_range(tally_t *t, const pass_plan_t *p, const double *x, size_t n)
{
    uint32_t cnt[COPIES][N_IV_MAX];
    for (size_t done = 0; done < n;) {
        size_t m = n - done < BLOCK ? n - done : BLOCK, i = 0;
        const double *y = x + done;
        memset(cnt, 0, sizeof cnt);
        uint64_t lo = UINT64_MAX, hi = 0;
        for (; i + COPIES <= m; i += COPIES) {
#define COUNT_ONE(j)                                 \
            do {                                     \
                uint64_t a_;                         \
                memcpy(&a_, y + i + (j), sizeof a_); \
                a_ &= ABS_MASK;                      \
                cnt[j][interval_of(p, a_)]++;        \
                lo = a_ - 1 < lo ? a_ - 1 : lo;      \
                hi = a_ > hi ? a_ : hi;              \
            } while (0)
            COUNT_ONE(0);
            COUNT_ONE(1);
            COUNT_ONE(2);
            COUNT_ONE(3);
#undef COUNT_ONE
        }
        for (; i < m; i++) {
            uint64_t a;
            memcpy(&a, y + i, sizeof a);
            a &= ABS_MASK;
            cnt[0][interval_of(p, a)]++;
            lo = a - 1 < lo ? a - 1 : lo;
            hi = a > hi ? a : hi;
        }
        for (int k = 0; k < p->n_iv; k++)
            for (int j = 0; j < COPIES; j++)
                t->iv[k] += cnt[j][k];
        if (hi >= EXP_ALL) {   /* the finite ones' largest */
            hi = 0;
            for (i = 0; i < m; i++) {
                uint64_t a;
                memcpy(&a, y + i, sizeof a);
                a &= ABS_MASK;
                hi = a < EXP_ALL && a > hi ? a : hi;
            }
        }
        t->min_m1 = lo < t->min_m1 ? lo : t->min_m1;
        t->max_u = hi > t->max_u ? hi : t->max_u;
        done += m;
    }
}

static void tally_merge(tally_t *t, const tally_t *o, int n_iv)
{
    for (int k = 0; k < n_iv; k++)
        t->iv[k] += o->iv[k];
    t->min_m1 = o->min_m1 < t->min_m1 ? o->min_m1 : t->min_m1;
    t->max_u = o->max_u > t->max_u ? o->max_u : t->max_u;
}

/* c += the tally of n values: the histogram and, per limit, the nonzero
 * finite values under it (intervals 1 .. its own - 1) */
static void tally_into(gs_fmt_counts_t *c, const tally_t *t, const pass_plan_t *p, size_t n)
{
    int nf = p->n_iv - 1;
    long below[N_IV_MAX + 1];   /* below[k]: the nonzero finite values of intervals < k */
    below[0] = below[1] = 0;
    for (int k = 1; k < nf; k++) {
        below[k + 1] = below[k] + t->iv[k];
        c->hist[p->bin[k]] += t->iv[k];
    }
    long nonzero = below[nf];
    for (int f = 0; f < GS_N_FMT; f++) {
        long zero = below[p->under[f * 3]], below_normal = below[p->under[f * 3 + 1]];
        c->zero[f] += zero;
        c->subnormal[f] += below_normal - zero;
        c->overflow[f] += nonzero - below[p->under[f * 3 + 2]];
    }
    uint64_t min_u = c->nonzero ? bits_of(c->min_abs) : UINT64_MAX;
    uint64_t max_u = c->nonzero ? bits_of(c->max_abs) : 0;
    c->n += (long)n;
    c->nonzero += nonzero;
    c->nonfinite += t->iv[nf];
    if (nonzero) {
        min_u = t->min_m1 + 1 < min_u ? t->min_m1 + 1 : min_u;
        max_u = t->max_u > max_u ? t->max_u : max_u;
    }
    c->min_abs = c->nonzero ? double_of(min_u) : 0.0;
    c->max_abs = c->nonzero ? double_of(max_u) : 0.0;
}

void gs_fmt_count(gs_fmt_counts_t *c, const double *x, size_t n)
{
    const pass_plan_t *p = pass_plan();
    tally_t t;   /* on the stack, as the threads' below: no allocation */
    tally_clear(&t);
    if (n < GS_PAR_MIN) {
        tally_range(&t, p, x, n);
    } else {
#pragma omp parallel
        {
            /* a contiguous share per thread: the counts are integer sums,
             * the same for any split */
            size_t nt = 1, id = 0;
#ifdef _OPENMP
            nt = (size_t)omp_get_num_threads();
            id = (size_t)omp_get_thread_num();
#endif
            size_t b = n / nt * id + (id < n % nt ? id : n % nt);
            size_t len = n / nt + (id < n % nt);
            tally_t part;
            tally_clear(&part);
            tally_range(&part, p, x + b, len);
#pragma omp critical(gs_fmt_merge)
            tally_merge(&t, &part, p->n_iv);   /* integer sums and extremes: any order */
        }
    }
    tally_into(c, &t, p, n);
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
