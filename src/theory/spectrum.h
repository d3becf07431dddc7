/* The singular values of a Jacobian (dynamical isometry: Pennington et al.
 * 2017), through LAPACK's SVD (dgesvd). The account is in
 * docs/architecture.md, "Theory". */
#ifndef GS_THEORY_SPECTRUM_H
#define GS_THEORY_SPECTRUM_H

#include <stddef.h>

/* 1 when the build has LAPACK (spectrum=yes needs it). */
int gs_spectrum_available(void);

/* The min(rows, cols) squared singular values of J (rows, cols), row-major,
 * ascending, into sv2. work: rows * cols doubles. 0, or -1 without LAPACK
 * or when the SVD fails (or memory for its workspace is short). */
int gs_spectrum_sv2(const double *J, size_t rows, size_t cols, double *sv2, double *work);

/* The largest singular value of W (rows, cols), row-major, by power
 * iteration on W^T W from a fixed start (no LAPACK needed); exact when all
 * singular values are equal (orthogonal W), else to about 1e-9. */
double gs_spectrum_top_sv(const double *W, size_t rows, size_t cols);

typedef struct {
    double sv2_min, sv2_max, sv2_mean;   /* of the squared singular values */
    double condition;                    /* sigma_max / sigma_min (inf when 0) */
} gs_spectrum_summary_t;

gs_spectrum_summary_t gs_spectrum_summary(const double *sv2, size_t n);

#endif
