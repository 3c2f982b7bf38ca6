/* check_idx.c - the IDX reader and flp_dataset_open_idx on small files
 * written to a temporary folder, raw and gzip, good and broken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "data/idx.h"
#include "testfile.h"
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

/* An IDX header: magic, big-endian extents; returns its size. */
static size_t idx_header(uint8_t *buf, int type, int rank, const uint32_t *dims)
{
    size_t at = 0;
    buf[at++] = 0, buf[at++] = 0, buf[at++] = (uint8_t)type, buf[at++] = (uint8_t)rank;
    for (int d = 0; d < rank; d++)
        for (int b = 3; b >= 0; b--)
            buf[at++] = (uint8_t)(dims[d] >> (8 * b));
    return at;
}

/* An IDX file in memory: the header, then `count` bytes from `values`
 * (cut or padded by `delta` bytes). */
static size_t idx_bytes(uint8_t *buf, int type, int rank, const uint32_t *dims, const uint8_t *values,
                        int64_t delta)
{
    size_t at = idx_header(buf, type, rank, dims), count = 1;
    for (int d = 0; d < rank; d++)
        count *= dims[d];
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

/* ---- gzip: header first, members, trailing data --------------------------------- */

/* One gzip member holding in[0..n) into out; returns its size. */
static size_t gz_member(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)in, zs.avail_in = (uInt)n, zs.next_out = out, zs.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t len = zs.total_out;
    deflateEnd(&zs);
    return len;
}

static void expect_parse_fails(const uint8_t *buf, size_t n, flp_status st, const char *needle)
{
    flp__idx idx;
    ck_flp_fails(flp__idx_parse(buf, n, "test.idx", &idx), st);
    ck_assert_ptr_null(idx.values);
    ck_assert_msg(strstr(flp_last_error(), needle) != NULL, "'%s' lacks '%s'", flp_last_error(), needle);
}

/* The limit on declared values is inclusive (a stream of exactly the
 * limit is read: it was refused one short of 2 GiB), raw and gzip. */
START_TEST(test_limit_boundary)
{
    static uint8_t v[1001], raw[1100], gz[1200];
    for (int i = 0; i < 1001; i++)
        v[i] = (uint8_t)(i * 13);
    ck_flp(flp_set_limit(FLP_LIMIT_IDX_BYTES, 1000));
    for (int extra = 0; extra < 2; extra++) {
        uint32_t dims[2] = {1000 + (uint32_t)extra, 1};
        size_t n = idx_bytes(raw, 8, 2, dims, v, 0);
        for (int zipped = 0; zipped < 2; zipped++) {
            const uint8_t *buf = zipped ? gz : raw;
            size_t len = zipped ? gz_member(raw, n, gz, sizeof gz) : n;
            flp__idx idx;
            if (extra == 0) {
                ck_flp(flp__idx_parse(buf, len, "limit.idx", &idx));
                ck_assert(idx.count == 1000 && memcmp(idx.values, v, 1000) == 0);
                flp__idx_free(&idx);
            } else {
                ck_flp_fails(flp__idx_parse(buf, len, "limit.idx", &idx), FLP_ERR_RANGE);
                ck_assert_msg(strstr(flp_last_error(), "'limit.idx' declares 1001 x 1 one-byte values, more "
                                                       "than the limit FLP_LIMIT_IDX_BYTES = 1000 bytes"),
                              "%s", flp_last_error());
            }
        }
    }
    ck_flp(flp_set_limit(FLP_LIMIT_IDX_BYTES, (int64_t)1 << 31));
}
END_TEST

/* The header is inflated and judged before anything else: a small gzip
 * file declaring 10^9 values (more than its bytes can expand to) is refused
 * before any allocation; one declaring 10 values over 64 MiB of zeros is
 * refused after inflating 11 bytes of values, not the 64 MiB. */
