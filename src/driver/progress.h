/* The sweep's progress on rank 0's stderr: a bar redrawn in place on a
 * terminal, a plain line about every 10 s otherwise (batch logs). */
#ifndef GS_DRIVER_PROGRESS_H
#define GS_DRIVER_PROGRESS_H

#include <stddef.h>

#include "experiment/experiment.h"
#include "util/clock.h"

typedef struct {
    int tty;
    double start, last_draw;
    size_t total, done;          /* cells to run this session */
    double flops_total, flops_done;
    long diag[4], failed;        /* counts by gs_diag_t, and failed cells */
} gs_progress_bar_t;

void gs_progress_init(gs_progress_bar_t *p, size_t total, double flops_total);
void gs_progress_add(gs_progress_bar_t *p, const gs_result_t *r, double flops);
/* Redraw if due (force: now, and end the line). */
void gs_progress_draw(gs_progress_bar_t *p, int force);

#endif
