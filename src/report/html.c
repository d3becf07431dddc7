/* index.html: the sweep at a glance - the claims table of the deck with
 * each verdict linked to its charts, then one section per experiment
 * (what it varies, its findings, its charts with their data as CSV, its
 * runs), a sortable table of every run, and provenance. Every string from
 * the config, the database or a finding is HTML-escaped. The findings and
 * claims come from findings.c and claims.c; findings.csv beside the page
 * lists each of their facts for tests/findings.sh. */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report/html.h"
#include "util/clock.h"
#include "util/files.h"

/* ---- output helpers ---- */

void rp_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

void rp_escf(FILE *f, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    rp_esc(f, buf);
}

void rp_td_num(FILE *f, double v, const char *fmt)
{
    if (isnan(v)) {
        fputs("<td class=\"num\"></td>", f);
        return;
    }
    char shown[64], exact[64];
    snprintf(shown, sizeof shown, fmt, v);
    snprintf(exact, sizeof exact, "%.17g", v);
    fprintf(f, "<td class=\"num\" data-value=\"%s\">", exact);
    rp_esc(f, shown);
    fputs("</td>", f);
}

void rp_td_text(FILE *f, const char *s, const char *cls)
{
    fprintf(f, "<td%s%s%s>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
    rp_esc(f, s);
    fputs("</td>", f);
}

/* ---- links ---- */

/* The chart of this stem among the charts drawn, or NULL. */
static const rp_chart_t *drawn(const rp_charts_t *charts, size_t n, const char *stem)
{
    char file[200];
    snprintf(file, sizeof file, "charts/%s.png", stem);
    for (size_t c = 0; c < n; c++)
        for (size_t i = 0; i < charts[c].n; i++)
            if (strcmp(charts[c].items[i].file, file) == 0)
                return &charts[c].items[i];
    return NULL;
}

typedef struct {
    const rp_charts_t *gallery, *per_exp;
    size_t n_exps;
    const char *dir;
} pages_t;

static const rp_chart_t *chart_drawn(const pages_t *p, const char *stem)
{
    const rp_chart_t *c = drawn(p->gallery, 1, stem);
    return c ? c : drawn(p->per_exp, p->n_exps, stem);
}

/* A link to a chart's anchor, named by its title up to the first comma
 * (text: another name); to the section when the chart was not drawn. */
static void link_to(FILE *f, const pages_t *p, const char *stem, const char *section,
                    const char *text)
{
    const rp_chart_t *c = chart_drawn(p, stem);
    const char *target = c ? stem : section;
    if (!target || !target[0])
        return;
    char name[256];
    if (text)
        snprintf(name, sizeof name, "%s", text);
    else if (c)
        snprintf(name, sizeof name, "%.*s", (int)strcspn(c->title, ","), c->title);
    else
        snprintf(name, sizeof name, "%s (its runs)", strncmp(section, "exp-", 4) == 0
                                                         ? section + 4 : section);
    fputs("<a href=\"#", f);
    rp_esc(f, target);
    fputs("\">", f);
    rp_esc(f, name);
    fputs("</a>", f);
}

/* The chart's anchor: the stem of its file (charts/NAME.png). */
static void chart_stem(const rp_chart_t *c, char *buf, size_t len)
{
    const char *base = strrchr(c->file, '/');
    snprintf(buf, len, "%s", base ? base + 1 : c->file);
    char *dot = strrchr(buf, '.');
    if (dot)
        *dot = '\0';
}

/* Percent-encode a path for an href (then HTML-escape it). */
static void href_path(FILE *f, const char *s)
{
    char buf[8192];
    size_t k = 0;
    for (; *s && k + 4 < sizeof buf; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("/._-~", c))
            buf[k++] = (char)c;
        else
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%%%02X", c);
    }
    buf[k] = '\0';
    rp_esc(f, buf);
}

/* The database's path relative to the report's folder when both resolve
 * (../../results/seed.db), else as given. */
