/* The findings of each experiment, written from the stored values its
 * charts draw: the diagnosis at init (decided by grad_h_ratio, the
 * backpropagated gradient - the first and last points of each
 * gradient-flow line), divergence, the ranking of configurations by their
 * test score over seeds, clipping, the adding problem's baseline, and
 * theory beside measurement. Each sentence states what the rows show and
 * carries the facts that tests/findings.sh recomputes from the database. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/findings.h"

/* The order diagnoses are told in. */
static const gs_diag_t diag_order[] = {GS_DIAG_HEALTHY, GS_DIAG_VANISHING, GS_DIAG_EXPLODING,
                                       GS_DIAG_DEAD, GS_DIAG_DIVERGED, GS_DIAG_COLLAPSED};
#define N_DIAG_ORDER (sizeof diag_order / sizeof *diag_order)

static int is_diag(const rp_run_t *r, gs_diag_t d)
{
    return rp_usable(r) && r->diagnosis == (int)d;
}

static int is_diverged(const rp_run_t *r)
{
    return rp_usable(r) && r->status == GS_STATUS_DIVERGED;
}

static const rp_run_t *first_usable(const rp_exp_t *e)
{
    for (size_t i = 0; i < e->n_runs; i++)
        if (rp_usable(&e->runs[i]))
            return &e->runs[i];
    return NULL;
}

/* ---- the diagnosis at init ---- */

/* Do r and q share their values on every axis of e but skip? */
static int same_group(const rp_exp_t *e, const rp_run_t *r, const rp_run_t *q, int skip)
{
    for (size_t a = 0; a < e->ex->n_axes; a++)
        if ((int)a != skip && rp_value_index(e, (int)a, r) != rp_value_index(e, (int)a, q))
            return 0;
    return 1;
}

/* The grad_h_ratio range of a set, said as the diagnosis needs it. */
static void ratio_words(gs_diag_t d, double lo, double hi, char *buf, size_t len)
{
    char a[32], b[32];
    rp_sci(a, sizeof a, lo);
    rp_sci(b, sizeof b, hi);
    if (d == GS_DIAG_DEAD)
        snprintf(buf, len, "a layer's gradient exactly 0 or all its units dead");
    else if (d == GS_DIAG_DIVERGED)
        snprintf(buf, len, "not finite at init");
    else if (d == GS_DIAG_COLLAPSED)
        snprintf(buf, len, "the top block's relative residual below %g", GS_COLLAPSED_BELOW);
    else if (d == GS_DIAG_VANISHING)
        snprintf(buf, len, "grad_h_ratio down to %s", a);
    else if (d == GS_DIAG_EXPLODING)
        snprintf(buf, len, "grad_h_ratio up to %s", b);
    else
        snprintf(buf, len, lo == hi ? "grad_h_ratio %s" : "grad_h_ratio %s to %s", a, b);
}

/* How many runs of the group of g (every axis value but da's) have value
 * v of axis da (*tot), and how many of those diagnosis d (*have). */
static void count_at(const rp_exp_t *e, const rp_run_t *g, int da, size_t v, gs_diag_t d,
                     size_t *have, size_t *tot)
{
    *have = *tot = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *q = &e->runs[i];
        if (!rp_usable(q) || !same_group(e, g, q, da) || rp_value_index(e, da, q) != (int)v)
            continue;
        ++*tot;
        *have += is_diag(q, d);
    }
}

/* The depths of the group's runs of diagnosis d, "5, 10 and 20" (a depth
 * where only some repeats have it says "k of n seeds"); *all: every run of
 * the group has d. */
static void depth_words(const rp_exp_t *e, const rp_run_t *g, int da, gs_diag_t d, char *buf,
                        size_t len, int *all)
{
    const gs_axis_t *ax = &e->ex->axes[da];
    size_t shown = 0, n_vals = 0, have, tot;
    *all = 1;
    buf[0] = '\0';
    for (size_t v = 0; v < ax->n_values; v++) {
        count_at(e, g, da, v, d, &have, &tot);
        *all &= have == tot;
        n_vals += have > 0;
    }
    for (size_t v = 0; v < ax->n_values; v++) {
        count_at(e, g, da, v, d, &have, &tot);
        if (!have)
            continue;
        size_t l = strlen(buf);
        const char *sep = shown == 0 ? "" : shown + 1 == n_vals ? " and " : ", ";
        shown++;
        if (have < tot)
            snprintf(buf + l, len - l, "%s%s (%zu of %zu seeds)", sep, ax->values[v], have, tot);
        else
            snprintf(buf + l, len - l, "%s%s", sep, ax->values[v]);
    }
}

