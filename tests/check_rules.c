/* check_rules.c - the rule family over chained feedback: the golden case of
 * the reference code, every candidate term's VJP against finite
 * differences, the lifetime's meta-gradient (theta, feedback, weights;
 * fixed and symmetric feedback, every term mask), re-initialised weights,
 * the L1 penalty, and bad inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "plasticity/rule_terms.h"
#include "testutil.h"

/* ---- one candidate term against finite differences ------------------------- */

/* Inputs of a term (pre, post, err_post, err_pre, W) as one vector. */
typedef struct {
    int64_t B, n, m, off[6]; /* offsets of the five inputs, off[5] = total */
} term_layout;

static term_layout make_layout(int64_t B, int64_t n, int64_t m)
{
    term_layout L = {B, n, m, {0}};
    int64_t sizes[5] = {B * m, B * n, B * n, B * m, n * m};
    for (int j = 0; j < 5; j++)
        L.off[j + 1] = L.off[j] + sizes[j];
    return L;
}

static flp__term_in term_view(const term_layout *L, const float *v, float *work)
{
    return (flp__term_in){L->B, L->n, L->m, v + L->off[0], v + L->off[1], v + L->off[2], v + L->off[3],
                          v + L->off[4], work};
}

/* f(v) = <R, T(v)> in double (T accumulated in float32 from zero). */
static double term_objective(const flp__rule_term *t, const term_layout *L, const float *v, const float *R,
                             float *T, float *work)
{
    int64_t nm = L->n * L->m;
    memset(T, 0, (size_t)nm * sizeof *T);
    flp__term_in in = term_view(L, v, work);
    t->value(&in, 1.0f, T);
    double f = 0;
    for (int64_t j = 0; j < nm; j++)
        f += (double)R[j] * T[j];
    return f;
}

/* Directional derivative of f along dir from the term's VJP with Tbar = R. */
static double term_slope(const flp__rule_term *t, const term_layout *L, const float *v, const float *R,
                         const float *dir, float *g, float *work)
{
    memset(g, 0, (size_t)L->off[5] * sizeof *g);
    flp__term_in in = term_view(L, v, work);
    flp__term_adj adj = {g + L->off[0], g + L->off[1], g + L->off[2], g + L->off[3], g + L->off[4]};
    t->vjp(&in, R, 1.0f, &adj);
    double s = 0;
    for (int64_t j = 0; j < L->off[5]; j++)
        s += (double)dir[j] * g[j];
    return s;
}

/* Every term is a polynomial of degree <= 3 in its inputs, so Simpson's
 * rule integrates its directional derivative exactly: f(v + e d) - f(v - e d)
 * must equal e/3 (s(-e) + 4 s(0) + s(e)) up to float32 rounding. */
START_TEST(test_term_fd)
{
    const flp__rule_term *t = &flp__rule_terms[_i % FLP__N_TERMS];
    int64_t B = 1 + _i / FLP__N_TERMS * 2, n = 5, m = 4; /* batch 1 and 3 */
    term_layout L = make_layout(B, n, m);
    int64_t N = L.off[5];
    float *v = malloc((size_t)N * sizeof *v), *dir = malloc((size_t)N * sizeof *dir), *p = malloc((size_t)N * sizeof *p);
    float *g = malloc((size_t)N * sizeof *g), *R = malloc((size_t)(n * m) * sizeof *R);
    float *T = malloc((size_t)(n * m) * sizeof *T), *work = malloc((size_t)(2 * B * m) * sizeof *work);
    tu_fill_uniform(v, N, -1, 1, 11 + (uint64_t)_i);
    tu_fill_uniform(dir, N, -1, 1, 12 + (uint64_t)_i);
    tu_fill_uniform(R, n * m, -1, 1, 13 + (uint64_t)_i);
    double e = 0.1, f[3], s[3];
    for (int k = 0; k < 3; k++) {
        for (int64_t j = 0; j < N; j++)
            p[j] = (float)(v[j] + (k - 1) * e * dir[j]);
        f[k] = term_objective(t, &L, p, R, T, work);
        s[k] = term_slope(t, &L, p, R, dir, g, work);
    }
    double actual = f[2] - f[0], predicted = e / 3 * (s[0] + 4 * s[1] + s[2]);
    ck_assert_msg(fabs(actual - predicted) <= 1e-4 * fmax(1.0, fabs(actual)),
                  "term %s (batch %lld): f changes by %.7g, its VJP integrates to %.7g", t->name, (long long)B,
                  actual, predicted);
    /* a term that ignores an input must not claim a gradient for it, and the
     * scale argument must scale both halves */
    memset(T, 0, (size_t)(n * m) * sizeof *T);
    flp__term_in in = term_view(&L, v, work);
    t->value(&in, 2.0f, T);
    double f2 = 0;
    for (int64_t j = 0; j < n * m; j++)
        f2 += (double)R[j] * T[j];
    ck_assert_msg(fabs(f2 - 2 * term_objective(t, &L, v, R, T, work)) <= 1e-5 * fmax(1.0, fabs(f2)),
                  "term %s: value does not scale", t->name);
    free(v), free(dir), free(p), free(g), free(R), free(T), free(work);
}
END_TEST

