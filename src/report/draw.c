/* Drawing every chart of a report, in one process or over worker
 * processes. A chart costs PLplot, cairo and libpng a few hundred
 * milliseconds, and PLplot keeps its state in globals (no threads), so
 * the charts are shared out among forked processes.
 *
 * The work is planned first as units - the gallery, then each kind of
 * chart of each experiment with data (rp_chart_kinds), in the page's
 * order. Workers take the next unit from a counter in shared memory
 * (the slow kinds first), draw it, and send back through a pipe what it
 * listed: each chart's file, title and caption. The parent gathers them
 * by unit, so the list - and the page made from it - is the same in the
 * same order whatever the number of workers and whichever worker drew
 * what; every file a worker writes is the one a single process writes.
 *
 * SQLite forbids using a connection across fork(): each worker opens the
 * database itself, and the caller closes its own before (m->db is NULL
 * while the workers run). A worker that fails sends its message and
 * exits 1; one that dies (a signal) has its temporary files removed
 * (every file is written to NAME.tmp.PID and renamed, util/files.h), so
 * no chart is ever left half-written. Either stops the hand-out, and the
 * report fails with the chart it was drawing. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report/charts.h"
#include "store/store.h"

typedef struct {
    int exp;      /* index in m->exps; -1: the activation gallery */
    int kind;     /* index in rp_chart_kinds */
} unit_t;

/* The units of m's report in the page's order. */
static unit_t *plan_units(const rp_model_t *m, size_t *n)
{
    unit_t *u = malloc((1 + m->n_exps * rp_n_chart_kinds) * sizeof *u);
    *n = 0;
    if (!u)
        return NULL;
    if (m->n_stored > 0)
        u[(*n)++] = (unit_t){-1, 0};
    for (size_t e = 0; e < m->n_exps; e++)
        for (size_t k = 0; rp_exp_has_data(&m->exps[e]) && k < rp_n_chart_kinds; k++)
            u[(*n)++] = (unit_t){(int)e, (int)k};
    return u;
}

static int draw_unit(rp_model_t *m, unit_t u, const char *dir, rp_charts_t *out, char *err,
                     size_t errlen)
{
    if (u.exp < 0)
        return rp_chart_gallery(m, dir, out, err, errlen);
    return rp_chart_kinds[u.kind].draw(m, &m->exps[u.exp], dir, out, err, errlen);
}

/* "the phase chart of edge-of-chaos" */
static void unit_name(const rp_model_t *m, unit_t u, char *buf, size_t len)
{
    if (u.exp < 0)
        snprintf(buf, len, "the activation gallery");
    else
        snprintf(buf, len, "the %s chart of experiment %s", rp_chart_kinds[u.kind].name,
                 m->exps[u.exp].ex->name);
}

/* ---- one process ---- */

static int draw_serial(rp_model_t *m, const unit_t *units, size_t n, const char *dir,
                       rp_charts_t *gallery, rp_charts_t *per, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (draw_unit(m, units[i], dir, units[i].exp < 0 ? gallery : &per[units[i].exp], err,
                      errlen) != 0)
            return -1;
    return 0;
}

/* ---- workers ---- */

/* What a worker sends: a fixed-size record. */
enum { MSG_BEGIN, MSG_CHART, MSG_END, MSG_ERROR };
typedef struct {
    int type;
    int unit;         /* index in the plan */
    rp_chart_t chart; /* MSG_CHART: what the unit listed; MSG_ERROR: the message, in caption */
} msg_t;

typedef struct {
    atomic_size_t next;   /* the next unit to take, in the hand-out order */
    atomic_int stop;      /* a worker failed: take no more */
} shared_t;

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static void send_msg(int fd, msg_t *msg, int type, int unit)
{
    msg->type = type;
    msg->unit = unit;
    if (write_all(fd, msg, sizeof *msg) != 0)
        _exit(1);   /* the parent is gone */
}

static void send_error(int fd, msg_t *msg, int unit, const char *text)
{
    snprintf(msg->chart.caption, sizeof msg->chart.caption, "%s", text);
    send_msg(fd, msg, MSG_ERROR, unit);
}

/* A worker: draw units until none is left, then exit. Never returns;
 * _exit, so that nothing the parent buffered or registered runs twice. */
