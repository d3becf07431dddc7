/* How the `report` fuzz target reads its bytes as a database
 * (fuzz_report.c), shared with the corpus generator (seed_corpus.c),
 * which writes real rows in it. Any byte string reads as something: a
 * byte past the end reads as 0.
 *
 *   input  = config row*
 *   config = a byte c; c < FZ_N_CONFIGS: built-in config c, otherwise
 *            a 16-bit length (little-endian) and that much config text
 *   row    = a byte t; t % (FZ_N_TABLES + 1) < FZ_N_TABLES: a row of that
 *            table, one value per column in the order of fz_tables;
 *            otherwise a byte u: every row of table u % FZ_N_TABLES is
 *            deleted (a table without rows, the sweeps one too)
 *   value  = a tag byte (tag % FZ_N_TAGS), then:
 *     FZ_NULL     -
 *     FZ_INT      8 bytes, a little-endian int64
 *     FZ_REAL     8 bytes, the bits of a double
 *     FZ_TEXT     a length byte and that many bytes (any bytes, NULs too)
 *     FZ_BLOB     a length byte and that many bytes
 *     FZ_CELL     a byte k: the value of cell k % n_cells the column holds
 *                 for a real run (its id, config_hash, experiment, canonical
 *                 key; the config text for sweeps.config_text; k otherwise)
 *     FZ_NAME     a byte k: fz_names[k % FZ_N_NAMES], the status, diagnosis,
 *                 tensor and quantity names and near misses of them
 *     FZ_SMALL    a byte, a signed integer
 *     FZ_SPECIAL  a byte k: one of the doubles a reader must not trust
 *                 (NaN, the infinities, -0, the largest and the smallest)
 *
 * The sweeps row is written from the config before any row; a sweeps row
 * of the input replaces it. */
#ifndef GS_TESTS_FUZZ_REPORT_INPUT_H
#define GS_TESTS_FUZZ_REPORT_INPUT_H

#include <string.h>

enum { FZ_NULL, FZ_INT, FZ_REAL, FZ_TEXT, FZ_BLOB, FZ_CELL, FZ_NAME, FZ_SMALL, FZ_SPECIAL,
       FZ_N_TAGS };

#define FZ_MAX_COLS 32

typedef struct {
    const char *name;
    const char *cols[FZ_MAX_COLS];   /* up to the first NULL */
} fz_table_t;

/* Every column the report reads, and the NOT NULL ones beside them. */
static const fz_table_t fz_tables[] = {
    {"sweeps", {"id", "name", "description", "config_path", "config_text", "base_seed",
                "vanishing_below", "exploding_above", "n_cells", "created_at", "updated_at",
                "gradsweep_version", "seeding", NULL}},
    {"runs", {"id", "config_hash", "experiment", "canonical_key", "repeat", "seed", "status",
              "error", "diagnosis", "grad_ratio", "init_loss", "train_loss", "test_loss",
              "test_acc", "baseline_loss", "clip_fraction", "wall_s", "diverged_step", "rank",
              "diagnosis_final", "grad_ratio_final", "diverged_layer", "diverged_tensor",
              "last_finite_grad_norm", "sigma_w2", "sigma_b2", "grad_h_ratio",
              "grad_h_ratio_final", NULL}},
    {"theory", {"run_id", "q_star", "chi1", "depth_scale", "predicted_slope", "measured_slope",
                "fit_r2", "sv2_min", "sv2_max", "sv2_mean", "condition",
                "residual_growth_predicted", "residual_growth_measured", "step_bound", NULL}},
    {"layer_stats", {"run_id", "step", "layer", "act_mean", "act_std", "saturated_frac",
                     "dead_frac", "grad_pre_norm", "grad_w_norm", "w_norm", NULL}},
    {"train_log", {"run_id", "step", "loss", "grad_norm", "grad_norm_clipped", "clipped",
                   NULL}},
    {"train_layer_log", {"run_id", "step", "layer", "grad_w_norm", "w_norm", "update_ratio",
                         "dead_frac", "saturated_frac", "grad_h_first", "grad_h_last", NULL}},
    {"time_stats", {"run_id", "step", "t", "hidden_norm", "grad_hidden_norm", NULL}},
    {"histogram_counts", {"run_id", "layer", "quantity", "lo", "hi", "counts", NULL}},
    {"sessions", {"status", "started_at", "ended_at", "heartbeat", "host", "pid", "ranks",
                  "threads", "hosts", "gradsweep_version", "wall_s", NULL}},
};
#define FZ_N_TABLES (sizeof fz_tables / sizeof *fz_tables)
enum { FZ_T_SWEEPS, FZ_T_RUNS };   /* indexes in fz_tables */

static const char *const fz_names[] = {
    "done", "diverged", "failed", "healthy", "vanishing", "exploding", "weight", "activation",
    "gradient", "loss", "weight_input", "jacobian_log10_sv", "running", "interrupted",
    "crashed", "", "Healthy", "healthy ", "exploding_and_then_some_more_than_fits",
};
#define FZ_N_NAMES (sizeof fz_names / sizeof *fz_names)

/* config bytes below FZ_N_CONFIGS name a built-in config (fuzz_report.c) */
#define FZ_N_CONFIGS 4
#define FZ_CONFIG_TEXT 255   /* what the generator writes before a config text */

/* What FZ_CELL gives in a column: a run's own value there, if it has one. */
typedef enum { COL_PLAIN, COL_ID, COL_HASH, COL_EXPERIMENT, COL_KEY, COL_CONFIG } fz_col_kind_t;

static inline fz_col_kind_t fz_col_kind(const char *table, const char *col)
{
    if (strcmp(col, "run_id") == 0 || (strcmp(col, "id") == 0 && strcmp(table, "runs") == 0))
        return COL_ID;
    return strcmp(col, "config_hash") == 0     ? COL_HASH
           : strcmp(col, "experiment") == 0    ? COL_EXPERIMENT
           : strcmp(col, "canonical_key") == 0 ? COL_KEY
           : strcmp(col, "config_text") == 0   ? COL_CONFIG
                                               : COL_PLAIN;
}

#endif
