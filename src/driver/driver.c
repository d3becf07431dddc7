/* gs_driver_run: an MPI job over a sweep's cells (driver/internal.h says
 * which file does what): the set-up every rank shares, rank 0's database
 * and pending cells, and the one teardown. */
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

/* A worker rank's SIGINT/SIGTERM (mpirun sends SIGTERM to every rank when
 * it is interrupted, then SIGKILL a second later): its cell is lost
 * anyway and rank 0 does the bookkeeping, so it ends at once with the
 * interrupted status rather than dying of the signal. */
static void on_worker_signal(int sig)
{
    (void)sig;
    _exit(GS_EXIT_INTERRUPTED);
}

/* A drain is rank 0's (coordinator.c): mpirun and srun pass SIGUSR1 to
 * every rank, and a worker rank that ignores it finishes its cell when
 * rank 0 says DROP_CELL. With --term-grace, SIGTERM (Slurm's at a time
 * limit, to every task) is a drain too, so a worker rank ignores it: it
 * is killed if rank 0 stops at once at the grace's end. */
static void worker_drain_signals(const gs_run_options_t *opt, struct sigaction *stop)
{
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGUSR1, &ign, NULL);
    sigaction(SIGTERM, opt->term_grace_s > 0 ? &ign : stop, NULL);
}

static const gs_sweep_hooks_t check_hooks = {gs_experiment_check, gs_experiment_flops};
static const gs_sweep_hooks_t cost_hooks = {NULL, gs_experiment_flops};

/* ---- set-up shared by all ranks ---- */

/* One rank's view of the job, torn down in one place (job_end). */

static int job_end(dv_job_t *j, int code)
{
    if (j->have_sw)
        gs_sweep_free(&j->sw);
    free(j->selected);
    MPI_Finalize();
    return code;
}

/* The same code on every rank: rank 0's, or the worst any rank had. */
static int agree(dv_job_t *j, int code, int any)
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


/* Rank 0 reads the config; every rank parses the same text, so that
 * cells are known everywhere by index. Only rank 0 checks cells against
 * its machine (memory); the others expand the same grid. */
static int job_config(dv_job_t *j, const gs_run_options_t *opt)
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
        dv_command_text(opt, cmd, sizeof cmd);
        snprintf(j->err, sizeof j->err, "%s: a big sweep: %s. Check it with gradsweep plan "
                 "(an axis too many?); to run it as it is:\n  %s --yes", opt->config_path, size,
                 cmd);
        code = GS_EXIT_INPUT;
    }
    free(text);
    return agree(j, code, 1);
}

/* Every rank's host, distinct, comma-separated (rank 0's hosts). */
static void gather_hosts(dv_job_t *j, char *hosts, size_t cap)
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
void dv_command_text(const gs_run_options_t *opt, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "gradsweep run %s", opt->config_path);
    for (size_t i = 0; i < opt->n_overrides && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, " %s", opt->overrides[i]);
    if (opt->db_path && used < len)
        used += (size_t)snprintf(buf + used, len - used, " --db %s", opt->db_path);
    for (size_t i = 0; i < opt->n_experiments && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, " --experiment %s", opt->experiments[i]);
    if (opt->yes && used < len)
        used += (size_t)snprintf(buf + used, len - used, " --yes");
    if (opt->shard_count && used < len)
        used += (size_t)snprintf(buf + used, len - used, " --shard %d/%d", opt->shard_index,
                                 opt->shard_count);
    if (opt->term_grace_s > 0 && used < len)
        snprintf(buf + used, len - used, " --term-grace %g", opt->term_grace_s);
}

/* A shard's database by default: results/<sweep>.shard-I-of-N.db, so that
 * the tasks of an array job write one database each. */
