/* check_frontend.c - lifetimes of networks with a frozen convolutional
 * front-end: the meta-gradient with respect to the convolutions by finite
 * differences (FLP Oja, the gradient rule, the rule family), equality with a reference
 * that runs the dense lifetime on features computed apart, and the
 * structures the lifetime refuses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* A tiny network: [2, 6, 6] -> conv 3x3x3 -> act -> conv 4x2x2 stride 2 ->
 * act -> flatten (16) -> linear 6 -> relu (softplus under the rule family)
 * -> linear OUT. */
enum { CONV0 = 0, CONV1 = 2, FLAT = 4, DENSE0 = 5, DENSE1 = 7, N_LAYERS = 8, OUT = 3 };
/* Relative step of the finite differences: the front-end's many relu
 * units put kinks within a few percent of any point, so the step is
 * smaller than check_lifetime.c's. */
#define FD_STEP 1e-3
enum { K = 4, BATCH = 2, Q = 3, IMAGE = 2 * 6 * 6, FEAT = 16 };

typedef struct {
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    flp_lifetime *lt;
    flp_episode *ep;
} setup;

typedef struct {
    flp_rule_kind kind;
    int plastic;           /* last N linear layers plastic */
    int classification;    /* labelled episode, clamped output */
    int signal;            /* for classification */
    int post_pre;          /* FLP_FEEDBACK_POST_PRESYNAPTIC */
    int softplus;          /* smooth activations in the front-end */
} config;

static int is_family(const config *c) { return c->kind == FLP_RULE_FAMILY; }

static void add_act(flp_net *net, int softplus)
{
    ck_flp(softplus ? flp_net_add_softplus(net, 2.0f) : flp_net_add_relu(net));
}

/* The dense layers after the front-end. Under the rule family the hidden
 * activation is softplus: its slope modulates the error at the input
 * e_0, whose dependence on the features is then differentiated too. */
static void add_dense(flp_net *net, const config *c)
{
    ck_flp(flp_net_add_linear(net, 6, 1));
    ck_flp(is_family(c) ? flp_net_add_softplus(net, 3.0f) : flp_net_add_relu(net));
    ck_flp(flp_net_add_linear(net, OUT, 1));
}

/* The front-end alone, or the whole network. */
static flp_net *build_net(const config *c, int with_dense)
{
    int softplus = c->softplus;
    int64_t shape[3] = {2, 6, 6};
    flp_net *net;
    ck_flp(flp_net_create(3, shape, &net));
    ck_flp(flp_net_add_conv2d(net, 3, 3, 3, 1, 0, 1));
    add_act(net, softplus);
    ck_flp(flp_net_add_conv2d(net, 4, 2, 2, 2, 0, 1));
    add_act(net, softplus);
    ck_flp(flp_net_add_flatten(net));
    if (with_dense)
        add_dense(net, c);
    return net;
}

static void random_biases(flp_net *net, int layer, flp_rng *rng)
{
    int64_t n;
    float v[16];
    ck_flp(flp_net_param_count(net, layer, FLP_PARAM_BIAS, &n));
    flp_rng_uniform(rng, -0.3f, 0.3f, v, n);
    ck_flp(flp_net_set_param(net, layer, FLP_PARAM_BIAS, v, n));
}

/* Plasticity coefficients: small for FLP, inner learning rates large
 * enough to move the loss for the gradient rule; the family's theta. */
static void random_rates(setup *s, flp_rng *rng, flp_rule_kind kind)
{
    const int dense[2] = {DENSE0, DENSE1};
    if (kind == FLP_RULE_FAMILY) {
        float theta[3];
        flp_rng_uniform(rng, 0.05f, 0.2f, theta, 3);
        ck_flp(flp_rule_set_theta(s->rule, theta, 3));
        return;
    }
    for (int l = 0; l < 2; l++) {
        int64_t ca, cl = 0;
        float a[256];
        ck_flp(flp_rule_alpha_count(s->rule, dense[l], &ca));
        if (kind == FLP_RULE_GRADIENT)
            ck_flp(flp_rule_lr_bias_count(s->rule, dense[l], &cl));
        ck_assert(ca + cl <= 256);
        if (kind == FLP_RULE_GRADIENT)
            flp_rng_uniform(rng, 0.03f, 0.15f, a, ca + cl);
        else
            flp_rng_uniform(rng, 0.002f, 0.01f, a, ca);
        ck_flp(flp_rule_set_alpha(s->rule, dense[l], a, ca));
        if (cl > 0)
            ck_flp(flp_rule_set_lr_bias(s->rule, dense[l], a + ca, cl));
    }
}

