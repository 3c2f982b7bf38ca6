/* check_plasticity.c - the feedback and rule handles (defaults, every key
 * and its bounds, parameters, gradients, the internal tensor lists, every
 * documented error, allocation failures) and the fused update kernels of
 * lib/plasticity/update.h against a double-precision reference, including
 * their non-finite flag and their independence of the thread count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/alloc.h"
#include "core/tensor.h"
#include "plasticity/plasticity_internal.h"
#include "plasticity/update.h"
#include "testutil.h"

#define ck_msg_has(what)                                                                   \
    ck_assert_msg(strstr(flp_last_error(), (what)) != NULL, "message '%s' lacks '%s'",     \
                  flp_last_error(), (what))

static float *floats(int64_t n)
{
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static float *rand_floats(int64_t n, float lo, float hi, uint64_t seed)
{
    float *p = floats(n);
    tu_fill_uniform(p, n, lo, hi, seed);
    return p;
}

/* 5 -> linear 8 -> relu -> linear 6 -> softplus -> linear 3.
 * Linear layers 0, 2, 4 with weights [8,5], [6,8], [3,6]; n_out = 3. */
enum { N_LAYERS = 5, N_OUT = 3 };
static const int linear_layer[N_LAYERS] = {1, 0, 1, 0, 1};
static const int64_t rows_of[N_LAYERS] = {8, 0, 6, 0, 3};
static const int64_t cols_of[N_LAYERS] = {5, 0, 8, 0, 6};

static flp_net *new_mlp(void)
{
    int64_t in = 5;
    flp_net *net;
    ck_flp(flp_net_create(1, &in, &net));
    ck_flp(flp_net_add_linear(net, 8, 1));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_linear(net, 6, 1));
    ck_flp(flp_net_add_softplus(net, 1.0f));
    ck_flp(flp_net_add_linear(net, 3, 0));
    return net;
}

static flp_net *new_empty_net(void)
{
    int64_t in = 4;
    flp_net *net;
    ck_flp(flp_net_create(1, &in, &net));
    return net;
}

/* ======================================================================
 * Feedback pathways
 * ====================================================================== */

static flp_net *fb_net;
static flp_feedback *fb;

static void fb_setup(void)
{
    fb_net = new_mlp();
    ck_flp(flp_feedback_create(fb_net, &fb));
}

static void fb_teardown(void)
{
    flp_feedback_free(fb);
    flp_net_free(fb_net);
    fb = NULL;
    fb_net = NULL;
}

START_TEST(test_fb_create_errors)
{
    flp_feedback *out = (flp_feedback *)&out;
    ck_flp_fails(flp_feedback_create(NULL, &out), FLP_ERR_NULL);
    ck_assert_ptr_null(out);
    ck_msg_has("flp_feedback_create");
    ck_flp_fails(flp_feedback_create(fb_net, NULL), FLP_ERR_NULL);
    flp_net *empty = new_empty_net();
    out = (flp_feedback *)&out;
    ck_flp_fails(flp_feedback_create(empty, &out), FLP_ERR_STATE);
    ck_assert_ptr_null(out);
    flp_net_free(empty);
    flp_feedback_free(NULL);
}
END_TEST

START_TEST(test_fb_create_nomem)
{
    flp_feedback *out = NULL;
    flp__alloc_fail_after(0);
    ck_flp(flp_feedback_create(fb_net, &out));
    int64_t made = flp__alloc_fail_after(0);
    flp_feedback_free(out);
    ck_assert_int_eq(made, 2 + 3); /* handle, pathway array, one block per linear layer */
    for (int64_t n = 1; n <= made; n++) {
        out = (flp_feedback *)&out;
        flp__alloc_fail_after(n);
        ck_flp_fails(flp_feedback_create(fb_net, &out), FLP_ERR_NOMEM);
        flp__alloc_fail_after(0);
        ck_assert_ptr_null(out);
    }
}
END_TEST

START_TEST(test_fb_pathways_and_defaults)
{
    for (int l = 0; l < N_LAYERS; l++) {
        int64_t n = -1;
        if (!linear_layer[l]) {
            ck_flp_fails(flp_feedback_count(fb, l, FLP_FEEDBACK_B, &n), FLP_ERR_INVALID);
            ck_msg_has("flp_feedback_count");
            float x[64];
            ck_flp_fails(flp_feedback_get_param(fb, l, FLP_FEEDBACK_C, x, 8), FLP_ERR_INVALID);
            ck_flp_fails(flp_feedback_set_param(fb, l, FLP_FEEDBACK_C, x, 8), FLP_ERR_INVALID);
            ck_flp_fails(flp_feedback_get_grad(fb, l, FLP_FEEDBACK_BETA, x, 1), FLP_ERR_INVALID);
            continue;
        }
        int64_t nB, nc, nbeta;
        ck_flp(flp_feedback_count(fb, l, FLP_FEEDBACK_B, &nB));
        ck_flp(flp_feedback_count(fb, l, FLP_FEEDBACK_C, &nc));
        ck_flp(flp_feedback_count(fb, l, FLP_FEEDBACK_BETA, &nbeta));
        ck_assert_int_eq(nB, rows_of[l] * N_OUT);
        ck_assert_int_eq(nc, rows_of[l]);
        ck_assert_int_eq(nbeta, 1);
        /* B, c zero, beta 1; gradients zero */
        float *v = rand_floats(nB, 5, 6, 1);
        ck_flp(flp_feedback_get_param(fb, l, FLP_FEEDBACK_B, v, nB));
        for (int64_t i = 0; i < nB; i++)
            ck_assert_float_eq(v[i], 0.0f);
        ck_flp(flp_feedback_get_param(fb, l, FLP_FEEDBACK_C, v, nc));
        for (int64_t i = 0; i < nc; i++)
            ck_assert_float_eq(v[i], 0.0f);
        ck_flp(flp_feedback_get_param(fb, l, FLP_FEEDBACK_BETA, v, 1));
        ck_assert_float_eq(v[0], 1.0f);
        v[0] = 5;
        ck_flp(flp_feedback_get_grad(fb, l, FLP_FEEDBACK_BETA, v, 1));
        ck_assert_float_eq(v[0], 0.0f);
        free(v);
    }
    static const double defaults[] = {
        [FLP_FEEDBACK_SIGNAL] = FLP_SIGNAL_ERROR,
        [FLP_FEEDBACK_RELU] = 1,
        [FLP_FEEDBACK_CLAMP_OUTPUT] = 0,
        [FLP_FEEDBACK_POST_PRESYNAPTIC] = 0,
        [FLP_FEEDBACK_DIFFERENTIATE_SIGNAL] = 0,
    };
    for (int k = 0; k < 5; k++) {
        double v = -9;
        ck_flp(flp_feedback_get(fb, (flp_feedback_key)k, &v));
        ck_assert_double_eq(v, defaults[k]);
    }
}
END_TEST

