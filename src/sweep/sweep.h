/* A sweep config (INI; README, "The sweep"): a [sweep] section and one section per
 * experiment. In an experiment a comma-separated value is an axis; the
 * experiment's cells are the product of its axes, times `repeats`. Keys of
 * the vocabulary written in [sweep] are defaults for every experiment.
 *
 *   [sweep]
 *   name = seed                 ; results/<name>.db, reports/<name>/
 *   description = ...
 *   seed = 42
 *
 *   [depth-scan]
 *   task = probe
 *   depth = 5, 10, 20, 50
 *   activation = sigmoid, tanh, relu
 *
 * A line that starts with whitespace continues the previous value, so a
 * long axis can span lines. Every error names file:line, the key, the bad
 * value and what is allowed.
 *
 * An [overrides] section (a reserved name, like [sweep]) sets keys for
 * every experiment, replacing what [sweep] and each experiment say of
 * them (an axis of that key included): one value per key. The KEY=VALUE
 * words of `gradsweep plan|run CONFIG KEY=VALUE...` become such a section
 * appended to the config's text (gs_sweep_with_overrides), and that text
 * is what a run stores (sweeps.config_text), so that whatever re-reads
 * the sweep from the database - status, report - finds the same cells. */
#ifndef GS_SWEEP_SWEEP_H
#define GS_SWEEP_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "sweep/cell.h"
#include "util/hash.h"

#define GS_NAME_MAX 64
#define GS_OVERRIDES_SECTION "overrides"
#define GS_MAX_AXES 64   /* keys with more than one value in one experiment */
#define GS_CONFIG_MAX_BYTES (16u << 20)   /* larger is not a sweep config */

typedef struct {
    char key[64];
    char **values;
    size_t n_values;
    int line;
} gs_axis_t;

typedef struct {
    char name[GS_NAME_MAX];
    char slug[GS_NAME_MAX];   /* the name for file names and page anchors */
    int line;                 /* of its [section] header */
    gs_axis_t *axes;          /* keys with more than one value, in file order */
    size_t n_axes;
    size_t first_cell, n_cells;
    size_t n_dropped;         /* combinations equal to another once settled
                                 (gs_cell_settle: keys without effect reset) */
    gs_settled_t settled;     /* the keys settling reset in its cells, and why */
} gs_experiment_t;

typedef struct {
    size_t experiment;        /* index into experiments */
    size_t combo;             /* its combination of axis values, last axis fastest */
    gs_cell_t cell;           /* every key filled in, repeat set */
    uint64_t hash;            /* config_hash; the run id is hash & INT64_MAX */
    char hash_hex[GS_HASH_HEX_LEN];
    double flops;             /* estimated cost */
} gs_sweep_cell_t;

typedef struct {
    char name[GS_NAME_MAX];
    char slug[GS_NAME_MAX];   /* the name for file names: results/<slug>.db */
    char description[1024];
    char *path;               /* as given */
    char *text;               /* the config file's text */
    uint64_t seed;
    int seeding;              /* gs_seeding_t of every cell (paired unless a stored
                                 database says otherwise: gs_sweep_set_seeding) */
    double vanishing_below, exploding_above;
    char overrides[1024];     /* the [overrides] keys as "k=v, k=v" ("": none) */
    gs_experiment_t *experiments;
    size_t n_experiments;
    gs_sweep_cell_t *cells;   /* experiment by experiment, axes varying last-fastest */
    size_t n_cells;
} gs_sweep_t;

/* What the sweep needs from whoever runs cells: a check of each cell
 * (combinations, memory; -1 with a message) and its estimated cost. */
typedef struct {
    int (*check)(const gs_cell_t *cell, char *err, size_t errlen);
    double (*cost)(const gs_cell_t *cell);
} gs_sweep_hooks_t;

/* Parse config text (path is for messages); hooks may be NULL. 0 on
 * success; -1 with a message "path:line: ..." in err. */
int gs_sweep_parse(gs_sweep_t *sw, const char *text, const char *path,
                   const gs_sweep_hooks_t *hooks, char *err, size_t errlen);

/* The config text with the words KEY=VALUE (n of them) as an
 * [overrides] section appended, malloc'd into *out. Each word is checked
 * as the INI value of that key would be (the key table of sweep/cell.c:
 * an unknown key or a bad value is refused with a message naming the
 * word), and a key may be given once, with one value. n == 0: a copy of
 * text. 0, or -1 with the message in err. */
int gs_sweep_with_overrides(const char *text, const char *const *words, size_t n, char **out,
                            char *err, size_t errlen);

/* Read and parse a file. */
int gs_sweep_load(gs_sweep_t *sw, const char *path, const gs_sweep_hooks_t *hooks, char *err,
                  size_t errlen);

void gs_sweep_free(gs_sweep_t *sw);   /* NULL is fine */

/* Derive every cell's seeds the gs_seeding_t way (a database keeps the
 * seeding it was written with). Hashes and costs do not change. */
void gs_sweep_set_seeding(gs_sweep_t *sw, int seeding);

/* Index of a cell's value on axis a of its experiment. */
size_t gs_sweep_axis_value(const gs_experiment_t *ex, const gs_sweep_cell_t *c, size_t a);

/* The text that a cell's config_hash hashes: experiment, canonical key,
 * base seed, repeat and the diagnosis thresholds. */
size_t gs_sweep_hash_text(const gs_sweep_t *sw, const gs_sweep_cell_t *c, char *buf, size_t len);

/* A sweep or experiment name: 1..63 printable characters (any text: the
 * report escapes it). */
int gs_valid_name(const char *s);

/* The name for file paths: every character but A-Z a-z 0-9 _ - becomes _. */
void gs_slug(const char *name, char *out, size_t len);

/* The database a sweep writes when no --db is given: results/<slug>.db. */
void gs_sweep_default_db(const gs_sweep_t *sw, char *buf, size_t len);

#endif
