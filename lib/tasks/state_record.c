/* state_record.c - shared pieces of the samplers' serialised states; see
 * state_record.h. */
#include "tasks/state_record.h"

#include <string.h>

#include "core/error.h"

void flp__state_put_u32(uint8_t **p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *(*p)++ = (uint8_t)(v >> (8 * i));
}

void flp__state_put_u64(uint8_t **p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *(*p)++ = (uint8_t)(v >> (8 * i));
}

uint32_t flp__state_get_u32(const uint8_t **p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)*(*p)++ << (8 * i);
    return v;
}

uint64_t flp__state_get_u64(const uint8_t **p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)*(*p)++ << (8 * i);
    return v;
}

void flp__state_write_header(uint8_t **p, const uint8_t magic[4], uint32_t version)
{
    memcpy(*p, magic, 4);
    *p += 4;
    flp__state_put_u32(p, version);
}

flp_status flp__state_check_header(const uint8_t *buf, int64_t n, int64_t expected_size,
                                   const uint8_t magic[4], uint32_t version, const char *who,
                                   const char *kind)
{
    if (buf == NULL)
        return flp__error(FLP_ERR_NULL, "%s: argument 'buf' is NULL", who);
    if (n != expected_size)
        return flp__error(FLP_ERR_FORMAT, "%s: %lld bytes, expected %lld", who, (long long)n,
                          (long long)expected_size);
    if (memcmp(buf, magic, 4) != 0)
        return flp__error(FLP_ERR_FORMAT, "%s: bad magic (not a %s sampler)", who, kind);
    const uint8_t *p = buf + 4;
    uint32_t saved = flp__state_get_u32(&p);
    if (saved != version)
        return flp__error(FLP_ERR_VERSION, "%s: version %u, this library reads %u", who, saved,
                          version);
    return FLP_OK;
}

void flp__state_write_settings(uint8_t **p, uint64_t seed, const int64_t *set, int n)
{
    flp__state_put_u64(p, seed);
    for (int k = 0; k < n; k++)
        flp__state_put_u64(p, (uint64_t)set[k]);
}

flp_status flp__state_read_settings(const uint8_t **p, const flp__key_map *map, uint64_t *seed,
                                    int64_t *set, const char *who)
{
    *seed = flp__state_get_u64(p);
    for (int k = 0; k < map->n; k++)
        set[k] = (int64_t)flp__state_get_u64(p);
    for (int i = 0; i < map->n; i++)
        FLP__TRY(flp__key_check(&map->keys[i], (double)set[map->keys[i].value], FLP_ERR_FORMAT, who));
    return FLP_OK;
}

void flp__state_write_rng(uint8_t **p, const flp_rng *rng)
{
    for (int i = 0; i < 4; i++)
        flp__state_put_u64(p, rng->s[i]);
}

flp_status flp__state_read_rng(const uint8_t **p, flp_rng *rng, const char *who,
                               const char *which)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = flp__state_get_u64(p);
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
        return flp__error(FLP_ERR_FORMAT, "%s: the %s generator state is all zero", who, which);
    return FLP_OK;
}
