/* check_data.c - image decoding, resizing, the split CSV reader, the
 * Omniglot and Mini-ImageNet data sets and the few-shot sampler.
 *
 * Every file the tests read is written by them into a fresh temporary
 * folder (PNGs and JPEGs with known pixels, Omniglot and Mini-ImageNet
 * layouts), except the real Omniglot zip from the shared folder, which is
 * unpacked into a temporary folder when present (and `unzip` exists), the
 * tests using it skipping with a message otherwise. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "core/alloc.h"
#include "data/image.h"
#include "tasks/sampler_internal.h"
#include "testfile.h"
#include "testimage.h"
#include "testutil.h"

/* Paths are built in fixed 4 KiB buffers from a short temporary root; GCC
 * cannot see that they never come near the limit. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define require(cond, ...)             \
    do {                               \
        if (!(cond))                   \
            ck_abort_msg(__VA_ARGS__); \
    } while (0)

/* ======================================================================
 * Temporary folders and file writers
 * ====================================================================== */

static void mkdir_p(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    ck_assert_msg(mkdir(buf, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", buf, strerror(errno));
}

static void write_text(const char *path, const char *text) { tu_write_file(path, text, strlen(text)); }

/* ======================================================================
 * PNG
 * ====================================================================== */

static char tmp[4096];

static void tmp_setup(void) { tu_make_scratch(tmp, sizeof tmp, "data"); }
static void tmp_teardown(void) { tu_remove_tree(tmp); }

static const char *tpath(const char *name)
{
    static char p[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp, name);
    return p[k];
}

/* Decode and compare with expected values, both channel settings. */
static void expect_png(const char *path, int w, int h, const double *want1, const double *want3)
{
    float *img;
    int64_t ih, iw;
    ck_flp(flp__png_read(path, 1, &img, &ih, &iw));
    ck_assert_int_eq(ih, h);
    ck_assert_int_eq(iw, w);
    ck_allclose("png gray", img, want1, (int64_t)w * h, 0, 1e-6);
    flp__free(img);
    ck_flp(flp__png_read(path, 3, &img, &ih, &iw));
    ck_allclose("png rgb", img, want3, 3 * (int64_t)w * h, 0, 1e-6);
    flp__free(img);
}

START_TEST(test_png_formats)
{
    enum { W = 5, H = 3, N = W * H };
    uint16_t v[4 * N];
    double g1[N], g3[3 * N];
    /* 8-bit gray */
    for (int i = 0; i < N; i++) {
        v[i] = (uint16_t)(i * 17);
        g1[i] = i * 17 / 255.0;
        g3[i] = g3[N + i] = g3[2 * N + i] = g1[i];
    }
    tu_write_png(tpath("g8.png"), W, H, PNG_COLOR_TYPE_GRAY, 8, v, NULL, 0);
    expect_png(tpath("g8.png"), W, H, g1, g3);
    /* 1-bit gray (Omniglot's format) */
    for (int i = 0; i < N; i++) {
        v[i] = (uint16_t)((i * 7) % 3 == 0);
        g1[i] = v[i];
        g3[i] = g3[N + i] = g3[2 * N + i] = g1[i];
    }
    tu_write_png(tpath("g1.png"), W, H, PNG_COLOR_TYPE_GRAY, 1, v, NULL, 0);
    expect_png(tpath("g1.png"), W, H, g1, g3);
    /* 4-bit and 16-bit gray */
    for (int i = 0; i < N; i++) {
        v[i] = (uint16_t)(i % 16);
        g1[i] = (i % 16) / 15.0;
        g3[i] = g3[N + i] = g3[2 * N + i] = g1[i];
    }
    tu_write_png(tpath("g4.png"), W, H, PNG_COLOR_TYPE_GRAY, 4, v, NULL, 0);
    expect_png(tpath("g4.png"), W, H, g1, g3);
    for (int i = 0; i < N; i++) {
        v[i] = (uint16_t)(i * 4111 + 3);
        g1[i] = (i * 4111 + 3) / 65535.0;
        g3[i] = g3[N + i] = g3[2 * N + i] = g1[i];
    }
    tu_write_png(tpath("g16.png"), W, H, PNG_COLOR_TYPE_GRAY, 16, v, NULL, 0);
    expect_png(tpath("g16.png"), W, H, g1, g3);
    /* RGB and RGBA (alpha ignored): planes out, luma for one channel */
    for (int a = 0; a < 2; a++) {
        int ch = 3 + a;
        for (int i = 0; i < N; i++) {
            int r = (i * 13) % 256, g = (i * 29 + 7) % 256, b = (255 - i * 11) % 256;
            v[i * ch] = (uint16_t)r;
            v[i * ch + 1] = (uint16_t)g;
            v[i * ch + 2] = (uint16_t)b;
            if (a)
                v[i * ch + 3] = (uint16_t)(i * 3);
            g3[i] = r / 255.0;
            g3[N + i] = g / 255.0;
            g3[2 * N + i] = b / 255.0;
            g1[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255.0;
        }
        const char *name = a ? "rgba.png" : "rgb.png";
        tu_write_png(tpath(name), W, H, a ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB, 8, v, NULL, 0);
        expect_png(tpath(name), W, H, g1, g3);
    }
    /* palette */
    const png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {10, 200, 30}, {255, 255, 255}};
    for (int i = 0; i < N; i++) {
        int k = i % 4;
        v[i] = (uint16_t)k;
        g3[i] = pal[k].red / 255.0;
        g3[N + i] = pal[k].green / 255.0;
        g3[2 * N + i] = pal[k].blue / 255.0;
        g1[i] = (0.299 * pal[k].red + 0.587 * pal[k].green + 0.114 * pal[k].blue) / 255.0;
    }
    tu_write_png(tpath("pal.png"), W, H, PNG_COLOR_TYPE_PALETTE, 2, v, pal, 4);
    expect_png(tpath("pal.png"), W, H, g1, g3);
}
END_TEST

/* A valid 32x32 noisy gray PNG, as bytes. */
static uint8_t *noisy_png(const char *path, size_t *n)
{
    uint8_t px[32 * 32];
    for (int i = 0; i < 32 * 32; i++)
        px[i] = (uint8_t)((i * 2654435761u) >> 24);
    tu_write_gray_png(path, 32, 32, px);
    return tu_read_file(path, n);
}

START_TEST(test_png_corrupt)
{
    float *img = (float *)1;
    int64_t h, w;
    ck_flp_fails(flp__png_read(tpath("missing.png"), 1, &img, &h, &w), FLP_ERR_IO);
    ck_flp_message_has("missing.png");
    ck_assert_ptr_null(img);

    write_text(tpath("text.png"), "this is not a PNG file at all");
    ck_flp_fails(flp__png_read(tpath("text.png"), 1, &img, &h, &w), FLP_ERR_FORMAT);
    ck_flp_message_has("text.png");
    tu_write_file(tpath("empty.png"), "", 0);
    ck_flp_fails(flp__png_read(tpath("empty.png"), 1, &img, &h, &w), FLP_ERR_FORMAT);
    ck_flp_message_has("empty.png");

    size_t n;
    uint8_t *good = noisy_png(tpath("good.png"), &n);
    ck_flp(flp__png_read(tpath("good.png"), 1, &img, &h, &w));
    flp__free(img);
    /* truncated at several points: header, middle of the data, before IEND */
    const size_t cuts[] = {12, 40, n / 2, n - 13, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        tu_write_file(tpath("cut.png"), good, cuts[i]);
        ck_flp_fails(flp__png_read(tpath("cut.png"), 1, &img, &h, &w), FLP_ERR_FORMAT);
        ck_flp_message_has("cut.png");
        ck_assert_ptr_null(img);
    }
    /* a flipped byte inside the compressed data: CRC error */
    good[n / 2] ^= 0x5a;
    tu_write_file(tpath("flip.png"), good, n);
    ck_flp_fails(flp__png_read(tpath("flip.png"), 3, &img, &h, &w), FLP_ERR_FORMAT);
    ck_flp_message_has("flip.png");
    free(good);
}
END_TEST

/* ======================================================================
 * JPEG
 * ====================================================================== */

static double max_abs_diff(const float *a, const double *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

START_TEST(test_jpeg_roundtrip)
{
    enum { W = 24, H = 16, N = W * H };
    uint8_t rgb[3 * N], gray[N];
    double want3[3 * N], want1[N], luma[N];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int i = y * W + x;
            int r = 40 + 6 * x, g = 200 - 8 * y, b = 90 + 3 * x + 2 * y;
            rgb[3 * i] = (uint8_t)r;
            rgb[3 * i + 1] = (uint8_t)g;
            rgb[3 * i + 2] = (uint8_t)b;
            want3[i] = r / 255.0;
            want3[N + i] = g / 255.0;
            want3[2 * N + i] = b / 255.0;
            luma[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255.0;
            gray[i] = (uint8_t)(30 + 5 * x + 3 * y);
            want1[i] = gray[i] / 255.0;
        }
    tu_write_jpeg(tpath("rgb.jpg"), W, H, 3, rgb, 95, TU_JPEG_BASELINE);
    tu_write_jpeg(tpath("gray.jpg"), W, H, 1, gray, 95, TU_JPEG_BASELINE);
    float *img;
    int64_t h, w;
    /* smooth images at quality 95 come back within a few levels */
    const double tol = 6.0 / 255.0;
    ck_flp(flp__jpeg_read(tpath("rgb.jpg"), 3, &img, &h, &w));
    ck_assert_int_eq(h, H);
    ck_assert_int_eq(w, W);
    double e = max_abs_diff(img, want3, 3 * N);
    ck_assert_msg(e < tol, "RGB JPEG round trip: max error %g", e);
    flp__free(img);
    ck_flp(flp__jpeg_read(tpath("rgb.jpg"), 1, &img, &h, &w));
    e = max_abs_diff(img, luma, N);
    ck_assert_msg(e < tol, "RGB JPEG as gray: max error %g", e);
    flp__free(img);
    ck_flp(flp__jpeg_read(tpath("gray.jpg"), 1, &img, &h, &w));
    e = max_abs_diff(img, want1, N);
    ck_assert_msg(e < tol, "gray JPEG round trip: max error %g", e);
    flp__free(img);
    ck_flp(flp__jpeg_read(tpath("gray.jpg"), 3, &img, &h, &w));
    for (int c = 0; c < 3; c++) {
        e = max_abs_diff(img + c * N, want1, N);
        ck_assert_msg(e < tol, "gray JPEG as RGB, plane %d: max error %g", c, e);
    }
    flp__free(img);
}
END_TEST

START_TEST(test_jpeg_corrupt)
{
    float *img = (float *)1;
    int64_t h, w;
    ck_flp_fails(flp__jpeg_read(tpath("missing.jpg"), 3, &img, &h, &w), FLP_ERR_IO);
    ck_flp_message_has("missing.jpg");
    ck_assert_ptr_null(img);
    write_text(tpath("text.jpg"), "GIF89a not a jpeg");
    ck_flp_fails(flp__jpeg_read(tpath("text.jpg"), 3, &img, &h, &w), FLP_ERR_FORMAT);
    ck_flp_message_has("text.jpg");
    tu_write_file(tpath("empty.jpg"), "", 0);
    ck_flp_fails(flp__jpeg_read(tpath("empty.jpg"), 3, &img, &h, &w), FLP_ERR_FORMAT);
    ck_flp_message_has("empty.jpg");

    enum { W = 64, H = 48 };
    uint8_t px[3 * W * H];
    for (int i = 0; i < 3 * W * H; i++)
        px[i] = (uint8_t)((i * 2654435761u) >> 24); /* noise: plenty of entropy-coded data */
    tu_write_jpeg(tpath("good.jpg"), W, H, 3, px, 90, TU_JPEG_BASELINE);
    size_t n;
    uint8_t *good = tu_read_file(tpath("good.jpg"), &n);
    ck_flp(flp__jpeg_read(tpath("good.jpg"), 3, &img, &h, &w));
    flp__free(img);
    /* truncated in the header and in the scan: libjpeg would pad with gray
     * and warn; we refuse */
    const size_t cuts[] = {2, 20, n / 2, n - 2};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        tu_write_file(tpath("cut.jpg"), good, cuts[i]);
        ck_flp_fails(flp__jpeg_read(tpath("cut.jpg"), 3, &img, &h, &w), FLP_ERR_FORMAT);
        ck_flp_message_has("cut.jpg");
        ck_assert_ptr_null(img);
    }
    /* a marker planted in the middle of the scan */
    good[n / 2] = 0xFF;
    good[n / 2 + 1] = 0xD9;
    tu_write_file(tpath("marker.jpg"), good, n);
    ck_flp_fails(flp__jpeg_read(tpath("marker.jpg"), 3, &img, &h, &w), FLP_ERR_FORMAT);
    ck_flp_message_has("marker.jpg");
    free(good);
}
END_TEST

/* ======================================================================
 * Resizing
 * ====================================================================== */

typedef void (*resize_fn)(const float *, int64_t, int64_t, int64_t, int64_t, float *, int64_t,
                          int64_t, int64_t, int64_t);

START_TEST(test_resize_constant)
{
    const int64_t sizes[][4] = {{105, 105, 84, 84}, {105, 105, 28, 28}, {7, 5, 3, 11},
                                {1, 1, 4, 4},       {13, 9, 13, 9},     {500, 375, 84, 84}};
    const resize_fn fns[2] = {flp__resize_area, flp__resize_bilinear};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int64_t sh = sizes[k][0], sw = sizes[k][1], dh = sizes[k][2], dw = sizes[k][3];
        float *src = malloc(sizeof *src * (size_t)(sh * sw)), *dst = malloc(sizeof *dst * (size_t)(dh * dw));
        float *work = malloc(sizeof *work * (size_t)(dh * sw));
        for (int64_t i = 0; i < sh * sw; i++)
            src[i] = 0.3716f;
        for (int f = 0; f < 3; f++) {
            if (f < 2)
                fns[f](src, sh, sw, sw, 1, dst, dh, dw, dw, 1);
            else
                flp__resize_auto(src, sh, sw, dst, dh, dw, work);
            for (int64_t i = 0; i < dh * dw; i++)
                require(fabsf(dst[i] - 0.3716f) < 1e-6f, "%lldx%lld -> %lldx%lld (method %d): [%lld] = %.9g",
                        (long long)sh, (long long)sw, (long long)dh, (long long)dw, f, (long long)i, dst[i]);
        }
        free(src);
        free(dst);
        free(work);
    }
}
END_TEST

START_TEST(test_resize_area_blocks)
{
    enum { SH = 12, SW = 10, C = 3 };
    /* an interleaved 3-channel image: channel c is read with column stride 3 */
    float src[SH * SW * C];
    tu_fill_uniform(src, SH * SW * C, 0, 1, 7);
    for (int c = 0; c < C; c++) {
        /* 2x: exact block means */
        float dst[(SH / 2) * (SW / 2) * C];
        flp__resize_area(src + c, SH, SW, SW * C, C, dst + c, SH / 2, SW / 2, (SW / 2) * C, C);
        for (int y = 0; y < SH / 2; y++)
            for (int x = 0; x < SW / 2; x++) {
                double m = 0;
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++)
                        m += src[((2 * y + i) * SW + 2 * x + j) * C + c];
                m /= 4;
                float got = dst[(y * (SW / 2) + x) * C + c];
                require(fabs(got - m) < 1e-6, "2x block (%d,%d,%d): %.9g vs %.9g", y, x, c, got, m);
            }
        /* 3x along rows, 2x along columns */
        float d3[(SH / 3) * (SW / 2)];
        flp__resize_area(src + c, SH, SW, SW * C, C, d3, SH / 3, SW / 2, SW / 2, 1);
        for (int y = 0; y < SH / 3; y++)
            for (int x = 0; x < SW / 2; x++) {
                double m = 0;
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 2; j++)
                        m += src[((3 * y + i) * SW + 2 * x + j) * C + c];
                require(fabs(d3[y * (SW / 2) + x] - m / 6) < 1e-6, "3x2 block (%d,%d)", y, x);
            }
    }
    /* fractional boxes: 3 -> 2 weighs the middle pixel half to each side */
    const float row[3] = {1, 2, 4};
    float out[2];
    flp__resize_area(row, 1, 3, 3, 1, out, 1, 2, 2, 1);
    ck_assert_float_eq_tol(out[0], (1 + 0.5 * 2) / 1.5, 1e-6);
    ck_assert_float_eq_tol(out[1], (0.5 * 2 + 4) / 1.5, 1e-6);
    /* identity size: an exact copy */
    float same[SH * SW];
    flp__resize_area(src, SH, SW, SW * C, C, same, SH, SW, SW, 1);
    for (int i = 0; i < SH * SW; i++)
        require(same[i] == src[i * C], "identity area resize changed [%d]", i);
    /* the mean is preserved by every area resize */
    float big[SH * SW];
    for (int i = 0; i < SH * SW; i++)
        big[i] = src[i * C];
    float small[5 * 7];
    flp__resize_area(big, SH, SW, SW, 1, small, 5, 7, 7, 1);
    double m1 = 0, m2 = 0;
    for (int i = 0; i < SH * SW; i++)
        m1 += big[i] / (SH * SW);
    for (int i = 0; i < 35; i++)
        m2 += small[i] / 35.0;
    ck_assert_msg(fabs(m1 - m2) < 1e-6, "area resize mean %g vs %g", m2, m1);
}
END_TEST

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