static void set_episode(flp_episode *ep, const config *c, int64_t n_in, const float *x, const float *xq,
                        uint64_t seed)
{
    if (c->classification) {
        int32_t lab[K * BATCH], lq[Q];
        for (int i = 0; i < K * BATCH; i++)
            lab[i] = (int32_t)((i * 7 + seed) % OUT);
        for (int i = 0; i < Q; i++)
            lq[i] = (int32_t)((i * 2 + seed) % OUT);
        ck_flp(flp_episode_set_classes(ep, K, BATCH, n_in, OUT, x, lab, Q, xq, lq));
    } else {
        float y[K * BATCH * OUT], yq[Q * OUT];
        tu_fill_uniform(y, K * BATCH * OUT, -1, 1, seed + 2);
        tu_fill_uniform(yq, Q * OUT, -1, 1, seed + 3);
        ck_flp(flp_episode_set_regression(ep, K, BATCH, n_in, OUT, x, y, Q, xq, yq));
    }
}

static void make_setup(setup *s, const config *c, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->net = build_net(c, 1);
    flp_rng *rng;
    ck_flp(flp_rng_create(seed, &rng));
    ck_flp(flp_net_init(s->net, FLP_INIT_KAIMING_NORMAL, rng));
    const int with_bias[4] = {CONV0, CONV1, DENSE0, DENSE1};
    for (int i = 0; i < 4; i++)
        random_biases(s->net, with_bias[i], rng);
    ck_flp(flp_feedback_create(s->net, &s->fb));
    if (is_family(c))
        ck_flp(flp_feedback_set(s->fb, FLP_FEEDBACK_KIND, FLP_FEEDBACK_CHAINED));
    ck_flp(flp_feedback_init(s->fb, rng, 0.6f));
    float cv[6];
    flp_rng_uniform(rng, 0.0f, 0.25f, cv, 6);
    ck_flp(flp_feedback_set_param(s->fb, DENSE0, FLP_FEEDBACK_C, cv, 6));
    if (c->classification && !is_family(c)) {
        ck_flp(flp_feedback_set(s->fb, FLP_FEEDBACK_SIGNAL, c->signal));
        ck_flp(flp_feedback_set(s->fb, FLP_FEEDBACK_CLAMP_OUTPUT, 1));
    }
    ck_flp(flp_feedback_set(s->fb, FLP_FEEDBACK_POST_PRESYNAPTIC, c->post_pre));
    ck_flp(flp_rule_create(s->net, c->kind, &s->rule));
    ck_flp(flp_rule_set(s->rule, FLP_RULE_PLASTIC_LAST, c->plastic));
    ck_flp(flp_rule_set(s->rule, FLP_RULE_HIDDEN_MULTIPLIER, 1.5));
    if (c->kind == FLP_RULE_GRADIENT)
        ck_flp(flp_rule_set(s->rule, FLP_RULE_SECOND_ORDER, 1));
    random_rates(s, rng, c->kind);
    flp_rng_free(rng);
    float x[K * BATCH * IMAGE], xq[Q * IMAGE];
    tu_fill_uniform(x, K * BATCH * IMAGE, 0, 1, seed + 10);
    tu_fill_uniform(xq, Q * IMAGE, 0, 1, seed + 11);
    ck_flp(flp_episode_create(&s->ep));
    set_episode(s->ep, c, IMAGE, x, xq, seed);
    ck_flp(flp_lifetime_create(s->net, s->fb, s->rule, &s->lt));
}

static void free_setup(setup *s) { tu_free_lifetime(s->lt, s->rule, s->fb, s->net, s->ep); }

static void zero_grads(setup *s) { tu_zero_grads(s->net, s->fb, s->rule); }

/* ---- finite differences ------------------------------------------------------ */

/* A point of fd_check: the loss with parameter `which` of `layer` at p,
 * dLoss/dparam in grad. */
