/* Reduced-precision arithmetic in the transformer (issue 20: precision,
 * loss_scale, master_weights, rounding with model=transformer;
 * nn/transformer.h's spec.fmt):
 * - float32 probes differ from float64 by less than 1e-4 relative in
 *   init_loss, grad_ratio and every block_stats gradient norm (||dL/dW||
 *   of each matrix and gain, ||dL/dx|| of each block), and not by zero;
 *   bfloat16 by more than float32;
 * - every value the model keeps that the tests can reach is a value of
 *   its format after a forward and backward: each block's output (the
 *   embeddings' sum, the final norm's), the logits, dL/dlogits and every
 *   parameter gradient (bfloat16, float16, e4m3; Post-, Pre- and no LN,
 *   causal, mlp=no, QK-norm, dropout, ReZero, width 4 with 1 and 2
 *   heads, seq_len 1; gs_fmt_round(x) == x bit for bit);
 * - a power-of-two loss scale changes no block_stats gradient norm in
 *   bfloat16 (they are divided by it); format_stats=yes works with a
 *   precision;
 * - determinism: probe and training rows bit for bit at 1 and 2 threads
 *   in float16 (dynamic scaling, dropout) and bfloat16 (stochastic
 *   rounding, weights in the format), at a size whose attention runs on
 *   both threads;
 * - training: float16 with loss_scale=dynamic completes with its
 *   loss_scale_final; an injected overflow halves the scale and skips the
 *   step (its weights are the next step's), the scale doubles after the
 *   growth interval; master_weights=same in bfloat16 loses the updates
 *   float32 master weights keep (the norm gains stay 1 exactly, the loss
 *   moves far less from the untrained model's, lr 1e-20). No float64 twin: a transformer has no layer rows. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/experiment.h"
#include "nn/format.h"
#include "nn/transformer.h"
#include "sweep/cell.h"
#include "cells.h"
#include "tap.h"

static int run(const char *words, gs_result_t *r)
{
    gs_cell_t c;
    return tc_run(words, &c, r);
}

static double rel(double a, double b)
{
    return fabs(a - b) / fabs(b);
}

/* The largest relative difference of the run's gradient measurements
 * from the float64 run's: init_loss, grad_ratio, grad_h_ratio and every
 * block row's ||dL/dW|| (matrices, gains) and ||dL/dx|| (blocks); -1
 * when the rows do not pair up */
static double worst_rel(const gs_result_t *a, const gs_result_t *b)
{
    if (a->n_block != b->n_block || a->n_block == 0)
        return -1;
    double w = fmax(rel(a->init_loss, b->init_loss), rel(a->grad_ratio, b->grad_ratio));
    w = fmax(w, rel(a->grad_h_ratio, b->grad_h_ratio));
    for (size_t i = 0; i < a->n_block; i++) {
        const gs_block_row_t *x = &a->block[i], *y = &b->block[i];
        if (x->layer != y->layer || x->sublayer != y->sublayer)
            return -1;
        w = fmax(w, x->sublayer == GS_SUB_BLOCK ? rel(x->grad_x_norm, y->grad_x_norm)
                                                : rel(x->grad_w_norm, y->grad_w_norm));
    }
    return w;
}

static void against_float64(void)
{
    static const char *const names[] = {"float64", "float32", "bfloat16"};
    static const char *const shapes[] = {
        "ln=pre", "ln=post causal=yes", "ln=pre qk_norm=yes activation=relu",
    };
    for (int k = 0; k < 3; k++) {
        gs_result_t r[3];
        char w[256];
        int ok = 1;
        for (int p = 0; p < 3; p++) {
            snprintf(w, sizeof w, "model=transformer task=probe depth=3 width=16 heads=2 "
                     "seq_len=8 batch=8 %s precision=%s", shapes[k], names[p]);
            ok &= run(w, &r[p]) == 0 && r[p].status == GS_STATUS_DONE;
        }
        if (tap_ok(ok, "%s: probes in float64, float32 and bfloat16 run", shapes[k])) {
            double d32 = rel(r[1].grad_ratio, r[0].grad_ratio), l32 = rel(r[1].init_loss, r[0].init_loss);
            double w32 = worst_rel(&r[1], &r[0]), w16 = worst_rel(&r[2], &r[0]);
            tap_ok(d32 > 0 && l32 > 0 && w32 >= 0 && w32 < 1e-4,
                   "%s float32: grad_ratio %.2e, init_loss %.2e relative from float64 (not 0); every "
                   "block row's gradient norm, grad_h_ratio: at most %.2e (< 1e-4)", shapes[k], d32,
                   l32, w32);
            tap_ok(w16 > w32 && rel(r[2].grad_ratio, r[0].grad_ratio) > d32,
                   "%s bfloat16 differs more: worst %.2e > %.2e, grad_ratio %.2e", shapes[k], w16,
                   w32, rel(r[2].grad_ratio, r[0].grad_ratio));
            tap_ok(r[1].n_layers == 0 && r[2].n_layers == 0,
                   "%s: no layer rows, so no float64 twin to measure", shapes[k]);
        }
        for (int p = 0; p < 3; p++)
            gs_result_free(&r[p]);
    }
}

