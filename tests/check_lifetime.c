/* check_lifetime.c - the lifetime and its meta-gradient: golden vectors
 * from the reference implementation, finite differences on random
 * configurations, checkpoint schedules, bad inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "plasticity/plasticity_internal.h"
#include "testutil.h"

/* ---- a small FLP setup ------------------------------------------------------ */

typedef struct {
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    flp_lifetime *lt;
    flp_episode *ep;
    int n_linear;
} setup;

/* Net index of the l-th linear layer: every hidden linear layer is followed
 * by an activation. */
static int lin(int l) { return 2 * l; }

static void build_mlp(setup *s, int64_t n_in, const int64_t *widths, int n_linear, int softplus)
{
    memset(s, 0, sizeof *s);
    ck_flp(flp_net_create(1, &n_in, &s->net));
    for (int l = 0; l < n_linear; l++) {
        ck_flp(flp_net_add_linear(s->net, widths[l], 1));
        if (l < n_linear - 1)
            ck_flp(softplus ? flp_net_add_softplus(s->net, 2.0f) : flp_net_add_relu(s->net));
    }
    s->n_linear = n_linear;
    ck_flp(flp_feedback_create(s->net, &s->fb));
    ck_flp(flp_episode_create(&s->ep));
}

static void finish_setup(setup *s, flp_rule_kind kind)
{
    if (s->rule == NULL)
        ck_flp(flp_rule_create(s->net, kind, &s->rule));
    ck_flp(flp_lifetime_create(s->net, s->fb, s->rule, &s->lt));
}

static void free_setup(setup *s) { tu_free_lifetime(s->lt, s->rule, s->fb, s->net, s->ep); }

/* ---- golden vectors ----------------------------------------------------------- */

static void set_golden_net(setup *s, const tg_file *g)
{
    char name[32];
    for (int l = 0; l < s->n_linear; l++) {
        snprintf(name, sizeof name, "W%d", l);
        const tg_array *W = tg_get(g, name);
        ck_flp(flp_net_set_param(s->net, lin(l), FLP_PARAM_WEIGHT, W->f, W->count));
        snprintf(name, sizeof name, "b%d", l);
        const tg_array *b = tg_get(g, name);
        ck_flp(flp_net_set_param(s->net, lin(l), FLP_PARAM_BIAS, b->f, b->count));
    }
}

/* Feedback and alpha of every linear layer the file describes; returns the
 * plastic mask over net layers. */
static void set_golden_plasticity(setup *s, const tg_file *g, int *mask)
{
    char name[32];
    for (int l = 0; l < s->n_linear; l++) {
        snprintf(name, sizeof name, "B%d", l);
        const tg_array *B = tg_find(g, name);
        if (B != NULL) {
            ck_flp(flp_feedback_set_param(s->fb, lin(l), FLP_FEEDBACK_B, B->f, B->count));
            snprintf(name, sizeof name, "c%d", l);
            const tg_array *c = tg_get(g, name);
            ck_flp(flp_feedback_set_param(s->fb, lin(l), FLP_FEEDBACK_C, c->f, c->count));
            snprintf(name, sizeof name, "beta%d", l);
            const tg_array *beta = tg_get(g, name);
            ck_flp(flp_feedback_set_param(s->fb, lin(l), FLP_FEEDBACK_BETA, beta->f, 1));
        }
        /* the gradient rule's weight learning rates are its alpha */
        snprintf(name, sizeof name, "alpha%d", l);
        const tg_array *alpha = tg_find(g, name);
        snprintf(name, sizeof name, "lr_W%d", l);
        if (alpha == NULL)
            alpha = tg_find(g, name);
        mask[lin(l)] = alpha != NULL;
        if (alpha != NULL)
            ck_flp(flp_rule_set_alpha(s->rule, lin(l), alpha->f, alpha->count));
        snprintf(name, sizeof name, "lr_b%d", l);
        const tg_array *lr_b = tg_find(g, name);
        if (lr_b != NULL)
            ck_flp(flp_rule_set_lr_bias(s->rule, lin(l), lr_b->f, lr_b->count));
    }
}

typedef enum { GET_NET_W, GET_NET_B, GET_FB_B, GET_FB_C, GET_FB_BETA, GET_ALPHA, GET_LR_BIAS } which_grad;

static void get_grad(setup *s, which_grad w, int layer, float *dst, int64_t n)
{
    switch (w) {
    case GET_NET_W: ck_flp(flp_net_get_grad(s->net, layer, FLP_PARAM_WEIGHT, dst, n)); break;
    case GET_NET_B: ck_flp(flp_net_get_grad(s->net, layer, FLP_PARAM_BIAS, dst, n)); break;
    case GET_FB_B: ck_flp(flp_feedback_get_grad(s->fb, layer, FLP_FEEDBACK_B, dst, n)); break;
    case GET_FB_C: ck_flp(flp_feedback_get_grad(s->fb, layer, FLP_FEEDBACK_C, dst, n)); break;
    case GET_FB_BETA: ck_flp(flp_feedback_get_grad(s->fb, layer, FLP_FEEDBACK_BETA, dst, n)); break;
    case GET_ALPHA: ck_flp(flp_rule_get_alpha_grad(s->rule, layer, dst, n)); break;
    case GET_LR_BIAS: ck_flp(flp_rule_get_lr_bias_grad(s->rule, layer, dst, n)); break;
    }
}

static void check_golden_grad(setup *s, const tg_file *g, const char *prefix, which_grad w)
{
    char name[48];
    for (int l = 0; l < s->n_linear; l++) {
        snprintf(name, sizeof name, "grad_%s%d", prefix, l);
        const tg_array *want = tg_find(g, name);
        if (want == NULL)
            continue;
        float *got = malloc((size_t)want->count * sizeof *got);
        get_grad(s, w, lin(l), got, want->count);
        /* atol relative to the array's scale: entries near zero carry
         * float32 cancellation error from the larger ones */
        double scale = 0;
        for (int64_t i = 0; i < want->count; i++)
            scale = fmax(scale, fabs(want->v[i]));
        ck_allclose(name, got, want->v, want->count, 1e-3, 1e-4 * scale + 1e-7);
        free(got);
    }
}

static void check_golden_final(setup *s, const tg_file *g)
{
    char name[32];
    for (int l = 0; l < s->n_linear; l++) {
        snprintf(name, sizeof name, "W%d_final", l);
        const tg_array *want = tg_get(g, name);
        float *got = malloc((size_t)want->count * sizeof *got);
        ck_flp(flp_lifetime_final_weight(s->lt, lin(l), got, want->count));
        ck_allclose(name, got, want->v, want->count, 1e-3, 1e-6);
        free(got);
        snprintf(name, sizeof name, "b%d_final", l); /* only where biases learn */
        want = tg_find(g, name);
        if (want == NULL)
            continue;
        got = malloc((size_t)want->count * sizeof *got);
        ck_flp(flp_lifetime_final_bias(s->lt, lin(l), got, want->count));
        ck_allclose(name, got, want->v, want->count, 1e-3, 1e-6);
        free(got);
    }
}

/* Run the golden case in `file` under the given settings and compare final
 * weights, query loss and every meta-gradient the file has. */
