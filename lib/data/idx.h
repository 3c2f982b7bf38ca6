/* idx.h - the IDX format of MNIST, EMNIST and Fashion-MNIST (raw or gzip).
 *
 * An IDX file is a 4-byte magic (0, 0, type, rank), `rank` big-endian
 * uint32 extents, then the values row-major. libflp reads unsigned-byte
 * files (type 0x08): rank-3 images [n, rows, cols] and rank-1 labels [n]. */
#ifndef FLP_DATA_IDX_H
#define FLP_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "flp/flp_common.h"

#define FLP__IDX_MAX_RANK 4

typedef struct {
    int rank;
    int64_t dims[FLP__IDX_MAX_RANK];
    int64_t count;      /* product of dims */
    uint8_t *values;    /* [count], owned (flp__free) */
} flp__idx;

/* Parse an IDX file held in memory: `data[0..size)`, raw or gzip-compressed
 * (recognised by its magic 1f 8b). `name` names the file in messages.
 * FLP_ERR_FORMAT for a wrong magic number, a truncated or over-long body, a
 * corrupt gzip stream; FLP_ERR_UNSUPPORTED for a value type other than
 * unsigned byte; FLP_ERR_NOMEM. Never reads outside the buffer: this is the
 * entry point for fuzzing. On success *out owns its values; on failure it
 * holds nothing. */
flp_status flp__idx_parse(const void *data, size_t size, const char *name, flp__idx *out);

/* Read and parse the file at `path`: FLP_ERR_IO if it cannot be read. */
flp_status flp__idx_read(const char *path, flp__idx *out);

void flp__idx_free(flp__idx *idx);

#endif