START_TEST(test_fb_locate_errors)
{
    int64_t n;
    float x[32] = {0};
    ck_flp_fails(flp_feedback_count(NULL, 0, FLP_FEEDBACK_B, &n), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_count(fb, 0, FLP_FEEDBACK_B, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_count(fb, -1, FLP_FEEDBACK_B, &n), FLP_ERR_RANGE);
    ck_msg_has("-1");
    ck_flp_fails(flp_feedback_count(fb, N_LAYERS, FLP_FEEDBACK_B, &n), FLP_ERR_RANGE);
    ck_flp_fails(flp_feedback_count(fb, 0, (flp_feedback_tensor)3, &n), FLP_ERR_RANGE);
    ck_flp_fails(flp_feedback_count(fb, 0, (flp_feedback_tensor)-1, &n), FLP_ERR_RANGE);
    ck_flp_fails(flp_feedback_get_param(NULL, 0, FLP_FEEDBACK_C, x, 8), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_get_param(fb, 0, FLP_FEEDBACK_C, NULL, 8), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_get_param(fb, 0, FLP_FEEDBACK_C, x, 7), FLP_ERR_SHAPE);
    ck_msg_has("flp_feedback_get_param");
    ck_flp_fails(flp_feedback_get_param(fb, 0, FLP_FEEDBACK_C, x, 9), FLP_ERR_SHAPE);
    ck_flp_fails(flp_feedback_get_param(fb, 9, FLP_FEEDBACK_C, x, 8), FLP_ERR_RANGE);
    ck_flp_fails(flp_feedback_get_grad(fb, 0, FLP_FEEDBACK_B, x, 8), FLP_ERR_SHAPE);
    ck_msg_has("flp_feedback_get_grad");
    ck_flp_fails(flp_feedback_get_grad(fb, 0, FLP_FEEDBACK_B, NULL, 24), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_get_grad(NULL, 0, FLP_FEEDBACK_B, x, 24), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_set_param(NULL, 0, FLP_FEEDBACK_B, x, 24), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_set_param(fb, 0, FLP_FEEDBACK_B, NULL, 24), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_set_param(fb, 0, FLP_FEEDBACK_B, x, 23), FLP_ERR_SHAPE);
    ck_msg_has("flp_feedback_set_param");
    ck_flp_fails(flp_feedback_set_param(fb, 0, (flp_feedback_tensor)7, x, 24), FLP_ERR_RANGE);
    ck_flp_fails(flp_feedback_zero_grad(NULL), FLP_ERR_NULL);
}
END_TEST

START_TEST(test_fb_keys)
{
    static const double expect_hi[] = {2, 1, 1, 1, 1};
    for (int k = 0; k < 5; k++) {
        flp_feedback_key key = (flp_feedback_key)k;
        double lo = -9, hi = -9, v = -9, before;
        ck_flp(flp_feedback_bounds(key, &lo, &hi));
        ck_assert_double_eq(lo, 0);
        ck_assert_double_eq(hi, expect_hi[k]);
        for (double x = lo; x <= hi; x += 1) {
            ck_flp(flp_feedback_set(fb, key, x));
            ck_flp(flp_feedback_get(fb, key, &v));
            ck_assert_double_eq(v, x);
        }
        ck_flp(flp_feedback_set(fb, key, lo));
        ck_flp(flp_feedback_get(fb, key, &before));
        const double bad[] = {lo - 1, hi + 1, 0.5, hi - 0.25, NAN, INFINITY, -INFINITY, 1e300};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ck_flp_fails(flp_feedback_set(fb, key, bad[i]), FLP_ERR_RANGE);
            ck_msg_has("flp_feedback_set");
            ck_flp(flp_feedback_get(fb, key, &v));
            ck_assert_double_eq(v, before); /* refused: unchanged */
        }
    }
    /* every other key is settable without touching the rest */
    ck_flp(flp_feedback_set(fb, FLP_FEEDBACK_SIGNAL, FLP_SIGNAL_TARGET_MINUS_SOFTMAX));
    ck_flp(flp_feedback_set(fb, FLP_FEEDBACK_RELU, 0));
    ck_flp(flp_feedback_set(fb, FLP_FEEDBACK_CLAMP_OUTPUT, 1));
    ck_flp(flp_feedback_set(fb, FLP_FEEDBACK_POST_PRESYNAPTIC, 0));
    ck_flp(flp_feedback_set(fb, FLP_FEEDBACK_DIFFERENTIATE_SIGNAL, 1));
    ck_assert_int_eq(fb->signal, FLP_SIGNAL_TARGET_MINUS_SOFTMAX);
    ck_assert_int_eq(fb->relu, 0);
    ck_assert_int_eq(fb->clamp_output, 1);
    ck_assert_int_eq(fb->post_presynaptic, 0);
    ck_assert_int_eq(fb->differentiate_signal, 1);

    double lo, hi, v;
    static const int unknown[] = {6, 7, -1, 1000};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        flp_feedback_key key = (flp_feedback_key)unknown[i];
        ck_flp_fails(flp_feedback_bounds(key, &lo, &hi), FLP_ERR_INVALID);
        ck_msg_has("flp_feedback_bounds");
        ck_flp_fails(flp_feedback_set(fb, key, 0), FLP_ERR_INVALID);
        ck_msg_has("flp_feedback_set");
        ck_flp_fails(flp_feedback_get(fb, key, &v), FLP_ERR_INVALID);
        ck_msg_has("flp_feedback_get");
    }
    ck_flp_fails(flp_feedback_bounds(FLP_FEEDBACK_RELU, NULL, &hi), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_bounds(FLP_FEEDBACK_RELU, &lo, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_set(NULL, FLP_FEEDBACK_RELU, 0), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_get(NULL, FLP_FEEDBACK_RELU, &v), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_get(fb, FLP_FEEDBACK_RELU, NULL), FLP_ERR_NULL);
}
END_TEST

/* B ~ N(0, 2 / n_out) on a large layer; c zeroed; beta set everywhere. */
START_TEST(test_fb_init_stats)
{
    int64_t in = 4;
    flp_net *net;
    ck_flp(flp_net_create(1, &in, &net));
    ck_flp(flp_net_add_linear(net, 300, 1));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_linear(net, 200, 1)); /* n_out = 200: std 0.1 */
    flp_feedback *f;
    ck_flp(flp_feedback_create(net, &f));
    float *c = rand_floats(300, 1, 2, 5);
    ck_flp(flp_feedback_set_param(f, 0, FLP_FEEDBACK_C, c, 300));
    flp_rng *rng;
    ck_flp(flp_rng_create(77, &rng));
    ck_flp(flp_feedback_init(f, rng, 0.625f));

    const double sd = sqrt(2.0 / 200.0);
    static const int lin[2] = {0, 2};
    static const int64_t n_post[2] = {300, 200};
    for (int k = 0; k < 2; k++) {
        int64_t n = n_post[k] * 200;
        float *B = floats(n);
        ck_flp(flp_feedback_get_param(f, lin[k], FLP_FEEDBACK_B, B, n));
        double sum = 0, sum2 = 0;
        for (int64_t i = 0; i < n; i++)
            sum += B[i];
        double mean = sum / (double)n;
        for (int64_t i = 0; i < n; i++)
            sum2 += (B[i] - mean) * (B[i] - mean);
        double s = sqrt(sum2 / (double)(n - 1));
        /* n >= 40000: standard errors 5e-4 (mean) and 3.6e-4 (std) */
        ck_assert_double_eq_tol(mean, 0.0, 0.0025);
        ck_assert_double_eq_tol(s, sd, 0.002);
        free(B);

        float *cv = rand_floats(n_post[k], 3, 4, 6);
        ck_flp(flp_feedback_get_param(f, lin[k], FLP_FEEDBACK_C, cv, n_post[k]));
        for (int64_t i = 0; i < n_post[k]; i++)
            ck_assert_float_eq(cv[i], 0.0f);
        free(cv);
        float beta = 0;
        ck_flp(flp_feedback_get_param(f, lin[k], FLP_FEEDBACK_BETA, &beta, 1));
        ck_assert_float_eq(beta, 0.625f);
    }

    /* the same seed gives the same pathways */
    flp_feedback *g;
    ck_flp(flp_feedback_create(net, &g));
    ck_flp(flp_rng_seed(rng, 77));
    ck_flp(flp_feedback_init(g, rng, 0.625f));
    ck_assert_int_eq(memcmp(f->path[0].B, g->path[0].B, 300 * 200 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(f->path[2].B, g->path[2].B, 200 * 200 * sizeof(float)), 0);

    ck_flp_fails(flp_feedback_init(NULL, rng, 1.0f), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_init(f, NULL, 1.0f), FLP_ERR_NULL);
    ck_flp_fails(flp_feedback_init(f, rng, NAN), FLP_ERR_NONFINITE);
    ck_msg_has("flp_feedback_init");
    ck_flp_fails(flp_feedback_init(f, rng, INFINITY), FLP_ERR_NONFINITE);
    float beta = 0;
    ck_flp(flp_feedback_get_param(f, 0, FLP_FEEDBACK_BETA, &beta, 1));
    ck_assert_float_eq(beta, 0.625f);

    free(c);
    flp_rng_free(rng);
    flp_feedback_free(f);
    flp_feedback_free(g);
    flp_net_free(net);
}
END_TEST

