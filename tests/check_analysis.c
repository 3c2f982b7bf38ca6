/* check_analysis.c - Figure 2's analyses (flp_analysis.h) against
 * independent computations on a tiny network: weights from lifetimes run on
 * prefixes of the episode, step gradients from the network's own backward
 * pass, features from a copy of the network's trunk. */
#include <math.h>
#include <string.h>

#include "testutil.h"

enum { N_IN = 3, H1 = 5, H2 = 4, N_OUT = 2, K = 6, BATCH = 3, NQ = 5, S_TASK = 2, N_TASKS = 3 };
static const int LIN[3] = {0, 2, 4}; /* net indices of the linear layers */
static const int64_t W_COUNT[3] = {H1 * N_IN, H2 * H1, N_OUT * H2};
static const int64_t B_COUNT[3] = {H1, H2, N_OUT};

typedef struct {
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    flp_lifetime *lt;
    flp_episode *ep;
    float x[K * BATCH * N_IN], y[K * BATCH * N_OUT], xq[NQ * N_IN], yq[NQ * N_OUT];
} setup;

/* n_linear layers of the 3-5-4-2 relu network, from its input. */
static flp_net *make_net(int n_linear)
{
    static const int64_t widths[3] = {H1, H2, N_OUT};
    int64_t n_in = N_IN;
    flp_net *net;
    ck_flp(flp_net_create(1, &n_in, &net));
    for (int l = 0; l < n_linear; l++) {
        ck_flp(flp_net_add_linear(net, widths[l], 1));
        if (l < 2)
            ck_flp(flp_net_add_relu(net));
    }
    return net;
}

/* Last two layers plastic; Oja with alpha 0.05 or gradient with rate 0.1. */
static void make_setup(setup *s, flp_rule_kind kind)
{
    memset(s, 0, sizeof *s);
    s->net = make_net(3);
    flp_rng *rng;
    ck_flp(flp_rng_create(5, &rng));
    ck_flp(flp_net_init(s->net, FLP_INIT_KAIMING_NORMAL, rng));
    ck_flp(flp_feedback_create(s->net, &s->fb));
    ck_flp(flp_feedback_init(s->fb, rng, 0.5f));
    flp_rng_free(rng);
    for (int l = 0; l < 3; l++) { /* nonzero biases, so the probe's bias column matters */
        float b[H1];
        tu_fill_uniform(b, B_COUNT[l], -0.3f, 0.3f, 40 + (uint64_t)l);
        ck_flp(flp_net_set_param(s->net, LIN[l], FLP_PARAM_BIAS, b, B_COUNT[l]));
    }
    ck_flp(flp_rule_create(s->net, kind, &s->rule));
    ck_flp(flp_rule_set(s->rule, FLP_RULE_PLASTIC_LAST, 2));
    ck_flp(flp_rule_set(s->rule, FLP_RULE_ALPHA_INIT, kind == FLP_RULE_GRADIENT ? 0.1 : 0.05));
    ck_flp(flp_lifetime_create(s->net, s->fb, s->rule, &s->lt));
    tu_fill_uniform(s->x, K * BATCH * N_IN, -1.0f, 1.0f, 11);
    tu_fill_uniform(s->y, K * BATCH * N_OUT, -1.0f, 1.0f, 12);
    tu_fill_uniform(s->xq, NQ * N_IN, -1.0f, 1.0f, 13);
    tu_fill_uniform(s->yq, NQ * N_OUT, -1.0f, 1.0f, 14);
    ck_flp(flp_episode_create(&s->ep));
    ck_flp(flp_episode_set_regression(s->ep, K, BATCH, N_IN, N_OUT, s->x, s->y, NQ, s->xq, s->yq));
}

static void free_setup(setup *s) { tu_free_lifetime(s->lt, s->rule, s->fb, s->net, s->ep); }

