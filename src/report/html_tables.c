/* The report's tables of runs: one per experiment and one of every run,
 * the outcome first (status, diagnosis at init, grad_h_ratio, test
 * accuracy - or the step a run diverged at), then the weight-gradient
 * ratio and the rest. A column that does not apply to a row is left
 * blank: a probe has no accuracy, an mlp no sequence length. And the
 * spectrum statistics beside the spectrum chart. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/html.h"

static const char *diag_class(const rp_run_t *r)
{
    static char buf[40];
    snprintf(buf, sizeof buf, "diag diag-%s",
             r->stored ? (r->diagnosis != RP_NONE ? rp_diag_name(r->diagnosis)
                                                : rp_status_name(r->status))
                       : "missing");
    return buf;
}

static int diverged(const rp_run_t *r)
{
    return rp_diverged(r);
}

/* Does key apply to the cell? Training keys not to a probe, recurrent
 * keys not to an mlp, clip_mode not without clip. */
static int key_applies(const gs_cell_t *c, const char *key)
{
    int flags = gs_cell_key_flags(key);
    if (c->task == GS_TASK_PROBE && (flags & GS_KEYF_TRAINING))
        return 0;
    if (c->model == GS_MODEL_MLP && (flags & GS_KEYF_RECURRENT))
        return 0;
    return !(strcmp(key, "clip_mode") == 0 && c->clip <= 0);
}

/* A cell of a configuration key: numeric keys sort as numbers; blank
 * where the key does not apply. */
static void td_key(FILE *f, const gs_cell_t *c, const char *key)
{
    char v[128], *end;
    if (!key_applies(c, key)) {
        fputs("<td></td>", f);
        return;
    }
    gs_cell_format(c, key, v, sizeof v);
    double d = strtod(v, &end);
    if (*end == '\0' && end != v)
        rp_td_num(f, d, "%g");
    else
        rp_td_text(f, v, NULL);
}

/* The test accuracy, or the step the run diverged at. */
static void td_acc(FILE *f, const rp_run_t *r)
{
    if (!diverged(r)) {
        rp_td_num(f, r->test_acc, "%.4f");
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "diverged at step %ld", r->diverged_step);
    rp_td_text(f, buf, "diverged");
}

/* status, diagnosis, grad_h_ratio and (acc) test_acc: the outcome columns. */
static void td_outcome(FILE *f, const rp_run_t *r, int acc)
{
    rp_td_text(f, r->stored ? rp_status_name(r->status) : "missing", NULL);
    rp_td_text(f,
               r->stored ? (r->diagnosis != RP_NONE ? rp_diag_name(r->diagnosis)
                                                    : rp_status_name(r->status))
                         : "",
               diag_class(r));
    rp_td_num(f, r->grad_h_ratio, "%.3g");
    if (acc)
        td_acc(f, r);
}

/* Their heads, then grad_ratio's (acc: with test_acc). */
static void th_outcome(FILE *f, int acc)
{
    fputs("<th>status</th><th>diagnosis</th><th title=\"||dL/dh_1|| / ||dL/dh_depth|| at init: "
          "the backpropagated gradient (recurrent: t = 1 over t = T); the diagnosis follows it\">"
          "grad_h_ratio</th>", f);
    if (acc)
        fputs("<th>test_acc</th>", f);
    fputs("<th title=\"||dL/dW_1|| / ||dL/dW_depth|| at init: the weight gradients, shown, "
          "never the verdict\">grad_ratio</th>", f);
}

/* The first non-finite tensor of a diverged run. */
static void td_diverged_at(FILE *f, const rp_run_t *r)
{
    char at[64] = "";
    if (r->diverged_sublayer[0])
        snprintf(at, sizeof at, "block %ld, %.8s, %s", r->diverged_layer, r->diverged_sublayer,
                 rp_nonfinite_name(r->diverged_tensor));
    else if (r->diverged_layer)
        snprintf(at, sizeof at, "layer %ld, %s", r->diverged_layer,
                 rp_nonfinite_name(r->diverged_tensor));
    rp_td_text(f, at, NULL);
}

static void run_row(FILE *f, const rp_exp_t *e, const rp_run_t *r, int theory, int train)
{
    fputs("<tr>", f);
    for (size_t a = 0; a < e->ex->n_axes; a++)
        td_key(f, &r->sc->cell, e->ex->axes[a].key);
    td_outcome(f, r, train);
    rp_td_num(f, r->grad_ratio, "%.3g");
    if (theory) {
        rp_td_num(f, r->predicted_slope, "%+.4f");
        rp_td_num(f, r->measured_slope, "%+.4f");
        rp_td_num(f, r->measured_slope - r->predicted_slope, "%+.4f");
    }
    if (train) {
        rp_td_text(f, rp_diag_name(r->diagnosis_final), NULL);
        rp_td_num(f, r->grad_h_ratio_final, "%.3g");
        rp_td_num(f, r->grad_ratio_final, "%.3g");
        rp_td_num(f, r->train_loss, "%.4g");
        rp_td_num(f, r->test_loss, "%.4g");
        rp_td_num(f, r->sc->cell.clip > 0 ? r->clip_fraction : NAN, "%.3f");
        td_diverged_at(f, r);
    }
    rp_td_num(f, r->wall_s, "%.2f");
    fputs("</tr>\n", f);
}

