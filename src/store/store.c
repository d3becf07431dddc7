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
#define GS_STR2(x) #x
#define GS_STR(x) GS_STR2(x)

enum { ST_RUN, ST_LAYER, ST_LOG, ST_LAYER_LOG, ST_TIME, ST_HIST, ST_THEORY, ST_LANDED, ST_N };

struct gs_store {
    sqlite3 *db;
    char path[4096];
    sqlite3_stmt *stmt[ST_N];
    sqlite3_stmt *clear[8];   /* a cell's rows: per child table, then runs (clear_cell) */
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
    "  sigma_w2 REAL,                       -- fan_in Var(W) of a hidden width x width matrix at init\n"
    "                                       -- (mean-field sigma_w^2; recurrent: of Wh)\n"
    "  sigma_b2 REAL,                       -- bias_std^2 (mean-field sigma_b^2)\n"
    "  status TEXT NOT NULL CHECK (status IN (%STATUS_IN%)),  --\n"
    "                                       -- diverged: a non-finite loss or gradient; failed: did not run;\n"
    "                                       -- crashed: killed its process (a signal) in two runs\n"
    "  error TEXT,                          -- why a failed cell failed\n"
    "  diagnosis TEXT CHECK (diagnosis IN (%DIAG_IN%)),  --\n"
    "                                       -- at init, never overwritten: from grad_h_ratio and the\n"
    "                                       -- thresholds; dead: a layer's gradient exactly zero (or its\n"
    "                                       -- units all dead); diverged: not finite at init\n"
    "  grad_ratio REAL,                     -- at init: the weight gradients, grad_w_norm(1) /\n"
    "                                       -- grad_w_norm(depth) (NULL for 0/0). Shown, never the\n"
    "                                       -- verdict: dL/dW is dL/dh times the layer's input, and the\n"
    "                                       -- two can cancel while dL/dh vanishes (Glorot & Bengio 2010)\n"
    "  init_loss REAL,                      -- loss of the first batch at init\n"
    "  train_loss REAL,                     -- task=train: final loss on the training set (eval mode;\n"
    "                                       -- NULL when diverged)\n"
    "  test_loss REAL,                      -- task=train: final loss on the test set (NULL: diverged)\n"
    "  test_acc REAL,                       -- task=train: test accuracy (NULL for dataset=adding and\n"
    "                                       -- for a diverged run: it is never ranked)\n"
    "  baseline_loss REAL,                  -- dataset=adding: test MSE of always answering 1\n"
    "  clip_fraction REAL,                  -- task=train: share of steps where clipping fired\n"
    "  diverged_step INTEGER,               -- step where the loss or gradient became non-finite\n"
    "  steps_run INTEGER,                   -- training steps taken\n"
    "  wall_s REAL,                         -- seconds the cell took on its rank\n"
    "  rank INTEGER,                        -- MPI rank that ran it\n"
    "  threads INTEGER,                     -- OpenMP threads it used\n"
    "  host TEXT,                           -- host that ran it\n"
    "  session_id INTEGER REFERENCES sessions(id),  -- the run that stored it\n"
    "  finished_at TEXT,                    -- when it was stored\n"
    "%RUNS_ADDED%"
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
    "  act_mean REAL,                       -- mean of the layer output x_l over batch and units\n"
    "  act_std REAL,                        -- standard deviation of x_l\n"
    "  saturated_frac REAL,                 -- share of units with |phi'| < 0.05 max|phi'|\n"
    "  dead_frac REAL,                      -- share of units with phi' = 0\n"
    "  grad_pre_norm REAL,                  -- ||dL/dh_l|| over the batch (recurrent: gate inputs)\n"
    "  grad_w_norm REAL,                    -- ||dL/dW_l|| (recurrent: of [Wx Wh])\n"
    "  w_norm REAL,                         -- ||W_l||\n"
    "  PRIMARY KEY (run_id, step, layer)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS train_log (  -- task=train, every log_every steps, first and last\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
    "  step INTEGER NOT NULL,               -- 1-based training step\n"
    "  loss REAL,                           -- the step's batch loss (NULL when non-finite)\n"
    "  grad_norm REAL,                      -- global L2 norm of the gradient before clipping\n"
    "  grad_norm_clipped REAL,              -- after clipping\n"
    "  clipped INTEGER,                     -- 1 when clipping fired\n"
    "  PRIMARY KEY (run_id, step)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS train_layer_log (  -- task=train, per layer at every train_log step\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
    "  step INTEGER NOT NULL,               -- 1-based training step (the steps of train_log)\n"
    "  layer INTEGER NOT NULL,              -- 1..depth from the input; depth+1 the readout\n"
    "  grad_w_norm REAL,                    -- ||dL/dW_l|| before clipping (recurrent: [Wx Wh])\n"
    "  w_norm REAL,                         -- ||W_l|| before the step's update\n"
    "  update_ratio REAL,                   -- ||update applied to W_l|| / ||W_l|| (NULL: diverged step)\n"
    "  dead_frac REAL,                      -- share of units with phi' = 0 (recurrent: rnn only)\n"
    "  saturated_frac REAL,                 -- share of units with |phi'| < 0.05 max|phi'|\n"
    "  grad_h_first REAL,                   -- recurrent layers: ||dL/dh_1||, all paths (else NULL)\n"
    "  grad_h_last REAL,                    -- recurrent layers: ||dL/dh_seq_len||\n"
    "  PRIMARY KEY (run_id, step, layer)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS time_stats (  -- recurrent models, top layer, per time step\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
    "  step INTEGER NOT NULL,               -- training step of the measurement (0: at init)\n"
    "  t INTEGER NOT NULL,                  -- time step 1..seq_len\n"
    "  hidden_norm REAL,                    -- ||h_t|| per sequence, mean over the batch\n"
    "  grad_hidden_norm REAL,               -- ||dL/dh_t||, loss at the last step, all paths\n"
    "  PRIMARY KEY (run_id, step, t)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "CREATE TABLE IF NOT EXISTS theory (    -- mlp and rnn cells: theory beside the measurement at init\n"
    "  run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,  -- the cell\n"
    "  q_star REAL,                         -- fixed point of the length map (NULL: none applies;\n"
    "                                       -- Inf: q grows without bound)\n"
    "  chi1 REAL,                           -- sigma_w^2 E[phi'(sqrt(q*) z)^2]: < 1 vanishes, > 1 explodes\n"
    "  depth_scale REAL,                    -- -1/ln chi1, layers (NULL at chi1 = 1: infinite)\n"
    "  predicted_slope REAL,                -- of ln ||dL/dh_l|| per layer toward the input: 1/2 ln chi1,\n"
    "                                       -- or 1/2 ln(pi/(pi-1)) for batch-normalized relu\n"
    "  measured_slope REAL,                 -- least-squares slope of ln grad_pre_norm per layer toward\n"
    "                                       -- the input, over layers depth/2 .. depth (rnn: of ln\n"
    "                                       -- grad_hidden_norm per time step toward t = 1)\n"
    "  fit_r2 REAL,                         -- R^2 of that fit\n"
    "  sv2_min REAL,                        -- spectrum=yes: the smallest squared singular value of\n"
    "                                       -- the Jacobian dx_depth/dx_0 at the first input (else NULL)\n"
    "  sv2_max REAL,                        -- the largest\n"
    "  sv2_mean REAL,                       -- their mean (1: isometry on average)\n"
    "  condition REAL,                      -- sigma_max / sigma_min (dynamical isometry: near 1;\n"
    "                                       -- Inf: a zero singular value)\n"
    "  residual_growth_predicted REAL,      -- residual, no norm: growth of ln(||x_l||^2/n) per block\n"
    "                                       -- over layers 1..depth predicted from layer 1's length\n"
    "  residual_growth_measured REAL,       -- the same measured\n"
    "  step_bound REAL                      -- rnn: Pascanu's per-step bound ln(lambda_1 gamma) on the\n"
    "                                       -- change of ln ||dL/dh_t|| (lambda_1: top singular value of\n"
    "                                       -- Wh; gamma = max |phi'|)\n"
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

/* Columns of runs added since schema version 1 (appended: an older
 * database gets those of versions after its own by ALTER TABLE, see
 * migrate). A choice column's CHECK lists the names of the table that
 * defines them. */
typedef struct {
    const char *def;                /* name and type */
    const char *const *names;       /* allowed values, or NULL */
    size_t n_names;
    const char *help;
    int since;                      /* the schema version that added it */
} added_column_t;

static const added_column_t runs_added[] = {
    {"grad_ratio_final REAL", NULL, 0,
     "task=train: grad_ratio at the last logged step", 2},
    {"diagnosis_final TEXT", gs_diag_names, GS_N_DIAG,
     "task=train: diagnosis from grad_h_ratio_final, or diverged", 2},
    {"diverged_layer INTEGER", NULL, 0,
     "diverged: the first layer that went non-finite (depth+1 the readout)", 2},
    {"diverged_tensor TEXT", gs_nonfinite_names, GS_N_NONFINITE,
     "diverged: what of it - weights (lowest layer), activations (lowest),\n"
     "                                       -- gradient (highest, as backward runs), or only the loss", 2},
    {"last_finite_grad_norm REAL", NULL, 0,
     "diverged: the last finite global gradient norm before it", 2},
    {"grad_h_ratio REAL", NULL, 0,
     "at init: the backpropagated gradient, grad_pre_norm(1) / grad_pre_norm(depth)\n"
     "                                       -- (recurrent: ||dL/dh_1|| / ||dL/dh_seq_len||, top layer); the\n"
     "                                       -- diagnosis is decided by it. NULL when dead or diverged", 5},
    {"grad_h_ratio_final REAL", NULL, 0,
     "task=train: grad_h_ratio at the last logged step (diagnosis_final's)", 5},
    {"data_seed INTEGER", NULL, 0,
     "the seed of the cell's batch order (sweeps.seeding says how it is derived)", 5},
};
#define N_RUNS_ADDED (sizeof runs_added / sizeof *runs_added)

/* "'a', 'b', 'c'" of n names */
static void names_in(char *buf, size_t cap, const char *const *names, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s'%s'", i ? ", " : "", names[i]);
}

/* "name TYPE CHECK (name IN ('a', 'b'))" of an added column */
static void added_column_sql(const added_column_t *a, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "%s", a->def);
    if (!a->names)
        return;
    char in[256];
    names_in(in, sizeof in, a->names, a->n_names);
    if (len < cap)
        snprintf(buf + len, cap - len, " CHECK (%.*s IN (%s))", (int)strcspn(a->def, " "), a->def,
                 in);
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
    size_t cap = sizeof schema_head + sizeof schema_tail + 16384, len = 0;
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
    /* the tail's markers, in the order they appear: the allowed names come
     * from the tables that define them (experiment.h), the added columns
     * from runs_added */
    char status_in[256], diag_in[256], added[4096];
    names_in(status_in, sizeof status_in, gs_status_names, GS_N_STATUS);
    names_in(diag_in, sizeof diag_in, gs_diag_names, GS_N_DIAG);
    size_t al = 0;
    added[0] = '\0';
    for (size_t i = 0; i < N_RUNS_ADDED; i++) {
        char col[512];
        added_column_sql(&runs_added[i], col, sizeof col);
        if (i + 1 < N_RUNS_ADDED)
            strcat(col, ",");
        al += (size_t)snprintf(added + al, sizeof added - al, "  %-36s -- %s\n", col,
                               runs_added[i].help);
    }
    const marker_t marks[] = {{"%STATUS_IN%", status_in}, {"%DIAG_IN%", diag_in},
                              {"%RUNS_ADDED%", added}};
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
    {"layer_stats", 1}, {"train_log", 1}, {"time_stats", 1}, {"histogram_counts", 7},
    {"train_layer_log", 2}, {"theory", 3},
};
#define N_CHILD (sizeof child_tables / sizeof *child_tables)
_Static_assert(N_CHILD + 1 <= sizeof ((gs_store_t *)0)->clear / sizeof (sqlite3_stmt *),
               "a clearing statement per child table and runs");

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

/* Widen the CHECK list of runs.<column> from names[0..n_old) to
 * names[0..n_new) (version 4 added the status 'crashed', version 5 the
 * diagnosis 'dead'). SQLite cannot ALTER a CHECK constraint; widening one
 * is the edit of the stored CREATE TABLE text that SQLite's ALTER TABLE
 * documentation describes (writable_schema, then a new schema_version):
 * every stored row satisfies the wider list, so nothing on disk changes.
 * A list that is already the wide one (a column that a migration added
 * with today's names) is left alone. */
static int widen_check(gs_store_t *st, const char *column, const char *const *names,
                       size_t n_old, size_t n_new, char *err, size_t errlen)
{
    char old_in[256], new_in[256], from[300], to[300];
    names_in(old_in, sizeof old_in, names, n_old);
    names_in(new_in, sizeof new_in, names, n_new);
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

/* Version 7 stores a histogram as one row (histogram_counts: its edges
 * and its counts as a JSON array) where versions 1-6 stored a row per bin
 * (histograms, now a view giving that shape). The old rows of the cells
 * stored are copied - the first bin's lower edge, the last one's upper
 * edge, the counts in bin order - and compared with the view, bin by
 * bin, before the old table goes: json_group_array takes the rows in the
 * order its subquery gives them, which SQLite does not promise. */
static int histograms_one_row(gs_store_t *st, char *err, size_t errlen)
{
    char *create = table_sql("histogram_counts", "histogram_counts");
    if (!create) {
        snprintf(err, errlen, "%s: no definition of histogram_counts in the schema", st->path);
        return -1;
    }
    int rc = exec(st, create, err, errlen);
    free(create);
    if (rc != 0 ||
        exec(st, "INSERT INTO histogram_counts (run_id, layer, quantity, lo, hi, counts) "
                 "SELECT run_id, layer, quantity, min(lo), max(hi), json_group_array(count) "
                 "FROM (SELECT * FROM histograms WHERE run_id IN (SELECT id FROM runs) "
                 "ORDER BY run_id, layer, quantity, bin) GROUP BY run_id, layer, quantity",
             err, errlen) != 0)
        return -1;
    long differ = pragma_int(st, "SELECT count(*) FROM histograms o WHERE o.run_id IN "
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
    return exec(st, "DROP TABLE histograms", err, errlen);
}

/* Before version 7 a runs row deleted by hand with foreign keys off (the
 * sqlite3 shell's default) left its rows behind, and storing the cell
 * again replaced them (clear_cell). The upgrade checks the foreign keys
 * of every table, so those rows go first, as version 6's rebuild dropped
 * them. */
static int drop_orphans(gs_store_t *st, long ver, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_CHILD; i++) {
        if (ver < child_tables[i].since)
            continue;   /* not there yet */
        char sql[256];
        snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE run_id NOT IN (SELECT id FROM runs)",
                 child_tables[i].name);
        if (exec(st, sql, err, errlen) != 0)
            return -1;
    }
    return 0;
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
 * of cells whose runs row is gone (drop_orphans). */
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
    for (size_t i = 0; i < N_RUNS_ADDED; i++) {
        char col[512], sql[640];
        if (ver >= runs_added[i].since)
            continue;
        added_column_sql(&runs_added[i], col, sizeof col);
        snprintf(sql, sizeof sql, "ALTER TABLE runs ADD COLUMN %s", col);
        if (exec(st, sql, err, errlen) != 0)
            goto fail;
    }
    if (ver < 4 && widen_check(st, "status", gs_status_names, GS_STATUS_CRASHED, GS_N_STATUS,
                               err, errlen) != 0)
        goto fail;
    if (ver < 5 && (widen_check(st, "diagnosis", gs_diag_names, GS_N_DIAG_V4, GS_N_DIAG, err,
                                errlen) != 0 ||
                    widen_check(st, "diagnosis_final", gs_diag_names, GS_N_DIAG_V4, GS_N_DIAG,
                                err, errlen) != 0 ||
                    exec(st, "ALTER TABLE sweeps ADD COLUMN seeding TEXT", err, errlen) != 0 ||
                    exec(st, "DROP VIEW IF EXISTS summary", err, errlen) != 0))
        goto fail;
    if (ver < 6 && rebuild_children(st, ver, err, errlen) != 0)
        goto fail;
    if (ver < 7 && (drop_orphans(st, ver, err, errlen) != 0 ||
                    histograms_one_row(st, err, errlen) != 0))
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
    /* temp_store=MEMORY keeps the SAVEPOINT of each cell's journal in
     * memory: on a file it spilled past 64 KiB (a cell changes ~16 pages)
     * and wrote every page it touched to disk first, a third of storing a
     * tiny cell */
    if (exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY",
             err, errlen) != 0)
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

static int prepare_inserts(gs_store_t *st, char *err, size_t errlen)
{
    if (st->stmt[ST_RUN])
        return 0;
    char sql[8192];
    size_t len = 0;
    len += (size_t)snprintf(sql + len, sizeof sql - len,
                            "INSERT INTO runs (id, config_hash, experiment, canonical_key, repeat, seed");
    int n_cols = 6;
    gs_key_info_t k;
    for (size_t i = 0; gs_cell_key_info(i, &k); i++)
        if (k.in_key) {
            len += (size_t)snprintf(sql + len, sizeof sql - len, ", %s", k.name);
            n_cols++;
        }
    static const char *const tail[] = {
        "sigma_w2", "sigma_b2", "status", "error", "diagnosis", "grad_ratio", "init_loss",
        "train_loss", "test_loss", "test_acc", "baseline_loss", "clip_fraction", "diverged_step",
        "steps_run", "wall_s", "rank", "threads", "host", "session_id", "finished_at"};
    for (size_t i = 0; i < sizeof tail / sizeof *tail; i++) {
        len += (size_t)snprintf(sql + len, sizeof sql - len, ", %s", tail[i]);
        n_cols++;
    }
    for (size_t i = 0; i < N_RUNS_ADDED; i++) {
        const char *def = runs_added[i].def;
        len += (size_t)snprintf(sql + len, sizeof sql - len, ", %.*s", (int)strcspn(def, " "), def);
        n_cols++;
    }
    len += (size_t)snprintf(sql + len, sizeof sql - len, ") VALUES (");
    for (int i = 1; i <= n_cols && len < sizeof sql; i++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s?%d", i > 1 ? ", " : "", i);
    if (len >= sizeof sql || (size_t)snprintf(sql + len, sizeof sql - len, ")") >= sizeof sql - len) {
        snprintf(err, errlen, "%s: the runs INSERT does not fit in %zu bytes", st->path, sizeof sql);
        return -1;   /* never a shorter statement */
    }
    static const char *const child[] = {
        NULL,
        "INSERT INTO layer_stats (run_id, step, layer, act_mean, act_std, saturated_frac, dead_frac,"
        " grad_pre_norm, grad_w_norm, w_norm) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        "INSERT INTO train_log (run_id, step, loss, grad_norm, grad_norm_clipped, clipped)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        "INSERT INTO train_layer_log (run_id, step, layer, grad_w_norm, w_norm, update_ratio,"
        " dead_frac, saturated_frac, grad_h_first, grad_h_last)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        "INSERT INTO time_stats (run_id, step, t, hidden_norm, grad_hidden_norm)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
        "INSERT INTO histogram_counts (run_id, layer, quantity, lo, hi, counts)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        "INSERT INTO theory (run_id, q_star, chi1, depth_scale, predicted_slope, measured_slope,"
        " fit_r2, sv2_min, sv2_max, sv2_mean, condition, residual_growth_predicted,"
        " residual_growth_measured, step_bound)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        "DELETE FROM in_flight WHERE config_hash = ?1",   /* ST_LANDED: stored, not in flight */
    };
    _Static_assert(sizeof child / sizeof *child == ST_N, "a statement per ST_*");
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[ST_RUN], NULL) != SQLITE_OK)
        return sqlfail(st, err, errlen, "preparing inserts");
    for (size_t i = 0; i <= N_CHILD; i++) {
        char del[128];
        snprintf(del, sizeof del, "DELETE FROM %s WHERE %s = ?1",
                 i < N_CHILD ? child_tables[i].name : "runs", i < N_CHILD ? "run_id" : "id");
        if (sqlite3_prepare_v3(st->db, del, -1, SQLITE_PREPARE_PERSISTENT, &st->clear[i], NULL) != SQLITE_OK)
            return sqlfail(st, err, errlen, "preparing inserts");
    }
    for (int i = 1; i < ST_N; i++)
        if (sqlite3_prepare_v3(st->db, child[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) != SQLITE_OK)
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

/* Bind v[0..n) to the parameters first.. of s, NULL for what is not
 * finite. SQLite ignores a bind past the statement's last parameter
 * (SQLITE_RANGE) and would store NULL there: the assert says none is. */
static void bind_reals(sqlite3_stmt *s, int first, const double *v, int n)
{
    assert(first >= 1 && first + n - 1 <= sqlite3_bind_parameter_count(s));
    for (int k = 0; k < n; k++)
        bind_real(s, first + k, v[k]);
}

/* ---- the runs row, in the order of prepare_inserts' columns ---- */

/* id, config_hash, experiment, canonical_key, repeat, seed, then every
 * key of the canonical key; returns the next parameter. */
static int bind_cell(sqlite3_stmt *s, const gs_sweep_t *sw, const gs_sweep_cell_t *cell)
{
    const gs_cell_t *c = &cell->cell;
    char key[2048], val[128];
    gs_cell_key(c, key, sizeof key);
    int i = 1;
    sqlite3_bind_int64(s, i++, (sqlite3_int64)(cell->hash & INT64_MAX));
    sqlite3_bind_text(s, i++, cell->hash_hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, i++, sw->experiments[cell->experiment].name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, i++, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, i++, c->repeat);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)gs_cell_seed(c));
    gs_key_info_t k;
    for (size_t j = 0; gs_cell_key_info(j, &k); j++) {
        if (!k.in_key)
            continue;
        gs_cell_format(c, k.name, val, sizeof val);
        if (k.none_is_null && strcmp(val, "none") == 0)
            sqlite3_bind_null(s, i++);
        else if (k.type == GS_KEYTYPE_INT)
            sqlite3_bind_int64(s, i++, strtoll(val, NULL, 10));
        else if (k.type == GS_KEYTYPE_REAL)
            sqlite3_bind_double(s, i++, strtod(val, NULL));
        else
            sqlite3_bind_text(s, i++, val, -1, SQLITE_TRANSIENT);
    }
    return i;
}

/* sigma_w2 .. steps_run: the mean-field variances and the outcome (what
 * a failed or untrained cell does not have is NULL); returns the next
 * parameter. */
static int bind_outcome(sqlite3_stmt *s, int i, const gs_cell_t *c, const gs_result_t *r)
{
    int failed = !GS_STATUS_MEASURED(r->status), trained = c->task == GS_TASK_TRAIN && !failed;
    sqlite3_bind_double(s, i++, gs_experiment_sigma_w2(c));
    sqlite3_bind_double(s, i++, c->bias_std * c->bias_std);
    sqlite3_bind_text(s, i++, gs_status_names[r->status], -1, SQLITE_STATIC);
    if (failed) {
        sqlite3_bind_text(s, i++, r->error, -1, SQLITE_TRANSIENT);
        sqlite3_bind_null(s, i++);
    } else {
        sqlite3_bind_null(s, i++);
        sqlite3_bind_text(s, i++, gs_diag_names[r->diagnosis], -1, SQLITE_STATIC);
    }
    const double v[] = {
        failed ? NAN : r->grad_ratio, failed ? NAN : r->init_loss,
        trained ? r->train_loss : NAN, trained ? r->test_loss : NAN,
        trained ? r->test_acc : NAN, failed ? NAN : r->baseline_loss, trained ? r->clip_fraction : NAN,
    };
    bind_reals(s, i, v, (int)(sizeof v / sizeof *v));
    i += (int)(sizeof v / sizeof *v);
    if (r->diverged_step)
        sqlite3_bind_int64(s, i++, r->diverged_step);
    else
        sqlite3_bind_null(s, i++);
    sqlite3_bind_int64(s, i++, r->steps_run);
    return i;
}

/* wall_s .. finished_at: where and when the cell ran; the next parameter. */
static int bind_provenance(const gs_store_t *st, sqlite3_stmt *s, int i, const gs_put_meta_t *meta)
{
    char now[32];
    gs_utc_iso(now, sizeof now);
    sqlite3_bind_double(s, i++, meta->wall_s);
    sqlite3_bind_int(s, i++, meta->rank);
    sqlite3_bind_int(s, i++, meta->threads);
    sqlite3_bind_text(s, i++, meta->host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, i++, st->session_id);
    sqlite3_bind_text(s, i++, now, -1, SQLITE_TRANSIENT);
    return i;
}

/* runs_added, in its order; the next parameter. */
static int bind_added(sqlite3_stmt *s, int i, const gs_cell_t *c, const gs_result_t *r)
{
    int failed = !GS_STATUS_MEASURED(r->status), trained = c->task == GS_TASK_TRAIN && !failed;
    bind_real(s, i++, trained ? r->grad_ratio_final : NAN);
    if (trained)
        sqlite3_bind_text(s, i++, gs_diag_names[r->diagnosis_final], -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i++);
    if (r->diverged_step && !failed) {
        sqlite3_bind_int(s, i++, r->diverged_layer);
        sqlite3_bind_text(s, i++, gs_nonfinite_names[r->diverged_tensor], -1, SQLITE_STATIC);
        bind_real(s, i++, r->last_finite_grad_norm);
    } else {
        sqlite3_bind_null(s, i++);
        sqlite3_bind_null(s, i++);
        sqlite3_bind_null(s, i++);
    }
    bind_real_inf(s, i++, failed ? NAN : r->grad_h_ratio);
    bind_real_inf(s, i++, trained ? r->grad_h_ratio_final : NAN);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)gs_cell_data_seed(c));
    return i;
}

