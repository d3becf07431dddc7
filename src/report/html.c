/* index.html: the sweep at a glance (counts, findings written from the
 * data, each linked to its evidence), one section per experiment with its
 * charts and runs, a sortable table of every run, and provenance. Every
 * string from the config or the database is HTML-escaped. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report/model.h"
#include "util/clock.h"

/* ---- output helpers ---- */

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* printf into a buffer, then escaped */
static void escf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void escf(FILE *f, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    esc(f, buf);
}

static void num(char *buf, size_t len, double v, const char *fmt)
{
    if (isnan(v))
        snprintf(buf, len, "%s", "");
    else
        snprintf(buf, len, fmt, v);
}

/* A table cell with a sort value: numbers sort by data-value. */
static void td_num(FILE *f, double v, const char *fmt)
{
    char shown[64], exact[64];
    num(shown, sizeof shown, v, fmt);
    num(exact, sizeof exact, v, "%.17g");
    fprintf(f, "<td class=\"num\" data-value=\"%s\">%s</td>", exact, shown);
}

static void td_text(FILE *f, const char *s, const char *cls)
{
    fprintf(f, "<td%s%s%s>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
    esc(f, s);
    fputs("</td>", f);
}

/* A cell of a configuration key: numeric keys sort as numbers. */
static void td_key(FILE *f, const gs_cell_t *c, const char *key)
{
    char v[128], *end;
    gs_cell_format(c, key, v, sizeof v);
    double d = strtod(v, &end);
    if (*end == '\0' && end != v)
        td_num(f, d, "%g");
    else
        td_text(f, v, NULL);
}

static const char *diag_class(const rp_run_t *r)
{
    static char buf[40];
    snprintf(buf, sizeof buf, "diag diag-%s", r->stored ? (r->diagnosis[0] ? r->diagnosis : r->status) : "missing");
    return buf;
}

/* ---- findings ---- */

typedef struct {
    char text[1024];
    char anchor[200];   /* id of the evidence in the page */
} finding_t;

typedef struct {
    finding_t *items;
    size_t n;
} findings_t;

static void add_finding(findings_t *fs, const char *anchor, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_finding(findings_t *fs, const char *anchor, const char *fmt, ...)
{
    finding_t *it = realloc(fs->items, (fs->n + 1) * sizeof *it);
    if (!it)
        return;
    fs->items = it;
    finding_t *f = &it[fs->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
    snprintf(f->anchor, sizeof f->anchor, "%s", anchor);
}

static void sci(char *buf, size_t len, double v)
{
    if (!isfinite(v))
        snprintf(buf, len, "%g", v);
    else if (v != 0 && (fabs(v) < 1e-3 || fabs(v) >= 1e4))
        snprintf(buf, len, "%.1e", v);
    else
        snprintf(buf, len, "%.3g", v);
}

/* A usable run with value v of axis aa (any run when aa < 0). */
static int of_value(const rp_exp_t *e, int aa, size_t v, const rp_run_t *r)
{
    return rp_usable(r) && (aa < 0 || rp_value_index(e, aa, r) == (int)v);
}

/* The smallest depth d from which every run with value v of axis aa is
 * in state bad (deeper ones included); -1 when there is none. *cnt gets
 * those runs' count, *extreme their smallest grad_ratio (vanishing) or
 * largest (exploding). */
static long depth_from(const rp_exp_t *e, int aa, size_t v, const char *bad, int vanishing,
                       size_t *cnt, double *extreme)
{
    long best = -1;
    for (size_t i = 0; i < e->n_runs; i++) {
        if (!of_value(e, aa, v, &e->runs[i]))
            continue;
        long d = e->runs[i].sc->cell.depth;
        int ok = 1;
        size_t c = 0;
        double ex = vanishing ? INFINITY : 0;
        for (size_t j = 0; j < e->n_runs; j++) {
            const rp_run_t *q = &e->runs[j];
            if (!of_value(e, aa, v, q) || q->sc->cell.depth < d)
                continue;
            c++;
            if (strcmp(q->diagnosis, bad) != 0)
                ok = 0;
            ex = vanishing ? fmin(ex, q->grad_ratio) : fmax(ex, q->grad_ratio);
        }
        if (ok && c > 0 && (best < 0 || d < best)) {
            best = d;
            *cnt = c;
            *extreme = ex;
        }
    }
    return best;
}

/* Whether the runs with value v of axis aa are there and all healthy;
 * *maxd gets their largest depth. */
static int all_healthy(const rp_exp_t *e, int aa, size_t v, long *maxd)
{
    int any = 0, healthy = 1;
    *maxd = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!of_value(e, aa, v, r))
            continue;
        any = 1;
        *maxd = r->sc->cell.depth > *maxd ? r->sc->cell.depth : *maxd;
        if (strcmp(r->diagnosis, "healthy") != 0)
            healthy = 0;
    }
    return any && healthy;
}

/* Depth thresholds: per activation, the depth from which every network
 * vanished (or exploded); activations healthy at every depth. */
static void find_depth(const rp_exp_t *e, findings_t *fs, const char *anchor)
{
    int da = rp_axis_of(e, "depth"), aa = rp_axis_of(e, "activation");
    if (da < 0)
        return;
    const gs_axis_t *act = aa >= 0 ? &e->ex->axes[aa] : NULL;
    size_t nact = act ? act->n_values : 1;
    char healthy[1024] = "";
    long healthy_depth = 0, maxd;
    size_t n_healthy = 0;
    for (size_t v = 0; v < nact; v++) {
        static const char *const bad[] = {"vanishing", "exploding"};
        for (int b = 0; b < 2; b++) {
            size_t cnt = 0;
            double extreme = NAN;
            long best = depth_from(e, aa, v, bad[b], b == 0, &cnt, &extreme);
            if (best < 0)
                continue;
            char g[32];
            sci(g, sizeof g, extreme);
            add_finding(fs, anchor, "In %s, all %zu %s networks of depth %ld and more %s "
                        "(grad_ratio %s %s).", e->ex->name, cnt, act ? act->values[v] : "",
                        best, b == 0 ? "vanished" : "exploded", b == 0 ? "down to" : "up to", g);
            break;
        }
        if (act && all_healthy(e, aa, v, &maxd)) {
            size_t l = strlen(healthy);
            snprintf(healthy + l, sizeof healthy - l, "%s%s", n_healthy ? ", " : "", act->values[v]);
            n_healthy++;
            healthy_depth = maxd > healthy_depth ? maxd : healthy_depth;
        }
    }
    if (n_healthy == 0)
        return;
    int ia = rp_axis_of(e, "init");
    char inits[512] = "";
    for (size_t v = 0; ia >= 0 && v < e->ex->axes[ia].n_values; v++) {
        size_t l = strlen(inits);
        snprintf(inits + l, sizeof inits - l, "%s%s",
                 v ? (v + 1 == e->ex->axes[ia].n_values ? " and " : ", ") : "",
                 e->ex->axes[ia].values[v]);
    }
    add_finding(fs, anchor, "In %s, %s stayed healthy at every depth up to %ld%s%s.",
                e->ex->name, healthy, healthy_depth, ia >= 0 ? " under " : "",
                ia >= 0 ? inits : "");
}

/* Runs whose diagnosis at the end of training differs from the one at
 * initialization (a diverged end is reported with the divergences). */
static void find_diag_change(const rp_exp_t *e, findings_t *fs, const char *anchor)
{
    char list[1024] = "";
    size_t n = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!rp_usable(r) || !r->diagnosis_final[0] || strcmp(r->diagnosis_final, "diverged") == 0 ||
            strcmp(r->diagnosis, r->diagnosis_final) == 0)
            continue;
        if (n++ < 4) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s: %s at init (ratio %.2g), %s by step %ld "
                     "(%.2g)", l ? "; " : "", r->label, r->diagnosis, r->grad_ratio,
                     r->diagnosis_final, r->sc->cell.steps, r->grad_ratio_final);
        }
    }
    if (n)
        add_finding(fs, anchor, "In %s, %zu run%s changed diagnosis during training - "
                    "%s%s.", e->ex->name, n, n > 1 ? "s" : "", list, n > 4 ? "; ..." : "");
}

