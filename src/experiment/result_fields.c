/* The result table's enum columns: their names (result_fields.h). */
#include <config.h>

#include "experiment/experiment.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const *gs_column_names(gs_col_type_t type, size_t *n)
{
    switch (type) {
    case GS_COL_STATUS:
        *n = GS_N_STATUS;
        return gs_status_names;
    case GS_COL_DIAG:
        *n = GS_N_DIAG;
        return gs_diag_names;
    case GS_COL_NONFINITE:
        *n = GS_N_NONFINITE;
        return gs_nonfinite_names;
    default:
        *n = 0;
        return NULL;
    }
}

int gs_column_value(gs_col_type_t type, const char *name)
{
    size_t n;
    const char *const *names = gs_column_names(type, &n);
    for (size_t i = 0; names && name && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

char *gs_column_text(const gs_column_t *col, const void *field, char *buf, size_t cap)
{
    double v;
    long n;
    int e;
    size_t count;
    const char *const *names;
    buf[0] = '\0';
    switch (col->type) {
    case GS_COL_REAL: case GS_COL_REAL_INF:
        memcpy(&v, field, sizeof v);
        if (!isnan(v))
            snprintf(buf, cap, "%.17g", v);
        break;
    case GS_COL_INT: case GS_COL_SESSION:
        memcpy(&n, field, sizeof n);
        snprintf(buf, cap, "%ld", n);
        break;
    case GS_COL_TEXT:
        snprintf(buf, cap, "%s", (const char *)field);
        break;
    case GS_COL_STATUS: case GS_COL_DIAG: case GS_COL_NONFINITE:
        names = gs_column_names(col->type, &count);
        memcpy(&e, field, sizeof e);   /* the enums are int-sized */
        if (e >= 0 && (size_t)e < count)
            snprintf(buf, cap, "%s", names[e]);
        break;
    }
    return buf;
}
