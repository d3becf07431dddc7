/* CSV (RFC 4180) fields, for every CSV gradsweep writes: the charts' data
 * beside their PNGs and `gradsweep export` / `show --csv`. */
#ifndef GS_UTIL_CSV_H
#define GS_UTIL_CSV_H

#include <stdio.h>

/* One field: quoted (quotes doubled) when it holds a comma, a quote or a
 * line break, as it is otherwise. */
void gs_csv_field(FILE *out, const char *t);

#endif
