/* A cell resolved once (experiment/plan.h): the plan's model, data shape
 * and rows, log steps, theory and costs for cells of each kind, against
 * numbers worked out by hand; gs_experiment_flops and gs_experiment_check
 * are the plan's. */
#include <config.h>

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "data/digits.h"
#include "experiment/experiment.h"
#include "experiment/plan.h"
#include "tap.h"

/* The plan of the cell the key=value words (NULL-terminated) make. */
static gs_plan_t plan_of(gs_cell_t *c, ...)
{
    char err[512];
    gs_cell_defaults(c);
    va_list ap;
    va_start(ap, c);
    for (const char *w; (w = va_arg(ap, const char *));)
        if (gs_cell_set_word(c, w, err, sizeof err) != 0)
            tap_diag("%s", err);
    va_end(ap);
    gs_cell_settle(c, NULL);
    gs_plan_t p;
    gs_plan_make(c, &p);
    return p;
}

int main(void)
{
    gs_cell_t c;
    /* an mlp probe: 3 hidden layers of 4 units over 5 inputs, batch 2 */
    gs_plan_t p = plan_of(&c, "depth=3", "width=4", "input_dim=5", "batch=2", NULL);
    tap_ok(!p.recurrent && p.model == GS_MODEL_MLP && p.n_layers == 4 && p.n_time == 0,
           "mlp: not recurrent, depth + 1 layers, no time steps");
    tap_ok(p.in_dim == 5 && p.row_dim == 5 && p.n_out == 10 && !p.regression &&
               p.mlp.in_dim == 5 && p.mlp.width == 4 && p.mlp.depth == 3 && p.mlp.capacity == 2,
           "mlp: its spec and data shape (5 inputs, 10 classes)");
    tap_ok(p.total_rows == 2000 && p.train_rows == 1600,
           "gaussian: 2000 rows, 1600 to train (%zu, %zu)", p.total_rows, p.train_rows);
    tap_ok(!p.trains && p.steps == 1 && p.n_log_max == 0, "probe: one step, no log");
    tap_ok(p.n_hist == 4, "mlp: a histogram per weight matrix, readout included (%zu)", p.n_hist);
    /* per row 5*4 + 2*4*4 + 4*10 = 92 multiply-adds; 3 passes of 2 rows, plus 2e6 */
    tap_ok(p.flops == 3.0 * 2.0 * 2.0 * 92.0 + 2e6 && gs_experiment_flops(&c) == p.flops,
           "flops: 3 passes x batch x 2 x multiply-adds + 2e6 = %.0f, gs_experiment_flops's",
           p.flops);
    tap_ok(p.batch_only, "a probe of gaussian data makes only its batch");
    tap_ok(p.model_bytes == gs_mlp_bytes(&p.mlp) &&
               p.need_bytes == (double)p.model_bytes + 8.0 * 2.0 * 5.0,
           "memory: the arenas, plus the probe's batch (sgd has no state)");
    tap_ok(p.theory.meanfield && p.theory.layer_slope && !p.theory.batchnorm_relu &&
               !p.theory.residual_growth && !p.theory.step_bound,
           "theory: mean field and the layer slope");
    tap_ok(p.weight_seed == gs_cell_seed(&c) && p.batch_seed == gs_cell_data_seed(&c),
           "seeds: the cell's");

    /* training: log steps 1, every log_every, the last */
    p = plan_of(&c, "task=train", "steps=100", "log_every=30", "optimizer=adam", NULL);
    int logged = gs_plan_logged(&p, 1) && gs_plan_logged(&p, 30) && gs_plan_logged(&p, 90) &&
                 gs_plan_logged(&p, 100) && !gs_plan_logged(&p, 2) && !gs_plan_logged(&p, 31);
    tap_ok(p.trains && p.steps == 100 && p.n_log_max == 100 / 30 + 3 && logged,
           "train: 100 steps, logged at 1, 30, 60, 90, 100 (room for %zu)", p.n_log_max);
    tap_ok(p.need_bytes == 2.0 * (double)p.model_bytes + 16.0 * 2000.0 * 100.0,
           "memory: adam's two state arrays are counted as the arenas' size");
    tap_ok(!p.batch_only, "training makes the whole data set");

    /* a recurrent model reading the digits as 8 rows of 8 pixels */
    p = plan_of(&c, "model=rnn", "dataset=digits", "seq_len=8", "width=12", "task=train",
                NULL);
    tap_ok(p.recurrent && p.n_time == 8 && p.in_dim == 8 && p.row_dim == 64 &&
               p.rnn.cell == GS_CELL_RNN && p.rnn.in_dim == 8 && p.rnn.seq_len == 8 &&
               p.depth == 1,
           "rnn on digits: 8 inputs a step, 64 a row, one layer by default");
    tap_ok(p.total_rows == GS_DIGITS_ROWS && p.train_rows == 1438,
           "digits: its file's 1797 rows, 1438 to train (%zu)", p.train_rows);
    tap_ok(p.theory.step_bound && !p.theory.layer_slope && !p.theory.meanfield,
           "rnn: Pascanu's bound, no layer theory");
    tap_ok(p.model_bytes == gs_rnn_bytes(&p.rnn), "rnn: the arenas of its spec");
    tap_ok(p.n_hist == 3, "rnn: histograms of Wx, Wh and the readout (%zu)", p.n_hist);
    p = plan_of(&c, "model=rnn", "dataset=digits", "seq_len=8", "width=12", "batch=4", NULL);
    tap_ok(!p.batch_only &&
               p.need_bytes == (double)p.model_bytes + 16.0 * (double)GS_DIGITS_ROWS * 64.0,
           "a probe of the digits: the whole file, twice while it is split");

    /* the adding problem: at most 4 million inputs */
    p = plan_of(&c, "model=gru", "dataset=adding", "seq_len=500", NULL);
    tap_ok(p.regression && p.n_out == 1 && p.in_dim == 2 && p.total_rows == 4000 &&
               p.rnn.cell == GS_CELL_GRU && !p.theory.step_bound,
           "gru on adding, seq_len 500: regression, 4000 sequences of 2 x 500 (%zu)",
           p.total_rows);
    tap_ok(p.batch_only && p.need_bytes == (double)p.model_bytes + 8.0 * (double)p.batch * 1000.0,
           "a probe of adding: its batch of 2 x 500 inputs a row");
    p = plan_of(&c, "model=lstm", "dataset=adding", "seq_len=10", NULL);
    tap_ok(p.total_rows == 20000 && p.rnn.cell == GS_CELL_LSTM,
           "lstm on adding, seq_len 10: 20000 sequences (%zu)", p.total_rows);

    /* which theory */
    p = plan_of(&c, "norm=batch", "activation=relu", NULL);
    tap_ok(p.theory.batchnorm_relu && !p.theory.meanfield, "batch norm, relu: its slope");
    p = plan_of(&c, "norm=batch", "activation=tanh", NULL);
    tap_ok(!p.theory.batchnorm_relu && !p.theory.meanfield, "batch norm, tanh: none");
    p = plan_of(&c, "residual=yes", "depth=5", NULL);
    tap_ok(p.theory.residual_growth && !p.theory.meanfield && p.theory.layer_slope,
           "residual: the length growth and the layer slope, no mean field");
    p = plan_of(&c, "spectrum=yes", "depth=4", NULL);
    tap_ok(p.spectrum && p.n_hist == 6, "spectrum: the Jacobian's histogram too (%zu)", p.n_hist);
    p = plan_of(&c, "residual=yes", "depth=1", NULL);
    tap_ok(!p.theory.residual_growth, "residual, depth 1: no growth to measure");
    p = plan_of(&c, "init=he", "gain=1.5", "bias_std=0.2", "width=7", NULL);
    tap_close(p.theory.sigma_w2, 2.0 * 1.5 * 1.5, 1e-12, "he, gain 1.5: sigma_w^2 = 2 gain^2");
    tap_ok(p.theory.sigma_b2 == 0.2 * 0.2 && p.theory.sigma_w2 == gs_experiment_sigma_w2(&c),
           "sigma_b^2 = bias_std^2; sigma_w^2 is gs_experiment_sigma_w2's");

    /* rows grow with the batch; the checks */
    p = plan_of(&c, "batch=5000", NULL);
    tap_ok(p.total_rows == 6251 && p.train_rows >= 5000,
           "batch 5000: ceil(5000 / 0.8) + 1 = 6251 rows (%zu)", p.total_rows);
    char err[512] = "";
    plan_of(&c, "dataset=digits", "batch=2000", NULL);
    tap_ok(gs_plan_resolve(&c, &p, err, sizeof err) != 0 && strstr(err, "batch=2000") &&
               gs_experiment_check(&c, err, sizeof err) != 0,
           "batch beyond the digits' training rows refused (%s)", err);
    plan_of(&c, "width=100000", "depth=100", NULL);
    tap_ok(gs_plan_resolve(&c, &p, err, sizeof err) != 0 && strstr(err, "GiB"),
           "a model beyond the machine's memory refused (%s)", err);
    plan_of(&c, "depth=4", NULL);
    tap_ok(gs_plan_resolve(&c, &p, err, sizeof err) == 0 && p.depth == 4,
           "a plain cell resolves");
    return tap_done();
}