/* One diagnosis of a group (runs sharing every axis value but skip's):
 * the fact lists exactly the group's runs with that diagnosis. Returns
 * how many there are. */
static size_t diag_fact(rp_findings_t *fs, rp_finding_t *f, const rp_exp_t *e, const rp_run_t *g,
                        int skip, gs_diag_t d, const char *name, double *lo, double *hi)
{
    size_t n = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *q = &e->runs[i];
        if (is_diag(q, d) && (!g || same_group(e, g, q, skip))) {
            n++;
            *lo = fmin(*lo, q->grad_h_ratio);
            *hi = fmax(*hi, q->grad_h_ratio);
        }
    }
    if (!n)
        return 0;
    rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_DIAG, name);
    if (!t)
        return n;
    if (g)
        rp_where(e, g, skip, t->where, sizeof t->where);
    snprintf(t->verdict, sizeof t->verdict, "%s", gs_diag_names[d]);
    snprintf(t->stat, sizeof t->stat, "grad_h_ratio");
    t->value = isfinite(*lo) ? *lo : NAN;
    t->value2 = isfinite(*hi) ? *hi : NAN;
    for (size_t i = 0; i < e->n_runs; i++)
        if (is_diag(&e->runs[i], d) && (!g || same_group(e, g, &e->runs[i], skip)))
            rp_fact_run(fs, t, &e->runs[i]);
    return n;
}

/* "sigmoid / he" of a group: r's values on the axes but skip. */
static void group_label(const rp_exp_t *e, const rp_run_t *r, int skip, char *buf, size_t len)
{
    rp_label(e->ex, &r->sc->cell, skip, buf, len);
}

/* A depth-varying experiment: one finding per gradient-flow line (the
 * runs sharing every value but depth), its diagnoses by depth. */
static void find_depth_groups(rp_findings_t *fs, const rp_exp_t *e, int da)
{
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *g = &e->runs[i];
        int first = rp_usable(g);
        for (size_t j = 0; j < i && first; j++)   /* the group's first usable run */
            first = !(rp_usable(&e->runs[j]) && same_group(e, g, &e->runs[j], da));
        if (!first)
            continue;
        rp_finding_t *f = rp_finding_new(fs, e, "gradient-flow");
        if (!f)
            return;
        char lab[256], id[200];
        group_label(e, g, da, lab, sizeof lab);
        rp_say(f, "In %s, %s: ", e->ex->name, lab);
        int said = 0;
        for (size_t k = 0; k < N_DIAG_ORDER; k++) {
            double lo, hi;
            snprintf(id, sizeof id, "%zu.%s", i, gs_diag_names[diag_order[k]]);
            if (!diag_fact(fs, f, e, g, da, diag_order[k], id, &lo, &hi))
                continue;
            char depths[256], ratio[128];
            int all;
            depth_words(e, g, da, diag_order[k], depths, sizeof depths, &all);
            ratio_words(diag_order[k], lo, hi, ratio, sizeof ratio);
            if (all)
                rp_say(f, "%s%s at every depth (%s; %s)", said++ ? "; " : "",
                       gs_diag_names[diag_order[k]], depths, ratio);
            else
                rp_say(f, "%s%s at depth %s (%s)", said++ ? "; " : "",
                       gs_diag_names[diag_order[k]], depths, ratio);
        }
        rp_say(f, ".");
    }
}

/* Any other experiment: its runs by diagnosis at init, named (the first
 * MAX_NAMED of each). */
#define MAX_NAMED 6

