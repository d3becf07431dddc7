/* The number formats (nn/format.h): the table's facts, gs_fmt_round at
 * every edge the issue names (closed forms, bit-exact), against the
 * hardware's float for float32 and against MPFR (mpfr_subnormalize with
 * each format's precision and exponent range; skipped where libmpfr-dev
 * is missing) for all five formats on 2.5 million values spanning
 * 2^-40..2^20 plus constructed ties; the counting pass against
 * gs_fmt_round value by value (zero, subnormal, overflow, the histogram
 * against frexp, the magnitudes), the same counts for any OpenMP split
 * and in pieces; and the loss-scale window on hand-computed cases and
 * against brute force (round x 2^k for every k near the window's ends). */
#include <config.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef HAVE_MPFR
#include <mpfr.h>
#endif

#include "nn/format.h"
#include "nn/rng.h"
#include "tap.h"

static const gs_fmt_t *F(gs_fmt_id_t id)
{
    return &gs_formats[id];
}

/* bit-exact equality, NaN equal to NaN, -0 apart from +0 */
static int same(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static int rounds_to(gs_fmt_id_t id, double x, double want, int saturate)
{
    double got = gs_fmt_round(F(id), x, saturate);
    return tap_ok(same(got, want), "%s%s: %a -> %a (want %a)", gs_fmt_names[id],
                  saturate ? " saturating" : "", x, got, want);
}

static void table_facts(void)
{
    for (int i = 0; i < GS_N_FMT; i++) {
        const gs_fmt_t *f = F(i);
        int emin = 1 - f->bias;
        double max = i == GS_FMT_E4M3 ? 448.0 : (2.0 - ldexp(1.0, -f->man_bits)) * ldexp(1.0, f->emax);
        tap_ok(f->min_normal == ldexp(1.0, emin) && f->min_subnormal == ldexp(1.0, emin - f->man_bits) &&
                   f->max_finite == max && 1 + f->exp_bits + f->man_bits == (i == 0 ? 32 : i < 3 ? 16 : 8),
               "%s: the table's range follows from its bits (max %g)", f->name, f->max_finite);
        tap_ok(gs_fmt_find(f->name) == i, "%s found by its name", f->name);
    }
    tap_ok(gs_fmt_find("float8") == -1 && gs_fmt_find(NULL) == -1, "unknown names are -1");
}

static void edges(void)
{
    /* float16: smallest subnormal 2^-24; below half of it 0; the tie 2^-25
     * goes to the even 0; the next double up to 2^-24 */
    rounds_to(GS_FMT_FLOAT16, 0x1p-24, 0x1p-24, 0);
    rounds_to(GS_FMT_FLOAT16, 0x1p-25, 0.0, 0);
    rounds_to(GS_FMT_FLOAT16, nextafter(0x1p-25, 1), 0x1p-24, 0);
    rounds_to(GS_FMT_FLOAT16, nextafter(0x1p-25, 0), 0.0, 0);
    rounds_to(GS_FMT_FLOAT16, -0x1p-26, -0.0, 0);
    rounds_to(GS_FMT_FLOAT16, 3 * 0x1p-25, 0x1p-23, 0);   /* tie 1.5 quanta -> 2 (even) */
    rounds_to(GS_FMT_FLOAT16, 65504, 65504, 0);
    rounds_to(GS_FMT_FLOAT16, 65519, 65504, 0);
    rounds_to(GS_FMT_FLOAT16, nextafter(65520, 0), 65504, 0);
    rounds_to(GS_FMT_FLOAT16, 65520, INFINITY, 0);
    rounds_to(GS_FMT_FLOAT16, -65520, -INFINITY, 0);
    rounds_to(GS_FMT_FLOAT16, 65520, 65504, 1);
    rounds_to(GS_FMT_FLOAT16, 0x1p-14 - 0x1p-25, 0x1p-14, 0);   /* the tie below min normal: even */
    /* rounding once: fp64 -> fp32 -> fp16 would give 1.0 */
    rounds_to(GS_FMT_FLOAT16, 1 + 0x1p-11 + 0x1p-40, 1 + 0x1p-10, 0);
    rounds_to(GS_FMT_FLOAT16, 1 + 0x1p-11, 1.0, 0);
    /* bfloat16: 8 significand bits; ties to even */
    rounds_to(GS_FMT_BFLOAT16, 1 + 0x1p-8, 1.0, 0);
    rounds_to(GS_FMT_BFLOAT16, 1 + 3 * 0x1p-8, 1 + 0x1p-6, 0);
    rounds_to(GS_FMT_BFLOAT16, 1 + 0x1p-8 + 0x1p-40, 1 + 0x1p-7, 0);
    rounds_to(GS_FMT_BFLOAT16, 0x1p-133, 0x1p-133, 0);
    rounds_to(GS_FMT_BFLOAT16, 0x1p-134, 0.0, 0);
    rounds_to(GS_FMT_BFLOAT16, 0x1.ffp127, INFINITY, 0);   /* the tie above max: even = 2^128 */
    rounds_to(GS_FMT_BFLOAT16, nextafter(0x1.ffp127, 0), 0x1.fep127, 0);
    /* e4m3: max 448, no infinity; 464 is the tie between 448 (even) and
     * 480 (odd, and NaN's code) */
    rounds_to(GS_FMT_E4M3, 448, 448, 0);
    rounds_to(GS_FMT_E4M3, 464, 448, 0);
    rounds_to(GS_FMT_E4M3, 465, NAN, 0);
    rounds_to(GS_FMT_E4M3, 465, 448, 1);
    rounds_to(GS_FMT_E4M3, -1e6, -448, 1);
    rounds_to(GS_FMT_E4M3, INFINITY, NAN, 0);
    rounds_to(GS_FMT_E4M3, 0x1p-9, 0x1p-9, 0);
    rounds_to(GS_FMT_E4M3, 0x1p-10, 0.0, 0);
    rounds_to(GS_FMT_E4M3, nextafter(0x1p-10, 1), 0x1p-9, 0);
    /* e5m2: max 57344, smallest subnormal 2^-16, IEEE overflow */
    rounds_to(GS_FMT_E5M2, 57344, 57344, 0);
    rounds_to(GS_FMT_E5M2, 61440, INFINITY, 0);
    rounds_to(GS_FMT_E5M2, nextafter(61440, 0), 57344, 0);
    rounds_to(GS_FMT_E5M2, 7e-6, 0.0, 0);
    rounds_to(GS_FMT_E5M2, 1.5e-5, 0x1p-16, 0);
    rounds_to(GS_FMT_E5M2, 0x1p-16, 0x1p-16, 0);
    /* float32 */
    rounds_to(GS_FMT_FLOAT32, 0x1p-149, 0x1p-149, 0);
    rounds_to(GS_FMT_FLOAT32, 0x1p-150, 0.0, 0);
    rounds_to(GS_FMT_FLOAT32, 0x1.fffffefp127, 0x1.fffffep127, 0);
    rounds_to(GS_FMT_FLOAT32, 0x1.ffffffp127, INFINITY, 0);
    /* zero, NaN and signs pass through */
    rounds_to(GS_FMT_FLOAT16, -0.0, -0.0, 0);
    rounds_to(GS_FMT_FLOAT16, NAN, NAN, 0);
    rounds_to(GS_FMT_E5M2, -1.75, -1.75, 0);
}

/* A random double whose magnitude is log-uniform over 2^lo..2^hi, with a
 * random sign; one in eight is a tie of format f (an odd number of half
 * quanta at a random exponent of the range), which random doubles would
 * almost never hit. */
static double draw(gs_rng_t *r, const gs_fmt_t *f, int lo, int hi)
{
    double sign = gs_rng_u64(r) & 1 ? -1.0 : 1.0;
    int e = lo + (int)gs_rng_below(r, (size_t)(hi - lo));
    if (gs_rng_below(r, 8) == 0) {
        int emin = 1 - f->bias, qe = (e < emin ? emin : e) - f->man_bits;
        /* an odd multiple of half a quantum below 2^(e+1) */
        double m = (double)(2 * gs_rng_below(r, (size_t)1 << (f->man_bits + 1)) + 1);
        double x = ldexp(m, qe - 1);
        return sign * (x < ldexp(1.0, e + 1) ? x : ldexp(1.0, e));
    }
    return sign * ldexp(1.0 + gs_rng_uniform(r), e);
}

/* float32 against the hardware's conversion (double -> float rounds to
 * nearest-even with subnormals), once, directly */
static void against_float(void)
{
    gs_rng_t r;
    gs_rng_seed(&r, 1, 0);
    long bad = 0, n = 500000;
    double first = 0;
    for (long i = 0; i < n; i++) {
        double x = draw(&r, F(GS_FMT_FLOAT32), -155, 130);
        volatile float v = (float)x;
        if (!same(gs_fmt_round(F(GS_FMT_FLOAT32), x, 0), (double)v) && bad++ == 0)
            first = x;
    }
    tap_ok(bad == 0, "float32: %ld values over 2^-155..2^130 agree with (float) bit for bit "
           "(%ld differ; first %a)", n, bad, first);
}

#ifdef HAVE_MPFR
/* x rounded to f by MPFR: precision man_bits + 1, exponents such that
 * the smallest subnormal is MPFR's smallest number (MPFR's significand
 * is in [1/2, 1): emin = emin_f - man_bits + 1, emax = emax_f + 1),
 * mpfr_subnormalize for gradual underflow. E4M3's top binade ends at 448,
 * not 480: past that, NaN. */
static double reference_round(const gs_fmt_t *f, double x)
{
    mpfr_t v;
    mpfr_init2(v, f->man_bits + 1);
    mpfr_set_emin(1 - f->bias - f->man_bits + 1);
    mpfr_set_emax(f->emax + 1);
    int t = mpfr_set_d(v, x, MPFR_RNDN);
    t = mpfr_check_range(v, t, MPFR_RNDN);
    mpfr_subnormalize(v, t, MPFR_RNDN);
    double y = mpfr_get_d(v, MPFR_RNDN);
    mpfr_clear(v);
    mpfr_set_emin(mpfr_get_emin_min());
    mpfr_set_emax(mpfr_get_emax_max());
    if (f->overflow == GS_FMT_OVERFLOW_NAN && fabs(y) > f->max_finite)
        return NAN;
    return y;
}

static void against_mpfr(void)
{
    gs_rng_t r;
    gs_rng_seed(&r, 2, 0);
    for (int i = 0; i < GS_N_FMT; i++) {
        const gs_fmt_t *f = F(i);
        long bad = 0, n = 500000;
        double first = 0;
        for (long j = 0; j < n; j++) {
            /* half over the 2^-40..2^20, half over the format's
             * whole range and past it */
            double x = j % 2 ? draw(&r, f, -40, 20)
                             : draw(&r, f, ilogb(f->min_subnormal) - 3, f->emax + 3);
            if (!same(gs_fmt_round(f, x, 0), reference_round(f, x)) && bad++ == 0)
                first = x;
        }
        tap_ok(bad == 0, "%s: %ld values over 2^-40..2^20 and its whole range (1 in 8 a tie) agree with MPFR bit "
               "for bit (%ld differ; first %a)", f->name, n, bad, first);
    }
}
#endif

/* The pass's counts against gs_fmt_round value by value. */
static int counts_agree(const double *x, size_t n, const gs_fmt_counts_t *c)
{
    gs_fmt_counts_t w;
    gs_fmt_counts_clear(&w);
    double min = INFINITY, max = 0;
    for (size_t i = 0; i < n; i++) {
        w.n++;
        if (!isfinite(x[i])) {
            w.nonfinite++;
            continue;
        }
        if (x[i] == 0)
            continue;
        w.nonzero++;
        double a = fabs(x[i]);
        min = fmin(min, a);
        max = fmax(max, a);
        int e;
        frexp(a, &e);   /* a = m 2^e, m in [1/2, 1) */
        w.hist[gs_fmt_bin(e - 1)]++;
        for (int f = 0; f < GS_N_FMT; f++) {
            double y = fabs(gs_fmt_round(F(f), x[i], 0));
            w.zero[f] += y == 0;
            w.subnormal[f] += y > 0 && y < F(f)->min_normal;
            w.overflow[f] += !isfinite(y);
        }
    }
    w.min_abs = w.nonzero ? min : 0;
    w.max_abs = w.nonzero ? max : 0;
    return memcmp(&w, c, sizeof w) == 0;
}

static void counting(void)
{
    gs_rng_t r;
    gs_rng_seed(&r, 3, 0);
    size_t n = 200000;
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = draw(&r, F(i % GS_N_FMT), -170, 140);
    /* every format's boundaries and their neighbours, zeros, non-finite */
    size_t k = 0;
    for (int f = 0; f < GS_N_FMT; f++) {
        gs_fmt_bounds_t b;
        gs_fmt_bounds(F(f), &b);
        uint64_t at[] = {b.zero_max, b.normal_from, b.overflow_from};
        for (int j = 0; j < 3; j++)
            for (int d = -1; d <= 1; d++) {
                uint64_t u = at[j] + (uint64_t)(int64_t)d;
                memcpy(&x[k], &u, sizeof u);
                x[k + 1] = -x[k];
                k += 2;
            }
    }
    x[k++] = 0.0;
    x[k++] = -0.0;
    x[k++] = INFINITY;
    x[k++] = NAN;
    x[k++] = 4.9e-324;   /* a subnormal double */
    gs_fmt_counts_t c;
    gs_fmt_counts_clear(&c);
    gs_fmt_count(&c, x, n);
    tap_ok(counts_agree(x, n, &c), "the pass's counts, histogram and magnitudes agree with "
           "rounding each of %zu values (boundaries +-1 ulp included)", n);
    tap_ok(c.nonfinite == 2 && c.n == (long)n && c.min_abs == 4.9e-324,
           "non-finite values counted apart (%ld), min |x| the subnormal double", c.nonfinite);
    /* the same counts for any split: in pieces, and on 1 and 3 threads */
    gs_fmt_counts_t p;
    gs_fmt_counts_clear(&p);
    gs_fmt_count(&p, x, 7);
    gs_fmt_count(&p, x + 7, 100000 - 7);
    gs_fmt_count(&p, x + 100000, n - 100000);
    tap_ok(memcmp(&p, &c, sizeof c) == 0, "counting in three pieces gives the same counts");
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    gs_fmt_counts_t t1, t3;
    omp_set_num_threads(1);
    gs_fmt_counts_clear(&t1);
    gs_fmt_count(&t1, x, n);
    omp_set_num_threads(3);
    gs_fmt_counts_clear(&t3);
    gs_fmt_count(&t3, x, n);
    omp_set_num_threads(threads);
    tap_ok(memcmp(&t1, &c, sizeof c) == 0 && memcmp(&t3, &c, sizeof c) == 0,
           "the same counts on 1 and 3 threads");
#else
    tap_ok(1, "# SKIP no OpenMP");
#endif
    gs_fmt_counts_clear(&c);
    gs_fmt_count(&c, x, 0);
    tap_ok(c.n == 0 && c.nonzero == 0 && c.max_abs == 0 && c.min_abs == 0, "an empty tensor counts nothing");
    free(x);
}

/* Every edge of every format, written from the table (not from
 * gs_fmt_bounds, which the pass is built on): half the smallest
 * subnormal (a tie that goes to 0), the smallest subnormal, the tie just
 * under the smallest normal, the smallest normal, the largest finite
 * value, the tie above it (inf, or 448 for e4m3), each with its two
 * neighbour doubles and its power-of-two binade edges; both signs. */
static size_t edge_values(double *x)
{
    size_t k = 0;
    for (int f = 0; f < GS_N_FMT; f++) {
        const gs_fmt_t *t = F(f);
        double half = t->min_subnormal / 2, ulp_top = ldexp(1.0, t->emax - t->man_bits);
        double at[] = {half, t->min_subnormal, t->min_normal - half, t->min_normal, t->max_finite,
                       t->max_finite + ulp_top / 2, t->max_finite + ulp_top};
        for (size_t j = 0; j < sizeof at / sizeof *at; j++) {
            int e;
            frexp(at[j], &e);
            double near[] = {at[j], nextafter(at[j], 0), nextafter(at[j], INFINITY), ldexp(0.5, e),
                             nextafter(ldexp(0.5, e), 0), ldexp(1.0, e)};
            for (size_t i = 0; i < sizeof near / sizeof *near; i++) {
                x[k++] = near[i];
                x[k++] = -near[i];
            }
        }
    }
    double other[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, -NAN, 4.9e-324, DBL_MIN,
                      nextafter(DBL_MIN, 0), DBL_MAX, 0x1p-160, nextafter(0x1p-160, 0), 0x1p130,
                      nextafter(0x1p130, 0), 0x1p131};
    for (size_t i = 0; i < sizeof other / sizeof *other; i++)
        x[k++] = other[i];
    return k;
}

/* The pass against value-by-value rounding on tensors shaped like the
 * ones a run counts (clusters of a few binades at random scales, of
 * every size around the pass's unrolling by 4 and its OpenMP threshold)
 * with every edge of every format scattered in at random places; and
 * tensors whose largest magnitude is inf or NaN (the largest finite one
 * must still be found) or that hold no finite nonzero value. */
static void counting_edges(void)
{
    gs_rng_t r;
    gs_rng_seed(&r, 9, 0);
    double edges[512];
    size_t n_edges = edge_values(edges);
    size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 63, 1000, 4097, 16383, 16384, 16385, 40001};
    size_t n_sizes = sizeof sizes / sizeof *sizes;
    double *x = malloc(40001 * sizeof *x);
    int bad = 0, trials = 0;
    for (int trial = 0; trial < 60; trial++) {
        size_t n = sizes[trial % n_sizes];
        double scale = exp2(-160.0 + 300.0 * gs_rng_uniform(&r)), spread = 1 + 4 * gs_rng_uniform(&r);
        for (size_t i = 0; i < n; i++) {
            double v = scale * exp2(spread * gs_rng_normal(&r));
            x[i] = gs_rng_u64(&r) & 1 ? -v : v;
            if (gs_rng_below(&r, 16) == 0)   /* ~6% edges */
                x[i] = edges[gs_rng_below(&r, n_edges)];
        }
        if (trial % 4 == 0 && n >= n_edges)   /* every edge, somewhere */
            for (size_t j = 0; j < n_edges; j++)
                x[gs_rng_below(&r, n - n_edges + 1) + j] = edges[j];
        gs_fmt_counts_t c;
        gs_fmt_counts_clear(&c);
        gs_fmt_count(&c, x, n);
        trials++;
        if (!counts_agree(x, n, &c) && bad++ == 0)
            tap_diag("trial %d (n %zu, scale %a): counts differ from rounding each value", trial, n, scale);
    }
    tap_ok(bad == 0, "the pass agrees with rounding each value in every format on %d tensors of "
           "1..40001 values with every format's edges, +-0, inf, NaN and subnormal doubles (%d differ)",
           trials, bad);
    /* the largest value inf or NaN: max_abs is the finite one's */
    for (size_t i = 0; i < 20000; i++)
        x[i] = (double)(i % 97) * 0x1p-20;
    x[19999] = INFINITY;
    x[5] = NAN;
    x[6] = -INFINITY;
    gs_fmt_counts_t c;
    gs_fmt_counts_clear(&c);
    gs_fmt_count(&c, x, 20000);
    tap_ok(counts_agree(x, 20000, &c) && c.max_abs == 96 * 0x1p-20 && c.min_abs == 0x1p-20 &&
               c.nonfinite == 3, "with inf and NaN among them the extremes are the finite values' "
           "(max %a, min %a, %ld non-finite)", c.max_abs, c.min_abs, c.nonfinite);
    double none[] = {0.0, -0.0, INFINITY, NAN, -0.0};
    gs_fmt_counts_clear(&c);
    gs_fmt_count(&c, none, 5);
    tap_ok(counts_agree(none, 5, &c) && c.nonzero == 0 && c.nonfinite == 2 && c.max_abs == 0 &&
               c.min_abs == 0, "zeros and non-finite values only: nothing nonzero, extremes 0");
    free(x);
}