/* The adding problem: the test MSE of each run against the baseline. */
static void find_adding(const rp_exp_t *e, findings_t *fs, const char *anchor)
{
    char add[1024] = "";
    double base = NAN;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!rp_usable(r) || !isfinite(r->baseline_loss) || !isfinite(r->test_loss))
            continue;
        base = r->baseline_loss;
        size_t l = strlen(add);
        snprintf(add + l, sizeof add - l, "%s%s %.4g", l ? ", " : "", r->label, r->test_loss);
    }
    if (add[0])
        add_finding(fs, anchor, "In %s, test MSE: %s (always answering 1 scores %.3f).",
                    e->ex->name, add, base);
}

/* Clipping: how often it fired, per threshold. */
static void find_clip_fired(const rp_exp_t *e, findings_t *fs, const char *anchor)
{
    int ca = rp_axis_of(e, "clip");
    if (ca < 0)
        return;
    char fired[1024] = "";
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
        if (k) {
            size_t l = strlen(fired);
            snprintf(fired + l, sizeof fired - l, "%s%.0f%% of steps at clip %s", l ? ", " : "",
                     100 * sum / k, e->ex->axes[ca].values[v]);
        }
    }
    if (fired[0])
        add_finding(fs, anchor, "In %s, clipping fired on %s.", e->ex->name, fired);
}

