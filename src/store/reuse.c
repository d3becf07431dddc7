#include <config.h>

#include "store/reuse.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"
#include "store/store.h"
#include "util/hash.h"


void gs_reuse_offer_free(gs_reuse_offer_t *offer)
{
    if (!offer)
        return;
    free(offer->hashes);
    offer->hashes = NULL;
    offer->n = 0;
}

/* The offer of OTHER: the cells the SELECT sql lists (config_hash);
 * messages begin with what (the option or command). */
static int scan_cells(const char *other, const char *what, const char *sql,
                      gs_reuse_offer_t *offer, char *err, size_t errlen)
{
    static const char *const cols[] = {"config_hash"};
    *offer = (gs_reuse_offer_t){0};
    gs_store_fault_t fault;
    char msg[4096];
    gs_store_t *st = gs_store_open_kind(other, 0, 1, &fault, msg, sizeof msg);
    if (!st) {
        snprintf(err, errlen, "%s %s", what, msg);
        return fault == GS_STORE_FAULT_INPUT ? -2 : -1;
    }
    int rc = -1;
    size_t cap = 0;
    gs_query_t q;
    offer->seeding = gs_store_seeding_of(gs_store_handle(st));
    if (offer->seeding < 0) {
        snprintf(err, errlen, "%s %s: holds no sweep yet, so no cell to take", what, other);
        rc = -2;
        goto out;
    }
    if (gs_query_prepare(&q, gs_store_handle(st), other, sql, cols, 1, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "%s %s", what, msg);
        goto out;
    }
    int step;
    char hex[32];
    while ((step = gs_query_step(&q, msg, sizeof msg)) == 1) {
        if (offer->n == cap) {
            cap = cap ? 2 * cap : 1024;
            uint64_t *h = realloc(offer->hashes, cap * sizeof *h);
            if (!h) {
                step = -1;
                snprintf(msg, sizeof msg, "out of memory");
                break;
            }
            offer->hashes = h;
        }
        offer->hashes[offer->n++] = strtoull(gs_query_text(&q, 0, hex, sizeof hex), NULL, 16);
    }
    gs_query_finish(&q);
    if (step < 0) {
        snprintf(err, errlen, "%s %s", what, msg);
        gs_reuse_offer_free(offer);
        goto out;
    }
    gs_u64_sort(offer->hashes, offer->n);
    rc = 0;
out:
    gs_store_close(st);
    return rc;
}

int gs_reuse_scan(const char *other, gs_reuse_offer_t *offer, char *err, size_t errlen)
{
    return scan_cells(other, "--reuse", "SELECT config_hash FROM runs WHERE status IN ('done', "
                      "'diverged')", offer, err, errlen);
}

int gs_reuse_scan_every(const char *other, const char *what, gs_reuse_offer_t *offer, char *err,
                        size_t errlen)
{
    return scan_cells(other, what, "SELECT config_hash FROM runs", offer, err, errlen);
}

int gs_reuse_check_seeding(const gs_reuse_offer_t *offer, int seeding, const char *other,
                           char *err, size_t errlen)
{
    if (offer->seeding == seeding)
        return 0;
    snprintf(err, errlen, "--reuse %s: its cells were seeded %s and this run's are seeded %s "
             "(sweeps.seeding), so a cell of one config hash holds other numbers there; nothing "
             "was reused or changed. Run without --reuse", other,
             gs_seeding_names[offer->seeding], gs_seeding_names[seeding]);
    return -2;
}

static int exec(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "--reuse: %s: %s", what, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

/* The columns table has in both main and reuse, as '"a", "b"', without
 * session_id (the copy names this database's session); "" when reuse
 * lacks the table. malloc'd; NULL on error. */
static char *shared_columns(sqlite3 *db, const char *table, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    char *cols = NULL;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(group_concat('\"' || m.name || '\"', ', '), '') "
                               "FROM pragma_table_info(?1, 'main') m JOIN "
                               "pragma_table_info(?1, 'reuse') r USING (name) "
                               "WHERE m.name != 'session_id' AND instr(m.name, '\"') = 0",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "--reuse: reading the columns of %s: %s", table, sqlite3_errmsg(db));
        return NULL;
    }
    sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        cols = strdup((const char *)sqlite3_column_text(s, 0));
    if (!cols)
        snprintf(err, errlen, "--reuse: reading the columns of %s: %s", table, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return cols;
}

