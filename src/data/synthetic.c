#include <config.h>

#include "data/synthetic.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/rng.h"

#define GAUSSIAN_STREAM 0x6A055
#define ADDING_STREAM 0xADD
#define TOKENS_STREAM (UINT64_C(0x70C) << 32)   /* + the sequence: one stream each */

int gs_gaussian_make(gs_dataset_t *ds, size_t n, size_t dim, size_t n_classes,
                     unsigned long long seed)
{
    if (gs_dataset_alloc(ds, n, dim, n_classes, 0) != 0)
        return -1;
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, GAUSSIAN_STREAM);
    for (size_t i = 0; i < n * dim; i++)
        ds->x[i] = gs_rng_normal(&rng);
    for (size_t i = 0; i < n; i++)
        ds->y[i] = (int)gs_rng_below(&rng, n_classes);
    return 0;
}

/* One sequence of the adding problem into x (T, 2): value, marker; its
 * target is the return value. */
static double adding_row(gs_rng_t *rng, double *x, size_t T)
{
    size_t half = T / 2;
    for (size_t t = 0; t < T; t++) {
        x[2 * t] = gs_rng_uniform(rng);
        x[2 * t + 1] = 0.0;
    }
    size_t a = gs_rng_below(rng, half), b = half + gs_rng_below(rng, T - half);
    x[2 * a + 1] = 1.0;
    x[2 * b + 1] = 1.0;
    return x[2 * a] + x[2 * b];
}

int gs_adding_make(gs_dataset_t *ds, size_t n, size_t T, unsigned long long seed)
{
    if (T < 2 || gs_dataset_alloc(ds, n, 2 * T, 0, 1) != 0)
        return -1;
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, ADDING_STREAM);
    for (size_t i = 0; i < n; i++)
        ds->t[i] = adding_row(&rng, ds->x + i * 2 * T, T);
    return 0;
}

/* A row asked for and where it goes. */
typedef struct {
    size_t row, slot;
} wanted_t;

static int by_row(const void *a, const void *b)
{
    const wanted_t *x = a, *y = b;
    return x->row != y->row ? (x->row < y->row ? -1 : 1) : (x->slot > y->slot) - (x->slot < y->slot);
}

/* rows[0..k) with their slots, by row (malloc'd; NULL when short). */
static wanted_t *sorted_rows(const size_t *rows, size_t k)
{
    wanted_t *w = malloc((k ? k : 1) * sizeof *w);
    if (!w)
        return NULL;
    for (size_t i = 0; i < k; i++)
        w[i] = (wanted_t){rows[i], i};
    qsort(w, k, sizeof *w, by_row);
    return w;
}

/* Move a generator that has made normals [0, *next) (a Box-Muller pair
 * takes two draws, its second normal waiting as the spare) to make normal
 * j >= *next next, as the same generator would after making all those
 * before j. */
static void seek_normal(gs_rng_t *rng, uint64_t *next, uint64_t j)
{
    if (j == *next)
        return;
    uint64_t used = *next % 2 ? *next + 1 : *next;   /* draws of the pairs begun */
    gs_rng_skip(rng, 2 * (j / 2) - used);
    if (j % 2)
        (void)gs_rng_normal(rng);   /* the pair's first normal; its second is j */
    *next = j;
}

int gs_gaussian_rows(gs_dataset_t *ds, size_t n, size_t dim, size_t n_classes,
                     unsigned long long seed, const size_t *rows, size_t k)
{
    wanted_t *w = sorted_rows(rows, k);
    if (!w || gs_dataset_alloc(ds, k, dim, n_classes, 0) != 0) {
        free(w);
        return -1;
    }
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, GAUSSIAN_STREAM);
    uint64_t next = 0;   /* the normal the generator makes next */
    for (size_t i = 0; i < k; i++) {
        double *x = ds->x + w[i].slot * dim;
        if (i > 0 && w[i].row == w[i - 1].row) {
            memcpy(x, ds->x + w[i - 1].slot * dim, dim * sizeof *x);
            continue;
        }
        seek_normal(&rng, &next, (uint64_t)w[i].row * dim);
        for (size_t d = 0; d < dim; d++)
            x[d] = gs_rng_normal(&rng);
        next += dim;
    }
    seek_normal(&rng, &next, (uint64_t)n * dim + (uint64_t)n * dim % 2);   /* past every input */
    /* the labels: gs_rng_below's draws, a rejected one drawn again; only
     * the rows asked for need the remainder */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n_classes;
    for (size_t r = 0, i = 0; r < n && i < k; r++) {
        uint64_t x;
        do
            x = gs_rng_u64(&rng);
        while (x >= limit);
        for (; i < k && w[i].row == r; i++)
            ds->y[w[i].slot] = (int)(x % n_classes);
    }
    free(w);
    return 0;
}

int gs_adding_rows(gs_dataset_t *ds, size_t n, size_t T, unsigned long long seed,
                   const size_t *rows, size_t k, double *targets)
{
    if (T < 2)
        return -1;
    wanted_t *w = sorted_rows(rows, k);
    double *x = malloc(2 * T * sizeof *x);   /* the row in hand */
    if (!w || !x || gs_dataset_alloc(ds, k, 2 * T, 0, 1) != 0) {
        free(w);
        free(x);
        return -1;
    }
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, ADDING_STREAM);
    size_t i = 0;
    for (size_t r = 0; r < n && (targets || i < k); r++) {
        double target = adding_row(&rng, x, T);
        if (targets)
            targets[r] = target;
        for (; i < k && w[i].row == r; i++) {
            memcpy(ds->x + w[i].slot * 2 * T, x, 2 * T * sizeof *x);
            ds->t[w[i].slot] = target;
        }
    }
    free(w);
    free(x);
    return 0;
}

/* Sequence `row` of dataset=tokens into x[0..T) and t[0..T) */
static void token_row(double *x, double *t, size_t T, size_t vocab, unsigned long long seed,
                      size_t row)
{
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, TOKENS_STREAM + (uint64_t)row);
    for (size_t j = 0; j < T; j++)
        x[j] = (double)gs_rng_below(&rng, vocab);
    for (size_t j = 0; j < T; j++)
        t[j] = (double)gs_rng_below(&rng, vocab);
}

int gs_tokens_rows(gs_dataset_t *ds, size_t T, size_t vocab, unsigned long long seed,
                   const size_t *rows, size_t k)
{
    if (gs_dataset_alloc(ds, k, T, vocab, T) != 0)
        return -1;
    for (size_t i = 0; i < k; i++)
        token_row(ds->x + i * T, ds->t + i * T, T, vocab, seed, rows ? rows[i] : i);
    return 0;
}

int gs_tokens_make(gs_dataset_t *ds, size_t n, size_t T, size_t vocab, unsigned long long seed)
{
    return gs_tokens_rows(ds, T, vocab, seed, NULL, n);
}
