#include <config.h>

#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/hash.h"

#define LIVE_HEARTBEAT_S 60.0
#define BUSY_TIMEOUT_MS 10000   /* how long a write waits for another program's lock */
#define MAX_PARAMS 64   /* columns of the result table; config keys */
#define GS_STR2(x) #x
#define GS_STR(x) GS_STR2(x)

enum { ST_RUN, ST_LAYER, ST_LOG, ST_LAYER_LOG, ST_TIME, ST_HIST, ST_THEORY, ST_LANDED, ST_N };

struct gs_store {
    sqlite3 *db;
    char path[4096];
    sqlite3_stmt *stmt[ST_N];
    sqlite3_stmt *clear[8];   /* a cell's rows: per child table, then runs (clear_cell) */
    int col_param[MAX_PARAMS];   /* per column of the result table: its INSERT's parameter */
    int key_param[MAX_PARAMS];   /* per config key: its parameter in the runs INSERT (0: none) */
    int in_txn;
    long session_id;
    char host[256];
    double session_start;
    long stored;   /* cells this session */
    long fresh_deleted;        /* cells a fresh start deleted */
    char fresh_replaced[256];  /* the other sweep it replaced, or "" */
};

/* ---- schema ---- */

const char *const gs_session_names[] = {"running", "done", "interrupted", "crashed"};
_Static_assert(sizeof gs_session_names / sizeof *gs_session_names == GS_N_SESSION,
               "session status names");

static const char schema_head[] =
    "-- gradsweep results database, schema version " GS_STR(GS_SCHEMA_VERSION) ".\n"
    "-- Written by rank 0 of `gradsweep run` only; WAL mode, so sqlite3 and the\n"
    "-- report can read while a sweep runs. Times are UTC, ISO 8601.\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS sweeps (  -- the sweep this database holds: one row\n"
    "  id INTEGER PRIMARY KEY CHECK (id = 1),  -- always 1\n"
    "  name TEXT NOT NULL,                  -- [sweep] name\n"
    "  description TEXT NOT NULL,           -- [sweep] description\n"
    "  config_path TEXT NOT NULL,           -- the config file as given to the latest run\n"
    "  config_text TEXT NOT NULL,           -- that file's full text\n"
    "  base_seed INTEGER NOT NULL,          -- [sweep] seed (64-bit, stored as signed)\n"
    "  vanishing_below REAL NOT NULL,       -- diagnosis: vanishing when grad_h_ratio is below this\n"
    "  exploding_above REAL NOT NULL,       -- diagnosis: exploding when grad_h_ratio is above this\n"
    "  n_cells INTEGER NOT NULL,            -- cells the config expands to\n"
    "  created_at TEXT NOT NULL,            -- when the database was created\n"
    "  updated_at TEXT NOT NULL,            -- when a run last started\n"
    "  gradsweep_version TEXT NOT NULL,     -- version of the latest run\n"
    "  seeding TEXT                         -- paired: a cell's weights' seed comes from the keys that\n"
    "                                       -- shape the model, its data and its init, its batches'\n"
    "                                       -- from the dataset (with base seed and repeat each), so\n"
    "                                       -- arms differing only in training keys start alike;\n"
    "                                       -- per_cell (or NULL: written before version 5): both\n"
    "                                       -- from the whole canonical key\n"
    ");\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS sessions (  -- one row per `gradsweep run` on this database\n"
    "  id INTEGER PRIMARY KEY,              -- session number, from 1\n"
    "  status TEXT NOT NULL CHECK (status IN (%SESSION_IN%)),  --\n"
    "                                       -- crashed: found running with its process gone\n"
    "  started_at TEXT NOT NULL,            -- start of the run\n"
    "  ended_at TEXT,                       -- end of the run; NULL while running or after a crash\n"
    "  heartbeat REAL NOT NULL,             -- unix time of the latest commit: a live run's lock\n"
    "  host TEXT NOT NULL,                  -- host of rank 0\n"
    "  pid INTEGER NOT NULL,                -- process id of rank 0\n"
    "  ranks INTEGER NOT NULL,              -- MPI ranks, coordinator included\n"
    "  threads INTEGER NOT NULL,            -- OpenMP threads per rank\n"
    "  hosts TEXT NOT NULL,                 -- every rank's host, distinct, comma-separated\n"
    "  gradsweep_version TEXT NOT NULL,     -- the program's version\n"
    "  cells_stored INTEGER NOT NULL DEFAULT 0,  -- cells this run stored\n"
    "  wall_s REAL,                         -- wall time of the run, seconds\n"
    "  coordinator_cpu_s REAL               -- CPU seconds of rank 0's coordinating thread\n"
    ");\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS runs (      -- one row per cell of the sweep\n"
    "  id INTEGER PRIMARY KEY,              -- config_hash as a positive 63-bit integer: a cell\n"
    "                                       -- has the same id in every database\n"
    "  config_hash TEXT NOT NULL UNIQUE,    -- 16 hex digits hashing experiment, canonical_key,\n"
    "                                       -- base seed, repeat and the diagnosis thresholds\n"
    "  experiment TEXT NOT NULL,            -- the config section the cell comes from\n"
    "  canonical_key TEXT NOT NULL,         -- every key of the cell in canonical order and spelling\n"
    "  repeat INTEGER NOT NULL,             -- 0-based repeat (the repeats key)\n"
    "  seed INTEGER NOT NULL,               -- the seed of the cell's weights (sweeps.seeding says\n"
    "                                       -- how it is derived; 64-bit, stored as signed)\n";

static const char schema_tail[] =
    "%RUNS_COLUMNS%"
    ");\n"
    "CREATE INDEX IF NOT EXISTS runs_experiment ON runs(experiment);\n"
    "CREATE INDEX IF NOT EXISTS runs_diagnosis ON runs(diagnosis);\n"
    "CREATE INDEX IF NOT EXISTS runs_status ON runs(status);\n"
    "CREATE INDEX IF NOT EXISTS runs_config ON runs(model, activation, init, depth);\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS layer_stats (  -- per layer, at init (step 0)\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
    "  step INTEGER NOT NULL,               -- training step of the measurement (0: at init)\n"
    "  layer INTEGER NOT NULL,              -- 1..depth from the input; depth+1 the readout\n"
    "%LAYER_STATS_COLUMNS%"
    "  PRIMARY KEY (run_id, step, layer)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS train_log (  -- task=train, every log_every steps, first and last\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
    "  step INTEGER NOT NULL,               -- 1-based training step\n"
    "%TRAIN_LOG_COLUMNS%"
    "  PRIMARY KEY (run_id, step)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS train_layer_log (  -- task=train, per layer at every train_log step\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
    "  step INTEGER NOT NULL,               -- 1-based training step (the steps of train_log)\n"
    "  layer INTEGER NOT NULL,              -- 1..depth from the input; depth+1 the readout\n"
    "%TRAIN_LAYER_LOG_COLUMNS%"
    "  PRIMARY KEY (run_id, step, layer)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS time_stats (  -- recurrent models, top layer, per time step\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
    "  step INTEGER NOT NULL,               -- training step of the measurement (0: at init)\n"
    "  t INTEGER NOT NULL,                  -- time step 1..seq_len\n"
    "%TIME_STATS_COLUMNS%"
    "  PRIMARY KEY (run_id, step, t)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS theory (    -- mlp and rnn cells: theory beside the measurement at init\n"
    "  run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
    "%THEORY_COLUMNS%"
    ");\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS in_flight (  -- cells handed to a rank and not stored yet\n"
    "  config_hash TEXT PRIMARY KEY,        -- the cell (runs.config_hash once stored)\n"
    "  session_id INTEGER REFERENCES sessions(id),  -- the run that handed it out last\n"
    "  rank INTEGER NOT NULL,               -- the rank it went to\n"
    "  deaths INTEGER NOT NULL DEFAULT 0,   -- runs that died of a signal while it ran (the crash\n"
    "                                       -- log's word); at "
    GS_STR(GS_DEATHS_TO_CRASHED) " it is stored as crashed\n"
    "  signal INTEGER                       -- the last such signal\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS histograms (  -- weights at init, per layer\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
    "  layer INTEGER NOT NULL,              -- 1..depth, depth+1 the readout\n"
    "  quantity TEXT NOT NULL,              -- weight (W; recurrent Wh), weight_input (recurrent Wx),\n"
    "                                       -- jacobian_log10_sv (layer 0: log10 of the singular values\n"
    "                                       -- of dx_depth/dx_0, spectrum=yes)\n"
    "  bin INTEGER NOT NULL,                -- 0-based bin\n"
    "  lo REAL NOT NULL,                    -- bin's lower edge\n"
    "  hi REAL NOT NULL,                    -- bin's upper edge\n"
    "  count INTEGER NOT NULL,              -- entries in [lo, hi)\n"
    "  PRIMARY KEY (run_id, layer, quantity, bin)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "-- What people ask most: one row per cell with its configuration, outcome and the\n"
    "-- gradient norms of the first and last hidden layer at init.\n"
    "CREATE VIEW IF NOT EXISTS summary AS\n"
    "  SELECT r.id AS run_id, r.experiment, r.model, r.task, r.dataset, r.depth, r.width,\n"
    "         r.seq_len, r.activation, r.init, r.gain, r.norm, r.residual, r.optimizer, r.lr,\n"
    "         r.clip, r.repeat, r.status, r.diagnosis, r.grad_h_ratio, r.grad_ratio,\n"
    "         r.diagnosis_final, r.train_loss, r.test_loss,\n"
    "         r.test_acc, r.clip_fraction, r.diverged_step, r.wall_s,\n"
    "         (SELECT grad_pre_norm FROM layer_stats l\n"
    "           WHERE l.run_id = r.id AND l.step = 0 AND l.layer = 1) AS grad_first,\n"
    "         (SELECT grad_pre_norm FROM layer_stats l\n"
    "           WHERE l.run_id = r.id AND l.step = 0 AND l.layer = r.depth) AS grad_last\n"
    "    FROM runs r;\n";

