/* net/activation.c - elementwise activations; VJPs read the output y only,
 * because y is what the lifetime keeps per step. */
#include "net/layers.h"

#include <math.h>

void flp__relu_forward(int64_t n, const float *x, float *y)
{
    /* "x < 0" rather than fmaxf: a NaN input stays NaN, so divergence is
     * visible downstream instead of being silently zeroed. */
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void flp__relu_vjp(int64_t n, const float *y, const float *dy, float *dx)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void flp__softplus_forward(int64_t n, float beta, const float *x, float *y)
{
    /* log(1 + e^t) = max(t, 0) + log1p(e^-|t|): exp never overflows, and for
     * very negative t the result keeps its relative precision. */
    for (int64_t i = 0; i < n; i++) {
        float t = beta * x[i];
        y[i] = (fmaxf(t, 0.0f) + log1pf(expf(-fabsf(t)))) / beta;
    }
}

void flp__softplus_vjp(int64_t n, float beta, const float *y, const float *dy, float *dx)
{
    /* sigmoid(beta x) = 1 - exp(-beta y); expm1 keeps precision where y ~ 0. */
    for (int64_t i = 0; i < n; i++)
        dx[i] = dy[i] * -expm1f(-beta * y[i]);
}
