/* check_limits.c - every reader bounds memory and time by what a file
 * declares, before allocating (FLP_LIMIT_*, doc/RELIABILITY.md "Resource
 * limits"), and reads only regular files, never waiting on a FIFO.
 *
 * The "bombs" are small files declaring huge images: each must be refused
 * with FLP_ERR_RANGE naming the limit, before libflp allocates anything
 * (an injected allocation failure is never reached) and with the process's
 * peak memory growing by less than 64 MB (before the limits, each cost
 * 3 GB or more). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "data/idx.h"
#include "data/image.h"
#include "testimage.h"
#include "testfile.h"
#include "testutil.h"

static void dir_setup(void) { tu_scratch_begin("limits"); }

typedef flp_status (*image_reader)(const char *path, int channels, float **out, int64_t *h, int64_t *w);

/* `path` is refused as beyond FLP_LIMIT_IMAGE_PIXELS, naming `dims`,
 * before any allocation of libflp's and within 64 MB of peak memory. */
static void expect_bomb_refused(image_reader read, const char *path, const char *dims)
{
    long before = tu_peak_rss_kb();
    for (int channels = 1; channels <= 3; channels += 2) {
        float *img = (float *)1;
        int64_t h, w;
        flp__alloc_fail_after(1); /* an allocation before the check would fail as ERR_NOMEM */
        ck_flp_fails(read(path, channels, &img, &h, &w), FLP_ERR_RANGE);
        flp__alloc_fail_after(0);
        ck_assert_ptr_null(img);
        ck_flp_message_has(path);
        ck_flp_message_has(dims);
        ck_flp_message_has("the limit FLP_LIMIT_IMAGE_PIXELS = 16777216 pixels");
        ck_flp_message_has("flp_set_limit(FLP_LIMIT_IMAGE_PIXELS, n)");
    }
    long grew_mb = (tu_peak_rss_kb() - before) / 1024;
    ck_assert_msg(grew_mb < 64, "refusing %s raised the peak memory by %ld MB", path, grew_mb);
}

/* ======================================================================
 * Images
 * ====================================================================== */

/* A valid PNG of 4097 x 4096 zeros (17 KB): one pixel row over the
 * default limit. */
START_TEST(test_png_bomb)
{
    const char *bomb = tu_scratch("bomb.png");
    tu_write_blank_png(bomb, 4097, 4096);
    expect_bomb_refused(flp__png_read, bomb, "4097x4096 = 16781312 pixels");
}
END_TEST

/* The limit is inclusive, read at every call, and can be raised. */
START_TEST(test_image_limit_boundary)
{
    uint8_t px[100 * 101];
    memset(px, 77, sizeof px);
    tu_write_gray_png(tu_scratch("100x100.png"), 100, 100, px);
    tu_write_gray_png(tu_scratch("101x100.png"), 101, 100, px);
    tu_write_jpeg(tu_scratch("100x100.jpg"), 100, 100, 1, px, 90, TU_JPEG_BASELINE);
    tu_write_jpeg(tu_scratch("101x100.jpg"), 101, 100, 1, px, 90, TU_JPEG_BASELINE);
    ck_flp(flp_set_limit(FLP_LIMIT_IMAGE_PIXELS, 100 * 100));
    static const char *const names[2][2] = {{"100x100.png", "101x100.png"}, {"100x100.jpg", "101x100.jpg"}};
    for (int k = 0; k < 2; k++) {
        image_reader read = k == 0 ? flp__png_read : flp__jpeg_read;
        float *img;
        int64_t h, w;
        ck_flp(read(tu_scratch(names[k][0]), 1, &img, &h, &w));
        ck_assert(h == 100 && w == 100);
        flp__free(img);
        ck_flp_fails(read(tu_scratch(names[k][1]), 1, &img, &h, &w), FLP_ERR_RANGE);
        ck_flp_message_has("101x100 = 10100 pixels, more than the limit FLP_LIMIT_IMAGE_PIXELS = 10000");
    }
    ck_flp(flp_set_limit(FLP_LIMIT_IMAGE_PIXELS, 101 * 100));
    for (int k = 0; k < 2; k++) {
        float *img;
        int64_t h, w;
        ck_flp((k == 0 ? flp__png_read : flp__jpeg_read)(tu_scratch(names[k][1]), 3, &img, &h, &w));
        ck_assert(h == 100 && w == 101);
        flp__free(img);
    }
    ck_flp(flp_set_limit(FLP_LIMIT_IMAGE_PIXELS, (int64_t)1 << 24));
}
END_TEST

