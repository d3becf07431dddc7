#include <config.h>

#include "report/chart.h"
#include "report/chart_internal.h"

#include <math.h>
#include <plplot.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Okabe & Ito (2008) colours, the most distinct first; then four darker
 * ones that none of them is close to (Tol's indigo and wine, olive,
 * brown); Okabe-Ito's yellow last, as it is faint on white. */
static const unsigned char palette[GS_CHART_COLOURS][3] = {
    {0, 114, 178}, {230, 159, 0},  {0, 158, 115},  {213, 94, 0},
    {86, 180, 233}, {204, 121, 167}, {0, 0, 0},     {51, 34, 136},
    {136, 34, 85},  {153, 153, 51}, {140, 86, 75},  {240, 228, 66},
};

/* ---- colours and styles ---- */

static void set_series(int s)
{
    plcol0(s < 0 ? COL_GREY : COL_SERIES + s % GS_CHART_COLOURS);
}

static void set_style(int style)
{
    static PLINT dash_mark[] = {4000}, dash_space[] = {2500};
    static PLINT dot_mark[] = {700}, dot_space[] = {1300};
    if (style == GS_DASHED)
        plstyl(1, dash_mark, dash_space);
    else if (style == GS_THEORY)
        plstyl(1, dot_mark, dot_space);
    else
        plstyl(0, NULL, NULL);
    plwidth(style == GS_THEORY ? 1.4 : 2.0);
}

static void unset_style(void)
{
    plstyl(0, NULL, NULL);
    plwidth(1.0);
}

/* The symbols of gs_chart_marker as PLplot's Hershey codes; the marker
 * that tells series beyond the palette apart (0: none). */
static const PLINT mark_code[] = {5, 4, 16, 7};

static int series_mark(int s)
{
    return s < GS_CHART_COLOURS ? -1 : (s / GS_CHART_COLOURS - 1) % 4;
}

gs_chart_t *gs_chart_begin(int w, int h, const char *title)
{
    gs_chart_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->w = w;
    c->h = h;
    c->label = -1;
    c->rgba = malloc((size_t)w * (size_t)h * 4);
    if (!c->rgba) {
        free(c);
        return NULL;
    }
    /* memcairo draws over the buffer: start from an opaque white page */
    memset(c->rgba, 255, (size_t)w * (size_t)h * 4);
    plsdev("memcairo");
    plsmema(w, h, c->rgba);
    plscmap0n(N_COLOURS);
    plscol0(COL_BG, 255, 255, 255);
    plscol0(COL_FG, 30, 30, 30);
    plscol0(COL_GREY, 120, 120, 120);
    plscol0(COL_LIGHT, 225, 225, 225);
    plscol0(COL_DARK, 80, 80, 80);
    for (int i = 0; i < GS_CHART_COLOURS; i++)
        plscol0(COL_SERIES + i, palette[i][0], palette[i][1], palette[i][2]);
    plinit();
    plslabelfunc(chart_label_fn, c);   /* every box's labels ("o"): 4 digits, 10^k */
    pladv(0);
    PLFLT xa, xb, ya, yb;
    plgspa(&xa, &xb, &ya, &yb);
    c->page_w = xb - xa;
    c->page_h = yb - ya;
    char t[512];
    chart_esc(t, sizeof t, title);
    plcol0(COL_FG);
    plvpor(0.0, 1.0, 0.93, 1.0);
    plwind(0, 1, 0, 1);
    plschr(0, TITLE_SIZE);
    double tw = chart_text_mm(t);   /* smaller when it would run off the page */
    if (tw > 0.96 * c->page_w)
        plschr(0, fmax(TITLE_SIZE * 0.96 * c->page_w / tw, SMALL_SIZE));
    plptex(0.5, 0.35, 1, 0, 0.5, t);
    plschr(0, TEXT_SIZE);
    c->nx = c->ny = 1;
    for (int k = 0; k < MAX_PANELS; k++)
        c->panels[k] = (panel_t){0, -1, -1, -1, -1, -1, 0};
    return c;
}

