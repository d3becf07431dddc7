/* Rank 0's main thread: hands cells out longest first, receives results
 * into an inbox and stores them, commits, and ends the run one of four
 * ways (done, failed, interrupted, a rank lost). */
#include <config.h>

#include "driver/internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "driver/pack.h"
#include "driver/progress.h"
#include "experiment/experiment.h"
#include "store/reuse.h"
#include "util/clock.h"
#include "util/exit.h"
#include "util/files.h"
#include "util/hash.h"

/* Signals: SIGINT, and SIGTERM without a grace, stop the run at once
 * (got_signal, end_interrupted); SIGUSR1 drains it (got_drain: no more
 * cells handed out, the running ones stored, end_drained); SIGTERM with
 * a grace (run --term-grace S) drains too, and stops at once when the
 * running cells outlast the grace (got_term). */
static volatile sig_atomic_t got_signal, got_drain, got_term;
static double term_grace_s;   /* set before the handlers are */

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        got_drain = 1;
    else if (sig == SIGTERM && term_grace_s > 0)
        got_term = 1;
    else
        got_signal = sig;
}


static double thread_cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}



/* ---- the coordinator ---- */

#define COMMIT_EVERY_S 1.0

typedef struct {
    const gs_sweep_t *sw;
    gs_store_t *store;
    gs_progress_bar_t bar;
    size_t uncommitted;
    double last_commit, last_heartbeat;
    int n_slots;             /* slot 0: the local compute thread; slot r: rank r */
    int *outstanding;        /* cells each slot holds */
    unsigned char *had_work; /* per slot: it has had a cell */
    int n_started;           /* slots that have had a cell */
    double cell_s;           /* measured wall time of a cell, a moving average */
    size_t n_timed;          /* results it has seen */
    uint64_t *handout;       /* the hashes of one hand-out, TINY_QUEUE per slot */
    dv_local_worker_t lw;
    void *rbuf;              /* receive buffer */
    size_t rcap, received;
    dv_packed_t *inbox, *inbox_tail;   /* results received, not stored yet */
    struct {
        int signo;           /* what started the drain (0: none) */
        double deadline;     /* when SIGTERM's grace ends (INFINITY: no end) */
        int ranks_left;      /* worker ranks that have not sent their last message */
        int done;            /* every running cell stored, every worker rank finished */
    } drain;
    int lost_peer;           /* an MPI call failed: c->err says which (end_lost_peer) */
    char err[8192];
} coord_t;

/* An MPI call of the coordinator failed - with MPI_ERRORS_RETURN that is
 * how a rank lost with its host or its link shows - : say which, with
 * MPI's reason, for end_lost_peer. -1. */
static int mpi_failed(coord_t *c, int code, const char *call, int line)
{
    char why[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(code, why, &len) != MPI_SUCCESS)
        snprintf(why, sizeof why, "MPI error %d", code);
    snprintf(c->err, sizeof c->err, "%s (coordinator.c:%d) failed: %s", call, line, why);
    c->lost_peer = 1;
    return -1;
}
#define COORD_MPI(c, name, call)                                  \
    do {                                                          \
        int coord_rc_ = (call);                                   \
        if (coord_rc_ != MPI_SUCCESS)                             \
            return mpi_failed((c), coord_rc_, name, __LINE__);    \
    } while (0)

/* The cell time queue_depth plans with: an exponential moving average
 * (cells go longest first, so the times fall as the sweep goes). */
#define CELL_TIME_WEIGHT 0.2
static void note_cell_time(coord_t *c, double wall_s)
{
    if (!(wall_s >= 0.0) || !isfinite(wall_s))
        return;   /* a worker's clock is not trusted blindly */
    c->cell_s = c->n_timed++ ? c->cell_s + CELL_TIME_WEIGHT * (wall_s - c->cell_s) : wall_s;
}

/* How many cells one slot may hold now (internal.h: TINY_QUEUE): one each
 * until every slot has had a cell and a result has been timed - so a
 * sweep of tiny cells is shared by every rank instead of filling the
 * first slot's queue -, then QUEUE_AHEAD_S of measured cell time, at
 * most a fair share of the cells not yet stored (the tail balances). */
