/* Run one cell: build its data and model, probe at initialization or
 * train, and return every measurement. No MPI, no SQLite, no printing:
 * callers decide where the numbers go. */
#ifndef GS_EXPERIMENT_EXPERIMENT_H
#define GS_EXPERIMENT_EXPERIMENT_H

#include <stddef.h>

#include "nn/format.h"
#include "nn/mlp.h"
#include "nn/net.h"
#include "nn/rnn.h"
#include "sweep/cell.h"
#include "experiment/result_fields.h"

/* A cell's outcome (runs.status). failed: did not run (a message says
 * why); crashed: killed its process in GS_DEATHS_TO_CRASHED runs of the
 * sweep (a signal; store/store.h), so the sweep stores it as such and goes
 * on. The last two carry no measurements. */
typedef enum { GS_STATUS_DONE, GS_STATUS_DIVERGED, GS_STATUS_FAILED, GS_STATUS_CRASHED } gs_status_t;
/* A verdict on the backpropagated gradient (grad_h_ratio): vanishing or
 * exploding past the sweep's thresholds, healthy between them; dead when
 * some layer's gradient is exactly zero (no ratio is taken from a zero);
 * diverged when the measurement itself is not finite; collapsed (a
 * transformer) when the top block's tokens have lost rank
 * (rank_residual < GS_COLLAPSED_BELOW). New names go last:
 * stored databases list the earlier ones in their CHECK constraints. */
typedef enum {
    GS_DIAG_HEALTHY, GS_DIAG_VANISHING, GS_DIAG_EXPLODING, GS_DIAG_DIVERGED, GS_DIAG_DEAD,
    GS_DIAG_COLLAPSED
} gs_diag_t;

extern const char *const gs_status_names[];   /* indexed by gs_status_t */
extern const char *const gs_diag_names[];     /* indexed by gs_diag_t */
#define GS_N_STATUS 4
#define GS_STATUS_MEASURED(s) ((s) == GS_STATUS_DONE || (s) == GS_STATUS_DIVERGED)
#define GS_N_DIAG 6
/* the histograms' quantity column: weight (W, or recurrent Wh), weight_input
 * (Wx), jacobian_log10_sv (log10 of the Jacobian's singular values, layer 0) */
extern const char *const gs_hist_quantity_names[];
#define GS_N_HIST_QUANTITIES 3
#define GS_HIST_WEIGHT 0         /* index of weight */
#define GS_HIST_WEIGHT_INPUT 1   /* index of weight_input */
#define GS_HIST_JACOBIAN 2       /* index of jacobian_log10_sv */

/* What went non-finite first in a diverged run (runs.diverged_tensor):
 * a layer's weights (after the previous update), its output (the forward
 * pass, lowest layer first), its weight gradient (the backward pass,
 * highest layer first), or only the loss. */
typedef enum {
    GS_NONFINITE_WEIGHT, GS_NONFINITE_ACTIVATION, GS_NONFINITE_GRADIENT, GS_NONFINITE_LOSS
} gs_nonfinite_t;
extern const char *const gs_nonfinite_names[];   /* indexed by gs_nonfinite_t */
#define GS_N_NONFINITE 4

/* One logged training step (train_log) */
typedef struct {
    long step;
    GS_TRAIN_LOG_COLUMNS(GS_SERIES_FIELD)
} gs_train_row_t;

/* One layer at one logged training step (train_layer_log) */
typedef struct {
    long step;
    int layer;                  /* 1..depth, depth+1 the readout */
    GS_TRAIN_LAYER_LOG_COLUMNS(GS_SERIES_FIELD)
} gs_train_layer_row_t;

#define GS_HIST_BINS 30

/* Histogram of one weight matrix at initialization over [lo, hi] =
 * [-max|w|, max|w|] in GS_HIST_BINS equal bins. */
typedef struct {
    int layer;              /* 1..depth, depth+1 the readout */
    const char *quantity;   /* "weight" (W, or recurrent Wh), "weight_input" (Wx) */
    double lo, hi;
    long count[GS_HIST_BINS];
} gs_hist_t;

