#include <config.h>

#include "theory/spectrum.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


#ifdef HAVE_LAPACK
/* LAPACK's Fortran entry (OpenBLAS, MKL and liblapack all export it); the
 * two trailing lengths are gfortran's hidden lengths of the character
 * arguments. */
void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a,
             const int *lda, double *s, double *u, const int *ldu, double *vt, const int *ldvt,
             double *work, const int *lwork, int *info, size_t jobu_len, size_t jobvt_len);
#endif

int gs_spectrum_available(void)
{
#ifdef HAVE_LAPACK
    return 1;
#else
    return 0;
#endif
}

int gs_spectrum_sv2(const double *J, size_t rows, size_t cols, double *sv2, double *work)
{
#ifdef HAVE_LAPACK
    /* J row-major (rows, cols) is J^T column-major (cols, rows): the same
     * singular values. The SVD itself rather than the eigenvalues of a
     * Gram matrix, which would square the condition number and lose the
     * small singular values of deep products below 1e-8 sigma_max. */
    size_t n = rows < cols ? rows : cols;
    memcpy(work, J, rows * cols * sizeof *work);   /* dgesvd overwrites its matrix */
    int m = (int)cols, nn = (int)rows, lda = (int)cols, one = 1, info = 0, lwork = -1;
    double q, dummy = 0.0;
    dgesvd_("N", "N", &m, &nn, work, &lda, sv2, &dummy, &one, &dummy, &one, &q, &lwork, &info,
            1, 1);   /* workspace size */
    lwork = (int)q;
    double *ws = malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof *ws);
    if (!ws)
        return -1;
    dgesvd_("N", "N", &m, &nn, work, &lda, sv2, &dummy, &one, &dummy, &one, ws, &lwork, &info,
            1, 1);
    free(ws);
    if (info != 0)
        return -1;
    for (size_t i = 0; i < n; i++)   /* descending singular values -> ascending squares */
        work[i] = sv2[n - 1 - i] * sv2[n - 1 - i];
    memcpy(sv2, work, n * sizeof *sv2);
    return 0;
#else
    (void)J, (void)rows, (void)cols, (void)sv2, (void)work;
    return -1;
#endif
}

#define POWER_ITERS 500

double gs_spectrum_top_sv(const double *W, size_t rows, size_t cols)
{
    double *v = malloc(cols * sizeof *v), *u = malloc(rows * sizeof *u), sigma = NAN;
    if (!v || !u)
        goto out;
    for (size_t j = 0; j < cols; j++)   /* a start with no special direction */
        v[j] = 1.0 + 0.5 * sin(1.0 + (double)j);
    for (int it = 0; it < POWER_ITERS; it++) {
        double nu = 0.0, nv = 0.0;
        for (size_t i = 0; i < rows; i++) {   /* u = W v */
            double s = 0.0;
            for (size_t j = 0; j < cols; j++)
                s += W[i * cols + j] * v[j];
            u[i] = s;
            nu += s * s;
        }
        for (size_t j = 0; j < cols; j++)   /* v = W^T u, normalized */
            v[j] = 0.0;
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                v[j] += W[i * cols + j] * u[i];
        for (size_t j = 0; j < cols; j++)
            nv += v[j] * v[j];
        if (!(nv > 0)) {
            sigma = 0.0;
            goto out;
        }
        nv = sqrt(nv);
        for (size_t j = 0; j < cols; j++)
            v[j] /= nv;
        double prev = sigma;
        sigma = nv / sqrt(nu);   /* ||W^T W v|| / ||W v||: sigma at the top singular vector */
        if (fabs(sigma - prev) <= 1e-15 * sigma)   /* converged: stop paying W's passes */
            break;
    }
out:
    free(v);
    free(u);
    return sigma;
}

gs_spectrum_summary_t gs_spectrum_summary(const double *sv2, size_t n)
{
    gs_spectrum_summary_t s = {NAN, NAN, NAN, NAN};
    if (n == 0)
        return s;
    double lo = sv2[0], hi = sv2[0], sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, sv2[i]);
        hi = fmax(hi, sv2[i]);
        sum += sv2[i];
    }
    s.sv2_min = lo;
    s.sv2_max = hi;
    s.sv2_mean = sum / (double)n;
    s.condition = lo > 0 ? sqrt(hi / lo) : INFINITY;
    return s;
}
