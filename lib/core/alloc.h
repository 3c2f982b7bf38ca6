/* alloc.h - every allocation in libflp goes through these, so that a test
 * build can make the n-th allocation fail (SQLite-style fault injection) and
 * all buffers are 64-byte aligned for BLIS. Failures set FLP_ERR_NOMEM with a
 * message naming `what`. */
#ifndef FLP_CORE_ALLOC_H
#define FLP_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "flp/flp_common.h"

/* Aligned allocation of `n` floats, zero-filled. NULL + error on failure. */
float *flp__alloc_floats(int64_t n, const char *what);
/* Aligned, zero-filled allocation of `bytes` bytes. */
void *flp__alloc_bytes(size_t bytes, const char *what);
void flp__free(void *p);
/* A buffer that only grows: keep *buf when its *have floats hold n, else
 * replace it by n zero-filled floats (its contents are not kept). On
 * failure *buf is NULL, *have 0, and FLP_ERR_NOMEM is returned and set. */
flp_status flp__ensure_floats(float **buf, int64_t *have, int64_t n, const char *what);

/* Fault injection for tests: fail the n-th allocation from now (1 = next);
 * 0 disables. Returns the number of allocations made since the last call. */
int64_t flp__alloc_fail_after(int64_t n);

#endif
