#include <config.h>

#include "driver/driver.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#ifdef HAVE_MPI
#include <mpi.h>
#else
#include "driver/mpi_single.h"   /* --without-mpi: the one-rank sweep */
#endif
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "driver/pack.h"
#include "driver/progress.h"
#include "experiment/experiment.h"
#include "store/reuse.h"
#include "store/store.h"
#include "sweep/sweep.h"
#include "util/clock.h"
#include "util/files.h"
#include "util/exit.h"
#include "util/hash.h"

enum { TAG_WORK = 1, TAG_RESULT = 2 };
#define STOP_CELL (-1)   /* run what you hold, then stop */
#define DROP_CELL (-2)   /* finish the cell you run, drop the rest, stop */
#define COMMIT_EVERY_S 1.0
#define HEARTBEAT_EVERY_S 10.0
#define IDLE_SLEEP_NS 1000000L   /* 1 ms between polls when nothing happens */

/* MPI_CHECK: MPI errors are fatal for the whole job; say where. */
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

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

/* A worker rank's SIGINT/SIGTERM (mpirun sends SIGTERM to every rank when
 * it is interrupted, then SIGKILL a second later): its cell is lost
 * anyway and rank 0 does the bookkeeping, so it ends at once with the
 * interrupted status rather than dying of the signal. */
static void on_worker_signal(int sig)
{
    (void)sig;
    _exit(GS_EXIT_INTERRUPTED);
}

static double thread_cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void nap(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

static const gs_sweep_hooks_t check_hooks = {gs_experiment_check, gs_experiment_flops};
static const gs_sweep_hooks_t cost_hooks = {NULL, gs_experiment_flops};

/* ---- a cell that kills its process ---- */

/* A cell that crashes its process (a segfault, an abort) takes the job
 * with it, and a rerun would run it again and die again. So every rank
 * catches the fatal signals: the handler appends "<config hash> <signal>"
 * to the crash log next to the database (<db>-crashes; open/write/close
 * are async-signal-safe), says so on stderr, and dies of the signal as it
 * would have. The next run counts one death for each cell the log names
 * that rank 0 had recorded in flight, and stores a cell that died
 * GS_DEATHS_TO_CRASHED times as crashed instead of running it (docs/architecture.md, "Faults"). A
 * rank's process runs one cell at a time, so one global names it. */
static char crash_log[4096 + 16];   /* <db>-crashes; empty: not known */
static char crash_cell[18];         /* "<16 hex digits> " of the running cell */
static volatile sig_atomic_t crash_armed;
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

static size_t put_str(char *buf, size_t at, size_t cap, const char *s)
{
    while (*s && at + 1 < cap)
        buf[at++] = *s++;
    return at;
}

static void on_fatal(int sig)
{
    if (crash_armed && crash_log[0]) {
        char num[12], rev[12];
        size_t d = 0, k = 0;
        for (int v = sig; v > 0 && d < sizeof rev; v /= 10)
            rev[d++] = (char)('0' + v % 10);
        while (d > 0)
            num[k++] = rev[--d];
        num[k] = '\0';
        char line[64], msg[sizeof crash_log + 128];
        size_t n = put_str(line, 0, sizeof line, crash_cell);
        n = put_str(line, n, sizeof line, num);
        n = put_str(line, n, sizeof line, "\n");
        int fd = open(crash_log, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fd >= 0) {
            ssize_t w = write(fd, line, n);
            (void)w;
            close(fd);
        }
        size_t m = put_str(msg, 0, sizeof msg, "gradsweep: cell ");
        m = put_str(msg, m, sizeof msg, crash_cell);
        m = put_str(msg, m, sizeof msg, "killed its process (signal ");
        m = put_str(msg, m, sizeof msg, num);
        m = put_str(msg, m, sizeof msg, "); noted in ");
        m = put_str(msg, m, sizeof msg, crash_log);
        m = put_str(msg, m, sizeof msg, "\n");
        ssize_t w = write(STDERR_FILENO, msg, m);
        (void)w;
    }
    /* SA_RESETHAND restored the default action: die of the signal */
    raise(sig);
}

static void catch_fatal_signals(const char *dbpath)
{
    snprintf(crash_log, sizeof crash_log, "%s-crashes", dbpath);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < sizeof fatal_signals / sizeof *fatal_signals; i++)
        sigaction(fatal_signals[i], &sa, NULL);
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "a signal";
    }
}

/* ---- running one cell (any rank, any thread; no MPI) ---- */

/* GRADSWEEP_TEST_CELL_DELAY=S makes every cell last S seconds longer: the
 * tests that interrupt a sweep mid-way need one that outlasts their
 * timers, and the engine alone is too fast for that. Not for users. */
