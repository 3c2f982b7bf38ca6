/* limits.c - the resource limits (flp_set_limit): one table of names,
 * defaults and bounds; each value is process-wide, read from the
 * environment variable of its name the first time it is needed. */
#include "core/limits.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"

typedef struct {
    const char *name; /* the enumerator, also the environment variable */
    const char *unit; /* what the value counts, in messages */
    uint64_t def, lo, hi;
} limit_info;

/* Defaults: 2^24 pixels (4096 x 4096) is 80 times an ImageNet photo
 * (about 500 x 375) and costs at most 200 MB decoded as RGB floats; the
 * largest IDX file of EMNIST holds 547 MB of values; the largest
 * Mini-ImageNet split file is 1.6 MB. The upper bounds keep every size
 * computed from a limit (float planes, buffers) far from overflow. */
static const limit_info limits[] = {
    [FLP_LIMIT_IMAGE_PIXELS] = {"FLP_LIMIT_IMAGE_PIXELS", "pixels", (uint64_t)1 << 24, 1,
                                (uint64_t)1 << 32},
    [FLP_LIMIT_IDX_BYTES] = {"FLP_LIMIT_IDX_BYTES", "bytes", (uint64_t)1 << 31, 1, (uint64_t)1 << 40},
    [FLP_LIMIT_CSV_BYTES] = {"FLP_LIMIT_CSV_BYTES", "bytes", (uint64_t)1 << 26, 1, (uint64_t)1 << 40},
};
#define N_LIMITS ((int)(sizeof limits / sizeof limits[0]))

/* 0: not yet read from the environment. */
static _Atomic uint64_t values[N_LIMITS];
/* 1 when the environment variable was set but not usable. */
static atomic_int env_ignored[N_LIMITS];

static uint64_t from_environment(int k)
{
    const char *s = getenv(limits[k].name);
    if (s == NULL || *s == '\0')
        return limits[k].def;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || v < limits[k].lo || v > limits[k].hi) {
        atomic_store(&env_ignored[k], 1);
        return limits[k].def;
    }
    return (uint64_t)v;
}

uint64_t flp__limit(flp_limit limit)
{
    int k = (int)limit;
    uint64_t v = atomic_load_explicit(&values[k], memory_order_relaxed);
    if (v != 0)
        return v;
    uint64_t expected = 0;
    atomic_compare_exchange_strong(&values[k], &expected, from_environment(k));
    return atomic_load(&values[k]);
}

static flp_status check_key(flp_limit limit, const char *fn)
{
    if ((int)limit < 0 || (int)limit >= N_LIMITS)
        return flp__error(FLP_ERR_RANGE, "%s: limit %d is not a flp_limit (0 to %d)", fn, (int)limit,
                          N_LIMITS - 1);
    return FLP_OK;
}

flp_status flp_set_limit(flp_limit limit, int64_t value)
{
    FLP__TRY(check_key(limit, __func__));
    const limit_info *L = &limits[limit];
    if (value < 0 || (uint64_t)value < L->lo || (uint64_t)value > L->hi)
        return flp__error(FLP_ERR_RANGE, "%s: %s = %lld, expected %llu to %llu", __func__, L->name,
                          (long long)value, (unsigned long long)L->lo, (unsigned long long)L->hi);
    atomic_store(&values[limit], (uint64_t)value);
    return FLP_OK;
}

flp_status flp_get_limit(flp_limit limit, int64_t *value)
{
    FLP__CHECK_NULL(value);
    FLP__TRY(check_key(limit, __func__));
    *value = (int64_t)flp__limit(limit);
    return FLP_OK;
}

flp_status flp_limit_bounds(flp_limit limit, int64_t *lo, int64_t *hi)
{
    FLP__CHECK_NULL(lo);
    FLP__CHECK_NULL(hi);
    FLP__TRY(check_key(limit, __func__));
    *lo = (int64_t)limits[limit].lo;
    *hi = (int64_t)limits[limit].hi;
    return FLP_OK;
}

flp_status flp__limit_error(flp_limit limit, const char *what_fmt, ...)
{
    const limit_info *L = &limits[limit];
    char what[512];
    va_list ap;
    va_start(ap, what_fmt);
    vsnprintf(what, sizeof what, what_fmt, ap);
    va_end(ap);
    return flp__error(FLP_ERR_RANGE,
                      "%s, more than the limit %s = %llu %s allows (raise it with "
                      "flp_set_limit(%s, n) or the environment variable %s%s)",
                      what, L->name, (unsigned long long)flp__limit(limit), L->unit, L->name, L->name,
                      atomic_load(&env_ignored[limit]) ? "; it is set, but not to a whole number in "
                                                         "range, so the default applies"
                                                       : "");
}