static void find_diag_list(rp_findings_t *fs, const rp_exp_t *e, const char *chart)
{
    rp_finding_t *f = rp_finding_new(fs, e, chart);
    if (!f)
        return;
    rp_say(f, "In %s, at initialization: ", e->ex->name);
    size_t total = 0, said = 0;
    for (size_t i = 0; i < e->n_runs; i++)
        total += rp_usable(&e->runs[i]);
    for (size_t k = 0; k < N_DIAG_ORDER; k++) {
        double lo, hi;
        size_t n = diag_fact(fs, f, e, NULL, -1, diag_order[k], gs_diag_names[diag_order[k]],
                             &lo, &hi);
        if (!n)
            continue;
        const rp_run_t *list[MAX_NAMED];
        size_t m = 0;
        for (size_t i = 0; i < e->n_runs && m < MAX_NAMED; i++)
            if (is_diag(&e->runs[i], diag_order[k]))
                list[m++] = &e->runs[i];
        char names[1024], ratio[128];
        rp_join_labels(list, m, n, names, sizeof names);
        ratio_words(diag_order[k], lo, hi, ratio, sizeof ratio);
        if (n == total)
            rp_say(f, "%s%s %s (%s)", said++ ? "; " : "",
                   n == 1 ? "the one network" : n == 2 ? "both networks" : "every network",
                   gs_diag_names[diag_order[k]], ratio);
        else
            rp_say(f, "%s%s %s (%s)", said++ ? "; " : "", names, gs_diag_names[diag_order[k]],
                   ratio);
    }
    rp_say(f, ".");
}

/* ---- training ---- */

/* Every configuration with a diverged repeat, by name and step: these are
 * ranked nowhere. */
static void find_diverged(rp_findings_t *fs, const rp_exp_t *e)
{
    rp_finding_t *f = NULL;
    size_t n = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!is_diverged(r))
            continue;
        if (!f && !(f = rp_finding_new(fs, e, "loss")))
            return;
        char id[64];
        snprintf(id, sizeof id, "diverged.%zu", i);
        rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_DIVERGED, id);
        if (t) {
            snprintf(t->verdict, sizeof t->verdict, "diverged");
            snprintf(t->stat, sizeof t->stat, "diverged_step");
            t->value = (double)r->diverged_step;
            rp_where(e, r, -1, t->where, sizeof t->where);
            rp_fact_run(fs, t, r);
        }
        char g[32];
        rp_sci(g, sizeof g, r->last_finite_grad_norm);
        if (n++ == 0)
            rp_say(f, "In %s, ", e->ex->name);
        else
            rp_say(f, "; ");
        rp_say(f, "%s diverged at step %ld", r->label, r->diverged_step);
        if (r->diverged_sublayer[0])   /* a transformer: the block and its sublayer */
            rp_say(f, " (first non-finite: block %ld's %s, sublayer %s; last finite gradient "
                   "norm %s)", r->diverged_layer, rp_nonfinite_name(r->diverged_tensor),
                   r->diverged_sublayer, g);
        else if (r->diverged_layer)
            rp_say(f, " (first non-finite: layer %ld's %s; last finite gradient norm %s)",
                   r->diverged_layer, rp_nonfinite_name(r->diverged_tensor), g);
    }
    if (f)
        rp_say(f, ". A diverged run has no test score and is ranked nowhere.");
}

static int changed(const rp_run_t *r)
{
    return rp_usable(r) && r->diagnosis_final != RP_NONE && !is_diverged(r) &&
           r->diagnosis != r->diagnosis_final;
}

/* One run's change of diagnosis, as a fact and in words. */
static void change_fact(rp_findings_t *fs, rp_finding_t *f, const rp_run_t *r, size_t i,
                        int say)
{
    char id[64], a[32], b[32];
    snprintf(id, sizeof id, "change.%zu", i);
    rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_CHANGE, id);
    if (t) {
        snprintf(t->verdict, sizeof t->verdict, "%s>%s", rp_diag_name(r->diagnosis),
                 rp_diag_name(r->diagnosis_final));
        snprintf(t->stat, sizeof t->stat, "grad_h_ratio_final");
        t->value = r->grad_h_ratio;
        t->value2 = r->grad_h_ratio_final;
        rp_fact_run(fs, t, r);
    }
    if (!say)
        return;
    rp_sci(a, sizeof a, r->grad_h_ratio);
    rp_sci(b, sizeof b, r->grad_h_ratio_final);
    rp_say(f, "%s%s: %s at init", f->n_facts > 1 ? "; " : "", r->label, rp_diag_name(r->diagnosis));
    if (isfinite(r->grad_h_ratio))
        rp_say(f, " (grad_h_ratio %s)", a);
    rp_say(f, ", %s by step %ld", rp_diag_name(r->diagnosis_final), r->sc->cell.steps);
    if (r->diagnosis_final == GS_DIAG_DEAD)
        rp_say(f, " (a layer's gradient exactly 0 or all its units dead)");
    else
        rp_say(f, " (%s)", b);
}

