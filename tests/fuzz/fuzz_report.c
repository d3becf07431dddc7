/* Fuzz target `report`: the database rows the report reads. The bytes
 * choose a sweep config (built in, or their own text) and rows of every
 * table the report reads (report_input.h says how): real ids and hashes
 * or any other value - text, blobs, NULLs, NaN, infinities, huge and
 * negative numbers, names outside the CHECK lists (the database is made
 * with CHECK constraints off, as a hand-edited one could be), rows of
 * layers and steps that do not exist, counts that do not match. The
 * database is SQLite in memory with the store's schema
 * (gs_store_schema_sql). Then the report reads it as `gradsweep report`
 * does - rp_model_load, the series readers every chart uses for each run
 * (model.c), and the findings, the claims, findings.csv and index.html
 * (rp_write_pages, into a temporary folder) - without drawing the charts: a chart takes ~0.3 s
 * to draw, which fuzzing cannot afford.
 *
 * Properties beyond "no crash, no leak":
 *  - the report loads a database exactly when it holds a sweep whose
 *    config parses, and never counts more stored runs than runs rows;
 *  - every series has its points (x and y arrays of n values); the
 *    per-layer series stays within the layers of the run's config, a
 *    histogram within its 64 bins;
 *  - once loaded, index.html is written. */
#include <config.h>

#include <float.h>
#include <math.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "report/html.h"
#include "report/model.h"
#include "report_input.h"
#include "store/store.h"
#include "sweep/sweep.h"

#define MAX_SERIES_RUNS 4   /* runs whose series are read (each takes ~50 queries) */

static const char *const configs[FZ_N_CONFIGS] = {
    "[sweep]\nname = flow\n[flow]\ntask = probe\ndepth = 2, 4\nactivation = tanh, relu\n"
    "width = 4\n",
    "[sweep]\nname = train\n[clip]\ntask = train\ndepth = 2\nwidth = 4\nsteps = 20\n"
    "log_every = 5\nclip = none, 1\nrepeats = 2\n",
    "[sweep]\nname = mixed\n[rnn]\nmodel = rnn\nseq_len = 5\nwidth = 4\n[norm]\ndepth = 3\n"
    "width = 4\nnorm = none, batch\n[res]\ndepth = 4\nwidth = 4\nresidual = no, yes\n",
    "[sweep]\nname = data\n[adding]\nmodel = gru, lstm\ntask = train\ndataset = adding\n"
    "seq_len = 4\nwidth = 4\nsteps = 10\n[digits]\ntask = train\ndataset = digits\n"
    "activation = relu, sigmoid\nsteps = 10\n",
};

static const double specials[] = {NAN, INFINITY, -INFINITY, -0.0, 0.0, DBL_MAX, -DBL_MAX,
                                  DBL_MIN, 4.9406564584124654e-324, 1e300, -1e300, 1.0, -1.0,
                                  0.5, 1e-300, 9007199254740993.0};

/* ---- reading the bytes ---- */

typedef struct {
    const uint8_t *p;
    size_t n;
} reader_t;

static unsigned u8(reader_t *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static uint64_t u64(reader_t *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)u8(r) << (8 * i);
    return v;
}

/* Up to want bytes (fewer at the end of the input). */
static size_t take(reader_t *r, size_t want, const uint8_t **out)
{
    size_t n = want < r->n ? want : r->n;
    *out = r->p;
    r->p += n;
    r->n -= n;
    return n;
}

/* ---- writing the database ---- */

typedef struct {
    sqlite3 *db;
    gs_sweep_t sw;
    int parsed;          /* sw holds the parsed config */
    const char *text;    /* the config text */
    size_t runs_rows;    /* rows that went into runs */
} fuzz_db_t;