void gs_chart_grid(gs_chart_t *c, int nx, int ny, int legend_chars)
{
    c->nx = nx < 1 ? 1 : nx;
    c->ny = ny < 1 ? 1 : ny;
    c->legend = legend_chars > 0;
    if (c->legend && legend_chars < 16)
        legend_chars = 16;   /* room for the key gs_chart_end may add: "beyond the axis" */
    double w = 0.05 + 0.0085 * legend_chars;
    c->legend_left = 1.0 - (w < 0.14 ? 0.14 : w > 0.42 ? 0.42 : w);
}

/* Viewport of panel k in normalized page coordinates. */
void chart_panel_box(const gs_chart_t *c, int k, double *l, double *r, double *b, double *t)
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

/* Make viewport (page fractions) and window current, and remember them. */
void chart_set_view(gs_chart_t *c, double l, double r, double b, double t, double x0, double x1,
                     double y0, double y1)
{
    c->vp[0] = l, c->vp[1] = r, c->vp[2] = b, c->vp[3] = t;
    c->vp_w = (r - l) * c->page_w;
    c->vp_h = (t - b) * c->page_h;
    c->x0 = x0, c->x1 = x1, c->y0 = y0, c->y1 = y1;
    c->ylo = fmin(y0, y1);
    c->yhi = fmax(y0, y1);
    plvpor(l, r, b, t);
    plwind(x0, x1, y0, y1);
}

void chart_restore_view(const gs_chart_t *c)
{
    plvpor(c->vp[0], c->vp[1], c->vp[2], c->vp[3]);
    plwind(c->x0, c->x1, c->y0, c->y1);
}

/* Start panel k of the record with its labels. */
void chart_record_panel(gs_chart_t *c, int k, const char *xlabel, const char *ylabel,
                         const char *title)
{
    c->cur = k < 0 ? 0 : k >= MAX_PANELS ? MAX_PANELS - 1 : k;
    panel_t *p = &c->panels[c->cur];
    p->used = 1;
    p->title = title && *title ? chart_add_str(c, title) : -1;
    p->xlabel = xlabel && *xlabel ? chart_add_str(c, xlabel) : -1;
    if (ylabel && *ylabel)   /* panels after the first leave it to the first */
        p->ylabel = chart_add_str(c, ylabel);
    p->n_cats = 0;
}

/* The widest tick label of [a, b] at step, in mm. */
static double widest_tick(double a, double b, double step, int is_log)
{
    double w = 0;
    for (double k = ceil(a / step - 1e-9); k * step <= b + 1e-9 * fabs(b - a); k++) {
        char s[64];
        chart_tick_text(s, sizeof s, k * step, is_log, 1);
        w = fmax(w, chart_text_mm(s));
    }
    return w;
}

/* The smallest step among 1, 2, 4, 5 x 10^k (whole numbers on log and
 * integer axes) at which [a, b]'s tick labels fit in len mm without
 * overprinting: side by side (x) or stacked (y), at most MAX_TICKS. */
double chart_tick_step(double a, double b, int scale, double len, int vertical)
{
    static const double nice[] = {1, 2, 4, 5};
    double span = b - a, ht = chart_char_ht();
    int whole = scale & (GS_AXIS_LOG | GS_AXIS_INT);
    for (int e = (int)floor(log10(span)) - 2; e < (int)floor(log10(span)) + 3; e++)
        for (size_t i = 0; i < sizeof nice / sizeof nice[0]; i++) {
            double step = nice[i] * pow(10, e);
            if (whole && step < 1)
                continue;
            double n = floor(b / step + 1e-9) - ceil(a / step - 1e-9) + 1;
            if (n > MAX_TICKS)
                continue;
            double slot = vertical ? ((scale & GS_AXIS_LOG) ? 2.6 : 2.0) * ht
                                   : widest_tick(a, b, step, scale & GS_AXIS_LOG) + ht;
            if (n * slot <= len)
                return step;
        }
    return span;
}

/* Minor ticks between major ones: at whole numbers on an integer axis. */
static int minor_ticks(double step, int scale)
{
    if (scale & GS_AXIS_LOG)
        return 1;
    if (scale & GS_AXIS_INT)
        return step <= 5 ? (int)step : 0;
    return 0;
}

