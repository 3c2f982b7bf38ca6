/* check_keys.c - the settings of every handle, walked through the key maps
 * (lib/core/keys.h): bounds, defaults, checks, error codes and messages are
 * the same on every handle, and each map agrees with its handle. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/keys.h"
#include "flp/flp.h"
#include "flp/flp_batch.h"
#include "flp/flp_data.h"
#include "lifetime/lifetime_keys.h"
#include "meta/meta_internal.h"
#include "plasticity/plasticity_internal.h"
#include "tasks/sampler_internal.h"
#include "testutil.h"

/* ---- fixture: one handle of each kind that has settings ------------------ */

static flp_net *net;
static flp_feedback *fb;
static flp_rule *rule;
static flp_lifetime *lt;
static flp_meta *meta;
static flp_batch *batch;
static flp_sampler *sine, *fewshot;
static char dir[256];

/* A data set of 3 classes of 4 images, 2x2, in the MNIST layout. */
static void write_idx(const char *name, const uint8_t *head, size_t nh, const uint8_t *data,
                      size_t n)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(head, 1, nh, f), nh);
    ck_assert_int_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static flp_dataset *tiny_dataset(void)
{
    snprintf(dir, sizeof dir, "/tmp/flp-keys-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const uint8_t ih[16] = {0, 0, 8, 3, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, 2};
    const uint8_t lh[8] = {0, 0, 8, 1, 0, 0, 0, 12};
    uint8_t px[48], lab[12];
    for (int i = 0; i < 48; i++)
        px[i] = (uint8_t)(i * 5);
    for (int i = 0; i < 12; i++)
        lab[i] = (uint8_t)(i % 3);
    write_idx("train-images-idx3-ubyte", ih, sizeof ih, px, sizeof px);
    write_idx("train-labels-idx1-ubyte", lh, sizeof lh, lab, sizeof lab);
    flp_dataset *ds;
    ck_flp(flp_dataset_open_idx(dir, "train", &ds));
    return ds;
}

static void setup(void)
{
    int64_t in = 3;
    ck_flp(flp_net_create(1, &in, &net));
    ck_flp(flp_net_add_linear(net, 4, 1));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_linear(net, 2, 1));
    ck_flp(flp_feedback_create(net, &fb));
    ck_flp(flp_rule_create(net, FLP_RULE_OJA, &rule));
    ck_flp(flp_lifetime_create(net, fb, rule, &lt));
    ck_flp(flp_meta_create(net, fb, rule, &meta));
    ck_flp(flp_batch_create(meta, &batch));
    ck_flp(flp_sampler_create_sine(1, &sine));
    flp_dataset *ds = tiny_dataset();
    ck_flp(flp_sampler_create_fewshot(ds, NULL, 1, &fewshot));
    flp_dataset_free(ds);
}

static void teardown(void)
{
    char path[320];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    unlink(path);
    rmdir(dir);
    flp_sampler_free(fewshot);
    flp_sampler_free(sine);
    flp_batch_free(batch);
    flp_meta_free(meta);
    flp_lifetime_free(lt);
    flp_rule_free(rule);
    flp_feedback_free(fb);
    flp_net_free(net);
}

/* Each handle's public set, get and bounds, in one shape. */
#define PUBLIC_KEYS(name, H, K)                                                                  \
    static flp_status name##_set(void *h, int k, double v) { return flp_##name##_set(h, (K)k, v); } \
    static flp_status name##_get(const void *h, int k, double *v)                               \
    {                                                                                            \
        return flp_##name##_get((const H *)h, (K)k, v);                                          \
    }                                                                                            \
    static flp_status name##_bounds(const void *h, int k, double *lo, double *hi)               \
    {                                                                                            \
        (void)h;                                                                                 \
        return flp_##name##_bounds((K)k, lo, hi);                                                \
    }
