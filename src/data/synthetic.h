/* Synthetic data sets made from a seed. */
#ifndef GS_DATA_SYNTHETIC_H
#define GS_DATA_SYNTHETIC_H

#include <stddef.h>

#include "data/dataset.h"

/* dataset=gaussian: inputs N(0, 1), labels uniform over n_classes; no
 * structure to learn, used for probing. */
int gs_gaussian_make(gs_dataset_t *ds, size_t n, size_t dim, size_t n_classes,
                     unsigned long long seed);

#endif