/* ---- a small network under the family --------------------------------------------- */

typedef struct {
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    flp_lifetime *lt;
    flp_episode *ep;
    int n_linear;
} setup;

static int lin(int l) { return 2 * l; }

/* Dense net n_in -> widths, softplus(beta) between layers, no biases;
 * chained feedback of `kind`; the rule family. */
static void build(setup *s, int64_t n_in, const int64_t *widths, int n_linear, float beta, int kind)
{
    memset(s, 0, sizeof *s);
    ck_flp(flp_net_create(1, &n_in, &s->net));
    for (int l = 0; l < n_linear; l++) {
        ck_flp(flp_net_add_linear(s->net, widths[l], 0));
        if (l < n_linear - 1)
            ck_flp(flp_net_add_softplus(s->net, beta));
    }
    s->n_linear = n_linear;
    ck_flp(flp_feedback_create(s->net, &s->fb));
    ck_flp(flp_feedback_set(s->fb, FLP_FEEDBACK_KIND, kind));
    ck_flp(flp_rule_create(s->net, FLP_RULE_FAMILY, &s->rule));
    ck_flp(flp_episode_create(&s->ep));
    ck_flp(flp_lifetime_create(s->net, s->fb, s->rule, &s->lt));
}

static void free_setup(setup *s) { tu_free_lifetime(s->lt, s->rule, s->fb, s->net, s->ep); }

/* Xavier-uniform forward weights, then feedback B, from one RNG seeded `seed`. */
static void init_weights(setup *s, uint64_t seed)
{
    flp_rng *rng;
    ck_flp(flp_rng_create(seed, &rng));
    ck_flp(flp_net_init(s->net, FLP_INIT_XAVIER_UNIFORM, rng));
    ck_flp(flp_feedback_init(s->fb, rng, 1.0f));
    flp_rng_free(rng);
}

static void zero_grads(setup *s) { tu_zero_grads(s->net, s->fb, s->rule); }

/* ---- the golden case ------------------------------------------------------------------ */

static void check_grad(const char *what, const float *got, const tg_array *want)
{
    double scale = 0;
    for (int64_t i = 0; i < want->count; i++)
        scale = fmax(scale, fabs(want->v[i]));
    ck_allclose(what, got, want->v, want->count, 1e-3, 1e-4 * scale + 1e-7);
}

