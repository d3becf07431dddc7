/* The findings of an experiment with transformer cells, one per chart of
 * charts_transformer.c and from the values it draws (medians over a
 * configuration's repeats): the last/first ||dL/dW2|| ratio per scheme
 * against depth, where the relative residual falls below the collapse
 * threshold (or how low it gets), the smallest attention entropy, and
 * the output change per scheme against depth with the spread between
 * schemes at the deepest depth. Each number is a fact that
 * tests/tfreport.sh recomputes from block_stats and runs. */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "report/charts.h"
#include "report/findings.h"
#include "report/transformer.h"

#define FLAT_TOL 0.1   /* a ratio within this of 1 at every depth is "flat" */

/* A fact of one (scheme, depth) cell of a table: its median and runs. */
static void cell_fact(rp_findings_t *fs, rp_finding_t *f, const rp_exp_t *e,
                      const rp_tf_table_t *t, size_t s, size_t d, const char *stat)
{
    char id[96];
    snprintf(id, sizeof id, "%s.%zu.%ld", stat, s, t->depth[d]);
    rp_fact_t *x = rp_fact_new(fs, f, RP_FACT_VALUE, id);
    if (!x)
        return;
    snprintf(x->stat, sizeof x->stat, "%s", stat);
    x->value = t->med[s][d];
    x->value2 = (double)t->depth[d];
    for (size_t i = 0; i < e->n_runs; i++)
        if (t->scheme[i] == (int)s && t->depth_of[i] == (int)d) {
            if (!x->where[0])
                rp_where(e, &e->runs[i], rp_axis_of(e, "depth"), x->where, sizeof x->where);
            rp_fact_run(fs, x, &e->runs[i]);
        }
}

/* "a -> b -> c from L = 6 to 24" of scheme s, with the facts; *rising,
 * *falling: every step up (down); *dev: the largest |v - 1|. */
static void depth_words(rp_findings_t *fs, rp_finding_t *f, const rp_exp_t *e,
                        const rp_tf_table_t *t, size_t s, const char *stat, int *rising,
                        int *falling, double *dev)
{
    double prev = NAN;
    long first = 0, last = 0;
    size_t k = 0;
    *rising = *falling = 1;
    *dev = 0;
    for (size_t d = 0; d < t->n_depths; d++) {
        if (!t->n[s][d])
            continue;
        char v[32];
        rp_sci(v, sizeof v, t->med[s][d]);
        rp_say(f, "%s%s", k++ ? " -> " : "", v);
        cell_fact(fs, f, e, t, s, d, stat);
        if (isfinite(prev)) {
            *rising &= t->med[s][d] > prev;
            *falling &= t->med[s][d] < prev;
        }
        *dev = fmax(*dev, fabs(t->med[s][d] - 1));
        prev = t->med[s][d];
        last = t->depth[d];
        if (k == 1)
            first = t->depth[d];
    }
    if (k > 1)
        rp_say(f, " from L = %ld to %ld", first, last);
    else
        rp_say(f, " at L = %ld", first);
    if (k < 2)
        *rising = *falling = 0;
}

/* Every scheme of t with a value: "label a -> b from L = .. to .."; with
 * trend, whether it stays within FLAT_TOL of 1, rises or falls. */
static void say_schemes(rp_findings_t *fs, rp_finding_t *f, const rp_exp_t *e,
                        const rp_tf_table_t *t, const char *stat, int trend)
{
    size_t said = 0;
    for (size_t s = 0; s < t->n_schemes; s++) {
        int any = 0;
        for (size_t d = 0; d < t->n_depths; d++)
            any |= t->n[s][d] > 0;
        if (!any)
            continue;
        rp_say(f, "%s%s ", said++ ? "; " : "", t->scheme_label[s]);
        int up, down;
        double dev;
        depth_words(fs, f, e, t, s, stat, &up, &down, &dev);
        if (!trend)
            continue;
        if (dev <= FLAT_TOL)
            rp_say(f, " (within %.2f of 1)", dev);
        else if (up)
            rp_say(f, " (rising with depth)");
        else if (down)
            rp_say(f, " (falling with depth)");
    }
}

/* (a) the last/first ratio of ||dL/dW2|| per scheme against depth */
static void find_ratio(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    rp_tf_table_t t;
    if (rp_tf_table(m, e, rp_tf_w2_ratio, &t) != 0) {
        fs->oom = 1;
        return;
    }
    rp_finding_t *f = t.n_schemes ? rp_finding_new(fs, e, t.n_depths > 1 ? "tf-ratio"
                                                                        : "tf-gradient")
                                  : NULL;
    if (f) {
        rp_say(f, "In %s, the last block's ||dL/dW2|| over the first's at init (median over "
               "the repeats): ", e->ex->name);
        say_schemes(fs, f, e, &t, "w2_last_first", 1);
        rp_say(f, ".");
    }
    rp_tf_table_free(&t);
}

