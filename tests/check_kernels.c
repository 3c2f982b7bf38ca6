/* check_kernels.c - the stateless kernels against naive references: BLIS
 * GEMM behind flp__sgemm, conv2d against a direct convolution, and every
 * VJP against central finite differences. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, beyond the project's POSIX level */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/gemm.h"
#include "net/layers.h"
#include "testutil.h"

static float *rand_floats(int64_t n, float lo, float hi, uint64_t seed)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    tu_fill_uniform(p, n, lo, hi, seed);
    return p;
}

static double *zeros_d(int64_t n)
{
    double *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* ---- finite differences ------------------------------------------------- */

/* Recomputes y from whatever arrays ctx points at. */
typedef void (*fwd_fn)(void *ctx, float *y);

typedef struct {
    fwd_fn f;
    void *ctx;
    float *y;
    const float *r;
    int64_t ny;
} fd_problem;

/* L = sum(r * y) accumulated in double. */
static double objective(const fd_problem *p)
{
    p->f(p->ctx, p->y);
    double L = 0;
    for (int64_t i = 0; i < p->ny; i++)
        L += (double)p->r[i] * p->y[i];
    return L;
}

/* Compares the analytic dL/dv (grad) with central differences on up to ~300
 * elements of v spread over the whole array. */
static void check_fd(const char *what, const fd_problem *p, float *v, int64_t n, const float *grad,
                     float h, double rtol, double atol)
{
    int64_t step = n <= 300 ? 1 : (n / 300) | 1, m = 0;
    float *ga = malloc((size_t)n * sizeof *ga);
    double *fd = zeros_d(n);
    for (int64_t i = 0; i < n; i += step, m++) {
        float keep = v[i], hi = keep + h, lo = keep - h;
        v[i] = hi;
        double Lp = objective(p);
        v[i] = lo;
        double Lm = objective(p);
        v[i] = keep;
        ga[m] = grad[i];
        fd[m] = (Lp - Lm) / ((double)hi - (double)lo);
    }
    ck_assert_int_gt(m, 0);
    ck_allclose(what, ga, fd, m, rtol, atol);
    free(ga);
    free(fd);
}

/* ---- GEMM ----------------------------------------------------------------- */

/* A stored matrix: element (i, j) at p[i*rs + j*cs]. */
typedef struct {
    int64_t rows, cols, rs, cs;
} layout;

enum { ROW_MAJOR, COL_MAJOR, GENERAL, N_LAYOUTS };

/* Every layout leaves gaps (leading dimension > extent) so that a kernel
 * treating the matrix as contiguous reads or writes the wrong elements. */
static layout make_layout(int kind, int64_t rows, int64_t cols)
{
    layout l = {rows, cols, 0, 0};
    if (kind == ROW_MAJOR) {
        l.rs = cols + 3;
        l.cs = 1;
    } else if (kind == COL_MAJOR) {
        l.rs = 1;
        l.cs = rows + 2;
    } else {
        l.rs = 2 * cols + 1;
        l.cs = 2;
    }
    return l;
}

static int64_t layout_span(layout l) { return (l.rows - 1) * l.rs + (l.cols - 1) * l.cs + 1; }

static int in_layout(layout l, int64_t idx)
{
    for (int64_t i = 0; i < l.rows; i++)
        for (int64_t j = 0; j < l.cols; j++)
            if (i * l.rs + j * l.cs == idx)
                return 1;
    return 0;
}

static void check_one_sgemm(int64_t m, int64_t n, int64_t k, int ka, int kb, int kc, float alpha,
                            float beta, uint64_t seed)
{
    layout la = make_layout(ka, m, k), lb = make_layout(kb, k, n), lc = make_layout(kc, m, n);
    int64_t sc = layout_span(lc);
    float *A = rand_floats(layout_span(la), -1, 1, seed);
    float *B = rand_floats(layout_span(lb), -1, 1, seed + 1);
    float *C = rand_floats(sc, -1, 1, seed + 2);
    float *C0 = malloc((size_t)sc * sizeof *C0);
    const float sentinel = 12345.0f;
    /* Gaps hold a sentinel that must survive; with beta == 0 the matrix
     * itself holds NaN, which must not leak into the result. */
    for (int64_t idx = 0; idx < sc; idx++)
        if (!in_layout(lc, idx))
            C[idx] = sentinel;
        else if (beta == 0.0f)
            C[idx] = NAN;
    memcpy(C0, C, (size_t)sc * sizeof *C);
    double *want = zeros_d(m * n);
    float *got = malloc((size_t)(m * n) * sizeof *got);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (double)A[i * la.rs + p * la.cs] * B[p * lb.rs + j * lb.cs];
            double c0 = beta == 0.0f ? 0.0 : (double)beta * C0[i * lc.rs + j * lc.cs];
            want[i * n + j] = alpha * s + c0;
        }
    flp__sgemm(m, n, k, alpha, A, la.rs, la.cs, B, lb.rs, lb.cs, beta, C, lc.rs, lc.cs);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            got[i * n + j] = C[i * lc.rs + j * lc.cs];
    ck_allclose("sgemm C", got, want, m * n, 1e-5, 1e-5 * (double)k);
    for (int64_t idx = 0; idx < sc; idx++)
        if (!in_layout(lc, idx))
            ck_assert_msg(C[idx] == sentinel, "sgemm wrote gap element %lld of C", (long long)idx);
    free(A);
    free(B);
    free(C);
    free(C0);
    free(want);
    free(got);
}

