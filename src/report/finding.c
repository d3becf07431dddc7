/* A finding is one sentence of the report; its facts are what a test can
 * check of it against the database (tests/findings.sh): which runs it
 * summarizes, its verdict and its key number. findings.csv lists every
 * fact, so that each statement is recomputed by an independent query. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/findings.h"
#include "util/files.h"

const char *const rp_fact_kind_names[] = {
    [RP_FACT_DIAG] = "diag",         [RP_FACT_DIVERGED] = "diverged",
    [RP_FACT_RANK] = "rank",         [RP_FACT_MEAN] = "mean",
    [RP_FACT_BASELINE] = "baseline", [RP_FACT_THEORY] = "theory",
    [RP_FACT_VALUE] = "value",       [RP_FACT_CHANGE] = "change",
    [RP_FACT_PART] = "part",         [RP_FACT_CLAIM] = "claim",
    [RP_FACT_NOTE] = "note",         [RP_FACT_LOWPREC] = "lowprec",
};

rp_finding_t *rp_finding_new(rp_findings_t *fs, const rp_exp_t *e, const char *kind)
{
    rp_finding_t *it = realloc(fs->items, (fs->n + 1) * sizeof *it);
    if (!it) {
        fs->oom = 1;
        return NULL;
    }
    fs->items = it;
    rp_finding_t *f = &it[fs->n++];
    memset(f, 0, sizeof *f);
    f->e = e;
    if (e && kind)
        snprintf(f->chart, sizeof f->chart, "%s-%s", e->ex->slug, kind);
    else if (kind)
        snprintf(f->chart, sizeof f->chart, "%s", kind);
    return f;
}

void rp_vappendf(char *buf, size_t len, const char *fmt, va_list ap)
{
    size_t l = strnlen(buf, len);
    if (l + 1 < len)
        vsnprintf(buf + l, len - l, fmt, ap);
}

void rp_appendf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rp_vappendf(buf, len, fmt, ap);
    va_end(ap);
}

void rp_say(rp_finding_t *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rp_vappendf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
}

rp_fact_t *rp_fact_new(rp_findings_t *fs, rp_finding_t *f, rp_fact_kind_t kind, const char *name)
{
    if (!f)
        return NULL;
    rp_fact_t *t = realloc(f->facts, (f->n_facts + 1) * sizeof *t);
    if (!t) {
        fs->oom = 1;
        return NULL;
    }
    f->facts = t;
    t = &t[f->n_facts++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->value = t->value2 = NAN;
    snprintf(t->id, sizeof t->id, "%s.%s", f->e ? f->e->ex->slug : "claims", name);
    return t;
}

void rp_fact_run(rp_findings_t *fs, rp_fact_t *t, const rp_run_t *r)
{
    if (!t || !r->stored)
        return;
    long long *ids = realloc(t->runs, (t->n_runs + 1) * sizeof *ids);
    if (!ids) {
        fs->oom = 1;
        return;
    }
    t->runs = ids;
    ids[t->n_runs++] = (long long)r->id;
}

void rp_findings_free(rp_findings_t *fs)
{
    for (size_t i = 0; fs->items && i < fs->n; i++) {
        for (size_t k = 0; k < fs->items[i].n_facts; k++)
            free(fs->items[i].facts[k].runs);
        free(fs->items[i].facts);
    }
    free(fs->items);
    memset(fs, 0, sizeof *fs);
}

void rp_sci(char *buf, size_t len, double v)
{
    if (!isfinite(v))
        snprintf(buf, len, "%g", v);
    else if (v != 0 && (fabs(v) < 1e-3 || fabs(v) >= 1e4))
        snprintf(buf, len, "%.2g", v);
    else
        snprintf(buf, len, "%.3g", v);
}

void rp_join_labels(const rp_run_t *const *runs, size_t n, size_t total, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(buf);
        const char *sep = i == 0 ? "" : i + 1 == total ? " and " : ", ";
        snprintf(buf + l, len - l, "%s%s", sep, runs[i]->config_label);
    }
    if (total > n) {
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, " and %zu more", total - n);
    }
}

/* ---- findings.csv ---- */

/* A CSV field (RFC 4180): quoted, with its quotes doubled. */
static void csv_field(FILE *f, const char *s, int last)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputs(last ? "\"\n" : "\",", f);
}

static void csv_num(FILE *f, double v)
{
    if (isnan(v))
        fputs(",", f);   /* empty: no number */
    else
        fprintf(f, "%.17g,", v);
}

static void csv_fact(FILE *f, size_t number, const rp_finding_t *x, const rp_fact_t *t)
{
    fprintf(f, "%zu,", number);
    csv_field(f, t->id, 0);
    csv_field(f, rp_fact_kind_names[t->kind], 0);
    csv_field(f, x->e ? x->e->ex->name : "", 0);
    csv_field(f, t->where, 0);
    csv_field(f, t->versus, 0);
    csv_field(f, t->verdict, 0);
    csv_num(f, t->value);
    csv_num(f, t->value2);
    fprintf(f, "%zu,%zu,", t->yes, t->no);
    csv_field(f, t->stat, 0);
    fputc('"', f);
    for (size_t i = 0; i < t->n_runs; i++)
        fprintf(f, "%s%lld", i ? " " : "", t->runs[i]);
    fputs("\",", f);
    csv_field(f, x->chart, 0);
    csv_field(f, x->text, 1);
}

static void csv_all(FILE *f, const rp_findings_t *fs, size_t *number)
{
    for (size_t i = 0; i < fs->n; i++, (*number)++)
        for (size_t k = 0; k < fs->items[i].n_facts; k++)
            csv_fact(f, *number, &fs->items[i], &fs->items[i].facts[k]);
}

int rp_write_findings_csv(const rp_findings_t *fs, const rp_findings_t *claims,
                          const char *path, char *err, size_t errlen)
{
    char tmp[4300];
    FILE *f = gs_replace_open(path, "w", tmp, sizeof tmp, err, errlen);
    if (!f)
        return -1;
    fputs("finding,id,kind,experiment,where_keys,versus,verdict,value,value2,yes,no,stat,runs,chart,"
          "text\n", f);
    size_t number = 1;
    csv_all(f, claims, &number);
    csv_all(f, fs, &number);
    return gs_replace_close(f, tmp, path, 1, err, errlen);
}