typedef struct {
    setup *s;
    int layer;
    flp_param which;
    int64_t n;
} fd_point;

static double loss_grad(void *ctx, const float *p, float *grad)
{
    fd_point *f = ctx;
    ck_flp(flp_net_set_param(f->s->net, f->layer, f->which, p, f->n));
    zero_grads(f->s);
    float loss;
    ck_flp(flp_lifetime_run(f->s->lt, f->s->ep, 1, &loss));
    ck_flp(flp_net_get_grad(f->s->net, f->layer, f->which, grad, f->n));
    return loss;
}

/* As in check_lifetime.c (tu_fd_simpson), with e large enough for float32
 * rounding not to matter (see FD_STEP); a gradient must reach every
 * parameter checked. */
static void fd_check(setup *s, int layer, flp_param which, uint64_t seed)
{
    fd_point f = {s, layer, which, 0};
    ck_flp(flp_net_param_count(s->net, layer, which, &f.n));
    float *v = malloc((size_t)f.n * sizeof *v);
    ck_flp(flp_net_get_param(s->net, layer, which, v, f.n));
    char what[64];
    snprintf(what, sizeof what, "layer %d param %d", layer, (int)which);
    double slope = tu_fd_simpson(what, v, f.n, FD_STEP, loss_grad, &f, seed);
    ck_flp(flp_net_set_param(s->net, layer, which, v, f.n));
    ck_assert_msg(fabs(slope) > 1e-7, "layer %d param %d: no gradient reaches it", layer, (int)which);
    free(v);
}

static const config fd_configs[] = {
    {FLP_RULE_OJA, 2, 0, 0, 0, 0},                                    /* error signal, both plastic */
    {FLP_RULE_OJA, 2, 1, FLP_SIGNAL_TARGET, 0, 1},                    /* labels, clamped output */
    {FLP_RULE_OJA, 1, 1, FLP_SIGNAL_TARGET_MINUS_SOFTMAX, 0, 0},      /* readout plastic only */
    {FLP_RULE_OJA, 2, 0, 0, 1, 1},                                    /* post as presynaptic activity */
    {FLP_RULE_GRADIENT, 2, 0, 0, 0, 1},                               /* second order */
    {FLP_RULE_GRADIENT, 1, 1, FLP_SIGNAL_TARGET, 0, 1},
    {FLP_RULE_FAMILY, 2, 1, 0, 0, 1},                                 /* chained errors, every term */
    {FLP_RULE_FAMILY, 2, 1, 0, 0, 0},                                 /* relu features */
};

/* The meta-gradient with respect to both convolutions' weights and biases,
 * and the lowest dense layer's weights, through the whole lifetime. */
START_TEST(test_fd_frontend)
{
    setup s;
    make_setup(&s, &fd_configs[_i], 300 + (uint64_t)_i);
    const int layers[3] = {CONV0, CONV1, DENSE0};
    for (int l = 0; l < 3; l++)
        for (int w = 0; w < 2; w++)
            if (layers[l] != DENSE0 || w == 0)
                fd_check(&s, layers[l], (flp_param)w, 1000 * (uint64_t)_i + 10 * (uint64_t)l + (uint64_t)w);
    free_setup(&s);
}
END_TEST

/* ---- against a reference ----------------------------------------------------- */

/* Copy parameter `which` of layer `from` of net a to layer `to` of net b. */
static void copy_param(flp_net *a, int from, flp_net *b, int to, flp_param which)
{
    int64_t n;
    ck_flp(flp_net_param_count(a, from, which, &n));
    float *v = malloc((size_t)n * sizeof *v);
    ck_flp(flp_net_get_param(a, from, which, v, n));
    ck_flp(flp_net_set_param(b, to, which, v, n));
    free(v);
}

static void compare_net_grads(flp_net *a, int la, flp_net *b, int lb, flp_param which)
{
    int64_t n;
    ck_flp(flp_net_param_count(a, la, which, &n));
    float *ga = malloc((size_t)n * sizeof *ga), *gb = malloc((size_t)n * sizeof *gb);
    ck_flp(flp_net_get_grad(a, la, which, ga, n));
    ck_flp(flp_net_get_grad(b, lb, which, gb, n));
    ck_allclose_f("dense gradient", ga, gb, n, 1e-5, 1e-7);
    free(ga);
    free(gb);
}

