/* An older database upgraded in place, in one transaction: the result
 * table's new columns, wider CHECK lists, the foreign keys, histograms one
 * row each (docs/architecture.md, "The store"). */
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

/* ---- migration ---- */

/* Widen the CHECK list of runs.<column> from old_in, the literal list of
 * the version that wrote it, to today's (version 4 added the status
 * 'crashed', version 5 the diagnosis 'dead'). SQLite cannot ALTER a CHECK constraint; widening one
 * is the edit of the stored CREATE TABLE text that SQLite's ALTER TABLE
 * documentation describes (writable_schema, then a new schema_version):
 * every stored row satisfies the wider list, so nothing on disk changes.
 * A list that is already the wide one (a column that a migration added
 * with today's names) is left alone. */
static int widen_check(gs_store_t *st, const char *column, const char *old_in, char *err,
                       size_t errlen)
{
    char new_in[256], from[300], to[300];
    const char *const *names = NULL;
    size_t n = 0;
    for (size_t i = 0; i < store_n_columns && !names; i++)
        if (strcmp(store_columns[i].name, column) == 0)
            names = gs_column_names(store_columns[i].type, &n);
    assert(names != NULL);   /* a choice column of the result table */
    store_names_in(new_in, sizeof new_in, names, n);
    snprintf(from, sizeof from, "(%s IN (%s))", column, old_in);
    snprintf(to, sizeof to, "(%s IN (%s))", column, new_in);
    sqlite3_stmt *s = NULL;
    char *sql = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT sql FROM sqlite_schema WHERE type = 'table' AND "
                                   "name = 'runs'", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        store_sqlfail(st, err, errlen, "reading the runs table's definition");
        goto out;
    }
    const char *def = (const char *)sqlite3_column_text(s, 0);
    const char *at = def ? strstr(def, from) : NULL;
    if (!at && def && strstr(def, to)) {
        rc = 0;   /* wide already */
        goto out;
    }
    if (!at) {
        snprintf(err, errlen, "%s: runs.%s has no CHECK list (%s) to widen; not a database "
                 "gradsweep wrote", st->path, column, old_in);
        goto out;
    }
    size_t cap = strlen(def) + strlen(to) + 1;
    if (!(sql = malloc(cap))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf(sql, cap, "%.*s%s%s", (int)(at - def), def, to, at + strlen(from));
    sqlite3_finalize(s);
    s = NULL;
    long version = store_pragma_int(st, "PRAGMA schema_version");
    char bump[64];
    snprintf(bump, sizeof bump, "PRAGMA schema_version = %ld", version + 1);
    if (version < 0 || store_exec(st, "PRAGMA writable_schema = ON", err, errlen) != 0)
        goto out;
    if (sqlite3_prepare_v2(st->db, "UPDATE sqlite_schema SET sql = ?1 WHERE type = 'table' AND "
                                   "name = 'runs'", -1, &s, NULL) != SQLITE_OK) {
        store_sqlfail(st, err, errlen, "widening a CHECK list of runs");
    } else {
        sqlite3_bind_text(s, 1, sql, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            store_sqlfail(st, err, errlen, "widening a CHECK list of runs");
        else if (store_exec(st, bump, err, errlen) == 0)
            rc = 0;
    }
    sqlite3_exec(st->db, "PRAGMA writable_schema = OFF", NULL, NULL, NULL);
out:
    sqlite3_finalize(s);
    free(sql);
    return rc;
}

/* Columns new_<table> and <table> share, as '"a", "b"' (malloc'd; NULL
 * on error, err set). */
static char *shared_columns(gs_store_t *st, const char *table, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    char newname[96], *cols = NULL;
    snprintf(newname, sizeof newname, "new_%s", table);
    if (sqlite3_prepare_v2(st->db, "SELECT group_concat('\"' || n.name || '\"', ', ') FROM "
                                   "pragma_table_info(?1) n JOIN pragma_table_info(?2) o "
                                   "USING (name) WHERE instr(n.name, '\"') = 0",
                           -1, &s, NULL) != SQLITE_OK) {
        store_sqlfail(st, err, errlen, "reading a table's columns");
        return NULL;
    }
    sqlite3_bind_text(s, 1, newname, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, table, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        cols = strdup((const char *)sqlite3_column_text(s, 0));
    if (!cols)
        store_sqlfail(st, err, errlen, "reading a table's columns");
    sqlite3_finalize(s);
    return cols;
}

/* Version 6: every child table's run_id references runs(id) ON DELETE
 * CASCADE. SQLite cannot add a foreign key to a table, so each is
 * rebuilt by the procedure of SQLite's ALTER TABLE page ("making other
 * kinds of table schema changes"): with foreign keys off (the caller's
 * part), create new_X, copy the rows, drop X, rename new_X to X. Rows of
 * cells that are no longer stored (a runs row deleted by hand before
 * version 6) are not copied: they would fail the foreign key check and
 * block the cell's rerun. The summary view, which names layer_stats, is
 * dropped first and recreated by the schema. */
static int rebuild_children(gs_store_t *st, long ver, char *err, size_t errlen)
{
    if (store_exec(st, "DROP VIEW IF EXISTS summary", err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < store_n_child; i++) {
        const char *t = store_child_tables[i].name;
        if (ver < store_child_tables[i].since)
            continue;   /* created with its foreign key by the schema */
        char newname[96], sql[1024];
        snprintf(newname, sizeof newname, "new_%s", t);
        char *create = store_table_sql(t, newname), *cols = NULL;
        int rc = -1;
        if (!create) {
            snprintf(err, errlen, "%s: no definition of %s in the schema", st->path, t);
            return -1;
        }
        if (store_exec(st, create, err, errlen) == 0 && (cols = shared_columns(st, t, err, errlen))) {
            char *copy = sqlite3_mprintf("INSERT INTO \"%w\" (%s) SELECT %s FROM \"%w\" WHERE "
                                         "run_id IN (SELECT id FROM runs)", newname, cols, cols, t);
            snprintf(sql, sizeof sql, "DROP TABLE \"%s\"; ALTER TABLE \"%s\" RENAME TO \"%s\"",
                     t, newname, t);
            rc = copy && store_exec(st, copy, err, errlen) == 0 && store_exec(st, sql, err, errlen) == 0 ? 0 : -1;
            if (!copy)
                snprintf(err, errlen, "out of memory");
            sqlite3_free(copy);
        }
        free(create);
        free(cols);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Foreign keys are checked after a rebuild: a violation left would make
 * every later write of its cell fail. */
static int foreign_keys_hold(gs_store_t *st, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "PRAGMA foreign_key_check", -1, &s, NULL) != SQLITE_OK)
        return store_sqlfail(st, err, errlen, "checking foreign keys");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        snprintf(err, errlen, "%s: table %s has a row whose %s does not exist; not upgraded",
                 st->path, (const char *)sqlite3_column_text(s, 0),
                 (const char *)sqlite3_column_text(s, 2));
    else if (rc != SQLITE_DONE)
        store_sqlfail(st, err, errlen, "checking foreign keys");
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Version 7 stores a histogram as one row (histogram_counts: its edges
 * and its counts as a JSON array) where versions 1-6 stored a row per bin
 * (histograms, now a view giving that shape). The old rows of the cells
 * stored are copied - the first bin's lower edge, the last one's upper
 * edge, the counts in bin order - and compared with the view, bin by
 * bin, before the old table goes: json_group_array takes the rows in the
 * order its subquery gives them, which SQLite does not promise. */
static int histograms_one_row(gs_store_t *st, char *err, size_t errlen)
{
    char *create = store_table_sql("histogram_counts", "histogram_counts");
    if (!create) {
        snprintf(err, errlen, "%s: no definition of histogram_counts in the schema", st->path);
        return -1;
    }
    int rc = store_exec(st, create, err, errlen);
    free(create);
    if (rc != 0 ||
        store_exec(st, "INSERT INTO histogram_counts (run_id, layer, quantity, lo, hi, counts) "
                 "SELECT run_id, layer, quantity, min(lo), max(hi), json_group_array(count) "
                 "FROM (SELECT * FROM histograms WHERE run_id IN (SELECT id FROM runs) "
                 "ORDER BY run_id, layer, quantity, bin) GROUP BY run_id, layer, quantity",
             err, errlen) != 0)
        return -1;
    long differ = store_pragma_int(st, "SELECT count(*) FROM histograms o WHERE o.run_id IN "
                                 "(SELECT id FROM runs) AND o.count IS NOT (SELECT j.value FROM "
                                 "histogram_counts h, json_each(h.counts) j WHERE h.run_id = "
                                 "o.run_id AND h.layer = o.layer AND h.quantity = o.quantity "
                                 "AND j.key = o.bin)");
    if (differ != 0) {
        snprintf(err, errlen, "%s: %s; not upgraded", st->path, differ < 0 ?
                 "the histograms could not be read back" : "the histograms' bins are not "
                 "0, 1, 2, ... of each weight matrix (edited by hand?)");
        return -1;
    }
    return store_exec(st, "DROP TABLE histograms", err, errlen);
}

/* Before version 7 a runs row deleted by hand with foreign keys off (the
 * sqlite3 shell's default) left its rows behind, and storing the cell
 * again replaced them (clear_cell). The upgrade checks the foreign keys
 * of every table, so those rows go first, as version 6's rebuild dropped
 * them. */
static int drop_orphans(gs_store_t *st, long ver, char *err, size_t errlen)
{
    for (size_t i = 0; i < store_n_child; i++) {
        if (ver < store_child_tables[i].since)
            continue;   /* not there yet */
        char sql[256];
        snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE run_id NOT IN (SELECT id FROM runs)",
                 store_child_tables[i].name);
        if (store_exec(st, sql, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Version 8 (run --shard, gradsweep merge): sweeps.shard, the shard a
 * database holds; NULL, the whole sweep, for every database before. */
static int migrate_v8_shard(gs_store_t *st, char *err, size_t errlen)
{
    if (store_pragma_int(st, "SELECT count(*) FROM pragma_table_info('sweeps') "
                             "WHERE name = 'shard'") != 0)
        return 0;
    return store_exec(st, "ALTER TABLE sweeps ADD COLUMN shard TEXT", err, errlen);
}

/* Version 8: sessions.pid_start, the start time of the process that
 * holds a session, so that a rerun on its host tells a live holder from
 * a pid the system has given to another process. The sessions written
 * before keep NULL (their pid alone is checked). */
static int sessions_pid_start(gs_store_t *st, char *err, size_t errlen)
{
    if (store_pragma_int(st, "SELECT count(*) FROM pragma_table_info('sessions') "
                             "WHERE name = 'pid_start'") != 0)
        return 0;
    return store_exec(st, "ALTER TABLE sessions ADD COLUMN pid_start INTEGER", err, errlen);
}

/* Version 8: the value columns a series table lacks (train_log's
 * heldout_loss and heldout_acc, issue 18), added by ALTER TABLE: NULL for
 * the rows stored before, as for a run that evaluated nothing. A table
 * the schema creates whole below, or one that a rebuild (version 6) made
 * from today's definition, has them already. */
static int series_columns_added(gs_store_t *st, char *err, size_t errlen)
{
    for (size_t i = 0; i < STORE_N_SERIES; i++) {
        const store_series_t *x = &store_series[i];
        if (store_pragma_int_text(st, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
                                      "AND name = ?1", x->table) == 0)
            continue;
        char has[128];
        snprintf(has, sizeof has, "SELECT count(*) FROM pragma_table_info('%s') WHERE name = ?1",
                 x->table);
        for (size_t k = 0; k < x->n; k++) {
            long n = store_pragma_int_text(st, has, x->cols[k].name);
            if (n < 0) {
                store_sqlfail(st, err, errlen, "reading a series table's columns");
                return -1;
            }
            if (n > 0)
                continue;
            char sql[256];
            snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", x->table,
                     x->cols[k].name, x->cols[k].sql_type);
            if (store_exec(st, sql, err, errlen) != 0)
                return -1;
        }
    }
    return 0;
}

/* Version 9 (issue 21, transformers): the diagnosis 'collapsed' widens
 * the CHECK lists of runs.diagnosis and diagnosis_final from version 5's
 * (a list already wide - written by version 4's widening today - is left
 * alone). Its other parts need no step: the table block_stats comes from
 * the schema's CREATE ... IF NOT EXISTS, runs.output_change from the
 * result table and the transformer's keys (heads, ffn, vocab, ln,
 * residual_scale, skip, mlp, causal, dropout, qk_norm) from the config keys' loop - NULL,
 * their default, for the cells stored before. */
static int migrate_v9_collapsed(gs_store_t *st, char *err, size_t errlen)
{
    static const char diag_v5[] = "'healthy', 'vanishing', 'exploding', 'diverged', 'dead'";
    if (widen_check(st, "diagnosis", diag_v5, err, errlen) != 0)
        return -1;
    return widen_check(st, "diagnosis_final", diag_v5, err, errlen);
}

/* Upgrade an older database in place, in one transaction: ALTER TABLE
 * adds the columns runs gained in versions 2 and 5 (NULL for the cells
 * stored before), and the schema's CREATE ... IF NOT EXISTS adds the
 * tables of versions 2 (train_layer_log) and 3 (theory; its rows stay
 * missing for the cells stored before); version 4 widens runs.status's
 * CHECK list (widen_check) and adds in_flight; version 5 widens the
 * diagnoses' lists ('dead') and adds sweeps.seeding (NULL: the cells
 * stored keep their per-cell seeds); version 7 turns the histograms' rows
 * per bin into rows per histogram (histograms_one_row), dropping the rows
 * of cells whose runs row is gone (drop_orphans); version 8 adds
 * sessions.pid_start (sessions_pid_start), sweeps.shard
 * (migrate_v8_shard), train_log's held-out columns
 * (series_columns_added) and, through the result table,
 * runs.heldout_rows; its tables format_stats and format_exponents and
 * the views format_exponent_bins and loss_scale_window come from the
 * schema's CREATE ... IF NOT EXISTS, the runs column format_stats from
 * the config keys' loop (NULL, i.e. no, for the cells stored before);
 * version 9 widens the diagnoses' lists ('collapsed', migrate_v9_collapsed),
 * adds runs.warmup through the config keys' loop (NULL, i.e. 0: no
 * warm-up, for the cells stored before), the config keys precision,
 * master_weights, loss_scale and rounding (the keys' loop: NULL, i.e.
 * float64 and the defaults), through the result table
 * runs.output_change, runs.loss_scale_final, runs.skipped_steps and
 * runs.diverged_sublayer, and
 * train_layer_log.lost_update_frac (series_columns_added). */
int store_migrate(gs_store_t *st, long ver, char *err, size_t errlen)
{
    if (ver < 1) {
        snprintf(err, errlen, "%s: schema version %ld is not one gradsweep ever wrote", st->path,
                 ver);
        return -1;
    }
    /* foreign keys off for the rebuild of version 6 (a no-op inside a
     * transaction, so before it), on again whatever happens */
    if (store_exec(st, "PRAGMA foreign_keys = OFF", err, errlen) != 0)
        return -1;
    if (store_exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
        goto fail;
    /* config keys added since (spectrum, version 3): NULL is their default */
    gs_key_info_t k;
    for (size_t i = 0; gs_cell_key_info(i, &k); i++) {
        if (!k.in_key || store_pragma_int_text(st, "SELECT count(*) FROM pragma_table_info('runs') "
                                              "WHERE name = ?1", k.name) != 0)
            continue;
        char sql[256];
        snprintf(sql, sizeof sql, "ALTER TABLE runs ADD COLUMN %s %s", k.name,
                 k.type == GS_KEYTYPE_INT ? "INTEGER" : k.type == GS_KEYTYPE_REAL ? "REAL" : "TEXT");
        if (store_exec(st, sql, err, errlen) != 0)
            goto fail;
    }
    /* the result table's columns an existing table lacks (those of
     * versions after ver; a table younger than ver comes whole from the
     * schema below) */
    for (size_t i = 0; i < store_n_columns; i++) {
        const char *table = store_columns[i].table == GS_TABLE_RUNS ? "runs" : "theory";
        char col[512], sql[640], has[128];
        snprintf(has, sizeof has, "SELECT count(*) FROM pragma_table_info('%s')", table);
        if (store_columns[i].since <= ver || store_pragma_int(st, has) == 0 ||
            store_pragma_int_text(st, strcat(has, " WHERE name = ?1"), store_columns[i].name) != 0)
            continue;
        store_column_sql(&store_columns[i], col, sizeof col);
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s", table, col);
        if (store_exec(st, sql, err, errlen) != 0)
            goto fail;
    }
    static const char status_v3[] = "'done', 'diverged', 'failed'",
                      diag_v4[] = "'healthy', 'vanishing', 'exploding', 'diverged'";
    if (ver < 4 && widen_check(st, "status", status_v3, err, errlen) != 0)
        goto fail;
    if (ver < 5 && (widen_check(st, "diagnosis", diag_v4, err, errlen) != 0 ||
                    widen_check(st, "diagnosis_final", diag_v4, err, errlen) != 0 ||
                    store_exec(st, "ALTER TABLE sweeps ADD COLUMN seeding TEXT", err, errlen) != 0 ||
                    store_exec(st, "DROP VIEW IF EXISTS summary", err, errlen) != 0))
        goto fail;
    if (ver < 6 && rebuild_children(st, ver, err, errlen) != 0)
        goto fail;
    if (ver < 7 && (drop_orphans(st, ver, err, errlen) != 0 ||
                    histograms_one_row(st, err, errlen) != 0))
        goto fail;
    /* a version-7 database may hold rows orphaned by a runs row deleted
     * with foreign keys off (the sqlite3 shell's default): the upgrade's
     * foreign_key_check would refuse them */
    if (ver == 7 && drop_orphans(st, ver, err, errlen) != 0)
        goto fail;
    if (ver < 8 && (migrate_v8_shard(st, err, errlen) != 0 ||
                    sessions_pid_start(st, err, errlen) != 0))
        goto fail;
    /* the series tables' value columns of versions 8 (train_log's
     * held-out ones) and 9 (train_layer_log.lost_update_frac): only those
     * a table lacks, so any number of versions' lists merge here */
    if (ver < 9 && series_columns_added(st, err, errlen) != 0)
        goto fail;
    if (ver >= 5 && ver < 9 && migrate_v9_collapsed(st, err, errlen) != 0)
        goto fail;   /* (before 5 the widening of version 5 makes today's list) */
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", GS_SCHEMA_VERSION);
    if (store_exec(st, gs_store_schema_sql(), err, errlen) != 0 || store_exec(st, pragma, err, errlen) != 0 ||
        foreign_keys_hold(st, err, errlen) != 0 || store_exec(st, "COMMIT", err, errlen) != 0)
        goto fail;
    return store_exec(st, "PRAGMA foreign_keys = ON", err, errlen);
fail:
    sqlite3_exec(st->db, "ROLLBACK; PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    return -1;
}
