/* Synthetic data sets made from a seed. */
#ifndef GS_DATA_SYNTHETIC_H
#define GS_DATA_SYNTHETIC_H

#include <stddef.h>

#include "data/dataset.h"

/* dataset=gaussian: inputs N(0, 1), labels uniform over n_classes; no
 * structure to learn, used for probing. */
int gs_gaussian_make(gs_dataset_t *ds, size_t n, size_t dim, size_t n_classes,
                     unsigned long long seed);

/* dataset=adding (Hochreiter & Schmidhuber 1997): n sequences of T steps
 * with 2 inputs each, a value from U[0,1] and a marker; exactly two steps
 * are marked, one in [0, T/2) and one in [T/2, T); the target is the sum
 * of the two marked values. Always answering 1 scores MSE 1/6. */
int gs_adding_make(gs_dataset_t *ds, size_t n, size_t T, unsigned long long seed);

#endif