/* The values of the result table's C and P rows (result_fields.h) for
 * one cell: what the store derives from the cell and where it ran. */
typedef struct {
    GS_RUN_COLUMNS(GS_COLUMN_SKIP, GS_COLUMN_FIELD, GS_COLUMN_FIELD)
} derived_t;

/* The result table as data: its R rows read from gs_result_t, the others
 * from derived_t. */
#define ENTRY_R(...) GS_COLUMN_ENTRY(R, gs_result_t, __VA_ARGS__)
#define ENTRY_C(...) GS_COLUMN_ENTRY(C, derived_t, __VA_ARGS__)
#define ENTRY_P(...) GS_COLUMN_ENTRY(P, derived_t, __VA_ARGS__)
static const gs_column_t columns[] = {GS_RUN_COLUMNS(ENTRY_R, ENTRY_C, ENTRY_P)};
#undef ENTRY_R
#undef ENTRY_C
#undef ENTRY_P
#define N_COLUMNS (sizeof columns / sizeof *columns)
_Static_assert(N_COLUMNS <= MAX_PARAMS, "a parameter index per column");

const gs_column_t *gs_store_columns(size_t *n)
{
    *n = N_COLUMNS;
    return columns;
}

/* "'a', 'b', 'c'" of n names */
static void names_in(char *buf, size_t cap, const char *const *names, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s'%s'", i ? ", " : "", names[i]);
}

/* "name TYPE [NOT NULL] [CHECK (name IN ('a', 'b'))]" of a column (the
 * status, which every row has, is NOT NULL) */
static void column_sql(const gs_column_t *col, char *buf, size_t cap)
{
    static const char *const sql_type[] = {
        [GS_COL_REAL] = "REAL", [GS_COL_REAL_INF] = "REAL", [GS_COL_INT] = "INTEGER",
        [GS_COL_SESSION] = "INTEGER REFERENCES sessions(id)",
        [GS_COL_TEXT] = "TEXT", [GS_COL_STATUS] = "TEXT", [GS_COL_DIAG] = "TEXT",
        [GS_COL_NONFINITE] = "TEXT"};
    size_t n, len = (size_t)snprintf(buf, cap, "%s %s%s", col->name, sql_type[col->type],
                                     col->type == GS_COL_STATUS ? " NOT NULL" : "");
    const char *const *names = gs_column_names(col->type, &n);
    if (!names || len >= cap)
        return;
    char in[256];
    names_in(in, sizeof in, names, n);
    snprintf(buf + len, cap - len, " CHECK (%s IN (%s))", col->name, in);
}

/* The value columns of the series tables (result_fields.h), as data:
 * for their schema lines and INSERTs */
typedef struct {
    const char *name, *sql_type, *help;
} series_column_t;
#define SERIES_ENTRY(name, type, help) {#name, SQL_##type, help},
#define SQL_REAL "REAL"
#define SQL_INT "INTEGER"
static const series_column_t layer_stats_cols[] = {GS_LAYER_STATS_COLUMNS(SERIES_ENTRY)},
                             train_log_cols[] = {GS_TRAIN_LOG_COLUMNS(SERIES_ENTRY)},
                             train_layer_log_cols[] = {GS_TRAIN_LAYER_LOG_COLUMNS(SERIES_ENTRY)},
                             time_stats_cols[] = {GS_TIME_STATS_COLUMNS(SERIES_ENTRY)};
#define N_OF(a) (sizeof(a) / sizeof *(a))

/* A series table's value columns as schema lines, each followed by a
 * comma (the PRIMARY KEY line comes after them) */
static void series_sql(const series_column_t *cols, size_t n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        char col[128];
        snprintf(col, sizeof col, "%s %s,", cols[i].name, cols[i].sql_type);
        len += (size_t)snprintf(buf + len, cap - len, "  %-36s -- %s\n", col, cols[i].help);
    }
}

/* The schema's lines of table's columns: definition, comma but after
 * the last, and the help as comments (its lines aligned) */
static void columns_sql(gs_col_table_t table, char *buf, size_t cap)
{
    size_t len = 0, last = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_COLUMNS; i++)
        if (columns[i].table == table)
            last = i;
    for (size_t i = 0; i < N_COLUMNS && len < cap; i++) {
        if (columns[i].table != table)
            continue;
        char col[512];
        column_sql(&columns[i], col, sizeof col);
        if (i != last)
            strcat(col, ",");
        len += (size_t)snprintf(buf + len, cap - len, "  %-36s --", col);
        if (strlen(col) > 36 && len < cap)   /* the help on lines of its own */
            len += (size_t)snprintf(buf + len, cap - len, "\n%39s--", "");
        for (const char *h = columns[i].help; len < cap;) {
            size_t line = strcspn(h, "\n");
            len += (size_t)snprintf(buf + len, cap - len, " %.*s\n", (int)line, h);
            if (!h[line])
                break;
            h += line + 1;
            if (len < cap)
                len += (size_t)snprintf(buf + len, cap - len, "%39s--", "");
        }
    }
}

typedef struct {
    const char *mark, *text;
} marker_t;

/* Append template to s[len..cap) with each marker replaced by its text;
 * the markers stand in the template once each, in this order. Returns
 * the new length (>= cap: it did not fit). */
static size_t fill_markers(char *s, size_t len, size_t cap, const char *template,
                           const marker_t *marks, size_t n)
{
    const char *pos = template;
    for (size_t i = 0; i < n; i++) {
        const char *m = strstr(pos, marks[i].mark);
        assert(m != NULL);
        if (len < cap)
            len += (size_t)snprintf(s + len, cap - len, "%.*s%s", (int)(m - pos), pos, marks[i].text);
        pos = m + strlen(marks[i].mark);
    }
    if (len < cap)
        len += (size_t)snprintf(s + len, cap - len, "%s", pos);
    return len;
}

