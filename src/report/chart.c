#include <config.h>

#include "report/chart.h"

#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Okabe & Ito (2008) colours, the most distinct first; yellow last. */
static const unsigned char palette[][3] = {
    {0, 114, 178}, {230, 159, 0}, {0, 158, 115}, {213, 94, 0},
    {86, 180, 233}, {204, 121, 167}, {0, 0, 0}, {240, 228, 66},
};
#define N_PALETTE 8
enum { COL_BG = 0, COL_FG = 1, COL_GREY = 2, COL_LIGHT = 3, COL_SERIES = 4,
       COL_BAND = COL_SERIES + 8 };   /* a series colour, translucent */
#define BAND_ALPHA 0.22
/* character heights (PLplot scale factors) for a 1200 x 700 page */
#define TITLE_SIZE 0.95
#define TEXT_SIZE 0.68
#define SMALL_SIZE 0.58

struct gs_chart {
    int w, h;
    unsigned char *rgba;
    int nx, ny, legend;
    double legend_left;    /* where the legend column starts (page fraction) */
    int logx, logy;
    double x0, x1, y0, y1;   /* current panel's window (log10 on log axes) */
    int data_lines;          /* gs_chart_line calls with a data series (not grey) */
    int bands;               /* gs_chart_band calls */
};

/* PLplot escapes with '#': write user text with '#' doubled. */
static void esc(char *out, size_t len, const char *in)
{
    size_t o = 0;
    for (; in && *in && o + 2 < len; in++) {
        if (*in == '#')
            out[o++] = '#';
        out[o++] = *in;
    }
    out[o] = '\0';
}

/* Tick labels of log axes: the axis holds log10 values; write 10^k. */
static void label_fn(PLINT axis, PLFLT value, char *label, PLINT length, PLPointer data)
{
    const gs_chart_t *c = data;
    int is_log = axis == PL_X_AXIS ? c->logx : axis == PL_Y_AXIS ? c->logy : 0;
    if (is_log) {
        long k = lround(value);
        if (k == 0)
            snprintf(label, (size_t)length, "1");
        else if (k == 1)
            snprintf(label, (size_t)length, "10");
        else
            snprintf(label, (size_t)length, "10#u%ld#d", k);
    } else {
        snprintf(label, (size_t)length, "%g", fabs(value) < 1e-12 ? 0.0 : value);
    }
}

static double decade_step(double span)
{
    return span <= 8 ? 1 : span <= 16 ? 2 : span <= 40 ? 5 : 10;
}

static void set_series(int s)
{
    if (s < 0) {
        plcol0(COL_GREY);
        return;
    }
    plcol0(COL_SERIES + s % N_PALETTE);
}

/* Series beyond the palette repeat their colour with a dash pattern. */
static void set_style(int s, int dashed)
{
    if (dashed || (s >= N_PALETTE)) {
        PLINT mark[1] = {dashed ? 4000 : 1500}, space[1] = {dashed ? 2500 : 1500};
        plstyl(1, mark, space);
    } else {
        plstyl(0, NULL, NULL);
    }
}

gs_chart_t *gs_chart_begin(int w, int h, const char *title)
{
    gs_chart_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->w = w;
    c->h = h;
    c->rgba = malloc((size_t)w * (size_t)h * 4);
    if (!c->rgba) {
        free(c);
        return NULL;
    }
    /* memcairo draws over the buffer: start from an opaque white page */
    memset(c->rgba, 255, (size_t)w * (size_t)h * 4);
    plsdev("memcairo");
    plsmema(w, h, c->rgba);
    plscol0(COL_BG, 255, 255, 255);
    plscol0(COL_FG, 30, 30, 30);
    plscol0(COL_GREY, 120, 120, 120);
    plscol0(COL_LIGHT, 225, 225, 225);
    for (int i = 0; i < N_PALETTE; i++)
        plscol0(COL_SERIES + i, palette[i][0], palette[i][1], palette[i][2]);
    plinit();
    pladv(0);
    char t[512];
    esc(t, sizeof t, title);
    plcol0(COL_FG);
    plvpor(0.0, 1.0, 0.93, 1.0);
    plwind(0, 1, 0, 1);
    plschr(0, TITLE_SIZE);
    plptex(0.5, 0.35, 1, 0, 0.5, t);
    plschr(0, TEXT_SIZE);
    c->nx = c->ny = 1;
    return c;
}

