/* Charts drawn with PLplot's memcairo device (antialiased, real fonts)
 * into an RGBA buffer that libpng then writes with provenance.
 *
 * A chart is a grid of panels left of an optional legend column, so that
 * legends never cover data. Series take colours from a palette of twelve
 * (Okabe-Ito's eight, colour-blind safe, then four darker ones); beyond
 * twelve, lines carry markers too, so every series stays distinct.
 * Coordinates are data units; on log axes the chart takes log10 itself
 * and leaves out points that are not finite (a line breaks there); a
 * point beyond the panel's range (on a log axis: 0 too) is drawn as a
 * triangle at the edge it left by, and counted (gs_chart_off_chart).
 *
 * Text is written with every number shortened to 4 significant digits
 * (a config's 0.7071067811865476 reads 0.7071); tick steps are chosen so
 * that labels never overprint, integer axes get integer ticks.
 *
 * Everything drawn is recorded: gs_chart_end writes, beside NAME.png,
 * NAME.csv with one row per drawn point (series label, x, y, and the
 * band's or whisker's lo and hi where drawn). gs_chart_series names the
 * series of what is drawn next. */
#ifndef GS_REPORT_CHART_H
#define GS_REPORT_CHART_H

#include <stddef.h>

#include "report/png.h"

#define GS_CHART_W 1200
#define GS_CHART_H 700
#define GS_SERIES_GREY (-1)   /* series index for reference lines */
#define GS_CHART_COLOURS 12   /* distinct colours before markers join in */

/* Axis scales for gs_chart_axes (flags). */
#define GS_AXIS_LOG 1         /* positive data, ticks at decades */
#define GS_AXIS_INT 2         /* integer data (layers, steps): no fractional ticks */

/* Line styles, and legend keys (the first three are the line styles). */
enum {
    GS_SOLID = 0,
    GS_DASHED = 1,
    GS_THEORY = 2,            /* thin dotted: a prediction, not a measurement */
    GS_KEY_BAND,              /* a shaded band */
    GS_KEY_CROSS,             /* markers: the symbols of gs_chart_marker */
    GS_KEY_CIRCLE,
    GS_KEY_SQUARE,
    GS_KEY_TRIANGLE,
};
/* Marker symbols; or'ed with GS_MARK_CLAMP, a marker beyond the panel is
 * drawn itself at the edge it left by (not as an edge triangle). */
enum { GS_MARK_CROSS, GS_MARK_CIRCLE, GS_MARK_SQUARE, GS_MARK_TRIANGLE };
#define GS_MARK_CLAMP 0x10
#define GS_MARK_SMALL 0x20   /* or'ed: drawn at 0.9 of the usual size (many markers) */

typedef struct gs_chart gs_chart_t;

/* A new chart with its title; NULL when memory is short. */
gs_chart_t *gs_chart_begin(int w, int h, const char *title);

/* nx x ny panels; legend_chars > 0 reserves a legend column on the right
 * wide enough for labels of that many characters. */
void gs_chart_grid(gs_chart_t *c, int nx, int ny, int legend_chars);

/* The label of the series drawn next (its rows in the CSV); copied. */
void gs_chart_series(gs_chart_t *c, const char *label);

/* Make panel k (0-based, row-major) current: axis ranges in data units
 * (positive for GS_AXIS_LOG), box with ticks, axis labels, a small panel
 * title. xscale, yscale: 0 or GS_AXIS_* flags. */
void gs_chart_axes(gs_chart_t *c, int k, double x0, double x1, double y0, double y1, int xscale,
                   int yscale, const char *xlabel, const char *ylabel, const char *title);

/* Panel k for n horizontal bars: x in [x0, x1] with ticks, y from -0.5 to
 * n - 0.5 without ticks (bar i at y = i). */
void gs_chart_hbar_axes(gs_chart_t *c, int k, double x0, double x1, size_t n, const char *xlabel);
/* Bar at y = i from 0 to v in the series' colour, with a whisker from lo
 * to hi (end caps) unless they are NaN. CSV: x the bar's rank from the
 * top (1 first), y = v, lo, hi. */
void gs_chart_hbar(gs_chart_t *c, size_t i, double v, double lo, double hi, int series);

