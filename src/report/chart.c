#include <config.h>

#include "report/chart.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/csv.h"
#include "util/files.h"

/* Okabe & Ito (2008) colours, the most distinct first; then four darker
 * ones that none of them is close to (Tol's indigo and wine, olive,
 * brown); Okabe-Ito's yellow last, as it is faint on white. */
static const unsigned char palette[GS_CHART_COLOURS][3] = {
    {0, 114, 178}, {230, 159, 0},  {0, 158, 115},  {213, 94, 0},
    {86, 180, 233}, {204, 121, 167}, {0, 0, 0},     {51, 34, 136},
    {136, 34, 85},  {153, 153, 51}, {140, 86, 75},  {240, 228, 66},
};
enum { COL_BG = 0, COL_FG = 1, COL_GREY = 2, COL_LIGHT = 3, COL_DARK = 4, COL_SERIES = 5,
       COL_BAND = COL_SERIES + GS_CHART_COLOURS,   /* a series colour, translucent */
       N_COLOURS };
#define BAND_ALPHA 0.22
/* character heights (PLplot scale factors) for a 1200 x 700 page */
#define TITLE_SIZE 0.95
#define TEXT_SIZE 0.68
#define SMALL_SIZE 0.58
#define MAX_TICKS 10
#define MAX_PANELS 64
#define TRIANGLE_MM 1.6      /* half the side of an off-chart triangle */

/* A recorded point: what the CSV says was drawn. */
typedef struct {
    int panel, label;        /* label: index into strs (-1: none) */
    int xt, yt, vt;          /* x, y, v as text (heatmap labels, notes), index into strs, or -1 */
    double x, y, v, lo, hi;  /* NaN: none */
} rec_t;

/* What a panel is, for the CSV header and its category labels. */
typedef struct {
    int used, title, xlabel, ylabel, vlabel;   /* strs indices, -1: none */
    int cats, n_cats;                          /* categories: strs[cats .. cats + n_cats) */
} panel_t;

typedef struct {
    char *s;
    size_t n, cap;
} buf_t;

struct gs_chart {
    int w, h;
    unsigned char *rgba;
    int nx, ny, legend;
    double legend_left;       /* where the legend column starts (page fraction) */
    double page_w, page_h;    /* mm */
    int xscale, yscale;
    double x0, x1, y0, y1;    /* current panel's window (log10 on log axes) */
    double ylo, yhi;          /* the same y range in order (heatmaps flip it) */
    double vp[4];             /* current panel's viewport (page fractions) */
    double vp_w, vp_h;        /* its size in mm */
    int bars;                 /* bars of an hbar panel */
    int data_lines, bands, theory, whiskers;
    size_t off;               /* points drawn as edge triangles */
    double leg_y, leg_row;    /* the next legend entry's height, and the step */
    double leg_x;             /* entries' indent: right of a heatmap's colour bar */
    int leg_on;
    /* the record */
    int cur, label;           /* current panel and series label */
    panel_t panels[MAX_PANELS];
    char **strs;
    size_t n_strs, cap_strs;
    rec_t *recs;
    size_t n_recs, cap_recs;
    int heat, hbar;           /* a heatmap (value column), bars (rank column) drawn */
    int oom;                  /* the record is incomplete: memory ran short */
    buf_t ticks, legends;     /* labels written, for the PNG's text chunks */
};

/* ---- text ---- */

/* Length of the decimal number at p (in text starting at s), 0 if none:
 * digits, a point, digits, an exponent; not part of a name (h_1, log10). */