void gs_chart_grid(gs_chart_t *c, int nx, int ny, int legend_chars)
{
    c->nx = nx < 1 ? 1 : nx;
    c->ny = ny < 1 ? 1 : ny;
    c->legend = legend_chars > 0;
    double w = 0.045 + 0.0075 * legend_chars;
    c->legend_left = 1.0 - (w < 0.14 ? 0.14 : w > 0.42 ? 0.42 : w);
}

/* Viewport of panel k in normalized page coordinates. */
static void panel_box(const gs_chart_t *c, int k, double *l, double *r, double *b, double *t)
{
    double left = 0.075, right = c->legend ? c->legend_left - 0.03 : 0.975, bottom = 0.11, top = 0.87;
    double gapx = c->nx > 1 ? 0.07 : 0.0, gapy = c->ny > 1 ? 0.13 : 0.0;
    double pw = (right - left - gapx * (c->nx - 1)) / c->nx;
    double ph = (top - bottom - gapy * (c->ny - 1)) / c->ny;
    int col = k % c->nx, row = k / c->nx;
    *l = left + col * (pw + gapx);
    *r = *l + pw;
    *t = top - row * (ph + gapy);
    *b = *t - ph;
}

void gs_chart_axes(gs_chart_t *c, int k, double x0, double x1, double y0, double y1, int logx,
                   int logy, const char *xlabel, const char *ylabel, const char *title)
{
    double l, r, b, t;
    panel_box(c, k, &l, &r, &b, &t);
    c->logx = logx;
    c->logy = logy;
    if (logx) {
        x0 = log10(x0);
        x1 = log10(x1);
    }
    if (logy) {
        y0 = log10(y0);
        y1 = log10(y1);
    }
    if (!(x1 > x0))
        x1 = x0 + 1;
    if (!(y1 > y0))
        y1 = y0 + 1;
    c->x0 = x0;
    c->x1 = x1;
    c->y0 = y0;
    c->y1 = y1;
    plvpor(l, r, b, t);
    plwind(x0, x1, y0, y1);
    double size = c->nx * c->ny > 2 ? SMALL_SIZE : TEXT_SIZE;
    plschr(0, size);
    /* log axes hold log10 values, labelled 10^k by label_fn at every
     * decade up to 8 of them, else every 2, 5 or 10 */
    double xt = logx ? decade_step(x1 - x0) : 0, yt = logy ? decade_step(y1 - y0) : 0;
    int xs = logx ? 1 : 0, ys = logy ? 1 : 0;
    plslabelfunc(label_fn, c);
    /* light grid at major ticks, then the box */
    plcol0(COL_LIGHT);
    plwidth(0.5);
    plbox(xlabel ? "g" : "", xt, xs, "g", yt, ys);
    plcol0(COL_FG);
    plwidth(1.0);
    char xo[16], yo[16];
    snprintf(xo, sizeof xo, "bct%s%s", xlabel ? "ns" : "", logx ? "o" : "");
    snprintf(yo, sizeof yo, "bctnsv%s", logy ? "o" : "");
    plbox(xo, xt, xs, yo, yt, ys);
    char s1[256], s2[256], s3[256];
    esc(s1, sizeof s1, xlabel ? xlabel : "");
    esc(s2, sizeof s2, ylabel ? ylabel : "");
    esc(s3, sizeof s3, title ? title : "");
    plmtex("b", 3.0, 0.5, 0.5, s1);
    plmtex("l", logy ? 5.2 : 4.6, 0.5, 0.5, s2);
    if (title && *title) {
        plschr(0, size * 1.15);
        plmtex("t", 0.8, 0.5, 0.5, s3);
    }
    plschr(0, size);
}