START_TEST(test_resize_bilinear_ramp)
{
    const int64_t sizes[][4] = {{10, 8, 20, 16}, {10, 8, 5, 4}, {9, 13, 31, 7}, {16, 16, 16, 16}};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int64_t sh = sizes[k][0], sw = sizes[k][1], dh = sizes[k][2], dw = sizes[k][3];
        float src[64 * 64], dst[64 * 64];
        for (int64_t i = 0; i < sh; i++)
            for (int64_t j = 0; j < sw; j++)
                src[i * sw + j] = (float)(0.25 * i - 0.5 * j + 3);
        flp__resize_bilinear(src, sh, sw, sw, 1, dst, dh, dw, dw, 1);
        for (int64_t y = 0; y < dh; y++)
            for (int64_t x = 0; x < dw; x++) {
                double fy = clampd((y + 0.5) * sh / dh - 0.5, 0, sh - 1);
                double fx = clampd((x + 0.5) * sw / dw - 0.5, 0, sw - 1);
                double want = 0.25 * fy - 0.5 * fx + 3;
                require(fabs(dst[y * dw + x] - want) < 1e-5, "%lldx%lld->%lldx%lld (%lld,%lld): %.7g vs %.7g",
                        (long long)sh, (long long)sw, (long long)dh, (long long)dw, (long long)y,
                        (long long)x, dst[y * dw + x], want);
            }
        /* strictly inside (no clamping) the ramp keeps its slope in output pixels */
        if (dh > 2 && dw > 2 && dh >= sh) {
            double slope_y = 0.25 * sh / dh;
            int64_t y = dh / 2, x = dw / 2;
            require(fabs((dst[(y + 1) * dw + x] - dst[y * dw + x]) - slope_y) < 1e-5, "row slope");
        }
    }
}
END_TEST

/* ======================================================================
 * CSV
 * ====================================================================== */

START_TEST(test_csv_good)
{
    /* BOM, CRLF, blank lines, no newline at the end */
    write_text(tpath("ok.csv"), "\xEF\xBB\xBF" "filename,label\r\na.jpg,n1\r\n\r\nb.jpg,n2\nc.jpg,n1");
    flp__csv csv;
    ck_flp(flp__csv_read(tpath("ok.csv"), &csv));
    ck_assert_int_eq(csv.n, 3);
    ck_assert_str_eq(csv.filename[0], "a.jpg");
    ck_assert_str_eq(csv.label[0], "n1");
    ck_assert_str_eq(csv.filename[1], "b.jpg");
    ck_assert_str_eq(csv.label[1], "n2");
    ck_assert_str_eq(csv.filename[2], "c.jpg");
    ck_assert_int_eq(csv.line[0], 2);
    ck_assert_int_eq(csv.line[1], 4);
    ck_assert_int_eq(csv.line[2], 5);
    flp__csv_free(&csv);
    flp__csv_free(&csv); /* a freed table is empty: freeing again is harmless */
}
END_TEST

