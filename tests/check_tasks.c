/* check_tasks.c - episodes and the incremental-sine sampler. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tasks/sampler_internal.h"
#include "testutil.h"

#define PI 3.14159265358979323846

/* ck_assert marks a checkpoint on every call (a write to the runner), which
 * is slow in loops over thousands of points; this only acts on failure. */
#define require(cond, ...)              \
    do {                                \
        if (!(cond))                    \
            ck_abort_msg(__VA_ARGS__);  \
    } while (0)

/* ======================================================================
 * Episodes
 * ====================================================================== */

enum { K = 3, B = 2, NI = 4, NO = 2, NQ = 5, NC = 3 };

typedef struct {
    float x[K * B * NI], y[K * B * NO], xq[NQ * NI], yq[NQ * NO];
    int32_t labels[K * B], lq[NQ];
} ep_data;

static void fill_data(ep_data *d, uint64_t seed)
{
    tu_fill_uniform(d->x, K * B * NI, -1, 1, seed);
    tu_fill_uniform(d->y, K * B * NO, -1, 1, seed + 1);
    tu_fill_uniform(d->xq, NQ * NI, -1, 1, seed + 2);
    tu_fill_uniform(d->yq, NQ * NO, -1, 1, seed + 3);
    for (int i = 0; i < K * B; i++)
        d->labels[i] = i % NC;
    for (int i = 0; i < NQ; i++)
        d->lq[i] = (i + 1) % NC;
}

static flp_status set_reg(flp_episode *ep, const ep_data *d)
{
    return flp_episode_set_regression(ep, K, B, NI, NO, d->x, d->y, NQ, d->xq, d->yq);
}

static flp_status set_cls(flp_episode *ep, const ep_data *d)
{
    return flp_episode_set_classes(ep, K, B, NI, NC, d->x, d->labels, NQ, d->xq, d->lq);
}

static void expect_floats(const flp_episode *ep, flp_episode_array which, const float *want, int64_t n)
{
    const float *got;
    int64_t count;
    ck_flp(flp_episode_floats(ep, which, &got, &count));
    ck_assert_int_eq(count, n);
    ck_assert_mem_eq(got, want, (size_t)n * sizeof *want);
}

static void expect_labels(const flp_episode *ep, flp_episode_array which, const int32_t *want, int64_t n)
{
    const int32_t *got;
    int64_t count;
    ck_flp(flp_episode_labels(ep, which, &got, &count));
    ck_assert_int_eq(count, n);
    ck_assert_mem_eq(got, want, (size_t)n * sizeof *want);
}

static void expect_regression(const flp_episode *ep, const ep_data *d)
{
    int64_t s, b, ni, no, nq;
    int cls = -1;
    ck_flp(flp_episode_shape(ep, &s, &b, &ni, &no, &nq, &cls));
    ck_assert_int_eq(s, K);
    ck_assert_int_eq(b, B);
    ck_assert_int_eq(ni, NI);
    ck_assert_int_eq(no, NO);
    ck_assert_int_eq(nq, NQ);
    ck_assert_int_eq(cls, 0);
    expect_floats(ep, FLP_EPISODE_X, d->x, K * B * NI);
    expect_floats(ep, FLP_EPISODE_Y, d->y, K * B * NO);
    expect_floats(ep, FLP_EPISODE_XQ, d->xq, NQ * NI);
    expect_floats(ep, FLP_EPISODE_YQ, d->yq, NQ * NO);
}

