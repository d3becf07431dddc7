/* The conditions the claims table is decided by: each part of a claim is
 * one condition over stored rows, counted in cases for and against it
 * (rp_part_t). Experiments are found by what they vary and what their
 * cells are (task, model, dataset), not by their names, so that an
 * experiment added to a sweep is picked up by every rule it fits. Pairs
 * are two runs of one experiment that differ only in one key, of the same
 * repeat (paired seeding gives them the same initial weights when the key
 * is a training key); configurations are compared over their seeds
 * (rp_separate). tests/findings.sh recomputes every part with its own SQL.
 *
 * Words: a probe is a usable run of task=probe; an mlp run is plain with
 * norm=none and residual=no; "vanishing" etc. are the stored diagnosis at
 * init (from grad_h_ratio against the sweep's thresholds). */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/activation.h"
#include "report/claims.h"
#include "store/query.h"

/* ---- runs ---- */

static const gs_cell_t *cell(const rp_run_t *r) { return &r->sc->cell; }
static int act_is(const rp_run_t *r, const char *name) { return strcmp(cell(r)->act->name, name) == 0; }
static int init_is(const rp_run_t *r, const char *name) { return strcmp(cell(r)->init->name, name) == 0; }
static int diag_is(const rp_run_t *r, gs_diag_t d) { return r->diagnosis == (int)d; }
static int is_mlp(const rp_run_t *r) { return cell(r)->model == GS_MODEL_MLP; }
static int is_probe(const rp_run_t *r) { return cell(r)->task == GS_TASK_PROBE; }
static int is_train(const rp_run_t *r) { return cell(r)->task == GS_TASK_TRAIN; }
static int is_plain(const rp_run_t *r) { return cell(r)->norm == GS_NORM_NONE && !cell(r)->residual; }
static int diverged(const rp_run_t *r)
{
    return r->status == GS_STATUS_DIVERGED;
}

/* ReLU and the variants the deck names (leaky ReLU, ELU). */
static int relu_family(const rp_run_t *r)
{
    return act_is(r, "relu") || act_is(r, "leaky_relu") || act_is(r, "elu");
}

/* The init each activation's scale was derived for: Glorot & Bengio's for
 * tanh (unit slope at 0), He et al.'s for ReLU. */
static int xavier_init(const rp_run_t *r) { return init_is(r, "xavier") || init_is(r, "xavier_uniform"); }
static int he_init(const rp_run_t *r) { return init_is(r, "he") || init_is(r, "he_uniform"); }

/* ---- counting cases ---- */

void rp_part_chart(rp_part_t *p, const rp_exp_t *e, const char *kind)
{
    if (!p->chart[0])
        snprintf(p->chart, sizeof p->chart, "%s-%s", e->ex->slug, kind);
    if (!p->section[0])
        snprintf(p->section, sizeof p->section, "exp-%s", e->ex->slug);
}

void rp_part_count(rp_part_t *p, const rp_run_t *r, int for_it)
{
    if (for_it)
        p->yes++;
    else
        p->no++;
    rp_fact_run(p->fs, p->t, r);
}

/* printf appended to what the part found. */
#define say(p, ...) rp_appendf((p)->said, sizeof (p)->said, __VA_ARGS__)

/* The key value of a part: v, once; kept as the fact's value. */
static void key_value(rp_part_t *p, double v)
{
    if (p->t)
        p->t->value = v;
}

static void key_value2(rp_part_t *p, double v)
{
    if (p->t)
        p->t->value2 = v;
}

/* The run of e that pairs with r on key: the same values but key's, the
 * same repeat, and accepted by want. NULL when none is usable. */
static const rp_run_t *pair_of(const rp_exp_t *e, const rp_run_t *r, const char *key,
                               int (*want)(const rp_run_t *))
{
    int a = rp_axis_of(e, key);
    for (size_t v = 0; a >= 0 && v < e->ex->axes[a].n_values; v++) {
        const rp_run_t *q = rp_partner(e, r, key, e->ex->axes[a].values[v]);
        if (q && q != r && rp_usable(q) && want(q))
            return q;
    }
    return NULL;
}

/* ---- slide 1 ---- */

/* Sigmoid and tanh saturate: some hidden layer of a sigmoid or tanh
 * network at init has more than half its units with |phi'| below 5% of
 * its maximum (layer_stats.saturated_frac > 0.5). Existential: a case
 * for is a run with such a layer; no case against. */
void rp_part_saturate(rp_part_t *p)
{
    double top = -1;
    const rp_run_t *arg = NULL;
    const rp_exp_t *ae = NULL;
    for (size_t e = 0; e < p->m->n_exps; e++)
        for (size_t i = 0; i < p->m->exps[e].n_runs; i++) {
            const rp_run_t *r = &p->m->exps[e].runs[i];
            if (!rp_usable(r) || !is_mlp(r) || !(act_is(r, "sigmoid") || act_is(r, "tanh")))
                continue;
            rp_series_t s;
            if (rp_layer_series(p->m, r, "saturated_frac", &s) != 0)
                continue;
            double mx = 0;
            for (size_t k = 0; k < s.n; k++)
                mx = fmax(mx, s.y[k]);
            rp_series_free(&s);
            if (mx > 0.5)
                rp_part_count(p, r, 1);
            if (mx > top)
                top = mx, arg = r, ae = &p->m->exps[e];
        }
    if (!arg)
        return;
    key_value(p, top);
    rp_part_chart(p, ae, "activations");
    say(p, "up to %.0f%% of a layer's units saturated at init (%s: %s)", 100 * top,
        ae->ex->name, arg->label);
}

