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
 *                top block's relative residual below RP_TF_COLLAPSED
 *   dong-skip    attention with skips but no MLP and no norm (skip=yes,
 *                mlp=no, ln=none) at depth >= 4: not below it
 *   noci         ln=post or pre, residual_scale=none, skip=yes: the top
 *                block's token cosine above block 1's
 *   deepnet-bounded  DeepNorm (residual_scale=deepnorm) against its
 *                Post-LN partner (ln=post, residual_scale=none; same
 *                experiment, depth, repeat, skip and mlp): an output
 *                change at least DEEPNET_FACTOR times smaller
 *   deepnet-flat DeepNorm: the last/first ||dL/dW2|| ratio within
 *                DEEPNET_FLAT of 1 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/claims.h"
#include "report/transformer.h"

#define DONG_DEPTH 4         /* Dong et al.'s collapse shows by block 4 (issue 21) */
#define DEEPNET_FACTOR 10.0  /* issue 21's accepted-when: >= 10x smaller than Post-LN's */
#define DEEPNET_FLAT 0.1     /* issue 21's accepted-when: within 0.1 of 1 */

typedef int (*tf_want_t)(const rp_run_t *r, const rp_tf_keys_t *k);

/* Call each for every transformer run of m whose keys want accepts. */
static void each_tf(rp_part_t *p, tf_want_t want,
                    void (*each)(rp_part_t *p, const rp_exp_t *e, const rp_run_t *r,
                                 const rp_tf_keys_t *k))
{
    for (size_t e = 0; e < p->m->n_exps; e++)
        for (size_t i = 0; i < p->m->exps[e].n_runs; i++) {
            const rp_run_t *r = &p->m->exps[e].runs[i];
            rp_tf_keys_t k;
            if (rp_tf_run(p->m, r) && rp_tf_keys(p->m, r, &k) == 0 && want(r, &k))
                each(p, &p->m->exps[e], r, &k);
        }
}

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* The example a part's words name: the deepest run counted, its value. */
typedef struct {
    const rp_run_t *r;
    double v;
} example_t;
static example_t ex_ratio, ex_cos, ex_res;

static void keep(example_t *x, const rp_run_t *r, double v)
{
    if (!x->r || r->sc->cell.depth > x->r->sc->cell.depth)
        *x = (example_t){r, v};
}

/* ---- Xiong et al. 2020 ---- */

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

static void ratio_above(rp_part_t *p, const rp_exp_t *e, const rp_run_t *r, const rp_tf_keys_t *k)
{
    (void)k;
    double v = rp_tf_w2_ratio(p->m, r);
    if (!isfinite(v))
        return;
    rp_part_count(p, r, v > 1);
    keep(&ex_ratio, r, v);
    rp_part_chart(p, e, "tf-gradient");
}

static void ratio_below(rp_part_t *p, const rp_exp_t *e, const rp_run_t *r, const rp_tf_keys_t *k)
{
    (void)k;
    double v = rp_tf_w2_ratio(p->m, r);
    if (!isfinite(v))
        return;
    rp_part_count(p, r, v < 1);
    keep(&ex_ratio, r, v);
    rp_part_chart(p, e, "tf-gradient");
}

/* The words of a ratio part: cases and the deepest example. */
static void say_ratio(rp_part_t *p, const char *who, const char *side)
{
    if (!ex_ratio.r)
        return;
    if (p->t) {
        p->t->value = ex_ratio.v;
        p->t->value2 = (double)ex_ratio.r->sc->cell.depth;
    }
    char v[32];
    rp_sci(v, sizeof v, ex_ratio.v);
    rp_appendf(p->said, sizeof p->said, "%s: ||dL/dW2|| largest near the %s in %zu of %zu runs "
               "(last/first %s at L = %ld, %s)", who, side, p->yes, p->yes + p->no, v,
               ex_ratio.r->sc->cell.depth, ex_ratio.r->label);
}