const char *gs_store_schema_sql(void)
{
    static char *sql;
    if (sql)
        return sql;
    size_t cap = sizeof schema_head + sizeof schema_tail + 32768, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;   /* never a shorter schema */
    char session_in[256];
    names_in(session_in, sizeof session_in, gs_session_names, GS_N_SESSION);
    const marker_t head_marks[] = {{"%SESSION_IN%", session_in}};
    len = fill_markers(s, len, cap, schema_head, head_marks, 1);
    gs_key_info_t k;
    for (size_t i = 0; gs_cell_key_info(i, &k); i++) {
        if (!k.in_key)
            continue;
        const char *type = k.type == GS_KEYTYPE_INT ? "INTEGER" : k.type == GS_KEYTYPE_REAL ? "REAL" : "TEXT";
        char col[64];
        snprintf(col, sizeof col, "%s %s,", k.name, type);
        len += (size_t)snprintf(s + len, cap - len, "  %-36s -- %s%s\n", col, k.help,
                                k.none_is_null ? " (NULL: none)" : "");
    }
    /* the tail's markers, in the order they appear: the columns of the
     * result table and of the series tables */
    char runs_cols[16384], theory_cols[8192], layer[2048], log[2048], layer_log[2048],
        time[1024];
    columns_sql(GS_TABLE_RUNS, runs_cols, sizeof runs_cols);
    series_sql(layer_stats_cols, N_OF(layer_stats_cols), layer, sizeof layer);
    series_sql(train_log_cols, N_OF(train_log_cols), log, sizeof log);
    series_sql(train_layer_log_cols, N_OF(train_layer_log_cols), layer_log, sizeof layer_log);
    series_sql(time_stats_cols, N_OF(time_stats_cols), time, sizeof time);
    columns_sql(GS_TABLE_THEORY, theory_cols, sizeof theory_cols);
    const marker_t marks[] = {{"%RUNS_COLUMNS%", runs_cols}, {"%LAYER_STATS_COLUMNS%", layer},
                              {"%TRAIN_LOG_COLUMNS%", log}, {"%TRAIN_LAYER_LOG_COLUMNS%", layer_log},
                              {"%TIME_STATS_COLUMNS%", time}, {"%THEORY_COLUMNS%", theory_cols}};
    len = fill_markers(s, len, cap, schema_tail, marks, sizeof marks / sizeof *marks);
    if (len >= cap) {   /* the key columns outgrew the room: a bug, never a shorter schema */
        assert(!"the schema's buffer is too small");
        free(s);
        return NULL;
    }
    sql = s;
    return sql;
}

/* ---- helpers ---- */

static const char *sql_hint(gs_store_t *st);

static int sqlfail(gs_store_t *st, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s: %s%s", st->path, what, sqlite3_errmsg(st->db), sql_hint(st));
    return -1;
}

/* What a failed statement's error code means for the user, or "". */
static const char *sql_hint(gs_store_t *st)
{
    switch (sqlite3_errcode(st->db)) {
    case SQLITE_BUSY:
        return " (another program held a write transaction on it for longer than the "
               GS_STR(BUSY_TIMEOUT_MS) " ms gradsweep waits; try again when it is done)";
    case SQLITE_FULL:
        return " (free space on its disk, then rerun: stored cells are kept)";
    case SQLITE_READONLY:
        return " (the file or its folder is read-only)";
    default:
        return "";
    }
}

static int exec(gs_store_t *st, const char *sql, char *err, size_t errlen)
{
    if (!sql) {   /* gs_store_schema_sql out of memory */
        snprintf(err, errlen, "%s: out of memory building the schema", st->path);
        return -1;
    }
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s%s", st->path, msg ? msg : sqlite3_errmsg(st->db),
                 sql_hint(st));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Writes go into the open batch; the first write begins one. */
static int open_batch(gs_store_t *st, char *err, size_t errlen)
{
    if (!st->in_txn) {
        if (exec(st, "BEGIN", err, errlen) != 0)
            return -1;
        st->in_txn = 1;
    }
    return 0;
}

static long pragma_int(gs_store_t *st, const char *sql)
{
    sqlite3_stmt *s;
    long v = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            v = (long)sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    return v;
}

/* The integer a query with one text parameter returns, -1 on error. */
static long pragma_int_text(gs_store_t *st, const char *sql, const char *text)
{
    sqlite3_stmt *s;
    long v = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            v = (long)sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    return v;
}

static void bind_real(sqlite3_stmt *s, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(s, i, v);
    else
        sqlite3_bind_null(s, i);   /* NaN/inf: SQLite has no such REAL */
}

/* The same, but an infinity is stored as one (a meaningful value there) */
static void bind_real_inf(sqlite3_stmt *s, int i, double v)
{
    if (isinf(v))
        sqlite3_bind_double(s, i, v);
    else
        bind_real(s, i, v);
}

/* The tables whose rows belong to one cell (run_id references runs(id),
 * ON DELETE CASCADE since schema version 6), and the version each came
 * in: a migration rebuilds those an older database has. */
static const struct {
    const char *name;
    int since;
} child_tables[] = {
    {"layer_stats", 1}, {"train_log", 1}, {"time_stats", 1}, {"histograms", 1},
    {"train_layer_log", 2}, {"theory", 3},
};
#define N_CHILD (sizeof child_tables / sizeof *child_tables)
_Static_assert(N_CHILD + 1 <= sizeof ((gs_store_t *)0)->clear / sizeof (sqlite3_stmt *),
               "a clearing statement per child table and runs");

/* One SELECT per table of a cell's rows, every column quote()d (all the
 * digits of a REAL) but the result table's provenance (P rows: rank,
 * host, times), ordered by the primary key. The columns are read from a
 * database made in memory with today's schema. */
char *gs_store_dump_sql(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    char *out = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK || !gs_store_schema_sql() ||
        sqlite3_exec(db, gs_store_schema_sql(), NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    /* a table's columns and its key, in the schema's order */
    static const char q[] =
        "SELECT group_concat(CASE WHEN c.name IN (%s) THEN NULL ELSE 'quote(' || c.name || ')' "
        "END, ', '), (SELECT group_concat(name, ', ') FROM (SELECT name FROM "
        "pragma_table_info(?1) WHERE pk > 0 ORDER BY pk)) FROM pragma_table_info(?1) c";
    char prov[1024] = "''", sql[1400];
    for (size_t i = 0; i < N_COLUMNS; i++)
        if (columns[i].source == GS_SOURCE_P) {
            size_t len = strlen(prov);
            snprintf(prov + len, sizeof prov - len, ", '%s'", columns[i].name);
        }
    snprintf(sql, sizeof sql, q, prov);
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        goto out;
    size_t cap = 1, len = 0;
    for (size_t i = 0; i <= N_CHILD; i++) {
        const char *table = i == 0 ? "runs" : child_tables[i - 1].name;
        sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_ROW || !sqlite3_column_text(s, 0))
            goto fail;
        const char *cols = (const char *)sqlite3_column_text(s, 0),
                   *key = sqlite3_column_text(s, 1) ? (const char *)sqlite3_column_text(s, 1) : "1";
        size_t need = strlen(cols) + strlen(key) + strlen(table) + 32;
        char *grown = realloc(out, cap + need);
        if (!grown)
            goto fail;
        out = grown;
        cap += need;
        len += (size_t)snprintf(out + len, cap - len, "SELECT %s FROM %s ORDER BY %s;\n", cols,
                                table, strcmp(table, "runs") == 0 ? "id" : key);
        sqlite3_reset(s);
    }
    goto out;
fail:
    free(out);
    out = NULL;
out:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
}

/* The CREATE TABLE statement of table `name` in the schema, as
 * "CREATE TABLE <as> (...)..." up to its ';' (malloc'd; NULL: none or
 * out of memory). */
static char *table_sql(const char *name, const char *as)
{
    const char *schema = gs_store_schema_sql();
    char head[128];
    snprintf(head, sizeof head, "CREATE TABLE IF NOT EXISTS %s (", name);
    const char *at = schema ? strstr(schema, head) : NULL;
    const char *close = at ? strstr(at, "\n)") : NULL;   /* comments may hold ';' */
    const char *end = close ? strstr(close, ";\n") : NULL;
    if (!end)
        return NULL;
    const char *body = at + strlen(head) - 2;   /* " (" */
    size_t len = strlen("CREATE TABLE ") + strlen(as) + (size_t)(end - body) + 2;
    char *sql = malloc(len);
    if (sql)
        snprintf(sql, len, "CREATE TABLE %s%.*s;", as, (int)(end - body), body);
    return sql;
}

