/* Storing a cell: its runs row and theory row bound by column name from
 * the result table, its series rows from their lists, all inside one
 * SAVEPOINT of the open batch. */
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

/* ---- writes ---- */

/* "INSERT INTO <table> (<head>, a, b, ...) VALUES (:<head>, :a, :b, ...)"
 * with the result table's columns of table (malloc'd; NULL: out of
 * memory). head names the columns before them, ", "-separated. */
static char *insert_sql(const char *table, const char *head, gs_col_table_t which)
{
    size_t cap = 256 + 2 * strlen(head) + 4, len = 0;
    for (size_t i = 0; i < store_n_columns; i++)
        cap += 2 * strlen(store_columns[i].name) + 6;
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    len += (size_t)snprintf(sql + len, cap - len, "INSERT INTO %s (%s", table, head);
    for (size_t i = 0; i < store_n_columns; i++)
        if (store_columns[i].table == which)
            len += (size_t)snprintf(sql + len, cap - len, ", %s", store_columns[i].name);
    len += (size_t)snprintf(sql + len, cap - len, ") VALUES (");
    for (const char *h = head; *h; h += strspn(h, ", ")) {   /* :a, :b of the head */
        size_t n = strcspn(h, ", ");
        len += (size_t)snprintf(sql + len, cap - len, "%s:%.*s", h == head ? "" : ", ", (int)n, h);
        h += n;
    }
    for (size_t i = 0; i < store_n_columns; i++)
        if (store_columns[i].table == which)
            len += (size_t)snprintf(sql + len, cap - len, ", :%s", store_columns[i].name);
    snprintf(sql + len, cap - len, ")");
    assert(len + 1 < cap);   /* cap counted every byte */
    return sql;
}

/* The parameter of each column of the result table in the INSERT of its
 * table, and of each config key in the runs INSERT: looked up by name
 * once, bound by it for every cell. */
static int find_params(gs_store_t *st, char *err, size_t errlen)
{
    char name[80];
    for (size_t i = 0; i < store_n_columns; i++) {
        snprintf(name, sizeof name, ":%s", store_columns[i].name);
        sqlite3_stmt *s = st->stmt[store_columns[i].table == GS_TABLE_RUNS ? ST_RUN : ST_THEORY];
        if ((st->col_param[i] = sqlite3_bind_parameter_index(s, name)) == 0)
            goto missing;
    }
    gs_key_info_t k;
    for (size_t j = 0; gs_cell_key_info(j, &k); j++) {
        snprintf(name, sizeof name, ":%s", k.name);
        if (j >= MAX_PARAMS)
            goto missing;
        st->key_param[j] = k.in_key ? sqlite3_bind_parameter_index(st->stmt[ST_RUN], name) : 0;
        if (k.in_key && !st->key_param[j])
            goto missing;
    }
    return 0;
missing:
    snprintf(err, errlen, "%s: the INSERT has no parameter %s (a bug)", st->path, name);
    return -1;
}

/* "INSERT INTO table (keys, a, b) VALUES (?1, ?2, ...)": the keys, then
 * the value columns in the order the put_* functions bind them; with
 * tuples > 1, that many rows "(?1, ..), (?k+1, ..)" in one statement */
static void series_insert(const char *table, const char *keys, const series_column_t *cols,
                          size_t n, int tuples, char *sql, size_t cap)
{
    size_t len = (size_t)snprintf(sql, cap, "INSERT INTO %s (%s", table, keys);
    int params = 1;
    for (const char *k = keys; (k = strchr(k, ',')); k++)
        params++;
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(sql + len, cap - len, ", %s", cols[i].name);
    params += (int)n;
    /* "?", numbered in order: "?NNN" would make preparing a statement of
     * thousands quadratic (SQLite looks each number up in a list) */
    for (int i = 1; i <= params * tuples && len < cap; i++)
        len += (size_t)snprintf(sql + len, cap - len, "%s?",
                                i == 1 ? ") VALUES (" : i % params == 1 ? "), (" : ", ");
    if (len < cap)
        snprintf(sql + len, cap - len, ")");
    assert(len + 1 < cap);   /* the statement fits */
}

