/* file.c - a whole file read into memory; see file.h. */
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* Read all of f into *buf (NUL-terminated), doubling the buffer as needed. */
static flp_status read_all(FILE *f, const char *path, size_t max_bytes, const char *what, uint8_t **buf,
                           size_t *size)
{
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = flp__alloc_bytes(cap, what);
    if (b == NULL)
        return flp__error_context(FLP_ERR_NOMEM, "reading '%s'", path);
    for (;;) {
        if (n + 1 >= cap) {
            uint8_t *bigger = cap <= max_bytes ? flp__alloc_bytes(cap * 2, what) : NULL;
            if (bigger == NULL) {
                flp__free(b);
                if (cap > max_bytes)
                    return flp__error(FLP_ERR_IO, "cannot read '%s': larger than %zu bytes", path, max_bytes);
                return flp__error_context(FLP_ERR_NOMEM, "reading '%s'", path);
            }
            memcpy(bigger, b, n);
            flp__free(b);
            b = bigger;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f) || n > max_bytes) {
        flp__free(b);
        return flp__error(FLP_ERR_IO, "cannot read '%s': %s", path,
                          n > max_bytes ? "too large" : strerror(errno));
    }
    b[n] = '\0';
    *buf = b;
    *size = n;
    return FLP_OK;
}

flp_status flp__read_file(const char *path, size_t max_bytes, const char *what, uint8_t **buf, size_t *size)
{
    *buf = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return flp__error(FLP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    flp_status st = read_all(f, path, max_bytes, what, buf, size);
    fclose(f);
    return st;
}
