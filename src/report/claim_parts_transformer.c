/* The conditions of the transformer claims (issue 21) of the claims
 * table, over transformer runs (block_stats rows at init) and their keys
 * as the runs row stores them (rp_tf_keys). Like claim_parts.c, every
 * experiment that fits a rule is counted, and tests/tfreport.sh
 * recomputes each part with its own SQL.
 *
 *   xiong-post   Post-LN (ln=post, residual_scale=none, skip=yes): the
 *                last block's ||dL/dW2|| above the first's (ratio > 1)
 *   xiong-pre    Pre-LN (ln=pre, residual_scale=none, skip=yes): below
 *   dong-collapse  pure attention (skip=no, mlp=no) at depth >= 4: the
 *                top block's relative residual below GS_COLLAPSED_BELOW
 *   dong-skip    attention with skips but no MLP and no norm (skip=yes,
 *                mlp=no, ln=none) at depth >= 4: not below it
 *   noci-align   ln=post or pre, residual_scale=none, skip=yes: the top
 *                block's token cosine above block 1's
 *   deepnet-bounded  DeepNorm (ln=post, residual_scale=deepnorm) against its
 *                Post-LN partner (in any experiment, the same cell but
 *                residual_scale=none, the same repeat): an output change
 *                at least DEEPNET_FACTOR times smaller
 *   deepnet-flat DeepNorm: the last/first ||dL/dW2|| ratio within
 *                DEEPNET_FLAT of 1 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/claims.h"
#include "report/transformer.h"

#define DONG_DEPTH 4         /* Dong et al.'s collapse shows by block 4 (issue 21) */
#define DEEPNET_FACTOR 10    /* issue 21's accepted-when: >= 10x smaller than Post-LN's */
#define DEEPNET_FLAT 0.1     /* issue 21's accepted-when: within 0.1 of 1 */

/* A part's rule: the runs it looks at (want), the value of each (NaN: no
 * case; *partner, when set, is counted with the run), whether the value
 * is a case for the claim, and the chart that shows it. */
typedef struct {
    int (*want)(const rp_run_t *r, const rp_tf_keys_t *k);
    double (*value)(rp_model_t *m, const rp_exp_t *e, const rp_run_t *r, const rp_tf_keys_t *k,
                    const rp_run_t **partner);
    int (*holds)(double v);
    const char *chart;
    const char *said;        /* "<said> in k of n <cases> (<value name> v at L = ..)" */
    const char *cases, *value_name;
} tf_rule_t;

/* The example a part's words name: the deepest run counted, its value. */
typedef struct {
    const rp_run_t *r;
    double v;
} example_t;

/* Count the rule's cases over every transformer run of the sweep; the
 * part's key values are the example's value and depth. */
static example_t run_rule(rp_part_t *p, const tf_rule_t *rule)
{
    example_t x = {NULL, NAN};
    for (size_t e = 0; e < p->m->n_exps; e++)
        for (size_t i = 0; i < p->m->exps[e].n_runs; i++) {
            const rp_exp_t *ex = &p->m->exps[e];
            const rp_run_t *r = &ex->runs[i], *partner = NULL;
            rp_tf_keys_t k;
            if (!rp_tf_run(p->m, r) || rp_tf_keys(p->m, r, &k) != 0 || !rule->want(r, &k))
                continue;
            double v = rule->value(p->m, ex, r, &k, &partner);
            if (!isfinite(v))
                continue;
            rp_part_count(p, r, rule->holds(v));
            if (partner)
                rp_fact_run(p->fs, p->t, partner);
            rp_part_chart(p, ex, rule->chart);
            if (!x.r || r->sc->cell.depth > x.r->sc->cell.depth)
                x = (example_t){r, v};
        }
    if (x.r && p->t) {
        p->t->value = x.v;
        p->t->value2 = (double)x.r->sc->cell.depth;
    }
    return x;
}

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* ---- the runs ---- */