START_TEST(test_sgemm_layouts)
{
    /* {m, n, k}: single rows and columns of C take the gemv path. */
    static const int64_t sizes[][3] = {{1, 1, 1}, {5, 7, 3},  {17, 9, 33}, {40, 36, 70},
                                       {1, 33, 20}, {33, 1, 20}, {1, 1, 20}};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    uint64_t seed = 100;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int ka = 0; ka < N_LAYOUTS; ka++)
            for (int kb = 0; kb < N_LAYOUTS; kb++)
                for (int kc = 0; kc < N_LAYOUTS; kc++)
                    for (size_t b = 0; b < 3; b++)
                        check_one_sgemm(sizes[s][0], sizes[s][1], sizes[s][2], ka, kb, kc,
                                        b == 2 ? -0.75f : 1.0f, betas[b], seed++);
}
END_TEST

/* `floats` floats ending exactly where a PROT_NONE page begins: a read one
 * element past the end faults. Released with page_end_free. */
static float *page_end_floats(int64_t floats, void **map, size_t *map_bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = (size_t)floats * sizeof(float);
    size_t pages = (bytes + page - 1) / page + 1;
    char *p = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(p != MAP_FAILED);
    ck_assert_int_eq(mprotect(p + (pages - 1) * page, page, PROT_NONE), 0);
    *map = p;
    *map_bytes = pages * page;
    return (float *)(p + (pages - 1) * page - bytes);
}

/* Products with one row or one column of C, each operand in turn ending a
 * mapped page: BLIS 0.9's sgemm reads past such an operand (a crash that
 * showed up only when the allocator happened to place a layer's weights at
 * the end of a heap), so flp__sgemm sends them to gemv. */
