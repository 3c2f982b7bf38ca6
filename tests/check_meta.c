/* check_meta.c - the meta-optimizer (Adam, schedules, freezing, non-finite
 * policy, configuration checks) and checkpoint files.
 *
 * Gradients are written straight into the handles' tensor views, so these
 * tests depend on the net, feedback and rule handles but not on the
 * lifetime. */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "checkpoint/checkpoint_file.h"
#include "checkpoint/checkpoint_format.h"
#include "core/keys.h"
#include "meta/meta_internal.h"
#include "plasticity/plasticity_internal.h"
#include "tasks/sampler_internal.h"
#include "testfile.h"
#include "testutil.h"

/* ---- fixture: a small network with feedback and rule --------------------- */

typedef struct {
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    flp_meta *meta;
} rig;

/* 3 -> linear 4 -> relu -> linear 2, every meta-parameter set from `seed`. */
static void rig_handles(rig *r, uint64_t seed, flp_granularity gran)
{
    int64_t in = 3;
    flp_rng *rng;
    ck_flp(flp_rng_create(seed, &rng));
    ck_flp(flp_net_create(1, &in, &r->net));
    ck_flp(flp_net_add_linear(r->net, 4, 1));
    ck_flp(flp_net_add_relu(r->net));
    ck_flp(flp_net_add_linear(r->net, 2, 1));
    ck_flp(flp_net_init(r->net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_feedback_create(r->net, &r->fb));
    ck_flp(flp_feedback_init(r->fb, rng, 0.5f));
    ck_flp(flp_rule_create(r->net, FLP_RULE_OJA, &r->rule));
    ck_flp(flp_rule_set(r->rule, FLP_RULE_GRANULARITY, gran));
    ck_flp(flp_rule_set(r->rule, FLP_RULE_ALPHA_INIT, 0.01));
    flp_rng_free(rng);
    r->meta = NULL;
}

static void rig_make(rig *r, uint64_t seed)
{
    rig_handles(r, seed, FLP_GRANULARITY_SYNAPSE);
    ck_flp(flp_meta_create(r->net, r->fb, r->rule, &r->meta));
}

static void rig_free(rig *r)
{
    flp_meta_free(r->meta);
    flp_rule_free(r->rule);
    flp_feedback_free(r->fb);
    flp_net_free(r->net);
}

/* Fresh views of the meta-parameters (caller frees with flp__tensor_list_free). */
static flp__tensor_list views(const flp_meta *meta)
{
    flp__tensor_list list = {0};
    ck_flp(flp__meta_collect(meta, &list, "test"));
    return list;
}

/* A deterministic gradient: a function of (step, tensor, index) with a
 * different scale per tensor, so that Adam's normalisation matters. */
static double grad_value(int step, int tensor, int64_t j)
{
    double scale = pow(10.0, (tensor % 5) - 2);
    return scale * sin(1.3 * (double)j + 0.7 * tensor + 2.1 * step + 0.1);
}

static void set_grads(flp_meta *meta, int step)
{
    flp__tensor_list l = views(meta);
    for (int i = 0; i < l.n; i++)
        for (int64_t j = 0; j < l.items[i].count; j++)
            l.items[i].grad[j] = (float)grad_value(step, i, j);
    flp__tensor_list_free(&l);
}

/* ---- snapshots: everything a load or a refused step must leave alone ---- */

typedef struct {
    float *data;  /* values, then Adam moments */
    int64_t n_values, n_moments;
    int64_t step;
    flp__adam_settings adam;
    flp__group_schedule groups[FLP_GROUP_COUNT];
} snapshot;

static snapshot snap_take(const flp_meta *meta)
{
    snapshot s = {0};
    flp__tensor_list l = views(meta);
    s.n_values = flp__tensor_list_total(&l);
    s.n_moments = 2 * meta->total;
    s.data = malloc((size_t)(s.n_values + s.n_moments + 1) * sizeof(float));
    ck_assert_ptr_nonnull(s.data);
    int64_t k = 0;
    for (int i = 0; i < l.n; i++)
        for (int64_t j = 0; j < l.items[i].count; j++)
            s.data[k++] = l.items[i].value[j];
    memcpy(s.data + k, meta->moments, (size_t)s.n_moments * sizeof(float));
    s.step = meta->step;
    s.adam = meta->adam;
    memcpy(s.groups, meta->sched.group, sizeof s.groups);
    flp__tensor_list_free(&l);
    return s;
}

static void snap_check_same(const snapshot *a, const flp_meta *meta, const char *what)
{
    snapshot b = snap_take(meta);
    ck_assert_msg(a->n_values == b.n_values && a->step == b.step, "%s: step or size changed", what);
    ck_assert_msg(memcmp(a->data, b.data, (size_t)(a->n_values + a->n_moments) * sizeof(float)) == 0,
                  "%s: values or moments changed", what);
    ck_assert_msg(memcmp(&a->adam, &b.adam, sizeof a->adam) == 0, "%s: settings changed", what);
    ck_assert_msg(memcmp(a->groups, b.groups, sizeof a->groups) == 0, "%s: schedule changed", what);
    free(b.data);
}

/* ---- a double-precision Adam, as torch.optim.Adam ------------------------ */

typedef struct {
    int n;
    int64_t *count;
    int *group;
    double **p, **m, **v;
    int64_t t;
} ref_adam;

static ref_adam ref_make(const flp_meta *meta)
{
    flp__tensor_list l = views(meta);
    ref_adam r = {.n = l.n};
    r.count = calloc((size_t)l.n, sizeof *r.count);
    r.group = calloc((size_t)l.n, sizeof *r.group);
    r.p = calloc((size_t)l.n, sizeof *r.p);
    r.m = calloc((size_t)l.n, sizeof *r.m);
    r.v = calloc((size_t)l.n, sizeof *r.v);
    for (int i = 0; i < l.n; i++) {
        r.count[i] = l.items[i].count;
        r.group[i] = l.items[i].group;
        r.p[i] = calloc((size_t)r.count[i], sizeof(double));
        r.m[i] = calloc((size_t)r.count[i], sizeof(double));
        r.v[i] = calloc((size_t)r.count[i], sizeof(double));
        for (int64_t j = 0; j < r.count[i]; j++)
            r.p[i][j] = l.items[i].value[j];
    }
    flp__tensor_list_free(&l);
    return r;
}

static void ref_free(ref_adam *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->p[i]);
        free(r->m[i]);
        free(r->v[i]);
    }
    free(r->p);
    free(r->m);
    free(r->v);
    free(r->count);
    free(r->group);
}

static void ref_step(ref_adam *r, int step, const double lr[FLP_GROUP_COUNT],
                     const int frozen[FLP_GROUP_COUNT], double b1, double b2, double eps)
{
    r->t++;
    for (int i = 0; i < r->n; i++) {
        if (frozen[r->group[i]])
            continue;
        for (int64_t j = 0; j < r->count[i]; j++) {
            double g = (float)grad_value(step, i, j);
            r->m[i][j] = b1 * r->m[i][j] + (1 - b1) * g;
            r->v[i][j] = b2 * r->v[i][j] + (1 - b2) * g * g;
            double mhat = r->m[i][j] / (1 - pow(b1, (double)r->t));
            double vhat = r->v[i][j] / (1 - pow(b2, (double)r->t));
            r->p[i][j] -= lr[r->group[i]] * mhat / (sqrt(vhat) + eps);
        }
    }
}

static void ref_compare(const ref_adam *r, const flp_meta *meta, int step)
{
    flp__tensor_list l = views(meta);
    char what[64];
    for (int i = 0; i < l.n; i++) {
        snprintf(what, sizeof what, "step %d %s", step, l.items[i].name);
        ck_allclose(what, l.items[i].value, r->p[i], r->count[i], 1e-5, 1e-7);
    }
    flp__tensor_list_free(&l);
}

/* Five steps with per-group rates, a step decay on the weights, non-default
 * Adam settings and the feedback group frozen for steps 2-3. */
START_TEST(test_adam_matches_reference)
{
    rig r;
    rig_make(&r, 11);
    const double b1 = 0.8, b2 = 0.99, eps = 1e-6;
    ck_flp(flp_meta_set(r.meta, FLP_META_BETA1, b1));
    ck_flp(flp_meta_set(r.meta, FLP_META_BETA2, b2));
    ck_flp(flp_meta_set(r.meta, FLP_META_EPSILON, eps));
    const double base[FLP_GROUP_COUNT] = {1e-2, 3e-3, 5e-2, 2e-2, 1e-3};
    for (int g = 0; g < FLP_GROUP_COUNT; g++)
        ck_flp(flp_meta_set_lr(r.meta, (flp_group)g, base[g]));
    const int64_t milestones[2] = {1, 3};
    ck_flp(flp_meta_set_step_decay(r.meta, FLP_GROUP_WEIGHTS, 0.5, milestones, 2));
    ref_adam ref = ref_make(r.meta);
    for (int step = 0; step < 5; step++) {
        int frozen[FLP_GROUP_COUNT] = {0};
        frozen[FLP_GROUP_FEEDBACK] = step == 2 || step == 3;
        ck_flp(flp_meta_freeze(r.meta, FLP_GROUP_FEEDBACK, frozen[FLP_GROUP_FEEDBACK]));
        double lr[FLP_GROUP_COUNT];
        memcpy(lr, base, sizeof lr);
        lr[FLP_GROUP_WEIGHTS] *= step >= 3 ? 0.25 : step >= 1 ? 0.5 : 1;
        double got;
        ck_flp(flp_meta_get_lr(r.meta, FLP_GROUP_WEIGHTS, &got));
        ck_assert_double_eq_tol(got, lr[FLP_GROUP_WEIGHTS], 1e-15);
        set_grads(r.meta, step);
        ck_flp(flp_meta_step(r.meta));
        ref_step(&ref, step, lr, frozen, b1, b2, eps);
        ref_compare(&ref, r.meta, step);
    }
    int64_t steps;
    ck_flp(flp_meta_step_count(r.meta, &steps));
    ck_assert_int_eq(steps, 5);
    ref_free(&ref);
    rig_free(&r);
}
END_TEST

/* The same through the public gradient path: forward/backward on the net
 * fills the weight gradients that the step then uses. */