static void run_golden(const char *file, flp_rule_kind kind, int classification, double budget_fraction)
{
    tg_file g;
    if (!tg_load(file, &g)) {
        fprintf(stderr, "SKIP %s: ../shared/%s not found (set FLP_SHARED_DIR)\n", __func__, file);
        return;
    }
    const tg_array *x = tg_get(&g, "x_traj"), *xq = tg_get(&g, "x_query");
    int n_linear = 0;
    int64_t widths[8];
    char name[32];
    for (; n_linear < 8; n_linear++) {
        snprintf(name, sizeof name, "W%d", n_linear);
        const tg_array *W = tg_find(&g, name);
        if (W == NULL)
            break;
        widths[n_linear] = W->shape[0];
    }
    setup s;
    build_mlp(&s, x->shape[2], widths, n_linear, 0);
    set_golden_net(&s, &g);
    ck_flp(flp_rule_create(s.net, kind, &s.rule));
    int mask[16] = {0};
    set_golden_plasticity(&s, &g, mask);
    ck_flp(flp_rule_set_plastic_mask(s.rule, mask, 2 * n_linear - 1));
    if (classification) {
        ck_flp(flp_feedback_set(s.fb, FLP_FEEDBACK_SIGNAL, FLP_SIGNAL_TARGET));
        ck_flp(flp_feedback_set(s.fb, FLP_FEEDBACK_CLAMP_OUTPUT, 1));
        ck_flp(flp_rule_set(s.rule, FLP_RULE_HIDDEN_MULTIPLIER, 10));
        int64_t n = x->shape[0] * x->shape[1];
        int32_t *lab = malloc((size_t)n * sizeof *lab), *lq = malloc((size_t)xq->shape[0] * sizeof *lq);
        const tg_array *l = tg_get(&g, "label_traj"), *lqa = tg_get(&g, "label_query");
        for (int64_t i = 0; i < n; i++)
            lab[i] = (int32_t)l->v[i];
        for (int64_t i = 0; i < xq->shape[0]; i++)
            lq[i] = (int32_t)lqa->v[i];
        ck_flp(flp_episode_set_classes(s.ep, x->shape[0], x->shape[1], x->shape[2], widths[n_linear - 1], x->f,
                                       lab, xq->shape[0], xq->f, lq));
        free(lab);
        free(lq);
    } else {
        ck_flp(flp_episode_set_regression(s.ep, x->shape[0], x->shape[1], x->shape[2], widths[n_linear - 1],
                                          x->f, tg_get(&g, "y_traj")->f, xq->shape[0], xq->f,
                                          tg_get(&g, "y_query")->f));
    }
    finish_setup(&s, kind);
    float loss;
    if (budget_fraction > 0) { /* a budget this fraction of what keeping every step takes */
        int64_t ws;
        ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_MEMORY_BUDGET, 0));
        ck_flp(flp_lifetime_run(s.lt, s.ep, 0, &loss));
        ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
        ck_flp(flp_lifetime_stats(s.lt, &ws, NULL));
        ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_MEMORY_BUDGET, budget_fraction * (double)ws));
        ck_flp(flp_net_zero_grad(s.net));
        ck_flp(flp_feedback_zero_grad(s.fb));
        ck_flp(flp_rule_zero_grad(s.rule));
    }
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
    if (budget_fraction > 0) {
        int64_t recomputed;
        ck_flp(flp_lifetime_stats(s.lt, NULL, &recomputed));
        ck_assert_msg(recomputed > 0, "a budget of %g of the full workspace should recompute steps", budget_fraction);
    }
    ck_allclose("query_loss", &loss, tg_get(&g, "query_loss")->v, 1, 1e-4, 0);
    check_golden_final(&s, &g);
    check_golden_grad(&s, &g, "W", GET_NET_W);
    check_golden_grad(&s, &g, "b", GET_NET_B);
    check_golden_grad(&s, &g, "B", GET_FB_B);
    check_golden_grad(&s, &g, "c", GET_FB_C);
    check_golden_grad(&s, &g, "beta", GET_FB_BETA);
    check_golden_grad(&s, &g, "alpha", GET_ALPHA);
    check_golden_grad(&s, &g, "lr_W", GET_ALPHA);
    check_golden_grad(&s, &g, "lr_b", GET_LR_BIAS);
    free_setup(&s);
    tg_free(&g);
}

START_TEST(test_golden_regression_oja)
{
    run_golden("golden/flp_regression_oja.txt", FLP_RULE_OJA, 0, 0);
}
END_TEST

START_TEST(test_golden_regression_hebb)
{
    run_golden("golden/flp_regression_hebb.txt", FLP_RULE_HEBB, 0, 0);
}
END_TEST

START_TEST(test_golden_classification_oja)
{
    run_golden("golden/flp_classification_oja.txt", FLP_RULE_OJA, 1, 0);
}
END_TEST

/* The gradient-based baseline, first order, per-parameter learning rates. */
START_TEST(test_golden_gradient)
{
    run_golden("golden/gradient_regression.txt", FLP_RULE_GRADIENT, 0, 0);
    run_golden("golden/gradient_regression.txt", FLP_RULE_GRADIENT, 0, 0.95);
}
END_TEST

/* The smallest budgets force nested checkpoints; the golden values must
 * not move. */
START_TEST(test_golden_tight_budget)
{
    run_golden("golden/flp_regression_oja.txt", FLP_RULE_OJA, 0, 0.95);
    run_golden("golden/flp_classification_oja.txt", FLP_RULE_OJA, 1, 0.95);
}
END_TEST

/* ---- finite differences --------------------------------------------------------------- */

typedef struct {
    int plastic;           /* last N plastic */
    flp_rule_kind kind;
    flp_granularity gran;
    int continual;
    int classification;    /* target signal, clamped output */
    int signal;            /* for classification */
    int differentiate;     /* FLP_FEEDBACK_DIFFERENTIATE_SIGNAL */
    int post_pre;          /* FLP_FEEDBACK_POST_PRESYNAPTIC */
    int softplus, linear_feedback;
    float c_lo;            /* feedback biases drawn from [c_lo, c_lo + 0.25] */
    int mask_bits;         /* if not 0: bit l makes linear layer l plastic (overrides plastic) */
    int second_order;      /* FLP_RULE_SECOND_ORDER (gradient rule) */
} fd_config;

/* An episode of `tasks` groups whose inputs differ by task, in continual or
 * interleaved order. */
static void random_episode(setup *s, const fd_config *c, int64_t n_in, int64_t n_out, uint64_t seed)
{
    const int64_t K = 6, B = 3, Q = 5;
    float *x = malloc(sizeof(float) * K * B * n_in), *y = malloc(sizeof(float) * K * B * n_out);
    float *xq = malloc(sizeof(float) * Q * n_in), *yq = malloc(sizeof(float) * Q * n_out);
    tu_fill_uniform(x, K * B * n_in, -1, 1, seed);
    tu_fill_uniform(xq, Q * n_in, -1, 1, seed + 1);
    tu_fill_uniform(y, K * B * n_out, -1, 1, seed + 2);
    tu_fill_uniform(yq, Q * n_out, -1, 1, seed + 3);
    for (int64_t k = 0; k < K; k++) /* task index as a one-hot-ish offset on input 0 */
        for (int64_t b = 0; b < B; b++)
            x[(k * B + b) * n_in] = c->continual ? (float)(k / 3) : (float)(k % 2);
    if (c->classification) {
        int32_t *lab = malloc(sizeof(int32_t) * K * B), *lq = malloc(sizeof(int32_t) * Q);
        for (int64_t i = 0; i < K * B; i++)
            lab[i] = (int32_t)((i * 7 + seed) % (uint64_t)n_out);
        for (int64_t i = 0; i < Q; i++)
            lq[i] = (int32_t)((i * 3 + seed) % (uint64_t)n_out);
        ck_flp(flp_episode_set_classes(s->ep, K, B, n_in, n_out, x, lab, Q, xq, lq));
        free(lab);
        free(lq);
    } else {
        ck_flp(flp_episode_set_regression(s->ep, K, B, n_in, n_out, x, y, Q, xq, yq));
    }
    free(x);
    free(y);
    free(xq);
    free(yq);
}

typedef struct {
    float *v;
    which_grad grad;
    int64_t n;
    void (*set)(setup *, int, const float *, int64_t);
    int layer;
    const char *what;
} fd_tensor;

