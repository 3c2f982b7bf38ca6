/* episode_internal.h - the episode's layout, so that samplers can write an
 * episode's arrays in place instead of building them elsewhere and copying.
 *
 * The six arrays are indexed by flp_episode_array. Both element types
 * (float, int32_t) are 4 bytes, so one capacity per array in elements is
 * enough. An array the episode's kind lacks has count 0 (its buffer, if
 * any, is kept for later episodes). */
#ifndef FLP_EPISODE_INTERNAL_H
#define FLP_EPISODE_INTERNAL_H

#include "flp/flp_episode.h"

#define FLP__EPISODE_NARRAYS 6

typedef enum {
    FLP__EPISODE_EMPTY = 0,
    FLP__EPISODE_REGRESSION = 1,
    FLP__EPISODE_CLASSES = 2
} flp__episode_kind;

struct flp_episode {
    flp__episode_kind kind;
    int64_t steps, batch, n_in, n_out, n_query;
    void *data[FLP__EPISODE_NARRAYS];     /* float or int32_t */
    int64_t count[FLP__EPISODE_NARRAYS];  /* elements in use */
    int64_t cap[FLP__EPISODE_NARRAYS];    /* elements allocated */
};

/* Give `ep` the shape of an episode of `kind` (extents already validated as
 * >= 1), growing buffers only where the new shape needs more room. The
 * contents are then undefined until the caller writes them. On failure
 * (FLP_ERR_NOMEM, FLP_ERR_RANGE if the sizes overflow) the episode is left
 * exactly as it was. `fn` names the public caller in messages. */
flp_status flp__episode_reshape(flp_episode *ep, flp__episode_kind kind, int64_t steps,
                                int64_t batch, int64_t n_in, int64_t n_out, int64_t n_query,
                                const char *fn);

static inline float *flp__episode_f32(flp_episode *ep, flp_episode_array which)
{
    return (float *)ep->data[which];
}

static inline int32_t *flp__episode_i32(flp_episode *ep, flp_episode_array which)
{
    return (int32_t *)ep->data[which];
}

#endif
