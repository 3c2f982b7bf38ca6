/* idx.c - the IDX reader (see idx.h) and flp_dataset_open_idx: one split
 * of an MNIST-style folder as a data set whose classes are the labels. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/dataset_internal.h"
#include "core/file.h"
#include "core/limits.h"
#include "data/idx.h"

void flp__idx_free(flp__idx *idx)
{
    if (idx == NULL)
        return;
    flp__free(idx->values);
    memset(idx, 0, sizeof *idx);
}

/* ---- the input: a buffer in memory or a regular file ---------------------------- */

/* Deflate expands at most 1032:1: a gzip file of n bytes cannot hold more
 * than 1032 n bytes, whatever its header declares. */
#define DEFLATE_MAX_EXPANSION 1032
#define CHUNK ((size_t)1 << 16)

typedef struct {
    const char *name;
    const uint8_t *mem;  /* the whole input, or NULL: read from fd */
    int fd;
    uint8_t *chunk;      /* fd: CHUNK bytes of read buffer */
    uint64_t size;       /* input bytes in all */
    uint64_t pos;        /* input bytes handed out so far */
} idx_src;

/* Hand out up to CHUNK (at least 1) of the next input bytes; *n = 0 at the
 * end of the input. */
static flp_status src_next(idx_src *s, const uint8_t **p, size_t *n)
{
    uint64_t left = s->size - s->pos;
    *n = (size_t)(left < CHUNK ? left : CHUNK);
    if (s->mem != NULL) {
        *p = s->mem + s->pos;
    } else if (*n > 0) {
        FLP__TRY(flp__read_exact(s->fd, s->name, s->chunk, *n));
        *p = s->chunk;
    }
    s->pos += *n;
    return FLP_OK;
}

/* Exactly n input bytes into dst, or FLP_ERR_FORMAT naming `what` when
 * the input ends first. */
static flp_status src_read(idx_src *s, uint8_t *dst, size_t n)
{
    if (s->size - s->pos < n)
        return flp__error(FLP_ERR_FORMAT, "'%s': truncated IDX file (it ends at byte %llu)", s->name,
                          (unsigned long long)s->size);
    if (s->mem != NULL)
        memcpy(dst, s->mem + s->pos, n);
    else
        FLP__TRY(flp__read_exact(s->fd, s->name, dst, n));
    s->pos += n;
    return FLP_OK;
}

/* ---- gzip ------------------------------------------------------------------ */

/* A gzip stream of one member or several (as gzip(1) writes for
 * concatenated files), inflated a requested number of bytes at a time. */
typedef struct {
    idx_src *src;
    z_stream zs;
    int started;       /* inflateInit2 done */
    int member_ended;  /* the last member's trailer (CRC, length) was checked */
} gz_stream;

static uint64_t gz_offset(const gz_stream *g) { return g->src->pos - g->zs.avail_in; }

/* After a member: the input ends, or another member starts. */
static flp_status gz_next_member(gz_stream *g, int *at_end)
{
    *at_end = 0;
    if (g->zs.avail_in == 0 && g->src->pos < g->src->size) {
        const uint8_t *p;
        size_t n;
        FLP__TRY(src_next(g->src, &p, &n));
        g->zs.next_in = (Bytef *)p;
        g->zs.avail_in = (uInt)n;
    }
    if (g->zs.avail_in == 0) {
        *at_end = 1;
        return FLP_OK;
    }
    const int magic = g->zs.avail_in >= 2 ? g->zs.next_in[0] == 0x1f && g->zs.next_in[1] == 0x8b
                                          : g->zs.next_in[0] == 0x1f;
    if (!magic)
        return flp__error(FLP_ERR_FORMAT, "'%s': trailing data after the gzip stream: %llu bytes from "
                          "offset %llu that are not another gzip member", g->src->name,
                          (unsigned long long)(g->src->size - gz_offset(g)),
                          (unsigned long long)gz_offset(g));
    inflateReset(&g->zs);
    g->member_ended = 0;
    return FLP_OK;
}

/* Inflate up to n bytes into dst: *got < n only where the stream ends (its
 * last member, with its checksum, complete and nothing after it). */
