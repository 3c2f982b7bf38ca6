/* testimage.h - PNG and JPEG files with known pixels, written by the
 * suites that test the image readers (check_data.c, check_limits.c). */
#ifndef FLP_TESTIMAGE_H
#define FLP_TESTIMAGE_H

#include <stdint.h>

#include <png.h>

/* A PNG of w x h pixels of `ch` samples each (ch = 1 gray, 2 gray+alpha,
 * 3 RGB, 4 RGBA, or color_type PALETTE with indices), sample values given
 * as integers of `depth` bits. */
void tu_write_png(const char *path, int w, int h, int color_type, int depth, const uint16_t *v,
                  const png_color *palette, int n_palette);
/* An 8-bit gray PNG from bytes. */
void tu_write_gray_png(const char *path, int w, int h, const uint8_t *px);
/* An 8-bit gray PNG of w x h zeros, written a row at a time: a "bomb" of
 * gigapixels in a few kilobytes costs the writer one row. */
void tu_write_blank_png(const char *path, int w, int h);

typedef enum {
    TU_JPEG_BASELINE,
    TU_JPEG_PROGRESSIVE,  /* libjpeg's standard scan script */
    TU_JPEG_ARITHMETIC,   /* sequential, arithmetic-coded */
    TU_JPEG_SCANS_64,     /* gray only: progressive, one scan per coefficient */
    TU_JPEG_SCANS_694     /* gray only: the same, each refined bit by bit (Al 10 to 0) */
} tu_jpeg_coding;
/* A JPEG of w x h pixels, comps = 1 (gray) or 3 (RGB, interleaved, no
 * chroma subsampling), coded as `coding` says. */
void tu_write_jpeg(const char *path, int w, int h, int comps, const uint8_t *px, int quality,
                   tu_jpeg_coding coding);
/* Set the width and height a JPEG file's frame header (its first SOFn
 * marker) declares; returns the marker (0xC0 baseline, 0xC2 progressive,
 * 0xC9 arithmetic-coded, ...), or 0 if the file has none. */
int tu_jpeg_set_size(uint8_t *jpeg, size_t n, unsigned w, unsigned h);

#endif
