/* Rank 0's compute thread: a worker behind a mutex, fed by the
 * coordinator, yielding to it when other ranks compute too. */
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

/* ---- rank 0's compute thread: a worker behind a mutex ---- */


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

void dv_run_in_background(void)
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
    dv_local_worker_t *w = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* signals are the coordinator's */
    if (w->background)
        dv_run_in_background();
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
        w->running = 1;
        pthread_mutex_unlock(&w->mu);
        dv_packed_t *p = calloc(1, sizeof *p);
        if (p)
            p->buf = dv_run_cell(w->sw, idx, 0, w->threads, w->host, &p->len);
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
        w->running = 0;
        pthread_mutex_unlock(&w->mu);
    }
}

void dv_local_push(dv_local_worker_t *w, int64_t idx)
{
    pthread_mutex_lock(&w->mu);
    w->queue[(w->q_head + w->q_len) % w->q_cap] = idx;
    w->q_len++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

dv_packed_t *dv_local_take(dv_local_worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    dv_packed_t *p = w->results;
    w->results = w->results_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    return p;
}

/* A drain: the cells queued and not started are dropped; the one
 * running finishes. The number dropped. */
size_t dv_local_drop(dv_local_worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    size_t n = w->q_len;
    w->q_len = 0;
    pthread_mutex_unlock(&w->mu);
    return n;
}

int dv_local_idle(dv_local_worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    int idle = w->q_len == 0 && !w->running && !w->results;
    pthread_mutex_unlock(&w->mu);
    return idle;
}

/* The local compute thread: started before the loop, stopped after it
 * (it finishes the cell it runs and drops the rest). */
int dv_local_start(dv_local_worker_t *lw, const gs_sweep_t *sw, int threads, int background,
                   const char *host, pthread_t *tid)
{
    lw->sw = sw;
    lw->threads = threads;
    lw->background = background;
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

void dv_local_stop(dv_local_worker_t *lw, pthread_t tid)
{
    pthread_mutex_lock(&lw->mu);
    lw->stop = 1;
    pthread_cond_signal(&lw->cv);
    pthread_mutex_unlock(&lw->mu);
    pthread_join(tid, NULL);
    for (dv_packed_t *p = dv_local_take(lw), *nx; p; p = nx) {
        nx = p->next;
        free(p->buf);
        free(p);
    }
    free(lw->queue);
    lw->queue = NULL;
}