/* (d) the output change per scheme against depth, and the spread between
 * the schemes at the deepest depth they share */
static void find_output_change(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    rp_tf_table_t t;
    if (rp_tf_table(m, e, rp_tf_output_change, &t) != 0) {
        fs->oom = 1;
        return;
    }
    rp_finding_t *f = t.n_schemes ? rp_finding_new(fs, e, "tf-output-change") : NULL;
    if (f) {
        rp_say(f, "In %s, the relative output change after one sign step of 1e-4 (median over "
               "the repeats): ", e->ex->name);
        say_schemes(fs, f, e, &t, "output_change", 0);
        rp_say(f, ".");
        /* the deepest depth with two schemes: largest over smallest */
        for (size_t d = t.n_depths; d-- > 0;) {
            int lo = -1, hi = -1;
            for (size_t s = 0; s < t.n_schemes; s++) {
                if (!t.n[s][d] || !(t.med[s][d] > 0))
                    continue;
                if (lo < 0 || t.med[s][d] < t.med[lo][d])
                    lo = (int)s;
                if (hi < 0 || t.med[s][d] > t.med[hi][d])
                    hi = (int)s;
            }
            if (lo < 0 || lo == hi)
                continue;
            double x = t.med[hi][d] / t.med[lo][d];
            rp_fact_t *k = rp_fact_new(fs, f, RP_FACT_VALUE, "output_change_spread");
            if (k) {
                snprintf(k->stat, sizeof k->stat, "output_change_spread");
                k->value = x;
                k->value2 = (double)t.depth[d];
                for (size_t i = 0; i < e->n_runs; i++)
                    if (t.depth_of[i] == (int)d && (t.scheme[i] == lo || t.scheme[i] == hi))
                        rp_fact_run(fs, k, &e->runs[i]);
            }
            char a[32];
            rp_sci(a, sizeof a, x);
            rp_say(f, " At L = %ld, %s's is %sx smaller than %s's.", t.depth[d],
                   t.scheme_label[lo], a, t.scheme_label[hi]);
            break;
        }
    }
    rp_tf_table_free(&t);
}

/* A fact of the configuration whose runs start at i: stat's value and
 * value2, every repeat among its runs. */
static void config_fact(rp_findings_t *fs, rp_finding_t *f, const rp_exp_t *e, size_t i,
                        const char *name, const char *stat, double value, double value2)
{
    char id[64];
    snprintf(id, sizeof id, "%s.%zu", name, i);
    rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_VALUE, id);
    if (!t)
        return;
    snprintf(t->stat, sizeof t->stat, "%s", stat);
    t->value = value;
    t->value2 = value2;
    rp_where(e, &e->runs[i], -1, t->where, sizeof t->where);
    for (size_t j = i; j < e->n_runs && e->runs[j].sc->combo == e->runs[i].sc->combo; j++)
        rp_fact_run(fs, t, &e->runs[j]);
}

/* (b) per configuration: the first block whose relative residual falls
 * below GS_COLLAPSED_BELOW, or how low it gets; the top block's token
 * cosine. From the lines the chart draws (medians over the repeats per
 * block). */
#define MAX_TOLD 12

static void find_rank(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    rp_lineset_t res, cos;
    if (rp_lineset_load(&res, m, e, e->n_runs, rp_block_loader, "block.rank_residual") != 0)
        return;
    int have_cos = rp_lineset_load(&cos, m, e, e->n_runs, rp_block_loader,
                                   "block.token_cosine") == 0;
    rp_finding_t *f = rp_finding_new(fs, e, "tf-rank");
    if (f) {
        rp_say(f, "In %s, the relative residual ||X - 1 x_mean^T|| / ||X|| of the blocks' "
               "outputs at init (median over the repeats): ", e->ex->name);
        size_t told = 0;
        for (size_t i = 0; i < res.n_runs; i++) {
            const rp_series_t *l = &res.lines[i];
            if (!l->n)
                continue;
            double lowest = INFINITY;
            long below = 0;
            for (size_t k = 0; k < l->n; k++) {
                lowest = fmin(lowest, l->y[k]);
                if (!below && l->y[k] < GS_COLLAPSED_BELOW)
                    below = (long)l->x[k];
            }
            const rp_series_t *c = have_cos ? &cos.lines[i] : NULL;
            double top_cos = c && c->n ? c->y[c->n - 1] : NAN;
            config_fact(fs, f, e, i, "rank_residual", "rank_residual_min", lowest, (double)below);
            if (isfinite(top_cos))
                config_fact(fs, f, e, i, "cosine", "token_cosine_top", top_cos, c->x[c->n - 1]);
            if (told++ >= MAX_TOLD)
                continue;
            char a[32];
            rp_sci(a, sizeof a, lowest);
            if (below)
                rp_say(f, "%s%s falls below %g by block %ld (down to %s)", told > 1 ? "; " : "",
                       e->runs[i].config_label, GS_COLLAPSED_BELOW, below, a);
            else
                rp_say(f, "%s%s stays at %s or above through block %.0f", told > 1 ? "; " : "",
                       e->runs[i].config_label, a, l->x[l->n - 1]);
            if (isfinite(top_cos))
                rp_say(f, ", token cosine %.2f at the top", top_cos);
        }
        rp_say(f, "%s.", told > MAX_TOLD ? "; ..." : "");
    }
    if (have_cos)
        rp_lineset_free(&cos);
    rp_lineset_free(&res);
}

