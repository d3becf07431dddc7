/* gradsweep merge: shards of one sweep joined into one database
 * (store/merge.h). */
#include <config.h>

#include "store/merge.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/reuse.h"
#include "store/store.h"
#include "util/files.h"
#include "util/hash.h"

/* What one database says of its sweep. */
typedef struct {
    char *text, *path;       /* sweeps.config_text, config_path (NULL: no sweep) */
    long long seed;          /* sweeps.base_seed */
    int seeding;             /* gs_seeding_t; -1: no sweep */
    char shard[64];          /* sweeps.shard, "" for the whole sweep */
    char name[256];          /* sweeps.name */
    long runs;               /* cells stored */
} sweep_of_t;

static void sweep_of_free(sweep_of_t *w)
{
    free(w->text);
    free(w->path);
    *w = (sweep_of_t){.seeding = -1};
}

/* Read path's sweep (read-only). A live run writing it is refused: its
 * cells are not all there yet. 0, -2 (the input's fault), -1. */
static int read_sweep(const char *path, sweep_of_t *w, char *err, size_t errlen)
{
    *w = (sweep_of_t){.seeding = -1};
    gs_store_fault_t fault;
    char msg[4096], host[256];
    long pid;
    gs_store_t *st = gs_store_open_kind(path, 0, 1, &fault, msg, sizeof msg);
    if (!st) {
        snprintf(err, errlen, "merge: %s", msg);
        return fault == GS_STORE_FAULT_INPUT ? -2 : -1;
    }
    int rc = -2;
    sqlite3 *db = gs_store_handle(st);
    sqlite3_stmt *s = NULL;
    if (gs_store_live_run(st, host, sizeof host, &pid) != 0) {
        snprintf(err, errlen, "merge: a run is writing %s (host %s, pid %ld): merge it once that "
                 "run has ended", path, host, pid);
        goto out;
    }
    w->text = gs_store_config_text(st, &w->path);
    w->seeding = gs_store_seeding_of(db);
    w->runs = gs_store_count_runs(st);
    if (!w->text || w->seeding < 0) {
        snprintf(err, errlen, "merge: %s holds no sweep", path);
        goto out;
    }
    rc = -1;
    if (w->runs < 0 || sqlite3_prepare_v2(db, "SELECT base_seed, coalesce(shard, ''), name FROM "
                                              "sweeps WHERE id = 1", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        snprintf(err, errlen, "merge: reading the sweep of %s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    w->seed = (long long)sqlite3_column_int64(s, 0);
    snprintf(w->shard, sizeof w->shard, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(w->name, sizeof w->name, "%s", (const char *)sqlite3_column_text(s, 2));
    rc = 0;
out:
    sqlite3_finalize(s);
    gs_store_close(st);
    if (rc != 0)
        sweep_of_free(w);
    return rc;
}

/* Whether b is of a's sweep, as the shards of one sweep are: -2 with
 * why not (naming both), else 0. */
static int same_sweep(const sweep_of_t *a, const char *pa, const sweep_of_t *b, const char *pb,
                      char *err, size_t errlen)
{
    if (strcmp(a->name, b->name) != 0)
        snprintf(err, errlen, "merge: %s holds sweep '%s' and %s sweep '%s': not shards of one "
                 "sweep; nothing was written", pb, b->name, pa, a->name);
    else if (a->seed != b->seed)
        snprintf(err, errlen, "merge: %s was run with seed %lld and %s with seed %lld: not shards "
                 "of one sweep; nothing was written", pb, b->seed, pa, a->seed);
    else if (strcmp(a->text, b->text) != 0)
        snprintf(err, errlen, "merge: %s holds another config than %s (sweeps.config_text "
                 "differs: another sweep, or other keys or overrides): not shards of one sweep; "
                 "nothing was written", pb, pa);
    else if (a->seeding != b->seeding)
        snprintf(err, errlen, "merge: %s's cells were seeded %s and %s's %s (sweeps.seeding): a "
                 "config hash holds other numbers in each; nothing was written", pb,
                 gs_seeding_names[b->seeding], pa, gs_seeding_names[a->seeding]);
    else
        return 0;
    return -2;
}

/* Every shard read and checked against the first, and an existing out
 * against them too, before anything is written. */
static int check_all(const char *out, const char *const *shards, size_t n, sweep_of_t *first,
                     char *err, size_t errlen)
{
    int rc = read_sweep(shards[0], first, err, errlen);
    for (size_t i = 1; rc == 0 && i < n; i++) {
        sweep_of_t w;
        if ((rc = read_sweep(shards[i], &w, err, errlen)) == 0) {
            rc = same_sweep(first, shards[0], &w, shards[i], err, errlen);
            sweep_of_free(&w);
        }
    }
    struct stat sb;
    if (rc != 0 || stat(out, &sb) != 0)
        return rc;
    sweep_of_t o;
    char msg[8192];
    if ((rc = read_sweep(out, &o, msg, sizeof msg)) != 0) {
        if (strstr(msg, "holds no sweep"))
            return 0;   /* an empty database: it takes the shards' sweep */
        snprintf(err, errlen, "%s", msg);
        return rc;
    }
    if (o.runs > 0 && (rc = same_sweep(first, shards[0], &o, out, err, errlen)) == 0 &&
        o.shard[0]) {
        snprintf(err, errlen, "merge: %s holds shard %s: merge into a database of its own (the "
                 "whole sweep's); nothing was written", out, o.shard);
        rc = -2;
    }
    sweep_of_free(&o);
    return rc;
}

/* The cells of offer that out does not hold: copied from shard. */
static int take_shard(gs_store_t *st, const char *shard, gs_merge_counts_t *counts, char *err,
                      size_t errlen)
{
    gs_reuse_offer_t offer;
    uint64_t *have = NULL;
    size_t n_have = 0, n = 0;
    int rc = gs_reuse_scan_every(shard, "merge:", &offer, err, errlen);
    if (rc != 0)
        return rc;
    rc = -1;
    if (gs_store_stored_hashes(st, &have, &n_have, err, errlen) != 0)
        goto out;
    for (size_t i = 0; i < offer.n; i++)
        if (!gs_u64_contains(have, n_have, offer.hashes[i]))
            offer.hashes[n++] = offer.hashes[i];
    if (gs_reuse_copy(st, shard, offer.hashes, n, err, errlen) != 0)
        goto out;
    counts->copied += n;
    counts->duplicates += offer.n - n;
    rc = 0;
out:
    free(have);
    gs_reuse_offer_free(&offer);
    return rc;
}

int gs_store_merge(const char *out, const char *const *shards, size_t n, const char *host_name,
                   gs_merge_counts_t *counts, char *err, size_t errlen)
{
    *counts = (gs_merge_counts_t){0};
    if (n == 0) {
        snprintf(err, errlen, "merge: which shards? none given");
        return -2;
    }
    sweep_of_t first;
    gs_sweep_t sw;
    int have_sw = 0, begun = 0;
    gs_store_t *st = NULL;
    int rc = check_all(out, shards, n, &first, err, errlen);
    if (rc != 0) {
        sweep_of_free(&first);
        return rc;
    }
    rc = -2;
    char msg[4096];
    if (gs_sweep_parse(&sw, first.text, first.path ? first.path : shards[0], NULL, msg,
                       sizeof msg) != 0) {
        snprintf(err, errlen, "merge: the config %s keeps does not parse: %s", shards[0], msg);
        goto out;
    }
    have_sw = 1;
    rc = -1;
    gs_store_fault_t fault = GS_STORE_FAULT_RUNTIME;
    gs_session_info_t info = {.ranks = 1, .threads = 1, .hosts = host_name};
    if (gs_mkdirs_for(out, err, errlen) != 0 ||
        !(st = gs_store_open_kind(out, 1, 0, &fault, err, errlen))) {
        rc = fault == GS_STORE_FAULT_INPUT ? -2 : -1;
        goto out;
    }
    if ((rc = gs_store_begin_session(st, &sw, &info, err, errlen)) != 0)
        goto out;
    begun = 1;
    rc = -1;
    /* an empty out takes paired seeding (gs_store_begin_session); shards
     * of another are refused, not mixed */
    if (sw.seeding != first.seeding) {
        snprintf(err, errlen, "merge: the shards' cells were seeded %s and %s's are %s; nothing "
                 "was copied", gs_seeding_names[first.seeding], out, gs_seeding_names[sw.seeding]);
        rc = -2;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = take_shard(st, shards[i], counts, err, errlen)) != 0)
            goto out;
    long stored = gs_store_count_runs(st);
    if (stored < 0) {
        snprintf(err, errlen, "merge: counting the cells of %s failed", out);
        rc = -1;
        goto out;
    }
    counts->stored = (size_t)stored;
    counts->n_cells = sw.n_cells;
    snprintf(counts->sweep, sizeof counts->sweep, "%s", sw.name);
    snprintf(counts->config_path, sizeof counts->config_path, "%s", sw.path);
out:
    if (begun && rc == 0 && gs_store_end_session(st, GS_SESSION_DONE, 0.0, err, errlen) != 0)
        rc = -1;
    else if (begun && rc != 0)
        gs_store_end_session(st, GS_SESSION_INTERRUPTED, 0.0, msg, sizeof msg);
    gs_store_close(st);
    if (have_sw)
        gs_sweep_free(&sw);
    sweep_of_free(&first);
    return rc;
}
