/* keys.h - the settings of every handle, as its key map says (the
 * FLP_<HANDLE>_KEY_MAP X-macros of include/flp/, flp_common.h "key maps").
 *
 * Each handle turns its map into a flp__key_map (a table of flp__key, one
 * per line of the map, plus how to read and write the handle), and checks
 * keys and values only through the functions below. So every handle refuses
 * an unknown key and a value out of bounds with the same codes and the same
 * messages, and the checkpoint and the tests can walk every setting of
 * every handle without a list of their own. What a key does when set stays
 * with its handle (the handle's *_keys.c, or its sampler kind). */
#ifndef FLP_CORE_KEYS_H
#define FLP_CORE_KEYS_H

#include <stddef.h>

#include "flp/flp_common.h"

typedef enum {
    FLP__KEY_INT = 0,   /* an integer in [lo, hi] */
    FLP__KEY_BOOL = 1,  /* 0 or 1 */
    FLP__KEY_ENUM = 2,  /* an integer in [lo, hi]: the values of an enum */
    FLP__KEY_REAL = 3   /* any double in [lo, hi] (never NaN) */
} flp__key_type;

typedef struct {
    const char *name;   /* the enumerator, "FLP_RULE_PLASTIC_LAST" */
    const char *field;  /* its last part, "PLASTIC_LAST" */
    int value;
    flp__key_type type;
    double def, lo, hi;
} flp__key;

/* One line of a key map as a flp__key: `static const flp__key k[] = {
 * FLP_RULE_KEY_MAP(FLP__KEY_ENTRY) };`. */
#define FLP__KEY_ENTRY(handle, name, value, type, def, lo, hi)                                   \
    {"FLP_" #handle "_" #name, #name, (value), FLP__KEY_##type, (def), (lo), (hi)},
/* The number of lines of a map: `enum { N = 0 FLP_RULE_KEY_MAP(FLP__KEY_COUNT) };`. */
#define FLP__KEY_COUNT(handle, name, value, type, def, lo, hi) +1

typedef struct flp__key_map {
    const char *enum_name;  /* "flp_rule_key" */
    const char *handle;     /* "rule": the handle in messages and checkpoint lines */
    int n;
    const flp__key *keys;   /* [n] */
    /* Name of value `v` of ENUM key `key` for checkpoint lines ("synapse"),
     * or NULL: the value is written as a number. NULL: no names. */
    const char *(*value_name)(int key, int v);
    /* What is the handle's own: its value of a key of the map, and what
     * setting a key does (called with a key of the map and a value it
     * accepts; may still fail, e.g. FLP_ERR_NOMEM). */
    double (*load)(const void *handle, int key);
    flp_status (*store)(void *handle, int key, double value);
} flp__key_map;

/* The key of `map` whose value is `key`, or NULL. */
const flp__key *flp__key_find(const flp__key_map *map, int key);

/* *k = the key of `map` whose value is `key`; FLP_ERR_INVALID "fn: key 12
 * is not a flp_rule_key" if there is none. */
flp_status flp__key_lookup(const flp__key_map *map, int key, const char *fn, const flp__key **k);

/* FLP_OK if `value` is one `k` accepts; otherwise `status` (FLP_ERR_RANGE
 * for a setter, FLP_ERR_FORMAT for a file) with "who: FLP_RULE_PLASTIC_LAST
 * takes an integer in [0, 1000000000], got 2.5". */
flp_status flp__key_check(const flp__key *k, double value, flp_status status, const char *who);

/* A public flp_<handle>_set / _get: `handle` is not NULL (FLP_ERR_NULL
 * naming the argument `arg`, and `value` for get), the key is the map's
 * (FLP_ERR_INVALID) and, for set, accepts `value` (FLP_ERR_RANGE); then
 * the map's store / load. `fn` names the public function in messages. */
flp_status flp__key_set(const flp__key_map *map, void *handle, const char *arg, int key,
                        double value, const char *fn);
flp_status flp__key_get(const flp__key_map *map, const void *handle, const char *arg, int key,
                        double *value, const char *fn);

/* A public flp_*_bounds: NULL checks, then the key's [lo, hi]. */
flp_status flp__key_bounds(const flp__key_map *map, int key, double *lo, double *hi,
                           const char *fn);

/* The public flp_<handle>_set, _get and _bounds of a handle type
 * flp_<handle> with keys flp_<handle>_key over its map flp__<handle>_keys,
 * `arg` naming the handle argument in messages: each handle's *_keys.c
 * says `FLP__KEY_FUNCTIONS(rule, "rule")` once. */
#define FLP__KEY_FUNCTIONS(handle, arg)                                                          \
    flp_status flp_##handle##_set(flp_##handle *h, flp_##handle##_key key, double value)          \
    {                                                                                            \
        return flp__key_set(&flp__##handle##_keys, h, arg, (int)key, value, "flp_" #handle "_set"); \
    }                                                                                            \
    flp_status flp_##handle##_get(const flp_##handle *h, flp_##handle##_key key, double *value)   \
    {                                                                                            \
        return flp__key_get(&flp__##handle##_keys, h, arg, (int)key, value, "flp_" #handle "_get"); \
    }                                                                                            \
    flp_status flp_##handle##_bounds(flp_##handle##_key key, double *lo, double *hi)             \
    {                                                                                            \
        return flp__key_bounds(&flp__##handle##_keys, (int)key, lo, hi, "flp_" #handle "_bounds");  \
    }

/* The checkpoint's text for key `k` of `map` at `value`: *name gets
 * "rule.plastic_last", *text "2" (INT, BOOL; ENUM without a name), the
 * value's name ("synapse") or, for REAL, "%a" (exact). */
void flp__key_describe(const flp__key_map *map, const flp__key *k, double value, char *name,
                       size_t name_size, char *text, size_t text_size);

#endif
