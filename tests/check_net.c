/* check_net.c - the network handle: backward against finite differences for
 * every layer kind, accumulation, parameters, initialisation statistics,
 * shape queries, every documented error, and allocation failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "net/net_internal.h"
#include "testutil.h"

static float *rand_floats(int64_t n, float lo, float hi, uint64_t seed)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    tu_fill_uniform(p, n, lo, hi, seed);
    return p;
}

static float *floats(int64_t n)
{
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static flp_net *new_net3(int64_t c, int64_t h, int64_t w)
{
    int64_t shape[3] = {c, h, w};
    flp_net *net;
    ck_flp(flp_net_create(3, shape, &net));
    return net;
}

static flp_net *new_net1(int64_t n)
{
    flp_net *net;
    ck_flp(flp_net_create(1, &n, &net));
    return net;
}

/* Kaiming weights, and biases drawn away from zero so that a forward that
 * dropped them would show. */
static void init_random(flp_net *net, uint64_t seed)
{
    flp_rng *rng;
    ck_flp(flp_rng_create(seed, &rng));
    ck_flp(flp_net_init(net, FLP_INIT_KAIMING_NORMAL, rng));
    flp_rng_free(rng);
    int n;
    ck_flp(flp_net_num_layers(net, &n));
    for (int i = 0; i < n; i++) {
        int64_t nb;
        ck_flp(flp_net_param_count(net, i, FLP_PARAM_BIAS, &nb));
        if (nb == 0)
            continue;
        float *b = rand_floats(nb, -0.5f, 0.5f, seed + 100 + i);
        ck_flp(flp_net_set_param(net, i, FLP_PARAM_BIAS, b, nb));
        free(b);
    }
}

/* ---- finite differences through the public API ------------------------- */

typedef struct {
    flp_net *net;
    int64_t batch, nin, nout;
    float *x, *y, *r;
} fd_ctx;

static double objective(const fd_ctx *c)
{
    ck_flp(flp_net_forward(c->net, c->batch, c->x, c->y));
    double L = 0;
    for (int64_t i = 0; i < c->batch * c->nout; i++)
        L += (double)c->r[i] * c->y[i];
    return L;
}

/* Which side of its kink every relu input lies on, as a hash. A central
 * difference whose two forwards do not both match the base point's pattern
 * straddles a kink and says nothing about the gradient. */
static uint64_t relu_pattern(const flp_net *net, int64_t batch)
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < net->n_layers; i++) {
        if (net->layers[i].kind != FLP_LAYER_RELU)
            continue;
        const float *a = net->ws.acts[i];
        for (int64_t k = 0; k < batch * net->layers[i].in_size; k++)
            h = (h ^ (uint64_t)(a[k] > 0.0f)) * 1099511628211ULL;
    }
    return h;
}

/* One central difference of L along v[i]; 0 if the two forwards do not
 * share the base point's relu pattern. */
static int central_difference(fd_ctx *c, float *v, int64_t n, int64_t i, int layer,
                              flp_param which, float h, uint64_t base, double *fd)
{
    float keep = v[i], hi = keep + h, lo = keep - h;
    double L[2];
    int same = 1;
    for (int s = 0; s < 2; s++) {
        v[i] = s == 0 ? hi : lo;
        if (layer >= 0)
            ck_flp(flp_net_set_param(c->net, layer, which, v, n));
        L[s] = objective(c);
        same &= relu_pattern(c->net, c->batch) == base;
    }
    v[i] = keep;
    if (layer >= 0)
        ck_flp(flp_net_set_param(c->net, layer, which, v, n));
    *fd = (L[0] - L[1]) / ((double)hi - (double)lo);
    return same;
}

/* Central differences of L over v (the input when layer < 0, else a
 * parameter pushed with set_param after each change) against grad. Near a
 * relu kink the step shrinks (the net is linear between kinks, so any step
 * inside the region is exact); coordinates still straddling one are skipped,
 * and at most half of them may be. */
static void fd_array(const char *what, fd_ctx *c, float *v, int64_t n, const float *grad, int layer,
                     flp_param which)
{
    static const float steps[] = {1e-2f, 3e-3f, 1e-3f};
    ck_flp(flp_net_forward(c->net, c->batch, c->x, c->y));
    uint64_t base = relu_pattern(c->net, c->batch);
    float *ga = floats(n);
    double *fd = calloc((size_t)n, sizeof *fd);
    int64_t checked = 0;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            if (central_difference(c, v, n, i, layer, which, steps[k], base, &fd[checked])) {
                ga[checked++] = grad[i];
                break;
            }
    ck_assert_msg(2 * checked >= n, "%s: %lld of %lld differences straddle a relu kink", what,
                  (long long)(n - checked), (long long)n);
    ck_allclose(what, ga, fd, checked, 5e-3, 5e-4);
    free(ga);
    free(fd);
}

/* Checks flp_net_backward's dx and every parameter gradient of `net`. */
static void check_net_fd(flp_net *net, int64_t batch, uint64_t seed)
{
    fd_ctx c = {net, batch, 0, 0, NULL, NULL, NULL};
    ck_flp(flp_net_io_size(net, &c.nin, &c.nout));
    c.x = rand_floats(batch * c.nin, -1, 1, seed);
    c.y = floats(batch * c.nout);
    c.r = rand_floats(batch * c.nout, -1, 1, seed + 1);
    float *dx = floats(batch * c.nin);
    ck_flp(flp_net_forward(net, batch, c.x, c.y));
    ck_flp(flp_net_zero_grad(net));
    ck_flp(flp_net_backward(net, c.r, dx));
    fd_array("dx", &c, c.x, batch * c.nin, dx, -1, FLP_PARAM_WEIGHT);

    int n_layers;
    ck_flp(flp_net_num_layers(net, &n_layers));
    for (int i = 0; i < n_layers; i++)
        for (int w = 0; w < 2; w++) {
            flp_param which = w ? FLP_PARAM_BIAS : FLP_PARAM_WEIGHT;
            int64_t n;
            ck_flp(flp_net_param_count(net, i, which, &n));
            if (n == 0)
                continue;
            float *v = floats(n), *g = floats(n);
            ck_flp(flp_net_get_param(net, i, which, v, n));
            ck_flp(flp_net_get_grad(net, i, which, g, n));
            char what[64];
            snprintf(what, sizeof what, "layer %d %s", i, w ? "bias" : "weight");
            fd_array(what, &c, v, n, g, i, which);
            free(v);
            free(g);
        }
    free(c.x);
    free(c.y);
    free(c.r);
    free(dx);
}