static void expect_message_has(const char *needle)
{
    ck_assert_msg(strstr(flp_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                  flp_last_error(), needle);
}

START_TEST(test_episode_empty)
{
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    ck_flp_fails(flp_episode_shape(ep, NULL, NULL, NULL, NULL, NULL, NULL), FLP_ERR_STATE);
    const float *f;
    int64_t n;
    ck_flp_fails(flp_episode_floats(ep, FLP_EPISODE_X, &f, &n), FLP_ERR_STATE);
    flp_episode_free(ep);
    flp_episode_free(NULL);
    ck_flp_fails(flp_episode_create(NULL), FLP_ERR_NULL);
}
END_TEST

START_TEST(test_episode_regression_roundtrip)
{
    ep_data d;
    fill_data(&d, 1);
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    ck_flp(set_reg(ep, &d));
    expect_regression(ep, &d);
    /* any shape output may be NULL */
    ck_flp(flp_episode_shape(ep, NULL, NULL, NULL, NULL, NULL, NULL));
    const int32_t *l;
    const float *f;
    int64_t n;
    ck_flp_fails(flp_episode_labels(ep, FLP_EPISODE_LABELS, &l, &n), FLP_ERR_INVALID);
    ck_flp_fails(flp_episode_labels(ep, FLP_EPISODE_X, &l, &n), FLP_ERR_INVALID);
    ck_flp_fails(flp_episode_floats(ep, FLP_EPISODE_LQ, &f, &n), FLP_ERR_INVALID);
    ck_flp_fails(flp_episode_floats(ep, (flp_episode_array)6, &f, &n), FLP_ERR_INVALID);
    ck_flp_fails(flp_episode_floats(ep, (flp_episode_array)-1, &f, &n), FLP_ERR_INVALID);
    ck_flp_fails(flp_episode_floats(NULL, FLP_EPISODE_X, &f, &n), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_floats(ep, FLP_EPISODE_X, NULL, &n), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_floats(ep, FLP_EPISODE_X, &f, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_labels(ep, FLP_EPISODE_LQ, NULL, &n), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_shape(NULL, NULL, NULL, NULL, NULL, NULL, NULL), FLP_ERR_NULL);
    flp_episode_free(ep);
}
END_TEST

START_TEST(test_episode_classes_roundtrip)
{
    ep_data d;
    fill_data(&d, 2);
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    ck_flp(set_cls(ep, &d));
    int64_t no;
    int cls = 0;
    ck_flp(flp_episode_shape(ep, NULL, NULL, NULL, &no, NULL, &cls));
    ck_assert_int_eq(no, NC);
    ck_assert_int_eq(cls, 1);
    expect_floats(ep, FLP_EPISODE_X, d.x, K * B * NI);
    expect_floats(ep, FLP_EPISODE_XQ, d.xq, NQ * NI);
    expect_labels(ep, FLP_EPISODE_LABELS, d.labels, K * B);
    expect_labels(ep, FLP_EPISODE_LQ, d.lq, NQ);
    const float *f;
    int64_t n;
    ck_flp_fails(flp_episode_floats(ep, FLP_EPISODE_Y, &f, &n), FLP_ERR_INVALID);
    ck_flp_fails(flp_episode_floats(ep, FLP_EPISODE_YQ, &f, &n), FLP_ERR_INVALID);
    /* switching kind back and forth keeps each kind's arrays right */
    ck_flp(set_reg(ep, &d));
    expect_regression(ep, &d);
    ck_flp(set_cls(ep, &d));
    expect_labels(ep, FLP_EPISODE_LQ, d.lq, NQ);
    flp_episode_free(ep);
}
END_TEST

START_TEST(test_episode_null_and_extents)
{
    ep_data d;
    fill_data(&d, 3);
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    ck_flp_fails(flp_episode_set_regression(NULL, K, B, NI, NO, d.x, d.y, NQ, d.xq, d.yq), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_set_regression(ep, K, B, NI, NO, NULL, d.y, NQ, d.xq, d.yq), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_set_regression(ep, K, B, NI, NO, d.x, NULL, NQ, d.xq, d.yq), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_set_regression(ep, K, B, NI, NO, d.x, d.y, NQ, NULL, d.yq), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_set_regression(ep, K, B, NI, NO, d.x, d.y, NQ, d.xq, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_set_classes(NULL, K, B, NI, NC, d.x, d.labels, NQ, d.xq, d.lq), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_set_classes(ep, K, B, NI, NC, NULL, d.labels, NQ, d.xq, d.lq), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_set_classes(ep, K, B, NI, NC, d.x, NULL, NQ, d.xq, d.lq), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_set_classes(ep, K, B, NI, NC, d.x, d.labels, NQ, NULL, d.lq), FLP_ERR_NULL);
    ck_flp_fails(flp_episode_set_classes(ep, K, B, NI, NC, d.x, d.labels, NQ, d.xq, NULL), FLP_ERR_NULL);

    const int64_t bad[] = {0, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t v = bad[i];
        ck_flp_fails(flp_episode_set_regression(ep, v, B, NI, NO, d.x, d.y, NQ, d.xq, d.yq), FLP_ERR_RANGE);
        expect_message_has("steps");
        ck_flp_fails(flp_episode_set_regression(ep, K, v, NI, NO, d.x, d.y, NQ, d.xq, d.yq), FLP_ERR_RANGE);
        expect_message_has("batch");
        ck_flp_fails(flp_episode_set_regression(ep, K, B, v, NO, d.x, d.y, NQ, d.xq, d.yq), FLP_ERR_RANGE);
        expect_message_has("n_in");
        ck_flp_fails(flp_episode_set_regression(ep, K, B, NI, v, d.x, d.y, NQ, d.xq, d.yq), FLP_ERR_RANGE);
        expect_message_has("n_out");
        ck_flp_fails(flp_episode_set_regression(ep, K, B, NI, NO, d.x, d.y, v, d.xq, d.yq), FLP_ERR_RANGE);
        expect_message_has("n_query");
        ck_flp_fails(flp_episode_set_classes(ep, K, B, NI, v, d.x, d.labels, NQ, d.xq, d.lq), FLP_ERR_RANGE);
        expect_message_has("n_classes");
    }
    /* sizes whose product overflows are refused before any array is read */
    ck_flp_fails(flp_episode_set_regression(ep, INT64_MAX / 2, 4, NI, NO, d.x, d.y, NQ, d.xq, d.yq),
                 FLP_ERR_RANGE);
    ck_flp_fails(flp_episode_shape(ep, NULL, NULL, NULL, NULL, NULL, NULL), FLP_ERR_STATE);
    flp_episode_free(ep);
}
END_TEST

/* Poison one element of one array, expect refusal naming it, and the
 * previously set episode left intact. */
START_TEST(test_episode_nonfinite)
{
    const float poison[] = {NAN, INFINITY, -INFINITY};
    const struct {
        flp_episode_array which;
        int index;
        const char *name;
    } spots[] = {
        {FLP_EPISODE_X, 13, "x[13] (step 1, example 1, feature 1)"},
        {FLP_EPISODE_Y, 0, "y[0] (step 0, example 0, output 0)"},
        {FLP_EPISODE_XQ, NQ * NI - 1, "xq[19] (example 4, feature 3)"},
        {FLP_EPISODE_YQ, 3, "yq[3] (example 1, output 1)"},
    };
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    ep_data good;
    fill_data(&good, 4);
    ck_flp(set_reg(ep, &good));
    for (size_t s = 0; s < sizeof spots / sizeof *spots; s++) {
        for (size_t p = 0; p < sizeof poison / sizeof *poison; p++) {
            ep_data d;
            fill_data(&d, 5);
            float *arr = spots[s].which == FLP_EPISODE_X ? d.x
                       : spots[s].which == FLP_EPISODE_Y ? d.y
                       : spots[s].which == FLP_EPISODE_XQ ? d.xq : d.yq;
            arr[spots[s].index] = poison[p];
            ck_flp_fails(set_reg(ep, &d), FLP_ERR_NONFINITE);
            expect_message_has(spots[s].name);
            expect_message_has("flp_episode_set_regression");
            if (spots[s].which == FLP_EPISODE_X || spots[s].which == FLP_EPISODE_XQ) {
                ck_flp_fails(set_cls(ep, &d), FLP_ERR_NONFINITE);
                expect_message_has(spots[s].name);
            }
            expect_regression(ep, &good);
        }
    }
    flp_episode_free(ep);
}
END_TEST

START_TEST(test_episode_labels_range)
{
    const int32_t bad[] = {-1, NC, INT32_MIN, INT32_MAX};
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    ep_data good;
    fill_data(&good, 6);
    ck_flp(set_cls(ep, &good));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ep_data d;
        fill_data(&d, 6);
        d.labels[5] = bad[i];
        ck_flp_fails(set_cls(ep, &d), FLP_ERR_RANGE);
        expect_message_has("labels[5] (step 2, example 1)");
        fill_data(&d, 6);
        d.lq[4] = bad[i];
        ck_flp_fails(set_cls(ep, &d), FLP_ERR_RANGE);
        expect_message_has("lq[4] (example 4)");
        expect_labels(ep, FLP_EPISODE_LABELS, good.labels, K * B);
        expect_labels(ep, FLP_EPISODE_LQ, good.lq, NQ);
    }
    flp_episode_free(ep);
}
END_TEST

/* Buffers grow only when shapes grow: a smaller episode reuses them. */
START_TEST(test_episode_reuses_buffers)
{
    ep_data d;
    fill_data(&d, 7);
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    ck_flp(set_reg(ep, &d));
    const float *x1, *x2;
    int64_t n;
    ck_flp(flp_episode_floats(ep, FLP_EPISODE_X, &x1, &n));
    flp__alloc_fail_after(0);
    ck_flp(flp_episode_set_regression(ep, K - 1, B, NI, NO, d.x, d.y, NQ - 1, d.xq, d.yq));
    ck_assert_int_eq(flp__alloc_fail_after(0), 0);
    ck_flp(flp_episode_floats(ep, FLP_EPISODE_X, &x2, &n));
    ck_assert_ptr_eq(x1, x2);
    ck_assert_int_eq(n, (K - 1) * B * NI);
    ck_flp(set_reg(ep, &d));
    ck_assert_int_eq(flp__alloc_fail_after(0), 0);
    expect_regression(ep, &d);
    flp_episode_free(ep);
}
END_TEST

/* An allocation failure anywhere leaves the previous episode intact. */
START_TEST(test_episode_nomem)
{
    ep_data d;
    fill_data(&d, 8);
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    ck_flp(flp_episode_set_regression(ep, 1, 1, NI, NO, d.x, d.y, 1, d.xq, d.yq));
    for (int64_t fail = 1; fail <= 4; fail++) {
        flp__alloc_fail_after(fail);
        ck_flp_fails(set_reg(ep, &d), FLP_ERR_NOMEM);
        flp__alloc_fail_after(0);
        int64_t s, nq;
        ck_flp(flp_episode_shape(ep, &s, NULL, NULL, NULL, &nq, NULL));
        ck_assert_int_eq(s, 1);
        ck_assert_int_eq(nq, 1);
        expect_floats(ep, FLP_EPISODE_X, d.x, NI);
    }
    flp__alloc_fail_after(1);
    flp_episode *none = (flp_episode *)&d;
    ck_flp_fails(flp_episode_create(&none), FLP_ERR_NOMEM);
    ck_assert_ptr_null(none);
    flp__alloc_fail_after(0);
    flp_episode_free(ep);
}
END_TEST

/* ======================================================================
 * Incremental sine waves
 * ====================================================================== */

/* A view of a sine episode with its shape. */
typedef struct {
    int64_t steps, batch, n_in, n_query;
    const float *x, *y, *xq, *yq;
} sine_view;

static sine_view view_of(const flp_episode *ep)
{
    sine_view v;
    int64_t n_out, n;
    int cls;
    ck_flp(flp_episode_shape(ep, &v.steps, &v.batch, &v.n_in, &n_out, &v.n_query, &cls));
    ck_assert_int_eq(n_out, 1);
    ck_assert_int_eq(cls, 0);
    ck_flp(flp_episode_floats(ep, FLP_EPISODE_X, &v.x, &n));
    ck_flp(flp_episode_floats(ep, FLP_EPISODE_Y, &v.y, &n));
    ck_flp(flp_episode_floats(ep, FLP_EPISODE_XQ, &v.xq, &n));
    ck_flp(flp_episode_floats(ep, FLP_EPISODE_YQ, &v.yq, &n));
    return v;
}

/* Task of a row: its one-hot position; fails unless exactly one of the
 * first n_in - 1 columns is 1 and the rest are 0. */
static int task_of(const float *row, int64_t n_in)
{
    int task = -1;
    for (int64_t j = 0; j < n_in - 1; j++) {
        if (row[j] == 1.0f) {
            require(task < 0, "two ones in the one-hot part");
            task = (int)j;
        } else {
            require(row[j] == 0.0f, "one-hot column %lld is %g", (long long)j, row[j]);
        }
    }
    require(task >= 0, "no one in the one-hot part");
    return task;
}

/* Least-squares fit of y = a sin x + b cos x (= A sin(x + phi) with
 * A = hypot(a, b), phi = atan2(b, a)), accumulated point by point. */
typedef struct {
    double ss, sc, cc, ys, yc;
    int64_t n;
} fit_acc;

static void fit_add(fit_acc *f, float x, float y)
{
    double s = sin(x), c = cos(x);
    f->ss += s * s;
    f->sc += s * c;
    f->cc += c * c;
    f->ys += y * s;
    f->yc += y * c;
    f->n++;
}

typedef struct {
    double amp, phase;
} sinus;

static sinus fit_solve(const fit_acc *f)
{
    double det = f->ss * f->cc - f->sc * f->sc;
    require(f->n >= 3 && det > 1e-9, "degenerate fit (%lld points)", (long long)f->n);
    double a = (f->ys * f->cc - f->yc * f->sc) / det;
    double b = (f->yc * f->ss - f->ys * f->sc) / det;
    return (sinus){hypot(a, b), atan2(b, a)};
}

enum { MAX_TASKS = 16 };

/* Fit every task's sinusoid from training and query points together and
 * check every point lies on it; returns the number of tasks. */
static int64_t fit_episode(const flp_episode *ep, sinus out[MAX_TASKS])
{
    sine_view v = view_of(ep);
    int64_t tasks = v.n_in - 1;
    ck_assert_int_le(tasks, MAX_TASKS);
    fit_acc acc[MAX_TASKS];
    memset(acc, 0, sizeof acc);
    for (int pass = 0; pass < 2; pass++) {
        const float *x = pass ? v.xq : v.x, *y = pass ? v.yq : v.y;
        int64_t rows = pass ? v.n_query : v.steps * v.batch;
        for (int64_t r = 0; r < rows; r++) {
            const float *row = x + r * v.n_in;
            float xv = row[v.n_in - 1];
            require(xv >= -5.0f && xv <= 5.0f, "x = %g outside [-5, 5]", xv);
            fit_add(&acc[task_of(row, v.n_in)], xv, y[r]);
        }
    }
    for (int64_t t = 0; t < tasks; t++)
        out[t] = fit_solve(&acc[t]);
    /* every point on its task's curve (float rounding of x and y only) */
    for (int pass = 0; pass < 2; pass++) {
        const float *x = pass ? v.xq : v.x, *y = pass ? v.yq : v.y;
        int64_t rows = pass ? v.n_query : v.steps * v.batch;
        for (int64_t r = 0; r < rows; r++) {
            const float *row = x + r * v.n_in;
            sinus f = out[task_of(row, v.n_in)];
            double want = f.amp * sin(row[v.n_in - 1] + f.phase);
            require(fabs(y[r] - want) < 2e-5, "row %lld: y %g, fit %g", (long long)r, y[r], want);
        }
    }
    for (int64_t t = 0; t < tasks; t++) {
        require(out[t].amp >= 0.1 - 1e-5 && out[t].amp <= 5.1 + 1e-5, "amplitude %g", out[t].amp);
        require(out[t].phase >= -1e-5 && out[t].phase <= PI + 1e-5, "phase %g", out[t].phase);
    }
    return tasks;
}

static int same_sinus(sinus a, sinus b) { return fabs(a.amp - b.amp) < 1e-4 && fabs(a.phase - b.phase) < 1e-4; }

/* Task of every step; fails if a step mixes tasks. */
static void step_tasks(const flp_episode *ep, int *tasks_of_step)
{
    sine_view v = view_of(ep);
    for (int64_t s = 0; s < v.steps; s++) {
        const float *rows = v.x + s * v.batch * v.n_in;
        tasks_of_step[s] = task_of(rows, v.n_in);
        for (int64_t e = 1; e < v.batch; e++)
            require(task_of(rows + e * v.n_in, v.n_in) == tasks_of_step[s], "step %lld mixes tasks", (long long)s);
    }
}

static flp_sampler *make_sine(uint64_t seed)
{
    flp_sampler *s;
    ck_flp(flp_sampler_create_sine(seed, &s));
    return s;
}

static void set_small(flp_sampler *s, int tasks, int batches, int batch, int query)
{
    ck_flp(flp_sampler_set(s, FLP_SINE_TASKS, tasks));
    ck_flp(flp_sampler_set(s, FLP_SINE_BATCHES_PER_TASK, batches));
    ck_flp(flp_sampler_set(s, FLP_SINE_BATCH, batch));
    ck_flp(flp_sampler_set(s, FLP_SINE_QUERY_PER_TASK, query));
}

/* Bitwise equality of two regression episodes. */
static int episodes_equal(const flp_episode *a, const flp_episode *b)
{
    int64_t sa[5], sb[5];
    ck_flp(flp_episode_shape(a, &sa[0], &sa[1], &sa[2], &sa[3], &sa[4], NULL));
    ck_flp(flp_episode_shape(b, &sb[0], &sb[1], &sb[2], &sb[3], &sb[4], NULL));
    if (memcmp(sa, sb, sizeof sa) != 0)
        return 0;
    const flp_episode_array arrays[] = {FLP_EPISODE_X, FLP_EPISODE_Y, FLP_EPISODE_XQ, FLP_EPISODE_YQ};
    for (int i = 0; i < 4; i++) {
        const float *pa, *pb;
        int64_t na, nb;
        ck_flp(flp_episode_floats(a, arrays[i], &pa, &na));
        ck_flp(flp_episode_floats(b, arrays[i], &pb, &nb));
        if (na != nb || memcmp(pa, pb, (size_t)na * sizeof *pa) != 0)
            return 0;
    }
    return 1;
}

static flp_episode *new_episode(void)
{
    flp_episode *ep;
    ck_flp(flp_episode_create(&ep));
    return ep;
}

START_TEST(test_sine_settings)
{
    flp_sampler *s = make_sine(1);
    int64_t ni, no;
    int cls;
    ck_flp(flp_sampler_io_size(s, &ni, &no, &cls));
    ck_assert_int_eq(ni, 11);
    ck_assert_int_eq(no, 1);
    ck_assert_int_eq(cls, 0);
    const double defaults[] = {10, 40, 32, 32, FLP_ORDER_IID, 400, 0};
    for (int k = 0; k < 7; k++) {
        double v, lo, hi;
        ck_flp(flp_sampler_get(s, k, &v));
        ck_assert_double_eq(v, defaults[k]);
        ck_flp(flp_sampler_bounds(s, k, &lo, &hi));
        ck_assert(lo <= v && v <= hi);
        ck_flp_fails(flp_sampler_set(s, k, lo - 1), FLP_ERR_RANGE);
        ck_flp_fails(flp_sampler_set(s, k, hi + 1), FLP_ERR_RANGE);
        ck_flp_fails(flp_sampler_set(s, k, NAN), FLP_ERR_RANGE);
        ck_flp_fails(flp_sampler_set(s, k, INFINITY), FLP_ERR_RANGE);
        ck_flp_fails(flp_sampler_set(s, k, lo + 0.5), FLP_ERR_RANGE);
        ck_flp(flp_sampler_set(s, k, hi));
        ck_flp(flp_sampler_get(s, k, &v));
        ck_assert_double_eq(v, hi);
        ck_flp(flp_sampler_set(s, k, defaults[k]));
    }
    ck_flp(flp_sampler_set(s, FLP_SINE_TASKS, 3));
    ck_flp(flp_sampler_io_size(s, &ni, &no, &cls));
    ck_assert_int_eq(ni, 4);
    double v, lo, hi;
    ck_flp_fails(flp_sampler_set(s, 7, 1), FLP_ERR_INVALID);
    ck_flp_fails(flp_sampler_set(s, -1, 1), FLP_ERR_INVALID);
    ck_flp_fails(flp_sampler_get(s, 7, &v), FLP_ERR_INVALID);
    ck_flp_fails(flp_sampler_bounds(s, 99, &lo, &hi), FLP_ERR_INVALID);
    ck_flp_fails(flp_sampler_set(NULL, 0, 1), FLP_ERR_NULL);
    ck_flp_fails(flp_sampler_get(NULL, 0, &v), FLP_ERR_NULL);
    ck_flp_fails(flp_sampler_get(s, 0, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_sampler_bounds(s, 0, NULL, &hi), FLP_ERR_NULL);
    ck_flp_fails(flp_sampler_bounds(s, 0, &lo, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_sampler_io_size(NULL, &ni, &no, &cls), FLP_ERR_NULL);
    ck_flp_fails(flp_sampler_io_size(s, NULL, &no, &cls), FLP_ERR_NULL);
    ck_flp_fails(flp_sampler_create_sine(1, NULL), FLP_ERR_NULL);
    flp_episode *ep = new_episode();
    ck_flp_fails(flp_sampler_next(NULL, FLP_SPLIT_TRAIN, ep), FLP_ERR_NULL);
    ck_flp_fails(flp_sampler_next(s, FLP_SPLIT_TRAIN, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_sampler_next(s, (flp_split)2, ep), FLP_ERR_INVALID);
    flp_episode_free(ep);
    flp_sampler_free(s);
    flp_sampler_free(NULL);
}
END_TEST

START_TEST(test_sine_default_shape_and_fit)
{
    flp_sampler *s = make_sine(2);
    flp_episode *ep = new_episode();
    for (int split = 0; split < 2; split++) {
        ck_flp(flp_sampler_next(s, (flp_split)split, ep));
        sine_view v = view_of(ep);
        ck_assert_int_eq(v.steps, 400);
        ck_assert_int_eq(v.batch, 32);
        ck_assert_int_eq(v.n_in, 11);
        ck_assert_int_eq(v.n_query, 320);
        sinus f[MAX_TASKS];
        ck_assert_int_eq(fit_episode(ep, f), 10);
        /* the query is laid out task by task, 32 points each */
        for (int64_t q = 0; q < v.n_query; q++)
            require(task_of(v.xq + q * v.n_in, v.n_in) == q / 32, "query row %lld", (long long)q);
    }
    flp_episode_free(ep);
    flp_sampler_free(s);
}
END_TEST

/* Amplitudes, phases and x spread over their whole ranges. */
START_TEST(test_sine_ranges_covered)
{
    flp_sampler *s = make_sine(3);
    flp_episode *ep = new_episode();
    double amp_lo = 1e9, amp_hi = -1e9, ph_lo = 1e9, ph_hi = -1e9;
    float x_lo = 1e9f, x_hi = -1e9f;
    for (int e = 0; e < 20; e++) {
        ck_flp(flp_sampler_next(s, FLP_SPLIT_EVAL, ep));
        sinus f[MAX_TASKS];
        int64_t tasks = fit_episode(ep, f);
        for (int64_t t = 0; t < tasks; t++) {
            amp_lo = fmin(amp_lo, f[t].amp);
            amp_hi = fmax(amp_hi, f[t].amp);
            ph_lo = fmin(ph_lo, f[t].phase);
            ph_hi = fmax(ph_hi, f[t].phase);
        }
        sine_view v = view_of(ep);
        for (int64_t r = 0; r < v.steps * v.batch; r++) {
            x_lo = fminf(x_lo, v.x[r * v.n_in + v.n_in - 1]);
            x_hi = fmaxf(x_hi, v.x[r * v.n_in + v.n_in - 1]);
        }
    }
    ck_assert_msg(amp_lo < 0.5 && amp_hi > 4.7, "amplitudes in [%g, %g]", amp_lo, amp_hi);
    ck_assert_msg(ph_lo < 0.3 && ph_hi > PI - 0.3, "phases in [%g, %g]", ph_lo, ph_hi);
    ck_assert_msg(x_lo < -4.99f && x_hi > 4.99f, "x in [%g, %g]", x_lo, x_hi);
    flp_episode_free(ep);
    flp_sampler_free(s);
}
END_TEST

START_TEST(test_sine_continual_order)
{
    flp_sampler *s = make_sine(4);
    ck_flp(flp_sampler_set(s, FLP_SINE_ORDER, FLP_ORDER_CONTINUAL));
    /* shuffling examples applies to i.i.d. order only */
    ck_flp(flp_sampler_set(s, FLP_SINE_SHUFFLE_EXAMPLES, 1));
    flp_episode *ep = new_episode();
    ck_flp(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep));
    int tasks_of_step[400];
    step_tasks(ep, tasks_of_step);
    for (int k = 0; k < 400; k++)
        ck_assert_int_eq(tasks_of_step[k], k / 40);
    flp_episode_free(ep);
    flp_sampler_free(s);
}
END_TEST

/* i.i.d. order: every step is one whole batch of one task, each task has
 * its 40 batches, and the order is not the continual one. */
START_TEST(test_sine_iid_batches)
{
    flp_sampler *s = make_sine(5);
    flp_episode *ep = new_episode();
    ck_flp(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep));
    int tasks_of_step[400], per_task[10] = {0}, descents = 0;
    step_tasks(ep, tasks_of_step);
    for (int k = 0; k < 400; k++) {
        per_task[tasks_of_step[k]]++;
        descents += k > 0 && tasks_of_step[k] < tasks_of_step[k - 1];
    }
    for (int t = 0; t < 10; t++)
        ck_assert_int_eq(per_task[t], 40);
    ck_assert_int_gt(descents, 100);
    flp_episode_free(ep);
    flp_sampler_free(s);
}
END_TEST

START_TEST(test_sine_iid_examples)
{
    flp_sampler *s = make_sine(6);
    ck_flp(flp_sampler_set(s, FLP_SINE_SHUFFLE_EXAMPLES, 1));
    flp_episode *ep = new_episode();
    ck_flp(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep));
    sine_view v = view_of(ep);
    int per_task[10] = {0}, mixed_steps = 0;
    for (int64_t k = 0; k < v.steps; k++) {
        int first = task_of(v.x + k * v.batch * v.n_in, v.n_in), mixed = 0;
        for (int64_t e = 0; e < v.batch; e++) {
            int t = task_of(v.x + (k * v.batch + e) * v.n_in, v.n_in);
            per_task[t]++;
            mixed |= t != first;
        }
        mixed_steps += mixed;
    }
    for (int t = 0; t < 10; t++)
        ck_assert_int_eq(per_task[t], 40 * 32);
    ck_assert_int_gt(mixed_steps, 390);
    sinus f[MAX_TASKS];
    fit_episode(ep, f);
    flp_episode_free(ep);
    flp_sampler_free(s);
}
END_TEST

START_TEST(test_sine_small_settings)
{
    flp_sampler *s = make_sine(7);
    set_small(s, 3, 5, 4, 2);
    flp_episode *ep = new_episode();
    for (int order = 0; order < 2; order++) {
        ck_flp(flp_sampler_set(s, FLP_SINE_ORDER, order));
        ck_flp(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep));
        sine_view v = view_of(ep);
        ck_assert_int_eq(v.steps, 15);
        ck_assert_int_eq(v.batch, 4);
        ck_assert_int_eq(v.n_in, 4);
        ck_assert_int_eq(v.n_query, 6);
        sinus f[MAX_TASKS];
        ck_assert_int_eq(fit_episode(ep, f), 3);
    }
    flp_episode_free(ep);
    flp_sampler_free(s);
}
END_TEST

START_TEST(test_sine_determinism)
{
    flp_sampler *a = make_sine(11), *b = make_sine(11), *c = make_sine(12);
    flp_episode *ea = new_episode(), *eb = new_episode(), *ec = new_episode();
    for (int i = 0; i < 6; i++) {
        flp_split split = i % 3 == 2 ? FLP_SPLIT_EVAL : FLP_SPLIT_TRAIN;
        ck_flp(flp_sampler_next(a, split, ea));
        ck_flp(flp_sampler_next(b, split, eb));
        ck_flp(flp_sampler_next(c, split, ec));
        ck_assert_msg(episodes_equal(ea, eb), "episode %d differs for equal seeds", i);
        ck_assert_msg(!episodes_equal(ea, ec), "episode %d equal for different seeds", i);
    }
    /* successive episodes differ */
    ck_flp(flp_sampler_next(b, FLP_SPLIT_TRAIN, eb));
    ck_assert(!episodes_equal(ea, eb));
    flp_episode_free(ea);
    flp_episode_free(eb);
    flp_episode_free(ec);
    flp_sampler_free(a);
    flp_sampler_free(b);
    flp_sampler_free(c);
}
END_TEST

/* Evaluation draws come from their own stream: interleaving them leaves
 * the training stream unchanged. */
START_TEST(test_sine_eval_independent_stream)
{
    flp_sampler *a = make_sine(13), *b = make_sine(13);
    flp_episode *ea = new_episode(), *eb = new_episode();
    for (int i = 0; i < 3; i++) {
        ck_flp(flp_sampler_next(a, FLP_SPLIT_TRAIN, ea));
        ck_flp(flp_sampler_next(b, FLP_SPLIT_EVAL, eb));
        ck_assert(!episodes_equal(ea, eb));
        ck_flp(flp_sampler_next(b, FLP_SPLIT_TRAIN, eb));
        ck_assert(episodes_equal(ea, eb));
    }
    flp_episode_free(ea);
    flp_episode_free(eb);
    flp_sampler_free(a);
    flp_sampler_free(b);
}
END_TEST

static int find_sinus(const sinus *set, int n, sinus f)
{
    for (int i = 0; i < n; i++)
        if (same_sinus(set[i], f))
            return i;
    return -1;
}

/* Training episodes draw distinct sinusoids from the pool: with a pool of
 * 12 and 10 tasks, 30 episodes see at most 12 different sinusoids, never
 * one twice in an episode; evaluation episodes see others. */
START_TEST(test_sine_pool)
{
    enum { POOL = 12, TASKS = 10 };
    flp_sampler *s = make_sine(14);
    set_small(s, TASKS, 2, 4, 1);
    ck_flp(flp_sampler_set(s, FLP_SINE_POOL, POOL));
    flp_episode *ep = new_episode();
    sinus seen[POOL + 1];
    int n_seen = 0;
    for (int e = 0; e < 30; e++) {
        ck_flp(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep));
        sinus f[MAX_TASKS];
        fit_episode(ep, f);
        for (int t = 0; t < TASKS; t++) {
            ck_assert_msg(find_sinus(f, t, f[t]) < 0, "episode %d repeats a sinusoid", e);
            if (find_sinus(seen, n_seen, f[t]) < 0) {
                ck_assert_msg(n_seen < POOL, "more than %d sinusoids from a pool of %d", POOL, POOL);
                seen[n_seen++] = f[t];
            }
        }
    }
    ck_assert_int_eq(n_seen, POOL);
    for (int e = 0; e < 5; e++) {
        ck_flp(flp_sampler_next(s, FLP_SPLIT_EVAL, ep));
        sinus f[MAX_TASKS];
        fit_episode(ep, f);
        for (int t = 0; t < TASKS; t++)
            ck_assert_msg(find_sinus(seen, n_seen, f[t]) < 0, "an evaluation sinusoid is in the pool");
    }
    /* a pool smaller than an episode cannot be drawn without replacement */
    ck_flp(flp_sampler_set(s, FLP_SINE_POOL, TASKS - 1));
    ck_flp_fails(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep), FLP_ERR_STATE);
    ck_flp(flp_sampler_next(s, FLP_SPLIT_EVAL, ep));
    flp_episode_free(ep);
    flp_sampler_free(s);
}
END_TEST