static void find_train(const rp_exp_t *e, findings_t *fs, const char *anchor)
{
    find_diag_change(e, fs, anchor);
    const rp_run_t *best = NULL, *worst = NULL;
    size_t diverged = 0, trained = 0;
    char div[512] = "";
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!rp_usable(r) || r->sc->cell.task != GS_TASK_TRAIN)
            continue;
        trained++;
        if (r->diverged_step) {
            if (diverged < 4) {
                size_t l = strlen(div);
                snprintf(div + l, sizeof div - l, "%s%s (step %ld, first non-finite: layer %d's "
                         "%s; last finite gradient norm %.3g)", diverged ? "; " : "", r->label,
                         r->diverged_step, r->diverged_layer, r->diverged_tensor,
                         r->last_finite_grad_norm);
            }
            diverged++;
        }
        if (isfinite(r->test_acc) && r->sc->cell.dataset == GS_DATA_DIGITS) {
            if (!best || r->test_acc > best->test_acc)
                best = r;
            if (!worst || r->test_acc < worst->test_acc)
                worst = r;
        }
    }
    if (best && worst && best != worst)
        add_finding(fs, anchor, "In %s, the best configuration (%s) reached %.1f%% test accuracy; "
                    "the worst (%s, %s at initialization) %.1f%%.", e->ex->name, best->label,
                    100 * best->test_acc, worst->label, worst->diagnosis, 100 * worst->test_acc);
    if (diverged)
        add_finding(fs, anchor, "In %s, %zu of %zu training runs diverged: %s%s.", e->ex->name,
                    diverged, trained, div, diverged > 4 ? "; ..." : "");
    else if (trained > 1 && rp_axis_of(e, "clip") >= 0)
        add_finding(fs, anchor, "In %s, none of the %zu training runs diverged.", e->ex->name, trained);
    find_adding(e, fs, anchor);
    find_clip_fired(e, fs, anchor);
}

static void find_ratio_by_axis(const rp_exp_t *e, findings_t *fs, const char *anchor,
                               const char *key, const char *what)
{
    int a = rp_axis_of(e, key);
    if (a < 0)
        return;
    char list[1024] = "";
    for (size_t i = 0; i < e->n_runs && strlen(list) < 700; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!rp_usable(r) || r->sc->cell.repeat)
            continue;
        char g[32];
        sci(g, sizeof g, r->grad_ratio);
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s %s", l ? ", " : "", r->label, g);
    }
    if (list[0])
        add_finding(fs, anchor, "In %s, %s: %s.", e->ex->name, what, list);
}

#define THEORY_TOL 0.03   /* per layer: a slope within this follows the theory */

/* How the measured gradient slopes of an experiment compare with
 * mean-field theory: how many follow it, and the largest departures. */
/* The theory of residual networks and of the rnn, where an experiment
 * has such runs: length growth per block; the per-step bound. */
static void find_theory_other(const rp_exp_t *e, findings_t *fs, const char *anchor)
{
    char res[768] = "", rnn[768] = "";
    size_t nr = 0, nb = 0, within = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!rp_usable(r))
            continue;
        if (isfinite(r->residual_growth_predicted) && isfinite(r->residual_growth_measured) &&
            nr++ < 4) {
            size_t l = strlen(res);
            snprintf(res + l, sizeof res - l, "%s%s %.3f (predicted %.3f)", l ? "; " : "",
                     r->label, r->residual_growth_measured, r->residual_growth_predicted);
        }
        if (isfinite(r->step_bound) && isfinite(r->measured_slope)) {
            within += r->measured_slope <= r->step_bound + THEORY_TOL;
            if (nb++ < 4) {
                size_t l = strlen(rnn);
                snprintf(rnn + l, sizeof rnn - l, "%s%s %+.3f per step (bound %+.3f)",
                         l ? "; " : "", r->label, r->measured_slope, r->step_bound);
            }
        }
    }
    if (nr)
        add_finding(fs, anchor, "In %s, ln ||x_l||^2 of the residual networks grows per block by "
                    "%s%s.", e->ex->name, res, nr > 4 ? "; ..." : "");
    if (nb)
        add_finding(fs, anchor, "In %s, the plain RNN's gradient ln ||dL/dh_t|| changes per step "
                    "toward t = 1 by %s%s: %zu of %zu within Pascanu's bound ln(lambda_1 gamma).",
                    e->ex->name, rnn, nb > 4 ? "; ..." : "", within, nb);
}