static void db_href(const rp_model_t *m, const char *dir, char *buf, size_t len)
{
    char db[PATH_MAX], d[PATH_MAX];
    if (!realpath(m->db_path, db) || !realpath(dir, d)) {
        snprintf(buf, len, "%s", m->db_path);
        return;
    }
    size_t i = 0, common = 0;   /* where the shared folders end: a '/' of both */
    for (; db[i] && db[i] == d[i]; i++)
        if (db[i] == '/')
            common = i;
    if (d[i] == '\0' && db[i] == '/')   /* the database lies under the report's folder */
        common = i;
    buf[0] = '\0';
    for (const char *s = d + common; *s; s++)   /* one "../" per folder left in dir */
        if (*s == '/')
            strncat(buf, "../", len - strlen(buf) - 1);
    strncat(buf, db + common + 1, len - strlen(buf) - 1);
}

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "margin:0 auto;max-width:1280px;padding:0 1.5em 3em;color:#222;line-height:1.45}"
    "h1{margin:.8em 0 .2em}h2{border-bottom:2px solid #0072b2;padding-bottom:.2em;margin-top:2em}"
    ".desc{color:#444;max-width:60em}"
    ".partial{background:#fff4d6;border:1px solid #e69f00;padding:.6em 1em;border-radius:4px}"
    ".badges span{display:inline-block;margin:.2em .4em .2em 0;padding:.15em .6em;border-radius:1em;"
    "background:#eee;font-size:.95em}"
    "nav{margin:1em 0;font-size:.95em;position:sticky;top:0;background:#fff;padding:.4em 0;"
    "border-bottom:1px solid #ddd;z-index:1}nav a{margin-right:.8em}nav b{margin-right:.5em}"
    "figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}"
    "figcaption{color:#444;max-width:70em;margin-top:.3em}"
    "table{border-collapse:collapse;font-size:.85em;margin:1em 0;display:block;overflow-x:auto}"
    "th,td{padding:.25em .6em;border-bottom:1px solid #e5e5e5;text-align:left;white-space:nowrap}"
    "th{background:#f3f3f3;cursor:pointer;user-select:none}"
    "th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".diag-healthy,.badges .diag-healthy{background:#d9f0e3}"
    ".diag-vanishing,.badges .diag-vanishing{background:#d6e6f5}"
    ".diag-exploding,.badges .diag-exploding{background:#fbe0cc}"
    ".diag-diverged,.badges .diag-diverged{background:#f6c9c0}"
    ".diag-dead,.badges .diag-dead{background:#d8d0e8}"
    ".diag-failed{background:#e0e0e0}.diag-missing{color:#888}td.diverged{color:#a33}"
    ".verdict{font-weight:600;white-space:nowrap}.v-confirmed{background:#d9f0e3}"
    ".v-partly{background:#fff0c2}.v-contradicted{background:#f6c9c0}"
    ".v-not-tested{background:#eee;color:#555}"
    "table.claims{display:table;font-size:.9em}table.claims td{white-space:normal;vertical-align:top}"
    "table.claims td.claim{max-width:22em}table.claims td.key{max-width:34em}"
    "table.claims td.note{max-width:26em;color:#444}table.claims th{cursor:default}"
    "table.spectrum caption{text-align:left;color:#444;max-width:70em;padding-bottom:.3em}"
    "ul.findings li{margin:.3em 0;max-width:80em}"
    "pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:.85em}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}";

static const char script[] =
    "document.querySelectorAll('table.sortable').forEach(function(t){\n"
    "  var hs=t.tHead.rows[0].cells;\n"
    "  Array.prototype.forEach.call(hs,function(th,i){\n"
    "    th.addEventListener('click',function(){\n"
    "      var asc=th.getAttribute('aria-sort')!=='ascending';\n"
    "      Array.prototype.forEach.call(hs,function(h){h.removeAttribute('aria-sort');});\n"
    "      th.setAttribute('aria-sort',asc?'ascending':'descending');\n"
    "      var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);\n"
    "      function key(r){var c=r.cells[i],v=c.getAttribute('data-value');\n"
    "        if(v===null)v=c.textContent;var n=Number(v);\n"
    "        return v!==''&&isFinite(n)?{n:n}:{s:v};}\n"
    "      rows.sort(function(x,y){var a=key(x),c=key(y),r;\n"
    "        if('n' in a&&'n' in c)r=a.n-c.n;else if('n' in a)r=-1;else if('n' in c)r=1;\n"
    "        else r=a.s.localeCompare(c.s);return asc?r:-r;});\n"
    "      rows.forEach(function(r){b.appendChild(r);});\n"
    "    });\n"
    "  });\n"
    "});\n";


static void write_axes(FILE *f, const rp_exp_t *e)
{
    fputs("<p><b>Varies:</b> ", f);
    if (e->ex->n_axes == 0)
        fputs("nothing (one configuration)", f);
    for (size_t a = 0; a < e->ex->n_axes; a++) {
        rp_escf(f, "%s%s (", a ? "; " : "", e->ex->axes[a].key);
        for (size_t v = 0; v < e->ex->axes[a].n_values; v++)
            rp_escf(f, "%s%s", v ? ", " : "", e->ex->axes[a].values[v]);
        fputs(")", f);
    }
    const gs_cell_t *c = &e->runs[0].sc->cell;
    fputs(". <b>Fixed:</b> ", f);
    int first = 1;
    char v[128];
    gs_key_info_t k;
    for (size_t i = 0; gs_cell_key_info(i, &k); i++) {
        if (!(k.flags & GS_KEYF_HEADLINE) || rp_varies(e, k.name) ||
            (c->task == GS_TASK_PROBE && (k.flags & GS_KEYF_TRAINING)) ||
            (c->model == GS_MODEL_MLP && (k.flags & GS_KEYF_RECURRENT)))
            continue;
        gs_cell_format(c, k.name, v, sizeof v);
        rp_escf(f, "%s%s=%s", first ? "" : ", ", k.name, v);
        first = 0;
    }
    fprintf(f, "; %zu cells, %zu stored", e->n_runs, e->n_stored);
    if (c->repeats > 1)
        fprintf(f, " (%ld seeds each)", c->repeats);
    fputs(".</p>\n", f);
}

/* A chart with its anchor (the stem of its file), its caption and a link
 * to the data it draws (charts/NAME.csv), when that was written. */
static void write_figure(FILE *f, const pages_t *p, const rp_chart_t *c)
{
    char id[200], csv[4400];
    chart_stem(c, id, sizeof id);
    snprintf(csv, sizeof csv, "%s/charts/%s.csv", p->dir, id);
    fputs("<figure id=\"", f);
    rp_esc(f, id);
    fputs("\"><img src=\"", f);
    rp_esc(f, c->file);
    fputs("\" alt=\"", f);
    rp_esc(f, c->title);
    fputs("\" width=\"1200\" height=\"700\"><figcaption>", f);
    rp_esc(f, c->caption);
    if (access(csv, R_OK) == 0) {
        fputs(" <a href=\"charts/", f);
        rp_esc(f, id);
        fputs(".csv\">The data of this chart (CSV).</a>", f);
    }
    fputs("</figcaption></figure>\n", f);
}

static void write_head(FILE *f, const rp_model_t *m)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", f);
    rp_escf(f, "gradsweep report: %s", m->sw.name);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n<h1>", css);
    rp_esc(f, m->sw.name);
    fputs("</h1>\n<p class=\"desc\">", f);
    rp_esc(f, m->sw.description[0] ? m->sw.description : "(no description)");
    fputs("</p>\n", f);
    if (m->live || m->n_stored < m->sw.n_cells) {
        fputs("<p class=\"partial\"><b>Partial data:</b> ", f);
        rp_escf(f, "%zu of %zu cells are stored", m->n_stored, m->sw.n_cells);
        if (m->live)
            rp_escf(f, "; a run is writing the database now (host %s, pid %ld) - reload the "
                    "report later", m->live_host, m->live_pid);
        fputs(".</p>\n", f);
    }
    fputs("<p class=\"badges\">", f);
    fprintf(f, "<span>%zu cells</span>", m->sw.n_cells);
    for (int k = 0; k < GS_N_STATUS; k++)
        if (k < GS_STATUS_CRASHED || m->by_status[k])   /* crashed: only when there are */
            fprintf(f, "<span>%ld %s</span>", m->by_status[k], gs_status_names[k]);
    fputs("</p><p class=\"badges\">", f);
    for (int d = 0; d < GS_N_DIAG; d++)
        fprintf(f, "<span class=\"diag-%s\">%ld %s at init</span>", gs_diag_names[d],
                m->by_diag[d], gs_diag_names[d]);
    fputs("</p>\n</header>\n", f);
}