static void test_cell_delay(void)
{
    const char *env = getenv("GRADSWEEP_TEST_CELL_DELAY");
    double s = env ? strtod(env, NULL) : 0.0;
    if (s > 0.0 && s < 60.0) {
        struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* GRADSWEEP_TEST_CRASH=<config hash> makes that cell kill its process
 * with SIGSEGV, as a bug in the engine would: the crash tests need one.
 * Not for users. */
static void test_cell_crash(const gs_sweep_cell_t *cell)
{
    const char *env = getenv("GRADSWEEP_TEST_CRASH");
    if (env && strcmp(env, cell->hash_hex) == 0)
        raise(SIGSEGV);
}

static void *run_cell(const gs_sweep_t *sw, int64_t index, int rank, int threads,
                      const char *host, size_t *len)
{
    assert(index >= 0 && (size_t)index < sw->n_cells);
    const gs_sweep_cell_t *cell = &sw->cells[index];
    gs_result_t r;
    double t0 = gs_now();
    snprintf(crash_cell, sizeof crash_cell, "%s ", cell->hash_hex);
    crash_armed = 1;
    test_cell_crash(cell);
    gs_experiment_run(&cell->cell, &r, NULL);   /* failures come back in r */
    test_cell_delay();
    crash_armed = 0;
    gs_pack_meta_t meta = {.cell = index, .rank = rank, .threads = threads,
                           .wall_s = gs_now() - t0};
    snprintf(meta.host, sizeof meta.host, "%s", host);
    void *buf = gs_pack_result(&r, &meta, len);
    gs_result_free(&r);
    return buf;
}

/* ---- rank 0's compute thread: a worker behind a mutex ---- */

typedef struct packed {
    struct packed *next;
    void *buf;
    size_t len;
    int slot;                /* who ran it: 0 the compute thread, r rank r */
} packed_t;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t *queue;          /* cell indices to run */
    size_t q_head, q_len, q_cap;
    packed_t *results, *results_tail;
    int stop;
    const gs_sweep_t *sw;
    int threads;
    int background;          /* other ranks run cells too */
    char host[64];
} local_worker_t;

/* Whatever computes cells on rank 0's machine - rank 0's compute thread
 * when there are other ranks, and the ranks on that machine - yields to
 * the coordinator: it runs at a nice value BACKGROUND_NICE above the
 * coordinator's (Linux gives each thread its own; OpenMP threads started
 * later inherit it), which gets it a third of the coordinator's share of
 * a core they contend for. With tiny cells on 2 cores the coordinator,
 * the compute thread and rank 1 (and rank 2) contended for the 2 cores,
 * and more ranks stored fewer cells a second; where cells are long the
 * coordinator sleeps, and the workers have the cores. Not more: on a
 * machine others use too, a thread at nice 19 would get almost nothing. */
#define BACKGROUND_NICE 5

static void run_in_background(void)
{
#if defined(__linux__) && defined(SYS_gettid)
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int now = getpriority(PRIO_PROCESS, tid);
    if (errno == 0)
        (void)setpriority(PRIO_PROCESS, tid, now + BACKGROUND_NICE);   /* advice only */
#endif
}

static void *local_main(void *arg)
{
    local_worker_t *w = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* signals are the coordinator's */
    if (w->background)
        run_in_background();
#ifdef _OPENMP
    omp_set_num_threads(w->threads);          /* ICVs are per thread */
#endif
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->stop && w->q_len == 0)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        int64_t idx = w->queue[w->q_head];
        w->q_head = (w->q_head + 1) % w->q_cap;
        w->q_len--;
        pthread_mutex_unlock(&w->mu);
        packed_t *p = calloc(1, sizeof *p);
        if (p)
            p->buf = run_cell(w->sw, idx, 0, w->threads, w->host, &p->len);
        if (!p || !p->buf) {
            fprintf(stderr, "gradsweep: out of memory packing a result\n");
            abort();
        }
        pthread_mutex_lock(&w->mu);
        if (w->results_tail)
            w->results_tail->next = p;
        else
            w->results = p;
        w->results_tail = p;
        pthread_mutex_unlock(&w->mu);
    }
}

static void local_push(local_worker_t *w, int64_t idx)
{
    pthread_mutex_lock(&w->mu);
    w->queue[(w->q_head + w->q_len) % w->q_cap] = idx;
    w->q_len++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static packed_t *local_take(local_worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    packed_t *p = w->results;
    w->results = w->results_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    return p;
}

/* ---- remote workers (ranks > 0) ---- */

/* Take every assignment that has arrived into the ring queue; STOP_CELL
 * ends the loop once the queue is empty, DROP_CELL empties it first. */
typedef struct {
    int64_t *q;
    size_t head, len, cap;
    int stopping;
} ring_t;

static void ring_push(ring_t *r, int64_t idx)
{
    if (r->len == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        int64_t *q = malloc(cap * sizeof *q);
        if (!q)
            MPI_Abort(MPI_COMM_WORLD, 1);
        for (size_t i = 0; i < r->len; i++)
            q[i] = r->q[(r->head + i) % r->cap];
        free(r->q);
        r->q = q;
        r->head = 0;
        r->cap = cap;
    }
    r->q[(r->head + r->len++) % r->cap] = idx;
}

static void take_assignments(ring_t *r)
{
    for (;;) {
        int flag;
        MPI_Status st;
        MPI_CHECK(MPI_Iprobe(0, TAG_WORK, MPI_COMM_WORLD, &flag, &st));
        if (flag) {
            int64_t idx;
            MPI_CHECK(MPI_Recv(&idx, 1, MPI_INT64_T, 0, TAG_WORK, MPI_COMM_WORLD,
                               MPI_STATUS_IGNORE));
            if (idx == STOP_CELL || idx == DROP_CELL)
                r->stopping = 1;
            if (idx == DROP_CELL)
                r->len = 0;
            else if (idx != STOP_CELL)
                ring_push(r, idx);
            continue;
        }
        if (r->len > 0 || r->stopping)
            return;
        nap(IDLE_SLEEP_NS);   /* wait politely while idle */
    }
}

/* Results on their way to rank 0, sent with MPI_Isend: a worker goes on
 * with its next cell instead of spinning in MPI_Send while rank 0, busy
 * storing, has not taken the last ones in (with tiny cells rank 1 spent
 * two thirds of its time there, and ran one cell in eight). Each buffer
 * is freed once its send completes. */
typedef struct {
    MPI_Request *req;
    void **buf;
    size_t n, cap;
} sends_t;

/* Free the buffers of the sends that completed (n = 0 and wait: all). */
static void sends_reap(sends_t *s, int wait)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->n; i++) {
        int done = 1;
        if (wait)
            MPI_CHECK(MPI_Wait(&s->req[i], MPI_STATUS_IGNORE));
        else
            MPI_CHECK(MPI_Test(&s->req[i], &done, MPI_STATUS_IGNORE));
        if (done) {
            free(s->buf[i]);
        } else {
            s->req[kept] = s->req[i];
            s->buf[kept++] = s->buf[i];
        }
    }
    s->n = kept;
}