START_TEST(test_gemm_page_end_operands)
{
    static const int64_t shapes[][3] = {{16, 1, 300}, {32, 1, 7}, {1, 16, 300}, {1, 32, 7}, {1, 1, 9}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int which = 0; which < 3; which++)      /* nt, nn, tn */
            for (int at_end = 0; at_end < 2; at_end++) { /* A, then B, at the end of a page */
                int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                void *map;
                size_t map_bytes;
                float *A = at_end == 0 ? page_end_floats(m * k, &map, &map_bytes) : rand_floats(m * k, -1, 1, 3);
                float *B = at_end == 1 ? page_end_floats(n * k, &map, &map_bytes) : rand_floats(n * k, -1, 1, 4);
                for (int64_t i = 0; i < m * k; i++)
                    A[i] = (float)(i % 5) - 2.0f;
                for (int64_t i = 0; i < n * k; i++)
                    B[i] = (float)(i % 3) - 1.0f;
                float *C = rand_floats(m * n, -1, 1, 5);
                double *want = zeros_d(m * n);
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++)
                        for (int64_t p = 0; p < k; p++) {
                            double a = which == 2 ? A[p * m + i] : A[i * k + p];
                            double b = which == 0 ? B[j * k + p] : B[p * n + j];
                            want[i * n + j] += a * b;
                        }
                if (which == 0)
                    flp__gemm_nt(m, n, k, 1.0f, A, k, B, k, 0.0f, C, n);
                else if (which == 1)
                    flp__gemm_nn(m, n, k, 1.0f, A, k, B, n, 0.0f, C, n);
                else
                    flp__gemm_tn(m, n, k, 1.0f, A, m, B, n, 0.0f, C, n);
                ck_allclose("page-end gemm", C, want, m * n, 1e-5, 1e-5 * (double)k);
                munmap(map, map_bytes);
                free(at_end == 0 ? B : A);
                free(C);
                free(want);
            }
}
END_TEST

/* flp__gemm_nt/nn/tn are flp__sgemm with the strides their names promise:
 * compare each with the explicit strided call. */
START_TEST(test_gemm_row_major_helpers)
{
    const int64_t m = 13, n = 11, k = 19, pad = 5;
    for (int which = 0; which < 3; which++)
        for (int beta1 = 0; beta1 < 2; beta1++) {
            float beta = beta1 ? 1.0f : 0.0f;
            /* Leading dimensions wide enough for either orientation. */
            int64_t lda = (m > k ? m : k) + pad, ldb = (n > k ? n : k) + pad, ldc = n + pad;
            float *A = rand_floats((m > k ? m : k) * lda, -1, 1, 7 + which);
            float *B = rand_floats((n > k ? n : k) * ldb, -1, 1, 17 + which);
            float *C = rand_floats(m * ldc, -1, 1, 27 + which);
            double *want = zeros_d(m * n);
            float *got = malloc((size_t)(m * n) * sizeof *got);
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double s = 0;
                    for (int64_t p = 0; p < k; p++) {
                        double a = which == 2 ? A[p * lda + i] : A[i * lda + p];
                        double b = which == 0 ? B[j * ldb + p] : B[p * ldb + j];
                        s += a * b;
                    }
                    want[i * n + j] = 0.5 * s + beta * C[i * ldc + j];
                }
            if (which == 0)
                flp__gemm_nt(m, n, k, 0.5f, A, lda, B, ldb, beta, C, ldc);
            else if (which == 1)
                flp__gemm_nn(m, n, k, 0.5f, A, lda, B, ldb, beta, C, ldc);
            else
                flp__gemm_tn(m, n, k, 0.5f, A, lda, B, ldb, beta, C, ldc);
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++)
                    got[i * n + j] = C[i * ldc + j];
            ck_allclose(which == 0 ? "gemm_nt" : which == 1 ? "gemm_nn" : "gemm_tn", got, want,
                        m * n, 1e-5, 1e-5 * k);
            free(A);
            free(B);
            free(C);
            free(want);
            free(got);
        }
}
END_TEST

/* ---- linear ---------------------------------------------------------------- */

typedef struct {
    int64_t batch, in, out;
    float *x, *W, *b;
} linear_ctx;

static void linear_fwd(void *ctx, float *y)
{
    linear_ctx *c = ctx;
    flp__linear_forward(c->batch, c->in, c->out, c->x, c->W, c->b, y);
}

