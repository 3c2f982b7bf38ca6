/* check_faults.c - numerical faults: inputs that overflow, plasticity strong
 * enough to blow the weights up, zero-variance data.
 *
 * Whatever goes non-finite, the lifetime must name the inner step and the
 * layer where it first appeared (checked against an independent run with
 * the check turned off), add no gradient, and the meta-optimizer must not
 * apply anything: a failed train step leaves every meta-parameter, moment
 * and the step count exactly as they were. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define N_IN 3
#define N_OUT 2
#define STEPS 12
#define BATCH 4
#define N_QUERY 6

/* N_IN -> linear 8 -> relu -> linear 8 -> relu -> linear N_OUT, Oja, every
 * linear layer plastic with alpha `alpha`. */
typedef tu_rig rig;

static void rig_make(rig *r, double alpha)
{
    int64_t in = N_IN;
    flp_rng *rng;
    ck_flp(flp_rng_create(4, &rng));
    ck_flp(flp_net_create(1, &in, &r->net));
    ck_flp(flp_net_add_linear(r->net, 8, 1));
    ck_flp(flp_net_add_relu(r->net));
    ck_flp(flp_net_add_linear(r->net, 8, 1));
    ck_flp(flp_net_add_relu(r->net));
    ck_flp(flp_net_add_linear(r->net, N_OUT, 1));
    ck_flp(flp_net_init(r->net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_feedback_create(r->net, &r->fb));
    ck_flp(flp_feedback_init(r->fb, rng, 0.5f));
    ck_flp(flp_rule_create(r->net, FLP_RULE_OJA, &r->rule));
    ck_flp(flp_rule_set(r->rule, FLP_RULE_ALPHA_INIT, alpha));
    ck_flp(flp_lifetime_create(r->net, r->fb, r->rule, &r->lt));
    ck_flp(flp_meta_create(r->net, r->fb, r->rule, &r->meta));
    ck_flp(flp_episode_create(&r->ep));
    flp_rng_free(rng);
}

/* A regression episode: x, y uniform in [-1, 1), the first `steps` of them. */
typedef struct {
    float x[STEPS * BATCH * N_IN], y[STEPS * BATCH * N_OUT];
    float xq[N_QUERY * N_IN], yq[N_QUERY * N_OUT];
} data;

static void data_fill(data *d)
{
    tu_fill_uniform(d->x, STEPS * BATCH * N_IN, -1, 1, 1);
    tu_fill_uniform(d->y, STEPS * BATCH * N_OUT, -1, 1, 2);
    tu_fill_uniform(d->xq, N_QUERY * N_IN, -1, 1, 3);
    tu_fill_uniform(d->yq, N_QUERY * N_OUT, -1, 1, 4);
}

static void set_episode(rig *r, const data *d, int64_t steps)
{
    ck_flp(flp_episode_set_regression(r->ep, steps, BATCH, N_IN, N_OUT, d->x, d->y, N_QUERY, d->xq,
                                      d->yq));
}

/* Every byte the meta-optimizer holds, through a checkpoint file. */
static uint8_t *meta_bytes(const rig *r, long *size)
{
    char path[] = "/tmp/flp_faults_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_flp(flp_checkpoint_save(path, r->meta, NULL));
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)*size);
    ck_assert_int_eq(fread(buf, 1, (size_t)*size, f), *size);
    fclose(f);
    unlink(path);
    return buf;
}

/* The step and layer a NONFINITE message names. */
static void parse_where(int *layer, long long *step)
{
    const char *m = flp_last_error();
    const char *at = strstr(m, "layer ");
    ck_assert_msg(at != NULL && sscanf(at, "layer %d became non-finite at inner step %lld", layer,
                                       step) == 2,
                  "message does not name layer and step: %s", m);
}

/* The episode in `d` makes a weight non-finite. Check that:
 *  - a train step fails with FLP_ERR_NONFINITE naming layer L and inner
 *    step k, adds no gradient and changes nothing in the meta-optimizer;
 *  - the first k steps alone leave every weight finite (at most their query
 *    pass overflows, reported as such): nothing went non-finite before k;
 *  - the first k + 1 steps fail at the same step and layer.
 * Returns k. */
static long long check_fault(rig *r, data *d)
{
    set_episode(r, d, STEPS);
    long before_size, after_size;
    uint8_t *before = meta_bytes(r, &before_size);
    float loss = 0;
    ck_flp_fails(flp_meta_train_step(r->meta, r->lt, r->ep, &loss), FLP_ERR_NONFINITE);
    int layer;
    long long k;
    parse_where(&layer, &k);
    ck_assert(k >= 0 && k < STEPS);
    double norm;
    ck_flp(flp_meta_grad_norm(r->meta, -1, &norm));
    ck_assert_msg(norm == 0, "a failed lifetime added gradient (norm %g)", norm);
    uint8_t *after = meta_bytes(r, &after_size);
    ck_assert_msg(before_size == after_size && memcmp(before, after, (size_t)before_size) == 0,
                  "the failed train step changed the meta-optimizer");
    free(before);
    free(after);
    int64_t steps;
    ck_flp(flp_meta_step_count(r->meta, &steps));
    ck_assert_int_eq(steps, 0);

    if (k > 0) {
        set_episode(r, d, k);
        flp_status st = flp_lifetime_run(r->lt, r->ep, 1, &loss);
        ck_assert_msg(st == FLP_OK || strstr(flp_last_error(), "query pass") != NULL,
                      "the first %lld steps: %s", k, flp_last_error());
    }
    set_episode(r, d, k + 1);
    ck_flp_fails(flp_lifetime_run(r->lt, r->ep, 1, &loss), FLP_ERR_NONFINITE);
    int layer2;
    long long k2;
    parse_where(&layer2, &k2);
    ck_assert_msg(layer2 == layer && k2 == k, "%lld steps: layer %d step %lld, expected %d, %lld",
                  k + 1, layer2, k2, layer, k);
    return k;
}

