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

typedef struct {
    const gs_sweep_cell_t *sc;   /* the cell in the parsed config */
    int stored;
    sqlite3_int64 id;
    char status[16], diagnosis[16];
    double grad_ratio, init_loss, train_loss, test_loss, test_acc, baseline_loss;
    double clip_fraction, wall_s;
    long diverged_step, rank;
    char label[256];             /* values of the experiment's axes, " / "-joined */
    char error[256];
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
    char live_host[256];
    long live_pid;
} rp_model_t;

/* A series of (x, y) points. */
typedef struct {
    double *x, *y;
    size_t n;
} rp_series_t;

void rp_series_free(rp_series_t *s);

/* Per layer at init (step 0): column is one of act_mean, act_std,
 * saturated_frac, dead_frac, grad_pre_norm, grad_w_norm, w_norm; x = layer.
 * Hidden layers only (1..depth). */
int rp_layer_series(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s);
/* Training log: column loss, grad_norm or grad_norm_clipped; x = step. */
int rp_log_series(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s);
/* Recurrent: column hidden_norm or grad_hidden_norm; x = t. */
int rp_time_series(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s);
/* Histogram of one weight matrix: x = bin centres, y = counts; lo/hi edges. */
int rp_hist(rp_model_t *m, const rp_run_t *r, int layer, const char *quantity, rp_series_t *s,
            double *lo, double *hi);

/* Does the experiment vary this key (an axis)? */
int rp_varies(const rp_exp_t *e, const char *key);
/* Index of the axis for key, or -1. */
int rp_axis_of(const rp_exp_t *e, const char *key);
/* Index of the run's value on axis a; 0 when a < 0. */
int rp_value_index(const rp_exp_t *e, int a, const rp_run_t *r);
/* Stored and not failed: it has measurements. */
int rp_usable(const rp_run_t *r);

#endif

/* ---- charts.c ---- */

typedef struct {
    char file[160];      /* charts/<name>.png, relative to the report */
    char title[256];
    char caption[1024];  /* what to look at (plain text) */
} rp_chart_t;

typedef struct {
    rp_chart_t *items;
    size_t n;
} rp_charts_t;

void rp_charts_free(rp_charts_t *c);
/* The activation gallery (f and f' of every activation). */
int rp_chart_gallery(rp_model_t *m, const char *dir, rp_charts_t *out, char *err, size_t errlen);
/* Every chart an experiment's data supports; none when it has no data. */
int rp_charts_experiment(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out,
                         char *err, size_t errlen);

/* ---- html.c ---- */

/* Write dir/index.html (via a temporary name). */
int rp_write_html(rp_model_t *m, const char *dir, const rp_charts_t *gallery,
                  const rp_charts_t *per_exp, char *err, size_t errlen);
