#include <config.h>

#include <math.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli/cli.h"
#include "driver/progress.h"
#include "experiment/experiment.h"
#include "sweep/cell.h"
#include "util/clock.h"

typedef struct {
    gs_cell_t cell;
    int csv;
    int threads;   /* 0: OpenMP's default */
} options_t;

static void command_help(const char *cmd, const char *what, const char *output)
{
    const char *task = strcmp(cmd, "train") == 0 ? "train" : "probe";
    printf("usage: gradsweep %s [KEY=VALUE...] [--csv] [--threads N]\n\n%s\n\n%s\n\n"
           "options:\n"
           "  --csv         machine-readable output (see above)\n"
           "  --threads N   OpenMP threads (default: all cores; results do not depend on it)\n"
           "  --help        this text;  --version  the version\n\n"
           "keys (the same words as in sweep configs):\n",
           cmd, what, output);
    gs_cell_print_keys(stdout, "task", task);
}

/* Whether the key of argv[i] (a valid key=value word) was given by an
 * earlier word: said, as an INI file that sets a key twice is refused. */
static int set_twice(char **argv, int i, const char *cmd)
{
    size_t kl = (size_t)(strchr(argv[i], '=') - argv[i]);
    for (int k = 1; k < i; k++)
        if (strncmp(argv[k], argv[i], kl + 1) == 0) {
            fprintf(stderr, "gradsweep %s: '%s' and '%s' both set %.*s; give each key once\n",
                    cmd, argv[k], argv[i], (int)kl, argv[i]);
            return 1;
        }
    return 0;
}

/* task=X where X is not this command's task: said (the command sets it). */
static int task_of_other(const char *word, const char *cmd)
{
    if (strncmp(word, "task=", 5) != 0 || strcmp(word + 5, cmd) == 0)
        return 0;
    fprintf(stderr, "gradsweep %s: '%s': this command sets task=%s; for task=%s run gradsweep "
            "%s\n", cmd, word, cmd, word + 5, word + 5);
    return 1;
}

/* 0: parsed; 1: --help or --version printed (exit 0); 2: bad input. */
static int parse_args(int argc, char **argv, options_t *o, gs_task_t task, const char *cmd,
                      const char *what, const char *output)
{
    char err[1024];
    gs_cell_defaults(&o->cell);
    o->csv = 0;
    o->threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            command_help(cmd, what, output);
            return 1;
        } else if (strcmp(a, "--version") == 0) {
            printf("gradsweep %s\n", PACKAGE_VERSION);
            return 1;
        } else if (strcmp(a, "--csv") == 0) {
            o->csv = 1;
        } else if (strcmp(a, "--threads") == 0 || strncmp(a, "--threads=", 10) == 0) {
            const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : "");
            char *end;
            long t = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || t < 1 || t > GS_THREADS_MAX) {
                fprintf(stderr, "gradsweep %s: --threads %s: not a thread count; allowed: an "
                        "integer from 1 to %d\n", cmd, v, GS_THREADS_MAX);
                return 2;
            }
            o->threads = (int)t;
        } else if (a[0] == '-') {
            fprintf(stderr, "gradsweep %s: unknown option '%s'; options: --csv, --threads N, "
                    "--help, --version\n", cmd, a);
            return 2;
        } else if (gs_cell_set_word(&o->cell, a, err, sizeof err) != 0) {
            fprintf(stderr, "gradsweep %s: %s\n", cmd, err);
            return 2;
        } else if (set_twice(argv, i, cmd) || task_of_other(a, cmd)) {
            return 2;
        }
    }
    o->cell.task = task;
    gs_cell_settle(&o->cell, NULL);
    if (gs_experiment_check(&o->cell, err, sizeof err) != 0) {
        fprintf(stderr, "gradsweep %s: %s\n", cmd, err);
        return 2;
    }
#ifdef _OPENMP
    if (o->threads)
        omp_set_num_threads(o->threads);
#endif
    return 0;
}

static void print_config(FILE *out, const gs_cell_t *c)
{
    char key[2048];
    gs_cell_key(c, key, sizeof key);
    fprintf(out, "config: %s\nseed: %llu (weights' seed %llu, batches' seed %llu)\n", key,
            (unsigned long long)c->seed, (unsigned long long)gs_cell_seed(c),
            (unsigned long long)gs_cell_data_seed(c));
}