START_TEST(test_linear_forward)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {4, 7, 3}, {9, 33, 17}, {64, 300, 40}};
    for (size_t s = 0; s < 4; s++)
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            int64_t B = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
            float *x = rand_floats(B * in, -1, 1, 1 + s), *W = rand_floats(out * in, -1, 1, 2 + s);
            float *b = rand_floats(out, -1, 1, 3 + s), *y = rand_floats(B * out, -1, 1, 4 + s);
            /* y is overwritten: NaN there must not survive. */
            for (int64_t i = 0; i < B * out; i++)
                y[i] = NAN;
            double *want = zeros_d(B * out);
            for (int64_t r = 0; r < B; r++)
                for (int64_t j = 0; j < out; j++) {
                    double acc = with_bias ? b[j] : 0.0;
                    for (int64_t p = 0; p < in; p++)
                        acc += (double)x[r * in + p] * W[j * in + p];
                    want[r * out + j] = acc;
                }
            flp__linear_forward(B, in, out, x, W, with_bias ? b : NULL, y);
            ck_allclose("linear y", y, want, B * out, 1e-5, 1e-5 * in);
            free(x);
            free(W);
            free(b);
            free(y);
            free(want);
        }
}
END_TEST

START_TEST(test_linear_vjp_fd)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 4}, {6, 13, 9}};
    for (size_t s = 0; s < 3; s++) {
        int64_t B = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
        linear_ctx c = {B, in, out, rand_floats(B * in, -1, 1, 10 + s),
                        rand_floats(out * in, -1, 1, 20 + s), rand_floats(out, -1, 1, 30 + s)};
        float *r = rand_floats(B * out, -1, 1, 40 + s), *y = malloc((size_t)(B * out) * sizeof *y);
        float *dx = rand_floats(B * in, -1, 1, 0), *dW = calloc((size_t)(out * in), sizeof *dW);
        float *db = calloc((size_t)out, sizeof *db);
        flp__linear_vjp(B, in, out, c.x, c.W, r, dx, dW, db);
        fd_problem p = {linear_fwd, &c, y, r, B * out};
        /* Linear in each variable: any step is exact up to rounding. */
        check_fd("linear dx", &p, c.x, B * in, dx, 0.1f, 1e-3, 1e-4);
        check_fd("linear dW", &p, c.W, out * in, dW, 0.1f, 1e-3, 1e-4);
        check_fd("linear db", &p, c.b, out, db, 0.1f, 1e-3, 1e-4);
        free(c.x);
        free(c.W);
        free(c.b);
        free(r);
        free(y);
        free(dx);
        free(dW);
        free(db);
    }
}
END_TEST

/* dW and db accumulate; dx is overwritten; NULL outputs are skipped without
 * changing the others. */
START_TEST(test_linear_vjp_accumulates)
{
    const int64_t B = 5, in = 6, out = 4;
    float *x = rand_floats(B * in, -1, 1, 1), *W = rand_floats(out * in, -1, 1, 2);
    float *dy = rand_floats(B * out, -1, 1, 3);
    float *dx = malloc(sizeof(float) * B * in), *dx2 = malloc(sizeof(float) * B * in);
    float *dW = calloc(out * in, sizeof *dW), *db = calloc(out, sizeof *db);
    float *dW2 = rand_floats(out * in, -1, 1, 4), *db2 = rand_floats(out, -1, 1, 5);
    float *dW2_0 = malloc(sizeof(float) * out * in), *db2_0 = malloc(sizeof(float) * out);
    memcpy(dW2_0, dW2, sizeof(float) * out * in);
    memcpy(db2_0, db2, sizeof(float) * out);
    for (int64_t i = 0; i < B * in; i++)
        dx2[i] = NAN;
    flp__linear_vjp(B, in, out, x, W, dy, dx, dW, db);
    flp__linear_vjp(B, in, out, x, W, dy, dx2, dW2, db2);
    ck_allclose_f("dx overwritten", dx2, dx, B * in, 0, 0);
    for (int64_t i = 0; i < out * in; i++)
        dW2_0[i] += dW[i];
    for (int64_t i = 0; i < out; i++)
        db2_0[i] += db[i];
    ck_allclose_f("dW accumulated", dW2, dW2_0, out * in, 1e-6, 1e-6);
    ck_allclose_f("db accumulated", db2, db2_0, out, 1e-6, 1e-6);
    /* With only dx requested, dW/db stay untouched and dx is unchanged. */
    flp__linear_vjp(B, in, out, x, W, dy, dx2, NULL, NULL);
    ck_allclose_f("dx alone", dx2, dx, B * in, 0, 0);
    memcpy(dW2_0, dW2, sizeof(float) * out * in);
    flp__linear_vjp(B, in, out, x, W, dy, NULL, dW2, NULL);
    for (int64_t i = 0; i < out * in; i++)
        dW2_0[i] += dW[i];
    ck_allclose_f("dW alone", dW2, dW2_0, out * in, 1e-6, 1e-6);
    free(x);
    free(W);
    free(dy);
    free(dx);
    free(dx2);
    free(dW);
    free(db);
    free(dW2);
    free(db2);
    free(dW2_0);
    free(db2_0);
}
END_TEST

