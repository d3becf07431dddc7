/* The charts of what training did: loss curves (with where runs
 * diverged), clipping (gradient norms before and after, final losses),
 * and test accuracy over repeats. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "report/charts.h"
#include "report/findings.h"   /* rp_sci: numbers in the caption as in the findings */

/* ---- 4 (and 10b). training loss against step ---- */

/* Where run r diverged: its step, and the last finite value of its
 * logged column before it (its own, not its configuration's median);
 * top when none was logged. */
static double diverged_at(rp_model_t *m, const rp_run_t *r, const char *column, double top)
{
    rp_series_t s = {0};
    double y = top;
    if (rp_log_series(m, r, column, &s) == 0)
        for (size_t j = 0; j < s.n && s.x[j] <= (double)r->diverged_step; j++)
            if (isfinite(s.y[j]) && s.y[j] > 0)
                y = s.y[j];
    rp_series_free(&s);
    return y;
}

/* A cross where each diverged run of e stopped on the lines of column,
 * in its line's colour (series[i] for run i's configuration); the count. */
static size_t mark_divergence(gs_chart_t *c, rp_model_t *m, const rp_lineset_t *ls,
                              const int *series, const char *column, double top)
{
    const rp_exp_t *e = ls->e;
    size_t n = 0;
    for (size_t i = 0, first = 0; i < ls->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (i == 0 || r->sc->combo != e->runs[i - 1].sc->combo)
            first = i;   /* the configuration's slot: its line and colour */
        if (!rp_usable(r) || !r->diverged_step || !ls->lines[first].n)
            continue;
        char s[320];
        snprintf(s, sizeof s, "diverged: %s", r->label);
        gs_chart_series(c, s);
        gs_chart_marker(c, (double)r->diverged_step, diverged_at(m, r, column, top),
                        series[first], GS_MARK_CROSS | GS_MARK_CLAMP);
        n++;
    }
    return n;
}

/* A held-out line ending this much above its minimum is named in the
 * caption as over-fitting (or unlearning) after its best step. */
#define RP_OVERFIT_RISE 1.1

/* The configurations whose drawn held-out line (the median over repeats)
 * ends at least RP_OVERFIT_RISE times its minimum, in words into buf
 * ("a (lowest 0.12 at step 300, 0.19 at step 1000); b (...)"); their
 * count. Read from the very lines the chart draws. */
static size_t overfit_note(const rp_lineset_t *held, char *buf, size_t len)
{
    size_t n = 0, used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < held->n_runs; i++) {
        const rp_series_t *l = &held->lines[i];
        size_t best = 0, last = 0, any = 0;
        for (size_t j = 0; j < l->n; j++)
            if (isfinite(l->y[j])) {
                if (!any++ || l->y[j] < l->y[best])
                    best = j;
                last = j;
            }
        if (!any || !(l->y[last] >= RP_OVERFIT_RISE * l->y[best]) || best == last)
            continue;
        char lo[32], hi[32];
        rp_sci(lo, sizeof lo, l->y[best]);
        rp_sci(hi, sizeof hi, l->y[last]);
        if (used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%s (lowest %s at step %.0f, %s "
                                     "at step %.0f)", n ? "; " : "",
                                     held->e->runs[i].config_label, lo, l->x[best], hi,
                                     l->x[last]);
        n++;
    }
    return n;
}

