/* target_idx.c - IDX files (MNIST, EMNIST), raw and gzip (flp__idx_parse,
 * which parses a memory buffer). */
#include <string.h>
#include <zlib.h>

#include "fuzz.h"
#include "data/idx.h"

flp_status flp_fuzz_run(const uint8_t *data, size_t size)
{
    flp__idx idx;
    flp_status st = flp__idx_parse(data, size, "fuzz input", &idx);
    if (st == FLP_OK) {
        /* extents multiply to the count; a zero extent makes it 0 whatever
         * the others (which may then overflow any product) */
        int64_t count = 1;
        int overflow = 0, zero = 0;
        for (int i = 0; i < idx.rank; i++) {
            zero |= idx.dims[i] == 0;
            overflow |= __builtin_mul_overflow(count, idx.dims[i], &count);
        }
        if (zero)
            count = 0;
        FLP_FUZZ_CHECK(idx.rank >= 1 && idx.rank <= FLP__IDX_MAX_RANK && (zero || !overflow) &&
                       count == idx.count);
        if (count > 0) { /* the ends of the values must be readable (ASan checks) */
            volatile uint8_t ends[2] = {idx.values[0], idx.values[count - 1]};
            (void)ends;
        }
        flp__idx_free(&idx);
    }
    return st;
}

/* A big-endian IDX header of unsigned bytes: magic 0 0 8 rank, extents. */
static size_t put_header(uint8_t *p, int rank, const uint32_t *dims)
{
    p[0] = p[1] = 0;
    p[2] = 0x08;
    p[3] = (uint8_t)rank;
    for (int i = 0; i < rank; i++)
        for (int b = 0; b < 4; b++)
            p[4 + 4 * i + b] = (uint8_t)(dims[i] >> (24 - 8 * b));
    return 4 + 4 * (size_t)rank;
}

/* One gzip member holding in[0..n) into out[cap]; returns its size. */
static size_t gzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    FLP_FUZZ_CHECK(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    FLP_FUZZ_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    size_t len = cap - zs.avail_out;
    deflateEnd(&zs);
    return len;
}

void flp_fuzz_seeds(flp_fuzz_emit emit, void *ctx)
{
    uint8_t images[16 + 2 * 3 * 4], labels[8 + 2], gz[256];
    const uint32_t image_dims[3] = {2, 3, 4}, label_dims[1] = {2};
    size_t n = put_header(images, 3, image_dims);
    for (size_t i = n; i < sizeof images; i++)
        images[i] = (uint8_t)(i * 37);
    size_t m = put_header(labels, 1, label_dims);
    labels[m] = 3;
    labels[m + 1] = 9;
    emit(ctx, "images-idx3-ubyte", images, sizeof images);
    emit(ctx, "labels-idx1-ubyte", labels, sizeof labels);
    /* the images again, gzip-compressed as the MNIST downloads are, then
     * as two members (header, values), as `cat a.gz b.gz` makes */
    size_t one = gzip(images, sizeof images, gz, sizeof gz);
    emit(ctx, "images-idx3-ubyte.gz", gz, one);
    size_t first = gzip(images, n, gz, sizeof gz);
    size_t second = gzip(images + n, sizeof images - n, gz + first, sizeof gz - first);
    emit(ctx, "images-idx3-ubyte-two-members.gz", gz, first + second);
}
