/* The run lock (a live session's heartbeat), the sweep a database holds
 * and the sessions that wrote it, and the cells in flight with the deaths
 * they caused. */
#include <config.h>

#include "store/internal.h"

#include <assert.h>
#include <errno.h>
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

/* ---- the lock and sessions ---- */

/* What this host's /proc says of a process: its state letter and its
 * start time (clock ticks after boot, field 22 of /proc/PID/stat). 1 read,
 * 0 no such process, -1 this host cannot tell (no /proc). */
static int proc_stat(long pid, char *state, long long *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return access("/proc/self/stat", R_OK) == 0 ? 0 : -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses,
     * so the fields are counted from its last ')': state is field 3 */
    const char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 0;   /* gone while read */
    *state = p[2];
    p += 2;
    for (int field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    *start = p ? strtoll(p + 1, NULL, 10) : -1;
    return 1;
}

long long store_process_start(long pid)
{
    char state;
    long long start;
    return proc_stat(pid, &state, &start) == 1 ? start : -1;
}

/* Whether the process that holds a session runs, by this host's own
 * evidence: 1 it does, 0 it does not, -1 this host cannot tell (no /proc).
 * A zombie is dead - the rank 0 of an mpirun that has returned can stay
 * one until its new parent reaps it (in a container whose first process
 * never does, for good) - and kill(pid, 0) succeeds on it; a pid whose
 * start time is not the recorded one (start >= 0) is another process
 * the system gave the number to. */
static int holder_runs(long pid, long long start)
{
    char state;
    long long now_start;
    if (pid <= 0)
        return 0;
    int r = proc_stat(pid, &state, &now_start);
    if (r <= 0)
        return r;
    if (state == 'Z' || state == 'X')
        return 0;
    return start < 0 || now_start == start;
}

/* A session row still marked running is live when, on its host, its
 * process runs (holder_runs), and on another host (or one without /proc)
 * when its heartbeat is younger than the limit. The first live one fills
 * in *holder; dead ones are marked crashed with mark_crashed, and live
 * ones too with takeover. */
int store_find_live(gs_store_t *st, store_holder_t *holder, int mark_crashed, int takeover)
{
    sqlite3_stmt *s;
    int live = 0, rc;
    memset(holder, 0, sizeof *holder);
    if (sqlite3_prepare_v2(st->db, "SELECT id, host, pid, heartbeat, pid_start FROM sessions "
                                   "WHERE status = ?1", -1, &s, NULL) != SQLITE_OK)
        goto unreadable;
    sqlite3_bind_text(s, 1, gs_session_names[GS_SESSION_RUNNING], -1, SQLITE_STATIC);
    double now = gs_unix_now();
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        long id = (long)sqlite3_column_int64(s, 0);
        const char *h = (const char *)sqlite3_column_text(s, 1);
        long p = (long)sqlite3_column_int64(s, 2);
        double age = now - sqlite3_column_double(s, 3);
        long long start = sqlite3_column_type(s, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 4);
        int by_process = h && strcmp(h, st->host) == 0 ? holder_runs(p, start) : -1;
        int alive = by_process >= 0 ? by_process : age < st->heartbeat_limit_s;
        if (alive && !live) {
            live = 1;
            *holder = (store_holder_t){.id = id, .pid = p, .age_s = age,
                                       .by_process = by_process >= 0};
            snprintf(holder->host, sizeof holder->host, "%s", h ? h : "?");
        }
        if ((!alive && mark_crashed) || (alive && takeover)) {
            char sql[128];
            snprintf(sql, sizeof sql, "UPDATE sessions SET status = '%s' WHERE id = %ld",
                     gs_session_names[GS_SESSION_CRASHED], id);
            if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
                rc = SQLITE_ERROR;
        }
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_DONE)
        return live;
unreadable:
    snprintf(holder->host, sizeof holder->host, "unknown: the sessions cannot be read (%s)",
             sqlite3_errmsg(st->db));
    holder->pid = -1;
    return -1;
}

sqlite3 *gs_store_handle(gs_store_t *st)
{
    return st->db;
}

int gs_store_live_run(gs_store_t *st, char *host, size_t hostlen, long *pid)
{
    store_holder_t h;
    int live = store_find_live(st, &h, 0, 0);
    snprintf(host, hostlen, "%s", h.host);
    *pid = h.pid;
    return live;
}