START_TEST(test_fd_linear_relu)
{
    flp_net *net = new_net1(5);
    ck_flp(flp_net_add_linear(net, 7, 1));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_linear(net, 3, 1));
    init_random(net, 1);
    check_net_fd(net, 4, 11);
    flp_net_free(net);
}
END_TEST

START_TEST(test_fd_linear_softplus)
{
    flp_net *net = new_net1(6);
    ck_flp(flp_net_add_linear(net, 8, 1));
    ck_flp(flp_net_add_softplus(net, 1.0f));
    ck_flp(flp_net_add_linear(net, 8, 0));
    ck_flp(flp_net_add_softplus(net, 5.0f));
    ck_flp(flp_net_add_linear(net, 2, 1));
    init_random(net, 2);
    check_net_fd(net, 3, 12);
    flp_net_free(net);
}
END_TEST

START_TEST(test_fd_conv_stride2_relu_flatten_linear)
{
    flp_net *net = new_net3(2, 8, 8);
    ck_flp(flp_net_add_conv2d(net, 3, 3, 3, 2, 1, 1));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_net_add_linear(net, 4, 1));
    init_random(net, 3);
    check_net_fd(net, 2, 13);
    flp_net_free(net);
}
END_TEST

START_TEST(test_fd_two_convs_softplus)
{
    flp_net *net = new_net3(3, 7, 6);
    ck_flp(flp_net_add_conv2d(net, 4, 3, 2, 1, 2, 0));
    ck_flp(flp_net_add_softplus(net, 2.0f));
    ck_flp(flp_net_add_conv2d(net, 2, 1, 1, 1, 0, 1));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_net_add_linear(net, 5, 1));
    ck_flp(flp_net_add_softplus(net, 1.0f));
    ck_flp(flp_net_add_linear(net, 1, 1));
    init_random(net, 4);
    check_net_fd(net, 3, 14);
    flp_net_free(net);
}
END_TEST

/* Parameter-free layers first: dx must flow through an activation and a
 * flatten that are layer 0. */
START_TEST(test_fd_activation_and_flatten_first)
{
    flp_net *net = new_net3(2, 5, 5);
    ck_flp(flp_net_add_softplus(net, 3.0f));
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_net_add_linear(net, 3, 1));
    init_random(net, 5);
    check_net_fd(net, 2, 15);
    flp_net_free(net);

    net = new_net3(1, 6, 6);
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_net_add_linear(net, 2, 0));
    init_random(net, 6);
    check_net_fd(net, 3, 16);
    flp_net_free(net);

    net = new_net1(9);
    ck_flp(flp_net_add_relu(net));
    check_net_fd(net, 2, 17);
    flp_net_free(net);
}
END_TEST

static uint64_t draw(uint64_t *s, uint64_t n)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (*s >> 33) % n;
}

START_TEST(test_fd_random_mlps)
{
    uint64_t s = 99;
    for (int t = 0; t < 6; t++) {
        flp_net *net = new_net1(1 + (int64_t)draw(&s, 9));
        int depth = 1 + (int)draw(&s, 3);
        for (int d = 0; d < depth; d++) {
            ck_flp(flp_net_add_linear(net, 1 + (int64_t)draw(&s, 12), (int)draw(&s, 2)));
            if (draw(&s, 2))
                ck_flp(flp_net_add_relu(net));
            else
                ck_flp(flp_net_add_softplus(net, 0.5f + (float)draw(&s, 4)));
        }
        ck_flp(flp_net_add_linear(net, 1 + (int64_t)draw(&s, 4), 1));
        init_random(net, 200 + t);
        check_net_fd(net, 1 + (int64_t)draw(&s, 5), 300 + t);
        flp_net_free(net);
    }
}
END_TEST

START_TEST(test_fd_random_convnets)
{
    uint64_t s = 7;
    for (int t = 0; t < 6; t++) {
        int64_t h = 4 + (int64_t)draw(&s, 6), w = 4 + (int64_t)draw(&s, 6);
        flp_net *net = new_net3(1 + (int64_t)draw(&s, 3), h, w);
        int64_t kh = 1 + (int64_t)draw(&s, 3), kw = 1 + (int64_t)draw(&s, 3);
        ck_flp(flp_net_add_conv2d(net, 1 + (int64_t)draw(&s, 4), kh, kw, 1 + (int64_t)draw(&s, 2),
                                  (int64_t)draw(&s, 3), (int)draw(&s, 2)));
        if (draw(&s, 2))
            ck_flp(flp_net_add_relu(net));
        else
            ck_flp(flp_net_add_softplus(net, 1.5f));
        ck_flp(flp_net_add_flatten(net));
        ck_flp(flp_net_add_linear(net, 1 + (int64_t)draw(&s, 3), 1));
        init_random(net, 400 + t);
        check_net_fd(net, 1 + (int64_t)draw(&s, 3), 500 + t);
        flp_net_free(net);
    }
}
END_TEST

/* ---- forward values and workspace ----------------------------------------- */

