/* The drawing layer's text: every number shortened to 4 significant
 * digits, text escaped for PLplot, its width estimated (to fit legends
 * and tick labels), tick labels written. */
#include <config.h>

#include <ctype.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "report/chart_internal.h"

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
void chart_esc(char *out, size_t len, const char *in)
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

void chart_buf_line(gs_chart_t *c, buf_t *b, const char *s)
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
double chart_text_mm(const char *s)
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

double chart_char_ht(void)
{
    PLFLT def, ht;
    plgchr(&def, &ht);
    return ht;
}

/* ---- the page ---- */

/* Tick labels: log axes hold log10 values, written 10^k; linear ones
 * with at most 4 significant digits (integers as integers). */
void chart_tick_text(char *s, size_t len, double v, int is_log, int esc_sup)
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

void chart_label_fn(PLINT axis, PLFLT value, char *label, PLINT length, PLPointer data)
{
    gs_chart_t *c = data;
    int scale = axis == PL_X_AXIS ? c->xscale : axis == PL_Y_AXIS ? c->yscale : 0;
    if (fabs(value) < 1e-12)   /* k * step that should be 0 */
        value = 0;
    chart_tick_text(label, (size_t)length, value, scale & GS_AXIS_LOG, 1);
    char plain[64];
    chart_tick_text(plain, sizeof plain, value, scale & GS_AXIS_LOG, 0);
    chart_buf_line(c, &c->ticks, plain);
}