/* Straight at the model: a training forward (dropout on) and a backward
 * in each format; every value the tests can reach checked */
static void representable(void)
{
    static const struct {
        const char *what;
        size_t d, heads, ffn, T;
        gs_ln_place_t ln;
        gs_res_scale_t rs;
        int mlp, causal, qk_norm;
        double dropout;
        const char *act;
    } shapes[] = {
        {"post-LN, gelu", 8, 2, 32, 5, GS_LN_POST, GS_RS_NONE, 1, 0, 0, 0, "gelu"},
        {"pre-LN, causal, relu", 8, 2, 32, 5, GS_LN_PRE, GS_RS_NONE, 1, 1, 0, 0, "relu"},
        {"no LN, mlp=no", 8, 2, 32, 5, GS_LN_NONE, GS_RS_NONE, 0, 0, 0, 0, "gelu"},
        {"pre-LN, qk_norm", 8, 2, 32, 5, GS_LN_PRE, GS_RS_NONE, 1, 0, 1, 0, "gelu"},
        {"post-LN, causal, dropout 0.2", 8, 2, 32, 5, GS_LN_POST, GS_RS_NONE, 1, 1, 0, 0.2, "gelu"},
        {"pre-LN, rezero, dropout 0.1", 8, 2, 32, 5, GS_LN_PRE, GS_RS_REZERO, 1, 0, 0, 0.1, "gelu"},
        {"width 4, 1 head", 4, 1, 8, 5, GS_LN_PRE, GS_RS_NONE, 1, 0, 0, 0, "gelu"},
        {"width 4, 2 heads, qk_norm", 4, 2, 8, 5, GS_LN_POST, GS_RS_NONE, 1, 1, 1, 0, "gelu"},
        {"seq_len 1", 8, 2, 32, 1, GS_LN_PRE, GS_RS_NONE, 1, 0, 0, 0.1, "gelu"},
    };
    static const gs_fmt_id_t fmts[] = {GS_FMT_BFLOAT16, GS_FMT_FLOAT16, GS_FMT_E4M3};
    const size_t V = 7, n = 3, L = 2;
    gs_rng_t rng;
    gs_rng_seed(&rng, 11, 0);
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        for (size_t f = 0; f < sizeof fmts / sizeof *fmts; f++) {
            const gs_fmt_t *fm = &gs_formats[fmts[f]];
            gs_tf_spec_t s = {.vocab = V, .seq_len = shapes[k].T, .d_model = shapes[k].d,
                              .heads = shapes[k].heads, .ffn = shapes[k].ffn, .depth = L,
                              .capacity = n, .act = gs_activation_find(shapes[k].act),
                              .ln = shapes[k].ln, .residual_scale = shapes[k].rs, .skip = 1,
                              .mlp = shapes[k].mlp, .causal = shapes[k].causal,
                              .dropout = shapes[k].dropout, .qk_norm = shapes[k].qk_norm,
                              .fmt = fm};
            size_t T = s.seq_len, N = n * T;
            gs_net_t *net = gs_tf_create(&s);
            if (!tap_ok(net != NULL, "%s in %s: created", shapes[k].what, fm->name))
                continue;
            gs_init_spec_t init = {gs_init_find("xavier"), 0, 1, 0.1};
            gs_tf_init(net, &init, &rng);
            gs_rng_seed(gs_tf_dropout_rng(net), 3, 4);
            if (shapes[k].rs == GS_RS_REZERO)   /* ReZero starts at 0: give its branches weight */
                for (size_t i = 0; i < net->n_tensors; i++)
                    if (net->tensors[i].kind == GS_TENSOR_REZERO)
                        for (size_t j = 0; j < net->tensors[i].cols; j++)
                            net->params[net->tensors[i].offset + j] = 0.5;
            double x[3 * 5];
            for (size_t i = 0; i < N; i++)
                x[i] = (double)(gs_rng_u64(&rng) % V);
            net->ops->forward(net, x, n, 1);
            for (size_t i = 0; i < N * V; i++)
                net->dout[i] = 0.1 * gs_rng_normal(&rng);   /* rounded by backward */
            net->ops->backward(net, n);
            int ok = 1;
            size_t bad = 0;
            char what[64] = "";
            for (size_t l = 0; ok && l <= L + 1; l++) {
                const double *v = gs_tf_block_output(net, l);
                if (v && !(ok = tc_in_format(fm, v, N * s.d_model, &bad)))
                    snprintf(what, sizeof what, "x_%zu", l);
            }
            if (ok && !(ok = tc_in_format(fm, net->out, N * V, &bad)))
                snprintf(what, sizeof what, "logits");
            if (ok && !(ok = tc_in_format(fm, net->dout, N * V, &bad)))
                snprintf(what, sizeof what, "dL/dlogits");
            if (ok && !(ok = tc_in_format(fm, net->grads, net->n_params, &bad)))
                snprintf(what, sizeof what, "gradients");
            int some = 0, dropped = shapes[k].dropout == 0;
            for (size_t i = 0; i < net->n_params; i++)
                some |= net->grads[i] != 0;
            const double *mask = gs_tf_dropout_mask(net, 1, GS_TF_DROP_ATTN_OUT);
            for (size_t i = 0; mask && i < N * s.d_model; i++)
                dropped |= mask[i] == 0;
            tap_ok(ok && some && dropped, "%s in %s: every block output, the logits, dL/dlogits "
                   "and every parameter gradient are values of the format%s%s (gradients nonzero: "
                   "%d; dropout applied: %d)", shapes[k].what, fm->name, ok ? "" : "; not: ", what,
                   some, dropped);
            if (!ok)
                tap_diag("index %zu", bad);
            gs_net_free(net);
        }
    }
}

