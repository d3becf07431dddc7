/* A transformer cell's measurements (model=transformer, issue 21): the
 * block_stats rows of one measured step - per block, a row per sublayer
 * matrix and norm gain and the block's own row (nn/transformer.h's
 * gs_tf_block_stats) - the ratios and the verdict on them, and the probe
 * at initialization that fills them with Admin's output change. No
 * layer_stats rows: a block is not a layer of one matrix, and its
 * residual stream's gradient (grad_x_norm), the quantity the MLP's
 * grad_pre_norm stands for, is a column of the block rows. */
#include <config.h>

#include "experiment/measure.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/precision.h"
#include "experiment/train.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/transformer.h"

/* The tensor of each matrix sublayer (the gain of ln1, ln2) */
static const gs_tensor_kind_t sublayer_tensor[GS_SUB_BLOCK] = {
    [GS_SUB_Q] = GS_TENSOR_WQ, [GS_SUB_K] = GS_TENSOR_WK, [GS_SUB_V] = GS_TENSOR_WV,
    [GS_SUB_O] = GS_TENSOR_WO, [GS_SUB_W1] = GS_TENSOR_WFC, [GS_SUB_W2] = GS_TENSOR_WPROJ,
    [GS_SUB_LN1] = GS_TENSOR_LN1_G, [GS_SUB_LN2] = GS_TENSOR_LN2_G,
};

/* A row with every value column NaN (NULL in the table) */
static gs_block_row_t empty_row(long step, size_t layer, gs_sublayer_t sub)
{
    gs_block_row_t row = {.step = step, .layer = (int32_t)layer, .sublayer = (int32_t)sub};
#define NAN_FIELD(name, type, help) row.name = NAN;
    GS_BLOCK_STATS_COLUMNS(NAN_FIELD)
#undef NAN_FIELD
    return row;
}

size_t ex_tf_block_rows(const gs_plan_t *p, const gs_net_t *net, size_t n, long step,
                        const double *delta, gs_block_row_t *rows)
{
    assert(p->transformer);
    size_t L = p->depth, k = 0;
    gs_tf_block_stats_t *st = malloc(L * sizeof *st);
    if (!st)
        return 0;
    gs_tf_block_stats(net, n, st);
    for (size_t l = 1; l <= L; l++) {
        for (int s = 0; s < GS_SUB_BLOCK; s++) {
            const gs_tensor_t *T = gs_net_tensor_of(net, sublayer_tensor[s], l);
            if (!T)
                continue;   /* mlp=no: no w1, w2 (nor ln2); ln=none: no gains */
            size_t size = T->rows * T->cols;
            gs_block_row_t *row = &rows[k++];
            *row = empty_row(step, l, (gs_sublayer_t)s);
            row->grad_w_norm = gs_norm2(net->grads + T->offset, size);
            row->w_norm = gs_norm2(net->params + T->offset, size);
            if (delta)
                row->update_ratio = gs_norm2(delta + T->offset, size) / row->w_norm;
        }
        gs_block_row_t *row = &rows[k++];
        const gs_tf_block_stats_t *b = &st[l - 1];
        *row = empty_row(step, l, GS_SUB_BLOCK);
        row->grad_x_norm = b->grad_x_norm;
        row->rms = b->rms;
        row->token_cosine = b->token_cosine;
        row->rank_residual = b->rank_residual;
        row->attn_entropy_min = b->attn_entropy_min;
        row->attn_logit_max = b->attn_logit_max;
    }
    assert(k <= p->depth * GS_N_SUBLAYERS);   /* the plan's n_block_max per step */
    free(st);
    return k;
}

void ex_tf_update_ratios(const gs_net_t *net, const double *delta, gs_block_row_t *rows,
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        gs_block_row_t *row = &rows[i];
        if (row->sublayer == GS_SUB_BLOCK)
            continue;
        const gs_tensor_t *T = gs_net_tensor_of(net, sublayer_tensor[row->sublayer],
                                                (size_t)row->layer);
        assert(T);
        size_t size = T->rows * T->cols;
        double w_after = gs_norm2(net->params + T->offset, size);
        /* ||update|| / ||W after|| times ||W after|| / ||W before||: the
         * expression of the rows stored before this function (the same
         * bits) */
        double after = gs_norm2(delta + T->offset, size) / w_after;
        row->update_ratio = after * w_after / row->w_norm;
    }
}

double ex_tf_output_change(gs_net_t *net, const double *x, size_t n, double *work)
{
    gs_tf_dropout_hold(net, 1);   /* both outputs through the same masks */
    double change = gs_net_output_change(net, x, n, GS_OUTPUT_CHANGE_LR, work);
    gs_tf_dropout_hold(net, 0);
    return change;
}

size_t ex_tf_head_rows(const gs_plan_t *p, const gs_net_t *net, size_t n, long step,
                       gs_head_row_t *rows)
{
    assert(p->transformer);
    size_t H = p->tf.heads, k = 0;
    double *e = malloc(2 * H * sizeof *e), *lm = e + H;
    if (!e)
        return 0;
    for (size_t l = 1; l <= p->depth; l++) {
        gs_tf_head_stats(net, n, l, e, lm);
        for (size_t h = 0; h < H; h++)
            rows[k++] = (gs_head_row_t){.step = step, .layer = (int32_t)l, .head = (long)(h + 1),
                                        .attn_entropy = e[h], .attn_logit_max = lm[h]};
    }
    free(e);
    assert(k == p->depth * H);
    return k;
}

