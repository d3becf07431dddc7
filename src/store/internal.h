/* What the files of src/store share and nothing outside does: the store's
 * state, the result table as the store lays it out, and the helpers every
 * file of it calls. The files, by job:
 *   schema.c   the schema's text from the result table and the series
 *              lists, the dump, the tables of a cell's rows;
 *   migrate.c  the upgrade of an older database in place;
 *   store.c    opening, closing, errors and the shared SQL helpers;
 *   session.c  the run lock, the sweep and its sessions, cells in flight;
 *   queries.c  what is stored: hashes, orphans, the config text;
 *   put.c      storing a cell, a SAVEPOINT each. */
#ifndef GS_STORE_INTERNAL_H
#define GS_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>

#include "store/store.h"

#define MAX_PARAMS 64           /* columns of the result table; config keys */
#define GS_STR2(x) #x
#define GS_STR(x) GS_STR2(x)
#define N_OF(a) (sizeof(a) / sizeof *(a))

/* the prepared statements of a cell's rows (put.c) */
enum {
    ST_RUN, ST_LAYER, ST_LOG, ST_LAYER_LOG, ST_TIME, ST_HIST, ST_THEORY, ST_LANDED, ST_FMT,
    ST_FMT_EXP, ST_BLOCK, ST_HEAD,
    ST_FMT_BATCH, ST_FMT_EXP_BATCH,   /* STORE_FMT_BATCH records' rows in one statement */
    ST_N
};
/* format_stats and format_exponents: the records a statement stores,
 * STORE_FMT_BATCH (500 rows of 14 values; with a record's five rows a
 * statement, storing took a fifth longer); the last records, fewer, go
 * one at a time. Fewer when SQLite allows fewer parameters (999
 * before 3.32). */
#define STORE_FMT_BATCH 100

struct gs_store {
    sqlite3 *db;
    char path[4096];
    sqlite3_stmt *stmt[ST_N];
    size_t fmt_batch, fmt_exp_batch;   /* records in ST_FMT_BATCH's, rows in ST_FMT_EXP_BATCH's */
    sqlite3_stmt *clear[16];  /* a cell's rows: per child table, then runs (clear_cell) */
    int col_param[MAX_PARAMS];   /* per column of the result table: its INSERT's parameter */
    int key_param[MAX_PARAMS];   /* per config key: its parameter in the runs INSERT (0: none) */
    int in_txn;
    long session_id;
    char host[256];
    double session_start;
    long stored;   /* cells this session */
    long fresh_deleted;        /* cells a fresh start deleted */
    char fresh_replaced[256];  /* the other sweep it replaced, or "" */
    int busy_ms;               /* the busy timeout (GS_BUSY_TIMEOUT_ENV) */
    double heartbeat_limit_s;  /* a session's heartbeat older than this: dead (GS_HEARTBEAT_LIMIT_ENV) */
    char taken_over[512];      /* the session a takeover ended, or "" */
    char hint[256];            /* sql_hint's text when it names a value */
};

/* ---- the result table and the series lists, as data (schema.c) ---- */

/* The values of the result table's C and P rows (result_fields.h) for
 * one cell: what the store derives from the cell and where it ran. */
typedef struct {
    GS_RUN_COLUMNS(GS_COLUMN_SKIP, GS_COLUMN_FIELD, GS_COLUMN_FIELD)
} derived_t;

/* Every column of the result table; R rows' offsets into gs_result_t,
 * the others' into derived_t. */
extern const gs_column_t store_columns[];
extern const size_t store_n_columns;

/* A value column of a series table: a double (REAL) or a long (INT)
 * field of the row struct */
typedef struct {
    const char *name, *sql_type, *help;
    size_t offset;
    int is_int;
} series_column_t;
/* Where a series row's step and layer (or t) come from: a field of the
 * row (its offset), or the row's position */
#define STORE_STEP_ZERO (-1)     /* step: 0, the rows are at initialization */
#define STORE_INDEX_POS (-1)     /* layer or t: the row's position + 1 */
#define STORE_NO_INDEX (-2)      /* no layer or t column (train_log) */
/* A series table: the statement that stores its rows, its key columns,
 * its value columns, and where a cell's rows are in gs_result_t */