/* The pool is rebuilt from the seed: a round trip through another pool
 * size gives back the same episodes. */
START_TEST(test_sine_pool_rebuild)
{
    flp_sampler *a = make_sine(15), *b = make_sine(15);
    ck_flp(flp_sampler_set(a, FLP_SINE_POOL, 10));
    ck_flp(flp_sampler_set(a, FLP_SINE_TASKS, 4));
    ck_flp(flp_sampler_set(a, FLP_SINE_POOL, 400));
    ck_flp(flp_sampler_set(a, FLP_SINE_TASKS, 10));
    flp_episode *ea = new_episode(), *eb = new_episode();
    ck_flp(flp_sampler_next(a, FLP_SPLIT_TRAIN, ea));
    ck_flp(flp_sampler_next(b, FLP_SPLIT_TRAIN, eb));
    ck_assert(episodes_equal(ea, eb));
    flp_episode_free(ea);
    flp_episode_free(eb);
    flp_sampler_free(a);
    flp_sampler_free(b);
}
END_TEST

static uint8_t *save_state(const flp_sampler *s, int64_t *n)
{
    *n = s->ops->state_size(s);
    ck_assert_int_gt(*n, 0);
    uint8_t *buf = malloc((size_t)*n);
    ck_assert_ptr_nonnull(buf);
    s->ops->get_state(s, buf);
    return buf;
}

