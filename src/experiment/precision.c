#include <config.h>

#include "experiment/precision.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "experiment/measure.h"
#include "nn/arena.h"
#include "nn/linear.h"
#include "nn/mlp.h"
#include "nn/rnn.h"

const long *ex_prec_inject;
size_t ex_prec_n_inject;
long ex_prec_interval;

void gs_experiment_test_scaler(const long *inject, size_t n_inject, long interval)
{
    ex_prec_inject = inject;
    ex_prec_n_inject = n_inject;
    ex_prec_interval = interval;
}

void ex_prec_start(ex_trainer_t *tr)
{
    const gs_plan_t *p = tr->p;
    tr->scale = p->loss_scale == GS_LOSS_SCALE_DYNAMIC ? GS_SCALER_INIT
                : p->loss_scale == GS_LOSS_SCALE_NONE ? 1.0 : p->loss_scale;
    tr->clean = tr->skipped = 0;
    if (!p->fmt)
        return;
    gs_rng_seed(&tr->round_rng, p->weight_seed, GS_STREAM_ROUNDING);
    gs_fmt_round_array(p->master, tr->net->params, tr->net->n_params, 0);
}

void ex_prec_scale_loss(ex_trainer_t *tr, size_t n)
{
    gs_net_t *net = tr->net;
    net->grad_scale = tr->scale;
    if (tr->scale == 1.0)
        return;
    for (size_t i = 0; i < n * net->n_out; i++)
        net->dout[i] *= tr->scale;
}

static int injected(long step)
{
    for (size_t i = 0; i < ex_prec_n_inject; i++)
        if (ex_prec_inject[i] == step)
            return 1;
    return 0;
}

int ex_prec_unscale(ex_trainer_t *tr, long step)
{
    gs_net_t *net = tr->net;
    if (!tr->p->fmt)
        return 0;
    if (injected(step))
        net->grads[0] = INFINITY;   /* as an overflow in the backward pass would leave it */
    if (tr->scale != 1.0) {
        double inv = 1.0 / tr->scale;
        for (size_t i = 0; i < net->n_params; i++)
            net->grads[i] *= inv;
    }
    if (tr->p->loss_scale != GS_LOSS_SCALE_DYNAMIC || !tr->p->trains)
        return 0;
    int finite = 1;
    for (size_t i = 0; i < net->n_params; i++)
        finite &= isfinite(net->grads[i]);
    if (finite)
        return 0;
    tr->scale /= 2;
    tr->clean = 0;
    tr->skipped++;
    return 1;
}

void ex_prec_before_update(ex_trainer_t *tr)
{
    if (tr->p->fmt)
        memcpy(tr->prev, tr->net->params, tr->net->n_params * sizeof *tr->prev);
}

/* Round params[lo, hi) to their storage; the nonzero updates and how
 * many of them were lost (the stored value came back to the old one) */
static void store_range(ex_trainer_t *tr, size_t lo, size_t hi, long *changed, long *lost)
{
    const gs_plan_t *p = tr->p;
    double *w = tr->net->params;
    const double *old = tr->prev;
    long c = 0, l = 0;
    for (size_t i = lo; i < hi; i++) {
        double moved = w[i];
        w[i] = p->rounding == GS_ROUND_STOCHASTIC
                   ? gs_fmt_round_stochastic(p->master, moved, 0, gs_rng_u64(&tr->round_rng))
                   : gs_fmt_round(p->master, moved, 0);
        c += moved != old[i];
        l += moved != old[i] && w[i] == old[i];
    }
    *changed += c;
    *lost += l;
}

void ex_prec_store(ex_trainer_t *tr, gs_train_layer_row_t *rows)
{
    const gs_plan_t *p = tr->p;
    const gs_net_t *net = tr->net;
    if (!p->fmt)
        return;
    /* per layer, of its weight matrices; a transformer has no layer rows
     * (L = 0: only the rounding) */
    size_t L = tr->r->n_layers;
    long changed[L + 1], lost[L + 1];
    memset(changed, 0, sizeof changed);
    memset(lost, 0, sizeof lost);
    /* tensor by tensor in parameter order: the stochastic draws follow
     * the parameters' order whatever is logged */
    size_t done = 0;
    for (size_t k = 0; k < net->n_tensors; k++) {
        const gs_tensor_t *T = &net->tensors[k];
        assert(T->offset == done);
        long c = 0, l = 0;
        store_range(tr, T->offset, T->offset + T->rows * T->cols, &c, &l);
        done = T->offset + T->rows * T->cols;
        int layer = L ? ex_weight_layer(T, L - 1) : 0;
        if (layer > 0) {
            changed[layer - 1] += c;
            lost[layer - 1] += l;
        }
    }
    assert(done == net->n_params);
    for (size_t l = 0; rows && l < L; l++)
        rows[l].lost_update_frac = changed[l] ? (double)lost[l] / (double)changed[l] : NAN;
    if (p->loss_scale == GS_LOSS_SCALE_DYNAMIC &&
        ++tr->clean >= (ex_prec_interval > 0 ? ex_prec_interval : GS_SCALER_INTERVAL)) {
        tr->scale *= 2;
        tr->clean = 0;
    }
}