/* Weights and biases of every layer after the first `steps` steps, from a
 * lifetime run on that prefix of the episode (the net's for 0 steps). */
static void params_after(setup *s, int steps, float W[3][H1 * H2], float b[3][H1])
{
    for (int l = 0; l < 3; l++) {
        ck_flp(flp_net_get_param(s->net, LIN[l], FLP_PARAM_WEIGHT, W[l], W_COUNT[l]));
        ck_flp(flp_net_get_param(s->net, LIN[l], FLP_PARAM_BIAS, b[l], B_COUNT[l]));
    }
    if (steps == 0)
        return;
    flp_episode *pre;
    float loss;
    ck_flp(flp_episode_create(&pre));
    ck_flp(flp_episode_set_regression(pre, steps, BATCH, N_IN, N_OUT, s->x, s->y, NQ, s->xq, s->yq));
    ck_flp(flp_lifetime_run(s->lt, pre, 0, &loss));
    for (int l = 0; l < 3; l++) {
        ck_flp(flp_lifetime_final_weight(s->lt, LIN[l], W[l], W_COUNT[l]));
        ck_flp(flp_lifetime_final_bias(s->lt, LIN[l], b[l], B_COUNT[l]));
    }
    flp_episode_free(pre);
}

/* dL/dW of every layer for batch k under (W, b), L the batch's mean squared
 * error, by the network's own backward pass on a copy. */
static void step_gradient(int k, const setup *s, float W[3][H1 * H2], float b[3][H1], float g[3][H1 * H2])
{
    flp_net *ref = make_net(3);
    for (int l = 0; l < 3; l++) {
        ck_flp(flp_net_set_param(ref, LIN[l], FLP_PARAM_WEIGHT, W[l], W_COUNT[l]));
        ck_flp(flp_net_set_param(ref, LIN[l], FLP_PARAM_BIAS, b[l], B_COUNT[l]));
    }
    float yhat[BATCH * N_OUT], dy[BATCH * N_OUT], dx[BATCH * N_IN];
    ck_flp(flp_net_forward(ref, BATCH, s->x + k * BATCH * N_IN, yhat));
    for (int j = 0; j < BATCH * N_OUT; j++)
        dy[j] = 2.0f * (yhat[j] - s->y[k * BATCH * N_OUT + j]) / (BATCH * N_OUT);
    ck_flp(flp_net_zero_grad(ref));
    ck_flp(flp_net_backward(ref, dy, dx));
    for (int l = 0; l < 3; l++)
        ck_flp(flp_net_get_grad(ref, LIN[l], FLP_PARAM_WEIGHT, g[l], W_COUNT[l]));
    flp_net_free(ref);
}

static void check_trace(flp_rule_kind kind)
{
    setup s;
    make_setup(&s, kind);
    double norm[K * 2], cosine[K * 2];
    ck_flp(flp_analysis_update_trace(s.lt, s.ep, K, 2, norm, cosine));
    float W0[3][H1 * H2], b0[3][H1], W1[3][H1 * H2], b1[3][H1], g[3][H1 * H2];
    float want_norm[K * 2], want_cos[K * 2];
    for (int k = 0; k < K; k++) {
        params_after(&s, k, W0, b0);
        params_after(&s, k + 1, W1, b1);
        step_gradient(k, &s, W0, b0, g);
        for (int j = 0; j < 2; j++) {
            int l = j + 1;
            double uu = 0, gg = 0, ug = 0;
            for (int64_t i = 0; i < W_COUNT[l]; i++) {
                double u = (double)W1[l][i] - W0[l][i];
                uu += u * u;
                gg += (double)g[l][i] * g[l][i];
                ug -= u * g[l][i];
            }
            want_norm[k * 2 + j] = (float)sqrt(uu);
            want_cos[k * 2 + j] = (float)(ug / sqrt(uu * gg));
        }
    }
    ck_allclose("update norm", want_norm, norm, K * 2, 1e-4, 1e-7);
    ck_allclose("cosine with -gradient", want_cos, cosine, K * 2, 1e-3, 1e-4);
    if (kind == FLP_RULE_GRADIENT) /* a descent step with one scalar rate is the negative gradient */
        for (int j = 0; j < K * 2; j++)
            ck_assert_msg(fabs(cosine[j] - 1.0) < 1e-4, "gradient rule: cosine %g at %d, want 1", cosine[j], j);
    free_setup(&s);
}