/* Finite inputs too large for float arithmetic at one inner step (5). */
START_TEST(test_overflowing_input)
{
    rig r;
    rig_make(&r, 0.01);
    data d;
    data_fill(&d);
    for (int i = 0; i < BATCH * N_IN; i++)
        d.x[5 * BATCH * N_IN + i] = 3e37f;
    ck_assert_int_eq(check_fault(&r, &d), 5);
    tu_free_rig(&r);
}
END_TEST

/* Query inputs that overflow the first layer: the weights stay finite, the
 * query pass names the layer, nothing is applied. */
START_TEST(test_overflowing_query)
{
    rig r;
    rig_make(&r, 0.01);
    data d;
    data_fill(&d);
    for (int i = 0; i < N_QUERY * N_IN; i++)
        d.xq[i] = 3e38f;
    set_episode(&r, &d, STEPS);
    float loss;
    ck_flp_fails(flp_meta_train_step(r.meta, r.lt, r.ep, &loss), FLP_ERR_NONFINITE);
    ck_assert_msg(strstr(flp_last_error(), "query pass after inner step 11 goes non-finite at layer 0"),
                  "%s", flp_last_error());
    int64_t steps;
    ck_flp(flp_meta_step_count(r.meta, &steps));
    ck_assert_int_eq(steps, 0);
    double norm;
    ck_flp(flp_meta_grad_norm(r.meta, -1, &norm));
    ck_assert(norm == 0);
    tu_free_rig(&r);
}
END_TEST

/* Alpha large enough that the weights grow without bound. */
START_TEST(test_exploding_plasticity)
{
    rig r;
    rig_make(&r, 50.0);
    data d;
    data_fill(&d);
    long long k = check_fault(&r, &d);
    ck_assert_msg(k > 0, "the weights should take a few steps to blow up (step %lld)", k);
    tu_free_rig(&r);
}
END_TEST

/* NaN and infinity never get into an episode (each array is named), and a
 * refused episode keeps the one it held. */
START_TEST(test_nonfinite_input_refused)
{
    rig r;
    rig_make(&r, 0.01);
    data d;
    data_fill(&d);
    set_episode(&r, &d, STEPS);
    float ref;
    ck_flp(flp_lifetime_run(r.lt, r.ep, 0, &ref));
    const float bad[2] = {NAN, INFINITY};
    float *arrays[4] = {d.x, d.y, d.xq, d.yq};
    const char *names[4] = {"x", "y", "xq", "yq"};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 2; b++) {
            float keep = arrays[a][1];
            arrays[a][1] = bad[b];
            ck_flp_fails(flp_episode_set_regression(r.ep, STEPS, BATCH, N_IN, N_OUT, d.x, d.y,
                                                    N_QUERY, d.xq, d.yq),
                         FLP_ERR_NONFINITE);
            char what[8];
            snprintf(what, sizeof what, "%s[", names[a]);
            ck_assert_msg(strstr(flp_last_error(), what) != NULL, "message should name %s: %s",
                          names[a], flp_last_error());
            arrays[a][1] = keep;
            float loss;
            ck_flp(flp_lifetime_run(r.lt, r.ep, 0, &loss));
            ck_assert_msg(loss == ref, "a refused episode changed the episode");
        }
    tu_free_rig(&r);
}
END_TEST

/* Constant inputs and targets (zero variance), all-zero inputs, and a
 * single class: everything stays finite and the meta-step applies. */
START_TEST(test_zero_variance)
{
    rig r;
    rig_make(&r, 0.01);
    data d;
    data_fill(&d);
    for (int fill = 0; fill < 2; fill++) {
        for (int i = 0; i < STEPS * BATCH * N_IN; i++)
            d.x[i] = fill == 0 ? 0.5f : 0.0f;
        for (int i = 0; i < N_QUERY * N_IN; i++)
            d.xq[i] = d.x[0];
        for (int i = 0; i < STEPS * BATCH * N_OUT; i++)
            d.y[i] = 0.25f;
        for (int i = 0; i < N_QUERY * N_OUT; i++)
            d.yq[i] = 0.25f;
        set_episode(&r, &d, STEPS);
        float loss;
        ck_flp(flp_meta_train_step(r.meta, r.lt, r.ep, &loss));
        ck_assert(isfinite(loss));
    }
    /* one class only, under a classification signal */
    int32_t lab[STEPS * BATCH] = {0}, lq[N_QUERY] = {0};
    ck_flp(flp_feedback_set(r.fb, FLP_FEEDBACK_SIGNAL, FLP_SIGNAL_TARGET_MINUS_SOFTMAX));
    ck_flp(flp_episode_set_classes(r.ep, STEPS, BATCH, N_IN, N_OUT, d.x, lab, N_QUERY, d.xq, lq));
    float loss;
    ck_flp(flp_meta_train_step(r.meta, r.lt, r.ep, &loss));
    ck_assert(isfinite(loss));
    int64_t steps;
    ck_flp(flp_meta_step_count(r.meta, &steps));
    ck_assert_int_eq(steps, 3);
    tu_free_rig(&r);
}
END_TEST

Suite *make_faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("numerical");
    tcase_add_test(tc, test_overflowing_input);
    tcase_add_test(tc, test_overflowing_query);
    tcase_add_test(tc, test_exploding_plasticity);
    tcase_add_test(tc, test_nonfinite_input_refused);
    tcase_add_test(tc, test_zero_variance);
    suite_add_tcase(s, tc);
    return s;
}