int rp_chart_loss(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    const rp_run_t *r0 = rp_first_usable(e);
    rp_lineset_t ls, held = {0};
    if (!r0 || r0->sc->cell.task != GS_TASK_TRAIN ||
        rp_lineset_load(&ls, m, e, RP_MAX_LINES, rp_log_series, "loss") != 0)
        return 0;
    /* the held-out loss of the same runs (none: eval_rows=0, or a database
     * from before schema 8, whose rows have NULL there) */
    int have_held = rp_lineset_load(&held, m, e, RP_MAX_LINES, rp_log_series,
                                    "heldout_loss") == 0;
    const char **labels = calloc(ls.n_drawn + 1, sizeof *labels);
    char (*lab)[300] = calloc(ls.n_drawn + 1, sizeof *lab);
    int *series = calloc(ls.n_drawn + 1, sizeof *series), *of_run = calloc(ls.n_runs + 1, sizeof *of_run);
    const rp_run_t **used = calloc(ls.n_used + held.n_used + 1, sizeof *used);
    int rc = 0;
    if (!labels || !lab || !series || !of_run || !used)
        goto done;
    double baseline = NAN;
    size_t nd = 0;
    long rows = 0;
    for (size_t i = 0; i < ls.n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!ls.lines[i].n)
            continue;
        if (isfinite(r->baseline_loss))
            baseline = r->baseline_loss;
        /* the diagnosis at init, and "-> the last one" where training changed it */
        char end[64] = "";
        if (r->status == GS_STATUS_DIVERGED)
            snprintf(end, sizeof end, ", diverged");
        else if (r->diagnosis_final != r->diagnosis && *rp_diag_name(r->diagnosis_final))
            snprintf(end, sizeof end, " -> %s", rp_diag_name(r->diagnosis_final));
        snprintf(lab[nd], sizeof lab[nd], "%s (%s%s)", r->config_label, rp_diag_name(r->diagnosis),
                 end);
        labels[nd] = lab[nd];
        of_run[i] = (int)nd;   /* colours by configuration, in order */
        series[nd] = (int)nd;
        nd++;
    }
    for (size_t i = 0; have_held && i < held.n_used; i++)
        if (held.used[i]->heldout_rows > rows)
            rows = held.used[i]->heldout_rows;
    if (isfinite(baseline))
        rp_values_add(&ls.y, &baseline, 1);
    if (have_held)
        rp_values_add(&ls.y, held.y.v, held.y.n);
    rp_range_t yr = rp_log_range(ls.y.v, ls.y.n, RP_BULK);
    double max_step = ls.x.hi > 1 ? ls.x.hi : 1;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "loss", have_held ? "training and held-out loss against step"
                                                         : "training loss against step", &nm);
    if (!c)
        goto done;
    char held_key[128];
    snprintf(held_key, sizeof held_key, "dashed: held-out loss (%ld test rows)", rows);
    gs_chart_grid(c, 1, 1, rp_longest(labels, nd, have_held ? held_key
                                                            : "band: 10-90% of 10 repeats"));
    gs_chart_axes(c, 0, 0, max_step, yr.lo, yr.hi, GS_AXIS_INT, GS_AXIS_LOG, "training step",
                  r0->sc->cell.dataset == GS_DATA_ADDING ? "loss (MSE)" : "loss (cross-entropy)",
                  NULL);
    for (size_t i = 0; i < ls.n_runs; i++)
        rp_lineset_draw(c, &ls, i, of_run[i], GS_SOLID);
    /* each configuration's held-out line, dashed in its colour (the
     * median over repeats, without a band: the training line's band says
     * how far repeats spread) */
    for (size_t i = 0; have_held && i < held.n_runs && i < ls.n_runs; i++) {
        const rp_series_t *l = &held.lines[i];
        if (!l->n || !ls.lines[i].n)
            continue;
        char s[320];
        snprintf(s, sizeof s, "held-out: %s", e->runs[i].config_label);
        gs_chart_series(c, s);
        gs_chart_line(c, l->x, l->y, l->n, of_run[i], GS_DASHED);
    }
    size_t n_div = mark_divergence(c, m, &ls, of_run, "loss", yr.hi);
    if (isfinite(baseline))
        gs_chart_hline(c, baseline, GS_SERIES_GREY, GS_THEORY, "answering 1 always (MSE ~ 1/6)");
    gs_chart_legend(c, nd, labels, series, NULL, "");
    if (have_held) {
        gs_chart_legend_key(c, "solid: training batch loss", GS_SERIES_GREY, GS_SOLID);
        gs_chart_legend_key(c, held_key, GS_SERIES_GREY, GS_DASHED);
    }
    rp_line_keys(c, e, -1, ls.bands, 0);
    if (n_div)
        gs_chart_legend_key(c, "diverged here (last finite loss)", GS_SERIES_GREY, GS_KEY_CROSS);
    char cap[2048], held_cap[1024] = "", over[768];
    if (have_held) {
        size_t n_over = overfit_note(&held, over, sizeof over);
        snprintf(held_cap, sizeof held_cap,
                 " Dashed in the same colour: the loss on %ld held-out test rows (the same rows "
                 "for every run and step, in evaluation mode, before the step's update), so "
                 "over-fitting shows as a dashed line that turns up while the solid one keeps "
                 "falling. %s%s%s",
                 rows, n_over ? "The held-out loss ends at least 10% above its lowest in: " : "",
                 n_over ? over : "No held-out line ends 10% or more above its lowest",
                 ".");
    }
    snprintf(cap, sizeof cap,
             "The loss of each logged training batch, on a log scale. A line that stays "
             "near its starting loss did not learn; one that ends in a cross went "
             "non-finite. Which runs did which, and their diagnoses at init, the findings "
             "above say from the same rows.%s%s%s%s",
             held_cap,
             n_div ? " A cross in a line's colour marks where a run diverged: at the step a "
                     "non-finite loss or gradient ended it, at the last finite loss it logged "
                     "(on the edge when that is beyond the axis; the CSV has its value)." : "",
             ls.bands ? " Where a configuration has repeats, its line is their median and the "
                        "shaded band their 10-90% range." : "",
             isfinite(baseline) ? " The dotted line is the adding problem's baseline: a "
                                  "model that always answers 1." : "");
    size_t n_used = 0;
    for (size_t i = 0; i < ls.n_used; i++)
        used[n_used++] = ls.used[i];
    for (size_t i = 0; have_held && i < held.n_used; i++) {
        size_t k = 0;
        while (k < n_used && used[k] != held.used[i])
            k++;
        if (k == n_used)
            used[n_used++] = held.used[i];
    }
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, used, n_used, cap, out, err, errlen);
done:
    rp_lineset_free(&ls);
    if (have_held)
        rp_lineset_free(&held);
    free(labels);
    free(lab);
    free(series);
    free(of_run);
    free(used);
    return rc;
}

