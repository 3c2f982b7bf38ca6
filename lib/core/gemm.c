/* gemm.c - BLIS sgemm behind libflp's strided interface. */
#include "core/gemm.h"

#include <blis.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"

/* Multiply-adds below which a product runs on one thread. */
#define FLP__GEMM_SHARED_MIN 65536.0

void flp__sgemm(int64_t m, int64_t n, int64_t k, float alpha,
                const float *A, int64_t rsa, int64_t csa,
                const float *B, int64_t rsb, int64_t csb,
                float beta, float *C, int64_t rsc, int64_t csc)
{
    if (m == 0 || n == 0)
        return;
    /* Inside one of libflp's parallel regions each task's product runs on
     * its own thread: BLIS must not try to split it again. A product too
     * small to share (a feedback pathway's, say) runs on the calling thread
     * too: waking other threads would cost more than the product. */
    rntm_t serial = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &serial);
    int alone = flp__in_parallel() || (double)m * (double)n * (double)k < FLP__GEMM_SHARED_MIN;
    rntm_t *rntm = alone ? &serial : NULL;
    /* A product with one column (or one row) of C is a matrix-vector
     * product, and must go to gemv: BLIS 0.9's sgemm reads one element
     * past the single column of B (past the single row of A) and faults
     * when that operand ends a mapped page (tests/check_kernels.c,
     * "page-end operands"). BLIS's typed API takes non-const pointers but
     * does not write A or B. */
    if (n == 1)         /* C[:,0] = alpha A B[:,0] + beta C[:,0] */
        bli_sgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)m, (dim_t)k, &alpha, (float *)A,
                     (inc_t)rsa, (inc_t)csa, (float *)B, (inc_t)rsb, &beta, C, (inc_t)rsc, NULL, rntm);
    else if (m == 1)    /* C[0,:]^T = alpha B^T A[0,:]^T + beta C[0,:]^T */
        bli_sgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)n, (dim_t)k, &alpha, (float *)B,
                     (inc_t)csb, (inc_t)rsb, (float *)A, (inc_t)csa, &beta, C, (inc_t)csc, NULL, rntm);
    else
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)k, &alpha,
                     (float *)A, (inc_t)rsa, (inc_t)csa, (float *)B, (inc_t)rsb, (inc_t)csb,
                     &beta, C, (inc_t)rsc, (inc_t)csc, NULL, rntm);
}

int flp__in_parallel(void)
{
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return 0;
#endif
}

void flp__gemm_nt(int64_t m, int64_t n, int64_t k, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    flp__sgemm(m, n, k, alpha, A, lda, 1, B, 1, ldb, beta, C, ldc, 1);
}

void flp__gemm_nn(int64_t m, int64_t n, int64_t k, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    flp__sgemm(m, n, k, alpha, A, lda, 1, B, ldb, 1, beta, C, ldc, 1);
}

void flp__gemm_tn(int64_t m, int64_t n, int64_t k, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    flp__sgemm(m, n, k, alpha, A, 1, lda, B, ldb, 1, beta, C, ldc, 1);
}

flp_status flp_set_num_threads(int n)
{
    if (n < 1)
        return flp__error(FLP_ERR_RANGE, "flp_set_num_threads: n = %d, need at least 1", n);
    bli_thread_set_num_threads((dim_t)n);
#ifdef _OPENMP
    omp_set_num_threads(n); /* libflp's own elementwise passes */
#endif
    return FLP_OK;
}

flp_status flp_get_num_threads(int *n)
{
    FLP__CHECK_NULL(n);
    dim_t t = bli_thread_get_num_threads();
    *n = t < 1 ? 1 : (int)t;
    return FLP_OK;
}
