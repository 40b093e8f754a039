#include "optimizer/linalg.h"

#include <math.h>
#include <string.h>

/* Four partial sums: independent chains the CPU can overlap (and a fixed summation order, so
 * results stay reproducible). */
double opt_dot(const double *a, const double *b, size_t n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* Cholesky-Banachiewicz, row by row: L[i][j] = (a[i][j] - sum_k<j L[i][k] L[j][k]) / L[j][j],
 * so every inner product runs over two contiguous rows. */
int opt_cholesky(double *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double *row = a + i * n;
        for (size_t j = 0; j < i; j++) {
            const double *other = a + j * n;
            row[j] = (row[j] - opt_dot(row, other, j)) / other[j];
        }
        double diagonal = row[i] - opt_dot(row, row, i);
        if (!(diagonal > 0.0) || !isfinite(diagonal))
            return -1;
        row[i] = sqrt(diagonal);
        memset(row + i + 1, 0, (n - i - 1) * sizeof(double));
    }
    return 0;
}

void opt_solve_lower(const double *l, size_t n, double *b)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (b[i] - opt_dot(l + i * n, b, i)) / l[i * n + i];
}

void opt_solve_lower_transposed(const double *l, size_t n, double *b)
{
    for (size_t i = n; i-- > 0;) {
        b[i] /= l[i * n + i];
        double bi = b[i];
        const double *row = l + i * n;
        for (size_t k = 0; k < i; k++)
            b[k] -= row[k] * bi;
    }
}

/* With M = L^-1 (lower triangular), (L L^T)^-1 = M^T M. `work` receives T = M^T (upper, row
 * major) so both the triangular inversion and the product read contiguous rows:
 *   T[j][i] = -(sum_{k=j}^{i-1} L[i][k] T[j][k]) / L[i][i],   T[j][j] = 1 / L[j][j],
 *   inverse[i][j] = sum_{k >= max(i,j)} T[i][k] T[j][k]. */
void opt_cholesky_inverse(const double *l, size_t n, double *inverse, double *work)
{
    double *t = work;
    for (size_t j = 0; j < n; j++) {
        double *trow = t + j * n;
        memset(trow, 0, j * sizeof(double));
        trow[j] = 1.0 / l[j * n + j];
        for (size_t i = j + 1; i < n; i++) {
            const double *lrow = l + i * n;
            trow[i] = -opt_dot(lrow + j, trow + j, i - j) / lrow[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i; j < n; j++) {
            double sum = opt_dot(t + i * n + j, t + j * n + j, n - j);
            inverse[i * n + j] = sum;
            inverse[j * n + i] = sum;
        }
    }
}
