/* Heatmaps: a diverging colour map around a midpoint, cells labelled as
 * room allows, a colour bar; every cell recorded with its value. */
#include <config.h>

#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "report/chart_internal.h"

/* ---- heatmaps ---- */

/* Diverging map: blue (low) - white (mid) - orange (high); PuOr-like and
 * safe for the common colour-vision deficiencies. */
static void diverging_map(void)
{
    PLFLT pos[3] = {0, 0.5, 1}, r[3] = {0.13, 0.97, 0.70}, g[3] = {0.40, 0.97, 0.35},
          b[3] = {0.67, 0.97, 0.02};
    plscmap1n(256);
    plscmap1l(1, 3, pos, r, g, b, NULL);
}

static double map_pos(double v, double vmin, double mid, double vmax)
{
    if (v <= mid)
        return mid > vmin ? 0.5 * fmax(0.0, (v - vmin) / (mid - vmin)) : 0.5;
    return vmax > mid ? 0.5 + 0.5 * fmin(1.0, (v - mid) / (vmax - mid)) : 0.5;
}

/* Every how many labels one can be shown: n labels of the widest width
 * (x) or of one line's height (y) in slots of slot mm. */
static size_t label_every(const char *const *labels, size_t n, double slot, int vertical)
{
    double need = 1.3 * chart_char_ht();
    for (size_t i = 0; !vertical && i < n; i++) {
        char s[128];
        chart_esc(s, sizeof s, labels[i]);
        need = fmax(need, chart_text_mm(s) + chart_char_ht());
    }
    size_t k = (size_t)ceil(need / slot);
    return k ? k : 1;
}

/* A cell's value with fmt, without the sign of a value that rounds to
 * zero ("-0.0" reads as a negative number). */
static void cell_text(char *s, size_t len, const char *fmt, double v)
{
    snprintf(s, len, fmt, v);
    if (s[0] == '-' && strspn(s + 1, "0.") == strlen(s + 1))
        memmove(s, s + 1, strlen(s));
}

/* The heatmap's cells, each with its note or value where the text fits. */
static void heat_cells(gs_chart_t *c, size_t rows, size_t cols, const double *values,
                       const char *const *notes, const double range[3], const char *fmt)
{
    double cw = c->vp_w / (double)cols, rh = c->vp_h / (double)rows;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            double v = values[i * cols + j];
            const char *note = notes && notes[i * cols + j] && *notes[i * cols + j]
                                   ? notes[i * cols + j] : NULL;
            PLFLT px[4] = {j - 0.5, j + 0.5, j + 0.5, j - 0.5};
            PLFLT py[4] = {i - 0.5, i - 0.5, i + 0.5, i + 0.5};
            double p = isnan(v) ? (note ? 1.0 : 0.5) : map_pos(v, range[0], range[1], range[2]);
            if (isnan(v))
                plcol0(note ? COL_DARK : COL_LIGHT);
            else
                plcol1(p);
            plfill(4, px, py);
            char s[64];
            if (note)
                snprintf(s, sizeof s, "%s", note);
            else if (isnan(v))
                continue;
            else
                cell_text(s, sizeof s, fmt, v);
            if (!*s || chart_text_mm(s) > 0.92 * cw || chart_char_ht() > 0.8 * rh)
                continue;   /* too small a cell to say it */
            plcol0(p < 0.2 || p > 0.85 ? COL_BG : COL_FG);
            plptex((PLFLT)j, (PLFLT)i, 1, 0, 0.5, s);   /* centred, as the row labels */
        }
}

/* The heatmap's cells into the record: row label, column label, value. */
static void heat_record(gs_chart_t *c, size_t rows, size_t cols, const double *values,
                        const char *const *notes, const char *const *row_labels,
                        const char *const *col_labels)
{
    int cl = (int)c->n_strs;   /* the column labels, one after another */
    for (size_t j = 0; j < cols; j++)
        chart_add_str(c, col_labels[j]);
    for (size_t i = 0; i < rows && !c->oom; i++) {
        int rl = chart_add_str(c, row_labels[i]);
        for (size_t j = 0; j < cols; j++) {
            const char *note = notes ? notes[i * cols + j] : NULL;
            int vt = note && *note ? chart_add_str(c, note) : -1;
            rec_t *r = chart_add_rec(c, NAN, NAN);
            if (r)
                r->xt = cl + (int)j, r->yt = rl, r->vt = vt, r->v = values[i * cols + j];
        }
    }
    c->heat = 1;
}

/* Column labels below, row labels left, thinned so they never overprint
 * (every k-th, counted from the last: the end of a scale is named). */