/* Sigmoid's derivative is at most 1/4: the largest f' of the activation
 * table's sigmoid on a grid of step 1e-3 over [-10, 10] (what the
 * activation gallery draws). A case for when it is within 1e-12 of 1/4
 * or below. */
void rp_part_quarter(rp_part_t *p)
{
    const gs_activation_t *a = gs_activation_find("sigmoid");
    if (!a)
        return;
    double mx = 0;
    for (int k = -10000; k <= 10000; k++)
        mx = fmax(mx, a->df(k * 1e-3, a->default_param));
    if (mx <= 0.25 + 1e-12)
        p->yes++;
    else
        p->no++;
    key_value(p, mx);
    snprintf(p->chart, sizeof p->chart, "activations");
    snprintf(p->section, sizeof p->section, "activation-gallery");
    say(p, "sigmoid's f' peaks at %.4g", mx);
}

/* ---- slide 2 ---- */

/* The first logged step's update ratio of layer l. */
static double update_ratio_at_start(rp_model_t *m, const rp_run_t *r, int layer)
{
    rp_series_t s;
    if (rp_layer_log_series(m, r, layer, "update_ratio", &s) != 0)
        return NAN;
    double v = s.n ? s.y[0] : NAN;
    rp_series_free(&s);
    return v;
}

/* Early layers learn slowly: in every mlp trained with plain SGD or
 * momentum (adaptive optimizers rescale each weight's step, so a small
 * gradient need not mean a small step) whose gradient vanishes at init,
 * the first hidden layer's update ratio ||dW_1|| / ||W_1|| at the first
 * logged step is below the last hidden layer's. */
void rp_part_early_slow(rp_part_t *p)
{
    double worst = NAN;
    for (size_t e = 0; e < p->m->n_exps; e++)
        for (size_t i = 0; i < p->m->exps[e].n_runs; i++) {
            const rp_run_t *r = &p->m->exps[e].runs[i];
            const char *opt = cell(r)->opt->name;
            if (!rp_usable(r) || !is_mlp(r) || !is_train(r) || !diag_is(r, GS_DIAG_VANISHING) ||
                (strcmp(opt, "sgd") != 0 && strcmp(opt, "momentum") != 0))
                continue;
            double first = update_ratio_at_start(p->m, r, 1);
            double last = update_ratio_at_start(p->m, r, (int)cell(r)->depth);
            if (!isfinite(first) || !isfinite(last) || last <= 0)
                continue;
            rp_part_count(p, r, first < last);
            worst = isnan(worst) ? first / last : fmax(worst, first / last);
            rp_part_chart(p, &p->m->exps[e], "update-ratio");
        }
    if (isnan(worst))
        return;
    char g[32];
    rp_sci(g, sizeof g, worst);
    key_value(p, worst);
    say(p, "layer 1's first update over the last layer's: at most %s in %zu SGD runs vanishing "
        "at init", g, p->yes + p->no);
}

/* A plain RNN does not learn the adding problem: in every rnn run of
 * dataset=adding the test MSE is not below half the baseline of always
 * answering 1 (a diverged run did not learn either). */
void rp_part_rnn_fails(rp_part_t *p)
{
    double v[1024];
    size_t n = 0;
    for (size_t e = 0; e < p->m->n_exps; e++)
        for (size_t i = 0; i < p->m->exps[e].n_runs; i++) {
            const rp_run_t *r = &p->m->exps[e].runs[i];
            if (!rp_usable(r) || cell(r)->model != GS_MODEL_RNN ||
                cell(r)->dataset != GS_DATA_ADDING || !is_train(r))
                continue;
            int learned = !diverged(r) && r->test_loss < 0.5 * r->baseline_loss;
            rp_part_count(p, r, !learned);
            if (!diverged(r) && n < 1024)
                v[n++] = r->test_loss / r->baseline_loss;
            rp_part_chart(p, &p->m->exps[e], "loss");
        }
    if (p->yes + p->no == 0)
        return;
    double med = rp_median(v, n);
    key_value(p, med);
    say(p, "the rnn's test MSE is %.2f of the baseline's (median of %zu)", med, n);
}

/* ---- slide 3 ---- */

/* One activation in deep networks: every plain mlp probe of that
 * activation at depth >= 20, in experiments varying depth, vanishes. */
static void vanish_deep(rp_part_t *p, const char *act)
{
    double hi = -INFINITY;
    const rp_run_t *arg = NULL;
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        if (!rp_varies(x, "depth"))
            continue;
        for (size_t i = 0; i < x->n_runs; i++) {
            const rp_run_t *r = &x->runs[i];
            if (!rp_usable(r) || !is_mlp(r) || !is_probe(r) || !is_plain(r) ||
                !act_is(r, act) || cell(r)->depth < 20)
                continue;
            rp_part_count(p, r, diag_is(r, GS_DIAG_VANISHING));
            rp_part_chart(p, x, "gradient-flow");
            if (!arg || r->grad_h_ratio > hi)
                hi = r->grad_h_ratio, arg = r;
        }
    }
    if (!arg)
        return;
    char g[32];
    rp_sci(g, sizeof g, hi);
    key_value(p, hi);
    say(p, "%s: %zu of %zu networks of depth >= 20 vanish (largest grad_h_ratio %s, %s)", act,
        p->yes, p->yes + p->no, g, arg->label);
}