/* The lost values and overflows of x scaled by 2^k, by rounding each */
static void scaled(const gs_fmt_t *f, const double *x, size_t n, int k, long *lost, long *over)
{
    *lost = *over = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i] == 0)
            continue;
        double y = gs_fmt_round(f, ldexp(x[i], k), 0);
        *lost += y == 0;
        *over += !isfinite(y);
    }
}

static void scale_window(void)
{
    /* by hand: 1998 values 1.5 2^-20, one 1.5 2^-40, one 12 (= 1.5 2^3);
     * float16 (smallest subnormal 2^-24): 1.5 2^-20 2^k survives while
     * 1.5 2^(k-20) > 2^-25, k >= -5 (2^-6 gives 1.5 2^-26 -> 0); the one
     * 1.5 2^-40 is within 0.1% of 2000 (2 values); 12 2^k < 65520 up to k = 12 */
    double x[2000];
    for (int i = 0; i < 2000; i++)
        x[i] = 1.5 * 0x1p-20;
    x[0] = 1.5 * 0x1p-40;
    x[1] = 12.0;
    gs_fmt_counts_t c;
    gs_fmt_counts_clear(&c);
    gs_fmt_count(&c, x, 2000);
    int lo, hi, rc = gs_fmt_scale_window(F(GS_FMT_FLOAT16), &c, GS_FMT_SCALE_MAX_LOST, &lo, &hi);
    tap_ok(rc == 0 && lo == -5 && hi == 12, "float16 window by hand: [2^%d, 2^%d] (want [2^-5, 2^12])", lo, hi);
    /* bfloat16: smallest subnormal 2^-133, so 1.5 2^-20 survives down to
     * k = -5 - 109 = -114; 12 2^k = 1.5 2^(k+3) finite up to k = 124 */
    rc = gs_fmt_scale_window(F(GS_FMT_BFLOAT16), &c, GS_FMT_SCALE_MAX_LOST, &lo, &hi);
    tap_ok(rc == 0 && lo == -114 && hi == 124, "bfloat16 window by hand: [2^%d, 2^%d] (want [2^-114, 2^124])",
           lo, hi);
    /* empty: half 1.5 2^-40, half 1.5 2^10 in float16: keeping the small
     * ones needs k >= 15, the large ones overflow from k = 6 */
    for (int i = 0; i < 2000; i++)
        x[i] = i % 2 ? 1.5 * 0x1p-40 : 1.5 * 0x1p10;
    gs_fmt_counts_clear(&c);
    gs_fmt_count(&c, x, 2000);
    rc = gs_fmt_scale_window(F(GS_FMT_FLOAT16), &c, GS_FMT_SCALE_MAX_LOST, &lo, &hi);
    tap_ok(rc == 0 && lo == 15 && hi == 5, "float16: no single loss scale saves 2^-40 and 2^10 together "
               "(lo %d > hi %d; want 15 > 5)", lo, hi);
    double zeros[3] = {0, 0, 0};
    gs_fmt_counts_clear(&c);
    gs_fmt_count(&c, zeros, 3);
    tap_ok(gs_fmt_scale_window(F(GS_FMT_FLOAT16), &c, GS_FMT_SCALE_MAX_LOST, &lo, &hi) == -1,
           "no window for a gradient of zeros");
    /* brute force on random gradients of every format: at lo at most 0.1%
     * lost and one step lower more; at hi no overflow, one step higher one */
    gs_rng_t r;
    gs_rng_seed(&r, 4, 0);
    size_t n = 5000;
    double *g = malloc(n * sizeof *g);
    int bad = 0;
    for (int trial = 0; trial < 20; trial++) {
        double spread = 1 + trial;   /* log-normal magnitudes, wider and wider */
        double centre = -30 + 3 * trial;
        for (size_t i = 0; i < n; i++)
            g[i] = (gs_rng_u64(&r) & 1 ? -1 : 1) * exp2(centre + spread * gs_rng_normal(&r));
        gs_fmt_counts_clear(&c);
        gs_fmt_count(&c, g, n);
        for (int f = 0; f < GS_N_FMT; f++) {
            long lost, over, lost1, over1;
            gs_fmt_scale_window(F(f), &c, GS_FMT_SCALE_MAX_LOST, &lo, &hi);
            scaled(F(f), g, n, lo, &lost, &over1);
            scaled(F(f), g, n, lo - 1, &lost1, &over1);
            int lo_ok = lost <= GS_FMT_SCALE_MAX_LOST * n && lost1 > GS_FMT_SCALE_MAX_LOST * n;
            scaled(F(f), g, n, hi, &lost, &over);
            scaled(F(f), g, n, hi + 1, &lost1, &over1);
            int hi_ok = over == 0 && over1 > 0;
            if (!lo_ok || !hi_ok) {
                if (bad++ == 0)
                    tap_diag("trial %d %s: window [%d, %d] lo_ok %d hi_ok %d", trial,
                             F(f)->name, lo, hi, lo_ok, hi_ok);
            }
        }
    }
    tap_ok(bad == 0, "the window's ends agree with rounding every value at 2^lo, 2^(lo-1), "
           "2^hi, 2^(hi+1) (20 gradients x 5 formats; %d differ)", bad);
    free(g);
}

