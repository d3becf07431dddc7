/* The findings of an experiment with format_stats=yes (issue 20), from
 * the rows its low-precision charts draw (charts_lowprec.c):
 *  - per run and format, the first hidden layer counted from the output
 *    whose dL/dh the format rounds more than half of to zero (zero_frac of
 *    grad_activation > 0.5 at the first measured step), beside the layer
 *    mean-field theory predicts from chi1 and the top layer's median |g|
 *    (a run computed in a format: its own format's share is that of its
 *    values that are zero - report/model.c);
 *  - per run and format, the loss-scale window [lo, hi] in powers of two
 *    (float64 runs: a reduced-precision run's gradients are scaled and
 *    flushed already),
 *    whether GradScaler's 2^16 lies in it, and when it is empty that no
 *    single loss scale can save the network;
 *  - e4m3 against e5m2 for gradients: how many runs each loses half of a
 *    layer in, how many windows are empty, how much wider e5m2's is.
 * Every number is a fact of kind "lowprec" (stat: half_lost, window,
 * fp8_half_lost, fp8_window_empty, fp8_window_wider) that tests/lowprec.sh
 * recomputes from format_stats, loss_scale_window, layer_stats and theory. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/charts.h"
#include "report/findings.h"

/* the formats of the layer finding, and of the window finding (the
 * loss-scale chart's: bfloat16's window spans some 250 powers of two) */
static const gs_fmt_id_t layer_fmts[] = {GS_FMT_FLOAT16, GS_FMT_BFLOAT16, GS_FMT_E5M2,
                                         GS_FMT_E4M3};
static const gs_fmt_id_t window_fmts[] = {GS_FMT_FLOAT16, GS_FMT_E5M2, GS_FMT_E4M3};
#define N_OF(a) (sizeof (a) / sizeof *(a))
#define RUNS_TOLD 8   /* runs named in a sentence; the facts hold every one */

/* The runs the findings read: usable, with format rows. */
static int has_formats(rp_model_t *m, const rp_run_t *r)
{
    rp_series_t s;
    if (!rp_usable(r) || rp_format_zero_series(m, r, gs_fmt_names[GS_FMT_FLOAT16], &s) != 0)
        return 0;
    int n = s.n > 0;
    rp_series_free(&s);
    return n;
}

/* A lowprec fact of run r (NULL when memory is short). */
static rp_fact_t *run_fact(rp_findings_t *fs, rp_finding_t *f, const rp_exp_t *e,
                           const rp_run_t *r, const char *stat, const char *id, const char *verdict)
{
    rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_LOWPREC, id);
    if (!t)
        return NULL;
    snprintf(t->stat, sizeof t->stat, "%s", stat);
    snprintf(t->verdict, sizeof t->verdict, "%s", verdict);
    rp_where(e, r, -1, t->where, sizeof t->where);
    rp_fact_run(fs, t, r);
    return t;
}

/* ---- the first layer, from the output, losing more than half ---- */

/* The layer counted from the output (1: the top hidden layer) of run r
 * where format f first loses more than half of dL/dh; 0 when none, -1
 * when r has no rows of f. */
static long half_lost_from_output(rp_model_t *m, const rp_run_t *r, gs_fmt_id_t f)
{
    rp_series_t s;
    if (rp_format_zero_series(m, r, gs_fmt_names[f], &s) != 0)
        return -1;
    long k = s.n ? rp_lowprec_from_output(&s, r->sc->cell.depth) : -1;
    rp_series_free(&s);
    return k;
}

