/* tensor.c - lists of meta-parameter views. */
#include "core/tensor.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

flp_status flp__tensor_list_add(flp__tensor_list *list, float *value, float *grad, int group, int rank,
                                const int64_t *dims, const char *fmt, ...)
{
    assert(rank >= 1 && rank <= FLP__TENSOR_MAX_RANK);
    if (list->n == list->cap) {
        int cap = list->cap ? 2 * list->cap : 16;
        flp__tensor *items = flp__alloc_bytes((size_t)cap * sizeof *items, "tensor list");
        if (items == NULL)
            return FLP_ERR_NOMEM;
        for (int i = 0; i < list->n; i++)
            items[i] = list->items[i];
        flp__free(list->items);
        list->items = items;
        list->cap = cap;
    }
    flp__tensor *t = &list->items[list->n++];
    t->value = value;
    t->grad = grad;
    t->count = 1;
    t->rank = rank;
    for (int d = 0; d < FLP__TENSOR_MAX_RANK; d++) {
        t->dims[d] = d < rank ? dims[d] : 1;
        t->count *= t->dims[d];
    }
    t->group = group;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    return FLP_OK;
}

int flp__tensor_list_find(const flp__tensor_list *list, const char *name, int64_t *offset)
{
    int64_t at = 0;
    for (int i = 0; i < list->n; i++) {
        if (strcmp(list->items[i].name, name) == 0) {
            if (offset != NULL)
                *offset = at;
            return i;
        }
        at += list->items[i].count;
    }
    return -1;
}

void flp__tensor_list_clear(flp__tensor_list *list) { list->n = 0; }

void flp__tensor_list_free(flp__tensor_list *list)
{
    flp__free(list->items);
    list->items = NULL;
    list->n = list->cap = 0;
}

int64_t flp__tensor_list_total(const flp__tensor_list *list)
{
    int64_t total = 0;
    for (int i = 0; i < list->n; i++)
        total += list->items[i].count;
    return total;
}

static flp_status check_copy(const char *fn, const char *what, int64_t n, const void *buf, int64_t count)
{
    if (buf == NULL)
        return flp__error(FLP_ERR_NULL, "%s: %s: data pointer is NULL", fn, what);
    if (count != n)
        return flp__error(FLP_ERR_SHAPE, "%s: %s has %lld values, count is %lld", fn, what,
                          (long long)n, (long long)count);
    return FLP_OK;
}

flp_status flp__copy_out(const char *fn, const char *what, const float *src, int64_t n, float *dst,
                         int64_t count)
{
    FLP__TRY(check_copy(fn, what, n, dst, count));
    memcpy(dst, src, (size_t)n * sizeof *dst);
    return FLP_OK;
}

flp_status flp__copy_in(const char *fn, const char *what, float *dst, int64_t n, const float *src,
                        int64_t count)
{
    FLP__TRY(check_copy(fn, what, n, src, count));
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(src[i]))
            return flp__error(FLP_ERR_NONFINITE, "%s: %s value %lld is not finite", fn, what, (long long)i);
    memcpy(dst, src, (size_t)n * sizeof *dst);
    return FLP_OK;
}
