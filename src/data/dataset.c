#include <config.h>

#include "data/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/rng.h"

void gs_dataset_free(gs_dataset_t *ds)
{
    if (!ds)
        return;
    free(ds->x);
    free(ds->y);
    free(ds->t);
    memset(ds, 0, sizeof *ds);
}

int gs_dataset_alloc(gs_dataset_t *ds, size_t n, size_t dim, size_t n_classes,
                     size_t n_targets)
{
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->dim = dim;
    ds->n_classes = n_classes;
    ds->n_targets = n_targets;
    size_t cells = n * dim;
    ds->x = malloc((cells ? cells : 1) * sizeof *ds->x);
    ds->y = calloc(n ? n : 1, sizeof *ds->y);
    ds->t = n_targets ? calloc(n * n_targets, sizeof *ds->t) : NULL;
    if (!ds->x || !ds->y || (n_targets && !ds->t)) {
        gs_dataset_free(ds);
        return -1;
    }
    return 0;
}

void gs_dataset_gather(const gs_dataset_t *ds, const size_t *idx, size_t n,
                       double *x, int *y, double *t)
{
    for (size_t i = 0; i < n; i++) {
        size_t r = idx[i];
        memcpy(x + i * ds->dim, ds->x + r * ds->dim, ds->dim * sizeof *x);
        if (y)
            y[i] = ds->y[r];
        if (t && ds->n_targets)
            memcpy(t + i * ds->n_targets, ds->t + r * ds->n_targets,
                   ds->n_targets * sizeof *t);
    }
}

void gs_dataset_split_order(size_t n, unsigned long long seed, size_t *idx)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, 0x5B117);
    gs_rng_shuffle(&rng, idx, n);
}

int gs_dataset_split(const gs_dataset_t *all, double frac, unsigned long long seed,
                     gs_dataset_t *train, gs_dataset_t *test)
{
    size_t n_train = (size_t)llround(frac * (double)all->n);
    size_t *idx = malloc((all->n ? all->n : 1) * sizeof *idx);
    if (!idx)
        return -1;
    gs_dataset_split_order(all->n, seed, idx);
    int rc = -1;
    if (gs_dataset_alloc(train, n_train, all->dim, all->n_classes, all->n_targets) == 0) {
        if (gs_dataset_alloc(test, all->n - n_train, all->dim, all->n_classes,
                             all->n_targets) == 0)
            rc = 0;
        else
            gs_dataset_free(train);
    }
    if (rc == 0) {
        gs_dataset_gather(all, idx, n_train, train->x, train->y, train->t);
        gs_dataset_gather(all, idx + n_train, all->n - n_train, test->x, test->y, test->t);
    }
    free(idx);
    return rc;
}

void gs_dataset_standardize(gs_dataset_t *train, gs_dataset_t *test)
{
    size_t d = train->dim;
    for (size_t j = 0; j < d; j++) {
        double m = 0.0, v = 0.0;
        for (size_t i = 0; i < train->n; i++)
            m += train->x[i * d + j];
        m /= (double)train->n;
        for (size_t i = 0; i < train->n; i++)
            v += (train->x[i * d + j] - m) * (train->x[i * d + j] - m);
        double sd = sqrt(v / (double)train->n);
        double inv = sd > 0 ? 1.0 / sd : 1.0;
        for (size_t i = 0; i < train->n; i++)
            train->x[i * d + j] = (train->x[i * d + j] - m) * inv;
        for (size_t i = 0; i < test->n; i++)
            test->x[i * d + j] = (test->x[i * d + j] - m) * inv;
    }
}
