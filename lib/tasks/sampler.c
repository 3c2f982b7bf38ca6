/* sampler.c - the public sampler calls: argument checks, then the kind's
 * operation table (sampler_internal.h). Each kind's `destroy` frees the
 * whole handle, which it allocated together with its own state.
 *
 * Settings are checked here against the kind's key map. Sine and few-shot
 * keys share values until the next major version (flp_episode.h), so a key
 * this kind lacks is looked up among the other kinds' to say what it is. */
#include "core/error.h"
#include "tasks/sampler_internal.h"

void flp_sampler_free(flp_sampler *s)
{
    if (s != NULL)
        s->ops->destroy(s);
}

static const flp__key_map *const kinds[] = {&flp__sine_keys, &flp__fewshot_keys};

/* The key of s's kind whose value is `key`: FLP_ERR_INVALID naming it when
 * it belongs to another kind of sampler. */
static flp_status find_key(const flp_sampler *s, int key, const char *fn, const flp__key **k)
{
    const flp__key_map *mine = s->ops->keys;
    *k = flp__key_find(mine, key);
    if (*k != NULL)
        return FLP_OK;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const flp__key *other = kinds[i] != mine ? flp__key_find(kinds[i], key) : NULL;
        if (other != NULL)
            return flp__error(FLP_ERR_INVALID,
                              "%s: key %d is %s, a key of %s samplers; this is a %s sampler (%s)",
                              fn, key, other->name, kinds[i]->handle, mine->handle,
                              mine->enum_name);
    }
    return flp__key_lookup(mine, key, fn, k);
}

flp_status flp_sampler_set(flp_sampler *s, int key, double value)
{
    FLP__CHECK_NULL(s);
    const flp__key *k;
    FLP__TRY(find_key(s, key, __func__, &k));
    FLP__TRY(flp__key_check(k, value, FLP_ERR_RANGE, __func__));
    return s->ops->keys->store(s, key, value);
}

flp_status flp_sampler_get(const flp_sampler *s, int key, double *value)
{
    FLP__CHECK_NULL(s);
    FLP__CHECK_NULL(value);
    const flp__key *k;
    FLP__TRY(find_key(s, key, __func__, &k));
    *value = s->ops->keys->load(s, key);
    return FLP_OK;
}

flp_status flp_sampler_bounds(const flp_sampler *s, int key, double *lo, double *hi)
{
    FLP__CHECK_NULL(s);
    FLP__CHECK_NULL(lo);
    FLP__CHECK_NULL(hi);
    const flp__key *k;
    FLP__TRY(find_key(s, key, __func__, &k));
    *lo = k->lo;
    *hi = k->hi;
    return FLP_OK;
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