/* A restored state resumes the exact stream, settings and pool included. */
START_TEST(test_sine_state_resume)
{
    flp_sampler *a = make_sine(21), *b = make_sine(99);
    set_small(a, 5, 3, 4, 2);
    ck_flp(flp_sampler_set(a, FLP_SINE_POOL, 50));
    ck_flp(flp_sampler_set(a, FLP_SINE_ORDER, FLP_ORDER_CONTINUAL));
    flp_episode *ea = new_episode(), *eb = new_episode();
    ck_flp(flp_sampler_next(a, FLP_SPLIT_TRAIN, ea));
    ck_flp(flp_sampler_next(a, FLP_SPLIT_EVAL, ea));
    int64_t n;
    uint8_t *state = save_state(a, &n);
    ck_flp(b->ops->set_state(b, state, n));
    for (int k = 0; k < 7; k++) {
        double va, vb;
        ck_flp(flp_sampler_get(a, k, &va));
        ck_flp(flp_sampler_get(b, k, &vb));
        ck_assert_double_eq(va, vb);
    }
    for (int i = 0; i < 4; i++) {
        flp_split split = i == 2 ? FLP_SPLIT_EVAL : FLP_SPLIT_TRAIN;
        ck_flp(flp_sampler_next(a, split, ea));
        ck_flp(flp_sampler_next(b, split, eb));
        ck_assert_msg(episodes_equal(ea, eb), "episode %d after restore differs", i);
    }
    ck_assert_str_eq(a->ops->kind, "sine");
    free(state);
    flp_episode_free(ea);
    flp_episode_free(eb);
    flp_sampler_free(a);
    flp_sampler_free(b);
}
END_TEST