/* Bind parameter i to the next value of the input. */
static void bind_value(fuzz_db_t *f, reader_t *r, sqlite3_stmt *s, int i, fz_col_kind_t kind)
{
    const uint8_t *b;
    size_t n;
    switch (u8(r) % FZ_N_TAGS) {
    case FZ_NULL:
        sqlite3_bind_null(s, i);
        break;
    case FZ_INT:
        sqlite3_bind_int64(s, i, (sqlite3_int64)u64(r));
        break;
    case FZ_REAL: {
        uint64_t bits = u64(r);
        double d;
        memcpy(&d, &bits, sizeof d);
        sqlite3_bind_double(s, i, d);
        break;
    }
    case FZ_TEXT:
        n = take(r, u8(r), &b);
        sqlite3_bind_text(s, i, (const char *)b, (int)n, SQLITE_TRANSIENT);
        break;
    case FZ_BLOB:
        n = take(r, u8(r), &b);
        sqlite3_bind_blob(s, i, b, (int)n, SQLITE_TRANSIENT);
        break;
    case FZ_CELL: {
        unsigned k = u8(r);
        const gs_sweep_cell_t *c = f->parsed ? &f->sw.cells[k % f->sw.n_cells] : NULL;
        char key[2048];
        if (kind == COL_CONFIG) {
            sqlite3_bind_text(s, i, f->text, -1, SQLITE_STATIC);
        } else if (!c || kind == COL_PLAIN) {
            sqlite3_bind_int(s, i, (int)k);
        } else if (kind == COL_ID) {
            sqlite3_bind_int64(s, i, (sqlite3_int64)(c->hash & INT64_MAX));
        } else if (kind == COL_HASH) {
            sqlite3_bind_text(s, i, c->hash_hex, -1, SQLITE_TRANSIENT);
        } else if (kind == COL_EXPERIMENT) {
            sqlite3_bind_text(s, i, f->sw.experiments[c->experiment].name, -1, SQLITE_TRANSIENT);
        } else {
            gs_cell_key(&c->cell, key, sizeof key);
            sqlite3_bind_text(s, i, key, -1, SQLITE_TRANSIENT);
        }
        break;
    }
    case FZ_NAME:
        sqlite3_bind_text(s, i, fz_names[u8(r) % FZ_N_NAMES], -1, SQLITE_STATIC);
        break;
    case FZ_SMALL:
        sqlite3_bind_int(s, i, (int8_t)u8(r));
        break;
    case FZ_SPECIAL:
        sqlite3_bind_double(s, i, specials[u8(r) % (sizeof specials / sizeof *specials)]);
        break;
    }
}

/* One row of table t from the input; a row SQLite refuses (NOT NULL, a
 * primary key twice) is left out, as it would be of a real database. */
static void insert_row(fuzz_db_t *f, reader_t *r, size_t t, sqlite3_stmt *const *stmts)
{
    const fz_table_t *tb = &fz_tables[t];
    sqlite3_stmt *s = stmts[t];
    for (int c = 0; tb->cols[c]; c++)
        bind_value(f, r, s, c + 1, fz_col_kind(tb->name, tb->cols[c]));
    if (sqlite3_step(s) == SQLITE_DONE && t == FZ_T_RUNS)
        f->runs_rows++;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static int prepare(sqlite3 *db, sqlite3_stmt **stmts)
{
    for (size_t t = 0; t < FZ_N_TABLES; t++) {
        char sql[2048], marks[256] = "";
        size_t len = (size_t)snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO %s (",
                                      fz_tables[t].name);
        for (int c = 0; fz_tables[t].cols[c]; c++) {
            len += (size_t)snprintf(sql + len, sizeof sql - len, "%s%s", c ? ", " : "",
                                    fz_tables[t].cols[c]);
            size_t ml = strlen(marks);
            snprintf(marks + ml, sizeof marks - ml, "%s?%d", c ? ", " : "", c + 1);
        }
        snprintf(sql + len, sizeof sql - len, ") VALUES (%s)", marks);
        if (sqlite3_prepare_v2(db, sql, -1, &stmts[t], NULL) != SQLITE_OK)
            return -1;
    }
    return 0;
}

/* The sweeps row a run writes for this config. */
static void insert_sweep(fuzz_db_t *f)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(f->db, "INSERT INTO sweeps VALUES (1, 'fuzz', '', 'fuzz.ini', ?1, 42, "
                                  "1e-4, 1e4, ?2, '', '', '')", -1, &s, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(s, 1, f->text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, f->parsed ? (sqlite3_int64)f->sw.n_cells : 0);
    sqlite3_step(s);
    sqlite3_finalize(s);
}

/* ---- reading it as the report does ---- */

static char out_dir[64];

static void remove_out_dir(void)
{
    static const char *const files[] = {"index.html", "findings.csv"};   /* rp_write_pages's */
    char p[128];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", out_dir, files[i]);
        unlink(p);
    }
    rmdir(out_dir);
}

