#include <config.h>

#include "cells.h"

#include <stdio.h>
#include <string.h>

#include "tap.h"

int tc_cell_of(const char *words, gs_cell_t *c, char *err, size_t errlen)
{
    char buf[2048], *save = NULL;
    snprintf(buf, sizeof buf, "%s", words);
    gs_cell_defaults(c);
    for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        if (gs_cell_set_word(c, w, err, errlen) != 0)
            return -1;
    gs_cell_settle(c, NULL);
    return gs_cell_validate(c, err, errlen);
}

int tc_run(const char *words, gs_cell_t *c, gs_result_t *r)
{
    char err[512];
    memset(r, 0, sizeof *r);
    if (tc_cell_of(words, c, err, sizeof err) != 0) {
        tap_diag("%s: %s", words, err);
        return -1;
    }
    if (gs_experiment_run(c, r, NULL) != 0) {
        tap_diag("%s: run failed: %s", words, r->error);
        return -1;
    }
    return 0;
}
