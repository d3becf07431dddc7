/* The token tasks (data/tokens.h, issue 21), each against its closed form:
 *
 * - copy: the target is the input shifted right by one (cyclically), so
 *   shifting the target left by one gives the input back.
 * - reverse: the target is the input reversed; reversing it gives the
 *   input back (reverse of reverse), and the target is a permutation of
 *   the input (the same multiset).
 * - recall: keys distinct and in [0, vocab/2), values in [vocab/2, vocab);
 *   each query is one of the row's keys and its target is the value
 *   written after that key; a pair position's target is its own token.
 * - charlm: the shipped text decompresses to GS_CHARLM_CHARS characters
 *   of the alphabet; row i is the window at offset i T of the file read
 *   here with zlib apart from the loader, y_t = x_{t+1} inside a row and
 *   the last target is the next row's first token.
 * - every task: the tokens lie in [0, vocab), a seed gives the same data
 *   bit for bit and another seed other data; the split by the data seed
 *   (gs_dataset_split) keeps each row's T targets with its inputs (a
 *   token task's closed form still holds in both parts, the parts
 *   partition the rows); the edges T = 2 and 3, vocab 2; bad shapes are
 *   refused with a reason. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/dataset.h"
#include "data/tokens.h"
#include "tap.h"

static int in_vocab(const gs_dataset_t *ds, size_t vocab)
{
    for (size_t i = 0; i < ds->n * ds->dim; i++)
        if (ds->x[i] < 0 || ds->x[i] >= (double)vocab || ds->x[i] != (double)(int)ds->x[i] ||
            ds->t[i] < 0 || ds->t[i] >= (double)vocab || ds->t[i] != (double)(int)ds->t[i])
            return 0;
    return 1;
}

/* the closed form of copy (dir 1) or reverse (dir -1) on every row */
static int shifted_or_reversed(const gs_dataset_t *ds, int reverse)
{
    size_t T = ds->dim;
    for (size_t i = 0; i < ds->n; i++) {
        const double *x = ds->x + i * T;
        const double *y = ds->t + i * T;
        for (size_t t = 0; t < T; t++) {
            /* undo: copy's y shifted left by one, reverse's y reversed */
            double back = reverse ? y[T - 1 - t] : y[(t + 1) % T];
            if (back != x[t])
                return 0;
        }
        if (reverse) {   /* the same multiset */
            long count[4096] = {0};
            for (size_t t = 0; t < T; t++) {
                count[(int)x[t]]++;
                count[(int)y[t]]--;
            }
            for (size_t v = 0; v < ds->n_classes; v++)
                if (count[v])
                    return 0;
        }
    }
    return 1;
}

static int recall_holds(const gs_dataset_t *ds)
{
    size_t T = ds->dim, V = ds->n_classes, m = gs_recall_pairs(T);
    for (size_t i = 0; i < ds->n; i++) {
        const double *x = ds->x + i * T;
        const double *y = ds->t + i * T;
        for (size_t a = 0; a < m; a++) {
            if (x[2 * a] >= (double)(V / 2) || x[2 * a + 1] < (double)(V / 2) ||
                y[2 * a] != x[2 * a] || y[2 * a + 1] != x[2 * a + 1])
                return 0;
            for (size_t b = 0; b < a; b++)
                if (x[2 * a] == x[2 * b])
                    return 0;   /* keys distinct */
        }
        for (size_t t = 2 * m; t < T; t++) {
            size_t hits = 0;
            for (size_t a = 0; a < m; a++)
                if (x[2 * a] == x[t]) {
                    hits++;
                    if (y[t] != x[2 * a + 1])
                        return 0;
                }
            if (hits != 1)
                return 0;
        }
    }
    return 1;
}

static int same(const gs_dataset_t *a, const gs_dataset_t *b)
{
    return a->n == b->n && a->dim == b->dim && a->n_targets == b->n_targets &&
           memcmp(a->x, b->x, a->n * a->dim * sizeof *a->x) == 0 &&
           memcmp(a->t, b->t, a->n * a->n_targets * sizeof *a->t) == 0;
}

static int holds(gs_token_task_t task, const gs_dataset_t *ds)
{
    return task == GS_TOK_RECALL ? recall_holds(ds) : shifted_or_reversed(ds, task == GS_TOK_REVERSE);
}

