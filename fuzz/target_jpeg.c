/* target_jpeg.c - JPEG decoding (flp__jpeg_read), to gray and to RGB.
 *
 * The target runs with FLP_LIMIT_IMAGE_PIXELS at 2^22, as libjpeg-turbo's
 * own fuzzers bound the size they decode: a few bytes can declare an image
 * of 2^24 pixels (the default limit), whose coefficient array libjpeg
 * allocates and clears before the missing data is noticed, which would
 * make every such input cost 100 MB and a tenth of a second. Inputs over
 * the limit go through the reader like any other and must be refused. */
#include <stdio.h>

#include <jpeglib.h>

#include "fuzz.h"
#include "data/image.h"

flp_status flp_fuzz_run(const uint8_t *data, size_t size)
{
    FLP_FUZZ_CHECK(flp_set_limit(FLP_LIMIT_IMAGE_PIXELS, (int64_t)1 << 22) == FLP_OK);
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
