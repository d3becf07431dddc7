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

/* The words run on one OpenMP thread into a and on two into b (the
 * thread count restored after); -1 when either run fails. */
int tc_run_threads(const char *words, gs_result_t *a, gs_result_t *b);

/* r's train_layer_log row of step and layer, or NULL */
const gs_train_layer_row_t *tc_layer_row(const gs_result_t *r, long step, int layer);

/* A step skipped by loss_scale=dynamic left layers 1..n_layers as they
 * were: its rows and the next step's have the same ||W||, the next one's
 * update moves them, and the skipped step has no update ratio. */
int tc_skip_kept(const gs_result_t *r, long step, int n_layers);

/* r's format record of step, layer and tensor (gs_fmt_tensor_t), or NULL */
const gs_fmt_record_t *tc_fmt_record(const gs_result_t *r, long step, int layer, int tensor);

/* Of r's update records, how many are not SGD's -2^-shift times the
 * weight gradient of the same step and layer: the same nonzero count,
 * extremes times 2^-shift, the histogram `shift` binades down bin for
 * bin. *n_updates: the update records seen. */
int tc_fmt_updates_not_sgd(const gs_result_t *r, int shift, int *n_updates);

/* 1 when x[0..n) are all values of f (NaN counts as one); else 0, with
 * *bad the first that is not */
int tc_in_format(const gs_fmt_t *f, const double *x, size_t n, size_t *bad);

#endif