static void sends_add(sends_t *s, void *buf, size_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        MPI_Request *req = realloc(s->req, cap * sizeof *req);
        if (req)
            s->req = req;
        void **b = realloc(s->buf, cap * sizeof *b);
        if (!req || !b)
            MPI_Abort(MPI_COMM_WORLD, 1);
        s->buf = b;
        s->cap = cap;
    }
    MPI_CHECK(MPI_Isend(buf, (int)len, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD, &s->req[s->n]));
    s->buf[s->n++] = buf;
}

/* Run what rank 0 sends until it says stop; then answer with an empty
 * result, so that rank 0 knows this rank sends nothing more (after the
 * others: MPI keeps one sender's messages in order). */
static void worker_loop(const gs_sweep_t *sw, int rank, int threads, const char *host)
{
    ring_t r = {0};
    sends_t sends = {0};
    for (;;) {
        take_assignments(&r);
        if (r.len == 0)
            break;   /* stopping */
        int64_t idx = r.q[r.head];
        r.head = (r.head + 1) % r.cap;
        r.len--;
        size_t n;
        void *buf = run_cell(sw, idx, rank, threads, host, &n);
        if (!buf || n > INT32_MAX)
            MPI_Abort(MPI_COMM_WORLD, 1);
        sends_add(&sends, buf, n);
        sends_reap(&sends, 0);
    }
    free(r.q);
    sends_reap(&sends, 1);
    free(sends.req);
    free(sends.buf);
    MPI_CHECK(MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD));
}

/* ---- the coordinator ---- */

/* How many cells a worker may hold: tiny cells are queued deep so that the
 * coordinator's polling never starves a worker; long ones one at a time so
 * that the end of the sweep balances. */
#define TINY_CELL_FLOPS 2e7    /* about a millisecond of work */
#define SHORT_CELL_FLOPS 5e8   /* about 50 ms */
#define TINY_QUEUE 128
#define SHORT_QUEUE 2

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
    local_worker_t lw;
    void *rbuf;              /* receive buffer */
    size_t rcap, received;
    packed_t *inbox, *inbox_tail;   /* results received, not stored yet */
    char err[8192];
} coord_t;

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
        now - c->last_heartbeat >= HEARTBEAT_EVERY_S) {
        if (gs_store_commit(c->store, c->err, sizeof c->err) != 0)
            return -1;
        c->uncommitted = 0;
        c->last_commit = c->last_heartbeat = now;
    }
    return 0;
}

static int cmp_cost(const void *a, const void *b, void *arg)
{
    const gs_sweep_t *sw = arg;
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    double fx = sw->cells[x].flops, fy = sw->cells[y].flops;
    if (fx != fy)
        return fx > fy ? -1 : 1;
    return x < y ? -1 : x > y;
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
                local_push(&c->lw, idx);
            else
                MPI_CHECK(MPI_Send(&idx, 1, MPI_INT64_T, s, TAG_WORK, MPI_COMM_WORLD));
            c->outstanding[s]++;
        }
    assert(*next == to);
    return 0;
}

/* One message of any size from any rank into c->rbuf: 1 with its length
 * and source, 0 when none waits, -1 out of memory. */
static int receive_any(coord_t *c, size_t *len, int *source)
{
    int flag;
    MPI_Status st;
    MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &st));
    if (!flag)
        return 0;
    int count;
    MPI_CHECK(MPI_Get_count(&st, MPI_BYTE, &count));
    if ((size_t)count > c->rcap) {
        free(c->rbuf);
        c->rcap = (size_t)count * 2;
        if (!(c->rbuf = malloc(c->rcap))) {
            c->rcap = 0;
            snprintf(c->err, sizeof c->err, "out of memory receiving a result");
            return -1;
        }
    }
    MPI_CHECK(MPI_Recv(c->rbuf, count, MPI_BYTE, st.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
                       MPI_STATUS_IGNORE));
    *len = (size_t)count;
    *source = st.MPI_SOURCE;
    return 1;
}

