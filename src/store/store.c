/* Opening and closing a results database (checks of its kind and
 * version, WAL, the busy timeout), errors said plainly, and the SQL
 * helpers every file of src/store calls. */
#include <config.h>

#include "store/internal.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/hash.h"

/* ---- helpers ---- */

static const char *sql_hint(gs_store_t *st);

int store_sqlfail(gs_store_t *st, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s: %s%s", st->path, what, sqlite3_errmsg(st->db), sql_hint(st));
    return -1;
}

/* What a failed statement's error code means for the user, or "". */
static const char *sql_hint(gs_store_t *st)
{
    switch (sqlite3_errcode(st->db)) {
    case SQLITE_BUSY:
        snprintf(st->hint, sizeof st->hint,
                 " (another program held a write transaction on it for longer than the %d ms "
                 "gradsweep waits, which " GS_BUSY_TIMEOUT_ENV " sets; try again when it is "
                 "done)",
                 st->busy_ms);
        return st->hint;
    case SQLITE_FULL:
        return " (free space on its disk, then rerun: stored cells are kept)";
    case SQLITE_READONLY:
        return " (the file or its folder is read-only)";
    default:
        return "";
    }
}

int store_exec(gs_store_t *st, const char *sql, char *err, size_t errlen)
{
    if (!sql) {   /* gs_store_schema_sql out of memory */
        snprintf(err, errlen, "%s: out of memory building the schema", st->path);
        return -1;
    }
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s%s", st->path, msg ? msg : sqlite3_errmsg(st->db),
                 sql_hint(st));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Writes go into the open batch; the first write begins one. */
int store_open_batch(gs_store_t *st, char *err, size_t errlen)
{
    if (!st->in_txn) {
        if (store_exec(st, "BEGIN", err, errlen) != 0)
            return -1;
        st->in_txn = 1;
    }
    return 0;
}

long store_pragma_int(gs_store_t *st, const char *sql)
{
    sqlite3_stmt *s;
    long v = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            v = (long)sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    return v;
}

/* The integer a query with one text parameter returns, -1 on error. */
long store_pragma_int_text(gs_store_t *st, const char *sql, const char *text)
{
    sqlite3_stmt *s;
    long v = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            v = (long)sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    return v;
}

void store_bind_real(sqlite3_stmt *s, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(s, i, v);
    else
        sqlite3_bind_null(s, i);   /* NaN/inf: SQLite has no such REAL */
}

/* The same, but an infinity is stored as one (a meaningful value there) */
void store_bind_real_inf(sqlite3_stmt *s, int i, double v)
{
    if (isinf(v))
        sqlite3_bind_double(s, i, v);
    else
        store_bind_real(s, i, v);
}

int store_step_reset(gs_store_t *st, sqlite3_stmt *s, char *err, size_t errlen, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return store_sqlfail(st, err, errlen, what);
    return 0;
}

/* ---- open ---- */

/* The number environment variable name holds, within [lo, hi] (whole:
 * an integer): 1 with *value, 0 when it is unset, -1 when it holds
 * anything else. */
static int env_number(const char *name, double lo, double hi, int whole, double *value)
{
    const char *v = getenv(name);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    double x = whole ? (double)strtol(v, &end, 10) : strtod(v, &end);
    if (end == v || *end != '\0' || errno != 0 || !(x >= lo && x <= hi))
        return -1;
    *value = x;
    return 1;
}

/* The busy timeout from GS_BUSY_TIMEOUT_ENV, else its default; -1 with a
 * message when the variable is set to anything but 0..INT_MAX. */
static int busy_timeout_ms(char *err, size_t errlen)
{
    double ms = GS_BUSY_TIMEOUT_MS;
    if (env_number(GS_BUSY_TIMEOUT_ENV, 0, INT_MAX, 1, &ms) < 0) {
        snprintf(err, errlen, GS_BUSY_TIMEOUT_ENV "=%s: not a whole number of milliseconds "
                 "from 0 to %d (unset it for the default, %d)", getenv(GS_BUSY_TIMEOUT_ENV),
                 INT_MAX, GS_BUSY_TIMEOUT_MS);
        return -1;
    }
    return (int)ms;
}

/* The heartbeat's age limit from GS_HEARTBEAT_LIMIT_ENV, else its
 * default; -1 with a message when the variable is set to anything but a
 * number of seconds from GS_HEARTBEAT_LIMIT_MIN_S. */
static double heartbeat_limit_s(char *err, size_t errlen)
{
    double s = GS_HEARTBEAT_LIMIT_S;
    if (env_number(GS_HEARTBEAT_LIMIT_ENV, GS_HEARTBEAT_LIMIT_MIN_S, 1e9, 0, &s) < 0) {
        snprintf(err, errlen, GS_HEARTBEAT_LIMIT_ENV "=%s: not a number of seconds from %.0f "
                 "(twice the heartbeat's interval) to 1e9 (unset it for the default, %.0f)",
                 getenv(GS_HEARTBEAT_LIMIT_ENV), GS_HEARTBEAT_LIMIT_MIN_S, GS_HEARTBEAT_LIMIT_S);
        return -1;
    }
    return s;
}

/* Writing needs the file (when it exists) and its folder writable: SQLite
 * makes its -wal and -shm files there. Said plainly before SQLite would
 * say "unable to open database file". */
