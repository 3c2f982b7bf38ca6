/* meta_keys.c - the optimizer's settings: FLP_META_KEY_MAP (flp_meta.h) as
 * a table, where each key is kept, and set / get / bounds over it. */
#include "meta/meta_internal.h"

static const flp__key keys[FLP__META_NKEYS] = {FLP_META_KEY_MAP(FLP__KEY_ENTRY)};

double flp__meta_setting(const flp__adam_settings *a, int key)
{
    switch ((flp_meta_key)key) {
    case FLP_META_BETA1: return a->beta1;
    case FLP_META_BETA2: return a->beta2;
    case FLP_META_EPSILON: return a->eps;
    case FLP_META_NONFINITE: return a->nonfinite;
    case FLP_META_RESTART_EVERY: return (double)a->restart_every;
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
    case FLP_META_RESTART_EVERY: a->restart_every = (int64_t)value; break;
    }
}

static double load(const void *h, int key)
{
    return flp__meta_setting(&((const flp_meta *)h)->adam, key);
}

static flp_status store(void *h, int key, double value)
{
    flp__meta_store_setting(&((flp_meta *)h)->adam, key, value);
    return FLP_OK;
}

const flp__key_map flp__meta_keys = {"flp_meta_key", "meta", FLP__META_NKEYS, keys, NULL, load, store};

FLP__KEY_FUNCTIONS(meta, "meta")
