/* Number formats narrower than double, and what they would do to a
 * tensor: the truth of low precision per layer (issue 20).
 *
 * A format is a row of gs_formats[] (one table: bits, bias, range, what
 * happens past its largest finite value). Every format here is binary
 * floating point with a hidden bit, gradual underflow (subnormals) and
 * round-to-nearest-even:
 *   normal     (1 + m 2^-man_bits) 2^e,  emin <= e <= emax
 *   subnormal  m 2^(emin - man_bits),     0 < m < 2^man_bits
 * so min_normal = 2^emin, min_subnormal = 2^(emin - man_bits) and
 * max_finite = (2 - 2^-man_bits) 2^emax, except E4M3, whose top binade
 * gives its all-ones mantissa to NaN: max 1.75 2^8 = 448 (Micikevicius et
 * al. 2022, "FP8 Formats for Deep Learning").
 *
 * gs_fmt_round rounds a double to the format directly (never through
 * float: fp64 -> fp32 -> fp16 rounds twice). gs_fmt_count classifies
 * every value of a tensor and builds its log2-exponent histogram in one
 * pass over the bits - no log2(), no allocation, integer counts (the same
 * for any OpenMP split). */
#ifndef GS_NN_FORMAT_H
#define GS_NN_FORMAT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    GS_FMT_FLOAT32, GS_FMT_BFLOAT16, GS_FMT_FLOAT16, GS_FMT_E5M2, GS_FMT_E4M3
} gs_fmt_id_t;
#define GS_N_FMT 5

/* What a value past the largest finite one becomes */
typedef enum {
    GS_FMT_OVERFLOW_INF,   /* IEEE: +-inf */
    GS_FMT_OVERFLOW_NAN    /* no infinity (E4M3): NaN, or max_finite when saturating */
} gs_fmt_overflow_t;

typedef struct {
    const char *name;       /* the database's and the config's spelling */
    int exp_bits, man_bits; /* stored exponent and mantissa (fraction) bits */
    int bias;               /* exponent bias: emin = 1 - bias */
    int emax;               /* largest exponent of a finite value */
    double max_finite, min_normal, min_subnormal;
    gs_fmt_overflow_t overflow;
} gs_fmt_t;

extern const gs_fmt_t gs_formats[GS_N_FMT];   /* indexed by gs_fmt_id_t */
extern const char *const gs_fmt_names[GS_N_FMT];

/* The format called name, or -1 */
int gs_fmt_find(const char *name);

/* x rounded to nearest-even in format f, as a double: 0 keeps its sign,
 * NaN stays NaN, subnormals are kept (gradual underflow). Past the
 * overflow threshold: inf (IEEE formats), NaN (E4M3), or max_finite with
 * its sign when saturate is set (any format). */
double gs_fmt_round(const gs_fmt_t *f, double x, int saturate);

/* x rounded stochastically in format f (Connolly, Higham and Mary 2021):
 * to the nearer-to-zero of its two neighbours x_lo <= |x| < x_hi in the
 * format, or to x_hi with probability (|x| - x_lo) / (x_hi - x_lo), so
 * that E[result] = x wherever no overflow occurs - an update far below
 * half a unit in the last place is kept on average instead of lost.
 * The draw is `bits`, 64 random bits (gs_rng_u64: the caller's stream,
 * so a run's roundings are as deterministic as its seed); its top 53
 * bits give u in [0, 1) and x_hi is taken when u < the fraction. Values
 * the format holds exactly, 0, NaN and the overflow cases are as for
 * gs_fmt_round (past max_finite: inf, NaN or saturated). */
double gs_fmt_round_stochastic(const gs_fmt_t *f, double x, int saturate, uint64_t bits);

/* How a value is rounded to a format: the config's `rounding` key */
typedef enum { GS_ROUND_NEAREST, GS_ROUND_STOCHASTIC } gs_rounding_t;
extern const char *const gs_rounding_names[];   /* indexed by gs_rounding_t; NULL-terminated */

/* x[i] = gs_fmt_round(f, x[i], saturate) for i < n: a tensor stored in
 * the format (float32 by the hardware's conversion, which is the same
 * rounding). Shared among OpenMP threads for large n; elementwise, so
 * the result does not depend on the split. */