/* ---- activations -------------------------------------------------------- */

START_TEST(test_relu_forward)
{
    const float x[] = {-2.0f, -1e-30f, 0.0f, 1e-30f, 3.5f, -INFINITY, INFINITY, NAN};
    const float want[] = {0.0f, 0.0f, 0.0f, 1e-30f, 3.5f, 0.0f, INFINITY};
    float y[8];
    flp__relu_forward(8, x, y);
    for (int i = 0; i < 7; i++)
        ck_assert_msg(y[i] == want[i], "relu(%g) = %g", x[i], y[i]);
    ck_assert_msg(isnan(y[7]), "relu(NaN) = %g: NaN must propagate", y[7]);
}
END_TEST

static double softplus_ref(double beta, double x)
{
    double t = beta * x;
    return (t > 0 ? t + log1p(exp(-t)) : log1p(exp(t))) / beta;
}

START_TEST(test_softplus_forward_stable)
{
    static const float betas[] = {1.0f, 5.0f, 0.1f, 100.0f};
    static const float xs[] = {-200.0f, -90.0f, -20.0f, -3.0f, -1e-3f, 0.0f, 1e-3f, 0.5f,
                               3.0f, 20.0f, 90.0f, 200.0f, 1e30f, -1e30f};
    const int n = sizeof xs / sizeof xs[0];
    for (int b = 0; b < 4; b++) {
        float y[sizeof xs / sizeof xs[0]];
        double want[sizeof xs / sizeof xs[0]];
        flp__softplus_forward(n, betas[b], xs, y);
        for (int i = 0; i < n; i++) {
            want[i] = softplus_ref(betas[b], xs[i]);
            ck_assert_msg(isfinite(y[i]) && y[i] >= 0.0f, "softplus_%g(%g) = %g", betas[b], xs[i], y[i]);
        }
        /* Relative precision holds even where the result underflows toward 0
         * (beta x << 0) - a naive log(1 + exp(t)) would return exactly 0. */
        for (int i = 0; i < n; i++)
            if (want[i] > 1e-37)
                ck_allclose("softplus", &y[i], &want[i], 1, 1e-5, 0);
    }
}
END_TEST

typedef struct {
    int64_t n;
    float beta;
    float *x;
    int relu;
} act_ctx;

static void act_fwd(void *ctx, float *y)
{
    act_ctx *c = ctx;
    if (c->relu)
        flp__relu_forward(c->n, c->x, y);
    else
        flp__softplus_forward(c->n, c->beta, c->x, y);
}

static void check_activation_fd(int relu, float beta, uint64_t seed)
{
    const int64_t n = 200;
    act_ctx c = {n, beta, rand_floats(n, -3, 3, seed), relu};
    /* Keep relu inputs a full step away from its kink. */
    for (int64_t i = 0; relu && i < n; i++)
        if (fabsf(c.x[i]) < 0.2f)
            c.x[i] += c.x[i] < 0 ? -0.2f : 0.2f;
    float *y = malloc(sizeof(float) * n), *r = rand_floats(n, -1, 1, seed + 1);
    float *dx = malloc(sizeof(float) * n), *dr = malloc(sizeof(float) * n);
    act_fwd(&c, y);
    if (relu)
        flp__relu_vjp(n, y, r, dx);
    else
        flp__softplus_vjp(n, beta, y, r, dx);
    fd_problem p = {act_fwd, &c, malloc(sizeof(float) * n), r, n};
    check_fd(relu ? "relu dx" : "softplus dx", &p, c.x, n, dx, 1e-2f, 2e-2, 1e-4);
    /* In place (dx aliasing dy) gives the same result. */
    memcpy(dr, r, sizeof(float) * n);
    if (relu)
        flp__relu_vjp(n, y, dr, dr);
    else
        flp__softplus_vjp(n, beta, y, dr, dr);
    ck_allclose_f("in-place vjp", dr, dx, n, 0, 0);
    free(c.x);
    free(y);
    free(r);
    free(dx);
    free(dr);
    free(p.y);
}

