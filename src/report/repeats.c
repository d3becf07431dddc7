/* Configurations and their repeats: the values a configuration reached
 * over its seeds, and whether two configurations are told apart. A
 * ranking is only as good as the seeds behind it: two configurations are
 * ranked when every repeat of one beats every repeat of the other (with
 * at least RP_MIN_SEEDS repeats each), or when a paired sign test over
 * the repeats (arms of one experiment start from the same weights and see
 * the same batches when they differ only in training keys) rejects a tie
 * at RP_SIGN_ALPHA. A diverged run has no value and is never ranked. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/findings.h"

static double get_acc(const rp_run_t *r) { return r->test_acc; }
static double get_loss(const rp_run_t *r) { return r->test_loss; }

const rp_score_t rp_score_acc = {"test_acc", get_acc, 1};
const rp_score_t rp_score_loss = {"test_loss", get_loss, 0};

size_t rp_configs(const rp_exp_t *e, rp_config_t **out)
{
    *out = NULL;
    size_t n = 0;
    rp_config_t *c = calloc(e->n_runs + 1, sizeof *c);
    if (!c)
        return 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        if (n && e->runs[i].sc->combo == e->runs[c[n - 1].first].sc->combo) {
            c[n - 1].n++;
            continue;
        }
        c[n++] = (rp_config_t){e, i, 1};
    }
    if (n == 0)
        free(c);
    else
        *out = c;
    return n;
}

const rp_run_t *rp_config_run(const rp_config_t *c, size_t k)
{
    return &c->e->runs[c->first + k];
}

static int diverged(const rp_run_t *r)
{
    return r->status == GS_STATUS_DIVERGED;
}

size_t rp_config_values(const rp_config_t *c, const rp_score_t *s, double *v)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        const rp_run_t *r = rp_config_run(c, i);
        double x = s->get(r);
        if (rp_usable(r) && !diverged(r) && isfinite(x))
            v[k++] = x;
    }
    return k;
}

size_t rp_config_diverged(const rp_config_t *c, long *step)
{
    size_t k = 0;
    *step = 0;
    for (size_t i = 0; i < c->n; i++) {
        const rp_run_t *r = rp_config_run(c, i);
        if (!rp_usable(r) || !diverged(r))
            continue;
        if (!k++ || r->diverged_step < *step)
            *step = r->diverged_step;
    }
    return k;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double rp_median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_dbl);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double rp_sign_p(size_t wins, size_t losses)
{
    size_t n = wins + losses, k = wins < losses ? wins : losses;
    if (n == 0)
        return 1;
    double p = 0, term = pow(0.5, (double)n);   /* C(n, 0) / 2^n */
    for (size_t i = 0; i <= k; i++) {
        p += term;
        term *= (double)(n - i) / (double)(i + 1);
    }
    return fmin(1, 2 * p);
}

/* +1 when a is better than b on s, -1 when worse, 0 when equal. */
static int better(const rp_score_t *s, double a, double b)
{
    int c = a > b ? 1 : a < b ? -1 : 0;
    return s->higher_better ? c : -c;
}

/* The paired sign test over the repeats both configurations have a value
 * for (repeat k against repeat k). */
static rp_sep_t sign_test(const rp_config_t *a, const rp_config_t *b, const rp_score_t *s)
{
    size_t wins = 0, losses = 0;
    for (size_t k = 0; k < a->n && k < b->n; k++) {
        const rp_run_t *x = rp_config_run(a, k), *y = rp_config_run(b, k);
        double u = s->get(x), v = s->get(y);
        if (!rp_usable(x) || !rp_usable(y) || diverged(x) || diverged(y) || !isfinite(u) ||
            !isfinite(v))
            continue;
        int c = better(s, u, v);
        wins += c > 0;
        losses += c < 0;
    }
    if (rp_sign_p(wins, losses) > RP_SIGN_ALPHA)
        return RP_SEP_TIED;
    return wins > losses ? RP_SEP_BETTER : RP_SEP_WORSE;
}