/* ---- open ---- */

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
    for (size_t i = 0; i < N_COLUMNS && !names; i++)
        if (strcmp(columns[i].name, column) == 0)
            names = gs_column_names(columns[i].type, &n);
    assert(names != NULL);   /* a choice column of the result table */
    names_in(new_in, sizeof new_in, names, n);
    snprintf(from, sizeof from, "(%s IN (%s))", column, old_in);
    snprintf(to, sizeof to, "(%s IN (%s))", column, new_in);
    sqlite3_stmt *s = NULL;
    char *sql = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT sql FROM sqlite_schema WHERE type = 'table' AND "
                                   "name = 'runs'", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        sqlfail(st, err, errlen, "reading the runs table's definition");
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
    long version = pragma_int(st, "PRAGMA schema_version");
    char bump[64];
    snprintf(bump, sizeof bump, "PRAGMA schema_version = %ld", version + 1);
    if (version < 0 || exec(st, "PRAGMA writable_schema = ON", err, errlen) != 0)
        goto out;
    if (sqlite3_prepare_v2(st->db, "UPDATE sqlite_schema SET sql = ?1 WHERE type = 'table' AND "
                                   "name = 'runs'", -1, &s, NULL) != SQLITE_OK) {
        sqlfail(st, err, errlen, "widening a CHECK list of runs");
    } else {
        sqlite3_bind_text(s, 1, sql, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            sqlfail(st, err, errlen, "widening a CHECK list of runs");
        else if (exec(st, bump, err, errlen) == 0)
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
        sqlfail(st, err, errlen, "reading a table's columns");
        return NULL;
    }
    sqlite3_bind_text(s, 1, newname, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, table, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        cols = strdup((const char *)sqlite3_column_text(s, 0));
    if (!cols)
        sqlfail(st, err, errlen, "reading a table's columns");
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
    if (exec(st, "DROP VIEW IF EXISTS summary", err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < N_CHILD; i++) {
        const char *t = child_tables[i].name;
        if (ver < child_tables[i].since)
            continue;   /* created with its foreign key by the schema */
        char newname[96], sql[1024];
        snprintf(newname, sizeof newname, "new_%s", t);
        char *create = table_sql(t, newname), *cols = NULL;
        int rc = -1;
        if (!create) {
            snprintf(err, errlen, "%s: no definition of %s in the schema", st->path, t);
            return -1;
        }
        if (exec(st, create, err, errlen) == 0 && (cols = shared_columns(st, t, err, errlen))) {
            char *copy = sqlite3_mprintf("INSERT INTO \"%w\" (%s) SELECT %s FROM \"%w\" WHERE "
                                         "run_id IN (SELECT id FROM runs)", newname, cols, cols, t);
            snprintf(sql, sizeof sql, "DROP TABLE \"%s\"; ALTER TABLE \"%s\" RENAME TO \"%s\"",
                     t, newname, t);
            rc = copy && exec(st, copy, err, errlen) == 0 && exec(st, sql, err, errlen) == 0 ? 0 : -1;
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
        return sqlfail(st, err, errlen, "checking foreign keys");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        snprintf(err, errlen, "%s: table %s has a row whose %s does not exist; not upgraded",
                 st->path, (const char *)sqlite3_column_text(s, 0),
                 (const char *)sqlite3_column_text(s, 2));
    else if (rc != SQLITE_DONE)
        sqlfail(st, err, errlen, "checking foreign keys");
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Upgrade an older database in place, in one transaction: ALTER TABLE
 * adds the columns runs gained in versions 2 and 5 (NULL for the cells
 * stored before), and the schema's CREATE ... IF NOT EXISTS adds the
 * tables of versions 2 (train_layer_log) and 3 (theory; its rows stay
 * missing for the cells stored before); version 4 widens runs.status's
 * CHECK list (widen_check) and adds in_flight; version 5 widens the
 * diagnoses' lists ('dead') and adds sweeps.seeding (NULL: the cells
 * stored keep their per-cell seeds). */
static int migrate(gs_store_t *st, long ver, char *err, size_t errlen)
{
    if (ver < 1) {
        snprintf(err, errlen, "%s: schema version %ld is not one gradsweep ever wrote", st->path,
                 ver);
        return -1;
    }
    /* foreign keys off for the rebuild of version 6 (a no-op inside a
     * transaction, so before it), on again whatever happens */
    if (exec(st, "PRAGMA foreign_keys = OFF", err, errlen) != 0)
        return -1;
    if (exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
        goto fail;
    /* config keys added since (spectrum, version 3): NULL is their default */
    gs_key_info_t k;
    for (size_t i = 0; gs_cell_key_info(i, &k); i++) {
        if (!k.in_key || pragma_int_text(st, "SELECT count(*) FROM pragma_table_info('runs') "
                                              "WHERE name = ?1", k.name) != 0)
            continue;
        char sql[256];
        snprintf(sql, sizeof sql, "ALTER TABLE runs ADD COLUMN %s %s", k.name,
                 k.type == GS_KEYTYPE_INT ? "INTEGER" : k.type == GS_KEYTYPE_REAL ? "REAL" : "TEXT");
        if (exec(st, sql, err, errlen) != 0)
            goto fail;
    }
    /* the result table's columns an existing table lacks (those of
     * versions after ver; a table younger than ver comes whole from the
     * schema below) */
    for (size_t i = 0; i < N_COLUMNS; i++) {
        const char *table = columns[i].table == GS_TABLE_RUNS ? "runs" : "theory";
        char col[512], sql[640], has[128];
        snprintf(has, sizeof has, "SELECT count(*) FROM pragma_table_info('%s')", table);
        if (columns[i].since <= ver || pragma_int(st, has) == 0 ||
            pragma_int_text(st, strcat(has, " WHERE name = ?1"), columns[i].name) != 0)
            continue;
        column_sql(&columns[i], col, sizeof col);
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s", table, col);
        if (exec(st, sql, err, errlen) != 0)
            goto fail;
    }
    static const char status_v3[] = "'done', 'diverged', 'failed'",
                      diag_v4[] = "'healthy', 'vanishing', 'exploding', 'diverged'";
    if (ver < 4 && widen_check(st, "status", status_v3, err, errlen) != 0)
        goto fail;
    if (ver < 5 && (widen_check(st, "diagnosis", diag_v4, err, errlen) != 0 ||
                    widen_check(st, "diagnosis_final", diag_v4, err, errlen) != 0 ||
                    exec(st, "ALTER TABLE sweeps ADD COLUMN seeding TEXT", err, errlen) != 0 ||
                    exec(st, "DROP VIEW IF EXISTS summary", err, errlen) != 0))
        goto fail;
    if (ver < 6 && rebuild_children(st, ver, err, errlen) != 0)
        goto fail;
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", GS_SCHEMA_VERSION);
    if (exec(st, gs_store_schema_sql(), err, errlen) != 0 || exec(st, pragma, err, errlen) != 0 ||
        foreign_keys_hold(st, err, errlen) != 0 || exec(st, "COMMIT", err, errlen) != 0)
        goto fail;
    return exec(st, "PRAGMA foreign_keys = ON", err, errlen);
fail:
    sqlite3_exec(st->db, "ROLLBACK; PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    return -1;
}

/* Writing needs the file (when it exists) and its folder writable: SQLite
 * makes its -wal and -shm files there. Said plainly before SQLite would
 * say "unable to open database file". */
static int writable(const char *path, int exists, char *err, size_t errlen)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
    const char *what = exists && access(path, W_OK) != 0 ? path : access(dir, W_OK) != 0 ? dir : NULL;
    if (!what)
        return 0;
    snprintf(err, errlen, "%s: cannot write %s: %s%s", path, what == path ? "it" : "its folder",
             strerror(errno), exists ? "; stored cells are untouched" : "");
    return -1;
}

/* Whether the open database is one this gradsweep can use: a gradsweep
 * database of this schema or an older one (read-only: this one exactly),
 * or, for writing, an empty file. *app and *ver: what it says it is. */
static int check_kind(gs_store_t *st, int readonly, long *app, long *ver, char *err,
                      size_t errlen)
{
    const char *path = st->path;
    *app = pragma_int(st, "PRAGMA application_id");
    *ver = pragma_int(st, "PRAGMA user_version");
    long tables = pragma_int(st, "SELECT count(*) FROM sqlite_master");
    if (*app < 0 || tables < 0)
        snprintf(err, errlen, "%s: not an SQLite database (%s)", path, sqlite3_errmsg(st->db));
    else if (*app != GS_APPLICATION_ID && (tables > 0 || *app != 0))
        snprintf(err, errlen, "%s: not a gradsweep database (it has %ld tables of another "
                 "program); give another path with --db", path, tables);
    else if (*app == GS_APPLICATION_ID && *ver > GS_SCHEMA_VERSION)
        snprintf(err, errlen, "%s: written by a newer gradsweep (schema version %ld; this is "
                 "%s with schema version %d); upgrade gradsweep", path, *ver, PACKAGE_VERSION,
                 GS_SCHEMA_VERSION);
    else if (readonly && *app != GS_APPLICATION_ID)
        snprintf(err, errlen, "%s: an empty database, not a gradsweep one", path);
    else if (readonly && *ver < GS_SCHEMA_VERSION)
        snprintf(err, errlen, "%s: written by an older gradsweep (schema version %ld; this "
                 "is %s with schema version %d); `gradsweep run` on it upgrades it in place "
                 "(stored cells are kept)", path, *ver, PACKAGE_VERSION, GS_SCHEMA_VERSION);
    else
        return 0;
    return -1;
}

/* For writing: WAL, and the schema - created in an empty file, upgraded
 * in an older database. */
static int prepare_for_writing(gs_store_t *st, long app, long ver, char *err, size_t errlen)
{
    if (exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", err, errlen) != 0)
        return -1;
    if (app == GS_APPLICATION_ID)
        return ver < GS_SCHEMA_VERSION ? migrate(st, ver, err, errlen) : 0;
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
             GS_APPLICATION_ID, GS_SCHEMA_VERSION);
    if (exec(st, "BEGIN", err, errlen) != 0 || exec(st, gs_store_schema_sql(), err, errlen) != 0 ||
        exec(st, pragmas, err, errlen) != 0 || exec(st, "COMMIT", err, errlen) != 0)
        return -1;
    return 0;
}

gs_store_t *gs_store_open(const char *path, int create, int readonly, char *err, size_t errlen)
{
    return gs_store_open_kind(path, create, readonly, NULL, err, errlen);
}

gs_store_t *gs_store_open_kind(const char *path, int create, int readonly, gs_store_fault_t *fault,
                               char *err, size_t errlen)
{
    gs_store_fault_t dummy;
    if (!fault)
        fault = &dummy;
    *fault = GS_STORE_FAULT_RUNTIME;
    gs_store_t *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(st->path, sizeof st->path, "%s", path);
    gethostname(st->host, sizeof st->host - 1);
    struct stat sb;
    long app, ver;
    int exists = stat(path, &sb) == 0;
    if (!exists && !create) {
        snprintf(err, errlen, "%s: no such database", path);
        *fault = GS_STORE_FAULT_INPUT;
        goto fail;
    }
    if (exists && S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s: a folder, not a database", path);
        *fault = GS_STORE_FAULT_INPUT;
        goto fail;
    }
    if (!readonly && writable(path, exists, err, errlen) != 0)
        goto fail;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open: %s", path, st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    /* every connection: a cell's rows go with its runs row */
    if (exec(st, "PRAGMA foreign_keys = ON", err, errlen) != 0)
        goto fail;
    if (check_kind(st, readonly, &app, &ver, err, errlen) != 0) {
        *fault = GS_STORE_FAULT_INPUT;
        goto fail;
    }
    if (!readonly && prepare_for_writing(st, app, ver, err, errlen) != 0)
        goto fail;
    return st;
fail:
    gs_store_close(st);
    return NULL;
}

void gs_store_close(gs_store_t *st)
{
    if (!st)
        return;
    if (st->in_txn && st->db)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < ST_N; i++)
        sqlite3_finalize(st->stmt[i]);
    for (size_t i = 0; i <= N_CHILD; i++)
        sqlite3_finalize(st->clear[i]);
    sqlite3_close(st->db);
    free(st);
}

/* ---- the lock and sessions ---- */

/* A zombie is dead: the rank 0 of an mpirun that has returned can stay
 * one until its new parent reaps it (in a container whose first process
 * never does, for good), and kill(pid, 0) succeeds on it. */
static int pid_zombie(long pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;   /* no /proc: trust kill() */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');   /* "pid (comm) state ..." */
    return paren && paren[1] == ' ' && paren[2] == 'Z';
}

static int pid_alive(long pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM) && !pid_zombie(pid);
}

/* A session row still marked running is live when its heartbeat is recent
 * and, on this host, its process exists. 1 live (host and pid filled in),
 * 0 not, -1 when the sessions cannot be read (host says why, pid -1):
 * callers that treat nonzero as live stay on the safe side. */
static int find_live(gs_store_t *st, char *host, size_t hostlen, long *pid, int mark_crashed)
{
    sqlite3_stmt *s;
    int live = 0, rc;
    if (sqlite3_prepare_v2(st->db, "SELECT id, host, pid, heartbeat FROM sessions "
                                   "WHERE status = ?1", -1, &s, NULL) != SQLITE_OK)
        goto unreadable;
    sqlite3_bind_text(s, 1, gs_session_names[GS_SESSION_RUNNING], -1, SQLITE_STATIC);
    double now = gs_unix_now();
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        long id = (long)sqlite3_column_int64(s, 0);
        const char *h = (const char *)sqlite3_column_text(s, 1);
        long p = (long)sqlite3_column_int64(s, 2);
        double hb = sqlite3_column_double(s, 3);
        int same_host = h && strcmp(h, st->host) == 0;
        int alive = now - hb < LIVE_HEARTBEAT_S && (!same_host || pid_alive(p));
        if (alive && !live) {
            live = 1;
            snprintf(host, hostlen, "%s", h ? h : "?");
            *pid = p;
        } else if (!alive && mark_crashed) {
            char sql[128];
            snprintf(sql, sizeof sql, "UPDATE sessions SET status = '%s' WHERE id = %ld",
                     gs_session_names[GS_SESSION_CRASHED], id);
            if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
                rc = SQLITE_ERROR;
        }
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_DONE)
        return live;
unreadable:
    snprintf(host, hostlen, "unknown: the sessions cannot be read (%s)", sqlite3_errmsg(st->db));
    *pid = -1;
    return -1;
}

sqlite3 *gs_store_handle(gs_store_t *st)
{
    return st->db;
}

int gs_store_live_run(gs_store_t *st, char *host, size_t hostlen, long *pid)
{
    return find_live(st, host, hostlen, pid, 0);
}

/* The name of the sweep the database holds (*have = 0: none yet). */
static int stored_sweep(gs_store_t *st, char *name, size_t namelen, int *have, char *err,
                        size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT name FROM sweeps WHERE id = 1", -1, &s, NULL) != SQLITE_OK)
        return sqlfail(st, err, errlen, "reading the sweep");
    int step = sqlite3_step(s);
    *have = step == SQLITE_ROW;
    const char *n = *have ? (const char *)sqlite3_column_text(s, 0) : NULL;
    snprintf(name, namelen, "%s", n ? n : "");
    sqlite3_finalize(s);
    return *have || step == SQLITE_DONE ? 0 : sqlfail(st, err, errlen, "reading the sweep");
}

/* Delete every stored cell (its rows go with it: ON DELETE CASCADE, and
 * by name for the rows of a runs row deleted with foreign keys off), the
 * cells in flight and, with whole, the sweep and its sessions too. Inside
 * the caller's transaction. */
static int delete_cells(gs_store_t *st, int whole, char *err, size_t errlen)
{
    char sql[128];
    for (size_t i = 0; i < N_CHILD; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM %s", child_tables[i].name);
        if (exec(st, sql, err, errlen) != 0)
            return -1;
    }
    if (exec(st, "DELETE FROM in_flight; DELETE FROM runs", err, errlen) != 0)
        return -1;
    return whole ? exec(st, "DELETE FROM sessions; DELETE FROM sweeps", err, errlen) : 0;
}

/* Whether sw may start on this database: the sweep it holds is sw's, or
 * none, or (fresh) it is replaced - every check made before anything is
 * deleted, and the deletion in the session's transaction, so a refusal
 * or a failure leaves every row where it was. *have: a sweeps row stays. */
static int claim_sweep(gs_store_t *st, const gs_sweep_t *sw, int fresh, int *have, char *err,
                       size_t errlen)
{
    char name[256];
    if (stored_sweep(st, name, sizeof name, have, err, errlen) != 0)
        return -1;
    long n = gs_store_count_runs(st);
    int other = *have && strcmp(name, sw->name) != 0;
    if (n < 0)
        return sqlfail(st, err, errlen, "counting the stored cells");
    if (other && !fresh) {
        snprintf(err, errlen, "%s: holds sweep '%s' (%ld stored cells), not '%s'; nothing was "
                 "changed. Give another --db (--fresh would delete those %ld cells and sweep "
                 "'%s' for good)", st->path, name, n, sw->name, n, name);
        return -2;
    }
    st->fresh_deleted = 0;
    st->fresh_replaced[0] = '\0';
    if (!fresh || (n == 0 && !other))
        return 0;
    if (delete_cells(st, other, err, errlen) != 0)
        return -1;
    st->fresh_deleted = n;
    if (other)
        snprintf(st->fresh_replaced, sizeof st->fresh_replaced, "%s", name);
    *have = *have && !other;
    return 0;
}

long gs_store_fresh_result(const gs_store_t *st, const char **replaced)
{
    *replaced = st->fresh_replaced[0] ? st->fresh_replaced : NULL;
    return st->fresh_deleted;
}

/* The sweeps row: inserted on the first run, updated on later ones. */
static int write_sweep(gs_store_t *st, const gs_sweep_t *sw, int have, const char *now,
                       char *err, size_t errlen)
{
    sqlite3_stmt *s;
    const char *sql = have
        ? "UPDATE sweeps SET name=?1, description=?2, config_path=?3, config_text=?4, base_seed=?5,"
          " vanishing_below=?6, exploding_above=?7, n_cells=?8, updated_at=?9, gradsweep_version=?10,"
          " seeding=?11 WHERE id = 1"
        : "INSERT INTO sweeps (id, name, description, config_path, config_text, base_seed,"
          " vanishing_below, exploding_above, n_cells, created_at, updated_at, gradsweep_version,"
          " seeding) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)";
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return sqlfail(st, err, errlen, "writing the sweep");
    assert(sqlite3_bind_parameter_count(s) == 11);
    assert(sw->seeding >= 0 && sw->seeding < GS_N_SEEDING);
    sqlite3_bind_text(s, 11, gs_seeding_names[sw->seeding], -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 1, sw->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, sw->description, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, sw->path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, sw->text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)sw->seed);
    sqlite3_bind_double(s, 6, sw->vanishing_below);
    sqlite3_bind_double(s, 7, sw->exploding_above);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)sw->n_cells);
    sqlite3_bind_text(s, 9, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 10, PACKAGE_VERSION, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : sqlfail(st, err, errlen, "writing the sweep");
}

