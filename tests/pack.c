/* A cell's result packed for MPI (driver/pack.h) unpacks to the same
 * result - every number and array, bit for bit - and a buffer that is
 * short, long, or holds an impossible header, histogram, format
 * record or block_stats row is refused. */
#include <config.h>

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "driver/pack.h"
#include "store/store.h"
#include "tap.h"

/* A trained, diverged result with every array filled. */
static void sample(gs_result_t *r)
{
    memset(r, 0, sizeof *r);
    r->status = GS_STATUS_DIVERGED;
    r->diagnosis = GS_DIAG_EXPLODING;
    r->diagnosis_final = GS_DIAG_DIVERGED;
    r->grad_ratio = 1.5e7;
    r->grad_h_ratio = 2.5e-9;
    r->grad_h_ratio_final = NAN;
    r->measured_slope = -0.125;
    r->q_star = INFINITY;
    r->test_acc = NAN;
    r->steps_run = 17;
    r->diverged_step = 17;
    r->diverged_layer = 2;
    r->diverged_tensor = GS_NONFINITE_GRADIENT;
    snprintf(r->error, sizeof r->error, "%s", "none");
    r->n_layers = 3;
    r->n_time = 2;
    r->n_log = 2;
    r->n_layer_log = r->n_log * r->n_layers;
    r->n_hist = 2;
    r->layers = calloc(r->n_layers, sizeof *r->layers);
    r->time = calloc(r->n_time, sizeof *r->time);
    r->log = calloc(r->n_log, sizeof *r->log);
    r->layer_log = calloc(r->n_layer_log, sizeof *r->layer_log);
    r->hist = calloc(r->n_hist, sizeof *r->hist);
    r->n_fmt = 2;
    r->fmt = calloc(r->n_fmt, sizeof *r->fmt);
    /* their histograms' kept bins: the last bin (9), then bins 100 and 101 */
    static const long bins[] = {9, 3, 4};
    r->n_fmt_bins = 3;
    r->fmt_bins = malloc(sizeof bins);
    memcpy(r->fmt_bins, bins, sizeof bins);
    for (size_t i = 0; i < r->n_fmt; i++) {
        r->fmt[i].step = 10 + (long)i;
        r->fmt[i].layer = (int32_t)i + 2;
        r->fmt[i].tensor = GS_FT_UPDATE - (int32_t)i;
        r->fmt[i].counts.zero[GS_FMT_E4M3] = 7 + (long)i;
        r->fmt[i].counts.min_abs = 0x1p-30;
        r->fmt[i].scale_lo[GS_FMT_FLOAT16] = -3 - (int32_t)i;
        r->fmt[i].bin_first = i ? 100 : GS_FMT_HIST_BINS - 1;
        r->fmt[i].n_bins = 1 + (int32_t)i;
        r->fmt[i].bin_at = i;
    }
    static const int32_t subs[] = {GS_SUB_W2, GS_SUB_LN1, GS_SUB_BLOCK};
    r->n_block = 3;   /* a transformer's rows: a matrix, a norm gain, a block */
    r->block = calloc(r->n_block, sizeof *r->block);
    for (size_t i = 0; i < r->n_block; i++)
        r->block[i] = (gs_block_row_t){.step = 0, .layer = 2, .sublayer = subs[i],
                                       .grad_w_norm = i == 2 ? NAN : 0.25 + (double)i,
                                       .w_norm = 3.5, .update_ratio = NAN,
                                       .rank_residual = i == 2 ? 0x1p-40 : NAN,
                                       .attn_logit_max = i == 2 ? INFINITY : NAN};
    r->n_head = 2;   /* and its heads' */
    r->head = calloc(r->n_head, sizeof *r->head);
    for (size_t i = 0; i < r->n_head; i++)
        r->head[i] = (gs_head_row_t){.step = 5, .layer = 2, .head = 1 + (long)i,
                                     .attn_entropy = i ? 0x1p-50 : NAN, .attn_logit_max = INFINITY};
    for (size_t l = 0; l < r->n_layers; l++)
        r->layers[l].grad_w_norm = 0.1 * (double)(l + 1);
    r->time[1].grad_hidden_norm = 3.25;
    r->log[1] = (gs_train_row_t){.step = 17, .loss = NAN, .grad_norm = INFINITY,
                                 .grad_norm_clipped = 1.0, .clipped = 1,
                                 .heldout_loss = 0.625, .heldout_acc = NAN};
    r->layer_log[5].update_ratio = 1e-3;
    for (size_t h = 0; h < r->n_hist; h++) {
        r->hist[h].layer = (int)h + 1;
        r->hist[h].quantity = gs_hist_quantity_names[h];
        r->hist[h].lo = -1;
        r->hist[h].hi = 1;
        r->hist[h].count[h] = 42;
    }
}