void rp_part_sigmoid_deep(rp_part_t *p) { vanish_deep(p, "sigmoid"); }
void rp_part_tanh_deep(rp_part_t *p) { vanish_deep(p, "tanh"); }

/* ---- slide 4 ---- */

/* A theory column of a run (NaN: none): a fixed column name of ours. */
static double theory_value(rp_model_t *m, const rp_run_t *r, const char *column)
{
    static const char *const names[] = {"v"};
    char sql[128], err[256];
    snprintf(sql, sizeof sql, "SELECT %s AS v FROM theory WHERE run_id = ?1", column);
    gs_query_t q;
    if (gs_query_prepare(&q, m->db, m->db_path, sql, names, 1, err, sizeof err) != 0)
        return NAN;
    sqlite3_bind_int64(q.stmt, 1, r->id);
    double v = gs_query_step(&q, err, sizeof err) == 1 ? gs_query_real(&q, 0) : NAN;
    gs_query_finish(&q);
    return v;
}

/* Exploding gradients grow multiplicatively: every exploding mlp probe's
 * ln ||dL/dh_l|| is a line in l (the theory row's fit over the deeper half
 * of the layers: R^2 >= 0.9 with a positive slope toward the input). */
void rp_part_grow(rp_part_t *p)
{
    double lo = INFINITY;
    for (size_t e = 0; e < p->m->n_exps; e++)
        for (size_t i = 0; i < p->m->exps[e].n_runs; i++) {
            const rp_run_t *r = &p->m->exps[e].runs[i];
            if (!rp_usable(r) || !is_mlp(r) || !is_probe(r) || !diag_is(r, GS_DIAG_EXPLODING))
                continue;
            double r2 = theory_value(p->m, r, "fit_r2");
            rp_part_count(p, r, r2 >= 0.9 && r->measured_slope > 0);
            lo = fmin(lo, r2);
            rp_part_chart(p, &p->m->exps[e], "gradient-flow");
        }
    if (p->yes + p->no == 0)
        return;
    key_value(p, lo);
    say(p, "%zu of %zu exploding networks grow by a constant factor per layer (fit R^2 >= 0.9; "
        "lowest %.3f)", p->yes, p->yes + p->no, lo);
}

/* Training can diverge: a case for is a trained run exploding at init
 * that diverged, a case against one that did not. */
void rp_part_explode_diverges(rp_part_t *p)
{
    long first = 0;
    for (size_t e = 0; e < p->m->n_exps; e++)
        for (size_t i = 0; i < p->m->exps[e].n_runs; i++) {
            const rp_run_t *r = &p->m->exps[e].runs[i];
            if (!rp_usable(r) || !is_train(r) || !diag_is(r, GS_DIAG_EXPLODING))
                continue;
            rp_part_count(p, r, diverged(r));
            if (diverged(r) && (!first || r->diverged_step < first))
                first = r->diverged_step;
            if (diverged(r))   /* the loss chart of the first divergence found */
                rp_part_chart(p, &p->m->exps[e], "loss");
        }
    if (p->yes + p->no == 0)
        return;
    for (size_t e = 0; !p->chart[0] && e < p->m->n_exps; e++)
        rp_part_chart(p, &p->m->exps[e], "loss");
    key_value(p, first ? (double)first : NAN);
    say(p, "%zu of %zu trained networks exploding at init diverged", p->yes, p->yes + p->no);
    if (first)
        say(p, " (first at step %ld)", first);
}

/* ---- slide 5 ---- */

/* A cause shown by a pair differing only in key: one arm healthy, the
 * other exploding (existential: cases for only). */
static void cause_pair(rp_part_t *p, const char *key, int (*arm)(const rp_run_t *),
                       int (*other)(const rp_run_t *), const char *what)
{
    const rp_run_t *ex = NULL, *ok = NULL;
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        for (size_t i = 0; rp_varies(x, key) && i < x->n_runs; i++) {
            const rp_run_t *r = &x->runs[i];
            if (!rp_usable(r) || !arm(r))
                continue;
            const rp_run_t *q = pair_of(x, r, key, other);
            if (!q)
                continue;
            rp_part_count(p, r, 1);
            rp_fact_run(p->fs, p->t, q);
            if (!ex || r->grad_h_ratio > ex->grad_h_ratio || diverged(r))
                ex = r, ok = q;
            rp_part_chart(p, x, is_train(r) ? "loss" : "gradient-flow");
        }
    }
    if (!ex)
        return;
    char g[32];
    rp_sci(g, sizeof g, ex->grad_h_ratio);
    key_value(p, ex->grad_h_ratio);
    say(p, "%s: %s ", what, ex->label);
    if (diverged(ex))
        say(p, "diverged at step %ld where %s did not", ex->diverged_step, ok->label);
    else
        say(p, "explodes (%s) where %s is healthy", g, ok->label);
}

static int exploding(const rp_run_t *r) { return diag_is(r, GS_DIAG_EXPLODING); }
static int healthy(const rp_run_t *r) { return diag_is(r, GS_DIAG_HEALTHY); }
static int lr_diverged(const rp_run_t *r) { return diverged(r) && healthy(r); }
static int lr_trained(const rp_run_t *r) { return !diverged(r); }