PUBLIC_KEYS(feedback, flp_feedback, flp_feedback_key)
PUBLIC_KEYS(rule, flp_rule, flp_rule_key)
PUBLIC_KEYS(lifetime, flp_lifetime, flp_lifetime_key)
PUBLIC_KEYS(meta, flp_meta, flp_meta_key)
PUBLIC_KEYS(batch, flp_batch, flp_batch_key)
static flp_status sampler_set(void *h, int k, double v) { return flp_sampler_set(h, k, v); }
static flp_status sampler_get(const void *h, int k, double *v) { return flp_sampler_get(h, k, v); }
static flp_status sampler_bounds(const void *h, int k, double *lo, double *hi)
{
    return flp_sampler_bounds(h, k, lo, hi);
}

typedef struct {
    const flp__key_map *map;
    void *handle;
    flp_status (*set)(void *h, int key, double value);
    flp_status (*get)(const void *h, int key, double *value);
    flp_status (*bounds)(const void *h, int key, double *lo, double *hi);
    const char *prefix; /* of the public functions: "flp_rule" */
} handle_keys;

#define HANDLE(map, h, name) (handle_keys){&map, h, name##_set, name##_get, name##_bounds, "flp_" #name}

/* Every handle with settings: feedback, rule, both sampler kinds, lifetime,
 * optimizer, meta-batch. */
static int all_handles(handle_keys *h)
{
    int n = 0;
    h[n++] = HANDLE(flp__feedback_keys, fb, feedback);
    h[n++] = HANDLE(flp__rule_keys, rule, rule);
    h[n++] = HANDLE(flp__sine_keys, sine, sampler);
    h[n++] = HANDLE(flp__fewshot_keys, fewshot, sampler);
    h[n++] = HANDLE(flp__lifetime_keys, lt, lifetime);
    h[n++] = HANDLE(flp__meta_keys, meta, meta);
    h[n++] = HANDLE(flp__batch_keys, batch, batch);
    return n;
}

static void expect_message(const char *a, const char *b)
{
    ck_assert_msg(strstr(flp_last_error(), a) != NULL && (b == NULL || strstr(flp_last_error(), b)),
                  "message '%s' lacks '%s' or '%s'", flp_last_error(), a, b ? b : "");
}

/* Values a key must refuse: just outside each bound, NaN, and for integer
 * keys a fraction. */
static int refused_values(const flp__key *k, double *v)
{
    int n = 0, integral = k->type != FLP__KEY_REAL;
    /* (hi + 1 == hi for 2^53) */
    v[n++] = integral && k->lo - 1 != k->lo ? k->lo - 1 : nextafter(k->lo, -INFINITY);
    v[n++] = integral && k->hi + 1 != k->hi ? k->hi + 1 : nextafter(k->hi, INFINITY);
    v[n++] = NAN;
    if (integral && k->lo + 0.5 < k->hi)
        v[n++] = k->lo + 0.5;
    return n;
}

/* Bounds as the map says, the default on a fresh handle, both bounds
 * accepted, and every value outside refused with FLP_ERR_RANGE, a message
 * naming the function and the key, and the setting left alone. */