static void generated(void)
{
    static const struct {
        size_t n, T, vocab;
    } shapes[] = {{300, 32, 64}, {50, 2, 2}, {40, 3, 3}, {64, 7, 5}, {20, 33, 22}};
    for (int task = GS_TOK_COPY; task <= GS_TOK_RECALL; task++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            size_t n = shapes[s].n, T = shapes[s].T, V = shapes[s].vocab;
            const char *name = gs_token_task_names[task];
            if (task == GS_TOK_RECALL && gs_token_task_error(task, T, V)) {
                tap_ok(T == 2, "%s: T=%zu V=%zu refused (%s)", name, T, V,
                       gs_token_task_error(task, T, V));
                continue;
            }
            gs_dataset_t a, b, c, tr, te;
            if (gs_token_task_error(task, T, V) ||
                gs_token_task_make(&a, task, n, T, V, 7) != 0 ||
                gs_token_task_make(&b, task, n, T, V, 7) != 0 ||
                gs_token_task_make(&c, task, n, T, V, 8) != 0) {
                tap_ok(0, "%s: T=%zu V=%zu made", name, T, V);
                continue;
            }
            tap_ok(a.n == n && a.dim == T && a.n_targets == T && a.n_classes == V &&
                       in_vocab(&a, V),
                   "%s: T=%zu V=%zu: %zu rows of T tokens and T targets in [0, V)", name, T, V, n);
            tap_ok(holds((gs_token_task_t)task, &a), "%s: T=%zu V=%zu: the closed form holds on "
                   "every row", name, T, V);
            tap_ok(same(&a, &b) && !same(&a, &c), "%s: T=%zu V=%zu: one seed, the same data "
                   "bit for bit; another seed, other data", name, T, V);
            if (gs_dataset_split(&a, 0.8, 5, &tr, &te) != 0) {
                tap_ok(0, "%s: split", name);
                continue;
            }
            /* each part row is a row of a, with its own labels */
            int ok = tr.n + te.n == n && tr.n_targets == T && te.n_targets == T;
            size_t *idx = malloc(n * sizeof *idx);
            gs_dataset_split_order(n, 5, idx);
            for (size_t i = 0; ok && i < n; i++) {
                const gs_dataset_t *p = i < tr.n ? &tr : &te;
                size_t r = i < tr.n ? i : i - tr.n;
                ok = memcmp(p->x + r * T, a.x + idx[i] * T, T * sizeof *a.x) == 0 &&
                     memcmp(p->t + r * T, a.t + idx[i] * T, T * sizeof *a.t) == 0;
            }
            free(idx);
            tap_ok(ok && holds((gs_token_task_t)task, &tr) && holds((gs_token_task_t)task, &te),
                   "%s: T=%zu V=%zu: the split by the data seed keeps each row's %zu targets "
                   "with it (%zu + %zu rows)", name, T, V, T, tr.n, te.n);
            /* gather of a batch: the rows' T labels each */
            size_t pick[3] = {n - 1, 0, n / 2};
            double *x = malloc(3 * T * sizeof *x);
            double *y = malloc(3 * T * sizeof *y);
            int lab[3];
            gs_dataset_gather(&a, pick, 3, x, lab, y);
            ok = 1;
            for (size_t k = 0; k < 3; k++)
                ok &= memcmp(y + k * T, a.t + pick[k] * T, T * sizeof *y) == 0 &&
                      memcmp(x + k * T, a.x + pick[k] * T, T * sizeof *x) == 0;
            tap_ok(ok, "%s: T=%zu V=%zu: gather copies a row's T labels", name, T, V);
            free(x);
            free(y);
            gs_dataset_free(&a);
            gs_dataset_free(&b);
            gs_dataset_free(&c);
            gs_dataset_free(&tr);
            gs_dataset_free(&te);
        }
}

