/* Training a transformer cell (model=transformer, task=train; issue 21):
 * the MLP trainer's loop (train.c) over token sequences - the batch's
 * order, the warm-up (gs_warmup_lr), the optimizer, clipping, the
 * held-out evaluation at logged steps, the final losses - with the
 * cross-entropy at every position and the measurements of a transformer
 * (measure_tf.c): block_stats rows at init (step 0, as the probe's) and
 * at every logged step, each matrix row with its update ratio; runs'
 * output_change (Admin's measure on the first batch at init); the
 * verdicts from the block rows; divergence forensics naming the block
 * and what of it went non-finite (a weight, the activations, a gradient
 * or the loss). Dropout (dropout > 0) in every training step's forward
 * (fresh masks per step), not in the held-out evaluation; the output
 * change holds step 1's masks. No layer_stats and no
 * train_layer_log rows: block_stats carries a transformer's per-matrix
 * gradient, weight and update norms (the train_layer_log columns) per
 * sublayer, where a layer row would have to merge eight matrices.
 * In a reduced precision (p->fmt: the model's arithmetic,
 * nn/transformer.h) the step is train.c's, by experiment/precision.h:
 * the loss's gradient scaled, the gradient unscaled after backward (with
 * loss_scale=dynamic a step with an inf or NaN skipped), the weights
 * rounded to their storage after the update. No lost_update_frac (a
 * train_layer_log column) and no float64 twin (a layer_stats one). */
#include <config.h>

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/measure.h"
#include "experiment/precision.h"
#include "experiment/train.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/transformer.h"

/* The per-position labels of n sequences from their targets (ids held as
 * doubles, data/tokens.h) */
static void labels_of(const double *t, size_t rows, int *y)
{
    for (size_t i = 0; i < rows; i++)
        y[i] = (int)t[i];
}

/* Mean cross-entropy and accuracy over every position of the first
 * n_rows sequences of ds, in evaluation mode, in chunks of the model's
 * capacity (x, t, y: scratch of a chunk). It overwrites the model's
 * activations, output and dout, nothing else. */
static void evaluate(gs_net_t *net, const gs_dataset_t *ds, size_t n_rows, double *x,
                     double *t, int *y, size_t *idx, double *loss, double *acc)
{
    size_t T = ds->dim, V = net->n_out / T, cap = gs_tf_spec(net)->capacity;
    double total = 0.0;
    size_t hits = 0;
    assert(n_rows > 0 && n_rows <= ds->n && ds->n_targets == T);
    for (size_t start = 0; start < n_rows; start += cap) {
        size_t n = n_rows - start < cap ? n_rows - start : cap;
        for (size_t i = 0; i < n; i++)
            idx[i] = start + i;
        gs_dataset_gather(ds, idx, n, x, NULL, t);
        labels_of(t, n * T, y);
        net->ops->forward(net, x, n, 0);
        size_t correct = 0;
        total += (double)(n * T) * gs_softmax_ce_forward(net->dout, net->out, y, n * T, V, &correct);
        hits += correct;
    }
    *loss = total / (double)(n_rows * T);
    *acc = (double)hits / (double)(n_rows * T);
}

/* Where a diverged step first went non-finite, from its block rows, in
 * the order the step computed it: a weight (the lowest block's first
 * non-finite sublayer), an activation (the lowest block whose output is
 * not finite), then - the loss being finite - a gradient (the highest
 * block with a non-finite gradient, as backward runs), else the loss
 * alone (block 1 named). The block goes to diverged_layer, what of it to
 * diverged_tensor, the sublayer to diverged_sublayer (block for the
 * residual stream, none for the loss alone); the step's block_stats rows
 * are stored with it. */
static void forensics(gs_result_t *r, const gs_block_row_t *rows, size_t n, int loss_finite)
{
    const gs_block_row_t *at = NULL;
    r->diverged_layer = 1;
    r->diverged_tensor = GS_NONFINITE_LOSS;
    for (size_t i = 0; i < n && !at; i++)
        if (rows[i].sublayer != GS_SUB_BLOCK && !isfinite(rows[i].w_norm)) {
            at = &rows[i];
            r->diverged_tensor = GS_NONFINITE_WEIGHT;
        }
    for (size_t i = 0; i < n && !at; i++)
        if (rows[i].sublayer == GS_SUB_BLOCK && !isfinite(rows[i].rms)) {
            at = &rows[i];
            r->diverged_tensor = GS_NONFINITE_ACTIVATION;
        }
    for (size_t i = n; loss_finite && i-- > 0 && !at;)
        if (rows[i].sublayer != GS_SUB_BLOCK && !isfinite(rows[i].grad_w_norm)) {
            at = &rows[i];
            r->diverged_tensor = GS_NONFINITE_GRADIENT;
        }
    r->diverged_sublayer[0] = '\0';
    if (at) {
        r->diverged_layer = at->layer;
        snprintf(r->diverged_sublayer, sizeof r->diverged_sublayer, "%s",
                 gs_sublayer_names[at->sublayer]);
    }
}

