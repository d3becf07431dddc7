/* What the report says in words - findings per experiment and the claims
 * table of the deck - and, for each statement, the facts a test can check
 * against the database: which runs it summarizes, the verdict and the key
 * number. Every finding reads the stored values its chart draws (the
 * runs' rows and the series of model.h); gradient verdicts come from
 * grad_h_ratio and the stored diagnosis, never from grad_ratio. Internal
 * to src/report/. */
#ifndef GS_REPORT_FINDINGS_H
#define GS_REPORT_FINDINGS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "report/model.h"

/* ---- repeats.c: configurations, their repeats, and whether two separate ---- */

/* Fewer seeds than this rank nothing: with 3 against 3 the chance that
 * every repeat of one beats every repeat of the other by luck alone is
 * 1/10 (both directions), with 2 against 2 already 1/3. */
#define RP_MIN_SEEDS 3
/* The paired sign test's two-sided level (it needs 6 pairs to reach it). */
#define RP_SIGN_ALPHA 0.05

/* One configuration of an experiment: the runs e->runs[first .. first+n),
 * its repeats (a sweep stores the repeats of a combination together). */
typedef struct {
    const rp_exp_t *e;
    size_t first, n;
} rp_config_t;

/* The configurations of e, in cell order (*out to free; 0 when none). */
size_t rp_configs(const rp_exp_t *e, rp_config_t **out);
/* The config's run of repeat k. */
const rp_run_t *rp_config_run(const rp_config_t *c, size_t k);

/* A measured quantity of a run (NaN: none) and which way is better. */
typedef struct {
    const char *name;            /* the column: test_acc, test_loss */
    double (*get)(const rp_run_t *r);
    int higher_better;
} rp_score_t;
extern const rp_score_t rp_score_acc, rp_score_loss;

/* The values of a config's usable, not diverged runs (v holds c->n). */
size_t rp_config_values(const rp_config_t *c, const rp_score_t *s, double *v);
double rp_median(double *v, size_t n);   /* sorts v; NaN when n = 0 */
/* How many of the config's usable runs diverged; *step the first step. */
size_t rp_config_diverged(const rp_config_t *c, long *step);

typedef enum {
    RP_SEP_BETTER,     /* every repeat of a beats every repeat of b, or the sign test says so */
    RP_SEP_WORSE,      /* the same, b over a */
    RP_SEP_TIED,       /* not told apart */
    RP_SEP_FEW         /* fewer than RP_MIN_SEEDS repeats on a side */
} rp_sep_t;
/* Do the repeats of a and b separate on score s? *n gets the smaller
 * number of repeats with a value; *how says by which rule ("every
 * repeat", "sign test"). Diverged runs have no value. */
rp_sep_t rp_separate(const rp_config_t *a, const rp_config_t *b, const rp_score_t *s, size_t *n,
                     const char **how);
/* Two-sided sign test: the chance of a split at least as uneven as wins
 * against losses among wins + losses fair coin flips. */
double rp_sign_p(size_t wins, size_t losses);

/* The run of e equal to r except key = value (settled as the sweep settles
 * cells), of the same repeat; NULL when the sweep has none. */
const rp_run_t *rp_partner(const rp_exp_t *e, const rp_run_t *r, const char *key,
                           const char *value);
/* "key=value;..." of r on every axis of e but skip (-1: none): the group
 * of runs sharing those values (the repeats, and skip's values). Values as
 * stored (the settled cell). */
void rp_where(const rp_exp_t *e, const rp_run_t *r, int skip, char *buf, size_t len);

/* "sigmoid / he": the values of c on every axis of ex but skip (-1:
 * none), " / "-joined as a run's label is; the model's name when there
 * are none. */
void rp_label(const gs_experiment_t *ex, const gs_cell_t *c, int skip, char *buf, size_t len);

/* ---- jacobian.c: the spectrum statistics of a run (spectrum=yes) ---- */

typedef struct {
    double sv2_min, sv2_max, sv2_mean, condition;   /* the theory row */
    double floor;          /* the SVD's floor: sigma_max * max(width, inputs) * DBL_EPSILON */
    double below_floor;    /* share of the n singular values below it (zeros included) */
    size_t n;              /* singular values: min(width, inputs) */
} rp_jacobian_t;

/* The theory row's spectrum and the histogram's share below the floor
 * (bins whose centre lies below it). -1 when the run has no spectrum. */
int rp_jacobian_stats(rp_model_t *m, const rp_run_t *r, rp_jacobian_t *j);

/* ---- finding.c: statements, their facts, findings.csv ---- */

typedef enum {
    RP_FACT_DIAG,       /* the runs of where with this diagnosis are exactly runs */
    RP_FACT_DIVERGED,   /* the run diverged at step value */
    RP_FACT_RANK,       /* where against versus on stat: better, tied, few seeds */
    RP_FACT_MEAN,       /* value = mean of stat over runs (where) */
    RP_FACT_BASELINE,   /* test_loss against baseline_loss over where's runs */
    RP_FACT_THEORY,     /* value of value2 runs' slopes follow theory within RP_THEORY_TOL */
    RP_FACT_VALUE,      /* value = stat of the one run */
    RP_FACT_CHANGE,     /* diagnosis at init -> diagnosis_final */
    RP_FACT_PART,       /* one condition of a claim: yes, no, some, none */
    RP_FACT_CLAIM,      /* a claim's verdict */
    RP_FACT_NOTE,       /* where the data departs from the deck: the runs that show it */
    RP_FACT_LOWPREC,    /* format_stats: stat names which (findings_lowprec.c) */
    RP_N_FACT_KINDS
} rp_fact_kind_t;
extern const char *const rp_fact_kind_names[];

