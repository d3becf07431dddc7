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

int gs_adding_make(gs_dataset_t *ds, size_t n, size_t T, unsigned long long seed)
{
    if (T < 2 || gs_dataset_alloc(ds, n, 2 * T, 0, 1) != 0)
        return -1;
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, 0xADD);
    size_t half = T / 2;
    for (size_t i = 0; i < n; i++) {
        double *x = ds->x + i * 2 * T;   // (T, 2): value, marker
        for (size_t t = 0; t < T; t++) {
            x[2 * t] = gs_rng_uniform(&rng);
            x[2 * t + 1] = 0.0;
        }
        size_t a = gs_rng_below(&rng, half), b = half + gs_rng_below(&rng, T - half);
        x[2 * a + 1] = 1.0;
        x[2 * b + 1] = 1.0;
        ds->t[i] = x[2 * a] + x[2 * b];
    }
    return 0;
}
