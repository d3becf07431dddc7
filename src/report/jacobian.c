/* The spectrum statistics of a run's input-output Jacobian at init, for
 * the table beside the spectrum chart: the theory row's mean and extreme
 * squared singular values and condition number, and the share of singular
 * values below the SVD's floor. An SVD in double precision resolves
 * singular values down to about sigma_max * n * DBL_EPSILON, n the larger
 * side of the Jacobian (the rank tolerance of numpy's matrix_rank; the
 * spectrum chart draws the same floor): below it a value
 * is rounding, not measurement. The share is read from the stored
 * histogram of log10 sigma (bins whose centre lies below the floor);
 * singular values exactly 0 are not binned and count as below it. */
#include <config.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "report/findings.h"
#include "store/query.h"

static int theory_row(rp_model_t *m, const rp_run_t *r, rp_jacobian_t *j)
{
    enum { T_MIN, T_MAX, T_MEAN, T_COND, N_T };
    static const char *const names[N_T] = {[T_MIN] = "sv2_min", [T_MAX] = "sv2_max",
                                           [T_MEAN] = "sv2_mean", [T_COND] = "condition"};
    gs_query_t q;
    char err[256];
    if (gs_query_prepare(&q, m->db, m->db_path, "SELECT * FROM theory WHERE run_id = ?1", names,
                         N_T, err, sizeof err) != 0)
        return -1;
    sqlite3_bind_int64(q.stmt, 1, r->id);
    int rc = gs_query_step(&q, err, sizeof err) == 1 && !gs_query_null(&q, T_MEAN) ? 0 : -1;
    if (rc == 0) {
        j->sv2_min = gs_query_real(&q, T_MIN);
        j->sv2_max = gs_query_real(&q, T_MAX);
        j->sv2_mean = gs_query_real(&q, T_MEAN);
        j->condition = gs_query_null(&q, T_COND) ? INFINITY : gs_query_real(&q, T_COND);
    }
    gs_query_finish(&q);
    return rc;
}

int rp_jacobian_stats(rp_model_t *m, const rp_run_t *r, rp_jacobian_t *j)
{
    memset(j, 0, sizeof *j);
    if (!rp_usable(r) || !r->sc->cell.spectrum || theory_row(m, r, j) != 0)
        return -1;
    const gs_cell_t *c = &r->sc->cell;
    long in = c->input_dim > 0 ? c->input_dim : c->width;
    j->n = (size_t)(c->width < in ? c->width : in);   /* singular values */
    j->floor = sqrt(j->sv2_max) * (double)(c->width > in ? c->width : in) * DBL_EPSILON;
    rp_series_t h;
    double lo, hi;
    j->below_floor = NAN;
    if (rp_hist(m, r, 0, gs_hist_quantity_names[GS_HIST_JACOBIAN], &h, &lo, &hi) != 0)
        return 0;
    double binned = 0, below = 0, edge = log10(j->floor);
    for (size_t k = 0; k < h.n; k++) {
        binned += h.y[k];
        below += h.x[k] < edge ? h.y[k] : 0;
    }
    if (h.n && j->n)
        j->below_floor = (below + fmax(0, (double)j->n - binned)) / (double)j->n;
    rp_series_free(&h);
    return 0;
}
