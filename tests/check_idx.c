/* check_idx.c - the IDX reader and flp_dataset_open_idx on small files
 * written to a temporary folder, raw and gzip, good and broken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/idx.h"
#include "testutil.h"

static char dir[256];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/flp_idx_XXXXXX");
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp failed");
}

static void remove_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* An IDX file in memory: magic, big-endian extents, then `count` bytes
 * from `values` (cut or padded by `delta` bytes). */
static size_t idx_bytes(uint8_t *buf, int type, int rank, const uint32_t *dims, const uint8_t *values,
                        int64_t delta)
{
    size_t at = 0, count = 1;
    buf[at++] = 0, buf[at++] = 0, buf[at++] = (uint8_t)type, buf[at++] = (uint8_t)rank;
    for (int d = 0; d < rank; d++) {
        for (int b = 3; b >= 0; b--)
            buf[at++] = (uint8_t)(dims[d] >> (8 * b));
        count *= dims[d];
    }
    memcpy(buf + at, values, count);
    return at + (size_t)((int64_t)count + delta);
}

static void write_file(const char *name, const uint8_t *buf, size_t n, int gz)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, gz ? ".gz" : "");
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_msg(f != NULL, "gzopen %s", path);
        ck_assert_int_eq(gzwrite(f, buf, (unsigned)n), (int)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_msg(f != NULL, "fopen %s", path);
        ck_assert_int_eq(fwrite(buf, 1, n, f), n);
        fclose(f);
    }
}

/* A split of n 4x4 images whose pixels are (i * 16 + p) mod 256 and labels
 * i mod 3 (+ 2, so that the classes are 2, 3, 4). */
enum { N_IMG = 12, SIDE = 4 };
static uint8_t pixels[N_IMG * SIDE * SIDE], labels[N_IMG];

static void write_split(const char *split, int gz, int n_labels)
{
    static uint8_t buf[4096];
    for (int i = 0; i < N_IMG; i++) {
        labels[i] = (uint8_t)(i % 3 + 2);
        for (int p = 0; p < SIDE * SIDE; p++)
            pixels[i * SIDE * SIDE + p] = (uint8_t)((i * 16 + p) % 256);
    }
    char name[64];
    uint32_t idims[3] = {N_IMG, SIDE, SIDE}, ldims[1] = {(uint32_t)n_labels};
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", split);
    write_file(name, buf, idx_bytes(buf, 8, 3, idims, pixels, 0), gz);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", split);
    write_file(name, buf, idx_bytes(buf, 8, 1, ldims, labels, 0), gz);
}

static void check_split(void)
{
    flp_dataset *ds;
    ck_flp(flp_dataset_open_idx(dir, "train", &ds));
    int64_t n, size, ch, h, w;
    ck_flp(flp_dataset_num_classes(ds, &n));
    ck_assert_int_eq(n, 3);
    ck_flp(flp_dataset_image_shape(ds, &ch, &h, &w));
    ck_assert(ch == 1 && h == SIDE && w == SIDE);
    const char *name;
    ck_flp(flp_dataset_class_name(ds, 1, &name));
    ck_assert_str_eq(name, "3");
    ck_flp(flp_dataset_class_size(ds, 1, &size));
    ck_assert_int_eq(size, N_IMG / 3);
    /* example 2 of class "3" is image 7 of the file */
    float img[SIDE * SIDE];
    ck_flp(flp_dataset_get(ds, 1, 2, img, SIDE * SIDE));
    for (int p = 0; p < SIDE * SIDE; p++)
        ck_assert_float_eq_tol(img[p], pixels[7 * SIDE * SIDE + p] / 255.0f, 1e-7);
    const char *path;
    ck_flp(flp_dataset_example_path(ds, 1, 2, &path));
    ck_assert_msg(strstr(path, "train-images-idx3-ubyte") && strstr(path, "#7"), "example path %s", path);
    flp_dataset_free(ds);
}

START_TEST(test_open_raw_and_gz)
{
    make_dir();
    write_split("train", _i, N_IMG);
    check_split();
    remove_dir();
}
END_TEST

/* The paper's episodes come from the existing few-shot sampler. */
START_TEST(test_fewshot_episodes)
{
    make_dir();
    write_split("train", 1, N_IMG);
    flp_dataset *ds;
    ck_flp(flp_dataset_open_idx(dir, "train", &ds));
    flp_sampler *smp;
    ck_flp(flp_sampler_create_fewshot(ds, ds, 1, &smp));
    ck_flp(flp_sampler_set(smp, FLP_FEWSHOT_WAYS, 3));
    ck_flp(flp_sampler_set(smp, FLP_FEWSHOT_SHOTS, 2));
    ck_flp(flp_sampler_set(smp, FLP_FEWSHOT_QUERY_PER_CLASS, 2));
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    ck_flp(flp_sampler_next(smp, FLP_SPLIT_TRAIN, ep));
    int64_t K, batch, n_in, n_out, Q;
    int cls;
    ck_flp(flp_episode_shape(ep, &K, &batch, &n_in, &n_out, &Q, &cls));
    ck_assert(K == 6 && batch == 1 && n_in == SIDE * SIDE && n_out == 3 && Q == 6 && cls == 1);
    flp_episode_free(ep);
    flp_sampler_free(smp);
    flp_dataset_free(ds);
    remove_dir();
}
END_TEST