START_TEST(test_csv_errors)
{
    const struct {
        const char *text, *where, *why;
    } bad[] = {
        {"file,label\na.jpg,n1\n", "bad1.csv:1:", "header"},
        {"filename,label\na.jpg,n1\nb.jpg n2\n", "bad2.csv:3:", "no comma"},
        {"filename,label\r\na.jpg,n1\r\nb.jpg,n2,x\r\n", "bad3.csv:3:", "more than two"},
        {"filename,label\n\n,n1\n", "bad4.csv:3:", "empty filename"},
        {"filename,label\na.jpg,\n", "bad5.csv:2:", "empty label"},
        {"filename,label\n\"a.jpg\",n1\n", "bad6.csv:2:", "quoted"},
        {"", "bad7.csv:1:", "empty file"},
        {"filename,label\n\n", "bad8.csv:3:", "no rows"},
        /* names that reach outside images/ */
        {"filename,label\na.jpg,n1\n../secret.jpg,n1\n", "bad9.csv:3:", "holds a '/'"},
        {"filename,label\n/etc/passwd,n1\n", "bad10.csv:2:", "holds a '/'"},
        {"filename,label\nsub/a.jpg,n1\n", "bad11.csv:2:", "without folders"},
        {"filename,label\n..,n1\n", "bad12.csv:2:", "is '.' or '..'"},
        /* one file twice: the earliest repeat is named, with its first line */
        {"filename,label\na.jpg,n1\nb.jpg,n2\na.jpg,n3\n", "bad13.csv:4:",
         "'a.jpg' is listed again (first on line 2)"},
        {"filename,label\na.jpg,x\nb.jpg,x\nb.jpg,y\na.jpg,x\n", "bad14.csv:4:",
         "'b.jpg' is listed again (first on line 3)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu.csv", i + 1);
        write_text(tpath(name), bad[i].text);
        flp__csv csv;
        ck_flp_fails(flp__csv_read(tpath(name), &csv), FLP_ERR_FORMAT);
        ck_flp_message_has(bad[i].where);
        ck_flp_message_has(bad[i].why);
        ck_assert_int_eq(csv.n, 0);
    }
    flp__csv csv;
    ck_flp_fails(flp__csv_read(tpath("nope.csv"), &csv), FLP_ERR_IO);
    ck_flp_message_has("nope.csv");
}
END_TEST

/* ======================================================================
 * Generated Omniglot layout: alphabets A0.., characters c00.., drawers as
 * NNNN_DD.png. Each image encodes its class (global index) and drawer in
 * its first two pixels: ink = 1 + 16 * id, so that episodes can be traced
 * back to their files exactly (PNG is lossless and the tests open the
 * layout at its own size, so nothing is resampled).
 * ====================================================================== */

enum { GA = 3, GC = 4, GD = 8, GS = 8 }; /* alphabets, characters each, drawers, side */

static void omni_file(char *out, size_t n, const char *root, int a, int c, int d)
{
    snprintf(out, n, "%s/A%d/c%02d/%04d_%02d.png", root, a, c, 100 + a * GC + c, d + 1);
}

static void write_omni_image(const char *path, int cls, int drawer)
{
    uint8_t px[GS * GS];
    for (int i = 0; i < GS * GS; i++) /* some strokes on white paper */
        px[i] = (uint8_t)(i % 5 == 0 ? 0 : 255 - 10 * (i % 3));
    px[0] = (uint8_t)(255 - (1 + 16 * cls));
    px[1] = (uint8_t)(255 - (1 + 16 * drawer));
    tu_write_gray_png(path, GS, GS, px);
}

static void make_omniglot(const char *root)
{
    char path[4096];
    for (int a = 0; a < GA; a++)
        for (int c = 0; c < GC; c++) {
            snprintf(path, sizeof path, "%s/A%d/c%02d", root, a, c);
            mkdir_p(path);
            for (int d = 0; d < GD; d++) {
                omni_file(path, sizeof path, root, a, c, d);
                write_omni_image(path, a * GC + c, d);
            }
        }
    /* things the loader must ignore */
    snprintf(path, sizeof path, "%s/README.txt", root);
    write_text(path, "not an alphabet");
    snprintf(path, sizeof path, "%s/A0/c00/notes.txt", root);
    write_text(path, "not an image");
    snprintf(path, sizeof path, "%s/.hidden", root);
    mkdir_p(path);
}

/* Class and drawer of an image row of a generated layout. */
static void trace(const float *row, int *cls, int *drawer)
{
    long c = lrint(row[0] * 255.0) - 1, d = lrint(row[1] * 255.0) - 1;
    require(c >= 0 && c % 16 == 0 && d >= 0 && d % 16 == 0, "row does not encode an image (%g, %g)",
            row[0], row[1]);
    *cls = (int)(c / 16);
    *drawer = (int)(d / 16);
}

static char omni_root[4096];

static void omni_setup(void)
{
    tmp_setup();
    snprintf(omni_root, sizeof omni_root, "%s/omni", tmp);
    make_omniglot(omni_root);
}

static flp_dataset *open_gen(void)
{
    flp_dataset *ds;
    ck_flp(flp_dataset_open_omniglot(omni_root, GS, &ds));
    return ds;
}

START_TEST(test_omniglot_generated)
{
    flp_dataset *ds = open_gen();
    int64_t n, ch, h, w;
    ck_flp(flp_dataset_num_classes(ds, &n));
    ck_assert_int_eq(n, GA * GC);
    ck_flp(flp_dataset_num_alphabets(ds, &n));
    ck_assert_int_eq(n, GA);
    ck_flp(flp_dataset_image_shape(ds, &ch, &h, &w));
    ck_assert_int_eq(ch, 1);
    ck_assert_int_eq(h, GS);
    ck_assert_int_eq(w, GS);
    ck_flp(flp_dataset_image_shape(ds, NULL, NULL, NULL));
    const char *name, *path;
    ck_flp(flp_dataset_class_name(ds, 5, &name));
    ck_assert_str_eq(name, "A1/c01");
    float img[GS * GS];
    for (int64_t c = 0; c < GA * GC; c++) {
        ck_flp(flp_dataset_class_size(ds, c, &n));
        ck_assert_int_eq(n, GD);
        for (int64_t d = 0; d < GD; d++) {
            ck_flp(flp_dataset_get(ds, c, d, img, GS * GS));
            int tc, td;
            trace(img, &tc, &td);
            ck_assert_int_eq(tc, c);
            ck_assert_int_eq(td, d);
            /* inverted: white paper is 0, black ink 1 */
            ck_assert_float_eq(img[5], 1.0f);
            ck_assert_float_eq_tol(img[2], 20 / 255.0, 1e-7);
            ck_flp(flp_dataset_example_path(ds, c, d, &path));
            char want[4096];
            omni_file(want, sizeof want, omni_root, (int)c / GC, (int)c % GC, (int)d);
            ck_assert_str_eq(path, want);
        }
    }
    /* cached: the same values again with the files gone */
    char p0[4096];
    omni_file(p0, sizeof p0, omni_root, 0, 0, 0);
    unlink(p0);
    ck_flp(flp_dataset_get(ds, 0, 0, img, GS * GS));
    int tc, td;
    trace(img, &tc, &td);
    ck_assert_int_eq(tc, 0);
    flp_dataset_free(ds);
    flp_dataset_free(NULL);
}
END_TEST

START_TEST(test_omniglot_resized)
{
    /* a 4x4 grid of 2x2 ink blocks opened at size 2: area means */
    char root[4096], path[4096];
    snprintf(root, sizeof root, "%s/blocks", tmp);
    snprintf(path, sizeof path, "%s/alpha/char", root);
    mkdir_p(path);
    uint8_t px[16];
    for (int i = 0; i < 16; i++)
        px[i] = (uint8_t)(255 - 17 * i);
    snprintf(path, sizeof path, "%s/alpha/char/0001_01.png", root);
    tu_write_gray_png(path, 4, 4, px);
    flp_dataset *ds;
    ck_flp(flp_dataset_open_omniglot(root, 2, &ds));
    float img[4];
    ck_flp(flp_dataset_get(ds, 0, 0, img, 4));
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 2; x++) {
            double ink = 0;
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    ink += 17 * ((2 * y + i) * 4 + 2 * x + j);
            ink /= 4 * 255.0;
            ck_assert_float_eq_tol(img[y * 2 + x], ink, 0.5 / 255 + 1e-6);
        }
    flp_dataset_free(ds);
    /* and enlarged to 7: bilinear, still in [0, 1] */
    ck_flp(flp_dataset_open_omniglot(root, 7, &ds));
    float big[49];
    ck_flp(flp_dataset_get(ds, 0, 0, big, 49));
    for (int i = 0; i < 49; i++)
        ck_assert(big[i] >= 0 && big[i] <= 1);
    ck_assert_float_eq_tol(big[0], 0, 1e-7);
    ck_assert_float_eq_tol(big[48], 1, 1e-7);
    flp_dataset_free(ds);
}
END_TEST