START_TEST(test_gzip_header_first)
{
    enum { ZEROS = 64 << 20 };
    uint8_t *raw = calloc(ZEROS + 64, 1), *gz = malloc(1 << 20);
    uint32_t dims[3] = {1000, 1000, 1000};
    size_t n = idx_header(raw, 8, 3, dims) + (1u << 16);
    size_t len = gz_member(raw, n, gz, 1 << 20);
    flp__alloc_fail_after(1); /* an allocation before the check would fail as ERR_NOMEM */
    expect_parse_fails(gz, len, FLP_ERR_FORMAT, "more than its");
    flp__alloc_fail_after(0);
    ck_assert_msg(strstr(flp_last_error(), "1000 x 1000 x 1000 = 1000000000 values"), "%s", flp_last_error());

    uint32_t ten[1] = {10};
    n = idx_header(raw, 8, 1, ten) + 10 + ZEROS;
    len = gz_member(raw, n, gz, 1 << 20);
    free(raw);
    long before = tu_peak_rss_kb();
    expect_parse_fails(gz, len, FLP_ERR_FORMAT, "over-long IDX file: the gzip data holds more than the 10");
    long grew = tu_peak_rss_kb() - before;
    ck_assert_msg(grew < 16 * 1024, "peak memory grew by %ld kB", grew);
    free(gz);
}
END_TEST

/* Concatenated members (what `cat a.gz b.gz` and gzip(1) make) are one
 * stream, whatever the member boundaries, in memory and from a file read
 * in chunks; an empty member is allowed. */
START_TEST(test_gzip_members)
{
    enum { SIDE = 300, N = SIDE * SIDE };
    uint8_t *v = malloc(N), *raw = malloc(N + 16), *gz = malloc(2 * N + 4096);
    for (int i = 0; i < N; i++)
        v[i] = (uint8_t)((i * 2654435761u) >> 24); /* noise: members larger than a read chunk */
    uint32_t dims[2] = {SIDE, SIDE};
    size_t n = idx_bytes(raw, 8, 2, dims, v, 0);
    const size_t cuts[] = {3, 12, 5000, n - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        size_t len = gz_member(raw, cuts[c], gz, 2 * N + 4096);
        len += gz_member(raw + cuts[c], n - cuts[c], gz + len, 2 * N + 4096 - len);
        len += gz_member(raw, 0, gz + len, 2 * N + 4096 - len); /* empty */
        flp__idx idx;
        ck_flp(flp__idx_parse(gz, len, "members", &idx));
        ck_assert(idx.count == N && memcmp(idx.values, v, N) == 0);
        flp__idx_free(&idx);
        make_dir();
        char path[512];
        snprintf(path, sizeof path, "%s/members.gz", dir);
        FILE *f = fopen(path, "wb");
        ck_assert_uint_eq(fwrite(gz, 1, len, f), len);
        fclose(f);
        ck_flp(flp__idx_read(path, &idx));
        ck_assert(idx.count == N && memcmp(idx.values, v, N) == 0);
        flp__idx_free(&idx);
        remove_dir();
    }
    free(v);
    free(raw);
    free(gz);
}
END_TEST

/* Bytes after the last member are refused, with the offset where they
 * start; a further member holding more values makes the file over-long. */
START_TEST(test_gzip_trailing)
{
    static uint8_t raw[256], gz[1024];
    uint8_t v[15] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    uint32_t dims[2] = {3, 5};
    size_t n = idx_bytes(raw, 8, 2, dims, v, 0);
    size_t len = gz_member(raw, n, gz, sizeof gz);
    memcpy(gz + len, "JUNK", 4);
    char offset[64];
    snprintf(offset, sizeof offset, "4 bytes from offset %zu", len);
    expect_parse_fails(gz, len + 4, FLP_ERR_FORMAT, offset);
    ck_assert_msg(strstr(flp_last_error(), "'test.idx': trailing data after the gzip stream"), "%s",
                  flp_last_error());
    size_t more = gz_member(v, 3, gz + len, sizeof gz - len);
    expect_parse_fails(gz, len + more, FLP_ERR_FORMAT, "over-long");
    gz[len] = 0x1f; /* a member that never starts */
    expect_parse_fails(gz, len + 1, FLP_ERR_FORMAT, "truncated");
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
    tcase_add_test(tc, test_limit_boundary);
    tcase_add_test(tc, test_gzip_header_first);
    tcase_add_test(tc, test_gzip_members);
    tcase_add_test(tc, test_gzip_trailing);
    suite_add_tcase(s, tc);
    return s;
}