static void expect_open_fails(flp_status st, const char *needle)
{
    flp_dataset *ds = (flp_dataset *)1;
    ck_flp_fails(flp_dataset_open_idx(dir, "train", &ds), st);
    ck_assert_msg(ds == NULL, "*out must be NULL on failure");
    ck_assert_msg(strstr(flp_last_error(), needle) != NULL, "message should name %s: %s", needle, flp_last_error());
}

START_TEST(test_bad_files)
{
    static uint8_t buf[4096];
    uint32_t idims[3] = {N_IMG, SIDE, SIDE};
    make_dir();
    expect_open_fails(FLP_ERR_IO, "train-images-idx3-ubyte");
    /* label count differs from image count */
    write_split("train", 0, N_IMG - 1);
    expect_open_fails(FLP_ERR_FORMAT, "train-labels-idx1-ubyte");
    remove_dir();
    make_dir();
    /* truncated images, raw and gzip */
    for (int gz = 0; gz < 2; gz++) {
        write_split("train", gz, N_IMG);
        write_file("train-images-idx3-ubyte", buf, idx_bytes(buf, 8, 3, idims, pixels, -5), gz);
        expect_open_fails(FLP_ERR_FORMAT, "truncated");
        remove_dir();
        make_dir();
    }
    /* wrong magic */
    write_split("train", 0, N_IMG);
    size_t n = idx_bytes(buf, 8, 3, idims, pixels, 0);
    buf[0] = 0x42;
    write_file("train-images-idx3-ubyte", buf, n, 0);
    expect_open_fails(FLP_ERR_FORMAT, "magic");
    /* float values */
    n = idx_bytes(buf, 0x0d, 3, idims, pixels, 0);
    write_file("train-images-idx3-ubyte", buf, n, 0);
    expect_open_fails(FLP_ERR_UNSUPPORTED, "0x0d");
    /* images and labels swapped */
    uint32_t ldims[1] = {N_IMG};
    write_file("train-images-idx3-ubyte", buf, idx_bytes(buf, 8, 1, ldims, labels, 0), 0);
    expect_open_fails(FLP_ERR_FORMAT, "rank");
    flp_dataset *ds;
    ck_flp_fails(flp_dataset_open_idx(dir, "test", &ds), FLP_ERR_INVALID);
    ck_flp_fails(flp_dataset_open_idx(NULL, "train", &ds), FLP_ERR_NULL);
    remove_dir();
}
END_TEST

/* The memory parser never reads past its buffer: every prefix of a valid
 * file (raw and gzip) is refused cleanly, the whole file accepted. */
START_TEST(test_parse_prefixes)
{
    static uint8_t raw[256], gz[512];
    uint32_t dims[2] = {3, 5};
    uint8_t v[15];
    for (int i = 0; i < 15; i++)
        v[i] = (uint8_t)(i * 17);
    size_t n = idx_bytes(raw, 8, 2, dims, v, 0);
    uLongf gz_n = sizeof gz;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = raw, zs.avail_in = (uInt)n, zs.next_out = gz, zs.avail_out = (uInt)gz_n;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    gz_n = zs.total_out;
    deflateEnd(&zs);
    const uint8_t *bufs[2] = {raw, gz};
    size_t sizes[2] = {n, gz_n};
    for (int b = 0; b < 2; b++) {
        for (size_t len = 0; len < sizes[b]; len++) {
            uint8_t *copy = malloc(len > 0 ? len : 1); /* exact size: ASan sees any overread */
            memcpy(copy, bufs[b], len);
            flp__idx idx;
            flp_clear_error();
            flp_status st = flp__idx_parse(copy, len, "prefix", &idx);
            ck_assert_msg(st == FLP_ERR_FORMAT, "%s prefix of %zu bytes -> %s", b ? "gzip" : "raw", len,
                          flp_status_name(st));
            ck_assert_msg(idx.values == NULL && strstr(flp_last_error(), "prefix"), "%s", flp_last_error());
            free(copy);
        }
        flp__idx idx;
        ck_flp(flp__idx_parse(bufs[b], sizes[b], "whole", &idx));
        ck_assert(idx.rank == 2 && idx.dims[0] == 3 && idx.dims[1] == 5 && idx.count == 15);
        ck_assert_int_eq(memcmp(idx.values, v, 15), 0);
        flp__idx_free(&idx);
    }
}
END_TEST

Suite *make_idx_suite(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("idx");
    tcase_add_loop_test(tc, test_open_raw_and_gz, 0, 2);
    tcase_add_test(tc, test_fewshot_episodes);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_parse_prefixes);
    suite_add_tcase(s, tc);
    return s;
}
