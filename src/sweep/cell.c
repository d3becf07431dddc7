#include <config.h>

#include "sweep/cell.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "data/digits.h"
#include "data/tokens.h"
#include "theory/spectrum.h"
#include "nn/rng.h"
#include "nn/transformer.h"
#include "util/hash.h"

const char *const gs_model_names[] = {"mlp", "rnn", "lstm", "gru", "transformer", NULL};
const char *const gs_task_names[] = {"probe", "train", NULL};
const char *const gs_dataset_names[] = {"gaussian", "digits", "adding", "tokens", "copy",
                                        "reverse", "recall", "charlm", NULL};
const char *const gs_seeding_names[] = {"paired", "per_cell"};
_Static_assert(sizeof gs_seeding_names / sizeof *gs_seeding_names == GS_N_SEEDING, "seeding names");
static const char *const yes_no[] = {"no", "yes", NULL};
/* gs_fmt_names with float64 first (a config key's values must be one
 * constant list; tests/precision.c checks that they agree) */
const char *const gs_precision_names[] = {"float64", "float32", "bfloat16", "float16", "e5m2",
                                          "e4m3", NULL};
_Static_assert(sizeof gs_precision_names / sizeof *gs_precision_names == GS_N_FMT + 2,
               "precision: float64 and every format of nn/format.h");
const char *const gs_master_names[] = {"float32", "same", NULL};

typedef enum {
    K_CHOICE,     /* one of names[], stored as int */
    K_INT,        /* long in [lo, hi] */
    K_REAL,       /* finite double > lo (or >= lo when lo_incl) */
    K_ACT,        /* activation row with optional (a) */
    K_INIT,       /* init row with optional (p) */
    K_OPT,        /* optimizer row */
    K_CLIP,       /* none or a positive real */
    K_SEED,       /* unsigned 64-bit */
    K_SCALE,      /* none, dynamic or a positive real */
} kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    size_t off;               /* offsetof the value in gs_cell_t */
    const char *const *names; /* K_CHOICE */
    double lo, hi;            /* K_INT / K_REAL bounds */
    int lo_incl;
    int in_key;               /* part of the canonical key */
    const char *dflt;
    const char *help;
    int flags;                /* GS_KEYF_*: what the key touches */
} keydef_t;

/* Keys in the canonical key only when not at their default: added after
 * databases existed, so that the cells those hold keep their ids. */
static const char *const keys_if_set[] = {"spectrum", "eval_rows", "format_stats", "heads",
                                           "ffn", "vocab", "ln", "residual_scale", "skip", "mlp",
                                           "causal", "warmup", "precision", "master_weights",
                                           "loss_scale", "rounding", "dropout", "qk_norm",
                                           NULL};

static int key_if_set(const char *name)
{
    for (size_t i = 0; keys_if_set[i]; i++)
        if (strcmp(keys_if_set[i], name) == 0)
            return 1;
    return 0;
}

#define OFF(f) offsetof(gs_cell_t, f)
#define KF_INIT GS_KEYF_SHAPES_INIT
#define KF_TRAIN GS_KEYF_TRAINING
#define KF_RECURRENT GS_KEYF_RECURRENT
#define KF_SEED GS_KEYF_INIT_SEED
#define KF_HEADLINE GS_KEYF_HEADLINE
#define KF_TF (GS_KEYF_TRANSFORMER | GS_KEYF_SHAPES_INIT | GS_KEYF_INIT_SEED)
#define ACT_PARAM_MAX 100   /* an activation's parameter lies in [0, this] */
#define STR2(x) #x
#define STR(x) STR2(x)

