/* target_checkpoint.c - checkpoint files (flp_checkpoint_load) into a small
 * meta-optimizer with a sine sampler, so that every section is parsed and
 * matched against real handles, the sampler's own state included. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "flp/flp.h"
#include "fuzz.h"

typedef struct {
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    flp_meta *meta;
    flp_sampler *sampler;
} handles;

/* in -> linear 8 -> relu -> linear out under Oja, the sampler's sizes;
 * short episodes and weak plasticity keep the seeds' meta-steps finite. */
static handles *get_handles(void)
{
    static handles h;
    if (h.meta != NULL)
        return &h;
    int64_t in, out;
    int labelled;
    flp_rng *rng = NULL;
    int ok = flp_sampler_create_sine(3, &h.sampler) == FLP_OK &&
             flp_sampler_set(h.sampler, FLP_SINE_BATCHES_PER_TASK, 4) == FLP_OK &&
             flp_sampler_set(h.sampler, FLP_SINE_BATCH, 4) == FLP_OK &&
             flp_sampler_io_size(h.sampler, &in, &out, &labelled) == FLP_OK &&
             flp_rng_create(1, &rng) == FLP_OK && flp_net_create(1, &in, &h.net) == FLP_OK &&
             flp_net_add_linear(h.net, 8, 1) == FLP_OK && flp_net_add_relu(h.net) == FLP_OK &&
             flp_net_add_linear(h.net, out, 1) == FLP_OK &&
             flp_net_init(h.net, FLP_INIT_KAIMING_NORMAL, rng) == FLP_OK &&
             flp_feedback_create(h.net, &h.fb) == FLP_OK &&
             flp_feedback_init(h.fb, rng, 0.5f) == FLP_OK &&
             flp_rule_create(h.net, FLP_RULE_OJA, &h.rule) == FLP_OK &&
             flp_rule_set(h.rule, FLP_RULE_ALPHA_INIT, 1e-4) == FLP_OK &&
             flp_meta_create(h.net, h.fb, h.rule, &h.meta) == FLP_OK;
    flp_rng_free(rng);
    if (!ok) {
        fprintf(stderr, "cannot set up the checkpoint target: %s\n", flp_last_error());
        abort();
    }
    return &h;
}

static void put_crc(uint8_t *at, const uint8_t *from, size_t n)
{
    uint32_t crc = (uint32_t)crc32_z(0L, from, n);
    memcpy(at, &crc, 4);
}

/* Rewrite the header's and every section's CRC (checkpoint_format.h) to
 * match the bytes they cover: a mutated file then gets past the CRC checks
 * to the parsers behind them, which random mutations alone almost never
 * do. Sections are followed as far as their lengths fit the file. */
static void repair_crcs(uint8_t *p, size_t size)
{
    if (size < 28)
        return;
    put_crc(p + 24, p, 24);
    size_t pos = 28;
    while (size - pos >= 16) {
        uint64_t len;
        memcpy(&len, p + pos + 4, 8);
        if (len > size - pos - 16)
            return;
        put_crc(p + pos + 12 + len, p + pos, 12 + (size_t)len);
        pos += 16 + (size_t)len;
    }
}

static flp_status load(handles *h, const uint8_t *data, size_t size)
{
    const char *path = flp_fuzz_file(data, size);
    if (path == NULL)
        return FLP_OK;
    flp_status st = flp_checkpoint_load(path, h->meta, h->sampler);
    if (st == FLP_OK) {
        /* whatever was loaded must be a state the handles can go on from */
        flp_episode *ep = NULL;
        FLP_FUZZ_CHECK(flp_episode_create(&ep) == FLP_OK);
        FLP_FUZZ_CHECK(flp_sampler_next(h->sampler, FLP_SPLIT_TRAIN, ep) == FLP_OK);
        flp_episode_free(ep);
    }
    return st;
}

/* The input as it is (the CRC checks), then with its CRCs repaired (the
 * parsers); the status is the second's, which a valid file passes too. */
flp_status flp_fuzz_run(const uint8_t *data, size_t size)
{
    handles *h = get_handles();
    (void)load(h, data, size);
    uint8_t *fixed = malloc(size + 1);
    FLP_FUZZ_CHECK(fixed != NULL);
    if (size > 0)
        memcpy(fixed, data, size);
    repair_crcs(fixed, size);
    flp_clear_error();
    flp_status st = load(h, fixed, size);
    free(fixed);
    return st;
}

void flp_fuzz_seeds(flp_fuzz_emit emit, void *ctx)
{
    handles *h = get_handles();
    char path[256];
    snprintf(path, sizeof path, "%s.seed", flp_fuzz_file(NULL, 0));
    FLP_FUZZ_CHECK(flp_checkpoint_save(path, h->meta, h->sampler) == FLP_OK);
    flp_fuzz_emit_file(emit, ctx, "fresh.ckpt", path);
    /* after some meta-steps: non-zero moments, a later sampler stream */
    flp_episode *ep = NULL;
    flp_lifetime *lt = NULL;
    FLP_FUZZ_CHECK(flp_episode_create(&ep) == FLP_OK);
    FLP_FUZZ_CHECK(flp_lifetime_create(h->net, h->fb, h->rule, &lt) == FLP_OK);
    for (int i = 0; i < 3; i++) {
        float loss;
        FLP_FUZZ_CHECK(flp_sampler_next(h->sampler, FLP_SPLIT_TRAIN, ep) == FLP_OK);
        FLP_FUZZ_CHECK(flp_meta_train_step(h->meta, lt, ep, &loss) == FLP_OK);
    }
    flp_lifetime_free(lt);
    flp_episode_free(ep);
    FLP_FUZZ_CHECK(flp_checkpoint_save(path, h->meta, h->sampler) == FLP_OK);
    flp_fuzz_emit_file(emit, ctx, "stepped.ckpt", path);
}