/* The reference: features computed by the front-end network alone, example
 * by example batch, then the same dense lifetime on them (a network of the
 * dense layers only, same parameters). Loss, dense gradients, final weights
 * and predictions agree; the convolutions' gradients equal the front-end's
 * VJP of the features' gradients, which finite differences check above. */
static void check_reference(const config *c, uint64_t seed)
{
    setup s;
    make_setup(&s, c, seed);
    flp_net *front = build_net(c, 0);
    copy_param(s.net, CONV0, front, CONV0, FLP_PARAM_WEIGHT);
    copy_param(s.net, CONV0, front, CONV0, FLP_PARAM_BIAS);
    copy_param(s.net, CONV1, front, CONV1, FLP_PARAM_WEIGHT);
    copy_param(s.net, CONV1, front, CONV1, FLP_PARAM_BIAS);
    const float *x, *xq;
    int64_t count;
    ck_flp(flp_episode_floats(s.ep, FLP_EPISODE_X, &x, &count));
    ck_flp(flp_episode_floats(s.ep, FLP_EPISODE_XQ, &xq, &count));
    float fx[K * BATCH * FEAT], fq[Q * FEAT];
    for (int k = 0; k < K; k++) /* the reference recomputes the features at every step */
        ck_flp(flp_net_forward(front, BATCH, x + k * BATCH * IMAGE, fx + k * BATCH * FEAT));
    ck_flp(flp_net_forward(front, Q, xq, fq));

    setup r;
    memset(&r, 0, sizeof r);
    int64_t nf = FEAT;
    ck_flp(flp_net_create(1, &nf, &r.net));
    add_dense(r.net, c);
    const int dense[2] = {DENSE0, DENSE1};
    for (int l = 0; l < 2; l++)
        for (int w = 0; w < 2; w++)
            copy_param(s.net, dense[l], r.net, 2 * l, (flp_param)w);
    ck_flp(flp_feedback_create(r.net, &r.fb));
    ck_flp(flp_rule_create(r.net, c->kind, &r.rule));
    int64_t n;
    float buf[256];
    const int fb_keys[5] = {FLP_FEEDBACK_KIND, FLP_FEEDBACK_SIGNAL, FLP_FEEDBACK_CLAMP_OUTPUT,
                            FLP_FEEDBACK_POST_PRESYNAPTIC, FLP_FEEDBACK_RELU};
    for (int i = 0; i < 5; i++) {
        double v;
        ck_flp(flp_feedback_get(s.fb, (flp_feedback_key)fb_keys[i], &v));
        ck_flp(flp_feedback_set(r.fb, (flp_feedback_key)fb_keys[i], v));
    }
    const int rule_keys[4] = {FLP_RULE_PLASTIC_LAST, FLP_RULE_HIDDEN_MULTIPLIER, FLP_RULE_SECOND_ORDER,
                              FLP_RULE_TERMS};
    for (int i = 0; i < 4; i++) {
        double v;
        ck_flp(flp_rule_get(s.rule, (flp_rule_key)rule_keys[i], &v));
        ck_flp(flp_rule_set(r.rule, (flp_rule_key)rule_keys[i], v));
    }
    for (int l = 0; l < 2; l++) {
        for (int p = 0; p < 3; p++) {
            ck_flp(flp_feedback_count(s.fb, dense[l], (flp_feedback_tensor)p, &n));
            ck_flp(flp_feedback_get_param(s.fb, dense[l], (flp_feedback_tensor)p, buf, n));
            ck_flp(flp_feedback_set_param(r.fb, 2 * l, (flp_feedback_tensor)p, buf, n));
        }
        ck_flp(flp_rule_alpha_count(s.rule, dense[l], &n));
        ck_flp(flp_rule_get_alpha(s.rule, dense[l], buf, n));
        ck_flp(flp_rule_set_alpha(r.rule, 2 * l, buf, n));
        if (c->kind == FLP_RULE_GRADIENT) {
            ck_flp(flp_rule_lr_bias_count(s.rule, dense[l], &n));
            ck_flp(flp_rule_get_lr_bias(s.rule, dense[l], buf, n));
            ck_flp(flp_rule_set_lr_bias(r.rule, 2 * l, buf, n));
        }
    }
    if (is_family(c)) {
        ck_flp(flp_rule_get_theta(s.rule, buf, 3));
        ck_flp(flp_rule_set_theta(r.rule, buf, 3));
    }
    ck_flp(flp_episode_create(&r.ep));
    set_episode(r.ep, c, FEAT, fx, fq, seed);
    ck_flp(flp_lifetime_create(r.net, r.fb, r.rule, &r.lt));

    float loss, ref_loss, y_net[Q * OUT], y_after[Q * OUT];
    ck_flp(flp_net_forward(s.net, Q, xq, y_net));
    zero_grads(&s);
    zero_grads(&r);
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
    ck_flp(flp_lifetime_run(r.lt, r.ep, 1, &ref_loss));
    /* the workspace counts the front-end's activations (at least the images
     * and features of every example) and the features' gradient */
    int64_t ws_front, ws_dense;
    ck_flp(flp_lifetime_stats(s.lt, &ws_front, NULL));
    ck_flp(flp_lifetime_stats(r.lt, &ws_dense, NULL));
    int64_t front_min = 4 * (K * BATCH + Q) * (IMAGE + 2 * FEAT);
    ck_assert_msg(ws_front - ws_dense >= front_min, "workspace %lld bytes with the front-end, %lld without: "
                  "the front-end's %lld bytes at least are missing", (long long)ws_front, (long long)ws_dense,
                  (long long)front_min);
    /* the run used a workspace of its own: the network's forward state is intact */
    ck_flp(flp_net_backward(s.net, y_net, NULL));
    ck_flp(flp_net_forward(s.net, Q, xq, y_after));
    ck_assert_int_eq(memcmp(y_net, y_after, sizeof y_net), 0);
    zero_grads(&s);
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
    ck_assert_msg(fabsf(loss - ref_loss) <= 1e-6f * fabsf(ref_loss), "loss %.9g, reference %.9g", loss, ref_loss);
    for (int l = 0; l < 2; l++)
        for (int w = 0; w < 2; w++)
            compare_net_grads(s.net, dense[l], r.net, 2 * l, (flp_param)w);
    if (is_family(c)) {
        float ga[3], gb[3];
        ck_flp(flp_rule_get_theta_grad(s.rule, ga, 3));
        ck_flp(flp_rule_get_theta_grad(r.rule, gb, 3));
        ck_allclose_f("theta gradient", ga, gb, 3, 1e-5, 1e-7);
    }
    float wa[6 * FEAT], wb[6 * FEAT];
    ck_flp(flp_lifetime_final_weight(s.lt, DENSE0, wa, 6 * FEAT));
    ck_flp(flp_lifetime_final_weight(r.lt, 0, wb, 6 * FEAT));
    ck_allclose_f("final weight", wa, wb, 6 * FEAT, 1e-5, 1e-7);
    float ya[Q * OUT], yb[Q * OUT];
    ck_flp(flp_lifetime_predict(s.lt, Q, xq, ya));
    ck_flp(flp_lifetime_predict(r.lt, Q, fq, yb));
    ck_allclose_f("predictions", ya, yb, Q * OUT, 1e-5, 1e-7);

    /* the convolutions' gradient is the same under any memory budget */
    float g0[3 * 2 * 9], g1[3 * 2 * 9];
    ck_flp(flp_net_zero_grad(s.net));
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
    ck_flp(flp_net_get_grad(s.net, CONV0, FLP_PARAM_WEIGHT, g0, 54));
    int64_t bytes;
    ck_flp(flp_lifetime_stats(s.lt, &bytes, NULL));
    ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_MEMORY_BUDGET, (double)bytes - 4));
    ck_flp(flp_net_zero_grad(s.net));
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
    ck_flp(flp_net_get_grad(s.net, CONV0, FLP_PARAM_WEIGHT, g1, 54));
    int64_t recomputed;
    ck_flp(flp_lifetime_stats(s.lt, NULL, &recomputed));
    ck_assert_msg(recomputed > 0, "a tight budget should recompute steps");
    ck_assert_int_eq(memcmp(g0, g1, sizeof g0), 0);

    flp_net_free(front);
    free_setup(&r);
    free_setup(&s);
}