/* %g, but "nan" for any NaN (glibc would print "-nan" for some) */
static const char *num(char *buf, size_t len, const char *fmt, double v)
{
    if (isnan(v))
        snprintf(buf, len, "nan");
    else
        snprintf(buf, len, fmt, v);
    return buf;
}

/* Where the time went, and the cell's arenas against the process's peak
 * resident memory (which adds the libraries' own: BLAS buffers, MPI,
 * PLplot). */
static void print_cost(FILE *out, const gs_result_t *r)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return;
    double mib = 1024.0 * 1024.0, peak = (double)ru.ru_maxrss * 1024.0;   /* KiB on Linux */
    fprintf(out, "time: set-up %.3f s (data, model, init), steps %.3f s, evaluation %.3f s\n",
            r->setup_s, r->steps_s, r->eval_s);
    fprintf(out, "memory: arenas %.1f MiB, peak resident %.1f MiB (%.2fx)\n",
            (double)r->work_bytes / mib, peak / mib,
            r->work_bytes ? peak / (double)r->work_bytes : 0.0);
}

/* Run the cell of o into r: 0; or, when it failed, 1 with the reason
 * printed and r freed. */
static int run_cell(const char *cmd, const options_t *o, gs_result_t *r, gs_progress_t *progress)
{
    if (gs_experiment_run(&o->cell, r, progress) == 0)
        return 0;
    fprintf(stderr, "gradsweep %s: failed: %s\n", cmd, r->error);
    gs_result_free(r);
    return 1;
}

/* Per hidden (or stacked recurrent) layer, as a table. */
static void print_layer_table(const gs_result_t *r, const char *label)
{
    printf("%5s %11s %11s %10s %8s %14s %12s %10s\n", label, "act_mean", "act_std",
           "saturated", "dead", "grad_pre_norm", "grad_w_norm", "w_norm");
    for (size_t l = 0; l + 1 < r->n_layers; l++) {
        const gs_layer_stats_t *s = &r->layers[l];
        printf("%5zu %11.4g %11.4g %10.4f %8.4f %14.4e %12.4e %10.4g\n", l + 1, s->act_mean,
               s->act_std, s->saturated_frac, s->dead_frac, s->grad_pre_norm, s->grad_w_norm,
               s->w_norm);
    }
}

/* A transformer's blocks: the block rows, then ||dL/dW|| of every
 * matrix and gain per block (block_stats' rows) */
static void print_block_table(const gs_result_t *r)
{
    printf("%5s %12s %10s %12s %13s %16s %14s\n", "block", "grad_x_norm", "rms",
           "token_cosine", "rank_residual", "attn_entropy_min", "attn_logit_max");
    for (size_t i = 0; i < r->n_block; i++) {
        const gs_block_row_t *b = &r->block[i];
        if (b->sublayer == GS_SUB_BLOCK)
            printf("%5d %12.4e %10.4g %12.4f %13.4g %16.4f %14.4g\n", b->layer, b->grad_x_norm,
                   b->rms, b->token_cosine, b->rank_residual, b->attn_entropy_min,
                   b->attn_logit_max);
    }
    printf("\n||dL/dW|| per block and sublayer\n%5s", "block");
    for (int s = 0; s < GS_SUB_BLOCK; s++)
        printf(" %10s", gs_sublayer_names[s]);
    for (size_t i = 0; i < r->n_block; i++) {
        const gs_block_row_t *b = &r->block[i];
        if (i == 0 || b->layer != r->block[i - 1].layer) {
            printf("\n%5d", b->layer);
            for (int s = 0, at = 0; s < GS_SUB_BLOCK; s++) {   /* absent sublayers: blank */
                const gs_block_row_t *m = &r->block[i + (size_t)at];
                if (i + (size_t)at < r->n_block && m->layer == b->layer && m->sublayer == s) {
                    printf(" %10.3e", m->grad_w_norm);
                    at++;
                } else {
                    printf(" %10s", "");
                }
            }
        }
    }
    printf("\n");
}

