/* net/conv2d.c - 2-D cross-correlation as im2col + GEMM, one example at a
 * time so that the scratch matrix stays [in_c*kh*kw, out_h*out_w]. */
#include "net/layers.h"

#include <string.h>

#include "core/gemm.h"

/* Output positions o in [0, n_out) whose input index o*stride + off lies in
 * [0, extent): the padding border is the complement, handled as zeros. */
static void valid_range(int64_t off, int64_t extent, int64_t stride, int64_t n_out, int64_t *lo,
                        int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t b = extent - off <= 0 ? 0 : (extent - off - 1) / stride + 1;
    *lo = a < n_out ? a : n_out;
    *hi = b < n_out ? b : n_out;
    if (*hi < *lo)
        *hi = *lo;
}

static int64_t col_rows(const flp__conv_geom *g) { return g->in_c * g->kh * g->kw; }

/* A 1x1, stride-1, unpadded kernel's im2col matrix is the input itself. */
static int is_pointwise(const flp__conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->stride == 1 && g->pad == 0;
}

int64_t flp__conv2d_workspace(const flp__conv_geom *g)
{
    return col_rows(g) * g->out_h * g->out_w;
}

/* col[(c*kh + ki)*kw + kj, oy*ow + ox] = x[c, oy*s + ki - p, ox*s + kj - p] (0 outside). */
static void im2col(const flp__conv_geom *g, const float *x, float *col)
{
    const int64_t oh = g->out_h, ow = g->out_w, s = g->stride;
    for (int64_t c = 0; c < g->in_c; c++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
                float *row = col + ((c * g->kh + ki) * g->kw + kj) * oh * ow;
                int64_t ylo, yhi, xlo, xhi;
                valid_range(ki - g->pad, g->in_h, s, oh, &ylo, &yhi);
                valid_range(kj - g->pad, g->in_w, s, ow, &xlo, &xhi);
                memset(row, 0, (size_t)(ylo * ow) * sizeof *row);
                for (int64_t oy = ylo; oy < yhi; oy++) {
                    const float *src = x + (c * g->in_h + oy * s + ki - g->pad) * g->in_w;
                    float *dst = row + oy * ow;
                    for (int64_t ox = 0; ox < xlo; ox++)
                        dst[ox] = 0.0f;
                    for (int64_t ox = xlo; ox < xhi; ox++)
                        dst[ox] = src[ox * s + kj - g->pad];
                    for (int64_t ox = xhi; ox < ow; ox++)
                        dst[ox] = 0.0f;
                }
                memset(row + yhi * ow, 0, (size_t)((oh - yhi) * ow) * sizeof *row);
            }
}

/* The adjoint of im2col: dx[c, iy, ix] += every col entry that copied it. */
static void col2im(const flp__conv_geom *g, const float *col, float *dx)
{
    const int64_t oh = g->out_h, ow = g->out_w, s = g->stride;
    for (int64_t c = 0; c < g->in_c; c++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
                const float *row = col + ((c * g->kh + ki) * g->kw + kj) * oh * ow;
                int64_t ylo, yhi, xlo, xhi;
                valid_range(ki - g->pad, g->in_h, s, oh, &ylo, &yhi);
                valid_range(kj - g->pad, g->in_w, s, ow, &xlo, &xhi);
                for (int64_t oy = ylo; oy < yhi; oy++) {
                    float *dst = dx + (c * g->in_h + oy * s + ki - g->pad) * g->in_w;
                    const float *src = row + oy * ow;
                    for (int64_t ox = xlo; ox < xhi; ox++)
                        dst[ox * s + kj - g->pad] += src[ox];
                }
            }
}

void flp__conv2d_forward(const flp__conv_geom *g, int64_t batch, const float *x, const float *W,
                         const float *b, float *y, float *work)
{
    const int64_t K = col_rows(g), P = g->out_h * g->out_w;
    const int64_t x_size = g->in_c * g->in_h * g->in_w, y_size = g->out_c * P;
    for (int64_t e = 0; e < batch; e++) {
        const float *xe = x + e * x_size;
        float *ye = y + e * y_size;
        const float *col = xe;
        if (!is_pointwise(g)) {
            im2col(g, xe, work);
            col = work;
        }
        if (b != NULL)
            for (int64_t o = 0; o < g->out_c; o++)
                for (int64_t p = 0; p < P; p++)
                    ye[o * P + p] = b[o];
        flp__gemm_nn(g->out_c, P, K, 1.0f, W, K, col, P, b != NULL ? 1.0f : 0.0f, ye, P);
    }
}

/* dx_e = col2im(W^T dy_e); with a pointwise kernel W^T dy_e is dx_e itself. */
static void conv_input_vjp(const flp__conv_geom *g, const float *W, const float *dye, float *dxe,
                           float *work)
{
    const int64_t K = col_rows(g), P = g->out_h * g->out_w;
    if (is_pointwise(g)) {
        flp__gemm_tn(K, P, g->out_c, 1.0f, W, K, dye, P, 0.0f, dxe, P);
        return;
    }
    flp__gemm_tn(K, P, g->out_c, 1.0f, W, K, dye, P, 0.0f, work, P);
    memset(dxe, 0, (size_t)(g->in_c * g->in_h * g->in_w) * sizeof *dxe);
    col2im(g, work, dxe);
}

void flp__conv2d_vjp(const flp__conv_geom *g, int64_t batch, const float *x, const float *W,
                     const float *dy, float *dx, float *dW, float *db, float *work)
{
    const int64_t K = col_rows(g), P = g->out_h * g->out_w;
    const int64_t x_size = g->in_c * g->in_h * g->in_w, y_size = g->out_c * P;
    for (int64_t e = 0; e < batch; e++) {
        const float *xe = x + e * x_size, *dye = dy + e * y_size;
        if (db != NULL)
            for (int64_t o = 0; o < g->out_c; o++)
                for (int64_t p = 0; p < P; p++)
                    db[o] += dye[o * P + p];
        if (dW != NULL) {
            const float *col = xe;
            if (!is_pointwise(g)) {
                im2col(g, xe, work);
                col = work;
            }
            flp__gemm_nt(g->out_c, K, P, 1.0f, dye, P, col, P, 1.0f, dW, K);
        }
        /* After dW: the input VJP reuses `work`, which held x's columns. */
        if (dx != NULL)
            conv_input_vjp(g, W, dye, dx + e * x_size, work);
    }
}