/* Runs whose diagnosis at the last logged step differs from the one at
 * initialization (a diverged end is told with the divergences). */
#define MAX_CHANGES_TOLD 6

static void find_changes(rp_findings_t *fs, const rp_exp_t *e)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < e->n_runs; i++)
        n += changed(&e->runs[i]);
    rp_finding_t *f = n ? rp_finding_new(fs, e, "layers-train") : NULL;
    if (!f)
        return;
    rp_say(f, "In %s, %zu run%s changed diagnosis during training - ", e->ex->name, n,
           n > 1 ? "s" : "");
    for (size_t i = 0; i < e->n_runs; i++)
        if (changed(&e->runs[i]))
            change_fact(fs, f, &e->runs[i], i, k++ < MAX_CHANGES_TOLD);
    rp_say(f, "%s.", n > MAX_CHANGES_TOLD ? "; ..." : "");
}

static void score_words(const rp_score_t *s, double v, char *buf, size_t len)
{
    if (s->higher_better)
        snprintf(buf, len, "%.1f%%", 100 * v);
    else
        rp_sci(buf, len, v);
}

static int cmp_median(const void *a, const void *b)
{
    const double *x = a, *y = b;   /* {median, index} pairs, best first */
    return x[0] > y[0] ? -1 : x[0] < y[0];
}

/* The ranked configurations: every one with a value and no diverged run,
 * best median first. ord[k] = {median (sign-adjusted), config index}. */
static size_t rank_order(const rp_config_t *cs, size_t nc, const rp_score_t *s, double (*ord)[2])
{
    size_t n = 0;
    for (size_t i = 0; i < nc; i++) {
        double v[cs[i].n + 1];
        long step;
        size_t k = rp_config_values(&cs[i], s, v);
        if (k == 0 || rp_config_diverged(&cs[i], &step) > 0)
            continue;
        double med = rp_median(v, k);
        ord[n][0] = s->higher_better ? med : -med;
        ord[n][1] = (double)i;
        n++;
    }
    qsort(ord, n, sizeof *ord, cmp_median);
    return n;
}

static void rank_fact(rp_findings_t *fs, rp_finding_t *f, const rp_config_t *a,
                      const rp_config_t *b, const rp_score_t *s, rp_sep_t sep, size_t k)
{
    static const char *const verdicts[] = {
        [RP_SEP_BETTER] = "better", [RP_SEP_WORSE] = "worse", [RP_SEP_TIED] = "not told apart",
        [RP_SEP_FEW] = "too few seeds",
    };
    char id[64];
    snprintf(id, sizeof id, "rank.%zu", k);
    rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_RANK, id);
    if (!t)
        return;
    rp_where(a->e, rp_config_run(a, 0), -1, t->where, sizeof t->where);
    rp_where(b->e, rp_config_run(b, 0), -1, t->versus, sizeof t->versus);
    snprintf(t->verdict, sizeof t->verdict, "%s", verdicts[sep]);
    snprintf(t->stat, sizeof t->stat, "%s", s->name);
    double va[a->n + 1], vb[b->n + 1];
    size_t na = rp_config_values(a, s, va), nb = rp_config_values(b, s, vb);
    t->value = rp_median(va, na);
    t->value2 = rp_median(vb, nb);
    for (size_t i = 0; i < a->n; i++)
        rp_fact_run(fs, t, rp_config_run(a, i));
    for (size_t i = 0; i < b->n; i++)
        rp_fact_run(fs, t, rp_config_run(b, i));
}

/* Configurations ranked by their test score, each against the next: ">"
 * when their repeats separate, "~" when they are not told apart; on fewer
 * than RP_MIN_SEEDS seeds the values are listed and nothing is ranked. */
