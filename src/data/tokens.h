/* Token-sequence tasks for transformers (issue 21): n sequences of T
 * tokens as the model's input (x, (n, T), token ids held as doubles, as
 * nn/transformer.h reads them) and a target token at every position
 * (t, (n, T), ids as doubles: n_targets = T, n_classes = vocab - the
 * layout of dataset=tokens, data/synthetic.h), over a vocabulary of
 * `vocab` symbols. Every position is a target (the loss
 * is the mean cross-entropy over all n T of them). Made from a seed,
 * bit for bit the same on every machine; no files but the charlm text.
 *
 *   copy     x uniform over the vocabulary; y_t = x_{(t-1) mod T}: the
 *            input shifted right by one (cyclically)
 *   reverse  x uniform; y_t = x_{T-1-t}: the sequence reversed
 *   recall   associative recall (Ba et al. 2016; Zoology's MQAR): the
 *            first 2m positions hold m pairs (key, value), m =
 *            gs_recall_pairs(T), keys distinct from [0, vocab/2), values
 *            from [vocab/2, vocab); the other T - 2m positions are
 *            queries, keys drawn from the m; a pair position's target is
 *            its own token, a query's the value paired with its key
 *   charlm   character-level language model on a public-domain text (the
 *            Jargon File's lexicon, data/jargon.txt.gz): row i is the
 *            window of T characters at offset i T, y_t = x_{t+1} (the next
 *            character; the last position's is the first of the next
 *            window); characters are GS_CHARLM_SYMBOLS symbols ('\n' is 0,
 *            printable ASCII c is c - 31), so vocab >= GS_CHARLM_SYMBOLS
 *
 * The tasks copy and reverse need a mixing of positions that only
 * attention provides; recall needs content-based lookup; charlm is the
 * one with a causal structure (use causal = yes for a true LM). */
#ifndef GS_DATA_TOKENS_H
#define GS_DATA_TOKENS_H

#include <stddef.h>

#include "data/dataset.h"

typedef enum { GS_TOK_COPY, GS_TOK_REVERSE, GS_TOK_RECALL, GS_TOK_CHARLM } gs_token_task_t;
extern const char *const gs_token_task_names[];   /* "copy", "reverse", "recall", "charlm", NULL */

/* The characters of charlm: '\n' and the 95 printable ASCII characters. */
#define GS_CHARLM_SYMBOLS 96

/* The shipped text's file name (in the data folder, see digits.h's
 * GS_DATA_DIR_ENV) and its size in characters once decompressed. */
#define GS_CHARLM_FILE "jargon.txt.gz"
#define GS_CHARLM_CHARS 131021

/* recall's pairs in a sequence of T tokens: floor(T / 3), at least 1 -
 * two thirds of the positions hold pairs, a third are queries. */
size_t gs_recall_pairs(size_t T);

/* NULL when (task, T, vocab) can be made, else why not (T below 2; recall:
 * T below 3 or vocab below 2 gs_recall_pairs(T) keys' and values' room;
 * charlm: vocab below GS_CHARLM_SYMBOLS). */
const char *gs_token_task_error(gs_token_task_t task, size_t T, size_t vocab);

/* The token id of a character of charlm's alphabet; -1 for any other. */
int gs_charlm_symbol(int c);

/* Rows charlm makes of a text of `chars` characters with windows of T:
 * the windows at offsets 0, T, 2T, ... that have a next character after
 * them. */
size_t gs_charlm_rows(size_t chars, size_t T);

/* dataset = copy, reverse or recall: n sequences from seed into ds
 * (dim = T, n_classes = vocab, n_targets = T). 0, or -1 when memory
 * is short. The task must be valid (gs_token_task_error). */
int gs_token_task_make(gs_dataset_t *ds, gs_token_task_t task, size_t n, size_t T, size_t vocab,
                       unsigned long long seed);

/* dataset = charlm: the text of path (gzip) into ds, gs_charlm_rows of
 * it (every window in text order; the split permutes them). 0, or -1
 * with a message (the file missing, a character outside the alphabet,
 * memory). */
int gs_charlm_load(const char *path, size_t T, size_t vocab, gs_dataset_t *ds, char *err,
                   size_t errlen);

/* $GRADSWEEP_DATA_DIR/jargon.txt.gz if that is set, else the installed
 * copy (as gs_digits_path). */
void gs_charlm_path(char *buf, size_t len);

#endif
