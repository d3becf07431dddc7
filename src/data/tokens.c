#include <config.h>

#include "data/tokens.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/digits.h"
#include "nn/rng.h"

const char *const gs_token_task_names[] = {"copy", "reverse", "recall", "charlm", NULL};

/* the random streams of the generated tasks (one per task: a seed makes
 * unrelated sequences for copy and reverse) */
enum { COPY_STREAM = 0xC0B1, REVERSE_STREAM = 0x2E7E, RECALL_STREAM = 0x2EC4 };

size_t gs_recall_pairs(size_t T)
{
    return T / 3 ? T / 3 : 1;
}

const char *gs_token_task_error(gs_token_task_t task, size_t T, size_t vocab)
{
    if (T < 2)
        return "needs seq_len >= 2";
    if (vocab < 2)
        return "needs vocab >= 2";
    if (task == GS_TOK_RECALL && T < 3)
        return "recall needs seq_len >= 3 (a pair and a query)";
    if (task == GS_TOK_RECALL && vocab / 2 < gs_recall_pairs(T))
        return "recall needs vocab >= 2 floor(seq_len / 3): distinct keys from [0, vocab/2)";
    if (task == GS_TOK_CHARLM && vocab < GS_CHARLM_SYMBOLS)
        return "charlm needs vocab >= 96 (newline and the 95 printable ASCII characters)";
    return NULL;
}

int gs_charlm_symbol(int c)
{
    if (c == '\n')
        return 0;
    return c >= 32 && c < 127 ? c - 31 : -1;
}

size_t gs_charlm_rows(size_t chars, size_t T)
{
    assert(T > 0);
    return chars > 0 ? (chars - 1) / T : 0;
}

/* m pairs of distinct keys from [0, half) and values from [half, vocab),
 * then queries of those keys */
static void recall_row(gs_rng_t *rng, size_t T, size_t vocab, size_t *keys, double *x, double *y)
{
    size_t m = gs_recall_pairs(T), half = vocab / 2;
    for (size_t k = 0; k < half; k++)
        keys[k] = k;
    for (size_t i = 0; i < m; i++) {   /* a partial Fisher-Yates: m distinct keys */
        size_t j = i + gs_rng_below(rng, half - i);
        size_t tmp = keys[i];
        keys[i] = keys[j];
        keys[j] = tmp;
        size_t v = half + gs_rng_below(rng, vocab - half);
        x[2 * i] = (double)keys[i];
        x[2 * i + 1] = (double)v;
        y[2 * i] = x[2 * i];
        y[2 * i + 1] = x[2 * i + 1];
    }
    for (size_t t = 2 * m; t < T; t++) {
        size_t i = gs_rng_below(rng, m);
        x[t] = x[2 * i];
        y[t] = y[2 * i + 1];
    }
}

int gs_token_task_make(gs_dataset_t *ds, gs_token_task_t task, size_t n, size_t T, size_t vocab,
                       unsigned long long seed)
{
    assert(task != GS_TOK_CHARLM && !gs_token_task_error(task, T, vocab));
    size_t *keys = task == GS_TOK_RECALL ? malloc((vocab / 2) * sizeof *keys) : NULL;
    if ((task == GS_TOK_RECALL && !keys) || gs_dataset_alloc(ds, n, T, vocab, T) != 0) {
        free(keys);
        return -1;
    }
    gs_rng_t rng;
    gs_rng_seed(&rng, seed, task == GS_TOK_COPY ? COPY_STREAM
                            : task == GS_TOK_REVERSE ? REVERSE_STREAM : RECALL_STREAM);
    for (size_t i = 0; i < n; i++) {
        double *x = ds->x + i * T;
        double *y = ds->t + i * T;
        if (task == GS_TOK_RECALL) {
            recall_row(&rng, T, vocab, keys, x, y);
            continue;
        }
        for (size_t t = 0; t < T; t++)
            x[t] = (double)gs_rng_below(&rng, vocab);
        for (size_t t = 0; t < T; t++)
            y[t] = x[task == GS_TOK_COPY ? (t + T - 1) % T : T - 1 - t];
    }
    free(keys);
    return 0;
}

void gs_charlm_path(char *buf, size_t len)
{
    const char *env = getenv(GS_DATA_DIR_ENV);
    snprintf(buf, len, "%s/" GS_CHARLM_FILE, env && *env ? env : GS_PKGDATADIR);
}

int gs_charlm_load(const char *path, size_t T, size_t vocab, gs_dataset_t *ds, char *err,
                   size_t errlen)
{
    int rc = -1;
    unsigned char *text = NULL;
    gzFile f = NULL;
    const char *why = gs_token_task_error(GS_TOK_CHARLM, T, vocab);
    if (why) {
        snprintf(err, errlen, "dataset=charlm: %s", why);
        goto done;
    }
    if (!(f = gzopen(path, "rb"))) {
        snprintf(err, errlen, "cannot open the charlm text %s: %s (set " GS_DATA_DIR_ENV " to "
                 "the folder that holds " GS_CHARLM_FILE ": the source tree's data/ when "
                 "gradsweep runs from its build tree without make install)", path,
                 strerror(errno));
        goto done;
    }
    if (!(text = malloc(GS_CHARLM_CHARS + 1))) {
        snprintf(err, errlen, "out of memory loading %s", path);
        goto done;
    }
    int got = gzread(f, text, GS_CHARLM_CHARS + 1);
    if (got != GS_CHARLM_CHARS) {
        snprintf(err, errlen, "%s: %d characters, expected %d (another or a damaged file?)",
                 path, got, GS_CHARLM_CHARS);
        goto done;
    }
    for (size_t i = 0; i < GS_CHARLM_CHARS; i++)
        if (gs_charlm_symbol(text[i]) < 0) {
            snprintf(err, errlen, "%s: byte %zu (0x%02x) is not newline or printable ASCII",
                     path, i, text[i]);
            goto done;
        }
    size_t n = gs_charlm_rows(GS_CHARLM_CHARS, T);
    if (gs_dataset_alloc(ds, n, T, vocab, T) != 0) {
        snprintf(err, errlen, "out of memory for %zu windows of %s", n, path);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < T; t++) {
            ds->x[i * T + t] = (double)gs_charlm_symbol(text[i * T + t]);
            ds->t[i * T + t] = (double)gs_charlm_symbol(text[i * T + t + 1]);
        }
    rc = 0;
done:
    if (f)
        gzclose(f);
    free(text);
    return rc;
}
