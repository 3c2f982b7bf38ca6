/* idx.c - the IDX reader (see idx.h) and flp_dataset_open_idx: one split
 * of an MNIST-style folder as a data set whose classes are the labels. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/dataset_internal.h"
#include "core/file.h"
#include "data/idx.h"

/* No legitimate IDX file of this library's use comes near this; a bound
 * keeps a hostile gzip stream (a "zip bomb") from exhausting memory. */
#define IDX_MAX_BYTES ((size_t)1 << 31)

void flp__idx_free(flp__idx *idx)
{
    if (idx == NULL)
        return;
    flp__free(idx->values);
    memset(idx, 0, sizeof *idx);
}

/* ---- gzip ------------------------------------------------------------------ */

/* Inflate a whole gzip member into a new buffer *out of *out_size bytes,
 * doubling the buffer as needed. */
static flp_status gunzip(const uint8_t *data, size_t size, const char *name, uint8_t **out, size_t *out_size)
{
    size_t cap = size * 4 > 4096 ? size * 4 : 4096, len = 0;
    uint8_t *buf = flp__alloc_bytes(cap, "IDX gunzip buffer");
    if (buf == NULL)
        return flp__error_context(FLP_ERR_NOMEM, "reading '%s'", name);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        flp__free(buf);
        return flp__error(FLP_ERR_NOMEM, "'%s': zlib could not start inflating", name);
    }
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)(size < UINT32_MAX ? size : UINT32_MAX);
    int rc = Z_OK;
    flp_status st = FLP_OK;
    while (rc != Z_STREAM_END) {
        if (len == cap) {
            uint8_t *bigger = cap * 2 <= IDX_MAX_BYTES ? flp__alloc_bytes(cap * 2, "IDX gunzip buffer") : NULL;
            if (bigger == NULL) {
                st = cap * 2 > IDX_MAX_BYTES
                         ? flp__error(FLP_ERR_FORMAT, "'%s': decompresses to more than %zu bytes", name,
                                      (size_t)IDX_MAX_BYTES)
                         : flp__error_context(FLP_ERR_NOMEM, "reading '%s'", name);
                break;
            }
            memcpy(bigger, buf, len);
            flp__free(buf);
            buf = bigger;
            cap *= 2;
        }
        zs.next_out = buf + len;
        zs.avail_out = (uInt)(cap - len < UINT32_MAX ? cap - len : UINT32_MAX);
        rc = inflate(&zs, Z_NO_FLUSH);
        len = (size_t)(zs.next_out - buf);
        if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
            st = flp__error(FLP_ERR_FORMAT, "'%s': the gzip stream is truncated", name);
            break;
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            st = flp__error(FLP_ERR_FORMAT, "'%s': corrupt gzip stream (%s)", name, zs.msg ? zs.msg : "zlib error");
            break;
        }
    }
    inflateEnd(&zs);
    if (st != FLP_OK) {
        flp__free(buf);
        return st;
    }
    *out = buf;
    *out_size = len;
    return FLP_OK;
}

/* ---- the format ------------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Parse a raw (uncompressed) IDX buffer. */
static flp_status parse_raw(const uint8_t *p, size_t size, const char *name, flp__idx *out)
{
    if (size < 4 || p[0] != 0 || p[1] != 0)
        return flp__error(FLP_ERR_FORMAT, "'%s': not an IDX file (wrong magic number%s)", name,
                          size < 4 ? ": shorter than 4 bytes" : "");
    int type = p[2], rank = p[3];
    if (type != 0x08)
        return flp__error(FLP_ERR_UNSUPPORTED, "'%s': IDX value type 0x%02x; only unsigned bytes (0x08) are "
                          "supported", name, type);
    if (rank < 1 || rank > FLP__IDX_MAX_RANK)
        return flp__error(FLP_ERR_FORMAT, "'%s': IDX rank %d, expected 1 to %d", name, rank, FLP__IDX_MAX_RANK);
    size_t header = 4 + 4 * (size_t)rank;
    if (size < header)
        return flp__error(FLP_ERR_FORMAT, "'%s': truncated IDX header (%zu bytes, need %zu)", name, size, header);
    int64_t count = 1;
    for (int d = 0; d < rank; d++) {
        out->dims[d] = be32(p + 4 + 4 * d);
        count *= out->dims[d];
        if (count > (int64_t)IDX_MAX_BYTES)
            return flp__error(FLP_ERR_FORMAT, "'%s': IDX extents claim more than %zu values", name,
                              (size_t)IDX_MAX_BYTES);
    }
    if (size - header != (size_t)count)
        return flp__error(FLP_ERR_FORMAT, "'%s': %s IDX file: the header announces %lld values, the body holds "
                          "%zu", name, size - header < (size_t)count ? "truncated" : "over-long", (long long)count,
                          size - header);
    out->values = flp__alloc_bytes(count > 0 ? (size_t)count : 1, "IDX values");
    if (out->values == NULL)
        return flp__error_context(FLP_ERR_NOMEM, "reading '%s'", name);
    memcpy(out->values, p + header, (size_t)count);
    out->rank = rank;
    out->count = count;
    return FLP_OK;
}