void gs_chart_hbar_axes(gs_chart_t *c, int k, double x0, double x1, size_t n, const char *xlabel)
{
    double l, r, b, t;
    panel_box(c, k, &l, &r, &b, &t);
    c->logx = c->logy = 0;
    c->x0 = x0;
    c->x1 = x1;
    c->y0 = -0.5;
    c->y1 = (double)n - 0.5 + 0.45;   /* room above the top bar for a note */
    plvpor(l, r, b, t);
    plwind(c->x0, c->x1, c->y0, c->y1);
    plcol0(COL_LIGHT);
    plbox("g", 0, 0, "", 0, 0);
    plcol0(COL_FG);
    plbox("bcnst", 0, 0, "bc", 0, 0);
    char s[256];
    esc(s, sizeof s, xlabel ? xlabel : "");
    pllab(s, "", "");
}

void gs_chart_xcategories(gs_chart_t *c, size_t n, const char *const *labels)
{
    plcol0(COL_FG);
    for (size_t i = 0; i < n; i++) {
        char s[128];
        esc(s, sizeof s, labels[i]);
        double pos = ((double)i - c->x0) / (c->x1 - c->x0);
        plmtex("b", 1.5, pos, 0.5, s);
    }
}

static double tx(const gs_chart_t *c, double x)
{
    return c->logx ? (x > 0 && isfinite(x) ? log10(x) : NAN) : x;
}

static double ty(const gs_chart_t *c, double y)
{
    return c->logy ? (y > 0 && isfinite(y) ? log10(y) : NAN) : y;
}

void gs_chart_line(gs_chart_t *c, const double *x, const double *y, size_t n, int series,
                   int dashed)
{
    PLFLT *px = malloc((n + 1) * sizeof *px), *py = malloc((n + 1) * sizeof *py);
    if (!px || !py) {
        free(px);
        free(py);
        return;
    }
    set_series(series);
    set_style(series, dashed);
    plwidth(2.0);
    c->data_lines += series >= 0 && n > 0;
    size_t m = 0;
    for (size_t i = 0; i <= n; i++) {
        double a = i < n ? tx(c, x[i]) : NAN, b = i < n ? ty(c, y[i]) : NAN;
        if (isfinite(a) && isfinite(b)) {
            px[m] = a;
            py[m] = b;
            m++;
        } else {
            if (m == 1)
                plpoin(1, px, py, 17);
            else if (m > 1)
                plline((PLINT)m, px, py);
            m = 0;
        }
    }
    plstyl(0, NULL, NULL);
    plwidth(1.0);
    free(px);
    free(py);
}

void gs_chart_band(gs_chart_t *c, const double *x, const double *lo, const double *hi, size_t n,
                   int series)
{
    /* one quadrilateral per interval between two points where both edges
     * are drawable: a gap in the data leaves a gap in the band */
    const unsigned char *rgb = series < 0 ? (const unsigned char[3]){120, 120, 120}
                                          : palette[series % N_PALETTE];
    plscol0a(COL_BAND, rgb[0], rgb[1], rgb[2], BAND_ALPHA);
    c->bands++;
    plcol0(COL_BAND);
    for (size_t i = 0; i + 1 < n; i++) {
        PLFLT px[4] = {tx(c, x[i]), tx(c, x[i + 1]), tx(c, x[i + 1]), tx(c, x[i])};
        PLFLT py[4] = {ty(c, lo[i]), ty(c, lo[i + 1]), ty(c, hi[i + 1]), ty(c, hi[i])};
        int ok = 1;
        for (int k = 0; k < 4; k++)
            ok &= isfinite(px[k]) && isfinite(py[k]);
        if (ok)
            plfill(4, px, py);
    }
}