/* The row of block l's sublayer s among rows[0..n), or NULL */
static const gs_block_row_t *row_of(const gs_block_row_t *rows, size_t n, size_t l,
                                    gs_sublayer_t s)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].layer == (int32_t)l && rows[i].sublayer == (int32_t)s)
            return &rows[i];
    return NULL;
}

double ex_tf_grad_ratio(const gs_plan_t *p, const gs_block_row_t *rows, size_t n)
{
    gs_sublayer_t s = p->tf.mlp ? GS_SUB_W2 : GS_SUB_O;
    const gs_block_row_t *first = row_of(rows, n, 1, s), *last = row_of(rows, n, p->depth, s);
    assert(first && last);
    return first->grad_w_norm / last->grad_w_norm;   /* 0/0: NaN, stored NULL */
}

gs_diag_t ex_tf_diagnose(const gs_plan_t *p, const gs_block_row_t *rows, size_t n,
                         double *ratio)
{
    const gs_block_row_t *first = row_of(rows, n, 1, GS_SUB_BLOCK),
                         *last = row_of(rows, n, p->depth, GS_SUB_BLOCK);
    assert(first && last);
    int dead = 0;
    for (size_t i = 0; i < n; i++)
        dead |= rows[i].sublayer == GS_SUB_BLOCK && rows[i].grad_x_norm == 0.0;
    *ratio = dead ? NAN : first->grad_x_norm / last->grad_x_norm;
    /* one token (seq_len 1) has no rank to lose: its residual is 0 */
    if (!dead && p->tf.seq_len >= 2 && last->rank_residual < GS_COLLAPSED_BELOW)
        return GS_DIAG_COLLAPSED;
    return gs_diagnose(*ratio, dead, p->vanishing_below, p->exploding_above);
}

/* Where a diverged probe went non-finite, in the order the step
 * computed it: the lowest block whose output is not finite (forward),
 * else the highest whose incoming gradient is not (backward), else the
 * loss alone (block 1 named). */
static void forensics(gs_result_t *r, int loss_finite)
{
    r->diverged_layer = 1;
    r->diverged_tensor = GS_NONFINITE_LOSS;
    r->diverged_sublayer[0] = '\0';
    for (size_t i = 0; i < r->n_block; i++) {
        const gs_block_row_t *b = &r->block[i];
        if (b->sublayer != GS_SUB_BLOCK)
            continue;
        if (!isfinite(b->rms)) {
            r->diverged_layer = b->layer;
            r->diverged_tensor = GS_NONFINITE_ACTIVATION;
            snprintf(r->diverged_sublayer, sizeof r->diverged_sublayer, "%s",
                     gs_sublayer_names[GS_SUB_BLOCK]);
            return;
        }
        if (loss_finite && !isfinite(b->grad_x_norm) &&
            r->diverged_tensor != GS_NONFINITE_ACTIVATION) {
            r->diverged_layer = b->layer;   /* the last one found: the highest */
            r->diverged_tensor = GS_NONFINITE_GRADIENT;
            snprintf(r->diverged_sublayer, sizeof r->diverged_sublayer, "%s",
                     gs_sublayer_names[GS_SUB_BLOCK]);
        }
    }
}

int ex_tf_probe(ex_trainer_t *tr, const gs_dataset_t *batch)
{
    const gs_plan_t *p = tr->p;
    gs_net_t *net = tr->net;
    gs_result_t *r = tr->r;
    size_t B = p->batch, T = p->tf.seq_len, V = p->tf.vocab, rows = B * T;
    assert(p->transformer && !p->trains && batch->n >= B && batch->dim == T &&
           batch->n_targets == T);
    int *y = malloc(rows * sizeof *y);
    double *work = malloc((net->n_params + rows * V) * sizeof *work);
    int rc = -1;
    if (!y || !work)
        goto out;
    for (size_t i = 0; i < rows; i++)
        y[i] = (int)batch->t[i];
    r->status = GS_STATUS_DONE;
    r->n_layers = 0;   /* no layer_stats rows (above) */
    ex_prec_start(tr);
    net->measure = 1;
    net->ops->forward(net, batch->x, B, 1);
    double loss = gs_softmax_ce_forward(net->dout, net->out, y, rows, V, NULL);
    gs_softmax_ce_backward(net->dout, net->dout, y, rows, V, 1.0 / (double)rows);
    ex_prec_scale_loss(tr, B);
    net->ops->backward(net, B);
    /* the format's counts of the loss-scaled tensors, as they were
     * stored; then the gradients unscaled for the block rows */
    ex_format_stats(p, net, B, 0, net->fmt_grad_pre, r);
    ex_prec_unscale(tr, 1);
    r->init_loss = loss;
    r->steps_run = 1;
    /* the block statistics read the activations of this forward pass:
     * before the output change, whose forward passes overwrite them */
    r->n_block = ex_tf_block_rows(p, net, B, 0, NULL, r->block);
    r->n_head = ex_tf_head_rows(p, net, B, 0, r->head);
    if (!r->n_block || !r->n_head)
        goto out;
    r->grad_ratio = ex_tf_grad_ratio(p, r->block, r->n_block);
    r->diagnosis = ex_tf_diagnose(p, r->block, r->n_block, &r->grad_h_ratio);
    r->output_change = ex_tf_output_change(net, batch->x, B, work);
    if (!isfinite(loss) || r->diagnosis == GS_DIAG_DIVERGED) {
        r->status = GS_STATUS_DIVERGED;
        r->diagnosis = GS_DIAG_DIVERGED;
        r->diverged_step = 1;
        forensics(r, isfinite(loss));
    }
    rc = 0;
out:
    free(y);
    free(work);
    return rc;
}
