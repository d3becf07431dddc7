/* The result table: every per-cell column of the database, one row each.
 * This is where a new measurement starts: add its row here (and its test),
 * and the field of gs_result_t, its place in the packed result a rank
 * sends, its column in the CREATE TABLE and the INSERT with its bind, the
 * migration of an older database, `gradsweep schema`'s comment, the
 * report's run (rp_run_t) and the tests' row dump (`gradsweep schema
 * --dump`) all follow from it (docs/architecture.md, "Adding a
 * measurement").
 *
 * GS_RUN_COLUMNS(R, C, P) lists the columns in their CREATE TABLE order,
 * each as SOURCE(name, type, table, since, when, help):
 *   SOURCE  R: measured by the experiment: a field of gs_result_t;
 *           C: derived from the cell's configuration by the store;
 *           P: provenance, where and when it ran (rank, host, times):
 *              differs between identical runs, so left out of the dump;
 *   type    REAL (NaN and Inf are stored as NULL), REAL_INF (an infinity
 *           is stored as one: it means something there), INT, TEXT,
 *           STATUS / DIAG / NONFINITE (the enums of experiment.h, stored
 *           by name with a CHECK list), SESSION (an INT referencing
 *           sessions(id));
 *   table   RUNS or THEORY (the theory table's row, stored for measured
 *           mlp and rnn cells only);
 *   since   the schema version that added the column: an older database
 *           gets it by ALTER TABLE (NULL for the cells stored before);
 *   when    when the column has a value, NULL otherwise: ALWAYS,
 *           MEASURED (status done or diverged), TRAINED (measured and
 *           task=train), DIVERGED (measured, with a diverged step),
 *           FAILED (status failed or crashed);
 *   help    the schema's comment ("\n" continues it on the next line).
 *
 * The identity columns before these (id, config_hash, experiment,
 * canonical_key, repeat, seed, then the config keys of sweep/cell.c's key
 * table) are the store's. */
#ifndef GS_EXPERIMENT_RESULT_FIELDS_H
#define GS_EXPERIMENT_RESULT_FIELDS_H

#include <stddef.h>

/* The diagnosis collapsed (model=transformer): the top block's
 * block_stats.rank_residual below this - the tokens have lost rank
 * (Dong et al. 2021); the schema's comment gives it as text. */
#define GS_COLLAPSED_BELOW 1e-3
/* Admin's measure of the output change (runs.output_change) takes a sign
 * step of this size (nn/net.h's gs_net_output_change) */
#define GS_OUTPUT_CHANGE_LR 1e-4
#define GS_RF_STR2(x) #x
#define GS_RF_STR(x) GS_RF_STR2(x)