static void refused(void)
{
    tap_ok(gs_token_task_error(GS_TOK_COPY, 1, 64) != NULL, "copy, T=1: refused (%s)",
           gs_token_task_error(GS_TOK_COPY, 1, 64));
    tap_ok(gs_token_task_error(GS_TOK_REVERSE, 8, 1) != NULL, "reverse, vocab=1: refused (%s)",
           gs_token_task_error(GS_TOK_REVERSE, 8, 1));
    tap_ok(gs_token_task_error(GS_TOK_RECALL, 32, 19) != NULL &&
               gs_token_task_error(GS_TOK_RECALL, 32, 20) == NULL,
           "recall, T=32: 10 pairs need vocab >= 20 (%s)", gs_token_task_error(GS_TOK_RECALL, 32, 19));
    tap_ok(gs_token_task_error(GS_TOK_CHARLM, 32, 95) != NULL &&
               gs_token_task_error(GS_TOK_CHARLM, 32, 96) == NULL,
           "charlm: vocab >= 96 (%s)", gs_token_task_error(GS_TOK_CHARLM, 32, 95));
    tap_ok(gs_charlm_symbol('\n') == 0 && gs_charlm_symbol(' ') == 1 && gs_charlm_symbol('~') == 95 &&
               gs_charlm_symbol('\t') == -1 && gs_charlm_symbol(127) == -1 &&
               gs_charlm_symbol(200) == -1,
           "charlm's alphabet: newline 0, ' ' 1 .. '~' 95, nothing else");
}

static void charlm(void)
{
    char path[4096], err[512];
    gs_charlm_path(path, sizeof path);
    gzFile f = gzopen(path, "rb");
    unsigned char *text = malloc(GS_CHARLM_CHARS + 16);
    int got = f ? gzread(f, text, GS_CHARLM_CHARS + 16) : -1;
    if (f)
        gzclose(f);
    tap_ok(got == GS_CHARLM_CHARS, "%s: %d characters, GS_CHARLM_CHARS = %d", path, got,
           GS_CHARLM_CHARS);
    size_t sizes[] = {32, 2, 1000};
    for (size_t s = 0; s < 3 && got == GS_CHARLM_CHARS; s++) {
        size_t T = sizes[s];
        gs_dataset_t ds;
        if (gs_charlm_load(path, T, 96, &ds, err, sizeof err) != 0) {
            tap_ok(0, "charlm T=%zu loads: %s", T, err);
            continue;
        }
        size_t n = gs_charlm_rows(GS_CHARLM_CHARS, T);
        int ok = ds.n == n && n == (GS_CHARLM_CHARS - 1) / T && ds.n_targets == T &&
                 in_vocab(&ds, 96);
        for (size_t i = 0; ok && i < n; i++)
            for (size_t t = 0; t < T; t++) {
                int xt = (int)ds.x[i * T + t], yt = (int)ds.t[i * T + t];
                ok &= xt == gs_charlm_symbol(text[i * T + t]) &&
                      yt == gs_charlm_symbol(text[i * T + t + 1]) &&
                      (t + 1 < T ? yt == (int)ds.x[i * T + t + 1]
                                 : i + 1 == n || yt == (int)ds.x[(i + 1) * T]);
            }
        tap_ok(ok, "charlm T=%zu: %zu windows of the text at offsets i T; y_t = x_{t+1}, the "
               "last target the next window's first character", T, n);
        gs_dataset_free(&ds);
    }
    /* the text is the lexicon's: a known entry is in it */
    tap_ok(got == GS_CHARLM_CHARS && memmem(text, GS_CHARLM_CHARS, ":/dev/null:", 11) != NULL,
           "the shipped text is the Jargon File's lexicon (':/dev/null:' found)");
    free(text);
    gs_dataset_t ds;
    tap_ok(gs_charlm_load("/nonexistent/jargon.txt.gz", 32, 96, &ds, err, sizeof err) != 0 &&
               strstr(err, "GRADSWEEP_DATA_DIR"),
           "a missing text: refused, saying where it is looked for (%s)", err);
    tap_ok(gs_charlm_load(path, 32, 64, &ds, err, sizeof err) != 0 && strstr(err, "vocab >= 96"),
           "charlm with vocab 64: refused (%s)", err);
    /* a file with a tab in it: refused, naming the byte */
    char bad[] = "/tmp/gs_tokens_bad_XXXXXX";
    int fd = mkstemp(bad);
    gzFile g = fd >= 0 ? gzdopen(fd, "wb") : NULL;
    if (g) {
        static char buf[GS_CHARLM_CHARS];
        memset(buf, 'a', sizeof buf);
        buf[100] = '\t';
        gzwrite(g, buf, sizeof buf);
        gzclose(g);
    }
    tap_ok(g && gs_charlm_load(bad, 32, 96, &ds, err, sizeof err) != 0 && strstr(err, "byte 100"),
           "a character outside the alphabet: refused, naming the byte (%s)", err);
    remove(bad);
}

int main(void)
{
    generated();
    refused();
    charlm();
    return tap_done();
}