static void set_w(setup *s, int l, const float *v, int64_t n) { ck_flp(flp_net_set_param(s->net, l, FLP_PARAM_WEIGHT, v, n)); }
static void set_b(setup *s, int l, const float *v, int64_t n) { ck_flp(flp_net_set_param(s->net, l, FLP_PARAM_BIAS, v, n)); }
static void set_fb_b(setup *s, int l, const float *v, int64_t n) { ck_flp(flp_feedback_set_param(s->fb, l, FLP_FEEDBACK_B, v, n)); }
static void set_fb_c(setup *s, int l, const float *v, int64_t n) { ck_flp(flp_feedback_set_param(s->fb, l, FLP_FEEDBACK_C, v, n)); }
static void set_fb_beta(setup *s, int l, const float *v, int64_t n) { ck_flp(flp_feedback_set_param(s->fb, l, FLP_FEEDBACK_BETA, v, n)); }
static void set_alpha(setup *s, int l, const float *v, int64_t n) { ck_flp(flp_rule_set_alpha(s->rule, l, v, n)); }
static void set_lr_bias(setup *s, int l, const float *v, int64_t n) { ck_flp(flp_rule_set_lr_bias(s->rule, l, v, n)); }

static void zero_grads(setup *s) { tu_zero_grads(s->net, s->fb, s->rule); }

/* A point of fd_check_tensor: the loss at p, dLoss/dtensor in grad. */
typedef struct {
    setup *s;
    fd_tensor *t;
} fd_point;

static double loss_grad(void *ctx, const float *p, float *grad)
{
    fd_point *f = ctx;
    f->t->set(f->s, f->t->layer, p, f->t->n);
    zero_grads(f->s);
    float loss;
    ck_flp(flp_lifetime_run(f->s->lt, f->s->ep, 1, &loss));
    get_grad(f->s, f->t->grad, f->t->layer, grad, f->t->n);
    return loss;
}

/* The gradient along a random direction restricted to one tensor
 * (tu_fd_simpson). */
static void fd_check_tensor(setup *s, fd_tensor *t, uint64_t seed)
{
    char what[64];
    snprintf(what, sizeof what, "%s of layer %d", t->what, t->layer);
    fd_point f = {s, t};
    tu_fd_simpson(what, t->v, t->n, 2e-2, loss_grad, &f, seed);
    t->set(s, t->layer, t->v, t->n);
}

static void add_tensor(fd_tensor *ts, int *n, int64_t count, int layer, const char *what,
                       void (*set)(setup *, int, const float *, int64_t), which_grad grad)
{
    fd_tensor *t = &ts[(*n)++];
    t->grad = grad;
    t->n = count;
    t->layer = layer;
    t->what = what;
    t->set = set;
    t->v = malloc((size_t)count * sizeof(float));
}

/* Collect every meta-parameter with its value and gradient (the gradient
 * rule has bias learning rates and no use for the feedback). */
static int collect_tensors(setup *s, fd_tensor *ts)
{
    int n = 0;
    flp_rule_kind kind;
    ck_flp(flp_rule_kind_of(s->rule, &kind));
    for (int l = 0; l < s->n_linear; l++) {
        int L = lin(l);
        int64_t cw, cb, cB, cc, ca;
        ck_flp(flp_net_param_count(s->net, L, FLP_PARAM_WEIGHT, &cw));
        ck_flp(flp_net_param_count(s->net, L, FLP_PARAM_BIAS, &cb));
        ck_flp(flp_feedback_count(s->fb, L, FLP_FEEDBACK_B, &cB));
        ck_flp(flp_feedback_count(s->fb, L, FLP_FEEDBACK_C, &cc));
        ck_flp(flp_rule_alpha_count(s->rule, L, &ca));
        add_tensor(ts, &n, cw, L, "W", set_w, GET_NET_W);
        ck_flp(flp_net_get_param(s->net, L, FLP_PARAM_WEIGHT, ts[n - 1].v, cw));
        add_tensor(ts, &n, cb, L, "b", set_b, GET_NET_B);
        ck_flp(flp_net_get_param(s->net, L, FLP_PARAM_BIAS, ts[n - 1].v, cb));
        if (kind == FLP_RULE_GRADIENT) {
            int64_t cl;
            add_tensor(ts, &n, ca, L, "alpha", set_alpha, GET_ALPHA);
            ck_flp(flp_rule_get_alpha(s->rule, L, ts[n - 1].v, ca));
            ck_flp(flp_rule_lr_bias_count(s->rule, L, &cl));
            add_tensor(ts, &n, cl, L, "lr_bias", set_lr_bias, GET_LR_BIAS);
            ck_flp(flp_rule_get_lr_bias(s->rule, L, ts[n - 1].v, cl));
            continue;
        }
        add_tensor(ts, &n, cB, L, "B", set_fb_b, GET_FB_B);
        ck_flp(flp_feedback_get_param(s->fb, L, FLP_FEEDBACK_B, ts[n - 1].v, cB));
        add_tensor(ts, &n, cc, L, "c", set_fb_c, GET_FB_C);
        ck_flp(flp_feedback_get_param(s->fb, L, FLP_FEEDBACK_C, ts[n - 1].v, cc));
        add_tensor(ts, &n, 1, L, "beta", set_fb_beta, GET_FB_BETA);
        ck_flp(flp_feedback_get_param(s->fb, L, FLP_FEEDBACK_BETA, ts[n - 1].v, 1));
        add_tensor(ts, &n, ca, L, "alpha", set_alpha, GET_ALPHA);
        ck_flp(flp_rule_get_alpha(s->rule, L, ts[n - 1].v, ca));
    }
    return n;
}

/* Random learning rates for the gradient rule (alpha, then the biases'):
 * large enough that the inner steps move the loss. */
static void random_learning_rates(setup *s, flp_rng *rng, int n_linear)
{
    for (int l = 0; l < n_linear; l++) {
        int64_t ca, cl;
        ck_flp(flp_rule_alpha_count(s->rule, lin(l), &ca));
        ck_flp(flp_rule_lr_bias_count(s->rule, lin(l), &cl));
        float *a = malloc((size_t)(ca + cl) * sizeof *a);
        flp_rng_uniform(rng, 0.03f, 0.15f, a, ca + cl);
        ck_flp(flp_rule_set_alpha(s->rule, lin(l), a, ca));
        ck_flp(flp_rule_set_lr_bias(s->rule, lin(l), a + ca, cl));
        free(a);
    }
}

static void fd_run(const fd_config *c, uint64_t seed)
{
    const int64_t widths[4] = {6, 5, 7, c->classification ? 4 : 2};
    setup s;
    build_mlp(&s, 5, widths, 4, c->softplus);
    flp_rng *rng;
    ck_flp(flp_rng_create(seed, &rng));
    ck_flp(flp_net_init(s.net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_feedback_init(s.fb, rng, 0.6f));
    /* biases and c away from zero so every path carries gradient */
    for (int l = 0; l < 4; l++) {
        float v[8];
        flp_rng_uniform(rng, -0.3f, 0.3f, v, widths[l]);
        ck_flp(flp_net_set_param(s.net, lin(l), FLP_PARAM_BIAS, v, widths[l]));
        flp_rng_uniform(rng, c->c_lo, c->c_lo + 0.25f, v, widths[l]);
        ck_flp(flp_feedback_set_param(s.fb, lin(l), FLP_FEEDBACK_C, v, widths[l]));
    }
    ck_flp(flp_rule_create(s.net, c->kind, &s.rule));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_GRANULARITY, c->gran));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_PLASTIC_LAST, c->plastic));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_HIDDEN_MULTIPLIER, 1.5));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_SECOND_ORDER, c->second_order));
    if (c->mask_bits) {
        int mask[7] = {0};
        for (int l = 0; l < 4; l++)
            mask[lin(l)] = (c->mask_bits >> l) & 1;
        ck_flp(flp_rule_set_plastic_mask(s.rule, mask, 7));
    }
    for (int l = 0; l < 4 && c->kind != FLP_RULE_GRADIENT; l++) {
        int64_t ca;
        ck_flp(flp_rule_alpha_count(s.rule, lin(l), &ca));
        float *a = malloc((size_t)ca * sizeof *a);
        flp_rng_uniform(rng, 0.002f, 0.01f, a, ca);
        ck_flp(flp_rule_set_alpha(s.rule, lin(l), a, ca));
        free(a);
    }
    if (c->classification) {
        ck_flp(flp_feedback_set(s.fb, FLP_FEEDBACK_SIGNAL, c->signal));
        ck_flp(flp_feedback_set(s.fb, FLP_FEEDBACK_CLAMP_OUTPUT, 1));
        ck_flp(flp_feedback_set(s.fb, FLP_FEEDBACK_DIFFERENTIATE_SIGNAL, c->differentiate));
    }
    ck_flp(flp_feedback_set(s.fb, FLP_FEEDBACK_POST_PRESYNAPTIC, c->post_pre));
    ck_flp(flp_feedback_set(s.fb, FLP_FEEDBACK_RELU, !c->linear_feedback));
    if (c->kind == FLP_RULE_GRADIENT)
        random_learning_rates(&s, rng, 4);
    random_episode(&s, c, 5, widths[3], seed);
    finish_setup(&s, c->kind);
    fd_tensor ts[32];
    int n = collect_tensors(&s, ts);
    for (int i = 0; i < n; i++) {
        fd_check_tensor(&s, &ts[i], seed * 31 + (uint64_t)i);
        free(ts[i].v);
    }
    flp_rng_free(rng);
    free_setup(&s);
}

