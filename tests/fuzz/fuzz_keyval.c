/* Fuzz target `keyval`: the bytes are command-line words, one per line (a
 * newline or a NUL ends a word: no argv entry holds a NUL, and lines keep
 * the corpus readable), read
 * the way `gradsweep probe` and `train` read theirs (cli/commands.c,
 * parse_args): gs_cell_defaults, gs_cell_set_word per word, then
 * gs_cell_settle and gs_experiment_check. Options (--csv, --threads) are
 * the command's own and not fed here: every word goes to the key=value
 * parser, which must refuse what it does not know.
 *
 * Properties beyond "no crash, no leak":
 *  - a refused word gets a message (never an empty one);
 *  - whatever was accepted reads back: every key written with
 *    gs_cell_format and set again on a default cell is accepted, and the
 *    copy has the same canonical key, key hash, cell seed and the same
 *    text for every key (seed, repeats and the thresholds included). */
#include <config.h>

#include <string.h>

#include "experiment/experiment.h"
#include "fuzz.h"
#include "sweep/cell.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gs_cell_t c;
    gs_cell_defaults(&c);
    char err[1024];
    char *word = malloc(size + 1);   /* each word in turn, NUL-terminated */
    if (!word)
        return 0;
    for (size_t i = 0; i < size;) {
        size_t n = 0;
        while (i + n < size && data[i + n] != '\n' && data[i + n] != '\0')
            n++;
        memcpy(word, data + i, n);
        word[n] = '\0';
        i += n + 1;
        err[0] = '\0';
        if (gs_cell_set_word(&c, word, err, sizeof err) != 0)
            FUZZ_CHECK(err[0] != '\0', "'%s' refused without a message", word);
    }
    free(word);
    gs_cell_settle(&c, NULL);
    int checked = gs_experiment_check(&c, err, sizeof err) == 0;
    if (!checked)
        FUZZ_CHECK(err[0] != '\0', "a cell refused by the check without a message");

    gs_cell_t back;
    gs_cell_defaults(&back);
    gs_key_info_t k;
    char a[2048], b[2048];
    for (size_t i = 0; gs_cell_key_info(i, &k); i++) {
        gs_cell_format(&c, k.name, a, sizeof a);
        FUZZ_CHECK(gs_cell_set(&back, k.name, a, err, sizeof err) == 0,
                   "%s=%s, as written by gs_cell_format, is refused: %s", k.name, a, err);
    }
    back.depth_given = c.depth_given;
    gs_cell_settle(&back, NULL);
    for (size_t i = 0; gs_cell_key_info(i, &k); i++) {
        gs_cell_format(&c, k.name, a, sizeof a);
        gs_cell_format(&back, k.name, b, sizeof b);
        FUZZ_CHECK(strcmp(a, b) == 0, "%s=%s reads back as %s", k.name, a, b);
    }
    gs_cell_key(&c, a, sizeof a);
    gs_cell_key(&back, b, sizeof b);
    FUZZ_CHECK(strcmp(a, b) == 0, "canonical key %s reads back as %s", a, b);
    FUZZ_CHECK(gs_cell_key_hash(&c) == gs_cell_key_hash(&back) &&
                   gs_cell_seed(&c) == gs_cell_seed(&back),
               "key %s: another hash or seed once read back", a);
    FUZZ_CHECK((gs_experiment_check(&back, err, sizeof err) == 0) == checked,
               "key %s: the check %s the copy", a, checked ? "refuses" : "accepts");
    return 0;
}
