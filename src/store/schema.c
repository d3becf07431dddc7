/* The results database's schema: its text made from the result table
 * (experiment/result_fields.h) and the series lists, `gradsweep schema
 * --dump`'s queries, and the tables of a cell's rows. */
#include <config.h>

#include "store/internal.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/hash.h"

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
    "  , shard TEXT                         -- 'I/N': the cells of shard I of N only (run --shard: those\n"
    "                                       -- whose config_hash modulo N is I; gradsweep merge joins\n"
    "                                       -- shards); NULL: the whole sweep (since version 8)\n"
    ");\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS sessions (  -- one row per `gradsweep run` on this database\n"
    "  id INTEGER PRIMARY KEY,              -- session number, from 1\n"
    "  status TEXT NOT NULL CHECK (status IN (%SESSION_IN%)),  --\n"
    "                                       -- crashed: found running with its process gone\n"
    "  started_at TEXT NOT NULL,            -- start of the run\n"
    "  ended_at TEXT,                       -- end of the run; NULL while running or after a crash\n"
    "  heartbeat REAL NOT NULL,             -- unix time of the latest commit (at least every\n"
    "                                       -- " GS_STR(GS_HEARTBEAT_EVERY_S) " s): the lock, seen from other hosts\n"
    "  host TEXT NOT NULL,                  -- host of rank 0\n"
    "  pid INTEGER NOT NULL,                -- process id of rank 0\n"
    "  ranks INTEGER NOT NULL,              -- MPI ranks, coordinator included\n"
    "  threads INTEGER NOT NULL,            -- OpenMP threads per rank\n"
    "  hosts TEXT NOT NULL,                 -- every rank's host, distinct, comma-separated\n"
    "  gradsweep_version TEXT NOT NULL,     -- the program's version\n"
    "  cells_stored INTEGER NOT NULL DEFAULT 0,  -- cells this run stored\n"
    "  wall_s REAL,                         -- wall time of the run, seconds\n"
    "  coordinator_cpu_s REAL,              -- CPU seconds of rank 0's coordinating thread\n"
    "  pid_start INTEGER                    -- start time of rank 0's process (clock ticks after\n"
    "                                       -- boot, /proc/PID/stat field 22; NULL without /proc,\n"
    "                                       -- or written before version 8): on its host a session\n"
    "                                       -- is live while that pid runs with that start time\n"
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
    "CREATE TABLE IF NOT EXISTS histogram_counts (  -- weights at init, per layer: one row a histogram\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
    "  layer INTEGER NOT NULL,              -- 1..depth, depth+1 the readout\n"
    "  quantity TEXT NOT NULL,              -- weight (W; recurrent Wh), weight_input (recurrent Wx),\n"
    "                                       -- jacobian_log10_sv (layer 0: log10 of the singular values\n"
    "                                       -- of dx_depth/dx_0, spectrum=yes)\n"
    "  lo REAL NOT NULL,                    -- the first bin's lower edge\n"
    "  hi REAL NOT NULL,                    -- the last bin's upper edge\n"
    "  counts TEXT NOT NULL,                -- JSON array of the bins' counts, bin 0 first; the bins\n"
    "                                       -- split [lo, hi] equally (" GS_STR(GS_HIST_BINS) " of them)\n"
    "  PRIMARY KEY (run_id, layer, quantity)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "-- The histograms one row per bin (the table of schema version 6 and before):\n"
    "-- bin (0-based), its edges lo and hi, and count, its entries in [lo, hi).\n"
    "CREATE VIEW IF NOT EXISTS histograms AS\n"
    "  SELECT h.run_id, h.layer, h.quantity, j.key AS bin,\n"
    "         h.lo + j.key * ((h.hi - h.lo) / json_array_length(h.counts)) AS lo,\n"
    "         CASE WHEN j.key + 1 < json_array_length(h.counts)\n"
    "              THEN h.lo + (j.key + 1) * ((h.hi - h.lo) / json_array_length(h.counts))\n"
    "              ELSE h.hi END AS hi,\n"
    "         j.value AS count\n"
    "    FROM histogram_counts h, json_each(h.counts) j;\n"
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


/* The result table as data: its R rows read from gs_result_t, the others
 * from derived_t. */