START_TEST(test_fb_params_roundtrip)
{
    for (int l = 0; l < N_LAYERS; l += 2) {
        int64_t nB = rows_of[l] * N_OUT, nc = rows_of[l];
        float *B = rand_floats(nB, -1, 1, 10 + l), *c = rand_floats(nc, -1, 1, 20 + l);
        float beta = 0.25f + (float)l;
        ck_flp(flp_feedback_set_param(fb, l, FLP_FEEDBACK_B, B, nB));
        ck_flp(flp_feedback_set_param(fb, l, FLP_FEEDBACK_C, c, nc));
        ck_flp(flp_feedback_set_param(fb, l, FLP_FEEDBACK_BETA, &beta, 1));
        float *B2 = floats(nB), *c2 = floats(nc), beta2 = 0;
        ck_flp(flp_feedback_get_param(fb, l, FLP_FEEDBACK_B, B2, nB));
        ck_flp(flp_feedback_get_param(fb, l, FLP_FEEDBACK_C, c2, nc));
        ck_flp(flp_feedback_get_param(fb, l, FLP_FEEDBACK_BETA, &beta2, 1));
        ck_assert_int_eq(memcmp(B, B2, (size_t)nB * sizeof(float)), 0);
        ck_assert_int_eq(memcmp(c, c2, (size_t)nc * sizeof(float)), 0);
        ck_assert_float_eq(beta2, beta);

        /* a non-finite value is refused and changes nothing */
        float *bad = floats(nB);
        memcpy(bad, B, (size_t)nB * sizeof(float));
        bad[nB - 1] = NAN;
        ck_flp_fails(flp_feedback_set_param(fb, l, FLP_FEEDBACK_B, bad, nB), FLP_ERR_NONFINITE);
        ck_msg_has("flp_feedback_set_param");
        float inf = INFINITY;
        ck_flp_fails(flp_feedback_set_param(fb, l, FLP_FEEDBACK_BETA, &inf, 1), FLP_ERR_NONFINITE);
        ck_flp_fails(flp_feedback_set_param(fb, l, FLP_FEEDBACK_C, B, nc + 1), FLP_ERR_SHAPE);
        ck_flp(flp_feedback_get_param(fb, l, FLP_FEEDBACK_B, B2, nB));
        ck_flp(flp_feedback_get_param(fb, l, FLP_FEEDBACK_C, c2, nc));
        ck_flp(flp_feedback_get_param(fb, l, FLP_FEEDBACK_BETA, &beta2, 1));
        ck_assert_int_eq(memcmp(B, B2, (size_t)nB * sizeof(float)), 0);
        ck_assert_int_eq(memcmp(c, c2, (size_t)nc * sizeof(float)), 0);
        ck_assert_float_eq(beta2, beta);
        free(B);
        free(c);
        free(B2);
        free(c2);
        free(bad);
    }
}
END_TEST

/* The tensor list: names, groups, counts, and that its views are the
 * handle's storage (values through get_param, gradients through get_grad,
 * zero_grad clearing them). */
START_TEST(test_fb_tensors_and_grads)
{
    flp__tensor_list list = {NULL, 0, 0};
    ck_flp(flp__feedback_tensors(fb, &list));
    ck_assert_int_eq(list.n, 9);
    static const char *const suffix[3] = {"B", "c", "beta"};
    static const int group[3] = {FLP_GROUP_FEEDBACK, FLP_GROUP_FEEDBACK, FLP_GROUP_STRENGTH};
    int64_t total = 0;
    for (int k = 0; k < 3; k++) {
        int l = 2 * k;
        for (int t = 0; t < 3; t++) {
            const flp__tensor *x = &list.items[3 * k + t];
            char name[32];
            snprintf(name, sizeof name, "feedback.%d.%s", l, suffix[t]);
            ck_assert_str_eq(x->name, name);
            ck_assert_int_eq(x->group, group[t]);
            int64_t n;
            ck_flp(flp_feedback_count(fb, l, (flp_feedback_tensor)t, &n));
            ck_assert_int_eq(x->count, n);
            total += n;
            ck_assert_ptr_nonnull(x->value);
            ck_assert_ptr_nonnull(x->grad);
            for (int64_t i = 0; i < x->count; i++) {
                x->value[i] = (float)(100 * l + 10 * t) + (float)i;
                x->grad[i] = -1.0f - (float)i;
            }
        }
    }
    ck_assert_int_eq(flp__tensor_list_total(&list), total);
    ck_assert_int_eq(total, (8 + 6 + 3) * (N_OUT + 1) + 3);

    for (int l = 0; l < N_LAYERS; l += 2)
        for (int t = 0; t < 3; t++) {
            int64_t n;
            ck_flp(flp_feedback_count(fb, l, (flp_feedback_tensor)t, &n));
            float *v = floats(n), *g = floats(n);
            ck_flp(flp_feedback_get_param(fb, l, (flp_feedback_tensor)t, v, n));
            ck_flp(flp_feedback_get_grad(fb, l, (flp_feedback_tensor)t, g, n));
            for (int64_t i = 0; i < n; i++) {
                ck_assert_float_eq(v[i], (float)(100 * l + 10 * t) + (float)i);
                ck_assert_float_eq(g[i], -1.0f - (float)i);
            }
            free(v);
            free(g);
        }

    ck_flp(flp_feedback_zero_grad(fb));
    for (int i = 0; i < list.n; i++)
        for (int64_t j = 0; j < list.items[i].count; j++)
            ck_assert_float_eq(list.items[i].grad[j], 0.0f);
    /* values untouched by zero_grad */
    ck_assert_float_eq(list.items[0].value[5], 5.0f);
    ck_assert_float_eq(list.items[8].value[0], 420.0f);

    /* appends after what is already there */
    ck_flp(flp__feedback_tensors(fb, &list));
    ck_assert_int_eq(list.n, 18);
    ck_assert_str_eq(list.items[9].name, "feedback.0.B");
    ck_assert_ptr_eq(list.items[9].value, list.items[0].value);
    flp__tensor_list_free(&list);
}
END_TEST

/* ======================================================================
 * Plasticity rules
 * ====================================================================== */

static flp_net *rule_net;
static flp_rule *rule;

static void rule_setup(void)
{
    rule_net = new_mlp();
    ck_flp(flp_rule_create(rule_net, FLP_RULE_OJA, &rule));
}

static void rule_teardown(void)
{
    flp_rule_free(rule);
    flp_net_free(rule_net);
    rule = NULL;
    rule_net = NULL;
}

static int64_t expect_alpha_count(int l, int granularity)
{
    switch (granularity) {
    case FLP_GRANULARITY_SYNAPSE: return rows_of[l] * cols_of[l];
    case FLP_GRANULARITY_NEURON: return rows_of[l];
    default: return 1;
    }
}

static void check_plastic(const int expect[N_LAYERS])
{
    for (int l = 0; l < N_LAYERS; l++) {
        int p = -1;
        ck_flp(flp_rule_is_plastic(rule, l, &p));
        ck_assert_msg(p == expect[l], "layer %d: plastic %d, expected %d", l, p, expect[l]);
    }
}

static double plastic_last(void)
{
    double v = -99;
    ck_flp(flp_rule_get(rule, FLP_RULE_PLASTIC_LAST, &v));
    return v;
}

/* Every alpha has the count of `granularity` and the value `fill`. */
static void check_alphas(int granularity, float fill)
{
    for (int l = 0; l < N_LAYERS; l++) {
        int64_t n = -1;
        if (!linear_layer[l]) {
            ck_flp_fails(flp_rule_alpha_count(rule, l, &n), FLP_ERR_INVALID);
            continue;
        }
        ck_flp(flp_rule_alpha_count(rule, l, &n));
        ck_assert_int_eq(n, expect_alpha_count(l, granularity));
        float *a = floats(n), *g = rand_floats(n, 1, 2, 3);
        ck_flp(flp_rule_get_alpha(rule, l, a, n));
        ck_flp(flp_rule_get_alpha_grad(rule, l, g, n));
        for (int64_t i = 0; i < n; i++) {
            ck_assert_float_eq(a[i], fill);
            ck_assert_float_eq(g[i], 0.0f);
        }
        free(a);
        free(g);
    }
}