START_TEST(test_reference)
{
    check_reference(&fd_configs[_i], 500 + (uint64_t)_i);
}
END_TEST

/* ---- meta-batches -------------------------------------------------------------- */

/* flp_batch_run's workers send the convolutions' gradients to their private
 * sinks too: the batch's gradient is bit for bit the ordered sum of the
 * single lifetimes' (on 1 and 2 threads). */
START_TEST(test_meta_batch)
{
    config c = {FLP_RULE_OJA, 2, 1, FLP_SIGNAL_TARGET, 0, 0};
    setup s;
    make_setup(&s, &c, 41);
    enum { N = 3 };
    flp_episode *eps[N];
    float x[K * BATCH * IMAGE], xq[Q * IMAGE];
    for (int e = 0; e < N; e++) {
        tu_fill_uniform(x, K * BATCH * IMAGE, 0, 1, 70 + (uint64_t)e);
        tu_fill_uniform(xq, Q * IMAGE, 0, 1, 80 + (uint64_t)e);
        ck_flp(flp_episode_create(&eps[e]));
        set_episode(eps[e], &c, IMAGE, x, xq, (uint64_t)e);
    }
    flp_meta *meta;
    flp_batch *batch;
    ck_flp(flp_meta_create(s.net, s.fb, s.rule, &meta));
    ck_flp(flp_batch_create(meta, &batch));
    int64_t n;
    ck_flp(flp_meta_grad_count(meta, &n));
    float *want = malloc((size_t)n * sizeof *want), *got = malloc((size_t)n * sizeof *got);
    float *one = malloc((size_t)n * sizeof *one);
    memset(want, 0, (size_t)n * sizeof *want);
    float loss, losses[N];
    for (int e = 0; e < N; e++) { /* the ordered sum of single runs */
        ck_flp(flp_meta_zero_grad(meta));
        ck_flp(flp_lifetime_run(s.lt, eps[e], 1, &loss));
        ck_flp(flp_meta_get_grads(meta, one, n));
        for (int64_t j = 0; j < n; j++)
            want[j] += one[j];
    }
    int before;
    ck_flp(flp_get_num_threads(&before));
    for (int threads = 1; threads <= 2; threads++) {
        ck_flp(flp_set_num_threads(threads));
        ck_flp(flp_meta_zero_grad(meta));
        ck_flp(flp_batch_run(batch, (const flp_episode *const *)eps, N, losses));
        ck_flp(flp_meta_get_grads(meta, got, n));
        ck_assert_msg(memcmp(got, want, (size_t)n * sizeof *got) == 0,
                      "meta-batch gradient differs from the sum of single lifetimes on %d threads", threads);
    }
    float conv_grad[54];
    ck_flp(flp_net_get_grad(s.net, CONV0, FLP_PARAM_WEIGHT, conv_grad, 54));
    double norm = 0;
    for (int j = 0; j < 54; j++)
        norm += fabs(conv_grad[j]);
    ck_assert_msg(norm > 0, "the batch added no gradient to the convolution");
    ck_flp(flp_set_num_threads(before));
    flp_batch_free(batch);
    flp_meta_free(meta);
    for (int e = 0; e < N; e++)
        flp_episode_free(eps[e]);
    free(want);
    free(got);
    free(one);
    free_setup(&s);
}
END_TEST