static void power_of_two_scale(void)
{
    gs_result_t a, b;
    const char *base = "model=transformer task=probe depth=2 width=16 heads=2 seq_len=8 batch=8 "
                       "precision=bfloat16";
    char w[256];
    snprintf(w, sizeof w, "%s loss_scale=1024", base);
    if (!tap_ok(run(base, &a) == 0 && run(w, &b) == 0,
                "transformer bfloat16 probes with and without loss_scale=1024"))
        return;
    int same = a.n_block == b.n_block && a.n_block > 0 && a.grad_ratio == b.grad_ratio &&
               a.grad_h_ratio == b.grad_h_ratio && a.grad_ratio > 0;
    for (size_t i = 0; same && i < a.n_block; i++) {
        const gs_block_row_t *x = &a.block[i], *y = &b.block[i];
        same &= x->sublayer == GS_SUB_BLOCK ? x->grad_x_norm == y->grad_x_norm && x->grad_x_norm > 0
                                            : x->grad_w_norm == y->grad_w_norm;
    }
    tap_ok(same, "loss_scale=1024 (2^10): every block's ||dL/dx||, every matrix's and gain's "
           "||dL/dW||, grad_ratio and grad_h_ratio bit for bit those of no scale");
    gs_result_free(&a);
    gs_result_free(&b);
    /* format_stats with a precision: the same records as in float64 */
    const char *fs = "model=transformer task=probe depth=2 width=16 heads=2 seq_len=8 batch=8 "
                     "format_stats=yes";
    snprintf(w, sizeof w, "%s precision=float16", fs);
    if (tap_ok(run(fs, &a) == 0 && run(w, &b) == 0, "format_stats=yes in float64 and float16")) {
        tap_ok(b.status == GS_STATUS_DONE && b.n_fmt > 0 && b.n_fmt == a.n_fmt,
               "format_stats=yes with precision=float16: %zu records (float64: %zu)", b.n_fmt,
               a.n_fmt);
        gs_result_free(&a);
        gs_result_free(&b);
    }
}

/* Bit for bit: the block and head rows (field by field: a head row has
 * padding), the train log, the losses and the loss scale */
