/* The drawing layer (report/chart.c): numbers in text shortened to 4
 * significant digits, tick labels short and integer on integer axes, few
 * enough to fit, points beyond a panel counted, and the CSV beside the
 * PNG holding exactly what was drawn. Reads the PNG's text chunks with
 * libpng, as a reader's program would. */
#include <config.h>

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/chart.h"
#include "tap.h"

/* ---- gs_chart_short_numbers ---- */

static void short_numbers(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"gain 0.7071067811865476", "gain 0.7071"},
        {"1.224744871391589 / 0.22360679774997896", "1.225 / 0.2236"},
        {"depth 100 / width 12345", "depth 100 / width 12345"},   /* integers are counts */
        {"||dL/dh_1|| log10 1e-3 leaky_relu(0.01)", "||dL/dh_1|| log10 1e-3 leaky_relu(0.01)"},
        {"1.5000001e-07", "1.5e-07"},
        {"-0.123456", "-0.1235"},
        {"v2.12345 3rd 0x1f", "v2.12345 3rd 0x1f"},   /* parts of words */
        {"", ""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char out[128];
        gs_chart_short_numbers(out, sizeof out, cases[k].in);
        tap_ok(strcmp(out, cases[k].out) == 0, "short numbers: \"%s\" -> \"%s\" (got \"%s\")",
               cases[k].in, cases[k].out, out);
    }
    char tiny[6];
    gs_chart_short_numbers(tiny, sizeof tiny, "0.7071067811865476");
    tap_ok(strlen(tiny) == 5, "short numbers: a short buffer is filled and terminated (%s)", tiny);
}

/* ---- the PNG's text chunks ---- */

/* The tEXt chunk key of the PNG at path (malloc'd), or NULL. */
static char *text_chunk(const char *path, const char *key)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    char *out = NULL;
    if (setjmp(png_jmpbuf(png)))
        goto done;
    png_init_io(png, f);
    png_read_info(png, info);
    png_textp text;
    int n = 0;
    png_get_text(png, info, &text, &n);
    for (int i = 0; i < n && !out; i++)
        if (strcmp(text[i].key, key) == 0)
            out = strdup(text[i].text);
done:
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return out;
}

/* Significant digits of a tick label's number (10^k counts as 1). */
static int label_digits(const char *s)
{
    if (strncmp(s, "10^", 3) == 0)
        return 1;
    int d = 0, lead = 1;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        lead &= *s == '0';
        d += !lead;
    }
    return d;
}

/* Every line of text: at most 4 significant digits unless an integer;
 * integers only when whole. The count of lines. */
static size_t check_ticks(const char *ticks, int whole, int *ok)
{
    size_t n = 0;
    *ok = 1;
    char *copy = strdup(ticks ? ticks : ""), *save = NULL;
    for (char *t = strtok_r(copy, "\n", &save); t; t = strtok_r(NULL, "\n", &save), n++) {
        int integer = strspn(t, "-0123456789") == strlen(t);
        if ((!integer && label_digits(t) > 4) || (whole && !integer && strncmp(t, "10", 2) != 0)) {
            tap_diag("tick label \"%s\"", t);
            *ok = 0;
        }
    }
    free(copy);
    return n;
}

/* A chart titled name, to be written as dir/name.png (path) beside
 * dir/name.csv (cpath). */
static gs_chart_t *begin(const char *dir, const char *name, char path[512], char cpath[512])
{
    snprintf(path, 512, "%s/%s.png", dir, name);
    snprintf(cpath, 512, "%s/%s.csv", dir, name);
    return gs_chart_begin(GS_CHART_W, GS_CHART_H, name);
}

/* ---- a chart's labels ---- */

static void labels(const char *dir)
{
    char path[512], cpath[512];
    gs_chart_t *c = begin(dir, "labels 0.7071067811865476", path, cpath);
    gs_chart_grid(c, 2, 1, 20);
    /* a range with ugly ends; an integer axis of 3 layers (no 1.5) */
    gs_chart_axes(c, 0, 1, 3, 0.70710678118654757, 2.0000000001, GS_AXIS_INT, 0, "layer", "gain",
                  "0.7071067811865476");
    gs_chart_axes(c, 1, -4, 4, 1e-130, 1, 0, GS_AXIS_LOG, "x", "ratio", NULL);
    static const char *const lab[] = {"0.7071067811865476", "1.224744871391589"};
    static const int series[] = {0, 1};
    gs_chart_legend(c, 2, lab, series, NULL, "gain");
    char err[256] = "";
    int rc = gs_chart_end(c, path, NULL, 0, err, sizeof err);
    tap_ok(rc == 0, "a chart with 16-digit labels is written (%s)", err);
    char *ticks = text_chunk(path, "Ticks"), *legend = text_chunk(path, "Legend");
    int ok;
    size_t n = check_ticks(ticks, 0, &ok);
    tap_ok(ok && n > 4, "%zu tick labels, each at most 4 significant digits", n);
    tap_ok(legend && strstr(legend, "0.7071\n") && strstr(legend, "1.225\n") &&
               !strstr(legend, "0.70710678"),
           "legend labels shortened to 4 digits (%s)", legend ? legend : "none");
    /* the integer axis's labels come first: 1, 2, 3 */
    tap_ok(ticks && strncmp(ticks, "1\n2\n3\n", 6) == 0,
           "an integer axis of 3 layers is labelled 1, 2, 3 and nothing between");
    free(ticks);
    free(legend);
}

/* In a narrow panel (5 x 2 grid), -4..4 cannot take 9 labels of width 2
 * side by side: fewer, each a whole number. */
