#include <config.h>

#include "driver/pack.h"

#include <stdlib.h>
#include <string.h>

#define PACK_MAGIC 0x47535233u   /* "GSR3" */


typedef struct {
    uint32_t magic;
    int32_t status, diagnosis, diagnosis_final, diverged_layer, diverged_tensor;
    gs_pack_meta_t meta;
    double grad_ratio, init_loss, clip_fraction, train_loss, test_loss, test_acc, baseline_loss;
    double grad_ratio_final, last_finite_grad_norm;
    double q_star, chi1, depth_scale, predicted_slope, measured_slope, fit_r2;
    double sv2_min, sv2_max, sv2_mean, condition;
    double residual_growth_predicted, residual_growth_measured, step_bound;
    int64_t steps_run, diverged_step;
    uint64_t n_layers, n_time, n_log, n_layer_log, n_hist;
    char error[sizeof ((gs_result_t *)0)->error];
} header_t;

typedef struct {
    int32_t layer, quantity;
    double lo, hi;
    long count[GS_HIST_BINS];
} hist_wire_t;

void *gs_pack_result(const gs_result_t *r, const gs_pack_meta_t *meta, size_t *len)
{
    size_t n = sizeof(header_t) + r->n_layers * sizeof *r->layers + r->n_time * sizeof *r->time +
               r->n_log * sizeof *r->log + r->n_layer_log * sizeof *r->layer_log +
               r->n_hist * sizeof(hist_wire_t);
    unsigned char *buf = malloc(n), *p = buf;
    if (!buf)
        return NULL;
    header_t h;
    memset(&h, 0, sizeof h);
    h.magic = PACK_MAGIC;
    h.status = r->status;
    h.diagnosis = r->diagnosis;
    h.diagnosis_final = r->diagnosis_final;
    h.diverged_layer = r->diverged_layer;
    h.diverged_tensor = r->diverged_tensor;
    h.grad_ratio_final = r->grad_ratio_final;
    h.last_finite_grad_norm = r->last_finite_grad_norm;
    h.q_star = r->q_star;
    h.chi1 = r->chi1;
    h.depth_scale = r->depth_scale;
    h.predicted_slope = r->predicted_slope;
    h.measured_slope = r->measured_slope;
    h.fit_r2 = r->fit_r2;
    h.sv2_min = r->sv2_min;
    h.sv2_max = r->sv2_max;
    h.sv2_mean = r->sv2_mean;
    h.condition = r->condition;
    h.residual_growth_predicted = r->residual_growth_predicted;
    h.residual_growth_measured = r->residual_growth_measured;
    h.step_bound = r->step_bound;
    h.meta = *meta;
    h.grad_ratio = r->grad_ratio;
    h.init_loss = r->init_loss;
    h.clip_fraction = r->clip_fraction;
    h.train_loss = r->train_loss;
    h.test_loss = r->test_loss;
    h.test_acc = r->test_acc;
    h.baseline_loss = r->baseline_loss;
    h.steps_run = r->steps_run;
    h.diverged_step = r->diverged_step;
    h.n_layers = r->n_layers;
    h.n_time = r->n_time;
    h.n_log = r->n_log;
    h.n_layer_log = r->n_layer_log;
    h.n_hist = r->n_hist;
    memcpy(h.error, r->error, sizeof h.error);
    memcpy(p, &h, sizeof h);
    p += sizeof h;
#define PUT(arr, cnt)                                 \
    do {                                              \
        if (cnt) {                                    \
            memcpy(p, arr, (cnt) * sizeof *(arr));    \
            p += (cnt) * sizeof *(arr);               \
        }                                             \
    } while (0)
    PUT(r->layers, r->n_layers);
    PUT(r->time, r->n_time);
    PUT(r->log, r->n_log);
    PUT(r->layer_log, r->n_layer_log);
#undef PUT
    for (size_t i = 0; i < r->n_hist; i++) {
        hist_wire_t w;
        memset(&w, 0, sizeof w);
        w.layer = r->hist[i].layer;
        w.quantity = 0;
        while (w.quantity + 1 < GS_N_HIST_QUANTITIES &&
               strcmp(r->hist[i].quantity, gs_hist_quantity_names[w.quantity]) != 0)
            w.quantity++;
        w.lo = r->hist[i].lo;
        w.hi = r->hist[i].hi;
        memcpy(w.count, r->hist[i].count, sizeof w.count);
        memcpy(p, &w, sizeof w);
        p += sizeof w;
    }
    *len = n;
    return buf;
}