static int post_ln(const rp_run_t *r, const rp_tf_keys_t *k)
{
    (void)r;
    return is(k->ln, "post") && is(k->scale, "none") && is(k->skip, "yes");
}

static int pre_ln(const rp_run_t *r, const rp_tf_keys_t *k)
{
    (void)r;
    return is(k->ln, "pre") && is(k->scale, "none") && is(k->skip, "yes");
}

static int pure_attention(const rp_run_t *r, const rp_tf_keys_t *k)
{
    return is(k->skip, "no") && is(k->mlp, "no") && r->sc->cell.depth >= DONG_DEPTH;
}

static int skip_attention(const rp_run_t *r, const rp_tf_keys_t *k)
{
    return is(k->skip, "yes") && is(k->mlp, "no") && is(k->ln, "none") &&
           r->sc->cell.depth >= DONG_DEPTH;
}

static int normed(const rp_run_t *r, const rp_tf_keys_t *k)
{
    return (post_ln(r, k) || pre_ln(r, k)) && r->sc->cell.depth >= 2;
}

/* DeepNet's scheme: x <- LN(alpha x + G(x)), a Post-LN one */
static int deepnorm(const rp_run_t *r, const rp_tf_keys_t *k)
{
    (void)r;
    return is(k->ln, "post") && is(k->scale, "deepnorm");
}

/* ---- their values ---- */

static double w2_ratio(rp_model_t *m, const rp_exp_t *e, const rp_run_t *r, const rp_tf_keys_t *k,
                       const rp_run_t **partner)
{
    (void)e, (void)k, (void)partner;
    return rp_tf_w2_ratio(m, r);
}

static double top_residual(rp_model_t *m, const rp_exp_t *e, const rp_run_t *r,
                           const rp_tf_keys_t *k, const rp_run_t **partner)
{
    (void)e, (void)k, (void)partner;
    return rp_tf_top(m, r, "rank_residual");
}

/* the top block's token cosine minus block 1's */
static double cosine_rise(rp_model_t *m, const rp_exp_t *e, const rp_run_t *r,
                          const rp_tf_keys_t *k, const rp_run_t **partner)
{
    (void)e, (void)k, (void)partner;
    rp_series_t s;
    if (rp_block_series(m, r, "block", "token_cosine", &s) != 0)
        return NAN;
    double v = s.n >= 2 && s.x[0] == 1 && s.x[s.n - 1] == (double)r->sc->cell.depth
                   ? s.y[s.n - 1] - s.y[0] : NAN;
    rp_series_free(&s);
    return v;
}

/* Do two transformer cells share their shapes (all but the norm and
 * residual scheme) and their repeat? */
/* Is b the cell of a but for its residual scheme: the same canonical
 * key (every key that shapes a result: shape, activation, dropout,
 * warm-up, task ...) once a's residual_scale is b's, and the same repeat? */
static int same_but_scheme(const rp_run_t *a, const rp_run_t *b)
{
    gs_cell_t x = a->sc->cell;
    char ka[4096], kb[4096];
    x.residual_scale = b->sc->cell.residual_scale;
    return x.repeat == b->sc->cell.repeat && gs_cell_key(&x, ka, sizeof ka) < sizeof ka &&
           gs_cell_key(&b->sc->cell, kb, sizeof kb) < sizeof kb && strcmp(ka, kb) == 0;
}

/* Post-LN's output change over DeepNorm's, *partner the Post-LN run: the
 * one of the sweep (in any experiment: a config may give each scheme its
 * own) whose cell is r's but for residual_scale = none */