#define RP_THEORY_TOL 0.03   /* per layer: a slope within this follows the theory */

typedef struct {
    char id[128];
    rp_fact_kind_t kind;
    char where[512], versus[512];   /* key=value;... of the experiment's runs */
    char verdict[48];
    char stat[48];                  /* what value is */
    double value, value2;
    size_t yes, no;                 /* a claim's part: the cases for and against it */
    long long *runs;                /* runs.id of every run it summarizes */
    size_t n_runs;
} rp_fact_t;

typedef struct {
    const rp_exp_t *e;   /* NULL: a claim */
    char chart[160];     /* the stem of the chart it reads: its anchor */
    char text[2048];
    rp_fact_t *facts;
    size_t n_facts;
} rp_finding_t;

typedef struct {
    rp_finding_t *items;
    size_t n;
    int oom;             /* an allocation failed: some statement is missing */
} rp_findings_t;

/* A new finding of e (NULL when memory is short) reading chart kind (its
 * anchor is "<slug>-<kind>"; the writer falls back to the section). */
rp_finding_t *rp_finding_new(rp_findings_t *fs, const rp_exp_t *e, const char *kind);
/* printf appended to the text in buf (of len bytes), cut to fit. */
void rp_appendf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void rp_vappendf(char *buf, size_t len, const char *fmt, va_list ap);
/* Append printf text to the finding's sentence. */
void rp_say(rp_finding_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A new fact of f (NULL when memory is short), its id "<slug>.<name>". */
rp_fact_t *rp_fact_new(rp_findings_t *fs, rp_finding_t *f, rp_fact_kind_t kind,
                       const char *name);
void rp_fact_run(rp_findings_t *fs, rp_fact_t *t, const rp_run_t *r);
void rp_findings_free(rp_findings_t *fs);
/* findings.csv: one row per fact with its finding's number, chart and text. */
int rp_write_findings_csv(const rp_findings_t *fs, const rp_findings_t *claims,
                          const char *path, char *err, size_t errlen);
/* A number for a sentence: 3 significant digits, exponent outside 1e-3..1e4. */
void rp_sci(char *buf, size_t len, double v);
/* "a / b, c / d and e": the labels of runs[0..n) of total runs, then
 * "and k more" for the rest. */
void rp_join_labels(const rp_run_t *const *runs, size_t n, size_t total, char *buf, size_t len);

/* ---- findings.c: the findings of each experiment ---- */

/* Every finding of m, experiment by experiment. */
int rp_findings_build(rp_model_t *m, rp_findings_t *fs);

/* ---- findings_transformer.c: an experiment's transformer findings ---- */

/* One finding per transformer chart of e (none without block_stats rows). */
void rp_find_transformer(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e);

/* ---- findings_lowprec_train.c: an experiment with reduced-precision runs ---- */

/* Per configuration the share of weight updates lost to rounding, and
 * the float64 twin's error of ||dL/dh_l||: where it passes 1% and 10%,
 * its growth per layer. Nothing without those rows. */
void rp_find_lowprec_train(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e);

/* ---- findings_lowprec.c: an experiment with format_stats=yes ---- */

/* Per run and format the first layer from the output losing more than
 * half of dL/dh against chi1's prediction, the loss-scale windows, and
 * e4m3 against e5m2. */
void rp_find_lowprec(rp_model_t *m, rp_findings_t *fs, const rp_exp_t *e);

/* ---- claims.c: the deck's claims against the data ---- */

/* A part of a claim: one condition over stored rows. Its cases for (yes)
 * and against (no) give its outcome: none (no case in this sweep), yes
 * (no case against), no (no case for), some (both). */
typedef enum { RP_PART_NONE, RP_PART_YES, RP_PART_NO, RP_PART_SOME } rp_outcome_t;
extern const char *const rp_outcome_names[];

#define RP_MAX_PARTS 5

typedef struct {
    int number, slide;
    const char *claim;       /* shared/DECK-CLAIMS.md, in a line */
    char verdict[16];        /* confirmed, partly, contradicted, not tested */
    char note[1024];         /* where the data departs from the deck, and the reference */
    char charts[RP_MAX_PARTS][160];     /* the charts of its tested parts ("" ends) */
    char sections[RP_MAX_PARTS][160];   /* each one's section, should it not be drawn */
} rp_claim_t;

typedef struct {
    rp_claim_t *items;       /* one per claim, in deck order */
    size_t n;
    rp_findings_t rows;      /* rows.items[i]: claim i's key numbers, chart and facts */
} rp_claims_t;

int rp_claims_build(rp_model_t *m, rp_claims_t *cl);
void rp_claims_free(rp_claims_t *cl);

#endif
