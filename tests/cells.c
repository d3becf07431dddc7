#include <config.h>

#include "cells.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int tc_cell_of(const char *words, gs_cell_t *c, char *err, size_t errlen)
{
    char buf[2048], *save = NULL;
    snprintf(buf, sizeof buf, "%s", words);
    gs_cell_defaults(c);
    for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        if (gs_cell_set_word(c, w, err, errlen) != 0)
            return -1;
    gs_cell_settle(c, NULL);
    return gs_cell_validate(c, err, errlen);
}

int tc_run(const char *words, gs_cell_t *c, gs_result_t *r)
{
    char err[512];
    memset(r, 0, sizeof *r);
    if (tc_cell_of(words, c, err, sizeof err) != 0) {
        tap_diag("%s: %s", words, err);
        return -1;
    }
    if (gs_experiment_run(c, r, NULL) != 0) {
        tap_diag("%s: run failed: %s", words, r->error);
        return -1;
    }
    return 0;
}

/* Every training number but the held-out ones, bitwise. */
int tc_same_training(const gs_result_t *a, const gs_result_t *b)
{
    if (a->n_log != b->n_log || a->n_layer_log != b->n_layer_log || a->n_log < 2)
        return 0;
    for (size_t i = 0; i < a->n_log; i++) {
        const gs_train_row_t *x = &a->log[i], *y = &b->log[i];
        if (x->step != y->step || memcmp(&x->loss, &y->loss, sizeof x->loss) ||
            memcmp(&x->grad_norm, &y->grad_norm, sizeof x->grad_norm) ||
            memcmp(&x->grad_norm_clipped, &y->grad_norm_clipped, sizeof x->grad_norm_clipped) ||
            x->clipped != y->clipped)
            return 0;
    }
    return memcmp(a->layer_log, b->layer_log, a->n_layer_log * sizeof *a->layer_log) == 0 &&
           memcmp(a->layers, b->layers, a->n_layers * sizeof *a->layers) == 0 &&
           memcmp(&a->train_loss, &b->train_loss, sizeof a->train_loss) == 0 &&
           memcmp(&a->test_loss, &b->test_loss, sizeof a->test_loss) == 0 &&
           memcmp(&a->test_acc, &b->test_acc, sizeof a->test_acc) == 0 &&
           memcmp(&a->grad_h_ratio_final, &b->grad_h_ratio_final, sizeof(double)) == 0 &&
           a->steps_run == b->steps_run && a->status == b->status;
}

const gs_train_layer_row_t *tc_layer_row(const gs_result_t *r, long step, int layer)
{
    for (size_t i = 0; i < r->n_layer_log; i++)
        if (r->layer_log[i].step == step && r->layer_log[i].layer == layer)
            return &r->layer_log[i];
    return NULL;
}

int tc_skip_kept(const gs_result_t *r, long step, int n_layers)
{
    int kept = 1;
    for (int l = 1; l <= n_layers; l++) {
        const gs_train_layer_row_t *a = tc_layer_row(r, step, l), *b = tc_layer_row(r, step + 1, l),
                                   *c = tc_layer_row(r, step + 2, l);
        kept &= a && b && c && a->w_norm == b->w_norm && b->w_norm != c->w_norm &&
                isnan(a->update_ratio) && isfinite(b->update_ratio);
    }
    return kept;
}

int tc_run_threads(const char *words, gs_result_t *a, gs_result_t *b)
{
    gs_cell_t c;
#ifdef _OPENMP
    int n = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    int ra = tc_run(words, &c, a);
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    int rb = tc_run(words, &c, b);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    return ra == 0 && rb == 0 ? 0 : -1;
}

const gs_fmt_record_t *tc_fmt_record(const gs_result_t *r, long step, int layer, int tensor)
{
    for (size_t i = 0; i < r->n_fmt; i++)
        if (r->fmt[i].step == step && r->fmt[i].layer == layer && r->fmt[i].tensor == tensor)
            return &r->fmt[i];
    return NULL;
}

int tc_fmt_updates_not_sgd(const gs_result_t *r, int shift, int *n_updates)
{
    int bad = 0;
    double f = ldexp(1.0, -shift);
    *n_updates = 0;
    for (size_t i = 0; i < r->n_fmt; i++) {
        const gs_fmt_record_t *u = &r->fmt[i];
        if (u->tensor != GS_FT_UPDATE)
            continue;
        ++*n_updates;
        const gs_fmt_record_t *g = tc_fmt_record(r, u->step, u->layer, GS_FT_GRAD_WEIGHT);
        int same = g && u->counts.nonzero == g->counts.nonzero &&
                   u->counts.max_abs == f * g->counts.max_abs &&
                   u->counts.min_abs == f * g->counts.min_abs;
        for (int b = shift; same && b < GS_FMT_HIST_BINS - 1; b++)
            same = gs_fmt_record_bin(r, u, b - shift) == gs_fmt_record_bin(r, g, b);
        bad += !same;
    }
    return bad;
}

int tc_in_format(const gs_fmt_t *f, const double *x, size_t n, size_t *bad)
{
    for (size_t i = 0; i < n; i++) {
        double v = gs_fmt_round(f, x[i], 0);
        if (!(v == x[i] || (isnan(v) && isnan(x[i])))) {
            *bad = i;
            return 0;
        }
    }
    return 1;
}
