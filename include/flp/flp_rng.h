/*
 * flp_rng.h - a reproducible random number generator owned by the caller.
 *
 * xoshiro256** seeded through splitmix64. The same seed gives the same
 * stream on every platform and for every thread count; normals come from
 * Box-Muller in float64 so they do not depend on libm's float paths.
 * The 256-bit state can be saved and restored (checkpoints do this).
 */
#ifndef FLP_RNG_H
#define FLP_RNG_H

#include "flp_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flp_rng flp_rng;

/** Create a generator from a 64-bit seed. *out is set to NULL on error. @since 0.1 */
FLP_API flp_status flp_rng_create(uint64_t seed, flp_rng **out);
/** Free a generator; NULL is accepted. @since 0.1 */
FLP_API void flp_rng_free(flp_rng *rng);
/** Re-seed in place. @since 0.1 */
FLP_API flp_status flp_rng_seed(flp_rng *rng, uint64_t seed);

/** Next raw 64-bit value. @since 0.1 */
FLP_API flp_status flp_rng_next(flp_rng *rng, uint64_t *out);
/** Fill dst[0..n) with uniform values in [lo, hi). @since 0.1 */
FLP_API flp_status flp_rng_uniform(flp_rng *rng, float lo, float hi, float *dst, int64_t n);
/** Fill dst[0..n) with normal values of the given mean and standard deviation. @since 0.1 */
FLP_API flp_status flp_rng_normal(flp_rng *rng, float mean, float std, float *dst, int64_t n);

/** Copy out / restore the generator's state (4 words). @since 0.1 */
FLP_API flp_status flp_rng_get_state(const flp_rng *rng, uint64_t state[4]);
FLP_API flp_status flp_rng_set_state(flp_rng *rng, const uint64_t state[4]);

#ifdef __cplusplus
}
#endif
#endif /* FLP_RNG_H */