static void shard_default_db(const gs_sweep_t *sw, const gs_run_options_t *opt, char *buf,
                             size_t len)
{
    char whole[4096];
    gs_sweep_default_db(sw, whole, sizeof whole);
    size_t n = strlen(whole);
    if (n > 3 && strcmp(whole + n - 3, ".db") == 0)
        whole[n - 3] = '\0';
    snprintf(buf, len, "%s.shard-%d-of-%d.db", whole, opt->shard_index, opt->shard_count);
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

static int cmp_cost(const void *a, const void *b, void *arg)
{
    const gs_sweep_t *sw = arg;
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    double fx = sw->cells[x].flops, fy = sw->cells[y].flops;
    if (fx != fy)
        return fx > fy ? -1 : 1;
    return x < y ? -1 : x > y;
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
static int reuse_offer(dv_job_t *j, const gs_run_options_t *opt, gs_store_t *st,
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
static int reuse_cells(dv_job_t *j, const gs_run_options_t *opt, gs_store_t *st,
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
            gs_shard_holds(h, opt->shard_index, opt->shard_count) &&
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
static gs_store_t *open_store(dv_job_t *j, const gs_run_options_t *opt, const char *hosts,
                              int64_t **pending, size_t *n_pending, double *flops, int *code)
{
    gs_store_t *st = NULL;
    uint64_t *stored = NULL;
    size_t n_stored = 0;
    char shard[32] = "";
    if (opt->shard_count)
        snprintf(shard, sizeof shard, "%d/%d", opt->shard_index, opt->shard_count);
    gs_session_info_t info = {j->size, j->threads, hosts, opt->fresh, shard[0] ? shard : NULL,
                              opt->takeover};
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
    if (gs_store_takeover_result(st))
        fprintf(stderr, "--takeover: %s marked crashed; this run writes %s now\n",
                gs_store_takeover_result(st), j->dbpath);
    if (dv_store_crashed(st, &j->sw, j->threads, j->err, sizeof j->err) != 0 ||
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
            gs_shard_holds(j->sw.cells[i].hash, opt->shard_index, opt->shard_count) &&
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
    dv_job_t *j = calloc(1, sizeof *j);
    int provided, code;
    if (!j || MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "gradsweep run: %s\n", j ? "MPI_Init_thread failed" : "out of memory");
        free(j);
        return GS_EXIT_RUNTIME;
    }
    /* errors return to gradsweep (driver/internal.h); the communicators
     * split from it (near_rank0, auto_threads) inherit the handler */
    if (MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN) != MPI_SUCCESS)
        fprintf(stderr, "gradsweep run: MPI_Comm_set_errhandler failed: MPI errors stay fatal\n");
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
        else if (opt->shard_count)
            shard_default_db(&j->sw, opt, j->dbpath, sizeof j->dbpath);
        else
            gs_sweep_default_db(&j->sw, j->dbpath, sizeof j->dbpath);
        dv_crash_catch(j->dbpath);   /* before dv_store_crashed reads its log */
        store = open_store(j, opt, hosts, &pending, &n_pending, &flops, &code);
    }
    if ((code = agree(j, code, 0)))
        goto end;
    MPI_CHECK(MPI_Bcast(j->dbpath, sizeof j->dbpath, MPI_CHAR, 0, MPI_COMM_WORLD));
    int seeding = j->sw.seeding;   /* the database's (gs_store_begin_session) */
    MPI_CHECK(MPI_Bcast(&seeding, 1, MPI_INT, 0, MPI_COMM_WORLD));
    gs_sweep_set_seeding(&j->sw, seeding);
    if (j->rank != 0) {
        dv_crash_catch(j->dbpath);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_worker_signal;
        sigaction(SIGINT, &sa, NULL);
        worker_drain_signals(opt, &sa);
        if (near)
            dv_run_in_background();
        dv_worker_loop(&j->sw, j->rank, j->threads, j->host);
    } else {
        code = dv_run_coordinator(j, opt, store, pending, n_pending, flops);
    }
end:
    code = job_end(j, code);
    free(j);
    return code;
}