static void heat_labels(gs_chart_t *c, size_t rows, size_t cols, const char *const *row_labels,
                        const char *const *col_labels)
{
    char s[256];
    size_t cs = label_every(col_labels, cols, c->vp_w / (double)cols, 0);
    size_t rs = label_every(row_labels, rows, c->vp_h / (double)rows, 1);
    for (size_t j = (cols - 1) % cs; j < cols; j += cs) {
        chart_esc(s, sizeof s, col_labels[j]);
        plmtex("b", 1.3, ((double)j + 0.5) / (double)cols, 0.5, s);
    }
    for (size_t i = (rows - 1) % rs; i < rows; i += rs) {
        chart_esc(s, sizeof s, row_labels[i]);
        plmtex("lv", 0.8, 1.0 - ((double)i + 0.5) / (double)rows, 1.0, s);
    }
}

/* The colour bar in the legend column, beside panel box (l, r, b, t). */
static void heat_bar(gs_chart_t *c, double b, double t, const double range[3], const char *label)
{
    double vmin = range[0], vmax = range[2];
    plvpor(c->legend_left + 0.03, c->legend_left + 0.06, b, t);
    plwind(0, 1, vmin, vmax);
    for (int i = 0; i < 100; i++) {
        double v0 = vmin + (vmax - vmin) * i / 100, v1 = vmin + (vmax - vmin) * (i + 1) / 100;
        PLFLT px[4] = {0, 1, 1, 0}, py[4] = {v0, v0, v1, v1};
        plcol1(map_pos(0.5 * (v0 + v1), vmin, range[1], vmax));
        plfill(4, px, py);
    }
    plcol0(COL_FG);   /* linear ticks: the heatmap left c->yscale 0 for chart_label_fn */
    plbox("bc", 0, 0, "bcmstvo", chart_tick_step(vmin, vmax, 0, (t - b) * c->page_h, 1), 0);
    char s[256];
    chart_esc(s, sizeof s, label ? label : "");
    plmtex("r", 5.0, 0.5, 0.5, s);
}

/* Room left of a heatmap for its longest row label, in page fractions. */
static double row_label_room(const gs_chart_t *c, const char *const *labels, size_t rows)
{
    double w = 0;
    for (size_t i = 0; i < rows; i++) {
        char s[128];
        chart_esc(s, sizeof s, labels[i]);
        w = fmax(w, chart_text_mm(s));
    }
    double f = (w + 2 * chart_char_ht()) / c->page_w;
    return f < 0.03 ? 0.03 : f > 0.3 ? 0.3 : f;
}

void gs_chart_heatmap(gs_chart_t *c, int k, size_t rows, size_t cols, const double *values,
                      const char *const *notes, const char *const *row_labels,
                      const char *const *col_labels, double vmin, double mid, double vmax,
                      const char *fmt, const char *xlabel, const char *ylabel,
                      const char *bar_label)
{
    double l, r, b, t;
    chart_panel_box(c, k, &l, &r, &b, &t);
    chart_record_panel(c, k, xlabel, ylabel, NULL);
    c->panels[c->cur].vlabel = chart_add_str(c, bar_label);
    if (c->label < 0)
        c->label = chart_add_str(c, bar_label);
    heat_record(c, rows, cols, values, notes, row_labels, col_labels);
    plschr(0, rows > 12 ? SMALL_SIZE : TEXT_SIZE);
    l += row_label_room(c, row_labels, rows);   /* the row labels' room */
    c->xscale = c->yscale = 0;
    /* row 0 at the top */
    chart_set_view(c, l, r, b, t, -0.5, (double)cols - 0.5, (double)rows - 0.5, -0.5);
    diverging_map();
    const double range[3] = {vmin, mid, vmax};
    heat_cells(c, rows, cols, values, notes, range, fmt);
    plcol0(COL_FG);
    plbox("bc", 1, 0, "bc", 1, 0);
    heat_labels(c, rows, cols, row_labels, col_labels);
    plschr(0, TEXT_SIZE);
    char s[256];
    chart_esc(s, sizeof s, xlabel ? xlabel : "");
    plmtex("b", 3.0, 0.5, 0.5, s);
    if (ylabel) {
        chart_esc(s, sizeof s, ylabel);
        plmtex("t", 0.8, -0.02, 1.0, s);
    }
    if (c->legend) {
        heat_bar(c, b, t, range, bar_label);
        c->leg_x = 0.13;   /* legend entries go right of the bar and its labels */
    }
    /* back to the map, in its cell coordinates, for what the caller
     * draws over it */
    chart_restore_view(c);
}

void gs_chart_heatmap_units(gs_chart_t *c, double x0, double dx, double y0, double dy)
{
    double cols = c->x1 + 0.5, rows = c->y0 + 0.5;   /* the cell window set above */
    chart_set_view(c, c->vp[0], c->vp[1], c->vp[2], c->vp[3], x0 - 0.5 * dx, x0 + (cols - 0.5) * dx,
             y0 + (rows - 0.5) * dy, y0 - 0.5 * dy);
}
