/* The store's query API (store/query.h): columns are read by name, so a
 * column added before them or a SELECT list in another order reads the
 * same; a missing or ambiguous column is refused with its name; NULL
 * reads as NaN, 0 and "". */
#include <config.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store/query.h"
#include "tap.h"

enum { C_TEXT, C_INT, C_REAL, N_C };
static const char *const cols[N_C] = {[C_TEXT] = "name", [C_INT] = "count", [C_REAL] = "loss"};

/* The rows of sql read by name: "name count loss;" each, into buf. */
static int read_all(sqlite3 *db, const char *sql, char *buf, size_t len, char *err, size_t errlen)
{
    gs_query_t q;
    if (gs_query_prepare(&q, db, "test.db", sql, cols, N_C, err, errlen) != 0)
        return -1;
    size_t l = 0;
    int rc;
    buf[0] = '\0';
    while ((rc = gs_query_step(&q, err, errlen)) == 1 && l < len) {
        char t[8];
        l += (size_t)snprintf(buf + l, len - l, "%s %lld %g;", gs_query_text(&q, C_TEXT, t, sizeof t),
                              (long long)gs_query_int(&q, C_INT), gs_query_real(&q, C_REAL));
    }
    gs_query_finish(&q);
    return rc;
}

int main(void)
{
    sqlite3 *db;
    char err[512], a[256], b[256];
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        tap_skip_all("no in-memory SQLite database");
    sqlite3_exec(db, "CREATE TABLE t (name TEXT, count INTEGER, loss REAL);"
                     "INSERT INTO t VALUES ('a', 1, 0.5), ('b', 2, 0.25);"
                     "CREATE TABLE u (extra REAL, loss REAL, name TEXT, more TEXT, count INTEGER);"
                     "INSERT INTO u VALUES (9, 0.5, 'a', 'x', 1), (8, 0.25, 'b', 'y', 2);"
                     "CREATE TABLE n (name TEXT, count INTEGER, loss REAL);"
                     "INSERT INTO n VALUES (NULL, NULL, NULL);"
                     "CREATE TABLE v (name TEXT, count INTEGER);"
                     "INSERT INTO v VALUES ('abcdefghijkl', 3);",
                 NULL, NULL, NULL);

    tap_ok(read_all(db, "SELECT * FROM t", a, sizeof a, err, sizeof err) == 0 &&
           strcmp(a, "a 1 0.5;b 2 0.25;") == 0, "read by name: %s", a);
    tap_ok(read_all(db, "SELECT * FROM u", b, sizeof b, err, sizeof err) == 0 && strcmp(a, b) == 0,
           "columns added before and between, in another order: the same reads (%s)", b);
    tap_ok(read_all(db, "SELECT loss, count, name FROM t", b, sizeof b, err, sizeof err) == 0 &&
           strcmp(a, b) == 0, "a SELECT list in another order: the same reads (%s)", b);
    tap_ok(read_all(db, "SELECT * FROM n", b, sizeof b, err, sizeof err) == 0 &&
           strcmp(b, " 0 nan;") == 0, "NULL reads as \"\", 0 and NaN (%s)", b);

    int rc = read_all(db, "SELECT * FROM v", b, sizeof b, err, sizeof err);
    tap_ok(rc == -1 && strstr(err, "test.db: no column loss"), "a missing column is named: %s", err);
    rc = read_all(db, "SELECT t.*, u.loss FROM t JOIN u USING (name)", b, sizeof b, err, sizeof err);
    tap_ok(rc == -1 && strstr(err, "test.db: an ambiguous column loss"),
           "a column twice in the result is refused, not taken at random: %s", err);
    rc = read_all(db, "SELECT * FROM nosuch", b, sizeof b, err, sizeof err);
    tap_ok(rc == -1 && strstr(err, "test.db: no such table: nosuch"),
           "a statement that does not prepare: SQLite's message (%s)", err);

    const char *one[] = {"name"};
    gs_query_t q;
    char t[5];
    gs_query_prepare(&q, db, "test.db", "SELECT name FROM v", one, 1, err, sizeof err);
    tap_ok(gs_query_step(&q, err, sizeof err) == 1 && strcmp(gs_query_text(&q, 0, t, sizeof t), "abcd") == 0,
           "a text is cut to its buffer (%s)", t);
    tap_ok(gs_query_step(&q, err, sizeof err) == 0, "0 after the last row");
    gs_query_finish(&q);
    tap_ok(q.stmt == NULL && sqlite3_next_stmt(db, NULL) == NULL,
           "finish finalizes the statement and forgets it (none left on the connection)");
    gs_query_finish(&q);
    tap_ok(q.stmt == NULL, "finishing twice is fine: the second finalizes nothing (ASan would "
           "report a statement finalized twice)");
    tap_ok(sqlite3_close(db) == SQLITE_OK,
           "the connection closes: every statement, the refused ones' included, was finalized");
    return tap_done();
}