static void print_time_table(const gs_result_t *r)
{
    printf("\n%6s %14s %18s\n", "t", "hidden_norm", "grad_hidden_norm");
    for (size_t t = 0; t < r->n_time; t++)
        printf("%6zu %14.6g %18.6e\n", t + 1, r->time[t].hidden_norm,
               r->time[t].grad_hidden_norm);
}

/* format_stats=yes: the share of each layer's dL/dh that every format
 * flushes to zero at the probe (gs_format_row: the rows the database
 * stores), and the loss-scale window the layers leave (the tightest
 * layer's ends, as the loss_scale_window view takes them). */
static void print_format_table(const gs_result_t *r)
{
    int readout = 0;   /* the last layer: depth + 1 (a transformer has no layer rows) */
    for (size_t i = 0; i < r->n_fmt; i++)
        readout = r->fmt[i].layer > readout ? r->fmt[i].layer : readout;
    printf("\nshare of dL/dh flushed to zero (format_stats; readout = layer %d%s)\n%6s", readout,
           r->n_block ? "; a transformer's layer is a block, its dL/dh the dL/dx entering it" : "",
           "layer");
    for (int f = 0; f < GS_N_FMT; f++)
        printf(" %9s", gs_fmt_names[f]);
    printf("\n");
    double lo[GS_N_FMT], hi[GS_N_FMT];
    for (int f = 0; f < GS_N_FMT; f++)
        lo[f] = -INFINITY, hi[f] = INFINITY;
    for (size_t i = 0; i < r->n_fmt; i++) {
        const gs_fmt_record_t *rec = &r->fmt[i];
        if (rec->tensor != GS_FT_GRAD_ACTIVATION)
            continue;
        printf("%6d", rec->layer);
        for (int f = 0; f < GS_N_FMT; f++) {
            gs_format_row_t row;
            gs_format_row(rec, f, &row);
            printf(" %9.4f", row.zero_frac);
            if (isfinite(row.scale_lo_log2)) {
                lo[f] = fmax(lo[f], row.scale_lo_log2);
                hi[f] = fmin(hi[f], row.scale_hi_log2);
            }
        }
        printf("\n");
    }
    printf("loss-scale window of dL/dh (log2; <= 0.1%% lost in every layer, none overflowing):\n");
    for (int f = 0; f < GS_N_FMT; f++)
        printf("  %-9s %s [%g, %g]\n", gs_fmt_names[f], lo[f] > hi[f] ? "empty" : "     ", lo[f],
               hi[f]);
}

/* The CSVs are for programs: full precision, and their columns are the
 * series tables' (result_fields.h), in order, after the row's keys */
#define CSV_NAME(name, type, help) "," #name
#define CSV_REAL(v) printf(",%.17g", v)
#define CSV_INT(v) printf(",%ld", v)
#define CSV_LAYER(name, type, help) CSV_##type(s->name);
#define CSV_TIME(name, type, help) CSV_##type(r->time[t].name);
#define PROBE_CSV_HEADER "layer" GS_LAYER_STATS_COLUMNS(CSV_NAME)
#define PROBE_TIME_CSV_HEADER "t" GS_TIME_STATS_COLUMNS(CSV_NAME)
#define CSV_BLOCK(name, type, help) CSV_##type(b->name);
#define PROBE_BLOCK_CSV_HEADER "layer,sublayer" GS_BLOCK_STATS_COLUMNS(CSV_NAME)

static void print_probe_csv(const gs_result_t *r)
{
    if (r->n_block) {
        printf(PROBE_BLOCK_CSV_HEADER "\n");
        for (size_t i = 0; i < r->n_block; i++) {
            const gs_block_row_t *b = &r->block[i];
            printf("%d,%s", b->layer, gs_sublayer_names[b->sublayer]);
            GS_BLOCK_STATS_COLUMNS(CSV_BLOCK)
            putchar('\n');
        }
        return;
    }
    if (r->n_time) {
        printf(PROBE_TIME_CSV_HEADER "\n");
        for (size_t t = 0; t < r->n_time; t++) {
            printf("%zu", t + 1);
            GS_TIME_STATS_COLUMNS(CSV_TIME)
            putchar('\n');
        }
        return;
    }
    printf(PROBE_CSV_HEADER "\n");
    for (size_t l = 0; l + 1 < r->n_layers; l++) {
        const gs_layer_stats_t *s = &r->layers[l];
        printf("%zu", l + 1);
        GS_LAYER_STATS_COLUMNS(CSV_LAYER)
        putchar('\n');
    }
}

