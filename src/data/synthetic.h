/* Synthetic data sets made from a seed. */
#ifndef GS_DATA_SYNTHETIC_H
#define GS_DATA_SYNTHETIC_H

#include <stddef.h>

#include "data/dataset.h"

/* dataset=gaussian: inputs N(0, 1), labels uniform over n_classes; no
 * structure to learn, used for probing. */
int gs_gaussian_make(gs_dataset_t *ds, size_t n, size_t dim, size_t n_classes,
                     unsigned long long seed);

/* Rows rows[0..k) of the data set gs_gaussian_make(n, dim, n_classes,
 * seed) makes, bit for bit, into ds (k rows, in the order given; a row may
 * come twice), without making the others: a probe reads one batch of the
 * thousands of rows. The draws before each row are skipped
 * (gs_rng_skip); the labels, which follow every input, are drawn up to
 * the last row asked for. 0, or -1 when memory is short. */
int gs_gaussian_rows(gs_dataset_t *ds, size_t n, size_t dim, size_t n_classes,
                     unsigned long long seed, const size_t *rows, size_t k);

/* dataset=adding (Hochreiter & Schmidhuber 1997): n sequences of T steps
 * with 2 inputs each, a value from U[0,1] and a marker; exactly two steps
 * are marked, one in [0, T/2) and one in [T/2, T); the target is the sum
 * of the two marked values. Always answering 1 scores MSE 1/6. */
int gs_adding_make(gs_dataset_t *ds, size_t n, size_t T, unsigned long long seed);

/* Rows rows[0..k) of the data set gs_adding_make(n, T, seed) makes, bit
 * for bit, into ds (k rows in the order given), and every row's target
 * into targets[0..n) when it is not NULL; a row's values are drawn into a
 * scratch row and only the rows asked for are kept. 0, or -1 when memory
 * is short. */
int gs_adding_rows(gs_dataset_t *ds, size_t n, size_t T, unsigned long long seed,
                   const size_t *rows, size_t k, double *targets);

/* dataset=tokens (transformers): n sequences of T token ids uniform over
 * vocab symbols (x (n, T), the ids as doubles) with a target uniform over
 * them at every position (t (n, T), ids as doubles; n_classes = vocab,
 * n_targets = T): nothing to learn, the transformers' probe data.
 * Sequence i is drawn from a stream of its own (seed, TOKENS_STREAM + i),
 * its T inputs then its T targets, so gs_tokens_rows makes any rows alone,
 * bit for bit these. 0, or -1 when memory is short. */
int gs_tokens_make(gs_dataset_t *ds, size_t n, size_t T, size_t vocab, unsigned long long seed);

/* Rows rows[0..k) of gs_tokens_make(n, T, vocab, seed), in the order
 * given (n plays no part: a row's stream is its own). 0, or -1 when
 * memory is short. */
int gs_tokens_rows(gs_dataset_t *ds, size_t T, size_t vocab, unsigned long long seed,
                   const size_t *rows, size_t k);

#endif
