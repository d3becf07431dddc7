#include <config.h>

#include "driver/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

void gs_progress_init(gs_progress_bar_t *p, size_t total, double flops_total, int cores)
{
    *p = (gs_progress_bar_t){0};
    p->tty = isatty(STDERR_FILENO);
    p->start = gs_now();
    p->total = total;
    p->flops_total = flops_total;
    p->assumed_rate = GS_ASSUMED_FLOPS_PER_CORE * (cores > 0 ? cores : 1);
}

void gs_progress_start(gs_progress_bar_t *p, double flops)
{
    p->flops_running += flops;
}

void gs_progress_add(gs_progress_bar_t *p, const gs_result_t *r, double flops)
{
    p->done++;
    p->flops_done += flops;
    p->flops_running = p->flops_running > flops ? p->flops_running - flops : 0.0;
    if (!GS_STATUS_MEASURED(r->status))
        p->failed++;
    else
        p->diag[r->diagnosis]++;
}

double gs_progress_eta(const gs_progress_bar_t *p, double elapsed)
{
    /* from estimated cost, not cells (cells differ by orders of
     * magnitude), at a rate that starts as the plan's assumption and
     * becomes the measured one (estimated FLOP done per second) as the
     * share done grows: longest-first scheduling finishes few cells early,
     * so the measurement alone swings most at the start */
    double frac = p->flops_total > 0 ? p->flops_done / p->flops_total : 1.0;
    double measured = elapsed > 0 ? p->flops_done / elapsed : 0.0;
    double rate = frac * measured + (1.0 - frac) * p->assumed_rate;
    /* in `elapsed` seconds at most the cells done and those running (all
     * of their cost) have been computed: the rate is no higher */
    double reached = p->flops_done + p->flops_running;
    if (elapsed > 0 && reached > 0 && rate > reached / elapsed)
        rate = reached / elapsed;
    return rate > 0 ? (p->flops_total - p->flops_done) / rate : -1.0;
}

static void clock_text(char *buf, size_t len, double s)
{
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, len, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, len, "%lds", t);
}

void gs_progress_draw(gs_progress_bar_t *p, int force)
{
    double now = gs_now();
    double every = p->tty ? GS_PROGRESS_TTY_S : GS_PROGRESS_PLAIN_S;
    if (!force && now - p->last_draw < every)
        return;
    p->last_draw = now;
    double el = now - p->start;
    double eta = gs_progress_eta(p, el);
    char e1[32], e2[32];
    clock_text(e1, sizeof e1, el);
    clock_text(e2, sizeof e2, eta);
    char bar[26];
    int fill = p->total ? (int)(25.0 * (double)p->done / (double)p->total) : 25;
    for (int i = 0; i < 25; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[25] = '\0';
    fprintf(stderr, "%s[%s] %zu/%zu cells  %s elapsed  eta %s", p->tty ? "\r" : "", bar, p->done,
            p->total, e1, p->done < p->total ? e2 : "0s");
    for (int d = 0; d < GS_N_DIAG; d++)
        fprintf(stderr, "  %s %ld", gs_diag_names[d], p->diag[d]);
    fprintf(stderr, "  failed %ld%s", p->failed, p->tty ? (force ? "\n" : "  ") : "\n");
    fflush(stderr);
}