/* The session row, marked running: the lock; st->session_id its id. */
static int write_session(gs_store_t *st, const gs_session_info_t *info, const char *now,
                         char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "INSERT INTO sessions (status, started_at, heartbeat, host, pid,"
                                   " ranks, threads, hosts, gradsweep_version)"
                                   " VALUES (?9, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                           -1, &s, NULL) != SQLITE_OK)
        return sqlfail(st, err, errlen, "writing the session");
    assert(sqlite3_bind_parameter_count(s) == 9);
    sqlite3_bind_text(s, 9, gs_session_names[GS_SESSION_RUNNING], -1, SQLITE_STATIC);
    st->session_start = gs_unix_now();
    sqlite3_bind_text(s, 1, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 2, st->session_start);
    sqlite3_bind_text(s, 3, st->host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)getpid());
    sqlite3_bind_int(s, 5, info->ranks);
    sqlite3_bind_int(s, 6, info->threads);
    sqlite3_bind_text(s, 7, info->hosts, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 8, PACKAGE_VERSION, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return sqlfail(st, err, errlen, "writing the session");
    st->session_id = (long)sqlite3_last_insert_rowid(st->db);
    return 0;
}

/* The seeding of the sweep about to run: the stored one when cells are
 * stored (NULL: per_cell, from before version 5), else paired. */