void gs_fmt_round_array(const gs_fmt_t *f, double *x, size_t n, int saturate);

/* The classification thresholds of a format on |x|'s bits (a
 * nonnegative double's bits order as its value does): a finite nonzero
 * |x| rounds
 *   to zero        when bits(|x|) <= zero_max   (<= min_subnormal/2: the tie goes to the even 0)
 *   to a subnormal when zero_max < bits < normal_from
 *   past max       when bits(|x|) >= overflow_from
 * Derived from the table once, checked against gs_fmt_round by the
 * tests. */
typedef struct {
    uint64_t zero_max, normal_from, overflow_from;
} gs_fmt_bounds_t;
void gs_fmt_bounds(const gs_fmt_t *f, gs_fmt_bounds_t *b);

/* The exponent histogram's bins: bin k counts nonzero finite |x| in
 * [2^(GS_FMT_EXP_LO + k), 2^(GS_FMT_EXP_LO + k + 1)); the first bin also
 * takes everything smaller, the last everything larger (both are zero or
 * overflow in every format here: float32's smallest subnormal is 2^-149,
 * its overflow 2^128). */
#define GS_FMT_EXP_LO (-160)
#define GS_FMT_EXP_HI 130
#define GS_FMT_HIST_BINS (GS_FMT_EXP_HI - GS_FMT_EXP_LO + 1)

/* What every format would do to one tensor. Shares are of the nonzero
 * finite values: a value already zero in double is zero in any format,
 * and a non-finite one is counted apart. */
#define GS_FMT_TALLY_FIELDS                                                                        \
    long n;                     /* values counted */                                           \
    long nonzero;               /* finite and nonzero */                                       \
    long nonfinite;             /* inf or NaN in double already */                             \
    double max_abs, min_abs;    /* of the nonzero finite values (0 when none) */               \
    long zero[GS_N_FMT];        /* nonzero here, zero in the format */                         \
    long subnormal[GS_N_FMT];   /* subnormal in the format */                                  \
    long overflow[GS_N_FMT];    /* inf, NaN or saturated in the format */
/* The counts without the histogram: what a stored record keeps whole
 * (160 bytes against the histogram's 2,328; a tensor's bins that
 * are not zero are few, and kept apart) */
typedef struct {
    GS_FMT_TALLY_FIELDS
} gs_fmt_tally_t;
/* The counts of one pass: the tally's fields by name (c->n) or whole
 * (c->tally), and the exponent histogram */
typedef struct {
    union {
        struct {
            GS_FMT_TALLY_FIELDS
        };
        gs_fmt_tally_t tally;
    };
    long hist[GS_FMT_HIST_BINS];
} gs_fmt_counts_t;

/* Zero counts (and min/max). */
void gs_fmt_counts_clear(gs_fmt_counts_t *c);
/* Add the n values of x to c: one pass, shared among OpenMP threads for
 * large n, no allocation; the counts do not depend on the split. */
void gs_fmt_count(gs_fmt_counts_t *c, const double *x, size_t n);

/* The histogram bin of an unbiased exponent e (floor(log2|x|)), and the
 * exponent of a bin's lower edge (its first and last bins are open). */
int gs_fmt_bin(int e);
static inline int gs_fmt_bin_exp(int bin)
{
    return GS_FMT_EXP_LO + bin;
}

/* The loss-scale window of format f over a gradient's counts: the
 * power-of-two scales 2^k, lo <= k <= hi, that leave at most
 * max_lost_share of its nonzero values flushed to zero (from the
 * histogram: a value whose binade lies wholly at or below min_subnormal/2
 * after scaling is lost) and none overflowing (from max_abs, exactly).
 * Returns 0 with *lo, *hi set (the window is empty when *lo > *hi), or -1
 * when c has no nonzero value (no window to speak of). */
int gs_fmt_scale_window(const gs_fmt_t *f, const gs_fmt_counts_t *c, double max_lost_share,
                        int *lo, int *hi);
/* The share that the window allows to be lost: 0.1% */
#define GS_FMT_SCALE_MAX_LOST 1e-3

#endif
