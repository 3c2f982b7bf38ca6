/* lifetime_keys.h - the lifetime's key map as a table (lifetime_keys.c),
 * for flp_batch, which forwards it, the checkpoint and the tests. */
#ifndef FLP_LIFETIME_LIFETIME_KEYS_H
#define FLP_LIFETIME_LIFETIME_KEYS_H

#include "core/keys.h"

extern const flp__key_map flp__lifetime_keys;

#endif