static const char probe_what[] =
    "Builds the configured model, runs one batch forward and backward at initialization\n"
    "and prints, for each hidden layer l = 1..depth: act_mean and act_std of its output x_l,\n"
    "saturated_frac (|phi'| < 5% of its maximum), dead_frac (phi' = 0), grad_pre_norm\n"
    "||dL/dh_l||, grad_w_norm ||dL/dW_l|| and w_norm ||W_l||. Recurrent models (rnn, lstm,\n"
    "gru) add, for every time step t of the top layer, hidden_norm (||h_t||, mean over the\n"
    "batch) and grad_hidden_norm (||dL/dh_t||, the loss taken at the last step).\n"
    "A transformer (model=transformer) prints per block grad_x_norm (||dL/dx|| of the\n"
    "residual stream entering it), rms, token_cosine, rank_residual, attn_entropy_min and\n"
    "attn_logit_max, then ||dL/dW|| of every sublayer (q, k, v, o, w1, w2, ln1, ln2).";
static const char probe_output[] =
    "The last line is 'result: diagnosis=<healthy|vanishing|exploding|dead|diverged>\n"
    "grad_h_ratio=<...> grad_ratio=<...>'. The diagnosis is decided by grad_h_ratio, the\n"
    "backpropagated gradient: grad_pre_norm(1)/grad_pre_norm(depth) for an mlp,\n"
    "grad_hidden_norm(t=1)/grad_hidden_norm(t=seq_len) for a recurrent model; below\n"
    "vanishing_below it vanishes, above exploding_above it explodes; dead: some layer's\n"
    "gradient is exactly zero (no ratio: nan). grad_ratio = grad_w_norm(1)/grad_w_norm(depth)\n"
    "is the weight gradients' ratio, shown but never the verdict: a weight gradient is the\n"
    "backpropagated gradient times the layer's input, and the two can cancel (relu/xavier at\n"
    "depth 100: ||dL/dh|| falls 1e-15, grad_ratio stays near 3). An mlp's line\n"
    "goes on with predicted_slope=<...> measured_slope=<...> chi1=<...>: the mean-field\n"
    "prediction of how ln ||dL/dh_l|| changes per layer toward the input (1/2 ln chi1; for\n"
    "batch-normalized relu 1/2 ln(pi/(pi-1)); nan where no theory applies), the least-squares\n"
    "slope measured over layers depth/2..depth, and chi1; a residual one without norm adds\n"
    "residual_growth_predicted/measured (of ln ||x_l||^2 per block); an rnn's adds\n"
    "step_bound=<ln(lambda_1 gamma), Pascanu's per-step bound> measured_slope=<per step>;\n"
    "with spectrum=yes then sv2_min,\n"
    "sv2_max, sv2_mean (of the squared singular values of the Jacobian dx_depth/dx_0 at the\n"
    "first input) and condition (sigma_max / sigma_min). With --csv,\n"
    "stdout is a CSV with the header\n"
    PROBE_CSV_HEADER "\n"
    "(mlp), " PROBE_TIME_CSV_HEADER " (recurrent) or\n"
    PROBE_BLOCK_CSV_HEADER " (transformer: block_stats' rows), and the result\n"
    "line goes to stderr. A transformer's diagnosis is collapsed when the top block's\n"
    "rank_residual is below " GS_RF_STR(GS_COLLAPSED_BELOW) ", else from grad_h_ratio = grad_x_norm(1)/grad_x_norm(depth);\n"
    "its grad_ratio is W2's, and its line goes on with output_change=<...> (Admin's measure).";

