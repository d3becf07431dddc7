#include <config.h>

#include "store/export.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "util/csv.h"

/* Whether name is a table or view of db (-1: cannot tell); with a
 * comma-separated list of those it has in err when it is not. The name
 * is bound, never spliced, until it is known to be one of them. */
static int is_relation(sqlite3 *db, const char *name, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT name, name = ?1 FROM sqlite_schema WHERE type IN "
                               "('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "reading the schema: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int found = 0, first = 1, rc;
    size_t len = (size_t)snprintf(err, errlen, "no table or view '%s'; there are: ", name);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        found |= sqlite3_column_int(s, 1);
        if (len < errlen)
            len += (size_t)snprintf(err + len, errlen - len, "%s%s", first ? "" : ", ",
                                    (const char *)sqlite3_column_text(s, 0));
        first = 0;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "reading the schema: %s", sqlite3_errmsg(db));
        return -1;
    }
    return found;
}

static void put_json_text(FILE *out, const char *t)
{
    fputc('"', out);
    for (; *t; t++) {
        unsigned char ch = (unsigned char)*t;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

/* One value of column i of the current row. */
static void put_value(FILE *out, sqlite3_stmt *s, int i, gs_export_format_t fmt)
{
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_NULL:
        if (fmt == GS_EXPORT_JSON)
            fputs("null", out);
        break;
    case SQLITE_INTEGER:
        fprintf(out, "%lld", (long long)sqlite3_column_int64(s, i));
        break;
    case SQLITE_FLOAT: {
        double v = sqlite3_column_double(s, i);
        if (!isfinite(v))
            fputs(fmt == GS_EXPORT_JSON ? "null" : v > 0 ? "inf" : "-inf", out);
        else
            fprintf(out, "%.17g", v);
        break;
    }
    default: {   /* text; a blob (none in the schema) as its bytes' text */
        const char *t = (const char *)sqlite3_column_text(s, i);
        if (fmt == GS_EXPORT_JSON)
            put_json_text(out, t ? t : "");
        else
            gs_csv_field(out, t ? t : "");
    }
    }
}

static void put_row(FILE *out, sqlite3_stmt *s, int n, gs_export_format_t fmt)
{
    if (fmt == GS_EXPORT_JSON)
        fputc('{', out);
    for (int i = 0; i < n; i++) {
        if (i)
            fputc(',', out);
        if (fmt == GS_EXPORT_JSON) {
            put_json_text(out, sqlite3_column_name(s, i));
            fputc(':', out);
        }
        put_value(out, s, i, fmt);
    }
    fputs(fmt == GS_EXPORT_JSON ? "}\n" : "\n", out);
}

int gs_export(sqlite3 *db, const char *name, gs_export_format_t fmt, FILE *out, char *err,
              size_t errlen)
{
    int found = is_relation(db, name, err, errlen);
    if (found <= 0)
        return found < 0 ? -1 : -2;
    char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", name);
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (!sql || sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "reading %s: %s", name, sql ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    int n = sqlite3_column_count(s), step;
    for (int i = 0; fmt == GS_EXPORT_CSV && i < n; i++) {
        if (i)
            fputc(',', out);
        gs_csv_field(out, sqlite3_column_name(s, i));
    }
    if (fmt == GS_EXPORT_CSV)
        fputc('\n', out);
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        put_row(out, s, n, fmt);
    if (step != SQLITE_DONE)
        snprintf(err, errlen, "reading %s: %s", name, sqlite3_errmsg(db));
    else if (fflush(out) != 0 || ferror(out))
        snprintf(err, errlen, "writing the output failed");
    else
        rc = 0;
out:
    sqlite3_finalize(s);
    sqlite3_free(sql);
    return rc;
}
