#include <config.h>

#include "report/png.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/files.h"

/* GRADSWEEP_TEST_REPORT_CRASH=NAME makes the process that writes the
 * chart NAME (e.g. flow-map.png) die of SIGSEGV halfway through its rows,
 * its temporary file open: tests/report.sh checks that a report worker's
 * death is reported and leaves nothing half-written. */
static void test_crash(const char *path)
{
    const char *name = getenv("GRADSWEEP_TEST_REPORT_CRASH");
    const char *base = strrchr(path, '/');
    if (name && *name && strcmp(base ? base + 1 : path, name) == 0)
        raise(SIGSEGV);
}

int gs_png_write(const char *path, const unsigned char *rgba, int w, int h,
                 const gs_png_text_t *text, size_t n_text, char *err, size_t errlen)
{
    char tmp[4096];
    FILE *f = gs_replace_open(path, "wb", tmp, sizeof tmp, err, errlen);
    if (!f)
        return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_textp chunks = calloc(n_text + 1, sizeof *chunks);
    /* set before setjmp and not after: valid when libpng jumps back */
    const char *why = !png || !info || !chunks ? "out of memory" : "libpng failed";
    if (!png || !info || !chunks)
        goto fail;
    if (setjmp(png_jmpbuf(png)))   /* alone in its condition, as C requires */
        goto fail;
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGBA,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    for (size_t i = 0; i < n_text; i++) {
        chunks[i].compression = PNG_TEXT_COMPRESSION_NONE;
        chunks[i].key = (png_charp)text[i].key;
        chunks[i].text = (png_charp)text[i].value;
        chunks[i].text_length = strlen(text[i].value);
    }
    /* A chart is flat areas of a few colours, which zlib compresses well
     * without a row filter: libpng's default tries every filter on every
     * row and keeps the best, which on the seed report took a third of
     * the time of writing the PNGs for files 5% larger. zlib's level 1
     * then takes 45% of the default level's (6) time for files 30%
     * larger (20 seed charts: 8 against 18 ms a chart, 100 against 77 KB). */
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_set_compression_level(png, 1);
    png_set_text(png, info, chunks, (int)n_text);
    png_write_info(png, info);
    for (int r = 0; r < h; r++) {
        if (r == h / 2)
            test_crash(path);
        png_write_row(png, rgba + (size_t)r * (size_t)w * 4);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(chunks);
    return gs_replace_close(f, tmp, path, 1, err, errlen);
fail:
    png_destroy_write_struct(&png, &info);
    free(chunks);
    fclose(f);
    remove(tmp);
    snprintf(err, errlen, "%s writing %s", why, path);
    return -1;
}