START_TEST(test_activation_vjp_fd)
{
    check_activation_fd(1, 0.0f, 50);
    check_activation_fd(0, 1.0f, 60);
    check_activation_fd(0, 4.0f, 70);
    check_activation_fd(0, 0.3f, 80);
}
END_TEST

/* The softplus derivative from y stays accurate where y underflows toward 0
 * and where it saturates at 1. */
START_TEST(test_softplus_vjp_extremes)
{
    const float xs[] = {-60.0f, -30.0f, 0.0f, 30.0f, 60.0f};
    float y[5], dx[5], ones[5] = {1, 1, 1, 1, 1};
    flp__softplus_forward(5, 1.0f, xs, y);
    flp__softplus_vjp(5, 1.0f, y, ones, dx);
    for (int i = 0; i < 5; i++) {
        double want = 1.0 / (1.0 + exp(-(double)xs[i]));
        ck_allclose("sigmoid from y", &dx[i], &want, 1, 1e-4, 0);
    }
}
END_TEST

/* ---- conv2d --------------------------------------------------------------- */

typedef struct {
    int64_t ic, ih, iw, oc, kh, kw, stride, pad;
} conv_case;

static const conv_case conv_cases[] = {
    {1, 5, 5, 1, 3, 3, 1, 0},   {2, 7, 6, 3, 3, 2, 1, 1},  {3, 8, 8, 4, 3, 3, 2, 1},
    {2, 9, 7, 5, 2, 3, 2, 2},   {4, 6, 6, 2, 1, 1, 1, 0},  {3, 5, 7, 2, 1, 1, 2, 1},
    {1, 4, 4, 3, 5, 5, 1, 2},   {2, 10, 11, 3, 4, 1, 3, 0}, {1, 3, 9, 2, 1, 4, 2, 2},
    {16, 12, 12, 8, 3, 3, 1, 1}, {3, 28, 28, 8, 3, 3, 2, 1}, {2, 6, 5, 3, 6, 5, 1, 0},
    {2, 7, 6, 3, 1, 1, 2, 0},
};
#define N_CONV_CASES (sizeof conv_cases / sizeof conv_cases[0])

static flp__conv_geom geom_of(const conv_case *c)
{
    flp__conv_geom g = {c->ic, c->ih, c->iw, c->oc, 0, 0, c->kh, c->kw, c->stride, c->pad};
    g.out_h = (c->ih + 2 * c->pad - c->kh) / c->stride + 1;
    g.out_w = (c->iw + 2 * c->pad - c->kw) / c->stride + 1;
    return g;
}

static int64_t x_size(const flp__conv_geom *g) { return g->in_c * g->in_h * g->in_w; }
static int64_t y_size(const flp__conv_geom *g) { return g->out_c * g->out_h * g->out_w; }
static int64_t w_size(const flp__conv_geom *g) { return g->out_c * g->in_c * g->kh * g->kw; }

static void naive_conv(const flp__conv_geom *g, int64_t batch, const float *x, const float *W,
                       const float *b, double *y)
{
    for (int64_t e = 0; e < batch; e++)
        for (int64_t o = 0; o < g->out_c; o++)
            for (int64_t oy = 0; oy < g->out_h; oy++)
                for (int64_t ox = 0; ox < g->out_w; ox++) {
                    double s = b ? b[o] : 0.0;
                    for (int64_t c = 0; c < g->in_c; c++)
                        for (int64_t ki = 0; ki < g->kh; ki++)
                            for (int64_t kj = 0; kj < g->kw; kj++) {
                                int64_t iy = oy * g->stride + ki - g->pad;
                                int64_t ix = ox * g->stride + kj - g->pad;
                                if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                                    continue;
                                s += (double)x[((e * g->in_c + c) * g->in_h + iy) * g->in_w + ix] *
                                     W[((o * g->in_c + c) * g->kh + ki) * g->kw + kj];
                            }
                    y[((e * g->out_c + o) * g->out_h + oy) * g->out_w + ox] = s;
                }
}