START_TEST(test_rule_create)
{
    flp_rule *r = (flp_rule *)&r;
    static const int bad_kind[] = {4, -1, 100};
    for (size_t i = 0; i < sizeof bad_kind / sizeof bad_kind[0]; i++) {
        r = (flp_rule *)&r;
        ck_flp_fails(flp_rule_create(rule_net, (flp_rule_kind)bad_kind[i], &r), FLP_ERR_RANGE);
        ck_msg_has("flp_rule_create");
        ck_assert_ptr_null(r);
    }
    r = (flp_rule *)&r;
    ck_flp_fails(flp_rule_create(NULL, FLP_RULE_OJA, &r), FLP_ERR_NULL);
    ck_assert_ptr_null(r);
    ck_flp_fails(flp_rule_create(rule_net, FLP_RULE_OJA, NULL), FLP_ERR_NULL);
    flp_net *empty = new_empty_net();
    r = (flp_rule *)&r;
    ck_flp_fails(flp_rule_create(empty, FLP_RULE_HEBB, &r), FLP_ERR_STATE);
    ck_assert_ptr_null(r);
    flp_net_free(empty);

    flp_rule_kind kind = (flp_rule_kind)-1;
    ck_flp(flp_rule_kind_of(rule, &kind));
    ck_assert_int_eq(kind, FLP_RULE_OJA);
    ck_flp(flp_rule_create(rule_net, FLP_RULE_HEBB, &r));
    ck_flp(flp_rule_kind_of(r, &kind));
    ck_assert_int_eq(kind, FLP_RULE_HEBB);
    flp_rule_free(r);
    ck_flp_fails(flp_rule_kind_of(NULL, &kind), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_kind_of(rule, NULL), FLP_ERR_NULL);
    flp_rule_free(NULL);
}
END_TEST

START_TEST(test_rule_create_nomem)
{
    flp_rule *r = NULL;
    flp__alloc_fail_after(0);
    ck_flp(flp_rule_create(rule_net, FLP_RULE_OJA, &r));
    int64_t made = flp__alloc_fail_after(0);
    flp_rule_free(r);
    ck_assert_int_eq(made, 2 + 3); /* handle, layer array, one block per linear layer */
    for (int64_t n = 1; n <= made; n++) {
        r = (flp_rule *)&r;
        flp__alloc_fail_after(n);
        ck_flp_fails(flp_rule_create(rule_net, FLP_RULE_OJA, &r), FLP_ERR_NOMEM);
        flp__alloc_fail_after(0);
        ck_assert_ptr_null(r);
    }
}
END_TEST

START_TEST(test_rule_defaults)
{
    double v;
    ck_flp(flp_rule_get(rule, FLP_RULE_GRANULARITY, &v));
    ck_assert_double_eq(v, FLP_GRANULARITY_SYNAPSE);
    ck_assert_double_eq(plastic_last(), 3);
    ck_flp(flp_rule_get(rule, FLP_RULE_HIDDEN_MULTIPLIER, &v));
    ck_assert_double_eq(v, 1.0);
    ck_flp(flp_rule_get(rule, FLP_RULE_ALPHA_INIT, &v));
    ck_assert_double_eq(v, 0.0);
    ck_flp(flp_rule_get(rule, FLP_RULE_SECOND_ORDER, &v));
    ck_assert_double_eq(v, 0.0);
    const int all[N_LAYERS] = {1, 0, 1, 0, 1};
    check_plastic(all);
    check_alphas(FLP_GRANULARITY_SYNAPSE, 0.0f);
}
END_TEST

START_TEST(test_rule_keys)
{
    static const double expect[5][2] = {
        [FLP_RULE_GRANULARITY] = {0, 2},
        [FLP_RULE_PLASTIC_LAST] = {0, 1e9},
        [FLP_RULE_HIDDEN_MULTIPLIER] = {-1e30, 1e30},
        [FLP_RULE_ALPHA_INIT] = {-1e30, 1e30},
        [FLP_RULE_SECOND_ORDER] = {0, 1},
    };
    for (int k = 0; k < 5; k++) {
        double lo = 0, hi = 0;
        ck_flp(flp_rule_bounds((flp_rule_key)k, &lo, &hi));
        ck_assert_double_eq(lo, expect[k][0]);
        ck_assert_double_eq(hi, expect[k][1]);
        double v, before;
        ck_flp(flp_rule_get(rule, (flp_rule_key)k, &before));
        const double bad[] = {lo - 1 - fabs(lo), hi + 1 + fabs(hi), NAN, INFINITY, -INFINITY};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ck_flp_fails(flp_rule_set(rule, (flp_rule_key)k, bad[i]), FLP_ERR_RANGE);
            ck_msg_has("flp_rule_set");
            ck_flp(flp_rule_get(rule, (flp_rule_key)k, &v));
            ck_assert_double_eq(v, before);
        }
    }
    /* the integer keys refuse fractions */
    ck_flp_fails(flp_rule_set(rule, FLP_RULE_GRANULARITY, 0.5), FLP_ERR_RANGE);
    ck_flp_fails(flp_rule_set(rule, FLP_RULE_GRANULARITY, 1.999), FLP_ERR_RANGE);
    ck_flp_fails(flp_rule_set(rule, FLP_RULE_PLASTIC_LAST, 2.5), FLP_ERR_RANGE);
    ck_flp_fails(flp_rule_set(rule, FLP_RULE_PLASTIC_LAST, 1e9 + 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_rule_set(rule, FLP_RULE_SECOND_ORDER, 0.5), FLP_ERR_RANGE);
    double v;
    ck_flp(flp_rule_get(rule, FLP_RULE_GRANULARITY, &v));
    ck_assert_double_eq(v, 0);
    ck_assert_double_eq(plastic_last(), 3);

    /* the real-valued keys take any value inside their bounds */
    static const double mult[] = {100, -2.5, 0, 1e30, -1e30, 1};
    for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++) {
        ck_flp(flp_rule_set(rule, FLP_RULE_HIDDEN_MULTIPLIER, mult[i]));
        ck_flp(flp_rule_get(rule, FLP_RULE_HIDDEN_MULTIPLIER, &v));
        ck_assert_double_eq(v, mult[i]);
    }
    ck_flp(flp_rule_set(rule, FLP_RULE_ALPHA_INIT, 0.3));
    ck_flp(flp_rule_get(rule, FLP_RULE_ALPHA_INIT, &v));
    ck_assert_double_eq(v, 0.3);
    check_alphas(FLP_GRANULARITY_SYNAPSE, 0.3f); /* every alpha refilled */

    double lo, hi;
    static const int unknown[] = {7, 8, -1, 999};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        flp_rule_key key = (flp_rule_key)unknown[i];
        ck_flp_fails(flp_rule_bounds(key, &lo, &hi), FLP_ERR_INVALID);
        ck_msg_has("flp_rule_bounds");
        ck_flp_fails(flp_rule_set(rule, key, 0), FLP_ERR_INVALID);
        ck_msg_has("flp_rule_set");
        ck_flp_fails(flp_rule_get(rule, key, &v), FLP_ERR_INVALID);
        ck_msg_has("flp_rule_get");
    }
    ck_flp_fails(flp_rule_bounds(FLP_RULE_ALPHA_INIT, NULL, &hi), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_bounds(FLP_RULE_ALPHA_INIT, &lo, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_set(NULL, FLP_RULE_ALPHA_INIT, 0), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_get(NULL, FLP_RULE_ALPHA_INIT, &v), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_get(rule, FLP_RULE_ALPHA_INIT, NULL), FLP_ERR_NULL);
}
END_TEST

