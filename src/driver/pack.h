/* A cell's result as one flat byte buffer, for sending between ranks (and
 * between rank 0's compute thread and its coordinator). All ranks run the
 * same binary on the same architecture, so numbers travel as raw bytes. */
#ifndef GS_DRIVER_PACK_H
#define GS_DRIVER_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "experiment/experiment.h"

typedef struct {
    int64_t cell;        /* index into the sweep's cells */
    int rank, threads;
    double wall_s;
    char host[64];
} gs_pack_meta_t;

/* Malloc'd buffer and its length in *len; NULL when memory is short. */
void *gs_pack_result(const gs_result_t *r, const gs_pack_meta_t *meta, size_t *len);

/* Fill r (arrays allocated; free with gs_result_free) and meta. -1 when the
 * buffer is malformed. */
int gs_unpack_result(const void *buf, size_t len, gs_result_t *r, gs_pack_meta_t *meta);

#endif