static double to_axis(double v, int scale)
{
    return scale & GS_AXIS_LOG ? log10(v) : v;
}

/* The axis labels: x below, y left of the widest tick label. */
static void axis_labels(gs_chart_t *c, const char *xlabel, const char *ylabel, double ystep)
{
    char s[256];
    double ht = chart_char_ht();
    double yw = widest_tick(c->y0, c->y1, ystep, c->yscale & GS_AXIS_LOG);
    chart_esc(s, sizeof s, xlabel ? xlabel : "");
    plmtex("b", 3.0, 0.5, 0.5, s);
    chart_esc(s, sizeof s, ylabel ? ylabel : "");
    plmtex("l", yw / ht + 1.6, 0.5, 0.5, s);
}

/* A panel's title above it, smaller when it would be wider than the
 * panel (it would run into the next one). */
static void panel_title(const gs_chart_t *c, const char *title, double size)
{
    if (!title || !*title)
        return;
    char s[256];
    chart_esc(s, sizeof s, title);
    plschr(0, size);
    double w = chart_text_mm(s);
    if (w > c->vp_w)
        plschr(0, fmax(size * c->vp_w / w, 0.6 * SMALL_SIZE));
    plmtex("t", 0.8, 0.5, 0.5, s);
}

void gs_chart_axes(gs_chart_t *c, int k, double x0, double x1, double y0, double y1, int xscale,
                   int yscale, const char *xlabel, const char *ylabel, const char *title)
{
    double l, r, b, t;
    chart_panel_box(c, k, &l, &r, &b, &t);
    chart_record_panel(c, k, xlabel, ylabel, title);
    c->xscale = xscale;
    c->yscale = yscale;
    x0 = to_axis(x0, xscale), x1 = to_axis(x1, xscale);
    y0 = to_axis(y0, yscale), y1 = to_axis(y1, yscale);
    if (!(x1 > x0))
        x1 = x0 + 1;
    if (!(y1 > y0))
        y1 = y0 + 1;
    chart_set_view(c, l, r, b, t, x0, x1, y0, y1);
    double size = c->nx * c->ny > 2 ? SMALL_SIZE : TEXT_SIZE;
    plschr(0, size);
    double xt = chart_tick_step(x0, x1, xscale, c->vp_w, 0), yt = chart_tick_step(y0, y1, yscale, c->vp_h, 1);
    int xs = minor_ticks(xt, xscale), ys = minor_ticks(yt, yscale);
    /* light grid at major ticks, then the box with labels from chart_label_fn */
    plcol0(COL_LIGHT);
    plwidth(0.5);
    plbox(xlabel ? "g" : "", xt, xs, "g", yt, ys);
    plcol0(COL_FG);
    plwidth(1.0);
    plbox(xlabel ? "bctnso" : "bc", xt, xs, "bctnsvo", yt, ys);   /* categories: no ticks */
    axis_labels(c, xlabel, ylabel, yt);
    panel_title(c, title, size * 1.15);
    plschr(0, size);
}

void gs_chart_hbar_axes(gs_chart_t *c, int k, double x0, double x1, size_t n, const char *xlabel)
{
    double l, r, b, t;
    chart_panel_box(c, k, &l, &r, &b, &t);
    chart_record_panel(c, k, "rank (1 = top bar)", xlabel, NULL);
    c->xscale = c->yscale = 0;
    c->bars = (int)n;
    c->hbar = 1;
    /* room above the top bar for a note */
    chart_set_view(c, l, r, b, t, x0, x1, -0.5, (double)n - 0.5 + 0.45);
    double xt = chart_tick_step(x0, x1, 0, c->vp_w, 0);
    plcol0(COL_LIGHT);
    plbox("g", xt, 0, "", 0, 0);
    plcol0(COL_FG);
    plbox("bcnsto", xt, 0, "bc", 0, 0);
    char s[256];
    chart_esc(s, sizeof s, xlabel ? xlabel : "");
    pllab(s, "", "");
}