#define GS_RUN_COLUMNS(R, C, P)                                                                  \
    C(sigma_w2, REAL, RUNS, 1, ALWAYS,                                                           \
      "fan_in Var(W) of a hidden width x width matrix at init\n"                                 \
      "(mean-field sigma_w^2; recurrent: of Wh)")                                                \
    C(sigma_b2, REAL, RUNS, 1, ALWAYS, "bias_std^2 (mean-field sigma_b^2)")                      \
    R(status, STATUS, RUNS, 1, ALWAYS,                                                           \
      "diverged: a non-finite loss or gradient; failed: did not run;\n"                          \
      "crashed: killed its process (a signal) in as many runs as\n"                                \
      "in_flight.deaths counts to crashed")                                                     \
    R(error, TEXT, RUNS, 1, FAILED, "why a failed cell failed")                                  \
    R(diagnosis, DIAG, RUNS, 1, MEASURED,                                                        \
      "at init, never overwritten: from grad_h_ratio and the\n"                                  \
      "thresholds; dead: a layer's gradient exactly zero (or its\n"                              \
      "units all dead); diverged: not finite at init; collapsed\n"                              \
      "(transformer): the top block's rank_residual < " GS_RF_STR(GS_COLLAPSED_BELOW))                  \
    R(grad_ratio, REAL, RUNS, 1, MEASURED,                                                       \
      "at init: the weight gradients, grad_w_norm(1) /\n"                                        \
      "grad_w_norm(depth) (transformer: of w2 or, with mlp=no, of o;\n"                          \
      "NULL for 0/0). Shown, never the\n"                                                        \
      "verdict: dL/dW is dL/dh times the layer's input, and the\n"                               \
      "two can cancel while dL/dh vanishes (Glorot & Bengio 2010)")                              \
    R(init_loss, REAL, RUNS, 1, MEASURED, "loss of the first batch at init")                     \
    R(train_loss, REAL, RUNS, 1, TRAINED,                                                        \
      "task=train: final loss on the training set (eval mode;\n"                                 \
      "NULL when diverged)")                                                                     \
    R(test_loss, REAL, RUNS, 1, TRAINED,                                                         \
      "task=train: final loss on the test set (NULL: diverged)")                                 \
    R(test_acc, REAL, RUNS, 1, TRAINED,                                                          \
      "task=train: test accuracy (NULL for dataset=adding and\n"                                 \
      "for a diverged run: it is never ranked)")                                                 \
    R(baseline_loss, REAL, RUNS, 1, MEASURED, "dataset=adding: test MSE of always answering 1")  \
    R(clip_fraction, REAL, RUNS, 1, TRAINED, "task=train: share of steps where clipping fired")  \
    R(diverged_step, INT, RUNS, 1, DIVERGED,                                                     \
      "step where the loss or gradient became non-finite")                                       \
    R(steps_run, INT, RUNS, 1, ALWAYS, "training steps taken")                                   \
    P(wall_s, REAL, RUNS, 1, ALWAYS, "seconds the cell took on its rank")                        \
    P(rank, INT, RUNS, 1, ALWAYS, "MPI rank that ran it")                                        \
    P(threads, INT, RUNS, 1, ALWAYS, "OpenMP threads it used")                                   \
    P(host, TEXT, RUNS, 1, ALWAYS, "host that ran it")                                           \
    P(session_id, SESSION, RUNS, 1, ALWAYS, "the run that stored it (sessions.id)")                  \
    P(finished_at, TEXT, RUNS, 1, ALWAYS, "when it was stored")                                  \
    R(grad_ratio_final, REAL, RUNS, 2, TRAINED, "task=train: grad_ratio at the last logged step") \
    R(diagnosis_final, DIAG, RUNS, 2, TRAINED,                                                   \
      "task=train: diagnosis from grad_h_ratio_final, or diverged")                              \
    R(diverged_layer, INT, RUNS, 2, DIVERGED,                                                    \
      "diverged: the first layer that went non-finite (depth+1 the readout)")                    \
    R(diverged_tensor, NONFINITE, RUNS, 2, DIVERGED,                                             \
      "diverged: what of it - weights (lowest layer), activations (lowest),\n"                   \
      "gradient (highest, as backward runs), or only the loss")                                  \
    R(last_finite_grad_norm, REAL, RUNS, 2, DIVERGED,                                            \
      "diverged: the last finite global gradient norm before it")                                \
    R(grad_h_ratio, REAL_INF, RUNS, 5, MEASURED,                                                 \
      "at init: the backpropagated gradient, grad_pre_norm(1) / grad_pre_norm(depth)\n"          \
      "(recurrent: ||dL/dh_1|| / ||dL/dh_seq_len||, top layer; transformer:\n"                   \
      "block_stats' grad_x_norm of block 1 over block depth); the\n"                             \
      "diagnosis is decided by it. NULL when dead or diverged")                                  \
    R(grad_h_ratio_final, REAL_INF, RUNS, 5, TRAINED,                                            \
      "task=train: grad_h_ratio at the last logged step (diagnosis_final's)")                    \
    C(data_seed, INT, RUNS, 5, ALWAYS,                                                           \
      "the seed of the cell's batch order (sweeps.seeding says how it is derived)")              \
    R(work_bytes, INT, RUNS, 7, MEASURED,                                                        \
      "bytes of the cell's arenas: the model's parameters and gradients\n"                       \
      "and activations; the optimizer's state; the data set")                                   \
    /* (no comma in the help just above a table's last column: SQLite's DROP COLUMN, which \
     * the upgrade tests use to make older databases, finds the comma before the last      \
     * column by scanning back through the comments) */                                     \
    R(heldout_rows, INT, RUNS, 8, TRAINED,                                                      \
      "task=train: rows of the held-out subset train_log's heldout_loss and\n"                  \
      "heldout_acc are measured on (the test part's first eval_rows or all of it)")            \
    R(output_change, REAL, RUNS, 9, MEASURED,                                                   \
      "model=transformer: Admin's measure at init (Liu et al. 2020):\n"                         \
      "||f(p - " GS_RF_STR(GS_OUTPUT_CHANGE_LR) " sign(dL/dp)) - f(p)|| / ||f(p)|| over the first batch's\n"                  \
      "logits: how far one sign step (Adam's first) moves the output (NULL: other models)")      \
    R(loss_scale_final, REAL, RUNS, 9, TRAINED,                                                 \
      "task=train with loss_scale set: the loss scale in force at the end\n"                    \
      "(dynamic: after its halvings and doublings; NULL without loss_scale)")                   \
    R(skipped_steps, INT, RUNS, 9, TRAINED,                                                     \
      "task=train: steps whose update loss_scale=dynamic skipped for an inf or NaN gradient")    \
    R(diverged_sublayer, TEXT, RUNS, 9, DIVERGED,                                               \
      "model=transformer, diverged: what of block diverged_layer went non-finite\n"              \
      "first - a matrix or a norm's gain (q k v o w1 w2 ln1 ln2: block_stats'\n"                \
      "sublayers) or the block's residual stream (block); NULL: other models, or the loss alone") \
    R(q_star, REAL_INF, THEORY, 3, ALWAYS,                                                       \
      "fixed point of the length map (NULL: none applies;\n"                                     \
      "Inf: q grows without bound)")                                                             \
    R(chi1, REAL, THEORY, 3, ALWAYS,                                                             \
      "sigma_w^2 E[phi'(sqrt(q*) z)^2]: < 1 vanishes, > 1 explodes")                             \
    R(depth_scale, REAL, THEORY, 3, ALWAYS, "-1/ln chi1, layers (NULL at chi1 = 1: infinite)")   \
    R(predicted_slope, REAL, THEORY, 3, ALWAYS,                                                  \
      "of ln ||dL/dh_l|| per layer toward the input: 1/2 ln chi1,\n"                             \
      "or 1/2 ln(pi/(pi-1)) for batch-normalized relu")                                          \
    R(measured_slope, REAL, THEORY, 3, ALWAYS,                                                   \
      "least-squares slope of ln grad_pre_norm per layer toward\n"                               \
      "the input, over layers depth/2 .. depth (rnn: of ln\n"                                    \
      "grad_hidden_norm per time step toward t = 1)")                                            \
    R(fit_r2, REAL, THEORY, 3, ALWAYS, "R^2 of that fit")                                        \
    R(sv2_min, REAL, THEORY, 3, ALWAYS,                                                          \
      "spectrum=yes: the smallest squared singular value of\n"                                   \
      "the Jacobian dx_depth/dx_0 at the first input (else NULL)")                               \
    R(sv2_max, REAL, THEORY, 3, ALWAYS, "the largest")                                           \
    R(sv2_mean, REAL, THEORY, 3, ALWAYS, "their mean (1: isometry on average)")                  \
    R(condition, REAL_INF, THEORY, 3, ALWAYS,                                                    \
      "sigma_max / sigma_min (dynamical isometry: near 1;\n"                                     \
      "Inf: a zero singular value)")                                                             \
    R(residual_growth_predicted, REAL, THEORY, 3, ALWAYS,                                        \
      "residual, no norm: growth of ln(||x_l||^2/n) per block\n"                                 \
      "over layers 1..depth predicted from layer 1's length")                                    \
    R(residual_growth_measured, REAL, THEORY, 3, ALWAYS, "the same measured")                    \
    R(step_bound, REAL, THEORY, 3, ALWAYS,                                                       \
      "rnn: Pascanu's per-step bound ln(lambda_1 gamma) on the\n"                                \
      "change of ln ||dL/dh_t|| (lambda_1: top singular value of\n"                              \
      "Wh; gamma = max |phi'|)")