/* net(x) for linear -> relu -> linear, computed naively in double. */
START_TEST(test_forward_matches_naive_mlp)
{
    const int64_t B = 5, in = 4, hid = 6, out = 3;
    flp_net *net = new_net1(in);
    ck_flp(flp_net_add_linear(net, hid, 1));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_linear(net, out, 0));
    float *W1 = rand_floats(hid * in, -1, 1, 1), *b1 = rand_floats(hid, -1, 1, 2);
    float *W2 = rand_floats(out * hid, -1, 1, 3), *x = rand_floats(B * in, -1, 1, 4);
    ck_flp(flp_net_set_param(net, 0, FLP_PARAM_WEIGHT, W1, hid * in));
    ck_flp(flp_net_set_param(net, 0, FLP_PARAM_BIAS, b1, hid));
    ck_flp(flp_net_set_param(net, 2, FLP_PARAM_WEIGHT, W2, out * hid));
    float *y = floats(B * out);
    double want[5 * 3];
    for (int64_t r = 0; r < B; r++)
        for (int64_t o = 0; o < out; o++) {
            double acc = 0;
            for (int64_t j = 0; j < hid; j++) {
                double h = b1[j];
                for (int64_t i = 0; i < in; i++)
                    h += (double)W1[j * in + i] * x[r * in + i];
                acc += (double)W2[o * hid + j] * (h > 0 ? h : 0);
            }
            want[r * out + o] = acc;
        }
    ck_flp(flp_net_forward(net, B, x, y));
    ck_allclose("mlp y", y, want, B * out, 1e-5, 1e-5);
    flp_net_free(net);
    free(W1);
    free(b1);
    free(W2);
    free(x);
    free(y);
}
END_TEST

/* The handle wires conv -> softplus -> flatten -> linear exactly as the
 * kernels composed by hand. */
START_TEST(test_forward_matches_kernels_convnet)
{
    const int64_t B = 3;
    flp_net *net = new_net3(2, 9, 8);
    ck_flp(flp_net_add_conv2d(net, 3, 3, 2, 2, 1, 1));
    ck_flp(flp_net_add_softplus(net, 2.0f));
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_net_add_linear(net, 4, 1));
    init_random(net, 8);
    const flp__layer *conv = &net->layers[0], *lin = &net->layers[3];
    ck_assert_int_eq(conv->out_size, 3 * 5 * 5);
    int64_t nx = B * 2 * 9 * 8, nh = B * conv->out_size;
    float *x = rand_floats(nx, -1, 1, 9), *h = floats(nh), *y = floats(B * 4), *want = floats(B * 4);
    float *work = floats(flp__conv2d_workspace(&conv->conv));
    flp__conv2d_forward(&conv->conv, B, x, conv->W, conv->b, h, work);
    flp__softplus_forward(nh, 2.0f, h, h);
    flp__linear_forward(B, conv->out_size, 4, h, lin->W, lin->b, want);
    ck_flp(flp_net_forward(net, B, x, y));
    ck_allclose_f("convnet y", y, want, B * 4, 1e-6, 1e-6);
    flp_net_free(net);
    free(x);
    free(h);
    free(y);
    free(want);
    free(work);
}
END_TEST

/* Rows are independent whatever batch the workspace was sized for: growing
 * and shrinking the batch gives the same per-example results, and backward
 * uses the last forward's batch. */
START_TEST(test_batch_grow_shrink)
{
    flp_net *net = new_net3(1, 6, 6);
    ck_flp(flp_net_add_conv2d(net, 2, 3, 3, 1, 1, 1));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_net_add_linear(net, 3, 1));
    init_random(net, 10);
    float *x = rand_floats(7 * 36, -1, 1, 11), *y7 = floats(7 * 3), *y2 = floats(2 * 3);
    float *y1 = floats(3);
    ck_flp(flp_net_forward(net, 2, x, y2));
    ck_assert_int_eq(net->ws.batch, 2);
    ck_flp(flp_net_forward(net, 7, x, y7));
    ck_assert_int_eq(net->ws.batch, 7);
    float *ws = net->ws.block;
    ck_flp(flp_net_forward(net, 1, x + 36, y1));
    ck_assert_msg(net->ws.block == ws && net->ws.batch == 7, "a smaller batch reallocated the workspace");
    ck_allclose_f("batch 2 rows", y2, y7, 2 * 3, 1e-6, 1e-6);
    ck_allclose_f("batch 1 row", y1, y7 + 3, 3, 1e-6, 1e-6);

    /* backward after the batch-1 forward = gradient of example 1 alone */
    float dy[3] = {0.3f, -1.0f, 0.7f}, dx1[36], dx2[72];
    float dy2[6] = {0, 0, 0, 0.3f, -1.0f, 0.7f};
    ck_flp(flp_net_backward(net, dy, dx1));
    ck_flp(flp_net_forward(net, 2, x, y2));
    ck_flp(flp_net_backward(net, dy2, dx2));
    ck_allclose_f("dx of example 1", dx1, dx2 + 36, 36, 1e-6, 1e-6);
    flp_net_free(net);
    free(x);
    free(y7);
    free(y2);
    free(y1);
}
END_TEST

/* ---- gradients: accumulation, zeroing, optional dx ------------------------ */

static void get_all_grads(const flp_net *net, float *dst, int64_t *total)
{
    int n;
    ck_flp(flp_net_num_layers(net, &n));
    *total = 0;
    for (int i = 0; i < n; i++)
        for (int w = 0; w < 2; w++) {
            int64_t k;
            ck_flp(flp_net_param_count(net, i, (flp_param)w, &k));
            ck_flp(flp_net_get_grad(net, i, (flp_param)w, dst + *total, k));
            *total += k;
        }
}