/* One table's rows of the cells in temp.reuse_ids: what main holds of
 * them goes, then the rows of reuse are copied by shared column name. */
static int copy_table(sqlite3 *db, const char *table, char *err, size_t errlen)
{
    int runs = strcmp(table, "runs") == 0;
    const char *id = runs ? "id" : "run_id";
    char *cols = shared_columns(db, table, err, errlen);
    if (!cols)
        return -1;
    char *del = sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE \"%w\" IN "
                                "(SELECT id FROM temp.reuse_ids)", table, id);
    char *ins = !cols[0] ? NULL
        : runs ? sqlite3_mprintf("INSERT INTO main.runs (%s, session_id) SELECT %s, "
                                 "(SELECT max(id) FROM main.sessions) FROM reuse.runs WHERE id IN "
                                 "(SELECT id FROM temp.reuse_ids)", cols, cols)
               : sqlite3_mprintf("INSERT INTO main.\"%w\" (%s) SELECT %s FROM reuse.\"%w\" WHERE "
                                 "run_id IN (SELECT id FROM temp.reuse_ids)", table, cols, cols,
                                 table);
    int rc = -1;
    if (!del || (cols[0] && !ins))
        snprintf(err, errlen, "out of memory");
    else if (exec(db, del, table, err, errlen) == 0 &&
             (!ins || exec(db, ins, table, err, errlen) == 0))
        rc = 0;
    sqlite3_free(del);
    sqlite3_free(ins);
    free(cols);
    return rc;
}

/* temp.reuse_ids: the run ids of hashes[0..n). */
static int fill_ids(sqlite3 *db, const uint64_t *hashes, size_t n, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (exec(db, "CREATE TEMP TABLE IF NOT EXISTS reuse_ids (id INTEGER PRIMARY KEY); "
                 "DELETE FROM temp.reuse_ids", "the cells to copy", err, errlen) != 0)
        return -1;
    if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO temp.reuse_ids VALUES (?1)", -1, &s,
                           NULL) != SQLITE_OK) {
        snprintf(err, errlen, "--reuse: %s", sqlite3_errmsg(db));
        return -1;
    }
    int rc = SQLITE_DONE;
    for (size_t i = 0; i < n && rc == SQLITE_DONE; i++) {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)(hashes[i] & INT64_MAX));
        rc = sqlite3_step(s);
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        snprintf(err, errlen, "--reuse: listing the cells to copy: %s", sqlite3_errmsg(db));
    return rc == SQLITE_DONE ? 0 : -1;
}

int gs_reuse_copy(gs_store_t *st, const char *other, const uint64_t *hashes, size_t n, char *err,
                  size_t errlen)
{
    if (n == 0)
        return 0;
    sqlite3 *db = gs_store_handle(st);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS reuse", -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "--reuse %s: %s", other, sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(s, 1, other, -1, SQLITE_STATIC);
    int attached = sqlite3_step(s) == SQLITE_DONE;
    sqlite3_finalize(s);
    if (!attached) {
        snprintf(err, errlen, "--reuse %s: cannot attach it: %s", other, sqlite3_errmsg(db));
        return -1;
    }
    int rc = -1;
    if (fill_ids(db, hashes, n, err, errlen) != 0 ||
        exec(db, "BEGIN IMMEDIATE", "starting the copy", err, errlen) != 0)
        goto detach;
    /* runs first: deleting a runs row takes its child rows along (ON
     * DELETE CASCADE), and the copied children reference the new one.
     * Cells this run was to compute are no longer in flight. */
    rc = exec(db, "DELETE FROM main.in_flight WHERE config_hash IN (SELECT config_hash FROM "
                  "reuse.runs WHERE id IN (SELECT id FROM temp.reuse_ids))", "in_flight", err,
              errlen);
    const char *table;
    for (size_t t = 0; rc == 0 && (table = gs_store_cell_table(t)); t++)
        rc = copy_table(db, table, err, errlen);
    if (rc == 0)
        rc = exec(db, "COMMIT", "committing the copy", err, errlen);
    if (rc != 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
detach:
    sqlite3_exec(db, "DROP TABLE IF EXISTS temp.reuse_ids; DETACH DATABASE reuse", NULL, NULL,
                 NULL);
    return rc;
}