typedef struct {
    int which;   /* ST_* */
    const char *table, *keys;
    const series_column_t *cols;
    size_t n;
    size_t rows_at, count_at, row_size;   /* the row array, its length, a row's size */
    ptrdiff_t step_at, index_at;          /* a long step, an int layer, or STORE_* */
    int measured_only;                    /* a failed cell has none */
    /* a text key after the layer (block_stats.sublayer): an int32 field
     * of the row at label_at indexing labels[0..n_labels); labels NULL:
     * none */
    ptrdiff_t label_at;
    const char *const *labels;
    size_t n_labels;
} store_series_t;
#define STORE_N_SERIES 7
#define STORE_FORMAT_STATS 4   /* its rows are per record and format: put_format_stats */
#define STORE_BLOCK_STATS 5    /* block_stats: its schema text is block_stats_sql's */
#define STORE_HEAD_STATS 6     /* head_stats: head_stats_sql's (head, a key, is its first value column) */
extern const store_series_t store_series[STORE_N_SERIES];

/* The tables whose rows belong to one cell (run_id references runs(id),
 * ON DELETE CASCADE since schema version 6), and the version each came
 * in: a migration rebuilds those an older database has. */
typedef struct {
    const char *name;
    int since;
} store_table_t;
extern const store_table_t store_child_tables[];
extern const size_t store_n_child;

/* "'a', 'b', 'c'" of n names */
void store_names_in(char *buf, size_t cap, const char *const *names, size_t n);
/* "name TYPE [NOT NULL] [CHECK (name IN (...))]" of a column */
void store_column_sql(const gs_column_t *col, char *buf, size_t cap);
/* The CREATE TABLE statement of table name in the schema, as "CREATE
 * TABLE <as> (...)" (malloc'd; NULL: none or out of memory). */
char *store_table_sql(const char *name, const char *as);

/* ---- helpers (store.c) ---- */

/* err = "<path>: <what>: <SQLite's message><what it means>"; -1 */
int store_sqlfail(gs_store_t *st, char *err, size_t errlen, const char *what);
int store_exec(gs_store_t *st, const char *sql, char *err, size_t errlen);
/* BEGIN the batch the puts go into, unless one is open */
int store_open_batch(gs_store_t *st, char *err, size_t errlen);
/* The integer a query (with one text parameter) returns, -1 on error. */
long store_pragma_int(gs_store_t *st, const char *sql);
long store_pragma_int_text(gs_store_t *st, const char *sql, const char *text);
/* A REAL parameter, NULL for what is not finite (_inf: an infinity kept) */
void store_bind_real(sqlite3_stmt *s, int i, double v);
void store_bind_real_inf(sqlite3_stmt *s, int i, double v);
/* Step a statement that returns no row, then reset and clear it. */
int store_step_reset(gs_store_t *st, sqlite3_stmt *s, char *err, size_t errlen, const char *what);

/* ---- the others' ---- */

int store_migrate(gs_store_t *st, long ver, char *err, size_t errlen);          /* migrate.c */
/* The session that holds the run lock (session.c): store_find_live
 * fills one in for the first live one it finds. */
typedef struct {
    long id, pid;
    char host[256];
    double age_s;     /* of its heartbeat */
    int by_process;   /* judged alive by this host's /proc (1) or by the heartbeat (0) */
} store_holder_t;
/* 1 live (holder filled in), 0 none, -1 the sessions cannot be read
 * (holder->host says why). mark_crashed: sessions found dead are marked
 * crashed; takeover: the live ones too (holder names the first). */
int store_find_live(gs_store_t *st, store_holder_t *holder, int mark_crashed, int takeover);
/* The start time of process pid (clock ticks after boot, /proc/PID/stat
 * field 22), or -1 when this host cannot say. */
long long store_process_start(long pid);
int store_prepare_inserts(gs_store_t *st, char *err, size_t errlen);            /* put.c */
int store_clear_cell(gs_store_t *st, const gs_sweep_cell_t *cell, char *err, size_t errlen);

#endif