/* The value columns of the tables of a cell's series, each
 * X(name, type, help) with type REAL or INT: a field of the row struct
 * of that name (nn/net.h's gs_layer_stats_t, nn/rnn.h's gs_time_stats_t,
 * gs_train_row_t and gs_train_layer_row_t below) and a column. The key
 * columns before them (run_id, step, layer or t) are the store's. */
#define GS_LAYER_STATS_COLUMNS(X)                                                                \
    X(act_mean, REAL, "mean of the layer output x_l over batch and units")                      \
    X(act_std, REAL, "standard deviation of x_l")                                               \
    X(saturated_frac, REAL, "share of units with |phi'| < 0.05 max|phi'|")                      \
    X(dead_frac, REAL, "share of units with phi' = 0")                                          \
    X(grad_pre_norm, REAL, "||dL/dh_l|| over the batch (recurrent: gate inputs)")               \
    X(grad_w_norm, REAL, "||dL/dW_l|| (recurrent: of [Wx Wh])")                                 \
    X(w_norm, REAL, "||W_l||")                                                                  \
    X(twin_rel_err, REAL, "precision other than float64: | ||dL/dh_l|| - the float64 twin's | / the twin's") \
    X(twin_cos, REAL, "cosine between dL/dh_l and the float64 twin's (same seeds and batch)")
