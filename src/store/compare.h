/* `gradsweep compare A.db B.db`: the cells of two sweep databases, read
 * by column name and paired, so that a user sees what a code change, a
 * new seed or a changed key did to a whole sweep.
 *
 * Pairs are found in three passes over the cells still unpaired:
 *   1. the same config_hash: the same cell (experiment, canonical key,
 *      base seed, repeat, thresholds);
 *   2. the same experiment, canonical key and repeat: the base seed or
 *      the diagnosis thresholds differ (another seed of the same sweep);
 *   3. the same experiment and repeat and every key but one: a key
 *      changed (steps=500 became 1000). The key is chosen as the one
 *      whose removal pairs the most cells one-to-one, and the pass
 *      repeats while some key pairs more; cells that would pair with
 *      several (an axis value removed, its neighbours alike) stay
 *      unpaired.
 * What is left is present in one database only. */
#ifndef GS_STORE_COMPARE_H
#define GS_STORE_COMPARE_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;

/* One stored cell, as compare reads it (NaN, 0 or "" for NULL). */
typedef struct {
    char hash[20];            /* config_hash */
    char experiment[64];
    char *key;                /* canonical_key (malloc'd) */
    long repeat;
    char status[16], diagnosis[16], diagnosis_final[16];
    double grad_h_ratio, grad_ratio, test_acc, train_loss;
    long diverged_step;
    long partner;             /* index of its pair in the other set, or -1 */
    int how;                  /* gs_cmp_how_t of the pair */
    char changed_key[64];     /* GS_CMP_ONE_KEY: the key that differs */
} gs_cmp_cell_t;

typedef enum { GS_CMP_HASH, GS_CMP_KEYS, GS_CMP_ONE_KEY } gs_cmp_how_t;
extern const char *const gs_cmp_how_names[];   /* "hash", "keys", "one_key" */

typedef struct {
    gs_cmp_cell_t *cells;
    size_t n;
} gs_cmp_set_t;

/* Every runs row of db (label: its path, for messages), sorted by
 * experiment, canonical key and repeat. 0; -1 with err (a column
 * missing names it). */
int gs_cmp_load(struct sqlite3 *db, const char *label, gs_cmp_set_t *set, char *err, size_t errlen);
void gs_cmp_free(gs_cmp_set_t *set);   /* NULL is fine */

/* Pair the cells of a and b (the passes above), setting partner, how
 * and changed_key on both sides. -1 when memory is short. */
int gs_cmp_match(gs_cmp_set_t *a, gs_cmp_set_t *b);

/* The value of key k in a canonical key ("k=v;..."), into buf ("" when
 * absent). */
void gs_cmp_key_value(const char *canonical, const char *k, char *buf, size_t len);

#endif
