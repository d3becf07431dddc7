#include <config.h>

#include "driver/pack.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define PACK_MAGIC 0x47535239u   /* "GSR9": the header is the result table's (and n_fmt_bins) */

/* A column on the wire: fixed sizes, enums as int32 (checked in range on
 * arrival), text as its whole buffer. */
#define WIRE_REAL(name) double name;
#define WIRE_REAL_INF(name) double name;
#define WIRE_INT(name) int64_t name;
#define WIRE_TEXT(name) char name[GS_TEXT_MAX];
#define WIRE_STATUS(name) int32_t name;
#define WIRE_DIAG(name) int32_t name;
#define WIRE_NONFINITE(name) int32_t name;
#define WIRE_FIELD(name, type, table, since, when, help) WIRE_##type(name)

typedef struct {
    uint32_t magic;
    gs_pack_meta_t meta;
    GS_RUN_COLUMNS(WIRE_FIELD, GS_COLUMN_SKIP, GS_COLUMN_SKIP)
    uint64_t n_layers, n_time, n_log, n_layer_log, n_hist, n_fmt, n_fmt_bins, n_block, n_head;
} header_t;

typedef struct {
    int32_t layer, quantity;
    double lo, hi;
    long count[GS_HIST_BINS];
} hist_wire_t;

/* Copying a column between gs_result_t and the header, each way (text
 * arrives NUL-terminated whatever was sent) */
#define COPY_SCALAR(dst, src) (dst) = (src);
#define COPY_REAL COPY_SCALAR
#define COPY_REAL_INF COPY_SCALAR
#define COPY_INT COPY_SCALAR
#define COPY_STATUS COPY_SCALAR
#define COPY_DIAG COPY_SCALAR
#define COPY_NONFINITE COPY_SCALAR
#define COPY_TEXT(dst, src)                                                                        \
    memcpy(dst, src, sizeof(dst));                                                                 \
    (dst)[sizeof(dst) - 1] = '\0';
#define TO_WIRE(name, type, table, since, when, help) COPY_##type(h->name, r->name)
#define FROM_WIRE(name, type, table, since, when, help) COPY_##type(r->name, h->name)
/* An enum column's value within its names */
#define VALID_REAL(v) 1
#define VALID_REAL_INF(v) 1
#define VALID_INT(v) 1
#define VALID_TEXT(v) 1
#define VALID_STATUS(v) ((v) >= 0 && (v) < GS_N_STATUS)
#define VALID_DIAG(v) ((v) >= 0 && (v) < GS_N_DIAG)
#define VALID_NONFINITE(v) ((v) >= 0 && (v) < GS_N_NONFINITE)
#define VALID(name, type, table, since, when, help) &&VALID_##type(h->name)
#define COUNTS(X)                                                                          \
    X(n_layers) X(n_time) X(n_log) X(n_layer_log) X(n_hist) X(n_fmt) X(n_fmt_bins) X(n_block)  \
    X(n_head)

/* Bytes of a packed result whose arrays have the counts of h. */
static size_t packed_size(const header_t *h)
{
    const gs_result_t *r = NULL;   /* for the element sizes only */
    return sizeof *h + h->n_layers * sizeof *r->layers + h->n_time * sizeof *r->time +
           h->n_log * sizeof *r->log + h->n_layer_log * sizeof *r->layer_log +
           h->n_hist * sizeof(hist_wire_t) + h->n_fmt * sizeof *r->fmt +
           h->n_fmt_bins * sizeof *r->fmt_bins +
           h->n_block * sizeof *r->block + h->n_head * sizeof *r->head;
}

static void header_of(const gs_result_t *r, const gs_pack_meta_t *meta, header_t *h)
{
    memset(h, 0, sizeof *h);
    h->magic = PACK_MAGIC;
    GS_RUN_COLUMNS(TO_WIRE, GS_COLUMN_SKIP, GS_COLUMN_SKIP)
#define COUNT_TO_WIRE(f) h->f = r->f;
    COUNTS(COUNT_TO_WIRE)
#undef COUNT_TO_WIRE
    h->meta = *meta;
}