static int put_run(gs_store_t *st, const gs_sweep_t *sw, const gs_sweep_cell_t *cell,
                   const gs_result_t *r, const gs_put_meta_t *meta, char *err, size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_RUN];
    int i = bind_cell(s, sw, cell);
    i = bind_outcome(s, i, &cell->cell, r);
    i = bind_provenance(st, s, i, meta);
    i = bind_added(s, i, &cell->cell, r);
    assert(i == sqlite3_bind_parameter_count(s) + 1);   /* every column bound, in order */
    return step_reset(st, s, err, errlen, "storing a run");
}

/* ---- the rows of the other tables ---- */

/* One row (run_id, step, index, v[0..n)) of layer_stats, train_layer_log
 * or time_stats: the reals are the last columns. */
static int put_indexed_row(gs_store_t *st, int which, const char *what, sqlite3_int64 id,
                           sqlite3_int64 step, sqlite3_int64 index, const double *v, int n,
                           char *err, size_t errlen)
{
    sqlite3_stmt *s = st->stmt[which];
    assert(3 + n == sqlite3_bind_parameter_count(s));
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, step);
    sqlite3_bind_int64(s, 3, index);
    bind_reals(s, 4, v, n);
    return step_reset(st, s, err, errlen, what);
}

static int put_layer_stats(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                           size_t errlen)
{
    for (size_t l = 0; l < r->n_layers; l++) {
        const gs_layer_stats_t *L = &r->layers[l];
        const double v[] = {L->act_mean, L->act_std, L->saturated_frac, L->dead_frac,
                            L->grad_pre_norm, L->grad_w_norm, L->w_norm};
        if (put_indexed_row(st, ST_LAYER, "storing layer_stats", id, 0, (sqlite3_int64)l + 1,
                            v, 7, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int put_layer_log(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                         size_t errlen)
{
    for (size_t j = 0; j < r->n_layer_log; j++) {
        const gs_train_layer_row_t *L = &r->layer_log[j];
        const double v[] = {L->grad_w_norm, L->w_norm, L->update_ratio, L->dead_frac,
                            L->saturated_frac, L->grad_h_first, L->grad_h_last};
        if (put_indexed_row(st, ST_LAYER_LOG, "storing train_layer_log", id, L->step, L->layer,
                            v, 7, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int put_time_stats(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                          size_t errlen)
{
    for (size_t t = 0; t < r->n_time; t++) {
        const double v[] = {r->time[t].hidden_norm, r->time[t].grad_hidden_norm};
        if (put_indexed_row(st, ST_TIME, "storing time_stats", id, 0, (sqlite3_int64)t + 1, v, 2,
                            err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int put_train_log(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                         size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_LOG];
    assert(sqlite3_bind_parameter_count(s) == 6);
    for (size_t j = 0; j < r->n_log; j++) {
        const gs_train_row_t *L = &r->log[j];
        const double v[] = {L->loss, L->grad_norm, L->grad_norm_clipped};
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, L->step);
        bind_reals(s, 3, v, 3);
        sqlite3_bind_int(s, 6, L->clipped);
        if (step_reset(st, s, err, errlen, "storing train_log") != 0)
            return -1;
    }
    return 0;
}

/* One row a histogram: its edges and its counts as a JSON array. */
static int put_histograms(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                          size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_HIST];
    assert(sqlite3_bind_parameter_count(s) == 6);
    for (size_t h = 0; h < r->n_hist; h++) {
        const gs_hist_t *H = &r->hist[h];
        char counts[GS_HIST_BINS * 21 + 3];   /* '[', a long and a ',' or ']' each, NUL */
        size_t len = 0;
        for (int b = 0; b < GS_HIST_BINS; b++)
            len += (size_t)snprintf(counts + len, sizeof counts - len, "%c%ld", b ? ',' : '[',
                                    H->count[b]);
        assert(len + 2 <= sizeof counts);
        counts[len++] = ']';
        counts[len] = '\0';
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int(s, 2, H->layer);
        sqlite3_bind_text(s, 3, H->quantity, -1, SQLITE_STATIC);
        sqlite3_bind_double(s, 4, H->lo);
        sqlite3_bind_double(s, 5, H->hi);
        sqlite3_bind_text(s, 6, counts, (int)len, SQLITE_STATIC);
        if (step_reset(st, s, err, errlen, "storing histograms") != 0)
            return -1;
    }
    return 0;
}

static int put_theory(gs_store_t *st, sqlite3_int64 id, const gs_result_t *r, char *err,
                      size_t errlen)
{
    sqlite3_stmt *s = st->stmt[ST_THEORY];
    const double v[] = {r->chi1, r->depth_scale, r->predicted_slope, r->measured_slope,
                        r->fit_r2, r->sv2_min, r->sv2_max, r->sv2_mean};
    const double after[] = {r->residual_growth_predicted, r->residual_growth_measured,
                            r->step_bound};
    sqlite3_bind_int64(s, 1, id);
    bind_real_inf(s, 2, r->q_star);   /* Inf: no finite fixed point */
    bind_reals(s, 3, v, 8);
    bind_real_inf(s, 11, r->condition);   /* Inf: a zero singular value */
    bind_reals(s, 12, after, 3);
    return step_reset(st, s, err, errlen, "storing theory");
}

static int put_rows(gs_store_t *st, const gs_sweep_t *sw, const gs_sweep_cell_t *cell,
                    const gs_result_t *r, const gs_put_meta_t *meta, char *err, size_t errlen)
{
    const gs_cell_t *c = &cell->cell;
    sqlite3_int64 id = (sqlite3_int64)(cell->hash & INT64_MAX);
    int failed = !GS_STATUS_MEASURED(r->status);
    if (put_run(st, sw, cell, r, meta, err, errlen) != 0 ||
        (!failed && put_layer_stats(st, id, r, err, errlen) != 0) ||
        put_train_log(st, id, r, err, errlen) != 0 ||
        put_layer_log(st, id, r, err, errlen) != 0 ||
        (!failed && put_time_stats(st, id, r, err, errlen) != 0) ||
        put_histograms(st, id, r, err, errlen) != 0)
        return -1;
    if (!failed && (c->model == GS_MODEL_MLP || c->model == GS_MODEL_RNN))
        return put_theory(st, id, r, err, errlen);
    return 0;
}
