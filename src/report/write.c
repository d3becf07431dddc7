/* gs_report_write: a report from load to page - the model (report.c),
 * the charts (draw.c, over worker processes), then what the report says
 * (findings.c, claims.c) and the files that say it (findings.csv by
 * finding.c, runs.csv by report.c, index.html by html.c). */
#include <config.h>

#include "report/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report/findings.h"
#include "report/html.h"
#include "report/model.h"
#include "store/store.h"
#include "util/files.h"

/* The report's time: SOURCE_DATE_EPOCH when set (the reproducible-builds
 * convention), else now; as 2026-11-29T03:06:08Z. */
static void report_time(char *buf, size_t len)
{
    const char *env = getenv("SOURCE_DATE_EPOCH");
    char *end = NULL;
    long long s = env ? strtoll(env, &end, 10) : 0;
    time_t t = env && *env && end && *end == '\0' && s >= 0 ? (time_t)s : time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int rp_write_pages(rp_model_t *m, const char *dir, const rp_charts_t *gallery,
                   const rp_charts_t *per_exp, char *err, size_t errlen)
{
    char csv[4200], runs[4200];
    snprintf(csv, sizeof csv, "%s/findings.csv", dir);
    snprintf(runs, sizeof runs, "%s/runs.csv", dir);
    rp_findings_t fs = {0};
    rp_claims_t cl = {0};
    int rc = -1;
    if (rp_findings_build(m, &fs) != 0 || rp_claims_build(m, &cl) != 0)
        snprintf(err, errlen, "out of memory writing the findings");
    else if (rp_write_findings_csv(&fs, &cl.rows, csv, err, errlen) == 0 &&
             rp_write_runs_csv(m, runs, err, errlen) == 0)
        rc = rp_write_html(m, dir, gallery, per_exp, &fs, &cl, err, errlen);
    rp_findings_free(&fs);
    rp_claims_free(&cl);
    return rc;
}

int gs_report_write(const char *db_path, const char *out_dir, int jobs, char *index_path,
                    size_t len, char *err, size_t errlen)
{
    gs_store_t *st = gs_store_open(db_path, 0, 1, err, errlen);
    if (!st)
        return -1;
    rp_model_t m = {.db = gs_store_handle(st), .db_path = db_path};
    report_time(m.when, sizeof m.when);
    int rc = -1;
    rp_charts_t gallery = {0}, *per = NULL;
    if (rp_model_load(&m, err, errlen) != 0)
        goto out;
    m.live = gs_store_live_run(st, m.live_host, sizeof m.live_host, &m.live_pid);
    char dir[4096], charts[4200];
    if (out_dir)
        snprintf(dir, sizeof dir, "%s", out_dir);
    else
        snprintf(dir, sizeof dir, "reports/%s", m.sw.slug);
    snprintf(charts, sizeof charts, "%s/charts", dir);
    if (gs_mkdirs(charts, err, errlen) != 0)
        goto out;
    per = calloc(m.n_exps + 1, sizeof *per);
    if (!per) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (jobs <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = cores > 0 ? (int)cores : 1;
    }
    if (jobs > 1) {   /* the workers open the database themselves (draw.c) */
        gs_store_close(st);
        m.db = NULL;
        st = NULL;
    }
    if (rp_draw_charts(&m, dir, jobs, &gallery, per, err, errlen) != 0)
        goto out;
    if (!st) {
        st = gs_store_open(db_path, 0, 1, err, errlen);
        if (!st)
            goto out;
        m.db = gs_store_handle(st);
    }
    if (rp_write_pages(&m, dir, &gallery, per, err, errlen) != 0)
        goto out;
    snprintf(index_path, len, "%s/index.html", dir);
    rc = 0;
out:
    rp_charts_free(&gallery);
    for (size_t e = 0; per && e < m.n_exps; e++)
        rp_charts_free(&per[e]);
    free(per);
    rp_model_free(&m);
    if (st)
        gs_store_close(st);
    return rc;
}
