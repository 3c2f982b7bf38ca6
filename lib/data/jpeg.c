/* jpeg.c - JPEG decoding through libjpeg(-turbo).
 *
 * libjpeg's default error manager prints and calls exit(); ours records the
 * message and longjmps back to flp__jpeg_read, which reports FLP_ERR_FORMAT
 * naming the file. libjpeg only *warns* about damaged entropy-coded data
 * (and then fills the rest of the image with gray): those warnings are
 * errors here, since a training set silently holding half-gray images is
 * worse than a clear refusal. Warnings about metadata are ignored. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/limits.h"
#include "data/image.h"

/* Scans a file may hold. Each scan of a progressive file is a pass over the
 * whole coefficient array, so a small file of thousands of tiny scans costs
 * minutes; real files have at most a few dozen (libjpeg-turbo's own
 * tools and fuzzers stop at 500 too). */
#define JPEG_MAX_SCANS 500

typedef struct {
    struct jpeg_error_mgr pub; /* first: libjpeg hands us a pointer to it */
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
    int nomem;
} jpeg_err;

static void on_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    e->nomem = cinfo->err->msg_code == JERR_OUT_OF_MEMORY;
    longjmp(e->jmp, 1);
}

/* Warnings that mean the image data itself is damaged. */
static int damaged(int code)
{
    switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
        return 1;
    default:
        return 0;
    }
}

static void on_message(j_common_ptr cinfo, int level)
{
    if (level < 0 && damaged(cinfo->err->msg_code))
        on_error(cinfo);
}

static void on_output(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void on_progress(j_common_ptr cinfo)
{
    const j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > JPEG_MAX_SCANS) {
        jpeg_err *e = (jpeg_err *)cinfo->err;
        snprintf(e->msg, sizeof e->msg, "more than %d scans (a progressive file has a few dozen)",
                 JPEG_MAX_SCANS);
        longjmp(e->jmp, 1);
    }
}

typedef struct {
    struct jpeg_progress_mgr progress;
    FILE *fp;
    struct jpeg_decompress_struct cinfo;
    int created;
    uint8_t *row;
    float *out;
} jpeg_job;

static void release(jpeg_job *j)
{
    if (j->created)
        jpeg_destroy_decompress(&j->cinfo);
    if (j->fp != NULL)
        fclose(j->fp);
    flp__free(j->row);
    flp__free(j->out);
}

/* One decoded scanline (comps samples per pixel, colour space `cs`) into
 * row y of the [channels, h, w] output. */
static void put_row(const uint8_t *row, int64_t y, int64_t h, int64_t w, int comps, J_COLOR_SPACE cs,
                    int adobe, int channels, float *out)
{
    const int64_t plane = h * w;
    for (int64_t x = 0; x < w; x++) {
        const uint8_t *p = row + x * comps;
        double rgb[3];
        if (cs == JCS_CMYK) {
            /* Adobe writes CMYK inverted (0 = full ink). */
            double c = p[0], m = p[1], yy = p[2], k = p[3];
            if (!adobe) {
                c = 255 - c;
                m = 255 - m;
                yy = 255 - yy;
                k = 255 - k;
            }
            rgb[0] = c * k / 255.0;
            rgb[1] = m * k / 255.0;
            rgb[2] = yy * k / 255.0;
        } else if (comps == 1) {
            rgb[0] = rgb[1] = rgb[2] = p[0];
        } else {
            rgb[0] = p[0];
            rgb[1] = p[1];
            rgb[2] = p[2];
        }
        int64_t k = y * w + x;
        if (channels == 1) {
            double v = comps == 1 ? rgb[0] : 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
            out[k] = (float)(v / 255.0);
        } else {
            for (int c = 0; c < 3; c++)
                out[c * plane + k] = (float)(rgb[c] / 255.0);
        }
    }
}