static void find_half_lost(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    rp_finding_t *f = NULL;
    size_t told = 0, n = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!has_formats(m, r))
            continue;
        /* a transformer's layer is a block, its dL/dh the residual stream's dL/dx;
         * mean-field theory has no chi1 for it */
        int tf = r->sc->cell.model == GS_MODEL_TRANSFORMER;
        if (!f && tf) {
            if (!(f = rp_finding_new(fs, e, "lowprec")))
                return;
            rp_say(f, "In %s, the first block counted from the output (1st: the top one) "
                   "where a format rounds more than half of dL/dx - the residual stream's "
                   "gradient entering the block - to zero, at the first measured step: ",
                   e->ex->name);
        } else if (!f) {
            if (!(f = rp_finding_new(fs, e, "lowprec")))
                return;
            rp_say(f, "In %s, the first hidden layer counted from the output (1st: the top "
                   "one) where a format rounds more than half of dL/dh to zero, at the first "
                   "measured step (a run computed in a format: where more than half of its own "
                   "values are zero), and in brackets mean-field theory's layer 1 + 2 ln(median "
                   "|g_top| / t) / (-ln chi1), t the format's flush threshold (half its smallest "
                   "subnormal; float16 2^-25), median |g_top| = %.4f grad_pre_norm / sqrt(batch "
                   "width) of the top layer: a Gaussian's median |g| from the exact norm (the "
                   "exponent histogram fixes it only to a binade, +-2 ln 2 / (-ln chi1) layers); "
                   "\"<1\": the top layer's median is below t already, \">1000\": chi1 near 1: ",
                   e->ex->name, RP_GAUSS_MEDIAN_ABS);
        }
        int say = told < RUNS_TOLD;
        if (say && rp_axis_of(e, "depth") >= 0)
            rp_say(f, "%s%s:", told ? "; " : "", r->label);
        else if (say)
            rp_say(f, "%s%s (depth %ld):", told ? "; " : "", r->label, r->sc->cell.depth);
        told++;
        n++;
        for (size_t k = 0; k < N_OF(layer_fmts); k++) {
            gs_fmt_id_t fm = layer_fmts[k];
            long got = half_lost_from_output(m, r, fm);
            if (got < 0)
                continue;
            double pred = rp_lowprec_chi1_layer(m, r, fm);
            char id[96];
            snprintf(id, sizeof id, "half_lost.%zu.%s", i, gs_fmt_names[fm]);
            rp_fact_t *t = run_fact(fs, f, e, r, "half_lost", id, gs_fmt_names[fm]);
            if (t) {
                t->value = (double)got;
                t->value2 = pred;
            }
            if (!say)
                continue;
            if (got)
                rp_say(f, " %s %ld%s", gs_fmt_names[fm], got, rp_ordinal(got));
            else
                rp_say(f, " %s none", gs_fmt_names[fm]);
            if (!tf) {   /* theory's layer in brackets */
                if (!isfinite(pred))
                    rp_say(f, " (%s)", r->chi1 >= 1 ? "chi1 >= 1" : "no chi1");
                else if (pred < 1)
                    rp_say(f, " (<1)");
                else if (pred >= 1000)
                    rp_say(f, " (>1000)");
                else
                    rp_say(f, " (%.1f)", pred);
            }
            rp_say(f, "%s", k + 1 < N_OF(layer_fmts) ? "," : "");
        }
    }
    if (f)
        rp_say(f, "%s.", n > RUNS_TOLD ? "; ..." : "");
}

/* ---- the loss-scale window ---- */

/* Run r's window in format f: 0 with lo, hi; -1 when it has none. */
static int window_of(rp_model_t *m, const rp_run_t *r, gs_fmt_id_t f, double *lo, double *hi)
{
    rp_series_t s;
    if (rp_scale_window(m, r, gs_fmt_names[f], &s) != 0)
        return -1;
    int rc = s.n == 1 ? 0 : -1;
    if (rc == 0) {
        *lo = s.x[0];
        *hi = s.y[0];
    }
    rp_series_free(&s);
    return rc;
}

#define DEFAULT_SCALE_LOG2 16   /* GradScaler's initial scale, 2^16 (the chart's grey line) */

static const char *window_verdict(double lo, double hi)
{
    return lo > hi ? "empty"
           : lo <= DEFAULT_SCALE_LOG2 && DEFAULT_SCALE_LOG2 <= hi ? "2^16 inside"
                                                                  : "2^16 outside";
}

static void find_windows(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    rp_finding_t *f = NULL;
    size_t told = 0, n_empty[N_OF(window_fmts)] = {0}, n_in[N_OF(window_fmts)] = {0},
           n_of[N_OF(window_fmts)] = {0};
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!has_formats(m, r))
            continue;
        int said_run = 0;
        for (size_t k = 0; k < N_OF(window_fmts); k++) {
            gs_fmt_id_t fm = window_fmts[k];
            double lo, hi;
            if (window_of(m, r, fm, &lo, &hi) != 0)
                continue;
            if (!f) {
                if (!(f = rp_finding_new(fs, e, "loss-scale")))
                    return;
                rp_say(f, "In %s, the loss-scale window of dL/dh at the first measured step - "
                       "the powers of two [2^lo, 2^hi] by which the loss can be scaled so that "
                       "no layer loses more than 0.1%% of its nonzero gradient to zero and none "
                       "overflows - and whether GradScaler's initial 2^16 lies in it: ",
                       e->ex->name);
            }
            const char *v = window_verdict(lo, hi);
            char id[96];
            snprintf(id, sizeof id, "window.%zu.%s", i, gs_fmt_names[fm]);
            rp_fact_t *t = run_fact(fs, f, e, r, "window", id, v);
            if (t) {
                t->value = lo;
                t->value2 = hi;
            }
            n_of[k]++;
            n_empty[k] += lo > hi;
            n_in[k] += strcmp(v, "2^16 inside") == 0;
            if (told >= RUNS_TOLD)
                continue;
            if (!said_run++)
                rp_say(f, "%s%s:", told ? "; " : "", r->label);
            if (lo > hi)
                rp_say(f, " %s empty (2^%.0f > 2^%.0f)", gs_fmt_names[fm], lo, hi);
            else
                rp_say(f, " %s [2^%.0f, 2^%.0f] (%s)", gs_fmt_names[fm], lo, hi, v);
            rp_say(f, "%s", k + 1 < N_OF(window_fmts) ? "," : "");
        }
        told += said_run > 0;
    }
    if (!f)
        return;
    rp_say(f, "%s. Over %zu run%s, ", told > RUNS_TOLD ? "; ..." : "", n_of[0],
           n_of[0] == 1 ? "" : "s");
    size_t any_empty = 0;
    for (size_t k = 0; k < N_OF(window_fmts); k++) {
        rp_say(f, "%s%s's window holds 2^16 in %zu and is empty in %zu", k ? "; " : "",
               gs_fmt_names[window_fmts[k]], n_in[k], n_empty[k]);
        any_empty += n_empty[k];
    }
    rp_say(f, ".%s", any_empty ? " Where the window is empty, no single loss scale can save "
           "this network in that format." : "");
}