static void worker(rp_model_t *m, const unit_t *units, const size_t *order, size_t n,
                   const char *dir, shared_t *sh, int fd)
{
    msg_t *msg = calloc(1, sizeof *msg);
    char err[sizeof msg->chart.caption];
    if (!msg)
        _exit(1);
    gs_store_t *st = gs_store_open(m->db_path, 0, 1, err, sizeof err);
    if (!st) {
        send_error(fd, msg, -1, err);
        _exit(1);
    }
    m->db = gs_store_handle(st);
    for (;;) {
        if (atomic_load(&sh->stop))
            break;
        size_t i = atomic_fetch_add(&sh->next, 1);
        if (i >= n)
            break;
        int u = (int)order[i];
        send_msg(fd, msg, MSG_BEGIN, u);
        rp_charts_t out = {0};
        if (draw_unit(m, units[u], dir, &out, err, sizeof err) != 0) {
            send_error(fd, msg, u, err);
            _exit(1);
        }
        for (size_t c = 0; c < out.n; c++) {
            msg->chart = out.items[c];
            send_msg(fd, msg, MSG_CHART, u);
        }
        send_msg(fd, msg, MSG_END, u);
        rp_charts_free(&out);
    }
    gs_store_close(st);
    free(msg);
    _exit(0);
}

/* The order units are handed out in: the slow kinds first (so that one
 * of them does not start last while the other workers go idle), then the
 * page's order. */
static size_t *hand_out_order(const unit_t *units, size_t n)
{
    size_t *order = malloc((n + 1) * sizeof *order), k = 0;
    if (!order)
        return NULL;
    for (int slow = 1; slow >= 0; slow--)
        for (size_t i = 0; i < n; i++)
            if ((units[i].exp >= 0 && rp_chart_kinds[units[i].kind].slow) == slow)
                order[k++] = i;
    return order;
}

typedef struct {
    pid_t pid;
    int fd;              /* the read end of its pipe; -1 at EOF */
    int unit;            /* the unit it draws (BEGIN without END); -1: none */
    int failed;          /* it sent MSG_ERROR */
    msg_t msg;           /* the record being read */
    size_t got;          /* bytes of it read */
} child_t;

/* Remove what a dead worker was writing: DIR/charts/ *.tmp.PID. */
static void remove_temporaries(const char *dir, pid_t pid)
{
    char charts[4200], suffix[32], path[8400];
    snprintf(charts, sizeof charts, "%s/charts", dir);
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)pid);
    DIR *d = opendir(charts);
    if (!d)
        return;
    size_t ls = strlen(suffix);
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t l = strlen(de->d_name);
        if (l > ls && strcmp(de->d_name + l - ls, suffix) == 0) {
            snprintf(path, sizeof path, "%s/%s", charts, de->d_name);
            remove(path);
        }
    }
    closedir(d);
}

/* Take what the workers send until every pipe is closed; results[u]
 * gets unit u's charts. The first failure's message goes to err. */