/* Claims by number, experiments by name, then the tables and files. */
static void write_nav(FILE *f, const rp_model_t *m, const rp_claims_t *cl,
                      const rp_charts_t *gallery)
{
    fputs("<nav><b><a href=\"#claims\">Claims</a></b>", f);
    for (size_t i = 0; i < cl->n; i++)
        fprintf(f, "<a href=\"#claim-%d\">%d</a>", cl->items[i].number, cl->items[i].number);
    fputs("<br><b>Experiments</b>", f);
    if (gallery->n)
        fputs("<a href=\"#activation-gallery\">activation gallery</a>", f);
    for (size_t e = 0; e < m->n_exps; e++) {
        fputs("<a href=\"#exp-", f);
        rp_esc(f, m->exps[e].ex->slug);
        fputs("\">", f);
        rp_esc(f, m->exps[e].ex->name);
        fputs("</a>", f);
    }
    fputs("<br><a href=\"#all-runs-section\">All runs</a><a href=\"#provenance\">Provenance"
          "</a><a href=\"findings.csv\">findings.csv</a></nav>\n", f);
}

/* "verdict v-not-tested": the verdict's CSS class. */
static void verdict_class(const char *v, char *buf, size_t len)
{
    snprintf(buf, len, "verdict v-%s", v);
    for (char *s = buf + strlen("verdict v-"); *s; s++)
        if (*s == ' ')
            *s = '-';
}

