/* Time: a monotonic clock for durations, UTC timestamps for records. */
#ifndef GS_UTIL_CLOCK_H
#define GS_UTIL_CLOCK_H

#include <stddef.h>

double gs_now(void);                       /* monotonic seconds */
double gs_unix_now(void);                  /* seconds since 1970 */
void gs_utc_iso(char *buf, size_t len);    /* now as 2026-11-29T03:06:08Z */

#endif