const char *gs_store_takeover_result(const gs_store_t *st)
{
    return st->taken_over[0] ? st->taken_over : NULL;
}

/* The name of the sweep the database holds (*have = 0: none yet). */
static int stored_sweep(gs_store_t *st, char *name, size_t namelen, int *have, char *err,
                        size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT name FROM sweeps WHERE id = 1", -1, &s, NULL) != SQLITE_OK)
        return store_sqlfail(st, err, errlen, "reading the sweep");
    int step = sqlite3_step(s);
    *have = step == SQLITE_ROW;
    const char *n = *have ? (const char *)sqlite3_column_text(s, 0) : NULL;
    snprintf(name, namelen, "%s", n ? n : "");
    sqlite3_finalize(s);
    return *have || step == SQLITE_DONE ? 0 : store_sqlfail(st, err, errlen, "reading the sweep");
}

/* Delete every stored cell (its rows go with it: ON DELETE CASCADE, and
 * by name for the rows of a runs row deleted with foreign keys off), the
 * cells in flight and, with whole, the sweep and its sessions too. Inside
 * the caller's transaction. */
static int delete_cells(gs_store_t *st, int whole, char *err, size_t errlen)
{
    char sql[128];
    for (size_t i = 0; i < store_n_child; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM %s", store_child_tables[i].name);
        if (store_exec(st, sql, err, errlen) != 0)
            return -1;
    }
    if (store_exec(st, "DELETE FROM in_flight; DELETE FROM runs", err, errlen) != 0)
        return -1;
    return whole ? store_exec(st, "DELETE FROM sessions; DELETE FROM sweeps", err, errlen) : 0;
}

/* Whether sw may start on this database: the sweep it holds is sw's, or
 * none, or (fresh) it is replaced - every check made before anything is
 * deleted, and the deletion in the session's transaction, so a refusal
 * or a failure leaves every row where it was. *have: a sweeps row stays. */
static int claim_sweep(gs_store_t *st, const gs_sweep_t *sw, int fresh, int *have, char *err,
                       size_t errlen)
{
    char name[256];
    if (stored_sweep(st, name, sizeof name, have, err, errlen) != 0)
        return -1;
    long n = gs_store_count_runs(st);
    int other = *have && strcmp(name, sw->name) != 0;
    if (n < 0)
        return store_sqlfail(st, err, errlen, "counting the stored cells");
    if (other && !fresh) {
        snprintf(err, errlen, "%s: holds sweep '%s' (%ld stored cells), not '%s'; nothing was "
                 "changed. Give another --db (--fresh would delete those %ld cells and sweep "
                 "'%s' for good)", st->path, name, n, sw->name, n, name);
        return -2;
    }
    st->fresh_deleted = 0;
    st->fresh_replaced[0] = '\0';
    if (!fresh || (n == 0 && !other))
        return 0;
    if (delete_cells(st, other, err, errlen) != 0)
        return -1;
    st->fresh_deleted = n;
    if (other)
        snprintf(st->fresh_replaced, sizeof st->fresh_replaced, "%s", name);
    *have = *have && !other;
    return 0;
}

long gs_store_fresh_result(const gs_store_t *st, const char **replaced)
{
    *replaced = st->fresh_replaced[0] ? st->fresh_replaced : NULL;
    return st->fresh_deleted;
}

/* The sweeps row: inserted on the first run, updated on later ones. */
static int write_sweep(gs_store_t *st, const gs_sweep_t *sw, int have, const char *now,
                       char *err, size_t errlen)
{
    sqlite3_stmt *s;
    const char *sql = have
        ? "UPDATE sweeps SET name=?1, description=?2, config_path=?3, config_text=?4, base_seed=?5,"
          " vanishing_below=?6, exploding_above=?7, n_cells=?8, updated_at=?9, gradsweep_version=?10,"
          " seeding=?11 WHERE id = 1"
        : "INSERT INTO sweeps (id, name, description, config_path, config_text, base_seed,"
          " vanishing_below, exploding_above, n_cells, created_at, updated_at, gradsweep_version,"
          " seeding) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)";
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return store_sqlfail(st, err, errlen, "writing the sweep");
    assert(sqlite3_bind_parameter_count(s) == 11);
    assert(sw->seeding >= 0 && sw->seeding < GS_N_SEEDING);
    sqlite3_bind_text(s, 11, gs_seeding_names[sw->seeding], -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 1, sw->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, sw->description, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, sw->path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, sw->text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)sw->seed);
    sqlite3_bind_double(s, 6, sw->vanishing_below);
    sqlite3_bind_double(s, 7, sw->exploding_above);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)sw->n_cells);
    sqlite3_bind_text(s, 9, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 10, PACKAGE_VERSION, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store_sqlfail(st, err, errlen, "writing the sweep");
}