/* Categorical x axis: labels at x = 0..n-1 (call after gs_chart_axes with
 * x range [-0.5, n-0.5] and no numeric x labels: pass xlabel NULL); the
 * CSV gives these labels as x. Labels that would overprint are thinned. */
void gs_chart_xcategories(gs_chart_t *c, size_t n, const char *const *labels);

/* A line in style GS_SOLID, GS_DASHED or GS_THEORY. */
void gs_chart_line(gs_chart_t *c, const double *x, const double *y, size_t n, int series,
                   int style);
/* A shaded band between lo and hi at the points x (a spread around a
 * line), translucent in the series' colour, and the line y over it. */
void gs_chart_line_band(gs_chart_t *c, const double *x, const double *y, const double *lo,
                        const double *hi, size_t n, int series, int style);
/* A marker (GS_MARK_*, maybe | GS_MARK_CLAMP). */
void gs_chart_marker(gs_chart_t *c, double x, double y, int series, int symbol);
/* Horizontal reference line across the panel, labelled at its right end. */
void gs_chart_hline(gs_chart_t *c, double y, int series, int style, const char *label);
/* Vertical reference line across the panel, labelled at its top. */
void gs_chart_vline(gs_chart_t *c, double x, int series, int style, const char *label);
/* Filled rectangle in data coordinates (CSV: x its centre, y its top). */
void gs_chart_rect(gs_chart_t *c, double x0, double x1, double y0, double y1, int series);
/* Text at a data point; just 0 left, 0.5 centre, 1 right; size relative. */
void gs_chart_text(gs_chart_t *c, double x, double y, double just, double size, const char *text);
/* The width of text at size (as gs_chart_text) in the current panel's x
 * units (linear axes), to place it where it fits. */
double gs_chart_text_width(const gs_chart_t *c, double size, const char *text);

/* Heatmap of values (rows x cols, row-major; NaN = no data) in panel k
 * with a diverging colour map from vmin (blue) through mid (white) to vmax
 * (orange); each cell shows its value with fmt where it fits; a colour
 * bar goes in the legend column. notes (rows x cols, or NULL): a cell
 * with a non-empty note shows it instead of its value, on dark grey
 * where the value is NaN (a run with no ratio: "dead"). Labels that would
 * overprint are thinned (every k-th shown); the CSV has every cell with
 * its row and column labels and its value or note. Afterwards the panel
 * is current again in cell coordinates (column j at x = j, row i at
 * y = i, row 0 at the top), so lines and markers can go over the map. */
void gs_chart_heatmap(gs_chart_t *c, int k, size_t rows, size_t cols, const double *values,
                      const char *const *notes, const char *const *row_labels,
                      const char *const *col_labels, double vmin, double mid, double vmax,
                      const char *fmt, const char *xlabel, const char *ylabel,
                      const char *bar_label);
/* After gs_chart_heatmap: draw over it in data units instead, column j
 * at x = x0 + j dx, row i at y = y0 + i dy (dy < 0: row 0 the largest). */
void gs_chart_heatmap_units(gs_chart_t *c, double x0, double dx, double y0, double dy);

/* Legend in the legend column: one entry per series. style may be NULL
 * (all solid). Entries added later (gs_chart_legend_key) go below. */
void gs_chart_legend(gs_chart_t *c, size_t n, const char *const *labels, const int *series,
                     const int *style, const char *title);
/* One more legend entry: key is a line style or a GS_KEY_*. */
void gs_chart_legend_key(gs_chart_t *c, const char *label, int series, int key);

/* Points drawn beyond their panel's range so far (as edge triangles). */
size_t gs_chart_off_chart(const gs_chart_t *c);

/* Finish and write the PNG and, beside it, the CSV of what was drawn
 * (path with .csv for .png; each to a temporary name, then renamed);
 * frees the chart. tEXt chunks follow the caller's: "Drawn" ("<L>
 * lines, <B> bands, <T> theory lines, <W> whiskers": data lines, bands,
 * GS_THEORY lines, whiskers), "Ticks" and "Legend" (the tick and legend
 * labels written, one per line). */
int gs_chart_end(gs_chart_t *c, const char *path, const gs_png_text_t *text, size_t n_text,
                 char *err, size_t errlen);

/* Rewrite every decimal number of in with more than 4 significant
 * digits to 4 ("%.4g"); integers and other text unchanged. */
void gs_chart_short_numbers(char *out, size_t len, const char *in);

#endif