START_TEST(test_grad_accumulates)
{
    flp_net *net = new_net3(2, 6, 5);
    ck_flp(flp_net_add_conv2d(net, 3, 2, 2, 2, 1, 1));
    ck_flp(flp_net_add_softplus(net, 1.0f));
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_net_add_linear(net, 4, 1));
    init_random(net, 20);
    int64_t in, out;
    ck_flp(flp_net_io_size(net, &in, &out));
    const int64_t B = 3;
    float *x = rand_floats(B * in, -1, 1, 21), *y = floats(B * out), *dy = rand_floats(B * out, -1, 1, 22);
    float *dx = floats(B * in), *g1 = floats(1000), *g2 = floats(1000), *g3 = floats(1000);
    int64_t n1, n2, n3;
    ck_flp(flp_net_forward(net, B, x, y));
    ck_flp(flp_net_zero_grad(net));
    ck_flp(flp_net_backward(net, dy, dx));
    get_all_grads(net, g1, &n1);
    ck_assert_int_le(n1, 1000);
    double norm = 0;
    for (int64_t i = 0; i < n1; i++)
        norm += fabs(g1[i]);
    ck_assert_msg(norm > 1e-3, "gradients are all zero");

    /* A second backward without dx adds the same again. */
    ck_flp(flp_net_backward(net, dy, NULL));
    get_all_grads(net, g2, &n2);
    ck_assert_int_eq(n1, n2);
    for (int64_t i = 0; i < n1; i++)
        g3[i] = 2 * g1[i];
    ck_allclose_f("twice accumulated", g2, g3, n1, 1e-6, 1e-7);

    ck_flp(flp_net_zero_grad(net));
    get_all_grads(net, g3, &n3);
    for (int64_t i = 0; i < n3; i++)
        ck_assert_msg(g3[i] == 0.0f, "zero_grad left grad[%lld] = %g", (long long)i, g3[i]);
    ck_flp(flp_net_backward(net, dy, NULL));
    get_all_grads(net, g3, &n3);
    ck_allclose_f("dx NULL gives the same grads", g3, g1, n1, 1e-6, 1e-7);
    flp_net_free(net);
    free(x);
    free(y);
    free(dy);
    free(dx);
    free(g1);
    free(g2);
    free(g3);
}
END_TEST

/* ---- parameters ------------------------------------------------------------ */

START_TEST(test_param_counts_and_roundtrip)
{
    flp_net *net = new_net3(3, 8, 8);
    ck_flp(flp_net_add_conv2d(net, 5, 3, 2, 1, 0, 1));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_net_add_linear(net, 7, 0));
    static const int64_t want[4][2] = {{5 * 3 * 3 * 2, 5}, {0, 0}, {0, 0}, {7 * 5 * 6 * 7, 0}};
    for (int i = 0; i < 4; i++)
        for (int w = 0; w < 2; w++) {
            int64_t n;
            ck_flp(flp_net_param_count(net, i, (flp_param)w, &n));
            ck_assert_int_eq(n, want[i][w]);
            if (n == 0)
                continue;
            float *src = rand_floats(n, -2, 2, 30 + 2 * i + w), *dst = floats(n), *g = floats(n);
            ck_flp(flp_net_set_param(net, i, (flp_param)w, src, n));
            ck_flp(flp_net_get_param(net, i, (flp_param)w, dst, n));
            ck_allclose_f("round trip", dst, src, n, 0, 0);
            ck_flp(flp_net_get_grad(net, i, (flp_param)w, g, n));
            for (int64_t k = 0; k < n; k++)
                ck_assert(g[k] == 0.0f); /* fresh gradients are zero */
            free(src);
            free(dst);
            free(g);
        }
    /* A parameter-free layer's empty parameter reads back with count 0. */
    float dummy = 42.0f;
    ck_flp(flp_net_get_param(net, 1, FLP_PARAM_WEIGHT, &dummy, 0));
    ck_assert(dummy == 42.0f);
    flp_net_free(net);
}
END_TEST

START_TEST(test_tensor_list)
{
    flp_net *net = new_net3(2, 5, 5);
    ck_flp(flp_net_add_conv2d(net, 3, 3, 3, 1, 1, 0));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_net_add_linear(net, 4, 1));
    ck_flp(flp_net_add_linear(net, 2, 1));
    flp__tensor_list list = {0};
    ck_flp(flp__net_tensors(net, &list));
    static const char *names[] = {"net.0.weight", "net.3.weight", "net.3.bias", "net.4.weight", "net.4.bias"};
    static const int layer[] = {0, 3, 3, 4, 4}, which[] = {0, 0, 1, 0, 1};
    ck_assert_int_eq(list.n, 5);
    for (int t = 0; t < 5; t++) {
        const flp__tensor *T = &list.items[t];
        int64_t n;
        ck_assert_str_eq(T->name, names[t]);
        ck_assert_int_eq(T->group, FLP_GROUP_WEIGHTS);
        ck_flp(flp_net_param_count(net, layer[t], (flp_param)which[t], &n));
        ck_assert_int_eq(T->count, n);
        /* The views are the live arrays: write through them, read via the API. */
        float *got = floats(n);
        for (int64_t k = 0; k < n; k++) {
            T->value[k] = (float)(t + 1) + 0.001f * (float)k;
            T->grad[k] = -(float)k;
        }
        ck_flp(flp_net_get_param(net, layer[t], (flp_param)which[t], got, n));
        ck_assert(got[n - 1] == T->value[n - 1] && got[0] == (float)(t + 1));
        ck_flp(flp_net_get_grad(net, layer[t], (flp_param)which[t], got, n));
        ck_assert(got[n - 1] == -(float)(n - 1));
        free(got);
    }
    ck_assert_int_eq(flp__tensor_list_total(&list), 3 * 2 * 9 + 4 * 75 + 4 + 2 * 4 + 2);
    flp__tensor_list_free(&list);
    flp_net_free(net);
}
END_TEST

/* ---- initialisation ----------------------------------------------------------- */

static void moments(const float *w, int64_t n, double *mean, double *std, double *maxabs)
{
    double s = 0, s2 = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        s += w[i];
        s2 += (double)w[i] * w[i];
        m = fmax(m, fabs(w[i]));
    }
    *mean = s / n;
    *std = sqrt(s2 / n - *mean * *mean);
    *maxabs = m;
}

static float *init_and_get(flp_net *net, flp_init scheme, uint64_t seed, int layer, int64_t *n)
{
    flp_rng *rng;
    ck_flp(flp_rng_create(seed, &rng));
    ck_flp(flp_net_init(net, scheme, rng));
    flp_rng_free(rng);
    ck_flp(flp_net_param_count(net, layer, FLP_PARAM_WEIGHT, n));
    float *w = floats(*n);
    ck_flp(flp_net_get_param(net, layer, FLP_PARAM_WEIGHT, w, *n));
    return w;
}

