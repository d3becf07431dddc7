/* The claims table: one row per claim of the teaching deck
 * (shared/DECK-CLAIMS.md), its verdict from this sweep's rows, its key
 * numbers and the charts that show them. A claim is decided by its parts
 * (claim_parts.c), each a documented condition over stored rows:
 *
 *   not tested    no part has a case in this sweep
 *   confirmed     every part has cases, all of them for it
 *   contradicted  no case for any part, and cases against
 *   partly        anything else: some parts hold and others do not, or
 *                 are not tested here
 *
 * Where the data departs from the deck in a way the literature explains,
 * the row says so and names the reference (the notes below); each note is
 * a condition over stored rows too, with the runs that show it. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/claims.h"

const char *const rp_outcome_names[] = {
    [RP_PART_NONE] = "none", [RP_PART_YES] = "yes", [RP_PART_NO] = "no", [RP_PART_SOME] = "some",
};

typedef struct {
    const char *name;        /* its fact is claims.<number>.<name> */
    rp_part_fn fn;
    const char *untested;    /* what would test it, for a row where it is not tested */
} part_def_t;

typedef void (*note_fn)(rp_model_t *m, rp_findings_t *fs, rp_finding_t *row, rp_claim_t *c,
                        const rp_outcome_t *o);

typedef struct {
    int number, slide;
    const char *claim;
    part_def_t parts[RP_MAX_PARTS];
    note_fn note;
} claim_def_t;

static void note_glorot(rp_model_t *m, rp_findings_t *fs, rp_finding_t *row, rp_claim_t *c,
                        const rp_outcome_t *o);
static void note_edge(rp_model_t *m, rp_findings_t *fs, rp_finding_t *row, rp_claim_t *c,
                      const rp_outcome_t *o);
static void note_yang(rp_model_t *m, rp_findings_t *fs, rp_finding_t *row, rp_claim_t *c,
                      const rp_outcome_t *o);
static void note_depth2(rp_model_t *m, rp_findings_t *fs, rp_finding_t *row, rp_claim_t *c,
                        const rp_outcome_t *o);
static void note_reading(rp_model_t *m, rp_findings_t *fs, rp_finding_t *row, rp_claim_t *c,
                         const rp_outcome_t *o);

