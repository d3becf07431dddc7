/* `gradsweep run`: the sweep over MPI ranks (MPI_THREAD_FUNNELED).
 *
 * Every rank parses the config text that rank 0 broadcasts, so cells are
 * known everywhere by index. Rank 0's main thread coordinates: it hands
 * out cells longest-estimated-first to whichever worker is free, receives
 * packed results and is the only SQLite writer, committing at least every
 * second or two. It polls with short sleeps instead of blocking (Open MPI's
 * blocking calls spin), so it costs little CPU. Rank 0 also runs a compute
 * thread that works like any other worker (it never calls MPI), so one
 * rank computes the cells itself and N ranks give N workers. */
#ifndef GS_DRIVER_DRIVER_H
#define GS_DRIVER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "sweep/sweep.h"

typedef struct {
    const char *config_path;
    const char *db_path;     /* NULL: results/<sweep name>.db */
    int threads;             /* OpenMP threads per rank; 0: cores per rank on the node */
    int fresh;               /* delete stored cells first (another sweep's: the sweep whole) */
    int retry;               /* run the cells stored as failed or crashed again */
    int takeover;            /* a run still marked running is gone: start anyway */
    const char *const *experiments;   /* --experiment NAME...: run only these (none: all) */
    size_t n_experiments;
    const char *const *overrides;     /* KEY=VALUE words: gs_sweep_with_overrides */
    size_t n_overrides;
    const char *reuse_path;  /* --reuse OTHER.db: copy the cells it stores (store/reuse.h) */
    int yes;                 /* --yes: run a sweep past the size limit */
    double term_grace_s;     /* --term-grace S: SIGTERM drains for up to S seconds (0: stops at once) */
    int shard_index, shard_count;   /* --shard I/N: the cells of shard I of N (N 0: every cell) */
} gs_run_options_t;

/* The most shards a sweep is cut into (run --shard I/N), and the longest
 * --term-grace. */
#define GS_SHARDS_MAX 100000
#define GS_TERM_GRACE_MAX 86400.0

/* Whether the cell of this config hash is in shard index of count: the
 * hash modulo count (a cell's hash is the same in every database, so
 * shards of one sweep never overlap and together hold every cell). */
static inline int gs_shard_holds(uint64_t hash, int index, int count)
{
    return count <= 0 || hash % (uint64_t)count == (uint64_t)index;
}

/* The size past which `plan` warns and `run` wants --yes: a sweep of more
 * cells, or of more estimated core time (at GS_ASSUMED_FLOPS_PER_CORE),
 * than this - usually a config with one axis too many. */
#define GS_BIG_SWEEP_CELLS 100000
#define GS_BIG_SWEEP_CORE_S 3600.0

/* Whether the experiments mask selects of sw pass the size limit: 0 no;
 * 1 yes, with "N cells, ~T of estimated core time" and the limit in msg. */
int gs_driver_too_big(const gs_sweep_t *sw, const unsigned char *mask, char *msg, size_t len);

/* The experiments of sw that names[0..n) select (n == 0: every one) as
 * mask[e] = 1 (mask has sw->n_experiments entries): 0, or -1 with the
 * unknown name and the experiments there are in err. run and plan share
 * it. */
int gs_driver_select(const gs_sweep_t *sw, const char *const *names, size_t n,
                     unsigned char *mask, char *err, size_t errlen);

/* Returns the process exit status (util/exit.h): 0 every cell of the
 * config stored and none failed or crashed, 3 some failed or crashed, 1
 * a runtime failure, 2 bad input, 130 interrupted by SIGINT or SIGTERM
 * (after committing) or drained by SIGUSR1 (or SIGTERM with a grace). */
int gs_driver_run(const gs_run_options_t *opt);

#endif