/* The packed buf of len bytes with the int32 at byte `at` set to v is
 * refused by gs_unpack_result */
static int refused_with(const unsigned char *buf, size_t len, size_t at, int32_t v)
{
    unsigned char *bad = malloc(len);
    gs_result_t u;
    gs_pack_meta_t m;
    memcpy(bad, buf, len);
    memcpy(bad + at, &v, sizeof v);
    int rc = gs_unpack_result(bad, len, &u, &m);
    if (rc == 0)
        gs_result_free(&u);
    free(bad);
    return rc == -1;
}

static int same_bits(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

/* Every column of the result table that the experiment measures (its R
 * rows) travels: each set to a value of its own, each compared after the
 * trip. Returns how many came back; *n_r counts them. */
static size_t every_column_travels(size_t *n_r)
{
    size_t n, back = 0;
    const gs_column_t *cols = gs_store_columns(&n);
    gs_result_t r, u;
    memset(&r, 0, sizeof r);
    *n_r = 0;
    for (size_t k = 0; k < n; k++) {
        if (cols[k].source != GS_SOURCE_R)
            continue;
        char *f = (char *)&r + cols[k].offset;
        double d = 1000.0 + (double)k;
        long i = 1000 + (long)k;
        int e = 1;   /* a valid value of every enum, not the zeroed 0 */
        (*n_r)++;
        switch (cols[k].type) {
        case GS_COL_REAL: case GS_COL_REAL_INF: memcpy(f, &d, sizeof d); break;
        case GS_COL_INT: case GS_COL_SESSION: memcpy(f, &i, sizeof i); break;
        case GS_COL_TEXT: snprintf(f, GS_TEXT_MAX, "column %zu", k); break;
        default: memcpy(f, &e, sizeof e); break;
        }
    }
    gs_pack_meta_t meta = {0, 1, 1, 0.5, "h"}, m;
    size_t len;
    unsigned char *buf = gs_pack_result(&r, &meta, &len);
    if (!buf || gs_unpack_result(buf, len, &u, &m) != 0) {
        free(buf);
        return 0;
    }
    for (size_t k = 0; k < n; k++) {
        if (cols[k].source != GS_SOURCE_R)
            continue;
        size_t size = cols[k].type == GS_COL_TEXT ? GS_TEXT_MAX
                      : cols[k].type == GS_COL_REAL || cols[k].type == GS_COL_REAL_INF
                          ? sizeof(double)
                      : cols[k].type == GS_COL_INT ? sizeof(long) : sizeof(int);
        if (same_bits((char *)&u + cols[k].offset, (char *)&r + cols[k].offset, size))
            back++;
        else
            tap_diag("result column %s did not travel", cols[k].name);
    }
    free(buf);
    gs_result_free(&u);
    return back;
}

int main(void)
{
    gs_result_t r, u;
    gs_pack_meta_t meta = {7, 3, 2, 1.5, "node-1"}, back;
    sample(&r);
    size_t len;
    unsigned char *buf = gs_pack_result(&r, &meta, &len);
    tap_ok(buf != NULL, "packs");
    tap_ok(gs_unpack_result(buf, len, &u, &back) == 0, "unpacks");
    tap_ok(u.status == r.status && u.diagnosis == r.diagnosis &&
           u.diagnosis_final == r.diagnosis_final && u.diverged_tensor == r.diverged_tensor &&
           u.diverged_layer == 2 && u.steps_run == 17 && u.diverged_step == 17,
           "the enums and counts come back");
    tap_ok(u.grad_ratio == r.grad_ratio && u.grad_h_ratio == r.grad_h_ratio &&
           isnan(u.grad_h_ratio_final) && u.measured_slope == r.measured_slope &&
           isinf(u.q_star) && isnan(u.test_acc), "the numbers come back, Inf and NaN included");
    tap_ok(u.n_layers == 3 && same_bits(u.layers, r.layers, 3 * sizeof *r.layers) &&
           same_bits(u.time, r.time, 2 * sizeof *r.time) &&
           same_bits(u.log, r.log, 2 * sizeof *r.log) &&
           same_bits(u.layer_log, r.layer_log, 6 * sizeof *r.layer_log),
           "the arrays come back bit for bit");
    tap_ok(u.n_fmt == 2 && same_bits(u.fmt, r.fmt, 2 * sizeof *r.fmt) && u.fmt[1].layer == 3 &&
           u.fmt[1].tensor == GS_FT_WEIGHT, "the format records come back bit for bit");
    tap_ok(u.n_fmt_bins == 3 && gs_fmt_record_bin(&u, &u.fmt[0], GS_FMT_HIST_BINS - 1) == 9 &&
           gs_fmt_record_bin(&u, &u.fmt[1], 100) == 3 &&
           gs_fmt_record_bin(&u, &u.fmt[1], 101) == 4 &&
           gs_fmt_record_bin(&u, &u.fmt[1], 99) == 0 &&
           gs_fmt_record_bin(&u, &u.fmt[1], 102) == 0,
           "and their histograms' kept bins, 0 outside them");
    tap_ok(u.n_block == 3 && same_bits(u.block, r.block, 3 * sizeof *r.block) &&
           u.block[1].sublayer == GS_SUB_LN1 && u.block[2].rank_residual == 0x1p-40,
           "the block_stats rows come back bit for bit");
    tap_ok(u.n_head == 2 && same_bits(u.head, r.head, 2 * sizeof *r.head) && u.head[1].head == 2 &&
           u.head[1].attn_entropy == 0x1p-50, "the head_stats rows come back bit for bit");
    tap_ok(u.hist[1].layer == 2 && strcmp(u.hist[1].quantity, gs_hist_quantity_names[1]) == 0 &&
           u.hist[1].count[1] == 42 && u.hist[0].hi == 1, "the histograms come back with their quantity");
    tap_ok(back.cell == 7 && back.rank == 3 && strcmp(back.host, "node-1") == 0 &&
           strcmp(u.error, "none") == 0, "the meta and the error text come back");
    gs_result_free(&u);

    tap_ok(gs_unpack_result(buf, len - 1, &u, &back) == -1, "one byte short: refused");
    unsigned char *longer = malloc(len + 8);
    memcpy(longer, buf, len);
    memset(longer + len, 0, 8);
    tap_ok(gs_unpack_result(longer, len + 8, &u, &back) == -1, "eight bytes too many: refused");
    free(longer);
    tap_ok(gs_unpack_result(buf, 3, &u, &back) == -1, "shorter than a header: refused");
    unsigned char *bad = malloc(len);
    memcpy(bad, buf, len);
    bad[0] ^= 0xff;
    tap_ok(gs_unpack_result(bad, len, &u, &back) == -1, "a wrong magic: refused");
    /* the last histogram's quantity (its second int32) out of range */
    size_t hist_bytes = sizeof(int32_t) * 2 + 2 * sizeof(double) + GS_HIST_BINS * sizeof(long);
    tap_ok(refused_with(buf, len, len - hist_bytes + sizeof(int32_t), 99),
           "a histogram quantity out of range: refused");
    /* the last head_stats row (before the histograms): its layer 0, its
     * head 0 (both count from 1) */
    size_t hrow = len - r.n_hist * hist_bytes - sizeof(gs_head_row_t);
    tap_ok(refused_with(buf, len, hrow + offsetof(gs_head_row_t, layer), 0),
           "a head row's layer 0: refused");
    tap_ok(refused_with(buf, len, hrow + offsetof(gs_head_row_t, head), 0),
           "a head row's head 0: refused");
    /* the last block_stats row (before the head rows): its sublayer one
     * past the names, its layer 0 (blocks count from 1) */
    size_t brow = hrow - (r.n_head - 1) * sizeof(gs_head_row_t) - sizeof(gs_block_row_t);
    tap_ok(refused_with(buf, len, brow + offsetof(gs_block_row_t, sublayer), GS_N_SUBLAYERS),
           "a block row's sublayer out of range: refused");
    tap_ok(refused_with(buf, len, brow + offsetof(gs_block_row_t, layer), 0),
           "a block row's layer 0: refused");
    /* the last format record (before the block rows): its tensor one past
     * the names, its layer past depth+1 = 3 */
    size_t rec = brow - (r.n_block - 1) * sizeof(gs_block_row_t) - r.n_fmt_bins * sizeof(long) -
                 sizeof(gs_fmt_record_t);
    tap_ok(refused_with(buf, len, rec + offsetof(gs_fmt_record_t, tensor), GS_N_FMT_TENSORS),
           "a format record's tensor out of range: refused");
    tap_ok(refused_with(buf, len, rec + offsetof(gs_fmt_record_t, layer), 4),
           "a format record's layer out of range: refused");
    /* its bins (100, 101 at 1, 2 of the pool's 3) */
    tap_ok(refused_with(buf, len, rec + offsetof(gs_fmt_record_t, n_bins), 3),
           "a format record's bins past the pool: refused");
    tap_ok(refused_with(buf, len, rec + offsetof(gs_fmt_record_t, bin_first),
                        GS_FMT_HIST_BINS - 1),
           "a format record's bins past the histogram's last: refused");
    tap_ok(refused_with(buf, len, rec + offsetof(gs_fmt_record_t, bin_first), -1),
           "a format record's first bin negative: refused");
    tap_ok(refused_with(buf, len, rec + offsetof(gs_fmt_record_t, n_bins), -1),
           "a format record's bin count negative: refused");
    {
        int32_t far = 3;   /* bin_at (uint64) = 3 in its low half: past the pool */
        tap_ok(refused_with(buf, len, rec + offsetof(gs_fmt_record_t, bin_at), far),
               "a format record's bins at the pool's end: refused");
    }
    memcpy(bad, buf, len);
    tap_ok(gs_unpack_result(bad, len, &u, &back) == 0, "the untouched copy still unpacks");
    gs_result_free(&u);
    free(bad);
    free(buf);
    gs_result_free(&r);
    {   /* a transformer's result: no layer_stats rows (n_layers 0), its
         * format records per block (layer 1..depth+1) */
        gs_result_t t, tu;
        memset(&t, 0, sizeof t);
        t.n_fmt = 1;
        t.fmt = calloc(1, sizeof *t.fmt);
        t.fmt[0].layer = 3;
        t.fmt[0].tensor = GS_FT_ACTIVATION;
        size_t tlen;
        unsigned char *tb = gs_pack_result(&t, &meta, &tlen);
        int ok = tb && gs_unpack_result(tb, tlen, &tu, &back) == 0;
        tap_ok(ok && tu.n_layers == 0 && tu.n_fmt == 1 && tu.fmt[0].layer == 3,
               "a result without layer rows (a transformer's) keeps its format records' layers");
        if (ok)
            gs_result_free(&tu);
        free(tb);
        gs_result_free(&t);
    }
    size_t n_r, travelled = every_column_travels(&n_r);
    tap_ok(n_r > 30 && travelled == n_r,
           "every measured column of the result table travels (%zu of %zu)",
           travelled, n_r);
    return tap_done();
}