START_TEST(trace_oja) { check_trace(FLP_RULE_OJA); }
END_TEST

START_TEST(trace_gradient) { check_trace(FLP_RULE_GRADIENT); }
END_TEST

START_TEST(interference)
{
    setup s;
    make_setup(&s, FLP_RULE_OJA);
    double out[N_TASKS];
    ck_flp(flp_analysis_interference(s.lt, s.ep, S_TASK, N_TASKS, out));
    float want[N_TASKS] = {0};
    for (int t = 1; t < N_TASKS; t++) {
        int64_t rows = (int64_t)t * S_TASK * BATCH;
        float before[K * BATCH * N_OUT], after[K * BATCH * N_OUT], W[3][H1 * H2], b[3][H1];
        params_after(&s, t * S_TASK, W, b);
        ck_flp(flp_lifetime_predict(s.lt, rows, s.x, before));
        params_after(&s, (t + 1) * S_TASK, W, b);
        ck_flp(flp_lifetime_predict(s.lt, rows, s.x, after));
        double sum = 0;
        for (int64_t j = 0; j < rows * N_OUT; j++)
            sum += ((double)after[j] - before[j]) * ((double)after[j] - before[j]);
        want[t] = (float)(sum / (double)(rows * N_OUT));
        ck_assert_msg(want[t] > 0, "task %d: plasticity changed nothing: the test would prove nothing", t);
    }
    ck_allclose("interference", want, out, N_TASKS, 1e-4, 1e-9);
    free_setup(&s);
}
END_TEST

/* The probe's readout minimises the ridge objective: its gradient, computed
 * on features from a copy of the network's first two layers, vanishes, and
 * the reported losses are the readout's. */
START_TEST(linear_probe)
{
    setup s;
    make_setup(&s, FLP_RULE_OJA);
    const double ridge = 1e-2;
    double fit, query;
    float w[N_OUT * (H2 + 1)];
    ck_flp(flp_analysis_linear_probe(s.lt, s.ep, ridge, &fit, &query, w, N_OUT * (H2 + 1)));
    flp_net *trunk = make_net(2);
    for (int l = 0; l < 2; l++) {
        float p[H1 * H2];
        ck_flp(flp_net_get_param(s.net, LIN[l], FLP_PARAM_WEIGHT, p, W_COUNT[l]));
        ck_flp(flp_net_set_param(trunk, LIN[l], FLP_PARAM_WEIGHT, p, W_COUNT[l]));
        ck_flp(flp_net_get_param(s.net, LIN[l], FLP_PARAM_BIAS, p, B_COUNT[l]));
        ck_flp(flp_net_set_param(trunk, LIN[l], FLP_PARAM_BIAS, p, B_COUNT[l]));
    }
    enum { N = K * BATCH };
    float H[N * H2], Hq[NQ * H2];
    ck_flp(flp_net_forward(trunk, N, s.x, H));
    ck_flp(flp_net_forward(trunk, NQ, s.xq, Hq));
    flp_net_free(trunk);
    double grad[N_OUT * (H2 + 1)] = {0}, sse = 0, sse_q = 0;
    for (int o = 0; o < N_OUT; o++) {
        const float *wo = w + o * (H2 + 1);
        for (int r = 0; r < N + NQ; r++) {
            const float *h = r < N ? H + r * H2 : Hq + (r - N) * H2;
            double e = wo[H2] - (r < N ? s.y[r * N_OUT + o] : s.yq[(r - N) * N_OUT + o]);
            for (int f = 0; f < H2; f++)
                e += (double)wo[f] * h[f];
            if (r >= N) {
                sse_q += e * e;
                continue;
            }
            sse += e * e;
            for (int f = 0; f < H2; f++)
                grad[o * (H2 + 1) + f] += 2 * e * h[f] / (N * N_OUT);
            grad[o * (H2 + 1) + H2] += 2 * e / (N * N_OUT);
        }
        for (int f = 0; f < H2; f++)
            grad[o * (H2 + 1) + f] += 2 * ridge * wo[f];
    }
    for (int j = 0; j < N_OUT * (H2 + 1); j++)
        ck_assert_msg(fabs(grad[j]) < 1e-5, "ridge objective's gradient %g at %d: not a minimum", grad[j], j);
    ck_assert_msg(fabs(fit - sse / (N * N_OUT)) < 1e-5, "fit_mse %g, readout's %g", fit, sse / (N * N_OUT));
    ck_assert_msg(fabs(query - sse_q / (NQ * N_OUT)) < 1e-5, "query_mse %g, readout's %g", query,
                  sse_q / (NQ * N_OUT));
    free_setup(&s);
}
END_TEST