static void find_ranking(rp_findings_t *fs, const rp_exp_t *e, const rp_score_t *s,
                         const char *chart)
{
    rp_config_t *cs;
    size_t nc = rp_configs(e, &cs);
    double (*ord)[2] = calloc(nc + 1, sizeof *ord);
    size_t n = ord ? rank_order(cs, nc, s, ord) : 0;
    rp_finding_t *f = n >= 2 ? rp_finding_new(fs, e, chart) : NULL;
    size_t seeds = cs ? cs[0].n : 0;
    if (f) {
        rp_say(f, "In %s, by median %s over ", e->ex->name,
               s->higher_better ? "test accuracy" : "test loss");
        if (seeds == 1)
            rp_say(f, "one seed (each configuration ran once, so none is ranked): ");
        else
            rp_say(f, "%zu seeds (\">\": every repeat better, or a paired sign test at %.0f%%; "
                   "\"~\": not told apart over %zu seeds): ", seeds, 100 * RP_SIGN_ALPHA, seeds);
    }
    for (size_t k = 0; f && k < n; k++) {
        const rp_config_t *a = &cs[(size_t)ord[k][1]];
        char v[32];
        double med = s->higher_better ? ord[k][0] : -ord[k][0];
        score_words(s, med, v, sizeof v);
        if (k > 0) {
            const rp_config_t *p = &cs[(size_t)ord[k - 1][1]];
            size_t m;
            const char *how;
            rp_sep_t sep = rp_separate(p, a, s, &m, &how);
            rank_fact(fs, f, p, a, s, sep, k);
            rp_say(f, sep == RP_SEP_FEW ? ", " : sep == RP_SEP_BETTER ? " > " : " ~ ");
        }
        rp_say(f, "%s %s", rp_config_run(a, 0)->config_label, v);
    }
    if (f)
        rp_say(f, ".");
    free(ord);
    free(cs);
}

/* Which the adding problem's configurations learned: test MSE below half
 * that of always answering 1, in how many repeats. */
#define BASELINE_SHARE 0.5

static void find_baseline(rp_findings_t *fs, const rp_exp_t *e)
{
    rp_config_t *cs;
    size_t nc = rp_configs(e, &cs);
    rp_finding_t *f = NULL;
    for (size_t i = 0; i < nc; i++) {
        size_t below = 0, tot = 0;
        double base = NAN, v[cs[i].n + 1];
        size_t k = rp_config_values(&cs[i], &rp_score_loss, v);
        for (size_t j = 0; j < cs[i].n; j++) {
            const rp_run_t *r = rp_config_run(&cs[i], j);
            if (!rp_usable(r) || is_diverged(r) || !isfinite(r->test_loss))
                continue;
            tot++;
            base = r->baseline_loss;
            below += r->test_loss < BASELINE_SHARE * r->baseline_loss;
        }
        if (!tot || (!f && !(f = rp_finding_new(fs, e, "loss"))))
            continue;
        char id[64], med[32];
        snprintf(id, sizeof id, "baseline.%zu", i);
        rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_BASELINE, id);
        const char *verdict = below == tot ? "learned" : below == 0 ? "did not learn" : "some";
        if (t) {
            rp_where(e, rp_config_run(&cs[i], 0), -1, t->where, sizeof t->where);
            snprintf(t->verdict, sizeof t->verdict, "%s", verdict);
            snprintf(t->stat, sizeof t->stat, "test_loss<%.2g*baseline", BASELINE_SHARE);
            t->value = rp_median(v, k);
            t->value2 = (double)below;
            for (size_t j = 0; j < cs[i].n; j++)
                rp_fact_run(fs, t, rp_config_run(&cs[i], j));
        }
        rp_sci(med, sizeof med, rp_median(v, k));
        if (!f->text[0])
            rp_say(f, "In %s, test MSE against always answering 1 (%.4f); \"learned\" is below "
                   "half of it: ", e->ex->name, base);
        else
            rp_say(f, "; ");
        rp_say(f, "%s %s", rp_config_run(&cs[i], 0)->config_label, med);
        if (tot == 1)
            rp_say(f, " (%s)", below ? "learned" : "did not learn");
        else
            rp_say(f, " (median; learned in %zu of %zu seeds)", below, tot);
    }
    if (f)
        rp_say(f, ".");
    free(cs);
}

/* Clipping: the share of steps it fired, per threshold (mean over the
 * runs of that threshold). */
