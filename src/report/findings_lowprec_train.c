/* The findings of an experiment with reduced-precision runs (issue 20,
 * precision=), from the lines charts_lowprec_train.c draws (one a
 * configuration, the median over its repeats):
 *  - lost updates: per configuration the share of the hidden layers'
 *    weight updates lost to rounding, the mean over the logged steps
 *    (fact stat lost_updates: value the mean, value2 the last step's);
 *  - the float64 twin: per configuration the first layer counted from the
 *    output whose ||dL/dh_l|| is off by more than 1% and 10% (twin_over_1,
 *    twin_over_10: value the layer from the output, 0 none; value2 the
 *    layer l) and the error's growth factor per layer (twin_growth: value
 *    the factor, value2 the layers fitted).
 * tests/precision_db.sh recomputes every number from the rows. */
#include <config.h>

#include <math.h>
#include <stdio.h>

#include "report/charts.h"
#include "report/findings.h"

/* A lowprec fact of the configuration whose line is on run i's slot:
 * every usable repeat of it (NULL when memory is short). */
static rp_fact_t *config_fact(rp_findings_t *fs, rp_finding_t *f, const rp_exp_t *e, size_t i,
                              const char *stat, double value, double value2)
{
    char id[96];
    snprintf(id, sizeof id, "%s.%zu", stat, i);
    rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_LOWPREC, id);
    if (!t)
        return NULL;
    snprintf(t->stat, sizeof t->stat, "%s", stat);
    snprintf(t->verdict, sizeof t->verdict, "%s", gs_precision_names[e->runs[i].sc->cell.precision]);
    t->value = value;
    t->value2 = value2;
    rp_where(e, &e->runs[i], -1, t->where, sizeof t->where);
    for (size_t j = i; j < e->n_runs && e->runs[j].sc->combo == e->runs[i].sc->combo; j++)
        if (rp_usable(&e->runs[j]))
            rp_fact_run(fs, t, &e->runs[j]);
    return t;
}

/* Load column's lines through load into ls and begin their finding,
 * which reads chart kind, with "In <experiment>, <what>:": NULL (ls not
 * to be freed) when no configuration has a line or memory is short. */
static rp_finding_t *lines_finding(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e,
                                   rp_lineset_t *ls, rp_loader_t load, const char *column,
                                   const char *kind, const char *what)
{
    if (rp_lineset_load(ls, m, e, e->n_runs, load, column) != 0)
        return NULL;
    rp_finding_t *f = rp_finding_new(fs, e, kind);
    if (!f) {
        fs->oom = 1;
        rp_lineset_free(ls);
        return NULL;
    }
    rp_say(f, "In %s, %s:", e->ex->name, what);
    return f;
}

/* Configuration d of ls in words, said in f (after a "; " but for the
 * first): its run slot. */
static size_t say_config(rp_finding_t *f, const rp_exp_t *e, const rp_lineset_t *ls, size_t d)
{
    size_t i = (size_t)(ls->drawn[d] - e->runs);
    char words[256];
    rp_precision_words(e, &e->runs[i], words, sizeof words);
    rp_say(f, "%s %s", d ? ";" : "", words);
    return i;
}

static void find_lost(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    rp_lineset_t ls;
    rp_finding_t *f = lines_finding(m, fs, e, &ls, rp_layer_log_mean, "lost_update_frac",
        "lost-updates", "the share of the hidden layers' nonzero weight updates lost to "
        "rounding (rounded back to the stored weight), the mean over the logged steps (and at "
        "the last logged step)");
    if (!f)
        return;
    for (size_t d = 0; d < ls.n_drawn; d++) {
        size_t i = say_config(f, e, &ls, d);
        const rp_series_t *l = &ls.lines[i];
        double mean = rp_series_mean(l), last = l->y[l->n - 1];
        config_fact(fs, f, e, i, "lost_updates", mean, last);
        rp_say(f, " loses %.2f%% (%.2f%%)", 100 * mean, 100 * last);
    }
    rp_say(f, ".");
    rp_lineset_free(&ls);
}

static void find_twin(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    rp_lineset_t ls;
    rp_finding_t *f = lines_finding(m, fs, e, &ls, rp_layer_series_set, "twin_rel_err",
        "twin-error", "at initialization, the first hidden layer counted from the output (1st: "
        "the top one) where ||dL/dh_l|| in the run's format is off from the float64 twin's by "
        "more than 1% / 10%, and the error's growth factor per layer towards the input (least "
        "squares of ln error against the layer, over 0 < error < 1)");
    if (!f)
        return;
    static const char *const stat[RP_N_TWIN_THRESHOLDS] = {"twin_over_1", "twin_over_10"};
    for (size_t d = 0; d < ls.n_drawn; d++) {
        size_t i = say_config(f, e, &ls, d);
        long depth = e->runs[i].sc->cell.depth;
        rp_say(f, ":");
        for (size_t t = 0; t < RP_N_TWIN_THRESHOLDS; t++) {
            long k = rp_twin_first_over(&ls.lines[i], depth, rp_twin_thresholds[t]);
            config_fact(fs, f, e, i, stat[t], (double)k, k ? (double)(depth - k + 1) : NAN);
            if (k)
                rp_say(f, " %ld%s (layer %ld of %ld)", k, rp_ordinal(k), depth - k + 1, depth);
            else
                rp_say(f, " none");
            rp_say(f, "%s", t + 1 < RP_N_TWIN_THRESHOLDS ? " /" : "");
        }
        size_t nf;
        double g = rp_twin_growth(&ls.lines[i], depth, &nf);
        config_fact(fs, f, e, i, "twin_growth", g, (double)nf);
        if (isfinite(g))
            rp_say(f, ", x%.3g a layer over %zu layers", g, nf);
        else
            rp_say(f, ", no growth measured (%zu layer%s with 0 < error < 1)", nf,
                   nf == 1 ? "" : "s");
    }
    rp_say(f, ".");
    rp_lineset_free(&ls);
}

void rp_find_lowprec_train(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    const rp_run_t *r0 = rp_first_usable(e);
    if (!r0 || r0->sc->cell.model == GS_MODEL_TRANSFORMER)
        return;
    find_lost(m, fs, e);
    find_twin(m, fs, e);
}
