/* Reading a gradsweep database by column name: the query API the report
 * reads the store with.
 *
 * A reader names the columns it takes; gs_query_prepare finds each one's
 * index among the statement's result columns once, and fails with a
 * message naming the column when the result has none of that name (or
 * two). So a column added to the schema, or a SELECT list written in
 * another order, can never shift what a reader takes: it reads by name or
 * not at all. The values are NULL-safe - an odd row reads as NaN, 0 or
 * "" rather than as a crash:
 *
 *     enum { C_HASH, C_LOSS, N_C };
 *     static const char *const cols[N_C] = {[C_HASH] = "config_hash",
 *                                           [C_LOSS] = "test_loss"};
 *     gs_query_t q;
 *     if (gs_query_prepare(&q, db, path, "SELECT * FROM runs", cols, N_C, err, errlen) != 0)
 *         return -1;
 *     while ((rc = gs_query_step(&q, err, errlen)) == 1)
 *         ... gs_query_real(&q, C_LOSS) ...
 *     gs_query_finish(&q); */
#ifndef GS_STORE_QUERY_H
#define GS_STORE_QUERY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define GS_QUERY_MAX_COLS 64

typedef struct {
    sqlite3_stmt *stmt;              /* bind its parameters before the first step */
    const char *label;               /* messages start with it (the database's path) */
    const char *const *names;        /* the columns the reader takes, n of them */
    size_t n;
    int index[GS_QUERY_MAX_COLS];    /* names[k]'s index in the result */
} gs_query_t;

/* Prepare sql on db and find each of names[0..n) among its result
 * columns. 0; or -1 with "LABEL: ..." in err - the statement does not
 * prepare, or a name is not (or twice) a result column - and nothing to
 * finish. names must outlive q. */
int gs_query_prepare(gs_query_t *q, sqlite3 *db, const char *label, const char *sql,
                     const char *const *names, size_t n, char *err, size_t errlen);

/* The next row: 1; 0 after the last; -1 with a message on an error. */
int gs_query_step(gs_query_t *q, char *err, size_t errlen);

/* Column names[k] of the current row. */
double gs_query_real(const gs_query_t *q, size_t k);     /* NULL: NaN */
int64_t gs_query_int(const gs_query_t *q, size_t k);     /* NULL: 0 */
/* Copied into buf (cut to len - 1 bytes); NULL: "". Returns buf. */
char *gs_query_text(const gs_query_t *q, size_t k, char *buf, size_t len);
/* Whether names[k] is NULL in the current row. */
int gs_query_null(const gs_query_t *q, size_t k);

/* Release the statement (a failed prepare left none: fine too). */
void gs_query_finish(gs_query_t *q);

#endif
