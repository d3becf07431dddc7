#include <config.h>

#include "driver/driver.h"

#include <errno.h>
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "driver/pack.h"
#include "driver/progress.h"
#include "experiment/experiment.h"
#include "store/store.h"
#include "sweep/sweep.h"
#include "util/clock.h"
#include "util/files.h"
#include "util/hash.h"

enum { TAG_WORK = 1, TAG_RESULT = 2 };
#define STOP_CELL (-1)
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

static void *run_cell(const gs_sweep_t *sw, int64_t index, int rank, int threads,
                      const char *host, size_t *len)
{
    gs_result_t r;
    double t0 = gs_now();
    gs_experiment_run(&sw->cells[index].cell, &r, NULL);   /* failures come back in r */
    test_cell_delay();
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
    char host[64];
} local_worker_t;

static void *local_main(void *arg)
{
    local_worker_t *w = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* signals are the coordinator's */
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

static int worker_loop(const gs_sweep_t *sw, int rank, int threads, const char *host)
{
    int64_t *queue = malloc(256 * sizeof *queue);
    size_t head = 0, len = 0, cap = 256;
    if (!queue)
        MPI_Abort(MPI_COMM_WORLD, 1);
    int stopping = 0;
    for (;;) {
        /* take every assignment that has arrived; wait (politely) when idle */
        for (;;) {
            int flag;
            MPI_Status st;
            MPI_CHECK(MPI_Iprobe(0, TAG_WORK, MPI_COMM_WORLD, &flag, &st));
            if (flag) {
                int64_t idx;
                MPI_CHECK(MPI_Recv(&idx, 1, MPI_INT64_T, 0, TAG_WORK, MPI_COMM_WORLD,
                                   MPI_STATUS_IGNORE));
                if (idx == STOP_CELL) {
                    stopping = 1;
                } else {
                    if (len == cap) {
                        int64_t *q = malloc(2 * cap * sizeof *q);
                        if (!q)
                            MPI_Abort(MPI_COMM_WORLD, 1);
                        for (size_t i = 0; i < len; i++)
                            q[i] = queue[(head + i) % cap];
                        free(queue);
                        queue = q;
                        head = 0;
                        cap *= 2;
                    }
                    queue[(head + len++) % cap] = idx;
                }
                continue;
            }
            if (len > 0 || stopping)
                break;
            nap(IDLE_SLEEP_NS);
        }
        if (len == 0 && stopping)
            break;
        int64_t idx = queue[head];
        head = (head + 1) % cap;
        len--;
        size_t n;
        void *buf = run_cell(sw, idx, rank, threads, host, &n);
        if (!buf || n > INT32_MAX)
            MPI_Abort(MPI_COMM_WORLD, 1);
        MPI_CHECK(MPI_Send(buf, (int)n, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD));
        free(buf);
    }
    free(queue);
    return 0;
}

/* ---- the coordinator ---- */

typedef struct {
    const gs_sweep_t *sw;
    gs_store_t *store;
    gs_progress_bar_t bar;
    size_t uncommitted;
    double last_commit, last_heartbeat;
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

/* How many cells a worker may hold: tiny cells are queued deep so that the
 * coordinator's polling never starves a worker; long ones one at a time so
 * that the end of the sweep balances. */
#define TINY_CELL_FLOPS 2e7    /* about a millisecond of work */
#define SHORT_CELL_FLOPS 5e8   /* about 50 ms */
#define TINY_QUEUE 32
#define SHORT_QUEUE 2

static int queue_depth(double flops)
{
    return flops < TINY_CELL_FLOPS ? TINY_QUEUE : flops < SHORT_CELL_FLOPS ? SHORT_QUEUE : 1;
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

static int coordinate(coord_t *c, int size, int threads, const char *host, int64_t *pending,
                      size_t n_pending, int *interrupted)
{
    int n_slots = size;   /* slot 0: the local thread; slot r: rank r */
    int *outstanding = calloc((size_t)n_slots, sizeof *outstanding);
    local_worker_t lw = {.sw = c->sw, .threads = threads};
    snprintf(lw.host, sizeof lw.host, "%s", host);
    lw.q_cap = 64;
    lw.queue = malloc(lw.q_cap * sizeof *lw.queue);
    void *rbuf = NULL;
    size_t rcap = 0;
    int rc = -1;
    pthread_t tid;
    if (!outstanding || !lw.queue) {
        snprintf(c->err, sizeof c->err, "out of memory");
        goto out_nothread;
    }
    pthread_mutex_init(&lw.mu, NULL);
    pthread_cond_init(&lw.cv, NULL);
    if (pthread_create(&tid, NULL, local_main, &lw) != 0) {
        snprintf(c->err, sizeof c->err, "cannot start the compute thread");
        goto out_nothread;
    }
    size_t next = 0, received = 0;
    c->last_commit = c->last_heartbeat = gs_now();
    while (received < n_pending) {
        if (got_signal) {
            *interrupted = got_signal;
            break;
        }
        /* hand out: longest first, to whichever slot has room */
        for (int s = 0; s < n_slots && next < n_pending; s++)
            while (next < n_pending &&
                   outstanding[s] < queue_depth(c->sw->cells[pending[next]].flops)) {
                int64_t idx = pending[next++];
                if (s == 0)
                    local_push(&lw, idx);
                else
                    MPI_CHECK(MPI_Send(&idx, 1, MPI_INT64_T, s, TAG_WORK, MPI_COMM_WORLD));
                outstanding[s]++;
            }
        int activity = 0;
        for (;;) {
            int flag;
            MPI_Status st;
            MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &st));
            if (!flag)
                break;
            int count;
            MPI_CHECK(MPI_Get_count(&st, MPI_BYTE, &count));
            if ((size_t)count > rcap) {
                free(rbuf);
                rcap = (size_t)count * 2;
                rbuf = malloc(rcap);
                if (!rbuf) {
                    snprintf(c->err, sizeof c->err, "out of memory receiving a result");
                    goto out;
                }
            }
            MPI_CHECK(MPI_Recv(rbuf, count, MPI_BYTE, st.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
                               MPI_STATUS_IGNORE));
            if (store_packed(c, rbuf, (size_t)count) != 0)
                goto out;
            outstanding[st.MPI_SOURCE]--;
            received++;
            activity = 1;
        }
        for (packed_t *p = local_take(&lw); p;) {
            packed_t *nx = p->next;
            int bad = store_packed(c, p->buf, p->len);
            free(p->buf);
            free(p);
            p = nx;
            if (bad) {
                for (; p; p = nx) {
                    nx = p->next;
                    free(p->buf);
                    free(p);
                }
                goto out;
            }
            outstanding[0]--;
            received++;
            activity = 1;
        }
        if (maybe_commit(c, 0) != 0)
            goto out;
        gs_progress_draw(&c->bar, 0);
        if (!activity)
            nap(IDLE_SLEEP_NS);
    }
    rc = 0;
out:
    if (*interrupted) {
        /* leave the compute thread where it is: the process ends soon */
        free(rbuf);
        free(outstanding);
        return rc;
    }
    pthread_mutex_lock(&lw.mu);
    lw.stop = 1;
    pthread_cond_signal(&lw.cv);
    pthread_mutex_unlock(&lw.mu);
    pthread_join(tid, NULL);
    for (packed_t *p = local_take(&lw), *nx; p; p = nx) {
        nx = p->next;
        free(p->buf);
        free(p);
    }
out_nothread:
    free(lw.queue);
    free(rbuf);
    free(outstanding);
    return rc;
}

/* ---- set-up shared by all ranks ---- */

/* OpenMP threads per rank: the cores of this node shared among its ranks. */
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

int gs_driver_run(const gs_run_options_t *opt)
{
    int provided, rank, size;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "gradsweep run: MPI_Init_thread failed\n");
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (provided < MPI_THREAD_FUNNELED) {
        if (rank == 0)
            fprintf(stderr, "gradsweep run: this MPI gives no MPI_THREAD_FUNNELED support\n");
        MPI_Finalize();
        return 1;
    }
    char err[8192] = "";
    int code = 0;
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';

    /* rank 0 reads the config; everyone parses the same text */
    char *text = NULL;
    long long tlen = 0;
    if (rank == 0) {
        text = gs_read_text(opt->config_path, GS_CONFIG_MAX_BYTES, err, sizeof err);
        if (!text)
            code = 2;
        else
            tlen = (long long)strlen(text);
    }
    MPI_CHECK(MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD));
    if (code) {
        if (rank == 0)
            fprintf(stderr, "gradsweep run: %s\n", err);
        MPI_Finalize();
        return code;
    }
    MPI_CHECK(MPI_Bcast(&tlen, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD));
    if (rank != 0 && !(text = malloc((size_t)tlen + 1)))
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_CHECK(MPI_Bcast(text, (int)tlen + 1, MPI_CHAR, 0, MPI_COMM_WORLD));
    gs_sweep_t sw;
    /* only rank 0 checks cells against its machine (memory); the others
     * expand the same grid */
    if (gs_sweep_parse(&sw, text, opt->config_path, rank == 0 ? &check_hooks : &cost_hooks, err,
                       sizeof err) != 0)
        code = 2;
    free(text);
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    if (code) {
        if (rank == 0)
            fprintf(stderr, "gradsweep run: %s\n", err);
        gs_sweep_free(&sw);
        MPI_Finalize();
        return code;
    }
    int threads = opt->threads > 0 ? opt->threads : auto_threads();
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    threads = 1;
#endif

    /* hosts of all ranks, for provenance */
    char *all_hosts = rank == 0 ? calloc((size_t)size, 64) : NULL;
    MPI_CHECK(MPI_Gather(host, 64, MPI_CHAR, all_hosts, 64, MPI_CHAR, 0, MPI_COMM_WORLD));

    if (rank != 0) {
        MPI_CHECK(MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD));
        if (code == 0)
            worker_loop(&sw, rank, threads, host);
        gs_sweep_free(&sw);
        MPI_Finalize();
        return code;
    }

    /* rank 0: the database */
    char dbpath[4096];
    if (opt->db_path)
        snprintf(dbpath, sizeof dbpath, "%s", opt->db_path);
    else
        gs_sweep_default_db(&sw, dbpath, sizeof dbpath);
    char hosts[4096] = "";
    for (int r = 0; r < size; r++) {
        const char *h = all_hosts + 64 * r;
        int seen = 0;
        for (int q = 0; q < r; q++)
            seen |= strcmp(h, all_hosts + 64 * q) == 0;
        if (!seen) {
            size_t l = strlen(hosts);
            snprintf(hosts + l, sizeof hosts - l, "%s%s", l ? "," : "", h);
        }
    }
    free(all_hosts);
    gs_store_t *store = NULL;
    uint64_t *stored = NULL;
    size_t n_stored = 0;
    int64_t *pending = NULL;
    size_t n_pending = 0;
    if (gs_mkdirs_for(dbpath, err, sizeof err) != 0 ||
        !(store = gs_store_open(dbpath, 1, 0, err, sizeof err))) {
        code = 1;
    } else {
        if (opt->fresh) {
            long n = gs_store_count_runs(store);
            char lhost[256];
            long lpid;
            if (gs_store_live_run(store, lhost, sizeof lhost, &lpid)) {
                snprintf(err, sizeof err, "%s: a run is writing this database (host %s, pid %ld); "
                         "not deleting anything", dbpath, lhost, lpid);
                code = 1;
            } else {
                fprintf(stderr, "--fresh: deleting the %ld stored cells in %s and starting over\n",
                        n, dbpath);
                if (gs_store_delete_all(store, err, sizeof err) < 0)
                    code = 1;
            }
        }
        gs_session_info_t info = {size, threads, hosts};
        if (code == 0 && gs_store_begin_session(store, &sw, &info, err, sizeof err) != 0)
            code = 1;
        if (code == 0 && gs_store_stored_hashes(store, &stored, &n_stored, err, sizeof err) != 0)
            code = 1;
    }
    if (code == 0) {
        pending = malloc((sw.n_cells + 1) * sizeof *pending);
        if (!pending) {
            snprintf(err, sizeof err, "out of memory");
            code = 1;
        }
    }
    double flops_total = 0;
    if (code == 0) {
        for (size_t i = 0; i < sw.n_cells; i++)
            if (!gs_u64_contains(stored, n_stored, sw.cells[i].hash)) {
                pending[n_pending++] = (int64_t)i;
                flops_total += sw.cells[i].flops;
            }
        qsort_r(pending, n_pending, sizeof *pending, cmp_cost, &sw);
    }
    free(stored);
    MPI_CHECK(MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD));
    if (code) {
        fprintf(stderr, "gradsweep run: %s\n", err);
        gs_store_close(store);
        gs_sweep_free(&sw);
        free(pending);
        MPI_Finalize();
        return code;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fprintf(stderr, "sweep %s: %zu cells, %zu stored already, %zu to run on %d rank%s x %d "
            "thread%s -> %s\n", sw.name, sw.n_cells, sw.n_cells - n_pending, n_pending, size,
            size == 1 ? "" : "s", threads, threads == 1 ? "" : "s", dbpath);
    coord_t c = {.sw = &sw, .store = store};
    double cpu0 = thread_cpu();
    gs_progress_init(&c.bar, n_pending, flops_total, size * threads);
    int interrupted = 0;
    int rc = coordinate(&c, size, threads, host, pending, n_pending, &interrupted);
    gs_progress_draw(&c.bar, 1);
    free(pending);
    if (rc != 0) {
        fprintf(stderr, "gradsweep run: %s\n", c.err);
        maybe_commit(&c, 1);
        gs_store_end_session(store, "interrupted", thread_cpu(), err, sizeof err);
        gs_store_close(store);
        MPI_Abort(MPI_COMM_WORLD, 1);
        return 1;
    }
    if (interrupted) {
        /* commit what arrived; the cells in flight are lost and rerun later */
        int ok = maybe_commit(&c, 1) == 0 &&
                 gs_store_end_session(store, "interrupted", thread_cpu(), err, sizeof err) == 0;
        gs_store_close(store);
        fprintf(stderr, "interrupted by %s: %zu cells of this run stored%s; rerun the same "
                "command to resume:\n  gradsweep run %s%s%s\n",
                interrupted == SIGINT ? "SIGINT" : "SIGTERM", c.bar.done,
                ok ? "" : " (the last commit failed)", opt->config_path,
                opt->db_path ? " --db " : "", opt->db_path ? opt->db_path : "");
        code = interrupted == SIGINT ? 130 : 143;
        if (size > 1)
            MPI_Abort(MPI_COMM_WORLD, code);
        _exit(code);
    }
    for (int r = 1; r < size; r++) {
        int64_t stop = STOP_CELL;
        MPI_CHECK(MPI_Send(&stop, 1, MPI_INT64_T, r, TAG_WORK, MPI_COMM_WORLD));
    }
    double wall = gs_now() - c.bar.start, cpu = thread_cpu() - cpu0;
    if (maybe_commit(&c, 1) != 0 || gs_store_end_session(store, "done", cpu, err, sizeof err) != 0) {
        fprintf(stderr, "gradsweep run: %s\n", c.err[0] ? c.err : err);
        code = 1;
    } else {
        fprintf(stderr, "done: %zu cells stored in %s (%.2f s, %.1f cells/s; coordinator CPU "
                "%.3f s = %.1f%% of the wall time)\n", c.bar.done, dbpath, wall,
                wall > 0 ? (double)c.bar.done / wall : 0.0, cpu, wall > 0 ? 100.0 * cpu / wall : 0.0);
    }
    gs_store_close(store);
    gs_sweep_free(&sw);
    MPI_Finalize();
    return code;
}