/* (c) per configuration: the smallest attention entropy and its block */
static void find_entropy(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    rp_lineset_t ent;
    if (rp_lineset_load(&ent, m, e, e->n_runs, rp_block_loader, "block.attn_entropy_min") != 0)
        return;
    rp_finding_t *f = rp_finding_new(fs, e, "tf-entropy");
    if (f) {
        rp_say(f, "In %s, the smallest per-head attention entropy at init (nats, median over the "
               "repeats; uniform attention is ln T = %.2f): ", e->ex->name,
               log((double)e->runs[0].sc->cell.seq_len));
        size_t told = 0;
        for (size_t i = 0; i < ent.n_runs; i++) {
            const rp_series_t *l = &ent.lines[i];
            if (!l->n)
                continue;
            size_t at = 0;
            for (size_t k = 1; k < l->n; k++)
                if (l->y[k] < l->y[at])
                    at = k;
            config_fact(fs, f, e, i, "entropy", "attn_entropy_min", l->y[at], l->x[at]);
            char a[32];
            rp_sci(a, sizeof a, l->y[at]);
            if (told++ < MAX_TOLD)
                rp_say(f, "%s%s %s at block %.0f", told > 1 ? "; " : "", e->runs[i].config_label,
                       a, l->x[at]);
        }
        rp_say(f, "%s.", told > MAX_TOLD ? "; ..." : "");
    }
    rp_lineset_free(&ent);
}

/* (c') every head: the lowest entropy in the heads map, where, and how
 * many of the map's heads and blocks are below a tenth of ln T */
static void find_heads(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    rp_tf_heads_t t;
    if (rp_tf_heads(m, e, &t) != 0 || !t.n_rows)
        return;
    double ln_t = log((double)t.run[0]->sc->cell.seq_len);
    size_t at = SIZE_MAX, n = 0, low = 0;
    for (size_t k = 0; k < t.n_rows * t.n_cols; k++) {
        if (isnan(t.v[k]))
            continue;
        n++;
        low += t.v[k] < 0.1 * ln_t;
        if (at == SIZE_MAX || t.v[k] < t.v[at])
            at = k;
    }
    rp_finding_t *f = at != SIZE_MAX ? rp_finding_new(fs, e, "tf-heads") : NULL;
    if (f) {
        size_t row = at / t.n_cols, block = at % t.n_cols + 1;
        const rp_run_t *r = t.run[row];
        rp_fact_t *x = rp_fact_new(fs, f, RP_FACT_VALUE, "heads.min");
        if (x) {
            snprintf(x->stat, sizeof x->stat, "attn_entropy");
            x->value = t.v[at];
            x->value2 = (double)block;
            x->yes = (long)low;
            x->no = (long)(n - low);
            rp_where(e, r, -1, x->where, sizeof x->where);
            rp_fact_run(fs, x, r);
        }
        char v[32];
        rp_sci(v, sizeof v, t.v[at]);
        rp_say(f, "In %s, per head (each configuration's first run, %s): the lowest attention "
               "entropy is %s nats, head %ld of block %zu of %s (uniform: ln T = %.2f); %zu of "
               "the %zu heads-and-blocks drawn are below a tenth of ln T.", e->ex->name,
               t.step[row] ? "at its last logged step" : "at init", v, t.head[row], block,
               r->config_label, ln_t, low, n);
    }
    rp_tf_heads_free(&t);
}

void rp_find_transformer(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    if (!rp_tf_experiment(m, e))
        return;
    find_ratio(m, fs, e);
    find_rank(m, fs, e);
    find_entropy(m, fs, e);
    find_heads(m, fs, e);
    find_output_change(m, fs, e);
}
