/* The digits data set shipped in data/digits.csv.gz: 1,797 rows of 64
 * pixels (0..16, 8x8 row-major) and a label 0..9 (see data/README.md). */
#ifndef GS_DATA_DIGITS_H
#define GS_DATA_DIGITS_H

#include <stddef.h>

#include "data/dataset.h"

#define GS_DIGITS_ROWS 1797
#define GS_DIGITS_DIM 64
#define GS_DIGITS_CLASSES 10

/* The variable that names the folder of digits.csv.gz. */
#define GS_DATA_DIR_ENV "GRADSWEEP_DATA_DIR"

/* Where the data file is: $GRADSWEEP_DATA_DIR/digits.csv.gz if that is set,
 * else the installed copy in pkgdatadir (`make install`). A gradsweep run
 * from the build tree is pointed at the source tree's data/ by that
 * variable (pipeline/run and the tests set it). Writes the path into buf. */
void gs_digits_path(char *buf, size_t len);

/* Load pixels as doubles (unscaled) and labels. 0 on success; on failure
 * -1 and a message in err naming the file and the line. */
int gs_digits_load(const char *path, gs_dataset_t *ds, char *err, size_t errlen);

#endif