static int seeding_to_run(gs_store_t *st, int have)
{
    if (!have || pragma_int(st, "SELECT count(*) FROM runs") <= 0)
        return GS_SEEDING_PAIRED;
    int s = gs_store_seeding_of(st->db);
    return s < 0 ? GS_SEEDING_PAIRED : s;
}

int gs_store_seeding_of(sqlite3 *db)
{
    sqlite3_stmt *s;
    int seeding = -1;
    if (sqlite3_prepare_v2(db, "SELECT seeding FROM sweeps WHERE id = 1", -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        seeding = GS_SEEDING_PER_CELL;   /* NULL: a database from before seeding was stored */
        for (int i = 0; name && i < GS_N_SEEDING; i++)
            if (strcmp(name, gs_seeding_names[i]) == 0)
                seeding = i;
    }
    sqlite3_finalize(s);
    return seeding;
}

int gs_store_begin_session(gs_store_t *st, gs_sweep_t *sw, const gs_session_info_t *info,
                           char *err, size_t errlen)
{
    if (exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
    char host[256], now[32];
    long pid;
    int have = 0, rc = -1;
    int live = find_live(st, host, sizeof host, &pid, 1);
    if (live < 0) {
        sqlfail(st, err, errlen, "reading the sessions");
        goto rollback;
    }
    if (live) {
        snprintf(err, errlen, "%s: a run is writing this database (host %s, pid %ld); wait for "
                 "it, stop it, or use another --db", st->path, host, pid);
        goto rollback;
    }
    gs_utc_iso(now, sizeof now);
    if ((rc = claim_sweep(st, sw, info->fresh, &have, err, errlen)) != 0)
        goto rollback;
    rc = -1;
    gs_sweep_set_seeding(sw, seeding_to_run(st, have));
    if (write_sweep(st, sw, have, now, err, errlen) != 0 ||
        write_session(st, info, now, err, errlen) != 0 || exec(st, "COMMIT", err, errlen) != 0)
        goto rollback;
    st->stored = 0;
    return 0;
rollback:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int session_update(gs_store_t *st, gs_session_status_t status, int final)
{
    char now[32];
    gs_utc_iso(now, sizeof now);
    sqlite3_stmt *s;
    const char *sql = final
        ? "UPDATE sessions SET status=?1, heartbeat=?2, cells_stored=?3, ended_at=?4, wall_s=?5 WHERE id=?6"
        : "UPDATE sessions SET status=?1, heartbeat=?2, cells_stored=?3, wall_s=?5 WHERE id=?6";
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    double t = gs_unix_now();
    sqlite3_bind_text(s, 1, gs_session_names[status], -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 2, t);
    sqlite3_bind_int64(s, 3, st->stored);
    if (final)
        sqlite3_bind_text(s, 4, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 5, t - st->session_start);
    sqlite3_bind_int64(s, 6, st->session_id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int gs_store_commit(gs_store_t *st, char *err, size_t errlen)
{
    if (open_batch(st, err, errlen) != 0)
        return -1;
    if (session_update(st, GS_SESSION_RUNNING, 0) != 0)
        return sqlfail(st, err, errlen, "updating the session");
    st->in_txn = 0;
    return exec(st, "COMMIT", err, errlen);
}

int gs_store_end_session(gs_store_t *st, gs_session_status_t status, double coordinator_cpu_s,
                         char *err, size_t errlen)
{
    if (open_batch(st, err, errlen) != 0)
        return -1;
    if (session_update(st, status, 1) != 0)
        return sqlfail(st, err, errlen, "closing the session");
    /* the cells this run handed out and did not store were cut short, not
     * crashes: they run again next time. A cell with deaths keeps its row. */
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE sessions SET coordinator_cpu_s = %.6f WHERE id = %ld; "
             "DELETE FROM in_flight WHERE session_id = %ld AND deaths = 0",
             coordinator_cpu_s, st->session_id, st->session_id);
    if (exec(st, sql, err, errlen) != 0)
        return -1;
    st->in_txn = 0;
    if (exec(st, "COMMIT", err, errlen) != 0)
        return -1;
    /* fold the WAL back so the file alone holds everything */
    sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return 0;
}

/* ---- cells in flight ---- */

static int step_reset(gs_store_t *st, sqlite3_stmt *s, char *err, size_t errlen, const char *what);
static int prepare_inserts(gs_store_t *st, char *err, size_t errlen);
static int clear_cell(gs_store_t *st, const gs_sweep_cell_t *cell, char *err, size_t errlen);

/* Run one statement taking (?1 text hash, ?2..?3 integers) per hash. */
static int each_hash(gs_store_t *st, const char *sql, const uint64_t *hashes, size_t n, long a,
                     long b, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return sqlfail(st, err, errlen, "recording cells in flight");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char hex[GS_HASH_HEX_LEN];
        gs_hash_hex(hashes[i], hex);
        sqlite3_bind_text(s, 1, hex, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, a);
        sqlite3_bind_int64(s, 3, b);
        rc = step_reset(st, s, err, errlen, "recording cells in flight");
    }
    sqlite3_finalize(s);
    return rc;
}

int gs_store_mark_in_flight(gs_store_t *st, const uint64_t *hashes, size_t n, int rank,
                            char *err, size_t errlen)
{
    if (open_batch(st, err, errlen) != 0)
        return -1;
    return each_hash(st, "INSERT INTO in_flight (config_hash, session_id, rank) VALUES (?1, ?2, ?3) "
                         "ON CONFLICT (config_hash) DO UPDATE SET session_id = ?2, rank = ?3",
                     hashes, n, st->session_id, rank, err, errlen);
}

int gs_store_count_death(gs_store_t *st, uint64_t hash, int signo, char *err, size_t errlen)
{
    if (open_batch(st, err, errlen) != 0)
        return -1;
    return each_hash(st, "UPDATE in_flight SET deaths = deaths + 1, signal = ?2 "
                         "WHERE config_hash = ?1", &hash, 1, signo, 0, err, errlen);
}

int gs_store_deaths(gs_store_t *st, long min_deaths, gs_death_t **out, size_t *n, char *err,
                    size_t errlen)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT config_hash, deaths, signal, rank FROM in_flight "
                                   "WHERE deaths >= ?1 ORDER BY config_hash", -1, &s, NULL) != SQLITE_OK)
        return sqlfail(st, err, errlen, "reading cells in flight");
    sqlite3_bind_int64(s, 1, min_deaths);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            gs_death_t *d = realloc(*out, cap * sizeof *d);
            if (!d) {
                rc = SQLITE_NOMEM;
                break;
            }
            *out = d;
        }
        const char *hex = (const char *)sqlite3_column_text(s, 0);
        (*out)[(*n)++] = (gs_death_t){hex ? strtoull(hex, NULL, 16) : 0,
                                      (long)sqlite3_column_int64(s, 1), sqlite3_column_int(s, 2),
                                      sqlite3_column_int(s, 3)};
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return rc == SQLITE_NOMEM ? (snprintf(err, errlen, "out of memory"), -1)
                                  : sqlfail(st, err, errlen, "reading cells in flight");
    }
    return 0;
}