/* The session row, marked running: the lock; st->session_id its id. */
static int write_session(gs_store_t *st, const gs_session_info_t *info, const char *now,
                         char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "INSERT INTO sessions (status, started_at, heartbeat, host, pid,"
                                   " ranks, threads, hosts, gradsweep_version, pid_start)"
                                   " VALUES (?9, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?10)",
                           -1, &s, NULL) != SQLITE_OK)
        return store_sqlfail(st, err, errlen, "writing the session");
    assert(sqlite3_bind_parameter_count(s) == 10);
    long long start = store_process_start((long)getpid());
    if (start >= 0)
        sqlite3_bind_int64(s, 10, start);   /* else NULL: no /proc here */
    sqlite3_bind_text(s, 9, gs_session_names[GS_SESSION_RUNNING], -1, SQLITE_STATIC);
    st->session_start = gs_unix_now();
    sqlite3_bind_text(s, 1, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 2, st->session_start);
    sqlite3_bind_text(s, 3, st->host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)getpid());
    sqlite3_bind_int(s, 5, info->ranks);
    sqlite3_bind_int(s, 6, info->threads);
    sqlite3_bind_text(s, 7, info->hosts, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 8, PACKAGE_VERSION, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_sqlfail(st, err, errlen, "writing the session");
    st->session_id = (long)sqlite3_last_insert_rowid(st->db);
    return 0;
}

/* ---- shards (run --shard I/N, gradsweep merge) ---- */

/* Whether a run of info->shard (NULL: the whole sweep) may write this
 * database: it holds no cell, or cells of that same shard - one database
 * per shard, so that the rows of another shard never mix in unnoticed.
 * After claim_sweep (which --fresh has let delete the cells). 0, -2
 * refused (err says what it holds and what to do), -1 on failure. */
static int claim_shard(gs_store_t *st, const gs_sweep_t *sw, const char *shard, int have,
                       char *err, size_t errlen)
{
    long n = gs_store_count_runs(st);
    if (n < 0)
        return store_sqlfail(st, err, errlen, "counting the stored cells");
    if (!have || n == 0)
        return 0;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT shard FROM sweeps WHERE id = 1", -1, &s, NULL) !=
        SQLITE_OK)
        return store_sqlfail(st, err, errlen, "reading the sweep's shard");
    int step = sqlite3_step(s), rc = 0;
    const char *held = step == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = store_sqlfail(st, err, errlen, "reading the sweep's shard");
    } else if ((held == NULL) != (shard == NULL) || (held && strcmp(held, shard) != 0)) {
        char what[64], mine[64];
        snprintf(what, sizeof what, held ? "shard %s" : "the whole sweep", held);
        snprintf(mine, sizeof mine, shard ? "shard %s" : "the whole sweep", shard);
        snprintf(err, errlen, "%s: holds %s of sweep '%s' (%ld stored cells), and this run is %s; "
                 "nothing was changed. Give each shard its own --db (gradsweep merge joins "
                 "them), or --fresh to delete those cells and start over", st->path, what,
                 sw->name, n, mine);
        rc = -2;
    }
    sqlite3_finalize(s);
    return rc;
}

int gs_store_shard_of(sqlite3 *db, int *index, int *count)
{
    sqlite3_stmt *s;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT shard FROM sweeps WHERE id = 1", -1, &s, NULL) != SQLITE_OK)
        return 0;   /* before version 8: no shards */
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        found = sscanf((const char *)sqlite3_column_text(s, 0), "%d/%d", index, count) == 2 &&
                *count > 0 && *index >= 0 && *index < *count;
    sqlite3_finalize(s);
    return found;
}