static void inbox_add(coord_t *c, packed_t *p)
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
    for (packed_t *p = c->inbox, *nx; p; p = nx) {
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
        packed_t *p = malloc(sizeof *p);
        void *buf = malloc(len ? len : 1);
        if (!p || !buf) {
            free(p);
            free(buf);
            snprintf(c->err, sizeof c->err, "out of memory receiving a result");
            return -1;
        }
        memcpy(buf, c->rbuf, len);
        *p = (packed_t){NULL, buf, len, source};
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
    inbox_add(c, local_take(&c->lw));
    int activity = 0;
    for (int k = 0; k < STORE_BATCH && c->inbox; k++) {
        packed_t *p = c->inbox;
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

/* The local compute thread: started before the loop, stopped after it
 * (it finishes the cell it runs and drops the rest). */
static int local_start(coord_t *c, int threads, const char *host, pthread_t *tid)
{
    local_worker_t *lw = &c->lw;
    lw->sw = c->sw;
    lw->threads = threads;
    lw->background = c->n_slots > 1;
    snprintf(lw->host, sizeof lw->host, "%s", host);
    lw->q_cap = TINY_QUEUE * 2;
    if (!(lw->queue = malloc(lw->q_cap * sizeof *lw->queue)))
        return -1;
    pthread_mutex_init(&lw->mu, NULL);
    pthread_cond_init(&lw->cv, NULL);
    if (pthread_create(tid, NULL, local_main, lw) != 0) {
        free(lw->queue);
        lw->queue = NULL;
        return -1;
    }
    return 0;
}

static void local_stop(coord_t *c, pthread_t tid)
{
    local_worker_t *lw = &c->lw;
    pthread_mutex_lock(&lw->mu);
    lw->stop = 1;
    pthread_cond_signal(&lw->cv);
    pthread_mutex_unlock(&lw->mu);
    pthread_join(tid, NULL);
    for (packed_t *p = local_take(lw), *nx; p; p = nx) {
        nx = p->next;
        free(p->buf);
        free(p);
    }
    free(lw->queue);
    lw->queue = NULL;
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
    if (!c->outstanding || !c->handout || local_start(c, threads, host, &tid) != 0) {
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
            nap(IDLE_SLEEP_NS);
    }
    rc = 0;
out:
    if (!*interrupted)
        local_stop(c, tid);
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
 * job then ends through MPI_Finalize, not MPI_Abort. */
static void finish_workers(coord_t *c, int size, int64_t how)
{
    for (int r = 1; r < size; r++)
        MPI_CHECK(MPI_Send(&how, 1, MPI_INT64_T, r, TAG_WORK, MPI_COMM_WORLD));
    for (int left = size - 1; left > 0;) {
        size_t len;
        int source, got = receive_any(c, &len, &source);
        if (got < 0)
            MPI_Abort(MPI_COMM_WORLD, 1);
        if (got == 0)
            nap(IDLE_SLEEP_NS);
        else if (len == 0)
            left--;
    }
    free(c->rbuf);
    c->rbuf = NULL;
    c->rcap = 0;
}

/* ---- set-up shared by all ranks ---- */

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
} job_t;

static int job_end(job_t *j, int code)
{
    if (j->have_sw)
        gs_sweep_free(&j->sw);
    free(j->selected);
    MPI_Finalize();
    return code;
}

/* The same code on every rank: rank 0's, or the worst any rank had. */
static int agree(job_t *j, int code, int any)
{
    if (any)
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    else
        MPI_CHECK(MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD));
    if (code && j->rank == 0 && j->err[0])
        fprintf(stderr, "gradsweep run: %s\n", j->err);
    return code;
}

/* OpenMP threads per rank: the cores of this node shared among its ranks. */
/* Whether this rank runs on rank 0's machine (collective). */
static int near_rank0(int rank)
{
    MPI_Comm node;
    int is0 = rank == 0, has0 = 0;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) !=
        MPI_SUCCESS)
        return 0;
    if (MPI_Allreduce(&is0, &has0, 1, MPI_INT, MPI_MAX, node) != MPI_SUCCESS)
        has0 = 0;
    MPI_Comm_free(&node);
    return has0;
}

static int auto_threads(void)
{
    MPI_Comm node;
    int local = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int t = cores > 0 ? (int)(cores / local) : 1;
    return t < 1 ? 1 : t;
}

static void command_text(const gs_run_options_t *opt, char *buf, size_t len);

/* Rank 0 reads the config; every rank parses the same text, so that
 * cells are known everywhere by index. Only rank 0 checks cells against
 * its machine (memory); the others expand the same grid. */