static int same_tf(const gs_result_t *a, const gs_result_t *b)
{
    int rows = a->n_block == b->n_block && a->n_block > 0 &&
               memcmp(a->block, b->block, a->n_block * sizeof *a->block) == 0;
    int heads = a->n_head == b->n_head && a->n_head > 0;
    for (size_t i = 0; heads && i < a->n_head; i++) {
        const gs_head_row_t *x = &a->head[i], *y = &b->head[i];
        heads = x->step == y->step && x->layer == y->layer && x->head == y->head &&
                memcmp(&x->attn_entropy, &y->attn_entropy, sizeof(double)) == 0 &&
                memcmp(&x->attn_logit_max, &y->attn_logit_max, sizeof(double)) == 0;
    }
    int log = a->n_log == b->n_log && memcmp(a->log, b->log, a->n_log * sizeof *a->log) == 0;
    int runs = memcmp(&a->init_loss, &b->init_loss, sizeof(double)) == 0 &&
               memcmp(&a->grad_ratio, &b->grad_ratio, sizeof(double)) == 0 &&
               memcmp(&a->output_change, &b->output_change, sizeof(double)) == 0 &&
               memcmp(&a->train_loss, &b->train_loss, sizeof(double)) == 0 &&
               memcmp(&a->loss_scale_final, &b->loss_scale_final, sizeof(double)) == 0 &&
               a->skipped_steps == b->skipped_steps && a->steps_run == b->steps_run;
    if (!(rows && heads && log && runs))
        tap_diag("the same: block rows %d, head rows %d, train log %d, run %d", rows, heads, log,
                 runs);
    return rows && heads && log && runs;
}

static void threads(void)
{
#ifdef _OPENMP
    /* n T T d = 8 16 16 16 = 2^15: the attention's tasks are shared */
    const char *base = "model=transformer depth=2 width=16 heads=2 seq_len=16 batch=8";
    static const char *const how[] = {
        "task=probe precision=float16",
        "task=probe precision=bfloat16 qk_norm=yes",
        "task=train steps=6 log_every=2 eval_rows=0 dropout=0.1 precision=float16 "
        "loss_scale=dynamic",
        "task=train steps=6 log_every=2 eval_rows=0 precision=bfloat16 rounding=stochastic "
        "master_weights=same ln=post causal=yes",
    };
    for (size_t k = 0; k < sizeof how / sizeof *how; k++) {
        char w[512];
        snprintf(w, sizeof w, "%s %s", base, how[k]);
        gs_result_t a, b;
        tap_ok(tc_run_threads(w, &a, &b) == 0 && same_tf(&a, &b),
               "%s: 1 and 2 threads bit for bit (block, head and train rows, losses)", how[k]);
        gs_result_free(&a);
        gs_result_free(&b);
    }
#else
    tap_ok(1, "# SKIP no OpenMP");
#endif
}

/* block row of (step, layer, sublayer), or NULL */
static const gs_block_row_t *block_row(const gs_result_t *r, long step, int layer, int sub)
{
    for (size_t i = 0; i < r->n_block; i++)
        if (r->block[i].step == step && r->block[i].layer == layer && r->block[i].sublayer == sub)
            return &r->block[i];
    return NULL;
}

