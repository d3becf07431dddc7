/* Cells for the tests that run them: a cell from key=value words, and
 * its run through gs_experiment_run. */
#ifndef GS_TESTS_CELLS_H
#define GS_TESTS_CELLS_H

#include <stddef.h>

#include "experiment/experiment.h"

/* The settled cell of space-separated key=value words; -1 (err set) when
 * a word is refused or the cell does not validate. */
int tc_cell_of(const char *words, gs_cell_t *c, char *err, size_t errlen);

/* tc_cell_of, then gs_experiment_run into r (zeroed first); -1, with a
 * TAP diagnostic naming the words, when either fails. */
int tc_run(const char *words, gs_cell_t *c, gs_result_t *r);

/* Every training number of two runs but the held-out ones, bitwise: the
 * train_log rows (at least 2), the layer rows, the final losses and
 * verdicts. */
int tc_same_training(const gs_result_t *a, const gs_result_t *b);

#endif