static void check_series(const rp_series_t *s, const char *what)
{
    FUZZ_CHECK(s->n == 0 || (s->x && s->y), "%s: %zu points without arrays", what, s->n);
}

/* Every series a chart of run r would read. */
static void read_series(rp_model_t *m, const rp_run_t *r)
{
    static const char *const layer_cols[] = {"act_mean", "act_std", "saturated_frac",
                                             "dead_frac", "grad_pre_norm", "grad_w_norm",
                                             "w_norm"};
    static const char *const log_cols[] = {"loss", "grad_norm", "grad_norm_clipped"};
    static const char *const layer_log_cols[] = {"grad_w_norm", "w_norm", "update_ratio",
                                                 "dead_frac", "saturated_frac", "grad_h_first",
                                                 "grad_h_last"};
    static const char *const time_cols[] = {"hidden_norm", "grad_hidden_norm"};
    rp_series_t s;
    for (size_t i = 0; i < sizeof layer_cols / sizeof *layer_cols; i++)
        if (rp_layer_series(m, r, layer_cols[i], &s) == 0) {
            check_series(&s, layer_cols[i]);
            for (size_t j = 0; j < s.n; j++)
                FUZZ_CHECK(!(s.x[j] > (double)r->sc->cell.depth),
                           "layer %g of a network of depth %ld", s.x[j], r->sc->cell.depth);
            rp_series_free(&s);
        }
    long step = 0;
    for (size_t i = 0; i < sizeof log_cols / sizeof *log_cols; i++)
        if (rp_log_series(m, r, log_cols[i], &s) == 0) {
            check_series(&s, log_cols[i]);
            if (s.n && isfinite(s.x[s.n - 1]) && fabs(s.x[s.n - 1]) < 1e15)
                step = (long)s.x[s.n - 1];
            rp_series_free(&s);
        }
    for (size_t i = 0; i < sizeof layer_log_cols / sizeof *layer_log_cols; i++) {
        for (int layer = 1; layer <= r->sc->cell.depth + 1 && layer <= 2; layer++)
            if (rp_layer_log_series(m, r, layer, layer_log_cols[i], &s) == 0) {
                check_series(&s, layer_log_cols[i]);
                rp_series_free(&s);
            }
        if (rp_layer_log_at(m, r, step, layer_log_cols[i], &s) == 0) {
            check_series(&s, layer_log_cols[i]);
            rp_series_free(&s);
        }
    }
    for (size_t i = 0; i < sizeof time_cols / sizeof *time_cols; i++)
        if (rp_time_series(m, r, time_cols[i], &s) == 0) {
            check_series(&s, time_cols[i]);
            rp_series_free(&s);
        }
    for (int q = 0; q < GS_N_HIST_QUANTITIES; q++)
        for (int layer = 0; layer <= 2; layer++) {
            double lo, hi;
            if (rp_hist(m, r, layer, gs_hist_quantity_names[q], &s, &lo, &hi) == 0) {
                check_series(&s, gs_hist_quantity_names[q]);
                FUZZ_CHECK(s.n <= 64, "a histogram of %zu bins", s.n);
            }
            rp_series_free(&s);
        }
}

/* Does the database hold a sweep whose config parses? Then the report
 * must load it. */