START_TEST(test_init_kaiming)
{
    flp_net *net = new_net1(300);
    ck_flp(flp_net_add_linear(net, 300, 1));
    float ones[300];
    for (int i = 0; i < 300; i++)
        ones[i] = 1.0f;
    ck_flp(flp_net_set_param(net, 0, FLP_PARAM_BIAS, ones, 300));
    int64_t n;
    double mean, std, maxabs, want = sqrt(2.0 / 300);
    float *w = init_and_get(net, FLP_INIT_KAIMING_NORMAL, 1, 0, &n);
    moments(w, n, &mean, &std, &maxabs);
    ck_assert_msg(fabs(std / want - 1) < 0.02, "kaiming std %g, want %g", std, want);
    ck_assert_msg(fabs(mean) < 4 * want / sqrt((double)n), "kaiming mean %g", mean);
    ck_assert_msg(maxabs > 3.5 * want, "max |w| %g: tails too light for a normal", maxabs);
    ck_flp(flp_net_get_param(net, 0, FLP_PARAM_BIAS, ones, 300));
    for (int i = 0; i < 300; i++)
        ck_assert_msg(ones[i] == 0.0f, "bias not zeroed");
    free(w);
    flp_net_free(net);

    /* conv: fan_in = in_channels * kh * kw = 16 * 3 * 3 */
    net = new_net3(16, 6, 6);
    ck_flp(flp_net_add_conv2d(net, 64, 3, 3, 1, 1, 0));
    w = init_and_get(net, FLP_INIT_KAIMING_NORMAL, 2, 0, &n);
    moments(w, n, &mean, &std, &maxabs);
    want = sqrt(2.0 / 144);
    ck_assert_msg(fabs(std / want - 1) < 0.04, "conv kaiming std %g, want %g", std, want);
    free(w);
    flp_net_free(net);
}
END_TEST

START_TEST(test_init_xavier)
{
    flp_net *net = new_net1(300);
    ck_flp(flp_net_add_linear(net, 200, 1));
    int64_t n;
    double mean, std, maxabs, a = sqrt(6.0 / 500);
    float *w = init_and_get(net, FLP_INIT_XAVIER_UNIFORM, 3, 0, &n);
    moments(w, n, &mean, &std, &maxabs);
    ck_assert_msg(maxabs <= a && maxabs > 0.999 * a, "xavier max |w| %g, bound %g", maxabs, a);
    ck_assert_msg(fabs(std / (a / sqrt(3.0)) - 1) < 0.02, "xavier std %g, want %g", std, a / sqrt(3.0));
    free(w);
    flp_net_free(net);

    /* conv: fan_in + fan_out = (in_channels + out_channels) * kh * kw */
    net = new_net3(10, 7, 7);
    ck_flp(flp_net_add_conv2d(net, 30, 3, 2, 1, 0, 1));
    w = init_and_get(net, FLP_INIT_XAVIER_UNIFORM, 4, 0, &n);
    moments(w, n, &mean, &std, &maxabs);
    a = sqrt(6.0 / (40 * 6));
    ck_assert_msg(maxabs <= a && maxabs > 0.99 * a, "conv xavier max |w| %g, bound %g", maxabs, a);
    free(w);
    flp_net_free(net);
}
END_TEST

/* Weights come from the rng's stream in layer order, row-major, so a
 * seed fixes the network. */
START_TEST(test_init_stream_order)
{
    flp_net *net = new_net1(4);
    ck_flp(flp_net_add_linear(net, 3, 1));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_linear(net, 2, 0));
    int64_t n0, n2;
    float *w0 = init_and_get(net, FLP_INIT_KAIMING_NORMAL, 5, 0, &n0);
    float *w2 = floats(6), want[18];
    ck_flp(flp_net_param_count(net, 2, FLP_PARAM_WEIGHT, &n2));
    ck_flp(flp_net_get_param(net, 2, FLP_PARAM_WEIGHT, w2, n2));
    flp_rng *rng;
    ck_flp(flp_rng_create(5, &rng));
    ck_flp(flp_rng_normal(rng, 0.0f, (float)sqrt(2.0 / 4), want, 12));
    ck_flp(flp_rng_normal(rng, 0.0f, (float)sqrt(2.0 / 3), want + 12, 6));
    flp_rng_free(rng);
    ck_allclose_f("layer 0 from the stream", w0, want, 12, 1e-6, 0);
    ck_allclose_f("layer 2 continues it", w2, want + 12, 6, 1e-6, 0);
    float *again = init_and_get(net, FLP_INIT_KAIMING_NORMAL, 5, 0, &n0);
    ck_allclose_f("same seed", again, w0, 12, 0, 0);
    free(again);
    again = init_and_get(net, FLP_INIT_KAIMING_NORMAL, 6, 0, &n0);
    ck_assert_msg(again[0] != w0[0], "a different seed gave the same weights");
    free(again);
    free(w0);
    free(w2);
    flp_net_free(net);
}
END_TEST

/* ---- shape queries -------------------------------------------------------------- */

static void ck_shape(const flp_net *net, int layer, int rank, int64_t a, int64_t b, int64_t c)
{
    int r;
    int64_t s[3];
    ck_flp(flp_net_layer_shape(net, layer, &r, s));
    ck_assert_int_eq(r, rank);
    ck_assert_msg(s[0] == a && s[1] == b && s[2] == c, "layer %d shape [%lld %lld %lld]", layer,
                  (long long)s[0], (long long)s[1], (long long)s[2]);
}

