/* keys.c - integer-valued sampler settings; see keys.h. */
#include "tasks/keys.h"

#include <math.h>

#include "core/error.h"

static flp_status check_key(int n, const char *enum_name, int key, const char *fn)
{
    if (key < 0 || key >= n)
        return flp__error(FLP_ERR_INVALID, "%s: %d is not an %s", fn, key, enum_name);
    return FLP_OK;
}

flp_status flp__int_key_check(const flp__int_key *keys, int n, const char *enum_name, int key,
                              double value, const char *fn)
{
    FLP__TRY(check_key(n, enum_name, key, fn));
    const flp__int_key *k = &keys[key];
    if (!(value >= (double)k->lo && value <= (double)k->hi) || value != floor(value))
        return flp__error(FLP_ERR_RANGE, "%s: %s = %g, expected an integer in [%lld, %lld]", fn,
                          k->name, value, (long long)k->lo, (long long)k->hi);
    return FLP_OK;
}

flp_status flp__int_key_get(int n, const char *enum_name, const int64_t *set, int key,
                            double *value, const char *fn)
{
    FLP__TRY(check_key(n, enum_name, key, fn));
    *value = (double)set[key];
    return FLP_OK;
}

flp_status flp__int_key_bounds(const flp__int_key *keys, int n, const char *enum_name, int key,
                               double *lo, double *hi, const char *fn)
{
    FLP__TRY(check_key(n, enum_name, key, fn));
    *lo = (double)keys[key].lo;
    *hi = (double)keys[key].hi;
    return FLP_OK;
}

void flp__int_key_defaults(const flp__int_key *keys, int n, int64_t *set)
{
    for (int k = 0; k < n; k++)
        set[k] = keys[k].def;
}

flp_status flp__int_key_check_saved(const flp__int_key *keys, int n, const int64_t *set,
                                    const char *who)
{
    for (int k = 0; k < n; k++)
        if (set[k] < keys[k].lo || set[k] > keys[k].hi)
            return flp__error(FLP_ERR_FORMAT, "%s: %s = %lld is outside [%lld, %lld]", who,
                              keys[k].name, (long long)set[k], (long long)keys[k].lo,
                              (long long)keys[k].hi);
    return FLP_OK;
}
