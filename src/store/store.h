/* The results database (SQLite, WAL): schema, the run lock, writes in
 * batched transactions, resume queries. Knows nothing of MPI; only rank 0
 * of a sweep opens it for writing.
 *
 * A gradsweep database carries PRAGMA application_id = 0x47535750 ("GSWP")
 * and PRAGMA user_version = GS_SCHEMA_VERSION; anything else is refused. */
#ifndef GS_STORE_STORE_H
#define GS_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "experiment/experiment.h"
#include "sweep/sweep.h"

#define GS_SCHEMA_VERSION 9
#define GS_APPLICATION_ID 0x47535750

/* How long a connection waits for another program's write lock before it
 * fails with SQLITE_BUSY: GS_BUSY_TIMEOUT_ENV, in milliseconds, when set
 * (0 does not wait; a value that is not a whole number from 0 to INT_MAX
 * is refused by gs_store_open as bad input), else the default. */
#define GS_BUSY_TIMEOUT_ENV "GRADSWEEP_BUSY_TIMEOUT_MS"
#define GS_BUSY_TIMEOUT_MS 10000

/* The run lock. A running session refreshes its heartbeat (sessions.
 * heartbeat) at least every GS_HEARTBEAT_EVERY_S. Another run decides
 * whether the holder lives by the host's own evidence when it runs on the
 * holder's host (the pid exists, is not a zombie and started at the
 * recorded time, sessions.pid_start), and otherwise by the heartbeat's
 * age: a holder whose heartbeat is older than the limit is dead. The
 * limit is GS_HEARTBEAT_LIMIT_ENV, in seconds, when set (from
 * GS_HEARTBEAT_LIMIT_MIN_S: a limit within two heartbeats would take a
 * live run for a dead one; anything else is refused by gs_store_open as
 * bad input), else GS_HEARTBEAT_LIMIT_S. */
#define GS_HEARTBEAT_EVERY_S 10.0
#define GS_HEARTBEAT_LIMIT_ENV "GRADSWEEP_HEARTBEAT_LIMIT_S"
#define GS_HEARTBEAT_LIMIT_S 60.0
#define GS_HEARTBEAT_LIMIT_MIN_S (2 * GS_HEARTBEAT_EVERY_S)

typedef struct gs_store gs_store_t;
struct sqlite3;   /* <sqlite3.h>, for the calls that take a handle */

/* Open a database. create: make it (and its folder's file) when missing.
 * readonly: for queries while a run may be writing. NULL with a message
 * when the file is not a gradsweep database, has a newer schema, or cannot
 * be opened. */
gs_store_t *gs_store_open(const char *path, int create, int readonly, char *err, size_t errlen);

/* What kind of failure an open met: the input's (no such file, a folder,
 * not SQLite, another program's database, a schema this command cannot
 * use: the user gave the wrong path) or the machine's (permissions, disk,
 * a lock). */
typedef enum { GS_STORE_FAULT_INPUT, GS_STORE_FAULT_RUNTIME } gs_store_fault_t;
/* gs_store_open, saying which kind of failure it met (fault may be NULL). */
gs_store_t *gs_store_open_kind(const char *path, int create, int readonly, gs_store_fault_t *fault,
                               char *err, size_t errlen);
void gs_store_close(gs_store_t *st);   /* NULL is fine; rolls back an open batch */

/* The whole schema as SQL with a comment on every column (NULL: out of
 * memory). */
const char *gs_store_schema_sql(void);
/* The SQL that lists every stored number of every cell, one SELECT per
 * table (runs and the tables of its rows), ordered by key, without what
 * differs between identical runs (rank, host, times): two databases of
 * the same sweep give the same output. malloc'd; NULL: out of memory. */
char *gs_store_dump_sql(void);
/* The result table's columns (experiment/result_fields.h) as data, in
 * their order; *n of them. Offsets are the store's. */
const gs_column_t *gs_store_columns(size_t *n);
/* The tables that hold a cell's rows: i = 0 runs, then the tables whose
 * run_id references it; NULL past the last. */
const char *gs_store_cell_table(size_t i);

typedef struct {
    int ranks;            /* MPI ranks (workers + coordinator) */
    int threads;          /* OpenMP threads per rank */
    const char *hosts;    /* distinct host names, comma-separated */
    int fresh;            /* start over: delete the stored cells (and another sweep whole) */
    const char *shard;    /* "I/N": run --shard's cells only (sweeps.shard); NULL: every cell */
    int takeover;         /* a session still marked running is dead, whatever it seems */
} gs_session_info_t;

/* Start a session: refuse (-1, message naming host and pid) when a live
 * run holds the database (with info->takeover, every session still
 * marked running is marked crashed instead, and gs_store_takeover_result
 * says which), or when it holds another sweep and info->fresh is not
 * set, or (-2) when it holds cells of another shard of the sweep than
 * info->shard (sweeps.shard; NULL: the whole sweep) and info->fresh
 * is not set (every row intact; the message says what --fresh would
 * delete); with info->fresh delete the stored cells - and another sweep
 * whole, its sweeps row and sessions too - in the same transaction as
 * the checks; write the sweep row and a session row; begin the first
 * batch. -2 for the refusal of another sweep (the input's fault), -1 for
 * the others. The sweep's seeding
 * becomes the database's (gs_sweep_set_seeding): a database that holds
 * cells keeps the seeding they were run with; an empty one is paired. */
int gs_store_begin_session(gs_store_t *st, gs_sweep_t *sw, const gs_session_info_t *info,
                           char *err, size_t errlen);