/* ---- queries ---- */

/* The config_hash of every runs row the statement selects, sorted. */
static int hashes_of(gs_store_t *st, const char *sql, uint64_t **hashes, size_t *n, char *err,
                     size_t errlen)
{
    *hashes = NULL;
    *n = 0;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return sqlfail(st, err, errlen, "reading stored cells");
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
    return sqlfail(st, err, errlen, "reading stored cells");
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
    char host[256];
    long pid;
    if (prepare_inserts(st, err, errlen) != 0 || exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
    int live = find_live(st, host, sizeof host, &pid, 0);
    if (live) {
        snprintf(err, errlen, "%s: a run is writing this database (host %s, pid %ld); nothing "
                 "was deleted", st->path, host, pid);
        goto rollback;
    }
    for (size_t i = 0; i < n; i++) {
        gs_sweep_cell_t cell = {.hash = hashes[i]};
        if (clear_cell(st, &cell, err, errlen) != 0)
            goto rollback;
    }
    if (exec(st, "COMMIT", err, errlen) == 0)
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
    return pragma_int(st, "SELECT count(*) FROM runs");
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
        return sqlfail(st, err, errlen, "reading runs");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *hex = (const char *)sqlite3_column_text(s, 0);
        cb(ctx, hex ? strtoull(hex, NULL, 16) : 0, (const char *)sqlite3_column_text(s, 1),
           (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3),
           (const char *)sqlite3_column_text(s, 4));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return sqlfail(st, err, errlen, "reading runs");
    return 0;
}

/* ---- writes ---- */

/* "INSERT INTO <table> (<head>, a, b, ...) VALUES (:<head>, :a, :b, ...)"
 * with the result table's columns of table (malloc'd; NULL: out of
 * memory). head names the columns before them, ", "-separated. */
static char *insert_sql(const char *table, const char *head, gs_col_table_t which)
{
    size_t cap = 256 + 2 * strlen(head) + 4, len = 0;
    for (size_t i = 0; i < N_COLUMNS; i++)
        cap += 2 * strlen(columns[i].name) + 6;
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    len += (size_t)snprintf(sql + len, cap - len, "INSERT INTO %s (%s", table, head);
    for (size_t i = 0; i < N_COLUMNS; i++)
        if (columns[i].table == which)
            len += (size_t)snprintf(sql + len, cap - len, ", %s", columns[i].name);
    len += (size_t)snprintf(sql + len, cap - len, ") VALUES (");
    for (const char *h = head; *h; h += strspn(h, ", ")) {   /* :a, :b of the head */
        size_t n = strcspn(h, ", ");
        len += (size_t)snprintf(sql + len, cap - len, "%s:%.*s", h == head ? "" : ", ", (int)n, h);
        h += n;
    }
    for (size_t i = 0; i < N_COLUMNS; i++)
        if (columns[i].table == which)
            len += (size_t)snprintf(sql + len, cap - len, ", :%s", columns[i].name);
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
    for (size_t i = 0; i < N_COLUMNS; i++) {
        snprintf(name, sizeof name, ":%s", columns[i].name);
        sqlite3_stmt *s = st->stmt[columns[i].table == GS_TABLE_RUNS ? ST_RUN : ST_THEORY];
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
 * the value columns in the order the put_* functions bind them */
static void series_insert(const char *table, const char *keys, const series_column_t *cols,
                          size_t n, char *sql, size_t cap)
{
    size_t len = (size_t)snprintf(sql, cap, "INSERT INTO %s (%s", table, keys);
    int params = 1;
    for (const char *k = keys; (k = strchr(k, ',')); k++)
        params++;
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(sql + len, cap - len, ", %s", cols[i].name);
    params += (int)n;
    for (int i = 1; i <= params && len < cap; i++)
        len += (size_t)snprintf(sql + len, cap - len, "%s?%d", i == 1 ? ") VALUES (" : ", ", i);
    if (len < cap)
        snprintf(sql + len, cap - len, ")");
    assert(len + 1 < cap);   /* the statement fits */
}

static int prepare_inserts(gs_store_t *st, char *err, size_t errlen)
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
        return sqlfail(st, err, errlen, "preparing inserts");
    if (find_params(st, err, errlen) != 0)
        return -1;
    static const char *const child[] = {
        NULL,
        NULL,   /* ST_LAYER .. ST_TIME: series_insert */
        NULL,
        NULL,
        NULL,
        "INSERT INTO histograms (run_id, layer, quantity, bin, lo, hi, count)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        NULL,   /* ST_THEORY: insert_sql */
        "DELETE FROM in_flight WHERE config_hash = ?1",   /* ST_LANDED: stored, not in flight */
    };
    _Static_assert(sizeof child / sizeof *child == ST_N, "a statement per ST_*");
    const struct {
        int which;
        const char *table, *keys;
        const series_column_t *cols;
        size_t n;
    } series[] = {
        {ST_LAYER, "layer_stats", "run_id, step, layer", layer_stats_cols, N_OF(layer_stats_cols)},
        {ST_LOG, "train_log", "run_id, step", train_log_cols, N_OF(train_log_cols)},
        {ST_LAYER_LOG, "train_layer_log", "run_id, step, layer", train_layer_log_cols,
         N_OF(train_layer_log_cols)},
        {ST_TIME, "time_stats", "run_id, step, t", time_stats_cols, N_OF(time_stats_cols)},
    };
    for (size_t i = 0; i < N_OF(series); i++) {
        char sql[1024];
        series_insert(series[i].table, series[i].keys, series[i].cols, series[i].n, sql,
                      sizeof sql);
        if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                               &st->stmt[series[i].which], NULL) != SQLITE_OK)
            return sqlfail(st, err, errlen, "preparing inserts");
    }
    for (size_t i = 0; i <= N_CHILD; i++) {
        char del[128];
        snprintf(del, sizeof del, "DELETE FROM %s WHERE %s = ?1",
                 i < N_CHILD ? child_tables[i].name : "runs", i < N_CHILD ? "run_id" : "id");
        if (sqlite3_prepare_v3(st->db, del, -1, SQLITE_PREPARE_PERSISTENT, &st->clear[i], NULL) != SQLITE_OK)
            return sqlfail(st, err, errlen, "preparing inserts");
    }
    for (int i = 1; i < ST_N; i++)
        if (child[i] && sqlite3_prepare_v3(st->db, child[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) != SQLITE_OK)
            return sqlfail(st, err, errlen, "preparing inserts");
    return 0;
}

static int step_reset(gs_store_t *st, sqlite3_stmt *s, char *err, size_t errlen, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return sqlfail(st, err, errlen, what);
    return 0;
}

static int put_rows(gs_store_t *st, const gs_sweep_t *sw, const gs_sweep_cell_t *cell,
                    const gs_result_t *r, const gs_put_meta_t *meta, char *err, size_t errlen);

/* The cell is stored: its in_flight row goes, in the same SAVEPOINT. */
static int landed(gs_store_t *st, const gs_sweep_cell_t *cell, char *err, size_t errlen)
{
    sqlite3_bind_text(st->stmt[ST_LANDED], 1, cell->hash_hex, -1, SQLITE_STATIC);
    return step_reset(st, st->stmt[ST_LANDED], err, errlen, "clearing a cell in flight");
}

/* What the database holds of a cell goes before its rows are stored: a
 * failed or crashed cell that `run --retry` reruns, and the rows a runs
 * row deleted by hand left behind when the deleting connection had
 * foreign keys off (the sqlite3 shell's default). */
static int clear_cell(gs_store_t *st, const gs_sweep_cell_t *cell, char *err, size_t errlen)
{
    for (size_t i = 0; i <= N_CHILD; i++) {
        sqlite3_bind_int64(st->clear[i], 1, (sqlite3_int64)(cell->hash & INT64_MAX));
        if (step_reset(st, st->clear[i], err, errlen, "replacing a stored cell") != 0)
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
    if (prepare_inserts(st, err, errlen) != 0 || open_batch(st, err, errlen) != 0)
        return -1;
    if (exec(st, "SAVEPOINT cell", err, errlen) != 0)
        return -1;
    if (clear_cell(st, cell, err, errlen) != 0 || put_rows(st, sw, cell, r, meta, err, errlen) != 0 ||
        landed(st, cell, err, errlen) != 0) {
        sqlite3_exec(st->db, "ROLLBACK TO cell; RELEASE cell", NULL, NULL, NULL);
        return -1;
    }
    if (exec(st, "RELEASE cell", err, errlen) != 0)
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
        bind_real(s, i, v);
        break;
    case GS_COL_REAL_INF:
        memcpy(&v, field, sizeof v);
        bind_real_inf(s, i, v);
        break;
    case GS_COL_INT: case GS_COL_SESSION:
        memcpy(&n, field, sizeof n);
        sqlite3_bind_int64(s, i, n);
        break;
    case GS_COL_TEXT:
        sqlite3_bind_text(s, i, field, -1, SQLITE_TRANSIENT);
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
    for (size_t k = 0; k < N_COLUMNS; k++) {
        const gs_column_t *col = &columns[k];
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
    return step_reset(st, s, err, errlen, "storing a run");
}

/* ---- the rows of the other tables ---- */

/* A series row's value columns bound from the row L, from parameter i
 * on, in the order of their table's columns (result_fields.h), which is
 * series_insert's */
#define BIND_REAL(s, i, v) bind_real(s, i, v)
#define BIND_INT(s, i, v) sqlite3_bind_int64(s, i, v)
#define BIND_SERIES(name, type, help) BIND_##type(s, i++, L->name);

/* The key columns of a series row: run_id, step, then the layer or t */
static int bind_series_keys(sqlite3_stmt *s, sqlite3_int64 id, sqlite3_int64 step,
                            sqlite3_int64 index, int has_index)
{
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, step);
    if (has_index)
        sqlite3_bind_int64(s, 3, index);
    return has_index ? 4 : 3;
}

static int put_layer_stats(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                           size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_LAYER];
    for (size_t l = 0; l < r->n_layers; l++) {
        const gs_layer_stats_t *L = &r->layers[l];
        int i = bind_series_keys(s, id, 0, (sqlite3_int64)l + 1, 1);
        GS_LAYER_STATS_COLUMNS(BIND_SERIES)
        assert(i == sqlite3_bind_parameter_count(s) + 1);   /* every column bound */
        if (step_reset(st, s, err, errlen, "storing layer_stats") != 0)
            return -1;
    }
    return 0;
}

static int put_layer_log(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                         size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_LAYER_LOG];
    for (size_t j = 0; j < r->n_layer_log; j++) {
        const gs_train_layer_row_t *L = &r->layer_log[j];
        int i = bind_series_keys(s, id, L->step, L->layer, 1);
        GS_TRAIN_LAYER_LOG_COLUMNS(BIND_SERIES)
        assert(i == sqlite3_bind_parameter_count(s) + 1);
        if (step_reset(st, s, err, errlen, "storing train_layer_log") != 0)
            return -1;
    }
    return 0;
}