void gs_chart_xcategories(gs_chart_t *c, size_t n, const char *const *labels)
{
    panel_t *p = &c->panels[c->cur];
    double widest = 0;
    for (size_t i = 0; i < n; i++) {
        char s[128];
        chart_esc(s, sizeof s, labels[i]);
        widest = fmax(widest, chart_text_mm(s));
        int id = chart_add_str(c, labels[i]);
        if (i == 0)
            p->cats = id;
    }
    p->n_cats = c->oom ? 0 : (int)n;
    double slot = c->vp_w / (c->x1 - c->x0);   /* mm per category */
    size_t every = (size_t)ceil((widest + chart_char_ht()) / slot);
    plcol0(COL_FG);
    for (size_t i = 0; i < n; i += every ? every : 1) {
        char s[128];
        chart_esc(s, sizeof s, labels[i]);
        plmtex("b", 1.5, ((double)i - c->x0) / (c->x1 - c->x0), 0.5, s);
    }
}

/* ---- drawing ---- */

static double tx(const gs_chart_t *c, double x)
{
    return c->xscale & GS_AXIS_LOG ? (x > 0 && isfinite(x) ? log10(x) : NAN) : x;
}

static double ty(const gs_chart_t *c, double y)
{
    return c->yscale & GS_AXIS_LOG ? (y > 0 && isfinite(y) ? log10(y) : NAN) : y;
}

/* Where y is against the panel's range: -1 below (0 on a log axis too),
 * +1 above (infinities included), 0 within or not drawable (NaN). */
static int off_side(const gs_chart_t *c, double y)
{
    if (isnan(y))
        return 0;
    if (isinf(y))
        return y > 0 ? 1 : -1;
    if ((c->yscale & GS_AXIS_LOG) && y <= 0)
        return -1;
    double b = ty(c, y);
    return b < c->ylo ? -1 : b > c->yhi ? 1 : 0;
}

/* A triangle at the panel's bottom (side -1) or top (+1) edge at x,
 * pointing away from the panel, in the series' colour. */
static void edge_triangle(gs_chart_t *c, double a, int side, int series)
{
    double dx = TRIANGLE_MM * (c->x1 - c->x0) / c->vp_w;
    double dy = TRIANGLE_MM * (c->y1 - c->y0) / c->vp_h;   /* signed: flips with the window */
    double edge = side < 0 ? c->ylo : c->yhi;
    double in = side < 0 ? fabs(dy) : -fabs(dy);
    PLFLT px[3] = {a - dx, a + dx, a}, py[3] = {edge + 1.6 * in, edge + 1.6 * in, edge};
    set_series(series);
    plfill(3, px, py);
}

/* Mark where a line leaves the range: a triangle at the first point of
 * every stretch beyond it; every such point counted. */
static void mark_off(gs_chart_t *c, const double *x, const double *y, size_t n, int series)
{
    int prev = 0;
    for (size_t i = 0; i < n; i++) {
        double a = tx(c, x[i]);
        int side = isfinite(a) ? off_side(c, y[i]) : 0;
        if (side && side != prev)
            edge_triangle(c, a, side, series);
        c->off += side != 0;
        prev = side;
    }
}

/* Markers along a line of a series beyond the palette, about ten. */
static void line_marks(const PLFLT *px, const PLFLT *py, size_t m, int series)
{
    int mk = series_mark(series);
    if (mk < 0)
        return;
    plssym(0, 1.1);
    for (size_t i = 0; i < m; i += m / 10 + 1)
        plpoin(1, (PLFLT *)&px[i], (PLFLT *)&py[i], mark_code[mk]);
    plssym(0, 1.0);
}

static void draw_line(gs_chart_t *c, const double *x, const double *y, size_t n, int series,
                      int style)
{
    PLFLT *px = malloc((n + 1) * sizeof *px), *py = malloc((n + 1) * sizeof *py);
    if (!px || !py) {
        free(px);
        free(py);
        return;
    }
    set_series(series);
    set_style(style);
    size_t m = 0;
    for (size_t i = 0; i <= n; i++) {
        double a = i < n ? tx(c, x[i]) : NAN, b = i < n ? ty(c, y[i]) : NAN;
        if (isfinite(a) && isfinite(b)) {
            px[m] = a;
            py[m] = b;
            m++;
            continue;
        }
        if (m == 1)
            plpoin(1, px, py, 17);
        else if (m > 1)
            plline((PLINT)m, px, py);
        line_marks(px, py, m, series);
        m = 0;
    }
    unset_style();
    free(px);
    free(py);
    if (style != GS_THEORY)   /* a prediction may leave the range: not a measurement */
        mark_off(c, x, y, n, series);
}