static int job_config(job_t *j, const gs_run_options_t *opt)
{
    char *text = NULL;
    long long tlen = 0;
    int code = 0;
    if (j->rank == 0) {
        char *file = gs_read_text(opt->config_path, GS_CONFIG_MAX_BYTES, j->err, sizeof j->err);
        if (!file || gs_sweep_with_overrides(file, opt->overrides, opt->n_overrides, &text,
                                             j->err, sizeof j->err) != 0)
            code = GS_EXIT_INPUT;
        else
            tlen = (long long)strlen(text);
        free(file);
    }
    if (agree(j, code, 0))
        return GS_EXIT_INPUT;
    MPI_CHECK(MPI_Bcast(&tlen, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD));
    if (j->rank != 0 && !(text = malloc((size_t)tlen + 1)))
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_CHECK(MPI_Bcast(text, (int)tlen + 1, MPI_CHAR, 0, MPI_COMM_WORLD));
    if (gs_sweep_parse(&j->sw, text, opt->config_path, j->rank == 0 ? &check_hooks : &cost_hooks,
                       j->err, sizeof j->err) != 0)
        code = GS_EXIT_INPUT;
    else
        j->have_sw = 1;
    if (!code && !(j->selected = malloc(j->sw.n_experiments + 1)))
        code = GS_EXIT_RUNTIME;
    else if (!code && gs_driver_select(&j->sw, opt->experiments, opt->n_experiments, j->selected,
                                       j->err, sizeof j->err) != 0)
        code = GS_EXIT_INPUT;
    char size[512], cmd[4096];
    if (!code && j->rank == 0 && !opt->yes &&
        gs_driver_too_big(&j->sw, j->selected, size, sizeof size)) {
        command_text(opt, cmd, sizeof cmd);
        snprintf(j->err, sizeof j->err, "%s: a big sweep: %s. Check it with gradsweep plan "
                 "(an axis too many?); to run it as it is:\n  %s --yes", opt->config_path, size,
                 cmd);
        code = GS_EXIT_INPUT;
    }
    free(text);
    return agree(j, code, 1);
}

/* Every rank's host, distinct, comma-separated (rank 0's hosts). */
static void gather_hosts(job_t *j, char *hosts, size_t cap)
{
    const int hl = (int)sizeof j->host;
    char *all = j->rank == 0 ? calloc((size_t)j->size, (size_t)hl) : NULL;
    if (j->rank == 0 && !all)
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_CHECK(MPI_Gather(j->host, hl, MPI_CHAR, all, hl, MPI_CHAR, 0, MPI_COMM_WORLD));
    if (j->rank != 0)
        return;
    hosts[0] = '\0';
    for (int r = 0; r < j->size; r++) {
        const char *h = all + (size_t)hl * r;
        int seen = 0;
        for (int q = 0; q < r; q++)
            seen |= strcmp(h, all + (size_t)hl * q) == 0;
        size_t l = strlen(hosts);
        if (!seen)
            snprintf(hosts + l, cap - l, "%s%s", l ? "," : "", h);
    }
    free(all);
}

int gs_driver_select(const gs_sweep_t *sw, const char *const *names, size_t n,
                     unsigned char *mask, char *err, size_t errlen)
{
    for (size_t e = 0; e < sw->n_experiments; e++)
        mask[e] = n == 0;
    for (size_t i = 0; i < n; i++) {
        size_t e = 0;
        while (e < sw->n_experiments && strcmp(sw->experiments[e].name, names[i]) != 0)
            e++;
        if (e == sw->n_experiments) {
            size_t len = (size_t)snprintf(err, errlen, "--experiment %s: no such experiment in "
                                          "%s; there are: ", names[i], sw->path);
            for (size_t k = 0; k < sw->n_experiments && len < errlen; k++)
                len += (size_t)snprintf(err + len, errlen - len, "%s%s", k ? ", " : "",
                                        sw->experiments[k].name);
            return -1;
        }
        mask[e] = 1;
    }
    return 0;
}

int gs_driver_too_big(const gs_sweep_t *sw, const unsigned char *mask, char *msg, size_t len)
{
    size_t n = 0;
    double flops = 0;
    for (size_t i = 0; i < sw->n_cells; i++)
        if (mask[sw->cells[i].experiment]) {
            n++;
            flops += sw->cells[i].flops;
        }
    double s = flops / GS_ASSUMED_FLOPS_PER_CORE;
    if (n <= GS_BIG_SWEEP_CELLS && s <= GS_BIG_SWEEP_CORE_S)
        return 0;
    snprintf(msg, len, "%zu cells, ~%.1f h of estimated core time (the limit: %d cells or %.0f h)",
             n, s / 3600.0, GS_BIG_SWEEP_CELLS, GS_BIG_SWEEP_CORE_S / 3600.0);
    return 1;
}

/* The command that runs this sweep again, for the hints that resume or
 * retry it: the config, its overrides and the options that choose cells. */
static void command_text(const gs_run_options_t *opt, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "gradsweep run %s", opt->config_path);
    for (size_t i = 0; i < opt->n_overrides && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, " %s", opt->overrides[i]);
    if (opt->db_path && used < len)
        used += (size_t)snprintf(buf + used, len - used, " --db %s", opt->db_path);
    for (size_t i = 0; i < opt->n_experiments && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, " --experiment %s", opt->experiments[i]);
    if (opt->yes && used < len)
        snprintf(buf + used, len - used, " --yes");
}

/* ---- rank 0: the database and what is left to run ---- */

/* What --fresh deleted, said once it is done (it happened in the
 * session's first transaction, after every check). */
static void say_fresh(gs_store_t *st, const gs_sweep_t *sw, const char *dbpath)
{
    const char *other;
    long n = gs_store_fresh_result(st, &other);
    if (other)
        fprintf(stderr, "--fresh: deleted sweep '%s' and its %ld stored cells from %s; sweep '%s' "
                "starts over there\n", other, n, dbpath, sw->name);
    else if (n > 0)
        fprintf(stderr, "--fresh: deleted the %ld stored cells in %s; starting over\n", n, dbpath);
}