START_TEST(test_shapes_and_kinds)
{
    flp_net *net = new_net3(3, 28, 27);
    int n;
    ck_flp(flp_net_num_layers(net, &n));
    ck_assert_int_eq(n, 0);
    int64_t in, out;
    ck_flp(flp_net_io_size(net, &in, &out));
    ck_assert(in == 3 * 28 * 27 && out == in);
    ck_flp(flp_net_add_conv2d(net, 8, 3, 3, 2, 1, 1)); /* 14 x 14 */
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_conv2d(net, 4, 5, 2, 3, 0, 0)); /* (14-5)/3+1 = 4, (14-2)/3+1 = 5 */
    ck_flp(flp_net_add_softplus(net, 1.0f));
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_net_add_linear(net, 10, 1));
    ck_shape(net, -1, 3, 3, 28, 27);
    ck_shape(net, 0, 3, 8, 14, 14);
    ck_shape(net, 1, 3, 8, 14, 14);
    ck_shape(net, 2, 3, 4, 4, 5);
    ck_shape(net, 3, 3, 4, 4, 5);
    ck_shape(net, 4, 1, 80, 1, 1);
    ck_shape(net, 5, 1, 10, 1, 1);
    static const flp_layer_kind kinds[] = {FLP_LAYER_CONV2D, FLP_LAYER_RELU, FLP_LAYER_CONV2D,
                                           FLP_LAYER_SOFTPLUS, FLP_LAYER_FLATTEN, FLP_LAYER_LINEAR};
    ck_flp(flp_net_num_layers(net, &n));
    ck_assert_int_eq(n, 6);
    for (int i = 0; i < 6; i++) {
        flp_layer_kind k;
        ck_flp(flp_net_layer_kind(net, i, &k));
        ck_assert_int_eq(k, kinds[i]);
    }
    ck_flp(flp_net_io_size(net, &in, &out));
    ck_assert(in == 3 * 28 * 27 && out == 10);
    ck_assert_int_eq(flp__net_max_width(net), 3 * 28 * 27); /* the input is widest */
    flp_net_free(net);

    net = new_net1(4);
    ck_flp(flp_net_add_linear(net, 300, 1));
    ck_flp(flp_net_add_linear(net, 2, 1));
    ck_assert_int_eq(flp__net_max_width(net), 300);
    flp_net_free(net);

    /* Kernel exactly the padded input's size gives a 1x1 output. */
    net = new_net3(1, 4, 5);
    ck_flp(flp_net_add_conv2d(net, 2, 6, 7, 1, 1, 0));
    ck_shape(net, 0, 3, 2, 1, 1);
    flp_net_free(net);
    flp_net_free(NULL);
}
END_TEST

/* ---- errors ----------------------------------------------------------------------- */