void rp_part_cause_init(rp_part_t *p) { cause_pair(p, "init", exploding, healthy, "init"); }
void rp_part_cause_activation(rp_part_t *p)
{
    cause_pair(p, "activation", exploding, healthy, "activation");
}

/* A high learning rate: a run healthy at init that diverged where its
 * pair at a lower learning rate did not. */
void rp_part_cause_lr(rp_part_t *p)
{
    const rp_run_t *ex = NULL, *ok = NULL;
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        int a = rp_axis_of(x, "lr");
        for (size_t i = 0; a >= 0 && i < x->n_runs; i++) {
            const rp_run_t *r = &x->runs[i];
            if (!rp_usable(r) || !is_train(r) || !lr_diverged(r))
                continue;
            for (size_t v = 0; v < x->ex->axes[a].n_values; v++) {
                const rp_run_t *q = rp_partner(x, r, "lr", x->ex->axes[a].values[v]);
                if (!q || !rp_usable(q) || !lr_trained(q) || cell(q)->lr >= cell(r)->lr)
                    continue;
                rp_part_count(p, r, 1);
                rp_fact_run(p->fs, p->t, q);
                if (!ex || cell(r)->lr < cell(ex)->lr)
                    ex = r, ok = q;
                rp_part_chart(p, x, "loss");
                break;
            }
        }
    }
    if (!ex)
        return;
    key_value(p, cell(ex)->lr);
    say(p, "learning rate: %s (healthy at init) diverged at step %ld where %s trained",
        ex->label, ex->diverged_step, ok->label);
}

/* Recurrent accumulation: a plain rnn whose gradient through time
 * explodes (grad_h_ratio = ||dL/dh_1|| / ||dL/dh_T|| past the threshold)
 * at init or at the last logged step of training. */
static int exploding_final(const rp_run_t *r)
{
    return r->diagnosis_final == GS_DIAG_EXPLODING;
}

void rp_part_cause_rnn(rp_part_t *p)
{
    const rp_run_t *ex = NULL;
    for (size_t e = 0; e < p->m->n_exps; e++)
        for (size_t i = 0; i < p->m->exps[e].n_runs; i++) {
            const rp_run_t *r = &p->m->exps[e].runs[i];
            if (!rp_usable(r) || cell(r)->model != GS_MODEL_RNN ||
                !(exploding(r) || exploding_final(r)))
                continue;
            rp_part_count(p, r, 1);
            if (!ex)
                ex = r;
            rp_part_chart(p, &p->m->exps[e], exploding(r) ? "time" : "time-train");
        }
    if (!ex)
        return;
    char g[32];
    int init = exploding(ex);
    rp_sci(g, sizeof g, init ? ex->grad_h_ratio : ex->grad_h_ratio_final);
    key_value(p, init ? ex->grad_h_ratio : ex->grad_h_ratio_final);
    say(p, "time steps: the gradient of rnn %s grows through %ld steps %s (%s)", ex->label,
        cell(ex)->seq_len, init ? "at init" : "by the end of training", g);
}

/* ---- slide 6 ---- */

/* First and last logged loss of a run (the loss chart's line). */
static int loss_ends(rp_model_t *m, const rp_run_t *r, double *first, double *last)
{
    rp_series_t s;
    if (rp_log_series(m, r, "loss", &s) != 0)
        return -1;
    int rc = s.n >= 2 ? 0 : -1;
    if (rc == 0)
        *first = s.y[0], *last = s.y[s.n - 1];
    rp_series_free(&s);
    return rc;
}

/* Vanishing stalls the loss: every trained mlp vanishing at init (not
 * diverged) ends with a logged loss at least 0.9 of its first. */
void rp_part_stall(rp_part_t *p)
{
    for (size_t e = 0; e < p->m->n_exps; e++)
        for (size_t i = 0; i < p->m->exps[e].n_runs; i++) {
            const rp_run_t *r = &p->m->exps[e].runs[i];
            double a, b;
            if (!rp_usable(r) || !is_train(r) || !is_mlp(r) || diverged(r) ||
                !diag_is(r, GS_DIAG_VANISHING) || loss_ends(p->m, r, &a, &b) != 0)
                continue;
            rp_part_count(p, r, b >= 0.9 * a);
            rp_part_chart(p, &p->m->exps[e], "loss");
        }
    if (p->yes + p->no)
        say(p, "%zu of %zu trained networks vanishing at init stalled (last logged loss >= 0.9 "
            "of the first)", p->yes, p->yes + p->no);
}

/* Exploding makes the loss diverge: every trained network exploding at
 * init diverged or ended with a logged loss above its first. */
void rp_part_blowup(rp_part_t *p)
{
    for (size_t e = 0; e < p->m->n_exps; e++)
        for (size_t i = 0; i < p->m->exps[e].n_runs; i++) {
            const rp_run_t *r = &p->m->exps[e].runs[i];
            double a = NAN, b = NAN;
            if (!rp_usable(r) || !is_train(r) || !exploding(r))
                continue;
            if (!diverged(r) && loss_ends(p->m, r, &a, &b) != 0)
                continue;
            rp_part_count(p, r, diverged(r) || b > a);
            rp_part_chart(p, &p->m->exps[e], "loss");
        }
    if (p->yes + p->no)
        say(p, "%zu of %zu trained networks exploding at init diverged or ended above their "
            "first loss", p->yes, p->yes + p->no);
}