START_TEST(test_omniglot_errors)
{
    flp_dataset *ds = (flp_dataset *)1;
    char path[4096];
    snprintf(path, sizeof path, "%s/nowhere", tmp);
    ck_flp_fails(flp_dataset_open_omniglot(path, 28, &ds), FLP_ERR_IO);
    ck_flp_message_has("nowhere");
    ck_assert_ptr_null(ds);
    snprintf(path, sizeof path, "%s/empty", tmp);
    mkdir_p(path);
    ck_flp_fails(flp_dataset_open_omniglot(path, 28, &ds), FLP_ERR_FORMAT);
    ck_flp_message_has("empty");
    ck_flp_message_has("no alphabet folders");
    /* an alphabet without characters (pointed one level too deep) */
    snprintf(path, sizeof path, "%s/deep", tmp);
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/alpha", path);
    mkdir_p(sub);
    ck_flp_fails(flp_dataset_open_omniglot(path, 28, &ds), FLP_ERR_FORMAT);
    ck_flp_message_has("alpha");
    /* a character folder without PNGs */
    snprintf(sub, sizeof sub, "%s/alpha/char7", path);
    mkdir_p(sub);
    ck_flp_fails(flp_dataset_open_omniglot(path, 28, &ds), FLP_ERR_FORMAT);
    ck_flp_message_has("char7");
    ck_flp_message_has("no .png");
    ck_flp_fails(flp_dataset_open_omniglot(omni_root, 0, &ds), FLP_ERR_RANGE);
    ck_flp_fails(flp_dataset_open_omniglot(omni_root, 1025, &ds), FLP_ERR_RANGE);
    ck_flp_fails(flp_dataset_open_omniglot(NULL, 28, &ds), FLP_ERR_NULL);
    ck_flp_fails(flp_dataset_open_omniglot(omni_root, 28, NULL), FLP_ERR_NULL);

    /* a corrupt image is reported when first read, naming the file */
    char bad[4096];
    omni_file(bad, sizeof bad, omni_root, 1, 2, 3);
    write_text(bad, "\x89PNG\r\n\x1a\n garbage");
    ds = open_gen();
    float img[GS * GS];
    for (int i = 0; i < GS * GS; i++)
        img[i] = -7;
    ck_flp_fails(flp_dataset_get(ds, 1 * GC + 2, 3, img, GS * GS), FLP_ERR_FORMAT);
    ck_flp_message_has(bad);
    ck_flp_message_has("flp_dataset_get");
    ck_assert_float_eq(img[0], -7); /* untouched */
    ck_flp_fails(flp_dataset_preload(ds), FLP_ERR_FORMAT);
    ck_flp_message_has(bad);
    /* argument checks */
    ck_flp_fails(flp_dataset_get(ds, 0, 0, img, GS * GS - 1), FLP_ERR_SHAPE);
    ck_flp_fails(flp_dataset_get(ds, -1, 0, img, GS * GS), FLP_ERR_RANGE);
    ck_flp_fails(flp_dataset_get(ds, GA * GC, 0, img, GS * GS), FLP_ERR_RANGE);
    ck_flp_fails(flp_dataset_get(ds, 0, GD, img, GS * GS), FLP_ERR_RANGE);
    ck_flp_message_has("A0/c00");
    ck_flp_fails(flp_dataset_get(ds, 0, 0, NULL, GS * GS), FLP_ERR_NULL);
    ck_flp_fails(flp_dataset_get(NULL, 0, 0, img, GS * GS), FLP_ERR_NULL);
    const char *s;
    int64_t n;
    ck_flp_fails(flp_dataset_class_name(ds, 99, &s), FLP_ERR_RANGE);
    ck_flp_fails(flp_dataset_class_size(ds, -1, &n), FLP_ERR_RANGE);
    ck_flp_fails(flp_dataset_example_path(ds, 0, -1, &s), FLP_ERR_RANGE);
    ck_flp_fails(flp_dataset_num_classes(NULL, &n), FLP_ERR_NULL);
    flp_dataset_free(ds);
}
END_TEST

START_TEST(test_views)
{
    flp_dataset *ds = open_gen(), *sub, *tr, *ev;
    const int64_t pick[3] = {7, 0, 11};
    ck_flp(flp_dataset_subset(ds, pick, 3, &sub));
    int64_t n;
    ck_flp(flp_dataset_num_classes(sub, &n));
    ck_assert_int_eq(n, 3);
    const char *name;
    ck_flp(flp_dataset_class_name(sub, 0, &name));
    ck_assert_str_eq(name, "A1/c03");
    ck_flp(flp_dataset_class_name(sub, 2, &name));
    ck_assert_str_eq(name, "A2/c03");
    ck_flp(flp_dataset_num_alphabets(sub, &n));
    ck_assert_int_eq(n, 3);
    const int64_t dup[2] = {1, 1}, out_of[2] = {1, 12};
    flp_dataset *none = (flp_dataset *)1;
    ck_flp_fails(flp_dataset_subset(ds, dup, 2, &none), FLP_ERR_INVALID);
    ck_assert_ptr_null(none);
    ck_flp_fails(flp_dataset_subset(ds, out_of, 2, &none), FLP_ERR_RANGE);
    ck_flp_fails(flp_dataset_subset(ds, pick, 0, &none), FLP_ERR_RANGE);

    ck_flp(flp_dataset_split_by_alphabet(ds, 2, &tr, &ev));
    int64_t nt, ne;
    ck_flp(flp_dataset_num_classes(tr, &nt));
    ck_flp(flp_dataset_num_classes(ev, &ne));
    ck_assert_int_eq(nt, 2 * GC);
    ck_assert_int_eq(ne, GC);
    for (int64_t c = 0; c < nt; c++) {
        ck_flp(flp_dataset_class_name(tr, c, &name));
        ck_assert_msg(strncmp(name, "A2/", 3) != 0, "training class %s", name);
    }
    for (int64_t c = 0; c < ne; c++) {
        ck_flp(flp_dataset_class_name(ev, c, &name));
        ck_assert_msg(strncmp(name, "A2/", 3) == 0, "evaluation class %s", name);
    }
    flp_dataset *none2 = (flp_dataset *)1;
    none = (flp_dataset *)1;
    ck_flp_fails(flp_dataset_split_by_alphabet(ds, 0, &none, &none2), FLP_ERR_RANGE);
    ck_flp_fails(flp_dataset_split_by_alphabet(ds, GA, &none, &none2), FLP_ERR_RANGE);
    ck_assert_ptr_null(none);
    ck_assert_ptr_null(none2);
    /* a view of a view splits by the alphabets it holds */
    flp_dataset *t2, *e2;
    ck_flp(flp_dataset_split_by_alphabet(sub, 1, &t2, &e2));
    ck_flp(flp_dataset_num_classes(t2, &n));
    ck_assert_int_eq(n, 1);
    ck_flp(flp_dataset_class_name(t2, 0, &name));
    ck_assert_str_eq(name, "A0/c00");
    ck_flp(flp_dataset_class_name(e2, 0, &name)); /* view order kept */
    ck_assert_str_eq(name, "A1/c03");
    ck_flp(flp_dataset_class_name(e2, 1, &name));
    ck_assert_str_eq(name, "A2/c03");
    flp_dataset_free(t2);
    flp_dataset_free(e2);

    /* views outlive their parent and share its cache */
    float a[GS * GS], b[GS * GS];
    ck_flp(flp_dataset_get(ds, 7, 2, a, GS * GS));
    flp_dataset_free(ds);
    ck_flp(flp_dataset_get(sub, 0, 2, b, GS * GS));
    ck_assert_mem_eq(a, b, sizeof a);
    flp_dataset_free(sub);
    ck_flp(flp_dataset_get(ev, 0, 0, b, GS * GS));
    flp_dataset_free(ev);
    flp_dataset_free(tr);
}
END_TEST

/* Fault injection: every allocation of opening and reading can fail
 * cleanly (ASan builds check that nothing leaks). */
START_TEST(test_omniglot_nomem)
{
    int ok = 0;
    for (int64_t fail = 1; !ok && fail < 2000; fail++) {
        flp_dataset *ds = NULL;
        flp__alloc_fail_after(fail);
        flp_status st = flp_dataset_open_omniglot(omni_root, GS, &ds);
        flp__alloc_fail_after(0);
        if (st == FLP_OK) {
            float img[GS * GS];
            for (int64_t f2 = 1;; f2++) {
                flp__alloc_fail_after(f2);
                st = flp_dataset_get(ds, 3, 1, img, GS * GS);
                flp__alloc_fail_after(0);
                if (st == FLP_OK)
                    break;
                ck_assert_int_eq(st, FLP_ERR_NOMEM);
            }
            flp_dataset_free(ds);
            ok = 1;
        } else {
            ck_assert_msg(st == FLP_ERR_NOMEM, "failure %lld gave %s", (long long)fail,
                          flp_status_name(st));
            ck_assert_ptr_null(ds);
        }
    }
    ck_assert(ok);
}
END_TEST

/* ======================================================================
 * Generated Mini-ImageNet layout: images/<filename> + <split>.csv, named as
 * in the real split files when the shared folder has them. Each image is a
 * constant colour (20 + 30 class, 40 + 20 index, 200), which JPEG keeps
 * within a level or two.
 * ====================================================================== */

enum { MC = 4, MI = 6 }; /* classes, images each */

static char mini_root[4096];
static char mini_names[MC][MI][64], mini_labels[MC][32];

/* The first MC labels of the real CSV and their first MI files; made-up
 * names in the same pattern without it. */
static void mini_pick_names(const char *split)
{
    char rel[128];
    snprintf(rel, sizeof rel, "data/mini-imagenet/%s.csv", split);
    const char *real = tu_shared_path(rel);
    int have[MC] = {0}, nl = 0;
    if (real != NULL) {
        FILE *f = fopen(real, "r");
        char line[256];
        while (f && fgets(line, sizeof line, f) && nl <= MC) {
            char *comma = strchr(line, ',');
            if (!comma || strncmp(line, "filename", 8) == 0)
                continue;
            *comma = '\0';
            char *lab = comma + 1;
            lab[strcspn(lab, "\r\n")] = '\0';
            int k = -1;
            for (int i = 0; i < nl; i++)
                if (strcmp(mini_labels[i], lab) == 0)
                    k = i;
            if (k < 0) {
                if (nl == MC)
                    break;
                k = nl++;
                snprintf(mini_labels[k], sizeof mini_labels[k], "%s", lab);
            }
            if (have[k] < MI)
                snprintf(mini_names[k][have[k]++], sizeof mini_names[k][0], "%s", line);
        }
        if (f)
            fclose(f);
    }
    if (nl < MC || have[MC - 1] < MI) {
        for (int c = 0; c < MC; c++) {
            snprintf(mini_labels[c], sizeof mini_labels[c], "n%08d", 1000 + c);
            for (int i = 0; i < MI; i++)
                snprintf(mini_names[c][i], sizeof mini_names[c][i], "n%08d%08d.jpg", 1000 + c, i + 1);
        }
    }
}

