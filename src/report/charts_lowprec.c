/* Low precision (issue 20): for an experiment probed or trained with
 * format_stats=yes, the share of each hidden layer's dL/dh that float16,
 * bfloat16, e5m2 and e4m3 would round to zero, at the first measured
 * step - one panel a format, one line a configuration - and a caption
 * computed from the same rows: per format, how many configurations lose
 * more than half of some layer's gradient, and down from which layer. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "nn/format.h"
#include "report/charts.h"

/* the formats drawn (float32 flushes nothing a double net produces here) */
static const gs_fmt_id_t shown[] = {GS_FMT_FLOAT16, GS_FMT_BFLOAT16, GS_FMT_E5M2, GS_FMT_E4M3};
#define N_SHOWN (sizeof shown / sizeof *shown)
#define CAPTION_EXAMPLES 4   /* configurations named per format */

int rp_lowprec_half_lost(const rp_series_t *s)
{
    int k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->y[i] > 0.5 && s->x[i] > k)
            k = (int)s->x[i];
    return k;
}

/* "st", "nd", "rd" or "th" after n */
static const char *ordinal(long n)
{
    if (n % 100 >= 11 && n % 100 <= 13)
        return "th";
    return n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
}

/* The caption's sentence on format f from its lines: the configurations
 * that lose more than half of some layer's gradient, the first few named
 * with the layers lost and the first such layer counted from the output. */
static void format_sentence(const rp_exp_t *e, const rp_lineset_t *ls, gs_fmt_id_t f, char *buf,
                            size_t len)
{
    size_t n_lines = 0, n_lost = 0, used = 0;
    char examples[700] = "";
    for (size_t i = 0; i < ls->n_runs; i++) {
        if (!ls->lines[i].n)
            continue;
        n_lines++;
        int k = rp_lowprec_half_lost(&ls->lines[i]);
        if (k == 0)
            continue;
        long depth = e->runs[i].sc->cell.depth;
        if (n_lost++ < CAPTION_EXAMPLES)
            used += (size_t)snprintf(examples + used, used < sizeof examples ? sizeof examples - used : 0,
                                     "%s%s: layers 1-%d of %ld, the %ld%s from the output",
                                     used ? "; " : "", e->runs[i].config_label, k, depth,
                                     depth - k + 1, ordinal(depth - k + 1));
    }
    if (n_lost == 0)
        snprintf(buf, len, " %s: no layer loses more than half of its gradient (%zu "
                 "configurations).", gs_fmt_names[f], n_lines);
    else
        snprintf(buf, len, " %s: more than half of the gradient flushed to zero in %zu of %zu "
                 "configurations (%s%s).", gs_fmt_names[f], n_lost, n_lines, examples,
                 n_lost > CAPTION_EXAMPLES ? "; ..." : "");
}

int rp_chart_lowprec(rp_model_t *m, rp_exp_t *e, const char *dir, rp_charts_t *out, char *err,
                     size_t errlen)
{
    const rp_run_t *r0 = rp_first_usable(e);
    if (!r0 || !r0->sc->cell.format_stats || r0->sc->cell.model != GS_MODEL_MLP)
        return 0;
    rp_lineset_t ls[N_SHOWN];
    size_t loaded = 0;
    int rc = 0;
    for (; loaded < N_SHOWN; loaded++)
        if (rp_lineset_load(&ls[loaded], m, e, e->n_runs, rp_format_zero_series,
                            gs_fmt_names[shown[loaded]]) != 0)
            goto done;   /* no rows (an older database): no chart */
    int ca = rp_axis_of(e, "activation");
    if (ca < 0 && e->ex->n_axes > 0)
        ca = 0;
    int shown_axes[2] = {ca, rp_axis_of(e, "depth")};
    char note[512];
    rp_unshown_note(e, shown_axes, 2, -1, note, sizeof note);
    rp_chart_name_t nm;
    gs_chart_t *c = rp_chart_start(e, "lowprec", "share of each layer's dL/dh flushed to zero "
                                   "by low-precision formats", &nm);
    if (!c)
        goto done;
    gs_chart_grid(c, 2, 2, ca >= 0 ? 24 : 0);
    char cap[2048];
    size_t used = (size_t)snprintf(cap, sizeof cap,
        "The share of each hidden layer's backpropagated gradient dL/dh_l that each format "
        "would round to zero (round-to-nearest-even from the double value; float16 flushes "
        "|x| <= 2^-25, bfloat16 2^-134, e5m2 2^-17, e4m3 2^-10), at the first measured step, "
        "one line a configuration (depth shows as the length of a line).");
    for (size_t k = 0; k < N_SHOWN; k++) {
        double max_depth = ls[k].x.hi;
        gs_chart_axes(c, (int)k, 1, max_depth < 2 ? 2 : max_depth, 0, 1, GS_AXIS_INT, 0,
                      "layer l (1 = next to the input)", k % 2 == 0 ? "share flushed to zero" : NULL,
                      gs_fmt_names[shown[k]]);
        for (size_t i = 0; i < ls[k].n_runs; i++)
            if (ls[k].lines[i].n)
                rp_lineset_draw(c, &ls[k], i, rp_value_index(e, ca, &e->runs[i]), 0);
        gs_chart_hline(c, 0.5, GS_SERIES_GREY, GS_DASHED, k == 0 ? "half" : NULL);
        if (used < sizeof cap)
            format_sentence(e, &ls[k], shown[k], cap + used, sizeof cap - used);
        used = strlen(cap);
    }
    if (ca >= 0)
        rp_axis_legend(c, &e->ex->axes[ca], RP_MAX_LINES);
    if (used < sizeof cap)
        snprintf(cap + used, sizeof cap - used, "%s", note);
    rc = rp_chart_publish(c, m, dir, nm.file, nm.title, ls[0].used, ls[0].n_used, cap, out, err,
                          errlen);
done:
    for (size_t k = 0; k < loaded; k++)
        rp_lineset_free(&ls[k]);
    return rc;
}
