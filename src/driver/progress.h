/* The sweep's progress on rank 0's stderr: a bar redrawn in place on a
 * terminal, a plain line about every GS_PROGRESS_PLAIN_S seconds otherwise
 * (batch logs). */
#ifndef GS_DRIVER_PROGRESS_H
#define GS_DRIVER_PROGRESS_H

#include <stddef.h>

#include "experiment/experiment.h"
#include "util/clock.h"

#define GS_PROGRESS_TTY_S 0.2     /* seconds between redraws of the bar */
#define GS_PROGRESS_PLAIN_S 10.0  /* seconds between plain lines (also train's) */

typedef struct {
    int tty;
    double start, last_draw;
    size_t total, done;          /* cells to run this session */
    double flops_total, flops_done;
    double flops_running;        /* estimated FLOP of the cells handed out, not back yet */
    double assumed_rate;         /* FLOP/s the plan assumes for all workers together */
    long diag[GS_N_DIAG], failed;   /* counts by gs_diag_t, and failed cells */
} gs_progress_bar_t;

/* cores: ranks x threads, for the plan's assumed rate */
void gs_progress_init(gs_progress_bar_t *p, size_t total, double flops_total, int cores);
/* A cell of that cost handed out (gs_progress_add takes it back) */
void gs_progress_start(gs_progress_bar_t *p, double flops);
void gs_progress_add(gs_progress_bar_t *p, const gs_result_t *r, double flops);
/* Seconds left after `elapsed` seconds: the estimated FLOP still to run
 * over a rate blended from the plan's assumption to the measured rate by
 * the share done, and never above what the cells done and running could
 * have reached in the time (a machine slower than the plan assumes shows
 * at once, not when cells finish); -1 when unknown. */
double gs_progress_eta(const gs_progress_bar_t *p, double elapsed);
/* Redraw if due (force: now, and end the line). */
void gs_progress_draw(gs_progress_bar_t *p, int force);

#endif
