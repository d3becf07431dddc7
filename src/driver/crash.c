/* The crash log: a cell that kills its process is noted by the dying
 * process, counted by the next run, and stored as crashed once it has
 * killed GS_DEATHS_TO_CRASHED runs. */
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

void dv_crash_catch(const char *dbpath)
{
    snprintf(crash_log, sizeof crash_log, "%s-crashes", dbpath);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < sizeof fatal_signals / sizeof *fatal_signals; i++)
        sigaction(fatal_signals[i], &sa, NULL);
}

void dv_crash_arm(const char *hash_hex)
{
    snprintf(crash_cell, sizeof crash_cell, "%s ", hash_hex);
    crash_armed = 1;
}

void dv_crash_disarm(void)
{
    crash_armed = 0;
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


/* The crash log's lines (on_fatal) become deaths of the cells they name,
 * committed before the log is removed. */
int dv_crash_read_log(gs_store_t *st, char *err, size_t errlen)
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
int dv_store_crashed(gs_store_t *st, const gs_sweep_t *sw, int threads, char *err,
                         size_t errlen)
{
    gs_death_t *d;
    size_t n;
    if (dv_crash_read_log(st, err, errlen) != 0 || gs_store_deaths(st, 1, &d, &n, err, errlen) != 0)
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