START_TEST(test_rule_granularity)
{
    ck_flp(flp_rule_set(rule, FLP_RULE_ALPHA_INIT, 0.125));
    /* a value set by hand, and a gradient, are replaced by the fill */
    float a[40];
    for (int i = 0; i < 40; i++)
        a[i] = (float)i;
    ck_flp(flp_rule_set_alpha(rule, 0, a, 40));
    rule->layer[0].galpha[3] = 7.0f;

    static const int order[] = {FLP_GRANULARITY_NEURON, FLP_GRANULARITY_LAYER,
                                FLP_GRANULARITY_SYNAPSE, FLP_GRANULARITY_LAYER,
                                FLP_GRANULARITY_NEURON};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        ck_flp(flp_rule_set(rule, FLP_RULE_GRANULARITY, order[k]));
        double v;
        ck_flp(flp_rule_get(rule, FLP_RULE_GRANULARITY, &v));
        ck_assert_double_eq(v, order[k]);
        check_alphas(order[k], 0.125f);
        /* the tensor list follows the new storage */
        flp__tensor_list list = {NULL, 0, 0};
        ck_flp(flp__rule_tensors(rule, &list));
        ck_assert_int_eq(list.n, 3);
        for (int i = 0; i < 3; i++) {
            int l = 2 * i;
            ck_assert_int_eq(list.items[i].count, expect_alpha_count(l, order[k]));
            ck_assert_ptr_eq(list.items[i].value, rule->layer[l].alpha);
            ck_assert_ptr_eq(list.items[i].grad, rule->layer[l].galpha);
        }
        flp__tensor_list_free(&list);
    }
    /* setting the same granularity again refills too */
    ck_flp(flp_rule_set(rule, FLP_RULE_ALPHA_INIT, -0.5));
    float n8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ck_flp(flp_rule_set_alpha(rule, 0, n8, 8));
    ck_flp(flp_rule_set(rule, FLP_RULE_GRANULARITY, FLP_GRANULARITY_NEURON));
    check_alphas(FLP_GRANULARITY_NEURON, -0.5f);
}
END_TEST

START_TEST(test_rule_granularity_nomem)
{
    float a[40];
    for (int i = 0; i < 40; i++)
        a[i] = 0.5f + (float)i;
    ck_flp(flp_rule_set_alpha(rule, 0, a, 40));
    for (int n = 1; n <= 3; n++) {
        flp__alloc_fail_after(n);
        ck_flp_fails(flp_rule_set(rule, FLP_RULE_GRANULARITY, FLP_GRANULARITY_NEURON), FLP_ERR_NOMEM);
        flp__alloc_fail_after(0);
        /* the old coefficients stay in place */
        double v;
        ck_flp(flp_rule_get(rule, FLP_RULE_GRANULARITY, &v));
        ck_assert_double_eq(v, FLP_GRANULARITY_SYNAPSE);
        int64_t count;
        ck_flp(flp_rule_alpha_count(rule, 0, &count));
        ck_assert_int_eq(count, 40);
        float b[40];
        ck_flp(flp_rule_get_alpha(rule, 0, b, 40));
        ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
        ck_flp(flp_rule_alpha_count(rule, 4, &count));
        ck_assert_int_eq(count, 18);
    }

    /* consecutive linear layers: a failure at any of them frees every
     * block already made (the sanitizer build checks for leaks) */
    int64_t in = 4;
    flp_net *net;
    ck_flp(flp_net_create(1, &in, &net));
    for (int l = 0; l < 4; l++)
        ck_flp(flp_net_add_linear(net, 3 + l, 1));
    flp_rule *r;
    ck_flp(flp_rule_create(net, FLP_RULE_HEBB, &r));
    for (int n = 1; n <= 4; n++) {
        flp__alloc_fail_after(n);
        ck_flp_fails(flp_rule_set(r, FLP_RULE_GRANULARITY, FLP_GRANULARITY_LAYER), FLP_ERR_NOMEM);
        flp__alloc_fail_after(0);
        int64_t count;
        ck_flp(flp_rule_alpha_count(r, 3, &count));
        ck_assert_int_eq(count, 6 * 5);
    }
    ck_flp(flp_rule_set(r, FLP_RULE_GRANULARITY, FLP_GRANULARITY_LAYER));
    for (int l = 0; l < 4; l++) {
        int64_t count;
        ck_flp(flp_rule_alpha_count(r, l, &count));
        ck_assert_int_eq(count, 1);
    }
    flp_rule_free(r);
    flp_net_free(net);
}
END_TEST

