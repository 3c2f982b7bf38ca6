/* file.h - opening the files libflp reads: only regular files, never
 * blocking on a FIFO or a device, and a whole file read into memory under
 * a limit, for the readers that parse from a buffer (CSV split files, IDX
 * files). Internal. */
#ifndef FLP_CORE_FILE_H
#define FLP_CORE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "flp/flp_common.h"

/* What a file of this st_mode is, for messages: "a regular file", "a FIFO
 * (named pipe)", "a character device", "a directory", ... */
const char *flp__file_kind(mode_t mode);

/* Open `path` for reading when it is a regular file, into *fd (close it),
 * with its size in *size. Anything else is refused with FLP_ERR_IO naming
 * what it is ("'/dev/zero' is a character device, not a regular file"),
 * without a read that could block: the file is opened non-blocking and
 * checked with fstat before a byte is read. */
flp_status flp__open_regular(const char *path, int *fd, uint64_t *size);

/* The same as a stdio stream (fclose it); size may be NULL. */
flp_status flp__fopen_regular(const char *path, FILE **f, uint64_t *size);

/* Read all of *fd's `n` bytes into dst: FLP_ERR_IO on a read error or if
 * the file ends early (it shrank since it was opened). `path` names it. */
flp_status flp__read_exact(int fd, const char *path, void *dst, size_t n);

/* Read the regular file at `path` into a new buffer (flp__free) of *size
 * bytes and a terminating NUL. A file larger than the limit `limit` (in
 * bytes) is refused with FLP_ERR_RANGE, naming the limit, before its buffer
 * is allocated. `what` names the buffer for allocation failures. */
flp_status flp__read_file(const char *path, flp_limit limit, const char *what, uint8_t **buf,
                          size_t *size);

#endif
