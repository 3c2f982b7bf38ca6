/* target_png.c - PNG decoding (flp__png_read), to gray and to RGB. */
#include <png.h>
#include <stdio.h>

#include "fuzz.h"
#include "data/image.h"

flp_status flp_fuzz_run(const uint8_t *data, size_t size)
{
    return flp_fuzz_decode_image(flp__png_read, data, size);
}

/* A w x h image of the given colour type and depth, with a gradient. */
static void write_png(const char *path, int w, int h, int color_type, int depth, int interlace)
{
    FILE *f = fopen(path, "wb");
    FLP_FUZZ_CHECK(f != NULL);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    FLP_FUZZ_CHECK(png != NULL && info != NULL);
    if (setjmp(png_jmpbuf(png)))
        FLP_FUZZ_CHECK(!"libpng failed to write a seed");
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {10, 200, 30}, {255, 255, 255}};
        png_set_PLTE(png, info, pal, 4);
    }
    png_write_info(png, info);
    int passes = png_set_interlace_handling(png);
    int channels = png_get_channels(png, info);
    png_byte row[64 * 4 * 2] = {0};
    int bits = depth * channels;
    for (int y = 0; y < h * passes; y++) {
        for (int b = 0; b < (w * bits + 7) / 8; b++)
            row[b] = (png_byte)(color_type == PNG_COLOR_TYPE_PALETTE ? ((b + y) % 4) * 0x55 & 0xff
                                                                     : (b * 37 + y * 11) & 0xff);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

void flp_fuzz_seeds(flp_fuzz_emit emit, void *ctx)
{
    static const struct {
        const char *name;
        int w, h, color, depth, interlace;
    } kinds[] = {
        {"gray8.png", 8, 6, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE},
        {"gray1.png", 9, 5, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE},
        {"rgb8-interlaced.png", 7, 7, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7},
        {"rgba16.png", 4, 3, PNG_COLOR_TYPE_RGB_ALPHA, 16, PNG_INTERLACE_NONE},
        {"palette2.png", 6, 4, PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE},
    };
    char path[256];
    snprintf(path, sizeof path, "%s.seed", flp_fuzz_file(NULL, 0));
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        write_png(path, kinds[i].w, kinds[i].h, kinds[i].color, kinds[i].depth, kinds[i].interlace);
        flp_fuzz_emit_file(emit, ctx, kinds[i].name, path);
    }
}