flp_status flp__idx_parse(const void *data, size_t size, const char *name, flp__idx *out)
{
    FLP__CHECK_NULL(out);
    memset(out, 0, sizeof *out);
    FLP__CHECK_NULL(name);
    if (data == NULL && size > 0)
        return flp__error(FLP_ERR_NULL, "%s: argument 'data' is NULL", __func__);
    const uint8_t *p = data;
    if (size < 2 || p[0] != 0x1f || p[1] != 0x8b)
        return parse_raw(p, size, name, out);
    uint8_t *raw = NULL;
    size_t raw_size = 0;
    FLP__TRY(gunzip(p, size, name, &raw, &raw_size));
    flp_status st = parse_raw(raw, raw_size, name, out);
    flp__free(raw);
    if (st != FLP_OK)
        memset(out, 0, sizeof *out);
    return st;
}

flp_status flp__idx_read(const char *path, flp__idx *out)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t size;
    FLP__TRY(flp__read_file(path, IDX_MAX_BYTES, "IDX file", &buf, &size));
    flp_status st = flp__idx_parse(buf, size, path, out);
    flp__free(buf);
    return st;
}

/* ---- a split as a data set -------------------------------------------------------- */

/* dir/<split>-<kind>-idx<r>-ubyte, or the same with .gz: the first that
 * exists, into path[cap]. */
static flp_status find_file(const char *dir, const char *split, const char *kind, int rank, char *path,
                            size_t cap)
{
    for (int gz = 0; gz < 2; gz++) {
        snprintf(path, cap, "%s/%s-%s-idx%d-ubyte%s", dir, split, kind, rank, gz ? ".gz" : "");
        FILE *f = fopen(path, "rb");
        if (f != NULL) {
            fclose(f);
            return FLP_OK;
        }
    }
    return flp__error(FLP_ERR_IO, "flp_dataset_open_idx: neither '%s/%s-%s-idx%d-ubyte' nor its .gz can be "
                      "opened", dir, split, kind, rank);
}

static flp_status check_pair(const flp__idx *im, const flp__idx *lab, const char *im_path, const char *lab_path)
{
    if (im->rank != 3)
        return flp__error(FLP_ERR_FORMAT, "flp_dataset_open_idx: '%s' has rank %d, images need 3 "
                          "[n, rows, cols]", im_path, im->rank);
    if (lab->rank != 1)
        return flp__error(FLP_ERR_FORMAT, "flp_dataset_open_idx: '%s' has rank %d, labels need 1", lab_path,
                          lab->rank);
    if (im->dims[0] != lab->dims[0])
        return flp__error(FLP_ERR_FORMAT, "flp_dataset_open_idx: '%s' holds %lld images but '%s' %lld labels",
                          im_path, (long long)im->dims[0], lab_path, (long long)lab->dims[0]);
    if (im->dims[1] != im->dims[2] || im->dims[1] < 1)
        return flp__error(FLP_ERR_UNSUPPORTED, "flp_dataset_open_idx: '%s' holds %lld x %lld images; only "
                          "square images are supported", im_path, (long long)im->dims[1], (long long)im->dims[2]);
    if (im->dims[0] < 1)
        return flp__error(FLP_ERR_FORMAT, "flp_dataset_open_idx: '%s' holds no image", im_path);
    return FLP_OK;
}

flp_status flp_dataset_open_idx(const char *dir, const char *split, flp_dataset **out)
{
    FLP__CHECK_NULL(out);
    *out = NULL;
    FLP__CHECK_NULL(dir);
    FLP__CHECK_NULL(split);
    if (strcmp(split, "train") != 0 && strcmp(split, "t10k") != 0)
        return flp__error(FLP_ERR_INVALID, "%s: split \"%s\", expected \"train\" or \"t10k\"", __func__, split);
    char im_path[4096], lab_path[4096];
    FLP__TRY(find_file(dir, split, "images", 3, im_path, sizeof im_path));
    FLP__TRY(find_file(dir, split, "labels", 1, lab_path, sizeof lab_path));
    flp__idx im, lab;
    FLP__TRY(flp__idx_read(im_path, &im));
    flp_status st = flp__idx_read(lab_path, &lab);
    if (st == FLP_OK)
        st = check_pair(&im, &lab, im_path, lab_path);
    if (st == FLP_OK)
        st = flp__dataset_from_bytes(im_path, im.dims[1], im.dims[0], im.values, lab.values, out);
    flp__idx_free(&im);
    flp__idx_free(&lab);
    return st;
}
