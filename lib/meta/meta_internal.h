/* meta_internal.h - the meta-optimizer's layout, shared with the checkpoint
 * writer and reader (lib/checkpoint/checkpoint.c). */
#ifndef FLP_META_INTERNAL_H
#define FLP_META_INTERNAL_H

#include "core/keys.h"
#include "core/tensor.h"
#include "flp/flp_meta.h"
#include "meta/schedule.h"

/* The most steps a meta-optimizer takes: its count stays exact as the
 * double of Adam's bias corrections (and far from int64 overflow). The
 * checkpoint loader refuses a count beyond it. */
#define FLP__META_MAX_STEPS ((int64_t)1 << 53)

typedef struct {
    double beta1, beta2, eps;
    int nonfinite;          /* FLP_META_NONFINITE policy: 0 skip, 1 zero */
    int64_t restart_every;  /* FLP_META_RESTART_EVERY: 0 never */
} flp__adam_settings;

struct flp_meta {
    flp_net *net;
    flp_feedback *fb;       /* may be NULL */
    flp_rule *rule;         /* may be NULL */
    /* The tensor list as collected at create: names, groups and counts are
     * the configuration every later call is checked against. Its value/grad
     * pointers are never used after create (a handle may reallocate). */
    flp__tensor_list ref;
    /* Fresh views re-collected by each non-const call; kept so that its
     * capacity is reused and a step allocates nothing. */
    flp__tensor_list views;
    /* One arena: Adam's first moments of every tensor in list order, then
     * the second moments in the same order (total floats each). */
    float *moments;
    int64_t total;
    int64_t step;           /* applied meta-steps, 0 to FLP__META_MAX_STEPS */
    flp__adam_settings adam;
    flp__schedule sched;
};

/* Clear `list` and fill it with fresh views of the meta-parameters of the
 * handles `meta` was created over, then check that names, groups and counts
 * still match the configuration at create: FLP_ERR_STATE naming the first
 * difference, reported as coming from `fn`. */
flp_status flp__meta_collect(const flp_meta *meta, flp__tensor_list *list, const char *fn);

/* Adam's moments of the tensor whose values start `offset` floats into the
 * concatenation of all tensors in list order. */
float *flp__meta_m(const flp_meta *meta, int64_t offset);
float *flp__meta_v(const flp_meta *meta, int64_t offset);

/* The optimizer's settings (meta_keys.c): FLP_META_KEY_MAP as a table, and
 * a key's value in / into a settings struct (the key must be in the map),
 * which the checkpoint stores and restores. */
extern const flp__key_map flp__meta_keys;
enum { FLP__META_NKEYS = 0 FLP_META_KEY_MAP(FLP__KEY_COUNT) };
/* The meta-batch's (batch.c): its own keys, then the lifetime's forwarded. */
extern const flp__key_map flp__batch_keys;
double flp__meta_setting(const flp__adam_settings *a, int key);
/* Steps since Adam last started afresh (FLP_META_RESTART_EVERY): what its
 * bias correction and the schedules count. */
int64_t flp__meta_run_step(const flp_meta *meta);
void flp__meta_store_setting(flp__adam_settings *a, int key, double value);

#endif
