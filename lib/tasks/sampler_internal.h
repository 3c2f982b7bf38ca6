/* sampler_internal.h - a sampler is a kind-specific implementation behind a
 * table of operations, so that every task (sine, Omniglot, ...) is driven
 * through the same public calls and checkpointed the same way. */
#ifndef FLP_SAMPLER_INTERNAL_H
#define FLP_SAMPLER_INTERNAL_H

#include "core/keys.h"
#include "flp/flp_episode.h"

typedef struct {
    const char *kind;  /* stable name written into checkpoints, e.g. "sine" */
    /* The kind's settings: its key map, whose load and store take the
     * sampler; flp_sampler_set checks a key and value against it first. */
    const flp__key_map *keys;
    flp_status (*io_size)(const flp_sampler *s, int64_t *n_in, int64_t *n_out, int *classification);
    flp_status (*next)(flp_sampler *s, flp_split split, flp_episode *ep);
    /* Serialized state: everything that determines the episodes still to
     * come (settings, seeds, generator states). */
    int64_t (*state_size)(const flp_sampler *s);
    void (*get_state)(const flp_sampler *s, uint8_t *buf);
    flp_status (*set_state)(flp_sampler *s, const uint8_t *buf, int64_t n);
    void (*destroy)(flp_sampler *s);
} flp__sampler_ops;

/* The sampler kinds' key maps (sine.c, fewshot.c). */
extern const flp__key_map flp__sine_keys;
extern const flp__key_map flp__fewshot_keys;

struct flp_sampler {
    const flp__sampler_ops *ops;
    void *impl;
};

#endif