/* Every combination of plastic-layer count, rule, granularity and order. */
START_TEST(test_fd_regression)
{
    int i = _i;
    fd_config c = {0};
    c.plastic = 1 + i % 4;
    c.kind = (i / 4) % 2 ? FLP_RULE_HEBB : FLP_RULE_OJA;
    c.gran = (flp_granularity)((i / 8) % 3);
    c.continual = (i / 24) % 2;
    c.softplus = 1; /* smooth network and feedback: finite differences see no kinks */
    c.linear_feedback = 1;
    fd_run(&c, 100 + (uint64_t)i);
}
END_TEST

/* Signals, clamping, presynaptic choice and feedback activation. */
START_TEST(test_fd_variants)
{
    fd_config variants[] = {
        {.plastic = 2, .kind = FLP_RULE_OJA, .classification = 1, .signal = FLP_SIGNAL_TARGET, .softplus = 1},
        {.plastic = 3, .kind = FLP_RULE_OJA, .classification = 1, .signal = FLP_SIGNAL_TARGET_MINUS_SOFTMAX,
         .differentiate = 1, .softplus = 1},
        {.plastic = 4, .kind = FLP_RULE_HEBB, .post_pre = 1, .softplus = 1, .linear_feedback = 1},
        {.plastic = 3, .kind = FLP_RULE_OJA, .post_pre = 1, .linear_feedback = 1, .softplus = 1,
         .gran = FLP_GRANULARITY_NEURON},
        {.plastic = 4, .kind = FLP_RULE_OJA, .softplus = 0, .gran = FLP_GRANULARITY_LAYER},
        {.plastic = 3, .kind = FLP_RULE_HEBB, .softplus = 1, .continual = 1, .linear_feedback = 1},
        /* ReLU feedback, biased into its active side (kinks defeat any
         * difference check; the golden cases cover inactive units) */
        {.plastic = 4, .kind = FLP_RULE_OJA, .softplus = 1, .c_lo = 3.0f},
    };
    fd_run(&variants[_i], 500 + (uint64_t)_i);
}
END_TEST

/* ---- checkpoint schedules ------------------------------------------------------------ */

/* The gradients a budget test compares: W and alpha of layer 0, and the
 * bias learning rates under the gradient rule. */
static void budget_grads(setup *s, flp_rule_kind kind, float *dst)
{
    int64_t nw = 16 * 7;
    ck_flp(flp_net_get_grad(s->net, 0, FLP_PARAM_WEIGHT, dst, nw));
    ck_flp(flp_rule_get_alpha_grad(s->rule, 0, dst + nw, nw));
    if (kind == FLP_RULE_GRADIENT)
        ck_flp(flp_rule_get_lr_bias_grad(s->rule, 0, dst + 2 * nw, 16));
}

/* Every memory budget gives the same gradient, bit for bit. */
static void check_budgets(flp_rule_kind kind, int second_order)
{
    const int64_t widths[3] = {16, 12, 3};
    setup s;
    build_mlp(&s, 7, widths, 3, 0);
    flp_rng *rng;
    ck_flp(flp_rng_create(9, &rng));
    ck_flp(flp_net_init(s.net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_feedback_init(s.fb, rng, 0.5f));
    ck_flp(flp_rule_create(s.net, kind, &s.rule));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_ALPHA_INIT, 0.01));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_SECOND_ORDER, second_order));
    finish_setup(&s, kind);
    const int64_t K = 120, B = 4, Q = 6;
    float *x = malloc(sizeof(float) * K * B * 7), *y = malloc(sizeof(float) * K * B * 3);
    float xq[6 * 7], yq[6 * 3];
    tu_fill_uniform(x, K * B * 7, -1, 1, 1);
    tu_fill_uniform(y, K * B * 3, -1, 1, 2);
    tu_fill_uniform(xq, Q * 7, -1, 1, 3);
    tu_fill_uniform(yq, Q * 3, -1, 1, 4);
    ck_flp(flp_episode_set_regression(s.ep, K, B, 7, 3, x, y, Q, xq, yq));
    float ref[2 * 16 * 7 + 16] = {0}, got[2 * 16 * 7 + 16] = {0}, ref_loss, loss;
    ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_MEMORY_BUDGET, 0));
    zero_grads(&s);
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &ref_loss));
    budget_grads(&s, kind, ref);
    int64_t ws_full, recomputed;
    ck_flp(flp_lifetime_stats(s.lt, &ws_full, &recomputed));
    ck_assert_int_eq(recomputed, 0);
    double budgets[] = {1.0 * ws_full, 0.5 * ws_full, 0.25 * ws_full, 0.15 * ws_full, 0.13 * ws_full};
    int64_t last_recomputed = 0;
    for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
        ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_MEMORY_BUDGET, budgets[b]));
        zero_grads(&s);
        flp_status st = flp_lifetime_run(s.lt, s.ep, 1, &loss);
        ck_assert_msg(st == FLP_OK, "budget %g: %s", budgets[b], flp_last_error());
        budget_grads(&s, kind, got);
        ck_assert_msg(loss == ref_loss, "budget %g: loss %g vs %g", budgets[b], loss, ref_loss);
        ck_assert_msg(memcmp(got, ref, sizeof got) == 0, "budget %g changed the gradient", budgets[b]);
        int64_t ws;
        ck_flp(flp_lifetime_stats(s.lt, &ws, &recomputed));
        ck_assert_msg(ws <= budgets[b], "budget %g: used %lld bytes", budgets[b], (long long)ws);
        ck_assert_msg(recomputed >= last_recomputed, "tighter budget %g recomputed less", budgets[b]);
        last_recomputed = recomputed;
    }
    ck_assert_msg(last_recomputed > K, "the tightest budget should nest checkpoints (recomputed %lld)",
                  (long long)last_recomputed);
    ck_flp(flp_lifetime_set(s.lt, FLP_LIFETIME_MEMORY_BUDGET, 0.02 * ws_full));
    ck_flp_fails(flp_lifetime_run(s.lt, s.ep, 1, &loss), FLP_ERR_NOMEM);
    ck_assert_msg(strstr(flp_last_error(), "minimum") != NULL, "message should give the minimum: %s",
                  flp_last_error());
    free(x);
    free(y);
    flp_rng_free(rng);
    free_setup(&s);
}

START_TEST(test_budgets_agree)
{
    check_budgets(FLP_RULE_OJA, 0);
}
END_TEST

/* One lifetime with gradient on `threads` threads; loss and the gradients
 * of W and alpha of layer 0 and of B of the last layer into dst. */
