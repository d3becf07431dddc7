#include <config.h>

#include "experiment/train.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "experiment/measure.h"
#include "experiment/precision.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optim.h"

/* The batch's loss; with grad, dL/dout (mean over the batch) goes into
 * net->dout. Classification: softmax cross-entropy (net->dout holds the
 * probabilities first); regression: MSE. */
double ex_batch_loss(gs_net_t *net, size_t n, const int *y, const double *t, int grad,
                     size_t *correct)
{
    if (t) {
        double l = gs_mse_forward(net->out, t, n * net->n_out);
        if (grad)
            gs_mse_backward(net->dout, net->out, t, n * net->n_out, 1.0 / (double)(n * net->n_out));
        return l;
    }
    double l = gs_softmax_ce_forward(net->dout, net->out, y, n, net->n_out, correct);
    if (grad)
        gs_softmax_ce_backward(net->dout, net->dout, y, n, net->n_out, 1.0 / (double)n);
    return l;
}

/* Mean loss and accuracy (NaN for regression) of the first n rows of ds
 * in evaluation mode (batch norm's running statistics, which it does not
 * update; no random draws), in chunks of the model's capacity. It
 * overwrites the model's activations and output, nothing else. */
static void evaluate(gs_net_t *net, const gs_dataset_t *ds, size_t n_rows,
                     const ex_eval_scratch_t *ev, double *loss, double *acc)
{
    double total = 0.0;
    size_t hits = 0;
    double *tt = ds->n_targets ? ev->t : NULL;
    assert(n_rows > 0 && n_rows <= ds->n);
    for (size_t start = 0; start < n_rows; start += net->capacity) {
        size_t n = n_rows - start < net->capacity ? n_rows - start : net->capacity;
        for (size_t i = 0; i < n; i++)
            ev->idx[i] = start + i;
        gs_dataset_gather(ds, ev->idx, n, ev->x, ev->y, tt);
        net->ops->forward(net, ev->x, n, 0);
        size_t correct = 0;
        total += (double)n * ex_batch_loss(net, n, ev->y, tt, 0, &correct);
        hits += correct;
    }
    *loss = total / (double)n_rows;
    *acc = tt ? NAN : (double)hits / (double)n_rows;
}

/* The held-out loss and accuracy of the model as step `step` finds it
 * (weights and batch norm's running statistics after step - 1 updates),
 * into tr->heldout_now; NaN when eval_rows is 0 or the step is not one
 * the plan logs. Called before the step's forward pass, whose training
 * mode updates the running statistics. */
static void evaluate_heldout(ex_trainer_t *tr, long step)
{
    tr->heldout_now[0] = tr->heldout_now[1] = NAN;
    if (tr->p->eval_rows && gs_plan_logged(tr->p, step))
        evaluate(tr->net, tr->heldout, tr->p->eval_rows, &tr->ev, &tr->heldout_now[0],
                 &tr->heldout_now[1]);
}

/* Where a diverged step first went non-finite, from its layer statistics
 * (a mean or norm over non-finite values is non-finite; one that
 * overflowed counts too): weights before activations before gradients,
 * which is the order the step computed them in. */
static void forensics(ex_trainer_t *tr, double loss)
{
    gs_result_t *r = tr->r;
    size_t L = r->n_layers;
    const gs_layer_stats_t *st = tr->stats;
    for (size_t l = 0; l < L; l++)
        if (!isfinite(st[l].w_norm)) {
            r->diverged_layer = (int)l + 1;
            r->diverged_tensor = GS_NONFINITE_WEIGHT;
            return;
        }
    for (size_t l = 0; l < L; l++)
        if (!isfinite(st[l].act_mean) || !isfinite(st[l].act_std)) {
            r->diverged_layer = (int)l + 1;
            r->diverged_tensor = GS_NONFINITE_ACTIVATION;
            return;
        }
    r->diverged_layer = (int)L;   /* the readout, unless a gradient says otherwise */
    r->diverged_tensor = isfinite(loss) ? GS_NONFINITE_GRADIENT : GS_NONFINITE_LOSS;
    if (!isfinite(loss))
        return;
    for (size_t l = L; l-- > 0;)
        if (!isfinite(st[l].grad_w_norm)) {
            r->diverged_layer = (int)l + 1;
            return;
        }
}

/* The layer rows of a logged step from its statistics (update ratios
 * come after the update). */