#define GS_TRAIN_LOG_COLUMNS(X)                                                                  \
    X(loss, REAL, "the step's batch loss (NULL when non-finite)")                               \
    X(grad_norm, REAL, "global L2 norm of the gradient before clipping")                        \
    X(grad_norm_clipped, REAL, "after clipping")                                                \
    X(clipped, INT, "1 when clipping fired")                                                    \
    X(heldout_loss, REAL, "loss on runs.heldout_rows held-out rows, eval mode, before the step") \
    X(heldout_acc, REAL, "accuracy on it (NULL for dataset=adding)")
#define GS_TRAIN_LAYER_LOG_COLUMNS(X)                                                            \
    X(grad_w_norm, REAL, "||dL/dW_l|| before clipping (recurrent: [Wx Wh])")                    \
    X(w_norm, REAL, "||W_l|| before the step's update")                                         \
    X(update_ratio, REAL, "||update applied to W_l|| / ||W_l|| (NULL: diverged step)")          \
    X(dead_frac, REAL, "share of units with phi' = 0 (recurrent: rnn only)")                    \
    X(saturated_frac, REAL, "share of units with |phi'| < 0.05 max|phi'|")                      \
    X(grad_h_first, REAL, "recurrent layers: ||dL/dh_1||, all paths (else NULL)")               \
    X(grad_h_last, REAL, "recurrent layers: ||dL/dh_seq_len||")                                  \
    X(lost_update_frac, REAL, "reduced precision: of W_l's nonzero updates the share rounded back to the stored (master) weight")
#define GS_TIME_STATS_COLUMNS(X)                                                                 \
    X(hidden_norm, REAL, "||h_t|| per sequence, mean over the batch")                           \
    X(grad_hidden_norm, REAL, "||dL/dh_t||, loss at the last step, all paths")
/* format_stats (format_stats=yes): one row per logged step, layer,
 * tensor (gs_fmt_tensor_names) and format (nn/format.h's gs_fmt_names),
 * from the counts of one pass over the tensor (gs_fmt_counts_t); the
 * shares are of the tensor's nonzero finite values. */
#define GS_FORMAT_STATS_COLUMNS(X)                                                               \
    X(n_values, INT, "values in the tensor")                                                   \
    X(nonzero, INT, "of them finite and nonzero in double")                                    \
    X(zero_frac, REAL, "share of the nonzero ones the format rounds to zero")                  \
    X(subnormal_frac, REAL, "share it leaves subnormal")                                       \
    X(overflow_frac, REAL, "share that overflows: inf, NaN (e4m3) or saturated")               \
    X(max_abs, REAL, "largest |value| (of the tensor; the same for every format)")             \
    X(min_abs, REAL, "smallest nonzero |value|")                                               \
    X(scale_lo_log2, REAL, "gradients: log2 of the least loss scale losing <= 0.1% to zero")  \
    X(scale_hi_log2, REAL, "gradients: log2 of the largest overflowing none (lo > hi: none)")
/* block_stats (model=transformer): one row per measured step, block
 * layer = 1..depth and sublayer (gs_sublayer_names): the matrix rows
 * q, k, v, o, w1 (the MLP's first matrix), w2 (its second) and the norm
 * gains ln1, ln2 (ln != none) carry the first three columns, the block
 * row (sublayer 'block') the others (nn/transformer.h's
 * gs_tf_block_stats); a column that does not apply is NULL. */