START_TEST(bad_inputs)
{
    setup s;
    make_setup(&s, FLP_RULE_OJA);
    double d[K * 3];
    float w[N_OUT * (H2 + 1)];
    ck_flp_fails(flp_analysis_update_trace(NULL, s.ep, K, 2, d, d), FLP_ERR_NULL);
    ck_flp_fails(flp_analysis_update_trace(s.lt, s.ep, K - 1, 2, d, d), FLP_ERR_SHAPE);
    ck_flp_fails(flp_analysis_update_trace(s.lt, s.ep, K, 3, d, d), FLP_ERR_SHAPE);
    ck_flp_fails(flp_analysis_interference(s.lt, s.ep, S_TASK, N_TASKS, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_analysis_interference(s.lt, s.ep, 0, N_TASKS, d), FLP_ERR_RANGE);
    ck_flp_fails(flp_analysis_interference(s.lt, s.ep, 4, 2, d), FLP_ERR_SHAPE);
    ck_flp_fails(flp_analysis_linear_probe(s.lt, s.ep, 0.0, d, d, NULL, 0), FLP_ERR_RANGE);
    ck_flp_fails(flp_analysis_linear_probe(s.lt, s.ep, NAN, d, d, NULL, 0), FLP_ERR_RANGE);
    ck_flp_fails(flp_analysis_linear_probe(s.lt, s.ep, 1e-3, d, d, w, N_OUT * H2), FLP_ERR_SHAPE);
    free_setup(&s);
    /* the gradient rule runs labelled episodes, which the probe refuses */
    make_setup(&s, FLP_RULE_GRADIENT);
    flp_episode *lab;
    int32_t labels[K * BATCH] = {0}, lq[NQ] = {0};
    ck_flp(flp_episode_create(&lab));
    ck_flp(flp_episode_set_classes(lab, K, BATCH, N_IN, N_OUT, s.x, labels, NQ, s.xq, lq));
    ck_flp_fails(flp_analysis_linear_probe(s.lt, lab, 1e-3, d, d, NULL, 0), FLP_ERR_UNSUPPORTED);
    flp_episode_free(lab);
    free_setup(&s);
}
END_TEST

Suite *make_analysis_suite(void)
{
    Suite *su = suite_create("analysis");
    TCase *tc = tcase_create("analysis");
    tcase_add_test(tc, trace_oja);
    tcase_add_test(tc, trace_gradient);
    tcase_add_test(tc, interference);
    tcase_add_test(tc, linear_probe);
    tcase_add_test(tc, bad_inputs);
    suite_add_tcase(su, tc);
    return su;
}