static void training(void)
{
    const char *base = "model=transformer task=train depth=2 width=16 heads=2 seq_len=8 batch=8";
    char w[512];
    gs_result_t r;
    snprintf(w, sizeof w, "%s steps=20 log_every=5 precision=float16 loss_scale=dynamic "
             "optimizer=adam lr=3e-3", base);
    int ok = run(w, &r) == 0;
    tap_ok(ok && r.status == GS_STATUS_DONE && r.steps_run == 20 && r.loss_scale_final >= 1 &&
               r.loss_scale_final <= 65536 && isfinite(r.train_loss) && r.skipped_steps >= 0,
           "float16, loss_scale=dynamic: 20 steps done, loss_scale_final %g, %ld skipped, train "
           "loss %.4f", ok ? r.loss_scale_final : NAN, ok ? r.skipped_steps : -1L,
           ok ? r.train_loss : NAN);
    if (ok)
        gs_result_free(&r);

    /* an injected overflow at step 3 (growth interval 1000): halved,
     * skipped, its weights the next step's */
    static const long at3[] = {3};
    gs_experiment_test_scaler(at3, 1, 1000);
    snprintf(w, sizeof w, "%s steps=5 log_every=1 precision=float16 loss_scale=dynamic", base);
    ok = run(w, &r) == 0;
    int kept = ok;
    for (int l = 1; ok && l <= 2; l++)
        for (int s = 0; s < GS_SUB_BLOCK; s++) {
            const gs_block_row_t *a = block_row(&r, 3, l, s), *b = block_row(&r, 4, l, s),
                                 *c = block_row(&r, 5, l, s);
            if (!a)
                continue;
            kept &= b && c && a->w_norm == b->w_norm && b->w_norm != c->w_norm &&
                    isnan(a->update_ratio) && isfinite(b->update_ratio);
        }
    tap_ok(ok && r.skipped_steps == 1 && r.loss_scale_final == 32768 && kept &&
               r.status == GS_STATUS_DONE,
           "an overflow injected at step 3: the scale halved (%g), 1 step skipped (%ld), its "
           "weights those of step 4 and no update ratio; step 4's update moves them",
           ok ? r.loss_scale_final : NAN, ok ? r.skipped_steps : -1L);
    if (ok)
        gs_result_free(&r);
    gs_experiment_test_scaler(NULL, 0, 2);   /* growth every 2 clean steps */
    ok = run(w, &r) == 0;
    tap_ok(ok && r.skipped_steps == 0 && r.loss_scale_final == 4 * 65536.0,
           "growth interval 2 over 5 clean steps: 2^16 doubled twice (%g)",
           ok ? r.loss_scale_final : NAN);
    if (ok)
        gs_result_free(&r);
    gs_experiment_test_scaler(NULL, 0, 0);

    /* master weights in bfloat16: SGD's small updates are lost */
    static const char *const masters[] = {"lr=1e-3 master_weights=same",
                                          "lr=1e-3 master_weights=float32",
                                          "lr=1e-20 master_weights=float32"};
    gs_result_t m[3];
    ok = 1;
    for (int k = 0; k < 3; k++) {
        snprintf(w, sizeof w, "%s steps=20 log_every=19 eval_rows=0 precision=bfloat16 "
                 "optimizer=sgd %s", base, masters[k]);
        ok &= run(w, &m[k]) == 0 && m[k].status == GS_STATUS_DONE;
    }
    if (tap_ok(ok, "bfloat16 SGD at lr 1e-3 with weights in bfloat16, in float32, and at lr 1e-20 (no update kept)")) {
        int gains_same = 1, gains_f32 = 1, n_gains = 0;
        for (int l = 1; l <= 2; l++)
            for (int s = GS_SUB_LN1; s <= GS_SUB_LN2; s++) {
                const gs_block_row_t *a0 = block_row(&m[0], 1, l, s), *a1 = block_row(&m[0], 20, l, s),
                                     *b0 = block_row(&m[1], 1, l, s), *b1 = block_row(&m[1], 20, l, s);
                if (!a0 || !a1 || !b0 || !b1) {
                    gains_same = 0;
                    continue;
                }
                n_gains++;
                gains_same &= a0->w_norm == a1->w_norm && a0->w_norm == 4.0;   /* ||1|| of 16 */
                gains_f32 &= b0->w_norm != b1->w_norm;
            }
        tap_ok(n_gains == 4 && gains_same && gains_f32,
               "master_weights=same: every norm gain still 1 after 20 steps (||g|| = 4 exactly); "
               "float32 masters moved all %d", n_gains);
        double moved_same = fabs(m[0].train_loss - m[2].train_loss),
               moved_f32 = fabs(m[1].train_loss - m[2].train_loss);
        tap_ok(moved_f32 > 0 && moved_same < 0.5 * moved_f32,
               "the training loss moved %.3e with weights in bfloat16, %.3e with float32 masters "
               "(from %.6f at lr 1e-20)", moved_same, moved_f32, m[2].train_loss);
    }
    for (int k = 0; k < 3; k++)
        if (ok)
            gs_result_free(&m[k]);
}

static void keys(void)
{
    gs_cell_t c;
    char err[512];
    tap_ok(tc_cell_of("model=transformer precision=e4m3 loss_scale=dynamic rounding=stochastic "
                      "master_weights=same task=train", &c, err, sizeof err) == 0,
           "precision, loss_scale, master_weights and rounding accepted for model=transformer");
    tap_ok(tc_cell_of("model=transformer loss_scale=1024", &c, err, sizeof err) != 0 &&
               strstr(err, "set precision"),
           "loss_scale without a precision refused for model=transformer (%s)", err);
}

int main(void)
{
    against_float64();
    representable();
    power_of_two_scale();
    threads();
    training();
    keys();
    return tap_done();
}