static const claim_def_t defs[] = {
    {1, 1, "Sigmoid and tanh squash their input; their derivatives are small away from 0 "
     "(sigmoid's at most 1/4).",
     {{"saturate", rp_part_saturate, "sigmoid or tanh probes"},
      {"quarter", rp_part_quarter, "the activation table"}}, NULL},
    {2, 2, "When gradients vanish, the early layers learn slowly, and long-range dependencies "
     "are not learned.",
     {{"early", rp_part_early_slow, "an SGD-trained net vanishing at init"},
      {"long-range", rp_part_rnn_fails, "an rnn trained on the adding problem"}}, note_glorot},
    {3, 3, "Sigmoid and tanh in deep networks make the gradient shrink multiplicatively toward "
     "the first layers.",
     {{"sigmoid", rp_part_sigmoid_deep, "sigmoid probes at depth >= 20"},
      {"tanh", rp_part_tanh_deep, "tanh probes at depth >= 20"}}, note_edge},
    {4, 4, "Exploding gradients grow multiplicatively, updates become huge, and training can "
     "diverge.",
     {{"grow", rp_part_grow, "an exploding probe"},
      {"diverge", rp_part_explode_diverges, "a net exploding at init, trained"}}, NULL},
    {5, 5, "Causes of exploding gradients: poor initialization, high learning rates, activations "
     "with large gradients, and in RNNs the accumulation over many time steps.",
     {{"init", rp_part_cause_init, "an init axis with an exploding arm"},
      {"lr", rp_part_cause_lr, "a learning-rate axis on a healthy trained net"},
      {"activation", rp_part_cause_activation, "an activation axis with an exploding arm"},
      {"rnn", rp_part_cause_rnn, "an rnn exploding through time"}}, NULL},
    {6, 6, "Vanishing gradients stall the loss; exploding gradients make it diverge or turn NaN.",
     {{"stall", rp_part_stall, "a trained net vanishing at init"},
      {"blowup", rp_part_blowup, "a trained net exploding at init"}}, NULL},
    {7, 7, "Xavier/Glorot and He initialization keep the variance of activations and gradients "
     "stable across layers.",
     {{"he-relu", rp_part_he_relu, "relu/he probes"},
      {"xavier-tanh", rp_part_xavier_tanh, "tanh/xavier probes"},
      {"other", rp_part_init_other, "xavier or he with other activations"}}, NULL},
    {8, 8, "ReLU and its variants (leaky ReLU, ELU) do not saturate for positive inputs and so "
     "ease vanishing.",
     {{"eases", rp_part_relu_eases, "an activation axis with sigmoid and ReLU"}}, NULL},
    {9, 9, "Gradient clipping (rescaling the gradient when its norm exceeds a threshold) prevents "
     "exploding gradients.",
     {{"clip", rp_part_clip, "a clip axis whose unclipped arm diverges"}}, NULL},
    {10, 10, "Batch normalization mitigates both vanishing and exploding gradients and allows "
     "higher learning rates and faster convergence.",
     {{"vanish", rp_part_bn_vanish, "a norm axis on a vanishing net"},
      {"explode", rp_part_bn_explode, "a norm axis on an exploding net"},
      {"lr", rp_part_bn_lr, "norm x lr, trained, the plain arm diverging"},
      {"faster", rp_part_bn_faster, "a norm axis, trained"}}, note_yang},
    {11, 11, "Residual connections give the gradient a direct path and ease vanishing in very "
     "deep networks.",
     {{"vanish", rp_part_res_vanish, "a residual axis on a vanishing net"},
      {"train", rp_part_res_train, "residual against plain nets, trained over >= 3 seeds"}}, NULL},
    {12, 12, "On image classification, proper init, ReLU and batch norm markedly improve a "
     "network that vanishing gradients hold back (digits, two hidden layers of 100).",
     {{"deck", rp_part_digits_deck, "ReLU against sigmoid on digits at depth 2, >= 3 seeds"},
      {"deeper", rp_part_digits_deeper, "deeper digits nets held back at init, >= 3 seeds"}},
     note_depth2},
    {13, 13, "Plain RNNs fail on long-range dependencies; LSTM and GRU cells, and clipping, help.",
     {{"rnn-fails", rp_part_rnn_fails, "an rnn trained on the adding problem"},
      {"gated-learn", rp_part_gated_learn, "LSTM/GRU against RNN on adding, >= 3 seeds"},
      {"clip", rp_part_clip_rnn, "a clip axis on a diverging recurrent net"},
      {"gated-init", rp_part_gated_init, "a model axis of recurrent cells"}}, NULL},
    {14, 14, "Practical tips: monitor per-layer gradient norms; Adam or RMSprop adapt the step; "
     "clip, especially in RNNs; use skip connections in very deep nets; consider layer norm "
     "instead of batch norm.",
     {{"adam", rp_part_adam, "Adam/RMSprop against SGD, >= 3 seeds"},
      {"clip-rnn", rp_part_clip_rnn, "a clip axis on a diverging recurrent net"},
      {"skip", rp_part_res_vanish, "a residual axis on a vanishing net"},
      {"layer-norm", rp_part_layer_norm, "batch against layer norm where batch is not healthy"}},
     note_glorot},
    {15, 15, "References: Pascanu et al. 2013 (RNN training), Glorot & Bengio 2010 (deep "
     "feedforward nets), He et al. 2015 (ResNet), Ioffe & Szegedy 2015 (batch norm).",
     {{"pascanu", rp_part_pascanu, "rnn probes"}}, note_reading},
    /* issue 21: the transformer literature, not slides of the deck (slide 0) */
    {16, 0, "Xiong et al. 2020: under Post-LN the gradient at initialization is largest near the "
     "output (hence warm-up); under Pre-LN it is not.",
     {{"xiong-post", rp_part_xiong_post, "Post-LN transformer probes"},
      {"xiong-pre", rp_part_xiong_pre, "Pre-LN transformer probes"}}, NULL},
    {17, 0, "Dong et al. 2021: pure attention loses rank doubly exponentially with depth; skip "
     "connections stop it.",
     {{"dong-collapse", rp_part_dong_collapse, "skip=no mlp=no transformers of depth >= 4"},
      {"dong-skip", rp_part_dong_skip, "skip=yes mlp=no ln=none transformers of depth >= 4"}}, NULL},
    {18, 0, "Noci et al. 2022: in Post-LN and Pre-LN transformers the tokens align with depth.",
     {{"noci-align", rp_part_noci, "Post-/Pre-LN transformer probes of depth >= 2"}}, NULL},
    {19, 0, "Wang et al. 2022 (DeepNet): DeepNorm bounds the model update - a far smaller output "
     "change than Post-LN's - and keeps the gradient flat across blocks.",
     {{"deepnet-bounded", rp_part_deepnet_bounded, "DeepNorm with Post-LN partners"},
      {"deepnet-flat", rp_part_deepnet_flat, "DeepNorm transformer probes"}}, NULL},
};
#define N_CLAIMS (sizeof defs / sizeof *defs)

