/* Deterministic random numbers: xoshiro256** seeded through splitmix64.
 * Every random draw in gradsweep comes from a gs_rng_t that was seeded from
 * a cell's seed, so a cell's numbers depend on nothing else. */
#ifndef GS_NN_RNG_H
#define GS_NN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
    double spare;      /* second Box-Muller deviate, valid when has_spare */
    int has_spare;
} gs_rng_t;


/* Seed the generator; `stream` separates independent streams of one seed
 * (weights, data split, batches...). */
void gs_rng_seed(gs_rng_t *r, uint64_t seed, uint64_t stream);

uint64_t gs_rng_u64(gs_rng_t *r);
/* Advance the generator as n calls of gs_rng_u64 would (a Box-Muller spare
 * is dropped): about a nanosecond a draw, against tens for a normal, so a
 * data set's rows can be made without the rows before them. */
void gs_rng_skip(gs_rng_t *r, uint64_t n);
/* Uniform on the open interval (0, 1), 53 random bits. */
double gs_rng_uniform(gs_rng_t *r);
/* Standard normal N(0, 1) by Box-Muller. */
double gs_rng_normal(gs_rng_t *r);

/* x[i] = scale * N(0, 1) for i < n: the same draws, in the same order, as
 * n calls of gs_rng_normal (the stream continues where either left off),
 * with log, sin and cos over whole blocks (nn/vmath.h) - about 4 times
 * faster, and equal to the single draws within a few ulp. */
void gs_rng_normal_fill(gs_rng_t *r, double *x, size_t n, double scale);
/* Uniform integer in [0, n), unbiased (n > 0): x % n of a draw x, a draw
 * at or above the largest multiple of n drawn again (gs_gaussian_rows
 * repeats this to pass labels it does not keep; tests/data.c compares). */
size_t gs_rng_below(gs_rng_t *r, size_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void gs_rng_shuffle(gs_rng_t *r, size_t *idx, size_t n);

#endif