/* The crash log's lines (on_fatal) become deaths of the cells they name,
 * committed before the log is removed. */
static int read_crash_log(gs_store_t *st, char *err, size_t errlen)
{
    FILE *f = fopen(crash_log, "r");
    if (!f)
        return 0;   /* no crash since the last run */
    char line[128];
    unsigned long long hash;
    int sig, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f))
        if (sscanf(line, "%16llx %d", &hash, &sig) == 2)
            rc = gs_store_count_death(st, (uint64_t)hash, sig, err, errlen);
    fclose(f);
    if (rc == 0 && gs_store_commit(st, err, errlen) == 0 && unlink(crash_log) != 0) {
        snprintf(err, errlen, "%s: cannot remove the crash log after reading it: %s", crash_log,
                 strerror(errno));
        return -1;
    }
    return rc;
}

/* Cells that killed GS_DEATHS_TO_CRASHED runs are stored as crashed (and so
 * not run again); the ones that killed one run are said to run again. */
static int store_crashed(gs_store_t *st, const gs_sweep_t *sw, int threads, char *err,
                         size_t errlen)
{
    gs_death_t *d;
    size_t n;
    if (read_crash_log(st, err, errlen) != 0 || gs_store_deaths(st, 1, &d, &n, err, errlen) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const gs_sweep_cell_t *cell = NULL;
        for (size_t k = 0; k < sw->n_cells && !cell; k++)
            if (sw->cells[k].hash == d[i].hash)
                cell = &sw->cells[k];
        if (!cell)
            continue;   /* of a config since changed */
        if (d[i].deaths < GS_DEATHS_TO_CRASHED) {
            fprintf(stderr, "cell %s ([%s]) killed a run with %s: running it again\n",
                    cell->hash_hex, sw->experiments[cell->experiment].name, signal_name(d[i].signo));
            continue;
        }
        gs_result_t r = {.status = GS_STATUS_CRASHED};
        snprintf(r.error, sizeof r.error, "killed its process with %s in %ld runs; not run again "
                 "(run --retry reruns it)", signal_name(d[i].signo), d[i].deaths);
        gs_put_meta_t meta = {d[i].rank, threads, NULL, NAN};
        rc = gs_store_put(st, sw, cell, &r, &meta, err, errlen);
        fprintf(stderr, "cell %s ([%s]) %s: stored as crashed\n", cell->hash_hex,
                sw->experiments[cell->experiment].name,
                r.error);
    }
    free(d);
    return rc == 0 ? gs_store_commit(st, err, errlen) : -1;
}

/* The cells this run skips, sorted: every stored one, or with retry those
 * stored as done or diverged (the failed and crashed run again, each
 * replacing its row in its cell's SAVEPOINT). Says how many stored cells
 * the config no longer has, and what removes them. */
static int stored_to_skip(gs_store_t *st, const gs_sweep_t *sw, int retry, uint64_t **skip,
                          size_t *n_skip, char *err, size_t errlen)
{
    uint64_t *redo = NULL;
    size_t n_redo = 0, kept = 0;
    if (gs_store_stored_hashes(st, skip, n_skip, err, errlen) != 0 ||
        (retry && gs_store_unfinished_hashes(st, &redo, &n_redo, err, errlen) != 0))
        return -1;
    long orphans = gs_store_orphans(sw, *skip, *n_skip, NULL);
    if (orphans > 0)
        fprintf(stderr, "%ld stored cell%s not in the config (it changed since they ran): kept; "
                "gradsweep prune removes them\n", orphans, orphans == 1 ? " is" : "s are");
    for (size_t i = 0; i < *n_skip; i++)
        if (!gs_u64_contains(redo, n_redo, (*skip)[i]))
            (*skip)[kept++] = (*skip)[i];
    if (retry)
        fprintf(stderr, "--retry: %zu failed or crashed cell%s to run again\n", *n_skip - kept,
                *n_skip - kept == 1 ? "" : "s");
    *n_skip = kept;
    free(redo);
    return 0;
}

/* --reuse: what OTHER offers, checked before anything is created or
 * changed: its seeding must be the one this run's cells get - the
 * database's own when it holds cells and --fresh does not delete them,
 * else paired (gs_store_begin_session). st NULL: the database does not
 * exist yet. 0, or the exit status with j->err. */
static int reuse_offer(job_t *j, const gs_run_options_t *opt, gs_store_t *st,
                       gs_reuse_offer_t *offer)
{
    *offer = (gs_reuse_offer_t){0};
    if (!opt->reuse_path)
        return GS_EXIT_OK;
    int rc = gs_reuse_scan(opt->reuse_path, offer, j->err, sizeof j->err);
    if (rc != 0)
        return rc == -2 ? GS_EXIT_INPUT : GS_EXIT_RUNTIME;
    int stored = st ? gs_store_seeding_of(gs_store_handle(st)) : -1;
    int seeding = opt->fresh || stored < 0 || gs_store_count_runs(st) <= 0 ? GS_SEEDING_PAIRED
                                                                           : stored;
    if (gs_reuse_check_seeding(offer, seeding, opt->reuse_path, j->err, sizeof j->err) != 0) {
        gs_reuse_offer_free(offer);
        return GS_EXIT_INPUT;
    }
    return GS_EXIT_OK;
}