#define GS_BLOCK_STATS_COLUMNS(X)                                                                \
    X(grad_w_norm, REAL, "||dL/dW|| of the sublayer's matrix (ln1, ln2: of the gain)")         \
    X(w_norm, REAL, "||W|| (ln1, ln2: of the gain)")                                           \
    X(update_ratio, REAL, "training: ||update||/||W|| of the step (NULL at step 0)")           \
    X(grad_x_norm, REAL, "block: ||dL/dx|| of the residual stream entering the block")         \
    X(rms, REAL, "block: RMS of the block's output x_l")                                       \
    X(token_cosine, REAL, "block: mean cosine between the tokens of x_l")                      \
    X(rank_residual, REAL, "block: ||X - 1 xbar^T||_F / ||X||_F of x_l (Dong et al. 2021)")    \
    X(attn_entropy_min, REAL, "block: smallest per-head mean attention entropy (nats)")        \
    X(attn_logit_max, REAL, "block: largest scaled logit Q K^T / sqrt(d_head)")
/* head_stats (model=transformer): one row per measured step, block
 * layer = 1..depth and head = 1..heads (nn/transformer.h's
 * gs_tf_head_stats): block_stats' attn_entropy_min and attn_logit_max
 * are the least and the largest of a block's rows. */
#define GS_HEAD_STATS_COLUMNS(X)                                                                 \
    X(head, INT, "the head, 1..heads")                                                          \
    X(attn_entropy, REAL, "mean over sequences and query positions of -sum_j P_ij ln P_ij (nats)") \
    X(attn_logit_max, REAL, "the head's largest scaled logit Q K^T / sqrt(d_head)")
/* A series row's field */
#define GS_SERIES_FIELD(name, type, help) GS_DECLARE_##type(name)

/* The C declaration of a column of each type (a field of gs_result_t or
 * rp_run_t). */
#define GS_TEXT_MAX 512
#define GS_DECLARE_REAL(name) double name;
#define GS_DECLARE_REAL_INF(name) double name;
#define GS_DECLARE_INT(name) long name;
#define GS_DECLARE_SESSION(name) long name;
#define GS_DECLARE_TEXT(name) char name[GS_TEXT_MAX];
#define GS_DECLARE_STATUS(name) gs_status_t name;
#define GS_DECLARE_DIAG(name) gs_diag_t name;
#define GS_DECLARE_NONFINITE(name) gs_nonfinite_t name;
/* A row's field declaration, and nothing for a row of another source */
#define GS_COLUMN_FIELD(name, type, table, since, when, help) GS_DECLARE_##type(name)
#define GS_COLUMN_SKIP(name, type, table, since, when, help)

typedef enum {
    GS_COL_REAL, GS_COL_REAL_INF, GS_COL_INT, GS_COL_SESSION, GS_COL_TEXT, GS_COL_STATUS,
    GS_COL_DIAG, GS_COL_NONFINITE
} gs_col_type_t;
typedef enum { GS_TABLE_RUNS, GS_TABLE_THEORY } gs_col_table_t;
typedef enum {
    GS_WHEN_ALWAYS, GS_WHEN_MEASURED, GS_WHEN_TRAINED, GS_WHEN_DIVERGED, GS_WHEN_FAILED
} gs_col_when_t;
typedef enum { GS_SOURCE_R, GS_SOURCE_C, GS_SOURCE_P } gs_col_source_t;

/* A column as data: what the loops over the table read. offset is into
 * the struct the user of the table fills or reads (gs_result_t, the
 * store's derived values, rp_run_t). */
typedef struct {
    const char *name;
    gs_col_type_t type;
    gs_col_table_t table;
    int since;
    gs_col_when_t when;
    gs_col_source_t source;
    size_t offset;
    const char *help;
} gs_column_t;

/* The names an enum column (STATUS, DIAG, NONFINITE) is stored by, from
 * the tables of experiment.h, *n of them; NULL for other types. */
const char *const *gs_column_names(gs_col_type_t type, size_t *n);
/* The value of name among them; -1 when it is none of them (or NULL). */
int gs_column_value(gs_col_type_t type, const char *name);
/* The value of col's field at field (a struct laid out by
 * GS_COLUMN_ENTRY) as text into buf: reals to 17 significant digits,
 * an enum by its name; "" for a NaN real or an enum out of range (the
 * report's RP_NONE). Returns buf. */
char *gs_column_text(const gs_column_t *col, const void *field, char *buf, size_t cap);

/* A gs_column_t initializer of a row, offset into struct type base */
#define GS_COLUMN_ENTRY(source, base, name, type, table, since, when, help)                    \
    {#name, GS_COL_##type, GS_TABLE_##table, since, GS_WHEN_##when, GS_SOURCE_##source,         \
     offsetof(base, name), help},

#endif
