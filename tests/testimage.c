/* testimage.c - image files for the reader tests; see testimage.h. */
#include "testimage.h"

#include <check.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

/* A PNG writer on a new file, its header set; libpng's errors fail the
 * test. */
typedef struct {
    FILE *f;
    png_structp png;
    png_infop info;
} png_out;

static png_out png_begin(const char *path, int w, int h, int color_type, int depth)
{
    png_out o;
    o.f = fopen(path, "wb");
    ck_assert_msg(o.f != NULL, "cannot write %s", path);
    o.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    o.info = png_create_info_struct(o.png);
    ck_assert(o.png && o.info);
    png_init_io(o.png, o.f);
    png_set_IHDR(o.png, o.info, (png_uint_32)w, (png_uint_32)h, depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    return o;
}

static void png_finish(png_out *o)
{
    png_write_end(o->png, NULL);
    png_destroy_write_struct(&o->png, &o->info);
    fclose(o->f);
}

void tu_write_png(const char *path, int w, int h, int color_type, int depth, const uint16_t *v,
                  const png_color *palette, int n_palette)
{
    png_out o = png_begin(path, w, h, color_type, depth);
    png_structp png = o.png;
    if (setjmp(png_jmpbuf(png)))
        ck_abort_msg("libpng failed writing %s", path);
    if (color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_PLTE(png, o.info, palette, n_palette);
    png_write_info(png, o.info);
    int ch = color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_PALETTE ? 1
           : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
           : color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
    size_t rowbytes = ((size_t)w * (size_t)ch * (size_t)depth + 7) / 8;
    uint8_t *row = calloc(rowbytes, 1);
    for (int y = 0; y < h; y++) {
        memset(row, 0, rowbytes);
        for (int i = 0; i < w * ch; i++) {
            unsigned s = v[y * w * ch + i];
            if (depth == 16) {
                row[2 * i] = (uint8_t)(s >> 8);
                row[2 * i + 1] = (uint8_t)s;
            } else if (depth == 8) {
                row[i] = (uint8_t)s;
            } else {
                int per = 8 / depth, shift = 8 - depth * (i % per + 1);
                row[i / per] |= (uint8_t)(s << shift);
            }
        }
        png_write_row(png, row);
    }
    png_finish(&o);
    free(row);
}

void tu_write_gray_png(const char *path, int w, int h, const uint8_t *px)
{
    uint16_t *v = malloc(sizeof *v * (size_t)(w * h));
    for (int i = 0; i < w * h; i++)
        v[i] = px[i];
    tu_write_png(path, w, h, PNG_COLOR_TYPE_GRAY, 8, v, NULL, 0);
    free(v);
}

void tu_write_blank_png(const char *path, int w, int h)
{
    png_out o = png_begin(path, w, h, PNG_COLOR_TYPE_GRAY, 8);
    if (setjmp(png_jmpbuf(o.png)))
        ck_abort_msg("libpng failed writing %s", path);
    png_set_compression_level(o.png, 9);
    png_write_info(o.png, o.info);
    uint8_t *row = calloc((size_t)w, 1);
    for (int y = 0; y < h; y++)
        png_write_row(o.png, row);
    png_finish(&o);
    free(row);
}

void tu_write_jpeg(const char *path, int w, int h, int comps, const uint8_t *px, int quality,
                   tu_jpeg_coding coding)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    if (comps == 3) { /* no chroma subsampling: small images keep their colours */
        c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = 1;
    }
    if (coding == TU_JPEG_PROGRESSIVE)
        jpeg_simple_progression(&c);
    c.arith_code = coding == TU_JPEG_ARITHMETIC;
    jpeg_scan_info scans[694];
    if (coding == TU_JPEG_SCANS_64 || coding == TU_JPEG_SCANS_694) {
        ck_assert_int_eq(comps, 1);
        const int al = coding == TU_JPEG_SCANS_64 ? 0 : 10;
        int n = 0;
        scans[n++] = (jpeg_scan_info){1, {0}, 0, 0, 0, 0};
        for (int k = 1; k < 64; k++)
            scans[n++] = (jpeg_scan_info){1, {0}, k, k, 0, al};
        for (int a = al; a > 0; a--)
            for (int k = 1; k < 64; k++)
                scans[n++] = (jpeg_scan_info){1, {0}, k, k, a, a - 1};
        c.scan_info = scans;
        c.num_scans = n;
    }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)(w * comps));
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

int tu_jpeg_set_size(uint8_t *jpeg, size_t n, unsigned w, unsigned h)
{
    /* Markers FF xx with a 2-byte length, up to the frame header:
     * SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC). */
    for (size_t i = 2; i + 9 <= n && jpeg[i] == 0xFF;) {
        uint8_t m = jpeg[i + 1];
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            jpeg[i + 5] = (uint8_t)(h >> 8), jpeg[i + 6] = (uint8_t)h;
            jpeg[i + 7] = (uint8_t)(w >> 8), jpeg[i + 8] = (uint8_t)w;
            return m;
        }
        i += 2 + ((size_t)jpeg[i + 2] << 8 | jpeg[i + 3]);
    }
    return 0;
}