/* The scratch of a training run, allocated before its first step */
typedef struct {
    double *x, *t, *work;
    int *y;
    size_t *order, *idx;
} scratch_t;

static void scratch_free(scratch_t *s)
{
    free(s->x);
    free(s->t);
    free(s->work);
    free(s->y);
    free(s->order);
    free(s->idx);
}

/* A measured step's head_stats rows, after the run's others: 0 when
 * memory was short. */
static int add_heads(ex_trainer_t *tr, long step, size_t B)
{
    const gs_plan_t *p = tr->p;
    gs_result_t *r = tr->r;
    assert(r->n_head + p->depth * p->tf.heads <= p->n_head_max);
    size_t k = ex_tf_head_rows(p, tr->net, B, step, r->head + r->n_head);
    r->n_head += k;
    return k != 0;
}

/* One step: 1 when it diverged, -1 when memory was short. */
static int tf_step(ex_trainer_t *tr, long step, scratch_t *s, size_t B)
{
    const gs_plan_t *p = tr->p;
    gs_net_t *net = tr->net;
    gs_result_t *r = tr->r;
    size_t T = p->tf.seq_len, V = p->tf.vocab, rows = B * T;
    int logged = gs_plan_logged(p, step);
    double hl = NAN, ha = NAN;
    if (p->eval_rows && logged)   /* the model as the step finds it */
        evaluate(net, tr->heldout, p->eval_rows, s->x + rows, s->t + rows, s->y + rows, s->idx,
                 &hl, &ha);
    net->measure = logged;
    net->ops->forward(net, s->x, B, 1);
    double loss = gs_softmax_ce_forward(net->dout, net->out, s->y, rows, V, NULL);
    gs_softmax_ce_backward(net->dout, net->dout, s->y, rows, V, 1.0 / (double)rows);
    ex_prec_scale_loss(tr, B);
    net->ops->backward(net, B);
    if (logged)   /* before clipping and the update change the gradient and weights,
                     and before the loss scale is divided out (train.c) */
        ex_format_stats(p, net, B, step, net->fmt_grad_pre, r);
    int skip = ex_prec_unscale(tr, step) && isfinite(loss);
    gs_block_row_t *mine = NULL;   /* this step's rows, before clipping and the update */
    size_t n_mine = 0;
    if (step == 1) {   /* the measurements at init: step 1 is logged */
        size_t n0 = ex_tf_block_rows(p, net, B, 0, NULL, r->block);
        r->n_head = ex_tf_head_rows(p, net, B, 0, r->head);
        if (!n0 || !r->n_head)
            return -1;
        r->n_block = n0;
        r->init_loss = loss;
        r->grad_ratio = ex_tf_grad_ratio(p, r->block, n0);
        r->diagnosis = ex_tf_diagnose(p, r->block, n0, &r->grad_h_ratio);
    }
    if (logged || !isfinite(loss)) {
        mine = r->block + r->n_block;
        assert(r->n_block + p->depth * GS_N_SUBLAYERS <= p->n_block_max);
        if (step == 1) {   /* the rows at init, as step 1's: the same state */
            n_mine = r->n_block;
            memcpy(mine, r->block, n_mine * sizeof *mine);
            for (size_t i = 0; i < n_mine; i++)
                mine[i].step = step;
            size_t nh = r->n_head;   /* and the heads' */
            assert(2 * nh <= p->n_head_max);
            memcpy(r->head + nh, r->head, nh * sizeof *r->head);
            for (size_t i = nh; i < 2 * nh; i++)
                r->head[i].step = step;
            r->n_head += nh;
        } else if (!(n_mine = ex_tf_block_rows(p, net, B, step, NULL, mine)) ||
                   !add_heads(tr, step, B)) {
            return -1;
        }
        r->n_block += n_mine;
    }
    if (step == 1)   /* after the block rows: its forward pass overwrites the activations */
        r->output_change = ex_tf_output_change(net, s->x, B, s->work);
    gs_clip_result_t cr;
    int diverged = ex_clip(tr, step, loss, skip, &cr);
    if (!diverged && !logged) {
        if (!skip)
            ex_update(tr, step, NULL, NULL);
        return 0;
    }
    if (!mine) {   /* a diverged step that was not scheduled: its rows for the forensics */
        mine = r->block + r->n_block;
        if (!(n_mine = ex_tf_block_rows(p, net, B, step, NULL, mine)) || !add_heads(tr, step, B))
            return -1;
        r->n_block += n_mine;
    }
    gs_train_row_t *row = &r->log[r->n_log++];
    *row = (gs_train_row_t){.step = step, .loss = loss, .grad_norm = cr.pre_norm,
                            .grad_norm_clipped = cr.post_norm, .clipped = cr.fired,
                            .heldout_loss = hl, .heldout_acc = ha};
    if (diverged) {
        r->status = GS_STATUS_DIVERGED;
        r->diverged_step = step;
        forensics(r, mine, n_mine, isfinite(loss));
    } else if (!skip) {   /* (a skipped step's rows keep update_ratio NULL) */
        r->grad_ratio_final = ex_tf_grad_ratio(p, mine, n_mine);
        r->diagnosis_final = ex_tf_diagnose(p, mine, n_mine, &r->grad_h_ratio_final);
        ex_update(tr, step, tr->delta, NULL);
        ex_tf_update_ratios(net, tr->delta, mine, n_mine);
        ex_format_updates(p, net, step, tr->delta, r);
    }
    if (tr->progress && tr->progress->on_log)
        tr->progress->on_log(tr->progress->ctx, row, NULL, 0, p->steps);
    return diverged;
}

