/* custom_episode.c - meta-train FLP on tasks of your own, each episode
 * built from plain arrays with flp_episode_set_regression.
 *
 * A task is a line y = a x + b (a, b drawn afresh for every episode). A
 * lifetime is shown STEPS batches of BATCH points of it, one batch per inner
 * step, and is then scored on QUERY new points (the meta-loss, their mean
 * squared error). For classification, flp_episode_set_classes takes int32
 * class labels in place of y.
 *
 *     custom_episode [META_STEPS]        (default 300)
 *
 * Prints the mean query MSE on the same held-out lines before and after
 * meta-training; the second is the lower. */
#include <stdio.h>
#include <stdlib.h>

#include <flp/flp.h>

#include "common.h"

enum { STEPS = 20, BATCH = 5, QUERY = 20, HELD_OUT = 20 };

/* A fresh line and its points, from rng, into ep (the arrays are copied). */
static void draw_task(flp_rng *rng, flp_episode *ep)
{
    float ab[2], x[STEPS * BATCH], y[STEPS * BATCH], xq[QUERY], yq[QUERY];
    CHECK(flp_rng_uniform(rng, -1, 1, ab, 2));
    CHECK(flp_rng_uniform(rng, -1, 1, x, STEPS * BATCH));
    CHECK(flp_rng_uniform(rng, -1, 1, xq, QUERY));
    for (int i = 0; i < STEPS * BATCH; i++)
        y[i] = ab[0] * x[i] + ab[1];
    for (int i = 0; i < QUERY; i++)
        yq[i] = ab[0] * xq[i] + ab[1];
    /* x [STEPS, BATCH, 1], y [STEPS, BATCH, 1], xq [QUERY, 1], yq [QUERY, 1] */
    CHECK(flp_episode_set_regression(ep, STEPS, BATCH, 1, 1, x, y, QUERY, xq, yq));
}

/* Mean query MSE after a lifetime on HELD_OUT lines, the same ones at
 * every call (their own seed), without meta-gradient. */
static double held_out_mse(flp_lifetime *lt, flp_episode *ep)
{
    flp_rng *rng;
    CHECK(flp_rng_create(1000, &rng));
    double sum = 0;
    for (int t = 0; t < HELD_OUT; t++) {
        float loss;
        draw_task(rng, ep);
        CHECK(flp_lifetime_run(lt, ep, 0, &loss));
        sum += loss;
    }
    flp_rng_free(rng);
    return sum / HELD_OUT;
}

int main(int argc, char **argv)
{
    long meta_steps = argc > 1 ? atol(argv[1]) : 300;
    flp_rng *rng;
    CHECK(flp_rng_create(7, &rng));
    int64_t in = 1;
    flp_net *net;
    CHECK(flp_net_create(1, &in, &net));
    CHECK(flp_net_add_linear(net, 32, 1));
    CHECK(flp_net_add_relu(net));
    CHECK(flp_net_add_linear(net, 1, 1));
    CHECK(flp_net_init(net, FLP_INIT_KAIMING_NORMAL, rng));
    flp_feedback *fb;
    CHECK(flp_feedback_create(net, &fb));
    CHECK(flp_feedback_init(fb, rng, 0.5f));
    flp_rule *rule; /* Oja's rule in both layers, coefficients meta-learned from 0.01 */
    CHECK(flp_rule_create(net, FLP_RULE_OJA, &rule));
    CHECK(flp_rule_set(rule, FLP_RULE_ALPHA_INIT, 0.01));
    flp_lifetime *lt;
    CHECK(flp_lifetime_create(net, fb, rule, &lt));
    flp_meta *meta;
    CHECK(flp_meta_create(net, fb, rule, &meta));
    CHECK(flp_meta_set_lr(meta, FLP_GROUP_PLASTICITY, 1e-4));
    flp_episode *ep;
    CHECK(flp_episode_create(&ep));

    double before = held_out_mse(lt, ep);
    for (long s = 0; s < meta_steps; s++) {
        float loss;
        draw_task(rng, ep);
        CHECK(flp_meta_train_step(meta, lt, ep, &loss));
    }
    double after = held_out_mse(lt, ep);
    printf("held-out query MSE %.4f before, %.4f after %ld meta-steps\n", before, after, meta_steps);

    flp_episode_free(ep);
    flp_meta_free(meta);
    flp_lifetime_free(lt);
    flp_rule_free(rule);
    flp_feedback_free(fb);
    flp_net_free(net);
    flp_rng_free(rng);
    return 0;
}
