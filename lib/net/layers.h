/* layers.h - stateless layer kernels: explicit dimensions, caller-owned
 * buffers, no allocation. The network handle and the lifetime both run on
 * these. "vjp" functions take the upstream gradient dy and
 *   - write dx (if not NULL),
 *   - ADD to dW / db (if not NULL): gradients accumulate.
 * Activations' VJPs are written in terms of their output y, which is what
 * the lifetime keeps. */
#ifndef FLP_NET_LAYERS_H
#define FLP_NET_LAYERS_H

#include <stdint.h>

/* y[batch,out] = x[batch,in] W[out,in]^T + b[out]  (b may be NULL) */
void flp__linear_forward(int64_t batch, int64_t in, int64_t out, const float *x,
                         const float *W, const float *b, float *y);
void flp__linear_vjp(int64_t batch, int64_t in, int64_t out, const float *x, const float *W,
                     const float *dy, float *dx, float *dW, float *db);

void flp__relu_forward(int64_t n, const float *x, float *y);
/* dx = dy * (y > 0); dx may alias dy. */
void flp__relu_vjp(int64_t n, const float *y, const float *dy, float *dx);

void flp__softplus_forward(int64_t n, float beta, const float *x, float *y);
/* dx = dy * (1 - exp(-beta y)); dx may alias dy. */
void flp__softplus_vjp(int64_t n, float beta, const float *y, const float *dy, float *dx);

/* Convolution geometry (per example, NCHW, weight [oc, ic, kh, kw]). */
typedef struct {
    int64_t in_c, in_h, in_w;
    int64_t out_c, out_h, out_w;
    int64_t kh, kw, stride, pad;
} flp__conv_geom;

/* Floats of scratch the conv kernels need for one example (the im2col
 * matrix, [in_c*kh*kw, out_h*out_w]). */
int64_t flp__conv2d_workspace(const flp__conv_geom *g);
/* y[batch, oc, oh, ow] = conv(x[batch, ic, ih, iw], W) + b via im2col + GEMM. */
void flp__conv2d_forward(const flp__conv_geom *g, int64_t batch, const float *x, const float *W,
                         const float *b, float *y, float *work);
/* dx (written if not NULL) via GEMM + col2im; dW, db accumulated. */
void flp__conv2d_vjp(const flp__conv_geom *g, int64_t batch, const float *x, const float *W,
                     const float *dy, float *dx, float *dW, float *db, float *work);

#endif