static void poke_u64(uint8_t *buf, int64_t off, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        buf[off + i] = (uint8_t)(v >> (8 * i));
}

/* Corrupt states are refused and leave the sampler as it was. */
START_TEST(test_sine_state_refused)
{
    flp_sampler *a = make_sine(31), *twin = make_sine(31);
    int64_t n;
    uint8_t *good = save_state(a, &n);
    uint8_t *bad = malloc((size_t)n);
    ck_assert_ptr_nonnull(bad);

    ck_flp_fails(a->ops->set_state(a, good, n - 1), FLP_ERR_FORMAT);
    ck_flp_fails(a->ops->set_state(a, good, n + 1), FLP_ERR_FORMAT);
    ck_flp_fails(a->ops->set_state(a, good, 0), FLP_ERR_FORMAT);
    ck_flp_fails(a->ops->set_state(a, NULL, n), FLP_ERR_NULL);

    memcpy(bad, good, (size_t)n);
    bad[0] ^= 0xff; /* magic */
    ck_flp_fails(a->ops->set_state(a, bad, n), FLP_ERR_FORMAT);
    memcpy(bad, good, (size_t)n);
    bad[4] = 99; /* version */
    ck_flp_fails(a->ops->set_state(a, bad, n), FLP_ERR_VERSION);
    /* settings start at byte 16, 8 bytes each */
    const uint64_t bad_values[] = {0, (uint64_t)-1, 1ull << 40};
    for (int k = 0; k < 7; k++) {
        for (int i = 0; i < 3; i++) {
            if (bad_values[i] == 0 && (k == FLP_SINE_ORDER || k == FLP_SINE_SHUFFLE_EXAMPLES))
                continue; /* 0 is valid there */
            memcpy(bad, good, (size_t)n);
            poke_u64(bad, 16 + 8 * k, bad_values[i]);
            ck_flp_fails(a->ops->set_state(a, bad, n), FLP_ERR_FORMAT);
        }
    }
    /* generator states: training at 16 + 56, evaluation 32 bytes later */
    for (int g = 0; g < 2; g++) {
        memcpy(bad, good, (size_t)n);
        for (int w = 0; w < 4; w++)
            poke_u64(bad, 72 + 32 * g + 8 * w, 0);
        ck_flp_fails(a->ops->set_state(a, bad, n), FLP_ERR_FORMAT);
    }
    flp_episode *ea = new_episode(), *eb = new_episode();
    ck_flp(flp_sampler_next(a, FLP_SPLIT_TRAIN, ea));
    ck_flp(flp_sampler_next(twin, FLP_SPLIT_TRAIN, eb));
    ck_assert(episodes_equal(ea, eb));
    free(good);
    free(bad);
    flp_episode_free(ea);
    flp_episode_free(eb);
    flp_sampler_free(a);
    flp_sampler_free(twin);
}
END_TEST