START_TEST(test_conv2d_forward_naive)
{
    for (size_t k = 0; k < N_CONV_CASES; k++)
        for (int with_bias = 0; with_bias < 2; with_bias++)
            for (int64_t batch = 1; batch <= 3; batch += 2) {
                flp__conv_geom g = geom_of(&conv_cases[k]);
                uint64_t seed = 1000 + 10 * k;
                float *x = rand_floats(batch * x_size(&g), -1, 1, seed);
                float *W = rand_floats(w_size(&g), -1, 1, seed + 1);
                float *b = rand_floats(g.out_c, -1, 1, seed + 2);
                float *y = malloc(sizeof(float) * batch * y_size(&g));
                /* Scratch arrives dirty: the kernel may not rely on zeros. */
                float *work = rand_floats(flp__conv2d_workspace(&g), 100, 200, seed + 3);
                double *want = zeros_d(batch * y_size(&g));
                for (int64_t i = 0; i < batch * y_size(&g); i++)
                    y[i] = NAN;
                naive_conv(&g, batch, x, W, with_bias ? b : NULL, want);
                flp__conv2d_forward(&g, batch, x, W, with_bias ? b : NULL, y, work);
                ck_allclose("conv y", y, want, batch * y_size(&g), 1e-5, 1e-5 * g.in_c * g.kh * g.kw);
                free(x);
                free(W);
                free(b);
                free(y);
                free(work);
                free(want);
            }
}
END_TEST

typedef struct {
    flp__conv_geom g;
    int64_t batch;
    float *x, *W, *b, *work;
} conv_ctx;

static void conv_fwd(void *ctx, float *y)
{
    conv_ctx *c = ctx;
    flp__conv2d_forward(&c->g, c->batch, c->x, c->W, c->b, y, c->work);
}

START_TEST(test_conv2d_vjp_fd)
{
    for (size_t k = 0; k < N_CONV_CASES; k++) {
        const int64_t batch = 2;
        uint64_t seed = 2000 + 10 * k;
        conv_ctx c = {geom_of(&conv_cases[k]), batch, NULL, NULL, NULL, NULL};
        const flp__conv_geom *g = &c.g;
        int64_t nx = batch * x_size(g), ny = batch * y_size(g), nw = w_size(g);
        c.x = rand_floats(nx, -1, 1, seed);
        c.W = rand_floats(nw, -1, 1, seed + 1);
        c.b = rand_floats(g->out_c, -1, 1, seed + 2);
        c.work = rand_floats(flp__conv2d_workspace(g), -1, 1, seed + 3);
        float *r = rand_floats(ny, -1, 1, seed + 4), *y = malloc(sizeof(float) * ny);
        float *dx = malloc(sizeof(float) * nx);
        float *dW = calloc((size_t)nw, sizeof *dW), *db = calloc((size_t)g->out_c, sizeof *db);
        for (int64_t i = 0; i < nx; i++)
            dx[i] = NAN; /* written, never read */
        flp__conv2d_vjp(g, batch, c.x, c.W, r, dx, dW, db, c.work);
        fd_problem p = {conv_fwd, &c, y, r, ny};
        /* Bilinear: a large step is exact up to rounding. */
        check_fd("conv dx", &p, c.x, nx, dx, 0.25f, 1e-3, 1e-4);
        check_fd("conv dW", &p, c.W, nw, dW, 0.25f, 1e-3, 1e-4);
        check_fd("conv db", &p, c.b, g->out_c, db, 0.25f, 1e-3, 1e-4);
        free(c.x);
        free(c.W);
        free(c.b);
        free(c.work);
        free(r);
        free(y);
        free(dx);
        free(dW);
        free(db);
    }
}
END_TEST