static int put_time_stats(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                          size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_TIME];
    for (size_t t = 0; t < r->n_time; t++) {
        const gs_time_stats_t *L = &r->time[t];
        int i = bind_series_keys(s, id, 0, (sqlite3_int64)t + 1, 1);
        GS_TIME_STATS_COLUMNS(BIND_SERIES)
        assert(i == sqlite3_bind_parameter_count(s) + 1);
        if (step_reset(st, s, err, errlen, "storing time_stats") != 0)
            return -1;
    }
    return 0;
}

static int put_train_log(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                         size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_LOG];
    for (size_t j = 0; j < r->n_log; j++) {
        const gs_train_row_t *L = &r->log[j];
        int i = bind_series_keys(s, id, L->step, 0, 0);
        GS_TRAIN_LOG_COLUMNS(BIND_SERIES)
        assert(i == sqlite3_bind_parameter_count(s) + 1);
        if (step_reset(st, s, err, errlen, "storing train_log") != 0)
            return -1;
    }
    return 0;
}

static int put_histograms(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                          size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_HIST];
    for (size_t h = 0; h < r->n_hist; h++) {
        const gs_hist_t *H = &r->hist[h];
        double w = (H->hi - H->lo) / GS_HIST_BINS;
        for (int b = 0; b < GS_HIST_BINS; b++) {
            sqlite3_bind_int64(s, 1, id);
            sqlite3_bind_int(s, 2, H->layer);
            sqlite3_bind_text(s, 3, H->quantity, -1, SQLITE_STATIC);
            sqlite3_bind_int(s, 4, b);
            sqlite3_bind_double(s, 5, H->lo + b * w);
            sqlite3_bind_double(s, 6, b == GS_HIST_BINS - 1 ? H->hi : H->lo + (b + 1) * w);
            sqlite3_bind_int64(s, 7, H->count[b]);
            if (step_reset(st, s, err, errlen, "storing histograms") != 0)
                return -1;
        }
    }
    return 0;
}

static int put_theory(gs_store_t *st, sqlite3_int64 id, const gs_cell_t *c, const gs_result_t *r,
                      const derived_t *d, char *err, size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_THEORY];
    sqlite3_bind_int64(s, param(s, ":run_id"), id);
    bind_columns(st, s, GS_TABLE_THEORY, c, r, d);
    return step_reset(st, s, err, errlen, "storing theory");
}

static int put_rows(gs_store_t *st, const gs_sweep_t *sw, const gs_sweep_cell_t *cell,
                    const gs_result_t *r, const gs_put_meta_t *meta, char *err, size_t errlen)
{
    const gs_cell_t *c = &cell->cell;
    sqlite3_int64 id = (sqlite3_int64)(cell->hash & INT64_MAX);
    int failed = !GS_STATUS_MEASURED(r->status);
    derived_t d;
    derive(st, c, meta, &d);
    if (put_run(st, sw, cell, r, &d, err, errlen) != 0 ||
        (!failed && put_layer_stats(st, id, r, err, errlen) != 0) ||
        put_train_log(st, id, r, err, errlen) != 0 ||
        put_layer_log(st, id, r, err, errlen) != 0 ||
        (!failed && put_time_stats(st, id, r, err, errlen) != 0) ||
        put_histograms(st, id, r, err, errlen) != 0)
        return -1;
    if (!failed && (c->model == GS_MODEL_MLP || c->model == GS_MODEL_RNN))
        return put_theory(st, id, c, r, &d, err, errlen);
    return 0;
}
