/* png.c - PNG decoding through libpng.
 *
 * libpng reports errors by calling an error function that must not return;
 * ours records the message and longjmps back to flp__png_read, which turns
 * it into FLP_ERR_FORMAT naming the file. Everything that must be freed
 * after a longjmp lives in a struct that setjmp does not touch (no local
 * variable is modified between setjmp and longjmp). Warnings are ignored:
 * damaged critical data is an error in libpng, not a warning. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/limits.h"
#include "data/image.h"

typedef struct {
    jmp_buf jmp;
    char msg[200];
} png_err;

static void on_error(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* What a longjmp must be able to release. */
typedef struct {
    FILE *fp;
    png_structp png;
    png_infop info;
    uint8_t *raw;   /* decoded rows, 8 or 16 bits per sample */
    png_bytep *rows;
    float *out;
} png_job;

static void release(png_job *j)
{
    if (j->png != NULL)
        png_destroy_read_struct(&j->png, j->info != NULL ? &j->info : NULL, NULL);
    if (j->fp != NULL)
        fclose(j->fp);
    flp__free(j->raw);
    flp__free(j->rows);
    flp__free(j->out);
}

/* Samples of the expanded image to [channels, h, w] floats in [0, 1]. */
static void convert(const uint8_t *raw, int64_t h, int64_t w, int src_ch, int depth16, int channels,
                    float *out)
{
    const double scale = depth16 ? 1.0 / 65535.0 : 1.0 / 255.0;
    const int64_t plane = h * w;
    for (int64_t p = 0; p < plane; p++) {
        double v[4];
        for (int c = 0; c < src_ch; c++) {
            int64_t k = p * src_ch + c;
            v[c] = depth16 ? (double)((raw[2 * k] << 8) | raw[2 * k + 1]) : (double)raw[k];
            v[c] *= scale;
        }
        int color = src_ch >= 3;
        if (channels == 1) {
            out[p] = (float)(color ? 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2] : v[0]);
        } else {
            for (int c = 0; c < 3; c++)
                out[c * plane + p] = (float)(color ? v[c] : v[0]);
        }
    }
}

/* Deflate expands at most 1032:1, so a file of `file_bytes` holds at most
 * this many bytes of filtered rows: a header declaring more is refused
 * before anything is allocated, not after gigabytes have been. */
#define PNG_MAX_EXPANSION 1032

/* 1 if the image rows (one filter byte each) cannot come out of a file of
 * `file_bytes`. */
static int cannot_hold(uint64_t file_bytes, png_uint_32 ph, size_t src_rowbytes)
{
    double rows = (double)ph * ((double)src_rowbytes + 1.0);
    return rows > (double)file_bytes * PNG_MAX_EXPANSION;
}

flp_status flp__png_read(const char *path, int channels, float **out, int64_t *h, int64_t *w)
{
    *out = NULL;
    png_err err;
    err.msg[0] = '\0';
    png_job job = {0};
    uint64_t file_bytes;
    FLP__TRY(flp__fopen_regular(path, &job.fp, &file_bytes));
    uint8_t sig[8];
    if (fread(sig, 1, 8, job.fp) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(job.fp);
        return flp__error(FLP_ERR_FORMAT, "'%s' is not a PNG file (bad signature)", path);
    }
    job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, on_error, on_warning);
    if (job.png != NULL)
        job.info = png_create_info_struct(job.png);
    if (job.png == NULL || job.info == NULL) {
        release(&job);
        return flp__error(FLP_ERR_NOMEM, "out of memory starting to decode '%s'", path);
    }
    /* job is a local whose fields change after setjmp: reach it only
     * through a pointer the compiler must reload. */
    png_job *volatile jp = &job;
    png_err *volatile ep = &err;
    if (setjmp(err.jmp)) {
        flp_status st = ep->msg[0] == '\0' ? FLP_ERR_NOMEM : FLP_ERR_FORMAT;
        release(jp);
        if (st == FLP_ERR_NOMEM)
            return flp__error(st, "out of memory decoding '%s'", path);
        return flp__error(st, "'%s' is not a valid PNG: %s", path, ep->msg);
    }
    png_init_io(jp->png, jp->fp);
    png_set_sig_bytes(jp->png, 8);
    png_set_user_limits(jp->png, FLP__IMAGE_MAX_SIDE, FLP__IMAGE_MAX_SIDE);
    png_read_info(jp->png, jp->info);
    const png_uint_32 hw = png_get_image_width(jp->png, jp->info);
    const png_uint_32 hh = png_get_image_height(jp->png, jp->info);
    if (cannot_hold(file_bytes, hh, png_get_rowbytes(jp->png, jp->info))) {
        snprintf(err.msg, sizeof err.msg,
                 "its header declares %ux%u pixels, more than its data can hold", (unsigned)hw,
                 (unsigned)hh);
        longjmp(err.jmp, 1);
    }
    /* The bound on memory and time, before a row is decoded: a valid file
     * of a few MB can declare gigapixels of one colour. */
    const uint64_t pixels = (uint64_t)hw * hh;
    if (pixels > flp__limit(FLP_LIMIT_IMAGE_PIXELS)) {
        release(jp);
        return flp__limit_error(FLP_LIMIT_IMAGE_PIXELS, "'%s' declares %ux%u = %llu pixels", path,
                                (unsigned)hw, (unsigned)hh, (unsigned long long)pixels);
    }

    /* Expand palette to RGB, gray below 8 bits to 8, tRNS to alpha; keep 16
     * bits as 16 (big-endian samples). */
    png_set_expand(jp->png);
    (void)png_set_interlace_handling(jp->png);
    png_read_update_info(jp->png, jp->info);
    const png_uint_32 pw = png_get_image_width(jp->png, jp->info);
    const png_uint_32 ph = png_get_image_height(jp->png, jp->info);
    const int src_ch = png_get_channels(jp->png, jp->info);
    const int depth = png_get_bit_depth(jp->png, jp->info);
    const size_t rowbytes = png_get_rowbytes(jp->png, jp->info);
    if ((uint64_t)pw * ph != pixels || src_ch < 1 || src_ch > 4 ||
        (depth != 8 && depth != 16) || rowbytes != (size_t)pw * (size_t)src_ch * (size_t)(depth / 8)) {
        snprintf(err.msg, sizeof err.msg, "unsupported layout (%ux%u, %d channels, %d bits)",
                 (unsigned)pw, (unsigned)ph, src_ch, depth);
        longjmp(err.jmp, 1);
    }
    jp->raw = flp__alloc_bytes(rowbytes * ph, "PNG rows");
    jp->out = flp__alloc_floats((int64_t)channels * pw * ph, "PNG image");
    if (jp->raw == NULL || jp->out == NULL)
        longjmp(err.jmp, 1); /* empty message: out of memory */
    jp->rows = flp__alloc_bytes(ph * sizeof *jp->rows, "PNG row pointers");
    if (jp->rows == NULL)
        longjmp(err.jmp, 1);
    for (png_uint_32 y = 0; y < ph; y++)
        jp->rows[y] = jp->raw + (size_t)y * rowbytes;
    png_read_image(jp->png, jp->rows);
    png_read_end(jp->png, NULL);

    convert(jp->raw, ph, pw, src_ch, depth == 16, channels, jp->out);
    *out = jp->out;
    jp->out = NULL;
    *h = ph;
    *w = pw;
    release(jp);
    return FLP_OK;
}