#define ENTRY_R(...) GS_COLUMN_ENTRY(R, gs_result_t, __VA_ARGS__)
#define ENTRY_C(...) GS_COLUMN_ENTRY(C, derived_t, __VA_ARGS__)
#define ENTRY_P(...) GS_COLUMN_ENTRY(P, derived_t, __VA_ARGS__)
const gs_column_t store_columns[] = {GS_RUN_COLUMNS(ENTRY_R, ENTRY_C, ENTRY_P)};
#undef ENTRY_R
#undef ENTRY_C
#undef ENTRY_P
#define N_COLUMNS (sizeof store_columns / sizeof *store_columns)
const size_t store_n_columns = N_COLUMNS;
_Static_assert(N_COLUMNS <= MAX_PARAMS, "a parameter index per column");

const gs_column_t *gs_store_columns(size_t *n)
{
    *n = store_n_columns;
    return store_columns;
}

/* "'a', 'b', 'c'" of n names */
void store_names_in(char *buf, size_t cap, const char *const *names, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s'%s'", i ? ", " : "", names[i]);
}

/* "name TYPE [NOT NULL] [CHECK (name IN ('a', 'b'))]" of a column (the
 * status, which every row has, is NOT NULL) */
void store_column_sql(const gs_column_t *col, char *buf, size_t cap)
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
    store_names_in(in, sizeof in, names, n);
    snprintf(buf + len, cap - len, " CHECK (%s IN (%s))", col->name, in);
}

/* The value columns of the series tables (result_fields.h), as data:
 * for their schema lines, INSERTs and binds */
#define SERIES_ENTRY(T, name, type, help) {#name, SQL_##type, help, offsetof(T, name), IS_INT_##type},
#define SQL_REAL "REAL"
#define SQL_INT "INTEGER"
#define IS_INT_REAL 0
#define IS_INT_INT 1
#define LAYER_STATS_ENTRY(name, type, help) SERIES_ENTRY(gs_layer_stats_t, name, type, help)
#define TRAIN_LOG_ENTRY(name, type, help) SERIES_ENTRY(gs_train_row_t, name, type, help)
#define LAYER_LOG_ENTRY(name, type, help) SERIES_ENTRY(gs_train_layer_row_t, name, type, help)
#define TIME_STATS_ENTRY(name, type, help) SERIES_ENTRY(gs_time_stats_t, name, type, help)
#define FORMAT_STATS_ENTRY(name, type, help) SERIES_ENTRY(gs_format_row_t, name, type, help)
#define BLOCK_STATS_ENTRY(name, type, help) SERIES_ENTRY(gs_block_row_t, name, type, help)
#define HEAD_STATS_ENTRY(name, type, help) SERIES_ENTRY(gs_head_row_t, name, type, help)
static const series_column_t layer_stats_cols[] = {GS_LAYER_STATS_COLUMNS(LAYER_STATS_ENTRY)},
                             train_log_cols[] = {GS_TRAIN_LOG_COLUMNS(TRAIN_LOG_ENTRY)},
                             train_layer_log_cols[] = {GS_TRAIN_LAYER_LOG_COLUMNS(LAYER_LOG_ENTRY)},
                             time_stats_cols[] = {GS_TIME_STATS_COLUMNS(TIME_STATS_ENTRY)},
                             format_stats_cols[] = {GS_FORMAT_STATS_COLUMNS(FORMAT_STATS_ENTRY)},
                             block_stats_cols[] = {GS_BLOCK_STATS_COLUMNS(BLOCK_STATS_ENTRY)},
                             head_stats_cols[] = {GS_HEAD_STATS_COLUMNS(HEAD_STATS_ENTRY)};
