/* Running one cell on any rank and thread, and a worker rank's queue with
 * its non-blocking sends of results. */
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

void *dv_run_cell(const gs_sweep_t *sw, int64_t index, int rank, int threads,
                      const char *host, size_t *len)
{
    assert(index >= 0 && (size_t)index < sw->n_cells);
    const gs_sweep_cell_t *cell = &sw->cells[index];
    gs_result_t r;
    double t0 = gs_now();
    dv_crash_arm(cell->hash_hex);
    test_cell_crash(cell);
    gs_experiment_run(&cell->cell, &r, NULL);   /* failures come back in r */
    test_cell_delay();
    dv_crash_disarm();
    gs_pack_meta_t meta = {.cell = index, .rank = rank, .threads = threads,
                           .wall_s = gs_now() - t0};
    snprintf(meta.host, sizeof meta.host, "%s", host);
    void *buf = gs_pack_result(&r, &meta, len);
    gs_result_free(&r);
    return buf;
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
        dv_nap(IDLE_SLEEP_NS);   /* wait politely while idle */
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
void dv_worker_loop(const gs_sweep_t *sw, int rank, int threads, const char *host)
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
        void *buf = dv_run_cell(sw, idx, rank, threads, host, &n);
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