START_TEST(test_golden_fixed_feedback)
{
    tg_file g;
    if (!tg_load("golden/rule_family_fixed_feedback.txt", &g)) {
        fprintf(stderr, "SKIP %s: golden/rule_family_fixed_feedback.txt not found\n", __func__);
        return;
    }
    const tg_array *x = tg_get(&g, "x_traj"), *xq = tg_get(&g, "x_query");
    const tg_array *lab = tg_get(&g, "label_traj"), *lqa = tg_get(&g, "label_query");
    int64_t widths[3] = {tg_get(&g, "W0")->shape[0], tg_get(&g, "W1")->shape[0], tg_get(&g, "W2")->shape[0]};
    setup s;
    build(&s, x->shape[2], widths, 3, 10.0f, FLP_FEEDBACK_CHAINED);
    char name[32];
    for (int l = 0; l < 3; l++) {
        snprintf(name, sizeof name, "W%d", l);
        const tg_array *W = tg_get(&g, name);
        ck_flp(flp_net_set_param(s.net, lin(l), FLP_PARAM_WEIGHT, W->f, W->count));
        snprintf(name, sizeof name, "B%d", l);
        const tg_array *Bl = tg_get(&g, name);
        ck_flp(flp_feedback_set_param(s.fb, lin(l), FLP_FEEDBACK_B, Bl->f, Bl->count));
    }
    const tg_array *theta = tg_get(&g, "theta");
    ck_flp(flp_rule_set_theta(s.rule, theta->f, theta->count));
    int64_t K = x->shape[0] * x->shape[1];
    int32_t *l = malloc((size_t)K * sizeof *l), *lq = malloc((size_t)xq->shape[0] * sizeof *lq);
    for (int64_t i = 0; i < K; i++)
        l[i] = (int32_t)lab->v[i];
    for (int64_t i = 0; i < xq->shape[0]; i++)
        lq[i] = (int32_t)lqa->v[i];
    ck_flp(flp_episode_set_classes(s.ep, x->shape[0], x->shape[1], x->shape[2], widths[2], x->f, l, xq->shape[0],
                                   xq->f, lq));
    float loss;
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
    ck_allclose("query_loss", &loss, tg_get(&g, "query_loss")->v, 1, 1e-4, 0);
    for (int j = 0; j < 3; j++) {
        snprintf(name, sizeof name, "W%d_final", j);
        const tg_array *want = tg_get(&g, name);
        float *got = malloc((size_t)want->count * sizeof *got);
        ck_flp(flp_lifetime_final_weight(s.lt, lin(j), got, want->count));
        ck_allclose(name, got, want->v, want->count, 1e-3, 1e-6);
        snprintf(name, sizeof name, "grad_W%d", j);
        want = tg_get(&g, name);
        ck_flp(flp_net_get_grad(s.net, lin(j), FLP_PARAM_WEIGHT, got, want->count));
        check_grad(name, got, want);
        free(got);
    }
    float gtheta[3];
    ck_flp(flp_rule_get_theta_grad(s.rule, gtheta, 3));
    check_grad("grad_theta", gtheta, tg_get(&g, "grad_theta"));
    /* the same under a budget that forces recomputation */
    int64_t ws, recomputed;
    ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_MEMORY_BUDGET, 0));
    ck_flp(flp_lifetime_run(s.lt, s.ep, 0, &loss));
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
    ck_flp(flp_lifetime_stats(s.lt, &ws, NULL));
    ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_MEMORY_BUDGET, 0.95 * (double)ws));
    zero_grads(&s);
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
    ck_flp(flp_lifetime_stats(s.lt, NULL, &recomputed));
    ck_assert_msg(recomputed > 0, "a tight budget should recompute steps");
    ck_flp(flp_rule_get_theta_grad(s.rule, gtheta, 3));
    check_grad("grad_theta (tight budget)", gtheta, tg_get(&g, "grad_theta"));
    free(l), free(lq);
    free_setup(&s);
    tg_free(&g);
}
END_TEST

/* ---- the lifetime's meta-gradient against finite differences ------------------------- */

typedef struct {
    const char *what;
    int layer;
    int64_t n;
    float *v;
    flp_status (*set)(setup *, int, const float *, int64_t);
    flp_status (*grad)(setup *, int, float *, int64_t);
} fd_tensor;

static flp_status set_theta(setup *s, int l, const float *v, int64_t n) { (void)l; return flp_rule_set_theta(s->rule, v, n); }
static flp_status grad_theta(setup *s, int l, float *v, int64_t n) { (void)l; return flp_rule_get_theta_grad(s->rule, v, n); }
static flp_status set_B(setup *s, int l, const float *v, int64_t n) { return flp_feedback_set_param(s->fb, l, FLP_FEEDBACK_B, v, n); }
static flp_status grad_B(setup *s, int l, float *v, int64_t n) { return flp_feedback_get_grad(s->fb, l, FLP_FEEDBACK_B, v, n); }
static flp_status set_W(setup *s, int l, const float *v, int64_t n) { return flp_net_set_param(s->net, l, FLP_PARAM_WEIGHT, v, n); }
static flp_status grad_W(setup *s, int l, float *v, int64_t n) { return flp_net_get_grad(s->net, l, FLP_PARAM_WEIGHT, v, n); }

/* A point of fd_check: the loss at p, dLoss/dtensor in grad. */
typedef struct {
    setup *s;
    fd_tensor *t;
} fd_point;