static int expect_load(sqlite3 *db)
{
    sqlite3_stmt *s;
    int ok = 0;
    if (sqlite3_prepare_v2(db, "SELECT config_text, config_path FROM sweeps WHERE id = 1", -1,
                           &s, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(s, 0);
        const char *path = (const char *)sqlite3_column_text(s, 1);
        gs_sweep_t sw;
        char err[1024];
        ok = text && path && gs_sweep_parse(&sw, text, path, NULL, err, sizeof err) == 0;
        if (ok)
            gs_sweep_free(&sw);
    }
    sqlite3_finalize(s);
    return ok;
}

static void report(fuzz_db_t *f)
{
    rp_model_t m = {.db = f->db, .db_path = ":memory:"};
    char err[2048] = "";
    int expected = expect_load(f->db);
    int rc = rp_model_load(&m, err, sizeof err);
    FUZZ_CHECK((rc == 0) == expected, "the report %s the database: %s",
               rc == 0 ? "loads" : "refuses", rc == 0 ? "(loaded)" : err);
    if (rc != 0) {
        FUZZ_CHECK(err[0] != '\0', "refused without a message");
        rp_model_free(&m);
        return;
    }
    FUZZ_CHECK(m.n_stored <= f->runs_rows, "%zu runs stored, from %zu rows", m.n_stored,
               f->runs_rows);
    size_t read = 0;
    for (size_t e = 0; e < m.n_exps; e++)
        for (size_t i = 0; i < m.exps[e].n_runs && read < MAX_SERIES_RUNS; i++)
            if (rp_usable(&m.exps[e].runs[i])) {
                read_series(&m, &m.exps[e].runs[i]);
                read++;
            }
    rp_charts_t gallery = {0}, *per = calloc(m.n_exps + 1, sizeof *per);
    if (per) {
        int html = rp_write_pages(&m, out_dir, &gallery, per, err, sizeof err);
        FUZZ_CHECK(html == 0, "index.html not written: %s", err);
    }
    free(per);
    rp_model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!out_dir[0]) {   /* in memory when /dev/shm is there: index.html is written per input */
        snprintf(out_dir, sizeof out_dir, "%s/gradsweep-fuzz-report-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(out_dir)) {
            perror("fuzz_report: mkdtemp");
            abort();
        }
        atexit(remove_out_dir);
    }
    reader_t r = {data, size};
    fuzz_db_t f = {0};
    char *own = NULL;
    unsigned c = u8(&r);
    if (c < FZ_N_CONFIGS) {
        f.text = configs[c];
    } else {
        const uint8_t *b;
        size_t want = u8(&r);
        want |= (size_t)u8(&r) << 8;
        size_t n = take(&r, want, &b);
        own = malloc(n + 1);
        if (!own)
            return 0;
        memcpy(own, b, n);
        own[n] = '\0';
        f.text = own;
    }
    char err[1024];
    f.parsed = gs_sweep_parse(&f.sw, f.text, "fuzz.ini", NULL, err, sizeof err) == 0;
    sqlite3_stmt *stmts[FZ_N_TABLES] = {0};
    if (sqlite3_open(":memory:", &f.db) != SQLITE_OK ||
        sqlite3_exec(f.db, gs_store_schema_sql(), NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(f.db, "PRAGMA ignore_check_constraints = ON", NULL, NULL, NULL) != SQLITE_OK ||
        prepare(f.db, stmts) != 0) {
        fprintf(stderr, "fuzz_report: cannot make the database: %s\n", sqlite3_errmsg(f.db));
        abort();
    }
    insert_sweep(&f);
    while (r.n > 0) {
        size_t t = u8(&r) % (FZ_N_TABLES + 1);
        if (t < FZ_N_TABLES) {
            insert_row(&f, &r, t, stmts);
        } else {
            char sql[64];
            snprintf(sql, sizeof sql, "DELETE FROM %s", fz_tables[u8(&r) % FZ_N_TABLES].name);
            sqlite3_exec(f.db, sql, NULL, NULL, NULL);
        }
    }
    for (size_t t = 0; t < FZ_N_TABLES; t++)
        sqlite3_finalize(stmts[t]);
    report(&f);
    sqlite3_close(f.db);
    if (f.parsed)
        gs_sweep_free(&f.sw);
    free(own);
    return 0;
}