static rp_outcome_t outcome(size_t yes, size_t no)
{
    return yes + no == 0 ? RP_PART_NONE : no == 0 ? RP_PART_YES : yes == 0 ? RP_PART_NO
                                                                       : RP_PART_SOME;
}

static const char *verdict_of(const rp_outcome_t *o, size_t n)
{
    size_t none = 0, yes = 0, no = 0;
    for (size_t i = 0; i < n; i++) {
        none += o[i] == RP_PART_NONE;
        yes += o[i] == RP_PART_YES;
        no += o[i] == RP_PART_NO;
    }
    if (none == n)
        return "not tested";
    if (yes == n)
        return "confirmed";
    if (yes == 0 && none + no == n)
        return "contradicted";
    return "partly";
}

/* The chart of a part, once, among the row's links. */
static void add_link(rp_claim_t *c, const rp_part_t *p)
{
    size_t k = 0;
    while (k < RP_MAX_PARTS && c->charts[k][0] && strcmp(c->charts[k], p->chart) != 0)
        k++;
    if (k == RP_MAX_PARTS || c->charts[k][0] || !p->chart[0])
        return;
    snprintf(c->charts[k], sizeof c->charts[k], "%s", p->chart);
    snprintf(c->sections[k], sizeof c->sections[k], "%s", p->section);
}

/* Decide one part: its fact, its words in the row, its chart. */
static rp_outcome_t run_part(rp_model_t *m, rp_findings_t *fs, rp_finding_t *row,
                             rp_claim_t *c, const part_def_t *d, char *untested, size_t ulen)
{
    char id[64];
    snprintf(id, sizeof id, "%d.%s", c->number, d->name);
    rp_part_t p = {.m = m, .fs = fs, .t = rp_fact_new(fs, row, RP_FACT_PART, id)};
    d->fn(&p);
    rp_outcome_t o = outcome(p.yes, p.no);
    if (p.t) {
        p.t->yes = p.yes;
        p.t->no = p.no;
        snprintf(p.t->verdict, sizeof p.t->verdict, "%s", rp_outcome_names[o]);
        snprintf(p.t->stat, sizeof p.t->stat, "%s", d->name);
    }
    if (o == RP_PART_NONE) {
        size_t l = strlen(untested);
        snprintf(untested + l, ulen - l, "%s%s", l ? "; " : "", d->untested);
        return o;
    }
    rp_say(row, "%s%s", row->text[0] ? "; " : "", p.said);
    add_link(c, &p);
    if (!row->chart[0])
        snprintf(row->chart, sizeof row->chart, "%s", p.chart);
    return o;
}

