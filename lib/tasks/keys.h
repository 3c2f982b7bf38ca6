/* keys.h - integer-valued sampler settings described by a table indexed by
 * the sampler's key enum (flp_sine_key, flp_fewshot_key, ...), so that every
 * sampler checks, reads and bounds its settings the same way and with the
 * same messages. */
#ifndef FLP_TASKS_KEYS_H
#define FLP_TASKS_KEYS_H

#include "flp/flp_common.h"

typedef struct {
    const char *name; /* the enum constant's name, e.g. "FLP_SINE_TASKS" */
    int64_t def, lo, hi;
} flp__int_key;

/* In the functions below `keys` has `n` entries, `enum_name` (e.g.
 * "flp_sine_key") names the key enum and `fn` the public function messages
 * are reported under. A key outside [0, n) is FLP_ERR_INVALID. */

/* FLP_OK if `value` is an integer within the key's bounds, else
 * FLP_ERR_RANGE. */
flp_status flp__int_key_check(const flp__int_key *keys, int n, const char *enum_name, int key,
                              double value, const char *fn);

/* *value = set[key]. */
flp_status flp__int_key_get(int n, const char *enum_name, const int64_t *set, int key,
                            double *value, const char *fn);

/* The key's bounds as doubles. */
flp_status flp__int_key_bounds(const flp__int_key *keys, int n, const char *enum_name, int key,
                               double *lo, double *hi, const char *fn);

/* set[k] = keys[k].def for every key. */
void flp__int_key_defaults(const flp__int_key *keys, int n, int64_t *set);

/* FLP_OK if every one of the n values decoded from a saved state lies within
 * its key's bounds, else FLP_ERR_FORMAT reported under `who`. */
flp_status flp__int_key_check_saved(const flp__int_key *keys, int n, const int64_t *set,
                                    const char *who);

#endif