/* An allocation failure in next() leaves the stream where it was. */
START_TEST(test_sine_nomem)
{
    flp_sampler *a = make_sine(41), *twin = make_sine(41);
    flp_episode *ea = new_episode(), *eb = new_episode();
    for (int64_t fail = 1; fail <= 3; fail++) {
        flp__alloc_fail_after(fail);
        flp_status st = flp_sampler_next(a, FLP_SPLIT_TRAIN, ea);
        flp__alloc_fail_after(0);
        if (st == FLP_OK)
            break; /* fewer allocations than `fail`: all done */
        ck_assert_int_eq(st, FLP_ERR_NOMEM);
    }
    ck_flp(flp_sampler_next(a, FLP_SPLIT_TRAIN, ea));
    ck_flp(flp_sampler_next(twin, FLP_SPLIT_TRAIN, eb));
    ck_assert(episodes_equal(ea, eb));
    flp__alloc_fail_after(1);
    flp_sampler *none = a;
    ck_flp_fails(flp_sampler_create_sine(1, &none), FLP_ERR_NOMEM);
    ck_assert_ptr_null(none);
    flp__alloc_fail_after(2);
    ck_flp_fails(flp_sampler_create_sine(1, &none), FLP_ERR_NOMEM);
    flp__alloc_fail_after(0);
    flp_episode_free(ea);
    flp_episode_free(eb);
    flp_sampler_free(a);
    flp_sampler_free(twin);
}
END_TEST

