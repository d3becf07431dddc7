#include <config.h>

#include "report/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/model.h"
#include "store/store.h"
#include "util/files.h"

static int cmp_hash(const void *a, const void *b)
{
    const rp_run_t *x = *(rp_run_t *const *)a, *y = *(rp_run_t *const *)b;
    return x->sc->hash < y->sc->hash ? -1 : x->sc->hash > y->sc->hash;
}

static void text_col(sqlite3_stmt *s, int i, char *out, size_t len)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(out, len, "%s", t ? (const char *)t : "");
}

static double real_col(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

/* Label of a cell: its values on the experiment's axes. */
static void run_label(const gs_experiment_t *ex, const gs_cell_t *c, char *buf, size_t len)
{
    buf[0] = '\0';
    char v[128];
    for (size_t a = 0; a < ex->n_axes; a++) {
        if (strcmp(ex->axes[a].key, "clip_mode") == 0 && c->clip <= 0)
            continue;   /* no mode without clip (gs_cell_settle) */
        gs_cell_format(c, ex->axes[a].key, v, sizeof v);
        size_t l = strlen(buf);
        if (strcmp(ex->axes[a].key, "depth") == 0)
            snprintf(buf + l, len - l, "%sdepth %s", l ? " / " : "", v);
        else if (strcmp(ex->axes[a].key, "clip") == 0)
            snprintf(buf + l, len - l, "%sclip %s", l ? " / " : "", v);
        else if (strcmp(ex->axes[a].key, "residual") == 0)
            snprintf(buf + l, len - l, "%s%s", l ? " / " : "", strcmp(v, "yes") ? "plain" : "residual");
        else if (strcmp(ex->axes[a].key, "norm") == 0)
            snprintf(buf + l, len - l, "%s%s", l ? " / " : "",
                     strcmp(v, "none") == 0 ? "no norm" : strcmp(v, "batch") == 0 ? "batch norm" : "layer norm");
        else
            snprintf(buf + l, len - l, "%s%s", l ? " / " : "", v);
    }
    if (!buf[0])   /* one configuration: name its model */
        snprintf(buf, len, "%s", gs_model_names[c->model]);
}

static int load(rp_model_t *m, char *err, size_t errlen)
{
    /* the sweep and its config */
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(m->db, "SELECT config_text, config_path FROM sweeps WHERE id = 1", -1,
                           &s, NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        snprintf(err, errlen, "%s: holds no sweep yet", m->db_path);
        return -1;
    }
    char *text = strdup((const char *)sqlite3_column_text(s, 0));
    char *path = strdup((const char *)sqlite3_column_text(s, 1));
    sqlite3_finalize(s);
    if (!text || !path) {
        free(text);
        free(path);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = gs_sweep_parse(&m->sw, text, path, NULL, err, errlen);
    free(text);
    free(path);
    if (rc != 0)
        return -1;

    /* every cell, then the stored runs matched by config_hash */
    m->n_exps = m->sw.n_experiments;
    m->exps = calloc(m->n_exps, sizeof *m->exps);
    rp_run_t **index = malloc((m->sw.n_cells + 1) * sizeof *index);
    if (!m->exps || !index) {
        free(index);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t e = 0; e < m->n_exps; e++) {
        rp_exp_t *x = &m->exps[e];
        x->ex = &m->sw.experiments[e];
        x->n_runs = x->ex->n_cells;
        x->runs = calloc(x->n_runs + 1, sizeof *x->runs);
        if (!x->runs) {
            free(index);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < x->n_runs; i++) {
            rp_run_t *r = &x->runs[i];
            r->sc = &m->sw.cells[x->ex->first_cell + i];
            r->grad_ratio = r->train_loss = r->test_loss = r->test_acc = NAN;
            r->baseline_loss = r->clip_fraction = r->wall_s = r->init_loss = NAN;
            r->grad_ratio_final = r->last_finite_grad_norm = NAN;
            r->predicted_slope = r->measured_slope = r->chi1 = NAN;
            r->sigma_w2 = r->sigma_b2 = NAN;
            r->step_bound = r->residual_growth_predicted = r->residual_growth_measured = NAN;
            run_label(x->ex, &r->sc->cell, r->config_label, sizeof r->config_label);
            if (r->sc->cell.repeats > 1)
                snprintf(r->label, sizeof r->label, "%s / repeat %ld", r->config_label,
                         r->sc->cell.repeat + 1);
            else
                snprintf(r->label, sizeof r->label, "%s", r->config_label);
            index[k++] = r;
        }
    }
    qsort(index, k, sizeof *index, cmp_hash);
    if (sqlite3_prepare_v2(m->db,
                           "SELECT config_hash, id, status, diagnosis, grad_ratio, init_loss, "
                           "train_loss, test_loss, test_acc, baseline_loss, clip_fraction, wall_s, "
                           "diverged_step, rank, error, diagnosis_final, grad_ratio_final, "
                           "diverged_layer, diverged_tensor, last_finite_grad_norm, "
                           "t.predicted_slope, t.measured_slope, t.chi1, sigma_w2, sigma_b2, "
                           "t.step_bound, t.residual_growth_predicted, t.residual_growth_measured "
                           "FROM runs LEFT JOIN theory t ON t.run_id = runs.id",
                           -1, &s, NULL) != SQLITE_OK) {
        free(index);
        snprintf(err, errlen, "%s: %s", m->db_path, sqlite3_errmsg(m->db));
        return -1;
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
        uint64_t h = strtoull((const char *)sqlite3_column_text(s, 0), NULL, 16);
        size_t lo = 0, hi = k;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (index[mid]->sc->hash < h)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == k || index[lo]->sc->hash != h)
            continue;   /* a cell of an experiment no longer in the config */
        rp_run_t *r = index[lo];
        r->stored = 1;
        r->id = sqlite3_column_int64(s, 1);
        text_col(s, 2, r->status, sizeof r->status);
        text_col(s, 3, r->diagnosis, sizeof r->diagnosis);
        r->grad_ratio = real_col(s, 4);
        r->init_loss = real_col(s, 5);
        r->train_loss = real_col(s, 6);
        r->test_loss = real_col(s, 7);
        r->test_acc = real_col(s, 8);
        r->baseline_loss = real_col(s, 9);
        r->clip_fraction = real_col(s, 10);
        r->wall_s = real_col(s, 11);
        r->diverged_step = sqlite3_column_type(s, 12) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 12);
        r->rank = sqlite3_column_int64(s, 13);
        text_col(s, 14, r->error, sizeof r->error);
        text_col(s, 15, r->diagnosis_final, sizeof r->diagnosis_final);
        r->grad_ratio_final = real_col(s, 16);
        r->diverged_layer = sqlite3_column_int(s, 17);
        text_col(s, 18, r->diverged_tensor, sizeof r->diverged_tensor);
        r->last_finite_grad_norm = real_col(s, 19);
        r->predicted_slope = real_col(s, 20);
        r->measured_slope = real_col(s, 21);
        r->chi1 = real_col(s, 22);
        r->sigma_w2 = real_col(s, 23);
        r->sigma_b2 = real_col(s, 24);
        r->step_bound = real_col(s, 25);
        r->residual_growth_predicted = real_col(s, 26);
        r->residual_growth_measured = real_col(s, 27);
        m->n_stored++;
        for (int i = 0; i < GS_N_STATUS; i++)
            if (strcmp(r->status, gs_status_names[i]) == 0)
                m->by_status[i]++;
        for (int i = 0; i < GS_N_DIAG; i++)
            if (strcmp(r->diagnosis, gs_diag_names[i]) == 0)
                m->by_diag[i]++;
    }
    sqlite3_finalize(s);
    free(index);
    for (size_t e = 0; e < m->n_exps; e++)
        for (size_t i = 0; i < m->exps[e].n_runs; i++)
            m->exps[e].n_stored += m->exps[e].runs[i].stored;

    /* sessions, for provenance */
    if (sqlite3_prepare_v2(m->db, "SELECT host, pid, ranks, threads, status, started_at, "
                                  "coalesce(ended_at, ''), hosts, gradsweep_version, "
                                  "coalesce(wall_s, 0) FROM sessions ORDER BY id", -1, &s, NULL) == SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW) {
            rp_session_t *ns = realloc(m->sessions, (m->n_sessions + 1) * sizeof *ns);
            if (!ns)
                break;
            m->sessions = ns;
            rp_session_t *x = &ns[m->n_sessions++];
            text_col(s, 0, x->host, sizeof x->host);
            x->pid = sqlite3_column_int64(s, 1);
            x->ranks = sqlite3_column_int64(s, 2);
            x->threads = sqlite3_column_int64(s, 3);
            text_col(s, 4, x->status, sizeof x->status);
            text_col(s, 5, x->started, sizeof x->started);
            text_col(s, 6, x->ended, sizeof x->ended);
            text_col(s, 7, x->hosts, sizeof x->hosts);
            text_col(s, 8, x->version, sizeof x->version);
            x->wall_s = sqlite3_column_double(s, 9);
        }
        sqlite3_finalize(s);
    }
    return 0;
}

