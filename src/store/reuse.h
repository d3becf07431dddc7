/* `gradsweep run CONFIG --reuse OTHER.db`: cells already stored in another
 * database are copied from it instead of being run again.
 *
 * A cell is the same computation in two databases when its config_hash
 * (experiment, canonical key, base seed, repeat, thresholds) and the
 * databases' seeding (sweeps.seeding: how the weights' and batches'
 * seeds are derived) agree; its rows then hold the same numbers, so they
 * are copied - the runs row and every row of the child tables, by the
 * column names both schemas share (so that a column order that differs,
 * as ALTER TABLE leaves it in an upgraded database, cannot shift a
 * value). OTHER is opened read-only, which refuses an older schema with
 * the command that upgrades it. Only cells stored there as done or
 * diverged are taken; failed and crashed ones run. */
#ifndef GS_STORE_REUSE_H
#define GS_STORE_REUSE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* What another database offers: its seeding (gs_seeding_t) and the
 * sorted config hashes of its cells stored done or diverged. */
typedef struct {
    int seeding;
    uint64_t *hashes;
    size_t n;
} gs_reuse_offer_t;

/* Read OTHER's offer (read-only). 0; -2 when OTHER is not a usable
 * gradsweep database or holds no sweep (the input's fault: err says
 * why); -1 on another failure. */
int gs_reuse_scan(const char *other, gs_reuse_offer_t *offer, char *err, size_t errlen);
void gs_reuse_offer_free(gs_reuse_offer_t *offer);   /* NULL is fine */
/* The same offer of every cell OTHER stores, whatever its status
 * (gradsweep merge: rows copied whole); messages begin with what. */
int gs_reuse_scan_every(const char *other, const char *what, gs_reuse_offer_t *offer, char *err,
                        size_t errlen);

/* The refusal of an offer seeded otherwise than `seeding` (the seeding
 * the cells of the target are run with): 0 when they agree, else -2 with
 * a message naming both. */
int gs_reuse_check_seeding(const gs_reuse_offer_t *offer, int seeding, const char *other,
                           char *err, size_t errlen);

/* Copy the cells hashes[0..n) (each offered by OTHER) into st, in one
 * transaction that first deletes whatever st holds of them (a failed
 * cell that --retry runs again); the copied runs rows name st's latest
 * session. Outside any batch of st. 0, or -1 with nothing copied. */
int gs_reuse_copy(gs_store_t *st, const char *other, const uint64_t *hashes, size_t n, char *err,
                  size_t errlen);

#endif
