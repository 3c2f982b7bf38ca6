/* gemm.h - the one door to BLIS. Typed, strided, explicit dimensions, as in
 * BLIS's own typed API: C[m,n] = alpha * A[m,k] * B[k,n] + beta * C, where
 * element (i,j) of X lives at X[i*rs + j*cs]. A transpose is a swap of
 * strides. With beta == 0, C is overwritten and never read. */
#ifndef FLP_CORE_GEMM_H
#define FLP_CORE_GEMM_H

#include <stdint.h>

void flp__sgemm(int64_t m, int64_t n, int64_t k, float alpha,
                const float *A, int64_t rsa, int64_t csa,
                const float *B, int64_t rsb, int64_t csb,
                float beta, float *C, int64_t rsc, int64_t csc);

/* Row-major conveniences: C = alpha * op(A) op(B) + beta * C, with A, B, C
 * stored row-major with the given leading dimensions (elements per row). */
/* C[m,n] (+)= A[m,k] * B[n,k]^T  ("NT": the linear layer's forward) */
void flp__gemm_nt(int64_t m, int64_t n, int64_t k, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* C[m,n] (+)= A[m,k] * B[k,n]       ("NN": input VJP) */
void flp__gemm_nn(int64_t m, int64_t n, int64_t k, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* C[m,n] (+)= A[k,m]^T * B[k,n]     ("TN": weight VJP, Hebbian outer products) */
void flp__gemm_tn(int64_t m, int64_t n, int64_t k, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Whether the caller runs inside one of libflp's parallel regions (products
 * and elementwise passes then stay on the calling thread). */
int flp__in_parallel(void);

#endif
