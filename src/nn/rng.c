#include <config.h>

#include "nn/rng.h"

#include <math.h>

#include "nn/vmath.h"
#include "util/hash.h"

void gs_rng_seed(gs_rng_t *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = gs_mix64(seed) ^ gs_mix64(~stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++) {
        x = gs_mix64(x);
        r->s[i] = x;
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;   /* the all-zero state is the one xoshiro cannot leave */
    r->has_spare = 0;
    r->spare = 0.0;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t gs_rng_u64(gs_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void gs_rng_skip(gs_rng_t *r, uint64_t n)
{
    uint64_t s0 = r->s[0], s1 = r->s[1], s2 = r->s[2], s3 = r->s[3];
    for (uint64_t i = 0; i < n; i++) {   /* gs_rng_u64's state update, no output */
        uint64_t t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = rotl(s3, 45);
    }
    r->s[0] = s0;
    r->s[1] = s1;
    r->s[2] = s2;
    r->s[3] = s3;
    r->has_spare = 0;
}

double gs_rng_uniform(gs_rng_t *r)
{
    /* (k + 0.5) / 2^53 never hits 0 or 1, so log() below is safe. */
    return ((double)(gs_rng_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

double gs_rng_normal(gs_rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u = gs_rng_uniform(r), v = gs_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u));
    double th = 2.0 * M_PI * v;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

/* Pairs drawn per block of gs_rng_normal_fill (stack scratch). */
#define NORMAL_BLOCK 256

void gs_rng_normal_fill(gs_rng_t *r, double *x, size_t n, double scale)
{
    size_t i = 0;
    if (n > 0 && r->has_spare) {
        r->has_spare = 0;
        x[i++] = scale * r->spare;
    }
    double u[NORMAL_BLOCK], v[NORMAL_BLOCK], c[NORMAL_BLOCK], s[NORMAL_BLOCK];
    while (i < n) {
        size_t pairs = (n - i + 1) / 2;
        pairs = pairs < NORMAL_BLOCK ? pairs : NORMAL_BLOCK;
        for (size_t k = 0; k < pairs; k++) {   /* the draws' order of gs_rng_normal */
            u[k] = gs_rng_uniform(r);
            v[k] = 2.0 * M_PI * gs_rng_uniform(r);
        }
        gs_vlog(u, u, pairs);
        gs_vcos(c, v, pairs);
        gs_vsin(s, v, pairs);
        for (size_t k = 0; k < pairs; k++) {
            double rad = sqrt(-2.0 * u[k]);
            x[i++] = scale * (rad * c[k]);
            if (i < n)
                x[i++] = scale * (rad * s[k]);
            else {   /* an odd count leaves the pair's second draw for later */
                r->spare = rad * s[k];
                r->has_spare = 1;
            }
        }
    }
}

size_t gs_rng_below(gs_rng_t *r, size_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = gs_rng_u64(r);
    while (x >= limit);
    return (size_t)(x % n);
}

void gs_rng_shuffle(gs_rng_t *r, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = gs_rng_below(r, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