/* The tensors format_stats counts, per layer (format_stats.tensor):
 * activation the layer's output x_l (the readout's: the logits);
 * grad_activation dL/dh_l, the gradient at the pre-activation (whose norm
 * is layer_stats.grad_pre_norm); grad_weight dL/dW_l before clipping;
 * weight W_l before the step's update; update the change the optimizer
 * applied to W_l (training only). */
typedef enum {
    GS_FT_ACTIVATION, GS_FT_GRAD_ACTIVATION, GS_FT_GRAD_WEIGHT, GS_FT_WEIGHT, GS_FT_UPDATE
} gs_fmt_tensor_t;
#define GS_N_FMT_TENSORS 5
extern const char *const gs_fmt_tensor_names[];   /* indexed by gs_fmt_tensor_t */
/* the gradients, whose loss-scale window is taken */
#define GS_FT_IS_GRADIENT(t) ((t) == GS_FT_GRAD_ACTIVATION || (t) == GS_FT_GRAD_WEIGHT)

/* One tensor of one layer at one measured step, counted once for every
 * format (format_stats's rows of every format, format_exponents' row):
 * the counts' tally, the loss-scale windows taken from the histogram
 * when it was whole, and the histogram from its first nonzero bin to
 * its last, in the result's pool fmt_bins (most of a histogram's 291
 * bins are zero: kept whole, the records of a narrow cell's thousand
 * steps were 14.5 MB, touched, packed, sent and unpacked) */
#define GS_FMT_NO_WINDOW INT32_MIN   /* scale_lo: no window (not a gradient, or no nonzero value) */
typedef struct {
    long step;                  /* 0: the probe; else the logged training step */
    int32_t layer;              /* 1..depth, depth+1 the readout */
    int32_t tensor;             /* gs_fmt_tensor_t */
    gs_fmt_tally_t counts;
    int32_t scale_lo[GS_N_FMT], scale_hi[GS_N_FMT];   /* gs_fmt_scale_window's */
    int32_t bin_first, n_bins;  /* histogram bins bin_first.. (n_bins 0: every value zero) */
    uint64_t bin_at;            /* at fmt_bins[bin_at..] */
} gs_fmt_record_t;

/* block_stats.sublayer: a transformer block's matrices q, k, v, o (the
 * attention's), w1, w2 (the MLP's first and second), the norm gains ln1,
 * ln2, and the block itself (its residual stream and attention) */
typedef enum {
    GS_SUB_Q, GS_SUB_K, GS_SUB_V, GS_SUB_O, GS_SUB_W1, GS_SUB_W2, GS_SUB_LN1, GS_SUB_LN2,
    GS_SUB_BLOCK
} gs_sublayer_t;
#define GS_N_SUBLAYERS 9
extern const char *const gs_sublayer_names[];   /* indexed by gs_sublayer_t */

/* One row of block_stats */
typedef struct {
    long step;                  /* 0: at init; else the logged training step */
    int32_t layer;              /* block 1..depth from the embeddings */
    int32_t sublayer;           /* gs_sublayer_t */
    GS_BLOCK_STATS_COLUMNS(GS_SERIES_FIELD)
} gs_block_row_t;

/* One row of head_stats */
typedef struct {
    long step;                  /* 0: at init; else the logged training step */
    int32_t layer;              /* block 1..depth */
    GS_HEAD_STATS_COLUMNS(GS_SERIES_FIELD)   /* head: 1..heads, a key */
} gs_head_row_t;

/* One row of format_stats */
typedef struct {
    GS_FORMAT_STATS_COLUMNS(GS_SERIES_FIELD)
} gs_format_row_t;
/* The row of format f from a record's counts (the shares of its nonzero
 * values, NaN when it has none; the loss-scale window for gradients, NaN
 * otherwise). */
void gs_format_row(const gs_fmt_record_t *rec, int f, gs_format_row_t *row);

/* A cell's result: the scalar columns of the result table
 * (result_fields.h, its R rows: their meaning is their help there), then
 * the series and what the CLI alone shows. */