int ex_tf_train(ex_trainer_t *tr, const gs_dataset_t *train, gs_rng_t *brng)
{
    const gs_plan_t *p = tr->p;
    gs_net_t *net = tr->net;
    gs_result_t *r = tr->r;
    size_t B = p->batch, T = p->tf.seq_len, rows = B * T;
    assert(p->transformer && p->trains && train->dim == T && train->n_targets == T &&
           train->n >= B && net->n_out == T * p->tf.vocab);
    scratch_t s = {0};
    /* x, t, y: the batch's rows, then an evaluation chunk's */
    s.x = malloc(2 * rows * sizeof *s.x);
    s.t = malloc(2 * rows * sizeof *s.t);
    s.y = malloc(2 * rows * sizeof *s.y);
    s.work = malloc((net->n_params + rows * p->tf.vocab) * sizeof *s.work);
    s.order = malloc(train->n * sizeof *s.order);
    s.idx = malloc(B * sizeof *s.idx);
    int rc = -1;
    if (!s.x || !s.t || !s.y || !s.work || !s.order || !s.idx)
        goto out;
    r->status = GS_STATUS_DONE;
    r->n_layers = 0;   /* no layer_stats or train_layer_log rows (above) */
    ex_prec_start(tr);
    for (size_t i = 0; i < train->n; i++)
        s.order[i] = i;
    gs_rng_shuffle(brng, s.order, train->n);
    size_t cursor = 0;
    for (long step = 1; step <= p->steps; step++) {
        if (cursor + B > train->n) {   /* next epoch: new order */
            gs_rng_shuffle(brng, s.order, train->n);
            cursor = 0;
        }
        gs_dataset_gather(train, s.order + cursor, B, s.x, NULL, s.t);
        labels_of(s.t, rows, s.y);
        cursor += B;
        int st = tf_step(tr, step, &s, B);
        if (st < 0)
            goto out;
        if (st > 0)
            break;
    }
    rc = 0;
out:
    scratch_free(&s);
    return rc;
}

void ex_tf_finish(ex_trainer_t *tr, const gs_dataset_t *train, const gs_dataset_t *test)
{
    const gs_plan_t *p = tr->p;
    gs_result_t *r = tr->r;
    r->train_loss = r->test_loss = r->test_acc = NAN;
    if (!p->trains)
        return;
    r->clip_fraction = r->steps_run ? (double)tr->clipped / (double)r->steps_run : 0.0;
    ex_prec_finish(tr);
    if (r->status == GS_STATUS_DIVERGED) {
        r->diagnosis_final = GS_DIAG_DIVERGED;
        r->grad_ratio_final = r->grad_h_ratio_final = NAN;
        return;
    }
    size_t cap = p->batch * p->tf.seq_len;
    double *x = malloc(cap * sizeof *x), *t = malloc(cap * sizeof *t);
    int *y = malloc(cap * sizeof *y);
    size_t *idx = malloc(p->batch * sizeof *idx);
    double acc;
    if (x && t && y && idx) {
        evaluate(tr->net, train, train->n, x, t, y, idx, &r->train_loss, &acc);
        evaluate(tr->net, test, test->n, x, t, y, idx, &r->test_loss, &r->test_acc);
    }
    free(x);
    free(t);
    free(y);
    free(idx);
}
