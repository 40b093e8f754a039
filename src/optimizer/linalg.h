/* Dense linear algebra for the Gaussian process: row-major n x n matrices, n <= a few
 * hundred, so plain loops over contiguous rows are fast enough and need no LAPACK. */
#ifndef SERVO_OPTIMIZER_LINALG_H
#define SERVO_OPTIMIZER_LINALG_H

#include <stddef.h>

/* Replaces the lower triangle of the symmetric matrix `a` by its Cholesky factor L (a = L L^T;
 * the strict upper triangle is zeroed). Returns 0, or -1 when `a` is not positive definite. */
int opt_cholesky(double *a, size_t n);
/* Solves L x = b in place (forward substitution). */
void opt_solve_lower(const double *l, size_t n, double *b);
/* Solves L^T x = b in place (back substitution). */
void opt_solve_lower_transposed(const double *l, size_t n, double *b);
/* Writes (L L^T)^-1 (full, symmetric) into `inverse`; `work` holds n * n doubles. */
void opt_cholesky_inverse(const double *l, size_t n, double *inverse, double *work);
double opt_dot(const double *a, const double *b, size_t n);

#endif