static double loss_grad(void *ctx, const float *p, float *grad)
{
    fd_point *f = ctx;
    ck_flp(f->t->set(f->s, f->t->layer, p, f->t->n));
    zero_grads(f->s);
    float loss;
    ck_flp(flp_lifetime_run(f->s->lt, f->s->ep, 1, &loss));
    ck_flp(f->t->grad(f->s, f->t->layer, grad, f->t->n));
    return loss;
}

/* Simpson's rule on the analytic directional derivative against the loss
 * change (tu_fd_simpson). */
static void fd_check(setup *s, fd_tensor *t, uint64_t seed)
{
    char what[64];
    snprintf(what, sizeof what, "%s of layer %d", t->what, t->layer);
    fd_point f = {s, t};
    tu_fd_simpson(what, t->v, t->n, 2e-2, loss_grad, &f, seed);
    ck_flp(t->set(s, t->layer, t->v, t->n));
}

/* A random labelled episode of K steps of `batch`. */
static void random_episode(setup *s, int64_t K, int64_t batch, int64_t n_in, int64_t n_out, int64_t Q, uint64_t seed)
{
    tu_labelled_episode(s->ep, K, batch, n_in, n_out, Q, seed);
}

/* _i: bit 0 symmetric feedback, bit 1 batch 3, bits 2-3 which term is off
 * (3: none), bit 4 relu instead of softplus. */
START_TEST(test_lifetime_fd)
{
    int symmetric = _i & 1, batch = _i & 2 ? 3 : 1, off = _i >> 2 & 3;
    int64_t widths[3] = {6, 5, 4};
    setup s;
    build(&s, 7, widths, 3, 3.0f, symmetric ? FLP_FEEDBACK_SYMMETRIC : FLP_FEEDBACK_CHAINED);
    init_weights(&s, 100 + (uint64_t)_i);
    float theta[3] = {0.3f, 0.2f, 0.1f};
    ck_flp(flp_rule_set_theta(s.rule, theta, 3));
    if (off < 3)
        ck_flp(flp_rule_set(s.rule, FLP_RULE_TERMS, 7 & ~(1 << off)));
    random_episode(&s, 5, batch, 7, 4, 6, 200 + (uint64_t)_i);
    fd_tensor ts[8];
    int n = 0;
    ts[n++] = (fd_tensor){"theta", 0, 3, NULL, set_theta, grad_theta};
    for (int l = 0; l < 3; l++) {
        int64_t count;
        ck_flp(flp_net_param_count(s.net, lin(l), FLP_PARAM_WEIGHT, &count));
        ts[n++] = (fd_tensor){"W", lin(l), count, NULL, set_W, grad_W};
        if (!symmetric)
            ts[n++] = (fd_tensor){"B", lin(l), count, NULL, set_B, grad_B};
    }
    for (int j = 0; j < n; j++) {
        ts[j].v = malloc((size_t)ts[j].n * sizeof(float));
        if (ts[j].set == set_theta)
            ck_flp(flp_rule_get_theta(s.rule, ts[j].v, ts[j].n));
        else if (ts[j].set == set_B)
            ck_flp(flp_feedback_get_param(s.fb, ts[j].layer, FLP_FEEDBACK_B, ts[j].v, ts[j].n));
        else
            ck_flp(flp_net_get_param(s.net, ts[j].layer, FLP_PARAM_WEIGHT, ts[j].v, ts[j].n));
    }
    for (int j = 0; j < n; j++)
        fd_check(&s, &ts[j], 300 + (uint64_t)j);
    if (off < 3) { /* a disabled term gets no gradient */
        float g[3];
        ck_flp(flp_rule_get_theta_grad(s.rule, g, 3));
        ck_assert_msg(g[off] == 0.0f, "disabled term %d got gradient %g", off, g[off]);
    }
    for (int j = 0; j < n; j++)
        free(ts[j].v);
    free_setup(&s);
}
END_TEST

/* Symmetric feedback is backprop: with only the pseudo-gradient term, one
 * step is W -= theta0 dCE/dW of that step's example. */