/* ---- structures and inputs the lifetime refuses ---------------------------- */

START_TEST(test_bad_structure)
{
    int64_t shape[3] = {1, 5, 5};
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    flp_lifetime *lt = NULL;
    /* an activation that follows no convolution */
    ck_flp(flp_net_create(3, shape, &net));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_conv2d(net, 2, 3, 3, 1, 0, 1));
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_net_add_linear(net, 2, 1));
    ck_flp(flp_feedback_create(net, &fb));
    ck_flp(flp_rule_create(net, FLP_RULE_OJA, &rule));
    ck_flp_fails(flp_lifetime_create(net, fb, rule, &lt), FLP_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(flp_last_error(), "layer 0") != NULL, "message should name the layer: %s",
                  flp_last_error());
    flp_rule_free(rule);
    flp_feedback_free(fb);
    flp_net_free(net);
    /* a front-end without dense layers */
    ck_flp(flp_net_create(3, shape, &net));
    ck_flp(flp_net_add_conv2d(net, 2, 3, 3, 1, 0, 1));
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_feedback_create(net, &fb));
    ck_flp(flp_rule_create(net, FLP_RULE_OJA, &rule));
    ck_flp_fails(flp_lifetime_create(net, fb, rule, &lt), FLP_ERR_UNSUPPORTED);
    ck_assert_ptr_null(lt);
    flp_rule_free(rule);
    flp_feedback_free(fb);
    flp_net_free(net);
    /* an episode whose inputs are the features' size, not the images' */
    config c = {FLP_RULE_OJA, 2, 0, 0, 0, 0};
    setup s;
    make_setup(&s, &c, 7);
    float x[K * BATCH * FEAT] = {0}, y[K * BATCH * OUT] = {0};
    ck_flp(flp_episode_set_regression(s.ep, K, BATCH, FEAT, OUT, x, y, 1, x, y));
    float loss;
    ck_flp_fails(flp_lifetime_run(s.lt, s.ep, 1, &loss), FLP_ERR_SHAPE);
    free_setup(&s);
}
END_TEST