/* JPEG headers declaring 65000 x 65000 pixels over a few bytes of data:
 * libjpeg would allocate (and for progressive coding, clear) the whole
 * coefficient array before noticing the missing data. */
START_TEST(test_jpeg_bombs)
{
    static const char *const names[] = {"baseline.jpg", "progressive.jpg"};
    static const int sof[] = {0xC0, 0xC2};
    uint8_t px[16 * 16];
    for (int i = 0; i < 16 * 16; i++)
        px[i] = (uint8_t)(i * 7);
    for (int coding = TU_JPEG_BASELINE; coding <= TU_JPEG_PROGRESSIVE; coding++) {
        const char *path = tu_scratch(names[coding]);
        tu_write_jpeg(path, 16, 16, 1, px, 90, (tu_jpeg_coding)coding);
        float *img;
        int64_t h, w;
        ck_flp(flp__jpeg_read(path, 1, &img, &h, &w)); /* valid as written */
        ck_assert(h == 16 && w == 16);
        flp__free(img);
        size_t n;
        uint8_t *bytes = tu_read_file(path, &n);
        ck_assert_int_eq(tu_jpeg_set_size(bytes, n, 65000, 65000), sof[coding]);
        tu_write_file(path, bytes, n);
        free(bytes);
        expect_bomb_refused(flp__jpeg_read, path, "65000x65000 = 4225000000 pixels");
    }
}
END_TEST

/* Arithmetic-coded data cut short at a marker decodes as zeros without a
 * warning (a file missing three quarters of its data was read as a valid
 * image, after 20 s and 3.9 GB for one declaring 2^28 pixels): such files
 * are refused, at the header, whatever their size. */
START_TEST(test_jpeg_arithmetic_refused)
{
    uint8_t px[32 * 32];
    for (int i = 0; i < 32 * 32; i++)
        px[i] = (uint8_t)((i * 2654435761u) >> 24);
    const char *path = tu_scratch("arithmetic.jpg");
    tu_write_jpeg(path, 32, 32, 1, px, 90, TU_JPEG_ARITHMETIC);
    size_t n;
    uint8_t *bytes = tu_read_file(path, &n);
    ck_assert_int_eq(tu_jpeg_set_size(bytes, n, 32, 32), 0xC9);
    /* the same with three quarters of the scan gone, and an end marker */
    size_t sos = 2;
    while (!(bytes[sos] == 0xFF && bytes[sos + 1] == 0xDA))
        sos++;
    size_t data = sos + 2 + ((size_t)bytes[sos + 2] << 8 | bytes[sos + 3]);
    size_t cut = data + (n - 2 - data) / 4;
    bytes[cut] = 0xFF, bytes[cut + 1] = 0xD9;
    tu_write_file(tu_scratch("cut.jpg"), bytes, cut + 2);
    free(bytes);
    static const char *const files[] = {"arithmetic.jpg", "cut.jpg"};
    for (int k = 0; k < 2; k++) {
        float *img;
        int64_t h, w;
        flp__alloc_fail_after(1);
        ck_flp_fails(flp__jpeg_read(tu_scratch(files[k]), 3, &img, &h, &w), FLP_ERR_UNSUPPORTED);
        flp__alloc_fail_after(0);
        ck_flp_message_has(files[k]);
        ck_flp_message_has("is an arithmetic-coded JPEG");
    }
}
END_TEST

/* Each scan of a progressive JPEG is a pass over the whole image: a small
 * file of thousands of scans costs minutes. 64 scans are read, 694 (one
 * per coefficient and bit, valid but absurd) refused. */