/* ---- 6. clipping ---- */

/* Left panel: the pre-clip gradient norm of every run over training,
 * coloured by threshold (ca) and dashed by mode (ma), the thresholds, and
 * a cross where a run diverged; the count of those. */
static size_t clip_norms(gs_chart_t *c, rp_model_t *m, rp_lineset_t *ls, int ca, int ma)
{
    const rp_exp_t *e = ls->e;
    const gs_axis_t *cx = &e->ex->axes[ca];
    double max_step = ls->x.hi > 1 ? ls->x.hi : 1;
    int *of_run = calloc(ls->n_runs + 1, sizeof *of_run);
    for (size_t i = 0; i < ls->n_drawn; i++)
        if (ls->drawn[i]->sc->cell.clip > 0)
            rp_values_add(&ls->y, &ls->drawn[i]->sc->cell.clip, 1);
    rp_range_t yr = rp_log_range(ls->y.v, ls->y.n, RP_BULK);
    gs_chart_axes(c, 0, 0, max_step, yr.lo, yr.hi, GS_AXIS_INT, GS_AXIS_LOG, "training step",
                  "gradient norm before clipping", "pre-clip ||g|| over training");
    for (size_t i = 0; i < ls->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (of_run)
            of_run[i] = rp_value_index(e, ca, r);
        rp_lineset_draw(c, ls, i, rp_value_index(e, ca, r), rp_value_index(e, ma, r) > 0);
    }
    for (size_t v = 0; v < cx->n_values; v++) {
        double t = strtod(cx->values[v], NULL);
        if (t > 0) {
            char l[64];
            snprintf(l, sizeof l, "clip %s", cx->values[v]);
            gs_chart_hline(c, t, GS_SERIES_GREY, GS_DASHED, l);
        }
    }
    size_t n_div = of_run ? mark_divergence(c, m, ls, of_run, "grad_norm", yr.hi) : 0;
    free(of_run);
    return n_div;
}

/* The median final training loss of the runs with threshold v (axis ca)
 * and mode md (axis ma); *div when any of them diverged. */
static double clip_final_loss(const rp_exp_t *e, int ca, int ma, size_t v, size_t md, int *div)
{
    double vals[64], lo, hi;
    size_t nv = 0;
    *div = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!rp_usable(r) || rp_value_index(e, ca, r) != (int)v || rp_value_index(e, ma, r) != (int)md)
            continue;
        if (isfinite(r->train_loss) && nv < sizeof vals / sizeof *vals)
            vals[nv++] = r->train_loss;
        *div |= r->diverged_step || !isfinite(r->train_loss);
    }
    return rp_quantiles(vals, nv, &lo, &hi);
}