void rp_part_xiong_post(rp_part_t *p)
{
    ex_ratio = (example_t){0};
    each_tf(p, post_ln, ratio_above);
    say_ratio(p, "Post-LN", "output");
}

void rp_part_xiong_pre(rp_part_t *p)
{
    ex_ratio = (example_t){0};
    each_tf(p, pre_ln, ratio_below);
    say_ratio(p, "Pre-LN", "input");
}

/* ---- Dong et al. 2021 ---- */

static int pure_attention(const rp_run_t *r, const rp_tf_keys_t *k)
{
    return is(k->skip, "no") && is(k->mlp, "no") && r->sc->cell.depth >= DONG_DEPTH;
}

static int skip_attention(const rp_run_t *r, const rp_tf_keys_t *k)
{
    return is(k->skip, "yes") && is(k->mlp, "no") && is(k->ln, "none") &&
           r->sc->cell.depth >= DONG_DEPTH;
}

static void top_residual(rp_part_t *p, const rp_exp_t *e, const rp_run_t *r, int collapsed)
{
    double v = rp_tf_top(p->m, r, "rank_residual");
    if (!isfinite(v))
        return;
    rp_part_count(p, r, collapsed ? v < RP_TF_COLLAPSED : !(v < RP_TF_COLLAPSED));
    keep(&ex_res, r, v);
    rp_part_chart(p, e, "tf-rank");
}

static void collapses(rp_part_t *p, const rp_exp_t *e, const rp_run_t *r, const rp_tf_keys_t *k)
{
    (void)k;
    top_residual(p, e, r, 1);
}

static void holds(rp_part_t *p, const rp_exp_t *e, const rp_run_t *r, const rp_tf_keys_t *k)
{
    (void)k;
    top_residual(p, e, r, 0);
}

static void say_residual(rp_part_t *p, const char *who, const char *what)
{
    if (!ex_res.r)
        return;
    if (p->t) {
        p->t->value = ex_res.v;
        p->t->value2 = (double)ex_res.r->sc->cell.depth;
    }
    char v[32];
    rp_sci(v, sizeof v, ex_res.v);
    rp_appendf(p->said, sizeof p->said, "%s: the top block's relative residual %s %g in %zu of "
               "%zu runs (%s at L = %ld, %s)", who, what, RP_TF_COLLAPSED, p->yes,
               p->yes + p->no, v, ex_res.r->sc->cell.depth, ex_res.r->label);
}

void rp_part_dong_collapse(rp_part_t *p)
{
    ex_res = (example_t){0};
    each_tf(p, pure_attention, collapses);
    say_residual(p, "pure attention", "below");
}

void rp_part_dong_skip(rp_part_t *p)
{
    ex_res = (example_t){0};
    each_tf(p, skip_attention, holds);
    say_residual(p, "with skip connections", "not below");
}

/* ---- Noci et al. 2022 ---- */

static int normed(const rp_run_t *r, const rp_tf_keys_t *k)
{
    return (post_ln(r, k) || pre_ln(r, k)) && r->sc->cell.depth >= 2;
}

static void aligns(rp_part_t *p, const rp_exp_t *e, const rp_run_t *r, const rp_tf_keys_t *k)
{
    (void)k;
    rp_series_t s;
    if (rp_block_series(p->m, r, "block", "token_cosine", &s) != 0)
        return;
    if (s.n >= 2 && s.x[0] == 1 && s.x[s.n - 1] == (double)r->sc->cell.depth &&
        isfinite(s.y[0]) && isfinite(s.y[s.n - 1])) {
        rp_part_count(p, r, s.y[s.n - 1] > s.y[0]);
        keep(&ex_cos, r, s.y[s.n - 1]);
        rp_part_chart(p, e, "tf-rank");
    }
    rp_series_free(&s);
}