rp_sep_t rp_separate(const rp_config_t *a, const rp_config_t *b, const rp_score_t *s, size_t *n,
                     const char **how)
{
    double va[a->n + 1], vb[b->n + 1];
    size_t na = rp_config_values(a, s, va), nb = rp_config_values(b, s, vb);
    *n = na < nb ? na : nb;
    *how = "";
    if (*n < RP_MIN_SEEDS)
        return RP_SEP_FEW;
    double amin = INFINITY, amax = -INFINITY, bmin = INFINITY, bmax = -INFINITY;
    for (size_t i = 0; i < na; i++)
        amin = fmin(amin, va[i]), amax = fmax(amax, va[i]);
    for (size_t i = 0; i < nb; i++)
        bmin = fmin(bmin, vb[i]), bmax = fmax(bmax, vb[i]);
    *how = "every repeat";
    if (s->higher_better ? amin > bmax : amax < bmin)
        return RP_SEP_BETTER;
    if (s->higher_better ? bmin > amax : bmax < amin)
        return RP_SEP_WORSE;
    *how = "sign test";
    return sign_test(a, b, s);
}

const rp_run_t *rp_partner(const rp_exp_t *e, const rp_run_t *r, const char *key,
                           const char *value)
{
    gs_cell_t c = r->sc->cell;
    char err[256], want[2048], have[2048];
    if (gs_cell_set(&c, key, value, err, sizeof err) != 0)
        return NULL;
    gs_cell_settle(&c, NULL);
    gs_cell_key(&c, want, sizeof want);
    for (size_t i = 0; i < e->n_runs; i++) {
        const rp_run_t *q = &e->runs[i];
        if (q->sc->cell.repeat != r->sc->cell.repeat)
            continue;
        gs_cell_key(&q->sc->cell, have, sizeof have);
        if (strcmp(want, have) == 0)
            return q;
    }
    return NULL;
}

void rp_where(const rp_exp_t *e, const rp_run_t *r, int skip, char *buf, size_t len)
{
    buf[0] = '\0';
    char v[128];
    for (size_t a = 0; a < e->ex->n_axes; a++) {
        if ((int)a == skip)
            continue;
        gs_cell_format(&r->sc->cell, e->ex->axes[a].key, v, sizeof v);
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s%s=%s", l ? ";" : "", e->ex->axes[a].key, v);
    }
}

/* One axis value of a label: residual and norm in words, a number with
 * its key's name and at most 4 significant digits ("lr 0.01", "gain
 * 1.414"), other values as written (the labels charts and tables show). */
static void label_value(const char *key, const char *v, char *buf, size_t len)
{
    static const struct {
        const char *key, *value, *word;
    } words[] = {
        {"residual", "yes", "residual"}, {"residual", "no", "plain"},
        {"norm", "none", "no norm"},     {"norm", "batch", "batch norm"},
        {"norm", "layer", "layer norm"},
        /* transformers (nn/transformer.h's names) */
        {"ln", "post", "Post-LN"},       {"ln", "pre", "Pre-LN"},
        {"ln", "none", "no LN"},         {"residual_scale", "none", "unscaled"},
        {"residual_scale", "deepnorm", "DeepNorm"}, {"residual_scale", "rezero", "ReZero"},
        {"residual_scale", "gpt2", "GPT-2 1/sqrt(2L)"},
        {"skip", "yes", "skip"},         {"skip", "no", "no skip"},
        {"mlp", "yes", "MLP"},           {"mlp", "no", "no MLP"},
        {"causal", "yes", "causal"},     {"causal", "no", "bidirectional"},
    };
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strcmp(key, words[i].key) == 0 && strcmp(v, words[i].value) == 0) {
            snprintf(buf, len, "%s", words[i].word);
            return;
        }
    char *end;
    double d = strtod(v, &end);
    if (end != v && *end == '\0')
        snprintf(buf, len, "%s %.4g", key, d);
    else if (strcmp(key, "clip") == 0)   /* clip none */
        snprintf(buf, len, "clip %s", v);
    else
        snprintf(buf, len, "%s", v);
}

void rp_label(const gs_experiment_t *ex, const gs_cell_t *c, int skip, char *buf, size_t len)
{
    buf[0] = '\0';
    char v[128], w[200];
    for (size_t a = 0; a < ex->n_axes; a++) {
        if ((int)a == skip || (strcmp(ex->axes[a].key, "clip_mode") == 0 && c->clip <= 0))
            continue;   /* no mode without clip (gs_cell_settle) */
        gs_cell_format(c, ex->axes[a].key, v, sizeof v);
        label_value(ex->axes[a].key, v, w, sizeof w);
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s%s", l ? " / " : "", w);
    }
    if (!buf[0])   /* one configuration: name its model */
        snprintf(buf, len, "%s", gs_model_names[c->model]);
}
