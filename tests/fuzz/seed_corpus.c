/* Writes the seed inputs of the `pack` and `report` fuzz targets from
 * real runs: a few tiny sweeps are run cell by cell (gs_experiment_run, no
 * MPI), each result packed as a worker packs it (DIR/pack/) and stored as
 * rank 0 stores it (a temporary database), whose rows are then written in
 * the report target's input format (report_input.h), one file per sweep
 * (DIR/report/). Not built by default:
 *
 *   make tests/fuzz/seed_corpus && tests/fuzz/seed_corpus ../tests/fuzz/corpus
 *
 * The packed results are raw structs: they hold for the architecture
 * that wrote them (x86-64 for the committed ones); elsewhere the target
 * refuses them, which is still a valid test. The config and keyval
 * corpora are plain text, written by hand. */
#include <config.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver/pack.h"
#include "experiment/experiment.h"
#include "report_input.h"
#include "store/store.h"
#include "sweep/sweep.h"
#include "util/files.h"

#define MAX_PACKS 2       /* packed results kept per sweep */
#define MAX_CHILD_ROWS 6  /* rows per run of each child table */

typedef struct {
    const char *name, *text;
} seed_t;

/* Small and quick; together they give every table rows, every model, a
 * diverged run, repeats, and an experiment with a single configuration. */
static const seed_t seeds[] = {
    {"flow", "[sweep]\nname = flow\nseed = 3\n[flow]\ntask = probe\ndepth = 2, 5\n"
             "activation = tanh, relu\ninit = xavier, he\nwidth = 8\n"},
    {"train-clip", "[sweep]\nname = clip\n[clip]\ntask = train\ndepth = 3\nwidth = 8\n"
                   "activation = tanh\ninit = normal(1)\nsteps = 20\nlog_every = 5\n"
                   "clip = none, 1\nrepeats = 2\n"},
    {"diverged", "[sweep]\nname = boom\n[boom]\ntask = train\ndepth = 3\nwidth = 8\n"
                 "activation = relu\ninit = normal(3)\nlr = 1000\nsteps = 15\nlog_every = 5\n"},
    {"recurrent", "[sweep]\nname = rec\n[rnn]\nmodel = rnn, lstm, gru\nseq_len = 6\n"
                  "width = 4\n[single]\nmodel = rnn\nseq_len = 3\nwidth = 4\n"},
    {"adding", "[sweep]\nname = add\n[adding]\nmodel = gru\ntask = train\ndataset = adding\n"
               "seq_len = 4\nwidth = 4\nsteps = 10\nlog_every = 5\noptimizer = adam\n"},
    {"digits", "[sweep]\nname = dig\n[digits]\ntask = train\ndataset = digits\ndepth = 2\n"
               "width = 8\nactivation = relu, sigmoid\nsteps = 10\nlog_every = 5\n"},
    {"norm-res", "[sweep]\nname = nr\n[norm]\ndepth = 4\nwidth = 8\nnorm = none, batch, layer\n"
                 "[res]\ndepth = 6\nwidth = 8\nactivation = sigmoid\nresidual = no, yes\n"},
    {"spectrum", "[sweep]\nname = iso\n[iso]\ndepth = 3\nwidth = 4\ninit = orthogonal, lecun\n"
                 "spectrum = yes\n"},
    {"transformer", "[sweep]\nname = tf\n[tf]\nmodel = transformer\ndepth = 1, 2\nwidth = 8\n"
                    "heads = 2\nseq_len = 4\nbatch = 2\nln = post, none\n"},
    {"lowprec", "[sweep]\nname = lp\n[lp]\ndepth = 2\nwidth = 4\nbatch = 4\nactivation = sigmoid\n"
                "format_stats = yes\ntask = probe, train\nsteps = 4\nlog_every = 2\n"},
};

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf_t;

static void put(buf_t *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = 2 * (b->n + n);
        b->p = realloc(b->p, b->cap);
        if (!b->p) {
            fprintf(stderr, "seed_corpus: out of memory\n");
            exit(1);
        }
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put_u8(buf_t *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}

static void put_u64(buf_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        put_u8(b, (unsigned)(v >> (8 * i)) & 0xff);
}

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "seed_corpus: cannot write %s\n", path);
        exit(1);
    }
    printf("%s (%zu bytes)\n", path, n);
}

/* The index of the cell with this id, for FZ_CELL. */
static unsigned cell_of(const gs_sweep_t *sw, sqlite3_int64 id)
{
    for (size_t i = 0; i < sw->n_cells; i++)
        if ((sqlite3_int64)(sw->cells[i].hash & INT64_MAX) == id)
            return (unsigned)i;
    return 0;
}

/* Column i of a row in the input format: the run's own references as
 * FZ_CELL, everything else as stored. */
static void put_value(buf_t *b, sqlite3_stmt *s, int i, fz_col_kind_t kind, unsigned cell)
{
    if (kind != COL_PLAIN) {
        put_u8(b, FZ_CELL);
        put_u8(b, cell);
        return;
    }
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_NULL:
        put_u8(b, FZ_NULL);
        break;
    case SQLITE_INTEGER:
        put_u8(b, FZ_INT);
        put_u64(b, (uint64_t)sqlite3_column_int64(s, i));
        break;
    case SQLITE_FLOAT: {
        double d = sqlite3_column_double(s, i);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        put_u8(b, FZ_REAL);
        put_u64(b, bits);
        break;
    }
    default: {
        const unsigned char *t = sqlite3_column_text(s, i);
        size_t n = (size_t)sqlite3_column_bytes(s, i);
        n = n > 255 ? 255 : n;
        put_u8(b, FZ_TEXT);
        put_u8(b, (unsigned)n);
        put(b, t, n);
    }
    }
}