/* Right panel: the final training loss against the threshold, one line
 * per mode, a cross at the top where a run diverged (it has no final
 * loss); the count of those. */
static size_t clip_losses(gs_chart_t *c, const rp_exp_t *e, int ca, int ma)
{
    const gs_axis_t *cx = &e->ex->axes[ca];
    rp_range_t lr = {INFINITY, -INFINITY};
    size_t n_div = 0;
    for (size_t i = 0; i < e->n_runs; i++)
        if (rp_usable(&e->runs[i]))
            rp_range_add(&lr, &e->runs[i].train_loss, 1, 1);
    rp_log_pad(&lr);
    gs_chart_axes(c, 1, -0.5, (double)cx->n_values - 0.5, lr.lo, lr.hi, 0, GS_AXIS_LOG, NULL,
                  "final training loss", "final loss against the clip threshold");
    gs_chart_xcategories(c, cx->n_values, (const char *const *)cx->values);
    size_t modes = ma >= 0 ? e->ex->axes[ma].n_values : 1;
    for (size_t md = 0; md < modes; md++) {
        double xs[32], ys[32];
        size_t k = 0;
        char s[128];
        snprintf(s, sizeof s, "final loss%s%s", ma >= 0 ? ", " : "", ma >= 0 ? e->ex->axes[ma].values[md] : "");
        for (size_t v = 0; v < cx->n_values && v < 32; v++, k++) {
            int div;
            xs[k] = (double)v;
            ys[k] = clip_final_loss(e, ca, ma, v, md, &div);
            if (div) {
                gs_chart_series(c, "diverged: no final loss");
                gs_chart_marker(c, (double)v, lr.hi / 2, 6, GS_MARK_CROSS);
                gs_chart_text(c, (double)v, lr.hi / 1.4, 0.5, 0.8, "diverged");
                n_div++;
            }
        }
        gs_chart_series(c, s);
        gs_chart_line(c, xs, ys, k, 6, md > 0 ? GS_DASHED : GS_SOLID);
        for (size_t j = 0; j < k; j++)
            gs_chart_marker(c, xs[j], ys[j], 6, GS_MARK_CIRCLE);
    }
    return n_div;
}

/* One entry per threshold and mode (no mode without clip), then the
 * final loss per mode. */
static void clip_legend(gs_chart_t *c, const rp_exp_t *e, int ca, int ma)
{
    const gs_axis_t *cx = &e->ex->axes[ca];
    size_t modes = ma >= 0 ? e->ex->axes[ma].n_values : 1;
    const char *labels[40];
    char buf[40][96];
    int series[40], dashed[40];
    size_t nl = 0;
    for (size_t v = 0; v < cx->n_values && nl < 30; v++)
        for (size_t md = 0; md < modes && nl < 30; md++) {
            if (md > 0 && strtod(cx->values[v], NULL) <= 0)
                continue;   /* no mode without clip: one cell (gs_cell_settle) */
            snprintf(buf[nl], sizeof buf[nl], "clip %s%s%s", cx->values[v], ma >= 0 ? ", " : "",
                     ma >= 0 ? e->ex->axes[ma].values[md] : "");
            labels[nl] = buf[nl];
            series[nl] = (int)v;
            dashed[nl] = md > 0;
            nl++;
        }
    for (size_t md = 0; md < modes && nl < 40; md++) {   /* the right panel's lines */
        snprintf(buf[nl], sizeof buf[nl], "final loss%s%s", ma >= 0 ? ", " : "",
                 ma >= 0 ? e->ex->axes[ma].values[md] : "");
        labels[nl] = buf[nl];
        series[nl] = 6;
        dashed[nl] = md > 0;
        nl++;
    }
    gs_chart_legend(c, nl, labels, series, dashed, "");
}

/* The legend's keys for the crosses, when there are any. */
static void clip_keys(gs_chart_t *c, size_t on_norms, size_t on_losses)
{
    if (on_norms)
        gs_chart_legend_key(c, "left: diverged here", GS_SERIES_GREY, GS_KEY_CROSS);
    if (on_losses)
        gs_chart_legend_key(c, "right: diverged, no final loss", GS_SERIES_GREY, GS_KEY_CROSS);
}