/* ---- slide 7 ---- */

/* Every plain mlp probe of init family `init` with gain 1 and an
 * activation accepted by act is healthy. */
static void init_keeps(rp_part_t *p, int (*init)(const rp_run_t *), int (*act)(const rp_run_t *),
                       const char *what)
{
    const rp_run_t *worst = NULL;
    for (size_t e = 0; e < p->m->n_exps; e++)
        for (size_t i = 0; i < p->m->exps[e].n_runs; i++) {
            const rp_run_t *r = &p->m->exps[e].runs[i];
            if (!rp_usable(r) || !is_mlp(r) || !is_probe(r) || !is_plain(r) || !init(r) ||
                !act(r) || cell(r)->gain != 1)
                continue;
            rp_part_count(p, r, healthy(r));
            rp_part_chart(p, &p->m->exps[e], "gradient-flow");
            double d = fabs(log(r->grad_h_ratio));
            if (!healthy(r) && (!worst || isnan(d) || d > fabs(log(worst->grad_h_ratio))))
                worst = r;
        }
    if (p->yes + p->no == 0)
        return;
    say(p, "%s: %zu of %zu healthy", what, p->yes, p->yes + p->no);
    if (!worst)
        return;
    char g[32];
    rp_sci(g, sizeof g, worst->grad_h_ratio);
    key_value(p, worst->grad_h_ratio);
    say(p, " (furthest off: %s, %s", worst->label, rp_diag_name(worst->diagnosis));
    if (isfinite(worst->grad_h_ratio))
        say(p, " %s", g);
    say(p, ")");
}

static int is_relu(const rp_run_t *r) { return act_is(r, "relu"); }
static int is_tanh(const rp_run_t *r) { return act_is(r, "tanh"); }
static int any_init(const rp_run_t *r) { return xavier_init(r) || he_init(r); }
static int not_derived_for(const rp_run_t *r)
{
    return (xavier_init(r) && !act_is(r, "tanh")) || (he_init(r) && !relu_family(r));
}

void rp_part_he_relu(rp_part_t *p) { init_keeps(p, he_init, is_relu, "He with ReLU"); }
void rp_part_xavier_tanh(rp_part_t *p) { init_keeps(p, xavier_init, is_tanh, "Xavier with tanh"); }
void rp_part_init_other(rp_part_t *p)
{
    init_keeps(p, any_init, not_derived_for, "Xavier or He with another activation");
}

/* ---- slide 8 ---- */

/* ReLU and its variants ease vanishing: in experiments varying the
 * activation, every ReLU-family run paired with a vanishing sigmoid run
 * has a larger grad_h_ratio. */
void rp_part_relu_eases(rp_part_t *p)
{
    size_t healthy_n = 0;
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        int a = rp_axis_of(x, "activation");
        for (size_t i = 0; a >= 0 && i < x->n_runs; i++) {
            const rp_run_t *r = &x->runs[i];
            if (!rp_usable(r) || !relu_family(r))
                continue;
            const rp_run_t *s = rp_partner(x, r, "activation", "sigmoid");
            if (!s || !rp_usable(s) || !diag_is(s, GS_DIAG_VANISHING))
                continue;
            rp_part_count(p, r, r->grad_h_ratio > s->grad_h_ratio);
            healthy_n += healthy(r);
            rp_part_chart(p, x, "gradient-flow");
        }
    }
    if (p->yes + p->no == 0)
        return;
    key_value(p, (double)healthy_n);
    say(p, "beside a vanishing sigmoid net, %zu of %zu ReLU/leaky ReLU/ELU nets keep a larger "
        "gradient ratio; %zu of them are healthy", p->yes, p->yes + p->no, healthy_n);
}

/* ---- slides 9, 13 and 14: clipping ---- */

static int unclipped(const rp_run_t *r) { return cell(r)->clip <= 0; }

/* Clipping prevents divergence: for every diverged unclipped training run
 * (of an experiment varying clip; recurrent only when asked), each clipped
 * pair of it does not diverge. */
static void clip_prevents(rp_part_t *p, int recurrent)
{
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        int a = rp_axis_of(x, "clip");
        for (size_t i = 0; a >= 0 && i < x->n_runs; i++) {
            const rp_run_t *r = &x->runs[i];
            if (!rp_usable(r) || !is_train(r) || !unclipped(r) || !diverged(r) ||
                (recurrent && is_mlp(r)))
                continue;
            for (size_t j = 0; j < x->n_runs; j++) {
                const rp_run_t *q = &x->runs[j];
                if (!rp_usable(q) || unclipped(q) || rp_partner(x, q, "clip", "none") != r)
                    continue;
                rp_part_count(p, q, !diverged(q));
                rp_part_chart(p, x, "clipping");
            }
        }
    }
    if (p->yes + p->no)
        say(p, "%s%zu of %zu clipped runs trained where the same net unclipped diverged",
            recurrent ? "recurrent: " : "", p->yes, p->yes + p->no);
}

void rp_part_clip(rp_part_t *p) { clip_prevents(p, 0); }
void rp_part_clip_rnn(rp_part_t *p) { clip_prevents(p, 1); }

/* ---- slide 10 ---- */

static int norm_batch(const rp_run_t *r) { return cell(r)->norm == GS_NORM_BATCH; }
static int norm_layer(const rp_run_t *r) { return cell(r)->norm == GS_NORM_LAYER; }
static int vanishing(const rp_run_t *r) { return diag_is(r, GS_DIAG_VANISHING); }