static void mini_color(int c, int i, int rgb[3])
{
    rgb[0] = 20 + 30 * c;
    rgb[1] = 40 + 20 * i;
    rgb[2] = 200;
}

static void make_mini(void)
{
    snprintf(mini_root, sizeof mini_root, "%s/mini", tmp);
    char path[4096];
    snprintf(path, sizeof path, "%s/images", mini_root);
    mkdir_p(path);
    mini_pick_names("train");
    /* rows interleaved across classes, as a shuffled CSV would be */
    char csv[1 << 14];
    size_t len = (size_t)snprintf(csv, sizeof csv, "filename,label\r\n");
    for (int i = 0; i < MI; i++)
        for (int c = MC - 1; c >= 0; c--) {
            enum { W = 12, H = 10 };
            uint8_t px[3 * W * H];
            int rgb[3];
            mini_color(c, i, rgb);
            for (int p = 0; p < W * H; p++)
                for (int k = 0; k < 3; k++)
                    px[3 * p + k] = (uint8_t)rgb[k];
            snprintf(path, sizeof path, "%s/images/%s", mini_root, mini_names[c][i]);
            tu_write_jpeg(path, W, H, 3, px, 95, TU_JPEG_BASELINE);
            len += (size_t)snprintf(csv + len, sizeof csv - len, "%s,%s\r\n", mini_names[c][i],
                                    mini_labels[c]);
        }
    snprintf(path, sizeof path, "%s/train.csv", mini_root);
    write_text(path, csv);
}

static void mini_setup(void)
{
    tmp_setup();
    make_mini();
}

START_TEST(test_mini_open)
{
    flp_dataset *ds;
    ck_flp(flp_dataset_open_miniimagenet(mini_root, "train", 6, &ds));
    int64_t n, ch, h, w;
    ck_flp(flp_dataset_num_classes(ds, &n));
    ck_assert_int_eq(n, MC);
    ck_flp(flp_dataset_image_shape(ds, &ch, &h, &w));
    ck_assert_int_eq(ch, 3);
    ck_assert_int_eq(h, 6);
    ck_assert_int_eq(w, 6);
    ck_flp(flp_dataset_num_alphabets(ds, &n));
    ck_assert_int_eq(n, 0);
    static const double mean[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225};
    float img[3 * 36];
    for (int64_t c = 0; c < MC; c++) {
        const char *name;
        ck_flp(flp_dataset_class_name(ds, c, &name));
        /* classes come in label order, each with its rows in CSV order */
        int k = -1;
        for (int j = 0; j < MC; j++)
            if (strcmp(mini_labels[j], name) == 0)
                k = j;
        ck_assert_msg(k >= 0, "unknown class %s", name);
        if (c > 0) {
            const char *prev;
            ck_flp(flp_dataset_class_name(ds, c - 1, &prev));
            ck_assert_msg(strcmp(prev, name) < 0, "classes %s, %s out of order", prev, name);
        }
        ck_flp(flp_dataset_class_size(ds, c, &n));
        ck_assert_int_eq(n, MI);
        for (int64_t i = 0; i < MI; i++) {
            const char *path;
            ck_flp(flp_dataset_example_path(ds, c, i, &path));
            ck_assert_msg(strstr(path, mini_names[k][i]) != NULL, "%s is not %s", path,
                          mini_names[k][i]);
            ck_flp(flp_dataset_get(ds, c, i, img, 3 * 36));
            int rgb[3];
            mini_color(k, (int)i, rgb);
            for (int k = 0; k < 3; k++) {
                double want = (rgb[k] / 255.0 - mean[k]) / sd[k];
                for (int p = 0; p < 36; p++)
                    require(fabs(img[k * 36 + p] - want) < 3.0 / 255 / sd[k],
                            "class %lld image %lld channel %d: %g, expected %g", (long long)c,
                            (long long)i, k, img[k * 36 + p], want);
            }
        }
    }
    ck_flp(flp_dataset_preload(ds));
    flp_dataset *a, *b;
    ck_flp_fails(flp_dataset_split_by_alphabet(ds, 1, &a, &b), FLP_ERR_INVALID);
    flp_dataset_free(ds);
}
END_TEST

START_TEST(test_mini_errors)
{
    flp_dataset *ds = (flp_dataset *)1;
    ck_flp_fails(flp_dataset_open_miniimagenet(mini_root, "training", 84, &ds), FLP_ERR_INVALID);
    ck_assert_ptr_null(ds);
    ck_flp_fails(flp_dataset_open_miniimagenet(mini_root, "val", 84, &ds), FLP_ERR_IO);
    ck_flp_message_has("val.csv");
    ck_flp_fails(flp_dataset_open_miniimagenet(mini_root, "train", -3, &ds), FLP_ERR_RANGE);
    ck_flp_fails(flp_dataset_open_miniimagenet(NULL, "train", 84, &ds), FLP_ERR_NULL);
    ck_flp_fails(flp_dataset_open_miniimagenet(mini_root, NULL, 84, &ds), FLP_ERR_NULL);
    char path[4096], csv[4096];
    snprintf(path, sizeof path, "%s/nowhere", tmp);
    ck_flp_fails(flp_dataset_open_miniimagenet(path, "train", 84, &ds), FLP_ERR_IO);
    ck_flp_message_has("images");

    /* a CSV naming a missing image: the file and the line are named */
    snprintf(csv, sizeof csv, "filename,label\n%s,%s\nn0000000000000042.jpg,%s\n", mini_names[0][0],
             mini_labels[0], mini_labels[0]);
    snprintf(path, sizeof path, "%s/test.csv", mini_root);
    write_text(path, csv);
    ck_flp_fails(flp_dataset_open_miniimagenet(mini_root, "test", 84, &ds), FLP_ERR_IO);
    ck_flp_message_has("n0000000000000042.jpg");
    ck_flp_message_has("test.csv:3");
    /* a file name reaching outside images/ is refused, naming the line */
    write_text(path, "filename,label\n../train.csv,n1\n");
    ck_flp_fails(flp_dataset_open_miniimagenet(mini_root, "test", 84, &ds), FLP_ERR_FORMAT);
    ck_flp_message_has("test.csv:2:");
    ck_flp_message_has("'/'");
    /* a malformed CSV */
    write_text(path, "filename,label\nno-comma-here\n");
    ck_flp_fails(flp_dataset_open_miniimagenet(mini_root, "test", 84, &ds), FLP_ERR_FORMAT);
    ck_flp_message_has("test.csv:2:");
    ck_flp_message_has("flp_dataset_open_miniimagenet");

    /* a corrupt JPEG is named when first read */
    ck_flp(flp_dataset_open_miniimagenet(mini_root, "train", 84, &ds));
    const char *bad;
    ck_flp(flp_dataset_example_path(ds, 2, 3, &bad));
    size_t n;
    uint8_t *bytes = tu_read_file(bad, &n);
    tu_write_file(bad, bytes, n / 2);
    free(bytes);
    float *img = malloc(sizeof *img * 3 * 84 * 84);
    ck_flp(flp_dataset_get(ds, 2, 2, img, 3 * 84 * 84)); /* enlarged 12x10 -> 84x84 */
    ck_flp_fails(flp_dataset_get(ds, 2, 3, img, 3 * 84 * 84), FLP_ERR_FORMAT);
    ck_flp_message_has(bad);
    free(img);
    flp_dataset_free(ds);
}
END_TEST

START_TEST(test_mini_nomem)
{
    int ok = 0;
    for (int64_t fail = 1; !ok && fail < 2000; fail++) {
        flp_dataset *ds = NULL;
        flp__alloc_fail_after(fail);
        flp_status st = flp_dataset_open_miniimagenet(mini_root, "train", 5, &ds);
        flp__alloc_fail_after(0);
        if (st == FLP_OK) {
            float img[75];
            for (int64_t f2 = 1;; f2++) {
                flp__alloc_fail_after(f2);
                st = flp_dataset_get(ds, 1, 1, img, 75);
                flp__alloc_fail_after(0);
                if (st == FLP_OK)
                    break;
                ck_assert_int_eq(st, FLP_ERR_NOMEM);
            }
            flp_dataset_free(ds);
            ok = 1;
        } else {
            ck_assert_msg(st == FLP_ERR_NOMEM, "failure %lld gave %s: %s", (long long)fail,
                          flp_status_name(st), flp_last_error());
        }
    }
    ck_assert(ok);
}
END_TEST

/* ======================================================================
 * Few-shot sampler (on the generated Omniglot layout)
 * ====================================================================== */

typedef struct {
    int64_t steps, batch, n_in, n_out, n_query;
    const float *x, *xq;
    const int32_t *lab, *lq;
} fs_view;

static fs_view fs_view_of(const flp_episode *ep)
{
    fs_view v;
    int cls;
    int64_t n;
    ck_flp(flp_episode_shape(ep, &v.steps, &v.batch, &v.n_in, &v.n_out, &v.n_query, &cls));
    ck_assert_int_eq(cls, 1);
    ck_flp(flp_episode_floats(ep, FLP_EPISODE_X, &v.x, &n));
    ck_flp(flp_episode_floats(ep, FLP_EPISODE_XQ, &v.xq, &n));
    ck_flp(flp_episode_labels(ep, FLP_EPISODE_LABELS, &v.lab, &n));
    ck_flp(flp_episode_labels(ep, FLP_EPISODE_LQ, &v.lq, &n));
    return v;
}

/* Check an episode against the protocol; returns the global class of each
 * label in cls_of[]. */
