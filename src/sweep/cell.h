/* One cell of a sweep: a complete configuration of one measurement, with
 * every key of the vocabulary (README, "Vocabulary") filled in. The same key=value
 * words serve the command line and the INI files.
 *
 * The canonical key lists every key that shapes the result, in the fixed
 * order of the key table, with values written one way only
 * ("depth=10;width=100;...;activation=leaky_relu(0.01);..."): two spellings
 * of one configuration get one key. A cell's seed is derived from that key,
 * the base seed and the repeat number. */
#ifndef GS_SWEEP_CELL_H
#define GS_SWEEP_CELL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nn/activation.h"
#include "nn/format.h"
#include "nn/init.h"
#include "nn/norm.h"
#include "nn/optim.h"

typedef enum {
    GS_MODEL_MLP, GS_MODEL_RNN, GS_MODEL_LSTM, GS_MODEL_GRU, GS_MODEL_TRANSFORMER
} gs_model_kind_t;
typedef enum { GS_TASK_PROBE, GS_TASK_TRAIN } gs_task_t;
typedef enum {
    GS_DATA_GAUSSIAN, GS_DATA_DIGITS, GS_DATA_ADDING, GS_DATA_TOKENS,
    /* the token tasks of data/tokens.h, in gs_token_task_t's order */
    GS_DATA_COPY, GS_DATA_REVERSE, GS_DATA_RECALL, GS_DATA_CHARLM
} gs_data_kind_t;
/* dataset is one of the token tasks (copy, reverse, recall, charlm) */
#define GS_DATA_IS_TOKEN_TASK(d) ((d) >= GS_DATA_COPY && (d) <= GS_DATA_CHARLM)
/* and which (a gs_token_task_t) */
#define GS_DATA_TOKEN_TASK(d) ((int)(d) - (int)GS_DATA_COPY)

/* eval_rows' bound: the held-out subset a training run evaluates at every
 * logged step holds at most this many rows (issue 18). */
#define GS_EVAL_ROWS_MAX 2000

typedef struct {
    int model, task, dataset;
    long depth, width, seq_len, input_dim;   /* input_dim 0: width */
    double forget_bias;                       /* lstm */
    const gs_activation_t *act;
    double act_param;
    const gs_init_t *init;
    double init_param, gain, bias_std;
    int norm, residual;
    int spectrum;                             /* the Jacobian's singular values at init */
    int format_stats;                         /* what low-precision formats do (format_stats) */
    int precision;                            /* gs_precision_names: 0 float64, i the format i - 1 */
    int master_weights;                       /* gs_master_names: float32, same */
    double loss_scale;                        /* GS_LOSS_SCALE_NONE, _DYNAMIC or a number > 0 */
    int rounding;                             /* gs_rounding_t: of the weight update */
    const gs_optimizer_t *opt;
    double lr;
    long warmup;                              /* linear warm-up steps (0: none) */
    long batch, steps, log_every, repeats;
    long eval_rows;                           /* held-out rows evaluated at logged steps */
    double clip;                              /* 0: none */
    int clip_mode;
    double vanishing_below, exploding_above;
    uint64_t seed;                            /* base seed */
    long repeat;                              /* 0-based, set by the sweep */
    int seeding;                              /* gs_seeding_t: how the seeds are derived */
    int depth_given;                          /* depth was set, not defaulted */
    /* model=transformer (nn/transformer.h): width is d_model, depth the
     * blocks, seq_len T; ln a gs_ln_place_t, residual_scale a gs_res_scale_t */
    int ln, residual_scale, skip, mlp, causal;
    long heads, ffn, vocab;                   /* ffn 0: 4 width (settled to it) */
    double dropout;                           /* transformer: p in [0, 1), 0: none */
    int qk_norm;                              /* transformer: QK-LayerNorm (0 or 1) */
    int dataset_given;                        /* dataset was set (transformers default to tokens) */
} gs_cell_t;

/* How a cell's seeds are derived (sweeps.seeding). paired: the weights'
 * seed from the keys that shape the model, its data and its init, the
 * repeat and the base seed; the batches' seed from the dataset, the repeat
 * and the base seed - so arms that differ only in training keys start from
 * the same weights and see the same batches. per_cell: both from the whole
 * canonical key (databases written before paired seeding keep it). */
typedef enum { GS_SEEDING_PAIRED, GS_SEEDING_PER_CELL } gs_seeding_t;
extern const char *const gs_seeding_names[];   /* indexed by gs_seeding_t */
#define GS_N_SEEDING 2

/* The arithmetic of a cell (issue 20): precision=float64, or a format of
 * nn/format.h (gs_precision_names[i] is gs_fmt_names[i - 1]); where its
 * weights are kept (master_weights: float32 copies, or in the format
 * itself); the loss scale (none, a number, or dynamic: GradScaler's). */
