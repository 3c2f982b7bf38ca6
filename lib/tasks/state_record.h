/* state_record.h - the pieces every sampler's serialised state is built
 * from, so that all of them lay out and check their records the same way
 * and with the same messages.
 *
 * A record is little-endian throughout:
 *
 *     magic[4]  version:u32  seed:u64  setting:u64 x n  ...
 *
 * followed by whatever the sampler adds (generator states, fingerprints).
 * Writers and readers advance a cursor; readers assume the caller has
 * already checked the record's size (flp__state_check_header). */
#ifndef FLP_TASKS_STATE_RECORD_H
#define FLP_TASKS_STATE_RECORD_H

#include "core/rng_internal.h"
#include "flp/flp_common.h"
#include "core/keys.h"

/* Bytes of the magic + version header, of a generator state, and of the
 * seed followed by n settings. */
#define FLP__STATE_HEADER_SIZE 8
#define FLP__STATE_RNG_SIZE 32
#define FLP__STATE_SETTINGS_SIZE(n) (8 + 8 * (n))

void flp__state_put_u32(uint8_t **p, uint32_t v);
void flp__state_put_u64(uint8_t **p, uint64_t v);
uint32_t flp__state_get_u32(const uint8_t **p);
uint64_t flp__state_get_u64(const uint8_t **p);

/* Writes the 4-byte magic and the version. */
void flp__state_write_header(uint8_t **p, const uint8_t magic[4], uint32_t version);

/* FLP_OK if `buf` holds `expected_size` bytes starting with `magic` and
 * `version`. Otherwise FLP_ERR_NULL (buf NULL), FLP_ERR_FORMAT (size or
 * magic) or FLP_ERR_VERSION, reported under `who` (e.g. "sine sampler
 * state"); `kind` names the sampler in the bad-magic message ("sine"). */
flp_status flp__state_check_header(const uint8_t *buf, int64_t n, int64_t expected_size,
                                   const uint8_t magic[4], uint32_t version, const char *who,
                                   const char *kind);

/* The seed, then the n settings. */
void flp__state_write_settings(uint8_t **p, uint64_t seed, const int64_t *set, int n);

/* Reads what flp__state_write_settings wrote for the keys of `map` (one
 * setting per key, set[] indexed by key value) and checks each against its
 * key (FLP_ERR_FORMAT under `who`). */
flp_status flp__state_read_settings(const uint8_t **p, const flp__key_map *map, uint64_t *seed,
                                    int64_t *set, const char *who);

/* A xoshiro generator's four words. */
void flp__state_write_rng(uint8_t **p, const flp_rng *rng);

/* Reads a generator state; an all-zero one (which xoshiro never leaves) is
 * FLP_ERR_FORMAT, reported under `who` with `which` ("training") naming the
 * generator. */
flp_status flp__state_read_rng(const uint8_t **p, flp_rng *rng, const char *who,
                               const char *which);

#endif