static size_t number_at(const char *s, const char *p)
{
    if (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.'))
        return 0;
    const char *q = p;
    while (isdigit((unsigned char)*q))
        q++;
    if (*q == '.' && isdigit((unsigned char)q[1]))
        for (q++; isdigit((unsigned char)*q); q++)
            ;
    if (q == p)
        return 0;
    if ((*q == 'e' || *q == 'E') &&
        (isdigit((unsigned char)q[1]) || ((q[1] == '-' || q[1] == '+') && isdigit((unsigned char)q[2]))))
        for (q += 2; isdigit((unsigned char)*q); q++)
            ;
    if (isalpha((unsigned char)*q) || *q == '_')
        return 0;   /* 3rd, 2x: part of a word */
    return (size_t)(q - p);
}

/* Significant digits of a decimal number's mantissa, and whether it has a
 * point or an exponent (integers are exact counts: left alone). */
static int sig_digits(const char *t, size_t n, int *decimal)
{
    int d = 0, lead = 1;
    *decimal = 0;
    for (size_t i = 0; i < n && t[i] != 'e' && t[i] != 'E'; i++) {
        if (t[i] == '.') {
            *decimal = 1;
            continue;
        }
        lead &= t[i] == '0';
        d += !lead;
    }
    *decimal |= memchr(t, 'e', n) != NULL || memchr(t, 'E', n) != NULL;
    return d;
}

void gs_chart_short_numbers(char *out, size_t len, const char *in)
{
    size_t o = 0;
    const char *s = in ? in : "";
    for (const char *p = s; *p && o + 1 < len;) {
        size_t n = number_at(s, p);
        int decimal;
        char tok[64];
        if (n == 0) {
            out[o++] = *p++;
            continue;
        }
        if (n < sizeof tok && sig_digits(p, n, &decimal) > 4 && decimal) {
            memcpy(tok, p, n);
            tok[n] = '\0';
            snprintf(tok, sizeof tok, "%.4g", strtod(tok, NULL));
        } else {
            snprintf(tok, sizeof tok, "%.*s", (int)(n < 63 ? n : 63), p);
        }
        for (const char *t = tok; *t && o + 1 < len; t++)
            out[o++] = *t;
        p += n;
    }
    if (len)
        out[o < len ? o : len - 1] = '\0';
}

/* User text as PLplot draws it: numbers shortened, '#' (PLplot's escape)
 * doubled. */
static void esc(char *out, size_t len, const char *in)
{
    char s[512];
    gs_chart_short_numbers(s, sizeof s, in);
    size_t o = 0;
    for (const char *p = s; *p && o + 2 < len; p++) {
        if (*p == '#')
            out[o++] = '#';
        out[o++] = *p;
    }
    out[o] = '\0';
}

static void buf_line(gs_chart_t *c, buf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (b->n + n + 2 > b->cap) {
        size_t cap = (b->cap + n + 2) * 2;
        char *t = realloc(b->s, cap);
        if (!t) {
            c->oom = 1;
            return;
        }
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n++] = '\n';
    b->s[b->n] = '\0';
}

/* A character's width over PLplot's character height, measured on this
 * machine's cairo fonts (a shade generous, to fit labels safely). */
static double char_w(char ch)
{
    if (isdigit((unsigned char)ch))
        return 0.84;
    if (strchr("il.,:;|!'", ch))
        return 0.36;
    if (ch == ' ')
        return 0.4;
    if (ch == 'm' || ch == 'w')
        return 1.15;
    return isupper((unsigned char)ch) ? 0.92 : isalpha((unsigned char)ch) ? 0.74 : 0.62;
}

/* Text's width in mm at the current character height. */
static double text_mm(const char *s)
{
    PLFLT def, ht;
    plgchr(&def, &ht);
    double w = 0, scale = 1;
    for (; *s; s++) {
        if (*s == '#' && (s[1] == 'u' || s[1] == 'd')) {   /* super/subscript: smaller */
            scale = s[1] == 'u' ? 0.7 : 1;
            s++;
            continue;
        }
        w += char_w(*s) * scale;
    }
    return w * ht;
}

static double char_ht(void)
{
    PLFLT def, ht;
    plgchr(&def, &ht);
    return ht;
}

/* ---- the record ---- */

static int add_str(gs_chart_t *c, const char *s)
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

static rec_t *add_rec(gs_chart_t *c, double x, double y)
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

static void record(gs_chart_t *c, const double *x, const double *y, const double *lo,
                   const double *hi, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rec_t *r = add_rec(c, x[i], y[i]);
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
    c->label = add_str(c, label);
}

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

/* ---- the page ---- */

/* Tick labels: log axes hold log10 values, written 10^k; linear ones
 * with at most 4 significant digits (integers as integers). */
static void tick_text(char *s, size_t len, double v, int is_log, int esc_sup)
{
    if (is_log) {
        long k = lround(v);
        if (k == 0 || k == 1)
            snprintf(s, len, "%s", k ? "10" : "1");
        else
            snprintf(s, len, esc_sup ? "10#u%ld#d" : "10^%ld", k);
    } else if (fabs(v) < 1e6 && fabs(v - round(v)) < 1e-9 * fmax(1.0, fabs(v))) {
        snprintf(s, len, "%.0f", v == 0 ? 0.0 : v);
    } else {
        snprintf(s, len, "%.4g", v);
    }
}

static void label_fn(PLINT axis, PLFLT value, char *label, PLINT length, PLPointer data)
{
    gs_chart_t *c = data;
    int scale = axis == PL_X_AXIS ? c->xscale : axis == PL_Y_AXIS ? c->yscale : 0;
    if (fabs(value) < 1e-12)   /* k * step that should be 0 */
        value = 0;
    tick_text(label, (size_t)length, value, scale & GS_AXIS_LOG, 1);
    char plain[64];
    tick_text(plain, sizeof plain, value, scale & GS_AXIS_LOG, 0);
    buf_line(c, &c->ticks, plain);
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
    plslabelfunc(label_fn, c);   /* every box's labels ("o"): 4 digits, 10^k */
    pladv(0);
    PLFLT xa, xb, ya, yb;
    plgspa(&xa, &xb, &ya, &yb);
    c->page_w = xb - xa;
    c->page_h = yb - ya;
    char t[512];
    esc(t, sizeof t, title);
    plcol0(COL_FG);
    plvpor(0.0, 1.0, 0.93, 1.0);
    plwind(0, 1, 0, 1);
    plschr(0, TITLE_SIZE);
    double tw = text_mm(t);   /* smaller when it would run off the page */
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

/* Make viewport (page fractions) and window current, and remember them. */
static void set_view(gs_chart_t *c, double l, double r, double b, double t, double x0, double x1,
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

static void restore_view(const gs_chart_t *c)
{
    plvpor(c->vp[0], c->vp[1], c->vp[2], c->vp[3]);
    plwind(c->x0, c->x1, c->y0, c->y1);
}

/* Start panel k of the record with its labels. */
static void record_panel(gs_chart_t *c, int k, const char *xlabel, const char *ylabel,
                         const char *title)
{
    c->cur = k < 0 ? 0 : k >= MAX_PANELS ? MAX_PANELS - 1 : k;
    panel_t *p = &c->panels[c->cur];
    p->used = 1;
    p->title = title && *title ? add_str(c, title) : -1;
    p->xlabel = xlabel && *xlabel ? add_str(c, xlabel) : -1;
    if (ylabel && *ylabel)   /* panels after the first leave it to the first */
        p->ylabel = add_str(c, ylabel);
    p->n_cats = 0;
}

/* The widest tick label of [a, b] at step, in mm. */
static double widest_tick(double a, double b, double step, int is_log)
{
    double w = 0;
    for (double k = ceil(a / step - 1e-9); k * step <= b + 1e-9 * fabs(b - a); k++) {
        char s[64];
        tick_text(s, sizeof s, k * step, is_log, 1);
        w = fmax(w, text_mm(s));
    }
    return w;
}

/* The smallest step among 1, 2, 4, 5 x 10^k (whole numbers on log and
 * integer axes) at which [a, b]'s tick labels fit in len mm without
 * overprinting: side by side (x) or stacked (y), at most MAX_TICKS. */
static double tick_step(double a, double b, int scale, double len, int vertical)
{
    static const double nice[] = {1, 2, 4, 5};
    double span = b - a, ht = char_ht();
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
    double ht = char_ht();
    double yw = widest_tick(c->y0, c->y1, ystep, c->yscale & GS_AXIS_LOG);
    esc(s, sizeof s, xlabel ? xlabel : "");
    plmtex("b", 3.0, 0.5, 0.5, s);
    esc(s, sizeof s, ylabel ? ylabel : "");
    plmtex("l", yw / ht + 1.6, 0.5, 0.5, s);
}

/* A panel's title above it, smaller when it would be wider than the
 * panel (it would run into the next one). */
static void panel_title(const gs_chart_t *c, const char *title, double size)
{
    if (!title || !*title)
        return;
    char s[256];
    esc(s, sizeof s, title);
    plschr(0, size);
    double w = text_mm(s);
    if (w > c->vp_w)
        plschr(0, fmax(size * c->vp_w / w, 0.6 * SMALL_SIZE));
    plmtex("t", 0.8, 0.5, 0.5, s);
}

void gs_chart_axes(gs_chart_t *c, int k, double x0, double x1, double y0, double y1, int xscale,
                   int yscale, const char *xlabel, const char *ylabel, const char *title)
{
    double l, r, b, t;
    panel_box(c, k, &l, &r, &b, &t);
    record_panel(c, k, xlabel, ylabel, title);
    c->xscale = xscale;
    c->yscale = yscale;
    x0 = to_axis(x0, xscale), x1 = to_axis(x1, xscale);
    y0 = to_axis(y0, yscale), y1 = to_axis(y1, yscale);
    if (!(x1 > x0))
        x1 = x0 + 1;
    if (!(y1 > y0))
        y1 = y0 + 1;
    set_view(c, l, r, b, t, x0, x1, y0, y1);
    double size = c->nx * c->ny > 2 ? SMALL_SIZE : TEXT_SIZE;
    plschr(0, size);
    double xt = tick_step(x0, x1, xscale, c->vp_w, 0), yt = tick_step(y0, y1, yscale, c->vp_h, 1);
    int xs = minor_ticks(xt, xscale), ys = minor_ticks(yt, yscale);
    /* light grid at major ticks, then the box with labels from label_fn */
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
    panel_box(c, k, &l, &r, &b, &t);
    record_panel(c, k, "rank (1 = top bar)", xlabel, NULL);
    c->xscale = c->yscale = 0;
    c->bars = (int)n;
    c->hbar = 1;
    /* room above the top bar for a note */
    set_view(c, l, r, b, t, x0, x1, -0.5, (double)n - 0.5 + 0.45);
    double xt = tick_step(x0, x1, 0, c->vp_w, 0);
    plcol0(COL_LIGHT);
    plbox("g", xt, 0, "", 0, 0);
    plcol0(COL_FG);
    plbox("bcnsto", xt, 0, "bc", 0, 0);
    char s[256];
    esc(s, sizeof s, xlabel ? xlabel : "");
    pllab(s, "", "");
}

void gs_chart_xcategories(gs_chart_t *c, size_t n, const char *const *labels)
{
    panel_t *p = &c->panels[c->cur];
    double widest = 0;
    for (size_t i = 0; i < n; i++) {
        char s[128];
        esc(s, sizeof s, labels[i]);
        widest = fmax(widest, text_mm(s));
        int id = add_str(c, labels[i]);
        if (i == 0)
            p->cats = id;
    }
    p->n_cats = c->oom ? 0 : (int)n;
    double slot = c->vp_w / (c->x1 - c->x0);   /* mm per category */
    size_t every = (size_t)ceil((widest + char_ht()) / slot);
    plcol0(COL_FG);
    for (size_t i = 0; i < n; i += every ? every : 1) {
        char s[128];
        esc(s, sizeof s, labels[i]);
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
    record(c, x, y, NULL, NULL, n);
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
    record(c, x, y, lo, hi, n);
    c->bands++;
    c->data_lines += series >= 0 && n > 0;
    draw_band(c, x, lo, hi, n, series);
    draw_line(c, x, y, n, series, style);
}

void gs_chart_marker(gs_chart_t *c, double x, double y, int series, int symbol)
{
    add_rec(c, x, y);
    PLFLT a = tx(c, x), b = ty(c, y);
    int side = off_side(c, y), clamp = symbol & GS_MARK_CLAMP;
    symbol &= ~GS_MARK_CLAMP;
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
    plssym(0, 1.6);
    plpoin(1, &a, &b, mark_code[symbol < 0 || symbol > 3 ? 0 : symbol]);
    plssym(0, 1.0);
    plwidth(1.0);
}

void gs_chart_hline(gs_chart_t *c, double y, int series, int style, const char *label)
{
    int keep = c->label;
    if (label && *label)
        c->label = add_str(c, label);
    add_rec(c, NAN, y);
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
        esc(s, sizeof s, label);
        plschr(0, SMALL_SIZE);
        plptex(c->x1 - 0.01 * (c->x1 - c->x0), b + 0.015 * (c->y1 - c->y0), 1, 0, 1.0, s);
        plschr(0, TEXT_SIZE);
    }
}

void gs_chart_vline(gs_chart_t *c, double x, int series, int style, const char *label)
{
    int keep = c->label;
    if (label && *label)
        c->label = add_str(c, label);
    if (c->hbar)   /* a bar chart's CSV gives the bars' values as y */
        add_rec(c, NAN, x);
    else
        add_rec(c, x, NAN);
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
        esc(s, sizeof s, label);
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
    add_rec(c, 0.5 * (x0 + x1), y1);
    fill_rect(c, x0, x1, y0, y1, series);
}

void gs_chart_hbar(gs_chart_t *c, size_t i, double v, double lo, double hi, int series)
{
    double y = (double)i;
    rec_t *r = add_rec(c, (double)c->bars - y, v);
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
    esc(s, sizeof s, text);
    plcol0(COL_FG);
    plschr(0, size * TEXT_SIZE);
    plptex(a, b, 1, 0, just, s);
    plschr(0, TEXT_SIZE);
}

double gs_chart_text_width(const gs_chart_t *c, double size, const char *text)
{
    char s[256];
    esc(s, sizeof s, text);
    plschr(0, size * TEXT_SIZE);
    double w = text_mm(s);
    plschr(0, TEXT_SIZE);
    return w / c->vp_w * (c->x1 - c->x0);
}

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
    double need = 1.3 * char_ht();
    for (size_t i = 0; !vertical && i < n; i++) {
        char s[128];
        esc(s, sizeof s, labels[i]);
        need = fmax(need, text_mm(s) + char_ht());
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
            if (!*s || text_mm(s) > 0.92 * cw || char_ht() > 0.8 * rh)
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
        add_str(c, col_labels[j]);
    for (size_t i = 0; i < rows && !c->oom; i++) {
        int rl = add_str(c, row_labels[i]);
        for (size_t j = 0; j < cols; j++) {
            const char *note = notes ? notes[i * cols + j] : NULL;
            int vt = note && *note ? add_str(c, note) : -1;
            rec_t *r = add_rec(c, NAN, NAN);
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
        esc(s, sizeof s, col_labels[j]);
        plmtex("b", 1.3, ((double)j + 0.5) / (double)cols, 0.5, s);
    }
    for (size_t i = (rows - 1) % rs; i < rows; i += rs) {
        esc(s, sizeof s, row_labels[i]);
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
    plcol0(COL_FG);   /* linear ticks: the heatmap left c->yscale 0 for label_fn */
    plbox("bc", 0, 0, "bcmstvo", tick_step(vmin, vmax, 0, (t - b) * c->page_h, 1), 0);
    char s[256];
    esc(s, sizeof s, label ? label : "");
    plmtex("r", 5.0, 0.5, 0.5, s);
}

/* Room left of a heatmap for its longest row label, in page fractions. */
static double row_label_room(const gs_chart_t *c, const char *const *labels, size_t rows)
{
    double w = 0;
    for (size_t i = 0; i < rows; i++) {
        char s[128];
        esc(s, sizeof s, labels[i]);
        w = fmax(w, text_mm(s));
    }
    double f = (w + 2 * char_ht()) / c->page_w;
    return f < 0.03 ? 0.03 : f > 0.3 ? 0.3 : f;
}

void gs_chart_heatmap(gs_chart_t *c, int k, size_t rows, size_t cols, const double *values,
                      const char *const *notes, const char *const *row_labels,
                      const char *const *col_labels, double vmin, double mid, double vmax,
                      const char *fmt, const char *xlabel, const char *ylabel,
                      const char *bar_label)
{
    double l, r, b, t;
    panel_box(c, k, &l, &r, &b, &t);
    record_panel(c, k, xlabel, ylabel, NULL);
    c->panels[c->cur].vlabel = add_str(c, bar_label);
    if (c->label < 0)
        c->label = add_str(c, bar_label);
    heat_record(c, rows, cols, values, notes, row_labels, col_labels);
    plschr(0, rows > 12 ? SMALL_SIZE : TEXT_SIZE);
    l += row_label_room(c, row_labels, rows);   /* the row labels' room */
    c->xscale = c->yscale = 0;
    /* row 0 at the top */
    set_view(c, l, r, b, t, -0.5, (double)cols - 0.5, (double)rows - 0.5, -0.5);
    diverging_map();
    const double range[3] = {vmin, mid, vmax};
    heat_cells(c, rows, cols, values, notes, range, fmt);
    plcol0(COL_FG);
    plbox("bc", 1, 0, "bc", 1, 0);
    heat_labels(c, rows, cols, row_labels, col_labels);
    plschr(0, TEXT_SIZE);
    char s[256];
    esc(s, sizeof s, xlabel ? xlabel : "");
    plmtex("b", 3.0, 0.5, 0.5, s);
    if (ylabel) {
        esc(s, sizeof s, ylabel);
        plmtex("t", 0.8, -0.02, 1.0, s);
    }
    if (c->legend) {
        heat_bar(c, b, t, range, bar_label);
        c->leg_x = 0.13;   /* legend entries go right of the bar and its labels */
    }
    /* back to the map, in its cell coordinates, for what the caller
     * draws over it */
    restore_view(c);
}

void gs_chart_heatmap_units(gs_chart_t *c, double x0, double dx, double y0, double dy)
{
    double cols = c->x1 + 0.5, rows = c->y0 + 0.5;   /* the cell window set above */
    set_view(c, c->vp[0], c->vp[1], c->vp[2], c->vp[3], x0 - 0.5 * dx, x0 + (cols - 0.5) * dx,
             y0 + (rows - 0.5) * dy, y0 - 0.5 * dy);
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
    buf_line(c, &c->legends, s);
    esc(s, sizeof s, label);
    plcol0(COL_FG);
    plptex(x1 + 0.008, c->leg_y, 1, 0, 0.0, s);
    c->leg_y -= c->leg_row;
    restore_view(c);
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
        esc(s, sizeof s, title);
        legend_view();
        plcol0(COL_FG);
        plptex(c->legend_left + c->leg_x, c->leg_y, 1, 0, 0.0, s);
        c->leg_y -= c->leg_row * 1.1;
        restore_view(c);
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
static int write_csv(const gs_chart_t *c, const char *png, char *err, size_t errlen)
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
        rc = write_csv(c, path, err, errlen);
    chart_free(c);
    return rc;
}
