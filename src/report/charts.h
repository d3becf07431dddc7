/* The charts of a report: the list of charts drawn (file, title,
 * caption), the kinds of chart an experiment can have, drawing them all
 * (draw.c), and what the chart modules share (charts_common.c,
 * charts_lines.c). The kinds live in charts.c (at initialization: the
 * gallery, gradient flow, the map, norms, histograms, time),
 * charts_outcome.c (loss, clipping, accuracy), charts_theory.c (theory
 * beside measurement) and charts_train.c (per-layer training logs); they
 * call down into the shared modules and never into each other. Drawing
 * itself is report/chart.h. Internal to src/report/. */
#ifndef GS_REPORT_CHARTS_H
#define GS_REPORT_CHARTS_H

#include <stddef.h>

#include "nn/format.h"
#include "report/chart.h"
#include "report/model.h"

#define RP_MAX_LINES 64   /* series of one chart's legend, at most */

/* A chart drawn: what the page shows of it. */
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

/* ---- the kinds (charts.c) ---- */

/* A kind of chart: draws into out the chart(s) of e that its data
 * supports, none otherwise. 0, or -1 with a message. */
typedef int (*rp_chart_fn)(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out,
                           char *err, size_t errlen);
typedef struct {
    const char *name;   /* for messages: "phase" */
    rp_chart_fn draw;
    /* what every chart of the kind computes alike, done once per process
     * (NULL: nothing); draw.c calls it before forking its workers, so
     * that they inherit it instead of each computing it */
    void (*prepare)(void);
} rp_chart_kind_t;
/* Every kind, in the page's order. */
extern const rp_chart_kind_t rp_chart_kinds[];
extern const size_t rp_n_chart_kinds;
/* Has e a run with measurements? (Without one it has no charts.) */
int rp_exp_has_data(const rp_exp_t *e);
/* The activation gallery (f and f' of every activation). */
int rp_chart_gallery(rp_model_t *m, const char *dir, rp_charts_t *out, char *err, size_t errlen);
/* What training did (charts_outcome.c): loss curves, clipping, accuracy. */
int rp_chart_loss(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                  size_t errlen);
int rp_chart_clip(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                  size_t errlen);
int rp_chart_acc(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                 size_t errlen);
/* Theory beside measurement (charts_theory.c): predicted against
 * measured slope; the Jacobian's spectrum; tanh's phase diagram with the
 * runs placed on it. */
int rp_chart_slopes(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                    size_t errlen);
int rp_chart_spectrum(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen);
int rp_chart_phase(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                   size_t errlen);
/* The phase diagram's theory (its background and edge), computed now. */
void rp_chart_phase_prepare(void);
/* Mean-field theory's ||dL/dh_l|| at the layers l->x of run r's measured
 * gradient flow l (x = layer, y = ||dL/dh_l||) into y[0..l->n), anchored
 * at the measured last layer: 0, or -1 where the theory does not apply
 * (not an mlp, normalization, residual, no last layer). */
int rp_flow_theory(const rp_run_t *r, const rp_series_t *l, double *y);
/* What float16, bfloat16 and FP8 would flush to zero of each layer's
 * dL/dh (charts_lowprec.c; experiments with format_stats=yes). */
int rp_chart_lowprec(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                     size_t errlen);
/* The highest hidden layer (from the input) of a line of zero shares
 * whose share is above one half: the layers below it lose more than half
 * of their gradient too when the gradient shrinks toward the input. 0
 * when none does. */
int rp_lowprec_half_lost(const rp_series_t *s);
/* The same counted from the output (1: the top hidden layer) in a net
 * of depth hidden layers; 0 when no layer loses more than half. */
long rp_lowprec_from_output(const rp_series_t *s, long depth);
/* "st", "nd", "rd" or "th" after n (the 1st layer from the output) */
const char *rp_ordinal(long n);
/* A Gaussian's median |g| over its sigma: sqrt(2) erfinv(1/2) */
#define RP_GAUSS_MEDIAN_ABS 0.6745
/* Mean-field theory's layer counted from the output (the top hidden
 * layer first) where run r's median |dL/dh| falls below format f's flush
 * threshold (min_subnormal/2; float16 2^-25): below 1 when the top
 * layer's median is under it already; NaN where it does not apply. */
double rp_lowprec_chi1_layer(rp_model_t *m, const rp_run_t *r, gs_fmt_id_t f);
/* The transformer charts of an experiment with block_stats rows
 * (charts_transformer.c): the gradient profile across blocks and its
 * last/first ratio against depth, token cosine and relative residual,
 * attention entropy, output change against depth. */
int rp_chart_transformer(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out,
                         char *err, size_t errlen);
/* The training-time charts of a training experiment (charts_train.c). */
int rp_charts_training(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                       size_t errlen);

/* ---- drawing them all (draw.c) ---- */

/* Draw every chart of m's report under dir/charts, listing them in
 * gallery and per[e] in the page's order: in this process when jobs <= 1
 * (m->db open), else over up to jobs forked workers, which open the
 * database themselves (m->db must be NULL: no SQLite connection may cross
 * a fork). The files and lists are the same either way. */
int rp_draw_charts(rp_model_t *m, const char *dir, int jobs, rp_charts_t *gallery,
                   rp_charts_t *per, char *err, size_t errlen);

/* ---- shared by the kinds (charts_common.c) ---- */