int gs_unpack_result(const void *buf, size_t len, gs_result_t *r, gs_pack_meta_t *meta)
{
    memset(r, 0, sizeof *r);
    header_t h;
    if (len < sizeof h)
        return -1;
    memcpy(&h, buf, sizeof h);
    if (h.magic != PACK_MAGIC || h.n_layers > 1u << 20 || h.n_time > 1u << 24 ||
        h.n_log > 1u << 30 || h.n_layer_log > 1u << 30 || h.n_hist > 1u << 20 ||
        h.n_layer_log != h.n_log * h.n_layers || h.diagnosis < 0 || h.diagnosis >= GS_N_DIAG ||
        h.diagnosis_final < 0 || h.diagnosis_final >= GS_N_DIAG || h.status < 0 ||
        h.status >= GS_N_STATUS || h.diverged_tensor < 0 || h.diverged_tensor >= GS_N_NONFINITE)
        return -1;
    size_t need = sizeof h + h.n_layers * sizeof *r->layers + h.n_time * sizeof *r->time +
                  h.n_log * sizeof *r->log + h.n_layer_log * sizeof *r->layer_log +
                  h.n_hist * sizeof(hist_wire_t);
    if (need != len)
        return -1;
    *meta = h.meta;
    meta->host[sizeof meta->host - 1] = '\0';
    r->status = (gs_status_t)h.status;
    r->diagnosis = (gs_diag_t)h.diagnosis;
    r->diagnosis_final = (gs_diag_t)h.diagnosis_final;
    r->diverged_layer = h.diverged_layer;
    r->diverged_tensor = (gs_nonfinite_t)h.diverged_tensor;
    r->grad_ratio_final = h.grad_ratio_final;
    r->last_finite_grad_norm = h.last_finite_grad_norm;
    r->q_star = h.q_star;
    r->chi1 = h.chi1;
    r->depth_scale = h.depth_scale;
    r->predicted_slope = h.predicted_slope;
    r->measured_slope = h.measured_slope;
    r->fit_r2 = h.fit_r2;
    r->sv2_min = h.sv2_min;
    r->sv2_max = h.sv2_max;
    r->sv2_mean = h.sv2_mean;
    r->condition = h.condition;
    r->residual_growth_predicted = h.residual_growth_predicted;
    r->residual_growth_measured = h.residual_growth_measured;
    r->step_bound = h.step_bound;
    r->grad_ratio = h.grad_ratio;
    r->init_loss = h.init_loss;
    r->clip_fraction = h.clip_fraction;
    r->train_loss = h.train_loss;
    r->test_loss = h.test_loss;
    r->test_acc = h.test_acc;
    r->baseline_loss = h.baseline_loss;
    r->steps_run = h.steps_run;
    r->diverged_step = h.diverged_step;
    memcpy(r->error, h.error, sizeof r->error);
    r->error[sizeof r->error - 1] = '\0';
    r->n_layers = h.n_layers;
    r->n_time = h.n_time;
    r->n_log = h.n_log;
    r->n_layer_log = h.n_layer_log;
    r->n_hist = h.n_hist;
    r->layers = malloc((r->n_layers + 1) * sizeof *r->layers);
    r->time = malloc((r->n_time + 1) * sizeof *r->time);
    r->log = malloc((r->n_log + 1) * sizeof *r->log);
    r->layer_log = malloc((r->n_layer_log + 1) * sizeof *r->layer_log);
    r->hist = malloc((r->n_hist + 1) * sizeof *r->hist);
    if (!r->layers || !r->time || !r->log || !r->layer_log || !r->hist) {
        gs_result_free(r);
        return -1;
    }
    const unsigned char *p = (const unsigned char *)buf + sizeof h;
#define GET(arr, cnt)                                 \
    do {                                              \
        memcpy(arr, p, (cnt) * sizeof *(arr));        \
        p += (cnt) * sizeof *(arr);                   \
    } while (0)
    GET(r->layers, r->n_layers);
    GET(r->time, r->n_time);
    GET(r->log, r->n_log);
    GET(r->layer_log, r->n_layer_log);
#undef GET
    for (size_t i = 0; i < r->n_hist; i++) {
        hist_wire_t w;
        memcpy(&w, p, sizeof w);
        p += sizeof w;
        r->hist[i].layer = w.layer;
        if (w.quantity < 0 || w.quantity >= GS_N_HIST_QUANTITIES) {
            gs_result_free(r);
            return -1;
        }
        r->hist[i].quantity = gs_hist_quantity_names[w.quantity];
        r->hist[i].lo = w.lo;
        r->hist[i].hi = w.hi;
        memcpy(r->hist[i].count, w.count, sizeof w.count);
    }
    return 0;
}
