/* `gradsweep merge OUT.db SHARD.db...`: the databases of one sweep's
 * shards (run --shard I/N, the tasks of a Slurm array) joined into one.
 *
 * Shards are of one sweep when they hold the same config text (the
 * sweep, its keys, its seed and its overrides: sweeps.config_text) and
 * the same seeding; then a cell's config hash names the same computation
 * in each, and its rows hold the same numbers. Every shard is read and
 * checked before OUT is created or changed, so a refusal writes nothing.
 * Cells are copied whole, every status (store/reuse.c: the runs row and
 * every child table by shared column name); a cell OUT holds already,
 * or an earlier shard gave, is skipped (shards that overlap, a shard
 * given twice). OUT gets one session, the merge's, which its copied runs
 * rows name, and sweeps.shard NULL (the whole sweep): a run on it runs
 * the cells no shard stored. */
#ifndef GS_STORE_MERGE_H
#define GS_STORE_MERGE_H

#include <stddef.h>

typedef struct {
    size_t copied;       /* cells copied into OUT */
    size_t duplicates;   /* cells skipped: OUT had them already */
    size_t stored;       /* cells OUT holds now */
    size_t n_cells;      /* cells of the sweep */
    char sweep[256];     /* its name */
    char config_path[4096];   /* its config, as the shards' runs gave it */
} gs_merge_counts_t;

/* Merge shards[0..n) into out (created when missing; an existing out
 * must hold the same sweep, or none, and no shard). 0 with counts; -2
 * refused, the input's fault (shards of other sweeps, seeds or seedings,
 * a shard still being written, a file that is not a gradsweep
 * database), nothing written; -1 another failure (err says what). */
int gs_store_merge(const char *out, const char *const *shards, size_t n, const char *host_name,
                   gs_merge_counts_t *counts, char *err, size_t errlen);

#endif
