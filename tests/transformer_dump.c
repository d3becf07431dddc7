/* Writes small transformer stacks (weights, tokens, targets, their loss,
 * every gradient and the per-block statistics) as text for
 * tests/reference/torch_transformer.py, which rebuilds each in PyTorch
 * with identical weights. One block per configuration:
 *   transformer <ln> <residual_scale> <skip> <mlp> <causal> <act> <vocab> <T> <d> <heads> <ffn> <L> <n> <dropout> <qk_norm>
 *   tensor <name> <rows> <cols> <values...>
 *   mask <l> <site> <values...>   (dropout > 0: every mask the forward applied,
 *                                  site 0-3 as gs_tf_drop_site_t, its shape's order)
 *   tokens <ids...> / targets <ids...>
 *   loss <value>
 *   grad <name> <values...>
 *   block <l> grad_x_norm rms token_cosine rank_residual attn_entropy_min attn_logit_max */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>

#include "nn/loss.h"
#include "nn/transformer.h"

static void dump_values(const gs_net_t *net, const double *vals, int grads)
{
    for (size_t t = 0; t < net->n_tensors; t++) {
        const gs_tensor_t *T = &net->tensors[t];
        if (grads)
            printf("grad %s", T->name);
        else
            printf("tensor %s %zu %zu", T->name, T->rows, T->cols);
        for (size_t i = 0; i < T->rows * T->cols; i++)
            printf(" %.17g", vals[T->offset + i]);
        printf("\n");
    }
}

static int dump(const gs_tf_spec_t *s, size_t n, uint64_t seed)
{
    gs_net_t *net = gs_tf_create(s);
    if (!net)
        return 1;
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, 0);
    gs_rng_seed(gs_tf_dropout_rng(net), seed, 1);
    gs_init_spec_t is = {gs_init_find("xavier"), 0, 1.0, 0.1};
    gs_tf_init(net, &is, &rng);
    /* norm gains and shifts, ReZero's scalars off 1, 0 and 0 */
    for (size_t t = 0; t < net->n_tensors; t++) {
        const gs_tensor_t *T = &net->tensors[t];
        if (!T->weight)
            for (size_t i = 0; i < T->rows * T->cols; i++)
                net->params[T->offset + i] += (T->kind == GS_TENSOR_REZERO ? 0.5 : 0.0) +
                                              0.2 * gs_rng_normal(&rng);
    }
    size_t rows = n * s->seq_len;
    double *tok = malloc(rows * sizeof *tok);
    int *y = malloc(rows * sizeof *y);
    gs_tf_block_stats_t *st = malloc(s->depth * sizeof *st);
    for (size_t i = 0; i < rows; i++) {
        tok[i] = (double)gs_rng_below(&rng, s->vocab);
        y[i] = (int)gs_rng_below(&rng, s->vocab);
    }
    net->ops->forward(net, tok, n, 1);
    double loss = gs_softmax_ce_forward(net->dout, net->out, y, rows, s->vocab, NULL);
    gs_softmax_ce_backward(net->dout, net->dout, y, rows, s->vocab, 1.0 / (double)rows);
    net->ops->backward(net, n);
    gs_tf_block_stats(net, n, st);
    printf("transformer %s %s %d %d %d %s %zu %zu %zu %zu %zu %zu %zu %.17g %d\n",
           gs_ln_place_names[s->ln], gs_res_scale_names[s->residual_scale], s->skip, s->mlp,
           s->causal, s->act->name, s->vocab, s->seq_len, s->d_model, s->heads, s->ffn,
           s->depth, n, s->dropout, s->qk_norm);
    dump_values(net, net->params, 0);
    size_t sizes[GS_TF_N_DROP] = {n * s->heads * s->seq_len * s->seq_len, rows * s->d_model,
                                  rows * s->ffn, rows * s->d_model};
    for (size_t l = 1; l <= s->depth; l++)
        for (int site = 0; site < GS_TF_N_DROP; site++) {
            const double *M = gs_tf_dropout_mask(net, l, (gs_tf_drop_site_t)site);
            if (!M)
                continue;
            printf("mask %zu %d", l, site);
            for (size_t i = 0; i < sizes[site]; i++)
                printf(" %.17g", M[i]);
            printf("\n");
        }
    printf("tokens");
    for (size_t i = 0; i < rows; i++)
        printf(" %d", (int)tok[i]);
    printf("\ntargets");
    for (size_t i = 0; i < rows; i++)
        printf(" %d", y[i]);
    printf("\nloss %.17g\n", loss);
    dump_values(net, net->grads, 1);
    for (size_t l = 0; l < s->depth; l++)
        printf("block %zu %.17g %.17g %.17g %.17g %.17g %.17g\n", l + 1, st[l].grad_x_norm,
               st[l].rms, st[l].token_cosine, st[l].rank_residual, st[l].attn_entropy_min,
               st[l].attn_logit_max);
    free(tok);
    free(y);
    free(st);
    gs_net_free(net);
    return 0;
}