void gs_chart_marker(gs_chart_t *c, double x, double y, int series, int symbol)
{
    PLFLT a = tx(c, x), b = ty(c, y);
    if (!isfinite(a) || !isfinite(b))
        return;
    static const PLINT code[] = {5, 4, 16};
    set_series(series);
    plwidth(2.0);
    plssym(0, 1.6);
    plpoin(1, &a, &b, code[symbol < 0 || symbol > 2 ? 0 : symbol]);
    plssym(0, 1.0);
    plwidth(1.0);
}

void gs_chart_hline(gs_chart_t *c, double y, int series, int dashed, const char *label)
{
    double b = ty(c, y);
    if (!isfinite(b) || b < c->y0 || b > c->y1)
        return;
    PLFLT px[2] = {c->x0, c->x1}, py[2] = {b, b};
    set_series(series);
    set_style(0, dashed);
    plwidth(1.5);
    plline(2, px, py);
    plstyl(0, NULL, NULL);
    plwidth(1.0);
    if (label && *label) {
        char s[128];
        esc(s, sizeof s, label);
        plschr(0, SMALL_SIZE);
        plptex(c->x1 - 0.01 * (c->x1 - c->x0), b + 0.015 * (c->y1 - c->y0), 1, 0, 1.0, s);
        plschr(0, TEXT_SIZE);
    }
}

void gs_chart_rect(gs_chart_t *c, double x0, double x1, double y0, double y1, int series)
{
    PLFLT a0 = tx(c, x0), a1 = tx(c, x1), b0 = ty(c, y0), b1 = ty(c, y1);
    if (!isfinite(a0) || !isfinite(a1) || !isfinite(b0) || !isfinite(b1))
        return;
    PLFLT px[4] = {a0, a1, a1, a0}, py[4] = {b0, b0, b1, b1};
    set_series(series);
    plfill(4, px, py);
}

void gs_chart_text(gs_chart_t *c, double x, double y, double just, double size, const char *text)
{
    PLFLT a = tx(c, x), b = ty(c, y);
    if (!isfinite(a) || !isfinite(b))
        return;
    char s[256];
    esc(s, sizeof s, text);
    plcol0(COL_FG);
    plschr(0, size * TEXT_SIZE);
    plptex(a, b, 1, 0, just, s);
    plschr(0, TEXT_SIZE);
}

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