static int build_claim(rp_model_t *m, rp_claims_t *cl, const claim_def_t *d)
{
    rp_claim_t *c = &cl->items[cl->n++];
    memset(c, 0, sizeof *c);
    c->number = d->number;
    c->slide = d->slide;
    c->claim = d->claim;
    rp_finding_t *row = rp_finding_new(&cl->rows, NULL, NULL);
    if (!row)
        return -1;
    rp_outcome_t o[RP_MAX_PARTS];
    size_t n = 0;
    char untested[512] = "";
    for (; n < RP_MAX_PARTS && d->parts[n].fn; n++)
        o[n] = run_part(m, &cl->rows, row, c, &d->parts[n], untested, sizeof untested);
    if (untested[0])
        rp_say(row, "%snot tested here: %s", row->text[0] ? "; " : "", untested);
    rp_say(row, ".");
    snprintf(c->verdict, sizeof c->verdict, "%s", verdict_of(o, n));
    if (d->note)
        d->note(m, &cl->rows, row, c, o);
    char id[32];
    snprintf(id, sizeof id, "%d", c->number);
    rp_fact_t *t = rp_fact_new(&cl->rows, row, RP_FACT_CLAIM, id);
    if (t)
        snprintf(t->verdict, sizeof t->verdict, "%s", c->verdict);
    return 0;
}

int rp_claims_build(rp_model_t *m, rp_claims_t *cl)
{
    memset(cl, 0, sizeof *cl);
    cl->items = calloc(N_CLAIMS, sizeof *cl->items);
    if (!cl->items)
        return -1;
    for (size_t i = 0; i < N_CLAIMS; i++)
        if (build_claim(m, cl, &defs[i]) != 0)
            return -1;
    return cl->rows.oom ? -1 : 0;
}

void rp_claims_free(rp_claims_t *cl)
{
    free(cl->items);
    rp_findings_free(&cl->rows);
    memset(cl, 0, sizeof *cl);
}

/* ---- where the data departs from the deck ---- */

/* printf appended to the claim's note. */
#define note(c, ...) rp_appendf((c)->note, sizeof (c)->note, __VA_ARGS__)

static rp_fact_t *note_fact(rp_findings_t *fs, rp_finding_t *row, const rp_claim_t *c,
                            const char *name)
{
    char id[64];
    snprintf(id, sizeof id, "%d.note.%s", c->number, name);
    rp_fact_t *t = rp_fact_new(fs, row, RP_FACT_NOTE, id);
    if (t)
        snprintf(t->stat, sizeof t->stat, "%s", name);
    return t;
}