/* A cell's rows of a series: array, count and row type in gs_result_t */
#define ROWS(array, count, T) offsetof(gs_result_t, array), offsetof(gs_result_t, count), sizeof(T)
const store_series_t store_series[STORE_N_SERIES] = {
    {ST_LAYER, "layer_stats", "run_id, step, layer", layer_stats_cols, N_OF(layer_stats_cols),
     ROWS(layers, n_layers, gs_layer_stats_t), STORE_STEP_ZERO, STORE_INDEX_POS, 1, 0, NULL, 0},
    {ST_LOG, "train_log", "run_id, step", train_log_cols, N_OF(train_log_cols),
     ROWS(log, n_log, gs_train_row_t), offsetof(gs_train_row_t, step), STORE_NO_INDEX, 0, 0, NULL, 0},
    {ST_LAYER_LOG, "train_layer_log", "run_id, step, layer", train_layer_log_cols,
     N_OF(train_layer_log_cols), ROWS(layer_log, n_layer_log, gs_train_layer_row_t),
     offsetof(gs_train_layer_row_t, step), offsetof(gs_train_layer_row_t, layer), 0, 0, NULL, 0},
    {ST_TIME, "time_stats", "run_id, step, t", time_stats_cols, N_OF(time_stats_cols),
     ROWS(time, n_time, gs_time_stats_t), STORE_STEP_ZERO, STORE_INDEX_POS, 1, 0, NULL, 0},
    [STORE_FORMAT_STATS] =   /* a row per record and format, from gs_format_row: put_format_stats */
    {ST_FMT, "format_stats", "run_id, step, layer, tensor, format", format_stats_cols,
     N_OF(format_stats_cols), 0, 0, 0, STORE_STEP_ZERO, STORE_NO_INDEX, 0, 0, NULL, 0},
    [STORE_BLOCK_STATS] =
    {ST_BLOCK, "block_stats", "run_id, step, layer, sublayer", block_stats_cols,
     N_OF(block_stats_cols), ROWS(block, n_block, gs_block_row_t), offsetof(gs_block_row_t, step),
     offsetof(gs_block_row_t, layer), 1, offsetof(gs_block_row_t, sublayer), gs_sublayer_names,
     GS_N_SUBLAYERS},
    [STORE_HEAD_STATS] =
    {ST_HEAD, "head_stats", "run_id, step, layer", head_stats_cols, N_OF(head_stats_cols),
     ROWS(head, n_head, gs_head_row_t), offsetof(gs_head_row_t, step), offsetof(gs_head_row_t, layer),
     1, 0, NULL, 0},
};

/* A series table's value columns as schema lines, each followed by a
 * comma (the PRIMARY KEY line comes after them) */