static int queue_depth(const coord_t *c, size_t not_handed)
{
    if (c->n_started < c->n_slots || c->n_timed == 0)
        return 1;
    size_t held = 0;
    for (int s = 0; s < c->n_slots; s++)
        held += (size_t)c->outstanding[s];
    size_t share = (not_handed + held + (size_t)c->n_slots - 1) / (size_t)c->n_slots;
    double ahead = ceil(QUEUE_AHEAD_S / fmax(c->cell_s, 1e-7));
    size_t depth = ahead < TINY_QUEUE ? (size_t)ahead : TINY_QUEUE;
    depth = depth < share ? depth : share;
    return depth < 1 ? 1 : (int)depth;
}

static int store_packed(coord_t *c, const void *buf, size_t len)
{
    gs_result_t r;
    gs_pack_meta_t meta;
    if (gs_unpack_result(buf, len, &r, &meta) != 0 || meta.cell < 0 ||
        (size_t)meta.cell >= c->sw->n_cells) {
        snprintf(c->err, sizeof c->err, "a malformed result arrived (%zu bytes)", len);
        return -1;
    }
    gs_put_meta_t pm = {meta.rank, meta.threads, meta.host, meta.wall_s};
    note_cell_time(c, meta.wall_s);
    const gs_sweep_cell_t *cell = &c->sw->cells[meta.cell];
    int rc = gs_store_put(c->store, c->sw, cell, &r, &pm, c->err, sizeof c->err);
    if (rc == 0) {
        c->uncommitted++;
        gs_progress_add(&c->bar, &r, cell->flops);
    }
    gs_result_free(&r);
    return rc;
}

static int maybe_commit(coord_t *c, int force)
{
    double now = gs_now();
    if (force || (c->uncommitted && now - c->last_commit >= COMMIT_EVERY_S) ||
        now - c->last_heartbeat >= GS_HEARTBEAT_EVERY_S) {
        if (gs_store_commit(c->store, c->err, sizeof c->err) != 0)
            return -1;
        c->uncommitted = 0;
        c->last_commit = c->last_heartbeat = now;
    }
    return 0;
}

/* GRADSWEEP_TEST_MPI_FAIL=K: the K-th cell sent to a worker rank is sent
 * to rank `size` instead, which does not exist, so that MPI_Send fails
 * as it does when a peer is lost: tests/multihost.sh checks the run's own
 * ending (end_lost_peer) that way. The destination of that send. */
static int test_destination(int slot, int size)
{
    static long sent, fail_at = -1;
    if (fail_at < 0) {
        const char *e = getenv("GRADSWEEP_TEST_MPI_FAIL");
        fail_at = e ? atol(e) : 0;
    }
    return fail_at > 0 && ++sent == fail_at ? size : slot;
}

/* Hand out the next cells, longest first, to whichever slot has room:
 * record them in flight and commit, then send them. */
static int hand_out(coord_t *c, const int64_t *pending, size_t n_pending, size_t *next)
{
    size_t from = *next, to = from;
    int count[c->n_slots];
    int depth = queue_depth(c, n_pending - from);
    for (int s = 0; s < c->n_slots; s++) {
        size_t k = to;
        /* a slot is topped up once it is down to half its depth: one
         * commit of in_flight rows per half queue, not per cell */
        if (to < n_pending && c->outstanding[s] > depth / 2) {
            count[s] = 0;
            continue;
        }
        while (to < n_pending && c->outstanding[s] + (int)(to - k) < depth)
            to++;
        count[s] = (int)(to - k);
        assert(count[s] <= TINY_QUEUE);
    }
    if (to == from)
        return 0;
    for (size_t i = from; i < to; i++)
        c->handout[i - from] = c->sw->cells[pending[i]].hash;
    size_t at = 0;
    for (int s = 0; s < c->n_slots; s++) {
        if (count[s] && gs_store_mark_in_flight(c->store, c->handout + at, (size_t)count[s], s,
                                                c->err, sizeof c->err) != 0)
            return -1;
        at += (size_t)count[s];
    }
    if (maybe_commit(c, 1) != 0)
        return -1;
    for (int s = 0; s < c->n_slots; s++)
        for (int k = 0; k < count[s]; k++) {
            int64_t idx = pending[(*next)++];
            if (s == 0)
                dv_local_push(&c->lw, idx);
            else
                COORD_MPI(c, "MPI_Send", MPI_Send(&idx, 1, MPI_INT64_T,
                                                  test_destination(s, c->n_slots), TAG_WORK,
                                                  MPI_COMM_WORLD));
            c->n_started += !c->had_work[s];
            c->had_work[s] = 1;
            c->outstanding[s]++;
            gs_progress_start(&c->bar, c->sw->cells[idx].flops);
        }
    assert(*next == to);
    return 0;
}