START_TEST(test_every_key_of_every_handle)
{
    handle_keys hs[8];
    int n = all_handles(hs);
    char fn[64];
    for (int h = 0; h < n; h++) {
        const flp__key_map *m = hs[h].map;
        ck_assert_int_gt(m->n, 0);
        for (int i = 0; i < m->n; i++) {
            const flp__key *k = &m->keys[i];
            double lo = -7, hi = -7, v = -7, bad[4];
            ck_flp(hs[h].bounds(hs[h].handle, k->value, &lo, &hi));
            ck_assert_msg(lo == k->lo && hi == k->hi, "%s: bounds [%g, %g]", k->name, lo, hi);
            ck_assert_msg(k->lo <= k->def && k->def <= k->hi, "%s: default outside", k->name);
            ck_flp(hs[h].get(hs[h].handle, k->value, &v));
            ck_assert_msg(v == m->load(hs[h].handle, k->value), "%s: the map reads otherwise", k->name);
            if (k->value == FLP_RULE_PLASTIC_LAST && m == &flp__rule_keys)
                ck_assert_double_eq(v, 2); /* "all": both linear layers */
            else
                ck_assert_msg(v == k->def, "%s: fresh value %g, default %g", k->name, v, k->def);
            ck_flp(hs[h].set(hs[h].handle, k->value, k->lo));
            ck_flp(hs[h].get(hs[h].handle, k->value, &v));
            ck_assert_msg(v == k->lo, "%s: set %g, read %g", k->name, k->lo, v);
            if (!(k->value == FLP_SINE_POOL && m == &flp__sine_keys)) { /* 2^20 sinusoids */
                ck_flp(hs[h].set(hs[h].handle, k->value, k->hi));
                ck_flp(hs[h].get(hs[h].handle, k->value, &v));
                if (!(k->value == FLP_RULE_PLASTIC_LAST && m == &flp__rule_keys))
                    ck_assert_msg(v == k->hi, "%s: set %g, read %g", k->name, k->hi, v);
            }
            ck_flp(hs[h].set(hs[h].handle, k->value, k->def));
            snprintf(fn, sizeof fn, "%s_set: %s takes ", hs[h].prefix, k->name);
            for (int b = 0, nb = refused_values(k, bad); b < nb; b++) {
                flp_clear_error();
                flp_status st = hs[h].set(hs[h].handle, k->value, bad[b]);
                ck_assert_msg(st == FLP_ERR_RANGE, "%s = %g: %s", k->name, bad[b], flp_status_name(st));
                expect_message(fn, NULL);
                ck_flp(hs[h].get(hs[h].handle, k->value, &v));
                if (!(k->value == FLP_RULE_PLASTIC_LAST && m == &flp__rule_keys))
                    ck_assert_msg(v == k->def, "%s: changed by a refused %g", k->name, bad[b]);
            }
        }
    }
}
END_TEST

/* One code for a key a handle does not have: FLP_ERR_INVALID, from set,
 * get and bounds alike, naming the function and the key enum. */
START_TEST(test_unknown_key_is_invalid_everywhere)
{
    handle_keys hs[8];
    int n = all_handles(hs);
    static const int unknown[] = {-1, 7, 999, -1000000};
    char fn[64];
    for (int h = 0; h < n; h++) {
        const flp__key_map *m = hs[h].map;
        for (size_t u = 0; u < sizeof unknown / sizeof unknown[0]; u++) {
            double v, lo, hi;
            ck_assert_ptr_null(flp__key_find(m, unknown[u]));
            snprintf(fn, sizeof fn, "%s_set: key %d is not a ", hs[h].prefix, unknown[u]);
            ck_flp_fails(hs[h].set(hs[h].handle, unknown[u], 0), FLP_ERR_INVALID);
            expect_message(fn, m->enum_name);
            ck_flp_fails(hs[h].get(hs[h].handle, unknown[u], &v), FLP_ERR_INVALID);
            expect_message("_get: key", m->enum_name);
            ck_flp_fails(hs[h].bounds(hs[h].handle, unknown[u], &lo, &hi), FLP_ERR_INVALID);
            expect_message("_bounds: key", m->enum_name);
        }
    }
}
END_TEST

