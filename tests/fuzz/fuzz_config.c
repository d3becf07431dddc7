/* Fuzz target `config`: the bytes are the text of a sweep config, parsed
 * by gs_sweep_parse (inih underneath) with the hooks `gradsweep plan`
 * checks with (gs_experiment_check: combinations and memory, pure
 * arithmetic; gs_experiment_flops). Nothing is built or run.
 *
 * Properties beyond "no crash, no leak":
 *  - a refused config says where: its message starts with "fuzz.ini:"
 *    (every error names file:line or at least the file);
 *  - an accepted one is consistent: the experiments' cells add up to the
 *    sweep's, each cell lies inside its experiment and passes the check
 *    hook, and its config_hash is the one its hash text gives;
 *  - the canonical key reads back: every key of a cell, written with
 *    gs_cell_format and set again on a default cell, gives the same
 *    canonical key (checked on the first cells of each experiment). */
#include <config.h>

#include <string.h>

#include "experiment/experiment.h"
#include "fuzz.h"
#include "sweep/sweep.h"
#include "util/hash.h"

#define PATH "fuzz.ini"
#define KEY_CHECKS 4   /* cells per experiment whose key is read back */

static void check_key_reads_back(const gs_cell_t *c)
{
    gs_cell_t back;
    gs_cell_defaults(&back);
    gs_key_info_t k;
    char val[128], err[1024];
    for (size_t i = 0; gs_cell_key_info(i, &k); i++) {
        gs_cell_format(c, k.name, val, sizeof val);
        FUZZ_CHECK(gs_cell_set(&back, k.name, val, err, sizeof err) == 0,
                   "%s=%s, as written by gs_cell_format, is refused: %s", k.name, val, err);
    }
    char a[2048], b[2048];
    gs_cell_key(c, a, sizeof a);
    gs_cell_key(&back, b, sizeof b);
    FUZZ_CHECK(strcmp(a, b) == 0, "canonical key %s reads back as %s", a, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > GS_CONFIG_MAX_BYTES)
        return 0;   /* gs_sweep_load refuses larger files before parsing */
    /* the text as gs_read_text gives it: NUL-terminated (a NUL inside
     * ends it, as it would for the parser) */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static const gs_sweep_hooks_t hooks = {gs_experiment_check, gs_experiment_flops};
    gs_sweep_t sw;
    char err[2048] = "";
    if (gs_sweep_parse(&sw, text, PATH, &hooks, err, sizeof err) != 0) {
        FUZZ_CHECK(strncmp(err, PATH ":", strlen(PATH ":")) == 0 ||
                       strcmp(err, "out of memory") == 0,
                   "an error that does not say where: '%s'", err);
        free(text);
        return 0;
    }
    size_t total = 0;
    for (size_t x = 0; x < sw.n_experiments; x++) {
        const gs_experiment_t *ex = &sw.experiments[x];
        FUZZ_CHECK(ex->first_cell == total && ex->n_cells > 0,
                   "[%s]: cells %zu..+%zu, expected from %zu", ex->name, ex->first_cell,
                   ex->n_cells, total);
        total += ex->n_cells;
        for (size_t i = ex->first_cell; i < ex->first_cell + ex->n_cells; i++) {
            const gs_sweep_cell_t *c = &sw.cells[i];
            FUZZ_CHECK(c->experiment == x, "cell %zu is of experiment %zu, not %zu", i,
                       c->experiment, x);
            for (size_t a = 0; a < ex->n_axes; a++)
                FUZZ_CHECK(gs_sweep_axis_value(ex, c, a) < ex->axes[a].n_values,
                           "cell %zu: value index out of axis %s", i, ex->axes[a].key);
            char ht[4096], msg[1024];
            gs_sweep_hash_text(&sw, c, ht, sizeof ht);
            uint64_t h = gs_mix64(gs_fnv1a(GS_FNV_OFFSET, ht, strlen(ht)));
            FUZZ_CHECK(c->hash == h || c->hash == (h | 1),
                       "cell %zu: config_hash %s is not its hash text's", i, c->hash_hex);
            FUZZ_CHECK(gs_experiment_check(&c->cell, msg, sizeof msg) == 0,
                       "cell %zu passed the plan's check once, not again: %s", i, msg);
            if (i < ex->first_cell + KEY_CHECKS)
                check_key_reads_back(&c->cell);
        }
    }
    FUZZ_CHECK(total == sw.n_cells, "experiments hold %zu cells, the sweep %zu", total,
               sw.n_cells);
    gs_sweep_free(&sw);
    free(text);
    return 0;
}