START_TEST(test_errors_create)
{
    int64_t shape[3] = {2, 3, 4}, bad[3] = {2, 0, 4}, neg = -5;
    flp_net *net = (flp_net *)&net;
    ck_flp_fails(flp_net_create(3, shape, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_net_create(3, NULL, &net), FLP_ERR_NULL);
    ck_assert_ptr_null(net); /* *out cleared on error */
    ck_flp_fails(flp_net_create(0, shape, &net), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_create(2, shape, &net), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_create(4, shape, &net), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_create(-1, shape, &net), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_create(3, bad, &net), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_create(1, &neg, &net), FLP_ERR_RANGE);
    int64_t huge[3] = {1 << 20, 1 << 20, 1 << 20};
    ck_flp_fails(flp_net_create(3, huge, &net), FLP_ERR_RANGE);
    ck_assert_ptr_null(net);
}
END_TEST

START_TEST(test_errors_add)
{
    ck_flp_fails(flp_net_add_linear(NULL, 3, 1), FLP_ERR_NULL);
    ck_flp_fails(flp_net_add_conv2d(NULL, 3, 3, 3, 1, 0, 1), FLP_ERR_NULL);
    ck_flp_fails(flp_net_add_relu(NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_net_add_softplus(NULL, 1.0f), FLP_ERR_NULL);
    ck_flp_fails(flp_net_add_flatten(NULL), FLP_ERR_NULL);

    flp_net *net = new_net3(2, 5, 5);
    ck_flp_fails(flp_net_add_linear(net, 3, 1), FLP_ERR_SHAPE); /* rank-3 input */
    ck_flp_fails(flp_net_add_conv2d(net, 0, 3, 3, 1, 0, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_add_conv2d(net, 2, 0, 3, 1, 0, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_add_conv2d(net, 2, 3, -1, 1, 0, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_add_conv2d(net, 2, 3, 3, 0, 0, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_add_conv2d(net, 2, 3, 3, -2, 0, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_add_conv2d(net, 2, 3, 3, 1, -1, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_add_conv2d(net, 2, 6, 3, 1, 0, 1), FLP_ERR_SHAPE);  /* 6 > 5 */
    ck_flp_fails(flp_net_add_conv2d(net, 2, 3, 8, 1, 1, 1), FLP_ERR_SHAPE);  /* 8 > 5 + 2 */
    ck_flp_fails(flp_net_add_conv2d(net, 2, 8, 8, 2, 1, 1), FLP_ERR_SHAPE);
    ck_flp_fails(flp_net_add_softplus(net, 0.0f), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_add_softplus(net, -1.0f), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_add_softplus(net, NAN), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_add_softplus(net, INFINITY), FLP_ERR_RANGE);
    int n;
    ck_flp(flp_net_num_layers(net, &n));
    ck_assert_int_eq(n, 0); /* failed adds leave the net unchanged */
    ck_flp(flp_net_add_conv2d(net, 2, 7, 7, 1, 1, 1)); /* 7 == 5 + 2 fits */
    ck_flp(flp_net_add_flatten(net));
    ck_flp_fails(flp_net_add_flatten(net), FLP_ERR_SHAPE); /* already rank 1 */
    ck_flp_fails(flp_net_add_conv2d(net, 2, 1, 1, 1, 0, 1), FLP_ERR_SHAPE); /* rank-1 input */
    ck_flp_fails(flp_net_add_linear(net, 0, 1), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_add_linear(net, -4, 1), FLP_ERR_RANGE);
    ck_flp(flp_net_num_layers(net, &n));
    ck_assert_int_eq(n, 2);
    flp_net_free(net);

    net = new_net1(4);
    ck_flp_fails(flp_net_add_conv2d(net, 2, 1, 1, 1, 0, 1), FLP_ERR_SHAPE);
    ck_flp_fails(flp_net_add_flatten(net), FLP_ERR_SHAPE);
    ck_flp_fails(flp_net_add_linear(net, (int64_t)1 << 40, 1), FLP_ERR_RANGE); /* weight too big */
    flp_net_free(net);

    net = new_net3(1, (int64_t)1 << 20, (int64_t)1 << 20);
    ck_flp_fails(flp_net_add_conv2d(net, 2, 1, 1, 1, 0, 1), FLP_ERR_RANGE); /* output > 2^40 */
    ck_flp(flp_net_add_conv2d(net, 1, 1, 1, 1, 0, 1)); /* nothing is allocated per pixel */
    flp_net_free(net);
}
END_TEST

START_TEST(test_errors_queries)
{
    flp_net *net = new_net1(4);
    ck_flp(flp_net_add_linear(net, 3, 1));
    int n, rank;
    int64_t shape[3], a, b;
    flp_layer_kind kind;
    ck_flp_fails(flp_net_num_layers(NULL, &n), FLP_ERR_NULL);
    ck_flp_fails(flp_net_num_layers(net, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_net_layer_kind(NULL, 0, &kind), FLP_ERR_NULL);
    ck_flp_fails(flp_net_layer_kind(net, 0, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_net_layer_kind(net, 1, &kind), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_layer_kind(net, -1, &kind), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_layer_shape(NULL, 0, &rank, shape), FLP_ERR_NULL);
    ck_flp_fails(flp_net_layer_shape(net, 0, NULL, shape), FLP_ERR_NULL);
    ck_flp_fails(flp_net_layer_shape(net, 0, &rank, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_net_layer_shape(net, 1, &rank, shape), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_layer_shape(net, -2, &rank, shape), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_io_size(NULL, &a, &b), FLP_ERR_NULL);
    ck_flp_fails(flp_net_io_size(net, NULL, &b), FLP_ERR_NULL);
    ck_flp_fails(flp_net_io_size(net, &a, NULL), FLP_ERR_NULL);
    flp_net_free(net);
}
END_TEST

START_TEST(test_errors_params)
{
    flp_net *net = new_net1(4);
    ck_flp(flp_net_add_linear(net, 3, 1));
    ck_flp(flp_net_add_relu(net));
    float buf[12] = {0}, before[12], after[12];
    int64_t c;
    ck_flp_fails(flp_net_param_count(NULL, 0, FLP_PARAM_WEIGHT, &c), FLP_ERR_NULL);
    ck_flp_fails(flp_net_param_count(net, 0, FLP_PARAM_WEIGHT, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_net_param_count(net, 2, FLP_PARAM_WEIGHT, &c), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_param_count(net, -1, FLP_PARAM_WEIGHT, &c), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_param_count(net, 0, (flp_param)2, &c), FLP_ERR_INVALID);

    ck_flp_fails(flp_net_get_param(NULL, 0, FLP_PARAM_WEIGHT, buf, 12), FLP_ERR_NULL);
    ck_flp_fails(flp_net_get_param(net, 0, FLP_PARAM_WEIGHT, NULL, 12), FLP_ERR_NULL);
    ck_flp_fails(flp_net_get_param(net, 5, FLP_PARAM_WEIGHT, buf, 12), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_get_param(net, 0, (flp_param)-1, buf, 12), FLP_ERR_INVALID);
    ck_flp_fails(flp_net_get_param(net, 0, FLP_PARAM_WEIGHT, buf, 11), FLP_ERR_SHAPE);
    ck_flp_fails(flp_net_get_param(net, 0, FLP_PARAM_WEIGHT, buf, 13), FLP_ERR_SHAPE);
    ck_flp_fails(flp_net_get_param(net, 0, FLP_PARAM_BIAS, buf, 12), FLP_ERR_SHAPE);
    ck_flp_fails(flp_net_get_param(net, 1, FLP_PARAM_WEIGHT, buf, 1), FLP_ERR_SHAPE);

    ck_flp_fails(flp_net_get_grad(NULL, 0, FLP_PARAM_WEIGHT, buf, 12), FLP_ERR_NULL);
    ck_flp_fails(flp_net_get_grad(net, 0, FLP_PARAM_WEIGHT, NULL, 12), FLP_ERR_NULL);
    ck_flp_fails(flp_net_get_grad(net, 2, FLP_PARAM_WEIGHT, buf, 12), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_get_grad(net, 0, (flp_param)7, buf, 12), FLP_ERR_INVALID);
    ck_flp_fails(flp_net_get_grad(net, 0, FLP_PARAM_BIAS, buf, 4), FLP_ERR_SHAPE);

    ck_flp(flp_net_get_param(net, 0, FLP_PARAM_WEIGHT, before, 12));
    ck_flp_fails(flp_net_set_param(NULL, 0, FLP_PARAM_WEIGHT, buf, 12), FLP_ERR_NULL);
    ck_flp_fails(flp_net_set_param(net, 0, FLP_PARAM_WEIGHT, NULL, 12), FLP_ERR_NULL);
    ck_flp_fails(flp_net_set_param(net, -3, FLP_PARAM_WEIGHT, buf, 12), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_set_param(net, 0, (flp_param)3, buf, 12), FLP_ERR_INVALID);
    ck_flp_fails(flp_net_set_param(net, 0, FLP_PARAM_WEIGHT, buf, 3), FLP_ERR_SHAPE);
    for (int i = 0; i < 12; i++)
        buf[i] = 1.0f + (float)i;
    buf[11] = NAN;
    ck_flp_fails(flp_net_set_param(net, 0, FLP_PARAM_WEIGHT, buf, 12), FLP_ERR_NONFINITE);
    buf[11] = 0.0f;
    buf[5] = -INFINITY;
    ck_flp_fails(flp_net_set_param(net, 0, FLP_PARAM_WEIGHT, buf, 12), FLP_ERR_NONFINITE);
    ck_flp(flp_net_get_param(net, 0, FLP_PARAM_WEIGHT, after, 12));
    ck_allclose_f("refused set leaves the weight", after, before, 12, 0, 0);

    ck_flp_fails(flp_net_zero_grad(NULL), FLP_ERR_NULL);

    flp_rng *rng;
    ck_flp(flp_rng_create(1, &rng));
    ck_flp_fails(flp_net_init(NULL, FLP_INIT_KAIMING_NORMAL, rng), FLP_ERR_NULL);
    ck_flp_fails(flp_net_init(net, FLP_INIT_KAIMING_NORMAL, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_net_init(net, (flp_init)2, rng), FLP_ERR_INVALID);
    ck_flp_fails(flp_net_init(net, (flp_init)-1, rng), FLP_ERR_INVALID);
    flp_rng_free(rng);
    flp_net_free(net);
}
END_TEST

START_TEST(test_errors_forward_backward)
{
    flp_net *net = new_net1(3);
    ck_flp(flp_net_add_linear(net, 2, 1));
    float x[6] = {1, 2, 3, 4, 5, 6}, y[4], dy[4] = {1, 1, 1, 1}, dx[6];
    ck_flp_fails(flp_net_backward(net, dy, dx), FLP_ERR_STATE); /* before any forward */
    ck_flp_fails(flp_net_forward(NULL, 2, x, y), FLP_ERR_NULL);
    ck_flp_fails(flp_net_forward(net, 2, NULL, y), FLP_ERR_NULL);
    ck_flp_fails(flp_net_forward(net, 2, x, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_net_forward(net, 0, x, y), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_forward(net, -1, x, y), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_forward(net, INT64_MAX / 2, x, y), FLP_ERR_RANGE);
    ck_flp_fails(flp_net_backward(net, dy, dx), FLP_ERR_STATE); /* failed forwards don't count */
    ck_flp(flp_net_forward(net, 2, x, y));
    ck_flp_fails(flp_net_backward(NULL, dy, dx), FLP_ERR_NULL);
    ck_flp_fails(flp_net_backward(net, NULL, dx), FLP_ERR_NULL);
    ck_flp(flp_net_backward(net, dy, dx));
    /* A failed forward keeps the previous one for backward. */
    ck_flp_fails(flp_net_forward(net, 0, x, y), FLP_ERR_RANGE);
    ck_flp(flp_net_backward(net, dy, NULL));
    /* Adding a layer invalidates the kept activations. */
    ck_flp(flp_net_add_relu(net));
    ck_flp_fails(flp_net_backward(net, dy, dx), FLP_ERR_STATE);
    flp_net_free(net);
}
END_TEST

/* ---- allocation failures --------------------------------------------------------- */

/* Builds, initialises and runs a small convnet, then grows the batch; returns
 * the first failing status. A failed growth must leave the batch-2 forward
 * usable by backward. */
static flp_status build_and_run(flp_net **out)
{
    int64_t shape[3] = {2, 6, 6};
    float x[5 * 72], y[5 * 3], dy[5 * 3], dx[5 * 72];
    for (int i = 0; i < 5 * 72; i++)
        x[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < 15; i++)
        dy[i] = 1.0f;
    flp_rng *rng = NULL;
    FLP__TRY(flp_net_create(3, shape, out));
    flp_net *net = *out;
    FLP__TRY(flp_net_add_conv2d(net, 3, 3, 3, 2, 1, 1));
    FLP__TRY(flp_net_add_relu(net));
    FLP__TRY(flp_net_add_flatten(net));
    for (int i = 0; i < 10; i++) /* enough layers to grow the layer array */
        FLP__TRY(flp_net_add_linear(net, 3, 1));
    FLP__TRY(flp_rng_create(3, &rng));
    flp_status st = flp_net_init(net, FLP_INIT_XAVIER_UNIFORM, rng);
    flp_rng_free(rng);
    FLP__TRY(st);
    FLP__TRY(flp_net_forward(net, 2, x, y));
    FLP__TRY(flp_net_backward(net, dy, dx));
    st = flp_net_forward(net, 5, x, y);
    if (st != FLP_OK) {
        ck_assert_int_eq(st, FLP_ERR_NOMEM);
        ck_flp(flp_net_backward(net, dy, dx));
        return st;
    }
    flp__tensor_list list = {0};
    st = flp__net_tensors(net, &list);
    flp__tensor_list_free(&list);
    FLP__TRY(st);
    return flp_net_backward(net, dy, NULL);
}

START_TEST(test_out_of_memory)
{
    for (int64_t n = 1;; n++) {
        flp_net *net = NULL;
        flp__alloc_fail_after(n);
        flp_clear_error();
        flp_status st = build_and_run(&net);
        int64_t made = flp__alloc_fail_after(0);
        flp_net_free(net);
        if (made < n) {
            ck_flp(st); /* no failure injected: everything must have worked */
            ck_assert_int_gt(n, 5);
            break;
        }
        ck_assert_msg(st == FLP_ERR_NOMEM, "allocation %lld failed but the status was %s", (long long)n,
                      flp_status_name(st));
        ck_assert_msg(flp_last_error()[0] != '\0', "allocation %lld: no message", (long long)n);
        ck_assert_int_lt(n, 1000);
    }
}
END_TEST

Suite *make_net_suite(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("backward_fd");
    tcase_add_test(tc, test_fd_linear_relu);
    tcase_add_test(tc, test_fd_linear_softplus);
    tcase_add_test(tc, test_fd_conv_stride2_relu_flatten_linear);
    tcase_add_test(tc, test_fd_two_convs_softplus);
    tcase_add_test(tc, test_fd_activation_and_flatten_first);
    tcase_add_test(tc, test_fd_random_mlps);
    tcase_add_test(tc, test_fd_random_convnets);
    suite_add_tcase(s, tc);

    tc = tcase_create("forward");
    tcase_add_test(tc, test_forward_matches_naive_mlp);
    tcase_add_test(tc, test_forward_matches_kernels_convnet);
    tcase_add_test(tc, test_batch_grow_shrink);
    tcase_add_test(tc, test_grad_accumulates);
    suite_add_tcase(s, tc);

    tc = tcase_create("params");
    tcase_add_test(tc, test_param_counts_and_roundtrip);
    tcase_add_test(tc, test_tensor_list);
    tcase_add_test(tc, test_init_kaiming);
    tcase_add_test(tc, test_init_xavier);
    tcase_add_test(tc, test_init_stream_order);
    tcase_add_test(tc, test_shapes_and_kinds);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_errors_create);
    tcase_add_test(tc, test_errors_add);
    tcase_add_test(tc, test_errors_queries);
    tcase_add_test(tc, test_errors_params);
    tcase_add_test(tc, test_errors_forward_backward);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