static float threaded_run(setup *s, int threads, float *dst)
{
    float loss;
    ck_flp(flp_set_num_threads(threads));
    zero_grads(s);
    ck_flp(flp_lifetime_run(s->lt, s->ep, 1, &loss));
    ck_flp(flp_net_get_grad(s->net, 0, FLP_PARAM_WEIGHT, dst, 24 * 9));
    ck_flp(flp_rule_get_alpha_grad(s->rule, 0, dst + 24 * 9, 24 * 9));
    ck_flp(flp_feedback_get_grad(s->fb, lin(2), FLP_FEEDBACK_B, dst + 2 * 24 * 9, 2 * 2));
    return loss;
}

/* Results never depend on the thread count: layers run as parallel tasks and
 * batches in row chunks, but every sum has a fixed order. */
START_TEST(test_threads_agree)
{
    const int64_t widths[3] = {24, 20, 2}, K = 9, B = 40, Q = 50;
    setup s;
    build_mlp(&s, 9, widths, 3, 0);
    flp_rng *rng;
    ck_flp(flp_rng_create(17, &rng));
    ck_flp(flp_net_init(s.net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_feedback_init(s.fb, rng, 0.5f));
    ck_flp(flp_rule_create(s.net, FLP_RULE_OJA, &s.rule));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_ALPHA_INIT, 0.002));
    finish_setup(&s, FLP_RULE_OJA);
    float *x = malloc(sizeof(float) * K * B * 9), *y = malloc(sizeof(float) * K * B * 2);
    float *xq = malloc(sizeof(float) * Q * 9), *yq = malloc(sizeof(float) * Q * 2);
    tu_fill_uniform(x, K * B * 9, -1, 1, 5);
    tu_fill_uniform(y, K * B * 2, -1, 1, 6);
    tu_fill_uniform(xq, Q * 9, -1, 1, 7);
    tu_fill_uniform(yq, Q * 2, -1, 1, 8);
    ck_flp(flp_episode_set_regression(s.ep, K, B, 9, 2, x, y, Q, xq, yq));
    static float one[2 * 24 * 9 + 4], two[2 * 24 * 9 + 4];
    int before;
    ck_flp(flp_get_num_threads(&before));
    float l1 = threaded_run(&s, 1, one), l2 = threaded_run(&s, 2, two);
    ck_flp(flp_set_num_threads(before));
    ck_assert_msg(l1 == l2, "loss %.9g on 1 thread, %.9g on 2", l1, l2);
    ck_assert_msg(memcmp(one, two, sizeof one) == 0, "gradients differ between 1 and 2 threads");
    free(x);
    free(y);
    free(xq);
    free(yq);
    flp_rng_free(rng);
    free_setup(&s);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------------- */

START_TEST(test_bad_input)
{
    const int64_t widths[2] = {4, 2};
    setup s;
    build_mlp(&s, 3, widths, 2, 0);
    ck_flp(flp_rule_create(s.net, FLP_RULE_OJA, &s.rule));
    flp_lifetime *lt = NULL;
    ck_flp_fails(flp_lifetime_create(NULL, s.fb, s.rule, &lt), FLP_ERR_NULL);
    ck_flp_fails(flp_lifetime_create(s.net, NULL, s.rule, &lt), FLP_ERR_NULL);
    ck_flp_fails(flp_lifetime_create(s.net, s.fb, s.rule, NULL), FLP_ERR_NULL);
    finish_setup(&s, FLP_RULE_OJA);
    float loss, w[8];
    ck_flp_fails(flp_lifetime_final_weight(s.lt, 0, w, 12), FLP_ERR_STATE);
    ck_flp_fails(flp_lifetime_predict(s.lt, 1, w, w), FLP_ERR_STATE);
    ck_flp_fails(flp_lifetime_run(s.lt, s.ep, 1, &loss), FLP_ERR_STATE); /* empty episode */
    ck_flp_fails(flp_lifetime_set(s.lt, FLP_LIFETIME_MEMORY_BUDGET, -1), FLP_ERR_RANGE);
    ck_flp_fails(flp_lifetime_set(s.lt, FLP_LIFETIME_CHECK_FINITE, 2), FLP_ERR_RANGE);
    ck_flp_fails(flp_lifetime_set(s.lt, (flp_lifetime_key)99, 0), FLP_ERR_INVALID);
    /* an episode of the wrong width */
    float x[2 * 1 * 5] = {0}, y[2 * 1 * 2] = {0};
    ck_flp(flp_episode_set_regression(s.ep, 2, 1, 5, 2, x, y, 1, x, y));
    ck_flp_fails(flp_lifetime_run(s.lt, s.ep, 1, &loss), FLP_ERR_SHAPE);
    /* a labelled episode under an error signal */
    int32_t lab[2] = {0, 1};
    ck_flp(flp_episode_set_classes(s.ep, 2, 1, 3, 2, x, lab, 1, x, lab));
    ck_flp_fails(flp_lifetime_run(s.lt, s.ep, 1, &loss), FLP_ERR_SHAPE);
    /* exploding plasticity: reported with step and layer, no gradient added */
    float xs[40 * 3], ys[40 * 2];
    tu_fill_uniform(xs, 40 * 3, 1, 2, 5);
    tu_fill_uniform(ys, 40 * 2, 5, 9, 6);
    ck_flp(flp_episode_set_regression(s.ep, 40, 1, 3, 2, xs, ys, 1, xs, ys));
    flp_rng *rng;
    ck_flp(flp_rng_create(3, &rng));
    ck_flp(flp_net_init(s.net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_feedback_init(s.fb, rng, 1.0f));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_ALPHA_INIT, 1e4));
    ck_flp(flp_net_zero_grad(s.net));
    ck_flp_fails(flp_lifetime_run(s.lt, s.ep, 1, &loss), FLP_ERR_NONFINITE);
    ck_assert_msg(strstr(flp_last_error(), "step") && strstr(flp_last_error(), "layer"),
                  "message should name step and layer: %s", flp_last_error());
    /* a network that is neither a dense stack nor a front-end and one (an
     * activation before any convolution; check_frontend.c has more) */
    int64_t img[3] = {1, 5, 5};
    flp_net *conv;
    flp_feedback *cfb;
    flp_rule *crule;
    ck_flp(flp_net_create(3, img, &conv));
    ck_flp(flp_net_add_relu(conv));
    ck_flp(flp_net_add_conv2d(conv, 2, 3, 3, 1, 0, 1));
    ck_flp(flp_net_add_flatten(conv));
    ck_flp(flp_net_add_linear(conv, 2, 1));
    ck_flp(flp_feedback_create(conv, &cfb));
    ck_flp(flp_rule_create(conv, FLP_RULE_OJA, &crule));
    ck_flp_fails(flp_lifetime_create(conv, cfb, crule, &lt), FLP_ERR_UNSUPPORTED);
    ck_flp_fails(flp_lifetime_create(s.net, cfb, s.rule, &lt), FLP_ERR_INVALID);
    flp_rule_free(crule);
    flp_feedback_free(cfb);
    flp_net_free(conv);
    flp_rng_free(rng);
    flp_lifetime_free(NULL);
    free_setup(&s);
}
END_TEST

/* ---- the gradient rule ------------------------------------------------------------------ */

/* Exact second order on smooth networks: plastic counts, granularities,
 * labelled and continual episodes, and masks with frozen layers between
 * and below the plastic ones (their gradients then get Hessian terms). */
START_TEST(test_fd_gradient_second_order)
{
    int i = _i;
    fd_config c = {0};
    c.kind = FLP_RULE_GRADIENT;
    c.second_order = 1;
    c.softplus = 1;
    c.plastic = 1 + i % 4;
    c.gran = (flp_granularity)((i / 4) % 3);
    c.classification = i % 3 == 1;
    c.signal = FLP_SIGNAL_TARGET;
    c.continual = (i / 6) % 2;
    static const int masks[] = {0x5, 0xa, 0x6};
    if (i >= 12)
        c.mask_bits = masks[i - 12];
    fd_run(&c, 900 + (uint64_t)i);
}
END_TEST

