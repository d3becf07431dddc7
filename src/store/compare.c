#include <config.h>

#include "store/compare.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"

const char *const gs_cmp_how_names[] = {"hash", "keys", "one_key"};

enum {
    C_HASH, C_EXPERIMENT, C_KEY, C_REPEAT, C_STATUS, C_DIAG, C_FINAL, C_HRATIO, C_RATIO, C_ACC,
    C_TRAIN_LOSS, C_DIVERGED, N_C
};
static const char *const cols[N_C] = {
    [C_HASH] = "config_hash", [C_EXPERIMENT] = "experiment", [C_KEY] = "canonical_key",
    [C_REPEAT] = "repeat", [C_STATUS] = "status", [C_DIAG] = "diagnosis",
    [C_FINAL] = "diagnosis_final", [C_HRATIO] = "grad_h_ratio", [C_RATIO] = "grad_ratio",
    [C_ACC] = "test_acc", [C_TRAIN_LOSS] = "train_loss", [C_DIVERGED] = "diverged_step"};

void gs_cmp_free(gs_cmp_set_t *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        free(set->cells[i].key);
    free(set->cells);
    set->cells = NULL;
    set->n = 0;
}

static int cmp_cell(const void *x, const void *y)
{
    const gs_cmp_cell_t *a = x, *b = y;
    int c = strcmp(a->experiment, b->experiment);
    if (!c)
        c = strcmp(a->key, b->key);
    return c ? c : (a->repeat > b->repeat) - (a->repeat < b->repeat);
}

/* One row of q into c: 0, or -1 out of memory. */
static int read_cell(const gs_query_t *q, gs_cmp_cell_t *c)
{
    char key[4096];
    memset(c, 0, sizeof *c);
    gs_query_text(q, C_HASH, c->hash, sizeof c->hash);
    gs_query_text(q, C_EXPERIMENT, c->experiment, sizeof c->experiment);
    gs_query_text(q, C_STATUS, c->status, sizeof c->status);
    gs_query_text(q, C_DIAG, c->diagnosis, sizeof c->diagnosis);
    gs_query_text(q, C_FINAL, c->diagnosis_final, sizeof c->diagnosis_final);
    c->repeat = (long)gs_query_int(q, C_REPEAT);
    c->grad_h_ratio = gs_query_real(q, C_HRATIO);
    c->grad_ratio = gs_query_real(q, C_RATIO);
    c->test_acc = gs_query_real(q, C_ACC);
    c->train_loss = gs_query_real(q, C_TRAIN_LOSS);
    c->diverged_step = (long)gs_query_int(q, C_DIVERGED);
    c->partner = -1;
    c->key = strdup(gs_query_text(q, C_KEY, key, sizeof key));
    return c->key ? 0 : -1;
}

int gs_cmp_load(sqlite3 *db, const char *label, gs_cmp_set_t *set, char *err, size_t errlen)
{
    gs_query_t q;
    size_t cap = 0;
    int rc;
    *set = (gs_cmp_set_t){0};
    if (gs_query_prepare(&q, db, label, "SELECT * FROM runs", cols, N_C, err, errlen) != 0)
        return -1;
    while ((rc = gs_query_step(&q, err, errlen)) == 1) {
        if (set->n == cap) {
            cap = cap ? 2 * cap : 256;
            gs_cmp_cell_t *c = realloc(set->cells, cap * sizeof *c);
            if (!c)
                break;
            set->cells = c;
        }
        if (read_cell(&q, &set->cells[set->n]) != 0)
            break;
        set->n++;
    }
    gs_query_finish(&q);
    if (rc == 1)
        snprintf(err, errlen, "%s: out of memory", label);
    if (rc != 0) {
        gs_cmp_free(set);
        return -1;
    }
    qsort(set->cells, set->n, sizeof *set->cells, cmp_cell);
    return 0;
}

void gs_cmp_key_value(const char *canonical, const char *k, char *buf, size_t len)
{
    size_t kl = strlen(k);
    buf[0] = '\0';
    for (const char *p = canonical; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL)
        if (strncmp(p, k, kl) == 0 && p[kl] == '=') {
            size_t vl = strcspn(p + kl + 1, ";");
            snprintf(buf, len, "%.*s", (int)vl, p + kl + 1);
            return;
        }
}

/* ---- pairing by a signature ---- */

typedef struct {
    char *sig;
    size_t idx;
} sigrow_t;

static int cmp_sig(const void *x, const void *y)
{
    return strcmp(((const sigrow_t *)x)->sig, ((const sigrow_t *)y)->sig);
}

/* "experiment;key;repeat" with key's item `drop` (NULL: none) left out. */
static char *signature(const gs_cmp_cell_t *c, const char *drop)
{
    size_t len = strlen(c->experiment) + strlen(c->key) + 32, used = 0;
    char *s = malloc(len);
    if (!s)
        return NULL;
    used = (size_t)snprintf(s, len, "%s\x1f", c->experiment);
    size_t dl = drop ? strlen(drop) : 0;
    for (const char *p = c->key; *p;) {
        size_t il = strcspn(p, ";");
        if (!(drop && strncmp(p, drop, dl) == 0 && p[dl] == '='))
            used += (size_t)snprintf(s + used, len - used, "%.*s;", (int)il, p);
        p += il + (p[il] == ';');
    }
    snprintf(s + used, len - used, "\x1f%ld", c->repeat);
    return s;
}

/* The unpaired cells of set with their signatures, sorted; NULL short
 * of memory. */
