/* params.c - the meta-optimizer's tensor list as the public named-tensor
 * interface (flp_params.h): names, groups and shapes from the configuration
 * recorded at create, arrays from fresh views of the handles, Adam's moments
 * from the optimizer's arena. */
#include "flp/flp_params.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "meta/meta_internal.h"

static const char *const flp__array_name[] = {
    [FLP_TENSOR_VALUE] = "value",
    [FLP_TENSOR_GRAD] = "gradient",
    [FLP_TENSOR_MOMENT1] = "first moment",
    [FLP_TENSOR_MOMENT2] = "second moment",
};

flp_status flp_meta_tensor_count(const flp_meta *meta, int *count)
{
    FLP__CHECK_NULL(meta);
    FLP__CHECK_NULL(count);
    *count = meta->ref.n;
    return FLP_OK;
}

static flp_status flp__check_index(const flp_meta *meta, int index, const char *fn)
{
    if (index < 0 || index >= meta->ref.n)
        return flp__error(FLP_ERR_RANGE, "%s: index %d out of range, the optimizer has %d tensors",
                          fn, index, meta->ref.n);
    return FLP_OK;
}

flp_status flp_meta_tensor_info(const flp_meta *meta, int index, const char **name, flp_group *group,
                                int *rank, int64_t dims[FLP_TENSOR_MAX_RANK], int64_t *count)
{
    FLP__CHECK_NULL(meta);
    FLP__TRY(flp__check_index(meta, index, __func__));
    const flp__tensor *t = &meta->ref.items[index];
    if (name != NULL)
        *name = t->name;
    if (group != NULL)
        *group = (flp_group)t->group;
    if (rank != NULL)
        *rank = t->rank;
    if (dims != NULL)
        memcpy(dims, t->dims, sizeof t->dims);
    if (count != NULL)
        *count = t->count;
    return FLP_OK;
}

flp_status flp_meta_tensor_find(const flp_meta *meta, const char *name, int *index)
{
    FLP__CHECK_NULL(meta);
    FLP__CHECK_NULL(name);
    FLP__CHECK_NULL(index);
    const flp__tensor_list *ref = &meta->ref;
    int found = flp__tensor_list_find(ref, name, NULL);
    if (found >= 0) {
        *index = found;
        return FLP_OK;
    }
    if (ref->n == 0)
        return flp__error(FLP_ERR_INVALID, "%s: no tensor is named '%s'; the optimizer has none",
                          __func__, name);
    return flp__error(FLP_ERR_INVALID, "%s: no tensor is named '%s'; the optimizer's %d are %s ... %s",
                      __func__, name, ref->n, ref->items[0].name, ref->items[ref->n - 1].name);
}

/* Where array `which` of tensor `index` lives now: the handles' value or
 * gradient (from `views`, freshly collected) or the optimizer's moments. */
static flp_status flp__locate(const flp_meta *meta, flp__tensor_list *views, int index,
                              flp_tensor_array which, float **data, const char *fn)
{
    FLP__TRY(flp__check_index(meta, index, fn));
    if ((int)which < FLP_TENSOR_VALUE || (int)which > FLP_TENSOR_MOMENT2)
        return flp__error(FLP_ERR_INVALID, "%s: which = %d is not an flp_tensor_array", fn, (int)which);
    FLP__TRY(flp__meta_collect(meta, views, fn));
    if (which == FLP_TENSOR_VALUE || which == FLP_TENSOR_GRAD) {
        *data = which == FLP_TENSOR_VALUE ? views->items[index].value : views->items[index].grad;
        return FLP_OK;
    }
    int64_t offset = 0;
    for (int i = 0; i < index; i++)
        offset += meta->ref.items[i].count;
    *data = which == FLP_TENSOR_MOMENT1 ? flp__meta_m(meta, offset) : flp__meta_v(meta, offset);
    return FLP_OK;
}

static flp_status flp__check_count(const flp__tensor *t, flp_tensor_array which, const void *buf,
                                   int64_t count, const char *fn)
{
    if (buf == NULL)
        return flp__error(FLP_ERR_NULL, "%s: the data pointer for %s's %s is NULL", fn, t->name,
                          flp__array_name[which]);
    if (count != t->count) {
        char shape[16 + 24 * FLP__TENSOR_MAX_RANK];
        int at = 0;
        for (int d = 0; d < t->rank; d++)
            at += snprintf(shape + at, sizeof shape - (size_t)at, "%s%lld", d ? ", " : "[",
                           (long long)t->dims[d]);
        return flp__error(FLP_ERR_SHAPE, "%s: %s %s] has %lld values, count is %lld", fn, t->name,
                          shape, (long long)t->count, (long long)count);
    }
    return FLP_OK;
}

flp_status flp_meta_tensor_get(const flp_meta *meta, int index, flp_tensor_array which, float *dst,
                               int64_t count)
{
    FLP__CHECK_NULL(meta);
    /* A const handle may be shared by readers, so this uses its own views. */
    flp__tensor_list views = {0};
    float *data = NULL;
    flp_status st = flp__locate(meta, &views, index, which, &data, __func__);
    if (st == FLP_OK)
        st = flp__check_count(&meta->ref.items[index], which, dst, count, __func__);
    if (st == FLP_OK)
        memcpy(dst, data, (size_t)count * sizeof *dst);
    flp__tensor_list_free(&views);
    return st;
}

/* NULL if src[j] may be stored in array `which`, else what is wrong. */
static const char *flp__entry_problem(flp_tensor_array which, float x)
{
    if (which == FLP_TENSOR_GRAD)
        return NULL; /* flp_meta_step deals with non-finite gradients */
    if (!isfinite(x))
        return "is not finite";
    return which == FLP_TENSOR_MOMENT2 && x < 0 ? "is negative (a second moment is >= 0)" : NULL;
}

flp_status flp_meta_tensor_set(flp_meta *meta, int index, flp_tensor_array which, const float *src,
                               int64_t count)
{
    FLP__CHECK_NULL(meta);
    float *data = NULL;
    FLP__TRY(flp__locate(meta, &meta->views, index, which, &data, __func__));
    const flp__tensor *t = &meta->ref.items[index];
    FLP__TRY(flp__check_count(t, which, src, count, __func__));
    /* Checked in full first, so a refused array leaves the tensor as it was. */
    for (int64_t j = 0; j < count; j++) {
        const char *problem = flp__entry_problem(which, src[j]);
        if (problem != NULL)
            return flp__error(isfinite(src[j]) ? FLP_ERR_RANGE : FLP_ERR_NONFINITE,
                              "%s: %s's %s: src[%lld] = %g %s", __func__, t->name,
                              flp__array_name[which], (long long)j, (double)src[j], problem);
    }
    memcpy(data, src, (size_t)count * sizeof *src);
    return FLP_OK;
}