extern const char *const gs_precision_names[];
extern const char *const gs_master_names[];
typedef enum { GS_MASTER_FLOAT32, GS_MASTER_SAME } gs_master_t;
#define GS_LOSS_SCALE_NONE 0.0
#define GS_LOSS_SCALE_DYNAMIC (-1.0)

extern const char *const gs_model_names[];
extern const char *const gs_task_names[];
extern const char *const gs_dataset_names[];

/* All defaults. */
void gs_cell_defaults(gs_cell_t *c);

/* Set one key from its text. On error returns -1 and writes a message
 * naming the key, the bad value and what is allowed. */
int gs_cell_set(gs_cell_t *c, const char *key, const char *value, char *err, size_t errlen);

/* Parse "key=value" words; same errors (the word is quoted). */
int gs_cell_set_word(gs_cell_t *c, const char *word, char *err, size_t errlen);

/* model is rnn, lstm or gru */
int gs_cell_is_recurrent(const gs_cell_t *c);

/* The FFN width of a transformer cell: ffn, or 4 width when ffn is 0. */
long gs_cell_ffn(const gs_cell_t *c);

/* Which keys gs_cell_settle put back, and by which rules (bit i: key i of
 * the key table; rule bits: see gs_cell_settle_describe). */
typedef struct {
    uint64_t keys;
    unsigned rules;
} gs_settled_t;

/* Put back to its default every key that has no effect on this cell -
 * training keys with task=probe, recurrent keys with model=mlp,
 * forget_bias with rnn, gru and transformer, transformer keys with other
 * models, clip_mode without clip - and return how
 * many it changed: a sweep drops a combination that this makes equal to
 * another one. What was reset is added to *note (NULL: not wanted). Also
 * gives a recurrent model whose depth was not set one layer (the mlp's
 * default is 10, PyTorch's num_layers 1), and a transformer whose
 * dataset was not set dataset=tokens. Every cell goes through it
 * before use. */
int gs_cell_settle(gs_cell_t *c, gs_settled_t *note);

/* "lr, optimizer (training keys: task=probe); clip_mode (without clip)"
 * of a settle note; empty when nothing was reset. */
void gs_cell_settle_describe(const gs_settled_t *note, char *buf, size_t len);

/* Checks between keys (e.g. exploding_above > vanishing_below). */
int gs_cell_validate(const gs_cell_t *c, char *err, size_t errlen);

/* Canonical key into buf; returns its length (buf may be too small: then
 * the text is cut, as snprintf does). */
size_t gs_cell_key(const gs_cell_t *c, char *buf, size_t len);

/* Value of one key as canonical text. */
void gs_cell_format(const gs_cell_t *c, const char *key, char *buf, size_t len);

/* 64-bit FNV-1a of the canonical key. */
uint64_t gs_cell_key_hash(const gs_cell_t *c);
/* The seed of the cell's weights (runs.seed): paired seeding mixes the
 * keys flagged GS_KEYF_INIT_SEED, the base seed and the repeat; per_cell
 * the whole key hash, the base seed and the repeat. */
uint64_t gs_cell_seed(const gs_cell_t *c);
/* The seed of the cell's batch order (runs.data_seed): paired seeding
 * mixes the dataset, the base seed and the repeat; per_cell it is
 * gs_cell_seed's (the two streams then differ by their stream number). */
uint64_t gs_cell_data_seed(const gs_cell_t *c);

/* The key table, for whoever stores or shows cells: a key's name, the
 * type of its value, whether it is part of the canonical key, what it
 * touches, and its help text. */
typedef enum { GS_KEYTYPE_TEXT, GS_KEYTYPE_INT, GS_KEYTYPE_REAL } gs_keytype_t;
typedef struct {
    const char *name;
    gs_keytype_t type;
    int in_key;
    int none_is_null;   /* "none" is stored as NULL (clip) */
    const char *help;
    int flags;          /* GS_KEYF_* */
} gs_key_info_t;

/* What a key touches, for whoever shows cells (the report). */
enum {
    GS_KEYF_SHAPES_INIT = 1,   /* the network, its data or its batch at init */
    GS_KEYF_TRAINING = 2,      /* matters only with task=train */
    GS_KEYF_RECURRENT = 4,     /* matters only for recurrent models */
    GS_KEYF_HEADLINE = 8,      /* named where an experiment's keys are summed up */
    GS_KEYF_INIT_SEED = 16,    /* part of the weights' seed (paired seeding) */
    GS_KEYF_TRANSFORMER = 32   /* matters only for model=transformer */
};

/* The GS_KEYF_* flags of the key of that name (0: none, or no such key). */
int gs_cell_key_flags(const char *name);

/* Fills *info for key i; 0 when i is past the last key. */
int gs_cell_key_info(size_t i, gs_key_info_t *info);

/* Print the key table for --help: name, values, default, meaning. The
 * key `fixed` (NULL: none) is shown as set to fixed_value by the command
 * (probe and train set task), not with the table's default. */
void gs_cell_print_keys(FILE *out, const char *fixed, const char *fixed_value);

#endif