/* A small softplus setup under the gradient rule, for the tests below. */
static void gradient_setup(setup *s, int second_order, int classification, uint64_t seed)
{
    const int64_t widths[3] = {6, 5, classification ? 3 : 2};
    build_mlp(s, 4, widths, 3, 1);
    flp_rng *rng;
    ck_flp(flp_rng_create(seed, &rng));
    ck_flp(flp_net_init(s->net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_rule_create(s->net, FLP_RULE_GRADIENT, &s->rule));
    ck_flp(flp_rule_set(s->rule, FLP_RULE_SECOND_ORDER, second_order));
    random_learning_rates(s, rng, 3);
    fd_config c = {.classification = classification};
    random_episode(s, &c, 4, widths[2], seed);
    finish_setup(s, FLP_RULE_GRADIENT);
    flp_rng_free(rng);
}

/* The finite-difference check must be able to tell the orders apart: on
 * these lifetimes the first-order gradient is far from the exact one. The
 * feedback is unused, so its gradients stay zero. */
START_TEST(test_gradient_orders_differ)
{
    float g[2][6 * 4], fb[8];
    for (int order = 0; order < 2; order++) {
        setup s;
        gradient_setup(&s, order, _i, 77);
        float loss;
        zero_grads(&s);
        ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
        ck_flp(flp_net_get_grad(s.net, 0, FLP_PARAM_WEIGHT, g[order], 6 * 4));
        for (int l = 0; l < 3; l++) {
            int64_t nB, nc;
            ck_flp(flp_feedback_count(s.fb, lin(l), FLP_FEEDBACK_B, &nB));
            ck_flp(flp_feedback_count(s.fb, lin(l), FLP_FEEDBACK_C, &nc));
            float *b = malloc((size_t)nB * sizeof *b);
            ck_flp(flp_feedback_get_grad(s.fb, lin(l), FLP_FEEDBACK_B, b, nB));
            ck_flp(flp_feedback_get_grad(s.fb, lin(l), FLP_FEEDBACK_C, fb, nc));
            ck_flp(flp_feedback_get_grad(s.fb, lin(l), FLP_FEEDBACK_BETA, fb + nc, 1));
            for (int64_t j = 0; j < nB; j++)
                ck_assert_float_eq(b[j], 0.0f);
            for (int64_t j = 0; j <= nc; j++)
                ck_assert_float_eq(fb[j], 0.0f);
            free(b);
        }
        free_setup(&s);
    }
    double diff = 0, norm = 0;
    for (int j = 0; j < 6 * 4; j++) {
        diff += ((double)g[1][j] - g[0][j]) * ((double)g[1][j] - g[0][j]);
        norm += (double)g[1][j] * g[1][j];
    }
    ck_assert_msg(norm > 0 && sqrt(diff / norm) > 1e-2, "first and second order agree to %g", sqrt(diff / norm));
}
END_TEST

/* ---- a 1-step lifetime by hand ---- */

/* Bias learning rates: per neuron unless one per layer. */
static int bias_gran(int gran)
{
    return gran == FLP_GRANULARITY_LAYER ? FLP_GRANULARITY_LAYER : FLP_GRANULARITY_NEURON;
}

enum { H_IN = 3, H_HID = 5, H_OUT = 2 };
typedef struct {
    double W0[H_HID * H_IN], b0[H_HID], W1[H_OUT * H_HID], b1[H_OUT];
} net2;

/* MSE (mean over rows * outputs) of the relu network 3-5-2 in double, and
 * its gradient (written). */
static double net2_loss_grad(const net2 *p, int64_t rows, const float *x, const float *y, net2 *g)
{
    memset(g, 0, sizeof *g);
    double loss = 0, n = (double)(rows * H_OUT);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * H_IN, *yr = y + r * H_OUT;
        double h[H_HID], e[H_OUT];
        for (int j = 0; j < H_HID; j++) {
            double z = p->b0[j];
            for (int i = 0; i < H_IN; i++)
                z += p->W0[j * H_IN + i] * xr[i];
            h[j] = z > 0 ? z : 0;
        }
        for (int o = 0; o < H_OUT; o++) {
            double z = p->b1[o];
            for (int j = 0; j < H_HID; j++)
                z += p->W1[o * H_HID + j] * h[j];
            e[o] = z - yr[o];
            loss += e[o] * e[o];
            g->b1[o] += 2 * e[o] / n;
            for (int j = 0; j < H_HID; j++)
                g->W1[o * H_HID + j] += 2 * e[o] / n * h[j];
        }
        for (int j = 0; j < H_HID; j++) {
            if (h[j] <= 0)
                continue;
            double dz = 0;
            for (int o = 0; o < H_OUT; o++)
                dz += 2 * e[o] / n * p->W1[o * H_HID + j];
            g->b0[j] += dz;
            for (int i = 0; i < H_IN; i++)
                g->W0[j * H_IN + i] += dz * xr[i];
        }
    }
    return loss / n;
}

/* The learning rate of entry (r, c) of a [rows, cols] tensor. */
static double lr_at(const float *lr, int gran, int64_t r, int64_t c, int64_t cols)
{
    return gran == FLP_GRANULARITY_SYNAPSE ? lr[r * cols + c] : gran == FLP_GRANULARITY_NEURON ? lr[r] : lr[0];
}

/* One plastic tensor p[rows, cols] (bias: cols = 1, per-neuron rates unless
 * layer granularity): p1 = p0 - lr ⊙ g, and the first-order lr gradient
 * -pbar ⊙ g reduced to the granularity (zero when frozen). */
static void hand_step(int plastic, int gran, int64_t rows, int64_t cols, const float *lr, const double *p0,
                      const double *g, double *p1)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            p1[r * cols + c] = p0[r * cols + c] - (plastic ? lr_at(lr, gran, r, c, cols) * g[r * cols + c] : 0);
}

static void hand_lr_grad(int plastic, int gran, int64_t rows, int64_t cols, const double *pbar, const double *g,
                         double *out)
{
    int64_t n = gran == FLP_GRANULARITY_SYNAPSE ? rows * cols : gran == FLP_GRANULARITY_NEURON ? rows : 1;
    for (int64_t j = 0; j < n; j++)
        out[j] = 0;
    if (!plastic)
        return;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t j = gran == FLP_GRANULARITY_SYNAPSE ? r * cols + c : gran == FLP_GRANULARITY_NEURON ? r : 0;
            out[j] -= pbar[r * cols + c] * g[r * cols + c];
        }
}

static void check_against(const char *what, setup *s, which_grad w, int layer, const double *want, int64_t n)
{
    float got[H_HID * H_IN];
    get_grad(s, w, layer, got, n);
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    ck_allclose(what, got, want, n, 1e-4, 1e-5 * scale + 1e-8);
}

/* First order on K = 1 equals the hand computation: W1 = W0 - lr ⊙ g,
 * grad W0 = the query gradient at W1, grad lr = -(that) ⊙ g; every
 * granularity, all layers plastic or only the readout. */
