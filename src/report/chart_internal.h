/* The drawing layer's insides (report/chart.h is its interface): the
 * chart's state, and what its four files share - chart.c (pages, panels,
 * axes, lines, markers, bars, legends), chart_text.c (numbers shortened,
 * text escaped and measured, tick labels), chart_record.c (the record of
 * every point drawn, and its CSV) and chart_heatmap.c. Internal to them. */
#ifndef GS_REPORT_CHART_INTERNAL_H
#define GS_REPORT_CHART_INTERNAL_H

#include <plplot.h>
#include <stddef.h>

#include "report/chart.h"

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

/* ---- chart.c ---- */

/* Viewport of panel k in normalized page coordinates. */
void chart_panel_box(const gs_chart_t *c, int k, double *l, double *r, double *b, double *t);
/* Make viewport (page fractions) and window current, and remember them;
 * restore_view makes the remembered ones current again. */
void chart_set_view(gs_chart_t *c, double l, double r, double b, double t, double x0, double x1,
                    double y0, double y1);
void chart_restore_view(const gs_chart_t *c);
/* Start panel k of the record with its labels. */
void chart_record_panel(gs_chart_t *c, int k, const char *xlabel, const char *ylabel,
                        const char *title);
/* The smallest step among 1, 2, 4, 5 x 10^k (whole numbers on log and
 * integer axes) at which [a, b]'s tick labels fit in len mm without
 * overprinting: side by side (x) or stacked (y), at most MAX_TICKS. */
double chart_tick_step(double a, double b, int scale, double len, int vertical);

/* ---- chart_text.c ---- */

/* User text as PLplot draws it: numbers shortened, '#' (PLplot's escape)
 * doubled. */
void chart_esc(char *out, size_t len, const char *in);
/* Text's width in mm at the current character height, and that height. */
double chart_text_mm(const char *s);
double chart_char_ht(void);
/* Tick labels: log axes hold log10 values, written 10^k; linear ones
 * with at most 4 significant digits (integers as integers). label_fn is
 * PLplot's label callback over it. */
void chart_tick_text(char *s, size_t len, double v, int is_log, int esc_sup);
void chart_label_fn(PLINT axis, PLFLT value, char *label, PLINT length, PLPointer data);
/* Append a line to b, one of the texts the PNG's chunks carry (ticks,
 * legends); memory running short marks the record incomplete. */
void chart_buf_line(gs_chart_t *c, buf_t *b, const char *s);

/* ---- chart_record.c ---- */

/* A copy of s among the record's strings: its index, -1 when memory is
 * short. */
int chart_add_str(gs_chart_t *c, const char *s);
/* A new point of the record in the current panel and series (NULL when
 * memory is short); record adds n of them, with band edges lo and hi
 * where given. */
rec_t *chart_add_rec(gs_chart_t *c, double x, double y);
void chart_record(gs_chart_t *c, const double *x, const double *y, const double *lo,
                  const double *hi, size_t n);
/* NAME.csv beside NAME.png, through a temporary name. */
int chart_write_csv(const gs_chart_t *c, const char *png, char *err, size_t errlen);

#endif