/* header_of's inverse (the arrays are not there yet) */
static void result_of(const header_t *h, gs_result_t *r)
{
    GS_RUN_COLUMNS(FROM_WIRE, GS_COLUMN_SKIP, GS_COLUMN_SKIP)
#define COUNT_FROM_WIRE(f) r->f = h->f;
    COUNTS(COUNT_FROM_WIRE)
#undef COUNT_FROM_WIRE
}

/* A histogram on the wire: its quantity by index in gs_hist_quantity_names. */
static hist_wire_t hist_to_wire(const gs_hist_t *hist)
{
    hist_wire_t w;
    memset(&w, 0, sizeof w);
    w.layer = hist->layer;
    w.quantity = 0;
    while (w.quantity + 1 < GS_N_HIST_QUANTITIES &&
           strcmp(hist->quantity, gs_hist_quantity_names[w.quantity]) != 0)
        w.quantity++;
    w.lo = hist->lo;
    w.hi = hist->hi;
    memcpy(w.count, hist->count, sizeof w.count);
    return w;
}

void *gs_pack_result(const gs_result_t *r, const gs_pack_meta_t *meta, size_t *len)
{
    header_t h;
    header_of(r, meta, &h);
    size_t n = packed_size(&h);
    unsigned char *buf = malloc(n), *p = buf;
    if (!buf)
        return NULL;
    memcpy(p, &h, sizeof h);
    p += sizeof h;
#define PUT(arr, cnt)                                 \
    do {                                              \
        if (cnt) {                                    \
            memcpy(p, arr, (cnt) * sizeof *(arr));    \
            p += (cnt) * sizeof *(arr);               \
        }                                             \
    } while (0)
    PUT(r->layers, r->n_layers);
    PUT(r->time, r->n_time);
    PUT(r->log, r->n_log);
    PUT(r->layer_log, r->n_layer_log);
    PUT(r->fmt, r->n_fmt);
    PUT(r->fmt_bins, r->n_fmt_bins);
    PUT(r->block, r->n_block);
    PUT(r->head, r->n_head);
#undef PUT
    for (size_t i = 0; i < r->n_hist; i++) {
        hist_wire_t w = hist_to_wire(&r->hist[i]);
        memcpy(p, &w, sizeof w);
        p += sizeof w;
    }
    assert(p == buf + n);   /* packed_size counted every byte written */
    *len = n;
    return buf;
}

/* A header a rank could have sent: the magic, counts within bounds (one
 * layer-log row per logged step and layer), and every enum in its range. */
static int header_valid(const header_t *h)
{
    return h->magic == PACK_MAGIC && h->n_layers <= 1u << 20 && h->n_time <= 1u << 24 &&
           h->n_log <= 1u << 30 && h->n_layer_log <= 1u << 30 && h->n_hist <= 1u << 20 &&
           h->n_fmt <= 1u << 24 && h->n_fmt_bins <= h->n_fmt * GS_FMT_HIST_BINS &&
           h->n_block <= 1u << 24 && h->n_head <= 1u << 24 &&
           h->n_layer_log == h->n_log * h->n_layers
           GS_RUN_COLUMNS(VALID, GS_COLUMN_SKIP, GS_COLUMN_SKIP);
}

/* The arrays of r (its counts set) from the bytes at p, which end at end.
 * -1 when memory is short or a histogram's quantity is not one of the
 * names, or a format record's tensor or layer out of range. */