int gs_cmd_probe(int argc, char **argv)
{
    options_t o;
    int rc = parse_args(argc, argv, &o, GS_TASK_PROBE, "probe", probe_what, probe_output);
    if (rc)
        return rc == 1 ? 0 : rc;
    gs_result_t r;
    if (run_cell("probe", &o, &r, NULL) != 0)
        return 1;
    FILE *res = stdout;
    if (o.csv) {
        print_probe_csv(&r);
        res = stderr;
    } else {
        print_config(stdout, &o.cell);
        printf("loss at init: %.6g\n\n", r.init_loss);
        if (r.n_block)
            print_block_table(&r);
        else
            print_layer_table(&r, "layer");
        if (r.n_time)
            print_time_table(&r);
        if (r.n_fmt)
            print_format_table(&r);
        printf("\n");
    }
    fflush(stdout);
    char b[32], b1[32], b2[32], b3[32];
    print_cost(stderr, &r);
    fprintf(res, "result: diagnosis=%s grad_h_ratio=%s", gs_diag_names[r.diagnosis],
            num(b, sizeof b, "%.6e", r.grad_h_ratio));
    fprintf(res, " grad_ratio=%s", num(b, sizeof b, "%.6e", r.grad_ratio));
    if (o.cell.model == GS_MODEL_MLP)
        fprintf(res, " predicted_slope=%s measured_slope=%s chi1=%s",
                num(b1, sizeof b1, "%.4f", r.predicted_slope),
                num(b2, sizeof b2, "%.4f", r.measured_slope), num(b3, sizeof b3, "%.6g", r.chi1));
    if (o.cell.model == GS_MODEL_RNN)
        fprintf(res, " step_bound=%s measured_slope=%s", num(b1, sizeof b1, "%.4f", r.step_bound),
                num(b2, sizeof b2, "%.4f", r.measured_slope));
    if (o.cell.residual && o.cell.norm == GS_NORM_NONE)
        fprintf(res, " residual_growth_predicted=%s residual_growth_measured=%s",
                num(b1, sizeof b1, "%.4f", r.residual_growth_predicted),
                num(b2, sizeof b2, "%.4f", r.residual_growth_measured));
    if (o.cell.model == GS_MODEL_TRANSFORMER)
        fprintf(res, " output_change=%s", num(b1, sizeof b1, "%.6g", r.output_change));
    if (o.cell.spectrum)
        fprintf(res, " sv2_min=%.6g sv2_max=%.6g sv2_mean=%.6g condition=%.6g", r.sv2_min,
                r.sv2_max, r.sv2_mean, r.condition);
    fprintf(res, "\n");
    gs_result_free(&r);
    return 0;
}

/* Training progress on stderr: a bar redrawn in place on a terminal, a
 * plain line every GS_PROGRESS_PLAIN_S seconds otherwise. With --csv the
 * rows go to stdout. */
typedef struct {
    int csv, tty;
    double start;
    double last_print;
} train_view_t;

#define TRAIN_CSV_HEADER                                                                  \
    "step,layer" GS_TRAIN_LOG_COLUMNS(CSV_NAME) GS_TRAIN_LAYER_LOG_COLUMNS(CSV_NAME)
#define CSV_STEP(name, type, help) CSV_##type(row->name);
#define CSV_STEP_LAYER(name, type, help) CSV_##type(L->name);

static void on_log(void *ctx, const gs_train_row_t *row, const gs_train_layer_row_t *layers,
                   size_t n_layers, long steps)
{
    train_view_t *v = ctx;
    if (v->csv) {   /* the step's columns repeated on each of its layers' rows */
        for (size_t l = 0; l < n_layers; l++) {
            const gs_train_layer_row_t *L = &layers[l];
            printf("%ld,%d", row->step, L->layer);
            GS_TRAIN_LOG_COLUMNS(CSV_STEP)
            GS_TRAIN_LAYER_LOG_COLUMNS(CSV_STEP_LAYER)
            putchar('\n');
        }
        return;
    }
    double el = gs_now() - v->start;
    if (!v->tty && el - v->last_print < GS_PROGRESS_PLAIN_S && row->step != steps)
        return;
    v->last_print = el;
    double frac = (double)row->step / (double)steps;
    double eta = frac > 0 ? el / frac - el : 0.0;
    char bar[31];
    int fill = (int)(frac * 30.0);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "%s[%s] step %ld/%ld  loss %.4g  held-out %.4g  |g| %.3e  %.1fs elapsed, "
            "eta %.1fs%s", v->tty ? "\r" : "", bar, row->step, steps, row->loss,
            row->heldout_loss, row->grad_norm, el, eta, v->tty ? "   " : "\n");
}

