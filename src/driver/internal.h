/* The driver's parts (internal to src/driver), one file a job:
 *
 *   driver.c       job set-up: MPI, the config on every rank (overrides, the
 *                  size limit), threads, hosts, rank 0's database, --reuse
 *                  and the pending cells; gs_driver_run and its one teardown
 *   coordinator.c  rank 0's main thread: hands out cells, receives results
 *                  into an inbox, stores and commits them, and the run's
 *                  four endings
 *   local.c        rank 0's compute thread: a worker behind a mutex
 *   worker.c       running one cell (any rank, any thread), and the queue of
 *                  a worker rank with its non-blocking sends
 *   crash.c        the crash log: a cell that kills its process, and the
 *                  cells that did so GS_DEATHS_TO_CRASHED times stored as
 *                  crashed */
#ifndef GS_DRIVER_INTERNAL_H
#define GS_DRIVER_INTERNAL_H

#ifdef HAVE_MPI
#include <mpi.h>
#else
#include "driver/mpi_single.h"   /* --without-mpi: the one-rank sweep */
#endif
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "driver/driver.h"
#include "store/store.h"
#include "sweep/sweep.h"

enum { TAG_WORK = 1, TAG_RESULT = 2 };
#define STOP_CELL (-1)   /* run what you hold, then stop */
#define DROP_CELL (-2)   /* finish the cell you run, drop the rest, stop */
#define IDLE_SLEEP_NS 1000000L   /* 1 ms between polls when nothing happens */
/* How many cells a worker may hold (coordinator.c, queue_depth): one
 * until every worker has had a cell; then enough measured cell time to
 * cover QUEUE_AHEAD_S, so that tiny cells are queued deep and the
 * coordinator's polling never starves a worker while long ones go one at a
 * time; never more than a fair share of the cells left, so that the end
 * of the sweep balances. TINY_QUEUE is the most. */
#define TINY_QUEUE 128
#define QUEUE_AHEAD_S 0.05

/* MPI errors return (MPI_ERRORS_RETURN on MPI_COMM_WORLD, set by
 * gs_driver_run), so that a lost peer reaches gradsweep's own code
 * instead of killing the process inside MPI. The coordinator's loop
 * checks every call and ends the run through its own shutdown (commit,
 * session interrupted, the resume hint: coordinator.c, end_lost_peer);
 * elsewhere MPI_CHECK says where and ends the job. */
#define MPI_CHECK(call)                                                              \
    do {                                                                             \
        int mpi_rc_ = (call);                                                        \
        if (mpi_rc_ != MPI_SUCCESS) {                                                \
            char s_[MPI_MAX_ERROR_STRING];                                           \
            int l_;                                                                  \
            MPI_Error_string(mpi_rc_, s_, &l_);                                      \
            fprintf(stderr, "gradsweep: %s:%d: %s failed: %s\n", __FILE__, __LINE__, \
                    #call, s_);                                                      \
            MPI_Abort(MPI_COMM_WORLD, 1);                                            \
        }                                                                            \
    } while (0)

static inline void dv_nap(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

/* ---- job set-up (driver.c) ---- */

/* One rank's view of the job, torn down in one place (job_end). */
typedef struct {
    int rank, size, threads;
    char host[64];
    gs_sweep_t sw;
    int have_sw;
    unsigned char *selected;   /* per experiment: run it (--experiment) */
    size_t n_reused;           /* cells --reuse copied */
    char dbpath[4096];
    char err[8192];
} dv_job_t;

/* The command that runs this sweep again, for the hints that resume or
 * retry it: the config, its overrides and the options that choose cells. */
void dv_command_text(const gs_run_options_t *opt, char *buf, size_t len);

/* ---- the crash log (crash.c) ---- */

/* Catch the fatal signals of this process, noting a crash in
 * <dbpath>-crashes. */
void dv_crash_catch(const char *dbpath);
/* The cell with this hash (16 hex digits) runs now: a crash names it. */
void dv_crash_arm(const char *hash_hex);
void dv_crash_disarm(void);
/* The crash log's lines become deaths of the cells they name, committed
 * before the log is removed. */
int dv_crash_read_log(gs_store_t *st, char *err, size_t errlen);
/* Cells that killed GS_DEATHS_TO_CRASHED runs are stored as crashed (and
 * so not run again); the ones that killed one run are said to run again. */
int dv_store_crashed(gs_store_t *st, const gs_sweep_t *sw, int threads, char *err,
                     size_t errlen);

/* ---- running one cell (worker.c) ---- */

/* Run cell `index` of sw and pack its result (NULL: out of memory). */
void *dv_run_cell(const gs_sweep_t *sw, int64_t index, int rank, int threads, const char *host,
                  size_t *len);
/* A worker rank: run what rank 0 sends until it says stop. */
void dv_worker_loop(const gs_sweep_t *sw, int rank, int threads, const char *host);

/* ---- rank 0's compute thread (local.c) ---- */

typedef struct dv_packed {
    struct dv_packed *next;
    void *buf;
    size_t len;
    int slot;                /* who ran it: 0 the compute thread, r rank r */
} dv_packed_t;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t *queue;          /* cell indices to run */
    size_t q_head, q_len, q_cap;
    dv_packed_t *results, *results_tail;
    int stop;
    int running;             /* a cell is being computed */
    const gs_sweep_t *sw;
    int threads;
    int background;          /* other ranks run cells too */
    char host[64];
} dv_local_worker_t;

/* Start the thread (0), or -1 when memory or a thread is short;
 * background: other ranks run cells too (it yields to the coordinator). */
int dv_local_start(dv_local_worker_t *lw, const gs_sweep_t *sw, int threads, int background,
                   const char *host, pthread_t *tid);
void dv_local_push(dv_local_worker_t *w, int64_t idx);
/* The results packed so far, taken out (a list; NULL: none). */
dv_packed_t *dv_local_take(dv_local_worker_t *w);
/* A drain: drop the cells queued, not the one running (the number
 * dropped); then idle once that one's result has been taken. */
size_t dv_local_drop(dv_local_worker_t *w);
int dv_local_idle(dv_local_worker_t *w);
/* Stop the thread: it finishes the cell it runs and drops the rest. */
void dv_local_stop(dv_local_worker_t *lw, pthread_t tid);
/* This thread (or process) yields to the coordinator: nice
 * BACKGROUND_NICE above it. */
void dv_run_in_background(void);

/* ---- the coordinator (coordinator.c) ---- */

/* Rank 0's run of the pending cells (longest first) into store, which it
 * closes: the exit status (an interruption does not return). */
int dv_run_coordinator(dv_job_t *j, const gs_run_options_t *opt, gs_store_t *store,
                       int64_t *pending, size_t n_pending, double flops_total);

#endif