static void series_sql(const store_series_t *series, char *buf, size_t cap)
{
    const series_column_t *cols = series->cols;
    size_t n = series->n;
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
    for (size_t i = 0; i < store_n_columns; i++)
        if (store_columns[i].table == table)
            last = i;
    for (size_t i = 0; i < store_n_columns && len < cap; i++) {
        if (store_columns[i].table != table)
            continue;
        char col[512];
        store_column_sql(&store_columns[i], col, sizeof col);
        if (i != last)
            strcat(col, ",");
        len += (size_t)snprintf(buf + len, cap - len, "  %-36s --", col);
        if (strlen(col) > 36 && len < cap)   /* the help on lines of its own */
            len += (size_t)snprintf(buf + len, cap - len, "\n%39s--", "");
        for (const char *h = store_columns[i].help; len < cap;) {
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

/* The tables of format_stats=yes (schema version 8): format_stats, one
 * row per measured step, layer, tensor and format with the columns of
 * GS_FORMAT_STATS_COLUMNS; format_exponents, each tensor's log2-exponent
 * histogram (the same for every format: a value's exponent is its own),
 * one row a histogram as histogram_counts keeps its bins; and the views
 * that open them: format_exponent_bins (a row per exponent) and
 * loss_scale_window (per measured step, gradient and format: the scales
 * every layer allows). Appended to s[len..cap); the new length. */
/* s[len..cap) += printf(fmt, ...); the new length (>= cap: it did not fit) */
static size_t appendf(char *s, size_t len, size_t cap, const char *fmt, ...)
{
    if (len >= cap)
        return len;
    va_list ap;
    va_start(ap, fmt);
    len += (size_t)vsnprintf(s + len, cap - len, fmt, ap);
    va_end(ap);
    return len;
}

/* "col = 'a' OR col = 'b' ..." of names[0..n) into buf: a CHECK that
 * SQLite evaluates as comparisons. Its "col IN ('a', 'b', ...)" builds a
 * temporary index for each row inserted (more than two names): on
 * format_stats, 33,000 rows a narrow cell, the two IN lists took as long
 * as the rest of the insert (issue 20's cost). The series tables of many
 * rows (format_stats, format_exponents, block_stats) use it. */
static void names_or(char *buf, size_t cap, const char *col, const char *const *names, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s = '%s'", i ? " OR " : "", col,
                                names[i]);
    assert(len < cap);   /* the list fits */
}

/* The table block_stats (schema version 9, model=transformer): per
 * measured step, block and sublayer, the columns of
 * GS_BLOCK_STATS_COLUMNS. Appended to s[len..cap); the new length. */
static size_t block_stats_sql(char *s, size_t len, size_t cap)
{
    char sub_in[512], cols[2048];
    names_or(sub_in, sizeof sub_in, "sublayer", gs_sublayer_names, GS_N_SUBLAYERS);
    series_sql(&store_series[STORE_BLOCK_STATS], cols, sizeof cols);
    return appendf(s, len, cap,
        "\nCREATE TABLE IF NOT EXISTS block_stats (  -- model=transformer: per block and sublayer\n"
        "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
        "  step INTEGER NOT NULL,               -- 0: at init (probe and train); else a logged step\n"
        "  layer INTEGER NOT NULL,              -- block 1..depth, 1 next to the embeddings\n"
        "  sublayer TEXT NOT NULL CHECK (%s),  --\n"
        "                                       -- q, k, v, o: the attention's matrices; w1, w2: the\n"
        "                                       -- MLP's first and second; ln1, ln2: the two norms'\n"
        "                                       -- gains (ln != none only); block: the block's row\n"
        "%s"
        "  PRIMARY KEY (run_id, step, layer, sublayer)\n"
        ") WITHOUT ROWID;\n", sub_in, cols);
}

/* The table head_stats (schema version 9, model=transformer): per
 * measured step, block and head, the columns of GS_HEAD_STATS_COLUMNS
 * (the first, head, part of the key). Appended to s[len..cap). */
static size_t head_stats_sql(char *s, size_t len, size_t cap)
{
    char cols[1024];
    series_sql(&store_series[STORE_HEAD_STATS], cols, sizeof cols);
    return appendf(s, len, cap,
        "\nCREATE TABLE IF NOT EXISTS head_stats (  -- model=transformer: per block and head\n"
        "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
        "  step INTEGER NOT NULL,               -- 0: at init (probe and train); else a logged step\n"
        "  layer INTEGER NOT NULL,              -- block 1..depth, 1 next to the embeddings\n"
        "%s"
        "  PRIMARY KEY (run_id, step, layer, head)\n"
        ") WITHOUT ROWID;\n", cols);
}

static size_t format_tables_sql(char *s, size_t len, size_t cap)
{
    char tensor_in[512], format_in[512], cols[2048];
    names_or(tensor_in, sizeof tensor_in, "tensor", gs_fmt_tensor_names, GS_N_FMT_TENSORS);
    names_or(format_in, sizeof format_in, "format", gs_fmt_names, GS_N_FMT);
    series_sql(&store_series[STORE_FORMAT_STATS], cols, sizeof cols);
    /* the key both tables share, %s the tensors' CHECK list */
    static const char key[] =
        "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
        "  step INTEGER NOT NULL,               -- 0: the probe; else a logged step (train_log's)\n"
        "  layer INTEGER NOT NULL,              -- 1..depth from the input; depth+1 the readout\n"
        "  tensor TEXT NOT NULL CHECK (%s),  -- what of the layer:\n"
        "                                       -- activation: x_l (the readout's: the logits);\n"
        "                                       -- grad_activation: dL/dh_l (layer_stats.grad_pre_norm's);\n"
        "                                       -- grad_weight: dL/dW_l before clipping; weight: W_l\n"
        "                                       -- before the update; update: the change applied to W_l\n";
    len = appendf(s, len, cap, "\nCREATE TABLE IF NOT EXISTS format_stats (  "
                  "-- format_stats=yes: what each format does to a tensor\n");
    len = appendf(s, len, cap, key, tensor_in);
    len = appendf(s, len, cap,
        "  format TEXT NOT NULL CHECK (%s),  -- rounded to it, nearest-even,\n"
        "                                       -- from the double value\n"
        "%s"
        "  PRIMARY KEY (run_id, step, layer, tensor, format)\n"
        ") WITHOUT ROWID;\n"
        "\n"
        "CREATE TABLE IF NOT EXISTS format_exponents (  -- format_stats=yes: each tensor's exponents\n",
        format_in, cols);
    len = appendf(s, len, cap, key, tensor_in);
    return appendf(s, len, cap,
        "  exp_lo INTEGER NOT NULL,             -- floor(log2|x|) of the first count (%d: that and below)\n"
        "  counts TEXT NOT NULL,                -- JSON array: the nonzero finite values with floor(log2|x|)\n"
        "                                       -- = exp_lo, exp_lo + 1, ... to the last nonzero one (%d:\n"
        "                                       -- that and above); no row when all are zero\n"
        "  PRIMARY KEY (run_id, step, layer, tensor)\n"
        ") WITHOUT ROWID;\n"
        "\n"
        "-- The exponent histograms one row per exponent.\n"
        "CREATE VIEW IF NOT EXISTS format_exponent_bins AS\n"
        "  SELECT e.run_id, e.step, e.layer, e.tensor, e.exp_lo + j.key AS exponent, j.value AS count\n"
        "    FROM format_exponents e, json_each(e.counts) j;\n"
        "\n"
        "-- The loss-scale window of a measured step's gradient in a format: the powers of two\n"
        "-- 2^lo_log2 .. 2^hi_log2 that lose at most 0.1%% of no layer's nonzero values to zero\n"
        "-- and overflow none; empty = 1: no single loss scale saves this network.\n"
        "-- default_ok: GradScaler's initial scale 2^16 lies in it.\n"
        "CREATE VIEW IF NOT EXISTS loss_scale_window AS\n"
        "  SELECT run_id, step, tensor, format, max(scale_lo_log2) AS lo_log2,\n"
        "         min(scale_hi_log2) AS hi_log2, max(scale_lo_log2) > min(scale_hi_log2) AS empty,\n"
        "         16 BETWEEN max(scale_lo_log2) AND min(scale_hi_log2) AS default_ok\n"
        "    FROM format_stats WHERE scale_lo_log2 IS NOT NULL\n"
        "   GROUP BY run_id, step, tensor, format;\n",
        GS_FMT_EXP_LO, GS_FMT_EXP_HI);
}

const char *gs_store_schema_sql(void)
{
    static char *sql;
    if (sql)
        return sql;
    size_t cap = sizeof schema_head + sizeof schema_tail + 65536, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;   /* never a shorter schema */
    char session_in[256];
    store_names_in(session_in, sizeof session_in, gs_session_names, GS_N_SESSION);
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
    char runs_cols[16384], theory_cols[8192], layer[2048], log[2048], layer_log[4096],
        time[1024];
    columns_sql(GS_TABLE_RUNS, runs_cols, sizeof runs_cols);
    series_sql(&store_series[0], layer, sizeof layer);
    series_sql(&store_series[1], log, sizeof log);
    series_sql(&store_series[2], layer_log, sizeof layer_log);
    series_sql(&store_series[3], time, sizeof time);
    columns_sql(GS_TABLE_THEORY, theory_cols, sizeof theory_cols);
    const marker_t marks[] = {{"%RUNS_COLUMNS%", runs_cols}, {"%LAYER_STATS_COLUMNS%", layer},
                              {"%TRAIN_LOG_COLUMNS%", log}, {"%TRAIN_LAYER_LOG_COLUMNS%", layer_log},
                              {"%TIME_STATS_COLUMNS%", time}, {"%THEORY_COLUMNS%", theory_cols}};
    len = fill_markers(s, len, cap, schema_tail, marks, sizeof marks / sizeof *marks);
    len = format_tables_sql(s, len, cap);
    len = block_stats_sql(s, len, cap);
    len = head_stats_sql(s, len, cap);
    if (len >= cap) {   /* the key columns outgrew the room: a bug, never a shorter schema */
        assert(!"the schema's buffer is too small");
        free(s);
        return NULL;
    }
    sql = s;
    return sql;
}

/* The tables whose rows belong to one cell (run_id references runs(id),
 * ON DELETE CASCADE since schema version 6), and the version each came
 * in: a migration rebuilds those an older database has. */
const store_table_t store_child_tables[] = {
    {"layer_stats", 1}, {"train_log", 1}, {"time_stats", 1}, {"histogram_counts", 7},
    {"train_layer_log", 2}, {"theory", 3}, {"format_stats", 8}, {"format_exponents", 8},
    {"block_stats", 9}, {"head_stats", 9},
};
#define N_CHILD (sizeof store_child_tables / sizeof *store_child_tables)
const size_t store_n_child = N_CHILD;

const char *gs_store_cell_table(size_t i)
{
    return i == 0 ? "runs" : i <= N_CHILD ? store_child_tables[i - 1].name : NULL;
}
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
    for (size_t i = 0; i < store_n_columns; i++)
        if (store_columns[i].source == GS_SOURCE_P) {
            size_t len = strlen(prov);
            snprintf(prov + len, sizeof prov - len, ", '%s'", store_columns[i].name);
        }
    snprintf(sql, sizeof sql, q, prov);
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        goto out;
    size_t cap = 1, len = 0;
    for (size_t i = 0; i <= store_n_child; i++) {
        const char *table = i == 0 ? "runs" : store_child_tables[i - 1].name;
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
char *store_table_sql(const char *name, const char *as)
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