static gs_train_layer_row_t *log_layers(ex_trainer_t *tr, long step)
{
    gs_result_t *r = tr->r;
    gs_train_layer_row_t *rows = &r->layer_log[r->n_layer_log];
    for (size_t l = 0; l < r->n_layers; l++) {
        const gs_layer_stats_t *st = &tr->stats[l];
        rows[l] = (gs_train_layer_row_t){
            .step = step, .layer = (int)l + 1, .grad_w_norm = st->grad_w_norm,
            .w_norm = st->w_norm, .update_ratio = NAN, .dead_frac = st->dead_frac,
            .saturated_frac = st->saturated_frac, .grad_h_first = st->grad_h_first,
            .grad_h_last = st->grad_h_last, .lost_update_frac = NAN};
    }
    r->n_layer_log += r->n_layers;
    return rows;
}

/* update_ratio of each layer: the norm of the update the optimizer
 * applied to its weight matrices (tr->delta) over their norm before it. */
static void update_ratios(ex_trainer_t *tr, gs_train_layer_row_t *rows)
{
    const gs_net_t *net = tr->net;
    size_t L = tr->r->n_layers;
    for (size_t l = 0; l < L; l++)
        rows[l].update_ratio = 0.0;   /* the sum of squares first */
    for (size_t k = 0; k < net->n_tensors; k++) {
        const gs_tensor_t *T = &net->tensors[k];
        int l = ex_weight_layer(T, L - 1);
        if (l > 0) {
            double d = gs_norm2(tr->delta + T->offset, T->rows * T->cols);
            rows[l - 1].update_ratio += d * d;
        }
    }
    for (size_t l = 0; l < L; l++)
        rows[l].update_ratio = sqrt(rows[l].update_ratio) / rows[l].w_norm;
}

int ex_clip(ex_trainer_t *tr, long step, double loss, int skip, gs_clip_result_t *cr)
{
    gs_net_t *net = tr->net;
    *cr = gs_clip(net->grads, net->n_params, tr->p->clip_mode, tr->p->clip);
    tr->clipped += cr->fired;
    tr->r->steps_run = step;
    /* a step loss_scale=dynamic skips is no divergence: its gradient
     * overflowed at this scale, and the next step runs at half of it */
    int diverged = !isfinite(loss) || (!skip && !isfinite(cr->pre_norm));
    if (!diverged && !skip)
        tr->r->last_finite_grad_norm = cr->pre_norm;
    return diverged;
}

void ex_update(ex_trainer_t *tr, long step, double *delta, gs_train_layer_row_t *rows)
{
    const gs_plan_t *p = tr->p;
    gs_net_t *net = tr->net;
    ex_prec_before_update(tr);
    p->opt->step(net->params, net->grads, tr->opt_state, net->n_params,
                 gs_warmup_lr(p->lr, p->warmup, step), step, delta);
    ex_prec_store(tr, rows);
}

/* One training step. 1 when the run diverged at it, -1 when its
 * measurements at init failed. */
static int train_step(ex_trainer_t *tr, long step, const double *x, const int *y, const double *t,
                      size_t B)
{
    const gs_plan_t *p = tr->p;
    gs_net_t *net = tr->net;
    gs_result_t *r = tr->r;
    int logged = gs_plan_logged(p, step);
    evaluate_heldout(tr, step);
    net->ops->forward(net, x, B, 1);
    double loss = ex_batch_loss(net, B, y, t, 1, NULL);
    ex_prec_scale_loss(tr, B);
    net->measure = logged;   /* step 1 is also the measurement at init */
    net->ops->backward(net, B);
    if (logged)   /* before clipping and the update change the gradient and weights,
                     and before the loss scale is divided out: the tensors as the
                     format holds them */
        ex_format_stats(p, net, B, step, tr->grad_pre, r);
    int skip = ex_prec_unscale(tr, step) && isfinite(loss);
    if (step == 1) {
        if (ex_measure_init(p, net, B, r) != 0)
            return -1;
        ex_prec_twin(tr, x, y, t, B);
        r->init_loss = loss;
    }
    /* the layer statistics see the gradient before clipping; a step that
     * diverges by its gradient alone is not clipped (gs_clip leaves a
     * non-finite gradient as it is), so its statistics can wait */
    int have_stats = logged || !isfinite(loss);
    if (step == 1)   /* measure_init took them from this very step */
        memcpy(tr->stats, r->layers, r->n_layers * sizeof *r->layers);
    else if (have_stats)
        ex_layer_stats(p, net, B, tr->stats);
    gs_clip_result_t cr;
    int diverged = ex_clip(tr, step, loss, skip, &cr);
    if (!diverged && !logged) {
        if (!skip)
            ex_update(tr, step, NULL, NULL);
        return 0;
    }
    if (!have_stats)
        ex_layer_stats(p, net, B, tr->stats);
    gs_train_row_t *row = &r->log[r->n_log++];
    *row = (gs_train_row_t){.step = step, .loss = loss, .grad_norm = cr.pre_norm,
                            .grad_norm_clipped = cr.post_norm, .clipped = cr.fired,
                            .heldout_loss = tr->heldout_now[0], .heldout_acc = tr->heldout_now[1]};
    gs_train_layer_row_t *rows = log_layers(tr, step);
    if (diverged) {
        r->status = GS_STATUS_DIVERGED;
        r->diverged_step = step;
        forensics(tr, loss);
    } else if (!skip) {
        r->grad_ratio_final = ex_grad_ratio(p, tr->stats);
        r->diagnosis_final = ex_diagnose_step(p, tr->stats, &r->grad_h_ratio_final);
        ex_update(tr, step, tr->delta, rows);
        update_ratios(tr, rows);
        ex_format_updates(p, net, step, tr->delta, r);
    }
    if (tr->progress && tr->progress->on_log)
        tr->progress->on_log(tr->progress->ctx, row, rows, r->n_layers, p->steps);
    return diverged;
}

