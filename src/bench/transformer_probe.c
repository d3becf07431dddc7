/* The transformer's effects at init (issue 21's table), measured by the
 * engine alone (nn/transformer.h), and its step time for pipeline/bench.
 *
 *   transformer_probe table SEEDS [act=NAME] [L...]
 *     d_model 128, 4 heads, FFN 512, T = 32, batch 16, vocab 64, Xavier-
 *     normal init, GELU (or act=NAME), cross-entropy on random targets; L = 6, 12, 24
 *     (or the given depths); schemes post, pre, pre+gpt2, deepnorm (post
 *     with DeepNorm's alpha and beta). One line per scheme, depth and seed:
 *       scheme=.. L=.. seed=.. w2_ratio=.. cos_top=.. out_change=..
 *     w2_ratio     ||dL/dWproj|| of block L over block 1
 *     cos_top      mean cosine between the tokens of block L's output
 *     out_change   ||z' - z|| / ||z|| of the logits z after one sign step
 *                  p -= 1e-4 sign(dL/dp) over every parameter (Admin's
 *                  measure; Adam's first step is this step)
 *   transformer_probe collapse SEEDS
 *     d_model 64, ln = none, 4 heads, L = 12: the relative residual
 *     ||X - 1 xbar^T|| / ||X|| per block for pure attention, with skips,
 *     and with the MLP alone (no skips):
 *       variant=.. seed=.. residual=r1,r2,...
 *   transformer_probe time L D HEADS FFN T BATCH VOCAB THREADS REPS
 *     ms of one training step (forward, loss, backward, an SGD update),
 *     the median of REPS after one warm-up: "transformer ms_per_step=.."
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/gemm.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/transformer.h"
#include "util/clock.h"

typedef struct {
    const char *name;
    gs_ln_place_t ln;
    gs_res_scale_t rs;
} scheme_t;

static const scheme_t schemes[] = {
    {"post", GS_LN_POST, GS_RS_NONE},
    {"pre", GS_LN_PRE, GS_RS_NONE},
    {"pre+gpt2", GS_LN_PRE, GS_RS_GPT2},
    {"deepnorm", GS_LN_POST, GS_RS_DEEPNORM},
};

typedef struct {
    gs_net_t *net;
    double *tok;
    int *y;
    size_t n, rows;
} run_t;

static int run_make(run_t *r, const gs_tf_spec_t *s, unsigned long seed)
{
    r->net = gs_tf_create(s);
    if (!r->net)
        return -1;
    r->n = s->capacity;
    r->rows = r->n * s->seq_len;
    r->tok = malloc(r->rows * sizeof *r->tok);
    r->y = malloc(r->rows * sizeof *r->y);
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, 0);
    gs_init_spec_t is = {gs_init_find("xavier"), 0, 1.0, 0.0};
    gs_tf_init(r->net, &is, &rng);
    for (size_t i = 0; i < r->rows; i++) {
        r->tok[i] = (double)gs_rng_below(&rng, s->vocab);
        r->y[i] = (int)gs_rng_below(&rng, s->vocab);
    }
    return 0;
}

static void run_free(run_t *r)
{
    gs_net_free(r->net);
    free(r->tok);
    free(r->y);
}

static double step(run_t *r, size_t vocab)
{
    gs_net_t *net = r->net;
    net->ops->forward(net, r->tok, r->n, 1);
    double loss = gs_softmax_ce_forward(net->dout, net->out, r->y, r->rows, vocab, NULL);
    gs_softmax_ce_backward(net->dout, net->dout, r->y, r->rows, vocab, 1.0 / (double)r->rows);
    net->ops->backward(net, r->n);
    return loss;
}

static int table(int seeds, const gs_activation_t *act, const size_t *depths, size_t n_depths)
{
    for (size_t di = 0; di < n_depths; di++)
        for (size_t k = 0; k < sizeof schemes / sizeof *schemes; k++)
            for (int seed = 1; seed <= seeds; seed++) {
                gs_tf_spec_t s = {.vocab = 64, .seq_len = 32, .d_model = 128, .heads = 4,
                                  .ffn = 512, .depth = depths[di], .capacity = 16,
                                  .act = act, .ln = schemes[k].ln,
                                  .residual_scale = schemes[k].rs, .skip = 1, .mlp = 1};
                run_t r;
                if (run_make(&r, &s, (unsigned long)seed) != 0)
                    return 1;
                gs_net_t *net = r.net;
                step(&r, s.vocab);
                gs_tf_block_stats_t *st = malloc(s.depth * sizeof *st);
                gs_tf_block_stats(net, r.n, st);
                const gs_tensor_t *w1 = gs_net_tensor_of(net, GS_TENSOR_WPROJ, 1);
                const gs_tensor_t *wl = gs_net_tensor_of(net, GS_TENSOR_WPROJ, s.depth);
                double ratio = gs_norm2(net->grads + wl->offset, wl->rows * wl->cols) /
                               gs_norm2(net->grads + w1->offset, w1->rows * w1->cols);
                double *work = malloc((net->n_params + r.rows * s.vocab) * sizeof *work);
                double change = gs_net_output_change(net, r.tok, r.n, 1e-4, work);
                printf("scheme=%s L=%zu seed=%d w2_ratio=%.4f cos_top=%.4f out_change=%.4g "
                       "rank_top=%.4f entropy_min_top=%.4f\n", schemes[k].name, s.depth, seed,
                       ratio, st[s.depth - 1].token_cosine, change,
                       st[s.depth - 1].rank_residual, st[s.depth - 1].attn_entropy_min);
                fflush(stdout);
                free(work);
                free(st);
                run_free(&r);
            }
    return 0;
}

static int collapse(int seeds)
{
    static const struct {
        const char *name;
        int skip, mlp;
    } variants[] = {{"attention", 0, 0}, {"attention+skip", 1, 0}, {"attention+mlp", 0, 1},
                    {"attention+mlp+skip", 1, 1}};
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++)
        for (int seed = 1; seed <= seeds; seed++) {
            gs_tf_spec_t s = {.vocab = 64, .seq_len = 32, .d_model = 64, .heads = 4, .ffn = 256,
                              .depth = 12, .capacity = 16, .act = gs_activation_find("gelu"),
                              .ln = GS_LN_NONE, .residual_scale = GS_RS_NONE,
                              .skip = variants[v].skip, .mlp = variants[v].mlp};
            run_t r;
            if (run_make(&r, &s, (unsigned long)seed) != 0)
                return 1;
            step(&r, s.vocab);
            gs_tf_block_stats_t st[12];
            gs_tf_block_stats(r.net, r.n, st);
            printf("variant=%s seed=%d residual=", variants[v].name, seed);
            for (size_t l = 0; l < s.depth; l++)
                printf("%s%.3g", l ? "," : "", st[l].rank_residual);
            printf("\n");
            run_free(&r);
        }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int timing(char **argv)
{
    gs_tf_spec_t s = {.depth = strtoul(argv[0], NULL, 10), .d_model = strtoul(argv[1], NULL, 10),
                      .heads = strtoul(argv[2], NULL, 10), .ffn = strtoul(argv[3], NULL, 10),
                      .seq_len = strtoul(argv[4], NULL, 10), .capacity = strtoul(argv[5], NULL, 10),
                      .vocab = strtoul(argv[6], NULL, 10), .act = gs_activation_find("gelu"),
                      .ln = GS_LN_PRE, .residual_scale = GS_RS_NONE, .skip = 1, .mlp = 1,
                      .causal = 1};
    int threads = atoi(argv[7]), reps = atoi(argv[8]);
    if (gs_tf_spec_error(&s) || threads < 1 || reps < 1) {
        fprintf(stderr, "transformer_probe time: bad shape (%s)\n",
                gs_tf_spec_error(&s) ? gs_tf_spec_error(&s) : "threads and reps >= 1");
        return 2;
    }
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    gs_blas_init();
    run_t r;
    if (run_make(&r, &s, 1) != 0)
        return 1;
    double *ms = malloc((size_t)reps * sizeof *ms);
    for (int i = -1; i < reps; i++) {
        double t0 = gs_now();
        step(&r, s.vocab);
        for (size_t j = 0; j < r.net->n_params; j++)
            r.net->params[j] -= 1e-4 * r.net->grads[j];
        if (i >= 0)
            ms[i] = 1000.0 * (gs_now() - t0);
    }
    qsort(ms, (size_t)reps, sizeof *ms, cmp_double);
    printf("transformer ms_per_step=%.3f threads=%d reps=%d\n", ms[reps / 2], threads, reps);
    free(ms);
    run_free(&r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "table") == 0) {
        size_t depths[16] = {6, 12, 24}, nd = 3;
        const gs_activation_t *act = gs_activation_find("gelu");
        int first = 3;
        if (argc > 3 && strncmp(argv[3], "act=", 4) == 0) {
            act = gs_activation_find(argv[3] + 4);
            first = 4;
            if (!act) {
                fprintf(stderr, "transformer_probe: no activation %s\n", argv[3] + 4);
                return 2;
            }
        }
        if (argc > first) {
            nd = 0;
            for (int i = first; i < argc && nd < 16; i++)
                depths[nd++] = strtoul(argv[i], NULL, 10);
        }
        return table(atoi(argv[2]), act, depths, nd);
    }
    if (argc == 3 && strcmp(argv[1], "collapse") == 0)
        return collapse(atoi(argv[2]));
    if (argc == 11 && strcmp(argv[1], "time") == 0)
        return timing(argv + 2);
    fprintf(stderr, "usage: transformer_probe table SEEDS [act=NAME] [L...] | collapse SEEDS | "
                    "time L D HEADS FFN T BATCH VOCAB THREADS REPS\n");
    return 2;
}