static const char train_what[] =
    "Trains the configured model for `steps` steps on its data set (softmax cross-entropy;\n"
    "MSE for dataset=adding; 80/20 train/test split), clipping gradients when clip is set.\n"
    "Progress goes to stderr.";
static const char train_output[] =
    "The last line is 'result: status=<done|diverged> diagnosis=<...> train_loss=<...>\n"
    "test_loss=<...> test_acc=<...> clip_fraction=<...> diverged_step=<step|none>\n"
    "diagnosis_final=<the diagnosis from the gradient ratio at the last logged step>', and\n"
    "for a diverged run 'diverged_layer=<l> diverged_tensor=<weight|activation|gradient|loss>'\n"
    "(the first layer, and what of it, that went non-finite; a transformer's line adds\n"
    "'diverged_sublayer=<q|k|v|o|w1|w2|ln1|ln2|block>', the part of that block); test_acc\n"
    "is nan for dataset=adding, whose line ends with baseline_loss=<test MSE of always\n"
    "answering 1, about 1/6>.\n"
    "With --csv, stdout is a CSV with the header\n"
    "  " TRAIN_CSV_HEADER "\n"
    "one row per layer (1..depth, depth+1 the readout) of every logged step (every\n"
    "log_every steps, the first and the last, and the step that diverged): the step's batch\n"
    "loss, global gradient norm before and after clipping, and loss and accuracy on the\n"
    "held-out rows (eval_rows of the test part, the model as the step found it; nan when\n"
    "eval_rows=0 and on a diverged step's row, accuracy nan for dataset=adding), repeated\n"
    "on its layers' rows; then the layer's ||dL/dW||, ||W|| before the update, the update\n"
    "ratio ||dW||/||W||, the shares of dead and saturated units, and for recurrent layers\n"
    "||dL/dh_t|| at t = 1 and t = seq_len (nan otherwise). The result line goes to stderr.";

int gs_cmd_train(int argc, char **argv)
{
    options_t o;
    int rc = parse_args(argc, argv, &o, GS_TASK_TRAIN, "train", train_what, train_output);
    if (rc)
        return rc == 1 ? 0 : rc;
    train_view_t view = {.csv = o.csv, .tty = isatty(STDERR_FILENO), .last_print = 0.0};
    view.start = gs_now();
    if (o.csv)
        printf(TRAIN_CSV_HEADER "\n");
    else
        print_config(stderr, &o.cell);
    gs_progress_t progress = {on_log, &view};
    gs_result_t r;
    if (run_cell("train", &o, &r, &progress) != 0)
        return 1;
    if (!o.csv && view.tty)
        fputc('\n', stderr);
    fflush(stdout);
    print_cost(stderr, &r);
    char dstep[32] = "none";
    if (r.diverged_step)
        snprintf(dstep, sizeof dstep, "%ld", r.diverged_step);
    char b1[32], b2[32], b3[32];
    fprintf(o.csv ? stderr : stdout,
            "result: status=%s diagnosis=%s train_loss=%s test_loss=%s test_acc=%s "
            "clip_fraction=%.4f diverged_step=%s",
            gs_status_names[r.status], gs_diag_names[r.diagnosis],
            num(b1, sizeof b1, "%.6g", r.train_loss), num(b2, sizeof b2, "%.6g", r.test_loss),
            num(b3, sizeof b3, "%.4f", r.test_acc), r.clip_fraction, dstep);
    fprintf(o.csv ? stderr : stdout, " diagnosis_final=%s grad_h_ratio=%s grad_h_ratio_final=%s",
            gs_diag_names[r.diagnosis_final], num(b1, sizeof b1, "%.4g", r.grad_h_ratio),
            num(b2, sizeof b2, "%.4g", r.grad_h_ratio_final));
    if (r.diverged_step)
        fprintf(o.csv ? stderr : stdout, " diverged_layer=%ld diverged_tensor=%s%s%s",
                r.diverged_layer, gs_nonfinite_names[r.diverged_tensor],
                r.diverged_sublayer[0] ? " diverged_sublayer=" : "", r.diverged_sublayer);
    if (!isnan(r.baseline_loss))
        fprintf(o.csv ? stderr : stdout, " baseline_loss=%.4f", r.baseline_loss);
    fprintf(o.csv ? stderr : stdout, "\n");
    gs_result_free(&r);
    return 0;
}
