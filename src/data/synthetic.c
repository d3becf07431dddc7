#include <config.h>

#include "data/synthetic.h"

#include "nn/rng.h"

int gs_gaussian_make(gs_dataset_t *ds, size_t n, size_t dim, size_t n_classes,
                     unsigned long long seed)
{
    if (gs_dataset_alloc(ds, n, dim, n_classes, 0) != 0)
        return -1;
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, 0x6A055);
    for (size_t i = 0; i < n * dim; i++)
        ds->x[i] = gs_rng_normal(&rng);
    for (size_t i = 0; i < n; i++)
        ds->y[i] = (int)gs_rng_below(&rng, n_classes);
    return 0;
}