static void check_episode(const flp_episode *ep, int64_t W, int64_t K, int64_t Q, int64_t B,
                          int cls_of[64])
{
    fs_view v = fs_view_of(ep);
    ck_assert_int_eq(v.steps * v.batch, W * K);
    ck_assert_int_eq(v.batch, B);
    ck_assert_int_eq(v.n_in, GS * GS);
    ck_assert_int_eq(v.n_out, W);
    ck_assert_int_eq(v.n_query, W * Q);
    int seen[GA * GC][GD];
    memset(seen, 0, sizeof seen);
    int shown_per_label[64] = {0};
    for (int j = 0; j < W; j++)
        cls_of[j] = -1;
    for (int64_t r = 0; r < W * K; r++) {
        int c, d, l = v.lab[r];
        trace(v.x + r * v.n_in, &c, &d);
        require(l >= 0 && l < W, "label %d", l);
        require(cls_of[l] < 0 || cls_of[l] == c, "label %d shows classes %d and %d", l, cls_of[l], c);
        cls_of[l] = c;
        require(!seen[c][d]++, "example (%d, %d) shown twice", c, d);
        shown_per_label[l]++;
    }
    for (int j = 0; j < W; j++) {
        require(shown_per_label[j] == K, "label %d shown %d times", j, shown_per_label[j]);
        for (int i = 0; i < j; i++)
            require(cls_of[i] != cls_of[j], "labels %d and %d are one class", i, j);
    }
    for (int64_t r = 0; r < W * Q; r++) {
        int c, d, l = v.lq[r];
        trace(v.xq + r * v.n_in, &c, &d);
        require(l == r / Q, "query %lld has label %d", (long long)r, l);
        require(cls_of[l] == c, "query label %d is class %d, shown as class %d", l, c, cls_of[l]);
        require(!seen[c][d]++, "query example (%d, %d) was shown or queried already", c, d);
    }
}

static flp_sampler *gen_sampler(uint64_t seed, flp_dataset **tr, flp_dataset **ev)
{
    flp_dataset *ds = open_gen();
    ck_flp(flp_dataset_split_by_alphabet(ds, 2, tr, ev));
    flp_dataset_free(ds);
    flp_sampler *s;
    ck_flp(flp_sampler_create_fewshot(*tr, *ev, seed, &s));
    ck_flp(flp_sampler_set(s, FLP_FEWSHOT_QUERY_PER_CLASS, 3)); /* 5 + 3 of the 8 drawers */
    return s;
}

START_TEST(test_fewshot_episodes)
{
    flp_dataset *tr, *ev;
    flp_sampler *s = gen_sampler(11, &tr, &ev);
    double v;
    const struct {
        int key;
        double def;
    } defs[] = {{FLP_FEWSHOT_WAYS, 5}, {FLP_FEWSHOT_SHOTS, 5}, {FLP_FEWSHOT_QUERY_PER_CLASS, 5},
                {FLP_FEWSHOT_ORDER, FLP_ORDER_IID}, {FLP_FEWSHOT_BATCH, 1}};
    flp_sampler *fresh;
    ck_flp(flp_sampler_create_fewshot(tr, ev, 0, &fresh));
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++) {
        ck_flp(flp_sampler_get(fresh, defs[i].key, &v));
        ck_assert_double_eq(v, defs[i].def);
    }
    flp_sampler_free(fresh);
    /* the sampler keeps its own references */
    flp_dataset_free(tr);
    flp_dataset_free(ev);
    int64_t n_in, n_out;
    int cls;
    ck_flp(flp_sampler_io_size(s, &n_in, &n_out, &cls));
    ck_assert_int_eq(n_in, GS * GS);
    ck_assert_int_eq(n_out, 5);
    ck_assert_int_eq(cls, 1);
    ck_flp(flp_sampler_set(s, FLP_FEWSHOT_QUERY_PER_CLASS, 3));
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    int cls_of[64], used[GA * GC] = {0}, unsorted = 0;
    for (int e = 0; e < 30; e++) {
        ck_flp(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep));
        check_episode(ep, 5, 5, 3, 1, cls_of);
        for (int j = 0; j < 5; j++) {
            require(cls_of[j] / GC < 2, "training episode drew class %d of alphabet A2", cls_of[j]);
            used[cls_of[j]]++;
        }
        fs_view fv = fs_view_of(ep);
        for (int r = 1; r < 25; r++)
            unsorted |= fv.lab[r] < fv.lab[r - 1];
        /* labels are a fresh mapping: label 0 is not always the same class */
    }
    ck_assert_msg(unsorted, "i.i.d. order never interleaved classes in 30 episodes");
    for (int c = 0; c < 2 * GC; c++)
        ck_assert_msg(used[c] > 0, "training class %d never drawn", c);
    /* evaluation: 4 classes of A2 only */
    ck_flp(flp_sampler_set(s, FLP_FEWSHOT_WAYS, 4));
    for (int e = 0; e < 5; e++) {
        ck_flp(flp_sampler_next(s, FLP_SPLIT_EVAL, ep));
        check_episode(ep, 4, 5, 3, 1, cls_of);
        for (int j = 0; j < 4; j++)
            require(cls_of[j] / GC == 2, "evaluation episode drew class %d", cls_of[j]);
    }
    flp_episode_free(ep);
    flp_sampler_free(s);
}
END_TEST

START_TEST(test_fewshot_continual_and_batch)
{
    flp_dataset *tr, *ev;
    flp_sampler *s = gen_sampler(3, &tr, &ev);
    ck_flp(flp_sampler_set(s, FLP_FEWSHOT_ORDER, FLP_ORDER_CONTINUAL));
    ck_flp(flp_sampler_set(s, FLP_FEWSHOT_SHOTS, 4));
    ck_flp(flp_sampler_set(s, FLP_FEWSHOT_BATCH, 2));
    ck_flp(flp_sampler_set(s, FLP_FEWSHOT_QUERY_PER_CLASS, 4));
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    int cls_of[64], first_class[8] = {0};
    for (int e = 0; e < 8; e++) {
        ck_flp(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep));
        check_episode(ep, 5, 4, 4, 2, cls_of);
        fs_view v = fs_view_of(ep);
        ck_assert_int_eq(v.steps, 10);
        for (int r = 0; r < 20; r++)
            require(v.lab[r] == r / 4, "continual row %d has label %d", r, v.lab[r]);
        first_class[e] = cls_of[0];
    }
    int varied = 0;
    for (int e = 1; e < 8; e++)
        varied |= first_class[e] != first_class[0];
    ck_assert_msg(varied, "label 0 was the same class in every episode");
    /* 5 x 4 = 20 examples cannot be cut into batches of 3 */
    ck_flp(flp_sampler_set(s, FLP_FEWSHOT_BATCH, 3));
    ck_flp_fails(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep), FLP_ERR_RANGE);
    ck_flp_message_has("FLP_FEWSHOT_BATCH");
    ck_flp(flp_sampler_set(s, FLP_FEWSHOT_BATCH, 20));
    ck_flp(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep));
    check_episode(ep, 5, 4, 4, 20, cls_of);
    flp_episode_free(ep);
    flp_sampler_free(s);
    flp_dataset_free(tr);
    flp_dataset_free(ev);
}
END_TEST

START_TEST(test_fewshot_settings_and_errors)
{
    flp_dataset *tr, *ev;
    flp_sampler *s = gen_sampler(5, &tr, &ev);
    double lo, hi;
    ck_flp(flp_sampler_bounds(s, FLP_FEWSHOT_WAYS, &lo, &hi));
    ck_assert_double_eq(lo, 1);
    ck_flp_fails(flp_sampler_bounds(s, 5, &lo, &hi), FLP_ERR_INVALID);
    ck_flp_fails(flp_sampler_set(s, FLP_FEWSHOT_WAYS, 0), FLP_ERR_RANGE);
    ck_flp_fails(flp_sampler_set(s, FLP_FEWSHOT_SHOTS, 2.5), FLP_ERR_RANGE);
    ck_flp_fails(flp_sampler_set(s, FLP_FEWSHOT_ORDER, 2), FLP_ERR_RANGE);
    ck_flp_fails(flp_sampler_set(s, 99, 1), FLP_ERR_INVALID);
    double v;
    ck_flp_fails(flp_sampler_get(s, -1, &v), FLP_ERR_INVALID);
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    /* too few examples: 8 drawers, 6 + 3 needed; names the class */
    ck_flp(flp_sampler_set(s, FLP_FEWSHOT_SHOTS, 6));
    ck_flp(flp_sampler_set(s, FLP_FEWSHOT_QUERY_PER_CLASS, 3));
    ck_flp_fails(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep), FLP_ERR_RANGE);
    ck_flp_message_has("A0/c00");
    ck_flp_message_has("has 8 examples");
    ck_flp(flp_sampler_set(s, FLP_FEWSHOT_SHOTS, 5));
    ck_flp(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep)); /* 5 + 3 = 8 fits exactly */
    /* more ways than classes: the evaluation split has 4 */
    ck_flp_fails(flp_sampler_next(s, FLP_SPLIT_EVAL, ep), FLP_ERR_RANGE);
    ck_flp_message_has("only 4 classes");
    /* no evaluation set */
    flp_sampler *t;
    ck_flp(flp_sampler_create_fewshot(tr, NULL, 1, &t));
    ck_flp_fails(flp_sampler_next(t, FLP_SPLIT_EVAL, ep), FLP_ERR_STATE);
    flp_sampler_free(t);
    /* image shapes must agree */
    flp_dataset *big;
    ck_flp(flp_dataset_open_omniglot(omni_root, 28, &big));
    t = (flp_sampler *)1;
    ck_flp_fails(flp_sampler_create_fewshot(tr, big, 1, &t), FLP_ERR_SHAPE);
    ck_assert_ptr_null(t);
    ck_flp_fails(flp_sampler_create_fewshot(NULL, big, 1, &t), FLP_ERR_NULL);
    ck_flp_fails(flp_sampler_create_fewshot(big, NULL, 1, NULL), FLP_ERR_NULL);
    flp_dataset_free(big);
    flp_episode_free(ep);
    flp_sampler_free(s);
    flp_dataset_free(tr);
    flp_dataset_free(ev);
}
END_TEST