/* Copy the selected cells not stored yet that OTHER offers, and add them
 * to the sorted *skip list (which grows). j->n_reused counts them. */
static int reuse_cells(job_t *j, const gs_run_options_t *opt, gs_store_t *st,
                       const gs_reuse_offer_t *offer, uint64_t **skip, size_t *n_skip)
{
    j->n_reused = 0;
    if (!opt->reuse_path)
        return 0;
    uint64_t *take = malloc((j->sw.n_cells + 1) * sizeof *take);
    uint64_t *all = take ? realloc(*skip, (*n_skip + j->sw.n_cells + 1) * sizeof *all) : NULL;
    if (!all) {
        free(take);
        snprintf(j->err, sizeof j->err, "out of memory");
        return -1;
    }
    *skip = all;
    size_t n = 0;
    for (size_t i = 0; i < j->sw.n_cells; i++) {
        uint64_t h = j->sw.cells[i].hash;
        if (j->selected[j->sw.cells[i].experiment] && !gs_u64_contains(all, *n_skip, h) &&
            gs_u64_contains(offer->hashes, offer->n, h))
            take[n++] = h;
    }
    int rc = gs_reuse_copy(st, opt->reuse_path, take, n, j->err, sizeof j->err);
    if (rc == 0) {
        memcpy(all + *n_skip, take, n * sizeof *take);
        *n_skip += n;
        gs_u64_sort(all, *n_skip);
        j->n_reused = n;
    }
    free(take);
    return rc;
}

/* Open the database, start the session, settle the crashes, copy what
 * --reuse offers and list the cells not stored yet, longest first. NULL
 * with *code the exit status. */
static gs_store_t *open_store(job_t *j, const gs_run_options_t *opt, const char *hosts,
                              int64_t **pending, size_t *n_pending, double *flops, int *code)
{
    gs_store_t *st = NULL;
    uint64_t *stored = NULL;
    size_t n_stored = 0;
    gs_session_info_t info = {j->size, j->threads, hosts, opt->fresh};
    gs_store_fault_t fault = GS_STORE_FAULT_RUNTIME;
    gs_reuse_offer_t offer = {0};
    struct stat sb;
    int exists = stat(j->dbpath, &sb) == 0;
    if (!exists && (*code = reuse_offer(j, opt, NULL, &offer)) != GS_EXIT_OK)
        return NULL;   /* before the database is created */
    *code = GS_EXIT_RUNTIME;
    if (gs_mkdirs_for(j->dbpath, j->err, sizeof j->err) != 0 ||
        !(st = gs_store_open_kind(j->dbpath, 1, 0, &fault, j->err, sizeof j->err))) {
        *code = fault == GS_STORE_FAULT_INPUT ? GS_EXIT_INPUT : GS_EXIT_RUNTIME;
        goto fail;
    }
    if (exists && (*code = reuse_offer(j, opt, st, &offer)) != GS_EXIT_OK)
        goto fail;
    *code = GS_EXIT_RUNTIME;
    int begun = gs_store_begin_session(st, &j->sw, &info, j->err, sizeof j->err);
    if (begun != 0) {
        *code = begun == -2 ? GS_EXIT_INPUT : GS_EXIT_RUNTIME;
        goto fail;
    }
    say_fresh(st, &j->sw, j->dbpath);
    if (store_crashed(st, &j->sw, j->threads, j->err, sizeof j->err) != 0 ||
        stored_to_skip(st, &j->sw, opt->retry, &stored, &n_stored, j->err, sizeof j->err) != 0 ||
        reuse_cells(j, opt, st, &offer, &stored, &n_stored) != 0)
        goto fail;
    if (!(*pending = malloc((j->sw.n_cells + 1) * sizeof **pending))) {
        snprintf(j->err, sizeof j->err, "out of memory");
        goto fail;
    }
    *n_pending = 0;
    *flops = 0;
    for (size_t i = 0; i < j->sw.n_cells; i++)
        if (j->selected[j->sw.cells[i].experiment] &&
            !gs_u64_contains(stored, n_stored, j->sw.cells[i].hash)) {
            (*pending)[(*n_pending)++] = (int64_t)i;
            *flops += j->sw.cells[i].flops;
        }
    qsort_r(*pending, *n_pending, sizeof **pending, cmp_cost, &j->sw);
    free(stored);
    gs_reuse_offer_free(&offer);
    *code = GS_EXIT_OK;
    return st;
fail:
    free(stored);
    gs_reuse_offer_free(&offer);
    gs_store_close(st);
    return NULL;
}

/* ---- rank 0: the run and its three endings ---- */

/* SIGINT/SIGTERM: commit what arrived, end the session as interrupted
 * (clearing the in_flight rows of the cells cut short: they run again
 * next time). Under mpirun the ranks have about a second: Open MPI's
 * mpirun, signalled, sends every rank SIGTERM and SIGKILL a second later
 * (odls_base_sigkill_timeout), so the hint is printed first, while mpirun
 * still forwards output, and no rank waits for another. Does not
 * return. */