START_TEST(test_step_uses_backward_gradients)
{
    rig r;
    rig_make(&r, 5);
    float x[2 * 3] = {0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.75f}, y[2 * 2], dy[2 * 2] = {1, -1, 0.5f, 2};
    float w0[12], w1[12], g[12];
    ck_flp(flp_meta_zero_grad(r.meta));
    ck_flp(flp_net_forward(r.net, 2, x, y));
    ck_flp(flp_net_backward(r.net, dy, NULL));
    ck_flp(flp_net_get_param(r.net, 0, FLP_PARAM_WEIGHT, w0, 12));
    ck_flp(flp_net_get_grad(r.net, 0, FLP_PARAM_WEIGHT, g, 12));
    ck_flp(flp_meta_step(r.meta));
    ck_flp(flp_net_get_param(r.net, 0, FLP_PARAM_WEIGHT, w1, 12));
    /* First Adam step: p -= lr * g / (|g| + eps) elementwise. */
    double expect[12];
    for (int j = 0; j < 12; j++)
        expect[j] = w0[j] - 1e-3 * g[j] / (fabs(g[j]) + 1e-8);
    ck_allclose("net.0.weight", w1, expect, 12, 1e-6, 1e-9);
    rig_free(&r);
}
END_TEST

START_TEST(test_defaults)
{
    rig r;
    rig_make(&r, 1);
    double v;
    ck_flp(flp_meta_get(r.meta, FLP_META_BETA1, &v));
    ck_assert_double_eq(v, 0.9);
    ck_flp(flp_meta_get(r.meta, FLP_META_BETA2, &v));
    ck_assert_double_eq(v, 0.999);
    ck_flp(flp_meta_get(r.meta, FLP_META_EPSILON, &v));
    ck_assert_double_eq(v, 1e-8);
    ck_flp(flp_meta_get(r.meta, FLP_META_NONFINITE, &v));
    ck_assert_double_eq(v, 0);
    for (int g = 0; g < FLP_GROUP_COUNT; g++) {
        ck_flp(flp_meta_get_lr(r.meta, (flp_group)g, &v));
        ck_assert_double_eq(v, 1e-3);
    }
    int64_t steps = -1;
    ck_flp(flp_meta_step_count(r.meta, &steps));
    ck_assert_int_eq(steps, 0);
    /* Twelve tensors: 4 net, 6 feedback (B, c, beta of 2 layers), 2 alpha. */
    ck_assert_int_eq(r.meta->ref.n, 12);
    ck_assert_str_eq(r.meta->ref.items[0].name, "net.0.weight");
    ck_assert_str_eq(r.meta->ref.items[11].name, "rule.2.alpha");
    rig_free(&r);
}
END_TEST

/* A net without feedback or rule is a valid optimizer too. */
START_TEST(test_net_only)
{
    rig r;
    rig_handles(&r, 2, FLP_GRANULARITY_SYNAPSE);
    ck_flp(flp_meta_create(r.net, NULL, NULL, &r.meta));
    ck_assert_int_eq(r.meta->ref.n, 4);
    set_grads(r.meta, 0);
    ck_flp(flp_meta_step(r.meta));
    rig_free(&r);
}
END_TEST

/* ---- schedules -------------------------------------------------------------- */

START_TEST(test_step_decay_milestones)
{
    rig r;
    rig_make(&r, 1);
    const int64_t ms[3] = {0, 2, 5};
    ck_flp(flp_meta_set_lr(r.meta, FLP_GROUP_PLASTICITY, 2.0));
    ck_flp(flp_meta_set_step_decay(r.meta, FLP_GROUP_PLASTICITY, 0.1, ms, 3));
    const double expect[7] = {0.2, 0.2, 0.02, 0.02, 0.02, 0.002, 0.002};
    for (int s = 0; s < 7; s++) {
        double lr;
        ck_flp(flp_meta_get_lr(r.meta, FLP_GROUP_PLASTICITY, &lr));
        ck_assert_double_eq_tol(lr, expect[s], 1e-15);
        ck_flp(flp_meta_get_lr(r.meta, FLP_GROUP_RULE, &lr));
        ck_assert_double_eq(lr, 1e-3); /* other groups keep their rate */
        ck_flp(flp_meta_zero_grad(r.meta));
        ck_flp(flp_meta_step(r.meta));
    }
    /* n = 0 clears the decay; sixteen milestones are accepted. */
    ck_flp(flp_meta_set_step_decay(r.meta, FLP_GROUP_PLASTICITY, 0.1, NULL, 0));
    double lr;
    ck_flp(flp_meta_get_lr(r.meta, FLP_GROUP_PLASTICITY, &lr));
    ck_assert_double_eq(lr, 2.0);
    int64_t many[16];
    for (int i = 0; i < 16; i++)
        many[i] = i;
    ck_flp(flp_meta_set_step_decay(r.meta, FLP_GROUP_PLASTICITY, 0.5, many, 16));
    ck_flp(flp_meta_get_lr(r.meta, FLP_GROUP_PLASTICITY, &lr));
    ck_assert_double_eq_tol(lr, 2.0 * pow(0.5, 8), 1e-15); /* step 7: milestones 0..7 passed */
    rig_free(&r);
}
END_TEST

/* FLP_META_RESTART_EVERY = 3 is a run split into processes of 3 steps that
 * each build a new optimizer over the handles: after 3 steps with one
 * optimizer, 2 more with it equal 2 steps of a fresh one from the same
 * parameters, bit for bit, moments and bias correction included; a decay
 * milestone at 4 never fires (its count restarts at 3), one at 1 fires in
 * every run. The step count still counts every step. */
START_TEST(test_restart_every)
{
    rig a, b;
    rig_make(&a, 5);
    rig_make(&b, 5);
    const int64_t ms[2] = {1, 4};
    ck_flp(flp_meta_set(a.meta, FLP_META_RESTART_EVERY, 3));
    double every;
    ck_flp(flp_meta_get(a.meta, FLP_META_RESTART_EVERY, &every));
    ck_assert_double_eq(every, 3);
    for (int k = 0; k < 2; k++) {
        flp_meta *m = k ? b.meta : a.meta;
        ck_flp(flp_meta_set_lr(m, FLP_GROUP_WEIGHTS, 0.05));
        ck_flp(flp_meta_set_step_decay(m, FLP_GROUP_WEIGHTS, 0.1, ms, 2));
    }
    const double lr_at[5] = {0.05, 0.005, 0.005, 0.05, 0.005}; /* run steps 0 1 2 | 0 1 */
    for (int step = 0; step < 5; step++) {
        double lr;
        ck_flp(flp_meta_get_lr(a.meta, FLP_GROUP_WEIGHTS, &lr));
        ck_assert_double_eq_tol(lr, lr_at[step], 1e-15);
        set_grads(a.meta, step);
        ck_flp(flp_meta_step(a.meta));
        if (step == 2) { /* b: the second process, a new optimizer from a's parameters */
            for (int i = 0; i < 3; i++) {
                set_grads(b.meta, i);
                ck_flp(flp_meta_step(b.meta));
            }
            flp_meta_free(b.meta);
            ck_flp(flp_meta_create(b.net, b.fb, b.rule, &b.meta));
            ck_flp(flp_meta_set_lr(b.meta, FLP_GROUP_WEIGHTS, 0.05));
            ck_flp(flp_meta_set_step_decay(b.meta, FLP_GROUP_WEIGHTS, 0.1, ms, 2));
        } else if (step > 2) {
            set_grads(b.meta, step);
            ck_flp(flp_meta_step(b.meta));
        }
    }
    snapshot sb = snap_take(b.meta), sa = snap_take(a.meta);
    ck_assert_int_eq(sa.step, 5);
    ck_assert_int_eq(sb.step, 2);
    ck_assert_msg(memcmp(sa.data, sb.data, (size_t)(sa.n_values + sa.n_moments) * sizeof(float)) == 0,
                  "a restarted optimizer differs from a fresh one");
    free(sa.data);
    free(sb.data);
    rig_free(&a);
    rig_free(&b);
}
END_TEST

static double sched_fn(flp_group group, int64_t step, double base, void *user)
{
    return base * (double)(step + 1) * (1 + (int)group) * *(double *)user;
}

static double sched_bad(flp_group group, int64_t step, double base, void *user)
{
    (void)group;
    (void)base;
    (void)user;
    return step >= 1 ? NAN : 1e-3;
}

START_TEST(test_schedule_callback)
{
    rig r;
    rig_make(&r, 1);
    double k = 0.5, lr;
    const int64_t ms[1] = {0};
    ck_flp(flp_meta_set_step_decay(r.meta, FLP_GROUP_FEEDBACK, 0.01, ms, 1));
    ck_flp(flp_meta_set_schedule(r.meta, sched_fn, &k));
    for (int s = 0; s < 3; s++) {
        for (int g = 0; g < FLP_GROUP_COUNT; g++) {
            ck_flp(flp_meta_get_lr(r.meta, (flp_group)g, &lr));
            ck_assert_double_eq_tol(lr, 1e-3 * (s + 1) * (1 + g) * 0.5, 1e-15); /* no decay */
        }
        ck_flp(flp_meta_step(r.meta));
    }
    ck_flp(flp_meta_set_schedule(r.meta, NULL, NULL));
    ck_flp(flp_meta_get_lr(r.meta, FLP_GROUP_FEEDBACK, &lr));
    ck_assert_double_eq_tol(lr, 1e-5, 1e-18);
    /* A callback that returns NaN stops the step before anything moves. */
    ck_flp(flp_meta_set_schedule(r.meta, sched_bad, NULL));
    set_grads(r.meta, 0);
    snapshot before = snap_take(r.meta);
    ck_flp_fails(flp_meta_step(r.meta), FLP_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "schedule returned nan"));
    ck_flp_fails(flp_meta_get_lr(r.meta, FLP_GROUP_WEIGHTS, &lr), FLP_ERR_RANGE);
    snap_check_same(&before, r.meta, "refused step");
    free(before.data);
    rig_free(&r);
}
END_TEST

/* A rate above FLT_MAX moves a float parameter to inf: refused by the
 * setter, and from a callback or step decay by the step, which then
 * applies nothing. FLT_MAX itself is a rate. */
static double sched_huge(flp_group group, int64_t step, double base, void *user)
{
    (void)group;
    (void)step;
    (void)base;
    (void)user;
    return 1e39;
}

