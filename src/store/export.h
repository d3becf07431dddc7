/* `gradsweep export`: one table or view of a results database as CSV with
 * a header, or as JSON lines, for pandas, R or a spreadsheet. */
#ifndef GS_STORE_EXPORT_H
#define GS_STORE_EXPORT_H

#include <stddef.h>
#include <stdio.h>

struct sqlite3;

typedef enum { GS_EXPORT_CSV, GS_EXPORT_JSON } gs_export_format_t;

/* Write every row of the table or view `name` of db to out. CSV (RFC
 * 4180): a header of the column names, a field quoted when it holds a
 * comma, a quote or a line break, NULL empty, reals to 17 significant
 * digits (inf and -inf as such). JSON: one object per line, NULL and the
 * infinities as null (JSON has no infinity). 0; -2 when db has no table
 * or view of that name (err lists those it has); -1 on an SQLite or
 * output error. */
int gs_export(struct sqlite3 *db, const char *name, gs_export_format_t fmt, FILE *out, char *err,
              size_t errlen);


#endif