START_TEST(test_gradient_first_order_by_hand)
{
    int gran = _i % 3, readout_only = _i / 3;
    const int64_t B = 4, Q = 3, widths[2] = {H_HID, H_OUT};
    setup s;
    build_mlp(&s, H_IN, widths, 2, 0);
    flp_rng *rng;
    ck_flp(flp_rng_create(31 + (uint64_t)_i, &rng));
    ck_flp(flp_net_init(s.net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_rule_create(s.net, FLP_RULE_GRADIENT, &s.rule));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_GRANULARITY, gran));
    ck_flp(flp_rule_set(s.rule, FLP_RULE_PLASTIC_LAST, readout_only ? 1 : 2));
    random_learning_rates(&s, rng, 2);
    float b0[H_HID], x[4 * H_IN], y[4 * H_OUT], xq[3 * H_IN], yq[3 * H_OUT];
    flp_rng_uniform(rng, 0.05f, 0.3f, b0, H_HID); /* relu units active: no kinks near the data */
    ck_flp(flp_net_set_param(s.net, 0, FLP_PARAM_BIAS, b0, H_HID));
    tu_fill_uniform(x, B * H_IN, -1, 1, 5);
    tu_fill_uniform(y, B * H_OUT, -1, 1, 6);
    tu_fill_uniform(xq, Q * H_IN, -1, 1, 7);
    tu_fill_uniform(yq, Q * H_OUT, -1, 1, 8);
    ck_flp(flp_episode_set_regression(s.ep, 1, B, H_IN, H_OUT, x, y, Q, xq, yq));
    finish_setup(&s, FLP_RULE_GRADIENT);

    /* the parameters and learning rates, in double / float */
    net2 p0, p1, g, gq;
    float f[H_HID * H_IN], lrW[2][H_HID * H_IN], lrb[2][H_HID];
    double *pw[2][2] = {{p0.W0, p0.b0}, {p0.W1, p0.b1}};
    for (int l = 0; l < 2; l++)
        for (int t = 0; t < 2; t++) {
            int64_t n;
            ck_flp(flp_net_param_count(s.net, lin(l), t ? FLP_PARAM_BIAS : FLP_PARAM_WEIGHT, &n));
            ck_flp(flp_net_get_param(s.net, lin(l), t ? FLP_PARAM_BIAS : FLP_PARAM_WEIGHT, f, n));
            for (int64_t j = 0; j < n; j++)
                pw[l][t][j] = f[j];
        }
    for (int l = 0; l < 2; l++) {
        int64_t ca, cl;
        ck_flp(flp_rule_alpha_count(s.rule, lin(l), &ca));
        ck_flp(flp_rule_lr_bias_count(s.rule, lin(l), &cl));
        ck_flp(flp_rule_get_alpha(s.rule, lin(l), lrW[l], ca));
        ck_flp(flp_rule_get_lr_bias(s.rule, lin(l), lrb[l], cl));
    }
    net2_loss_grad(&p0, B, x, y, &g);
    int plastic[2] = {!readout_only, 1};
    hand_step(plastic[0], gran, H_HID, H_IN, lrW[0], p0.W0, g.W0, p1.W0);
    hand_step(plastic[0], bias_gran(gran), H_HID, 1, lrb[0], p0.b0, g.b0, p1.b0);
    hand_step(plastic[1], gran, H_OUT, H_HID, lrW[1], p0.W1, g.W1, p1.W1);
    hand_step(plastic[1], bias_gran(gran), H_OUT, 1, lrb[1], p0.b1, g.b1, p1.b1);
    double want_loss = net2_loss_grad(&p1, Q, xq, yq, &gq);

    float loss;
    zero_grads(&s);
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
    ck_allclose("query loss", &loss, &want_loss, 1, 1e-5, 1e-7);
    float fw[H_HID * H_IN];
    ck_flp(flp_lifetime_final_weight(s.lt, 0, fw, H_HID * H_IN));
    ck_allclose("final W0", fw, p1.W0, H_HID * H_IN, 1e-5, 1e-7);
    ck_flp(flp_lifetime_final_bias(s.lt, 0, fw, H_HID));
    ck_allclose("final b0", fw, p1.b0, H_HID, 1e-5, 1e-7);
    ck_flp(flp_lifetime_final_weight(s.lt, 2, fw, H_OUT * H_HID));
    ck_allclose("final W1", fw, p1.W1, H_OUT * H_HID, 1e-5, 1e-7);
    ck_flp(flp_lifetime_final_bias(s.lt, 2, fw, H_OUT));
    ck_allclose("final b1", fw, p1.b1, H_OUT, 1e-5, 1e-7);
    /* first order: the initial values' gradient is the final values' */
    check_against("grad W0", &s, GET_NET_W, 0, gq.W0, H_HID * H_IN);
    check_against("grad b0", &s, GET_NET_B, 0, gq.b0, H_HID);
    check_against("grad W1", &s, GET_NET_W, 2, gq.W1, H_OUT * H_HID);
    check_against("grad b1", &s, GET_NET_B, 2, gq.b1, H_OUT);
    double want[H_HID * H_IN];
    int64_t cw[2] = {H_HID * H_IN, H_OUT * H_HID}, rows[2] = {H_HID, H_OUT}, cols[2] = {H_IN, H_HID};
    const double *gqw[2] = {gq.W0, gq.W1}, *gw[2] = {g.W0, g.W1}, *gqb[2] = {gq.b0, gq.b1}, *gb[2] = {g.b0, g.b1};
    for (int l = 0; l < 2; l++) {
        int64_t na = gran == FLP_GRANULARITY_SYNAPSE ? cw[l] : gran == FLP_GRANULARITY_NEURON ? rows[l] : 1;
        hand_lr_grad(plastic[l], gran, rows[l], cols[l], gqw[l], gw[l], want);
        check_against("grad lr_W", &s, GET_ALPHA, lin(l), want, na);
        hand_lr_grad(plastic[l], bias_gran(gran), rows[l], 1, gqb[l], gb[l], want);
        check_against("grad lr_b", &s, GET_LR_BIAS, lin(l), want, gran == FLP_GRANULARITY_LAYER ? 1 : rows[l]);
    }
    flp_rng_free(rng);
    free_setup(&s);
}
END_TEST

/* Checkpointed reverse sweeps of gradient steps: bit-identical for every
 * budget, in both orders. */
START_TEST(test_gradient_budgets_agree)
{
    check_budgets(FLP_RULE_GRADIENT, _i);
}
END_TEST

/* The bias learning rates: shapes per granularity, the fill, the tensor
 * list, and every refusal. */
