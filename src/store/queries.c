/* What a database stores: the config hashes (stored, unfinished), the
 * cells no longer in the config, the config text, each run's outcome. */
#include <config.h>

#include "store/internal.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/hash.h"

/* ---- queries ---- */

/* The config_hash of every runs row the statement selects, sorted. */
static int hashes_of(gs_store_t *st, const char *sql, uint64_t **hashes, size_t *n, char *err,
                     size_t errlen)
{
    *hashes = NULL;
    *n = 0;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return store_sqlfail(st, err, errlen, "reading stored cells");
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            uint64_t *h = realloc(*hashes, cap * sizeof *h);
            if (!h)
                break;
            *hashes = h;
        }
        const char *hex = (const char *)sqlite3_column_text(s, 0);
        (*hashes)[(*n)++] = hex ? strtoull(hex, NULL, 16) : 0;
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        gs_u64_sort(*hashes, *n);
    if (rc == SQLITE_DONE)
        return 0;
    free(*hashes);
    *hashes = NULL;
    *n = 0;
    if (rc == SQLITE_ROW) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return store_sqlfail(st, err, errlen, "reading stored cells");
}

int gs_store_stored_hashes(gs_store_t *st, uint64_t **hashes, size_t *n, char *err, size_t errlen)
{
    return hashes_of(st, "SELECT config_hash FROM runs", hashes, n, err, errlen);
}

int gs_store_unfinished_hashes(gs_store_t *st, uint64_t **hashes, size_t *n, char *err,
                               size_t errlen)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT config_hash FROM runs WHERE status IN ('%s', '%s')",
             gs_status_names[GS_STATUS_FAILED], gs_status_names[GS_STATUS_CRASHED]);
    return hashes_of(st, sql, hashes, n, err, errlen);
}

int gs_store_delete_cells(gs_store_t *st, const uint64_t *hashes, size_t n, char *err,
                          size_t errlen)
{
    store_holder_t h;
    if (store_prepare_inserts(st, err, errlen) != 0 || store_exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
    int live = store_find_live(st, &h, 0, 0);
    if (live) {
        snprintf(err, errlen, "%s: a run is writing this database (host %s, pid %ld); nothing "
                 "was deleted", st->path, h.host, h.pid);
        goto rollback;
    }
    for (size_t i = 0; i < n; i++) {
        gs_sweep_cell_t cell = {.hash = hashes[i]};
        if (store_clear_cell(st, &cell, err, errlen) != 0)
            goto rollback;
    }
    if (store_exec(st, "COMMIT", err, errlen) == 0)
        return 0;
rollback:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

long gs_store_orphans(const gs_sweep_t *sw, const uint64_t *stored, size_t n, uint64_t *out)
{
    uint64_t *mine = malloc((sw->n_cells + 1) * sizeof *mine);
    if (!mine)
        return -1;
    for (size_t i = 0; i < sw->n_cells; i++)
        mine[i] = sw->cells[i].hash;
    gs_u64_sort(mine, sw->n_cells);
    long k = 0;
    for (size_t i = 0; i < n; i++)
        if (!gs_u64_contains(mine, sw->n_cells, stored[i])) {
            if (out)
                out[k] = stored[i];
            k++;
        }
    free(mine);
    return k;
}

long gs_store_count_runs(gs_store_t *st)
{
    return store_pragma_int(st, "SELECT count(*) FROM runs");
}

char *gs_store_config_text(gs_store_t *st, char **path)
{
    return gs_store_config_text_of(st->db, path);
}

char *gs_store_config_text_of(sqlite3 *db, char **path)
{
    sqlite3_stmt *s;
    char *text = NULL;
    if (path)
        *path = NULL;
    if (sqlite3_prepare_v2(db, "SELECT config_text, config_path FROM sweeps WHERE id = 1", -1,
                           &s, NULL) != SQLITE_OK)
        return NULL;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
        text = strdup((const char *)sqlite3_column_text(s, 0));
        if (path && sqlite3_column_text(s, 1))
            *path = strdup((const char *)sqlite3_column_text(s, 1));
    }
    sqlite3_finalize(s);
    return text;
}

int gs_store_each_run(gs_store_t *st, gs_run_cb_t cb, void *ctx, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT config_hash, status, diagnosis, diagnosis_final, "
                                   "error FROM runs", -1, &s, NULL) != SQLITE_OK)
        return store_sqlfail(st, err, errlen, "reading runs");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *hex = (const char *)sqlite3_column_text(s, 0);
        cb(ctx, hex ? strtoull(hex, NULL, 16) : 0, (const char *)sqlite3_column_text(s, 1),
           (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3),
           (const char *)sqlite3_column_text(s, 4));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_sqlfail(st, err, errlen, "reading runs");
    return 0;
}