/* Over pairs (r without norm, its batch-norm pair) where bad(r): a case
 * for when the pair is not bad. */
static void norm_fixes(rp_part_t *p, int (*bad)(const rp_run_t *), const char *what)
{
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        for (size_t i = 0; rp_varies(x, "norm") && i < x->n_runs; i++) {
            const rp_run_t *r = &x->runs[i];
            if (!rp_usable(r) || !is_mlp(r) || cell(r)->norm != GS_NORM_NONE || !bad(r))
                continue;
            const rp_run_t *q = pair_of(x, r, "norm", norm_batch);
            if (!q)
                continue;
            rp_part_count(p, q, !bad(q));
            rp_fact_run(p->fs, p->t, r);
            rp_part_chart(p, x, "gradient-flow");
        }
    }
    if (p->yes + p->no)
        say(p, "%s without norm: %zu of %zu batch-norm pairs are not", what, p->yes,
            p->yes + p->no);
}

void rp_part_bn_vanish(rp_part_t *p) { norm_fixes(p, vanishing, "vanishing"); }
void rp_part_bn_explode(rp_part_t *p) { norm_fixes(p, exploding, "exploding"); }

/* A higher learning rate: where a run without norm diverged, its
 * batch-norm pair (same lr) did not (experiments varying norm and lr). */
void rp_part_bn_lr(rp_part_t *p)
{
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        if (!rp_varies(x, "norm") || !rp_varies(x, "lr"))
            continue;
        for (size_t i = 0; i < x->n_runs; i++) {
            const rp_run_t *r = &x->runs[i];
            if (!rp_usable(r) || !is_train(r) || cell(r)->norm != GS_NORM_NONE || !diverged(r))
                continue;
            const rp_run_t *q = pair_of(x, r, "norm", norm_batch);
            if (!q)
                continue;
            rp_part_count(p, q, !diverged(q));
            rp_fact_run(p->fs, p->t, r);
            rp_part_chart(p, x, "loss");
        }
    }
    if (p->yes + p->no)
        say(p, "at learning rates where the net without norm diverged, %zu of %zu batch-norm "
            "pairs trained", p->yes, p->yes + p->no);
}

/* The first logged step whose loss is at most half the first logged
 * loss (INFINITY: never). */
static double half_step(rp_model_t *m, const rp_run_t *r)
{
    rp_series_t s;
    if (rp_log_series(m, r, "loss", &s) != 0)
        return NAN;
    double step = s.n ? INFINITY : NAN;
    for (size_t k = 1; k < s.n && isinf(step); k++)
        if (s.y[k] <= 0.5 * s.y[0])
            step = s.x[k];
    rp_series_free(&s);
    return step;
}

/* Faster convergence: every batch-norm training run (not diverged) halves
 * its first logged loss at an earlier logged step than its pair without
 * norm (not diverged). */
void rp_part_bn_faster(rp_part_t *p)
{
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        for (size_t i = 0; rp_varies(x, "norm") && i < x->n_runs; i++) {
            const rp_run_t *r = &x->runs[i];
            if (!rp_usable(r) || !is_train(r) || !norm_batch(r) || diverged(r))
                continue;
            const rp_run_t *q = rp_partner(x, r, "norm", "none");
            if (!q || !rp_usable(q) || diverged(q))
                continue;
            double a = half_step(p->m, r), b = half_step(p->m, q);
            if (isnan(a) || isnan(b))
                continue;
            rp_part_count(p, r, a < b);
            rp_fact_run(p->fs, p->t, q);
            rp_part_chart(p, x, "loss");
        }
    }
    if (p->yes + p->no)
        say(p, "batch norm halved the loss sooner in %zu of %zu pairs", p->yes, p->yes + p->no);
}

/* ---- slide 11 ---- */

static int res_yes(const rp_run_t *r) { return cell(r)->residual; }

/* Residual connections ease vanishing: every residual pair of a vanishing
 * plain network (experiments varying residual) is not vanishing. */
void rp_part_res_vanish(rp_part_t *p)
{
    const rp_run_t *big = NULL;
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        for (size_t i = 0; rp_varies(x, "residual") && i < x->n_runs; i++) {
            const rp_run_t *r = &x->runs[i];
            if (!rp_usable(r) || cell(r)->residual || !vanishing(r))
                continue;
            const rp_run_t *q = pair_of(x, r, "residual", res_yes);
            if (!q)
                continue;
            rp_part_count(p, q, !vanishing(q));
            rp_fact_run(p->fs, p->t, r);
            rp_part_chart(p, x, "gradient-flow");
            if (exploding(q) && (!big || q->grad_h_ratio > big->grad_h_ratio))
                big = q;
        }
    }
    if (p->yes + p->no == 0)
        return;
    say(p, "%zu of %zu residual pairs of vanishing plain nets do not vanish", p->yes,
        p->yes + p->no);
    if (big) {
        char g[32];
        rp_sci(g, sizeof g, big->grad_h_ratio);
        key_value(p, big->grad_h_ratio);
        say(p, "; %s explodes instead (%s)", big->label, g);
    }
}

/* ---- configuration comparisons over seeds ---- */