/* dW/db accumulate onto what is there; each of dx, dW, db may be NULL
 * without changing the others. */
START_TEST(test_conv2d_vjp_partial)
{
    const conv_case cc = {3, 7, 8, 4, 3, 2, 2, 1};
    flp__conv_geom g = geom_of(&cc);
    const int64_t batch = 3, nx = batch * x_size(&g), ny = batch * y_size(&g), nw = w_size(&g);
    float *x = rand_floats(nx, -1, 1, 1), *W = rand_floats(nw, -1, 1, 2);
    float *dy = rand_floats(ny, -1, 1, 3), *work = malloc(sizeof(float) * flp__conv2d_workspace(&g));
    float *dx = malloc(sizeof(float) * nx), *dW = calloc(nw, sizeof *dW), *db = calloc(g.out_c, sizeof *db);
    flp__conv2d_vjp(&g, batch, x, W, dy, dx, dW, db, work);

    float *dx2 = malloc(sizeof(float) * nx), *dW2 = rand_floats(nw, -1, 1, 4);
    float *db2 = rand_floats(g.out_c, -1, 1, 5);
    float *dW2_want = malloc(sizeof(float) * nw), *db2_want = malloc(sizeof(float) * g.out_c);
    for (int64_t i = 0; i < nw; i++)
        dW2_want[i] = dW2[i] + dW[i];
    for (int64_t i = 0; i < g.out_c; i++)
        db2_want[i] = db2[i] + db[i];
    flp__conv2d_vjp(&g, batch, x, W, dy, NULL, dW2, NULL, work);
    ck_allclose_f("dW alone, accumulated", dW2, dW2_want, nw, 1e-6, 1e-6);
    flp__conv2d_vjp(&g, batch, x, W, dy, NULL, NULL, db2, work);
    ck_allclose_f("db alone, accumulated", db2, db2_want, g.out_c, 1e-6, 1e-6);
    flp__conv2d_vjp(&g, batch, x, W, dy, dx2, NULL, NULL, work);
    ck_allclose_f("dx alone", dx2, dx, nx, 0, 0);
    free(x);
    free(W);
    free(dy);
    free(work);
    free(dx);
    free(dW);
    free(db);
    free(dx2);
    free(dW2);
    free(db2);
    free(dW2_want);
    free(db2_want);
}
END_TEST

START_TEST(test_conv2d_workspace_size)
{
    const conv_case cc = {3, 9, 8, 5, 3, 2, 2, 1};
    flp__conv_geom g = geom_of(&cc);
    ck_assert_int_eq(g.out_h, 5);
    ck_assert_int_eq(g.out_w, 5);
    ck_assert_int_eq(flp__conv2d_workspace(&g), 3 * 3 * 2 * 5 * 5);
}
END_TEST

Suite *make_kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("gemm");
    tcase_add_test(tc, test_sgemm_layouts);
    tcase_add_test(tc, test_gemm_row_major_helpers);
    tcase_add_test(tc, test_gemm_page_end_operands);
    suite_add_tcase(s, tc);

    tc = tcase_create("linear");
    tcase_add_test(tc, test_linear_forward);
    tcase_add_test(tc, test_linear_vjp_fd);
    tcase_add_test(tc, test_linear_vjp_accumulates);
    suite_add_tcase(s, tc);

    tc = tcase_create("activation");
    tcase_add_test(tc, test_relu_forward);
    tcase_add_test(tc, test_softplus_forward_stable);
    tcase_add_test(tc, test_activation_vjp_fd);
    tcase_add_test(tc, test_softplus_vjp_extremes);
    suite_add_tcase(s, tc);

    tc = tcase_create("conv2d");
    tcase_add_test(tc, test_conv2d_forward_naive);
    tcase_add_test(tc, test_conv2d_vjp_fd);
    tcase_add_test(tc, test_conv2d_vjp_partial);
    tcase_add_test(tc, test_conv2d_workspace_size);
    suite_add_tcase(s, tc);
    return s;
}
