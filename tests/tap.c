#include <config.h>

#include "tap.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int n_run, n_failed, planned = -1;

void tap_plan(int n)
{
    planned = n;
    printf("1..%d\n", n);
}

static int report(int cond, const char *fmt, va_list ap)
{
    n_run++;
    printf("%sok %d - ", cond ? "" : "not ", n_run);
    vprintf(fmt, ap);
    printf("\n");
    if (!cond)
        n_failed++;
    fflush(stdout);
    return cond;
}

int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(cond, fmt, ap);
    va_end(ap);
    return cond;
}

/* report() a check of numbers, with them in the diagnostic when it fails. */
static int report_numbers(int cond, double got, double want, double tol, const char *kind,
                          const char *fmt, va_list ap)
{
    report(cond, fmt, ap);
    if (!cond)
        printf("#   got %.17g, want %.17g (%s tolerance %g)\n", got, want, kind, tol);
    return cond;
}

int tap_close(double got, double want, double tol, const char *fmt, ...)
{
    double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;
    va_list ap;
    va_start(ap, fmt);
    int cond = report_numbers(fabs(got - want) <= tol * scale,   /* false for NaN */
                              got, want, tol, "relative", fmt, ap);
    va_end(ap);
    return cond;
}

int tap_near(double got, double want, double tol, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int cond = report_numbers(fabs(got - want) <= tol, got, want, tol, "absolute", fmt, ap);
    va_end(ap);
    return cond;
}

void tap_skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    exit(0);
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

int tap_done(void)
{
    if (planned < 0)
        printf("1..%d\n", n_run);
    else if (planned != n_run) {
        printf("# planned %d checks, ran %d\n", planned, n_run);
        return 1;
    }
    return n_failed ? 1 : 0;
}