static flp_status gz_read(gz_stream *g, uint8_t *dst, size_t n, size_t *got)
{
    g->zs.next_out = dst;
    size_t done = 0;
    while (done < n) {
        if (g->member_ended) {
            int at_end;
            FLP__TRY(gz_next_member(g, &at_end));
            if (at_end)
                break;
        }
        if (g->zs.avail_in == 0) {
            const uint8_t *p;
            size_t k;
            FLP__TRY(src_next(g->src, &p, &k));
            if (k == 0)
                return flp__error(FLP_ERR_FORMAT, "'%s': the gzip stream is truncated", g->src->name);
            g->zs.next_in = (Bytef *)p;
            g->zs.avail_in = (uInt)k;
        }
        size_t want = n - done;
        g->zs.avail_out = (uInt)(want < UINT32_MAX ? want : UINT32_MAX);
        uInt before = g->zs.avail_out;
        int rc = inflate(&g->zs, Z_NO_FLUSH);
        done += before - g->zs.avail_out;
        if (rc == Z_STREAM_END)
            g->member_ended = 1;
        else if (rc == Z_MEM_ERROR)
            return flp__error(FLP_ERR_NOMEM, "'%s': out of memory inflating", g->src->name);
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return flp__error(FLP_ERR_FORMAT, "'%s': corrupt gzip stream at offset %llu (%s)",
                              g->src->name, (unsigned long long)gz_offset(g),
                              g->zs.msg ? g->zs.msg : "zlib error");
    }
    *got = done;
    return FLP_OK;
}

/* Exactly n bytes, else FLP_ERR_FORMAT: the stream ends first. */
static flp_status gz_read_exact(gz_stream *g, uint8_t *dst, size_t n, const char *what)
{
    size_t got;
    FLP__TRY(gz_read(g, dst, n, &got));
    if (got < n)
        return flp__error(FLP_ERR_FORMAT, "'%s': truncated IDX file: the gzip data ends in %s", g->src->name,
                          what);
    return FLP_OK;
}

/* ---- the format ------------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define MAX_HEADER (4 + 4 * FLP__IDX_MAX_RANK)

/* The 4-byte magic: 0, 0, type, rank. FLP_OK with *rank. */
static flp_status check_magic(const uint8_t *p, size_t n, const char *name, int *rank)
{
    if (n < 4 || p[0] != 0 || p[1] != 0)
        return flp__error(FLP_ERR_FORMAT, "'%s': not an IDX file (wrong magic number%s)", name,
                          n < 4 ? ": shorter than 4 bytes" : "");
    if (p[2] != 0x08)
        return flp__error(FLP_ERR_UNSUPPORTED, "'%s': IDX value type 0x%02x; only unsigned bytes (0x08) are "
                          "supported", name, p[2]);
    if (p[3] < 1 || p[3] > FLP__IDX_MAX_RANK)
        return flp__error(FLP_ERR_FORMAT, "'%s': IDX rank %d, expected 1 to %d", name, p[3], FLP__IDX_MAX_RANK);
    *rank = p[3];
    return FLP_OK;
}

/* The extents after the magic: out->dims, out->count, checked against
 * FLP_LIMIT_IDX_BYTES (and `most`, the values the input could hold at
 * all) before anything of that size is allocated. */
static flp_status check_extents(const uint8_t *p, int rank, uint64_t most, const char *name, flp__idx *out)
{
    uint64_t count = 1;
    int overflow = 0;
    char dims[16 * FLP__IDX_MAX_RANK] = "";
    for (int d = 0; d < rank; d++) {
        uint32_t e = be32(p + 4 + 4 * d);
        out->dims[d] = e;
        if (e != 0 && count > UINT64_MAX / e)
            overflow = 1;
        count = overflow ? UINT64_MAX : count * e;
        snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s%u", d ? " x " : "", (unsigned)e);
    }
    if (count > flp__limit(FLP_LIMIT_IDX_BYTES))
        return flp__limit_error(FLP_LIMIT_IDX_BYTES, "'%s' declares %s one-byte values", name, dims);
    if (count > most)
        return flp__error(FLP_ERR_FORMAT, "'%s': its header declares %s = %llu values, more than its %llu "
                          "compressed bytes can hold", name, dims, (unsigned long long)count,
                          (unsigned long long)(most / DEFLATE_MAX_EXPANSION));
    out->rank = rank;
    out->count = (int64_t)count;
    return FLP_OK;
}

static flp_status alloc_values(flp__idx *out, const char *name)
{
    out->values = flp__alloc_bytes(out->count > 0 ? (size_t)out->count : 1, "IDX values");
    return out->values == NULL ? flp__error_context(FLP_ERR_NOMEM, "reading '%s'", name) : FLP_OK;
}

