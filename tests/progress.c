/* The sweep's ETA (driver/progress.h): before anything finishes it is the
 * plan's estimate; once everything is measured, the measured rate's; in
 * between the rate is blended by the share done. Exact arithmetic, 1e-12. */
#include <config.h>

#include "driver/progress.h"
#include "tap.h"

int main(void)
{
    gs_progress_bar_t p;
    gs_progress_init(&p, 10, 1e12, 2);   /* 1 TFLOP on 2 cores */
    double assumed = 2 * GS_ASSUMED_FLOPS_PER_CORE;
    tap_close(gs_progress_eta(&p, 5.0), 1e12 / assumed, 1e-12,
              "nothing done: the plan's estimate, 1e12 / (2 cores x the assumed rate)");
    p.flops_done = 0.5e12;   /* half, measured at 0.5e12 / 10 s = 5e10 FLOP/s */
    tap_close(gs_progress_eta(&p, 10.0), 0.5e12 / (0.5 * 5e10 + 0.5 * assumed), 1e-12,
              "half done: the rest at the mean of the measured and the assumed rate");
    p.flops_done = 0.9e12;
    tap_close(gs_progress_eta(&p, 9.0), 0.1e12 / (0.9 * 1e11 + 0.1 * assumed), 1e-12,
              "90%% done: the measured rate weighs 0.9");
    p.flops_done = 1e12;
    tap_close(gs_progress_eta(&p, 20.0), 0.0, 1e-12, "all done: nothing left");

    /* a machine 60x slower than the plan assumes: after 600 s nothing is
     * done and 1e11 FLOP run; at most 1e11 / 600 FLOP/s, so the 1e12 left
     * take at least 6000 s (the plan alone said 100 s) */
    gs_progress_init(&p, 10, 1e12, 2);
    gs_progress_start(&p, 0.6e11);
    gs_progress_start(&p, 0.4e11);
    tap_close(gs_progress_eta(&p, 600.0), 6000.0, 1e-12,
              "nothing done after 600 s, 1e11 running: the rate bounded by 1e11 / 600 s");
    tap_close(gs_progress_eta(&p, 0.5), 1e12 / assumed, 1e-12,
              "... but at 0.5 s the bound (2e11 FLOP/s) is above the plan's rate: the plan's");
    gs_result_t r = {.status = GS_STATUS_DONE, .diagnosis = GS_DIAG_HEALTHY};
    gs_progress_add(&p, &r, 0.6e11);
    tap_close(p.flops_running, 0.4e11, 1e-12, "a cell back: its cost no longer running");
    tap_close(gs_progress_eta(&p, 1200.0), 0.94e12 / (1e11 / 1200.0), 1e-9,
              "6e10 done and 4e10 running after 1200 s: the rate bounded by 1e11 / 1200 s");
    return tap_done();
}
