/* Charts drawn with PLplot's memcairo device (antialiased, real fonts)
 * into an RGBA buffer that libpng then writes with provenance.
 *
 * A chart is a grid of panels left of an optional legend column, so that
 * legends never cover data. Series take colours from the Okabe-Ito
 * palette (colour-blind safe); beyond eight series, colours repeat with
 * dashes. Coordinates are data units; on log axes the chart takes log10
 * itself and leaves out points that are not positive and finite (a line
 * breaks there). */
#ifndef GS_REPORT_CHART_H
#define GS_REPORT_CHART_H

#include <stddef.h>

#include "report/png.h"

#define GS_CHART_W 1200
#define GS_CHART_H 700
#define GS_SERIES_GREY (-1)   /* series index for reference lines */

typedef struct gs_chart gs_chart_t;

/* A new chart with its title; NULL when memory is short. */
gs_chart_t *gs_chart_begin(int w, int h, const char *title);

/* nx x ny panels; legend_chars > 0 reserves a legend column on the right
 * wide enough for labels of that many characters. */
void gs_chart_grid(gs_chart_t *c, int nx, int ny, int legend_chars);

/* Make panel k (0-based, row-major) current: axis ranges in data units
 * (positive for log axes), box with ticks and decade labels, axis labels,
 * a small panel title. */
void gs_chart_axes(gs_chart_t *c, int k, double x0, double x1, double y0, double y1, int logx,
                   int logy, const char *xlabel, const char *ylabel, const char *title);

/* Panel k for n horizontal bars: x in [x0, x1] with ticks, y from -0.5 to
 * n - 0.5 without ticks (bar i at y = i). */
void gs_chart_hbar_axes(gs_chart_t *c, int k, double x0, double x1, size_t n, const char *xlabel);

/* Categorical x axis: labels at x = 0..n-1 (call after gs_chart_axes with
 * x range [-0.5, n-0.5] and no numeric x labels: pass xlabel NULL). */
void gs_chart_xcategories(gs_chart_t *c, size_t n, const char *const *labels);

void gs_chart_line(gs_chart_t *c, const double *x, const double *y, size_t n, int series,
                   int dashed);
/* A shaded band between lo and hi at the points x (a spread around a
 * line), translucent in the series' colour. */
void gs_chart_band(gs_chart_t *c, const double *x, const double *lo, const double *hi, size_t n,
                   int series);
/* A marker: symbol 0 cross, 1 circle, 2 filled square. */
void gs_chart_marker(gs_chart_t *c, double x, double y, int series, int symbol);
/* Horizontal reference line across the panel, labelled at its right end. */
void gs_chart_hline(gs_chart_t *c, double y, int series, int dashed, const char *label);
/* Filled rectangle in data coordinates. */
void gs_chart_rect(gs_chart_t *c, double x0, double x1, double y0, double y1, int series);
/* Text at a data point; just 0 left, 0.5 centre, 1 right; size relative. */
void gs_chart_text(gs_chart_t *c, double x, double y, double just, double size, const char *text);

/* Heatmap of values (rows x cols, row-major; NaN = no data) in panel k
 * with a diverging colour map from vmin (blue) through mid (white) to vmax
 * (orange); each cell shows its value with fmt; a colour bar goes in the
 * legend column. Afterwards the panel is current again in cell
 * coordinates (column j at x = j, row i at y = i, row 0 at the top), so
 * lines and markers can go over the map. */
void gs_chart_heatmap(gs_chart_t *c, int k, size_t rows, size_t cols, const double *values,
                      const char *const *row_labels, const char *const *col_labels, double vmin,
                      double mid, double vmax, const char *fmt, const char *xlabel,
                      const char *ylabel, const char *bar_label);

/* Legend in the legend column: one entry per series. dashed may be NULL. */
void gs_chart_legend(gs_chart_t *c, size_t n, const char *const *labels, const int *series,
                     const int *dashed, const char *title);

/* Finish and write the PNG (temporary name, then rename); frees the chart.
 * A tEXt chunk "Drawn" follows the caller's: "<L> lines, <B> bands", the
 * data lines (gs_chart_line with a series >= 0) and bands drawn. */
int gs_chart_end(gs_chart_t *c, const char *path, const gs_png_text_t *text, size_t n_text,
                 char *err, size_t errlen);

#endif