static int writable(const char *path, int exists, char *err, size_t errlen)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
    const char *what = exists && access(path, W_OK) != 0 ? path : access(dir, W_OK) != 0 ? dir : NULL;
    if (!what)
        return 0;
    snprintf(err, errlen, "%s: cannot write %s: %s%s", path, what == path ? "it" : "its folder",
             strerror(errno), exists ? "; stored cells are untouched" : "");
    return -1;
}

/* Whether the open database is one this gradsweep can use: a gradsweep
 * database of this schema or an older one (read-only: this one exactly),
 * or, for writing, an empty file. *app and *ver: what it says it is. */
static int check_kind(gs_store_t *st, int readonly, long *app, long *ver, char *err,
                      size_t errlen)
{
    const char *path = st->path;
    *app = store_pragma_int(st, "PRAGMA application_id");
    *ver = store_pragma_int(st, "PRAGMA user_version");
    long tables = store_pragma_int(st, "SELECT count(*) FROM sqlite_master");
    if (*app < 0 || tables < 0)
        snprintf(err, errlen, "%s: not an SQLite database (%s)", path, sqlite3_errmsg(st->db));
    else if (*app != GS_APPLICATION_ID && (tables > 0 || *app != 0))
        snprintf(err, errlen, "%s: not a gradsweep database (it has %ld tables of another "
                 "program); give another path with --db", path, tables);
    else if (*app == GS_APPLICATION_ID && *ver > GS_SCHEMA_VERSION)
        snprintf(err, errlen, "%s: written by a newer gradsweep (schema version %ld; this is "
                 "%s with schema version %d); upgrade gradsweep", path, *ver, PACKAGE_VERSION,
                 GS_SCHEMA_VERSION);
    else if (readonly && *app != GS_APPLICATION_ID)
        snprintf(err, errlen, "%s: an empty database, not a gradsweep one", path);
    else if (readonly && *ver < GS_SCHEMA_VERSION)
        snprintf(err, errlen, "%s: written by an older gradsweep (schema version %ld; this "
                 "is %s with schema version %d); `gradsweep run` on it upgrades it in place "
                 "(stored cells are kept)", path, *ver, PACKAGE_VERSION, GS_SCHEMA_VERSION);
    else
        return 0;
    return -1;
}

/* For writing: WAL, and the schema - created in an empty file, upgraded
 * in an older database. */
static int prepare_for_writing(gs_store_t *st, long app, long ver, char *err, size_t errlen)
{
    /* temp_store=MEMORY keeps the SAVEPOINT of each cell's journal in
     * memory: on a file it spilled past 64 KiB (a cell changes ~16 pages)
     * and wrote every page it touched to disk first, a third of storing a
     * tiny cell */
    if (store_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY",
                   err, errlen) != 0)
        return -1;
    if (app == GS_APPLICATION_ID)
        return ver < GS_SCHEMA_VERSION ? store_migrate(st, ver, err, errlen) : 0;
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
             GS_APPLICATION_ID, GS_SCHEMA_VERSION);
    if (store_exec(st, "BEGIN", err, errlen) != 0 || store_exec(st, gs_store_schema_sql(), err, errlen) != 0 ||
        store_exec(st, pragmas, err, errlen) != 0 || store_exec(st, "COMMIT", err, errlen) != 0)
        return -1;
    return 0;
}

gs_store_t *gs_store_open(const char *path, int create, int readonly, char *err, size_t errlen)
{
    return gs_store_open_kind(path, create, readonly, NULL, err, errlen);
}

gs_store_t *gs_store_open_kind(const char *path, int create, int readonly, gs_store_fault_t *fault,
                               char *err, size_t errlen)
{
    gs_store_fault_t dummy;
    if (!fault)
        fault = &dummy;
    *fault = GS_STORE_FAULT_RUNTIME;
    gs_store_t *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(st->path, sizeof st->path, "%s", path);
    gethostname(st->host, sizeof st->host - 1);
    if ((st->busy_ms = busy_timeout_ms(err, errlen)) < 0 ||
        (st->heartbeat_limit_s = heartbeat_limit_s(err, errlen)) < 0) {
        *fault = GS_STORE_FAULT_INPUT;
        goto fail;
    }
    struct stat sb;
    long app, ver;
    int exists = stat(path, &sb) == 0;
    if (!exists && !create) {
        snprintf(err, errlen, "%s: no such database", path);
        *fault = GS_STORE_FAULT_INPUT;
        goto fail;
    }
    if (exists && S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s: a folder, not a database", path);
        *fault = GS_STORE_FAULT_INPUT;
        goto fail;
    }
    if (!readonly && writable(path, exists, err, errlen) != 0)
        goto fail;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open: %s", path, st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(st->db, st->busy_ms);
    /* every connection: a cell's rows go with its runs row */
    if (store_exec(st, "PRAGMA foreign_keys = ON", err, errlen) != 0)
        goto fail;
    if (check_kind(st, readonly, &app, &ver, err, errlen) != 0) {
        *fault = GS_STORE_FAULT_INPUT;
        goto fail;
    }
    if (!readonly && prepare_for_writing(st, app, ver, err, errlen) != 0)
        goto fail;
    return st;
fail:
    gs_store_close(st);
    return NULL;
}

void gs_store_close(gs_store_t *st)
{
    if (!st)
        return;
    if (st->in_txn && st->db)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < ST_N; i++)
        sqlite3_finalize(st->stmt[i]);
    for (size_t i = 0; i <= store_n_child; i++)
        sqlite3_finalize(st->clear[i]);
    sqlite3_close(st->db);
    free(st);
}