static double change_factor(rp_model_t *m, const rp_exp_t *e, const rp_run_t *r,
                            const rp_tf_keys_t *k, const rp_run_t **partner)
{
    (void)e;
    for (size_t x = 0; is(k->skip, "yes") && x < m->n_exps; x++)
        for (size_t i = 0; i < m->exps[x].n_runs; i++) {
            const rp_run_t *q = &m->exps[x].runs[i];
            rp_tf_keys_t qk;
            if (!same_but_scheme(r, q) || !rp_tf_run(m, q) || rp_tf_keys(m, q, &qk) != 0 ||
                !post_ln(q, &qk) || !is(qk.mlp, k->mlp))
                continue;
            double a = rp_tf_output_change(m, r), b = rp_tf_output_change(m, q);
            if (!(a > 0) || !(b > 0))
                return NAN;
            *partner = q;
            return b / a;
        }
    return NAN;
}

/* ---- what holds ---- */

static int above_1(double v) { return v > 1; }
static int below_1(double v) { return v < 1; }
static int collapsed(double v) { return v < GS_COLLAPSED_BELOW; }
static int not_collapsed(double v) { return !(v < GS_COLLAPSED_BELOW); }
static int positive(double v) { return v > 0; }
static int deepnet_factor(double v) { return v >= DEEPNET_FACTOR; }
static int near_1(double v) { return fabs(v - 1) <= DEEPNET_FLAT; }

/* ---- the parts ---- */

/* Decide a part by its rule and say it: the cases, and the deepest
 * example's value. */
static void part(rp_part_t *p, const tf_rule_t *rule)
{
    example_t x = run_rule(p, rule);
    if (!x.r)
        return;
    char v[32];
    rp_sci(v, sizeof v, x.v);
    rp_appendf(p->said, sizeof p->said, "%s in %zu of %zu %s (%s %s at L = %ld, %s)", rule->said,
               p->yes, p->yes + p->no, rule->cases, rule->value_name, v, x.r->sc->cell.depth,
               x.r->label);
}

void rp_part_xiong_post(rp_part_t *p)
{
    static const tf_rule_t rule = {post_ln, w2_ratio, above_1, "tf-gradient",
                                   "Post-LN: ||dL/dW2|| largest near the output", "runs",
                                   "last/first"};
    part(p, &rule);
}

void rp_part_xiong_pre(rp_part_t *p)
{
    static const tf_rule_t rule = {pre_ln, w2_ratio, below_1, "tf-gradient",
                                   "Pre-LN: ||dL/dW2|| largest near the input", "runs",
                                   "last/first"};
    part(p, &rule);
}

void rp_part_dong_collapse(rp_part_t *p)
{
    static const tf_rule_t rule = {pure_attention, top_residual, collapsed, "tf-rank",
                                   "pure attention: the top block's relative residual below "
                                   GS_RF_STR(GS_COLLAPSED_BELOW),
                                   "runs", "relative residual"};
    part(p, &rule);
}

void rp_part_dong_skip(rp_part_t *p)
{
    static const tf_rule_t rule = {skip_attention, top_residual, not_collapsed, "tf-rank",
                                   "with skip connections: the top block's relative residual "
                                   "not below " GS_RF_STR(GS_COLLAPSED_BELOW),
                                   "runs", "relative residual"};
    part(p, &rule);
}

void rp_part_noci(rp_part_t *p)
{
    static const tf_rule_t rule = {normed, cosine_rise, positive, "tf-rank",
                                   "token cosine higher at the top block than at block 1",
                                   "Post-/Pre-LN runs", "rise"};
    part(p, &rule);
}

void rp_part_deepnet_bounded(rp_part_t *p)
{
    static const tf_rule_t rule = {deepnorm, change_factor, deepnet_factor, "tf-output-change",
                                   "DeepNorm's output change at least "
                                   GS_RF_STR(DEEPNET_FACTOR) "x smaller than Post-LN's",
                                   "pairs", "Post-LN's over DeepNorm's"};
    part(p, &rule);
}

void rp_part_deepnet_flat(rp_part_t *p)
{
    static const tf_rule_t rule = {deepnorm, w2_ratio, near_1, "tf-gradient",
                                   "DeepNorm's last/first ||dL/dW2|| within "
                                   GS_RF_STR(DEEPNET_FLAT) " of 1", "runs",
                                   "last/first"};
    part(p, &rule);
}
