/* alloc.c - aligned, fault-injectable allocation. */
#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define FLP__ALIGN 64

static _Thread_local int64_t flp__fail_at;  /* 0 = never */
static _Thread_local int64_t flp__count;

int64_t flp__alloc_fail_after(int64_t n)
{
    int64_t made = flp__count;
    flp__count = 0;
    flp__fail_at = n;
    return made;
}

void *flp__alloc_bytes(size_t bytes, const char *what)
{
    flp__count++;
    if (flp__fail_at > 0 && flp__count == flp__fail_at) {
        flp__error(FLP_ERR_NOMEM, "out of memory allocating %zu bytes for %s (injected)", bytes, what);
        return NULL;
    }
    /* Rounding up to whole alignment units must not wrap a size near
     * SIZE_MAX to a small one; no object can exceed PTRDIFF_MAX anyway
     * (malloc refuses it), so sizes beyond are refused before rounding. */
    if (bytes > (size_t)PTRDIFF_MAX - FLP__ALIGN) {
        flp__error(FLP_ERR_NOMEM, "out of memory allocating %zu bytes for %s (no block can be that large)",
                   bytes, what);
        return NULL;
    }
    size_t rounded = (bytes + FLP__ALIGN - 1) / FLP__ALIGN * FLP__ALIGN;
    if (rounded == 0)
        rounded = FLP__ALIGN;
    void *p = aligned_alloc(FLP__ALIGN, rounded);
    if (p == NULL) {
        flp__error(FLP_ERR_NOMEM, "out of memory allocating %zu bytes for %s", bytes, what);
        return NULL;
    }
    memset(p, 0, rounded);
    return p;
}

float *flp__alloc_floats(int64_t n, const char *what)
{
    if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float)) {
        flp__error(FLP_ERR_NOMEM, "cannot allocate %lld floats for %s", (long long)n, what);
        return NULL;
    }
    return flp__alloc_bytes((size_t)n * sizeof(float), what);
}

void flp__free(void *p) { free(p); }

flp_status flp__ensure_floats(float **buf, int64_t *have, int64_t n, const char *what)
{
    if (*buf != NULL && *have >= n)
        return FLP_OK;
    flp__free(*buf);
    *have = 0;
    *buf = flp__alloc_floats(n, what);
    if (*buf == NULL)
        return FLP_ERR_NOMEM;
    *have = n;
    return FLP_OK;
}