/* Table order is canonical-key order; adding a key is one row. */
static const keydef_t keys[] = {
    {"model", K_CHOICE, OFF(model), gs_model_names, 0, 0, 0, 1, "mlp",
     "mlp: feed-forward; rnn, lstm, gru: recurrent, read seq_len steps; transformer: "
     "attention blocks over seq_len tokens (width = d_model, depth = blocks)",
     KF_INIT | KF_HEADLINE | KF_SEED},
    {"task", K_CHOICE, OFF(task), gs_task_names, 0, 0, 0, 1, "probe",
     "probe: one forward/backward at initialization; train: train for `steps` steps", KF_HEADLINE},
    {"dataset", K_CHOICE, OFF(dataset), gs_dataset_names, 0, 0, 0, 1, "gaussian",
     "gaussian: N(0,1) inputs, random labels over 10 classes; digits: 8x8 handwritten digits "
     "(recurrent models read them as 8 steps of 8 pixels); adding: the adding problem "
     "(recurrent models, MSE loss); tokens: random sequences of seq_len tokens with random "
     "targets at every position over vocab symbols (transformers; their default); copy, "
     "reverse, recall, charlm: token tasks for transformers (data/tokens.h) - the input "
     "shifted by one, reversed, associative recall of key-value pairs, and a character-level "
     "language model on the Jargon File (vocab >= 96)", KF_INIT | KF_HEADLINE | KF_SEED},
    {"depth", K_INT, OFF(depth), NULL, 1, 10000, 1, 1, "10",
     "hidden layers (recurrent models: stacked layers, default 1; transformer: blocks)", KF_INIT | KF_HEADLINE | KF_SEED},
    {"width", K_INT, OFF(width), NULL, 1, 1e7, 1, 1, "100", "hidden units per layer (transformer: d_model)", KF_INIT | KF_HEADLINE | KF_SEED},
    {"seq_len", K_INT, OFF(seq_len), NULL, 1, 100000, 1, 1, "50",
     "time steps of a recurrent model (digits: 8); tokens per sequence of a transformer", KF_INIT | KF_HEADLINE | KF_RECURRENT | KF_SEED},
    {"input_dim", K_INT, OFF(input_dim), NULL, 0, 1e7, 1, 1, "0",
     "inputs (per time step for recurrent models) of dataset=gaussian (0: the width)", KF_INIT | KF_SEED},
    {"activation", K_ACT, OFF(act), NULL, 0, 0, 0, 1, "tanh",
     "hidden activation; leaky_relu(a) and elu(a) take a parameter", KF_INIT | KF_HEADLINE | KF_SEED},
    {"init", K_INIT, OFF(init), NULL, 0, 0, 0, 1, "xavier",
     "weight init; normal(std) and uniform(a) take a parameter", KF_INIT | KF_HEADLINE | KF_SEED},
    {"forget_bias", K_REAL, OFF(forget_bias), NULL, -100, 100, 1, 1, "1",
     "lstm: initial bias of the forget gate", KF_INIT | KF_RECURRENT | KF_SEED},
    {"gain", K_REAL, OFF(gain), NULL, 0, 1e6, 0, 1, "1", "multiplies the init's scale", KF_INIT | KF_HEADLINE | KF_SEED},
    {"bias_std", K_REAL, OFF(bias_std), NULL, 0, 1e6, 1, 1, "0", "std of the bias init", KF_INIT | KF_SEED},
    {"norm", K_CHOICE, OFF(norm), gs_norm_names, 0, 0, 0, 1, "none",
     "normalization after each hidden linear layer", KF_INIT | KF_HEADLINE | KF_SEED},
    {"residual", K_CHOICE, OFF(residual), yes_no, 0, 0, 0, 1, "no",
     "yes: x_l = x_{l-1} + phi(N(W_l x_{l-1} + b_l)) for hidden layers 2..depth", KF_INIT | KF_HEADLINE | KF_SEED},
    {"heads", K_INT, OFF(heads), NULL, 1, 4096, 1, 1, "4",
     "transformer: attention heads (must divide width, the model width d_model)", KF_TF},
    {"ffn", K_INT, OFF(ffn), NULL, 0, 1e7, 1, 1, "0",
     "transformer: hidden units of each block's MLP (0: 4 width, stored as such)", KF_TF},
    {"vocab", K_INT, OFF(vocab), NULL, 2, 1e6, 1, 1, "64",
     "transformer: token symbols (inputs and targets of dataset=tokens)", KF_TF},
    {"ln", K_CHOICE, OFF(ln), gs_ln_place_names, 0, 0, 0, 1, "pre",
     "transformer: layer norm after each residual sum (post), on each sublayer's input "
     "with a final norm (pre), or none", KF_TF},
    {"residual_scale", K_CHOICE, OFF(residual_scale), gs_res_scale_names, 0, 0, 0, 1, "none",
     "transformer: deepnorm: x <- alpha x + F(x), alpha = (2 depth)^(1/4), beta = "
     "(8 depth)^(-1/4) on Wv, Wo and the MLP's init (use with ln=post); rezero: a residual "
     "scalar initialized at 0; gpt2: output projections initialized times 1/sqrt(2 depth)", KF_TF},
    {"skip", K_CHOICE, OFF(skip), yes_no, 0, 0, 0, 1, "yes",
     "transformer: no drops the residual connections (rank collapse)", KF_TF},
    {"mlp", K_CHOICE, OFF(mlp), yes_no, 0, 0, 0, 1, "yes",
     "transformer: no drops each block's MLP (pure attention)", KF_TF},
    {"causal", K_CHOICE, OFF(causal), yes_no, 0, 0, 0, 1, "no",
     "transformer: yes masks attention to later positions", KF_TF},
    {"dropout", K_REAL, OFF(dropout), NULL, 0, 1, 1, 1, "0",
     "transformer: dropout probability p in [0, 1) where nn.TransformerEncoderLayer has it "
     "(attention probabilities, each sublayer's output, the MLP's activation), inverted "
     "(kept x 1/(1-p)), in training forwards - the probe's and every training step's - not "
     "in held-out evaluation; masks from the cell's seed. 0: none",
     KF_INIT | KF_HEADLINE},
    {"qk_norm", K_CHOICE, OFF(qk_norm), yes_no, 0, 0, 0, 1, "no",
     "transformer: yes puts each head's queries and keys through a layer norm before Q K^T "
     "(a learned gain and shift of d_head values for Q and one for K; shared by the heads; "
     "width / heads >= 2); the same weights with and without it",
     KF_INIT | KF_HEADLINE},
    {"spectrum", K_CHOICE, OFF(spectrum), yes_no, 0, 0, 0, 1, "no",
     "yes (mlp, norm=none): the singular values of the input-output Jacobian "
     "dx_depth/dx_0 at init", 0},
    {"format_stats", K_CHOICE, OFF(format_stats), yes_no, 0, 0, 0, 1, "no",
     "yes: per layer and tensor (recurrent: over all time steps; transformer: per "
     "block, its residual stream, dL/dx and its six matrices), what float32, "
     "bfloat16, float16, e5m2 and e4m3 would flush to zero, leave subnormal or "
     "overflow, and the loss-scale window, at "
     "init and every logged step (tables format_stats, format_exponents; off by "
     "default: ~100 rows per layer and logged step)", 0},
    {"precision", K_CHOICE, OFF(precision), gs_precision_names, 0, 0, 0, 1, "float64",
     "the arithmetic of forward and backward (every model), emulated: every product's "
     "inputs rounded to the format and summed in float32 (as tensor cores do; a transformer's "
     "attention products too), every stored tensor rounded to it, with its subnormals, overflow "
     "and NaN; the run's statistics are its own (the float64 twin: mlp and recurrent models "
     "only)", KF_HEADLINE},
    {"loss_scale", K_SCALE, OFF(loss_scale), NULL, 0, 0, 0, 1, "none",
     "multiplies dL/dout before backward (precision other than float64), divided out of the "
     "gradient before the update: none, a number, or dynamic (GradScaler: start 2^16, x2 after "
     "2000 clean steps, x1/2 and the step skipped on inf/NaN)", 0},
    {"optimizer", K_OPT, OFF(opt), NULL, 0, 0, 0, 1, "sgd", "training optimizer",
     KF_TRAIN | KF_HEADLINE},
    {"lr", K_REAL, OFF(lr), NULL, 0, 1e6, 0, 1, "0.01", "learning rate", KF_TRAIN | KF_HEADLINE},
    {"warmup", K_INT, OFF(warmup), NULL, 0, 1e9, 1, 1, "0",
     "linear learning-rate warm-up over the first N steps: step t (from 1) applies "
     "lr*t/N while t < N, lr from step N on (every optimizer); 0: none", KF_TRAIN | KF_HEADLINE},
    {"batch", K_INT, OFF(batch), NULL, 1, 1e8, 1, 1, "64", "rows per step", KF_INIT | KF_HEADLINE},
    {"steps", K_INT, OFF(steps), NULL, 1, 1e9, 1, 1, "1000", "training steps",
     KF_TRAIN | KF_HEADLINE},
    {"log_every", K_INT, OFF(log_every), NULL, 1, 1e9, 1, 1, "10",
     "training log interval in steps", KF_TRAIN},
    {"eval_rows", K_INT, OFF(eval_rows), NULL, 0, GS_EVAL_ROWS_MAX, 1, 1, "128",
     "held-out rows (the test part's first, the same for every arm and step) whose loss and "
     "accuracy are measured at every logged step, at most " STR(GS_EVAL_ROWS_MAX) " (fewer "
     "when the test part is smaller); 0: none", KF_TRAIN},
    {"master_weights", K_CHOICE, OFF(master_weights), gs_master_names, 0, 0, 0, 1, "float32",
     "precision other than float64: where the weights are kept - float32 copies updated in "
     "float32 (AMP), or same: in the run's format, so an update below half an ulp is lost",
     KF_TRAIN},
    {"rounding", K_CHOICE, OFF(rounding), gs_rounding_names, 0, 0, 0, 1, "nearest",
     "precision other than float64: how the updated weights are rounded to their storage - "
     "nearest (even) or stochastic (unbiased, from the cell's seed)", KF_TRAIN},
    {"clip", K_CLIP, OFF(clip), NULL, 0, 0, 0, 1, "none",
     "gradient clipping threshold, or none", KF_TRAIN | KF_HEADLINE},
    {"clip_mode", K_CHOICE, OFF(clip_mode), gs_clip_mode_names, 0, 0, 0, 1, "norm",
     "norm: rescale to global L2 norm <= clip; value: clamp each entry to [-clip, clip]", KF_TRAIN},
    {"seed", K_SEED, OFF(seed), NULL, 0, 0, 0, 0, "42",
     "base seed; the weights' seed mixes it with the keys that shape the model, its data and "
     "its init, and the repeat; the batches' seed with the dataset and the repeat", 0},
    {"repeats", K_INT, OFF(repeats), NULL, 1, 1e6, 1, 0, "1",
     "cells per configuration, each with its own seed (sweeps)", 0},
    {"vanishing_below", K_REAL, OFF(vanishing_below), NULL, 0, 1e300, 0, 0, "1e-4",
     "diagnosis: vanishing when grad_h_ratio is below this", 0},
    {"exploding_above", K_REAL, OFF(exploding_above), NULL, 0, 1e300, 0, 0, "1e4",
     "diagnosis: exploding when grad_h_ratio is above this", 0},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static const keydef_t *find_key(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

/* "a, b, c" of a NULL-terminated list. */
static void list_names(char *buf, size_t len, const char *const *names)
{
    buf[0] = '\0';
    for (size_t i = 0; names[i]; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s%s", i ? ", " : "", names[i]);
    }
}

static void list_allowed(const keydef_t *k, char *buf, size_t len)
{
    size_t l = 0;
    buf[0] = '\0';
    switch (k->kind) {
    case K_CHOICE:
        list_names(buf, len, k->names);
        break;
    case K_ACT:
        for (size_t i = 0; i < gs_n_activations && l < len; i++) {
            l += (size_t)snprintf(buf + l, len - l, "%s%s%s", i ? ", " : "",
                                  gs_activations[i].name, gs_activations[i].has_param ? "(a)" : "");
        }
        break;
    case K_INIT:
        for (size_t i = 0; i < gs_n_inits && l < len; i++) {
            l += (size_t)snprintf(buf + l, len - l, "%s%s%s", i ? ", " : "", gs_inits[i].name,
                                  !gs_inits[i].has_param ? ""
                                  : gs_inits[i].dist == GS_DIST_NORMAL ? "(std)" : "(a)");
        }
        break;
    case K_OPT:
        for (size_t i = 0; i < gs_n_optimizers && l < len; i++)
            l += (size_t)snprintf(buf + l, len - l, "%s%s", i ? ", " : "", gs_optimizers[i].name);
        break;
    case K_INT:
        snprintf(buf, len, "an integer from %.0f to %.0f", k->lo, k->hi);
        break;
    case K_REAL:
        if (k->lo == 0 && !k->lo_incl)
            snprintf(buf, len, "a positive number up to %g", k->hi);
        else
            snprintf(buf, len, "a number from %g to %g", k->lo, k->hi);
        break;
    case K_CLIP:
        snprintf(buf, len, "none, or a positive number");
        break;
    case K_SEED:
        snprintf(buf, len, "an integer from 0 to 18446744073709551615");
        break;
    case K_SCALE:
        snprintf(buf, len, "none, dynamic, or a positive number");
        break;
    }
}

static int bad(char *err, size_t errlen, const keydef_t *k, const char *value, const char *why)
{
    char allowed[512];
    list_allowed(k, allowed, sizeof allowed);
    snprintf(err, errlen, "%s=%s: %s; allowed: %s", k->name, value, why, allowed);
    return -1;
}

static int parse_real(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* "name" or "name(p)": split into name and optional parameter. */
static int split_param(const char *value, char *name, size_t nlen, int *has_p, double *p)
{
    const char *open = strchr(value, '(');
    *has_p = 0;
    if (!open) {
        if (strlen(value) >= nlen)
            return -1;
        strcpy(name, value);
        return 0;
    }
    size_t n = (size_t)(open - value);
    size_t vl = strlen(value);
    if (n >= nlen || vl < n + 3 || value[vl - 1] != ')')
        return -1;
    memcpy(name, value, n);
    name[n] = '\0';
    char num[64];
    size_t pl = vl - n - 2;
    if (pl >= sizeof num)
        return -1;
    memcpy(num, open + 1, pl);
    num[pl] = '\0';
    if (parse_real(num, p) != 0)
        return -1;
    *has_p = 1;
    return 0;
}

static int set_value(gs_cell_t *c, const char *key, const char *value, char *err,
                     size_t errlen);

int gs_cell_set(gs_cell_t *c, const char *key, const char *value, char *err, size_t errlen)
{
    int rc = set_value(c, key, value, err, errlen);
    if (rc == 0 && strcmp(key, "depth") == 0)
        c->depth_given = 1;
    if (rc == 0 && strcmp(key, "dataset") == 0)
        c->dataset_given = 1;
    return rc;
}

/* A key's setters, one per kind: parse value, check it, store it into
 * its field of c (k->off). 0, or -1 with a message saying what is allowed. */
typedef int (*setter_t)(gs_cell_t *c, const keydef_t *k, const char *value, char *err,
                        size_t errlen);

static int set_choice(gs_cell_t *c, const keydef_t *k, const char *value, char *err,
                      size_t errlen)
{
    for (int i = 0; k->names[i]; i++)
        if (strcmp(k->names[i], value) == 0) {
            *(int *)((char *)c + k->off) = i;
            return 0;
        }
    return bad(err, errlen, k, value, "unknown value");
}

static int set_int(gs_cell_t *c, const keydef_t *k, const char *value, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (end == value || *end != '\0' || errno == ERANGE)
        return bad(err, errlen, k, value, "not an integer");
    if ((double)v < k->lo || (double)v > k->hi)
        return bad(err, errlen, k, value, "out of range");
    *(long *)((char *)c + k->off) = (long)v;
    return 0;
}

static int set_real(gs_cell_t *c, const keydef_t *k, const char *value, char *err, size_t errlen)
{
    double v;
    if (parse_real(value, &v) != 0)
        return bad(err, errlen, k, value, "not a finite number");
    if (k->lo_incl ? v < k->lo : v <= k->lo)
        return bad(err, errlen, k, value,
                   !k->lo_incl ? "must be positive"
                   : k->lo == 0 ? "must not be negative" : "too small");
    if (v > k->hi)
        return bad(err, errlen, k, value, "too large");
    *(double *)((char *)c + k->off) = v;
    return 0;
}

/* activation or init: a row of its table, with an optional parameter */
static int set_named(gs_cell_t *c, const keydef_t *k, const char *value, char *err,
                     size_t errlen)
{
    char name[64];
    int has_p;
    double p;
    if (split_param(value, name, sizeof name, &has_p, &p) != 0)
        return bad(err, errlen, k, value, "not of the form name or name(number)");
    if (k->kind == K_ACT) {
        const gs_activation_t *a = gs_activation_find(name);
        if (!a)
            return bad(err, errlen, k, value, "unknown activation");
        if (has_p && !a->has_param)
            return bad(err, errlen, k, value, "this activation takes no parameter");
        if (has_p && (p < 0 || p > ACT_PARAM_MAX))
            return bad(err, errlen, k, value, "the parameter must lie in [0, " STR(ACT_PARAM_MAX) "]");
        c->act = a;
        c->act_param = has_p ? p : a->default_param;
    } else {
        const gs_init_t *in = gs_init_find(name);
        if (!in)
            return bad(err, errlen, k, value, "unknown init");
        if (has_p && !in->has_param)
            return bad(err, errlen, k, value, "this init takes no parameter");
        if (has_p && !(p > 0 && p <= 1e6))
            return bad(err, errlen, k, value, "the parameter must be positive");
        c->init = in;
        c->init_param = has_p ? p : in->default_param;
    }
    return 0;
}

static int set_opt(gs_cell_t *c, const keydef_t *k, const char *value, char *err, size_t errlen)
{
    const gs_optimizer_t *o = gs_optimizer_find(value);
    if (!o)
        return bad(err, errlen, k, value, "unknown optimizer");
    c->opt = o;
    return 0;
}

static int set_clip(gs_cell_t *c, const keydef_t *k, const char *value, char *err, size_t errlen)
{
    double v;
    if (strcmp(value, "none") == 0) {
        c->clip = 0.0;
        return 0;
    }
    if (parse_real(value, &v) != 0 || !(v > 0))
        return bad(err, errlen, k, value, "not a positive number");
    c->clip = v;
    return 0;
}

static int set_seed(gs_cell_t *c, const keydef_t *k, const char *value, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    if (value[0] == '-')
        return bad(err, errlen, k, value, "negative");
    unsigned long long v = strtoull(value, &end, 10);
    if (end == value || *end != '\0' || errno == ERANGE)
        return bad(err, errlen, k, value, "not an integer");
    c->seed = v;
    return 0;
}

static int set_scale(gs_cell_t *c, const keydef_t *k, const char *value, char *err, size_t errlen)
{
    double v;
    if (strcmp(value, "none") == 0 || strcmp(value, "dynamic") == 0) {
        c->loss_scale = value[0] == 'n' ? GS_LOSS_SCALE_NONE : GS_LOSS_SCALE_DYNAMIC;
        return 0;
    }
    if (parse_real(value, &v) != 0 || !(v > 0))
        return bad(err, errlen, k, value, "not none, dynamic or a positive number");
    c->loss_scale = v;
    return 0;
}

static const setter_t setters[] = {
    [K_CHOICE] = set_choice, [K_INT] = set_int, [K_REAL] = set_real, [K_ACT] = set_named,
    [K_INIT] = set_named, [K_OPT] = set_opt, [K_CLIP] = set_clip, [K_SEED] = set_seed,
    [K_SCALE] = set_scale,
};

static int set_value(gs_cell_t *c, const char *key, const char *value, char *err,
                     size_t errlen)
{
    const keydef_t *k = find_key(key);
    if (!k) {
        char known[1024] = "";
        for (size_t i = 0; i < N_KEYS; i++) {
            size_t l = strlen(known);
            snprintf(known + l, sizeof known - l, "%s%s", i ? ", " : "", keys[i].name);
        }
        snprintf(err, errlen, "unknown key '%s'; known keys: %s", key, known);
        return -1;
    }
    assert((size_t)k->kind < sizeof setters / sizeof *setters && setters[k->kind]);
    return setters[k->kind](c, k, value, err, errlen);
}

void gs_cell_defaults(gs_cell_t *c)
{
    memset(c, 0, sizeof *c);
    char err[256];
    for (size_t i = 0; i < N_KEYS; i++)
        if (gs_cell_set(c, keys[i].name, keys[i].dflt, err, sizeof err) != 0)
            abort();   /* a bad default is a programming error */
    c->depth_given = 0;
    c->dataset_given = 0;
}

int gs_cell_set_word(gs_cell_t *c, const char *word, char *err, size_t errlen)
{
    const char *eq = strchr(word, '=');
    if (!eq || eq == word) {
        snprintf(err, errlen, "'%s' is not of the form key=value", word);
        return -1;
    }
    char key[64];
    size_t n = (size_t)(eq - word);
    if (n >= sizeof key) {
        snprintf(err, errlen, "unknown key in '%s'", word);
        return -1;
    }
    memcpy(key, word, n);
    key[n] = '\0';
    return gs_cell_set(c, key, eq + 1, err, errlen);
}

static int is_probe(const gs_cell_t *c) { return c->task == GS_TASK_PROBE; }
static int is_mlp(const gs_cell_t *c) { return c->model == GS_MODEL_MLP; }
static int no_forget_gate(const gs_cell_t *c)
{
    return c->model == GS_MODEL_RNN || c->model == GS_MODEL_GRU ||
           c->model == GS_MODEL_TRANSFORMER;
}
static int not_transformer(const gs_cell_t *c) { return c->model != GS_MODEL_TRANSFORMER; }
static int no_clip(const gs_cell_t *c) { return c->clip <= 0.0; }

/* Keys without effect on a cell: those with the flags, or the named key,
 * when the rule applies. */
static const struct {
    int (*applies)(const gs_cell_t *c);
    int flags;
    const char *key;
    const char *why;
} settle_rules[] = {
    {is_probe, KF_TRAIN, NULL, "training keys: task=probe"},
    {is_mlp, KF_RECURRENT, NULL, "recurrent keys: model=mlp"},
    {no_forget_gate, 0, "forget_bias", "lstm only: model=rnn, gru or transformer"},
    {not_transformer, GS_KEYF_TRANSFORMER, NULL, "transformer keys: model is not transformer"},
    {no_clip, 0, "clip_mode", "without clip"},
};
#define N_SETTLE_RULES (sizeof settle_rules / sizeof *settle_rules)

int gs_cell_settle(gs_cell_t *c, gs_settled_t *note)
{
    _Static_assert(N_KEYS <= 64, "a settle note has a bit per key");
    int reset = 0;
    char val[128], err[256];
    if (gs_cell_is_recurrent(c) && !c->depth_given)
        c->depth = 1;   /* a default, not a reset: no two combinations meet by it */
    if (c->model == GS_MODEL_TRANSFORMER && !c->dataset_given)
        c->dataset = GS_DATA_TOKENS;   /* the transformers' probe data, as gaussian is the mlp's */
    if (c->model == GS_MODEL_TRANSFORMER && c->ffn == 0)
        c->ffn = 4 * c->width;   /* the default FFN width, stored as what it is */
    for (size_t r = 0; r < N_SETTLE_RULES; r++) {
        if (!settle_rules[r].applies(c))
            continue;
        for (size_t i = 0; i < N_KEYS; i++) {
            const keydef_t *k = &keys[i];
            if (settle_rules[r].key ? strcmp(k->name, settle_rules[r].key) != 0
                                    : !(k->flags & settle_rules[r].flags))
                continue;
            gs_cell_format(c, k->name, val, sizeof val);
            if (strcmp(val, k->dflt) == 0)
                continue;
            if (gs_cell_set(c, k->name, k->dflt, err, sizeof err) != 0)
                abort();   /* a bad default is a programming error */
            reset++;
            if (note) {
                note->keys |= UINT64_C(1) << i;
                note->rules |= 1u << r;
            }
        }
    }
    return reset;
}

void gs_cell_settle_describe(const gs_settled_t *note, char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (size_t r = 0; r < N_SETTLE_RULES; r++) {
        if (!(note->rules & (1u << r)))
            continue;
        int first = 1;
        for (size_t i = 0; i < N_KEYS && used < len; i++) {
            int of_rule = settle_rules[r].key ? strcmp(keys[i].name, settle_rules[r].key) == 0
                                              : (keys[i].flags & settle_rules[r].flags) != 0;
            if (!of_rule || !(note->keys & (UINT64_C(1) << i)))
                continue;
            used += (size_t)snprintf(buf + used, len - used, "%s%s", first ? (used ? "; " : "") : ", ",
                                     keys[i].name);
            first = 0;
        }
        if (!first && used < len)
            used += (size_t)snprintf(buf + used, len - used, " (%s)", settle_rules[r].why);
    }
}

int gs_cell_is_recurrent(const gs_cell_t *c)
{
    return c->model == GS_MODEL_RNN || c->model == GS_MODEL_LSTM || c->model == GS_MODEL_GRU;
}

long gs_cell_ffn(const gs_cell_t *c)
{
    return c->ffn ? c->ffn : 4 * c->width;
}

/* The checks of a transformer cell (model=transformer): the keys of the
 * other models at their defaults, the shapes the engine takes and the
 * token tasks take. */
static int validate_transformer(const gs_cell_t *c, char *err, size_t errlen)
{
    if (c->dropout >= 1.0) {
        snprintf(err, errlen, "dropout=%g: must be below 1 (1 drops everything); allowed: a "
                 "number from 0 up to but not including 1, e.g. dropout=0.1", c->dropout);
        return -1;
    }
    if (c->dataset != GS_DATA_TOKENS && !GS_DATA_IS_TOKEN_TASK(c->dataset)) {
        snprintf(err, errlen, "dataset=%s: model=transformer reads token sequences; allowed: "
                 "dataset=tokens, copy, reverse, recall, charlm", gs_dataset_names[c->dataset]);
        return -1;
    }
    const char *task_bad = GS_DATA_IS_TOKEN_TASK(c->dataset)
                               ? gs_token_task_error((gs_token_task_t)GS_DATA_TOKEN_TASK(c->dataset),
                                                     (size_t)c->seq_len, (size_t)c->vocab)
                               : NULL;
    if (task_bad) {
        snprintf(err, errlen, "dataset=%s with seq_len=%ld, vocab=%ld: %s",
                 gs_dataset_names[c->dataset], c->seq_len, c->vocab, task_bad);
        return -1;
    }
    if (c->width % c->heads != 0) {
        snprintf(err, errlen, "heads=%ld: must divide width=%ld (d_model = heads x d_head); "
                 "e.g. heads=%ld", c->heads, c->width, c->width % 4 == 0 ? 4L : 1L);
        return -1;
    }
    if (c->qk_norm && c->width / c->heads < 2) {
        snprintf(err, errlen, "qk_norm=yes with width=%ld, heads=%ld: d_head = width / heads "
                 "must be at least 2 (the layer norm of one value is 0); allowed: qk_norm=no, "
                 "or fewer heads", c->width, c->heads);
        return -1;
    }
    if (c->norm != GS_NORM_NONE || c->residual) {
        snprintf(err, errlen, "%s: model=transformer places its norms with ln= and its "
                 "residuals with skip= and residual_scale=; leave norm=none and residual=no",
                 c->norm != GS_NORM_NONE ? "norm" : "residual");
        return -1;
    }
    if (c->spectrum) {
        snprintf(err, errlen, "spectrum=yes: not measured for model=transformer (model=mlp only)");
        return -1;
    }
    if (c->input_dim != 0) {
        snprintf(err, errlen, "input_dim=%ld: model=transformer reads seq_len token ids; "
                 "input_dim applies to dataset=gaussian only", c->input_dim);
        return -1;
    }
    return 0;
}

int gs_cell_validate(const gs_cell_t *c, char *err, size_t errlen)
{
    const char *model = gs_model_names[c->model];
    if (!(c->exploding_above > c->vanishing_below)) {
        snprintf(err, errlen, "exploding_above=%g must be larger than vanishing_below=%g",
                 c->exploding_above, c->vanishing_below);
        return -1;
    }
    if (c->spectrum && (gs_cell_is_recurrent(c) || c->norm != GS_NORM_NONE)) {
        snprintf(err, errlen, "spectrum=yes: needs model=mlp and norm=none (model=%s, norm=%s)",
                 model, gs_norm_names[c->norm]);
        return -1;
    }
    if (c->precision == 0 && (c->loss_scale != GS_LOSS_SCALE_NONE || c->rounding != GS_ROUND_NEAREST ||
                              c->master_weights != GS_MASTER_FLOAT32)) {
        snprintf(err, errlen, "loss_scale, master_weights and rounding apply to a reduced "
                 "precision; with precision=float64 allowed: loss_scale=none, "
                 "master_weights=float32, rounding=nearest (set precision=float32, bfloat16, "
                 "float16, e5m2 or e4m3)");
        return -1;
    }
    if (c->spectrum && !gs_spectrum_available()) {
        snprintf(err, errlen, "spectrum=yes: this gradsweep was built without LAPACK; install "
                 "liblapack-dev (or a BLAS with LAPACK, e.g. libopenblas-dev) and rebuild");
        return -1;
    }
    if (c->model == GS_MODEL_TRANSFORMER)
        return validate_transformer(c, err, errlen);
    if (c->dropout != 0.0) {
        snprintf(err, errlen, "dropout=%g: needs model=transformer (model=%s: dropout is "
                 "implemented in the transformer engine only); allowed: dropout=0", c->dropout,
                 model);
        return -1;
    }
    if (c->qk_norm) {
        snprintf(err, errlen, "qk_norm=yes: needs model=transformer (model=%s: QK-norm "
                 "normalizes attention's queries and keys); allowed: qk_norm=no", model);
        return -1;
    }
    if (c->dataset == GS_DATA_TOKENS || GS_DATA_IS_TOKEN_TASK(c->dataset)) {
        snprintf(err, errlen, "dataset=%s: needs model=transformer (model=%s)",
                 gs_dataset_names[c->dataset], model);
        return -1;
    }
    if (c->dataset == GS_DATA_ADDING && !gs_cell_is_recurrent(c)) {
        snprintf(err, errlen, "dataset=adding: needs a recurrent model; allowed with model=rnn, "
                 "lstm, gru (model=%s)", model);
        return -1;
    }
    if (gs_cell_is_recurrent(c)) {
        if (c->norm != GS_NORM_NONE) {
            snprintf(err, errlen, "norm=%s: recurrent models (model=%s) support norm=none only",
                     gs_norm_names[c->norm], model);
            return -1;
        }
        if (c->residual) {
            snprintf(err, errlen, "residual=yes: recurrent models (model=%s) support residual=no "
                     "only", model);
            return -1;
        }
        if (c->model != GS_MODEL_RNN && c->act->kind != GS_ACT_TANH) {
            snprintf(err, errlen, "activation=%s: model=%s uses its standard sigmoid gates and "
                     "tanh; allowed: tanh (the activation applies to mlp and rnn)",
                     c->act->name, model);
            return -1;
        }
        if (c->dataset == GS_DATA_DIGITS && c->seq_len != 8) {
            snprintf(err, errlen, "seq_len=%ld: dataset=digits is read as 8 rows of 8 pixels; "
                     "allowed: 8", c->seq_len);
            return -1;
        }
        if (c->dataset == GS_DATA_ADDING && c->seq_len < 2) {
            snprintf(err, errlen, "seq_len=%ld: the adding problem needs one marker in each half "
                     "of the sequence; allowed: 2 or more", c->seq_len);
            return -1;
        }
    }
    if (c->dataset == GS_DATA_ADDING && c->input_dim != 0) {
        snprintf(err, errlen, "input_dim=%ld: dataset=adding has 2 inputs per step (value, "
                 "marker); input_dim applies to dataset=gaussian only", c->input_dim);
        return -1;
    }
    if (c->dataset == GS_DATA_DIGITS && c->input_dim != 0) {
        snprintf(err, errlen, "input_dim=%ld: dataset=digits has %d inputs; input_dim applies "
                 "to dataset=gaussian only", c->input_dim, GS_DIGITS_DIM);
        return -1;
    }
    return 0;
}

/* Shortest text that reads back as the same double. */
static void fmt_real(char *buf, size_t len, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* "name" or "name(param)" of an activation or init row */
static void fmt_named(char *buf, size_t len, const char *name, int has_param, double param)
{
    char num[40];
    if (!has_param) {
        snprintf(buf, len, "%s", name);
        return;
    }
    fmt_real(num, sizeof num, param);
    snprintf(buf, len, "%s(%s)", name, num);
}

void gs_cell_format(const gs_cell_t *c, const char *key, char *buf, size_t len)
{
    const keydef_t *k = find_key(key);
    buf[0] = '\0';
    if (!k)
        return;
    const char *field = (const char *)c + k->off;
    switch (k->kind) {
    case K_CHOICE:
        snprintf(buf, len, "%s", k->names[*(const int *)field]);
        break;
    case K_INT:
        snprintf(buf, len, "%ld", *(const long *)field);
        break;
    case K_REAL:
        fmt_real(buf, len, *(const double *)field);
        break;
    case K_ACT:
        fmt_named(buf, len, c->act->name, c->act->has_param, c->act_param);
        break;
    case K_INIT:
        fmt_named(buf, len, c->init->name, c->init->has_param, c->init_param);
        break;
    case K_OPT:
        snprintf(buf, len, "%s", c->opt->name);
        break;
    case K_CLIP:
        if (c->clip > 0)
            fmt_real(buf, len, c->clip);
        else
            snprintf(buf, len, "none");
        break;
    case K_SEED:
        snprintf(buf, len, "%llu", (unsigned long long)c->seed);
        break;
    case K_SCALE:
        if (c->loss_scale > 0)
            fmt_real(buf, len, c->loss_scale);
        else
            snprintf(buf, len, c->loss_scale == GS_LOSS_SCALE_NONE ? "none" : "dynamic");
        break;
    }
}

size_t gs_cell_key(const gs_cell_t *c, char *buf, size_t len)
{
    size_t used = 0;
    char val[128];
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < N_KEYS; i++) {
        if (!keys[i].in_key)
            continue;
        gs_cell_format(c, keys[i].name, val, sizeof val);
        if (key_if_set(keys[i].name) && strcmp(val, keys[i].dflt) == 0)
            continue;
        int w = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0,
                         "%s%s=%s", used ? ";" : "", keys[i].name, val);
        used += (size_t)w;
    }
    return used;
}

uint64_t gs_cell_key_hash(const gs_cell_t *c)
{
    char key[2048];
    size_t n = gs_cell_key(c, key, sizeof key);
    if (n >= sizeof key)
        n = sizeof key - 1;
    return gs_fnv1a(GS_FNV_OFFSET, key, n);
}

/* The hash of "k=v;..." over the keys with these flags, every one
 * written (defaults too), in table order. */
static uint64_t flagged_hash(const gs_cell_t *c, int flags)
{
    uint64_t h = GS_FNV_OFFSET;
    char kv[200];
    for (size_t i = 0; i < N_KEYS; i++) {
        if (!(keys[i].flags & flags))
            continue;
        char val[128];
        gs_cell_format(c, keys[i].name, val, sizeof val);
        if (key_if_set(keys[i].name) && strcmp(val, keys[i].dflt) == 0)
            continue;   /* as in the canonical key: older cells keep their seeds */
        int n = snprintf(kv, sizeof kv, "%s=%s;", keys[i].name, val);
        h = gs_fnv1a(h, kv, (size_t)n < sizeof kv ? (size_t)n : sizeof kv - 1);
    }
    return h;
}

static uint64_t mix_seed(uint64_t key_hash, const gs_cell_t *c)
{
    return gs_mix64(key_hash ^ gs_mix64(c->seed ^ gs_mix64((uint64_t)c->repeat)));
}

uint64_t gs_cell_seed(const gs_cell_t *c)
{
    if (c->seeding == GS_SEEDING_PER_CELL)
        return mix_seed(gs_cell_key_hash(c), c);
    return mix_seed(flagged_hash(c, KF_SEED), c);
}

uint64_t gs_cell_data_seed(const gs_cell_t *c)
{
    if (c->seeding == GS_SEEDING_PER_CELL)
        return gs_cell_seed(c);
    char kv[64];
    int n = snprintf(kv, sizeof kv, "dataset=%s;", gs_dataset_names[c->dataset]);
    return mix_seed(gs_fnv1a(GS_FNV_OFFSET, kv, (size_t)n), c);
}

int gs_cell_key_info(size_t i, gs_key_info_t *info)
{
    if (i >= N_KEYS)
        return 0;
    const keydef_t *k = &keys[i];
    info->name = k->name;
    info->type = k->kind == K_INT || k->kind == K_SEED ? GS_KEYTYPE_INT
                 : k->kind == K_REAL || k->kind == K_CLIP ? GS_KEYTYPE_REAL
                 : GS_KEYTYPE_TEXT;
    info->in_key = k->in_key;
    info->none_is_null = k->kind == K_CLIP;
    info->help = k->help;
    info->flags = k->flags;
    return 1;
}

int gs_cell_key_flags(const char *name)
{
    const keydef_t *k = find_key(name);
    return k ? k->flags : 0;
}

void gs_cell_print_keys(FILE *out, const char *fixed, const char *fixed_value)
{
    char allowed[512];
    for (size_t i = 0; i < N_KEYS; i++) {
        if (fixed && strcmp(keys[i].name, fixed) == 0) {
            fprintf(out, "  %-16s %s\n  %-16s   set by this command: %s\n", keys[i].name,
                    keys[i].help, "", fixed_value);
            continue;
        }
        list_allowed(&keys[i], allowed, sizeof allowed);
        fprintf(out, "  %-16s %s\n  %-16s   values: %s; default: %s\n", keys[i].name,
                keys[i].help, "", allowed, keys[i].dflt);
    }
}