START_TEST(test_lr_bounds)
{
    rig r;
    rig_make(&r, 1);
    static const double bad[] = {1e39, (double)FLT_MAX * 1.0000001, INFINITY, NAN, -1e-9};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_flp_fails(flp_meta_set_lr(r.meta, FLP_GROUP_WEIGHTS, bad[i]), FLP_ERR_RANGE);
        ck_assert_msg(strstr(flp_last_error(), "FLT_MAX"), "%s", flp_last_error());
        double lr;
        ck_flp(flp_meta_get_lr(r.meta, FLP_GROUP_WEIGHTS, &lr));
        ck_assert_double_eq(lr, 1e-3);
    }
    ck_flp(flp_meta_set_lr(r.meta, FLP_GROUP_RULE, FLT_MAX));
    ck_flp(flp_meta_set_lr(r.meta, FLP_GROUP_RULE, 1e-3));

    set_grads(r.meta, 0);
    snapshot before = snap_take(r.meta);
    ck_flp(flp_meta_set_schedule(r.meta, sched_huge, NULL));
    ck_flp_fails(flp_meta_step(r.meta), FLP_ERR_RANGE);
    ck_assert_msg(strstr(flp_last_error(), "schedule returned 1e+39"), "%s", flp_last_error());
    snap_check_same(&before, r.meta, "huge scheduled rate");
    ck_flp(flp_meta_set_schedule(r.meta, NULL, NULL));

    /* decay by 1e30 at steps 0 and 1: 1e27 at step 0, 1e57 at step 1 */
    const int64_t ms[2] = {0, 1};
    ck_flp(flp_meta_set_step_decay(r.meta, FLP_GROUP_FEEDBACK, 1e30, ms, 2));
    ck_flp(flp_meta_set_lr(r.meta, FLP_GROUP_FEEDBACK, 1e-3));
    ck_flp(flp_meta_step(r.meta));
    free(before.data);
    before = snap_take(r.meta);
    ck_flp_fails(flp_meta_step(r.meta), FLP_ERR_RANGE);
    ck_assert_msg(strstr(flp_last_error(), "step decay takes group 1's learning rate to 1e+57"), "%s",
                  flp_last_error());
    snap_check_same(&before, r.meta, "decayed past FLT_MAX");
    free(before.data);
    rig_free(&r);
}
END_TEST

/* The step count stops at 2^53 with a clean refusal: from INT64_MAX it
 * used to overflow (UBSan) and go negative. */
START_TEST(test_step_count_bound)
{
    rig r;
    rig_make(&r, 1);
    set_grads(r.meta, 0);
    r.meta->step = FLP__META_MAX_STEPS - 1;
    ck_flp(flp_meta_step(r.meta));
    int64_t steps;
    ck_flp(flp_meta_step_count(r.meta, &steps));
    ck_assert_int_eq(steps, FLP__META_MAX_STEPS);
    snapshot before = snap_take(r.meta);
    ck_flp_fails(flp_meta_step(r.meta), FLP_ERR_RANGE);
    ck_assert_msg(strstr(flp_last_error(), "2^53"), "%s", flp_last_error());
    snap_check_same(&before, r.meta, "step at the maximum");
    ck_flp(flp_meta_step_count(r.meta, &steps));
    ck_assert_int_eq(steps, FLP__META_MAX_STEPS);
    free(before.data);
    rig_free(&r);
}
END_TEST

/* ---- freezing --------------------------------------------------------------- */

START_TEST(test_freeze)
{
    rig r;
    rig_make(&r, 3);
    ck_flp(flp_meta_freeze(r.meta, FLP_GROUP_WEIGHTS, 1));
    ck_flp(flp_meta_freeze(r.meta, FLP_GROUP_STRENGTH, 1));
    snapshot before = snap_take(r.meta);
    set_grads(r.meta, 0);
    ck_flp(flp_meta_step(r.meta));
    snapshot after = snap_take(r.meta);
    flp__tensor_list l = views(r.meta);
    int64_t k = 0, off = 0;
    for (int i = 0; i < l.n; i++) {
        int frozen = l.items[i].group == FLP_GROUP_WEIGHTS || l.items[i].group == FLP_GROUP_STRENGTH;
        size_t bytes = (size_t)l.items[i].count * sizeof(float);
        int same_value = memcmp(before.data + k, after.data + k, bytes) == 0;
        int same_m = memcmp(r.meta->moments + off, before.data + before.n_values + off, bytes) == 0;
        ck_assert_msg(same_value == frozen, "%s moved: %d, frozen %d", l.items[i].name, !same_value,
                      frozen);
        ck_assert_msg(same_m == frozen, "%s moments moved: %d", l.items[i].name, !same_m);
        k += l.items[i].count;
        off += l.items[i].count;
    }
    flp__tensor_list_free(&l);
    free(before.data);
    free(after.data);
    rig_free(&r);
}
END_TEST

/* ---- non-finite gradients ----------------------------------------------------- */

/* Put NaN and -inf into rule.0.alpha's gradient (tensor 10). */
static void poison(flp_meta *meta)
{
    flp__tensor_list l = views(meta);
    ck_assert_str_eq(l.items[10].name, "rule.0.alpha");
    l.items[10].grad[3] = NAN;
    l.items[10].grad[7] = -INFINITY;
    flp__tensor_list_free(&l);
}

START_TEST(test_nonfinite_skip)
{
    rig r;
    rig_make(&r, 4);
    set_grads(r.meta, 0);
    poison(r.meta);
    snapshot before = snap_take(r.meta);
    ck_flp_fails(flp_meta_step(r.meta), FLP_ERR_NONFINITE);
    ck_assert_msg(strstr(flp_last_error(), "rule.0.alpha[3]") != NULL, "%s", flp_last_error());
    ck_assert_msg(strstr(flp_last_error(), "2 non-finite") != NULL, "%s", flp_last_error());
    snap_check_same(&before, r.meta, "skipped step");
    /* Non-finite entries of a frozen group are not looked at. */
    ck_flp(flp_meta_freeze(r.meta, FLP_GROUP_PLASTICITY, 1));
    ck_flp(flp_meta_step(r.meta));
    int64_t steps;
    ck_flp(flp_meta_step_count(r.meta, &steps));
    ck_assert_int_eq(steps, 1);
    free(before.data);
    rig_free(&r);
}
END_TEST

START_TEST(test_nonfinite_zero)
{
    rig a, b;
    rig_make(&a, 4);
    rig_make(&b, 4);
    ck_flp(flp_meta_set(a.meta, FLP_META_NONFINITE, 1));
    ck_flp(flp_meta_set(b.meta, FLP_META_NONFINITE, 1));
    set_grads(a.meta, 0);
    poison(a.meta);
    ck_flp_fails(flp_meta_step(a.meta), FLP_ERR_NONFINITE);
    ck_assert_msg(strstr(flp_last_error(), "zeroed 2") != NULL, "%s", flp_last_error());
    ck_assert_msg(strstr(flp_last_error(), "rule.0.alpha[3]") != NULL, "%s", flp_last_error());
    flp__tensor_list la = views(a.meta);
    ck_assert(la.items[10].grad[3] == 0.0f && la.items[10].grad[7] == 0.0f);
    flp__tensor_list_free(&la);
    /* Same as a step with those entries set to zero by hand. */
    set_grads(b.meta, 0);
    flp__tensor_list lb = views(b.meta);
    lb.items[10].grad[3] = lb.items[10].grad[7] = 0.0f;
    flp__tensor_list_free(&lb);
    ck_flp(flp_meta_step(b.meta));
    snapshot sb = snap_take(b.meta);
    snap_check_same(&sb, a.meta, "zeroed step");
    free(sb.data);
    rig_free(&a);
    rig_free(&b);
}
END_TEST

/* ---- gradients ------------------------------------------------------------------- */

START_TEST(test_grad_norm_zero_scale)
{
    rig r;
    rig_make(&r, 1);
    set_grads(r.meta, 2);
    double sum[FLP_GROUP_COUNT] = {0}, total = 0;
    flp__tensor_list l = views(r.meta);
    for (int i = 0; i < l.n; i++)
        for (int64_t j = 0; j < l.items[i].count; j++) {
            double g = l.items[i].grad[j];
            sum[l.items[i].group] += g * g;
            total += g * g;
        }
    double norm;
    for (int g = 0; g < FLP_GROUP_COUNT; g++) {
        ck_flp(flp_meta_grad_norm(r.meta, g, &norm));
        ck_assert_double_eq_tol(norm, sqrt(sum[g]), 1e-12 * (1 + sqrt(sum[g])));
    }
    ck_flp(flp_meta_grad_norm(r.meta, -1, &norm));
    ck_assert_double_eq_tol(norm, sqrt(total), 1e-12 * sqrt(total));
    ck_flp(flp_meta_scale_grad(r.meta, 0.25));
    ck_flp(flp_meta_grad_norm(r.meta, -1, &norm));
    ck_assert_double_eq_tol(norm, 0.25 * sqrt(total), 1e-6 * sqrt(total));
    ck_flp(flp_meta_zero_grad(r.meta));
    ck_flp(flp_meta_grad_norm(r.meta, -1, &norm));
    ck_assert_double_eq(norm, 0);
    flp__tensor_list_free(&l);
    rig_free(&r);
}
END_TEST

/* ---- configuration changes ----------------------------------------------------- */

START_TEST(test_configuration_changed)
{
    rig r;
    rig_make(&r, 1);
    double norm;
    ck_flp(flp_rule_set(r.rule, FLP_RULE_GRANULARITY, FLP_GRANULARITY_NEURON));
    ck_flp_fails(flp_meta_step(r.meta), FLP_ERR_STATE);
    ck_assert_msg(strstr(flp_last_error(), "configuration changed after flp_meta_create") != NULL,
                  "%s", flp_last_error());
    ck_assert_msg(strstr(flp_last_error(), "rule.0.alpha has 4 values, was 12") != NULL, "%s",
                  flp_last_error());
    ck_flp_fails(flp_meta_zero_grad(r.meta), FLP_ERR_STATE);
    ck_flp_fails(flp_meta_scale_grad(r.meta, 2), FLP_ERR_STATE);
    ck_flp_fails(flp_meta_grad_norm(r.meta, -1, &norm), FLP_ERR_STATE);
    ck_flp_fails(flp_checkpoint_save("unused.ckpt", r.meta, NULL), FLP_ERR_STATE);
    ck_flp_fails(flp_checkpoint_load("unused.ckpt", r.meta, NULL), FLP_ERR_STATE);
    /* Back to the configuration at create: usable again. */
    ck_flp(flp_rule_set(r.rule, FLP_RULE_GRANULARITY, FLP_GRANULARITY_SYNAPSE));
    ck_flp(flp_meta_step(r.meta));
    /* A layer added to the network: more tensors than at create. */
    ck_flp(flp_net_add_linear(r.net, 3, 1));
    ck_flp_fails(flp_meta_step(r.meta), FLP_ERR_STATE);
    ck_assert_msg(strstr(flp_last_error(), "net.3.weight") != NULL, "%s", flp_last_error());
    rig_free(&r);
}
END_TEST

