/* meta_keys.c - the optimizer's settings: FLP_META_KEY_MAP (flp_meta.h) as
 * a table, and set / get / bounds over it. */
#include "core/error.h"
#include "meta/meta_internal.h"

static const flp__key keys[FLP__META_NKEYS] = {FLP_META_KEY_MAP(FLP__KEY_ENTRY)};

static flp_status get_any(const void *h, int key, double *value)
{
    return flp_meta_get(h, (flp_meta_key)key, value);
}

static flp_status set_any(void *h, int key, double value)
{
    return flp_meta_set(h, (flp_meta_key)key, value);
}

const flp__key_map flp__meta_keys = {"flp_meta_key", "meta", FLP__META_NKEYS, keys, NULL, get_any, set_any};

double flp__meta_setting(const flp__adam_settings *a, int key)
{
    switch ((flp_meta_key)key) {
    case FLP_META_BETA1: return a->beta1;
    case FLP_META_BETA2: return a->beta2;
    case FLP_META_EPSILON: return a->eps;
    case FLP_META_NONFINITE: return a->nonfinite;
    }
    return 0;
}

void flp__meta_store_setting(flp__adam_settings *a, int key, double value)
{
    switch ((flp_meta_key)key) {
    case FLP_META_BETA1: a->beta1 = value; break;
    case FLP_META_BETA2: a->beta2 = value; break;
    case FLP_META_EPSILON: a->eps = value; break;
    case FLP_META_NONFINITE: a->nonfinite = (int)value; break;
    }
}

flp_status flp_meta_set(flp_meta *meta, flp_meta_key key, double value)
{
    FLP__CHECK_NULL(meta);
    const flp__key *k;
    FLP__TRY(flp__key_check_set(&flp__meta_keys, (int)key, value, __func__, &k));
    flp__meta_store_setting(&meta->adam, (int)key, value);
    return FLP_OK;
}

flp_status flp_meta_get(const flp_meta *meta, flp_meta_key key, double *value)
{
    FLP__CHECK_NULL(meta);
    FLP__CHECK_NULL(value);
    const flp__key *k;
    FLP__TRY(flp__key_lookup(&flp__meta_keys, (int)key, __func__, &k));
    *value = flp__meta_setting(&meta->adam, (int)key);
    return FLP_OK;
}

flp_status flp_meta_bounds(flp_meta_key key, double *lo, double *hi)
{
    return flp__key_bounds(&flp__meta_keys, (int)key, lo, hi, __func__);
}