/* Images straight into the dense layers (a flatten alone in front): no
 * parameters to differentiate, same results as a rank-1 network. */
START_TEST(test_flatten_only)
{
    int64_t shape[3] = {1, 2, 3}, flat = 6;
    flp_net *nets[2];
    ck_flp(flp_net_create(3, shape, &nets[0]));
    ck_flp(flp_net_add_flatten(nets[0]));
    ck_flp(flp_net_create(1, &flat, &nets[1]));
    float x[4 * 6], y[4 * 2], loss[2], w[2][12];
    tu_fill_uniform(x, 24, -1, 1, 3);
    tu_fill_uniform(y, 8, -1, 1, 4);
    for (int i = 0; i < 2; i++) {
        flp_rng *rng;
        flp_feedback *fb;
        flp_rule *rule;
        flp_lifetime *lt;
        flp_episode *ep;
        ck_flp(flp_net_add_linear(nets[i], 2, 1));
        ck_flp(flp_rng_create(5, &rng));
        ck_flp(flp_net_init(nets[i], FLP_INIT_KAIMING_NORMAL, rng));
        ck_flp(flp_feedback_create(nets[i], &fb));
        ck_flp(flp_rule_create(nets[i], FLP_RULE_OJA, &rule));
        ck_flp(flp_rule_set(rule, FLP_RULE_ALPHA_INIT, 0.05));
        ck_flp(flp_lifetime_create(nets[i], fb, rule, &lt));
        ck_flp(flp_episode_create(&ep));
        ck_flp(flp_episode_set_regression(ep, 3, 1, 6, 2, x, y, 1, x + 18, y + 6));
        ck_flp(flp_lifetime_run(lt, ep, 1, &loss[i]));
        ck_flp(flp_net_get_grad(nets[i], i == 0 ? 1 : 0, FLP_PARAM_WEIGHT, w[i], 12));
        flp_episode_free(ep);
        flp_lifetime_free(lt);
        flp_rule_free(rule);
        flp_feedback_free(fb);
        flp_rng_free(rng);
        flp_net_free(nets[i]);
    }
    ck_assert_float_eq(loss[0], loss[1]);
    ck_assert_int_eq(memcmp(w[0], w[1], sizeof w[0]), 0);
}
END_TEST

Suite *make_frontend_suite(void)
{
    Suite *s = suite_create("frontend");
    TCase *fd = tcase_create("finite_differences");
    tcase_set_timeout(fd, 300);
    tcase_add_loop_test(fd, test_fd_frontend, 0, (int)(sizeof fd_configs / sizeof fd_configs[0]));
    suite_add_tcase(s, fd);
    TCase *ref = tcase_create("reference");
    tcase_add_loop_test(ref, test_reference, 0, (int)(sizeof fd_configs / sizeof fd_configs[0]));
    tcase_add_test(ref, test_bad_structure);
    tcase_add_test(ref, test_flatten_only);
    tcase_add_test(ref, test_meta_batch);
    suite_add_tcase(s, ref);
    return s;
}