/* ---- e4m3 against e5m2 for gradients ---- */

static void find_fp8(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    static const gs_fmt_id_t fp8[2] = {GS_FMT_E4M3, GS_FMT_E5M2};
    size_t n = 0, half[2] = {0}, empty[2] = {0}, n_both = 0;
    double *wider = calloc(e->n_runs + 1, sizeof *wider);
    const rp_run_t **runs = calloc(e->n_runs + 1, sizeof *runs);
    if (!wider || !runs) {
        fs->oom = 1;
        goto done;
    }
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        double lo[2], hi[2];
        long got[2];
        int ok = has_formats(m, r);
        for (int k = 0; ok && k < 2; k++) {
            got[k] = half_lost_from_output(m, r, fp8[k]);
            ok = got[k] >= 0 && window_of(m, r, fp8[k], &lo[k], &hi[k]) == 0;
        }
        if (!ok)
            continue;
        runs[n++] = r;
        for (int k = 0; k < 2; k++) {
            half[k] += got[k] > 0;
            empty[k] += lo[k] > hi[k];
        }
        if (lo[0] <= hi[0] && lo[1] <= hi[1])
            wider[n_both++] = (hi[1] - lo[1]) - (hi[0] - lo[0]);
    }
    rp_finding_t *f = n ? rp_finding_new(fs, e, "lowprec") : NULL;
    if (!f)
        goto done;
    double med = rp_median(wider, n_both);
    /* value: e4m3's, value2: e5m2's (fp8_window_wider: the median, and
     * of how many runs); yes: the runs compared */
    const struct {
        const char *stat;
        double value, value2;
    } facts[] = {
        {"fp8_half_lost", (double)half[0], (double)half[1]},
        {"fp8_window_empty", (double)empty[0], (double)empty[1]},
        {"fp8_window_wider", med, (double)n_both},
    };
    for (size_t k = 0; k < N_OF(facts); k++) {
        rp_fact_t *t = rp_fact_new(fs, f, RP_FACT_LOWPREC, facts[k].stat);
        if (!t)
            break;
        snprintf(t->stat, sizeof t->stat, "%s", facts[k].stat);
        snprintf(t->verdict, sizeof t->verdict, "e4m3/e5m2");
        t->value = facts[k].value;
        t->value2 = facts[k].value2;
        t->yes = n;
        for (size_t i = 0; i < n; i++)
            rp_fact_run(fs, t, runs[i]);
    }
    const gs_fmt_t *a = &gs_formats[GS_FMT_E4M3], *b = &gs_formats[GS_FMT_E5M2];
    rp_say(f, "In %s, e4m3 against e5m2 for dL/dh (why FP8 recipes keep e5m2 for the backward "
           "pass): e4m3 rounds more than half of some layer's gradient to zero in %zu of %zu "
           "runs, e5m2 in %zu; e4m3's loss-scale window is empty in %zu, e5m2's in %zu",
           e->ex->name, half[0], n, half[1], empty[0], empty[1]);
    if (n_both)
        rp_say(f, "; where both are open, e5m2's is %.0f powers of two wider (median of %zu)",
               med, n_both);
    rp_say(f, ". e5m2 spends a bit on range: its values reach from 2^%.0f to %g, e4m3's from "
           "2^%.0f to %g - a gradient spread over more binades than e4m3 holds cannot be "
           "scaled into it.", log2(b->min_subnormal), b->max_finite, log2(a->min_subnormal),
           a->max_finite);
done:
    free(wider);
    free(runs);
}

void rp_find_lowprec(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e)
{
    find_half_lost(m, fs, e);
    find_windows(m, fs, e);
    find_fp8(m, fs, e);
}
