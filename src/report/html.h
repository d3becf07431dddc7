/* Writing HTML: escaping and table cells (html.c), the run tables and the
 * spectrum table (html_tables.c). Internal to src/report/. */
#ifndef GS_REPORT_HTML_H
#define GS_REPORT_HTML_H

#include <stdio.h>

#include "report/charts.h"
#include "report/findings.h"
#include "report/model.h"

/* The report's pages (write.c): build the findings and claims of m and
 * write dir/findings.csv, dir/runs.csv and dir/index.html. */
int rp_write_pages(rp_model_t *m, const char *dir, const rp_charts_t *gallery,
                   const rp_charts_t *per_exp, char *err, size_t errlen);

/* Write dir/index.html (via a temporary name): the page of m's report,
 * with these charts, findings and claims. */
int rp_write_html(rp_model_t *m, const char *dir, const rp_charts_t *gallery,
                  const rp_charts_t *per_exp, const rp_findings_t *fs, const rp_claims_t *cl,
                  char *err, size_t errlen);

/* Every string from the config, the database or a finding goes through
 * one of these. */
void rp_esc(FILE *f, const char *s);
void rp_escf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A numeric cell: shown with fmt, sorted by its exact value; empty when v
 * is NaN (a column that does not apply to the row). */
void rp_td_num(FILE *f, double v, const char *fmt);
void rp_td_text(FILE *f, const char *s, const char *cls);

/* The runs of one experiment, outcome columns first. */
void rp_write_run_table(FILE *f, const rp_exp_t *e);
/* Every stored run of the sweep (table#all-runs). */
void rp_write_all_runs(FILE *f, const rp_model_t *m);
/* The spectrum statistics of e's runs, beside its spectrum chart. */
void rp_write_spectrum_table(FILE *f, rp_model_t *m, const rp_exp_t *e);

#endif