/* Stochastic rounding, value by value: exact values stay, an inexact one
 * goes to one of its two neighbours (up for the draw 0, down for the
 * largest), up as often as its fraction says (a binomial count within 5
 * sigma), through the subnormals and into overflow as gs_fmt_round. */
static void stochastic(void)
{
    const uint64_t up = 0, down = UINT64_MAX;
    const gs_fmt_t *bf = F(GS_FMT_BFLOAT16), *h = F(GS_FMT_FLOAT16), *e4 = F(GS_FMT_E4M3);
    double x = 1.0 + 0.3 * 0x1p-7;
    tap_ok(gs_fmt_round_stochastic(bf, 1.5, 0, up) == 1.5 && gs_fmt_round_stochastic(bf, 1.5, 0, down) == 1.5 &&
               gs_fmt_round_stochastic(h, 0x1p-24, 0, up) == 0x1p-24,
           "stochastic: values the format holds stay, whatever the draw");
    tap_ok(gs_fmt_round_stochastic(bf, x, 0, up) == 1.0 + 0x1p-7 && gs_fmt_round_stochastic(bf, x, 0, down) == 1.0 &&
               gs_fmt_round_stochastic(bf, -x, 0, up) == -1.0 - 0x1p-7 &&
               same(gs_fmt_round_stochastic(bf, -0.0, 0, up), -0.0),
           "stochastic bfloat16: 1 + 0.3 ulp goes up for the draw 0, down for the largest, by magnitude when negative");
    tap_ok(gs_fmt_round_stochastic(h, 0x1p-26, 0, up) == 0x1p-24 && gs_fmt_round_stochastic(h, 0x1p-26, 0, down) == 0.0,
           "stochastic float16: 2^-26 goes to 2^-24 or 0");
    tap_ok(isinf(gs_fmt_round_stochastic(h, 65504.5, 0, up)) && gs_fmt_round_stochastic(h, 65504.5, 0, down) == 65504.0 &&
               gs_fmt_round_stochastic(h, 65504.5, 1, up) == 65504.0,
           "stochastic float16: 65504.5 goes to 65504 or inf (65504 saturating)");
    tap_ok(isnan(gs_fmt_round_stochastic(e4, 449.0, 0, up)) && gs_fmt_round_stochastic(e4, 449.0, 1, up) == 448.0 &&
               isnan(gs_fmt_round_stochastic(e4, NAN, 0, up)),
           "stochastic e4m3: 449 goes to NaN (448 saturating), NaN stays NaN");
    struct { const gs_fmt_t *f; double x, lo, hi, p; } cases[] = {
        {bf, x, 1.0, 1.0 + 0x1p-7, 0.3},
        {h, 0x1p-26, 0.0, 0x1p-24, 0.25},
        {h, -3.0 * 0x1p-27, -0.0, -0x1p-24, 0.375},
        {F(GS_FMT_E5M2), 1000.0, 896.0, 1024.0, 0.8125},
    };
    gs_rng_t r;
    gs_rng_seed(&r, 20, 1);
    const long N = 200000;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        long n_hi = 0, other = 0;
        for (long i = 0; i < N; i++) {
            double y = gs_fmt_round_stochastic(cases[c].f, cases[c].x, 0, gs_rng_u64(&r));
            n_hi += y == cases[c].hi;
            other += y != cases[c].hi && y != cases[c].lo;
        }
        double p = cases[c].p, sd = sqrt(p * (1 - p) / (double)N);
        tap_ok(other == 0 && fabs((double)n_hi / (double)N - p) < 5 * sd,
               "stochastic %s %a: up %.4f of %ld draws (want %.4f +- 5 sd = %.4f), %ld elsewhere",
               cases[c].f->name, cases[c].x, (double)n_hi / (double)N, N, p, 5 * sd, other);
    }
}

