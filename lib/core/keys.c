/* keys.c - checking settings against a handle's key map; see keys.h. */
#include "core/keys.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"

const flp__key *flp__key_find(const flp__key_map *map, int key)
{
    for (int i = 0; i < map->n; i++)
        if (map->keys[i].value == key)
            return &map->keys[i];
    return NULL;
}

flp_status flp__key_lookup(const flp__key_map *map, int key, const char *fn, const flp__key **k)
{
    *k = flp__key_find(map, key);
    if (*k == NULL)
        return flp__error(FLP_ERR_INVALID, "%s: key %d is not a %s", fn, key, map->enum_name);
    return FLP_OK;
}

/* x in as few digits as give it back exactly: integers as integers, the
 * rest in the shortest %g that round-trips. Returns the digits used (0 for
 * integers and infinities). */
static int format_number(double x, char *buf, size_t n)
{
    if (isnan(x) || isinf(x)) {
        snprintf(buf, n, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
        return 0;
    }
    if (x == floor(x) && fabs(x) <= 9007199254740992.0) {
        snprintf(buf, n, "%.0f", x);
        return 0;
    }
    int digits = 6;
    for (; digits < 17; digits++) {
        snprintf(buf, n, "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            return digits;
    }
    snprintf(buf, n, "%.17g", x);
    return digits;
}

/* One end of a real interval. A bound that is not an integer but whose
 * outward neighbour is one (or infinite) is that neighbour, excluded: the
 * largest double below 1 reads "1)", DBL_MAX "inf)", the smallest
 * positive double "(0". */
static void format_bound(double x, int upper, char *buf, size_t n)
{
    char text[40];
    if (format_number(x, text, sizeof text) > 0 &&
        format_number(nextafter(x, upper ? INFINITY : -INFINITY), text, sizeof text) == 0) {
        snprintf(buf, n, upper ? "%s)" : "(%s", text);
        return;
    }
    format_number(x, text, sizeof text);
    snprintf(buf, n, upper ? "%s]" : "[%s", text);
}

flp_status flp__key_check(const flp__key *k, double value, flp_status status, const char *who)
{
    int integral = k->type != FLP__KEY_REAL;
    if (value >= k->lo && value <= k->hi && (!integral || value == floor(value)))
        return FLP_OK;
    char got[40], lo[44], hi[44], takes[120];
    format_number(value, got, sizeof got);
    if (k->type == FLP__KEY_BOOL) {
        snprintf(takes, sizeof takes, "0 or 1");
    } else if (integral) {
        format_number(k->lo, lo, sizeof lo);
        format_number(k->hi, hi, sizeof hi);
        snprintf(takes, sizeof takes, "an integer in [%s, %s]", lo, hi);
    } else {
        format_bound(k->lo, 0, lo, sizeof lo);
        format_bound(k->hi, 1, hi, sizeof hi);
        snprintf(takes, sizeof takes, "a value in %s, %s", lo, hi);
    }
    return flp__error(status, "%s: %s takes %s, got %s", who, k->name, takes, got);
}

static flp_status null_argument(const char *fn, const char *arg)
{
    return flp__error(FLP_ERR_NULL, "%s: argument '%s' is NULL", fn, arg);
}

flp_status flp__key_set(const flp__key_map *map, void *handle, const char *arg, int key,
                        double value, const char *fn)
{
    if (handle == NULL)
        return null_argument(fn, arg);
    const flp__key *k;
    FLP__TRY(flp__key_lookup(map, key, fn, &k));
    FLP__TRY(flp__key_check(k, value, FLP_ERR_RANGE, fn));
    return map->store(handle, key, value);
}

flp_status flp__key_get(const flp__key_map *map, const void *handle, const char *arg, int key,
                        double *value, const char *fn)
{
    if (handle == NULL || value == NULL)
        return null_argument(fn, handle == NULL ? arg : "value");
    const flp__key *k;
    FLP__TRY(flp__key_lookup(map, key, fn, &k));
    *value = map->load(handle, key);
    return FLP_OK;
}

flp_status flp__key_bounds(const flp__key_map *map, int key, double *lo, double *hi,
                           const char *fn)
{
    if (lo == NULL || hi == NULL)
        return null_argument(fn, lo == NULL ? "lo" : "hi");
    const flp__key *k;
    FLP__TRY(flp__key_lookup(map, key, fn, &k));
    *lo = k->lo;
    *hi = k->hi;
    return FLP_OK;
}

void flp__key_describe(const flp__key_map *map, const flp__key *k, double value, char *name,
                       size_t name_size, char *text, size_t text_size)
{
    int at = snprintf(name, name_size, "%s.", map->handle);
    for (const char *c = k->field; *c != '\0' && at > 0 && (size_t)at + 1 < name_size; c++)
        name[at++] = (char)tolower((unsigned char)*c);
    name[at < (int)name_size ? at : (int)name_size - 1] = '\0';
    const char *named = k->type == FLP__KEY_ENUM && map->value_name != NULL
                            ? map->value_name(k->value, (int)value)
                            : NULL;
    if (named != NULL)
        snprintf(text, text_size, "%s", named);
    else if (k->type == FLP__KEY_REAL)
        snprintf(text, text_size, "%a", value);
    else
        snprintf(text, text_size, "%lld", (long long)value);
}