void gs_chart_line(gs_chart_t *c, const double *x, const double *y, size_t n, int series,
                   int style)
{
    chart_record(c, x, y, NULL, NULL, n);
    if (style == GS_THEORY)
        c->theory += n > 0;
    else
        c->data_lines += series >= 0 && n > 0;
    draw_line(c, x, y, n, series, style);
}

static void draw_band(gs_chart_t *c, const double *x, const double *lo, const double *hi,
                      size_t n, int series)
{
    /* one quadrilateral per interval between two points where both edges
     * are drawable: a gap in the data leaves a gap in the band */
    const unsigned char *rgb = series < 0 ? (const unsigned char[3]){120, 120, 120}
                                          : palette[series % GS_CHART_COLOURS];
    plscol0a(COL_BAND, rgb[0], rgb[1], rgb[2], BAND_ALPHA);
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

void gs_chart_line_band(gs_chart_t *c, const double *x, const double *y, const double *lo,
                        const double *hi, size_t n, int series, int style)
{
    chart_record(c, x, y, lo, hi, n);
    c->bands++;
    c->data_lines += series >= 0 && n > 0;
    draw_band(c, x, lo, hi, n, series);
    draw_line(c, x, y, n, series, style);
}

void gs_chart_marker(gs_chart_t *c, double x, double y, int series, int symbol)
{
    chart_add_rec(c, x, y);
    PLFLT a = tx(c, x), b = ty(c, y);
    int side = off_side(c, y), clamp = symbol & GS_MARK_CLAMP;
    double size = symbol & GS_MARK_SMALL ? 0.9 : 1.6;
    symbol &= ~(GS_MARK_CLAMP | GS_MARK_SMALL);
    if (side && isfinite(a) && !clamp) {
        edge_triangle(c, a, side, series);
        c->off++;
        return;
    }
    if (side)   /* clamped: at the edge, itself */
        b = side < 0 ? c->ylo : c->yhi;
    if (!isfinite(a) || !isfinite(b))
        return;
    set_series(series);
    plwidth(2.0);
    plssym(0, size);
    plpoin(1, &a, &b, mark_code[symbol < 0 || symbol > 3 ? 0 : symbol]);
    plssym(0, 1.0);
    plwidth(1.0);
}

void gs_chart_hline(gs_chart_t *c, double y, int series, int style, const char *label)
{
    int keep = c->label;
    if (label && *label)
        c->label = chart_add_str(c, label);
    chart_add_rec(c, NAN, y);
    c->label = keep;
    double b = ty(c, y);
    if (!isfinite(b) || b < c->ylo || b > c->yhi)
        return;
    PLFLT px[2] = {c->x0, c->x1}, py[2] = {b, b};
    set_series(series);
    set_style(style);
    plwidth(1.5);
    plline(2, px, py);
    unset_style();
    if (label && *label) {
        char s[128];
        chart_esc(s, sizeof s, label);
        plschr(0, SMALL_SIZE);
        plptex(c->x1 - 0.01 * (c->x1 - c->x0), b + 0.015 * (c->y1 - c->y0), 1, 0, 1.0, s);
        plschr(0, TEXT_SIZE);
    }
}

void gs_chart_vline(gs_chart_t *c, double x, int series, int style, const char *label)
{
    int keep = c->label;
    if (label && *label)
        c->label = chart_add_str(c, label);
    if (c->hbar)   /* a bar chart's CSV gives the bars' values as y */
        chart_add_rec(c, NAN, x);
    else
        chart_add_rec(c, x, NAN);
    c->label = keep;
    double a = tx(c, x);
    if (!isfinite(a) || a < fmin(c->x0, c->x1) || a > fmax(c->x0, c->x1))
        return;
    PLFLT px[2] = {a, a}, py[2] = {c->y0, c->y1};
    set_series(series);
    set_style(style);
    plwidth(1.5);
    plline(2, px, py);
    unset_style();
    if (label && *label) {   /* along the line, left of it, from the top */
        char s[128];
        chart_esc(s, sizeof s, label);
        plschr(0, SMALL_SIZE);
        plptex(a - 0.01 * (c->x1 - c->x0), c->y1 - 0.02 * (c->y1 - c->y0), 0, -1, 0.0, s);
        plschr(0, TEXT_SIZE);
    }
}

static void fill_rect(const gs_chart_t *c, double x0, double x1, double y0, double y1, int series)
{
    PLFLT a0 = tx(c, x0), a1 = tx(c, x1), b0 = ty(c, y0), b1 = ty(c, y1);
    if (!isfinite(a0) || !isfinite(a1) || !isfinite(b0) || !isfinite(b1))
        return;
    PLFLT px[4] = {a0, a1, a1, a0}, py[4] = {b0, b0, b1, b1};
    set_series(series);
    plfill(4, px, py);
}

void gs_chart_rect(gs_chart_t *c, double x0, double x1, double y0, double y1, int series)
{
    chart_add_rec(c, 0.5 * (x0 + x1), y1);
    fill_rect(c, x0, x1, y0, y1, series);
}

void gs_chart_hbar(gs_chart_t *c, size_t i, double v, double lo, double hi, int series)
{
    double y = (double)i;
    rec_t *r = chart_add_rec(c, (double)c->bars - y, v);
    if (r)
        r->lo = lo, r->hi = hi;
    fill_rect(c, 0, v, y - 0.35, y + 0.35, series);
    if (!isfinite(lo) || !isfinite(hi))
        return;
    /* the whisker in the page's ink: it shows on every bar colour */
    plcol0(COL_FG);
    plwidth(2.0);
    PLFLT wx[2] = {lo, hi}, wy[2] = {y, y};
    plline(2, wx, wy);
    for (int e = 0; e < 2; e++) {
        PLFLT cx[2] = {wx[e], wx[e]}, cy[2] = {y - 0.15, y + 0.15};
        plline(2, cx, cy);
    }
    plwidth(1.0);
    c->whiskers++;
}

void gs_chart_text(gs_chart_t *c, double x, double y, double just, double size, const char *text)
{
    PLFLT a = tx(c, x), b = ty(c, y);
    if (!isfinite(a) || !isfinite(b))
        return;
    char s[256];
    chart_esc(s, sizeof s, text);
    plcol0(COL_FG);
    plschr(0, size * TEXT_SIZE);
    plptex(a, b, 1, 0, just, s);
    plschr(0, TEXT_SIZE);
}

double gs_chart_text_width(const gs_chart_t *c, double size, const char *text)
{
    char s[256];
    chart_esc(s, sizeof s, text);
    plschr(0, size * TEXT_SIZE);
    double w = chart_text_mm(s);
    plschr(0, TEXT_SIZE);
    return w / c->vp_w * (c->x1 - c->x0);
}

/* ---- legend ---- */

/* The legend column's view: page fractions in both directions. */
static void legend_view(void)
{
    plvpor(0, 1, 0, 1);
    plwind(0, 1, 0, 1);
}

/* An entry's sample (a line, band or marker) from x0 to x1 at height y. */
static void key_sample(int series, int key, double x0, double x1, double y)
{
    PLFLT px[2] = {x0, x1}, py[2] = {y, y}, mx = 0.5 * (x0 + x1);
    if (key <= GS_THEORY) {
        set_series(series);
        set_style(key);
        plwidth(key == GS_THEORY ? 1.6 : 2.5);
        plline(2, px, py);
        unset_style();
        int mk = series_mark(series);
        if (mk >= 0)
            plpoin(1, &mx, &py[0], mark_code[mk]);
    } else if (key == GS_KEY_BAND) {
        const unsigned char *rgb = series < 0 ? (const unsigned char[3]){120, 120, 120}
                                              : palette[series % GS_CHART_COLOURS];
        plscol0a(COL_BAND, rgb[0], rgb[1], rgb[2], BAND_ALPHA * 1.5);
        plcol0(COL_BAND);
        PLFLT bx[4] = {x0, x1, x1, x0}, by[4] = {y - 0.008, y - 0.008, y + 0.008, y + 0.008};
        plfill(4, bx, by);
    } else {
        set_series(series);
        plwidth(2.0);
        plssym(0, 1.4);
        plpoin(1, &mx, &py[0], mark_code[key - GS_KEY_CROSS]);
        plssym(0, 1.0);
        plwidth(1.0);
    }
}

static void legend_entry(gs_chart_t *c, const char *label, int series, int key)
{
    if (!c->legend || c->leg_y < 0.04)
        return;
    char s[256];
    legend_view();
    double x0 = c->legend_left + c->leg_x, x1 = x0 + 0.035;   /* a fixed 3.5% of the page */
    key_sample(series, key, x0, x1, c->leg_y + 0.006);
    gs_chart_short_numbers(s, sizeof s, label);
    chart_buf_line(c, &c->legends, s);
    chart_esc(s, sizeof s, label);
    plcol0(COL_FG);
    plptex(x1 + 0.008, c->leg_y, 1, 0, 0.0, s);
    c->leg_y -= c->leg_row;
    chart_restore_view(c);
}

void gs_chart_legend(gs_chart_t *c, size_t n, const char *const *labels, const int *series,
                     const int *style, const char *title)
{
    if (!c->legend)
        return;
    /* room for n entries and a few keys added after them */
    c->leg_row = n + 4 > 18 ? 0.80 / (double)(n + 4) : 0.045;
    c->leg_y = 0.86;
    c->leg_on = 1;
    plschr(0, n + 4 > 18 ? SMALL_SIZE : TEXT_SIZE);
    if (title && *title) {
        char s[256];
        chart_esc(s, sizeof s, title);
        legend_view();
        plcol0(COL_FG);
        plptex(c->legend_left + c->leg_x, c->leg_y, 1, 0, 0.0, s);
        c->leg_y -= c->leg_row * 1.1;
        chart_restore_view(c);
    }
    for (size_t i = 0; i < n; i++)
        legend_entry(c, labels[i], series[i], style ? style[i] : GS_SOLID);
    plschr(0, TEXT_SIZE);
}

void gs_chart_legend_key(gs_chart_t *c, const char *label, int series, int key)
{
    if (!c->leg_on) {
        c->leg_row = 0.045;
        c->leg_y = 0.86;
        c->leg_on = 1;
    }
    plschr(0, c->leg_row < 0.045 ? SMALL_SIZE : TEXT_SIZE);
    legend_entry(c, label, series, key);
    plschr(0, TEXT_SIZE);
}

static void chart_free(gs_chart_t *c)
{
    for (size_t i = 0; i < c->n_strs; i++)
        free(c->strs[i]);
    free(c->strs);
    free(c->recs);
    free(c->ticks.s);
    free(c->legends.s);
    free(c->rgba);
    free(c);
}

int gs_chart_end(gs_chart_t *c, const char *path, const gs_png_text_t *text, size_t n_text,
                 char *err, size_t errlen)
{
    if (c->off && c->legend)
        gs_chart_legend_key(c, "beyond the axis", GS_SERIES_GREY, GS_KEY_TRIANGLE);
    plend();
    /* the caller's text, then what was drawn (tests read it) */
    gs_png_text_t all[n_text + 3];
    if (n_text)
        memcpy(all, text, n_text * sizeof *text);
    char drawn[128];
    snprintf(drawn, sizeof drawn, "%d lines, %d bands, %d theory lines, %d whiskers",
             c->data_lines, c->bands, c->theory, c->whiskers);
    all[n_text] = (gs_png_text_t){"Drawn", drawn};
    all[n_text + 1] = (gs_png_text_t){"Ticks", c->ticks.s ? c->ticks.s : ""};
    all[n_text + 2] = (gs_png_text_t){"Legend", c->legends.s ? c->legends.s : ""};
    int rc = gs_png_write(path, c->rgba, c->w, c->h, all, n_text + 3, err, errlen);
    if (rc == 0)
        rc = chart_write_csv(c, path, err, errlen);
    chart_free(c);
    return rc;
}