int gs_report_write(const char *db_path, const char *out_dir, char *index_path, size_t len,
                    char *err, size_t errlen)
{
    gs_store_t *st = gs_store_open(db_path, 0, 1, err, errlen);
    if (!st)
        return -1;
    rp_model_t m = {.db = gs_store_handle(st), .db_path = db_path};
    int rc = -1;
    rp_charts_t gallery = {0}, *per = NULL;
    if (load(&m, err, errlen) != 0)
        goto out;
    m.live = gs_store_live_run(st, m.live_host, sizeof m.live_host, &m.live_pid);
    char dir[4096], charts[4200];
    if (out_dir)
        snprintf(dir, sizeof dir, "%s", out_dir);
    else
        snprintf(dir, sizeof dir, "reports/%s", m.sw.slug);
    snprintf(charts, sizeof charts, "%s/charts", dir);
    if (gs_mkdirs(charts, err, errlen) != 0)
        goto out;
    per = calloc(m.n_exps + 1, sizeof *per);
    if (!per) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (m.n_stored > 0 && rp_chart_gallery(&m, dir, &gallery, err, errlen) != 0)
        goto out;
    for (size_t e = 0; e < m.n_exps; e++)
        if (rp_charts_experiment(&m, &m.exps[e], dir, &per[e], err, errlen) != 0)
            goto out;
    if (rp_write_html(&m, dir, &gallery, per, err, errlen) != 0)
        goto out;
    snprintf(index_path, len, "%s/index.html", dir);
    rc = 0;
out:
    rp_charts_free(&gallery);
    for (size_t e = 0; per && e < m.n_exps; e++)
        rp_charts_free(&per[e]);
    free(per);
    rp_model_free(&m);
    gs_store_close(st);
    return rc;
}

int rp_model_load(rp_model_t *m, char *err, size_t errlen)
{
    return load(m, err, errlen);
}

void rp_model_free(rp_model_t *m)
{
    for (size_t e = 0; m->exps && e < m->n_exps; e++)
        free(m->exps[e].runs);
    free(m->exps);
    free(m->sessions);
    gs_sweep_free(&m->sw);
    m->exps = NULL;
    m->sessions = NULL;
    m->n_exps = m->n_sessions = 0;
}
