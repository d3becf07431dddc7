/* `gradsweep report`: PNG charts and an HTML summary of a sweep, from its
 * database alone (and the activation table, for the activation gallery).
 * Works while a sweep is still running and says the data is partial. */
#ifndef GS_REPORT_REPORT_H
#define GS_REPORT_REPORT_H

#include <stddef.h>

/* Write out_dir/index.html and the charts under out_dir/charts/ (out_dir NULL:
 * reports/<sweep name>/), drawing the charts over `jobs` processes (0: one
 * per online core; the files are the same for any number). The report's
 * time, on every chart and the page, is now, or SOURCE_DATE_EPOCH (seconds
 * since 1970) when that is set, so that two reports of one database can
 * be compared byte for byte. The path of index.html goes to index_path.
 * 0 on success; -1 with a message. */
int gs_report_write(const char *db_path, const char *out_dir, int jobs, char *index_path,
                    size_t len, char *err, size_t errlen);

#endif
