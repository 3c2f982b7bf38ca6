/* check_batch.c - meta-batches (flp_batch): the gradient of a batch is the
 * sum, in episode order, of the single-episode gradients, bit for bit and
 * for any thread count; bad input and allocation failures. Also the flat
 * gradient access of the meta-optimizer that transports (MPI) use. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "lifetime/lifetime_internal.h"
#include "testutil.h"

#define N_EPISODES 5
#define N_IN 4 /* 3 tasks: onehot(task) ++ x */

typedef struct {
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    flp_lifetime *lt;
    flp_meta *meta;
    flp_batch *batch;
    flp_episode *ep[N_EPISODES];
    int64_t n_grad;
} rig;

/* A small sine setup of 3 tasks: 4 -> 12 -> relu -> 12 -> relu -> 1, the last two
 * layers plastic under `kind`, and N_EPISODES short training episodes. */
static void rig_make(rig *r, flp_rule_kind kind)
{
    flp_sampler *s;
    ck_flp(flp_sampler_create_sine(11, &s));
    ck_flp(flp_sampler_set(s, FLP_SINE_TASKS, 3));
    ck_flp(flp_sampler_set(s, FLP_SINE_BATCHES_PER_TASK, 2));
    ck_flp(flp_sampler_set(s, FLP_SINE_BATCH, 4));
    ck_flp(flp_sampler_set(s, FLP_SINE_QUERY_PER_TASK, 5));
    int64_t in, out;
    int classification;
    ck_flp(flp_sampler_io_size(s, &in, &out, &classification));
    ck_assert_int_eq(in, N_IN);
    flp_rng *rng;
    ck_flp(flp_rng_create(3, &rng));
    ck_flp(flp_net_create(1, &in, &r->net));
    for (int i = 0; i < 2; i++) {
        ck_flp(flp_net_add_linear(r->net, 12, 1));
        ck_flp(flp_net_add_relu(r->net));
    }
    ck_flp(flp_net_add_linear(r->net, 1, 1));
    ck_flp(flp_net_init(r->net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_feedback_create(r->net, &r->fb));
    ck_flp(flp_feedback_init(r->fb, rng, 0.5f));
    ck_flp(flp_rule_create(r->net, kind, &r->rule));
    ck_flp(flp_rule_set(r->rule, FLP_RULE_PLASTIC_LAST, 2));
    ck_flp(flp_rule_set(r->rule, FLP_RULE_ALPHA_INIT, 1e-3));
    ck_flp(flp_lifetime_create(r->net, r->fb, r->rule, &r->lt));
    ck_flp(flp_meta_create(r->net, r->fb, r->rule, &r->meta));
    ck_flp(flp_batch_create(r->meta, &r->batch));
    ck_flp(flp_meta_grad_count(r->meta, &r->n_grad));
    for (int i = 0; i < N_EPISODES; i++) {
        ck_flp(flp_episode_create(&r->ep[i]));
        ck_flp(flp_sampler_next(s, FLP_SPLIT_TRAIN, r->ep[i]));
    }
    flp_sampler_free(s);
    flp_rng_free(rng);
}

static void rig_free(rig *r)
{
    for (int i = 0; i < N_EPISODES; i++)
        flp_episode_free(r->ep[i]);
    flp_batch_free(r->batch);
    flp_meta_free(r->meta);
    flp_lifetime_free(r->lt);
    flp_rule_free(r->rule);
    flp_feedback_free(r->fb);
    flp_net_free(r->net);
}

static float *grads(const rig *r)
{
    float *g = malloc((size_t)r->n_grad * sizeof *g);
    ck_assert_ptr_nonnull(g);
    ck_flp(flp_meta_get_grads(r->meta, g, r->n_grad));
    return g;
}

/* What a meta-batch must give: each episode's gradient alone (from zero),
 * summed in episode order; and each episode's loss. */
static float *expected_sum(rig *r, int n, float *losses)
{
    float *sum = calloc((size_t)r->n_grad, sizeof *sum);
    ck_assert_ptr_nonnull(sum);
    for (int i = 0; i < n; i++) {
        ck_flp(flp_meta_zero_grad(r->meta));
        ck_flp(flp_lifetime_run(r->lt, r->ep[i], 1, &losses[i]));
        float *g = grads(r);
        for (int64_t j = 0; j < r->n_grad; j++)
            sum[j] += g[j];
        free(g);
    }
    return sum;
}

static void check_same(const char *what, const float *a, const float *b, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        ck_assert_msg(memcmp(&a[j], &b[j], sizeof a[j]) == 0, "%s: entry %lld: %.9g != %.9g", what,
                      (long long)j, (double)a[j], (double)b[j]);
}

static const flp_rule_kind kinds[] = {FLP_RULE_OJA, FLP_RULE_HEBB, FLP_RULE_GRADIENT};

/* For 1 and 2 threads, and 2 threads with one episode thread: the batch's
 * gradient and losses equal the single-episode ones summed in order. */
START_TEST(test_sum_of_singles)
{
    rig r;
    rig_make(&r, kinds[_i]);
    int before;
    ck_flp(flp_get_num_threads(&before));
    float want_loss[N_EPISODES], loss[N_EPISODES];
    const struct { int threads, cap; } runs[] = {{1, 0}, {2, 0}, {2, 1}, {2, 2}};
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        ck_flp(flp_set_num_threads(runs[k].threads));
        float *want = expected_sum(&r, N_EPISODES, want_loss);
        ck_flp(flp_batch_set(r.batch, FLP_BATCH_THREADS, runs[k].cap));
        ck_flp(flp_meta_zero_grad(r.meta));
        ck_flp(flp_batch_run(r.batch, (const flp_episode *const *)r.ep, N_EPISODES, loss));
        float *got = grads(&r);
        check_same("gradient", got, want, r.n_grad);
        check_same("losses", loss, want_loss, N_EPISODES);
        free(got);
        free(want);
    }
    ck_flp(flp_set_num_threads(before));
    rig_free(&r);
}
END_TEST

