/* The shipped digits data: row count, class counts and a checksum (the
 * numbers of data/README.md, recomputed independently with Python's gzip
 * and csv modules), then the 80/20 split and standardization. */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "data/digits.h"
#include "tap.h"

int main(void)
{
    char path[4096], err[512];
    gs_digits_path(path, sizeof path);
    gs_dataset_t ds;
    if (!tap_ok(gs_digits_load(path, &ds, err, sizeof err) == 0, "load %s", path)) {
        tap_diag("%s", err);
        return tap_done();
    }
    tap_ok(ds.n == 1797 && ds.dim == 64, "1797 rows of 64 pixels");
    const int want[10] = {178, 182, 177, 183, 181, 182, 181, 179, 174, 180};
    int count[10] = {0};
    for (size_t i = 0; i < ds.n; i++)
        count[ds.y[i]]++;
    int same = 1;
    for (int c = 0; c < 10; c++)
        same &= count[c] == want[c];
    tap_ok(same, "class counts 178 182 177 183 181 182 181 179 174 180");
    double total = 0;
    uint64_t h = 0;
    for (size_t i = 0; i < ds.n; i++) {
        for (size_t j = 0; j < 64; j++) {
            total += ds.x[i * 64 + j];
            h = h * 31 + (uint64_t)ds.x[i * 64 + j];
        }
        h = h * 31 + (uint64_t)ds.y[i];
    }
    tap_ok(total == 561718.0, "pixel sum 561718 (got %.0f)", total);
    tap_ok(h == 7221630388133563626ull, "row-major checksum (got %llu)", (unsigned long long)h);

    gs_dataset_t tr, te;
    tap_ok(gs_dataset_split(&ds, 0.8, 42, &tr, &te) == 0 && tr.n == 1438 && te.n == 359,
           "80/20 split: 1438 train, 359 test");
    gs_dataset_t tr2, te2;
    gs_dataset_split(&ds, 0.8, 42, &tr2, &te2);
    int same_split = 1;
    for (size_t i = 0; i < tr.n; i++)
        same_split &= tr.y[i] == tr2.y[i] && tr.x[i * 64 + 20] == tr2.x[i * 64 + 20];
    tap_ok(same_split, "the split is fixed by the seed");
    gs_dataset_standardize(&tr, &te);
    double worst_m = 0, worst_s = 0;
    for (size_t j = 0; j < 64; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < tr.n; i++)
            m += tr.x[i * 64 + j];
        m /= tr.n;
        for (size_t i = 0; i < tr.n; i++)
            v += (tr.x[i * 64 + j] - m) * (tr.x[i * 64 + j] - m);
        double sd = sqrt(v / tr.n);
        worst_m = fmax(worst_m, fabs(m));
        if (sd > 0)   /* constant (always-blank) pixels stay 0 */
            worst_s = fmax(worst_s, fabs(sd - 1.0));
    }
    tap_ok(worst_m < 1e-12 && worst_s < 1e-12,
           "standardized training columns: mean 0, std 1 (errors %.1e, %.1e)", worst_m, worst_s);
    char bad[64];
    snprintf(bad, sizeof bad, "/nonexistent/digits.csv.gz");
    gs_dataset_t none;
    tap_ok(gs_digits_load(bad, &none, err, sizeof err) != 0, "a missing file is an error: %s", err);
    gs_dataset_free(&ds);
    gs_dataset_free(&tr);
    gs_dataset_free(&te);
    gs_dataset_free(&tr2);
    gs_dataset_free(&te2);
    return tap_done();
}