START_TEST(test_symmetric_is_backprop)
{
    int64_t widths[2] = {5, 3};
    setup s;
    build(&s, 4, widths, 2, 10.0f, FLP_FEEDBACK_SYMMETRIC);
    flp_rng *rng;
    ck_flp(flp_rng_create(5, &rng));
    ck_flp(flp_net_init(s.net, FLP_INIT_XAVIER_UNIFORM, rng));
    float theta[3] = {0.5f, 0, 0};
    ck_flp(flp_rule_set_theta(s.rule, theta, 3));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_TERMS, 1));
    random_episode(&s, 1, 1, 4, 3, 2, 9);
    float loss, W0[20], W1[15], W0f[20], W1f[15], dy[3], y[3];
    ck_flp(flp_net_get_param(s.net, 0, FLP_PARAM_WEIGHT, W0, 20));
    ck_flp(flp_net_get_param(s.net, 2, FLP_PARAM_WEIGHT, W1, 15));
    ck_flp(flp_lifetime_run(s.lt, s.ep, 0, &loss));
    ck_flp(flp_lifetime_final_weight(s.lt, 0, W0f, 20));
    ck_flp(flp_lifetime_final_weight(s.lt, 2, W1f, 15));
    /* the network's own backprop of softmax cross-entropy */
    const float *x;
    const int32_t *lab;
    int64_t c;
    ck_flp(flp_episode_floats(s.ep, FLP_EPISODE_X, &x, &c));
    ck_flp(flp_episode_labels(s.ep, FLP_EPISODE_LABELS, &lab, &c));
    ck_flp(flp_net_zero_grad(s.net));
    ck_flp(flp_net_forward(s.net, 1, x, y));
    double mx = fmax(y[0], fmax(y[1], y[2])), se = 0;
    for (int j = 0; j < 3; j++)
        se += exp(y[j] - mx);
    for (int j = 0; j < 3; j++)
        dy[j] = (float)(exp(y[j] - mx) / se) - (j == lab[0]);
    ck_flp(flp_net_backward(s.net, dy, NULL));
    float g0[20], g1[15], want0[20], want1[15];
    ck_flp(flp_net_get_grad(s.net, 0, FLP_PARAM_WEIGHT, g0, 20));
    ck_flp(flp_net_get_grad(s.net, 2, FLP_PARAM_WEIGHT, g1, 15));
    for (int j = 0; j < 20; j++)
        want0[j] = W0[j] - 0.5f * g0[j];
    for (int j = 0; j < 15; j++)
        want1[j] = W1[j] - 0.5f * g1[j];
    ck_allclose_f("W0 after one symmetric step", W0f, want0, 20, 1e-5, 1e-6);
    ck_allclose_f("W1 after one symmetric step", W1f, want1, 15, 1e-5, 1e-6);
    flp_rng_free(rng);
    free_setup(&s);
}
END_TEST

/* Re-initialised weights: the same episode and seed give the same loss
 * whatever the network holds, another seed another loss; the network gets
 * no gradient, theta does. */
START_TEST(test_reinit)
{
    int64_t widths[2] = {6, 4};
    setup s;
    build(&s, 5, widths, 2, 10.0f, FLP_FEEDBACK_CHAINED);
    flp_rng *rng;
    ck_flp(flp_rng_create(8, &rng));
    ck_flp(flp_feedback_init(s.fb, rng, 1.0f));
    float theta[3] = {0.1f, 0.05f, 0.02f};
    ck_flp(flp_rule_set_theta(s.rule, theta, 3));
    random_episode(&s, 4, 1, 5, 4, 4, 3);
    ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_REINIT, 1));
    ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_REINIT_SEED, 77));
    float a, b, c, g[24], gt[3];
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &a));
    ck_flp(flp_net_init(s.net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &b));
    ck_assert_msg(a == b, "re-initialised lifetimes differ: %.9g vs %.9g", a, b);
    ck_flp(flp_net_get_grad(s.net, 2, FLP_PARAM_WEIGHT, g, 24));
    for (int j = 0; j < 24; j++)
        ck_assert_msg(g[j] == 0.0f, "a drawn weight got a meta-gradient");
    ck_flp(flp_rule_get_theta_grad(s.rule, gt, 3));
    ck_assert_msg(gt[0] != 0.0f, "theta got no gradient");
    ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_REINIT_SEED, 78));
    ck_flp(flp_lifetime_run(s.lt, s.ep, 0, &c));
    ck_assert_msg(c != a, "another seed should draw other weights");
    ck_flp_fails(flp_lifetime_set(s.lt, FLP_LIFETIME_REINIT, 2), FLP_ERR_RANGE);
    ck_flp_fails(flp_lifetime_set(s.lt, FLP_LIFETIME_REINIT_SEED, 0.5), FLP_ERR_RANGE);
    flp_rng_free(rng);
    free_setup(&s);
}
END_TEST