/* The configuration of cs holding run r. */
static const rp_config_t *config_of(const rp_config_t *cs, size_t nc, const rp_run_t *r)
{
    for (size_t i = 0; i < nc; i++)
        if (r >= rp_config_run(&cs[i], 0) && r < rp_config_run(&cs[i], 0) + cs[i].n)
            return &cs[i];
    return NULL;
}

/* Every configuration accepted by arm (of a training experiment accepted
 * by exp) against its pair on key accepted by other: a case for when arm's
 * repeats separate better, against when they do not (tied or worse);
 * pairs on fewer than RP_MIN_SEEDS seeds or with a diverged run are not
 * compared. */
static void compare_configs(rp_part_t *p, const char *key, int (*exp)(const rp_run_t *),
                            int (*arm)(const rp_run_t *), int (*other)(const rp_run_t *),
                            const char *what)
{
    size_t few = 0;
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        rp_config_t *cs = NULL;
        size_t nc = rp_varies(x, key) ? rp_configs(x, &cs) : 0;
        for (size_t i = 0; i < nc; i++) {
            const rp_run_t *r0 = rp_config_run(&cs[i], 0);
            const rp_run_t *q0 = rp_usable(r0) && is_train(r0) && exp(r0) && arm(r0)
                                     ? pair_of(x, r0, key, other) : NULL;
            const rp_config_t *b = q0 ? config_of(cs, nc, q0) : NULL;
            long step;
            if (!b || rp_config_diverged(&cs[i], &step) || rp_config_diverged(b, &step))
                continue;
            const rp_score_t *s = cell(r0)->dataset == GS_DATA_ADDING ? &rp_score_loss
                                                                      : &rp_score_acc;
            size_t n;
            const char *how;
            rp_sep_t sep = rp_separate(&cs[i], b, s, &n, &how);
            rp_part_chart(p, x, s == &rp_score_acc ? "accuracy" : "loss");
            if (sep == RP_SEP_FEW) {
                few++;
                continue;
            }
            rp_part_count(p, r0, sep == RP_SEP_BETTER);
            rp_fact_run(p->fs, p->t, q0);
        }
        free(cs);
    }
    if (p->yes + p->no)
        say(p, "%s: better over the seeds in %zu of %zu comparisons", what, p->yes,
            p->yes + p->no);
    if (few)
        say(p, "%s%zu comparison%s of %s on fewer than %d seeds not made", p->yes + p->no ? "; " : "",
            few, few > 1 ? "s" : "", what, RP_MIN_SEEDS);
    key_value2(p, (double)few);
}

static int any_run(const rp_run_t *r) { (void)r; return 1; }
static int res_no(const rp_run_t *r) { return !cell(r)->residual; }

/* Residual nets trained: residual configurations against plain ones. */
void rp_part_res_train(rp_part_t *p)
{
    compare_configs(p, "residual", any_run, res_yes, res_no, "residual against plain, trained");
}

static int digits_shallow(const rp_run_t *r)
{
    return cell(r)->dataset == GS_DATA_DIGITS && is_mlp(r) && cell(r)->depth <= 2;
}
static int is_sigmoid(const rp_run_t *r) { return act_is(r, "sigmoid"); }

/* The deck's setting (digits, two hidden layers): ReLU configurations
 * against their sigmoid pairs. */
void rp_part_digits_deck(rp_part_t *p)
{
    compare_configs(p, "activation", digits_shallow, is_relu, is_sigmoid,
                    "ReLU against sigmoid on digits at depth <= 2");
}

/* A configuration held back at init: every repeat stored and usable,
 * vanishing or dead. */
static int config_held(const rp_config_t *c)
{
    for (size_t j = 0; j < c->n; j++) {
        const rp_run_t *r = rp_config_run(c, j);
        if (!rp_usable(r) || !(vanishing(r) || diag_is(r, GS_DIAG_DEAD)))
            return 0;
    }
    return 1;
}

/* The best configuration of x healthy at init (its first repeat), not
 * held back and without a diverged run, by median test accuracy, among
 * deeper (depth > 2) digits mlps trained. */
static const rp_config_t *best_healthy(const rp_config_t *cs, size_t nc)
{
    const rp_config_t *best = NULL;
    double best_med = -INFINITY;
    for (size_t i = 0; i < nc; i++) {
        const rp_run_t *r0 = rp_config_run(&cs[i], 0);
        double v[cs[i].n + 1];
        long step;
        size_t k = rp_config_values(&cs[i], &rp_score_acc, v);
        if (!rp_usable(r0) || !is_train(r0) || cell(r0)->dataset != GS_DATA_DIGITS ||
            !is_mlp(r0) || cell(r0)->depth <= 2 || config_held(&cs[i]) || !healthy(r0) || !k ||
            rp_config_diverged(&cs[i], &step))
            continue;
        double med = rp_median(v, k);
        if (med > best_med)
            best_med = med, best = &cs[i];
    }
    return best;
}

/* Deeper digits nets: every configuration held back at init against the
 * best configuration healthy at init of its experiment. */