/* sweeps.shard: the shard this database now holds (NULL: the whole). */
static int write_shard(gs_store_t *st, const char *shard, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "UPDATE sweeps SET shard = ?1 WHERE id = 1", -1, &s, NULL) !=
        SQLITE_OK)
        return store_sqlfail(st, err, errlen, "writing the sweep's shard");
    if (shard)
        sqlite3_bind_text(s, 1, shard, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store_sqlfail(st, err, errlen, "writing the sweep's shard");
}

/* The seeding of the sweep about to run: the stored one when cells are
 * stored (NULL: per_cell, from before version 5), else paired. */
static int seeding_to_run(gs_store_t *st, int have)
{
    if (!have || store_pragma_int(st, "SELECT count(*) FROM runs") <= 0)
        return GS_SEEDING_PAIRED;
    int s = gs_store_seeding_of(st->db);
    return s < 0 ? GS_SEEDING_PAIRED : s;
}

int gs_store_seeding_of(sqlite3 *db)
{
    sqlite3_stmt *s;
    int seeding = -1;
    if (sqlite3_prepare_v2(db, "SELECT seeding FROM sweeps WHERE id = 1", -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        seeding = GS_SEEDING_PER_CELL;   /* NULL: a database from before seeding was stored */
        for (int i = 0; name && i < GS_N_SEEDING; i++)
            if (strcmp(name, gs_seeding_names[i]) == 0)
                seeding = i;
    }
    sqlite3_finalize(s);
    return seeding;
}

int gs_store_begin_session(gs_store_t *st, gs_sweep_t *sw, const gs_session_info_t *info,
                           char *err, size_t errlen)
{
    if (store_exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
    char now[32];
    store_holder_t h;
    int have = 0, rc = -1;
    st->taken_over[0] = '\0';
    int live = store_find_live(st, &h, 1, info->takeover);
    if (live < 0) {
        store_sqlfail(st, err, errlen, "reading the sessions");
        goto rollback;
    }
    if (live && info->takeover) {
        snprintf(st->taken_over, sizeof st->taken_over, "session %ld of host %s, pid %ld, "
                 "heartbeat %.0f s old", h.id, h.host, h.pid, h.age_s);
    } else if (live && h.by_process) {
        snprintf(err, errlen, "%s: a run is writing this database (host %s, pid %ld), and that "
                 "process runs on this host; wait for it, stop it, or use another --db", st->path,
                 h.host, h.pid);
        goto rollback;
    } else if (live) {
        snprintf(err, errlen, "%s: a run is writing this database (host %s, pid %ld; its "
                 "heartbeat is %.0f s old, and a run on another host counts as live until its "
                 "heartbeat is %.0f s old, which " GS_HEARTBEAT_LIMIT_ENV " sets); wait for it, "
                 "stop it, or use another --db. If you know that run is gone, gradsweep run "
                 "--takeover starts anyway", st->path, h.host, h.pid, h.age_s,
                 st->heartbeat_limit_s);
        goto rollback;
    }
    gs_utc_iso(now, sizeof now);
    if ((rc = claim_sweep(st, sw, info->fresh, &have, err, errlen)) != 0 ||
        (rc = claim_shard(st, sw, info->shard, have, err, errlen)) != 0)
        goto rollback;
    rc = -1;
    gs_sweep_set_seeding(sw, seeding_to_run(st, have));
    if (write_sweep(st, sw, have, now, err, errlen) != 0 ||
        write_shard(st, info->shard, err, errlen) != 0 ||
        write_session(st, info, now, err, errlen) != 0 || store_exec(st, "COMMIT", err, errlen) != 0)
        goto rollback;
    st->stored = 0;
    return 0;
rollback:
    st->taken_over[0] = '\0';
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int session_update(gs_store_t *st, gs_session_status_t status, int final)
{
    char now[32];
    gs_utc_iso(now, sizeof now);
    sqlite3_stmt *s;
    const char *sql = final
        ? "UPDATE sessions SET status=?1, heartbeat=?2, cells_stored=?3, ended_at=?4, wall_s=?5 WHERE id=?6"
        : "UPDATE sessions SET status=?1, heartbeat=?2, cells_stored=?3, wall_s=?5 WHERE id=?6";
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    double t = gs_unix_now();
    sqlite3_bind_text(s, 1, gs_session_names[status], -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 2, t);
    sqlite3_bind_int64(s, 3, st->stored);
    if (final)
        sqlite3_bind_text(s, 4, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 5, t - st->session_start);
    sqlite3_bind_int64(s, 6, st->session_id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int gs_store_commit(gs_store_t *st, char *err, size_t errlen)
{
    if (store_open_batch(st, err, errlen) != 0)
        return -1;
    if (session_update(st, GS_SESSION_RUNNING, 0) != 0)
        return store_sqlfail(st, err, errlen, "updating the session");
    st->in_txn = 0;
    return store_exec(st, "COMMIT", err, errlen);
}

int gs_store_end_session(gs_store_t *st, gs_session_status_t status, double coordinator_cpu_s,
                         char *err, size_t errlen)
{
    if (store_open_batch(st, err, errlen) != 0)
        return -1;
    if (session_update(st, status, 1) != 0)
        return store_sqlfail(st, err, errlen, "closing the session");
    /* the cells this run handed out and did not store were cut short, not
     * crashes: they run again next time. A cell with deaths keeps its row. */
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE sessions SET coordinator_cpu_s = %.6f WHERE id = %ld; "
             "DELETE FROM in_flight WHERE session_id = %ld AND deaths = 0",
             coordinator_cpu_s, st->session_id, st->session_id);
    if (store_exec(st, sql, err, errlen) != 0)
        return -1;
    st->in_txn = 0;
    if (store_exec(st, "COMMIT", err, errlen) != 0)
        return -1;
    /* fold the WAL back so the file alone holds everything */
    sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return 0;
}

/* ---- cells in flight ---- */


/* Run one statement taking (?1 text hash, ?2..?3 integers) per hash. */
static int each_hash(gs_store_t *st, const char *sql, const uint64_t *hashes, size_t n, long a,
                     long b, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return store_sqlfail(st, err, errlen, "recording cells in flight");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char hex[GS_HASH_HEX_LEN];
        gs_hash_hex(hashes[i], hex);
        sqlite3_bind_text(s, 1, hex, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, a);
        sqlite3_bind_int64(s, 3, b);
        rc = store_step_reset(st, s, err, errlen, "recording cells in flight");
    }
    sqlite3_finalize(s);
    return rc;
}

int gs_store_mark_in_flight(gs_store_t *st, const uint64_t *hashes, size_t n, int rank,
                            char *err, size_t errlen)
{
    if (store_open_batch(st, err, errlen) != 0)
        return -1;
    return each_hash(st, "INSERT INTO in_flight (config_hash, session_id, rank) VALUES (?1, ?2, ?3) "
                         "ON CONFLICT (config_hash) DO UPDATE SET session_id = ?2, rank = ?3",
                     hashes, n, st->session_id, rank, err, errlen);
}

int gs_store_count_death(gs_store_t *st, uint64_t hash, int signo, char *err, size_t errlen)
{
    if (store_open_batch(st, err, errlen) != 0)
        return -1;
    return each_hash(st, "UPDATE in_flight SET deaths = deaths + 1, signal = ?2 "
                         "WHERE config_hash = ?1", &hash, 1, signo, 0, err, errlen);
}

int gs_store_deaths(gs_store_t *st, long min_deaths, gs_death_t **out, size_t *n, char *err,
                    size_t errlen)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT config_hash, deaths, signal, rank FROM in_flight "
                                   "WHERE deaths >= ?1 ORDER BY config_hash", -1, &s, NULL) != SQLITE_OK)
        return store_sqlfail(st, err, errlen, "reading cells in flight");
    sqlite3_bind_int64(s, 1, min_deaths);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            gs_death_t *d = realloc(*out, cap * sizeof *d);
            if (!d) {
                rc = SQLITE_NOMEM;
                break;
            }
            *out = d;
        }
        const char *hex = (const char *)sqlite3_column_text(s, 0);
        (*out)[(*n)++] = (gs_death_t){hex ? strtoull(hex, NULL, 16) : 0,
                                      (long)sqlite3_column_int64(s, 1), sqlite3_column_int(s, 2),
                                      sqlite3_column_int(s, 3)};
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return rc == SQLITE_NOMEM ? (snprintf(err, errlen, "out of memory"), -1)
                                  : store_sqlfail(st, err, errlen, "reading cells in flight");
    }
    return 0;
}