static sigrow_t *signatures(const gs_cmp_set_t *set, const char *drop, size_t *n)
{
    sigrow_t *s = malloc((set->n + 1) * sizeof *s);
    *n = 0;
    for (size_t i = 0; s && i < set->n; i++) {
        if (set->cells[i].partner >= 0)
            continue;
        if (!(s[*n].sig = signature(&set->cells[i], drop))) {
            for (size_t k = 0; k < *n; k++)
                free(s[k].sig);
            free(s);
            return NULL;
        }
        s[(*n)++].idx = i;
    }
    if (s)
        qsort(s, *n, sizeof *s, cmp_sig);
    return s;
}

static void free_sigs(sigrow_t *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i].sig);
    free(s);
}

/* Pair the unpaired cells whose signatures (without key drop) are equal
 * and unique on both sides; with apply 0 only count them. The count, or
 * -1 short of memory. */
static long pair_by(gs_cmp_set_t *a, gs_cmp_set_t *b, const char *drop, gs_cmp_how_t how,
                    int apply)
{
    size_t na, nb;
    sigrow_t *sa = signatures(a, drop, &na), *sb = signatures(b, drop, &nb);
    long pairs = -1;
    if (!sa || !sb)
        goto out;
    pairs = 0;
    for (size_t i = 0, k = 0; i < na && k < nb;) {
        int c = strcmp(sa[i].sig, sb[k].sig);
        if (c < 0) {
            i++;
            continue;
        }
        if (c > 0) {
            k++;
            continue;
        }
        size_t ri = i, rk = k;   /* the runs of this signature */
        while (ri < na && strcmp(sa[ri].sig, sa[i].sig) == 0)
            ri++;
        while (rk < nb && strcmp(sb[rk].sig, sb[k].sig) == 0)
            rk++;
        if (ri - i == 1 && rk - k == 1) {
            pairs++;
            if (apply) {
                gs_cmp_cell_t *x = &a->cells[sa[i].idx], *y = &b->cells[sb[k].idx];
                x->partner = (long)sb[k].idx;
                y->partner = (long)sa[i].idx;
                x->how = y->how = (int)how;
                if (drop) {
                    snprintf(x->changed_key, sizeof x->changed_key, "%s", drop);
                    snprintf(y->changed_key, sizeof y->changed_key, "%s", drop);
                }
            }
        }
        i = ri;
        k = rk;
    }
out:
    free_sigs(sa, na);
    free_sigs(sb, nb);
    return pairs;
}

/* Pass 1: the same config hash (b's hashes sorted by a pointer array). */
static const gs_cmp_set_t *hash_set;
static int cmp_hash_idx(const void *x, const void *y)
{
    return strcmp(hash_set->cells[*(const size_t *)x].hash,
                  hash_set->cells[*(const size_t *)y].hash);
}

static int pair_by_hash(gs_cmp_set_t *a, gs_cmp_set_t *b)
{
    size_t *order = malloc((b->n + 1) * sizeof *order);
    if (!order)
        return -1;
    for (size_t i = 0; i < b->n; i++)
        order[i] = i;
    hash_set = b;
    qsort(order, b->n, sizeof *order, cmp_hash_idx);
    for (size_t i = 0; i < a->n; i++) {
        size_t lo = 0, hi = b->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(b->cells[order[mid]].hash, a->cells[i].hash) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < b->n && strcmp(b->cells[order[lo]].hash, a->cells[i].hash) == 0) {
            gs_cmp_cell_t *y = &b->cells[order[lo]];
            a->cells[i].partner = (long)order[lo];
            y->partner = (long)i;
            a->cells[i].how = y->how = GS_CMP_HASH;
        }
    }
    free(order);
    return 0;
}

/* The key names of the unpaired cells' canonical keys (of both sets),
 * each once, into names (up to cap). */
static size_t key_names(const gs_cmp_set_t *a, const gs_cmp_set_t *b, char (*names)[64],
                        size_t cap)
{
    size_t n = 0;
    const gs_cmp_set_t *sets[2] = {a, b};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sets[s]->n; i++) {
            if (sets[s]->cells[i].partner >= 0)
                continue;
            for (const char *p = sets[s]->cells[i].key; *p;) {
                size_t il = strcspn(p, ";"), kl = strcspn(p, "=;");
                size_t k = 0;
                while (k < n && !(strlen(names[k]) == kl && strncmp(names[k], p, kl) == 0))
                    k++;
                if (k == n && n < cap && kl < 64)
                    snprintf(names[n++], 64, "%.*s", (int)kl, p);
                p += il + (p[il] == ';');
            }
        }
    return n;
}

int gs_cmp_match(gs_cmp_set_t *a, gs_cmp_set_t *b)
{
    if (pair_by_hash(a, b) != 0 || pair_by(a, b, NULL, GS_CMP_KEYS, 1) < 0)
        return -1;
    char names[64][64];
    for (;;) {
        size_t nk = key_names(a, b, names, 64), best = 0;
        long best_pairs = 0;
        for (size_t k = 0; k < nk; k++) {
            long p = pair_by(a, b, names[k], GS_CMP_ONE_KEY, 0);
            if (p < 0)
                return -1;
            if (p > best_pairs) {
                best_pairs = p;
                best = k;
            }
        }
        if (best_pairs == 0)
            return 0;
        if (pair_by(a, b, names[best], GS_CMP_ONE_KEY, 1) < 0)
            return -1;
    }
}
