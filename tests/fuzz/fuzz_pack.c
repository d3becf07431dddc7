/* Fuzz target `pack`: the bytes are a packed result as a worker sends it
 * to rank 0 (driver/pack.c), given to gs_unpack_result. The corpus holds
 * real packed results of this architecture (tests/fuzz/seed_corpus.c).
 *
 * Properties beyond "no crash, no leak":
 *  - a refused buffer leaves a result gs_result_free can free (again);
 *  - an accepted one round-trips: re-packed, it has the input's length
 *    and the input's arrays byte for byte (only the header may differ,
 *    in its padding and the forced NUL of host and error), it unpacks
 *    again to the same result (every field, bit for bit: NaNs included),
 *    and packing that gives the same bytes. */
#include <config.h>

#include <string.h>

#include "driver/pack.h"
#include "fuzz.h"

#define SAME(a, b) (memcmp(&(a), &(b), sizeof(a)) == 0)

/* Bytes of the arrays after the header. */
static size_t arrays_bytes(const gs_result_t *r)
{
    return r->n_layers * sizeof *r->layers + r->n_time * sizeof *r->time +
           r->n_log * sizeof *r->log + r->n_layer_log * sizeof *r->layer_log +
           r->n_hist * (2 * sizeof(int32_t) + 2 * sizeof(double) + sizeof r->hist->count);
}

static void check_same(const gs_result_t *a, const gs_pack_meta_t *ma, const gs_result_t *b,
                       const gs_pack_meta_t *mb)
{
    FUZZ_CHECK(SAME(*ma, *mb), "the meta (cell %lld, rank %d) changed", (long long)ma->cell,
               ma->rank);
    FUZZ_CHECK(a->status == b->status && a->diagnosis == b->diagnosis &&
                   a->diagnosis_final == b->diagnosis_final &&
                   a->diverged_tensor == b->diverged_tensor &&
                   a->diverged_layer == b->diverged_layer && a->steps_run == b->steps_run &&
                   a->diverged_step == b->diverged_step,
               "an enum or integer field changed");
/* every double of the result, in one list */
#define DOUBLES(r)                                                                           \
    {r->grad_ratio, r->init_loss, r->q_star, r->chi1, r->depth_scale, r->predicted_slope,    \
     r->measured_slope, r->fit_r2, r->residual_growth_predicted, r->residual_growth_measured, \
     r->step_bound, r->sv2_min, r->sv2_max, r->sv2_mean, r->condition, r->grad_ratio_final,  \
     r->last_finite_grad_norm, r->clip_fraction, r->train_loss, r->test_loss, r->test_acc,   \
     r->baseline_loss, r->grad_h_ratio, r->grad_h_ratio_final}
    const double da[] = DOUBLES(a), db[] = DOUBLES(b);
#undef DOUBLES
    FUZZ_CHECK(memcmp(da, db, sizeof da) == 0, "a number changed (bitwise)");
    FUZZ_CHECK(strcmp(a->error, b->error) == 0, "error '%s' became '%s'", a->error, b->error);
    FUZZ_CHECK(a->n_layers == b->n_layers && a->n_time == b->n_time && a->n_log == b->n_log &&
                   a->n_layer_log == b->n_layer_log && a->n_hist == b->n_hist,
               "a count changed");
    FUZZ_CHECK(memcmp(a->layers, b->layers, a->n_layers * sizeof *a->layers) == 0 &&
                   memcmp(a->time, b->time, a->n_time * sizeof *a->time) == 0 &&
                   memcmp(a->log, b->log, a->n_log * sizeof *a->log) == 0 &&
                   memcmp(a->layer_log, b->layer_log, a->n_layer_log * sizeof *a->layer_log) == 0,
               "an array changed");
    for (size_t i = 0; i < a->n_hist; i++) {
        const gs_hist_t *x = &a->hist[i], *y = &b->hist[i];
        FUZZ_CHECK(x->layer == y->layer && x->quantity == y->quantity && SAME(x->lo, y->lo) &&
                       SAME(x->hi, y->hi) && memcmp(x->count, y->count, sizeof x->count) == 0,
                   "histogram %zu changed", i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gs_result_t r1, r2;
    gs_pack_meta_t m1, m2;
    if (gs_unpack_result(data, size, &r1, &m1) != 0) {
        gs_result_free(&r1);   /* refused: nothing left to free, and freeing is safe */
        return 0;
    }
    FUZZ_CHECK(strlen(r1.error) < sizeof r1.error && strlen(m1.host) < sizeof m1.host,
               "an unterminated string");
    for (size_t i = 0; i < r1.n_hist; i++)
        FUZZ_CHECK(r1.hist[i].quantity != NULL, "histogram %zu has no quantity", i);
    size_t len1 = 0, len2 = 0;
    unsigned char *b1 = gs_pack_result(&r1, &m1, &len1);
    if (!b1) {   /* memory is short: nothing to compare */
        gs_result_free(&r1);
        return 0;
    }
    FUZZ_CHECK(len1 == size, "re-packed to %zu bytes from %zu", len1, size);
    size_t body = arrays_bytes(&r1);
    FUZZ_CHECK(body <= size && memcmp(b1 + size - body, data + size - body, body) == 0,
               "the arrays (%zu bytes) changed on the way", body);
    FUZZ_CHECK(gs_unpack_result(b1, len1, &r2, &m2) == 0, "a re-packed result is refused");
    check_same(&r1, &m1, &r2, &m2);
    unsigned char *b2 = gs_pack_result(&r2, &m2, &len2);
    FUZZ_CHECK(b2 == NULL || (len2 == len1 && memcmp(b1, b2, len1) == 0),
               "packing is not a fixed point");
    free(b1);
    free(b2);
    gs_result_free(&r1);
    gs_result_free(&r2);
    return 0;
}
