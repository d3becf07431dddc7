/* Rank 0's main thread: hands cells out longest first, receives results
 * into an inbox and stores them, commits, and ends the run one of four
 * ways (done, failed, interrupted, a rank lost). */
#include <config.h>

#include "driver/internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
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

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
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

static int queue_depth(double flops)
{
    return flops < TINY_CELL_FLOPS ? TINY_QUEUE : flops < SHORT_CELL_FLOPS ? SHORT_QUEUE : 1;
}

typedef struct {
    const gs_sweep_t *sw;
    gs_store_t *store;
    gs_progress_bar_t bar;
    size_t uncommitted;
    double last_commit, last_heartbeat;
    int n_slots;             /* slot 0: the local compute thread; slot r: rank r */
    int *outstanding;        /* cells each slot holds */
    uint64_t *handout;       /* the hashes of one hand-out, TINY_QUEUE per slot */
    dv_local_worker_t lw;
    void *rbuf;              /* receive buffer */
    size_t rcap, received;
    dv_packed_t *inbox, *inbox_tail;   /* results received, not stored yet */
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
    for (int s = 0; s < c->n_slots; s++) {
        size_t k = to;
        /* a slot is topped up once it is down to half its depth: one
         * commit of in_flight rows per half queue, not per cell */
        if (to < n_pending &&
            c->outstanding[s] > queue_depth(c->sw->cells[pending[to]].flops) / 2) {
            count[s] = 0;
            continue;
        }
        while (to < n_pending &&
               c->outstanding[s] + (int)(to - k) < queue_depth(c->sw->cells[pending[to]].flops))
            to++;
        count[s] = (int)(to - k);
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
            c->outstanding[s]++;
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

/* Run the pending cells: hand out, store what arrives, commit, draw the
 * progress, until all are stored (0), a signal arrives (0, *interrupted
 * set: the compute thread is left running, the process ends soon) or a
 * write fails (-1, c->err says why). */
static int coordinate(coord_t *c, int threads, const char *host, const int64_t *pending,
                      size_t n_pending, int *interrupted)
{
    pthread_t tid;
    int rc = -1;
    c->outstanding = calloc((size_t)c->n_slots, sizeof *c->outstanding);
    c->handout = malloc((size_t)c->n_slots * TINY_QUEUE * sizeof *c->handout);
    if (!c->outstanding || !c->handout || dv_local_start(&c->lw, c->sw, threads, c->n_slots > 1, host, &tid) != 0) {
        snprintf(c->err, sizeof c->err, "out of memory, or no compute thread");
        free(c->outstanding);
        free(c->handout);
        return -1;
    }
    size_t next = 0;
    c->last_commit = c->last_heartbeat = gs_now();
    while (c->received < n_pending) {
        if (got_signal) {
            *interrupted = got_signal;
            break;
        }
        if (hand_out(c, pending, n_pending, &next) != 0)
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
    for (int r = 1; r < size && rc == 0; r++) {
        int code = MPI_Send(&how, 1, MPI_INT64_T, r, TAG_WORK, MPI_COMM_WORLD);
        if (code != MPI_SUCCESS)
            rc = mpi_failed(c, code, "MPI_Send (stop)", __LINE__);
    }
    for (int left = size - 1; left > 0 && rc == 0;) {
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

int dv_run_coordinator(dv_job_t *j, const gs_run_options_t *opt, gs_store_t *store,
                           int64_t *pending, size_t n_pending, double flops_total)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    size_t n_cells = 0;   /* of the experiments selected */
    for (size_t e = 0; e < j->sw.n_experiments; e++)
        n_cells += j->selected[e] ? j->sw.experiments[e].n_cells : 0;
    char reused[4200] = "";
    if (opt->reuse_path)
        snprintf(reused, sizeof reused, " (%zu of them reused: copied from %s)", j->n_reused,
                 opt->reuse_path);
    fprintf(stderr, "sweep %s: %zu cells%s, %zu stored already%s, %zu to run on %d rank%s x %d "
            "thread%s -> %s\n", j->sw.name, n_cells, opt->n_experiments ? " of the experiments "
            "chosen" : "", n_cells - n_pending, reused, n_pending, j->size,
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
    return rc != 0 ? end_failed(j, opt, &c) : end_done(j, opt, &c, cpu0);
}
