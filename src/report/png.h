/* Writing an RGBA image as PNG with libpng, with tEXt chunks for
 * provenance, atomically: to a temporary name, then renamed, so a crash
 * leaves the old file or the new one, never half of one. */
#ifndef GS_REPORT_PNG_H
#define GS_REPORT_PNG_H

#include <stddef.h>

typedef struct {
    const char *key;    /* 1..79 Latin-1 characters, e.g. "Title" */
    const char *value;
} gs_png_text_t;

/* rgba: h rows of w pixels, 4 bytes each. 0 on success; -1 with a message. */
int gs_png_write(const char *path, const unsigned char *rgba, int w, int h,
                 const gs_png_text_t *text, size_t n_text, char *err, size_t errlen);

#endif