/* One message of any size from any rank into c->rbuf: 1 with its length
 * and source, 0 when none waits, -1 out of memory or an MPI call failed
 * (c->lost_peer). */
static int receive_any(coord_t *c, size_t *len, int *source)
{
    int flag;
    MPI_Status st;
    COORD_MPI(c, "MPI_Iprobe", MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &st));
    if (!flag)
        return 0;
    int count;
    COORD_MPI(c, "MPI_Get_count", MPI_Get_count(&st, MPI_BYTE, &count));
    if ((size_t)count > c->rcap) {
        free(c->rbuf);
        c->rcap = (size_t)count * 2;
        if (!(c->rbuf = malloc(c->rcap))) {
            c->rcap = 0;
            snprintf(c->err, sizeof c->err, "out of memory receiving a result");
            return -1;
        }
    }
    COORD_MPI(c, "MPI_Recv", MPI_Recv(c->rbuf, count, MPI_BYTE, st.MPI_SOURCE, TAG_RESULT,
                                      MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    *len = (size_t)count;
    *source = st.MPI_SOURCE;
    return 1;
}

static void inbox_add(coord_t *c, dv_packed_t *p)
{
    for (; p; p = p->next) {
        if (c->inbox_tail)
            c->inbox_tail->next = p;
        else
            c->inbox = p;
        c->inbox_tail = p;
    }
}

static void inbox_free(coord_t *c)
{
    for (dv_packed_t *p = c->inbox, *nx; p; p = nx) {
        nx = p->next;
        free(p->buf);
        free(p);
    }
    c->inbox = c->inbox_tail = NULL;
}

/* Every result the ranks have sent, received into the inbox, a buffer
 * each: receiving is quick and storing is not, and a rank whose results
 * wait unreceived stalls in MPI_Send once its eager buffers are used up
 * (tiny cells: rank 1 ran one cell in eight while rank 0 stored a batch
 * of its compute thread's). 0, or -1 when memory is short. */
static int receive_all(coord_t *c)
{
    int got, source;
    size_t len;
    while ((got = receive_any(c, &len, &source)) == 1) {
        dv_packed_t *p = malloc(sizeof *p);
        void *buf = malloc(len ? len : 1);
        if (!p || !buf) {
            free(p);
            free(buf);
            snprintf(c->err, sizeof c->err, "out of memory receiving a result");
            return -1;
        }
        if (len == 0) {
            /* a worker rank's last message: it follows its results */
            assert(c->drain.signo && c->drain.ranks_left > 0);
            free(p);
            free(buf);
            c->drain.ranks_left--;
            continue;
        }
        memcpy(buf, c->rbuf, len);
        *p = (dv_packed_t){NULL, buf, len, source};
        inbox_add(c, p);
    }
    return got;
}

/* Results stored per call, so that the loop hands out and commits in
 * between when results arrive faster than they are stored. */
#define STORE_BATCH 64

/* Store what has arrived - from the ranks and from the local compute
 * thread - receiving again after each result stored. 1 when any was, 0
 * when none, -1 on error. */
static int take_results(coord_t *c)
{
    if (receive_all(c) < 0)
        return -1;
    inbox_add(c, dv_local_take(&c->lw));
    int activity = 0;
    for (int k = 0; k < STORE_BATCH && c->inbox; k++) {
        dv_packed_t *p = c->inbox;
        if (!(c->inbox = p->next))
            c->inbox_tail = NULL;
        int rc = store_packed(c, p->buf, p->len);
        if (rc == 0) {
            c->outstanding[p->slot]--;
            c->received++;
            activity = 1;
        }
        free(p->buf);
        free(p);
        if (rc != 0 || receive_all(c) < 0)
            return -1;   /* coordinate frees the rest */
    }
    return activity;
}

/* The drain (SIGUSR1, or SIGTERM with a grace): started once - every
 * worker rank told DROP_CELL (finish the cell you run, drop the rest,
 * send your last message), the compute thread's queue dropped - and
 * then followed: c->drain.done once every worker rank has sent its last
 * message and every result is stored. 0, or the signal that ends the run
 * at once: SIGTERM when its grace is over; a failed MPI call sets
 * c->lost_peer. */
static int drain_step(coord_t *c)
{
    double now = gs_now();
    if (got_term && !isfinite(c->drain.deadline) && c->drain.signo != SIGTERM) {
        c->drain.deadline = now + term_grace_s;
        if (c->drain.signo)
            fprintf(stderr, "\nSIGTERM: the drain has %.0f s left\n", term_grace_s);
    }
    if (!c->drain.signo && (got_drain || got_term)) {
        c->drain.signo = got_drain ? SIGUSR1 : SIGTERM;
        c->drain.ranks_left = c->n_slots - 1;
        int64_t how = DROP_CELL;
        for (int r = 1; r < c->n_slots; r++) {
            int code = MPI_Send(&how, 1, MPI_INT64_T, r, TAG_WORK, MPI_COMM_WORLD);
            if (code != MPI_SUCCESS) {   /* coordinate sees c->lost_peer */
                mpi_failed(c, code, "MPI_Send (drain)", __LINE__);
                return 0;
            }
        }
        dv_local_drop(&c->lw);
        int running = 0;
        for (int s = 0; s < c->n_slots; s++)
            running += c->outstanding[s] > 0;
        fprintf(stderr, "\n%s: draining - no more cells handed out; waiting for the cells "
                "running on %d worker%s", c->drain.signo == SIGUSR1 ? "SIGUSR1" : "SIGTERM",
                running, running == 1 ? "" : "s");
        if (isfinite(c->drain.deadline))
            fprintf(stderr, " (at most %.0f s)", term_grace_s);
        fprintf(stderr, "\n");
    }
    if (c->drain.signo && isfinite(c->drain.deadline) && now > c->drain.deadline)
        return SIGTERM;
    if (c->drain.signo && c->drain.ranks_left == 0 && !c->inbox && dv_local_idle(&c->lw))
        c->drain.done = 1;
    return 0;
}

/* Run the pending cells: hand out, store what arrives, commit, draw the
 * progress, until all are stored (0), a drain is done (0,
 * c->drain.done), a signal arrives (0, *interrupted set: the compute
 * thread is left running, the process ends soon) or a write fails (-1,
 * c->err says why). */
static int coordinate(coord_t *c, int threads, const char *host, const int64_t *pending,
                      size_t n_pending, int *interrupted)
{
    pthread_t tid;
    int rc = -1;
    c->outstanding = calloc((size_t)c->n_slots, sizeof *c->outstanding);
    c->handout = malloc((size_t)c->n_slots * TINY_QUEUE * sizeof *c->handout);
    c->had_work = calloc((size_t)c->n_slots, 1);
    if (!c->outstanding || !c->handout || !c->had_work ||
        dv_local_start(&c->lw, c->sw, threads, c->n_slots > 1, host, &tid) != 0) {
        snprintf(c->err, sizeof c->err, "out of memory, or no compute thread");
        free(c->outstanding);
        free(c->handout);
        free(c->had_work);
        return -1;
    }
    size_t next = 0;
    c->last_commit = c->last_heartbeat = gs_now();
    c->drain.deadline = INFINITY;
    while (c->received < n_pending || (c->drain.signo && !c->drain.done)) {
        int stop = got_signal ? got_signal : drain_step(c);
        if (c->lost_peer)
            goto out;
        if (stop) {
            *interrupted = stop;
            break;
        }
        if (c->drain.done)
            break;
        if (!c->drain.signo && hand_out(c, pending, n_pending, &next) != 0)
            goto out;
        int activity = take_results(c);
        if (activity < 0 || maybe_commit(c, 0) != 0)
            goto out;
        gs_progress_draw(&c->bar, 0);
        if (!activity)
            dv_nap(IDLE_SLEEP_NS);
    }
    rc = 0;
out:
    if (!*interrupted && !c->lost_peer)   /* else the process ends soon */
        dv_local_stop(&c->lw, tid);
    inbox_free(c);
    free(c->rbuf);
    c->rbuf = NULL;
    c->rcap = 0;
    free(c->outstanding);
    free(c->handout);
    free(c->had_work);
    return rc;
}

/* Tell every worker rank to stop (STOP_CELL: after what it holds;
 * DROP_CELL: after the cell it runs) and wait until each has answered
 * with its empty last message, discarding results that still arrive: the
 * job then ends through MPI_Finalize, not MPI_Abort. -1 when an MPI call
 * failed (c->lost_peer) or memory ran out. */
static int finish_workers(coord_t *c, int size, int64_t how)
{
    int rc = 0;
    /* a drain has told them (DROP_CELL) and counted their last messages */
    int left = c->drain.signo ? c->drain.ranks_left : size - 1;
    for (int r = 1; r < size && rc == 0 && !c->drain.signo; r++) {
        int code = MPI_Send(&how, 1, MPI_INT64_T, r, TAG_WORK, MPI_COMM_WORLD);
        if (code != MPI_SUCCESS)
            rc = mpi_failed(c, code, "MPI_Send (stop)", __LINE__);
    }
    while (left > 0 && rc == 0) {
        size_t len;
        int source, got = receive_any(c, &len, &source);
        if (got < 0)
            rc = -1;
        else if (got == 0)
            dv_nap(IDLE_SLEEP_NS);
        else if (len == 0)
            left--;
    }
    free(c->rbuf);
    c->rbuf = NULL;
    c->rcap = 0;
    return rc;
}

/* ---- rank 0: the run and its four endings ---- */

/* Commit what arrived and end the session as interrupted, clearing the
 * in_flight rows of the cells cut short, in one transaction (the ending's
 * COMMIT takes the open batch along): under mpirun SIGKILL follows the
 * SIGTERM within odls_base_sigkill_timeout, and a session left running
 * holds the database for other hosts until its heartbeat ages. Says so
 * when it fails. */
static void close_interrupted(dv_job_t *j, coord_t *c)
{
    /* a rank that crashed is why mpirun signalled us: its death counts
     * (dv_crash_read_log) before the in_flight rows are cleared */
    int ok = dv_crash_read_log(c->store, j->err, sizeof j->err) == 0 &&
             gs_store_end_session(c->store, GS_SESSION_INTERRUPTED, thread_cpu(), j->err,
                                  sizeof j->err) == 0;
    gs_store_close(c->store);
    if (!ok)
        fprintf(stderr, "gradsweep run: the last commit failed: %s\n", c->err[0] ? c->err : j->err);
}

/* SIGINT/SIGTERM: commit what arrived, end the session as interrupted
 * (clearing the in_flight rows of the cells cut short: they run again
 * next time). Under mpirun the ranks have about a second: Open MPI's
 * mpirun, signalled, sends every rank SIGTERM and SIGKILL a second later
 * (odls_base_sigkill_timeout), so the hint is printed first, while mpirun
 * still forwards output, and no rank waits for another. Does not
 * return. */
static void end_interrupted(dv_job_t *j, const gs_run_options_t *opt, coord_t *c, int sig)
{
    char cmd[8192];
    dv_command_text(opt, cmd, sizeof cmd);
    fprintf(stderr, "interrupted by %s: %zu cells of this run stored; rerun the same command "
            "to resume:\n  %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM", c->bar.done, cmd);
    close_interrupted(j, c);
    /* no MPI_Finalize: the workers may be deep in a long cell, and mpirun
     * ends them; no MPI_Abort either, whose banner would read as a bug */
    _exit(GS_EXIT_INTERRUPTED);
}

/* A rank was lost (an MPI call failed: its host died, its link was cut):
 * the same ending as an interruption - what arrived committed, the
 * session interrupted, the resume hint - with exit status 1. No
 * MPI_Finalize, which would wait for the lost rank, nor MPI_Abort: mpirun
 * ends the ranks that are left. Does not return. */
static void end_lost_peer(dv_job_t *j, const gs_run_options_t *opt, coord_t *c)
{
    char cmd[8192];
    dv_command_text(opt, cmd, sizeof cmd);
    fprintf(stderr, "gradsweep run: a rank was lost (its host, its link or its process): %s\n"
            "%zu cells of this run stored; rerun the same command to resume (from any host "
            "that sees %s):\n  %s\n", c->err, c->bar.done, j->dbpath, cmd);
    c->err[0] = '\0';
    close_interrupted(j, c);
    _exit(GS_EXIT_RUNTIME);
}

/* A write failed (a full disk, say): stop the workers, keep what was
 * committed, and end the job cleanly with the reason. */
static int end_failed(dv_job_t *j, const gs_run_options_t *opt, coord_t *c)
{
    fprintf(stderr, "gradsweep run: %s\n", c->err);
    c->err[0] = '\0';
    if (finish_workers(c, j->size, DROP_CELL) != 0)
        end_lost_peer(j, opt, c);
    char err[1024];
    if (maybe_commit(c, 1) == 0)
        gs_store_end_session(c->store, GS_SESSION_INTERRUPTED, thread_cpu(), err, sizeof err);
    gs_store_close(c->store);
    fprintf(stderr, "gradsweep run: stopped; the cells committed before are kept in %s, and "
            "rerunning the same command resumes\n", j->dbpath);
    return GS_EXIT_RUNTIME;
}

/* Exit 3 when cells of the config are stored as failed or crashed (by
 * this run or an earlier one), naming what lists and reruns them. */
static int unfinished_code(dv_job_t *j, const gs_run_options_t *opt, gs_store_t *st)
{
    uint64_t *h;
    size_t n;
    if (gs_store_unfinished_hashes(st, &h, &n, j->err, sizeof j->err) != 0) {
        fprintf(stderr, "gradsweep run: %s\n", j->err);
        return GS_EXIT_RUNTIME;
    }
    long orphans = gs_store_orphans(&j->sw, h, n, NULL);
    long bad = orphans < 0 ? (long)n : (long)n - orphans;
    free(h);
    if (bad <= 0)
        return GS_EXIT_OK;
    char cmd[8192];
    dv_command_text(opt, cmd, sizeof cmd);
    fprintf(stderr, "%ld cell%s of the config %s stored as failed or crashed: gradsweep status %s "
            "lists them with their error; rerun them with\n  %s --retry\n",
            bad, bad == 1 ? "" : "s", bad == 1 ? "is" : "are", j->dbpath, cmd);
    return GS_EXIT_CELLS_FAILED;
}

static int end_done(dv_job_t *j, const gs_run_options_t *opt, coord_t *c, double cpu0)
{
    if (finish_workers(c, j->size, STOP_CELL) != 0)
        end_lost_peer(j, opt, c);
    double wall = gs_now() - c->bar.start, cpu = thread_cpu() - cpu0;
    int code = 0;
    if (maybe_commit(c, 1) != 0 ||
        gs_store_end_session(c->store, GS_SESSION_DONE, cpu, j->err, sizeof j->err) != 0) {
        fprintf(stderr, "gradsweep run: %s\n", c->err[0] ? c->err : j->err);
        code = GS_EXIT_RUNTIME;
    } else {
        fprintf(stderr, "done: %zu cells stored in %s (%.2f s, %.1f cells/s; coordinator CPU "
                "%.3f s = %.1f%% of the wall time)\n", c->bar.done, j->dbpath, wall,
                wall > 0 ? (double)c->bar.done / wall : 0.0, cpu,
                wall > 0 ? 100.0 * cpu / wall : 0.0);
        code = unfinished_code(j, opt, c->store);
    }
    gs_store_close(c->store);
    return code;
}

/* A drain is done (SIGUSR1, or SIGTERM within its grace): every cell
 * that was running is stored. Commit, end the session as interrupted
 * (the in_flight rows of the cells dropped are cleared), say what is
 * stored and what to resubmit; the workers have finished, so the job
 * ends through MPI_Finalize: exit 130, no MPI_ABORT banner. */
static int end_drained(dv_job_t *j, const gs_run_options_t *opt, coord_t *c, size_t n_cells)
{
    char cmd[8192];
    dv_command_text(opt, cmd, sizeof cmd);
    long stored = -1;
    int ok = maybe_commit(c, 1) == 0 &&
             gs_store_end_session(c->store, GS_SESSION_INTERRUPTED, thread_cpu(), j->err,
                                  sizeof j->err) == 0 &&
             (stored = gs_store_count_runs(c->store)) >= 0;
    gs_store_close(c->store);
    if (!ok) {
        fprintf(stderr, "gradsweep run: the drain's last commit failed: %s\n",
                c->err[0] ? c->err : j->err);
        return GS_EXIT_RUNTIME;
    }
    fprintf(stderr, "drained by %s: %zu cells stored by this run, none of those running lost; "
            "%ld cells stored in %s, %zu of the %zu this run was to compute left. Resubmit the "
            "same command to resume:\n  %s\n", c->drain.signo == SIGUSR1 ? "SIGUSR1" : "SIGTERM",
            c->bar.done, stored, j->dbpath, c->bar.total - c->bar.done, n_cells, cmd);
    const char *job = getenv("SLURM_JOB_ID");
    if (job)
        fprintf(stderr, "Slurm job %s: sbatch the same script with the same arguments again, or "
                "let --requeue / an afternotok dependency do it (pipeline/slurm.sbatch)\n", job);
    return GS_EXIT_INTERRUPTED;
}

int dv_run_coordinator(dv_job_t *j, const gs_run_options_t *opt, gs_store_t *store,
                           int64_t *pending, size_t n_pending, double flops_total)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    term_grace_s = opt->term_grace_s;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    size_t n_cells = 0;   /* of the experiments selected (and the shard) */
    for (size_t i = 0; i < j->sw.n_cells; i++)
        n_cells += j->selected[j->sw.cells[i].experiment] &&
                   gs_shard_holds(j->sw.cells[i].hash, opt->shard_index, opt->shard_count);
    char shard[64] = "";
    if (opt->shard_count)
        snprintf(shard, sizeof shard, " in shard %d/%d", opt->shard_index, opt->shard_count);
    char reused[4200] = "";
    if (opt->reuse_path)
        snprintf(reused, sizeof reused, " (%zu of them reused: copied from %s)", j->n_reused,
                 opt->reuse_path);
    fprintf(stderr, "sweep %s: %zu cells%s%s, %zu stored already%s, %zu to run on %d rank%s x %d "
            "thread%s -> %s\n", j->sw.name, n_cells, opt->n_experiments ? " of the experiments "
            "chosen" : "", shard, n_cells - n_pending, reused, n_pending, j->size,
            j->size == 1 ? "" : "s", j->threads, j->threads == 1 ? "" : "s", j->dbpath);
    coord_t c = {.sw = &j->sw, .store = store, .n_slots = j->size};
    double cpu0 = thread_cpu();
    gs_progress_init(&c.bar, n_pending, flops_total, j->size * j->threads);
    int interrupted = 0;
    int rc = coordinate(&c, j->threads, j->host, pending, n_pending, &interrupted);
    gs_progress_draw(&c.bar, 1);
    free(pending);
    if (interrupted)
        end_interrupted(j, opt, &c, interrupted);
    if (rc != 0 && c.lost_peer)
        end_lost_peer(j, opt, &c);
    if (rc == 0 && c.drain.done && c.received < n_pending)
        return end_drained(j, opt, &c, n_pending);
    return rc != 0 ? end_failed(j, opt, &c) : end_done(j, opt, &c, cpu0);
}