flp_status flp__jpeg_read(const char *path, int channels, float **out, int64_t *h, int64_t *w)
{
    *out = NULL;
    jpeg_err err;
    memset(&err, 0, sizeof err);
    jpeg_job job;
    memset(&job, 0, sizeof job);
    FLP__TRY(flp__fopen_regular(path, &job.fp, NULL));
    job.cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.emit_message = on_message;
    err.pub.output_message = on_output;
    jpeg_job *volatile jp = &job;
    jpeg_err *volatile ep = &err;
    if (setjmp(err.jmp)) {
        int nomem = ep->nomem;
        release(jp);
        if (nomem)
            return flp__error(FLP_ERR_NOMEM, "out of memory decoding '%s'", path);
        return flp__error(FLP_ERR_FORMAT, "'%s' is not a valid JPEG: %s", path, ep->msg);
    }
    jpeg_create_decompress(&jp->cinfo);
    jp->created = 1;
    jpeg_stdio_src(&jp->cinfo, jp->fp);
    jpeg_read_header(&jp->cinfo, TRUE);
    /* libjpeg decodes arithmetic-coded data that stops short (at a marker)
     * as zeros, without a warning: a file missing most of its data comes
     * out as a valid flat image. Huffman-coded damage is caught (damaged()
     * above); arithmetic coding is refused rather than trusted. */
    if (jp->cinfo.arith_code) {
        release(jp);
        return flp__error(FLP_ERR_UNSUPPORTED,
                          "'%s' is an arithmetic-coded JPEG, which libflp does not read: damaged "
                          "arithmetic-coded data decodes without an error, so a truncated file "
                          "could not be told from a good one (convert it losslessly to Huffman "
                          "coding: jpegtran -optimize IN > OUT)",
                          path);
    }
    /* The bound on memory and time, before jpeg_start_decompress: that
     * allocates for the declared size (a progressive file, its whole
     * coefficient array) and a few corrupt bytes can declare 65500 x 65500
     * pixels. */
    const uint64_t pixels = (uint64_t)jp->cinfo.image_width * jp->cinfo.image_height;
    if (pixels > flp__limit(FLP_LIMIT_IMAGE_PIXELS)) {
        unsigned dw = jp->cinfo.image_width, dh = jp->cinfo.image_height;
        release(jp);
        return flp__limit_error(FLP_LIMIT_IMAGE_PIXELS, "'%s' declares %ux%u = %llu pixels", path, dw,
                                dh, (unsigned long long)pixels);
    }
    jp->progress.progress_monitor = on_progress;
    jp->cinfo.progress = &jp->progress;
    J_COLOR_SPACE in = jp->cinfo.jpeg_color_space;
    if (in == JCS_CMYK || in == JCS_YCCK)
        jp->cinfo.out_color_space = JCS_CMYK;
    else if (in == JCS_GRAYSCALE || channels == 1)
        jp->cinfo.out_color_space = JCS_GRAYSCALE;
    else
        jp->cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&jp->cinfo);
    const int64_t iw = jp->cinfo.output_width, ih = jp->cinfo.output_height;
    const int comps = jp->cinfo.output_components;
    if ((uint64_t)iw * (uint64_t)ih > pixels || iw < 1 || ih < 1) {
        snprintf(ep->msg, sizeof ep->msg, "image of %lldx%lld pixels is too large",
                 (long long)iw, (long long)ih);
        longjmp(ep->jmp, 1);
    }
    jp->row = flp__alloc_bytes((size_t)iw * (size_t)comps, "JPEG scanline");
    jp->out = flp__alloc_floats((int64_t)channels * iw * ih, "JPEG image");
    if (jp->row == NULL || jp->out == NULL) {
        ep->nomem = 1;
        longjmp(ep->jmp, 1);
    }
    const int adobe = jp->cinfo.saw_Adobe_marker;
    const J_COLOR_SPACE cs = jp->cinfo.out_color_space;
    while (jp->cinfo.output_scanline < jp->cinfo.output_height) {
        int64_t y = jp->cinfo.output_scanline;
        JSAMPROW rows[1] = {jp->row};
        if (jpeg_read_scanlines(&jp->cinfo, rows, 1) != 1) {
            snprintf(ep->msg, sizeof ep->msg, "no data at scanline %lld", (long long)y);
            longjmp(ep->jmp, 1);
        }
        put_row(jp->row, y, ih, iw, comps, cs, adobe, channels, jp->out);
    }
    jpeg_finish_decompress(&jp->cinfo);
    *out = jp->out;
    jp->out = NULL;
    *h = ih;
    *w = iw;
    release(jp);
    return FLP_OK;
}
