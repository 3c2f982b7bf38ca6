/* target_jpeg.c - JPEG decoding (flp__jpeg_read), to gray and to RGB.
 *
 * Inputs whose header declares more than FUZZ_MAX_PIXELS are skipped, as in
 * libjpeg-turbo's own fuzzers: a few bytes can declare an image of 2^28
 * pixels, which libjpeg (progressive mode) and then libflp allocate before
 * the missing data is noticed, and libFuzzer reports any allocation over
 * its limit as a finding (doc/RELIABILITY.md lists this as open). */
#include <setjmp.h>
#include <stdio.h>

#include <jpeglib.h>

#include "fuzz.h"
#include "data/image.h"

#define FUZZ_MAX_PIXELS (1u << 22)

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jmp;
} header_err;

static void header_bail(j_common_ptr c) { longjmp(((header_err *)c->err)->jmp, 1); }
static void header_quiet(j_common_ptr c) { (void)c; }

/* Width x height the header declares; 0 if there is no readable header. */
static uint64_t declared_pixels(const uint8_t *data, size_t size)
{
    struct jpeg_decompress_struct c;
    header_err err;
    c.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = header_bail;
    err.pub.output_message = header_quiet;
    volatile uint64_t px = 0;
    jpeg_create_decompress(&c);
    if (setjmp(err.jmp) == 0 && size > 0) {
        jpeg_mem_src(&c, data, (unsigned long)size);
        if (jpeg_read_header(&c, TRUE) == JPEG_HEADER_OK)
            px = (uint64_t)c.image_width * c.image_height;
    }
    jpeg_destroy_decompress(&c);
    return px;
}

flp_status flp_fuzz_run(const uint8_t *data, size_t size)
{
    if (declared_pixels(data, size) > FUZZ_MAX_PIXELS)
        return FLP_OK;
    return flp_fuzz_decode_image(flp__jpeg_read, data, size);
}

static void write_jpeg(const char *path, int w, int h, int comps, J_COLOR_SPACE cs, int progressive)
{
    FILE *f = fopen(path, "wb");
    FLP_FUZZ_CHECK(f != NULL);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 75, TRUE);
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    JSAMPLE row[32 * 4];
    for (int y = 0; y < h; y++) {
        for (int i = 0; i < w * comps; i++)
            row[i] = (JSAMPLE)((i * 29 + y * 13) & 0xff);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

void flp_fuzz_seeds(flp_fuzz_emit emit, void *ctx)
{
    static const struct {
        const char *name;
        int w, h, comps;
        J_COLOR_SPACE cs;
        int progressive;
    } kinds[] = {
        {"gray.jpg", 16, 9, 1, JCS_GRAYSCALE, 0},
        {"rgb.jpg", 17, 8, 3, JCS_RGB, 0},
        {"rgb-progressive.jpg", 12, 12, 3, JCS_RGB, 1},
        {"cmyk.jpg", 8, 8, 4, JCS_CMYK, 0},
    };
    char path[256];
    snprintf(path, sizeof path, "%s.seed", flp_fuzz_file(NULL, 0));
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        write_jpeg(path, kinds[i].w, kinds[i].h, kinds[i].comps, kinds[i].cs, kinds[i].progressive);
        flp_fuzz_emit_file(emit, ctx, kinds[i].name, path);
    }
}