int store_prepare_inserts(gs_store_t *st, char *err, size_t errlen)
{
    if (st->stmt[ST_RUN])
        return 0;
    char head[4096] = "id, config_hash, experiment, canonical_key, repeat, seed";
    gs_key_info_t k;
    for (size_t i = 0; gs_cell_key_info(i, &k); i++)
        if (k.in_key && strlen(head) + strlen(k.name) + 3 < sizeof head)
            strcat(strcat(head, ", "), k.name);
    char *runs = insert_sql("runs", head, GS_TABLE_RUNS),
         *theory = insert_sql("theory", "run_id", GS_TABLE_THEORY);
    if (!runs || !theory) {
        free(runs);
        free(theory);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = sqlite3_prepare_v3(st->db, runs, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[ST_RUN],
                                NULL) == SQLITE_OK &&
             sqlite3_prepare_v3(st->db, theory, -1, SQLITE_PREPARE_PERSISTENT,
                                &st->stmt[ST_THEORY], NULL) == SQLITE_OK ? 0 : -1;
    free(runs);
    free(theory);
    if (rc != 0)
        return store_sqlfail(st, err, errlen, "preparing inserts");
    if (find_params(st, err, errlen) != 0)
        return -1;
    static const char *const child[] = {
        NULL,
        NULL,   /* ST_LAYER .. ST_TIME: series_insert */
        NULL,
        NULL,
        NULL,
        "INSERT INTO histogram_counts (run_id, layer, quantity, lo, hi, counts)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        NULL,   /* ST_THEORY: insert_sql */
        "DELETE FROM in_flight WHERE config_hash = ?1",   /* ST_LANDED: stored, not in flight */
        NULL,   /* ST_FMT: series_insert */
        "INSERT INTO format_exponents (run_id, step, layer, tensor, exp_lo, counts)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        NULL,   /* ST_BLOCK: series_insert */
        NULL,   /* ST_HEAD: series_insert */
        NULL,   /* ST_FMT_BATCH, ST_FMT_EXP_BATCH: below */
        NULL,
    };
    _Static_assert(sizeof child / sizeof *child == ST_N, "a statement per ST_*");
    /* big enough for STORE_FMT_BATCH records' rows: 7,000 parameters */
    enum { SQL_CAP = 96 * 1024 };
    char *sql = malloc(SQL_CAP);
    if (!sql) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const store_series_t *fx = &store_series[STORE_FORMAT_STATS];
    size_t max_params = (size_t)sqlite3_limit(st->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1),
           rec_params = GS_N_FMT * (5 + fx->n);   /* the key's five and the columns */
    st->fmt_batch = max_params / rec_params < STORE_FMT_BATCH ? max_params / rec_params
                                                               : STORE_FMT_BATCH;
    st->fmt_exp_batch = max_params / 6 < STORE_FMT_BATCH ? max_params / 6 : STORE_FMT_BATCH;
    assert(st->fmt_batch >= 1 && st->fmt_exp_batch >= 1);   /* SQLite allows 999 at least */
    for (size_t i = 0; i <= STORE_N_SERIES; i++) {
        /* format_stats: a record's rows of every format in one statement
         * (fmt_batch records' in the last) */
        const store_series_t *x = i < STORE_N_SERIES ? &store_series[i] : fx;
        size_t tuples = x == fx ? GS_N_FMT * (i < STORE_N_SERIES ? 1 : st->fmt_batch) : 1;
        series_insert(x->table, x->keys, x->cols, x->n, (int)tuples, sql, SQL_CAP);
        if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                               &st->stmt[i < STORE_N_SERIES ? x->which : ST_FMT_BATCH],
                               NULL) != SQLITE_OK) {
            free(sql);
            return store_sqlfail(st, err, errlen, "preparing inserts");
        }
    }
    size_t len = (size_t)snprintf(sql, SQL_CAP, "%s", child[ST_FMT_EXP]);
    for (size_t t = 1; t < st->fmt_exp_batch; t++)   /* ?1 .. ?6 then 7, 8, ... */
        len += (size_t)snprintf(sql + len, SQL_CAP - len, ", (?, ?, ?, ?, ?, ?)");
    assert(len + 1 < SQL_CAP);
    rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[ST_FMT_EXP_BATCH],
                            NULL);
    free(sql);
    if (rc != SQLITE_OK)
        return store_sqlfail(st, err, errlen, "preparing inserts");
    for (size_t i = 0; i <= store_n_child; i++) {
        char del[128];
        snprintf(del, sizeof del, "DELETE FROM %s WHERE %s = ?1",
                 i < store_n_child ? store_child_tables[i].name : "runs", i < store_n_child ? "run_id" : "id");
        if (sqlite3_prepare_v3(st->db, del, -1, SQLITE_PREPARE_PERSISTENT, &st->clear[i], NULL) != SQLITE_OK)
            return store_sqlfail(st, err, errlen, "preparing inserts");
    }
    for (int i = 1; i < ST_N; i++)
        if (child[i] && sqlite3_prepare_v3(st->db, child[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) != SQLITE_OK)
            return store_sqlfail(st, err, errlen, "preparing inserts");
    return 0;
}