/* w = 1 plus 0.001 a thousand times, each sum rounded to the format */
static double accumulate(const gs_fmt_t *f, gs_rng_t *r)
{
    double w = 1.0;
    for (int i = 0; i < 1000; i++)
        w = r ? gs_fmt_round_stochastic(f, w + 0.001, 0, gs_rng_u64(r)) : gs_fmt_round(f, w + 0.001, 0);
    return w;
}

/* The lost updates. Nearest: in bfloat16 half an ulp of 1 is
 * 2^-8 > 0.001, so every update is lost and w stays 1; in float16 each
 * rounds up to 2^-10 and w ends at 1 + 1000 2^-10 = 1.9765625.
 * Stochastic: the sum is unbiased, E[w] = 2. Each step adds a rounding
 * error of variance q^2 p (1 - p), q the quantum and p = frac(0.001/q):
 * bfloat16, q = 2^-7 below 2 and 2^-6 above, at most 1.5e-5 a step, so
 * Var w <= 1000 * 1.5e-5 = 0.015 (sd 0.12) and the mean of 64 runs has
 * sd <= 0.015: we allow 4 sd, 0.06. float16 (q = 2^-10, 2^-9): sd of the
 * mean <= 0.002, allowed 0.008. */
static void lost_updates(void)
{
    tap_ok(accumulate(F(GS_FMT_BFLOAT16), NULL) == 1.0, "bfloat16 nearest: 1 + 1000 x 0.001 stays 1.0 (every update lost)");
    tap_ok(accumulate(F(GS_FMT_FLOAT16), NULL) == 1.9765625,
           "float16 nearest: 1 + 1000 x 0.001 ends at 1.9765625 (%.7f)", accumulate(F(GS_FMT_FLOAT16), NULL));
    tap_ok(accumulate(F(GS_FMT_FLOAT32), NULL) != 2.0 && fabs(accumulate(F(GS_FMT_FLOAT32), NULL) - 2.0) < 1e-4,
           "float32 nearest: within 1e-4 of 2 (%.9f)", accumulate(F(GS_FMT_FLOAT32), NULL));
    struct { gs_fmt_id_t id; double tol; } sr[] = {{GS_FMT_BFLOAT16, 0.06}, {GS_FMT_FLOAT16, 0.008}};
    for (int k = 0; k < 2; k++) {
        const gs_fmt_t *f = F(sr[k].id);
        double sum = 0, sq = 0;
        int on_grid = 1;
        for (int run = 0; run < 64; run++) {
            gs_rng_t r;
            gs_rng_seed(&r, 1000 + (uint64_t)run, 7);
            double w = accumulate(f, &r);
            on_grid &= gs_fmt_round(f, w, 0) == w;
            sum += w;
            sq += w * w;
        }
        double mean = sum / 64, sd = sqrt(sq / 64 - mean * mean);
        tap_ok(on_grid && fabs(mean - 2.0) < sr[k].tol,
               "%s stochastic: 1 + 1000 x 0.001 averages %.4f over 64 runs (sd of a run %.4f; want 2 +- %.3f)",
               f->name, mean, sd, sr[k].tol);
    }
    gs_rng_t a, b;
    gs_rng_seed(&a, 5, 7);
    gs_rng_seed(&b, 5, 7);
    tap_ok(accumulate(F(GS_FMT_BFLOAT16), &a) == accumulate(F(GS_FMT_BFLOAT16), &b),
           "stochastic rounding is deterministic: the same stream gives the same sum");
}

int main(void)
{
    table_facts();
    edges();
    against_float();
#ifdef HAVE_MPFR
    against_mpfr();
#else
    tap_ok(1, "# SKIP MPFR missing (apt-get install libmpfr-dev): the MPFR reference is not run");
#endif
    counting();
    counting_edges();
    scale_window();
    stochastic();
    lost_updates();
    return tap_done();
}