/* The run ADDS the ordered sum to the gradients already there: two runs of
 * episodes 0 and 1 give s + s, s = g0 + g1. */
START_TEST(test_adds)
{
    rig r;
    rig_make(&r, FLP_RULE_OJA);
    float loss[N_EPISODES];
    float *want = expected_sum(&r, 2, loss);
    for (int64_t j = 0; j < r.n_grad; j++)
        want[j] += want[j];
    ck_flp(flp_meta_zero_grad(r.meta));
    ck_flp(flp_batch_run(r.batch, (const flp_episode *const *)r.ep, 2, loss));
    ck_flp(flp_batch_run(r.batch, (const flp_episode *const *)r.ep, 2, loss));
    float *got = grads(&r);
    check_same("gradient after two runs", got, want, r.n_grad);
    free(got);
    free(want);
    rig_free(&r);
}
END_TEST

/* A meta-step on a batch is: zero, the ordered sum, scale by 1/n, Adam.
 * With n = 1 it is flp_meta_train_step. Compared on twin rigs. */
START_TEST(test_train_step)
{
    int n = _i == 0 ? 1 : 3;
    rig a, b;
    rig_make(&a, FLP_RULE_OJA);
    rig_make(&b, FLP_RULE_OJA);
    float la[N_EPISODES], lb[N_EPISODES];
    if (n == 1) {
        ck_flp(flp_meta_train_step(a.meta, a.lt, a.ep[0], &la[0]));
    } else {
        float *sum = expected_sum(&a, n, la);
        ck_flp(flp_meta_set_grads(a.meta, sum, a.n_grad));
        ck_flp(flp_meta_scale_grad(a.meta, 1.0 / n));
        ck_flp(flp_meta_step(a.meta));
        free(sum);
    }
    ck_flp(flp_batch_train_step(b.batch, (const flp_episode *const *)b.ep, n, lb));
    check_same("losses", lb, la, n);
    float *ga = grads(&a), *gb = grads(&b);
    check_same("averaged gradient", gb, ga, a.n_grad);
    free(ga);
    free(gb);
    /* the parameters after the step: the output layer's weights */
    float wa[12], wb[12];
    ck_flp(flp_net_get_param(a.net, 4, FLP_PARAM_WEIGHT, wa, 12));
    ck_flp(flp_net_get_param(b.net, 4, FLP_PARAM_WEIGHT, wb, 12));
    check_same("weights after the step", wb, wa, 12);
    int64_t steps;
    ck_flp(flp_meta_step_count(b.meta, &steps));
    ck_assert_int_eq(steps, 1);
    rig_free(&a);
    rig_free(&b);
}
END_TEST

START_TEST(test_flat_grads)
{
    rig r;
    rig_make(&r, FLP_RULE_GRADIENT);
    float *g = malloc((size_t)r.n_grad * sizeof *g);
    for (int64_t j = 0; j < r.n_grad; j++)
        g[j] = (float)j * 0.5f - 3.0f;
    ck_flp(flp_meta_set_grads(r.meta, g, r.n_grad));
    float *back = grads(&r);
    check_same("round trip", back, g, r.n_grad);
    /* the first tensor is the first layer's weight */
    float w[12 * N_IN];
    ck_flp(flp_net_get_grad(r.net, 0, FLP_PARAM_WEIGHT, w, 12 * N_IN));
    check_same("first tensor", w, g, 12 * N_IN);
    ck_flp_fails(flp_meta_get_grads(r.meta, g, r.n_grad - 1), FLP_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "count"));
    ck_flp_fails(flp_meta_set_grads(r.meta, g, r.n_grad + 1), FLP_ERR_SHAPE);
    ck_flp_fails(flp_meta_set_grads(r.meta, NULL, r.n_grad), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_get_grads(NULL, g, r.n_grad), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_grad_count(r.meta, NULL), FLP_ERR_NULL);
    free(g);
    free(back);
    rig_free(&r);
}
END_TEST

