/* sampler.c - the public sampler calls: argument checks, then the kind's
 * operation table (sampler_internal.h). Each kind's `destroy` frees the
 * whole handle, which it allocated together with its own state. */
#include <math.h>

#include "core/error.h"
#include "tasks/sampler_internal.h"

void flp_sampler_free(flp_sampler *s)
{
    if (s != NULL)
        s->ops->destroy(s);
}

flp_status flp_sampler_set(flp_sampler *s, int key, double value)
{
    FLP__CHECK_NULL(s);
    if (isnan(value))
        return flp__error(FLP_ERR_RANGE, "%s: value for key %d is NaN", __func__, key);
    return s->ops->set(s, key, value);
}

flp_status flp_sampler_get(const flp_sampler *s, int key, double *value)
{
    FLP__CHECK_NULL(s);
    FLP__CHECK_NULL(value);
    return s->ops->get(s, key, value);
}

flp_status flp_sampler_bounds(const flp_sampler *s, int key, double *lo, double *hi)
{
    FLP__CHECK_NULL(s);
    FLP__CHECK_NULL(lo);
    FLP__CHECK_NULL(hi);
    return s->ops->bounds(key, lo, hi);
}

flp_status flp_sampler_io_size(const flp_sampler *s, int64_t *n_in, int64_t *n_out,
                               int *classification)
{
    FLP__CHECK_NULL(s);
    FLP__CHECK_NULL(n_in);
    FLP__CHECK_NULL(n_out);
    FLP__CHECK_NULL(classification);
    return s->ops->io_size(s, n_in, n_out, classification);
}

flp_status flp_sampler_next(flp_sampler *s, flp_split split, flp_episode *ep)
{
    FLP__CHECK_NULL(s);
    FLP__CHECK_NULL(ep);
    if (split != FLP_SPLIT_TRAIN && split != FLP_SPLIT_EVAL)
        return flp__error(FLP_ERR_INVALID, "%s: split %d is neither FLP_SPLIT_TRAIN nor FLP_SPLIT_EVAL",
                          __func__, (int)split);
    return s->ops->next(s, split, ep);
}
