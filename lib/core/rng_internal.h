/* rng_internal.h - the generator's state, for modules that draw from an
 * embedded generator without a handle allocation (samplers, nets). */
#ifndef FLP_CORE_RNG_INTERNAL_H
#define FLP_CORE_RNG_INTERNAL_H

#include "flp/flp_rng.h"

struct flp_rng {
    uint64_t s[4];
};

void flp__rng_seed(flp_rng *rng, uint64_t seed);
uint64_t flp__rng_u64(flp_rng *rng);
/* Uniform double in [0, 1) with 53 random bits. */
double flp__rng_unit(flp_rng *rng);
/* Standard normal (Box-Muller on doubles, one value per call: no cached
 * second value, so the state alone determines the stream). */
double flp__rng_gauss(flp_rng *rng);
/* Uniform integer in [0, n), unbiased. */
uint64_t flp__rng_below(flp_rng *rng, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void flp__rng_shuffle(flp_rng *rng, int64_t *idx, int64_t n);

#endif