/* Raw: header, then exactly count bytes to the end of the input. */
static flp_status read_raw(idx_src *s, flp__idx *out)
{
    uint8_t h[MAX_HEADER];
    size_t n = (size_t)(s->size < 4 ? s->size : 4);
    int rank = 0;
    FLP__TRY(src_read(s, h, n));
    FLP__TRY(check_magic(h, n, s->name, &rank));
    size_t header = 4 + 4 * (size_t)rank;
    if (s->size < header)
        return flp__error(FLP_ERR_FORMAT, "'%s': truncated IDX header (%llu bytes, need %zu)", s->name,
                          (unsigned long long)s->size, header);
    FLP__TRY(src_read(s, h + 4, header - 4));
    FLP__TRY(check_extents(h, rank, UINT64_MAX, s->name, out));
    uint64_t body = s->size - header;
    if (body != (uint64_t)out->count)
        return flp__error(FLP_ERR_FORMAT, "'%s': %s IDX file: the header announces %lld values, the body holds "
                          "%llu", s->name, body < (uint64_t)out->count ? "truncated" : "over-long",
                          (long long)out->count, (unsigned long long)body);
    FLP__TRY(alloc_values(out, s->name));
    return src_read(s, out->values, (size_t)out->count);
}

/* Gzip: the header is inflated and checked first, then exactly the values
 * it declares; the stream must end there. */
static flp_status read_gzip(gz_stream *g, flp__idx *out)
{
    const char *name = g->src->name;
    uint8_t h[MAX_HEADER];
    size_t got;
    int rank = 0;
    FLP__TRY(gz_read(g, h, 4, &got));
    FLP__TRY(check_magic(h, got, name, &rank));
    FLP__TRY(gz_read_exact(g, h + 4, 4 * (size_t)rank, "the header"));
    const uint64_t most = g->src->size * DEFLATE_MAX_EXPANSION;
    FLP__TRY(check_extents(h, rank, most, name, out));
    FLP__TRY(alloc_values(out, name));
    FLP__TRY(gz_read(g, out->values, (size_t)out->count, &got));
    if (got < (size_t)out->count)
        return flp__error(FLP_ERR_FORMAT, "'%s': truncated IDX file: the header announces %lld values, the gzip "
                          "data holds %zu", name, (long long)out->count, got);
    uint8_t more;
    FLP__TRY(gz_read(g, &more, 1, &got));
    if (got > 0)
        return flp__error(FLP_ERR_FORMAT, "'%s': over-long IDX file: the gzip data holds more than the %lld "
                          "values its header announces", name, (long long)out->count);
    return FLP_OK;
}

/* Raw or gzip (recognised by its first two bytes, 1f 8b), from `s`. */
static flp_status read_idx(idx_src *s, flp__idx *out)
{
    memset(out, 0, sizeof *out);
    uint8_t first[2] = {0, 0};
    if (s->size >= 2) {
        FLP__TRY(src_read(s, first, 2));
        s->pos = 0;
        if (s->mem == NULL && lseek(s->fd, 0, SEEK_SET) != 0)
            return flp__error(FLP_ERR_IO, "cannot read '%s': %s", s->name, strerror(errno));
    }
    flp_status st;
    if (first[0] != 0x1f || first[1] != 0x8b) {
        st = read_raw(s, out);
    } else {
        gz_stream g = {.src = s};
        if (inflateInit2(&g.zs, 16 + MAX_WBITS) != Z_OK)
            return flp__error(FLP_ERR_NOMEM, "'%s': zlib could not start inflating", s->name);
        st = read_gzip(&g, out);
        inflateEnd(&g.zs);
    }
    if (st != FLP_OK)
        flp__idx_free(out);
    return st;
}

flp_status flp__idx_parse(const void *data, size_t size, const char *name, flp__idx *out)
{
    FLP__CHECK_NULL(out);
    memset(out, 0, sizeof *out);
    FLP__CHECK_NULL(name);
    if (data == NULL && size > 0)
        return flp__error(FLP_ERR_NULL, "%s: argument 'data' is NULL", __func__);
    static const uint8_t none[1];
    idx_src s = {.name = name, .mem = data != NULL ? data : none, .fd = -1, .size = size};
    return read_idx(&s, out);
}

flp_status flp__idx_read(const char *path, flp__idx *out)
{
    memset(out, 0, sizeof *out);
    idx_src s = {.name = path, .fd = -1};
    FLP__TRY(flp__open_regular(path, &s.fd, &s.size));
    flp_status st = FLP_OK;
    if ((s.chunk = flp__alloc_bytes(CHUNK, "IDX read buffer")) == NULL)
        st = flp__error_context(FLP_ERR_NOMEM, "reading '%s'", path);
    if (st == FLP_OK)
        st = read_idx(&s, out);
    flp__free(s.chunk);
    close(s.fd);
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