/* The probe (task=probe): one forward and backward pass at init; -1 when
 * its measurements failed. */
static int probe(ex_trainer_t *tr, const double *x, const int *y, const double *t, size_t B)
{
    gs_net_t *net = tr->net;
    gs_result_t *r = tr->r;
    net->ops->forward(net, x, B, 1);
    double loss = ex_batch_loss(net, B, y, t, 1, NULL);
    ex_prec_scale_loss(tr, B);
    net->measure = 1;
    net->ops->backward(net, B);
    ex_format_stats(tr->p, net, B, 0, tr->grad_pre, r);
    ex_prec_unscale(tr, 1);
    if (ex_measure_init(tr->p, net, B, r) != 0)
        return -1;
    ex_prec_twin(tr, x, y, t, B);
    r->init_loss = loss;
    r->steps_run = 1;
    if (!isfinite(loss) || !ex_gradients_finite(r->layers, r->n_layers)) {
        r->status = GS_STATUS_DIVERGED;
        r->diverged_step = 1;
        memcpy(tr->stats, r->layers, r->n_layers * sizeof *r->layers);
        forensics(tr, loss);
    }
    return 0;
}

int ex_run_steps(ex_trainer_t *tr, const gs_dataset_t *train, gs_rng_t *brng, double *x, int *y,
                 double *t, size_t *order)
{
    const gs_plan_t *p = tr->p;
    size_t B = p->batch, cursor = 0;
    for (size_t i = 0; i < train->n; i++)
        order[i] = i;
    if (brng)
        gs_rng_shuffle(brng, order, train->n);
    tr->r->status = GS_STATUS_DONE;
    ex_prec_start(tr);
    if (!p->trains) {
        gs_dataset_gather(train, order, B, x, y, t);
        return probe(tr, x, y, t, B);
    }
    for (long step = 1; step <= p->steps; step++) {
        if (cursor + B > train->n) {   /* next epoch: new order */
            gs_rng_shuffle(brng, order, train->n);
            cursor = 0;
        }
        gs_dataset_gather(train, order + cursor, B, x, y, t);
        cursor += B;
        int rc = train_step(tr, step, x, y, t, B);
        if (rc < 0)
            return -1;
        if (rc > 0)
            break;
    }
    return 0;
}

/* The diagnosis at the end, the clip share, the final losses. The
 * diagnosis at init was made at the first step and stays (a run that
 * diverges later was still healthy, say, at init); a diverged run has no
 * final losses or accuracy to report: its weights are not finite, and an
 * accuracy of what they predict would rank it among the others. */
void ex_finish(ex_trainer_t *tr, const gs_dataset_t *train, const gs_dataset_t *test)
{
    const gs_plan_t *p = tr->p;
    gs_result_t *r = tr->r;
    int diverged = r->status == GS_STATUS_DIVERGED;
    r->train_loss = r->test_loss = r->test_acc = NAN;
    if (!p->trains)
        return;
    r->clip_fraction = r->steps_run ? (double)tr->clipped / (double)r->steps_run : 0.0;
    ex_prec_finish(tr);
    if (diverged) {
        r->diagnosis_final = GS_DIAG_DIVERGED;
        r->grad_ratio_final = r->grad_h_ratio_final = NAN;
        return;
    }
    double acc;
    evaluate(tr->net, train, train->n, &tr->ev, &r->train_loss, &acc);
    evaluate(tr->net, test, test->n, &tr->ev, &r->test_loss, &r->test_acc);
}