static void expect_same_episode(const flp_episode *a, const flp_episode *b, int same)
{
    fs_view u = fs_view_of(a), v = fs_view_of(b);
    ck_assert_int_eq(u.steps, v.steps);
    int eq = memcmp(u.x, v.x, sizeof *u.x * (size_t)(u.steps * u.batch * u.n_in)) == 0 &&
             memcmp(u.lab, v.lab, sizeof *u.lab * (size_t)(u.steps * u.batch)) == 0 &&
             memcmp(u.xq, v.xq, sizeof *u.xq * (size_t)(u.n_query * u.n_in)) == 0 &&
             memcmp(u.lq, v.lq, sizeof *u.lq * (size_t)u.n_query) == 0;
    ck_assert_msg(eq == same, same ? "episodes differ" : "episodes are identical");
}

START_TEST(test_fewshot_determinism)
{
    flp_dataset *tr, *ev, *tr2, *ev2;
    flp_sampler *a = gen_sampler(42, &tr, &ev), *b = gen_sampler(42, &tr2, &ev2), *c;
    ck_flp(flp_sampler_create_fewshot(tr, ev, 43, &c));
    ck_flp(flp_sampler_set(c, FLP_FEWSHOT_QUERY_PER_CLASS, 3));
    flp_episode *ea, *eb, *ec;
    ck_flp(flp_episode_create(&ea));
    ck_flp(flp_episode_create(&eb));
    ck_flp(flp_episode_create(&ec));
    for (int e = 0; e < 4; e++) {
        ck_flp(flp_sampler_next(a, FLP_SPLIT_TRAIN, ea));
        ck_flp(flp_sampler_next(b, FLP_SPLIT_TRAIN, eb));
        ck_flp(flp_sampler_next(c, FLP_SPLIT_TRAIN, ec));
        expect_same_episode(ea, eb, 1);
        expect_same_episode(ea, ec, 0);
    }
    /* evaluation episodes do not shift the training stream */
    ck_flp(flp_sampler_set(a, FLP_FEWSHOT_WAYS, 3));
    ck_flp(flp_sampler_next(a, FLP_SPLIT_EVAL, ec));
    ck_flp(flp_sampler_set(a, FLP_FEWSHOT_WAYS, 5));
    ck_flp(flp_sampler_next(a, FLP_SPLIT_TRAIN, ea));
    ck_flp(flp_sampler_next(b, FLP_SPLIT_TRAIN, eb));
    expect_same_episode(ea, eb, 1);
    flp_episode_free(ea);
    flp_episode_free(eb);
    flp_episode_free(ec);
    flp_sampler_free(a);
    flp_sampler_free(b);
    flp_sampler_free(c);
    flp_dataset_free(tr);
    flp_dataset_free(ev);
    flp_dataset_free(tr2);
    flp_dataset_free(ev2);
}
END_TEST

static uint8_t *state_of(const flp_sampler *s, int64_t *n)
{
    *n = s->ops->state_size(s);
    uint8_t *buf = malloc((size_t)*n);
    s->ops->get_state(s, buf);
    return buf;
}

START_TEST(test_fewshot_state)
{
    flp_dataset *tr, *ev;
    flp_sampler *a = gen_sampler(8, &tr, &ev);
    ck_assert_str_eq(a->ops->kind, "fewshot");
    ck_flp(flp_sampler_set(a, FLP_FEWSHOT_ORDER, FLP_ORDER_CONTINUAL));
    ck_flp(flp_sampler_set(a, FLP_FEWSHOT_SHOTS, 3));
    ck_flp(flp_sampler_set(a, FLP_FEWSHOT_WAYS, 4));
    flp_episode *e1, *e2;
    ck_flp(flp_episode_create(&e1));
    ck_flp(flp_episode_create(&e2));
    for (int e = 0; e < 3; e++) {
        ck_flp(flp_sampler_next(a, FLP_SPLIT_TRAIN, e1));
        ck_flp(flp_sampler_next(a, FLP_SPLIT_EVAL, e1));
    }
    int64_t n;
    uint8_t *st = state_of(a, &n);
    ck_assert_int_eq(n, 136);
    ck_flp(flp_sampler_next(a, FLP_SPLIT_TRAIN, e1));
    /* a fresh sampler over the same data, default settings, other seed */
    flp_sampler *b;
    ck_flp(flp_sampler_create_fewshot(tr, ev, 999, &b));
    ck_flp(b->ops->set_state(b, st, n));
    double v;
    ck_flp(flp_sampler_get(b, FLP_FEWSHOT_SHOTS, &v));
    ck_assert_double_eq(v, 3);
    ck_flp(flp_sampler_next(b, FLP_SPLIT_TRAIN, e2));
    expect_same_episode(e1, e2, 1);
    ck_flp(flp_sampler_next(a, FLP_SPLIT_EVAL, e1));
    ck_flp(flp_sampler_next(b, FLP_SPLIT_EVAL, e2));
    expect_same_episode(e1, e2, 1);
    /* over other data (train and eval swapped): refused, sampler untouched */
    flp_sampler *c;
    ck_flp(flp_sampler_create_fewshot(ev, tr, 8, &c));
    ck_flp_fails(c->ops->set_state(c, st, n), FLP_ERR_VERSION);
    ck_flp(flp_sampler_get(c, FLP_FEWSHOT_SHOTS, &v));
    ck_assert_double_eq(v, 5);
    /* damaged records */
    ck_flp_fails(b->ops->set_state(b, st, n - 1), FLP_ERR_FORMAT);
    ck_flp_fails(b->ops->set_state(b, NULL, n), FLP_ERR_NULL);
    uint8_t *bad = malloc((size_t)n);
    memcpy(bad, st, (size_t)n);
    bad[0] = 'X';
    ck_flp_fails(b->ops->set_state(b, bad, n), FLP_ERR_FORMAT);
    memcpy(bad, st, (size_t)n);
    bad[4] = 9;
    ck_flp_fails(b->ops->set_state(b, bad, n), FLP_ERR_VERSION);
    memcpy(bad, st, (size_t)n);
    memset(bad + 16, 0, 8); /* WAYS = 0 */
    ck_flp_fails(b->ops->set_state(b, bad, n), FLP_ERR_FORMAT);
    memcpy(bad, st, (size_t)n);
    memset(bad + 56, 0, 32); /* training generator all zero */
    ck_flp_fails(b->ops->set_state(b, bad, n), FLP_ERR_FORMAT);
    free(bad);
    free(st);
    flp_episode_free(e1);
    flp_episode_free(e2);
    flp_sampler_free(a);
    flp_sampler_free(b);
    flp_sampler_free(c);
    flp_dataset_free(tr);
    flp_dataset_free(ev);
}
END_TEST

/* Through a checkpoint file: the sampler section carries the few-shot state. */
START_TEST(test_fewshot_checkpoint)
{
    flp_dataset *tr, *ev;
    flp_sampler *a = gen_sampler(77, &tr, &ev), *b;
    ck_flp(flp_sampler_set(a, FLP_FEWSHOT_WAYS, 3));
    int64_t in = GS * GS;
    flp_net *net;
    flp_rng *rng;
    flp_meta *meta;
    ck_flp(flp_rng_create(1, &rng));
    ck_flp(flp_net_create(1, &in, &net));
    ck_flp(flp_net_add_linear(net, 3, 1));
    ck_flp(flp_net_init(net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_meta_create(net, NULL, NULL, &meta));
    flp_episode *e1, *e2;
    ck_flp(flp_episode_create(&e1));
    ck_flp(flp_episode_create(&e2));
    ck_flp(flp_sampler_next(a, FLP_SPLIT_TRAIN, e1));
    ck_flp(flp_checkpoint_save(tpath("fs.ckpt"), meta, a));
    ck_flp(flp_sampler_next(a, FLP_SPLIT_TRAIN, e1));
    ck_flp(flp_sampler_create_fewshot(tr, ev, 1, &b));
    ck_flp(flp_checkpoint_load(tpath("fs.ckpt"), meta, b));
    ck_flp(flp_sampler_next(b, FLP_SPLIT_TRAIN, e2));
    expect_same_episode(e1, e2, 1);
    /* a sine sampler cannot take it */
    flp_sampler *sine;
    ck_flp(flp_sampler_create_sine(1, &sine));
    ck_assert_int_ne(flp_checkpoint_load(tpath("fs.ckpt"), meta, sine), FLP_OK);
    flp_sampler_free(sine);
    flp_episode_free(e1);
    flp_episode_free(e2);
    flp_meta_free(meta);
    flp_net_free(net);
    flp_rng_free(rng);
    flp_sampler_free(a);
    flp_sampler_free(b);
    flp_dataset_free(tr);
    flp_dataset_free(ev);
}
END_TEST

/* A loaded few-shot state must fit the training data as flp_sampler_next
 * requires: settings that do not (here a batch that does not divide the
 * examples shown) are refused as a file, and the sampler keeps its own. */
START_TEST(test_fewshot_checkpoint_must_go_on)
{
    flp_dataset *tr, *ev;
    flp_sampler *a = gen_sampler(77, &tr, &ev), *b;
    ck_flp(flp_sampler_set(a, FLP_FEWSHOT_BATCH, 3)); /* 5 x 5 shown */
    int64_t in = GS * GS;
    flp_net *net;
    flp_meta *meta;
    ck_flp(flp_net_create(1, &in, &net));
    ck_flp(flp_net_add_linear(net, 5, 1));
    ck_flp(flp_meta_create(net, NULL, NULL, &meta));
    ck_flp(flp_checkpoint_save(tpath("fs3.ckpt"), meta, a));
    ck_flp(flp_sampler_create_fewshot(tr, ev, 1, &b));
    ck_flp_fails(flp_checkpoint_load(tpath("fs3.ckpt"), meta, b), FLP_ERR_FORMAT);
    ck_flp_message_has("few-shot sampler state: FLP_FEWSHOT_BATCH = 3 does not divide the 25");
    double v;
    ck_flp(flp_sampler_get(b, FLP_FEWSHOT_BATCH, &v));
    ck_assert_double_eq(v, 1);
    flp_meta_free(meta);
    flp_net_free(net);
    flp_sampler_free(a);
    flp_sampler_free(b);
    flp_dataset_free(tr);
    flp_dataset_free(ev);
}
END_TEST

/* An unreadable image fails the episode naming the file and leaves the
 * stream where it was: once the file is repaired, the next episode is the
 * one a sampler that never failed draws. */
START_TEST(test_fewshot_bad_image)
{
    flp_dataset *tr, *ev, *tr2, *ev2;
    flp_sampler *a = gen_sampler(21, &tr, &ev), *b = gen_sampler(21, &tr2, &ev2);
    flp_episode *e1, *e2;
    ck_flp(flp_episode_create(&e1));
    ck_flp(flp_episode_create(&e2));
    ck_flp(flp_sampler_next(b, FLP_SPLIT_TRAIN, e2));
    /* break every drawer 0..7 of the classes that episode uses, in turn: damage
     * all images of the first class it shows */
    fs_view v = fs_view_of(e2);
    int c, d;
    trace(v.x, &c, &d);
    char paths[GD][4096];
    for (int k = 0; k < GD; k++) {
        omni_file(paths[k], sizeof paths[k], omni_root, c / GC, c % GC, k);
        write_text(paths[k], "broken");
    }
    ck_flp_fails(flp_sampler_next(a, FLP_SPLIT_TRAIN, e1), FLP_ERR_FORMAT);
    ck_flp_message_has("flp_sampler_next");
    ck_flp_message_has(omni_root);
    for (int k = 0; k < GD; k++)
        write_omni_image(paths[k], c, k);
    ck_flp(flp_sampler_next(a, FLP_SPLIT_TRAIN, e1));
    expect_same_episode(e1, e2, 1);
    flp_episode_free(e1);
    flp_episode_free(e2);
    flp_sampler_free(a);
    flp_sampler_free(b);
    flp_dataset_free(tr);
    flp_dataset_free(ev);
    flp_dataset_free(tr2);
    flp_dataset_free(ev2);
}
END_TEST

/* ======================================================================
 * Real Omniglot: images_background_small1 from the shared folder
 * ====================================================================== */

static char real_root[4096];
static char real_tmp[4096];

static void real_setup(void)
{
    real_root[0] = '\0';
    const char *zip = tu_shared_path("data/omniglot/images_background_small1.zip");
    if (zip == NULL || system("command -v unzip >/dev/null 2>&1") != 0)
        return;
    tu_make_scratch(real_tmp, sizeof real_tmp, "data");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "unzip -q '%s' -d '%s'", zip, real_tmp);
    if (system(cmd) == 0)
        snprintf(real_root, sizeof real_root, "%s/images_background_small1", real_tmp);
}