#define EACH_RUN(m, e, r)                                                          \
    for (size_t e##_i = 0; e##_i < (m)->n_exps; e##_i++)                           \
        for (const rp_exp_t *e = &(m)->exps[e##_i]; e; e = NULL)                   \
            for (size_t r##_i = 0; r##_i < e->n_runs; r##_i++)                     \
                for (const rp_run_t *r = &e->runs[r##_i]; r; r = NULL)

static int diag_is(const rp_run_t *r, gs_diag_t d)
{
    return rp_usable(r) && r->diagnosis == (int)d;
}

/* Weight-gradient norms stay flat while the backpropagated gradient
 * vanishes: mlp runs vanishing at init (grad_h_ratio) whose weight
 * gradients' ratio grad_ratio lies within 0.1 .. 10. */
static void note_glorot(rp_model_t *m, rp_findings_t *fs, rp_finding_t *row, rp_claim_t *c,
                        const rp_outcome_t *o)
{
    (void)o;
    const rp_run_t *ex = NULL;
    rp_fact_t *t = NULL;
    size_t n = 0;
    EACH_RUN(m, e, r) {
        if (!diag_is(r, GS_DIAG_VANISHING) || r->sc->cell.model != GS_MODEL_MLP ||
            !(r->grad_ratio >= 0.1 && r->grad_ratio <= 10))
            continue;
        if (!t && !(t = note_fact(fs, row, c, "weights-flat")))
            return;
        rp_fact_run(fs, t, r);
        n++;
        if (!ex || r->grad_h_ratio < ex->grad_h_ratio)
            ex = r;
    }
    if (!ex)
        return;
    t->value = ex->grad_h_ratio;
    t->value2 = ex->grad_ratio;
    char a[32], b[32];
    rp_sci(a, sizeof a, ex->grad_h_ratio);
    rp_sci(b, sizeof b, ex->grad_ratio);
    note(c, "Weight-gradient norms can stay flat while the backpropagated gradient vanishes "
         "(Glorot & Bengio 2010): in %zu networks vanishing at init the weight gradients' "
         "ratio ||dL/dW_1|| / ||dL/dW_depth|| stays within 0.1 .. 10 - e.g. %s: ||dL/dh|| "
         "ratio %s, weight-gradient ratio %s. ", n, ex->label, a, b);
}

/* The example of the edge of chaos: Xavier's init (the deck's) first,
 * then the deeper network. */
static int better_example(const rp_run_t *r, const rp_run_t *than)
{
    int xr = strncmp(r->sc->cell.init->name, "xavier", 6) == 0;
    int xt = strncmp(than->sc->cell.init->name, "xavier", 6) == 0;
    return xr != xt ? xr : r->sc->cell.depth > than->sc->cell.depth;
}

/* tanh at sigma_w^2 = 1, sigma_b = 0 sits on the edge of chaos: plain tanh
 * mlp probes at depth >= 20 with that variance that do not vanish. */
static void note_edge(rp_model_t *m, rp_findings_t *fs, rp_finding_t *row, rp_claim_t *c,
                      const rp_outcome_t *o)
{
    (void)o;
    const rp_run_t *deep = NULL;
    rp_fact_t *t = NULL;
    EACH_RUN(m, e, r) {
        const gs_cell_t *x = &r->sc->cell;
        if (!rp_usable(r) || x->model != GS_MODEL_MLP || x->task != GS_TASK_PROBE ||
            x->act->kind != GS_ACT_TANH || x->norm != GS_NORM_NONE || x->residual ||
            x->depth < 20 || fabs(r->sigma_w2 - 1) > 1e-9 || r->sigma_b2 != 0 ||
            diag_is(r, GS_DIAG_VANISHING))
            continue;
        if (!t && !(t = note_fact(fs, row, c, "edge-of-chaos")))
            return;
        rp_fact_run(fs, t, r);
        if (!deep || better_example(r, deep))
            deep = r;
    }
    if (!deep)
        return;
    t->value = deep->grad_h_ratio;
    t->value2 = deep->measured_slope;
    char g[32];
    rp_sci(g, sizeof g, deep->grad_h_ratio);
    note(c, "tanh with sigma_w^2 = 1, sigma_b = 0 (Xavier at equal fan-in and fan-out) sits on "
         "the edge of chaos and does not vanish exponentially (Poole et al. 2016; Schoenholz et "
         "al. 2017): %s is %s, grad_h_ratio %s", deep->label, rp_diag_name(deep->diagnosis), g);
    if (isfinite(deep->measured_slope))
        note(c, ", slope %+.3f per layer", deep->measured_slope);
    note(c, ". \"Sigmoid and tanh\" holds for sigmoid, not for tanh there. ");
}

/* Batch-normalized ReLU explodes at init: plain (no residual) ReLU mlp
 * runs with batch norm whose gradient grows toward the input, diagnosed
 * exploding or with a measured slope within RP_THEORY_TOL of Yang et
 * al.'s 1/2 ln(pi/(pi-1)) per layer; whether the sweep's threshold calls
 * the growth exploding depends on the depth. */
static void note_yang(rp_model_t *m, rp_findings_t *fs, rp_finding_t *row, rp_claim_t *c,
                      const rp_outcome_t *o)
{
    (void)o;
    double yang = 0.5 * log(M_PI / (M_PI - 1));
    const rp_run_t *ex = NULL;
    rp_fact_t *t = NULL;
    size_t n = 0;
    EACH_RUN(m, e, r) {
        const gs_cell_t *x = &r->sc->cell;
        if (!rp_usable(r) || x->model != GS_MODEL_MLP || x->norm != GS_NORM_BATCH || x->residual ||
            x->act->kind != GS_ACT_RELU ||
            !(diag_is(r, GS_DIAG_EXPLODING) || fabs(r->measured_slope - yang) <= RP_THEORY_TOL))
            continue;
        if (!t && !(t = note_fact(fs, row, c, "batch-norm-relu")))
            return;
        rp_fact_run(fs, t, r);
        n++;
        if (!ex || x->depth > ex->sc->cell.depth)
            ex = r;
    }
    if (!ex)
        return;
    t->value = ex->measured_slope;
    t->value2 = yang;
    char g[32], th[32];
    rp_sci(g, sizeof g, ex->grad_h_ratio);
    rp_sci(th, sizeof th, ex->sc->cell.exploding_above);
    note(c, "Batch-normalized ReLU networks explode at initialization (Yang et al. 2019, \"A "
         "mean field theory of batch normalization\"): here the gradient of %s grows toward the "
         "input by %+.3f per layer against 1/2 ln(pi/(pi-1)) = %.3f, x%s over %ld layers (%s by "
         "this sweep's threshold %s)", ex->label, ex->measured_slope, yang, g, ex->sc->cell.depth,
         rp_diag_name(ex->diagnosis), th);
    if (n > 1)
        note(c, "; %zu such networks", n);
    note(c, ". ");
}

/* At the deck's depth 2, sigmoid learns digits as well as ReLU: when the
 * deck's comparison (part 12.deck) is not confirmed, the median test
 * accuracies of sigmoid and ReLU without norm at depth <= 2 - "as well
 * as" when the comparison was made (>= RP_MIN_SEEDS seeds) and failed. */
static void note_depth2(rp_model_t *m, rp_findings_t *fs, rp_finding_t *row, rp_claim_t *c,
                        const rp_outcome_t *o)
{
    if (o[0] == RP_PART_YES)
        return;
    double sig[256], relu[256];
    size_t ns = 0, nr = 0;
    long seeds = 0;
    rp_fact_t *t = NULL;
    EACH_RUN(m, e, r) {
        const gs_cell_t *x = &r->sc->cell;
        int is_sig = x->act->kind == GS_ACT_SIGMOID;
        int is_relu = x->act->kind == GS_ACT_RELU;
        if (!rp_usable(r) || x->task != GS_TASK_TRAIN || x->dataset != GS_DATA_DIGITS ||
            x->model != GS_MODEL_MLP || x->depth > 2 || x->norm != GS_NORM_NONE ||
            !isfinite(r->test_acc) || !rp_varies(e, "activation") || !(is_sig || is_relu))
            continue;
        if (!t && !(t = note_fact(fs, row, c, "depth-2")))
            return;
        rp_fact_run(fs, t, r);
        if (is_sig && ns < 256)
            sig[ns++] = r->test_acc;
        if (is_relu && nr < 256)
            relu[nr++] = r->test_acc;
        seeds = x->repeats;
    }
    if (!ns || !nr)
        return;
    t->value = rp_median(sig, ns);
    t->value2 = rp_median(relu, nr);
    if (o[0] == RP_PART_NO)
        note(c, "At the deck's depth (two hidden layers) sigmoid learns digits as well as ReLU: "
             "median test accuracy %.1f%% against %.1f%% without norm, ReLU not better over %ld "
             "seeds. ", 100 * t->value, 100 * t->value2, seeds);
    else
        note(c, "At the deck's depth (two hidden layers) sigmoid reaches %.1f%% test accuracy on "
             "digits against ReLU's %.1f%% (median, without norm) on %ld seed%s: too few to tell "
             "the two apart. ", 100 * t->value, 100 * t->value2, seeds, seeds > 1 ? "s" : "");
}

/* The reference list is a reading list; the rows that test each. */
static void note_reading(rp_model_t *m, rp_findings_t *fs, rp_finding_t *row, rp_claim_t *c,
                         const rp_outcome_t *o)
{
    (void)m;
    (void)fs;
    (void)row;
    (void)o;
    note(c, "A reading list rather than a claim: rows 2 and 14 test Glorot & Bengio 2010, 11 "
         "He et al. 2015, 10 Ioffe & Szegedy 2015 (and Yang et al. 2019), 9 and 13 Pascanu et "
         "al. 2013; this row checks Pascanu et al.'s bound. ");
}