static int gather(rp_model_t *m, child_t *ch, size_t nw, const unit_t *units,
                  rp_charts_t *results, shared_t *sh, char *err, size_t errlen)
{
    int rc = 0;
    struct pollfd *pf = calloc(nw, sizeof *pf);
    if (!pf) {
        snprintf(err, errlen, "out of memory gathering the charts");
        atomic_store(&sh->stop, 1);
        rc = -1;
    }
    for (;;) {
        size_t open = 0;
        for (size_t w = 0; w < nw; w++)
            if (ch[w].fd >= 0 && pf) {
                pf[open].fd = ch[w].fd;
                pf[open].events = POLLIN;
                pf[open++].revents = 0;
            }
        if (open == 0)
            break;
        if (poll(pf, open, -1) < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "waiting for the report's workers: %s", strerror(errno));
            atomic_store(&sh->stop, 1);
            rc = -1;
            break;
        }
        for (size_t w = 0; w < nw; w++) {
            child_t *c = &ch[w];
            if (c->fd < 0)
                continue;
            size_t p = 0;
            while (p < open && pf[p].fd != c->fd)
                p++;
            if (p == open || !(pf[p].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = read(c->fd, (char *)&c->msg + c->got, sizeof c->msg - c->got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {   /* it ended; amid a unit, it died: hand out no more */
                close(c->fd);
                c->fd = -1;
                if (c->unit >= 0)
                    atomic_store(&sh->stop, 1);
                continue;
            }
            c->got += (size_t)r;
            if (c->got < sizeof c->msg)
                continue;
            c->got = 0;
            msg_t *g = &c->msg;
            if (g->type == MSG_BEGIN) {
                c->unit = g->unit;
            } else if (g->type == MSG_END) {
                c->unit = -1;
            } else if (g->type == MSG_CHART) {
                rp_charts_t *o = &results[g->unit];
                rp_chart_t *it = realloc(o->items, (o->n + 1) * sizeof *it);
                if (!it) {
                    if (rc == 0)
                        snprintf(err, errlen, "out of memory gathering the charts");
                    atomic_store(&sh->stop, 1);
                    rc = -1;
                    continue;
                }
                o->items = it;
                it[o->n++] = g->chart;
            } else if (g->type == MSG_ERROR) {
                c->failed = 1;
                if (rc == 0) {
                    char what[512];
                    if (g->unit >= 0)
                        unit_name(m, units[g->unit], what, sizeof what);
                    else
                        snprintf(what, sizeof what, "the database");
                    snprintf(err, errlen, "report worker (pid %ld) failed on %s: %s",
                             (long)c->pid, what, g->chart.caption);
                }
                atomic_store(&sh->stop, 1);
                rc = -1;
            }
        }
    }
    free(pf);
    return rc;
}

/* Wait for every worker; one that did not exit 0 and sent no message
 * died: say what it was drawing, and remove its temporary files. */
static int reap(rp_model_t *m, child_t *ch, size_t nw, const unit_t *units, const char *dir,
                int rc, char *err, size_t errlen)
{
    for (size_t w = 0; w < nw; w++) {
        int status;
        while (waitpid(ch[w].pid, &status, 0) < 0 && errno == EINTR)
            ;
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (ok)
            continue;
        remove_temporaries(dir, ch[w].pid);
        if (ch[w].failed)
            continue;
        if (rc == 0) {
            char what[512], how[128];
            if (ch[w].unit >= 0)
                unit_name(m, units[ch[w].unit], what, sizeof what);
            else
                snprintf(what, sizeof what, "no chart");
            if (WIFSIGNALED(status))
                snprintf(how, sizeof how, "was killed by signal %d (%s)", WTERMSIG(status),
                         strsignal(WTERMSIG(status)));
            else
                snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
            snprintf(err, errlen, "report worker (pid %ld) %s while drawing %s; nothing it was "
                     "writing was left behind, and the report is incomplete", (long)ch[w].pid,
                     how, what);
        }
        rc = -1;
    }
    return rc;
}

static int draw_parallel(rp_model_t *m, const unit_t *units, size_t n, const char *dir,
                         int jobs, rp_charts_t *gallery, rp_charts_t *per, char *err,
                         size_t errlen)
{
    size_t nw = (size_t)jobs < n ? (size_t)jobs : n;
    size_t *order = hand_out_order(units, n);
    child_t *ch = calloc(nw, sizeof *ch);
    rp_charts_t *results = calloc(n, sizeof *results);
    shared_t *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                        -1, 0);
    int rc = -1;
    size_t started = 0;
    if (!order || !ch || !results || sh == MAP_FAILED) {
        snprintf(err, errlen, "out of memory starting the report's workers");
        goto out;
    }
    atomic_init(&sh->next, 0);
    atomic_init(&sh->stop, 0);
    fflush(NULL);   /* a child must not write what the parent had buffered */
    for (; started < nw; started++) {
        int fds[2];
        if (pipe(fds) != 0)
            break;
        pid_t pid = fork();
        if (pid < 0) {
            close(fds[0]);
            close(fds[1]);
            break;
        }
        if (pid == 0) {
            close(fds[0]);
            for (size_t w = 0; w < started; w++)
                close(ch[w].fd);
            worker(m, units, order, n, dir, sh, fds[1]);
        }
        close(fds[1]);
        ch[started] = (child_t){.pid = pid, .fd = fds[0], .unit = -1};
    }
    if (started == 0) {
        snprintf(err, errlen, "cannot start a report worker: %s", strerror(errno));
        goto out;
    }
    rc = gather(m, ch, started, units, results, sh, err, errlen);
    rc = reap(m, ch, started, units, dir, rc, err, errlen);
    for (size_t u = 0; rc == 0 && u < n; u++) {
        rp_charts_t *o = units[u].exp < 0 ? gallery : &per[units[u].exp];
        rp_chart_t *it = realloc(o->items, (o->n + results[u].n + 1) * sizeof *it);
        if (!it) {
            snprintf(err, errlen, "out of memory gathering the charts");
            rc = -1;
            break;
        }
        o->items = it;
        memcpy(it + o->n, results[u].items, results[u].n * sizeof *it);
        o->n += results[u].n;
    }
out:
    for (size_t u = 0; results && u < n; u++)
        rp_charts_free(&results[u]);
    free(results);
    free(ch);
    free(order);
    if (sh != MAP_FAILED)
        munmap(sh, sizeof *sh);
    return rc;
}

int rp_draw_charts(rp_model_t *m, const char *dir, int jobs, rp_charts_t *gallery,
                   rp_charts_t *per, char *err, size_t errlen)
{
    size_t n;
    unit_t *units = plan_units(m, &n);
    if (!units) {
        snprintf(err, errlen, "out of memory planning the charts");
        return -1;
    }
    int rc = jobs > 1 && n > 1
                 ? draw_parallel(m, units, n, dir, jobs, gallery, per, err, errlen)
                 : draw_serial(m, units, n, dir, gallery, per, err, errlen);
    free(units);
    return rc;
}
