/* The drawing layer's record: every point drawn, under the series label
 * the chart names, written beside the PNG as NAME.csv (through a
 * temporary name) when the chart ends. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "report/chart_internal.h"
#include "util/csv.h"
#include "util/files.h"

/* ---- the record ---- */

int chart_add_str(gs_chart_t *c, const char *s)
{
    if (!s)
        return -1;
    if (c->n_strs == c->cap_strs) {
        size_t cap = c->cap_strs ? 2 * c->cap_strs : 64;
        char **t = realloc(c->strs, cap * sizeof *t);
        if (!t) {
            c->oom = 1;
            return -1;
        }
        c->strs = t;
        c->cap_strs = cap;
    }
    char *d = strdup(s);
    if (!d) {
        c->oom = 1;
        return -1;
    }
    c->strs[c->n_strs] = d;
    return (int)c->n_strs++;
}

rec_t *chart_add_rec(gs_chart_t *c, double x, double y)
{
    if (c->n_recs == c->cap_recs) {
        size_t cap = c->cap_recs ? 2 * c->cap_recs : 256;
        rec_t *t = realloc(c->recs, cap * sizeof *t);
        if (!t) {
            c->oom = 1;
            return NULL;
        }
        c->recs = t;
        c->cap_recs = cap;
    }
    rec_t *r = &c->recs[c->n_recs++];
    *r = (rec_t){c->cur, c->label, -1, -1, -1, x, y, NAN, NAN, NAN};
    return r;
}

void chart_record(gs_chart_t *c, const double *x, const double *y, const double *lo,
                   const double *hi, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rec_t *r = chart_add_rec(c, x[i], y[i]);
        if (r && lo) {
            r->lo = lo[i];
            r->hi = hi[i];
        }
    }
}

void gs_chart_series(gs_chart_t *c, const char *label)
{
    if (c->label >= 0 && label && strcmp(c->strs[c->label], label) == 0)
        return;   /* the same series again: one copy */
    c->label = chart_add_str(c, label);
}

size_t gs_chart_off_chart(const gs_chart_t *c)
{
    return c->off;
}

/* ---- the CSV ---- */

static void csv_num(FILE *f, double v)
{
    if (!isnan(v))
        fprintf(f, "%.17g", v);
}

/* A column's name: the panels' labels (field: offset of the panel_t
 * index), distinct ones joined by " or ", else fallback. */
static void column_name(const gs_chart_t *c, size_t field, const char *fallback, char *out,
                        size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    for (int k = 0; k < MAX_PANELS; k++) {
        int id = *(const int *)((const char *)&c->panels[k] + field);
        if (!c->panels[k].used || id < 0 || (o && strstr(out, c->strs[id])))
            continue;
        o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s", o ? " or " : "", c->strs[id]);
    }
    if (!out[0])
        snprintf(out, len, "%s", fallback);
}

typedef struct {
    int panel, value, lohi;   /* columns present */
} csv_cols_t;

static csv_cols_t csv_columns(const gs_chart_t *c)
{
    csv_cols_t k = {0, c->heat, 0};
    for (size_t i = 0; i < c->n_recs; i++) {
        k.panel |= c->recs[i].panel != c->recs[0].panel;
        k.lohi |= !isnan(c->recs[i].lo) || !isnan(c->recs[i].hi);
    }
    return k;
}

static void csv_header(FILE *f, const gs_chart_t *c, csv_cols_t k)
{
    char name[512];
    if (k.panel)
        fputs("panel,", f);
    fputs("series,", f);
    column_name(c, offsetof(panel_t, xlabel), "x", name, sizeof name);
    gs_csv_field(f, name);
    fputc(',', f);
    column_name(c, offsetof(panel_t, ylabel), "y", name, sizeof name);
    gs_csv_field(f, name);
    if (k.value) {
        fputc(',', f);
        column_name(c, offsetof(panel_t, vlabel), "value", name, sizeof name);
        gs_csv_field(f, name);
    }
    fputs(k.lohi ? ",lo,hi\n" : "\n", f);
}

/* x of a record: its text, its category's label, or the number. */
static void csv_x(FILE *f, const gs_chart_t *c, const rec_t *r)
{
    const panel_t *p = &c->panels[r->panel];
    double i = r->x;
    if (r->xt >= 0)
        gs_csv_field(f, c->strs[r->xt]);
    else if (p->n_cats && i >= 0 && i < p->n_cats && i == floor(i))
        gs_csv_field(f, c->strs[p->cats + (int)i]);
    else
        csv_num(f, r->x);
}

static void csv_row(FILE *f, const gs_chart_t *c, const rec_t *r, csv_cols_t k)
{
    const panel_t *p = &c->panels[r->panel];
    if (k.panel) {
        char t[32];
        snprintf(t, sizeof t, "panel %d", r->panel + 1);
        gs_csv_field(f, p->title >= 0 ? c->strs[p->title] : t);
        fputc(',', f);
    }
    gs_csv_field(f, r->label >= 0 ? c->strs[r->label] : "");
    fputc(',', f);
    csv_x(f, c, r);
    fputc(',', f);
    if (r->yt >= 0)
        gs_csv_field(f, c->strs[r->yt]);
    else
        csv_num(f, r->y);
    if (k.value) {
        fputc(',', f);
        if (r->vt >= 0 && isnan(r->v))
            gs_csv_field(f, c->strs[r->vt]);
        else
            csv_num(f, r->v);
    }
    if (k.lohi) {
        fputc(',', f);
        csv_num(f, r->lo);
        fputc(',', f);
        csv_num(f, r->hi);
    }
    fputc('\n', f);
}

/* NAME.csv beside NAME.png, through a temporary name. */
int chart_write_csv(const gs_chart_t *c, const char *png, char *err, size_t errlen)
{
    char path[4200], tmp[4300];
    size_t n = strlen(png);
    if (c->oom) {
        snprintf(err, errlen, "out of memory recording the data of %s", png);
        return -1;
    }
    snprintf(path, sizeof path, "%.*s.csv", (int)(n > 4 && strcmp(png + n - 4, ".png") == 0 ? n - 4 : n), png);
    FILE *f = gs_replace_open(path, "w", tmp, sizeof tmp, err, errlen);
    if (!f)
        return -1;
    csv_cols_t k = csv_columns(c);
    csv_header(f, c, k);
    for (size_t i = 0; i < c->n_recs; i++)
        csv_row(f, c, &c->recs[i], k);
    return gs_replace_close(f, tmp, path, 1, err, errlen);
}
