#include <config.h>

#include "data/digits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void gs_digits_path(char *buf, size_t len)
{
    const char *env = getenv(GS_DATA_DIR_ENV);
    if (env && *env) {
        snprintf(buf, len, "%s/digits.csv.gz", env);
        return;
    }
    snprintf(buf, len, "%s/digits.csv.gz", GS_PKGDATADIR);
}

int gs_digits_load(const char *path, gs_dataset_t *ds, char *err, size_t errlen)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open the digits data %s: %s (set " GS_DATA_DIR_ENV " "
                 "to the folder that holds digits.csv.gz: the source tree's data/ "
                 "when gradsweep runs from its build tree without make install)", path, strerror(errno));
        return -1;
    }
    if (gs_dataset_alloc(ds, GS_DIGITS_ROWS, GS_DIGITS_DIM, GS_DIGITS_CLASSES, 0) != 0) {
        gzclose(f);
        snprintf(err, errlen, "out of memory loading %s", path);
        return -1;
    }
    char line[1024];
    size_t row = 0;
    int rc = 0;
    while (gzgets(f, line, sizeof line)) {
        if (line[0] == '\n' || line[0] == '\0')
            continue;
        if (row == GS_DIGITS_ROWS) {
            snprintf(err, errlen, "%s:%zu: more than %d rows", path, row + 1, GS_DIGITS_ROWS);
            rc = -1;
            break;
        }
        char *p = line;
        for (int j = 0; j <= GS_DIGITS_DIM && rc == 0; j++) {
            char *end;
            errno = 0;
            long v = strtol(p, &end, 10);
            int last = j == GS_DIGITS_DIM;
            int ok = end != p && errno == 0 && v >= 0 && v <= (last ? 9 : 16) &&
                     (last ? (*end == '\n' || *end == '\r' || *end == '\0') : *end == ',');
            if (!ok) {
                snprintf(err, errlen, "%s:%zu: field %d is not %s", path, row + 1, j + 1,
                         last ? "a label 0..9 ending the line" : "a pixel 0..16 followed by a comma");
                rc = -1;
                break;
            }
            if (last)
                ds->y[row] = (int)v;
            else
                ds->x[row * GS_DIGITS_DIM + (size_t)j] = (double)v;
            p = end + 1;
        }
        if (rc)
            break;
        row++;
    }
    if (rc == 0 && row != GS_DIGITS_ROWS) {
        snprintf(err, errlen, "%s: %zu rows, expected %d (a truncated file?)", path, row,
                 GS_DIGITS_ROWS);
        rc = -1;
    }
    gzclose(f);
    if (rc)
        gs_dataset_free(ds);
    return rc;
}