/* The first run of e with measurements, or NULL. */
const rp_run_t *rp_first_usable(const rp_exp_t *e);
/* The first such run when e varies key (*a: its axis), else NULL. */
const rp_run_t *rp_varying(const rp_exp_t *e, const char *key, int *a);

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
/* A chart's title ("<experiment>: what") and file (charts/<slug>-kind.png). */
typedef struct {
    char title[256], file[160];
} rp_chart_name_t;
/* Name a chart of e and begin it (NULL when it cannot be drawn). */
gs_chart_t *rp_chart_start(const rp_exp_t *e, const char *kind, const char *what,
                           rp_chart_name_t *name);
/* A legend of an axis's values (up to max of them), series v for value v. */
void rp_axis_legend(gs_chart_t *c, const gs_axis_t *ax, size_t max);
/* Write the chart's PNG with its provenance (the report's time, m->when)
 * and list it with its caption. */
int rp_chart_publish(gs_chart_t *c, rp_model_t *m, const char *dir, const char *file,
                     const char *title, const rp_run_t *const *runs, size_t n_runs,
                     const char *caption, rp_charts_t *out, char *err, size_t errlen);
/* A caption's sentence on what a chart does not tell apart: the axes of e
 * not among the n shown (-1 entries ignored), except dash, which is named
 * as drawn dashed; empty when every axis is shown. */
void rp_unshown_note(const rp_exp_t *e, const int *shown, size_t n, int dash, char *buf,
                     size_t len);
/* The series (colour) of a diagnosis on bars and markers: healthy green,
 * vanishing blue, exploding red, dead black; grey otherwise. */
int rp_diag_series(int diagnosis);   /* a gs_diag_t, or RP_NONE */

/* ---- reduced-precision runs (charts_lowprec_train.c) ---- */

/* The lost-update chart (train_layer_log.lost_update_frac over training)
 * and the twin-error chart (layer_stats.twin_rel_err per layer), for an
 * MLP experiment with those rows; nothing without them. */
int rp_chart_lowprec_train(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out,
                           char *err, size_t errlen);
/* Run r's arithmetic in words (format, master weights, rounding, loss
 * scale), then e's other axes as key=value. */
void rp_precision_words(const rp_exp_t *e, const rp_run_t *r, char *buf, size_t len);
/* The mean of s's finite y values, NaN when none. */
double rp_series_mean(const rp_series_t *s);
/* The twin chart's thresholds of the relative error: 1% and 10%. */
#define RP_N_TWIN_THRESHOLDS 2
extern const double rp_twin_thresholds[RP_N_TWIN_THRESHOLDS];
/* Of a twin_rel_err line (x = layer 1..depth): the first layer counted
 * from the output (1: the top hidden layer) whose error exceeds
 * threshold, 0 when none. */
long rp_twin_first_over(const rp_series_t *s, long depth, double threshold);
/* The error's growth factor per layer towards the input: exp of the
 * least-squares slope of ln(error) against the layer counted from the
 * output, over the layers with 0 < error < 1 (*n_fit of them); NaN with
 * fewer than two. */
double rp_twin_growth(const rp_series_t *s, long depth, size_t *n_fit);

/* ---- lines over runs (charts_lines.c) ---- */

/* One series per configuration of an experiment, loaded before drawing
 * because the axes need their ranges. A configuration run once is its
 * run's line; one with repeats is the median over its repeats at each x,
 * with the 10-90% band around it, on the slot of its first run (its
 * other runs' slots stay empty), so charts draw one line per
 * configuration whatever `repeats` is. */
typedef struct {
    const rp_exp_t *e;
    rp_series_t *lines;       /* per run (n = 0: no line) */
    double **lo, **hi;        /* per run: band edges at lines[i].x (NULL: no band) */
    const rp_run_t **drawn;   /* the runs with a line, in order: one per configuration */
    const rp_run_t **used;    /* every run whose data is drawn (the chart's provenance) */
    size_t n_runs, n_drawn, n_used;
    rp_range_t x;             /* of the finite values */
    rp_values_t y;            /* every y drawn (lines and bands), for the axis's range */
    int bands;                /* a configuration has repeats: bands drawn */
} rp_lineset_t;

typedef int (*rp_loader_t)(rp_model_t *, const rp_run_t *, const char *, rp_series_t *);

/* Load column's series (through load) of e's first max_runs runs and
 * merge each configuration's repeats: 0 when at least one configuration
 * has a line; -1 when none has (or memory is short; ls is then freed). */
int rp_lineset_load(rp_lineset_t *ls, rp_model_t *m, const rp_exp_t *e, size_t max_runs,
                    rp_loader_t load, const char *column);
void rp_lineset_free(rp_lineset_t *ls);
/* Run i's line, named for its configuration, with its band when it
 * stands for repeats. */
void rp_lineset_draw(gs_chart_t *c, const rp_lineset_t *ls, size_t i, int series, int style);
/* Legend keys for what a line chart's styles mean: solid and dashed
 * (the values of axis da, -1: none), the band over repeats, the theory
 * line. */
void rp_line_keys(gs_chart_t *c, const rp_exp_t *e, int da, int band, int theory);
/* The median of get(run) over the usable repeats of the configuration
 * whose runs start at i, NaN when none is finite; lo and hi (may be
 * NULL) get the 10% and 90% quantiles, n (may be NULL) the count. */
double rp_combo_median(const rp_exp_t *e, size_t i, double (*get)(const rp_run_t *),
                       double *lo, double *hi, size_t *n);

#endif