static void find_theory(const rp_exp_t *e, findings_t *fs, const char *anchor)
{
    size_t n = 0, follow = 0;
    find_theory_other(e, fs, anchor);
    const rp_run_t *worst[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        if (!rp_usable(r) || !isfinite(r->predicted_slope) || !isfinite(r->measured_slope))
            continue;
        n++;
        double d = fabs(r->measured_slope - r->predicted_slope);
        if (d <= THEORY_TOL) {
            follow++;
            continue;
        }
        for (int k = 0; k < 3; k++)   /* keep the three largest departures */
            if (!worst[k] || d > fabs(worst[k]->measured_slope - worst[k]->predicted_slope)) {
                for (int j = 2; j > k; j--)
                    worst[j] = worst[j - 1];
                worst[k] = r;
                break;
            }
    }
    if (n < 2)
        return;
    char list[768] = "";
    for (int k = 0; k < 3 && worst[k]; k++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s (predicted %+.3f, measured %+.3f)",
                 k ? "; " : "", worst[k]->label, worst[k]->predicted_slope,
                 worst[k]->measured_slope);
    }
    if (follow == n)
        add_finding(fs, anchor, "In %s, the measured gradient slope of all %zu runs follows "
                    "mean-field theory within %.2f per layer.", e->ex->name, n, THEORY_TOL);
    else
        add_finding(fs, anchor, "In %s, the measured gradient slope of %zu of %zu runs follows "
                    "mean-field theory within %.2f per layer; the largest departures: %s.",
                    e->ex->name, follow, n, THEORY_TOL, list);
}

/* Normalization probes: the spread of the last layer's output per run. */
static void find_norm_spread(rp_model_t *m, const rp_exp_t *e, findings_t *fs, const char *anchor,
                             long depth)
{
    char list[1024] = "";
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        rp_series_t s;
        if (!rp_usable(r) || rp_layer_series(m, r, "act_std", &s) != 0)
            continue;
        if (s.n) {
            char g[32];
            sci(g, sizeof g, s.y[s.n - 1]);
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s %s", l ? ", " : "", r->label, g);
        }
        rp_series_free(&s);
    }
    if (list[0])
        add_finding(fs, anchor, "In %s, the std of the last layer's output at depth %ld: %s.",
                    e->ex->name, depth, list);
}

/* The fallback finding: the networks that did not stay healthy, by name. */
static void find_unhealthy(const rp_exp_t *e, findings_t *fs, const char *anchor)
{
    static const char *const dn[] = {"vanished", "exploded", "diverged"};
    static const char *const dk[] = {"vanishing", "exploding", "diverged"};
    size_t healthy = 0, total = 0;
    for (size_t i = 0; i < e->n_runs; i++)
        if (rp_usable(&e->runs[i])) {
            total++;
            healthy += strcmp(e->runs[i].diagnosis, "healthy") == 0;
        }
    char text[900] = "";
    for (int d = 0; d < 3; d++) {
        char list[600] = "";
        size_t k = 0;
        for (size_t i = 0; i < e->n_runs; i++) {
            const rp_run_t *r = &e->runs[i];
            if (!rp_usable(r) || strcmp(r->diagnosis, dk[d]) != 0)
                continue;
            size_t l = strlen(list);
            if (k < 6)
                snprintf(list + l, sizeof list - l, "%s%s", k ? ", " : "", r->label);
            k++;
        }
        if (k) {
            size_t l = strlen(text);
            snprintf(text + l, sizeof text - l, "%s%s%s %s", l ? "; " : "", list,
                     k > 6 ? ", ..." : "", dn[d]);
        }
    }
    if (text[0])
        add_finding(fs, anchor, "In %s, %s; the other %zu of %zu stayed healthy.", e->ex->name,
                    text, healthy, total);
    else
        add_finding(fs, anchor, "In %s, all %zu networks stayed healthy.", e->ex->name, total);
}

