/* In-memory data sets: rows of inputs with a class label (or a real target)
 * each, split into train and test parts. */
#ifndef GS_DATA_DATASET_H
#define GS_DATA_DATASET_H

#include <stddef.h>

typedef struct {
    size_t n, dim;       /* rows, inputs per row */
    size_t n_classes;    /* 0 for regression */
    size_t n_targets;    /* regression outputs per row (0 for classification) */
    double *x;           /* (n, dim) */
    int *y;              /* (n) labels, classification */
    double *t;           /* (n, n_targets) targets, regression */
} gs_dataset_t;

void gs_dataset_free(gs_dataset_t *ds);   /* frees the arrays; NULL is fine */

/* Allocate a data set of n rows; 0 on success, -1 when memory is short. */
int gs_dataset_alloc(gs_dataset_t *ds, size_t n, size_t dim, size_t n_classes,
                     size_t n_targets);

/* The order gs_dataset_split puts n rows in, from seed: idx[0..n) gets
 * the rows of the training part first, then those of the test part. */
void gs_dataset_split_order(size_t n, unsigned long long seed, size_t *idx);

/* Split rows into train (the first round(frac n) of a permutation drawn
 * from seed) and test (the rest). The source is left as it was. */
int gs_dataset_split(const gs_dataset_t *all, double frac, unsigned long long seed,
                     gs_dataset_t *train, gs_dataset_t *test);

/* Standardize every input column with the training part's mean and
 * standard deviation (a column with zero deviation is only centred). */
void gs_dataset_standardize(gs_dataset_t *train, gs_dataset_t *test);

/* Copy rows idx[0..n) into x (n, dim) and labels / targets. */
void gs_dataset_gather(const gs_dataset_t *ds, const size_t *idx, size_t n,
                       double *x, int *y, double *t);

#endif
