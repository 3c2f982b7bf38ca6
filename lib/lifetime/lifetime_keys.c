/* lifetime_keys.c - the lifetime handle's settings: FLP_LIFETIME_KEY_MAP
 * (flp_lifetime.h) as a table, where each key is kept, and set / get /
 * bounds over it. flp_batch forwards the same keys to its workers. */
#include "lifetime/lifetime_internal.h"
#include "lifetime/lifetime_keys.h"

static const flp__key keys[] = {FLP_LIFETIME_KEY_MAP(FLP__KEY_ENTRY)
                                    FLP_LIFETIME_KEY_MAP_EXPERIMENTAL(FLP__KEY_ENTRY)};

static flp_status store(void *h, int key, double value)
{
    flp_lifetime *lt = h;
    switch ((flp_lifetime_key)key) {
    case FLP_LIFETIME_MEMORY_BUDGET: lt->budget_bytes = value; break;
    case FLP_LIFETIME_CHECK_FINITE: lt->check_finite = (int)value; break;
    case FLP_LIFETIME_REINIT: lt->reinit = (int)value; break;
    case FLP_LIFETIME_REINIT_SEED: lt->reinit_seed = value; break;
    }
    return FLP_OK;
}

static double load(const void *h, int key)
{
    const flp_lifetime *lt = h;
    switch ((flp_lifetime_key)key) {
    case FLP_LIFETIME_MEMORY_BUDGET: return lt->budget_bytes;
    case FLP_LIFETIME_CHECK_FINITE: return lt->check_finite;
    case FLP_LIFETIME_REINIT: return lt->reinit;
    case FLP_LIFETIME_REINIT_SEED: return lt->reinit_seed;
    }
    return 0;
}

const flp__key_map flp__lifetime_keys = {"flp_lifetime_key", "lifetime",
                                         (int)(sizeof keys / sizeof keys[0]), keys, NULL, load,
                                         store};

FLP__KEY_FUNCTIONS(lifetime, "lt")