START_TEST(test_settings)
{
    rig r;
    rig_make(&r, FLP_RULE_OJA);
    double v;
    ck_flp(flp_batch_get(r.batch, FLP_BATCH_THREADS, &v));
    ck_assert(v == 0);
    ck_flp(flp_batch_get(r.batch, FLP_BATCH_MEMORY_BUDGET, &v));
    ck_assert(v == 512.0 * 1024 * 1024);
    ck_flp(flp_batch_get(r.batch, FLP_BATCH_CHECK_FINITE, &v));
    ck_assert(v == 1);
    ck_flp(flp_batch_set(r.batch, FLP_BATCH_THREADS, 3));
    ck_flp(flp_batch_get(r.batch, FLP_BATCH_THREADS, &v));
    ck_assert(v == 3);
    ck_flp_fails(flp_batch_set(r.batch, FLP_BATCH_THREADS, -1), FLP_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "FLP_BATCH_THREADS"));
    ck_flp_fails(flp_batch_set(r.batch, FLP_BATCH_THREADS, 1.5), FLP_ERR_RANGE);
    ck_flp_fails(flp_batch_set(r.batch, FLP_BATCH_MEMORY_BUDGET, -2), FLP_ERR_RANGE);
    ck_flp_fails(flp_batch_set(r.batch, FLP_BATCH_CHECK_FINITE, 2), FLP_ERR_RANGE);
    ck_flp_fails(flp_batch_set(r.batch, (flp_batch_key)7, 0), FLP_ERR_INVALID);
    ck_flp_fails(flp_batch_get(r.batch, (flp_batch_key)-1, &v), FLP_ERR_INVALID);
    ck_flp_fails(flp_batch_get(r.batch, FLP_BATCH_THREADS, NULL), FLP_ERR_NULL);
    /* a budget too small for any lifetime reaches the workers */
    float loss[N_EPISODES];
    ck_flp(flp_batch_set(r.batch, FLP_BATCH_MEMORY_BUDGET, 16));
    ck_flp_fails(flp_batch_run(r.batch, (const flp_episode *const *)r.ep, 2, loss), FLP_ERR_NOMEM);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "episode 0"));
    rig_free(&r);
}
END_TEST

START_TEST(test_bad_input)
{
    rig r;
    rig_make(&r, FLP_RULE_OJA);
    float loss[N_EPISODES];
    const flp_episode *const *eps = (const flp_episode *const *)r.ep;
    flp_batch *b;
    ck_flp_fails(flp_batch_create(NULL, &b), FLP_ERR_NULL);
    ck_flp_fails(flp_batch_create(r.meta, NULL), FLP_ERR_NULL);
    flp_meta *bare;
    ck_flp(flp_meta_create(r.net, NULL, NULL, &bare));
    ck_flp_fails(flp_batch_create(bare, &b), FLP_ERR_INVALID);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "feedback"));
    flp_meta_free(bare);
    flp_batch_free(NULL);

    ck_flp_fails(flp_batch_run(r.batch, eps, 0, loss), FLP_ERR_RANGE);
    ck_flp_fails(flp_batch_run(r.batch, NULL, 1, loss), FLP_ERR_NULL);
    ck_flp_fails(flp_batch_run(r.batch, eps, 1, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_batch_train_step(NULL, eps, 1, loss), FLP_ERR_NULL);

    /* a failing episode: nothing is added, the message names it */
    flp_episode *mixed[3] = {r.ep[0], NULL, r.ep[2]};
    ck_flp(flp_meta_zero_grad(r.meta));
    ck_flp_fails(flp_batch_run(r.batch, (const flp_episode *const *)mixed, 3, loss), FLP_ERR_NULL);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "episodes[1]"));
    float x[2 * 1 * 5] = {0}, y[2] = {0};
    flp_episode *odd;
    ck_flp(flp_episode_create(&odd));
    ck_flp(flp_episode_set_regression(odd, 2, 1, 5, 1, x, y, 1, x, y));
    flp_episode *shapes[4] = {r.ep[0], r.ep[1], odd, odd};
    ck_flp_fails(flp_batch_run(r.batch, (const flp_episode *const *)shapes, 4, loss), FLP_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "flp_batch_run: episode 2: "));
    double norm;
    ck_flp(flp_meta_grad_norm(r.meta, -1, &norm));
    ck_assert_msg(norm == 0, "a failed batch added gradients (norm %g)", norm);
    flp_episode_free(odd);
    rig_free(&r);
}
END_TEST