void rp_part_digits_deeper(rp_part_t *p)
{
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        rp_config_t *cs = NULL;
        size_t nc = rp_configs(x, &cs);
        const rp_config_t *best = best_healthy(cs, nc);
        for (size_t i = 0; best && i < nc; i++) {
            long step;
            if (!config_held(&cs[i]) || rp_config_diverged(&cs[i], &step))
                continue;
            size_t n;
            const char *how;
            rp_sep_t sep = rp_separate(best, &cs[i], &rp_score_acc, &n, &how);
            rp_part_chart(p, x, "accuracy");
            if (sep == RP_SEP_FEW)
                continue;
            rp_part_count(p, rp_config_run(&cs[i], 0), sep == RP_SEP_BETTER);
            rp_fact_run(p->fs, p->t, rp_config_run(best, 0));
        }
        free(cs);
    }
    if (p->yes + p->no)
        say(p, "deeper digits nets held back at init (vanishing or dead): the best healthy "
            "configuration beats %zu of %zu over the seeds", p->yes, p->yes + p->no);
}

/* ---- slide 13 ---- */

static int is_adding(const rp_run_t *r) { return cell(r)->dataset == GS_DATA_ADDING; }
static int gated(const rp_run_t *r)
{
    return cell(r)->model == GS_MODEL_LSTM || cell(r)->model == GS_MODEL_GRU;
}
static int plain_rnn(const rp_run_t *r) { return cell(r)->model == GS_MODEL_RNN; }

void rp_part_gated_learn(rp_part_t *p)
{
    compare_configs(p, "model", is_adding, gated, plain_rnn, "LSTM/GRU against RNN (test MSE)");
}

/* At init, the gradient through time of every gated cell reaches t = 1 at
 * least as strongly as its plain-rnn pair's (grad_h_ratio). */
void rp_part_gated_init(rp_part_t *p)
{
    const rp_run_t *worst = NULL, *wr = NULL;
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        for (size_t i = 0; rp_varies(x, "model") && i < x->n_runs; i++) {
            const rp_run_t *r = &x->runs[i];
            if (!rp_usable(r) || !gated(r))
                continue;
            const rp_run_t *q = pair_of(x, r, "model", plain_rnn);
            if (!q || !isfinite(r->grad_h_ratio) || !isfinite(q->grad_h_ratio))
                continue;
            rp_part_count(p, r, r->grad_h_ratio >= q->grad_h_ratio);
            rp_fact_run(p->fs, p->t, q);
            rp_part_chart(p, x, is_probe(r) ? "time" : "time-train");
            if (r->grad_h_ratio < q->grad_h_ratio &&
                (!worst || r->grad_h_ratio / q->grad_h_ratio <
                               worst->grad_h_ratio / wr->grad_h_ratio))
                worst = r, wr = q;
        }
    }
    if (p->yes + p->no == 0)
        return;
    say(p, "at init, %zu of %zu LSTM/GRU cells carry the gradient to t = 1 at least as well "
        "as the rnn", p->yes, p->yes + p->no);
    if (worst) {
        char a[32], b[32];
        rp_sci(a, sizeof a, worst->grad_h_ratio);
        rp_sci(b, sizeof b, wr->grad_h_ratio);
        key_value(p, worst->grad_h_ratio / wr->grad_h_ratio);
        say(p, " (%s: %s against the rnn's %s)", worst->label, a, b);
    }
}

/* ---- slide 14 ---- */

static int adaptive(const rp_run_t *r)
{
    return strcmp(cell(r)->opt->name, "adam") == 0 || strcmp(cell(r)->opt->name, "rmsprop") == 0;
}
static int sgd(const rp_run_t *r) { return strcmp(cell(r)->opt->name, "sgd") == 0; }

void rp_part_adam(rp_part_t *p)
{
    compare_configs(p, "optimizer", any_run, adaptive, sgd, "Adam/RMSprop against SGD");
}

/* Layer norm instead of batch norm: wherever a batch-norm run is not
 * healthy at init, its layer-norm pair is. */
void rp_part_layer_norm(rp_part_t *p)
{
    for (size_t e = 0; e < p->m->n_exps; e++) {
        const rp_exp_t *x = &p->m->exps[e];
        for (size_t i = 0; rp_varies(x, "norm") && i < x->n_runs; i++) {
            const rp_run_t *r = &x->runs[i];
            if (!rp_usable(r) || !norm_batch(r) || healthy(r))
                continue;
            const rp_run_t *q = pair_of(x, r, "norm", norm_layer);
            if (!q)
                continue;
            rp_part_count(p, q, healthy(q));
            rp_fact_run(p->fs, p->t, r);
            rp_part_chart(p, x, "gradient-flow");
        }
    }
    if (p->yes + p->no)
        say(p, "where batch norm is not healthy at init, %zu of %zu layer-norm pairs are",
            p->yes, p->yes + p->no);
}

/* ---- slide 15 ---- */

/* Pascanu et al.'s bound: every plain-rnn run's measured change of
 * ln ||dL/dh_t|| per step toward t = 1 is at most ln(lambda_1 gamma)
 * (within RP_THEORY_TOL). */
void rp_part_pascanu(rp_part_t *p)
{
    for (size_t e = 0; e < p->m->n_exps; e++)
        for (size_t i = 0; i < p->m->exps[e].n_runs; i++) {
            const rp_run_t *r = &p->m->exps[e].runs[i];
            if (!rp_usable(r) || !isfinite(r->step_bound) || !isfinite(r->measured_slope))
                continue;
            rp_part_count(p, r, r->measured_slope <= r->step_bound + RP_THEORY_TOL);
            rp_part_chart(p, &p->m->exps[e], "time");
        }
    if (p->yes + p->no)
        say(p, "Pascanu et al.'s per-step bound ln(lambda_1 gamma) holds in %zu of %zu rnn runs",
            p->yes, p->yes + p->no);
}
