#include <config.h>

#include "store/query.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* names[k]'s index among s's result columns: -1 when none has that name,
 * -2 when two have. */
static int column_of(sqlite3_stmt *s, const char *name)
{
    int found = -1;
    for (int i = 0; i < sqlite3_column_count(s); i++) {
        const char *c = sqlite3_column_name(s, i);
        if (c && strcmp(c, name) == 0) {
            if (found >= 0)
                return -2;
            found = i;
        }
    }
    return found;
}

int gs_query_prepare(gs_query_t *q, sqlite3 *db, const char *label, const char *sql,
                     const char *const *names, size_t n, char *err, size_t errlen)
{
    assert(n <= GS_QUERY_MAX_COLS);
    memset(q, 0, sizeof *q);
    q->label = label;
    q->names = names;
    q->n = n;
    if (sqlite3_prepare_v2(db, sql, -1, &q->stmt, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", label, sqlite3_errmsg(db));
        goto fail;
    }
    for (size_t k = 0; k < n; k++) {
        q->index[k] = column_of(q->stmt, names[k]);
        if (q->index[k] < 0) {
            snprintf(err, errlen, "%s: %s column %s in what it reads (%.80s); `gradsweep "
                     "schema` shows the columns this gradsweep writes", label,
                     q->index[k] == -1 ? "no" : "an ambiguous", names[k], sql);
            goto fail;
        }
    }
    return 0;
fail:
    gs_query_finish(q);
    return -1;
}

int gs_query_step(gs_query_t *q, char *err, size_t errlen)
{
    int rc = sqlite3_step(q->stmt);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    snprintf(err, errlen, "%s: %s", q->label, sqlite3_errmsg(sqlite3_db_handle(q->stmt)));
    return -1;
}

static int col(const gs_query_t *q, size_t k)
{
    assert(k < q->n);   /* an index of the reader's own names */
    return q->index[k];
}

int gs_query_null(const gs_query_t *q, size_t k)
{
    return sqlite3_column_type(q->stmt, col(q, k)) == SQLITE_NULL;
}

double gs_query_real(const gs_query_t *q, size_t k)
{
    return gs_query_null(q, k) ? NAN : sqlite3_column_double(q->stmt, col(q, k));
}

int64_t gs_query_int(const gs_query_t *q, size_t k)
{
    return sqlite3_column_int64(q->stmt, col(q, k));
}

char *gs_query_text(const gs_query_t *q, size_t k, char *buf, size_t len)
{
    const unsigned char *t = sqlite3_column_text(q->stmt, col(q, k));
    snprintf(buf, len, "%s", t ? (const char *)t : "");
    return buf;
}

void gs_query_finish(gs_query_t *q)
{
    sqlite3_finalize(q->stmt);
    q->stmt = NULL;
}