int rp_chart_clip(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                      size_t errlen)
{
    int ca;
    const rp_run_t *r0 = rp_varying(e, "clip", &ca);
    if (!r0 || r0->sc->cell.task != GS_TASK_TRAIN)
        return 0;
    int ma = rp_axis_of(e, "clip_mode");
    rp_lineset_t ls;
    if (rp_lineset_load(&ls, m, e, RP_MAX_LINES, rp_log_series, "grad_norm") != 0)
        return 0;
    int rc = 0;
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "clipping", "gradient clipping", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 2, 1, 31);
    size_t on_norms = clip_norms(c, m, &ls, ca, ma);
    size_t on_losses = clip_losses(c, e, ca, ma);
    clip_legend(c, e, ca, ma);
    rp_line_keys(c, e, -1, ls.bands, 0);
    clip_keys(c, on_norms, on_losses);
    int shown[2] = {ca, ma};
    char note[512], cap[1400];
    rp_unshown_note(e, shown, 2, -1, note, sizeof note);
    snprintf(cap, sizeof cap, "%s%s%s%s",
             "Left: the global gradient norm before clipping at every logged step, with "
             "the thresholds as dashed lines - clipping rescales every step above its line. "
             "Right: the training loss each threshold ends with (the median over repeats). "
             "Clipping by norm keeps the direction of the gradient; clipping by value changes "
             "it. Without clipping there is no mode: that point is on the norm line.",
             on_norms ? " Crosses on the left mark where a run diverged (its step and last "
                        "finite norm); on the right, thresholds where a run diverged and so "
                        "has no final loss." : "",
             ls.bands ? " Shaded bands: the 10-90% range over repeats." : "",
             note);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, ls.used, ls.n_used, cap, out, err, errlen);
done:
    rp_lineset_free(&ls);
    return rc;
}

/* ---- 9. test accuracy as bars ---- */

/* A bar: a configuration's first run and its test accuracy, the median
 * over its repeats with their 10-90% range (n of them; diverged ones
 * have no accuracy: counted apart). */
typedef struct {
    const rp_run_t *r;
    double acc, lo, hi;
    size_t n, diverged, repeats;
} acc_bar_t;

/* Best first; a configuration without accuracy (all diverged) last. */
static int cmp_acc(const void *a, const void *b)
{
    const acc_bar_t *x = a, *y = b;
    double p = isfinite(x->acc) ? x->acc : -1, q = isfinite(y->acc) ? y->acc : -1;
    return p > q ? -1 : p < q;
}

static double get_test_acc(const rp_run_t *r) { return r->test_acc; }

/* The bar of the configuration whose runs start at i (repeats follow). */
static acc_bar_t acc_bar(const rp_exp_t *e, size_t i)
{
    acc_bar_t b = {&e->runs[i], NAN, NAN, NAN, 0, 0, 0};
    b.acc = rp_combo_median(e, i, get_test_acc, &b.lo, &b.hi, &b.n);
    for (size_t j = i; j < e->n_runs && e->runs[j].sc->combo == e->runs[i].sc->combo; j++)
        if (rp_usable(&e->runs[j])) {
            b.repeats++;
            b.diverged += e->runs[j].status == GS_STATUS_DIVERGED;
        }
    return b;
}

/* What a bar says beside it: accuracy, configuration, diagnosis, the
 * spread of its repeats and how many diverged. */
static void acc_label(const acc_bar_t *b, char *v, size_t len)
{
    const rp_run_t *r = b->r;
    char spread[80] = "", div[64] = "";
    if (b->n > 1)
        snprintf(spread, sizeof spread, ", median of %zu: %.1f-%.1f%%", b->n, 100 * b->lo,
                 100 * b->hi);
    if (b->diverged)
        snprintf(div, sizeof div, ", %zu of %zu diverged", b->diverged, b->repeats);
    if (isfinite(b->acc))
        snprintf(v, len, "%.1f%%  %s (%s%s%s)", 100 * b->acc, r->config_label,
                 rp_diag_name(r->diagnosis), spread, div);
    else
        snprintf(v, len, "%s (%s): diverged, no test accuracy", r->config_label,
                 rp_diag_name(r->diagnosis));
}

/* Bar i of n (best on top): its length the accuracy, its colour the
 * diagnosis, a whisker for the spread of its repeats, and its label
 * (inside a long bar, else right of the bar and its whisker). */
