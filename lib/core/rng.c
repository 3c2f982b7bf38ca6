/* rng.c - xoshiro256** (Blackman & Vigna) seeded by splitmix64. */
#include "core/rng_internal.h"

#include <math.h>

#include "core/alloc.h"
#include "core/error.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void flp__rng_seed(flp_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

uint64_t flp__rng_u64(flp_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double flp__rng_unit(flp_rng *rng) { return (double)(flp__rng_u64(rng) >> 11) * 0x1.0p-53; }

double flp__rng_gauss(flp_rng *rng)
{
    double u1 = 1.0 - flp__rng_unit(rng); /* (0, 1]: log stays finite */
    double u2 = flp__rng_unit(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t flp__rng_below(flp_rng *rng, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do
        r = flp__rng_u64(rng);
    while (r >= limit);
    return r % n;
}

void flp__rng_shuffle(flp_rng *rng, int64_t *idx, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)flp__rng_below(rng, (uint64_t)i + 1);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

flp_status flp_rng_create(uint64_t seed, flp_rng **out)
{
    FLP__CHECK_NULL(out);
    *out = NULL;
    flp_rng *rng = flp__alloc_bytes(sizeof *rng, "flp_rng");
    if (rng == NULL)
        return FLP_ERR_NOMEM;
    flp__rng_seed(rng, seed);
    *out = rng;
    return FLP_OK;
}

void flp_rng_free(flp_rng *rng) { flp__free(rng); }

flp_status flp_rng_seed(flp_rng *rng, uint64_t seed)
{
    FLP__CHECK_NULL(rng);
    flp__rng_seed(rng, seed);
    return FLP_OK;
}

flp_status flp_rng_next(flp_rng *rng, uint64_t *out)
{
    FLP__CHECK_NULL(rng);
    FLP__CHECK_NULL(out);
    *out = flp__rng_u64(rng);
    return FLP_OK;
}

static flp_status check_fill(const char *fn, const flp_rng *rng, const float *dst, int64_t n)
{
    if (rng == NULL)
        return flp__error(FLP_ERR_NULL, "%s: argument 'rng' is NULL", fn);
    if (n < 0)
        return flp__error(FLP_ERR_RANGE, "%s: n = %lld is negative", fn, (long long)n);
    if (dst == NULL && n > 0)
        return flp__error(FLP_ERR_NULL, "%s: argument 'dst' is NULL", fn);
    return FLP_OK;
}

flp_status flp_rng_uniform(flp_rng *rng, float lo, float hi, float *dst, int64_t n)
{
    FLP__TRY(check_fill(__func__, rng, dst, n));
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
        return flp__error(FLP_ERR_RANGE, "%s: need finite lo <= hi, got [%g, %g)", __func__, lo, hi);
    /* hi - lo in float, as always, so that existing streams keep their values;
     * in double only where the float difference overflows. */
    double span = (double)(hi - lo);
    if (!isfinite(span))
        span = (double)hi - (double)lo;
    float below_hi = nextafterf(hi, lo); /* == hi only when lo == hi */
    for (int64_t i = 0; i < n; i++) {
        /* rounding to float can reach hi when u is within 2^-25 of 1: keep [lo, hi) */
        float v = (float)(lo + span * flp__rng_unit(rng));
        dst[i] = v < hi ? v : below_hi;
    }
    return FLP_OK;
}

flp_status flp_rng_normal(flp_rng *rng, float mean, float std, float *dst, int64_t n)
{
    FLP__TRY(check_fill(__func__, rng, dst, n));
    if (!(std >= 0) || !isfinite(std) || !isfinite(mean))
        return flp__error(FLP_ERR_RANGE, "%s: need finite mean and std >= 0, got %g, %g", __func__, mean, std);
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)(mean + std * flp__rng_gauss(rng));
    return FLP_OK;
}

flp_status flp_rng_get_state(const flp_rng *rng, uint64_t state[4])
{
    FLP__CHECK_NULL(rng);
    FLP__CHECK_NULL(state);
    for (int i = 0; i < 4; i++)
        state[i] = rng->s[i];
    return FLP_OK;
}

flp_status flp_rng_set_state(flp_rng *rng, const uint64_t state[4])
{
    FLP__CHECK_NULL(rng);
    FLP__CHECK_NULL(state);
    if ((state[0] | state[1] | state[2] | state[3]) == 0)
        return flp__error(FLP_ERR_INVALID, "%s: the all-zero state is not a valid xoshiro256** state", __func__);
    for (int i = 0; i < 4; i++)
        rng->s[i] = state[i];
    return FLP_OK;
}