void rp_part_noci(rp_part_t *p)
{
    ex_cos = (example_t){0};
    each_tf(p, normed, aligns);
    if (!ex_cos.r)
        return;
    if (p->t) {
        p->t->value = ex_cos.v;
        p->t->value2 = (double)ex_cos.r->sc->cell.depth;
    }
    rp_appendf(p->said, sizeof p->said, "token cosine higher at the top block than at block 1 in "
               "%zu of %zu Post-/Pre-LN runs (%.2f at the top of L = %ld, %s)", p->yes,
               p->yes + p->no, ex_cos.v, ex_cos.r->sc->cell.depth, ex_cos.r->label);
}

/* ---- Wang et al. 2022, DeepNet ---- */

static int deepnorm(const rp_run_t *r, const rp_tf_keys_t *k)
{
    (void)r;
    return is(k->scale, "deepnorm");
}

/* r's Post-LN partner: same experiment, depth, repeat, skip and mlp. */
static const rp_run_t *post_partner(rp_model_t *m, const rp_exp_t *e, const rp_run_t *r,
                                    const rp_tf_keys_t *k)
{
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *q = &e->runs[i];
        rp_tf_keys_t qk;
        if (q->sc->cell.depth == r->sc->cell.depth && q->sc->cell.repeat == r->sc->cell.repeat &&
            rp_tf_run(m, q) && rp_tf_keys(m, q, &qk) == 0 && post_ln(q, &qk) &&
            is(qk.mlp, k->mlp))
            return q;
    }
    return NULL;
}

static example_t ex_factor;

static void bounded(rp_part_t *p, const rp_exp_t *e, const rp_run_t *r, const rp_tf_keys_t *k)
{
    const rp_run_t *q = is(k->skip, "yes") ? post_partner(p->m, e, r, k) : NULL;
    double a = rp_tf_output_change(p->m, r), b = q ? rp_tf_output_change(p->m, q) : NAN;
    if (!(a > 0) || !(b > 0))
        return;
    rp_part_count(p, r, a * DEEPNET_FACTOR <= b);
    rp_fact_run(p->fs, p->t, q);
    keep(&ex_factor, r, b / a);
    rp_part_chart(p, e, "tf-output-change");
}

void rp_part_deepnet_bounded(rp_part_t *p)
{
    ex_factor = (example_t){0};
    each_tf(p, deepnorm, bounded);
    if (!ex_factor.r)
        return;
    if (p->t) {
        p->t->value = ex_factor.v;
        p->t->value2 = (double)ex_factor.r->sc->cell.depth;
    }
    char v[32];
    rp_sci(v, sizeof v, ex_factor.v);
    rp_appendf(p->said, sizeof p->said, "DeepNorm's output change at least %gx smaller than "
               "Post-LN's in %zu of %zu pairs (%sx at L = %ld)", DEEPNET_FACTOR, p->yes,
               p->yes + p->no, v, ex_factor.r->sc->cell.depth);
}

static void flat(rp_part_t *p, const rp_exp_t *e, const rp_run_t *r, const rp_tf_keys_t *k)
{
    (void)k;
    double v = rp_tf_w2_ratio(p->m, r);
    if (!isfinite(v))
        return;
    rp_part_count(p, r, fabs(v - 1) <= DEEPNET_FLAT);
    keep(&ex_ratio, r, v);
    rp_part_chart(p, e, "tf-gradient");
}

void rp_part_deepnet_flat(rp_part_t *p)
{
    ex_ratio = (example_t){0};
    each_tf(p, deepnorm, flat);
    if (!ex_ratio.r)
        return;
    if (p->t) {
        p->t->value = ex_ratio.v;
        p->t->value2 = (double)ex_ratio.r->sc->cell.depth;
    }
    char v[32];
    rp_sci(v, sizeof v, ex_ratio.v);
    rp_appendf(p->said, sizeof p->said, "DeepNorm's last/first ||dL/dW2|| within %g of 1 in %zu "
               "of %zu runs (%s at L = %ld)", DEEPNET_FLAT, p->yes, p->yes + p->no, v,
               ex_ratio.r->sc->cell.depth);
}
