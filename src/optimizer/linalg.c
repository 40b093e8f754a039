#include "optimizer/linalg.h"

#include <math.h>
#include <string.h>

double opt_dot(const double *a, const double *b, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
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
            double sum = 0.0;
            for (size_t k = j; k < i; k++)
                sum += lrow[k] * trow[k];
            trow[i] = -sum / lrow[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i; j < n; j++) {
            const double *ti = t + i * n, *tj = t + j * n;
            double sum = 0.0;
            for (size_t k = j; k < n; k++)
                sum += ti[k] * tj[k];
            inverse[i * n + j] = sum;
            inverse[j * n + i] = sum;
        }
    }
}
