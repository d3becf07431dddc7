/* The report's view of transformer cells (issue 21): what the charts
 * (charts_transformer.c), the findings (findings_transformer.c) and the
 * claims (claim_parts.c) read of the table block_stats and of the runs
 * columns the transformer keys and output_change add - all by column
 * name, so that a database without them (an older schema, a sweep of
 * MLPs) simply has no transformer cells. A "scheme" is a configuration
 * without its depth: the experiment's axis values but depth's
 * ("post / none"), so that one line per scheme runs over the depths.
 * Internal to src/report/. */
#ifndef GS_REPORT_TRANSFORMER_H
#define GS_REPORT_TRANSFORMER_H

#include <stddef.h>

#include "report/model.h"

/* Dong et al.'s relative residual below GS_COLLAPSED_BELOW
 * (experiment/result_fields.h, the `collapsed` diagnosis' threshold): the
 * tokens have lost rank. */
#include "experiment/result_fields.h"

/* Does run r have block_stats rows at init (step 0)? A usable run only;
 * 0 when the table does not exist. */
int rp_tf_run(rp_model_t *m, const rp_run_t *r);
/* Has experiment e a transformer run (rp_tf_run)? */
int rp_tf_experiment(rp_model_t *m, const rp_exp_t *e);

/* The transformer keys of a run as stored in its runs row (the
 * canonical text: ln post|pre|none, residual_scale none|deepnorm|rezero|
 * gpt2, skip and mlp yes|no). -1 when the runs table has no such columns. */
typedef struct {
    char ln[16], scale[16], skip[8], mlp[8];
} rp_tf_keys_t;
int rp_tf_keys(rp_model_t *m, const rp_run_t *r, rp_tf_keys_t *k);

/* Per block at init (step 0): column of sublayer's rows, x = block
 * 1..L, y = the value (NULL as NaN). */
int rp_block_series(rp_model_t *m, const rp_run_t *r, const char *sublayer, const char *column,
                    rp_series_t *s);
/* The same for a rp_loader_t: column is "sublayer.column" ("block.rms"). */
int rp_block_loader(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s);
/* ||dL/dW2|| per block divided by block 1's (column is ignored): the
 * gradient profile's line. Empty when block 1 has no positive value. */
int rp_block_w2_profile(rp_model_t *m, const rp_run_t *r, const char *column, rp_series_t *s);

/* Attention entropy per head (head_stats), what the heads chart draws
 * and its finding tells: a row per (configuration, head) - the
 * configuration's first usable run in the experiment's order, at its last
 * measured step (0 for a probe, the last logged step of a training run) -
 * and a column per block; NaN past a configuration's depth. Empty (n_rows
 * 0) when no run has head_stats rows (an older database). */
#define RP_TF_MAX_HEAD_ROWS 64
typedef struct {
    size_t n_rows, n_cols;
    double *v;                                  /* n_rows x n_cols, row-major */
    const rp_run_t *run[RP_TF_MAX_HEAD_ROWS];   /* each row's run */
    long step[RP_TF_MAX_HEAD_ROWS], head[RP_TF_MAX_HEAD_ROWS];
    char label[RP_TF_MAX_HEAD_ROWS][96];        /* "<configuration> h<head>" */
} rp_tf_heads_t;
int rp_tf_heads(rp_model_t *m, const rp_exp_t *e, rp_tf_heads_t *t);
void rp_tf_heads_free(rp_tf_heads_t *t);

/* A value of a run at init, NaN when it has none:
 * rp_tf_w2_ratio: ||dL/dW2|| of block L over that of block 1;
 * rp_tf_output_change: runs.output_change (Admin's measure);
 * rp_tf_top: column of the 'block' row of block L. */
double rp_tf_w2_ratio(rp_model_t *m, const rp_run_t *r);
double rp_tf_output_change(rp_model_t *m, const rp_run_t *r);
double rp_tf_top(rp_model_t *m, const rp_run_t *r, const char *column);

/* A run value's medians per scheme and depth over the repeats, with the
 * 10-90% spread: what the charts against depth draw and the findings
 * tell. scheme[i], depth[i]: run i's scheme and depth index (-1: not a
 * transformer run or no value). */
#define RP_TF_MAX_SCHEMES 16
#define RP_TF_MAX_DEPTHS 16
typedef struct {
    size_t n_schemes, n_depths;
    char scheme_label[RP_TF_MAX_SCHEMES][256];
    long depth[RP_TF_MAX_DEPTHS];                      /* ascending */
    double med[RP_TF_MAX_SCHEMES][RP_TF_MAX_DEPTHS];  /* NaN: no run */
    double lo[RP_TF_MAX_SCHEMES][RP_TF_MAX_DEPTHS], hi[RP_TF_MAX_SCHEMES][RP_TF_MAX_DEPTHS];
    size_t n[RP_TF_MAX_SCHEMES][RP_TF_MAX_DEPTHS];
    int *scheme, *depth_of;                           /* per run of e */
} rp_tf_table_t;
typedef double (*rp_tf_get_t)(rp_model_t *m, const rp_run_t *r);
/* Fill t from e's transformer runs (get's finite values). -1 when memory
 * is short; t->n_schemes = 0 when no run has a value. */
int rp_tf_table(rp_model_t *m, const rp_exp_t *e, rp_tf_get_t get, rp_tf_table_t *t);
void rp_tf_table_free(rp_tf_table_t *t);
/* The scheme index of run r: its label without depth among the distinct
 * such labels of e's runs, in run order; -1 beyond RP_TF_MAX_SCHEMES. */
int rp_tf_scheme_of(const rp_exp_t *e, const rp_run_t *r);

#endif
