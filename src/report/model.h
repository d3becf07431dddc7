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
    char status[16], diagnosis[16];   /* diagnosis: at init, from grad_h_ratio */
    double grad_h_ratio;         /* the backpropagated gradient's ratio at init (NaN: dead) */
    double grad_h_ratio_final;   /* the same at the last logged step (NaN: none) */
    double grad_ratio, init_loss, train_loss, test_loss, test_acc, baseline_loss;
    double clip_fraction, wall_s;
    long diverged_step, rank;
    char diagnosis_final[16];    /* task=train: at the last logged step; "" otherwise */
    double grad_ratio_final, last_finite_grad_norm;
    int diverged_layer;          /* diverged: the layer named (0: none) */
    double predicted_slope, measured_slope, chi1;   /* theory (NaN: none) */
    double sigma_w2, sigma_b2;   /* the mean-field variances of the cell */
    double step_bound;           /* rnn: Pascanu's per-step bound (NaN: none) */
    double residual_growth_predicted, residual_growth_measured;   /* residual, no norm */
    char diverged_tensor[16];    /* diverged: weight, activation, gradient or loss */
    char label[300];             /* values of the experiment's axes, " / "-joined, and
                                    the repeat when there are several */
    char config_label[256];      /* the same without the repeat: its configuration */
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

/* ---- charts.c ---- */

typedef struct {
    char file[160];      /* charts/<name>.png, relative to the report */
    char title[256];
    char caption[2048];  /* what to look at (plain text) */
} rp_chart_t;

typedef struct {
    rp_chart_t *items;
    size_t n;
} rp_charts_t;

void rp_charts_free(rp_charts_t *c);
/* The activation gallery (f and f' of every activation). */
int rp_chart_gallery(rp_model_t *m, const char *dir, rp_charts_t *out, char *err, size_t errlen);
/* A kind of chart: draws into out the chart(s) of e that its data
 * supports, none otherwise. 0, or -1 with a message. */
typedef int (*rp_chart_fn)(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out,
                           char *err, size_t errlen);
typedef struct {
    const char *name;   /* for messages: "phase" */
    rp_chart_fn draw;
    int slow;           /* seconds rather than a fraction of one */
} rp_chart_kind_t;
/* Every kind, in the page's order (charts.c). */
extern const rp_chart_kind_t rp_chart_kinds[];
extern const size_t rp_n_chart_kinds;
/* Has e a run with measurements? (Without one it has no charts.) */
int rp_exp_has_data(const rp_exp_t *e);

/* Helpers of the chart modules (charts.c). */
typedef struct {
    double lo, hi;   /* of the finite (positive, when asked) values added */
} rp_range_t;
void rp_range_add(rp_range_t *r, const double *v, size_t n, int positive);
/* Widen to whole decades (at least one); 0.1..10 when empty. */
void rp_log_pad(rp_range_t *r);
/* A log axis's range for the values v[0..n): whole decades around the
 * trim..1-trim quantiles of log10 v, reaching past them by twice their
 * spread (at least 2 decades), never past the data. RP_BULK for values
 * over training, so that one dead run does not flatten the rest (what is
 * left out the chart draws at the edge); RP_ALL where a vanishing
 * gradient is the message. */
#define RP_ALL 0.0
#define RP_BULK 0.25
rp_range_t rp_log_range(const double *v, size_t n, double trim);
/* A growing list of values (a chart's y values, for its range). */
typedef struct {
    double *v;
    size_t n, cap;
} rp_values_t;
int rp_values_add(rp_values_t *s, const double *v, size_t n);   /* -1: out of memory */
void rp_values_free(rp_values_t *s);
/* Sort v[0..n) and return its median, *lo and *hi its 10% and 90%
 * quantiles (linear interpolation); NaN when n = 0. */
double rp_quantiles(double *v, size_t n, double *lo, double *hi);
/* Panels for n facets: nx columns, ny rows. */
void rp_grid_for(int n, int *nx, int *ny);
/* Legend width in characters for these labels and title. */
int rp_longest(const char *const *labels, size_t n, const char *title);
struct gs_chart;
/* A chart's title ("<experiment>: what") and file (charts/<slug>-kind.png). */
typedef struct {
    char title[256], file[160];
} rp_chart_name_t;
/* Name a chart of e and begin it (NULL when it cannot be drawn). */
struct gs_chart *rp_chart_start(const rp_exp_t *e, const char *kind, const char *what,
                                rp_chart_name_t *name);
/* A legend of an axis's values (up to max of them), series v for value v. */
void rp_axis_legend(struct gs_chart *c, const gs_axis_t *ax, size_t max);
/* Write the chart's PNG with its provenance and list it with its caption. */
int rp_chart_publish(struct gs_chart *c, rp_model_t *m, const char *dir, const char *file,
                     const char *title, const rp_run_t *const *runs, size_t n_runs,
                     const char *caption, rp_charts_t *out, char *err, size_t errlen);
/* A caption's sentence on what a chart does not tell apart: the axes of e
 * not among the n shown (-1 entries ignored), except dash, which is named
 * as drawn dashed; empty when every axis is shown. */
void rp_unshown_note(const rp_exp_t *e, const int *shown, size_t n, int dash, char *buf,
                     size_t len);
/* The series (colour) of a diagnosis on bars and markers: healthy green,
 * vanishing blue, exploding red, dead black; grey otherwise. */
int rp_diag_series(const char *diagnosis);
/* Theory beside measurement (charts_theory.c). */
/* Mean-field theory's ||dL/dh_l|| at the layers l->x of run r's measured
 * gradient flow l (x = layer, y = ||dL/dh_l||) into y[0..l->n), anchored
 * at the measured last layer: 0, or -1 where the theory does not apply
 * (not an mlp, normalization, residual, no last layer). */
int rp_flow_theory(const rp_run_t *r, const rp_series_t *l, double *y);
/* Predicted against measured slope; the Jacobian's spectrum; tanh's
 * phase diagram with the runs placed on it. */
int rp_chart_slopes(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                    size_t errlen);
int rp_chart_spectrum(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen);
int rp_chart_phase(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                   size_t errlen);
/* The training-time charts of a training experiment (charts_train.c). */
int rp_charts_training(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                       size_t errlen);

/* ---- draw.c ---- */

/* Draw every chart of m's report under dir/charts, listing them in
 * gallery and per[e] in the page's order: in this process when jobs <= 1
 * (m->db open), else over up to jobs forked workers, which open the
 * database themselves (m->db must be NULL: no SQLite connection may cross
 * a fork). The files and lists are the same either way. */
int rp_draw_charts(rp_model_t *m, const char *dir, int jobs, rp_charts_t *gallery,
                   rp_charts_t *per, char *err, size_t errlen);

/* ---- write.c ---- */

/* Build the findings and claims of m and write dir/findings.csv and
 * dir/index.html. */
int rp_write_pages(rp_model_t *m, const char *dir, const rp_charts_t *gallery,
                   const rp_charts_t *per_exp, char *err, size_t errlen);

#endif