START_TEST(test_rule_plastic_last)
{
    static const struct {
        double n;
        int plastic[N_LAYERS];
        double read;
    } cases[] = {
        {1, {0, 0, 0, 0, 1}, 1},
        {2, {0, 0, 1, 0, 1}, 2},
        {3, {1, 0, 1, 0, 1}, 3},
        {5, {1, 0, 1, 0, 1}, 3},   /* more than there are: all */
        {1e9, {1, 0, 1, 0, 1}, 3},
        {0, {0, 0, 0, 0, 0}, 0},   /* none */
        {2, {0, 0, 1, 0, 1}, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_flp(flp_rule_set(rule, FLP_RULE_PLASTIC_LAST, cases[i].n));
        check_plastic(cases[i].plastic);
        ck_assert_double_eq(plastic_last(), cases[i].read);
    }
}
END_TEST

START_TEST(test_rule_mask)
{
    const int too_short[4] = {1, 0, 1, 0};
    ck_flp_fails(flp_rule_set_plastic_mask(rule, too_short, 4), FLP_ERR_SHAPE);
    ck_msg_has("flp_rule_set_plastic_mask");
    const int six[6] = {0};
    ck_flp_fails(flp_rule_set_plastic_mask(rule, six, 6), FLP_ERR_SHAPE);
    ck_flp_fails(flp_rule_set_plastic_mask(rule, NULL, N_LAYERS), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_set_plastic_mask(NULL, too_short, N_LAYERS), FLP_ERR_NULL);
    const int relu[N_LAYERS] = {1, 1, 0, 0, 0};
    ck_flp_fails(flp_rule_set_plastic_mask(rule, relu, N_LAYERS), FLP_ERR_INVALID);
    ck_msg_has("layer 1");
    const int softplus[N_LAYERS] = {0, 0, 0, 1, 0};
    ck_flp_fails(flp_rule_set_plastic_mask(rule, softplus, N_LAYERS), FLP_ERR_INVALID);
    const int all[N_LAYERS] = {1, 0, 1, 0, 1};
    check_plastic(all); /* refused masks change nothing */

    static const struct {
        int mask[N_LAYERS];
        int plastic[N_LAYERS];
        double read;
    } cases[] = {
        {{1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}, -1}, /* not a suffix */
        {{1, 0, 1, 0, 0}, {1, 0, 1, 0, 0}, -1},
        {{0, 0, 7, 0, -1}, {0, 0, 1, 0, 1}, 2}, /* any non-zero marks; a suffix reads N */
        {{0, 0, 0, 0, 1}, {0, 0, 0, 0, 1}, 1},
        {{0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, 0},
        {{1, 0, 0, 0, 0}, {1, 0, 0, 0, 0}, -1},
        {{1, 0, 1, 0, 1}, {1, 0, 1, 0, 1}, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_flp(flp_rule_set_plastic_mask(rule, cases[i].mask, N_LAYERS));
        check_plastic(cases[i].plastic);
        ck_assert_double_eq(plastic_last(), cases[i].read);
    }
    /* PLASTIC_LAST overrides a mask */
    ck_flp(flp_rule_set_plastic_mask(rule, cases[0].mask, N_LAYERS));
    ck_flp(flp_rule_set(rule, FLP_RULE_PLASTIC_LAST, 2));
    const int last2[N_LAYERS] = {0, 0, 1, 0, 1};
    check_plastic(last2);
    ck_assert_double_eq(plastic_last(), 2);

    int p;
    ck_flp_fails(flp_rule_is_plastic(rule, -1, &p), FLP_ERR_RANGE);
    ck_msg_has("flp_rule_is_plastic");
    ck_flp_fails(flp_rule_is_plastic(rule, N_LAYERS, &p), FLP_ERR_RANGE);
    ck_flp_fails(flp_rule_is_plastic(rule, 0, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_is_plastic(NULL, 0, &p), FLP_ERR_NULL);
}
END_TEST

START_TEST(test_rule_alpha_params)
{
    for (int g = 0; g < 3; g++) {
        ck_flp(flp_rule_set(rule, FLP_RULE_GRANULARITY, g));
        for (int l = 0; l < N_LAYERS; l += 2) {
            int64_t n = expect_alpha_count(l, g);
            float *a = rand_floats(n, -1, 1, 100 + 10 * g + l), *b = floats(n);
            ck_flp(flp_rule_set_alpha(rule, l, a, n));
            ck_flp(flp_rule_get_alpha(rule, l, b, n));
            ck_assert_int_eq(memcmp(a, b, (size_t)n * sizeof(float)), 0);
            /* refusals leave it unchanged */
            float *bad = floats(n);
            memcpy(bad, a, (size_t)n * sizeof(float));
            bad[n / 2] = NAN;
            ck_flp_fails(flp_rule_set_alpha(rule, l, bad, n), FLP_ERR_NONFINITE);
            ck_msg_has("flp_rule_set_alpha");
            bad[n / 2] = -INFINITY;
            ck_flp_fails(flp_rule_set_alpha(rule, l, bad, n), FLP_ERR_NONFINITE);
            ck_flp_fails(flp_rule_set_alpha(rule, l, a, n + 1), FLP_ERR_SHAPE);
            ck_flp_fails(flp_rule_set_alpha(rule, l, NULL, n), FLP_ERR_NULL);
            ck_flp(flp_rule_get_alpha(rule, l, b, n));
            ck_assert_int_eq(memcmp(a, b, (size_t)n * sizeof(float)), 0);
            ck_flp_fails(flp_rule_get_alpha(rule, l, b, n - 1), FLP_ERR_SHAPE);
            ck_msg_has("flp_rule_get_alpha");
            ck_flp_fails(flp_rule_get_alpha(rule, l, NULL, n), FLP_ERR_NULL);
            ck_flp_fails(flp_rule_get_alpha_grad(rule, l, b, n + 3), FLP_ERR_SHAPE);
            ck_msg_has("flp_rule_get_alpha_grad");
            ck_flp_fails(flp_rule_get_alpha_grad(rule, l, NULL, n), FLP_ERR_NULL);
            free(a);
            free(b);
            free(bad);
        }
    }
    float x[64] = {0};
    int64_t n;
    ck_flp_fails(flp_rule_get_alpha(rule, 1, x, 1), FLP_ERR_INVALID);
    ck_msg_has("flp_rule_get_alpha");
    ck_flp_fails(flp_rule_set_alpha(rule, 3, x, 1), FLP_ERR_INVALID);
    ck_flp_fails(flp_rule_get_alpha_grad(rule, 1, x, 1), FLP_ERR_INVALID);
    ck_flp_fails(flp_rule_alpha_count(rule, 3, &n), FLP_ERR_INVALID);
    ck_flp_fails(flp_rule_alpha_count(rule, 5, &n), FLP_ERR_RANGE);
    ck_flp_fails(flp_rule_alpha_count(rule, -1, &n), FLP_ERR_RANGE);
    ck_flp_fails(flp_rule_alpha_count(rule, 0, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_alpha_count(NULL, 0, &n), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_get_alpha(NULL, 0, x, 1), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_set_alpha(NULL, 0, x, 1), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_get_alpha_grad(NULL, 0, x, 1), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_get_alpha(rule, 7, x, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_rule_zero_grad(NULL), FLP_ERR_NULL);
}
END_TEST

START_TEST(test_rule_tensors_and_grads)
{
    ck_flp(flp_rule_set(rule, FLP_RULE_GRANULARITY, FLP_GRANULARITY_NEURON));
    flp__tensor_list list = {NULL, 0, 0};
    ck_flp(flp__rule_tensors(rule, &list));
    ck_assert_int_eq(list.n, 3);
    for (int i = 0; i < 3; i++) {
        int l = 2 * i;
        char name[32];
        snprintf(name, sizeof name, "rule.%d.alpha", l);
        ck_assert_str_eq(list.items[i].name, name);
        ck_assert_int_eq(list.items[i].group, FLP_GROUP_PLASTICITY);
        ck_assert_int_eq(list.items[i].count, rows_of[l]);
        for (int64_t j = 0; j < list.items[i].count; j++) {
            list.items[i].value[j] = (float)(10 * l) + (float)j;
            list.items[i].grad[j] = 0.5f + (float)j;
        }
    }
    ck_assert_int_eq(flp__tensor_list_total(&list), 8 + 6 + 3);
    for (int l = 0; l < N_LAYERS; l += 2) {
        float a[8], g[8];
        ck_flp(flp_rule_get_alpha(rule, l, a, rows_of[l]));
        ck_flp(flp_rule_get_alpha_grad(rule, l, g, rows_of[l]));
        for (int64_t j = 0; j < rows_of[l]; j++) {
            ck_assert_float_eq(a[j], (float)(10 * l) + (float)j);
            ck_assert_float_eq(g[j], 0.5f + (float)j);
        }
    }
    ck_flp(flp_rule_zero_grad(rule));
    for (int l = 0; l < N_LAYERS; l += 2) {
        float a[8], g[8];
        ck_flp(flp_rule_get_alpha(rule, l, a, rows_of[l]));
        ck_flp(flp_rule_get_alpha_grad(rule, l, g, rows_of[l]));
        for (int64_t j = 0; j < rows_of[l]; j++) {
            ck_assert_float_eq(a[j], (float)(10 * l) + (float)j); /* values kept */
            ck_assert_float_eq(g[j], 0.0f);
        }
    }
    /* non-plastic layers keep their coefficients in the list */
    ck_flp(flp_rule_set(rule, FLP_RULE_PLASTIC_LAST, 0));
    flp__tensor_list_clear(&list);
    ck_flp(flp__rule_tensors(rule, &list));
    ck_assert_int_eq(list.n, 3);
    ck_assert_str_eq(list.items[2].name, "rule.4.alpha");
    flp__tensor_list_free(&list);
}
END_TEST

/* ======================================================================
 * Fused update kernels (lib/plasticity/update.h)
 * ====================================================================== */

static int64_t alpha_index(int granularity, int64_t cols, int64_t r, int64_t c)
{
    switch (granularity) {
    case FLP_GRANULARITY_SYNAPSE: return r * cols + c;
    case FLP_GRANULARITY_NEURON: return r;
    default: return 0;
    }
}

static int64_t n_alpha(int granularity, int64_t rows, int64_t cols)
{
    switch (granularity) {
    case FLP_GRANULARITY_SYNAPSE: return rows * cols;
    case FLP_GRANULARITY_NEURON: return rows;
    default: return 1;
    }
}

/* |got - want| <= rtol * scale for every element, where scale is the sum of
 * the magnitudes of the terms that made the value (so that cancellation does
 * not make the bound meaninglessly tight). */
static void ck_close_scaled(const char *what, const float *got, const double *want,
                            const double *scale, int64_t n, double rtol)
{
    for (int64_t i = 0; i < n; i++) {
        double tol = rtol * scale[i] + 1e-30;
        ck_assert_msg(fabs((double)got[i] - want[i]) <= tol, "%s[%lld]: %.9g, expected %.9g (tol %.3g)",
                      what, (long long)i, got[i], want[i], tol);
    }
}

typedef struct {
    int64_t rows, cols;
    int granularity, oja;
    float m;
    float *alpha, *P, *sq, *W, *Wbar, *galpha;
} kcase;

static kcase kcase_make(int64_t rows, int64_t cols, int granularity, int oja, float m, uint64_t seed)
{
    kcase k = {rows, cols, granularity, oja, m, NULL, NULL, NULL, NULL, NULL, NULL};
    int64_t n = rows * cols, na = n_alpha(granularity, rows, cols);
    k.alpha = rand_floats(na, -0.3f, 0.3f, seed);
    k.P = rand_floats(n, -2, 2, seed + 1);
    k.sq = oja ? rand_floats(rows, 0, 3, seed + 2) : NULL;
    k.W = rand_floats(n, -1, 1, seed + 3);
    k.Wbar = rand_floats(n, -1, 1, seed + 4);
    k.galpha = rand_floats(na, -0.5f, 0.5f, seed + 5);
    return k;
}

static void kcase_free(kcase *k)
{
    free(k->alpha);
    free(k->P);
    free(k->sq);
    free(k->W);
    free(k->Wbar);
    free(k->galpha);
}

static float *dup(const float *x, int64_t n)
{
    float *p = floats(n);
    memcpy(p, x, (size_t)n * sizeof *p);
    return p;
}

static void check_update(const kcase *k)
{
    int64_t n = k->rows * k->cols;
    double *want = calloc((size_t)n, sizeof *want), *scale = calloc((size_t)n, sizeof *scale);
    int want_bad = 0;
    for (int64_t r = 0; r < k->rows; r++)
        for (int64_t c = 0; c < k->cols; c++) {
            int64_t i = r * k->cols + c;
            double a = k->alpha[alpha_index(k->granularity, k->cols, r, c)];
            double s = k->sq ? k->sq[r] : 0.0, w = k->W[i], p = k->P[i];
            want[i] = w + k->m * a * (p - s * w);
            scale[i] = fabs(w) + fabs(k->m * a) * (fabs(p) + fabs(s * w));
            want_bad |= !isfinite((float)want[i]);
        }
    float *W = dup(k->W, n);
    int bad = flp__plastic_update(k->rows, k->cols, k->m, k->alpha, k->granularity, k->P, k->sq, W, NULL);
    char what[64];
    snprintf(what, sizeof what, "W %lldx%lld g%d %s m=%g", (long long)k->rows, (long long)k->cols,
             k->granularity, k->oja ? "oja" : "hebb", k->m);
    ck_assert_int_eq(want_bad, 0);
    ck_assert_msg(bad == 0, "%s: non-finite flag %d on finite data", what, bad);
    ck_close_scaled(what, W, want, scale, n, 1e-6);
    /* with a record: the same weights, and an exact copy of those it started from */
    float *W2 = dup(k->W, n), *saved = floats(n);
    ck_assert_int_eq(flp__plastic_update(k->rows, k->cols, k->m, k->alpha, k->granularity, k->P, k->sq, W2, saved),
                     0);
    ck_assert_msg(memcmp(W2, W, (size_t)n * sizeof *W) == 0, "%s: keeping a record changes the update", what);
    ck_assert_msg(memcmp(saved, k->W, (size_t)n * sizeof *W) == 0, "%s: the record is not the weights before", what);
    free(W2);
    free(saved);
    free(W);
    free(want);
    free(scale);
}

static void check_update_vjp(const kcase *k)
{
    int64_t rows = k->rows, cols = k->cols, n = rows * cols;
    int64_t na = n_alpha(k->granularity, rows, cols);
    double *G = calloc((size_t)n, sizeof *G), *Gs = calloc((size_t)n, sizeof *Gs);
    double *Wb = calloc((size_t)n, sizeof *Wb), *Wbs = calloc((size_t)n, sizeof *Wbs);
    double *ga = calloc((size_t)na, sizeof *ga), *gas = calloc((size_t)na, sizeof *gas);
    double *sb = calloc((size_t)rows, sizeof *sb), *sbs = calloc((size_t)rows, sizeof *sbs);
    for (int64_t i = 0; i < na; i++) {
        ga[i] = k->galpha[i];
        gas[i] = fabs(ga[i]);
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t i = r * cols + c, ai = alpha_index(k->granularity, cols, r, c);
            double a = k->alpha[ai], s = k->sq ? k->sq[r] : 0.0;
            double w = k->W[i], p = k->P[i], wb = k->Wbar[i];
            G[i] = k->m * a * wb;
            Gs[i] = fabs(G[i]);
            Wb[i] = wb * (1.0 - k->m * a * s);
            Wbs[i] = fabs(wb) + fabs(G[i] * s);
            ga[ai] += k->m * wb * (p - s * w);
            gas[ai] += fabs(k->m * wb) * (fabs(p) + fabs(s * w));
            sb[r] -= G[i] * w;
            sbs[r] += fabs(G[i] * w);
        }

    float *PG = dup(k->P, n), *Wbar = dup(k->Wbar, n), *galpha = dup(k->galpha, na);
    float *sqbar = NULL;
    if (k->sq) {
        sqbar = floats(rows);
        for (int64_t r = 0; r < rows; r++)
            sqbar[r] = 1234.5f; /* overwritten, not accumulated */
    }
    double *row_sum = calloc((size_t)rows, sizeof *row_sum);
    flp__plastic_update_vjp(rows, cols, k->m, k->alpha, k->granularity, k->sq, k->W, PG, Wbar,
                            galpha, sqbar, row_sum);
    char what[80];
    snprintf(what, sizeof what, "%lldx%lld g%d %s m=%g", (long long)rows, (long long)cols,
             k->granularity, k->oja ? "oja" : "hebb", k->m);
    char name[128];
    snprintf(name, sizeof name, "G %s", what);
    ck_close_scaled(name, PG, G, Gs, n, 1e-6);
    snprintf(name, sizeof name, "Wbar %s", what);
    ck_close_scaled(name, Wbar, Wb, Wbs, n, 1e-6);
    snprintf(name, sizeof name, "galpha %s", what);
    ck_close_scaled(name, galpha, ga, gas, na, 1e-6);
    if (k->sq) {
        snprintf(name, sizeof name, "sqbar %s", what);
        ck_close_scaled(name, sqbar, sb, sbs, rows, 1e-6);
    }

    free(G);
    free(Gs);
    free(Wb);
    free(Wbs);
    free(ga);
    free(gas);
    free(sb);
    free(sbs);
    free(PG);
    free(Wbar);
    free(galpha);
    free(sqbar);
    free(row_sum);
}

static const int64_t kshapes[][2] = {{7, 13}, {33, 65}, {1, 1}, {1, 17}, {17, 1}, {64, 64}, {5, 131}};
#define N_KSHAPES ((int)(sizeof kshapes / sizeof kshapes[0]))
static const float kms[] = {1.0f, 0.37f, 100.0f};

START_TEST(test_update_reference)
{
    for (int s = 0; s < N_KSHAPES; s++)
        for (int g = 0; g < 3; g++)
            for (int oja = 0; oja < 2; oja++)
                for (int mi = 0; mi < 3; mi++) {
                    kcase k = kcase_make(kshapes[s][0], kshapes[s][1], g, oja, kms[mi],
                                         1000 + 100 * (uint64_t)s + 10 * (uint64_t)g + (uint64_t)oja);
                    check_update(&k);
                    kcase_free(&k);
                }
}
END_TEST

START_TEST(test_update_vjp_reference)
{
    for (int s = 0; s < N_KSHAPES; s++)
        for (int g = 0; g < 3; g++)
            for (int oja = 0; oja < 2; oja++)
                for (int mi = 0; mi < 3; mi++) {
                    kcase k = kcase_make(kshapes[s][0], kshapes[s][1], g, oja, kms[mi],
                                         2000 + 100 * (uint64_t)s + 10 * (uint64_t)g + (uint64_t)oja);
                    check_update_vjp(&k);
                    kcase_free(&k);
                }
}
END_TEST

/* Hebb must not touch sqbar: with sq NULL a caller may pass a buffer or NULL. */
START_TEST(test_update_vjp_hebb_sqbar)
{
    kcase k = kcase_make(7, 13, FLP_GRANULARITY_NEURON, 0, 1.0f, 77);
    float sqbar[7], *PG = dup(k.P, 91), *Wbar = dup(k.Wbar, 91);
    double row_sum[7];
    for (int r = 0; r < 7; r++)
        sqbar[r] = 42.0f;
    flp__plastic_update_vjp(7, 13, 1.0f, k.alpha, FLP_GRANULARITY_NEURON, NULL, k.W, PG, Wbar,
                            k.galpha, sqbar, row_sum);
    for (int r = 0; r < 7; r++)
        ck_assert_float_eq(sqbar[r], 42.0f);
    memcpy(PG, k.P, sizeof(float) * 91);
    memcpy(Wbar, k.Wbar, sizeof(float) * 91);
    flp__plastic_update_vjp(7, 13, 1.0f, k.alpha, FLP_GRANULARITY_NEURON, NULL, k.W, PG, Wbar,
                            k.galpha, NULL, row_sum);
    /* Hebb: the adjoint of W passes through unchanged */
    ck_assert_int_eq(memcmp(Wbar, k.Wbar, sizeof(float) * 91), 0);
    free(PG);
    free(Wbar);
    kcase_free(&k);
}
END_TEST

/* The flag is raised by a non-finite weight at any position, including the
 * vector loop's tail, and only then. */
START_TEST(test_update_nonfinite_flag)
{
    static const int64_t shapes[][2] = {{7, 13}, {3, 33}};
    for (int s = 0; s < 2; s++)
        for (int g = 0; g < 3; g++)
            for (int oja = 0; oja < 2; oja++) {
                int64_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
                kcase k = kcase_make(rows, cols, g, oja, 0.5f, 300 + (uint64_t)g);
                float *W = dup(k.W, n), *P = dup(k.P, n);
                ck_assert_int_eq(flp__plastic_update(rows, cols, k.m, k.alpha, g, P, k.sq, W, NULL), 0);
                static const float bad[] = {INFINITY, -INFINITY, NAN};
                for (int64_t i = 0; i < n; i++) {
                    memcpy(W, k.W, (size_t)n * sizeof *W);
                    P[i] = bad[i % 3];
                    int flag = flp__plastic_update(rows, cols, k.m, k.alpha, g, P, k.sq, W, NULL);
                    ck_assert_msg(flag == 1, "%lldx%lld g%d: P[%lld] = %g not flagged", (long long)rows,
                                  (long long)cols, g, (long long)i, P[i]);
                    ck_assert_msg(!isfinite(W[i]), "W[%lld] = %g", (long long)i, W[i]);
                    P[i] = k.P[i];
                }
                /* a NaN already in W */
                for (int64_t i = 0; i < n; i += 5) {
                    memcpy(W, k.W, (size_t)n * sizeof *W);
                    W[i] = NAN;
                    ck_assert_int_eq(flp__plastic_update(rows, cols, k.m, k.alpha, g, P, k.sq, W, NULL), 1);
                }
                free(W);
                free(P);
                kcase_free(&k);
            }

    /* overflow of finite inputs in float */
    float W[5] = {3e38f, 1, 1, 1, 1}, P[5] = {3e38f, 0, 0, 0, 0}, alpha = 1.0f;
    ck_assert_int_eq(flp__plastic_update(1, 5, 1.0f, &alpha, FLP_GRANULARITY_LAYER, P, NULL, W, NULL), 1);
    ck_assert(isinf(W[0]));
    ck_assert_float_eq(W[1], 1.0f);
}
END_TEST

/* Bit-identical results on 1 and 2 threads (doc/CONVENTIONS.md). */
START_TEST(test_update_thread_count)
{
#ifdef _OPENMP
    int orig = omp_get_max_threads();
    static const int64_t shapes[][2] = {{257, 129}, {33, 65}, {7, 13}};
    for (int s = 0; s < 3; s++)
        for (int g = 0; g < 3; g++)
            for (int oja = 0; oja < 2; oja++) {
                int64_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
                int64_t na = n_alpha(g, rows, cols);
                kcase k = kcase_make(rows, cols, g, oja, 0.9f, 500 + 10 * (uint64_t)s + (uint64_t)g);
                float *W[2], *PG[2], *Wbar[2], *ga[2], *sqbar[2];
                int flag[2];
                double *row_sum = calloc((size_t)rows, sizeof *row_sum);
                for (int t = 0; t < 2; t++) {
                    omp_set_num_threads(t + 1);
                    W[t] = dup(k.W, n);
                    flag[t] = flp__plastic_update(rows, cols, k.m, k.alpha, g, k.P, k.sq, W[t], NULL);
                    PG[t] = dup(k.P, n);
                    Wbar[t] = dup(k.Wbar, n);
                    ga[t] = dup(k.galpha, na);
                    sqbar[t] = floats(rows);
                    flp__plastic_update_vjp(rows, cols, k.m, k.alpha, g, k.sq, k.W, PG[t], Wbar[t],
                                            ga[t], oja ? sqbar[t] : NULL, row_sum);
                }
                omp_set_num_threads(orig);
                ck_assert_int_eq(flag[0], flag[1]);
                ck_assert_msg(memcmp(W[0], W[1], (size_t)n * sizeof(float)) == 0, "W differs");
                ck_assert_msg(memcmp(PG[0], PG[1], (size_t)n * sizeof(float)) == 0, "G differs");
                ck_assert_msg(memcmp(Wbar[0], Wbar[1], (size_t)n * sizeof(float)) == 0, "Wbar differs");
                ck_assert_msg(memcmp(ga[0], ga[1], (size_t)na * sizeof(float)) == 0,
                              "galpha differs (%lldx%lld g%d)", (long long)rows, (long long)cols, g);
                ck_assert_msg(memcmp(sqbar[0], sqbar[1], (size_t)rows * sizeof(float)) == 0,
                              "sqbar differs");
                for (int t = 0; t < 2; t++) {
                    free(W[t]);
                    free(PG[t]);
                    free(Wbar[t]);
                    free(ga[t]);
                    free(sqbar[t]);
                }
                free(row_sum);
                kcase_free(&k);
            }
#else
    /* built without OpenMP: the kernels are serial and trivially thread-count independent */
    ck_assert_int_eq(1, 1);
#endif
}
END_TEST

Suite *make_plasticity_suite(void)
{
    Suite *s = suite_create("plasticity");

    TCase *tc = tcase_create("feedback");
    tcase_add_checked_fixture(tc, fb_setup, fb_teardown);
    tcase_add_test(tc, test_fb_create_errors);
    tcase_add_test(tc, test_fb_create_nomem);
    tcase_add_test(tc, test_fb_pathways_and_defaults);
    tcase_add_test(tc, test_fb_locate_errors);
    tcase_add_test(tc, test_fb_keys);
    tcase_add_test(tc, test_fb_init_stats);
    tcase_add_test(tc, test_fb_params_roundtrip);
    tcase_add_test(tc, test_fb_tensors_and_grads);
    suite_add_tcase(s, tc);

    tc = tcase_create("rule");
    tcase_add_checked_fixture(tc, rule_setup, rule_teardown);
    tcase_add_test(tc, test_rule_create);
    tcase_add_test(tc, test_rule_create_nomem);
    tcase_add_test(tc, test_rule_defaults);
    tcase_add_test(tc, test_rule_keys);
    tcase_add_test(tc, test_rule_granularity);
    tcase_add_test(tc, test_rule_granularity_nomem);
    tcase_add_test(tc, test_rule_plastic_last);
    tcase_add_test(tc, test_rule_mask);
    tcase_add_test(tc, test_rule_alpha_params);
    tcase_add_test(tc, test_rule_tensors_and_grads);
    suite_add_tcase(s, tc);

    tc = tcase_create("kernels");
    tcase_add_test(tc, test_update_reference);
    tcase_add_test(tc, test_update_vjp_reference);
    tcase_add_test(tc, test_update_vjp_hebb_sqbar);
    tcase_add_test(tc, test_update_nonfinite_flag);
    tcase_add_test(tc, test_update_thread_count);
    suite_add_tcase(s, tc);
    return s;
}
