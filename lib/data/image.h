/* image.h - image decoding (PNG, JPEG), resizing and the Mini-ImageNet CSV
 * reader, for the data sets (dataset.c) and the tests.
 *
 * Decoded images are float planes [channels, height, width] with values in
 * [0, 1]. Every failure records a message naming the file (or path:line). */
#ifndef FLP_DATA_IMAGE_H
#define FLP_DATA_IMAGE_H

#include <stdint.h>

#include "flp/flp_common.h"

/* Largest accepted width or height (libpng's check on the header). The
 * pixel count is bounded by FLP_LIMIT_IMAGE_PIXELS: a file declaring more
 * is refused with FLP_ERR_RANGE before anything of its size is allocated
 * or decoded. */
#define FLP__IMAGE_MAX_SIDE 65535

/* Decode `path` into a new array (flp__free it) of channels x h x w floats
 * in [0, 1]; channels is 1 (colour becomes luma 0.299 R + 0.587 G + 0.114 B)
 * or 3 (gray is replicated). PNG: any bit depth, palette, gray or RGB;
 * alpha is ignored. FLP_ERR_IO if the file cannot be opened, FLP_ERR_FORMAT
 * if it is corrupt or truncated, FLP_ERR_NOMEM. */
flp_status flp__png_read(const char *path, int channels, float **out, int64_t *h, int64_t *w);
/* JPEG through libjpeg-turbo: gray, YCbCr/RGB and CMYK/YCCK files,
 * baseline or progressive (at most 500 scans), Huffman-coded; an
 * arithmetic-coded file is refused as FLP_ERR_UNSUPPORTED (libjpeg decodes
 * its damaged data without a warning). A file
 * that libjpeg would only warn about because its data is damaged (premature
 * end, bad Huffman code, ...) is refused as FLP_ERR_FORMAT; harmless
 * warnings (unknown JFIF revision, extraneous bytes before a marker) are
 * not. */
flp_status flp__jpeg_read(const char *path, int channels, float **out, int64_t *h, int64_t *w);

/* Area (box) resize of one plane: dst pixel (y, x) is the mean of src over
 * the box [y*sh/dh, (y+1)*sh/dh) x [x*sw/dw, (x+1)*sw/dw), fractional pixels
 * weighted by their overlap. Element (i, j) of an image is at
 * p[i*rs + j*cs]. No allocation; every extent >= 1. */
void flp__resize_area(const float *src, int64_t sh, int64_t sw, int64_t src_rs, int64_t src_cs,
                      float *dst, int64_t dh, int64_t dw, int64_t dst_rs, int64_t dst_cs);
/* Bilinear resize with the half-pixel convention (OpenCV, PIL, PyTorch
 * align_corners=False): dst (y, x) samples src at ((y+0.5)*sh/dh - 0.5,
 * (x+0.5)*sw/dw - 0.5), clamped to the image. No allocation. */
void flp__resize_bilinear(const float *src, int64_t sh, int64_t sw, int64_t src_rs, int64_t src_cs,
                          float *dst, int64_t dh, int64_t dw, int64_t dst_rs, int64_t dst_cs);
/* The data sets' choice: area to shrink, bilinear to enlarge, axis by axis
 * (an axis that only shrinks is averaged, one that grows is interpolated).
 * `work` holds dh * sw floats. */
void flp__resize_auto(const float *src, int64_t sh, int64_t sw, float *dst, int64_t dh, int64_t dw,
                      float *work);

/* One split CSV: n rows of (filename, label), strings owned by the table. */
typedef struct {
    char **filename, **label;
    int64_t *line; /* 1-based line number of each row, for messages */
    int64_t n;
} flp__csv;

/* Read `path` (header `filename,label`, CRLF accepted, blank lines skipped).
 * FLP_ERR_IO if it cannot be opened or read, FLP_ERR_FORMAT "path:line: ..."
 * for a bad header, a line without exactly two non-empty fields, or a file
 * with no rows. */
flp_status flp__csv_read(const char *path, flp__csv *out);
void flp__csv_free(flp__csv *csv);

#endif