void rp_write_run_table(FILE *f, const rp_exp_t *e)
{
    int train = e->runs[0].sc->cell.task == GS_TASK_TRAIN, theory = 0;
    for (size_t i = 0; i < e->n_runs; i++)
        theory |= isfinite(e->runs[i].predicted_slope);
    fputs("<table class=\"sortable\"><thead><tr>", f);
    for (size_t a = 0; a < e->ex->n_axes; a++) {
        fputs("<th>", f);
        rp_esc(f, e->ex->axes[a].key);
        fputs("</th>", f);
    }
    th_outcome(f, train);
    if (theory)
        fputs("<th>predicted slope</th><th>measured slope</th><th>deviation</th>", f);
    if (train)
        fputs("<th>diagnosis_final</th><th>grad_h_ratio_final</th><th>grad_ratio_final</th>"
              "<th>train_loss</th><th>test_loss</th><th>clip_fraction</th>"
              "<th>first non-finite</th>", f);
    fputs("<th>wall_s</th></tr></thead><tbody>\n", f);
    for (size_t i = 0; i < e->n_runs; i++)
        run_row(f, e, &e->runs[i], theory, train);
    fputs("</tbody></table>\n", f);
}

void rp_write_all_runs(FILE *f, const rp_model_t *m)
{
    const char *keys[64];   /* the headline keys, in table order */
    size_t nk = 0;
    gs_key_info_t k;
    for (size_t i = 0; gs_cell_key_info(i, &k) && nk < sizeof keys / sizeof *keys; i++)
        if (k.flags & GS_KEYF_HEADLINE)
            keys[nk++] = k.name;
    fputs("<table class=\"sortable\" id=\"all-runs\"><thead><tr><th>experiment</th><th>run</th>",
          f);
    th_outcome(f, 1);
    fputs("<th>test_loss</th><th>diagnosis_final</th>", f);
    for (size_t i = 0; i < nk; i++)
        fprintf(f, "<th>%s</th>", keys[i]);   /* key names: no escaping needed */
    fputs("<th>wall_s</th><th>rank</th></tr></thead><tbody>\n", f);
    for (size_t e = 0; e < m->n_exps; e++)
        for (size_t i = 0; i < m->exps[e].n_runs; i++) {
            const rp_run_t *r = &m->exps[e].runs[i];
            if (!r->stored)
                continue;
            fputs("<tr>", f);
            rp_td_text(f, m->exps[e].ex->name, NULL);
            rp_td_text(f, r->label, NULL);
            td_outcome(f, r, 1);
            rp_td_num(f, r->grad_ratio, "%.3g");
            rp_td_num(f, r->test_loss, "%.4g");
            rp_td_text(f, rp_diag_name(r->diagnosis_final), NULL);
            for (size_t j = 0; j < nk; j++)
                td_key(f, &r->sc->cell, keys[j]);
            rp_td_num(f, r->wall_s, "%.2f");
            rp_td_num(f, (double)r->rank, "%.0f");
            fputs("</tr>\n", f);
        }
    fputs("</tbody></table>\n", f);
}

void rp_write_spectrum_table(FILE *f, rp_model_t *m, const rp_exp_t *e)
{
    int any = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        rp_jacobian_t j;
        if (rp_jacobian_stats(m, &e->runs[i], &j) != 0)
            continue;
        if (!any++)
            fputs("<table class=\"sortable spectrum\"><caption>The spectrum of the input-output "
                  "Jacobian dx_depth/dx_0 at init: the theory row's squared singular values and "
                  "condition number, and the share of singular values below the SVD's floor "
                  "sigma_max &middot; n &middot; &epsilon; (rounding, not measurement; zeros "
                  "included)</caption><thead><tr><th>run</th><th>mean sigma^2</th>"
                  "<th>min sigma^2</th><th>max sigma^2</th><th>condition</th>"
                  "<th>SVD floor</th><th>below the floor</th></tr></thead><tbody>\n", f);
        const rp_run_t *r = &e->runs[i];
        fputs("<tr>", f);
        rp_td_text(f, r->label, NULL);
        rp_td_num(f, j.sv2_mean, "%.4g");
        rp_td_num(f, j.sv2_min, "%.3g");
        rp_td_num(f, j.sv2_max, "%.4g");
        if (isinf(j.condition))
            rp_td_text(f, "infinite", NULL);
        else
            rp_td_num(f, j.condition, "%.4g");
        rp_td_num(f, j.floor, "%.2g");
        rp_td_num(f, 100 * j.below_floor, "%.1f%%");
        fputs("</tr>\n", f);
    }
    if (any)
        fputs("</tbody></table>\n", f);
}
