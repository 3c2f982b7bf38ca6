/* lifetime_keys.c - the lifetime handle's settings: FLP_LIFETIME_KEY_MAP
 * (flp_lifetime.h) as a table, and set / get / bounds over it. flp_batch
 * forwards the same keys to its workers. */
#include "core/error.h"
#include "lifetime/lifetime_internal.h"
#include "lifetime/lifetime_keys.h"

enum { N_KEYS = 0 FLP_LIFETIME_KEY_MAP(FLP__KEY_COUNT) };

static const flp__key keys[N_KEYS] = {FLP_LIFETIME_KEY_MAP(FLP__KEY_ENTRY)};

static flp_status get_any(const void *h, int key, double *value)
{
    return flp_lifetime_get(h, (flp_lifetime_key)key, value);
}

static flp_status set_any(void *h, int key, double value)
{
    return flp_lifetime_set(h, (flp_lifetime_key)key, value);
}

const flp__key_map flp__lifetime_keys = {"flp_lifetime_key", "lifetime", N_KEYS, keys,
                                         NULL, get_any, set_any};

flp_status flp_lifetime_set(flp_lifetime *lt, flp_lifetime_key key, double value)
{
    FLP__CHECK_NULL(lt);
    const flp__key *k;
    FLP__TRY(flp__key_check_set(&flp__lifetime_keys, (int)key, value, __func__, &k));
    switch (key) {
    case FLP_LIFETIME_MEMORY_BUDGET: lt->budget_bytes = value; break;
    case FLP_LIFETIME_CHECK_FINITE: lt->check_finite = (int)value; break;
    case FLP_LIFETIME_REINIT: lt->reinit = (int)value; break;
    case FLP_LIFETIME_REINIT_SEED: lt->reinit_seed = value; break;
    }
    return FLP_OK;
}

flp_status flp_lifetime_get(const flp_lifetime *lt, flp_lifetime_key key, double *value)
{
    FLP__CHECK_NULL(lt);
    FLP__CHECK_NULL(value);
    const flp__key *k;
    FLP__TRY(flp__key_lookup(&flp__lifetime_keys, (int)key, __func__, &k));
    switch (key) {
    case FLP_LIFETIME_MEMORY_BUDGET: *value = lt->budget_bytes; break;
    case FLP_LIFETIME_CHECK_FINITE: *value = lt->check_finite; break;
    case FLP_LIFETIME_REINIT: *value = lt->reinit; break;
    case FLP_LIFETIME_REINIT_SEED: *value = lt->reinit_seed; break;
    }
    return FLP_OK;
}

flp_status flp_lifetime_bounds(flp_lifetime_key key, double *lo, double *hi)
{
    return flp__key_bounds(&flp__lifetime_keys, (int)key, lo, hi, __func__);
}