int main(void)
{
    uint64_t seed = 100;
    int bad = 0;
    const gs_activation_t *gelu = gs_activation_find("gelu"), *relu = gs_activation_find("relu");
    for (int ln = 0; ln < 3; ln++)
        for (int rs = 0; rs < 4; rs++)
            for (int variant = 0; variant < 3; variant++) {
                /* variant 0: skip and MLP, not causal; 1: causal; 2: no skip, no MLP */
                gs_tf_spec_t s = {.vocab = 7, .seq_len = 5, .d_model = 8, .heads = 2, .ffn = 12,
                                  .depth = 2, .capacity = 3, .act = rs == 3 ? relu : gelu,
                                  .ln = (gs_ln_place_t)ln, .residual_scale = (gs_res_scale_t)rs,
                                  .skip = variant != 2, .mlp = variant != 2,
                                  .causal = variant == 1};
                bad |= dump(&s, 3, seed++);
            }
    /* edges: d_head 1, one position, one block and one sequence */
    gs_tf_spec_t e = {.vocab = 3, .seq_len = 4, .d_model = 4, .heads = 4, .ffn = 3, .depth = 1,
                      .capacity = 1, .act = gelu, .ln = GS_LN_PRE, .residual_scale = GS_RS_NONE,
                      .skip = 1, .mlp = 1, .causal = 1};
    bad |= dump(&e, 1, seed++);
    e.seq_len = 1, e.heads = 1, e.ln = GS_LN_POST, e.capacity = 2;
    bad |= dump(&e, 2, seed++);
    /* dropout 0.3: Post-LN and Pre-LN (nn.TransformerEncoderLayer too,
     * with gradsweep's masks), causal, each residual scheme, mlp = no */
    for (int ln = 0; ln < 3; ln++)
        for (int rs = 0; rs < 4; rs++)
            for (int variant = 0; variant < 3; variant++) {
                if (ln == GS_LN_NONE && variant)
                    continue;
                gs_tf_spec_t s = {.vocab = 7, .seq_len = 5, .d_model = 8, .heads = 2, .ffn = 12,
                                  .depth = 2, .capacity = 3, .act = rs == 3 ? relu : gelu,
                                  .ln = (gs_ln_place_t)ln, .residual_scale = (gs_res_scale_t)rs,
                                  .skip = 1, .mlp = variant != 2, .causal = variant == 1,
                                  .dropout = 0.3};
                bad |= dump(&s, 3, seed++);
            }
    /* QK-norm: post, pre, none; causal and not (d_head 4); d_head 2 with
     * ReZero; with dropout 0.3 */
    for (int ln = 0; ln < 3; ln++)
        for (int causal = 0; causal <= 1; causal++) {
            gs_tf_spec_t s = {.vocab = 7, .seq_len = 5, .d_model = 8, .heads = 2, .ffn = 12,
                              .depth = 2, .capacity = 3, .act = gelu, .ln = (gs_ln_place_t)ln,
                              .residual_scale = GS_RS_NONE, .skip = 1, .mlp = 1,
                              .causal = causal, .qk_norm = 1};
            bad |= dump(&s, 3, seed++);
        }
    gs_tf_spec_t q = {.vocab = 7, .seq_len = 5, .d_model = 8, .heads = 4, .ffn = 12, .depth = 2,
                      .capacity = 3, .act = gelu, .ln = GS_LN_PRE,
                      .residual_scale = GS_RS_REZERO, .skip = 1, .mlp = 1, .causal = 1,
                      .qk_norm = 1};
    bad |= dump(&q, 3, seed++);
    q.heads = 2, q.residual_scale = GS_RS_NONE, q.ln = GS_LN_POST, q.dropout = 0.3;
    bad |= dump(&q, 3, seed++);
    return bad;
}