/* Every allocation failure is reported as FLP_ERR_NOMEM, leaves the handle
 * usable and leaks nothing (ASan checks the last part). */
START_TEST(test_alloc_failures)
{
    rig r;
    rig_make(&r, FLP_RULE_OJA);
    float loss[N_EPISODES];
    const flp_episode *const *eps = (const flp_episode *const *)r.ep;
    /* fault injection is per thread: keep every allocation on this one */
    int before;
    ck_flp(flp_get_num_threads(&before));
    ck_flp(flp_set_num_threads(1));
    int failures = 0;
    for (int64_t k = 1; k < 1000; k++) {
        flp_batch *b = NULL;
        flp__alloc_fail_after(k);
        flp_status st = flp_batch_create(r.meta, &b);
        if (st == FLP_OK)
            st = flp_batch_run(b, eps, 3, loss);
        int64_t made = flp__alloc_fail_after(0);
        flp_batch_free(b);
        if (st == FLP_OK && made < k)
            break;
        ck_assert_msg(st == FLP_ERR_NOMEM, "failing allocation %lld gave %s: %s", (long long)k,
                      flp_status_name(st), flp_last_error());
        failures++;
    }
    ck_flp(flp_set_num_threads(before));
    ck_assert_int_gt(failures, 2);
    rig_free(&r);
}
END_TEST

/* A run into a sink binds the handles' gradients by name to a list laid out
 * like the optimizer's: the handles' own list in its order gives their
 * gradient exactly; a list that lacks one of their tensors (feedback left
 * out) is refused, leaving the sink alone; a tensor they lack stays unbound. */
START_TEST(test_sink_binding)
{
    rig r;
    rig_make(&r, FLP_RULE_OJA);
    float want_loss, loss;
    ck_flp(flp_meta_zero_grad(r.meta));
    ck_flp(flp_lifetime_run(r.lt, r.ep[0], 1, &want_loss));
    float *want = grads(&r);
    flp__tensor_list full = {0}, net_only = {0}, extra = {0};
    ck_flp(flp__net_tensors(r.net, &full));
    ck_flp(flp__feedback_tensors(r.fb, &full));
    ck_flp(flp__rule_tensors(r.rule, &full));
    ck_assert_int_eq(flp__tensor_list_total(&full), r.n_grad);
    float *sink = malloc((size_t)r.n_grad * sizeof *sink);
    ck_assert_ptr_nonnull(sink);
    ck_flp(flp__lt_run_private(r.lt, r.ep[0], &full, sink, 1, &loss));
    check_same("gradient in the sink", sink, want, r.n_grad);
    check_same("loss", &loss, &want_loss, 1);

    ck_flp(flp__net_tensors(r.net, &net_only));
    for (int64_t j = 0; j < r.n_grad; j++)
        sink[j] = 7.0f;
    ck_flp_fails(flp__lt_run_private(r.lt, r.ep[0], &net_only, sink, 1, &loss), FLP_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "tensor list"));
    ck_assert(sink[0] == 7.0f); /* refused before anything was written */

    ck_flp(flp__net_tensors(r.net, &extra));
    ck_flp(flp__feedback_tensors(r.fb, &extra));
    ck_flp(flp__rule_tensors(r.rule, &extra));
    int64_t one = 1;
    ck_flp(flp__tensor_list_add(&extra, sink, sink, FLP_GROUP_RULE, 1, &one, "rule.theta"));
    float *big = malloc((size_t)(r.n_grad + 1) * sizeof *big);
    ck_assert_ptr_nonnull(big);
    ck_flp(flp__lt_run_private(r.lt, r.ep[0], &extra, big, 1, &loss)); /* the extra slot stays unbound */
    check_same("gradient beside an unbound tensor", big, want, r.n_grad);
    free(big);
    free(sink);
    free(want);
    flp__tensor_list_free(&full);
    flp__tensor_list_free(&net_only);
    flp__tensor_list_free(&extra);
    rig_free(&r);
}
END_TEST

Suite *make_batch_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("batch");
    tcase_add_loop_test(tc, test_sum_of_singles, 0, 3);
    tcase_add_test(tc, test_adds);
    tcase_add_loop_test(tc, test_train_step, 0, 2);
    tcase_add_test(tc, test_flat_grads);
    tcase_add_test(tc, test_sink_binding);
    tcase_add_test(tc, test_settings);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}
