/* gemm.c - BLIS sgemm behind libflp's strided interface. */
#include "core/gemm.h"

#include <blis.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "core/kernels.h"
#include "core/threads.h"

/* Multiply-adds below which a product runs on one thread. */
#define FLP__GEMM_SHARED_MIN 65536.0

void flp__sgemm(int64_t m, int64_t n, int64_t k, float alpha,
                const float *A, int64_t rsa, int64_t csa,
                const float *B, int64_t rsb, int64_t csb,
                float beta, float *C, int64_t rsc, int64_t csc)
{
    if (m == 0 || n == 0)
        return;
    flp__kernels_setup();
    /* Inside one of libflp's parallel regions each task's product runs on
     * its own thread: BLIS must not try to split it again. A product too
     * small to share (a feedback pathway's, say) runs on the calling thread
     * too: waking other threads would cost more than the product. The count
     * is always passed: BLIS's own (BLIS_NUM_THREADS) never applies. */
    int alone = flp__in_parallel() || (double)m * (double)n * (double)k < FLP__GEMM_SHARED_MIN;
    rntm_t threads = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(alone ? 1 : flp__num_threads(), &threads);
    /* A product with one column (or one row) of C is a matrix-vector
     * product, and must go to gemv: BLIS 0.9's sgemm reads one element
     * past the single column of B (past the single row of A) and faults
     * when that operand ends a mapped page (tests/check_kernels.c,
     * "page-end operands"). BLIS's typed API takes non-const pointers but
     * does not write A or B. */
    if (n == 1)         /* C[:,0] = alpha A B[:,0] + beta C[:,0] */
        bli_sgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)m, (dim_t)k, &alpha, (float *)A,
                     (inc_t)rsa, (inc_t)csa, (float *)B, (inc_t)rsb, &beta, C, (inc_t)rsc, NULL, &threads);
    else if (m == 1)    /* C[0,:]^T = alpha B^T A[0,:]^T + beta C[0,:]^T */
        bli_sgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)n, (dim_t)k, &alpha, (float *)B,
                     (inc_t)csb, (inc_t)rsb, (float *)A, (inc_t)csa, &beta, C, (inc_t)csc, NULL, &threads);
    else
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)k, &alpha,
                     (float *)A, (inc_t)rsa, (inc_t)csa, (float *)B, (inc_t)rsb, (inc_t)csb,
                     &beta, C, (inc_t)rsc, (inc_t)csc, NULL, &threads);
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