static void find_clip_fired(rp_findings_t *fs, const rp_exp_t *e)
{
    int ca = rp_axis_of(e, "clip");
    if (ca < 0)
        return;
    rp_finding_t *f = NULL;
    for (size_t v = 0; v < e->ex->axes[ca].n_values; v++) {
        double sum = 0;
        size_t k = 0;
        for (size_t i = 0; i < e->n_runs; i++) {
            const rp_run_t *r = &e->runs[i];
            if (rp_usable(r) && rp_value_index(e, ca, r) == (int)v &&
                isfinite(r->clip_fraction) && r->sc->cell.clip > 0) {
                sum += r->clip_fraction;
                k++;
            }
        }
        if (!k || (!f && !(f = rp_finding_new(fs, e, "clipping"))))
            continue;
        char id[64];
        snprintf(id, sizeof id, "clip.%zu", v);
        rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_MEAN, id);
        if (t) {
            snprintf(t->where, sizeof t->where, "clip=%s", e->ex->axes[ca].values[v]);
            snprintf(t->stat, sizeof t->stat, "clip_fraction");
            t->value = sum / (double)k;
            for (size_t i = 0; i < e->n_runs; i++)
                if (rp_usable(&e->runs[i]) && rp_value_index(e, ca, &e->runs[i]) == (int)v &&
                    isfinite(e->runs[i].clip_fraction))
                    rp_fact_run(fs, t, &e->runs[i]);
        }
        if (!f->text[0])
            rp_say(f, "In %s, clipping fired on ", e->ex->name);
        else
            rp_say(f, ", ");
        rp_say(f, "%.0f%% of steps at clip %s", 100 * sum / (double)k, e->ex->axes[ca].values[v]);
    }
    if (f)
        rp_say(f, " (mean over the runs).");
}

static void find_training(rp_findings_t *fs, const rp_exp_t *e)
{
    const gs_cell_t *c = &first_usable(e)->sc->cell;
    find_diverged(fs, e);
    find_changes(fs, e);
    if (c->dataset == GS_DATA_ADDING) {
        find_baseline(fs, e);
        find_ranking(fs, e, &rp_score_loss, "loss");
    } else if (c->dataset == GS_DATA_DIGITS || GS_DATA_IS_TOKEN_TASK(c->dataset)) {
        find_ranking(fs, e, &rp_score_acc, "accuracy");
    }
    find_clip_fired(fs, e);
}

/* ---- theory and other per-run values ---- */

/* One value per run (stat names what it is), as a list in a sentence. */
static void find_values(rp_findings_t *fs, const rp_exp_t *e, const char *chart,
                        const char *stat, const char *what, double (*get)(const rp_run_t *))
{
    rp_finding_t *f = NULL;
    size_t n = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        double v = rp_usable(r) ? get(r) : NAN;
        if (!isfinite(v) || (!f && !(f = rp_finding_new(fs, e, chart))))
            continue;
        char id[64], g[32];
        snprintf(id, sizeof id, "%s.%zu", stat, i);
        rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_VALUE, id);
        if (t) {
            snprintf(t->stat, sizeof t->stat, "%s", stat);
            t->value = v;
            rp_fact_run(fs, t, r);
        }
        rp_sci(g, sizeof g, v);
        if (n++ == 0)
            rp_say(f, "In %s, %s: ", e->ex->name, what);
        if (n <= 12)
            rp_say(f, "%s%s %s", n > 1 ? ", " : "", r->label, g);
    }
    if (f)
        rp_say(f, "%s.", n > 12 ? ", ..." : "");
}

static double get_h_ratio(const rp_run_t *r) { return r->grad_h_ratio; }
static double get_res_growth(const rp_run_t *r) { return r->residual_growth_measured; }

/* A run the theory-slopes chart places: predicted and measured slope. */
static int has_slopes(const rp_run_t *r)
{
    return rp_usable(r) && isfinite(r->predicted_slope) && isfinite(r->measured_slope);
}