/* Messages name keys and give bounds the way a user reads them. */
START_TEST(test_messages_name_the_key)
{
    const struct {
        flp_status (*set)(void *h, int key, double value);
        void *handle;
        int key;
        double value;
        const char *message;
    } cases[] = {
        {rule_set, rule, FLP_RULE_PLASTIC_LAST, 2.5,
         "flp_rule_set: FLP_RULE_PLASTIC_LAST takes an integer in [0, 1000000000], got 2.5"},
        {rule_set, rule, FLP_RULE_HIDDEN_MULTIPLIER, INFINITY,
         "FLP_RULE_HIDDEN_MULTIPLIER takes a value in [-1e+30, 1e+30], got inf"},
        {meta_set, meta, FLP_META_BETA1, 1, "flp_meta_set: FLP_META_BETA1 takes a value in [0, 1), got 1"},
        {meta_set, meta, FLP_META_EPSILON, 0, "FLP_META_EPSILON takes a value in (0, inf), got 0"},
        {lifetime_set, lt, FLP_LIFETIME_MEMORY_BUDGET, -1,
         "FLP_LIFETIME_MEMORY_BUDGET takes a value in [0, inf), got -1"},
        {lifetime_set, lt, FLP_LIFETIME_REINIT_SEED, 1e16,
         "FLP_LIFETIME_REINIT_SEED takes an integer in [0, 9007199254740992], got 1e+16"},
        {feedback_set, fb, FLP_FEEDBACK_RELU, 2, "flp_feedback_set: FLP_FEEDBACK_RELU takes 0 or 1, got 2"},
        {batch_set, batch, FLP_BATCH_REINIT, 0.5, "flp_batch_set: FLP_BATCH_REINIT takes 0 or 1, got 0.5"},
        {sampler_set, sine, FLP_SINE_TASKS, NAN,
         "flp_sampler_set: FLP_SINE_TASKS takes an integer in [1, 4096], got nan"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_flp_fails(cases[i].set(cases[i].handle, cases[i].key, cases[i].value), FLP_ERR_RANGE);
        expect_message(cases[i].message, NULL);
    }
}
END_TEST

/* Sine and few-shot keys share values: a key only the other kind has is
 * refused, named, and changes nothing. */
START_TEST(test_foreign_sampler_keys)
{
    double v, lo, hi, before[5];
    for (int k = 0; k < 5; k++)
        ck_flp(flp_sampler_get(fewshot, k, &before[k]));
    ck_flp_fails(flp_sampler_set(fewshot, FLP_SINE_POOL, 10), FLP_ERR_INVALID);
    expect_message("flp_sampler_set: key 5 is FLP_SINE_POOL, a key of sine samplers; this is a "
                   "few-shot sampler (flp_fewshot_key)",
                   NULL);
    ck_flp_fails(flp_sampler_get(fewshot, FLP_SINE_SHUFFLE_EXAMPLES, &v), FLP_ERR_INVALID);
    expect_message("FLP_SINE_SHUFFLE_EXAMPLES, a key of sine samplers", NULL);
    ck_flp_fails(flp_sampler_bounds(fewshot, FLP_SINE_POOL, &lo, &hi), FLP_ERR_INVALID);
    expect_message("flp_sampler_bounds: key 5 is FLP_SINE_POOL", NULL);
    for (int k = 0; k < 5; k++) {
        ck_flp(flp_sampler_get(fewshot, k, &v));
        ck_assert_double_eq(v, before[k]);
    }
    /* a value no kind has is just unknown */
    ck_flp_fails(flp_sampler_set(sine, 7, 1), FLP_ERR_INVALID);
    expect_message("flp_sampler_set: key 7 is not a flp_sine_key", NULL);
}
END_TEST

/* The batch's keys after FLP_BATCH_THREADS are the lifetime's, forwarded:
 * same fields, types, defaults and bounds, value + 1, the ABI's values. */
START_TEST(test_batch_forwards_the_lifetime_keys)
{
    ck_assert_int_eq(FLP_BATCH_THREADS, 0);
    ck_assert_int_eq(FLP_BATCH_MEMORY_BUDGET, 1);
    ck_assert_int_eq(FLP_BATCH_CHECK_FINITE, 2);
    ck_assert_int_eq(FLP_BATCH_REINIT, 3);
    ck_assert_int_eq(FLP_BATCH_REINIT_SEED, 4);
    ck_assert_int_eq(flp__batch_keys.n, 1 + flp__lifetime_keys.n);
    for (int i = 0; i < flp__lifetime_keys.n; i++) {
        const flp__key *l = &flp__lifetime_keys.keys[i];
        const flp__key *b = flp__key_find(&flp__batch_keys, l->value + 1);
        ck_assert_ptr_nonnull(b);
        char name[64];
        snprintf(name, sizeof name, "FLP_BATCH_%s", l->field);
        ck_assert_str_eq(b->name, name);
        ck_assert(b->type == l->type && b->def == l->def && b->lo == l->lo && b->hi == l->hi);
    }
}
END_TEST

Suite *make_keys_suite(void)
{
    Suite *s = suite_create("keys");
    TCase *tc = tcase_create("keys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_every_key_of_every_handle);
    tcase_add_test(tc, test_unknown_key_is_invalid_everywhere);
    tcase_add_test(tc, test_messages_name_the_key);
    tcase_add_test(tc, test_foreign_sampler_keys);
    tcase_add_test(tc, test_batch_forwards_the_lifetime_keys);
    suite_add_tcase(s, tc);
    return s;
}
