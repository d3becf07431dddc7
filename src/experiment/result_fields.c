/* The result table's enum columns: their names (result_fields.h). */
#include <config.h>

#include "experiment/experiment.h"

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
