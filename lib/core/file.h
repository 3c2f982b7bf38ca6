/* file.h - a whole file read into memory, for the readers that parse from
 * a buffer (CSV split files, IDX files). Internal. */
#ifndef FLP_CORE_FILE_H
#define FLP_CORE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "flp/flp_common.h"

/* Read the file at `path` into a new buffer (flp__free) of *size bytes and
 * a terminating NUL, growing it as the file is read, so that pipes work
 * too. A file of more than max_bytes is refused (FLP_ERR_IO) before that
 * much is held. `what` names the buffer for allocation failures. */
flp_status flp__read_file(const char *path, size_t max_bytes, const char *what, uint8_t **buf, size_t *size);

#endif