/* Every row of table t (up to MAX_CHILD_ROWS per run) in the input format. */
static void put_table(buf_t *b, sqlite3 *db, const gs_sweep_t *sw, size_t t)
{
    const fz_table_t *tb = &fz_tables[t];
    char sql[2048];
    size_t len = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    int n = 0;
    for (; tb->cols[n]; n++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s%s", n ? ", " : "", tb->cols[n]);
    int has_run = fz_col_kind(tb->name, tb->cols[0]) == COL_ID;
    snprintf(sql + len, sizeof sql - len, " FROM %s ORDER BY %s", tb->name, tb->cols[0]);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "seed_corpus: %s: %s\n", sql, sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_int64 last = -1;
    int rows = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        unsigned cell = has_run ? cell_of(sw, sqlite3_column_int64(s, 0)) : 0;
        if (has_run) {
            sqlite3_int64 id = sqlite3_column_int64(s, 0);
            rows = id == last ? rows + 1 : 0;
            last = id;
            if (rows >= MAX_CHILD_ROWS)
                continue;
        }
        put_u8(b, (unsigned)t);
        for (int i = 0; i < n; i++)
            put_value(b, s, i, fz_col_kind(tb->name, tb->cols[i]), cell);
    }
    sqlite3_finalize(s);
}

static void run_seed(const seed_t *sd, const char *pack_dir, const char *report_dir,
                     const char *db_path)
{
    static const gs_sweep_hooks_t hooks = {gs_experiment_check, gs_experiment_flops};
    gs_sweep_t sw;
    char err[2048];
    if (gs_sweep_parse(&sw, sd->text, "seed.ini", &hooks, err, sizeof err) != 0) {
        fprintf(stderr, "seed_corpus: %s: %s\n", sd->name, err);
        exit(1);
    }
    unlink(db_path);
    gs_store_t *st = gs_store_open(db_path, 1, 0, err, sizeof err);
    gs_session_info_t info = {1, 1, "seed", 0};
    if (!st || gs_store_begin_session(st, &sw, &info, err, sizeof err) != 0) {
        fprintf(stderr, "seed_corpus: %s\n", err);
        exit(1);
    }
    for (size_t i = 0; i < sw.n_cells; i++) {
        gs_result_t r;
        gs_experiment_run(&sw.cells[i].cell, &r, NULL);   /* a failed run is a result too */
        gs_pack_meta_t meta = {(int64_t)i, 0, 1, 0.01, "seed"};
        gs_put_meta_t pm = {0, 1, "seed", 0.01};
        if (i < MAX_PACKS) {
            size_t len;
            void *packed = gs_pack_result(&r, &meta, &len);
            char name[128];
            snprintf(name, sizeof name, "%s-%zu.bin", sd->name, i);
            if (!packed) {
                fprintf(stderr, "seed_corpus: out of memory\n");
                exit(1);
            }
            write_file(pack_dir, name, packed, len);
            free(packed);
        }
        if (gs_store_put(st, &sw, &sw.cells[i], &r, &pm, err, sizeof err) != 0) {
            fprintf(stderr, "seed_corpus: %s\n", err);
            exit(1);
        }
        gs_result_free(&r);
    }
    if (gs_store_end_session(st, GS_SESSION_DONE, 0.0, err, sizeof err) != 0) {
        fprintf(stderr, "seed_corpus: %s\n", err);
        exit(1);
    }
    buf_t b = {0};
    size_t tl = strlen(sd->text);
    put_u8(&b, FZ_CONFIG_TEXT);
    put_u8(&b, (unsigned)(tl & 0xff));
    put_u8(&b, (unsigned)(tl >> 8));
    put(&b, sd->text, tl);
    for (size_t t = 0; t < FZ_N_TABLES; t++)
        if (t != FZ_T_SWEEPS)
            put_table(&b, gs_store_handle(st), &sw, t);
    char name[128];
    snprintf(name, sizeof name, "%s.bin", sd->name);
    write_file(report_dir, name, b.p, b.n);
    free(b.p);
    gs_store_close(st);
    gs_sweep_free(&sw);
    unlink(db_path);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seed_corpus DIR   (writes DIR/pack/*.bin and DIR/report/*.bin)\n");
        return 2;
    }
    char pack_dir[4096], report_dir[4096], db_path[4096], err[1024];
    snprintf(pack_dir, sizeof pack_dir, "%s/pack", argv[1]);
    snprintf(report_dir, sizeof report_dir, "%s/report", argv[1]);
    snprintf(db_path, sizeof db_path, "seed_corpus.%ld.db", (long)getpid());
    if (gs_mkdirs(pack_dir, err, sizeof err) != 0 || gs_mkdirs(report_dir, err, sizeof err) != 0) {
        fprintf(stderr, "seed_corpus: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++)
        run_seed(&seeds[i], pack_dir, report_dir, db_path);
    return 0;
}