void ex_prec_finish(ex_trainer_t *tr)
{
    const gs_plan_t *p = tr->p;
    tr->r->loss_scale_final = p->loss_scale != GS_LOSS_SCALE_NONE ? tr->scale : NAN;
    tr->r->skipped_steps = tr->skipped;
}

/* Values of layer l's kept dL/dh over n rows (l = depth: the readout's
 * dL/dout; a recurrent layer's: its dL/dz over all steps) */
static size_t kept_count(const gs_plan_t *p, size_t l, size_t n)
{
    if (p->recurrent)
        return gs_rnn_grad_pre_count(&p->rnn, l, n);
    return n * (l + 1 < p->n_layers ? p->width : p->n_out);
}

size_t ex_prec_twin_doubles(const gs_plan_t *p)
{
    if (!p->fmt || p->transformer)   /* a transformer has no twin (no layer_stats rows) */
        return 0;
    size_t a = kept_count(p, 0, p->batch), b = kept_count(p, p->depth, p->batch);
    return p->n_layers * (a > b ? a : b);
}

int ex_prec_twin_setup(ex_trainer_t *tr)
{
    const gs_plan_t *p = tr->p;
    size_t nd = ex_prec_twin_doubles(p);
    if (!nd)
        return 0;
    gs_mlp_spec_t mspec = p->mlp;
    gs_rnn_spec_t rspec = p->rnn;
    mspec.fmt = NULL;
    rspec.fmt = NULL;
    tr->twin = p->recurrent ? gs_rnn_create(&rspec) : gs_mlp_create(&mspec);
    tr->twin_grad_pre = gs_arena_alloc(2 * nd);
    if (!tr->twin || !tr->twin_grad_pre)
        return -1;
    gs_rng_t rng;   /* the weights' stream: the draws build_net made */
    gs_rng_seed(&rng, p->weight_seed, GS_STREAM_WEIGHTS);
    if (p->recurrent)
        gs_rnn_init(tr->twin, &p->init, &rng);
    else
        gs_mlp_init(tr->twin, &p->init, &rng);
    tr->net->keep_grad_pre = tr->twin_grad_pre;
    tr->twin->keep_grad_pre = tr->twin_grad_pre + nd;
    return 0;
}

void ex_prec_twin(ex_trainer_t *tr, const double *x, const int *y, const double *t, size_t n)
{
    const gs_plan_t *p = tr->p;
    gs_net_t *net = tr->net, *twin = tr->twin;
    if (!twin)
        return;
    twin->ops->forward(twin, x, n, 1);
    ex_batch_loss(twin, n, y, t, 1, NULL);
    twin->ops->backward(twin, n);
    size_t nd = ex_prec_twin_doubles(p), stride = nd / p->n_layers;
    for (size_t l = 0; l < p->n_layers; l++) {
        size_t m = kept_count(p, l, n);
        const double *a = tr->twin_grad_pre + l * stride, *b = a + nd;
        /* the net's dL/dh is scaled by the loss scale: the cosine does
         * not see it, the norm is divided by it */
        double na = gs_norm2(a, m) / net->grad_scale, nb = gs_norm2(b, m), dot = 0.0;
        for (size_t i = 0; i < m; i++)
            dot += a[i] * b[i];
        gs_layer_stats_t *st = &tr->r->layers[l];
        st->twin_rel_err = fabs(na - nb) / nb;
        /* undefined (NULL) when either gradient is zero */
        st->twin_cos = na > 0 && nb > 0 ? dot / net->grad_scale / (na * nb) : NAN;
    }
    net->keep_grad_pre = NULL;
}