static void write_claim_row(FILE *f, const pages_t *p, const rp_claim_t *c,
                            const rp_finding_t *row)
{
    char cls[64];
    verdict_class(c->verdict, cls, sizeof cls);
    fprintf(f, "<tr id=\"claim-%d\"><td class=\"num\">%d</td>", c->number, c->number);
    if (c->slide)   /* 0: a claim of the literature, not of the deck */
        fprintf(f, "<td class=\"num\">%d</td>", c->slide);
    else
        fputs("<td class=\"num\">-</td>", f);
    rp_td_text(f, c->claim, "claim");
    rp_td_text(f, c->verdict, cls);
    rp_td_text(f, row->text, "key");
    rp_td_text(f, c->note, "note");
    fputs("<td>", f);
    for (size_t k = 0; k < RP_MAX_PARTS && c->charts[k][0]; k++) {
        if (k)
            fputs("<br>", f);
        link_to(f, p, c->charts[k], c->sections[k], NULL);
    }
    fputs("</td></tr>\n", f);
}

static void write_claims(FILE *f, const pages_t *p, const rp_claims_t *cl)
{
    fputs("<section id=\"claims\"><h2>The deck's claims against this sweep</h2>\n<p>One row "
          "per claim of the teaching deck. Each verdict is decided by conditions over the stored "
          "rows (src/report/claim_parts.c): <b>confirmed</b> when every condition holds in every "
          "case, <b>contradicted</b> when none holds in any, <b>partly</b> otherwise, <b>not "
          "tested</b> when the sweep has no case of any. Configurations are compared only over "
          , f);
    fprintf(f, "at least %d seeds.", RP_MIN_SEEDS);
    fputs("</p>\n<table class=\"claims\"><thead><tr><th>#</th><th>slide</th><th>claim</th>"
          "<th>verdict</th><th>key numbers</th><th>where the data departs, and the reference</th>"
          "<th>charts</th></tr></thead><tbody>\n", f);
    for (size_t i = 0; i < cl->n; i++)
        write_claim_row(f, p, &cl->items[i], &cl->rows.items[i]);
    fputs("</tbody></table>\n</section>\n", f);
}

/* The findings of experiment e, each linked to the chart it reads. */
static void write_findings(FILE *f, const pages_t *p, const rp_findings_t *fs, const rp_exp_t *e)
{
    int any = 0;
    for (size_t i = 0; i < fs->n; i++) {
        const rp_finding_t *x = &fs->items[i];
        if (x->e != e)
            continue;
        if (!any++)
            fputs("<ul class=\"findings\">\n", f);
        char section[160];
        snprintf(section, sizeof section, "exp-%s", e->ex->slug);
        fprintf(f, "<li id=\"finding-%zu\">", i + 1);
        rp_esc(f, x->text);
        fputs(" ", f);
        link_to(f, p, x->chart, section, chart_drawn(p, x->chart) ? "chart" : "runs");
        fputs("</li>\n", f);
    }
    if (any)
        fputs("</ul>\n", f);
}

static void write_experiment(FILE *f, rp_model_t *m, const pages_t *p, const rp_findings_t *fs,
                             size_t e)
{
    const rp_exp_t *x = &m->exps[e];
    fputs("<section class=\"experiment\" id=\"exp-", f);
    rp_esc(f, x->ex->slug);
    fputs("\"><h2>", f);
    rp_esc(f, x->ex->name);
    fputs("</h2>\n", f);
    write_axes(f, x);
    write_findings(f, p, fs, x);
    if (p->per_exp[e].n == 0)
        fputs("<p><i>No charts: no measurements of this experiment are stored yet.</i></p>\n", f);
    for (size_t i = 0; i < p->per_exp[e].n; i++) {
        const rp_chart_t *c = &p->per_exp[e].items[i];
        write_figure(f, p, c);
        if (strstr(c->file, "-spectrum.png"))
            rp_write_spectrum_table(f, m, x);
    }
    rp_write_run_table(f, x);
    fputs("</section>\n", f);
}