/* The L1 penalty adds lambda |theta|_1 to the loss and lambda sign(theta) to
 * the gradient, over enabled terms only. */
START_TEST(test_l1_penalty)
{
    int64_t widths[2] = {6, 4};
    setup s;
    build(&s, 5, widths, 2, 10.0f, FLP_FEEDBACK_CHAINED);
    init_weights(&s, 4);
    float theta[3] = {0.1f, -0.05f, 0.02f}, g0[3], g1[3], l0, l1;
    ck_flp(flp_rule_set_theta(s.rule, theta, 3));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_TERMS, 3));
    random_episode(&s, 3, 1, 5, 4, 4, 5);
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &l0));
    ck_flp(flp_rule_get_theta_grad(s.rule, g0, 3));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_THETA_L1, 0.5));
    zero_grads(&s);
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &l1));
    ck_flp(flp_rule_get_theta_grad(s.rule, g1, 3));
    ck_assert_msg(fabs(l1 - l0 - 0.5 * 0.15) < 1e-5, "penalty: %g -> %g", l0, l1);
    ck_assert_msg(fabs(g1[0] - g0[0] - 0.5) < 1e-5 && fabs(g1[1] - g0[1] + 0.5) < 1e-5 && g1[2] == 0.0f,
                  "penalty gradient: %g %g %g vs %g %g %g", g1[0], g1[1], g1[2], g0[0], g0[1], g0[2]);
    ck_flp_fails(flp_rule_set(s.rule, FLP_RULE_THETA_L1, -1), FLP_ERR_RANGE);
    free_setup(&s);
}
END_TEST

/* A meta-batch sends theta's gradient through the workers' private sinks:
 * the sum must be bit for bit the sum of single lifetimes, in order. */
START_TEST(test_meta_batch_agrees)
{
    int64_t widths[2] = {6, 4};
    setup s;
    build(&s, 5, widths, 2, 10.0f, FLP_FEEDBACK_CHAINED);
    init_weights(&s, 12);
    float theta[3] = {0.1f, 0.05f, 0.02f}, single[3] = {0}, batched[3], g[3], losses[2], loss;
    ck_flp(flp_rule_set_theta(s.rule, theta, 3));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_THETA_L1, 0.01));
    flp_episode *eps[2] = {s.ep, NULL};
    ck_flp(flp_episode_create(&eps[1]));
    random_episode(&s, 4, 1, 5, 4, 4, 21);
    flp_episode *first = s.ep;
    s.ep = eps[1];
    random_episode(&s, 3, 2, 5, 4, 4, 22);
    s.ep = first;
    for (int e = 0; e < 2; e++) {
        zero_grads(&s);
        ck_flp(flp_lifetime_run(s.lt, eps[e], 1, &loss));
        ck_flp(flp_rule_get_theta_grad(s.rule, g, 3));
        for (int t = 0; t < 3; t++)
            single[t] += g[t];
    }
    flp_meta *meta;
    flp_batch *batch;
    ck_flp(flp_meta_create(s.net, s.fb, s.rule, &meta));
    ck_flp(flp_batch_create(meta, &batch));
    zero_grads(&s);
    ck_flp(flp_batch_run(batch, (const flp_episode *const *)eps, 2, losses));
    ck_flp(flp_rule_get_theta_grad(s.rule, batched, 3));
    for (int t = 0; t < 3; t++)
        ck_assert_msg(batched[t] == single[t], "theta[%d]: batch %.9g, single lifetimes %.9g", t, batched[t],
                      single[t]);
    /* the same with weights drawn afresh: the workers draw what a single lifetime draws */
    ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_REINIT, 1));
    ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_REINIT_SEED, 5));
    ck_flp(flp_batch_set(batch, FLP_BATCH_REINIT, 1));
    ck_flp(flp_batch_set(batch, FLP_BATCH_REINIT_SEED, 5));
    double v;
    ck_flp(flp_batch_get(batch, FLP_BATCH_REINIT_SEED, &v));
    ck_assert(v == 5);
    ck_flp_fails(flp_batch_set(batch, FLP_BATCH_REINIT, 2), FLP_ERR_RANGE);
    ck_flp_fails(flp_batch_set(batch, FLP_BATCH_REINIT_SEED, -1), FLP_ERR_RANGE);
    memset(single, 0, sizeof single);
    for (int e = 0; e < 2; e++) {
        zero_grads(&s);
        ck_flp(flp_lifetime_run(s.lt, eps[e], 1, &loss));
        ck_flp(flp_rule_get_theta_grad(s.rule, g, 3));
        for (int t = 0; t < 3; t++)
            single[t] += g[t];
    }
    zero_grads(&s);
    ck_flp(flp_batch_run(batch, (const flp_episode *const *)eps, 2, losses));
    ck_flp(flp_rule_get_theta_grad(s.rule, batched, 3));
    for (int t = 0; t < 3; t++)
        ck_assert_msg(batched[t] == single[t], "re-initialised theta[%d]: batch %.9g, single lifetimes %.9g", t,
                      batched[t], single[t]);
    flp_batch_free(batch);
    flp_meta_free(meta);
    flp_episode_free(eps[1]);
    free_setup(&s);
}
END_TEST