static void acc_draw_bar(gs_chart_t *c, const acc_bar_t *b, size_t i, size_t n)
{
    double y = (double)(n - 1 - i);
    int whisker = b->n > 1;   /* the spread of the repeats */
    char v[400];
    gs_chart_series(c, b->r->config_label);
    gs_chart_hbar(c, (size_t)y, b->acc, whisker ? b->lo : NAN, whisker ? b->hi : NAN,
                  rp_diag_series(b->r->diagnosis));
    acc_label(b, v, sizeof v);
    double at = isfinite(b->acc) ? b->acc : 0, end = whisker ? fmax(at, b->hi) : at;
    double w = gs_chart_text_width(c, 0.9, v), room = 0.99 - end - 0.01;
    if (w <= room)   /* right of the bar and its whisker */
        gs_chart_text(c, end + 0.01, y, 0.0, 0.9, v);
    else if (w + 0.02 <= (whisker ? fmin(at, b->lo) : at))   /* inside the bar */
        gs_chart_text(c, 0.01, y, 0.0, 0.9, v);
    else   /* right of it, smaller, down to 0.6 of the size; then over what it must */
        gs_chart_text(c, end + 0.01, y, 0.0, 0.9 * fmax(0.9 * room / w, 0.6), v);
}

/* Whether run r's test accuracy is a chart's: digits (accuracy means
 * something only on data with structure), trained. */
static int has_accuracy(const rp_run_t *r)
{
    return rp_usable(r) && r->sc->cell.task == GS_TASK_TRAIN &&
           (r->sc->cell.dataset == GS_DATA_DIGITS || GS_DATA_IS_TOKEN_TASK(r->sc->cell.dataset));
}

int rp_chart_acc(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                     size_t errlen)
{
    acc_bar_t *bars = calloc(e->n_runs + 1, sizeof *bars);
    const rp_run_t **runs = calloc(e->n_runs + 1, sizeof *runs);
    size_t n = 0, n_used = 0, whiskers = 0;
    int rc = 0;
    for (size_t i = 0; bars && runs && i < e->n_runs && n < 30; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!has_accuracy(r))
            continue;
        runs[n_used++] = r;
        if (i == 0 || e->runs[i - 1].sc->combo != r->sc->combo) {
            bars[n] = acc_bar(e, i);
            whiskers += bars[n++].n > 1;
        }
    }
    if (n == 0)
        goto done;
    qsort(bars, n, sizeof *bars, cmp_acc);
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "accuracy", "test accuracy per configuration", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 1, 1, 0);
    /* horizontal bars, best on top, labelled inside */
    gs_chart_hbar_axes(c, 0, 0, 1, n, "test accuracy");
    for (size_t i = 0; i < n; i++)
        acc_draw_bar(c, &bars[i], i, n);
    /* chance: the digits' 10 classes, a token task's vocab symbols (a
     * position's target is one of them) */
    const gs_cell_t *c0 = &runs[0]->sc->cell;
    long classes = c0->dataset == GS_DATA_DIGITS ? 10 : c0->vocab;
    char chance_label[64];
    snprintf(chance_label, sizeof chance_label, "chance (%ld %s)", classes,
             c0->dataset == GS_DATA_DIGITS ? "classes" : "symbols");
    gs_chart_series(c, chance_label);
    double chance = 1.0 / (double)classes;
    gs_chart_vline(c, chance, GS_SERIES_GREY, GS_DASHED, NULL);
    gs_chart_text(c, chance + 0.005, (double)n - 0.3, 0.0, 0.8, chance_label);
    char cap[1024];
    snprintf(cap, sizeof cap,
             "Final test accuracy of each configuration%s, best on top; bar colour gives the "
             "diagnosis at initialization (green healthy, blue vanishing, red exploding, black "
             "dead). The dashed line is chance, 1 in %ld%s: a network whose early layers "
             "receive no gradient stays near it.",
             whiskers ? " (the median over its repeats that did not diverge, with the whisker "
                        "from their 10% to their 90% quantile)"
                      : " (one run each: no spread to show)",
             classes, c0->dataset == GS_DATA_DIGITS ? "" : " (a token's accuracy: each "
                                                          "position's target among the vocab)");
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, runs, n_used, cap, out, err, errlen);
done:
    free(bars);
    free(runs);
    return rc;
}