/* How many runs' measured gradient slope follows mean-field theory. */
static void find_theory(rp_findings_t *fs, const rp_exp_t *e)
{
    size_t n = 0, follow = 0;
    const rp_run_t *worst = NULL;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!has_slopes(r))
            continue;
        n++;
        double d = fabs(r->measured_slope - r->predicted_slope);
        follow += d <= RP_THEORY_TOL;
        if (d > RP_THEORY_TOL &&
            (!worst || d > fabs(worst->measured_slope - worst->predicted_slope)))
            worst = r;
    }
    if (n < 2)
        return;
    rp_finding_t *f = rp_finding_new(fs, e, "theory-slopes");
    rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_THEORY, "theory");
    if (!f)
        return;
    if (t) {
        snprintf(t->stat, sizeof t->stat, "|measured_slope-predicted_slope|<=%.2f", RP_THEORY_TOL);
        t->value = (double)follow;
        t->value2 = (double)n;
        for (size_t i = 0; i < e->n_runs; i++)
            if (has_slopes(&e->runs[i]))
                rp_fact_run(fs, t, &e->runs[i]);
    }
    rp_say(f, "In %s, the measured slope of ln ||dL/dh_l|| per layer follows mean-field theory "
           "within %.2f in %zu of %zu runs", e->ex->name, RP_THEORY_TOL, follow, n);
    if (worst)
        rp_say(f, "; the largest departure: %s (predicted %+.3f, measured %+.3f)", worst->label,
               worst->predicted_slope, worst->measured_slope);
    rp_say(f, ".");
}

/* ---- by experiment ---- */

/* The Jacobian's condition number per run (the spectrum chart's runs). */
static void find_spectrum(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    rp_finding_t *f = NULL;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        rp_jacobian_t j;
        if (rp_jacobian_stats(m, r, &j) != 0 || (!f && !(f = rp_finding_new(fs, e, "spectrum"))))
            continue;
        char id[64], g[32];
        snprintf(id, sizeof id, "condition.%zu", i);
        rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_VALUE, id);
        if (t) {
            snprintf(t->stat, sizeof t->stat, "condition");
            t->value = j.condition;
            t->value2 = j.below_floor;   /* the spectrum table's share below the SVD floor */
            rp_fact_run(fs, t, r);
        }
        rp_sci(g, sizeof g, j.condition);
        if (!f->text[0])
            rp_say(f, "In %s, the condition number sigma_max / sigma_min of the input-output "
                   "Jacobian at init: ", e->ex->name);
        else
            rp_say(f, ", ");
        rp_say(f, "%s %s", r->label, isinf(j.condition) ? "infinite (a singular value is 0)" : g);
    }
    if (f)
        rp_say(f, ".");
}

static void find_probe(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    const gs_cell_t *c = &first_usable(e)->sc->cell;
    int da = rp_axis_of(e, "depth");
    if (c->model == GS_MODEL_TRANSFORMER) {   /* the rest: findings_transformer.c */
        find_diag_list(fs, e, "tf-gradient");
        find_values(fs, e, "tf-gradient", "grad_h_ratio", "||dL/dx|| of the residual stream "
                    "entering block 1 over that entering block L at initialization "
                    "(grad_h_ratio)", get_h_ratio);
        return;
    }
    if (c->model != GS_MODEL_MLP) {
        find_diag_list(fs, e, "time");
        find_values(fs, e, "time", "grad_h_ratio", "the gradient at t = 1 over that at the last "
                    "step at initialization (grad_h_ratio)", get_h_ratio);
        return;
    }
    if (da >= 0)
        find_depth_groups(fs, e, da);
    else
        find_diag_list(fs, e, "gradient-flow");
    if (c->spectrum)
        find_spectrum(m, fs, e);
    if (rp_axis_of(e, "residual") >= 0)
        find_values(fs, e, "gradient-flow", "residual_growth_measured", "ln(||x_l||^2/n) of the "
                    "residual networks grows per block by", get_res_growth);
}

static void find_experiment(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    const rp_run_t *r0 = first_usable(e);
    if (!r0)
        return;
    if (r0->sc->cell.task == GS_TASK_PROBE) {
        find_probe(m, fs, e);
    } else {
        if (rp_axis_of(e, "depth") >= 0 && r0->sc->cell.model == GS_MODEL_MLP)
            find_depth_groups(fs, e, rp_axis_of(e, "depth"));
        else
            find_diag_list(fs, e, r0->sc->cell.model == GS_MODEL_MLP ? "gradient-flow" : "time");
        find_training(fs, e);
    }
    find_theory(fs, e);
    rp_find_transformer(m, fs, e);
    rp_find_lowprec_train(m, fs, e);
    if (r0->sc->cell.format_stats)
        rp_find_lowprec(m, fs, e);
}

int rp_findings_build(rp_model_t *m, rp_findings_t *fs)
{
    for (size_t e = 0; e < m->n_exps; e++)
        find_experiment(m, fs, &m->exps[e]);
    return fs->oom ? -1 : 0;
}