/* ---- bad arguments ------------------------------------------------------------- */

START_TEST(test_bad_inputs)
{
    rig r;
    rig_make(&r, 1);
    flp_meta *m = r.meta, *out = (flp_meta *)&r;
    double v;
    int64_t steps, ms[3] = {1, 1, 2};
    ck_flp_fails(flp_meta_create(NULL, r.fb, r.rule, &out), FLP_ERR_NULL);
    ck_assert_ptr_null(out);
    ck_flp_fails(flp_meta_create(r.net, r.fb, r.rule, NULL), FLP_ERR_NULL);
    /* Feedback and rule of another network. */
    rig other;
    int64_t in = 2;
    ck_flp(flp_net_create(1, &in, &other.net));
    ck_flp(flp_net_add_linear(other.net, 1, 1));
    ck_flp(flp_feedback_create(other.net, &other.fb));
    ck_flp(flp_rule_create(other.net, FLP_RULE_HEBB, &other.rule));
    ck_flp_fails(flp_meta_create(r.net, other.fb, NULL, &out), FLP_ERR_INVALID);
    ck_flp_fails(flp_meta_create(r.net, NULL, other.rule, &out), FLP_ERR_INVALID);
    other.meta = NULL;
    rig_free(&other);

    ck_flp_fails(flp_meta_set(NULL, FLP_META_BETA1, 0.5), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_set(m, (flp_meta_key)FLP__META_NKEYS, 0.5), FLP_ERR_INVALID);
    ck_flp_fails(flp_meta_set(m, FLP_META_RESTART_EVERY, 0.5), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set(m, FLP_META_RESTART_EVERY, -1), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set(m, (flp_meta_key)-1, 0.5), FLP_ERR_INVALID);
    ck_flp_fails(flp_meta_set(m, FLP_META_BETA1, 1.0), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set(m, FLP_META_BETA1, -0.1), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set(m, FLP_META_BETA2, NAN), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set(m, FLP_META_EPSILON, 0), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set(m, FLP_META_EPSILON, INFINITY), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set(m, FLP_META_NONFINITE, 2), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set(m, FLP_META_NONFINITE, 0.5), FLP_ERR_RANGE);
    ck_flp(flp_meta_set(m, FLP_META_BETA1, 0));
    ck_flp_fails(flp_meta_get(NULL, FLP_META_BETA1, &v), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_get(m, FLP_META_BETA1, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_get(m, (flp_meta_key)9, &v), FLP_ERR_INVALID);

    ck_flp_fails(flp_meta_set_lr(NULL, FLP_GROUP_WEIGHTS, 1), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_set_lr(m, (flp_group)5, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set_lr(m, (flp_group)-1, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set_lr(m, FLP_GROUP_WEIGHTS, -1e-3), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set_lr(m, FLP_GROUP_WEIGHTS, NAN), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set_lr(m, FLP_GROUP_WEIGHTS, INFINITY), FLP_ERR_RANGE);
    ck_flp(flp_meta_set_lr(m, FLP_GROUP_WEIGHTS, 0));
    ck_flp_fails(flp_meta_get_lr(NULL, FLP_GROUP_WEIGHTS, &v), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_get_lr(m, FLP_GROUP_WEIGHTS, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_get_lr(m, (flp_group)7, &v), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_freeze(NULL, FLP_GROUP_WEIGHTS, 1), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_freeze(m, (flp_group)5, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_freeze(m, FLP_GROUP_WEIGHTS, 2), FLP_ERR_RANGE);

    ck_flp_fails(flp_meta_set_step_decay(NULL, FLP_GROUP_WEIGHTS, 0.5, ms, 1), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_set_step_decay(m, (flp_group)5, 0.5, ms, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set_step_decay(m, FLP_GROUP_WEIGHTS, 0.5, NULL, 1), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_set_step_decay(m, FLP_GROUP_WEIGHTS, 0.5, ms, 2), FLP_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "strictly increasing"));
    ck_flp_fails(flp_meta_set_step_decay(m, FLP_GROUP_WEIGHTS, 0.5, ms, -1), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set_step_decay(m, FLP_GROUP_WEIGHTS, 0.5, ms, 17), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set_step_decay(m, FLP_GROUP_WEIGHTS, NAN, ms + 1, 2), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set_step_decay(m, FLP_GROUP_WEIGHTS, -0.5, ms + 1, 2), FLP_ERR_RANGE);
    const int64_t neg[1] = {-1};
    ck_flp_fails(flp_meta_set_step_decay(m, FLP_GROUP_WEIGHTS, 0.5, neg, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_set_schedule(NULL, sched_fn, NULL), FLP_ERR_NULL);

    ck_flp_fails(flp_meta_zero_grad(NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_scale_grad(NULL, 0.5), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_scale_grad(m, NAN), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_scale_grad(m, INFINITY), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_step(NULL), FLP_ERR_NULL);
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    float loss;
    ck_flp_fails(flp_meta_train_step(NULL, (flp_lifetime *)&r, ep, &loss), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_train_step(m, NULL, ep, &loss), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_train_step(m, (flp_lifetime *)&r, NULL, &loss), FLP_ERR_NULL);
    flp_episode_free(ep);
    ck_flp_fails(flp_meta_step_count(NULL, &steps), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_step_count(m, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_grad_norm(NULL, -1, &v), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_grad_norm(m, -1, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_grad_norm(m, 5, &v), FLP_ERR_RANGE);

    ck_flp_fails(flp_checkpoint_save(NULL, m, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_checkpoint_save("x", NULL, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_checkpoint_save("", m, NULL), FLP_ERR_INVALID);
    ck_flp_fails(flp_checkpoint_load(NULL, m, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_checkpoint_load("x", NULL, NULL), FLP_ERR_NULL);
    flp_meta_free(NULL);
    rig_free(&r);
}
END_TEST

/* Every allocation of create, save and load failing in turn: NOMEM, no
 * leak (under ASan), handles untouched and still usable. */
START_TEST(test_out_of_memory)
{
    rig r;
    rig_make(&r, 1);
    flp_meta_free(r.meta);
    r.meta = NULL;
    flp_status st = FLP_ERR_NOMEM;
    for (int64_t n = 1; st == FLP_ERR_NOMEM; n++) {
        flp__alloc_fail_after(n);
        st = flp_meta_create(r.net, r.fb, r.rule, &r.meta);
        flp__alloc_fail_after(0);
        ck_assert_msg(st == FLP_OK || (st == FLP_ERR_NOMEM && r.meta == NULL), "n=%lld: %s",
                      (long long)n, flp_last_error());
    }
    char path[] = "/tmp/flp_meta_oom_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_flp(flp_checkpoint_save(path, r.meta, NULL));
    set_grads(r.meta, 0);
    ck_flp(flp_meta_step(r.meta));
    snapshot before = snap_take(r.meta);
    for (int which = 0; which < 2; which++) {
        st = FLP_ERR_NOMEM;
        for (int64_t n = 1; st == FLP_ERR_NOMEM; n++) {
            flp__alloc_fail_after(n);
            st = which == 0 ? flp_checkpoint_save(path, r.meta, NULL)
                            : flp_checkpoint_load(path, r.meta, NULL);
            flp__alloc_fail_after(0);
            ck_assert_msg(st == FLP_OK || st == FLP_ERR_NOMEM, "%s", flp_last_error());
            if (st == FLP_ERR_NOMEM || which == 0)
                snap_check_same(&before, r.meta, "NOMEM");
        }
    }
    unlink(path);
    free(before.data);
    rig_free(&r);
}
END_TEST

/* ======================================================================
 * Checkpoints
 * ====================================================================== */

/* A scratch directory per test, removed with its files at the end. */
static char tmpdir[64];

static void dir_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/flp_meta_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void dir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            dir_remove(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void dir_teardown(void) { dir_remove(tmpdir); }

static const char *tmp_path(const char *name)
{
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

/* Number of entries in the scratch directory (temporary files included). */
static int dir_entries(void)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static uint8_t *read_all(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)*size + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)*size, f), *size);
    fclose(f);
    return buf;
}

static void write_all(const char *path, const uint8_t *buf, long size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(buf, 1, (size_t)size, f), size);
    fclose(f);
}

/* ---- a fake sampler, so that the sampler section is tested on its own --- */

typedef struct {
    flp_sampler base;
    uint64_t counter;
} fake_sampler;

static int64_t fake_state_size(const flp_sampler *s)
{
    (void)s;
    return 8;
}
static void fake_get_state(const flp_sampler *s, uint8_t *buf)
{
    memcpy(buf, &((const fake_sampler *)s)->counter, 8);
}
static flp_status fake_set_state(flp_sampler *s, const uint8_t *buf, int64_t n)
{
    if (n != 8)
        return FLP_ERR_FORMAT;
    memcpy(&((fake_sampler *)s)->counter, buf, 8);
    return FLP_OK;
}
static const flp__sampler_ops fake_ops = {.kind = "fake", .state_size = fake_state_size,
                                          .get_state = fake_get_state, .set_state = fake_set_state};
static const flp__sampler_ops fake2_ops = {.kind = "fake2", .state_size = fake_state_size,
                                           .get_state = fake_get_state, .set_state = fake_set_state};

/* Several steps so that values, moments and step count are all non-trivial. */
static void train(flp_meta *meta, int from, int to)
{
    for (int s = from; s < to; s++) {
        set_grads(meta, s);
        ck_flp(flp_meta_step(meta));
    }
}

START_TEST(test_checkpoint_round_trip)
{
    rig a, b;
    rig_make(&a, 21);
    rig_make(&b, 99); /* other initial values: the load must replace them all */
    const int64_t ms[2] = {3, 5};
    ck_flp(flp_meta_set_step_decay(a.meta, FLP_GROUP_WEIGHTS, 0.3, ms, 2));
    ck_flp(flp_meta_set_lr(a.meta, FLP_GROUP_PLASTICITY, 1e-2));
    ck_flp(flp_meta_freeze(a.meta, FLP_GROUP_RULE, 1));
    ck_flp(flp_meta_set(a.meta, FLP_META_BETA2, 0.99));
    ck_flp(flp_meta_set(a.meta, FLP_META_NONFINITE, 1));
    train(a.meta, 0, 4);
    fake_sampler fa = {{&fake_ops, NULL}, 1234}, fb = {{&fake_ops, NULL}, 0};
    const char *path = tmp_path("a.ckpt");
    ck_flp(flp_checkpoint_save(path, a.meta, &fa.base));
    ck_assert_int_eq(dir_entries(), 1); /* no temporary file left behind */
    snapshot saved = snap_take(a.meta);

    ck_flp(flp_checkpoint_load(path, b.meta, &fb.base));
    snap_check_same(&saved, b.meta, "loaded");
    ck_assert_int_eq(fb.counter, 1234);
    /* Continuing both gives bit-identical results. */
    train(a.meta, 4, 8);
    train(b.meta, 4, 8);
    snapshot sa = snap_take(a.meta);
    snap_check_same(&sa, b.meta, "resumed");
    /* The net's own accessors see the restored values. */
    float wa[8], wb[8];
    ck_flp(flp_net_get_param(a.net, 2, FLP_PARAM_WEIGHT, wa, 8));
    ck_flp(flp_net_get_param(b.net, 2, FLP_PARAM_WEIGHT, wb, 8));
    ck_assert(memcmp(wa, wb, sizeof wa) == 0);
    /* The file's sampler is ignored when no sampler is given. */
    ck_flp(flp_checkpoint_load(path, b.meta, NULL));
    snap_check_same(&saved, b.meta, "loaded without sampler");
    /* Saving over an existing file replaces it. */
    ck_flp(flp_checkpoint_save(path, a.meta, NULL));
    ck_flp(flp_checkpoint_load(path, b.meta, NULL));
    snap_check_same(&sa, b.meta, "overwritten");
    ck_assert_int_eq(dir_entries(), 1);
    free(saved.data);
    free(sa.data);
    rig_free(&a);
    rig_free(&b);
}
END_TEST

START_TEST(test_checkpoint_sampler_mismatch)
{
    rig r;
    rig_make(&r, 1);
    train(r.meta, 0, 2);
    fake_sampler f1 = {{&fake_ops, NULL}, 7}, f2 = {{&fake2_ops, NULL}, 9};
    const char *with = tmp_path("with.ckpt"), *without = tmp_path("without.ckpt");
    ck_flp(flp_checkpoint_save(with, r.meta, &f1.base));
    ck_flp(flp_checkpoint_save(without, r.meta, NULL));
    train(r.meta, 2, 3);
    snapshot before = snap_take(r.meta);
    ck_flp_fails(flp_checkpoint_load(with, r.meta, &f2.base), FLP_ERR_VERSION);
    ck_assert_msg(strstr(flp_last_error(), "'fake'") && strstr(flp_last_error(), "'fake2'"), "%s",
                  flp_last_error());
    ck_flp_fails(flp_checkpoint_load(without, r.meta, &f1.base), FLP_ERR_VERSION);
    ck_assert_msg(strstr(flp_last_error(), "no sampler") != NULL, "%s", flp_last_error());
    static const flp__sampler_ops nameless = {.kind = "", .state_size = fake_state_size,
                                              .get_state = fake_get_state,
                                              .set_state = fake_set_state};
    fake_sampler f3 = {{&nameless, NULL}, 0};
    ck_flp_fails(flp_checkpoint_save(tmp_path("nameless.ckpt"), r.meta, &f3.base), FLP_ERR_INVALID);
    snap_check_same(&before, r.meta, "sampler mismatch");
    ck_assert_int_eq(f1.counter, 7);
    ck_assert_int_eq(f2.counter, 9);
    free(before.data);
    rig_free(&r);
}
END_TEST

/* A small checkpoint (with a sampler section) and handles holding other
 * values, for the corruption tests. */
typedef struct {
    rig r;
    uint8_t *file;
    long size;
    snapshot before;
    fake_sampler fake;
} corrupt_rig;

static void corrupt_setup(corrupt_rig *c)
{
    rig_make(&c->r, 1);
    train(c->r.meta, 0, 2);
    c->fake = (fake_sampler){{&fake_ops, NULL}, 42};
    ck_flp(flp_checkpoint_save(tmp_path("good.ckpt"), c->r.meta, &c->fake.base));
    c->file = read_all(tmp_path("good.ckpt"), &c->size);
    train(c->r.meta, 2, 3);
    c->fake.counter = 5;
    c->before = snap_take(c->r.meta);
}

static void corrupt_free(corrupt_rig *c)
{
    free(c->file);
    free(c->before.data);
    rig_free(&c->r);
}

/* Load `buf` and expect `status`; the handles must be untouched. */
static void expect_refused(corrupt_rig *c, const uint8_t *buf, long size, flp_status status,
                           const char *needle, const char *what)
{
    const char *path = tmp_path("bad.ckpt");
    write_all(path, buf, size);
    flp_clear_error();
    flp_status st = flp_checkpoint_load(path, c->r.meta, &c->fake.base);
    ck_assert_msg(st == status, "%s: got %s (%s)", what, flp_status_name(st), flp_last_error());
    ck_assert_msg(strstr(flp_last_error(), path) != NULL, "%s: message lacks the path: %s", what,
                  flp_last_error());
    ck_assert_msg(needle == NULL || strstr(flp_last_error(), needle) != NULL, "%s: '%s' not in %s",
                  what, needle, flp_last_error());
    snap_check_same(&c->before, c->r.meta, what);
    ck_assert_int_eq(c->fake.counter, 5);
}

START_TEST(test_checkpoint_truncated)
{
    corrupt_rig c;
    corrupt_setup(&c);
    char what[64];
    for (long n = 0; n < c.size; n++) {
        snprintf(what, sizeof what, "truncated to %ld of %ld bytes", n, c.size);
        expect_refused(&c, c.file, n, FLP_ERR_FORMAT, NULL, what);
    }
    /* Named sections: cut inside the tensor section's payload. */
    uint64_t conf_len;
    memcpy(&conf_len, c.file + FLP__CKPT_HEADER_SIZE + 4, 8);
    long optimizer_at = FLP__CKPT_HEADER_SIZE + 16 + (long)conf_len;
    expect_refused(&c, c.file, FLP__CKPT_HEADER_SIZE + 16, FLP_ERR_FORMAT, "configuration section",
                   "cut in configuration");
    expect_refused(&c, c.file, optimizer_at + 16, FLP_ERR_FORMAT, "optimizer section",
                   "cut in optimizer");
    expect_refused(&c, c.file, c.size - 30, FLP_ERR_FORMAT, "sampler section", "cut in sampler");
    expect_refused(&c, c.file, 4, FLP_ERR_FORMAT, "header", "cut in header");
    corrupt_free(&c);
}
END_TEST

START_TEST(test_checkpoint_flipped_bytes)
{
    corrupt_rig c;
    corrupt_setup(&c);
    uint8_t *buf = malloc((size_t)c.size);
    char what[64];
    for (long i = 0; i < c.size; i++) {
        memcpy(buf, c.file, (size_t)c.size);
        buf[i] ^= 0x10;
        const char *path = tmp_path("bad.ckpt");
        write_all(path, buf, c.size);
        flp_status st = flp_checkpoint_load(path, c.r.meta, &c.fake.base);
        snprintf(what, sizeof what, "byte %ld flipped", i);
        ck_assert_msg(st == FLP_ERR_FORMAT || st == FLP_ERR_VERSION, "%s: %s (%s)", what,
                      flp_status_name(st), flp_last_error());
        snap_check_same(&c.before, c.r.meta, what);
        ck_assert_int_eq(c.fake.counter, 5);
    }
    /* A flip inside the tensor payload is caught by that section's CRC. */
    memcpy(buf, c.file, (size_t)c.size);
    long at = FLP__CKPT_HEADER_SIZE;
    uint64_t len;
    for (; memcmp(c.file + at, "TENS", 4) != 0; at += 16 + (long)len)
        memcpy(&len, c.file + at + 4, 8);
    memcpy(&len, c.file + at + 4, 8);
    buf[at + 12 + (long)len / 2] ^= 0x01;
    expect_refused(&c, buf, c.size, FLP_ERR_FORMAT, "CRC mismatch in the tensor section",
                   "payload flip");
    free(buf);
    corrupt_free(&c);
}
END_TEST

/* Rewrite the header CRC, byte-swapped when `swapped`. */
static void fix_header_crc(uint8_t *buf, int swapped)
{
    uint32_t crc = (uint32_t)crc32_z(0L, buf, 24);
    if (swapped)
        crc = crc >> 24 | (crc >> 8 & 0xff00u) | (crc << 8 & 0xff0000u) | crc << 24;
    memcpy(buf + 24, &crc, 4);
}

START_TEST(test_checkpoint_header_checks)
{
    corrupt_rig c;
    corrupt_setup(&c);
    uint8_t *buf = malloc((size_t)c.size);
    uint32_t x;
#define RESET() memcpy(buf, c.file, (size_t)c.size)
    RESET();
    memcpy(buf, "NOTACKPT", 8);
    expect_refused(&c, buf, c.size, FLP_ERR_FORMAT, "wrong magic", "magic");
    /* Files of another version or machine carry a header CRC of their own
     * (a machine of the other byte order stores it swapped). */
    RESET();
    x = 99;
    memcpy(buf + 8, &x, 4);
    fix_header_crc(buf, 0);
    expect_refused(&c, buf, c.size, FLP_ERR_VERSION, "format version 99", "version");
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "reads versions 1 to 3"));
    RESET();
    x = 0x04030201u;
    memcpy(buf + 16, &x, 4);
    fix_header_crc(buf, 1);
    expect_refused(&c, buf, c.size, FLP_ERR_VERSION, "opposite byte order", "endianness");
    RESET();
    x = 0x0000803fu;
    memcpy(buf + 20, &x, 4);
    fix_header_crc(buf, 0);
    expect_refused(&c, buf, c.size, FLP_ERR_VERSION, "float layout", "float layout");
    /* Damage to any header field is damage, not a version problem: the CRC
     * is checked before the fields are read. */
    for (int at = 8; at < 28; at++) {
        RESET();
        buf[at] ^= 1;
        expect_refused(&c, buf, c.size, FLP_ERR_FORMAT, "has a corrupt header (CRC mismatch)",
                       "header crc");
    }
    /* Data after the end marker. */
    uint8_t *longer = malloc((size_t)c.size + 1);
    memcpy(longer, c.file, (size_t)c.size);
    longer[c.size] = 0;
    expect_refused(&c, longer, c.size + 1, FLP_ERR_FORMAT, "after the end marker", "trailing");
    free(longer);
#undef RESET
    free(buf);
    corrupt_free(&c);
}
END_TEST

START_TEST(test_checkpoint_configuration_mismatch)
{
    rig a, b, d;
    rig_make(&a, 1);
    ck_flp(flp_checkpoint_save(tmp_path("a.ckpt"), a.meta, NULL));
    /* Same network, per-neuron plasticity coefficients. */
    rig_handles(&b, 2, FLP_GRANULARITY_NEURON);
    ck_flp(flp_meta_create(b.net, b.fb, b.rule, &b.meta));
    snapshot before = snap_take(b.meta);
    ck_flp_fails(flp_checkpoint_load(tmp_path("a.ckpt"), b.meta, NULL), FLP_ERR_VERSION);
    ck_assert_msg(strstr(flp_last_error(), "it has 'rule.granularity=synapse', these handles have "
                                           "'rule.granularity=neuron'"),
                  "%s", flp_last_error());
    snap_check_same(&before, b.meta, "granularity mismatch");
    free(before.data);
    /* The net alone: fewer tensors. */
    rig_handles(&d, 3, FLP_GRANULARITY_SYNAPSE);
    ck_flp(flp_meta_create(d.net, NULL, NULL, &d.meta));
    ck_flp_fails(flp_checkpoint_load(tmp_path("a.ckpt"), d.meta, NULL), FLP_ERR_VERSION);
    ck_assert_msg(strstr(flp_last_error(), "it has 'rule.kind=oja', these handles have 'rule=none'"),
                  "%s", flp_last_error());
    rig_free(&a);
    rig_free(&b);
    rig_free(&d);
}
END_TEST

/* A rule of another kind over the same tensors (Oja and Hebb have the same
 * coefficients) is caught by the configuration the file records. */
START_TEST(test_checkpoint_rule_kind_mismatch)
{
    rig a, b;
    rig_make(&a, 1);
    ck_flp(flp_checkpoint_save(tmp_path("oja.ckpt"), a.meta, NULL));
    rig_handles(&b, 2, FLP_GRANULARITY_SYNAPSE);
    flp_rule_free(b.rule);
    ck_flp(flp_rule_create(b.net, FLP_RULE_HEBB, &b.rule));
    ck_flp(flp_meta_create(b.net, b.fb, b.rule, &b.meta));
    snapshot before = snap_take(b.meta);
    ck_flp_fails(flp_checkpoint_load(tmp_path("oja.ckpt"), b.meta, NULL), FLP_ERR_VERSION);
    ck_assert_msg(strstr(flp_last_error(), "another configuration: it has 'rule.kind=oja', these "
                                           "handles have 'rule.kind=hebb'"),
                  "%s", flp_last_error());
    snap_check_same(&before, b.meta, "rule kind mismatch");
    free(before.data);
    rig_free(&a);
    rig_free(&b);
}
END_TEST

/* Doubles stored in another layout (here: byte-swapped) are refused. */
START_TEST(test_checkpoint_double_layout)
{
    corrupt_rig c;
    corrupt_setup(&c);
    uint8_t *buf = malloc((size_t)c.size);
    memcpy(buf, c.file, (size_t)c.size);
    long conf = FLP__CKPT_HEADER_SIZE;
    ck_assert_int_eq(memcmp(buf + conf, "CONF", 4), 0);
    for (int i = 0; i < 4; i++) {
        uint8_t t = buf[conf + 12 + i];
        buf[conf + 12 + i] = buf[conf + 19 - i];
        buf[conf + 19 - i] = t;
    }
    tu_fix_section_crc(buf, conf);
    expect_refused(&c, buf, c.size, FLP_ERR_VERSION, "different double layout", "double layout");
    free(buf);
    corrupt_free(&c);
}
END_TEST

/* Rewrite, in place, the optimizer section starting `at` bytes into the
 * file buf[size] as formats 1 and 2 wrote it: no key count, the first four
 * keys only (beta1, beta2, eps: f64; nonfinite: i32; the later keys are
 * i32). Returns the new size of the file. */
static long to_format2_optimizer(uint8_t *buf, long at, long size)
{
    ck_assert_int_eq(memcmp(buf + at, "OPTM", 4), 0);
    uint64_t len;
    memcpy(&len, buf + at + 4, 8);
    const uint8_t *p = buf + at + 12;
    uint32_t n;
    memcpy(&n, p, 4);
    ck_assert_int_eq(n, FLP__META_NKEYS);
    const long first4 = 3 * 8 + 4, later = 4 * ((long)n - 4), drop = 4 + later;
    uint8_t *payload = malloc((size_t)len);
    ck_assert_ptr_nonnull(payload);
    memcpy(payload, p + 4, (size_t)first4);
    memcpy(payload + first4, p + 4 + first4 + later, (size_t)((long)len - 4 - first4 - later));
    long end = at + 16 + (long)len; /* where the next section starts */
    len -= (uint64_t)drop;
    memcpy(buf + at + 4, &len, 8);
    memcpy(buf + at + 12, payload, (size_t)len);
    memmove(buf + at + 16 + (long)len, buf + end, (size_t)(size - end));
    tu_fix_section_crc(buf, at);
    free(payload);
    return size - drop;
}

/* Format 1 (libflp 0.1.0: no configuration section) is still read: the
 * same file less its CONF section loads to the same state. */
START_TEST(test_checkpoint_reads_format_1)
{
    corrupt_rig c;
    corrupt_setup(&c);
    uint64_t conf_len;
    memcpy(&conf_len, c.file + FLP__CKPT_HEADER_SIZE + 4, 8);
    long skip = 16 + (long)conf_len, size = c.size - skip;
    uint8_t *v1 = malloc((size_t)size);
    memcpy(v1, c.file, FLP__CKPT_HEADER_SIZE);
    memcpy(v1 + FLP__CKPT_HEADER_SIZE, c.file + FLP__CKPT_HEADER_SIZE + skip,
           (size_t)(size - FLP__CKPT_HEADER_SIZE));
    size = to_format2_optimizer(v1, FLP__CKPT_HEADER_SIZE, size);
    uint32_t format = 1;
    memcpy(v1 + 8, &format, 4);
    uint32_t crc = (uint32_t)crc32_z(0L, v1, 24);
    memcpy(v1 + 24, &crc, 4);
    write_all(tmp_path("v1.ckpt"), v1, size);
    ck_flp(flp_checkpoint_load(tmp_path("v1.ckpt"), c.r.meta, &c.fake.base));
    snapshot from_v1 = snap_take(c.r.meta);
    ck_assert_int_eq(c.fake.counter, 42);
    ck_flp(flp_checkpoint_load(tmp_path("good.ckpt"), c.r.meta, &c.fake.base));
    snap_check_same(&from_v1, c.r.meta, "format 1 and 2 loads");
    /* a format 1 file is checked by its tensors alone */
    rig d;
    rig_handles(&d, 3, FLP_GRANULARITY_NEURON);
    ck_flp(flp_meta_create(d.net, d.fb, d.rule, &d.meta));
    ck_flp_fails(flp_checkpoint_load(tmp_path("v1.ckpt"), d.meta, NULL), FLP_ERR_VERSION);
    ck_assert_msg(strstr(flp_last_error(),
                         "checkpoint has rule.0.alpha with 12 values, this configuration has 4"),
                  "%s", flp_last_error());
    rig_free(&d);
    free(from_v1.data);
    free(v1);
    corrupt_free(&c);
}
END_TEST

START_TEST(test_checkpoint_io_errors)
{
    rig r;
    rig_make(&r, 1);
    snapshot before = snap_take(r.meta);
    const char *missing = tmp_path("missing.ckpt");
    ck_flp_fails(flp_checkpoint_load(missing, r.meta, NULL), FLP_ERR_IO);
    ck_assert_msg(strstr(flp_last_error(), missing) && strstr(flp_last_error(), strerror(ENOENT)),
                  "%s", flp_last_error());
    ck_flp_fails(flp_checkpoint_load(tmpdir, r.meta, NULL), FLP_ERR_IO); /* a directory */
    /* Directories that cannot take the file: missing, and a regular file. */
    ck_flp_fails(flp_checkpoint_save(tmp_path("nodir/x.ckpt"), r.meta, NULL), FLP_ERR_IO);
    ck_assert_msg(strstr(flp_last_error(), "nodir/x.ckpt") != NULL, "%s", flp_last_error());
    write_all(tmp_path("file"), (const uint8_t *)"x", 1);
    ck_flp_fails(flp_checkpoint_save(tmp_path("file/x.ckpt"), r.meta, NULL), FLP_ERR_IO);
    ck_assert_msg(strstr(flp_last_error(), strerror(ENOTDIR)) != NULL, "%s", flp_last_error());
    /* An existing file survives a failed write (the file size limit stops
     * it), and nothing is left beside it, with O_TMPFILE and without. */
    const char *path = tmp_path("keep.ckpt");
    write_all(path, (const uint8_t *)"old contents", 12);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit was;
    getrlimit(RLIMIT_FSIZE, &was);
    struct rlimit small = {100, was.rlim_max}; /* the soft limit only: it must go back up */
    for (int use = 0; use < 2; use++) {
        flp__ckpt_use_tmpfile(use);
        int before_n = dir_entries();
        /* no check between the two setrlimit: Check writes its own files */
        int limited = setrlimit(RLIMIT_FSIZE, &small);
        flp_status st = flp_checkpoint_save(path, r.meta, NULL);
        int restored = setrlimit(RLIMIT_FSIZE, &was);
        ck_assert(limited == 0 && restored == 0);
        ck_assert_msg(st == FLP_ERR_IO && strstr(flp_last_error(), strerror(EFBIG)) != NULL, "%s: %s",
                      flp_status_name(st), flp_last_error());
        ck_assert_int_eq(dir_entries(), before_n);
        long size;
        uint8_t *got = read_all(path, &size);
        ck_assert(size == 12 && memcmp(got, "old contents", 12) == 0);
        free(got);
    }
    flp__ckpt_use_tmpfile(1);
    /* A directory is not replaced (nor written into) */
    const char *target = tmp_path("target");
    ck_assert_int_eq(mkdir(target, 0700), 0);
    write_all(tmp_path("target/inside"), (const uint8_t *)"x", 1);
    int before_n = dir_entries();
    ck_flp_fails(flp_checkpoint_save(target, r.meta, NULL), FLP_ERR_IO);
    ck_assert_msg(strstr(flp_last_error(), "is a directory: a checkpoint replaces only a regular file"),
                  "%s", flp_last_error());
    ck_assert_int_eq(dir_entries(), before_n);
    snap_check_same(&before, r.meta, "io errors");
    free(before.data);
    rig_free(&r);
}
END_TEST

/* ---- resume through the whole stack: sine sampler + lifetime -------------- */

static void sine_rig(rig *r, flp_sampler **s, flp_episode **ep, flp_lifetime **lt, uint64_t seed)
{
    int64_t in = 3; /* one-hot of 2 tasks ++ x */
    flp_rng *rng;
    ck_flp(flp_rng_create(seed, &rng));
    ck_flp(flp_net_create(1, &in, &r->net));
    ck_flp(flp_net_add_linear(r->net, 8, 1));
    ck_flp(flp_net_add_relu(r->net));
    ck_flp(flp_net_add_linear(r->net, 1, 1));
    ck_flp(flp_net_init(r->net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_feedback_create(r->net, &r->fb));
    ck_flp(flp_feedback_init(r->fb, rng, 0.5f));
    ck_flp(flp_rule_create(r->net, FLP_RULE_OJA, &r->rule));
    ck_flp(flp_rule_set(r->rule, FLP_RULE_ALPHA_INIT, 1e-3));
    ck_flp(flp_meta_create(r->net, r->fb, r->rule, &r->meta));
    ck_flp(flp_meta_set_lr(r->meta, FLP_GROUP_PLASTICITY, 1e-4));
    ck_flp(flp_lifetime_create(r->net, r->fb, r->rule, lt));
    ck_flp(flp_sampler_create_sine(seed, s));
    ck_flp(flp_sampler_set(*s, FLP_SINE_TASKS, 2));
    ck_flp(flp_sampler_set(*s, FLP_SINE_BATCHES_PER_TASK, 2));
    ck_flp(flp_sampler_set(*s, FLP_SINE_BATCH, 4));
    ck_flp(flp_sampler_set(*s, FLP_SINE_QUERY_PER_TASK, 4));
    ck_flp(flp_sampler_set(*s, FLP_SINE_POOL, 8));
    ck_flp(flp_episode_create(ep));
    flp_rng_free(rng);
}

static void sine_train(rig *r, flp_sampler *s, flp_episode *ep, flp_lifetime *lt, int n,
                       float *losses)
{
    for (int i = 0; i < n; i++) {
        ck_flp(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep));
        ck_flp(flp_meta_train_step(r->meta, lt, ep, &losses[i]));
    }
}

START_TEST(test_resume_bit_identical)
{
    rig a, b;
    flp_sampler *sa, *sb;
    flp_episode *ea, *eb;
    flp_lifetime *la, *lb;
    sine_rig(&a, &sa, &ea, &la, 7);
    sine_rig(&b, &sb, &eb, &lb, 8);
    float loss_a[6], loss_b[6];
    /* A lifetime over other handles is refused before anything runs. */
    float loss;
    ck_flp(flp_sampler_next(sa, FLP_SPLIT_TRAIN, ea));
    ck_flp_fails(flp_meta_train_step(a.meta, lb, ea, &loss), FLP_ERR_INVALID);
    sine_train(&a, sa, ea, la, 3, loss_a);
    const char *path = tmp_path("sine.ckpt");
    ck_flp(flp_checkpoint_save(path, a.meta, sa));
    sine_train(&a, sa, ea, la, 3, loss_a + 3);
    ck_flp(flp_checkpoint_load(path, b.meta, sb));
    sine_train(&b, sb, eb, lb, 3, loss_b + 3);
    ck_assert_msg(memcmp(loss_a + 3, loss_b + 3, 3 * sizeof(float)) == 0,
                  "losses differ after resume: %g vs %g", loss_a[5], loss_b[5]);
    snapshot s = snap_take(a.meta);
    snap_check_same(&s, b.meta, "resumed lifetime training");
    free(s.data);
    flp_episode_free(ea);
    flp_episode_free(eb);
    flp_sampler_free(sa);
    flp_sampler_free(sb);
    flp_lifetime_free(la);
    flp_lifetime_free(lb);
    rig_free(&a);
    rig_free(&b);
}
END_TEST

/* ---- every setting, through the key maps ----------------------------------- */

/* Set key k of `map` on handle h to another value it accepts (one up
 * within the bounds, else the lower bound: whichever reads back
 * differently) and return what it reads. */
static double change_key(const flp__key_map *m, void *h, const flp__key *k)
{
    double v = m->load(h, k->value), w;
    const double tries[2] = {v + 1 <= k->hi ? v + 1 : k->lo, k->lo};
    for (int i = 0; i < 2; i++) {
        ck_flp(flp__key_set(m, h, "h", k->value, tries[i], "change_key"));
        if ((w = m->load(h, k->value)) != v)
            return w;
    }
    ck_abort_msg("%s: found no other value than %g", k->name, v);
    return v;
}

/* The description line of key k at value v: "rule.second_order=1". */
static void key_line(const flp__key_map *m, const flp__key *k, double v, char *line, size_t n)
{
    char name[64], text[64];
    flp__key_describe(m, k, v, name, sizeof name, text, sizeof text);
    snprintf(line, n, "%s=%s", name, text);
}

/* A checkpoint loads only into handles whose every feedback and rule
 * setting is the one it was saved with: each key of both maps, changed
 * alone, is refused with FLP_ERR_VERSION naming the key and both values. */
START_TEST(test_checkpoint_refuses_any_other_setting)
{
    rig a;
    rig_make(&a, 1);
    const char *path = tmp_path("a.ckpt");
    ck_flp(flp_checkpoint_save(path, a.meta, NULL));
    const flp__key_map *maps[] = {&flp__rule_keys, &flp__feedback_keys};
    int checked = 0;
    for (size_t m = 0; m < sizeof maps / sizeof maps[0]; m++) {
        for (int i = 0; i < maps[m]->n; i++) {
            const flp__key *k = &maps[m]->keys[i];
            rig b;
            rig_handles(&b, 2, FLP_GRANULARITY_SYNAPSE);
            void *hb = maps[m] == &flp__rule_keys ? (void *)b.rule : (void *)b.fb;
            const void *ha = maps[m] == &flp__rule_keys ? (void *)a.rule : (void *)a.fb;
            double was = maps[m]->load(ha, k->value), now = change_key(maps[m], hb, k);
            ck_flp(flp_meta_create(b.net, b.fb, b.rule, &b.meta));
            snapshot before = snap_take(b.meta);
            ck_flp_fails(flp_checkpoint_load(path, b.meta, NULL), FLP_ERR_VERSION);
            char lw[160], ln[160], want[400];
            key_line(maps[m], k, was, lw, sizeof lw);
            key_line(maps[m], k, now, ln, sizeof ln);
            snprintf(want, sizeof want, "it has '%s', these handles have '%s' (%s)", lw, ln, k->name);
            ck_assert_msg(strstr(flp_last_error(), want) != NULL, "%s: '%s' not in %s", k->name,
                          want, flp_last_error());
            snap_check_same(&before, b.meta, k->name);
            free(before.data);
            rig_free(&b);
            checked++;
        }
    }
    ck_assert_int_eq(checked, 13);
    rig_free(&a);
}
END_TEST

static void gradient_rig(rig *r, uint64_t seed, int second_order)
{
    rig_handles(r, seed, FLP_GRANULARITY_SYNAPSE);
    flp_rule_free(r->rule);
    ck_flp(flp_rule_create(r->net, FLP_RULE_GRADIENT, &r->rule));
    ck_flp(flp_rule_set(r->rule, FLP_RULE_SECOND_ORDER, second_order));
    ck_flp(flp_meta_create(r->net, r->fb, r->rule, &r->meta));
}

/* The defect this refusal fixes: a first-order checkpoint loaded silently
 * into a second-order configuration (the order changes the meta-gradient,
 * not the tensors). */
START_TEST(test_checkpoint_first_order_into_second_order)
{
    rig a, b;
    gradient_rig(&a, 1, 0);
    gradient_rig(&b, 2, 1);
    ck_flp(flp_checkpoint_save(tmp_path("first.ckpt"), a.meta, NULL));
    snapshot before = snap_take(b.meta);
    ck_flp_fails(flp_checkpoint_load(tmp_path("first.ckpt"), b.meta, NULL), FLP_ERR_VERSION);
    ck_assert_msg(strstr(flp_last_error(), "it has 'rule.second_order=0', these handles have "
                                           "'rule.second_order=1' (FLP_RULE_SECOND_ORDER)"),
                  "%s", flp_last_error());
    snap_check_same(&before, b.meta, "second order");
    ck_flp(flp_rule_set(b.rule, FLP_RULE_SECOND_ORDER, 0));
    ck_flp(flp_checkpoint_load(tmp_path("first.ckpt"), b.meta, NULL));
    free(before.data);
    rig_free(&a);
    rig_free(&b);
}
END_TEST

/* The optimizer's and the sampler's settings are state: a load restores
 * every one of them. */
START_TEST(test_checkpoint_restores_every_optimizer_and_sampler_setting)
{
    rig a, b;
    rig_make(&a, 1);
    rig_make(&b, 2);
    flp_sampler *sa, *sb;
    ck_flp(flp_sampler_create_sine(3, &sa));
    ck_flp(flp_sampler_create_sine(4, &sb));
    const struct {
        const flp__key_map *map;
        void *a, *b;
    } hs[] = {{&flp__meta_keys, a.meta, b.meta}, {&flp__sine_keys, sa, sb}};
    for (size_t h = 0; h < 2; h++)
        for (int i = 0; i < hs[h].map->n; i++)
            change_key(hs[h].map, hs[h].a, &hs[h].map->keys[i]);
    ck_flp(flp_checkpoint_save(tmp_path("s.ckpt"), a.meta, sa));
    ck_flp(flp_checkpoint_load(tmp_path("s.ckpt"), b.meta, sb));
    for (size_t h = 0; h < 2; h++)
        for (int i = 0; i < hs[h].map->n; i++) {
            const flp__key *k = &hs[h].map->keys[i];
            double va = hs[h].map->load(hs[h].a, k->value), vb = hs[h].map->load(hs[h].b, k->value);
            ck_assert_msg(va == vb && va != k->def, "%s: saved %g, loaded %g", k->name, va, vb);
        }
    flp_sampler_free(sa);
    flp_sampler_free(sb);
    rig_free(&a);
    rig_free(&b);
}
END_TEST

/* A loaded state must be one the handles can go on from: a sine sampler
 * whose pool is smaller than an episode's draw (which the setters allow
 * on the way to a valid state, and flp_sampler_next refuses) is refused
 * as a file, and nothing changes. */
START_TEST(test_checkpoint_sampler_state_must_go_on)
{
    rig a;
    rig_make(&a, 1);
    flp_sampler *sa, *sb;
    ck_flp(flp_sampler_create_sine(3, &sa));
    ck_flp(flp_sampler_create_sine(4, &sb));
    ck_flp(flp_sampler_set(sa, FLP_SINE_TASKS, 20));
    ck_flp(flp_sampler_set(sa, FLP_SINE_POOL, 8));
    ck_flp(flp_checkpoint_save(tmp_path("pool.ckpt"), a.meta, sa));
    train(a.meta, 0, 1);
    snapshot before = snap_take(a.meta);
    ck_flp_fails(flp_checkpoint_load(tmp_path("pool.ckpt"), a.meta, sb), FLP_ERR_FORMAT);
    ck_assert_msg(strstr(flp_last_error(), "sine sampler state: the training pool has 8 "
                                           "sinusoids, fewer than the 20"),
                  "%s", flp_last_error());
    snap_check_same(&before, a.meta, "sampler cannot go on");
    double v;
    ck_flp(flp_sampler_get(sb, FLP_SINE_TASKS, &v));
    ck_assert_double_eq(v, 10);
    free(before.data);
    flp_sampler_free(sa);
    flp_sampler_free(sb);
    rig_free(&a);
}
END_TEST

/* The file as format 2 wrote it: its CONF held fewer settings and named
 * the rule family "unknown". Returns the new size (buf holds size + 16). */
static long to_format2(const uint8_t *file, long size, uint8_t *out)
{
    static const char *const dropped[] = {"rule.plastic_last=", "rule.alpha_init=",
                                          "rule.second_order=", "rule.terms=",
                                          "rule.theta_l1=", "feedback.kind="};
    long at = FLP__CKPT_HEADER_SIZE;
    uint64_t len;
    uint32_t text_len;
    memcpy(&len, file + at + 4, 8);
    memcpy(&text_len, file + at + 20, 4);
    const char *text = (const char *)file + at + 24;
    char conf[4096];
    size_t n = 0;
    for (size_t i = 0; i < text_len;) {
        const char *end = memchr(text + i, '\n', text_len - i);
        size_t line = (size_t)(end - (text + i)) + 1;
        int keep = 1;
        for (size_t d = 0; d < sizeof dropped / sizeof dropped[0]; d++)
            keep &= strncmp(text + i, dropped[d], strlen(dropped[d])) != 0;
        if (strncmp(text + i, "rule.kind=family\n", line) == 0) {
            memcpy(conf + n, "rule.kind=unknown\n", 18);
            n += 18;
        } else if (keep) {
            memcpy(conf + n, text + i, line);
            n += line;
        }
        i += line;
    }
    memcpy(out, file, (size_t)at);
    uint32_t format = 2, crc;
    memcpy(out + 8, &format, 4);
    crc = (uint32_t)crc32_z(0L, out, 24);
    memcpy(out + 24, &crc, 4);
    uint64_t new_len = 12 + n;
    uint32_t new_text = (uint32_t)n;
    memcpy(out + at, "CONF", 4);
    memcpy(out + at + 4, &new_len, 8);
    memcpy(out + at + 12, file + at + 12, 8); /* f64 1.0 */
    memcpy(out + at + 20, &new_text, 4);
    memcpy(out + at + 24, conf, n);
    crc = (uint32_t)crc32_z(0L, out + at, (z_size_t)(12 + new_len));
    memcpy(out + at + 24 + n, &crc, 4);
    long rest = at + 16 + (long)len;
    memcpy(out + at + 28 + n, file + rest, (size_t)(size - rest));
    long out_size = at + 28 + (long)n + (size - rest);
    return to_format2_optimizer(out, at + 28 + (long)n, out_size);
}

static void write_format2(const char *from, const char *to)
{
    long size;
    uint8_t *file = read_all(from, &size);
    uint8_t *v2 = malloc((size_t)size + 16);
    write_all(to, v2, to_format2(file, size, v2));
    free(v2);
    free(file);
}

/* Format 2 files still load, checked on the settings they recorded (the
 * others are taken on trust: such a file cannot tell them). */
START_TEST(test_checkpoint_reads_format_2)
{
    rig a, b;
    rig_make(&a, 1);
    train(a.meta, 0, 2);
    ck_flp(flp_checkpoint_save(tmp_path("v3.ckpt"), a.meta, NULL));
    write_format2(tmp_path("v3.ckpt"), tmp_path("v2.ckpt"));
    rig_make(&b, 2);
    ck_flp(flp_checkpoint_load(tmp_path("v2.ckpt"), b.meta, NULL));
    snapshot from_v2 = snap_take(b.meta);
    ck_flp(flp_checkpoint_load(tmp_path("v3.ckpt"), b.meta, NULL));
    snap_check_same(&from_v2, b.meta, "format 2 and 3 loads");
    ck_flp(flp_rule_set(b.rule, FLP_RULE_SECOND_ORDER, 1)); /* not in format 2 */
    ck_flp(flp_checkpoint_load(tmp_path("v2.ckpt"), b.meta, NULL));
    ck_flp(flp_feedback_set(b.fb, FLP_FEEDBACK_RELU, 0)); /* in format 2 */
    ck_flp_fails(flp_checkpoint_load(tmp_path("v2.ckpt"), b.meta, NULL), FLP_ERR_VERSION);
    ck_assert_msg(strstr(flp_last_error(), "it has 'feedback.relu=1', these handles have "
                                           "'feedback.relu=0' (FLP_FEEDBACK_RELU)"),
                  "%s", flp_last_error());
    free(from_v2.data);
    rig_free(&b);
    /* the family, written "unknown" by format 2 */
    flp_meta_free(a.meta);
    flp_rule_free(a.rule);
    ck_flp(flp_rule_create(a.net, FLP_RULE_FAMILY, &a.rule));
    ck_flp(flp_meta_create(a.net, a.fb, a.rule, &a.meta));
    ck_flp(flp_checkpoint_save(tmp_path("family.ckpt"), a.meta, NULL));
    long size;
    uint8_t *file = read_all(tmp_path("family.ckpt"), &size);
    int found = 0;
    for (long i = 0; i + 17 <= size && !found; i++)
        found = memcmp(file + i, "rule.kind=family\n", 17) == 0;
    ck_assert_msg(found, "the family's kind is not recorded as 'family'");
    free(file);
    write_format2(tmp_path("family.ckpt"), tmp_path("family2.ckpt"));
    ck_flp(flp_checkpoint_load(tmp_path("family2.ckpt"), a.meta, NULL));
    rig_make(&b, 2); /* Oja */
    ck_flp_fails(flp_checkpoint_load(tmp_path("family2.ckpt"), b.meta, NULL), FLP_ERR_VERSION);
    ck_assert_msg(strstr(flp_last_error(), "it has 'rule.kind=unknown', these handles have "
                                           "'rule.kind=oja'"),
                  "%s", flp_last_error());
    rig_free(&b);
    rig_free(&a);
}
END_TEST

Suite *make_meta_suite(void)
{
    Suite *s = suite_create("meta");
    TCase *adam = tcase_create("adam");
    tcase_add_test(adam, test_adam_matches_reference);
    tcase_add_test(adam, test_step_uses_backward_gradients);
    tcase_add_test(adam, test_defaults);
    tcase_add_test(adam, test_net_only);
    tcase_add_test(adam, test_step_decay_milestones);
    tcase_add_test(adam, test_restart_every);
    tcase_add_test(adam, test_schedule_callback);
    tcase_add_test(adam, test_lr_bounds);
    tcase_add_test(adam, test_step_count_bound);
    tcase_add_test(adam, test_freeze);
    tcase_add_test(adam, test_nonfinite_skip);
    tcase_add_test(adam, test_nonfinite_zero);
    tcase_add_test(adam, test_grad_norm_zero_scale);
    tcase_add_test(adam, test_configuration_changed);
    tcase_add_test(adam, test_bad_inputs);
    tcase_add_test(adam, test_out_of_memory);
    suite_add_tcase(s, adam);

    TCase *ckpt = tcase_create("checkpoint");
    tcase_add_checked_fixture(ckpt, dir_setup, dir_teardown);
    tcase_add_test(ckpt, test_checkpoint_round_trip);
    tcase_add_test(ckpt, test_checkpoint_sampler_mismatch);
    tcase_add_test(ckpt, test_checkpoint_truncated);
    tcase_add_test(ckpt, test_checkpoint_flipped_bytes);
    tcase_add_test(ckpt, test_checkpoint_header_checks);
    tcase_add_test(ckpt, test_checkpoint_configuration_mismatch);
    tcase_add_test(ckpt, test_checkpoint_refuses_any_other_setting);
    tcase_add_test(ckpt, test_checkpoint_first_order_into_second_order);
    tcase_add_test(ckpt, test_checkpoint_restores_every_optimizer_and_sampler_setting);
    tcase_add_test(ckpt, test_checkpoint_sampler_state_must_go_on);
    tcase_add_test(ckpt, test_checkpoint_reads_format_2);
    tcase_add_test(ckpt, test_checkpoint_rule_kind_mismatch);
    tcase_add_test(ckpt, test_checkpoint_double_layout);
    tcase_add_test(ckpt, test_checkpoint_reads_format_1);
    tcase_add_test(ckpt, test_checkpoint_io_errors);
    tcase_add_test(ckpt, test_resume_bit_identical);
    suite_add_tcase(s, ckpt);
    return s;
}
