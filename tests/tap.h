/* A small TAP producer for the C tests: every check prints "ok N - name" or
 * "not ok N - name" with a diagnostic, and tap_done() returns the exit
 * status (non-zero when any check failed). */
#ifndef GS_TESTS_TAP_H
#define GS_TESTS_TAP_H

void tap_plan(int n);
/* Returns cond; the message is printf-style. */
int tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* |got - want| <= tol * max(1, |want|) ... with the numbers in the diagnostic. */
int tap_close(double got, double want, double tol, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* |got - want| <= tol (absolute). */
int tap_near(double got, double want, double tol, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void tap_skip_all(const char *why);
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int tap_done(void);

#endif