static int put_rows(gs_store_t *st, const gs_sweep_t *sw, const gs_sweep_cell_t *cell,
                    const gs_result_t *r, const gs_put_meta_t *meta, char *err, size_t errlen);

/* The cell is stored: its in_flight row goes, in the same SAVEPOINT. */
static int landed(gs_store_t *st, const gs_sweep_cell_t *cell, char *err, size_t errlen)
{
    sqlite3_bind_text(st->stmt[ST_LANDED], 1, cell->hash_hex, -1, SQLITE_STATIC);
    return store_step_reset(st, st->stmt[ST_LANDED], err, errlen, "clearing a cell in flight");
}

/* What the database holds of a cell goes before its rows are stored: a
 * failed or crashed cell that `run --retry` reruns, and the rows a runs
 * row deleted by hand left behind when the deleting connection had
 * foreign keys off (the sqlite3 shell's default). */
int store_clear_cell(gs_store_t *st, const gs_sweep_cell_t *cell, char *err, size_t errlen)
{
    for (size_t i = 0; i <= store_n_child; i++) {
        sqlite3_bind_int64(st->clear[i], 1, (sqlite3_int64)(cell->hash & INT64_MAX));
        if (store_step_reset(st, st->clear[i], err, errlen, "replacing a stored cell") != 0)
            return -1;
    }
    return 0;
}

/* One cell, all or nothing: its rows go in inside a SAVEPOINT of the open
 * batch, replacing what was stored of it, and a failure rolls back that
 * cell alone - the batch's other cells stay, and the cell, never half
 * stored, runs again next time. */
int gs_store_put(gs_store_t *st, const gs_sweep_t *sw, const gs_sweep_cell_t *cell,
                 const gs_result_t *r, const gs_put_meta_t *meta, char *err, size_t errlen)
{
    if (store_prepare_inserts(st, err, errlen) != 0 || store_open_batch(st, err, errlen) != 0)
        return -1;
    if (store_exec(st, "SAVEPOINT cell", err, errlen) != 0)
        return -1;
    if (store_clear_cell(st, cell, err, errlen) != 0 || put_rows(st, sw, cell, r, meta, err, errlen) != 0 ||
        landed(st, cell, err, errlen) != 0) {
        sqlite3_exec(st->db, "ROLLBACK TO cell; RELEASE cell", NULL, NULL, NULL);
        return -1;
    }
    if (store_exec(st, "RELEASE cell", err, errlen) != 0)
        return -1;
    st->stored++;
    return 0;
}

