/* Checks charts the way a reader's program would: each PNG named on the
 * command line decodes with libpng, is W x H, is not blank (at least 64
 * distinct colours), carries the tEXt chunks Title, Software, Source and
 * "Config hash", and the tick and legend labels it wrote (chunks Ticks
 * and Legend) have no number with more than 4 significant digits. Prints
 * TAP. */
#include <config.h>

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static int cmp_u32(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

/* The first decimal number of s (with a point) that has more than 4
 * significant digits, copied to bad; 0 when there is none. */
static int long_number(const char *s, char *bad, size_t len)
{
    for (const char *p = s; p && *p; p++) {
        size_t n = strspn(p, "0123456789.");
        if (n == 0 || !memchr(p, '.', n) || (p > s && (p[-1] == '_' || (p[-1] | 32) >= 'a')))
            continue;
        int digits = 0, lead = 1;
        for (size_t i = 0; i < n; i++)
            if (p[i] != '.') {
                lead &= p[i] == '0';
                digits += !lead;
            }
        if (digits > 4) {
            snprintf(bad, len, "%.*s", (int)n, p);
            return 1;
        }
        p += n - 1;
    }
    return 0;
}

static void check_labels(const char *path, png_textp text, int n)
{
    static const char *const keys[] = {"Ticks", "Legend"};
    for (size_t k = 0; k < 2; k++) {
        const char *val = NULL;
        char bad[64] = "";
        for (int i = 0; i < n; i++)
            if (strcmp(text[i].key, keys[k]) == 0)
                val = text[i].text;
        tap_ok(val && !long_number(val, bad, sizeof bad),
               "%s: %s labels recorded, at most 4 significant digits%s%s", path, keys[k],
               *bad ? ": not " : "", bad);
    }
}

static void check(const char *path, unsigned want_w, unsigned want_h)
{
    FILE *f = fopen(path, "rb");
    if (!tap_ok(f != NULL, "%s: opens", path))
        return;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    unsigned *px = NULL;
    png_bytep *rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        tap_ok(0, "%s: decodes with libpng", path);
        goto out;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_gray_to_rgb(png);
    png_set_filler(png, 0xff, PNG_FILLER_AFTER);
    png_read_update_info(png, info);
    unsigned w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    /* the transforms above must give 8-bit RGBA rows of 4 w bytes: the
     * buffers below are sized so */
    size_t rowbytes = png_get_rowbytes(png, info);
    int channels = png_get_channels(png, info), depth = png_get_bit_depth(png, info);
    if (!tap_ok(depth == 8 && channels == 4 && rowbytes == (size_t)w * 4 && w > 0 && h > 0,
                "%s: reads as 8-bit RGBA (%ux%u, %d bits, %d channels, %zu bytes a row)", path, w,
                h, depth, channels, rowbytes))
        goto out;
    px = malloc((size_t)w * h * 4);
    rows = malloc(h * sizeof *rows);
    if (!tap_ok(px && rows, "%s: memory for %ux%u pixels", path, w, h))
        goto out;
    for (unsigned r = 0; r < h; r++)
        rows[r] = (png_bytep)px + (size_t)r * w * 4;
    png_read_image(png, rows);
    png_read_end(png, info);
    /* a CRC or zlib error stops libpng above (setjmp); what is left to
     * check is that IEND was the file's end, as the writer's rename
     * should leave it (no second image, no half-written tail) */
    tap_ok(fgetc(f) == EOF, "%s: decodes with libpng, and IEND ends the file", path);
    tap_ok(w == want_w && h == want_h, "%s: %ux%u (want %ux%u)", path, w, h, want_w, want_h);
    qsort(px, (size_t)w * h, sizeof *px, cmp_u32);
    size_t distinct = 1;
    for (size_t i = 1; i < (size_t)w * h; i++)
        distinct += px[i] != px[i - 1];
    tap_ok(distinct >= 64, "%s: not blank (%zu distinct colours)", path, distinct);
    png_textp text;
    int n = 0;
    png_get_text(png, info, &text, &n);
    static const char *const keys[] = {"Title", "Software", "Source", "Config hash"};
    for (size_t k = 0; k < 4; k++) {
        const char *val = NULL;
        for (int i = 0; i < n; i++)
            if (strcmp(text[i].key, keys[k]) == 0)
                val = text[i].text;
        tap_ok(val && *val, "%s: tEXt %s = %s", path, keys[k], val ? val : "(missing)");
    }
    check_labels(path, text, n);
out:
    png_destroy_read_struct(&png, &info, NULL);
    free(px);
    free(rows);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: png_check WIDTH HEIGHT FILE.png...\n");
        return 2;
    }
    unsigned w = (unsigned)atoi(argv[1]), h = (unsigned)atoi(argv[2]);
    for (int i = 3; i < argc; i++)
        check(argv[i], w, h);
    return tap_done();
}