START_TEST(test_gradient_rule_accessors)
{
    const int64_t widths[2] = {4, 2};
    setup s;
    build_mlp(&s, 3, widths, 2, 0);
    ck_flp(flp_rule_create(s.net, FLP_RULE_GRADIENT, &s.rule));
    flp_rule_kind kind;
    ck_flp(flp_rule_kind_of(s.rule, &kind));
    ck_assert_int_eq(kind, FLP_RULE_GRADIENT);
    int64_t n;
    static const struct { int gran; int64_t count[2]; } shapes[] = {
        {FLP_GRANULARITY_SYNAPSE, {4, 2}}, {FLP_GRANULARITY_NEURON, {4, 2}}, {FLP_GRANULARITY_LAYER, {1, 1}}};
    for (int k = 0; k < 3; k++) {
        ck_flp(flp_rule_set(s.rule, FLP_RULE_ALPHA_INIT, 0.25 * (k + 1)));
        ck_flp(flp_rule_set(s.rule, FLP_RULE_GRANULARITY, shapes[k].gran));
        for (int l = 0; l < 2; l++) {
            ck_flp(flp_rule_lr_bias_count(s.rule, lin(l), &n));
            ck_assert_int_eq(n, shapes[k].count[l]);
            float v[4], g[4];
            ck_flp(flp_rule_get_lr_bias(s.rule, lin(l), v, n));
            ck_flp(flp_rule_get_lr_bias_grad(s.rule, lin(l), g, n));
            for (int64_t j = 0; j < n; j++) {
                ck_assert_float_eq(v[j], (float)(0.25 * (k + 1))); /* FLP_RULE_ALPHA_INIT fills them */
                ck_assert_float_eq(g[j], 0.0f);
            }
        }
    }
    float v4[4] = {1, 2, 3, 4}, back[4];
    ck_flp(flp_rule_set(s.rule, FLP_RULE_GRANULARITY, FLP_GRANULARITY_NEURON));
    ck_flp(flp_rule_set_lr_bias(s.rule, 0, v4, 4));
    ck_flp(flp_rule_get_lr_bias(s.rule, 0, back, 4));
    ck_assert_int_eq(memcmp(v4, back, sizeof v4), 0);
    double v;
    ck_flp(flp_rule_set(s.rule, FLP_RULE_SECOND_ORDER, 1));
    ck_flp(flp_rule_get(s.rule, FLP_RULE_SECOND_ORDER, &v));
    ck_assert_double_eq(v, 1);
    ck_flp_fails(flp_rule_set(s.rule, FLP_RULE_SECOND_ORDER, 2), FLP_ERR_RANGE);
    ck_flp_fails(flp_rule_set(s.rule, FLP_RULE_SECOND_ORDER, 0.5), FLP_ERR_RANGE);
    ck_flp_fails(flp_rule_set(s.rule, FLP_RULE_SECOND_ORDER, -1), FLP_ERR_RANGE);
    ck_flp(flp_rule_get(s.rule, FLP_RULE_SECOND_ORDER, &v));
    ck_assert_double_eq(v, 1);
    /* the bias rates are meta-parameters of the plasticity group, after each alpha */
    flp__tensor_list list = {NULL, 0, 0};
    ck_flp(flp__rule_tensors(s.rule, &list));
    ck_assert_int_eq(list.n, 4);
    for (int l = 0; l < 2; l++) {
        ck_assert_str_eq(list.items[2 * l + 1].name, l == 0 ? "rule.0.lr_bias" : "rule.2.lr_bias");
        ck_assert_int_eq(list.items[2 * l + 1].group, FLP_GROUP_PLASTICITY);
        ck_assert_int_eq(list.items[2 * l + 1].count, widths[l]);
        ck_assert_ptr_eq(list.items[2 * l + 1].value, s.rule->layer[lin(l)].lr_bias);
        ck_assert_ptr_eq(list.items[2 * l + 1].grad, s.rule->layer[lin(l)].glr_bias);
    }
    flp__tensor_list_free(&list);

    /* refusals */
    ck_flp_fails(flp_rule_lr_bias_count(NULL, 0, &n), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_lr_bias_count(s.rule, 0, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_lr_bias_count(s.rule, 1, &n), FLP_ERR_INVALID); /* relu */
    ck_flp_fails(flp_rule_lr_bias_count(s.rule, 3, &n), FLP_ERR_RANGE);
    ck_flp_fails(flp_rule_lr_bias_count(s.rule, -1, &n), FLP_ERR_RANGE);
    ck_flp_fails(flp_rule_get_lr_bias(s.rule, 0, NULL, 4), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_get_lr_bias(s.rule, 0, back, 3), FLP_ERR_SHAPE);
    ck_flp_fails(flp_rule_set_lr_bias(s.rule, 0, NULL, 4), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_set_lr_bias(s.rule, 0, v4, 5), FLP_ERR_SHAPE);
    ck_flp_fails(flp_rule_set_lr_bias(NULL, 0, v4, 4), FLP_ERR_NULL);
    ck_flp_fails(flp_rule_set_lr_bias(s.rule, 1, v4, 4), FLP_ERR_INVALID);
    ck_flp_fails(flp_rule_get_lr_bias_grad(s.rule, 0, back, 2), FLP_ERR_SHAPE);
    ck_flp_fails(flp_rule_get_lr_bias_grad(s.rule, 7, back, 4), FLP_ERR_RANGE);
    flp_rule *oja;
    ck_flp(flp_rule_create(s.net, FLP_RULE_OJA, &oja));
    ck_flp_fails(flp_rule_lr_bias_count(oja, 0, &n), FLP_ERR_INVALID);
    ck_assert_msg(strstr(flp_last_error(), "gradient") != NULL, "message should name the rule: %s", flp_last_error());
    ck_flp_fails(flp_rule_get_lr_bias(oja, 0, back, 4), FLP_ERR_INVALID);
    ck_flp_fails(flp_rule_set_lr_bias(oja, 0, v4, 4), FLP_ERR_INVALID);
    ck_flp_fails(flp_rule_get_lr_bias_grad(oja, 0, back, 4), FLP_ERR_INVALID);
    flp_rule_free(oja);
    ck_flp_fails(flp_rule_create(s.net, (flp_rule_kind)4, &oja), FLP_ERR_RANGE);

    /* a labelled episode runs under the default (error) feedback signal; final biases */
    finish_setup(&s, FLP_RULE_GRADIENT);
    float loss, b[4];
    ck_flp_fails(flp_lifetime_final_bias(s.lt, 0, b, 4), FLP_ERR_STATE);
    float x[2 * 3] = {0.1f, 0.2f, 0.3f, -0.1f, 0.5f, 0.2f};
    int32_t lab[2] = {0, 1};
    ck_flp(flp_episode_set_classes(s.ep, 2, 1, 3, 2, x, lab, 1, x, lab));
    ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
    ck_assert(isfinite(loss));
    ck_flp(flp_lifetime_final_bias(s.lt, 0, b, 4));
    ck_flp_fails(flp_lifetime_final_bias(NULL, 0, b, 4), FLP_ERR_NULL);
    ck_flp_fails(flp_lifetime_final_bias(s.lt, 1, b, 4), FLP_ERR_INVALID);
    ck_flp_fails(flp_lifetime_final_bias(s.lt, 0, b, 3), FLP_ERR_SHAPE);
    ck_flp_fails(flp_lifetime_final_bias(s.lt, 0, NULL, 4), FLP_ERR_NULL);
    /* no plastic layer: the lifetime is the query pass alone, in either order */
    float ref[2], got[2];
    ck_flp(flp_rule_set(s.rule, FLP_RULE_PLASTIC_LAST, 0));
    for (int order = 0; order < 2; order++) {
        ck_flp(flp_rule_set(s.rule, FLP_RULE_SECOND_ORDER, order));
        zero_grads(&s);
        ck_flp(flp_lifetime_run(s.lt, s.ep, 1, &loss));
        ck_flp(flp_net_get_grad(s.net, 2, FLP_PARAM_BIAS, order ? got : ref, 2));
    }
    ck_assert_int_eq(memcmp(ref, got, sizeof ref), 0);
    ck_flp(flp_rule_set(s.rule, FLP_RULE_PLASTIC_LAST, 2));
    /* an exploding step is reported like a plasticity step */
    ck_flp(flp_rule_set(s.rule, FLP_RULE_ALPHA_INIT, 1e30));
    float xs[40 * 3], ys[40 * 2];
    tu_fill_uniform(xs, 40 * 3, 1, 2, 5);
    tu_fill_uniform(ys, 40 * 2, 5, 9, 6);
    ck_flp(flp_episode_set_regression(s.ep, 40, 1, 3, 2, xs, ys, 1, xs, ys));
    ck_flp_fails(flp_lifetime_run(s.lt, s.ep, 1, &loss), FLP_ERR_NONFINITE);
    free_setup(&s);
}
END_TEST

Suite *make_lifetime_suite(void)
{
    Suite *s = suite_create("lifetime");
    TCase *golden = tcase_create("golden");
    tcase_add_test(golden, test_golden_regression_oja);
    tcase_add_test(golden, test_golden_regression_hebb);
    tcase_add_test(golden, test_golden_classification_oja);
    tcase_add_test(golden, test_golden_tight_budget);
    suite_add_tcase(s, golden);
    TCase *fd = tcase_create("finite_differences");
    tcase_set_timeout(fd, 300);
    tcase_add_loop_test(fd, test_fd_regression, 0, 48);
    tcase_add_loop_test(fd, test_fd_variants, 0, 7);
    suite_add_tcase(s, fd);
    TCase *ck = tcase_create("checkpoints");
    tcase_add_test(ck, test_budgets_agree);
    tcase_add_test(ck, test_threads_agree);
    tcase_add_test(ck, test_bad_input);
    suite_add_tcase(s, ck);
    TCase *grad = tcase_create("gradient_rule");
    tcase_set_timeout(grad, 300);
    tcase_add_test(grad, test_golden_gradient);
    tcase_add_loop_test(grad, test_gradient_first_order_by_hand, 0, 6);
    tcase_add_loop_test(grad, test_gradient_orders_differ, 0, 2);
    tcase_add_loop_test(grad, test_fd_gradient_second_order, 0, 15);
    tcase_add_loop_test(grad, test_gradient_budgets_agree, 0, 2);
    tcase_add_test(grad, test_gradient_rule_accessors);
    suite_add_tcase(s, grad);
    return s;
}