static int unpack_arrays(const unsigned char *p, const unsigned char *end, gs_result_t *r)
{
    r->layers = malloc((r->n_layers + 1) * sizeof *r->layers);
    r->time = malloc((r->n_time + 1) * sizeof *r->time);
    r->log = malloc((r->n_log + 1) * sizeof *r->log);
    r->layer_log = malloc((r->n_layer_log + 1) * sizeof *r->layer_log);
    r->hist = malloc((r->n_hist + 1) * sizeof *r->hist);
    r->fmt = malloc((r->n_fmt + 1) * sizeof *r->fmt);
    r->fmt_bins = malloc((r->n_fmt_bins + 1) * sizeof *r->fmt_bins);
    r->block = malloc((r->n_block + 1) * sizeof *r->block);
    r->head = malloc((r->n_head + 1) * sizeof *r->head);
    if (!r->layers || !r->time || !r->log || !r->layer_log || !r->hist || !r->fmt || !r->fmt_bins ||
        !r->block || !r->head)
        return -1;
#define GET(arr, cnt)                                 \
    do {                                              \
        memcpy(arr, p, (cnt) * sizeof *(arr));        \
        p += (cnt) * sizeof *(arr);                   \
    } while (0)
    GET(r->layers, r->n_layers);
    GET(r->time, r->n_time);
    GET(r->log, r->n_log);
    GET(r->layer_log, r->n_layer_log);
    GET(r->fmt, r->n_fmt);
    GET(r->fmt_bins, r->n_fmt_bins);
    GET(r->block, r->n_block);
    GET(r->head, r->n_head);
#undef GET
    for (size_t i = 0; i < r->n_fmt; i++)   /* stored by name: one of the names */
        if (r->fmt[i].tensor < 0 || r->fmt[i].tensor >= GS_N_FMT_TENSORS ||
            r->fmt[i].layer < 1 ||
            (r->n_layers && (uint64_t)r->fmt[i].layer > r->n_layers) ||   /* transformer: 0 */
            r->fmt[i].bin_first < 0 || r->fmt[i].n_bins < 0 ||
            r->fmt[i].n_bins > GS_FMT_HIST_BINS - r->fmt[i].bin_first ||
            r->fmt[i].bin_at > r->n_fmt_bins ||
            (uint64_t)r->fmt[i].n_bins > r->n_fmt_bins - r->fmt[i].bin_at)
            return -1;   /* and its bins within the histogram and the pool */
    for (size_t i = 0; i < r->n_block; i++)   /* a sublayer is stored by name */
        if (r->block[i].sublayer < 0 || r->block[i].sublayer >= GS_N_SUBLAYERS ||
            r->block[i].layer < 1)
            return -1;
    for (size_t i = 0; i < r->n_head; i++)
        if (r->head[i].layer < 1 || r->head[i].head < 1)
            return -1;
    for (size_t i = 0; i < r->n_hist; i++) {
        hist_wire_t w;
        memcpy(&w, p, sizeof w);
        p += sizeof w;
        if (w.quantity < 0 || w.quantity >= GS_N_HIST_QUANTITIES)
            return -1;
        r->hist[i].layer = w.layer;
        r->hist[i].quantity = gs_hist_quantity_names[w.quantity];
        r->hist[i].lo = w.lo;
        r->hist[i].hi = w.hi;
        memcpy(r->hist[i].count, w.count, sizeof w.count);
    }
    assert(p == end);   /* the length was checked against packed_size */
    (void)end;
    return 0;
}

int gs_unpack_result(const void *buf, size_t len, gs_result_t *r, gs_pack_meta_t *meta)
{
    memset(r, 0, sizeof *r);
    header_t h;
    if (len < sizeof h)
        return -1;
    memcpy(&h, buf, sizeof h);
    if (!header_valid(&h) || packed_size(&h) != len)
        return -1;
    *meta = h.meta;
    meta->host[sizeof meta->host - 1] = '\0';
    result_of(&h, r);
    const unsigned char *bytes = buf;
    if (unpack_arrays(bytes + sizeof h, bytes + len, r) != 0) {
        gs_result_free(r);
        return -1;
    }
    return 0;
}