START_TEST(test_jpeg_scans)
{
    uint8_t px[32 * 32];
    for (int i = 0; i < 32 * 32; i++)
        px[i] = (uint8_t)((i * 2654435761u) >> 24);
    tu_write_jpeg(tu_scratch("64.jpg"), 32, 32, 1, px, 90, TU_JPEG_SCANS_64);
    tu_write_jpeg(tu_scratch("694.jpg"), 32, 32, 1, px, 90, TU_JPEG_SCANS_694);
    float *img;
    int64_t h, w;
    ck_flp(flp__jpeg_read(tu_scratch("64.jpg"), 1, &img, &h, &w));
    flp__free(img);
    ck_flp_fails(flp__jpeg_read(tu_scratch("694.jpg"), 1, &img, &h, &w), FLP_ERR_FORMAT);
    ck_flp_message_has("694.jpg");
    ck_flp_message_has("more than 500 scans");
}
END_TEST

/* ======================================================================
 * The split CSV files
 * ====================================================================== */

START_TEST(test_csv_limit)
{
    char text[80];
    int n = snprintf(text, sizeof text, "filename,label\n");
    for (int r = 0; r < 5; r++)
        n += snprintf(text + n, sizeof text - (size_t)n, "%02d.jpg,x\n", r);
    n += snprintf(text + n, sizeof text - (size_t)n, "z,xy");
    ck_assert_int_eq(n, 64);
    tu_write_file(tu_scratch("64.csv"), text, 64);
    ck_flp(flp_set_limit(FLP_LIMIT_CSV_BYTES, 64));
    flp__csv csv;
    ck_flp(flp__csv_read(tu_scratch("64.csv"), &csv));
    ck_assert_int_eq(csv.n, 6);
    flp__csv_free(&csv);
    ck_flp(flp_set_limit(FLP_LIMIT_CSV_BYTES, 63));
    ck_flp_fails(flp__csv_read(tu_scratch("64.csv"), &csv), FLP_ERR_RANGE);
    ck_flp_message_has("64.csv' holds 64 bytes, more than the limit FLP_LIMIT_CSV_BYTES = 63 bytes");
    ck_flp_message_has("environment variable FLP_LIMIT_CSV_BYTES");
    ck_flp(flp_set_limit(FLP_LIMIT_CSV_BYTES, (int64_t)1 << 26));
}
END_TEST

/* ======================================================================
 * Files that are not regular files
 * ====================================================================== */

/* Each reader refuses `path` as `kind`, at once (a FIFO without a writer
 * would block an open for reading forever: the suite's timeout fails it). */
static void expect_not_regular(const char *path, const char *kind)
{
    flp__csv csv;
    ck_flp_fails(flp__csv_read(path, &csv), FLP_ERR_IO);
    ck_flp_message_has(kind);
    ck_flp_message_has("not a regular file");
    flp__idx idx;
    ck_flp_fails(flp__idx_read(path, &idx), FLP_ERR_IO);
    ck_flp_message_has(kind);
    float *img;
    int64_t h, w;
    ck_flp_fails(flp__png_read(path, 1, &img, &h, &w), FLP_ERR_IO);
    ck_flp_message_has(kind);
    ck_flp_fails(flp__jpeg_read(path, 1, &img, &h, &w), FLP_ERR_IO);
    ck_flp_message_has(kind);
    ck_flp_message_has(path);
}

START_TEST(test_special_files)
{
    const char *fifo = tu_scratch("fifo");
    ck_assert_msg(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    expect_not_regular(fifo, "is a FIFO (named pipe)");
    expect_not_regular(tu_scratch_dir(), "is a directory");
    if (access("/dev/zero", R_OK) == 0) /* /dev/zero as a CSV used to fill memory */
        expect_not_regular("/dev/zero", "is a character device");
}
END_TEST

Suite *make_limits_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, dir_setup, tu_scratch_end);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_png_bomb);
    tcase_add_test(tc, test_image_limit_boundary);
    tcase_add_test(tc, test_jpeg_bombs);
    tcase_add_test(tc, test_jpeg_arithmetic_refused);
    tcase_add_test(tc, test_jpeg_scans);
    tcase_add_test(tc, test_csv_limit);
    tcase_add_test(tc, test_special_files);
    suite_add_tcase(s, tc);
    return s;
}