/* ---- the runs row and the theory row, by column name ---- */

static int param(sqlite3_stmt *s, const char *name)
{
    int i = sqlite3_bind_parameter_index(s, name);
    assert(i > 0);   /* insert_sql's head names it */
    return i;
}

/* The identity columns: id, config_hash, experiment, canonical_key,
 * repeat, seed, then every key of the canonical key. */
static void bind_cell(const gs_store_t *st, sqlite3_stmt *s, const gs_sweep_t *sw,
                      const gs_sweep_cell_t *cell)
{
    const gs_cell_t *c = &cell->cell;
    char key[2048], val[128];
    gs_cell_key(c, key, sizeof key);
    sqlite3_bind_int64(s, param(s, ":id"), (sqlite3_int64)(cell->hash & INT64_MAX));
    sqlite3_bind_text(s, param(s, ":config_hash"), cell->hash_hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, param(s, ":experiment"), sw->experiments[cell->experiment].name, -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(s, param(s, ":canonical_key"), key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, param(s, ":repeat"), c->repeat);
    sqlite3_bind_int64(s, param(s, ":seed"), (sqlite3_int64)gs_cell_seed(c));
    gs_key_info_t k;
    for (size_t j = 0; gs_cell_key_info(j, &k); j++) {
        int i = st->key_param[j];
        if (!i)
            continue;
        gs_cell_format(c, k.name, val, sizeof val);
        if (k.none_is_null && strcmp(val, "none") == 0)
            sqlite3_bind_null(s, i);
        else if (k.type == GS_KEYTYPE_INT)
            sqlite3_bind_int64(s, i, strtoll(val, NULL, 10));
        else if (k.type == GS_KEYTYPE_REAL)
            sqlite3_bind_double(s, i, strtod(val, NULL));
        else
            sqlite3_bind_text(s, i, val, -1, SQLITE_TRANSIENT);
    }
}

/* Does a column have a value for this cell (its row's `when`)? */
static int column_applies(gs_col_when_t when, const gs_cell_t *c, const gs_result_t *r)
{
    int measured = GS_STATUS_MEASURED(r->status);
    switch (when) {
    case GS_WHEN_ALWAYS: return 1;
    case GS_WHEN_MEASURED: return measured;
    case GS_WHEN_TRAINED: return measured && c->task == GS_TASK_TRAIN;
    case GS_WHEN_DIVERGED: return measured && r->diverged_step != 0;
    case GS_WHEN_FAILED: return !measured;
    }
    return 0;
}

/* Bind column k's value at *field to its parameter i (NULL when it does
 * not apply) */
_Static_assert(sizeof(gs_status_t) == sizeof(int) && sizeof(gs_diag_t) == sizeof(int) &&
                   sizeof(gs_nonfinite_t) == sizeof(int), "bind_column reads an enum as an int");
static void bind_column(sqlite3_stmt *s, int i, const gs_column_t *col, const void *field,
                        int applies)
{
    double v;
    long n;
    int e;
    if (!applies) {
        sqlite3_bind_null(s, i);
        return;
    }
    switch (col->type) {
    case GS_COL_REAL:
        memcpy(&v, field, sizeof v);
        store_bind_real(s, i, v);
        break;
    case GS_COL_REAL_INF:
        memcpy(&v, field, sizeof v);
        store_bind_real_inf(s, i, v);
        break;
    case GS_COL_INT: case GS_COL_SESSION:
        memcpy(&n, field, sizeof n);
        sqlite3_bind_int64(s, i, n);
        break;
    case GS_COL_TEXT:   /* "" is no value */
        if (*(const char *)field)
            sqlite3_bind_text(s, i, field, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(s, i);
        break;
    case GS_COL_STATUS: case GS_COL_DIAG: case GS_COL_NONFINITE: {
        size_t count;
        const char *const *names = gs_column_names(col->type, &count);
        memcpy(&e, field, sizeof e);   /* the enums are int-sized */
        assert(e >= 0 && (size_t)e < count);
        sqlite3_bind_text(s, i, names[e], -1, SQLITE_STATIC);
        break;
    }
    }
}

/* The C and P rows' values: derived from the cell and where it ran */
static void derive(const gs_store_t *st, const gs_cell_t *c, const gs_put_meta_t *meta,
                   derived_t *d)
{
    memset(d, 0, sizeof *d);
    d->sigma_w2 = gs_experiment_sigma_w2(c);
    d->sigma_b2 = c->bias_std * c->bias_std;
    d->data_seed = (long)(int64_t)gs_cell_data_seed(c);
    d->wall_s = meta->wall_s;
    d->rank = meta->rank;
    d->threads = meta->threads;
    snprintf(d->host, sizeof d->host, "%s", meta->host);
    d->session_id = st->session_id;
    gs_utc_iso(d->finished_at, sizeof d->finished_at);
}

/* Every column of table in the statement s */
static void bind_columns(const gs_store_t *st, sqlite3_stmt *s, gs_col_table_t table,
                         const gs_cell_t *c, const gs_result_t *r, const derived_t *d)
{
    for (size_t k = 0; k < store_n_columns; k++) {
        const gs_column_t *col = &store_columns[k];
        if (col->table != table)
            continue;
        const char *base = col->source == GS_SOURCE_R ? (const char *)r : (const char *)d;
        bind_column(s, st->col_param[k], col, base + col->offset, column_applies(col->when, c, r));
    }
}

static int put_run(gs_store_t *st, const gs_sweep_t *sw, const gs_sweep_cell_t *cell,
                   const gs_result_t *r, const derived_t *d, char *err, size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_RUN];
    bind_cell(st, s, sw, cell);
    bind_columns(st, s, GS_TABLE_RUNS, &cell->cell, r, d);
    return store_step_reset(st, s, err, errlen, "storing a run");
}

/* ---- the rows of the other tables ---- */

/* Bind a series row's value columns from the row struct at row, from
 * parameter i on (the keys before), and store it */
/* Binds a row's value columns from i on; the next parameter's index */
static int bind_series_row(sqlite3_stmt *s, const store_series_t *x, const char *row, int i)
{
    for (size_t k = 0; k < x->n; k++) {
        const series_column_t *col = &x->cols[k];
        if (col->is_int) {
            long v;
            memcpy(&v, row + col->offset, sizeof v);
            sqlite3_bind_int64(s, i++, v);
        } else {
            double v;
            memcpy(&v, row + col->offset, sizeof v);
            store_bind_real(s, i++, v);
        }
    }
    return i;
}

static int put_series_row(gs_store_t *st, const store_series_t *x, const char *row, int i,
                          char *err, size_t errlen)
{
    sqlite3_stmt *s = st->stmt[x->which];
    i = bind_series_row(s, x, row, i);
    assert(i == sqlite3_bind_parameter_count(s) + 1);   /* every column bound */
    char what[64];
    snprintf(what, sizeof what, "storing %s", x->table);
    return store_step_reset(st, s, err, errlen, what);
}

/* A series' rows of one cell, each bound from its struct by the
 * offsets of its table's columns (result_fields.h), in series_insert's
 * order: run_id, step, the layer or t if any, the label if any (by its
 * name), then the value columns */
static int put_series(gs_store_t *st, const store_series_t *x, sqlite3_int64 id,
                      const gs_result_t *r, char *err, size_t errlen)
{
    sqlite3_stmt *s = st->stmt[x->which];
    const char *rows, *base = (const char *)r;
    size_t n;
    memcpy(&rows, base + x->rows_at, sizeof rows);
    memcpy(&n, base + x->count_at, sizeof n);
    for (size_t j = 0; j < n; j++) {
        const char *row = rows + j * x->row_size;
        long step = 0;
        int index = (int)j + 1, i = 1;
        if (x->step_at != STORE_STEP_ZERO)
            memcpy(&step, row + x->step_at, sizeof step);
        if (x->index_at >= 0)
            memcpy(&index, row + x->index_at, sizeof index);
        sqlite3_bind_int64(s, i++, id);
        sqlite3_bind_int64(s, i++, step);
        if (x->index_at != STORE_NO_INDEX)
            sqlite3_bind_int64(s, i++, index);
        if (x->labels) {
            int32_t label;
            memcpy(&label, row + x->label_at, sizeof label);
            assert(label >= 0 && (size_t)label < x->n_labels);   /* checked on arrival */
            sqlite3_bind_text(s, i++, x->labels[label], -1, SQLITE_STATIC);
        }
        if (put_series_row(st, x, row, i, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* counts[0..n), n >= 1, as a JSON array "[c0,c1,...]" into buf (at least
 * JSON_COUNTS_CAP(n) bytes: '[', a long and a ',' or ']' each, NUL); its
 * length. */
#define JSON_COUNTS_CAP(n) ((size_t)(n) * 21 + 3)
static size_t json_counts(const long *counts, int n, char *buf, size_t cap)
{
    assert(n >= 1 && cap >= JSON_COUNTS_CAP(n));
    size_t len = 0;
    for (int b = 0; b < n; b++) {   /* snprintf's parsing of "%ld" cost more than the rest */
        buf[len++] = b ? ',' : '[';
        long v = counts[b];
        unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
        char digits[21];
        int k = 0;
        do {
            digits[k++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0)
            buf[len++] = '-';
        while (k)
            buf[len++] = digits[--k];
    }
    assert(len + 2 <= cap);
    buf[len++] = ']';
    buf[len] = '\0';
    return len;
}

/* One row a histogram: its edges and its counts as a JSON array. */
static int put_histograms(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                          size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_HIST];
    assert(sqlite3_bind_parameter_count(s) == 6);
    for (size_t h = 0; h < r->n_hist; h++) {
        const gs_hist_t *H = &r->hist[h];
        char counts[JSON_COUNTS_CAP(GS_HIST_BINS)];
        size_t len = json_counts(H->count, GS_HIST_BINS, counts, sizeof counts);
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int(s, 2, H->layer);
        sqlite3_bind_text(s, 3, H->quantity, -1, SQLITE_STATIC);
        sqlite3_bind_double(s, 4, H->lo);
        sqlite3_bind_double(s, 5, H->hi);
        sqlite3_bind_text(s, 6, counts, (int)len, SQLITE_STATIC);
        if (store_step_reset(st, s, err, errlen, "storing histograms") != 0)
            return -1;
    }
    return 0;
}

/* format_stats: a row per record and format, the key then the columns
 * of GS_FORMAT_STATS_COLUMNS (the shares and window from
 * gs_format_row); st->fmt_batch records a statement, then one */
static int put_format_stats(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                            size_t errlen)
{
    const store_series_t *x = &store_series[STORE_FORMAT_STATS];
    for (size_t j = 0; j < r->n_fmt;) {
        size_t batch = r->n_fmt - j >= st->fmt_batch ? st->fmt_batch : 1;
        sqlite3_stmt *s = st->stmt[batch > 1 ? ST_FMT_BATCH : x->which];
        int i = 1;
        for (size_t end = j + batch; j < end; j++) {
            const gs_fmt_record_t *rec = &r->fmt[j];
            for (int f = 0; f < GS_N_FMT; f++) {
                gs_format_row_t row;
                gs_format_row(rec, f, &row);
                sqlite3_bind_int64(s, i++, id);
                sqlite3_bind_int64(s, i++, rec->step);
                sqlite3_bind_int64(s, i++, rec->layer);
                sqlite3_bind_text(s, i++, gs_fmt_tensor_names[rec->tensor], -1, SQLITE_STATIC);
                sqlite3_bind_text(s, i++, gs_fmt_names[f], -1, SQLITE_STATIC);
                i = bind_series_row(s, x, (const char *)&row, i);
            }
        }
        assert(i == sqlite3_bind_parameter_count(s) + 1);   /* every column of every row bound */
        if (store_step_reset(st, s, err, errlen, "storing format_stats") != 0)
            return -1;
    }
    return 0;
}

/* format_exponents: a record's histogram from its first nonzero bin to
 * its last (the bins it keeps), as a JSON array (none when every value
 * is zero); st->fmt_exp_batch rows a statement, then one */
static int put_format_exponents(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r,
                                char *err, size_t errlen)
{
    size_t rows = 0;   /* the records with a row, and the next of them */
    for (size_t j = 0; j < r->n_fmt; j++)
        rows += r->fmt[j].n_bins > 0;
    char counts[JSON_COUNTS_CAP(GS_FMT_HIST_BINS)];
    for (size_t j = 0; rows > 0;) {
        size_t batch = rows >= st->fmt_exp_batch ? st->fmt_exp_batch : 1;
        sqlite3_stmt *s = st->stmt[batch > 1 ? ST_FMT_EXP_BATCH : ST_FMT_EXP];
        assert(sqlite3_bind_parameter_count(s) == 6 * (int)batch);
        for (int i = 0; i < 6 * (int)batch; j++) {
            const gs_fmt_record_t *rec = &r->fmt[j];
            if (rec->n_bins == 0)
                continue;
            size_t len = json_counts(r->fmt_bins + rec->bin_at, rec->n_bins, counts, sizeof counts);
            sqlite3_bind_int64(s, ++i, id);
            sqlite3_bind_int64(s, ++i, rec->step);
            sqlite3_bind_int(s, ++i, rec->layer);
            sqlite3_bind_text(s, ++i, gs_fmt_tensor_names[rec->tensor], -1, SQLITE_STATIC);
            sqlite3_bind_int(s, ++i, gs_fmt_bin_exp(rec->bin_first));
            sqlite3_bind_text(s, ++i, counts, (int)len, SQLITE_TRANSIENT);
        }
        rows -= batch;
        if (store_step_reset(st, s, err, errlen, "storing format_exponents") != 0)
            return -1;
    }
    return 0;
}

static int put_theory(gs_store_t *st, sqlite3_int64 id, const gs_cell_t *c, const gs_result_t *r,
                      const derived_t *d, char *err, size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_THEORY];
    sqlite3_bind_int64(s, param(s, ":run_id"), id);
    bind_columns(st, s, GS_TABLE_THEORY, c, r, d);
    return store_step_reset(st, s, err, errlen, "storing theory");
}

static int put_rows(gs_store_t *st, const gs_sweep_t *sw, const gs_sweep_cell_t *cell,
                    const gs_result_t *r, const gs_put_meta_t *meta, char *err, size_t errlen)
{
    const gs_cell_t *c = &cell->cell;
    sqlite3_int64 id = (sqlite3_int64)(cell->hash & INT64_MAX);
    int failed = !GS_STATUS_MEASURED(r->status);
    derived_t d;
    derive(st, c, meta, &d);
    if (put_run(st, sw, cell, r, &d, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < STORE_N_SERIES; i++)
        if (store_series[i].row_size && !(failed && store_series[i].measured_only) &&
            put_series(st, &store_series[i], id, r, err, errlen) != 0)
            return -1;
    if (put_histograms(st, id, r, err, errlen) != 0 || put_format_stats(st, id, r, err, errlen) != 0 ||
        put_format_exponents(st, id, r, err, errlen) != 0)
        return -1;
    if (!failed && (c->model == GS_MODEL_MLP || c->model == GS_MODEL_RNN))
        return put_theory(st, id, c, r, &d, err, errlen);
    return 0;
}