typedef struct {
    GS_RUN_COLUMNS(GS_COLUMN_FIELD, GS_COLUMN_SKIP, GS_COLUMN_SKIP)
    size_t n_layers;            /* depth + 1: hidden layers, then the readout */
    gs_layer_stats_t *layers;   /* at initialization */
    size_t n_time;              /* recurrent: seq_len; else 0 */
    gs_time_stats_t *time;      /* at initialization, top layer, t = 1..T */
    size_t n_hist;
    gs_hist_t *hist;            /* weight histograms at initialization */
    /* training (task=train) */
    size_t n_log;
    gs_train_row_t *log;
    size_t n_layer_log;         /* n_log * n_layers */
    gs_train_layer_row_t *layer_log;   /* per logged step, layers 1..depth+1 */
    /* format_stats=yes: per measured step, layer and tensor */
    size_t n_fmt;
    gs_fmt_record_t *fmt;
    size_t n_fmt_bins;
    long *fmt_bins;             /* the records' histogram bins */
    /* model=transformer: block_stats rows, per measured step, block and
     * sublayer */
    size_t n_block;
    gs_block_row_t *block;
    /* and head_stats rows, per measured step, block and head */
    size_t n_head;
    gs_head_row_t *head;
    /* wall seconds of the phases: data, model and init; the steps
     * (forward, backward, update, measurements); the final evaluation
     * (not packed or stored: for the CLI's time line) */
    double setup_s, steps_s, eval_s;
} gs_result_t;

/* Bin `bin` (0..GS_FMT_HIST_BINS) of a record's histogram: 0 outside
 * the bins it keeps */
long gs_fmt_record_bin(const gs_result_t *r, const gs_fmt_record_t *rec, int bin);

typedef struct {
    /* called after every logged training step with its row and its
     * n_layers layer rows; may be NULL */
    void (*on_log)(void *ctx, const gs_train_row_t *row, const gs_train_layer_row_t *layers,
                   size_t n_layers, long steps);
    void *ctx;
} gs_progress_t;

/* Checks that need more than one key or the machine: combinations, sizes
 * against the data set, memory. -1 with a message naming the keys. */
int gs_experiment_check(const gs_cell_t *cell, char *err, size_t errlen);

/* sigma_w^2 = fan_in Var(W) of a hidden width x width matrix of the cell
 * at init (recurrent: of Wh), the mean-field weight variance. */
double gs_experiment_sigma_w2(const gs_cell_t *cell);

/* Tests only: loss_scale=dynamic's injection hook. The steps inject[0..n)
 * of the runs that follow get an inf in their gradient after backward,
 * as an overflow would leave it, and the scale grows after `interval`
 * clean steps instead of 2000 (0: 2000). (NULL, 0, 0) turns it off. Not
 * for concurrent runs: it is the process's. */
void gs_experiment_test_scaler(const long *inject, size_t n_inject, long interval);

/* Run the cell. Returns 0 with the result filled in (status done or
 * diverged), or -1 with status failed and result->error set. */
int gs_experiment_run(const gs_cell_t *cell, gs_result_t *result,
                      const gs_progress_t *progress);

/* Estimated floating-point operations of running the cell (for
 * longest-first scheduling and the plan). */
double gs_experiment_flops(const gs_cell_t *cell);
/* The rate the plan's seconds assume per core, FLOP/s, and where the
 * progress bar's ETA starts before it learns the real one. pipeline/bench
 * measures what the estimate corresponds to (its "cost estimate" line):
 * 11.5 GFLOP/s on one core for small training cells; 5 stays on the
 * cautious side for smaller cells and slower machines. */
#define GS_ASSUMED_FLOPS_PER_CORE 5e9

/* The verdict on a backpropagated-gradient ratio: dead when a layer's
 * gradient was exactly zero, diverged when the ratio is NaN. */
gs_diag_t gs_diagnose(double grad_h_ratio, int dead, double vanishing_below,
                      double exploding_above);

void gs_result_free(gs_result_t *r);   /* frees the arrays; NULL is fine */

#endif