START_TEST(test_bad_input)
{
    int64_t widths[2] = {6, 4}, n_in = 5, count;
    setup s;
    build(&s, n_in, widths, 2, 10.0f, FLP_FEEDBACK_CHAINED);
    float th[3] = {0}, loss;
    /* B is shaped like W once chained, and back again when direct */
    ck_flp(flp_feedback_count(s.fb, 0, FLP_FEEDBACK_B, &count));
    ck_assert_int_eq(count, 6 * 5);
    ck_flp_fails(flp_rule_set_theta(s.rule, th, 2), FLP_ERR_SHAPE);
    ck_flp_fails(flp_rule_set(s.rule, FLP_RULE_TERMS, 8), FLP_ERR_RANGE);
    ck_flp_fails(flp_feedback_set(s.fb, FLP_FEEDBACK_KIND, 3), FLP_ERR_RANGE);
    /* regression episodes do not fit the family */
    float x[5] = {0}, y[4] = {0};
    ck_flp(flp_episode_set_regression(s.ep, 1, 1, 5, 4, x, y, 1, x, y));
    ck_flp_fails(flp_lifetime_run(s.lt, s.ep, 0, &loss), FLP_ERR_SHAPE);
    random_episode(&s, 2, 1, 5, 4, 2, 1);
    ck_flp(flp_feedback_set(s.fb, FLP_FEEDBACK_KIND, FLP_FEEDBACK_DIRECT));
    ck_flp(flp_feedback_count(s.fb, 0, FLP_FEEDBACK_B, &count));
    ck_assert_int_eq(count, 6 * 4);
    ck_flp_fails(flp_lifetime_run(s.lt, s.ep, 0, &loss), FLP_ERR_INVALID);
    /* theta belongs to the family only */
    flp_rule *oja;
    ck_flp(flp_rule_create(s.net, FLP_RULE_OJA, &oja));
    ck_flp_fails(flp_rule_theta_count(oja, &count), FLP_ERR_INVALID);
    ck_flp_fails(flp_rule_get_theta(oja, th, 3), FLP_ERR_INVALID);
    flp_lifetime *lt;
    ck_flp(flp_feedback_set(s.fb, FLP_FEEDBACK_KIND, FLP_FEEDBACK_CHAINED));
    ck_flp(flp_lifetime_create(s.net, s.fb, oja, &lt));
    ck_flp_fails(flp_lifetime_run(lt, s.ep, 0, &loss), FLP_ERR_INVALID);
    flp_lifetime_free(lt);
    flp_rule_free(oja);
    free_setup(&s);
}
END_TEST

Suite *make_rules_suite(void)
{
    Suite *s = suite_create("rules");
    TCase *terms = tcase_create("terms");
    tcase_add_loop_test(terms, test_term_fd, 0, 2 * FLP__N_TERMS);
    suite_add_tcase(s, terms);
    TCase *lifetime = tcase_create("lifetime");
    tcase_add_test(lifetime, test_golden_fixed_feedback);
    tcase_add_loop_test(lifetime, test_lifetime_fd, 0, 16);
    tcase_add_test(lifetime, test_symmetric_is_backprop);
    tcase_add_test(lifetime, test_reinit);
    tcase_add_test(lifetime, test_l1_penalty);
    tcase_add_test(lifetime, test_meta_batch_agrees);
    tcase_add_test(lifetime, test_bad_input);
    suite_add_tcase(s, lifetime);
    return s;
}
