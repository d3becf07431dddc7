/* The report's view of a sweep database: the sweep, its experiments with
 * their axes (from the stored config text), and every stored run with its
 * outcome. Series (per layer, per step, per time step, histograms) are
 * read on demand. Internal to src/report/. */
#ifndef GS_REPORT_MODEL_H
#define GS_REPORT_MODEL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "experiment/experiment.h"
#include "sweep/sweep.h"

/* A column of the result table as the report holds it: the numbers and
 * text as stored (REAL NULL as NaN, INTEGER NULL as 0, TEXT NULL as ""),
 * an enum column as its value (gs_status_t, gs_diag_t, gs_nonfinite_t)
 * or RP_NONE when NULL - compared as enums, never as strings. */
#define RP_NONE (-1)
#define RP_DECLARE_REAL(name) double name;
#define RP_DECLARE_REAL_INF(name) double name;
#define RP_DECLARE_INT(name) long name;
#define RP_DECLARE_SESSION(name) long name;
#define RP_DECLARE_TEXT(name) char name[GS_TEXT_MAX];
#define RP_DECLARE_STATUS(name) int name;
#define RP_DECLARE_DIAG(name) int name;
#define RP_DECLARE_NONFINITE(name) int name;
#define RP_FIELD(name, type, table, since, when, help) RP_DECLARE_##type(name)

/* A cell of the config and what the database holds of it: every column
 * of the result table (experiment/result_fields.h), read by name. */
typedef struct {
    const gs_sweep_cell_t *sc;   /* the cell in the parsed config */
    int stored;
    sqlite3_int64 id;
    uint64_t null_cols;          /* bit k: column k of the result table was NULL */
    GS_RUN_COLUMNS(RP_FIELD, RP_FIELD, RP_FIELD)
    char label[300];             /* values of the experiment's axes, " / "-joined, and
                                    the repeat when there are several */
    char config_label[256];      /* the same without the repeat: its configuration */
} rp_run_t;

typedef struct {
    const gs_experiment_t *ex;
    rp_run_t *runs;              /* every cell of the experiment, stored or not */
    size_t n_runs, n_stored;
} rp_exp_t;

typedef struct {
    char host[256];
    long pid, ranks, threads;
    char status[16], started[32], ended[32], hosts[1024], version[32];
    double wall_s;
} rp_session_t;

typedef struct {
    sqlite3 *db;
    const char *db_path;
    gs_sweep_t sw;
    rp_exp_t *exps;
    size_t n_exps;
    size_t n_stored;
    long by_status[GS_N_STATUS], by_diag[GS_N_DIAG];
    rp_session_t *sessions;
    size_t n_sessions;
    int live;                    /* a run is writing now */
    char when[32];               /* the report's time (every chart's and the page's) */
    char live_host[256];
    long live_pid;
} rp_model_t;

/* ---- report.c ---- */

/* Read the sweep (parsed from its stored config) and every stored run
 * from m->db, which the caller opened (m->db_path names it in messages).
 * -1 with a message: no sweep stored, a config that no longer parses.
 * gs_report_write calls it; so does the fuzz target of the report
 * (tests/fuzz/fuzz_report.c), on a database it made in memory. */
int rp_model_load(rp_model_t *m, char *err, size_t errlen);
/* runs.csv at path: every stored run with every column of the result
 * table (experiment/result_fields.h). */
int rp_write_runs_csv(const rp_model_t *m, const char *path, char *err, size_t errlen);
/* Free what rp_model_load allocated (not m->db); after a failed load too. */
void rp_model_free(rp_model_t *m);

/* A series of (x, y) points. */
typedef struct {
    double *x, *y;
    size_t n;
} rp_series_t;

void rp_series_free(rp_series_t *s);
void rp_series_free_all(rp_series_t *s, size_t n);   /* s[0..n); NULL is fine */

/* Per layer at init (step 0): column is one of act_mean, act_std,
 * saturated_frac, dead_frac, grad_pre_norm, grad_w_norm, w_norm; x = layer.
 * Hidden layers only (1..depth). */
int rp_layer_series(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s);
/* The same, only the layers where column is set (not NULL): the float64
 * twin's twin_rel_err of a reduced-precision run (none elsewhere). */
int rp_layer_series_set(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s);
/* train_layer_log's column averaged over the hidden layers 1..depth (the
 * readout left out) at each logged step where some layer has it (x =
 * step): lost_update_frac of a reduced-precision run. */
int rp_layer_log_mean(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s);
/* Training log: column loss, grad_norm or grad_norm_clipped; x = step. */
int rp_log_series(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s);
/* Per-layer training log (train_layer_log): column one of grad_w_norm,
 * w_norm, update_ratio, dead_frac, saturated_frac, grad_h_first,
 * grad_h_last. rp_layer_log_series: one layer over the logged steps (x =
 * step); rp_layer_log_at: every layer 1..depth+1 at one step (x = layer). */
int rp_layer_log_series(rp_model_t *m, const rp_run_t *r, int layer, const char *column,
                        rp_series_t *s);
int rp_layer_log_at(rp_model_t *m, const rp_run_t *r, long step, const char *column,
                    rp_series_t *s);
/* Recurrent: column hidden_norm or grad_hidden_norm; x = t. */
int rp_time_series(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s);
/* format_stats: zero_frac of grad_activation per hidden layer at the
 * run's first measured step (the probe, or training's step 1) in the
 * format named `format` (nn/format.h's gs_fmt_names) */
int rp_format_zero_series(rp_model_t *m, const rp_run_t *r, const char *format, rp_series_t *s);
/* The same for any tensor of format_stats (grad_weight, ...), layers 1..depth */
int rp_format_tensor_zero_series(rp_model_t *m, const rp_run_t *r, const char *tensor,
                                 const char *format, rp_series_t *s);
/* The loss_scale_window view's ends for grad_activation at the run's
 * first measured step in that format: one point, x = lo_log2, y =
 * hi_log2 (none when every gradient is zero) */
int rp_scale_window(rp_model_t *m, const rp_run_t *r, const char *format, rp_series_t *s);
/* Histogram of one weight matrix: x = bin centres, y = counts; lo/hi edges. */
int rp_hist(rp_model_t *m, const rp_run_t *r, int layer, const char *quantity, rp_series_t *s,
            double *lo, double *hi);

/* Does the experiment vary this key (an axis)? */
int rp_varies(const rp_exp_t *e, const char *key);
/* Index of the axis for key, or -1. */
int rp_axis_of(const rp_exp_t *e, const char *key);
/* Index of the run's value on axis a; 0 when a < 0. */
int rp_value_index(const rp_exp_t *e, int a, const rp_run_t *r);
/* Stored with measurements (done or diverged; not failed or crashed). */
int rp_usable(const rp_run_t *r);
/* Stored and diverged. */
int rp_diverged(const rp_run_t *r);
/* The stored name of an enum column's value; "" for RP_NONE. */
const char *rp_diag_name(int diagnosis);
const char *rp_status_name(int status);
const char *rp_nonfinite_name(int tensor);

#endif