/* The activation gallery, then one section per experiment, then every run. */
static void write_experiments(FILE *f, rp_model_t *m, const pages_t *p, const rp_findings_t *fs)
{
    if (p->gallery->n) {
        fputs("<section id=\"activation-gallery\"><h2>Activation functions</h2>\n", f);
        for (size_t i = 0; i < p->gallery->n; i++)
            write_figure(f, p, &p->gallery->items[i]);
        fputs("</section>\n", f);
    }
    for (size_t e = 0; e < m->n_exps; e++)
        write_experiment(f, m, p, fs, e);
    fputs("<section id=\"all-runs-section\"><h2>All runs</h2>\n<p>The outcome first: status, "
          "the diagnosis at init (decided by grad_h_ratio, the backpropagated gradient), "
          "grad_h_ratio, test accuracy (or the step a run diverged at), then grad_ratio (the "
          "weight gradients: shown, never the verdict). Blank: does not apply. Click a column "
          "header to sort; click again to reverse. <a href=\"runs.csv\">runs.csv</a> has "
          "every column of every run (the columns <code>gradsweep schema</code> explains).</p>\n", f);
    rp_write_all_runs(f, m);
    fputs("</section>\n", f);
}

static void write_session(FILE *f, size_t i, const rp_session_t *s)
{
    char n[32], w[32], rk[32], th[32], r0[300];
    snprintf(n, sizeof n, "%zu", i + 1);
    snprintf(w, sizeof w, "%.1f s", s->wall_s);
    snprintf(rk, sizeof rk, "%ld", s->ranks);
    snprintf(th, sizeof th, "%ld", s->threads);
    snprintf(r0, sizeof r0, "%s pid %ld", s->host, s->pid);
    const char *const cells[] = {n, s->status, s->started, s->ended, w, s->hosts, rk, th, r0,
                                 s->version};
    fputs("<tr>", f);
    for (size_t c = 0; c < sizeof cells / sizeof *cells; c++)
        rp_td_text(f, cells[c], NULL);
    fputs("</tr>\n", f);
}

/* The database (linked), the config, and every session that wrote it. */
static void write_provenance(FILE *f, const rp_model_t *m, const char *dir)
{
    fputs("<section id=\"provenance\"><h2>Provenance</h2>\n<dl>\n", f);
    char href[8192];
    db_href(m, dir, href, sizeof href);
    fputs("<dt>database</dt><dd><a href=\"", f);
    href_path(f, href);
    fputs("\">", f);
    rp_esc(f, m->db_path);
    fputs("</a> (open it with sqlite3; <a href=\"findings.csv\">findings.csv</a> lists what "
          "each finding and claim summarizes)</dd>\n<dt>config</dt><dd>", f);
    rp_esc(f, m->sw.path);
    fprintf(f, "</dd>\n<dt>report written</dt><dd>%s by gradsweep %s</dd>\n", m->when, PACKAGE_VERSION);
    fputs("</dl>\n<table><thead><tr><th>run</th><th>status</th><th>started</th><th>ended</th>"
          "<th>wall time</th><th>hosts</th><th>ranks</th><th>threads per rank</th>"
          "<th>rank 0</th><th>gradsweep</th></tr></thead><tbody>\n", f);
    for (size_t i = 0; i < m->n_sessions; i++)
        write_session(f, i, &m->sessions[i]);
    fputs("</tbody></table>\n<h3>Config</h3>\n<pre>", f);
    rp_esc(f, m->sw.text);
    fputs("</pre>\n</section>\n", f);
}

static int write_page(FILE *f, rp_model_t *m, const pages_t *p, const rp_findings_t *fs,
                      const rp_claims_t *cl)
{
    write_head(f, m);
    write_nav(f, m, cl, p->gallery);
    write_claims(f, p, cl);
    write_experiments(f, m, p, fs);
    write_provenance(f, m, p->dir);
    fputs("<script>\n", f);
    fputs(script, f);
    fputs("</script>\n</body>\n</html>\n", f);
    return ferror(f);
}

int rp_write_html(rp_model_t *m, const char *dir, const rp_charts_t *gallery,
                  const rp_charts_t *per_exp, const rp_findings_t *fs, const rp_claims_t *cl,
                  char *err, size_t errlen)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/index.html", dir);
    FILE *f = gs_replace_open(path, "w", tmp, sizeof tmp, err, errlen);
    if (!f)
        return -1;
    pages_t p = {gallery, per_exp, m->n_exps, dir};
    int bad = write_page(f, m, &p, fs, cl);
    return gs_replace_close(f, tmp, path, !bad, err, errlen);
}
