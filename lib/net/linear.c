/* net/linear.c - dense layer kernels on BLIS. */
#include "net/layers.h"

#include <stddef.h>

#include "core/gemm.h"

void flp__linear_forward(int64_t batch, int64_t in, int64_t out, const float *x,
                         const float *W, const float *b, float *y)
{
    /* Seeding y with the bias lets the GEMM add it for free (beta = 1). */
    if (b != NULL) {
        for (int64_t r = 0; r < batch; r++)
            for (int64_t j = 0; j < out; j++)
                y[r * out + j] = b[j];
    }
    flp__gemm_nt(batch, out, in, 1.0f, x, in, W, in, b != NULL ? 1.0f : 0.0f, y, out);
}

void flp__linear_vjp(int64_t batch, int64_t in, int64_t out, const float *x, const float *W,
                     const float *dy, float *dx, float *dW, float *db)
{
    if (dx != NULL)
        flp__gemm_nn(batch, in, out, 1.0f, dy, out, W, in, 0.0f, dx, in);
    if (dW != NULL)
        flp__gemm_tn(out, in, batch, 1.0f, dy, out, x, in, 1.0f, dW, in);
    if (db != NULL) {
        /* Row by row, so the sum's order (and result) is fixed. */
        for (int64_t r = 0; r < batch; r++)
            for (int64_t j = 0; j < out; j++)
                db[j] += dy[r * out + j];
    }
}