static void end_interrupted(job_t *j, const gs_run_options_t *opt, coord_t *c, int sig)
{
    char cmd[8192];
    command_text(opt, cmd, sizeof cmd);
    fprintf(stderr, "interrupted by %s: %zu cells of this run stored; rerun the same command "
            "to resume:\n  %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM", c->bar.done, cmd);
    /* a rank that crashed is why mpirun signalled us: its death counts
     * (read_crash_log) before the in_flight rows are cleared */
    int ok = maybe_commit(c, 1) == 0 && read_crash_log(c->store, j->err, sizeof j->err) == 0 &&
             gs_store_end_session(c->store, GS_SESSION_INTERRUPTED, thread_cpu(), j->err,
                                  sizeof j->err) == 0;
    gs_store_close(c->store);
    if (!ok)
        fprintf(stderr, "gradsweep run: the last commit failed: %s\n", c->err[0] ? c->err : j->err);
    /* no MPI_Finalize: the workers may be deep in a long cell, and mpirun
     * ends them; no MPI_Abort either, whose banner would read as a bug */
    _exit(GS_EXIT_INTERRUPTED);
}

/* A write failed (a full disk, say): stop the workers, keep what was
 * committed, and end the job cleanly with the reason. */
static int end_failed(job_t *j, coord_t *c)
{
    fprintf(stderr, "gradsweep run: %s\n", c->err);
    finish_workers(c, j->size, DROP_CELL);
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
static int unfinished_code(job_t *j, const gs_run_options_t *opt, gs_store_t *st)
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
    command_text(opt, cmd, sizeof cmd);
    fprintf(stderr, "%ld cell%s of the config %s stored as failed or crashed: gradsweep status %s "
            "lists them with their error; rerun them with\n  %s --retry\n",
            bad, bad == 1 ? "" : "s", bad == 1 ? "is" : "are", j->dbpath, cmd);
    return GS_EXIT_CELLS_FAILED;
}

static int end_done(job_t *j, const gs_run_options_t *opt, coord_t *c, double cpu0)
{
    finish_workers(c, j->size, STOP_CELL);
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

static int run_coordinator(job_t *j, const gs_run_options_t *opt, gs_store_t *store,
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
    return rc != 0 ? end_failed(j, &c) : end_done(j, opt, &c, cpu0);
}

/* glibc gives freed memory back to the system as soon as the top of a
 * heap holds 128 KiB free (brk or madvise), and serves blocks of that size
 * and more by mmap. A cell allocates its data and model and frees them
 * again, SQLite's statements their caches: with the compute thread
 * running on another core, each give-back flushed both cores' TLBs (an
 * interprocessor interrupt), and the next cell faulted the pages in again
 * - two thirds of a tiny cell's time (docs/architecture.md, "The
 * driver"). A sweep keeps what it freed, up to TRIM_KEEP, and takes only
 * blocks of MMAP_FROM and more by mmap (what a big model's arenas are). */
#define TRIM_KEEP (128 << 20)
#define MMAP_FROM (32 << 20)

static void keep_freed_memory(void)
{
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, TRIM_KEEP);
    mallopt(M_MMAP_THRESHOLD, MMAP_FROM);
#endif
}

int gs_driver_run(const gs_run_options_t *opt)
{
    keep_freed_memory();
    job_t *j = calloc(1, sizeof *j);
    int provided, code;
    if (!j || MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "gradsweep run: %s\n", j ? "MPI_Init_thread failed" : "out of memory");
        free(j);
        return GS_EXIT_RUNTIME;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &j->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &j->size);
    gethostname(j->host, sizeof j->host - 1);
    if (provided < MPI_THREAD_FUNNELED) {
        snprintf(j->err, sizeof j->err, "this MPI gives no MPI_THREAD_FUNNELED support");
        code = agree(j, GS_EXIT_RUNTIME, 0);
    } else {
        code = job_config(j, opt);
    }
    if (code)
        goto end;
    j->threads = opt->threads > 0 ? opt->threads : auto_threads();
#ifdef _OPENMP
    omp_set_num_threads(j->threads);
#else
    j->threads = 1;
#endif
    char hosts[4096];
    gather_hosts(j, hosts, sizeof hosts);
    int near = near_rank0(j->rank);
    gs_store_t *store = NULL;
    int64_t *pending = NULL;
    size_t n_pending = 0;
    double flops = 0;
    if (j->rank == 0) {
        if (opt->db_path)
            snprintf(j->dbpath, sizeof j->dbpath, "%s", opt->db_path);
        else
            gs_sweep_default_db(&j->sw, j->dbpath, sizeof j->dbpath);
        catch_fatal_signals(j->dbpath);   /* before store_crashed reads its log */
        store = open_store(j, opt, hosts, &pending, &n_pending, &flops, &code);
    }
    if ((code = agree(j, code, 0)))
        goto end;
    MPI_CHECK(MPI_Bcast(j->dbpath, sizeof j->dbpath, MPI_CHAR, 0, MPI_COMM_WORLD));
    int seeding = j->sw.seeding;   /* the database's (gs_store_begin_session) */
    MPI_CHECK(MPI_Bcast(&seeding, 1, MPI_INT, 0, MPI_COMM_WORLD));
    gs_sweep_set_seeding(&j->sw, seeding);
    if (j->rank != 0) {
        catch_fatal_signals(j->dbpath);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_worker_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        if (near)
            run_in_background();
        worker_loop(&j->sw, j->rank, j->threads, j->host);
    } else {
        code = run_coordinator(j, opt, store, pending, n_pending, flops);
    }
end:
    code = job_end(j, code);
    free(j);
    return code;
}