Suite *make_tasks_suite(void)
{
    Suite *s = suite_create("tasks");
    TCase *ep = tcase_create("episode");
    tcase_add_test(ep, test_episode_empty);
    tcase_add_test(ep, test_episode_regression_roundtrip);
    tcase_add_test(ep, test_episode_classes_roundtrip);
    tcase_add_test(ep, test_episode_null_and_extents);
    tcase_add_test(ep, test_episode_nonfinite);
    tcase_add_test(ep, test_episode_labels_range);
    tcase_add_test(ep, test_episode_reuses_buffers);
    tcase_add_test(ep, test_episode_nomem);
    suite_add_tcase(s, ep);

    TCase *sine = tcase_create("sine");
    tcase_set_timeout(sine, 60);
    tcase_add_test(sine, test_sine_settings);
    tcase_add_test(sine, test_sine_default_shape_and_fit);
    tcase_add_test(sine, test_sine_ranges_covered);
    tcase_add_test(sine, test_sine_continual_order);
    tcase_add_test(sine, test_sine_iid_batches);
    tcase_add_test(sine, test_sine_iid_examples);
    tcase_add_test(sine, test_sine_small_settings);
    tcase_add_test(sine, test_sine_determinism);
    tcase_add_test(sine, test_sine_eval_independent_stream);
    tcase_add_test(sine, test_sine_pool);
    tcase_add_test(sine, test_sine_pool_rebuild);
    tcase_add_test(sine, test_sine_state_resume);
    tcase_add_test(sine, test_sine_state_refused);
    tcase_add_test(sine, test_sine_nomem);
    suite_add_tcase(s, sine);
    return s;
}