/* A run's status (sessions.status). crashed: found running with its
 * process gone. */
typedef enum {
    GS_SESSION_RUNNING, GS_SESSION_DONE, GS_SESSION_INTERRUPTED, GS_SESSION_CRASHED
} gs_session_status_t;
extern const char *const gs_session_names[];   /* indexed by gs_session_status_t */
#define GS_N_SESSION 4

/* End the session (done or interrupted): commit, record the coordinator's
 * CPU time, clear the in_flight rows of the cells it handed out and did
 * not store (those with deaths stay), release the lock. */
int gs_store_end_session(gs_store_t *st, gs_session_status_t status, double coordinator_cpu_s,
                         char *err, size_t errlen);

/* The config_hash of every stored cell, sorted ascending; caller frees. */
int gs_store_stored_hashes(gs_store_t *st, uint64_t **hashes, size_t *n, char *err, size_t errlen);
/* The same of the cells stored as failed or crashed (`run --retry`). */
int gs_store_unfinished_hashes(gs_store_t *st, uint64_t **hashes, size_t *n, char *err,
                               size_t errlen);

/* Orphans: how many of the n stored hashes are not cells of sw (a config
 * changed since they ran), written to out[] when out is not NULL; -1
 * out of memory. */
long gs_store_orphans(const gs_sweep_t *sw, const uint64_t *stored, size_t n, uint64_t *out);

/* Delete these cells and every row of theirs, in one transaction; refused
 * (nothing deleted) while a run writes the database. */
int gs_store_delete_cells(gs_store_t *st, const uint64_t *hashes, size_t n, char *err,
                          size_t errlen);

/* How many cells the database stores, or -1. */
long gs_store_count_runs(gs_store_t *st);

/* The session a takeover ended, as text ("session 3 of host nodeA, pid
 * 1234, heartbeat 5 s old"), or NULL when none was running. */
const char *gs_store_takeover_result(const gs_store_t *st);

/* What a fresh session start deleted: the cells (returned) and the name
 * of the other sweep it replaced (*replaced, NULL when it was this one). */
long gs_store_fresh_result(const gs_store_t *st, const char **replaced);

typedef struct {
    int rank, threads;
    const char *host;
    double wall_s;
} gs_put_meta_t;

/* Add one cell's result to the open batch. */
int gs_store_put(gs_store_t *st, const gs_sweep_t *sw, const gs_sweep_cell_t *cell,
                 const gs_result_t *r, const gs_put_meta_t *meta, char *err, size_t errlen);

/* Cells about to be handed to `rank`: recorded in in_flight, in the open
 * batch; the caller commits before it sends them, so that a run that dies
 * leaves behind which cells it was running. gs_store_put removes a cell's
 * row with its result. */
int gs_store_mark_in_flight(gs_store_t *st, const uint64_t *hashes, size_t n, int rank,
                            char *err, size_t errlen);

/* A cell the crash log names as having killed its process with `signo`:
 * one more death for it (in the open batch) when it was in flight, else
 * nothing. */
int gs_store_count_death(gs_store_t *st, uint64_t hash, int signo, char *err, size_t errlen);

/* A cell that killed this many runs is stored as crashed, not run again. */
#define GS_DEATHS_TO_CRASHED 2

typedef struct {
    uint64_t hash;
    long deaths;
    int signo;   /* the last signal that killed a run while it ran */
    int rank;    /* the rank it last went to */
} gs_death_t;

/* The in-flight cells that killed their process in at least min_deaths
 * runs; caller frees. */
int gs_store_deaths(gs_store_t *st, long min_deaths, gs_death_t **out, size_t *n, char *err,
                    size_t errlen);

/* Commit the open batch (and refresh the lock's heartbeat); a new batch
 * begins with the next put. */
int gs_store_commit(gs_store_t *st, char *err, size_t errlen);

/* The text of sweeps.config_text and sweeps.config_path (NULL when the
 * database holds no sweep yet, or either is NULL); caller frees. */
char *gs_store_config_text(gs_store_t *st, char **path);
/* The same, of an open SQLite handle (the report's reader). */
char *gs_store_config_text_of(struct sqlite3 *db, char **path);

/* sweeps.seeding of an open SQLite handle as a gs_seeding_t: per_cell for
 * a database written before schema version 5 (NULL there); -1 when the
 * database holds no sweep. */
int gs_store_seeding_of(struct sqlite3 *db);

/* sweeps.shard of an open SQLite handle: 1 with *index and *count when
 * the database holds shard index of count (run --shard), 0 when it holds
 * the whole sweep (or a schema before 8, or no sweep). */
int gs_store_shard_of(struct sqlite3 *db, int *index, int *count);

/* Every stored cell's config_hash, status, diagnosis (NULL when failed),
 * diagnosis_final (NULL unless trained) and error (NULL unless failed or
 * crashed), for `gradsweep status`. */
typedef void (*gs_run_cb_t)(void *ctx, uint64_t hash, const char *status, const char *diagnosis,
                            const char *diagnosis_final, const char *error);
int gs_store_each_run(gs_store_t *st, gs_run_cb_t cb, void *ctx, char *err, size_t errlen);

/* The SQLite handle, for read-only queries of the report (by column
 * name, through store/query.h). */
struct sqlite3 *gs_store_handle(gs_store_t *st);

/* The live run holding the database, if any: 1 and host/pid filled in;
 * -1 when the sessions cannot be read (host says why; treat as live). */
int gs_store_live_run(gs_store_t *st, char *host, size_t hostlen, long *pid);

#endif