static void real_teardown(void)
{
    if (real_tmp[0])
        tu_remove_tree(real_tmp);
}

static int have_real(void)
{
    if (real_root[0] == '\0') {
        fprintf(stderr, "SKIP: real Omniglot test: data/omniglot/images_background_small1.zip not "
                        "found under FLP_SHARED_DIR, or no 'unzip' program\n");
        return 0;
    }
    return 1;
}

START_TEST(test_real_omniglot)
{
    if (!have_real())
        return;
    flp_dataset *ds;
    ck_flp(flp_dataset_open_omniglot(real_root, 28, &ds));
    int64_t n;
    ck_flp(flp_dataset_num_classes(ds, &n));
    ck_assert_int_eq(n, 136);
    ck_flp(flp_dataset_num_alphabets(ds, &n));
    ck_assert_int_eq(n, 5);
    const char *name;
    ck_flp(flp_dataset_class_name(ds, 0, &name));
    ck_assert_str_eq(name, "Balinese/character01");
    ck_flp(flp_dataset_preload(ds)); /* every one of the 2720 PNGs decodes */
    float img[28 * 28];
    double ink = 0;
    int64_t total = 0;
    for (int64_t c = 0; c < 136; c++) {
        ck_flp(flp_dataset_class_size(ds, c, &n));
        ck_assert_int_eq(n, 20);
        for (int64_t i = 0; i < 20; i++) {
            ck_flp(flp_dataset_get(ds, c, i, img, 28 * 28));
            float mx = 0;
            for (int p = 0; p < 28 * 28; p++) {
                require(img[p] >= 0 && img[p] <= 1, "class %lld image %lld: %g", (long long)c,
                        (long long)i, img[p]);
                ink += img[p];
                mx = fmaxf(mx, img[p]);
            }
            require(mx > 0.5f, "class %lld image %lld has no stroke", (long long)c, (long long)i);
            total += 28 * 28;
        }
    }
    ink /= (double)total;
    ck_assert_msg(ink > 0.02 && ink < 0.4, "mean ink %g: strokes should be 1 on a 0 background", ink);

    /* at 84 every 3x3 block covers the same 3.75-pixel box of the 105x105
     * original as one pixel at 28: block means agree up to 8-bit rounding */
    flp_dataset *big;
    ck_flp(flp_dataset_open_omniglot(real_root, 84, &big));
    float *img84 = malloc(sizeof *img84 * 84 * 84);
    const int64_t picks[][2] = {{0, 0}, {57, 13}, {135, 19}};
    for (size_t k = 0; k < 3; k++) {
        ck_flp(flp_dataset_get(ds, picks[k][0], picks[k][1], img, 28 * 28));
        ck_flp(flp_dataset_get(big, picks[k][0], picks[k][1], img84, 84 * 84));
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) {
                double m = 0;
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 3; j++)
                        m += img84[(3 * y + i) * 84 + 3 * x + j] / 9.0;
                require(fabs(m - img[y * 28 + x]) < 1.01 / 255, "(%d,%d): %g vs %g", y, x, m,
                        img[y * 28 + x]);
            }
    }
    free(img84);
    flp_dataset_free(big);

    /* meta-train on three alphabets, evaluate on the other two */
    flp_dataset *tr, *ev;
    ck_flp(flp_dataset_split_by_alphabet(ds, 3, &tr, &ev));
    int64_t nt, ne;
    ck_flp(flp_dataset_num_classes(tr, &nt));
    ck_flp(flp_dataset_num_classes(ev, &ne));
    ck_assert_int_eq(nt + ne, 136);
    for (int64_t c = 0; c < ne; c++) {
        ck_flp(flp_dataset_class_name(ev, c, &name));
        ck_assert_msg(strncmp(name, "Korean/", 7) == 0 || strncmp(name, "Latin/", 6) == 0,
                      "evaluation class %s", name);
    }
    flp_sampler *s;
    ck_flp(flp_sampler_create_fewshot(tr, ev, 1, &s));
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    for (int split = 0; split < 2; split++) {
        ck_flp(flp_sampler_next(s, (flp_split)split, ep));
        fs_view v = fs_view_of(ep);
        ck_assert_int_eq(v.n_in, 28 * 28);
        ck_assert_int_eq(v.steps, 25);
        ck_assert_int_eq(v.n_query, 25);
        /* the query drawings are none of the ones shown */
        for (int q = 0; q < 25; q++)
            for (int r = 0; r < 25; r++)
                require(memcmp(v.xq + q * 784, v.x + r * 784, 784 * sizeof(float)) != 0,
                        "query %d equals shown example %d", q, r);
    }
    flp_episode_free(ep);
    flp_sampler_free(s);
    flp_dataset_free(tr);
    flp_dataset_free(ev);
    flp_dataset_free(ds);
}
END_TEST

Suite *make_data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *img = tcase_create("images");
    tcase_add_checked_fixture(img, tmp_setup, tmp_teardown);
    tcase_add_test(img, test_png_formats);
    tcase_add_test(img, test_png_corrupt);
    tcase_add_test(img, test_jpeg_roundtrip);
    tcase_add_test(img, test_jpeg_corrupt);
    tcase_add_test(img, test_resize_constant);
    tcase_add_test(img, test_resize_area_blocks);
    tcase_add_test(img, test_resize_bilinear_ramp);
    tcase_add_test(img, test_csv_good);
    tcase_add_test(img, test_csv_errors);
    suite_add_tcase(s, img);

    TCase *omni = tcase_create("omniglot");
    tcase_add_checked_fixture(omni, omni_setup, tmp_teardown);
    tcase_add_test(omni, test_omniglot_generated);
    tcase_add_test(omni, test_omniglot_resized);
    tcase_add_test(omni, test_omniglot_errors);
    tcase_add_test(omni, test_views);
    tcase_add_test(omni, test_omniglot_nomem);
    suite_add_tcase(s, omni);

    TCase *mini = tcase_create("miniimagenet");
    tcase_add_checked_fixture(mini, mini_setup, tmp_teardown);
    tcase_add_test(mini, test_mini_open);
    tcase_add_test(mini, test_mini_errors);
    tcase_add_test(mini, test_mini_nomem);
    suite_add_tcase(s, mini);

    TCase *fs = tcase_create("fewshot");
    tcase_add_checked_fixture(fs, omni_setup, tmp_teardown);
    tcase_add_test(fs, test_fewshot_episodes);
    tcase_add_test(fs, test_fewshot_continual_and_batch);
    tcase_add_test(fs, test_fewshot_settings_and_errors);
    tcase_add_test(fs, test_fewshot_determinism);
    tcase_add_test(fs, test_fewshot_state);
    tcase_add_test(fs, test_fewshot_checkpoint);
    tcase_add_test(fs, test_fewshot_checkpoint_must_go_on);
    tcase_add_test(fs, test_fewshot_bad_image);
    suite_add_tcase(s, fs);

    TCase *real = tcase_create("omniglot-real");
    tcase_set_timeout(real, 120);
    tcase_add_unchecked_fixture(real, real_setup, real_teardown);
    tcase_add_test(real, test_real_omniglot);
    suite_add_tcase(s, real);
    return s;
}