static void narrow(const char *dir)
{
    char path[512], cpath[512];
    gs_chart_t *c = begin(dir, "narrow", path, cpath);
    gs_chart_grid(c, 5, 2, 8);
    gs_chart_axes(c, 0, -4, 4, 1e-3, 1, GS_AXIS_INT, GS_AXIS_LOG, "x", NULL, "p");
    char err[256] = "";
    gs_chart_end(c, path, NULL, 0, err, sizeof err);
    /* the x axis's labels come first, then the y axis's 10^k */
    char *ticks = text_chunk(path, "Ticks"), *y = ticks ? strstr(ticks, "10^") : NULL;
    if (y)
        *y = '\0';
    int ok;
    size_t nx = check_ticks(ticks, 1, &ok);
    tap_ok(ok && nx >= 1 && nx < 9, "a narrow panel's x axis -4..4: %zu labels, whole numbers", nx);
    free(ticks);
}

/* ---- the CSV ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = calloc(1, 1 << 16);
    size_t n = s ? fread(s, 1, (1 << 16) - 1, f) : 0;
    (void)n;
    fclose(f);
    return s;
}

static void csv(const char *dir)
{
    char path[512], cpath[512];
    gs_chart_t *c = begin(dir, "data", path, cpath);
    gs_chart_grid(c, 1, 1, 12);
    gs_chart_axes(c, 0, 1, 3, 1e-3, 1, GS_AXIS_INT, GS_AXIS_LOG, "layer", "norm", NULL);
    /* a line with a band whose last point is 0 (off a log axis), a
     * marker far below the range, a reference line */
    double x[3] = {1, 2, 3}, y[3] = {0.1, 0.2, 0}, lo[3] = {0.05, 0.1, 0}, hi[3] = {0.3, 0.4, 0};
    gs_chart_series(c, "a, \"quoted\" series");
    gs_chart_line_band(c, x, y, lo, hi, 3, 0, GS_SOLID);
    gs_chart_series(c, "far");
    gs_chart_marker(c, 2, 1e-200, 1, GS_MARK_CIRCLE);
    gs_chart_hline(c, 0.5, GS_SERIES_GREY, GS_DASHED, "threshold");
    tap_ok(gs_chart_off_chart(c) == 2, "two points beyond the axis counted (%zu)",
           gs_chart_off_chart(c));
    char err[256] = "";
    int rc = gs_chart_end(c, path, NULL, 0, err, sizeof err);
    tap_ok(rc == 0 && access(cpath, R_OK) == 0, "NAME.csv written beside NAME.png (%s)", err);
    char *s = slurp(cpath);
    const char *want =
        "series,layer,norm,lo,hi\n"
        "\"a, \"\"quoted\"\" series\",1,0.10000000000000001,0.050000000000000003,"
        "0.29999999999999999\n"
        "\"a, \"\"quoted\"\" series\",2,0.20000000000000001,0.10000000000000001,"
        "0.40000000000000002\n"
        "\"a, \"\"quoted\"\" series\",3,0,0,0\n"
        "far,2,9.9999999999999998e-201,,\n"
        "threshold,,0.5,,\n";
    tap_ok(s && strcmp(s, want) == 0, "the CSV holds exactly what was drawn, quoted where needed");
    if (s && strcmp(s, want) != 0)
        tap_diag("got:\n%s", s);
    free(s);
    char *drawn = text_chunk(path, "Drawn");
    tap_ok(drawn && strcmp(drawn, "1 lines, 1 bands, 0 theory lines, 0 whiskers") == 0,
           "the Drawn chunk counts the line and its band (%s)", drawn ? drawn : "none");
    free(drawn);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", cpath, (long)getpid());
    tap_ok(access(tmp, F_OK) != 0, "no temporary file left behind");
}

/* Bars with whiskers: the CSV has rank, value, lo and hi; the count. */
static void bars(const char *dir)
{
    char path[512], cpath[512];
    gs_chart_t *c = begin(dir, "bars", path, cpath);
    gs_chart_grid(c, 1, 1, 0);
    gs_chart_hbar_axes(c, 0, 0, 1, 2, "test accuracy");
    gs_chart_series(c, "best");
    gs_chart_hbar(c, 1, 0.9, 0.85, 0.95, 2);
    gs_chart_series(c, "single");
    gs_chart_hbar(c, 0, 0.5, NAN, NAN, 0);
    char err[256] = "";
    gs_chart_end(c, path, NULL, 0, err, sizeof err);
    char *s = slurp(cpath);
    tap_ok(s && strcmp(s, "series,rank (1 = top bar),test accuracy,lo,hi\n"
                          "best,1,0.90000000000000002,0.84999999999999998,0.94999999999999996\n"
                          "single,2,0.5,,\n") == 0,
           "bars: rank from the top, value, whisker ends (none for a single run)");
    char *drawn = text_chunk(path, "Drawn");
    tap_ok(drawn && strstr(drawn, "1 whiskers"), "one whisker drawn (%s)", drawn ? drawn : "none");
    free(drawn);
    free(s);
}

int main(void)
{
    char dir[] = "/tmp/gs_chart.XXXXXX";
    if (!mkdtemp(dir)) {
        tap_skip_all("no temporary folder");
        return 0;
    }
    short_numbers();
    labels(dir);
    narrow(dir);
    csv(dir);
    bars(dir);
    const char *files[] = {"labels 0.7071067811865476.png", "labels 0.7071067811865476.csv",
                           "narrow.png", "narrow.csv", "data.png", "data.csv", "bars.png",
                           "bars.csv"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        remove(p);
    }
    rmdir(dir);
    return tap_done();
}