static void find_experiment(rp_model_t *m, const rp_exp_t *e, findings_t *fs, const char *anchor)
{
    const rp_run_t *r0 = NULL;
    for (size_t i = 0; i < e->n_runs && !r0; i++)
        if (rp_usable(&e->runs[i]))
            r0 = &e->runs[i];
    if (!r0)
        return;
    size_t before = fs->n;
    const gs_cell_t *c = &r0->sc->cell;
    char what[128];
    find_theory(e, fs, anchor);
    if (c->model != GS_MODEL_MLP && c->task == GS_TASK_PROBE) {
        snprintf(what, sizeof what, "the gradient at t=1 over that at t=%ld at initialization is",
                 c->seq_len);
        if (e->ex->n_axes > 0)   /* one configuration: no ratios to set side by side */
            find_ratio_by_axis(e, fs, anchor, rp_axis_of(e, "model") >= 0 ? "model" : e->ex->axes[0].key, what);
    } else if (rp_axis_of(e, "residual") >= 0) {
        snprintf(what, sizeof what, "grad_ratio at depth %ld is", c->depth);
        find_ratio_by_axis(e, fs, anchor, "residual", what);
    } else if (rp_axis_of(e, "norm") >= 0 && c->task == GS_TASK_PROBE) {
        find_norm_spread(m, e, fs, anchor, c->depth);
    } else {
        find_depth(e, fs, anchor);
    }
    if (c->task == GS_TASK_TRAIN)
        find_train(e, fs, anchor);
    if (fs->n == before)
        find_unhealthy(e, fs, anchor);
}

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "margin:0 auto;max-width:1280px;padding:0 1.5em 3em;color:#222;line-height:1.45}"
    "h1{margin:.8em 0 .2em}h2{border-bottom:2px solid #0072b2;padding-bottom:.2em;margin-top:2em}"
    ".desc{color:#444;max-width:60em}"
    ".partial{background:#fff4d6;border:1px solid #e69f00;padding:.6em 1em;border-radius:4px}"
    ".badges span{display:inline-block;margin:.2em .4em .2em 0;padding:.15em .6em;border-radius:1em;"
    "background:#eee;font-size:.95em}"
    "nav{margin:1em 0;font-size:.95em}nav a{margin-right:1em}"
    "figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}"
    "figcaption{color:#444;max-width:70em;margin-top:.3em}"
    "table{border-collapse:collapse;font-size:.85em;margin:1em 0;display:block;overflow-x:auto}"
    "th,td{padding:.25em .6em;border-bottom:1px solid #e5e5e5;text-align:left;white-space:nowrap}"
    "th{background:#f3f3f3;cursor:pointer;user-select:none;position:sticky;top:0}"
    "th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".diag-healthy,.badges .diag-healthy{background:#d9f0e3}"
    ".diag-vanishing,.badges .diag-vanishing{background:#d6e6f5}"
    ".diag-exploding,.badges .diag-exploding{background:#fbe0cc}"
    ".diag-diverged,.badges .diag-diverged{background:#f6c9c0}"
    ".diag-failed{background:#e0e0e0}.diag-missing{color:#888}"
    "pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:.85em}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}";

static const char script[] =
    "document.querySelectorAll('table.sortable').forEach(function(t){\n"
    "  var hs=t.tHead.rows[0].cells;\n"
    "  Array.prototype.forEach.call(hs,function(th,i){\n"
    "    th.addEventListener('click',function(){\n"
    "      var asc=th.getAttribute('aria-sort')!=='ascending';\n"
    "      Array.prototype.forEach.call(hs,function(h){h.removeAttribute('aria-sort');});\n"
    "      th.setAttribute('aria-sort',asc?'ascending':'descending');\n"
    "      var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);\n"
    "      function key(r){var c=r.cells[i],v=c.getAttribute('data-value');\n"
    "        if(v===null)v=c.textContent;var n=Number(v);\n"
    "        return v!==''&&isFinite(n)?{n:n}:{s:v};}\n"
    "      rows.sort(function(x,y){var a=key(x),c=key(y),r;\n"
    "        if('n' in a&&'n' in c)r=a.n-c.n;else if('n' in a)r=-1;else if('n' in c)r=1;\n"
    "        else r=a.s.localeCompare(c.s);return asc?r:-r;});\n"
    "      rows.forEach(function(r){b.appendChild(r);});\n"
    "    });\n"
    "  });\n"
    "});\n";

static void write_axes(FILE *f, const rp_exp_t *e)
{
    fputs("<p><b>Varies:</b> ", f);
    if (e->ex->n_axes == 0)
        fputs("nothing (one configuration)", f);
    for (size_t a = 0; a < e->ex->n_axes; a++) {
        escf(f, "%s%s (", a ? "; " : "", e->ex->axes[a].key);
        for (size_t v = 0; v < e->ex->axes[a].n_values; v++)
            escf(f, "%s%s", v ? ", " : "", e->ex->axes[a].values[v]);
        fputs(")", f);
    }
    const gs_cell_t *c = &e->runs[0].sc->cell;
    fputs(". <b>Fixed:</b> ", f);
    int first = 1;
    char v[128];
    gs_key_info_t k;
    for (size_t i = 0; gs_cell_key_info(i, &k); i++) {
        if (!(k.flags & GS_KEYF_HEADLINE) || rp_varies(e, k.name) ||
            (c->task == GS_TASK_PROBE && (k.flags & GS_KEYF_TRAINING)) ||
            (c->model == GS_MODEL_MLP && (k.flags & GS_KEYF_RECURRENT)))
            continue;
        gs_cell_format(c, k.name, v, sizeof v);
        escf(f, "%s%s=%s", first ? "" : ", ", k.name, v);
        first = 0;
    }
    fprintf(f, "; %zu cells, %zu stored.</p>\n", e->n_runs, e->n_stored);
}

static void write_run_table(FILE *f, const rp_exp_t *e)
{
    int train = e->runs[0].sc->cell.task == GS_TASK_TRAIN, theory = 0;
    for (size_t i = 0; i < e->n_runs; i++)
        theory |= isfinite(e->runs[i].predicted_slope);
    fputs("<table class=\"sortable\"><thead><tr>", f);
    for (size_t a = 0; a < e->ex->n_axes; a++) {
        fputs("<th>", f);
        esc(f, e->ex->axes[a].key);
        fputs("</th>", f);
    }
    fputs("<th>status</th><th>diagnosis</th><th>grad_ratio</th>", f);
    if (theory)
        fputs("<th>predicted slope</th><th>measured slope</th><th>deviation</th>", f);
    if (train)
        fputs("<th>diagnosis_final</th><th>grad_ratio_final</th>"
              "<th>train_loss</th><th>test_loss</th><th>test_acc</th><th>clip_fraction</th>"
              "<th>diverged_step</th><th>diverged at</th>", f);
    fputs("<th>wall_s</th></tr></thead><tbody>\n", f);
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *r = &e->runs[i];
        fputs("<tr>", f);
        for (size_t a = 0; a < e->ex->n_axes; a++)
            td_key(f, &r->sc->cell, e->ex->axes[a].key);
        td_text(f, r->stored ? r->status : "missing", NULL);
        td_text(f, r->stored ? (r->diagnosis[0] ? r->diagnosis : r->status) : "", diag_class(r));
        td_num(f, r->grad_ratio, "%.3g");
        if (theory) {
            td_num(f, r->predicted_slope, "%+.4f");
            td_num(f, r->measured_slope, "%+.4f");
            td_num(f, r->measured_slope - r->predicted_slope, "%+.4f");
        }
        if (train) {
            td_text(f, r->diagnosis_final, NULL);
            td_num(f, r->grad_ratio_final, "%.3g");
            td_num(f, r->train_loss, "%.4g");
            td_num(f, r->test_loss, "%.4g");
            td_num(f, r->test_acc, "%.4f");
            td_num(f, r->clip_fraction, "%.3f");
            td_num(f, r->diverged_step ? (double)r->diverged_step : NAN, "%.0f");
            char at[64] = "";
            if (r->diverged_layer)
                snprintf(at, sizeof at, "layer %d, %s", r->diverged_layer, r->diverged_tensor);
            td_text(f, at, NULL);
        }
        td_num(f, r->wall_s, "%.2f");
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static void write_all_runs(FILE *f, const rp_model_t *m)
{
    const char *keys[64];   /* the headline keys, in table order */
    size_t nk = 0;
    gs_key_info_t k;
    for (size_t i = 0; gs_cell_key_info(i, &k) && nk < sizeof keys / sizeof *keys; i++)
        if (k.flags & GS_KEYF_HEADLINE)
            keys[nk++] = k.name;
    fputs("<table class=\"sortable\" id=\"all-runs\"><thead><tr><th>experiment</th><th>run</th>", f);
    for (size_t i = 0; i < nk; i++)
        fprintf(f, "<th>%s</th>", keys[i]);   /* key names: no escaping needed */
    fputs("<th>status</th><th>diagnosis</th><th>grad_ratio</th><th>test_loss</th>"
          "<th>test_acc</th><th>wall_s</th><th>rank</th></tr></thead><tbody>\n", f);
    for (size_t e = 0; e < m->n_exps; e++)
        for (size_t i = 0; i < m->exps[e].n_runs; i++) {
            const rp_run_t *r = &m->exps[e].runs[i];
            if (!r->stored)
                continue;
            fputs("<tr>", f);
            td_text(f, m->exps[e].ex->name, NULL);
            td_text(f, r->label, NULL);
            for (size_t j = 0; j < nk; j++)
                td_key(f, &r->sc->cell, keys[j]);
            td_text(f, r->status, NULL);
            td_text(f, r->diagnosis[0] ? r->diagnosis : r->status, diag_class(r));
            td_num(f, r->grad_ratio, "%.3g");
            td_num(f, r->test_loss, "%.4g");
            td_num(f, r->test_acc, "%.4f");
            td_num(f, r->wall_s, "%.2f");
            td_num(f, (double)r->rank, "%.0f");
            fputs("</tr>\n", f);
        }
    fputs("</tbody></table>\n", f);
}

static void write_figure(FILE *f, const rp_chart_t *c)
{
    char id[200];
    snprintf(id, sizeof id, "%s", c->file + strlen("charts/"));
    char *dot = strrchr(id, '.');
    if (dot)
        *dot = '\0';
    fputs("<figure id=\"chart-", f);
    esc(f, id);
    fputs("\"><img src=\"", f);
    esc(f, c->file);
    fputs("\" alt=\"", f);
    esc(f, c->title);
    fputs("\" width=\"1200\" height=\"700\"><figcaption>", f);
    esc(f, c->caption);
    fputs("</figcaption></figure>\n", f);
}

static void write_head(FILE *f, const rp_model_t *m)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", f);
    escf(f, "gradsweep report: %s", m->sw.name);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n<h1>", css);
    esc(f, m->sw.name);
    fputs("</h1>\n<p class=\"desc\">", f);
    esc(f, m->sw.description[0] ? m->sw.description : "(no description)");
    fputs("</p>\n", f);
    if (m->live || m->n_stored < m->sw.n_cells) {
        fputs("<p class=\"partial\"><b>Partial data:</b> ", f);
        escf(f, "%zu of %zu cells are stored", m->n_stored, m->sw.n_cells);
        if (m->live)
            escf(f, "; a run is writing the database now (host %s, pid %ld) - reload the "
                    "report later", m->live_host, m->live_pid);
        fputs(".</p>\n", f);
    }
    fputs("<p class=\"badges\">", f);
    fprintf(f, "<span>%zu cells</span>", m->sw.n_cells);
    for (int k = 0; k < GS_N_STATUS; k++)
        if (k < GS_STATUS_CRASHED || m->by_status[k])   /* crashed: only when there are */
            fprintf(f, "<span>%ld %s</span>", m->by_status[k], gs_status_names[k]);
    fputs("</p><p class=\"badges\">", f);
    for (int d = 0; d < GS_N_DIAG; d++)
        fprintf(f, "<span class=\"diag-%s\">%ld %s</span>", gs_diag_names[d], m->by_diag[d],
                gs_diag_names[d]);
    fputs("</p>\n", f);
    fputs("</header>\n", f);
}

static void write_nav(FILE *f, const rp_model_t *m, const rp_charts_t *gallery)
{
    fputs("<nav><a href=\"#findings\">Findings</a>", f);
    if (gallery->n)
        fputs("<a href=\"#activation-gallery\">Activations</a>", f);
    for (size_t e = 0; e < m->n_exps; e++) {
        fputs("<a href=\"#exp-", f);
        esc(f, m->exps[e].ex->slug);
        fputs("\">", f);
        esc(f, m->exps[e].ex->name);
        fputs("</a>", f);
    }
    fputs("<a href=\"#all-runs-section\">All runs</a><a href=\"#provenance\">Provenance</a></nav>\n", f);
}

static void write_findings(FILE *f, const findings_t *fs)
{
    fputs("<section id=\"findings\"><h2>Findings</h2>\n<ul>\n", f);
    if (fs->n == 0)
        fputs("<li>No measurements stored yet.</li>\n", f);
    for (size_t i = 0; i < fs->n; i++) {
        fputs("<li>", f);
        esc(f, fs->items[i].text);
        fputs(" <a href=\"#", f);
        esc(f, fs->items[i].anchor);
        fputs("\">evidence</a></li>\n", f);
    }
    fputs("</ul>\n</section>\n", f);
}

/* The activation gallery, then one section per experiment: its axes,
 * charts and runs. */
static void write_experiments(FILE *f, const rp_model_t *m, const rp_charts_t *gallery,
                              const rp_charts_t *per_exp)
{
    if (gallery->n) {
        fputs("<section id=\"activation-gallery\"><h2>Activation functions</h2>\n", f);
        for (size_t i = 0; i < gallery->n; i++)
            write_figure(f, &gallery->items[i]);
        fputs("</section>\n", f);
    }
    for (size_t e = 0; e < m->n_exps; e++) {
        const rp_exp_t *x = &m->exps[e];
        fputs("<section class=\"experiment\" id=\"exp-", f);
        esc(f, x->ex->slug);
        fputs("\"><h2>", f);
        esc(f, x->ex->name);
        fputs("</h2>\n", f);
        write_axes(f, x);
        if (per_exp[e].n == 0)
            fputs("<p><i>No charts: no measurements of this experiment are stored yet.</i></p>\n", f);
        for (size_t i = 0; i < per_exp[e].n; i++)
            write_figure(f, &per_exp[e].items[i]);
        write_run_table(f, x);
        fputs("</section>\n", f);
    }
    fputs("<section id=\"all-runs-section\"><h2>All runs</h2>\n<p>Click a column header to "
          "sort; click again to reverse.</p>\n", f);
    write_all_runs(f, m);
    fputs("</section>\n", f);
}

static void write_session(FILE *f, size_t i, const rp_session_t *s)
{
    char n[32], w[32], rk[32], th[32], r0[300];
    snprintf(n, sizeof n, "%zu", i + 1);
    snprintf(w, sizeof w, "%.1f s", s->wall_s);
    snprintf(rk, sizeof rk, "%ld", s->ranks);
    snprintf(th, sizeof th, "%ld", s->threads);
    snprintf(r0, sizeof r0, "%s pid %ld", s->host, s->pid);
    const char *const cells[] = {n, s->status, s->started, s->ended, w, s->hosts, rk, th, r0,
                                 s->version};
    fputs("<tr>", f);
    for (size_t c = 0; c < sizeof cells / sizeof *cells; c++)
        td_text(f, cells[c], NULL);
    fputs("</tr>\n", f);
}

/* The database, the config, and every session that wrote it. */
static void write_provenance(FILE *f, const rp_model_t *m)
{
    fputs("<section id=\"provenance\"><h2>Provenance</h2>\n<dl>\n", f);
    char now[32];
    gs_utc_iso(now, sizeof now);
    fputs("<dt>database</dt><dd>", f);
    esc(f, m->db_path);
    fputs("</dd>\n<dt>config</dt><dd>", f);
    esc(f, m->sw.path);
    fprintf(f, "</dd>\n<dt>report written</dt><dd>%s by gradsweep %s</dd>\n", now, PACKAGE_VERSION);
    fputs("</dl>\n<table><thead><tr><th>run</th><th>status</th><th>started</th><th>ended</th>"
          "<th>wall time</th><th>hosts</th><th>ranks</th><th>threads per rank</th>"
          "<th>rank 0</th><th>gradsweep</th></tr></thead><tbody>\n", f);
    for (size_t i = 0; i < m->n_sessions; i++)
        write_session(f, i, &m->sessions[i]);
    fputs("</tbody></table>\n<h3>Config</h3>\n<pre>", f);
    esc(f, m->sw.text);
    fputs("</pre>\n</section>\n", f);
}

int rp_write_html(rp_model_t *m, const char *dir, const rp_charts_t *gallery,
                  const rp_charts_t *per_exp, char *err, size_t errlen)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/index.html", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        return -1;
    }
    findings_t fs = {0};
    for (size_t e = 0; e < m->n_exps; e++) {
        char anchor[160];
        snprintf(anchor, sizeof anchor, "exp-%s", m->exps[e].ex->slug);
        find_experiment(m, &m->exps[e], &fs, anchor);
    }
    write_head(f, m);
    write_nav(f, m, gallery);
    write_findings(f, &fs);
    write_experiments(f, m, gallery, per_exp);
    write_provenance(f, m);
    fputs("<script>\n", f);
    fputs(script, f);
    fputs("</script>\n</body>\n</html>\n", f);
    free(fs.items);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}