void gs_chart_heatmap(gs_chart_t *c, int k, size_t rows, size_t cols, const double *values,
                      const char *const *row_labels, const char *const *col_labels, double vmin,
                      double mid, double vmax, const char *fmt, const char *xlabel,
                      const char *ylabel, const char *bar_label)
{
    double l, r, b, t;
    panel_box(c, k, &l, &r, &b, &t);
    /* room on the left for row labels */
    l += 0.10;
    c->logx = c->logy = 0;
    c->x0 = -0.5;
    c->x1 = (double)cols - 0.5;
    c->y0 = -0.5;
    c->y1 = (double)rows - 0.5;
    plvpor(l, r, b, t);
    plwind(c->x0, c->x1, c->y1, c->y0);   /* row 0 at the top */
    diverging_map();
    plschr(0, rows > 12 ? SMALL_SIZE : TEXT_SIZE);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            double v = values[i * cols + j];
            PLFLT px[4] = {j - 0.5, j + 0.5, j + 0.5, j - 0.5};
            PLFLT py[4] = {i - 0.5, i - 0.5, i + 0.5, i + 0.5};
            if (isnan(v)) {
                plcol0(COL_LIGHT);
                plfill(4, px, py);
                continue;
            }
            double p = map_pos(v, vmin, mid, vmax);
            plcol1(p);
            plfill(4, px, py);
            char s[64];
            snprintf(s, sizeof s, fmt, v);
            plcol0(p < 0.2 || p > 0.85 ? COL_BG : COL_FG);
            plptex((PLFLT)j, (PLFLT)i + 0.15, 1, 0, 0.5, s);
        }
    plcol0(COL_FG);
    plbox("bc", 1, 0, "bc", 1, 0);
    char s[256];
    for (size_t j = 0; j < cols; j++) {
        esc(s, sizeof s, col_labels[j]);
        plmtex("b", 1.3, ((double)j + 0.5) / (double)cols, 0.5, s);
    }
    for (size_t i = 0; i < rows; i++) {
        esc(s, sizeof s, row_labels[i]);
        plmtex("lv", 0.8, 1.0 - ((double)i + 0.5) / (double)rows, 1.0, s);
    }
    plschr(0, TEXT_SIZE);
    esc(s, sizeof s, xlabel ? xlabel : "");
    plmtex("b", 3.0, 0.5, 0.5, s);
    if (ylabel) {
        esc(s, sizeof s, ylabel);
        plmtex("t", 0.8, -0.02, 1.0, s);
    }
    /* colour bar in the legend column */
    if (c->legend) {
        plvpor(c->legend_left + 0.03, c->legend_left + 0.06, b, t);
        plwind(0, 1, vmin, vmax);
        int steps = 100;
        for (int i = 0; i < steps; i++) {
            double v0 = vmin + (vmax - vmin) * i / steps, v1 = vmin + (vmax - vmin) * (i + 1) / steps;
            PLFLT px[4] = {0, 1, 1, 0}, py[4] = {v0, v0, v1, v1};
            plcol1(map_pos(0.5 * (v0 + v1), vmin, mid, vmax));
            plfill(4, px, py);
        }
        plcol0(COL_FG);
        plbox("bc", 0, 0, "bcmstv", 0, 0);
        esc(s, sizeof s, bar_label ? bar_label : "");
        plmtex("r", 5.0, 0.5, 0.5, s);
    }
    /* back to the map, in its cell coordinates, for what the caller
     * draws over it */
    plvpor(l, r, b, t);
    plwind(c->x0, c->x1, c->y1, c->y0);
}

void gs_chart_legend(gs_chart_t *c, size_t n, const char *const *labels, const int *series,
                     const int *dashed, const char *title)
{
    if (!c->legend || n == 0)
        return;
    double top = 0.88, row = n > 16 ? 0.75 / (double)n : 0.045;
    plvpor(c->legend_left, 0.995, 0.05, top);
    plwind(0, 1, 0.05, top);
    char s[256];
    plschr(0, n > 16 ? SMALL_SIZE : TEXT_SIZE);
    double y = top - 0.02;
    if (title && *title) {
        esc(s, sizeof s, title);
        plcol0(COL_FG);
        plptex(0.0, y, 1, 0, 0.0, s);
        y -= row * 1.1;
    }
    for (size_t i = 0; i < n; i++, y -= row) {
        double lw = 0.035 / (0.995 - c->legend_left);   /* a fixed 3.5% of the page */
        PLFLT px[2] = {0.0, lw}, py[2] = {y + 0.006, y + 0.006};
        set_series(series[i]);
        set_style(series[i], dashed ? dashed[i] : 0);
        plwidth(2.5);
        plline(2, px, py);
        plstyl(0, NULL, NULL);
        plwidth(1.0);
        esc(s, sizeof s, labels[i]);
        plcol0(COL_FG);
        plptex(lw * 1.25, y, 1, 0, 0.0, s);
    }
    plschr(0, TEXT_SIZE);
}

int gs_chart_end(gs_chart_t *c, const char *path, const gs_png_text_t *text, size_t n_text,
                 char *err, size_t errlen)
{
    plend();
    /* the caller's text, then what was drawn (tests read it) */
    gs_png_text_t all[n_text + 1];
    memcpy(all, text, n_text * sizeof *text);
    char drawn[64];
    snprintf(drawn, sizeof drawn, "%d lines, %d bands", c->data_lines, c->bands);
    all[n_text] = (gs_png_text_t){"Drawn", drawn};
    int rc = gs_png_write(path, c->rgba, c->w, c->h, all, n_text + 1, err, errlen);
    free(c->rgba);
    free(c);
    return rc;
}
