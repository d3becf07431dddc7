/* The edges of the models' shapes: every model (mlp, rnn, lstm, gru) with
 * every init scheme at widths 1 to 4, depth 1 and 2, and inputs wider than
 * the layer (input_dim 9 against width 1..4; the readout's 10 classes
 * against width 1..4): a probe runs, its numbers are finite, and a second
 * run gives bitwise the same. An arena sized too small for the orthogonal
 * init's scratch (the readout's 10 x width can exceed width x input) wrote
 * past its end here; under valgrind or the sanitizers this test shows it. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "experiment/experiment.h"
#include "nn/init.h"
#include "tap.h"

static int run(const char *model, const char *init, int width, int depth, gs_result_t *r)
{
    gs_cell_t c;
    char err[512], w[64];
    gs_cell_defaults(&c);
    const char *words[] = {"task=probe", "batch=8", "seq_len=3", "input_dim=9"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (gs_cell_set_word(&c, words[i], err, sizeof err) != 0)
            return tap_diag("%s", err), -1;
    snprintf(w, sizeof w, "model=%s", model);
    gs_cell_set_word(&c, w, err, sizeof err);
    snprintf(w, sizeof w, "init=%s", init);
    if (gs_cell_set_word(&c, w, err, sizeof err) != 0)
        return tap_diag("%s", err), -1;
    snprintf(w, sizeof w, "width=%d", width);
    gs_cell_set_word(&c, w, err, sizeof err);
    snprintf(w, sizeof w, "depth=%d", depth);
    gs_cell_set_word(&c, w, err, sizeof err);
    return gs_experiment_run(&c, r, NULL);
}

static int finite_result(const gs_result_t *r)
{
    int ok = isfinite(r->init_loss);
    for (size_t l = 0; l < r->n_layers; l++)
        ok &= isfinite(r->layers[l].grad_w_norm) && isfinite(r->layers[l].w_norm) &&
              isfinite(r->layers[l].act_mean);
    return ok;
}

int main(void)
{
    const char *models[] = {"mlp", "rnn", "lstm", "gru"};
    for (size_t m = 0; m < 4; m++)
        for (size_t k = 0; k < gs_n_inits; k++) {
            int all = 1, same = 1;
            for (int width = 1; width <= 4; width++)
                for (int depth = 1; depth <= 2; depth++) {
                    gs_result_t a, b;
                    int ra = run(models[m], gs_inits[k].name, width, depth, &a);
                    int rb = run(models[m], gs_inits[k].name, width, depth, &b);
                    if (ra != 0 || rb != 0 || !finite_result(&a)) {
                        all = 0;
                        tap_diag("%s init=%s width=%d depth=%d: %s", models[m],
                                 gs_inits[k].name, width, depth,
                                 ra ? a.error : "a non-finite measurement");
                    } else {
                        same &= a.grad_ratio == b.grad_ratio && a.init_loss == b.init_loss;
                    }
                    gs_result_free(&a);
                    gs_result_free(&b);
                }
            tap_ok(all && same, "%s init=%s, widths 1-4, depth 1-2, input 9, 10 classes: "
                   "probes run, finite, reproducible", models[m], gs_inits[k].name);
        }
    return tap_done();
}
