/* resize.c - area (box) and bilinear resizing of float planes.
 *
 * Both work straight from explicit extents and strides, with the weights
 * computed as they go, so they allocate nothing and can read a plane out of
 * an interleaved or planar image alike. Sums are accumulated in double in a
 * fixed order: the result does not depend on anything but the inputs. */
#include <math.h>

#include "data/image.h"

/* Source interval of destination index o along an axis of n_src -> n_dst:
 * [o*n_src/n_dst, (o+1)*n_src/n_dst), as first and one-past-last source
 * index and the exact real bounds. */
typedef struct {
    int64_t i0, i1;
    double a, b;
} box;

static box box_of(int64_t o, int64_t n_src, int64_t n_dst)
{
    box bx;
    /* integer numerators first: exact for every size that fits */
    bx.a = (double)(o * n_src) / (double)n_dst;
    bx.b = (double)((o + 1) * n_src) / (double)n_dst;
    bx.i0 = (o * n_src) / n_dst;
    bx.i1 = ((o + 1) * n_src + n_dst - 1) / n_dst;
    if (bx.i1 > n_src)
        bx.i1 = n_src;
    return bx;
}

/* Overlap of source pixel [i, i+1) with [a, b). */
static double overlap(int64_t i, double a, double b)
{
    double lo = (double)i > a ? (double)i : a;
    double hi = (double)(i + 1) < b ? (double)(i + 1) : b;
    return hi > lo ? hi - lo : 0.0;
}

void flp__resize_area(const float *src, int64_t sh, int64_t sw, int64_t src_rs, int64_t src_cs,
                      float *dst, int64_t dh, int64_t dw, int64_t dst_rs, int64_t dst_cs)
{
    for (int64_t y = 0; y < dh; y++) {
        box by = box_of(y, sh, dh);
        for (int64_t x = 0; x < dw; x++) {
            box bx = box_of(x, sw, dw);
            double sum = 0.0, wsum = 0.0;
            for (int64_t i = by.i0; i < by.i1; i++) {
                double wy = overlap(i, by.a, by.b);
                const float *row = src + i * src_rs;
                double rsum = 0.0, rw = 0.0;
                for (int64_t j = bx.i0; j < bx.i1; j++) {
                    double wx = overlap(j, bx.a, bx.b);
                    rsum += wx * (double)row[j * src_cs];
                    rw += wx;
                }
                sum += wy * rsum;
                wsum += wy * rw;
            }
            dst[y * dst_rs + x * dst_cs] = (float)(sum / wsum);
        }
    }
}

/* Half-pixel bilinear tap along one axis: the two source indices and the
 * weight of the second. */
typedef struct {
    int64_t i0, i1;
    double t;
} tap;

static tap tap_of(int64_t o, int64_t n_src, int64_t n_dst)
{
    double f = ((double)o + 0.5) * (double)n_src / (double)n_dst - 0.5;
    if (f < 0.0)
        f = 0.0;
    if (f > (double)(n_src - 1))
        f = (double)(n_src - 1);
    tap t;
    t.i0 = (int64_t)floor(f);
    t.i1 = t.i0 + 1 < n_src ? t.i0 + 1 : t.i0;
    t.t = f - (double)t.i0;
    return t;
}

void flp__resize_bilinear(const float *src, int64_t sh, int64_t sw, int64_t src_rs, int64_t src_cs,
                          float *dst, int64_t dh, int64_t dw, int64_t dst_rs, int64_t dst_cs)
{
    for (int64_t y = 0; y < dh; y++) {
        tap ty = tap_of(y, sh, dh);
        const float *r0 = src + ty.i0 * src_rs, *r1 = src + ty.i1 * src_rs;
        for (int64_t x = 0; x < dw; x++) {
            tap tx = tap_of(x, sw, dw);
            double top = (1.0 - tx.t) * r0[tx.i0 * src_cs] + tx.t * r0[tx.i1 * src_cs];
            double bot = (1.0 - tx.t) * r1[tx.i0 * src_cs] + tx.t * r1[tx.i1 * src_cs];
            dst[y * dst_rs + x * dst_cs] = (float)((1.0 - ty.t) * top + ty.t * bot);
        }
    }
}

typedef void (*resize_fn)(const float *, int64_t, int64_t, int64_t, int64_t, float *, int64_t,
                          int64_t, int64_t, int64_t);

void flp__resize_auto(const float *src, int64_t sh, int64_t sw, float *dst, int64_t dh, int64_t dw,
                      float *work)
{
    /* An axis kept at its size is an exact copy under either method. */
    resize_fn vert = dh <= sh ? flp__resize_area : flp__resize_bilinear;
    resize_fn horiz = dw <= sw ? flp__resize_area : flp__resize_bilinear;
    vert(src, sh, sw, sw, 1, work, dh, sw, sw, 1);
    horiz(work, dh, sw, sw, 1, dst, dh, dw, dw, 1);
}
