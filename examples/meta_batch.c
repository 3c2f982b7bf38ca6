/* meta_batch.c - meta-steps on meta-batches: several episodes per step,
 * their lifetimes run concurrently by flp_batch, their meta-gradients
 * averaged.
 *
 *     meta_batch [META_STEPS [EPISODES]]     (default 5 steps of 4 episodes)
 *
 * flp_batch sums the episodes' meta-gradients in episode order whatever the
 * number of threads, so a meta-step's result does not depend on it: the
 * program first checks that on one meta-batch (1 thread, then every
 * thread), then meta-trains on incremental sine waves, a line per meta-step.
 * Exits 1 if the two gradients differ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flp/flp.h>

#include "common.h"

enum { MAX_EPISODES = 64 };

/* The meta-gradient of episodes[0..n) summed with at most `threads` episode
 * threads (0: as many as libflp has), into grad[0..count). */
static void batch_gradient(flp_meta *meta, flp_batch *batch, const flp_episode *const *episodes, int n,
                           int threads, float *grad, int64_t count)
{
    float losses[MAX_EPISODES];
    CHECK(flp_batch_set(batch, FLP_BATCH_THREADS, threads));
    CHECK(flp_meta_zero_grad(meta));
    CHECK(flp_batch_run(batch, episodes, n, losses)); /* adds to the handles' gradients */
    CHECK(flp_meta_get_grads(meta, grad, count));
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? atol(argv[1]) : 5;
    int n = argc > 2 ? atoi(argv[2]) : 4;
    if (n < 1 || n > MAX_EPISODES) {
        fprintf(stderr, "meta_batch: EPISODES is 1 to %d\n", MAX_EPISODES);
        return 2;
    }
    CHECK(flp_set_num_threads(4)); /* threads for the episodes and their lifetimes */

    /* the sine setup of the flp.h tutorial, narrower, with short lifetimes */
    int64_t in = 11;
    flp_net *net;
    CHECK(flp_net_create(1, &in, &net));
    for (int i = 0; i < 2; i++) {
        CHECK(flp_net_add_linear(net, 64, 1));
        CHECK(flp_net_add_relu(net));
    }
    CHECK(flp_net_add_linear(net, 1, 1));
    flp_rng *rng;
    CHECK(flp_rng_create(3, &rng));
    CHECK(flp_net_init(net, FLP_INIT_KAIMING_NORMAL, rng));
    flp_feedback *fb;
    CHECK(flp_feedback_create(net, &fb));
    CHECK(flp_feedback_init(fb, rng, 0.5f));
    flp_rule *rule;
    CHECK(flp_rule_create(net, FLP_RULE_HEBB, &rule));
    CHECK(flp_rule_set(rule, FLP_RULE_PLASTIC_LAST, 2));
    flp_meta *meta;
    CHECK(flp_meta_create(net, fb, rule, &meta));
    CHECK(flp_meta_set_lr(meta, FLP_GROUP_PLASTICITY, 1e-6));
    flp_batch *batch; /* a worker lifetime per episode thread, made on first use */
    CHECK(flp_batch_create(meta, &batch));
    flp_sampler *tasks;
    CHECK(flp_sampler_create_sine(5, &tasks));
    CHECK(flp_sampler_set(tasks, FLP_SINE_BATCHES_PER_TASK, 4));
    flp_episode *eps[MAX_EPISODES];
    for (int i = 0; i < n; i++)
        CHECK(flp_episode_create(&eps[i]));
    const flp_episode *const *episodes = (const flp_episode *const *)eps;

    int64_t count;
    CHECK(flp_meta_grad_count(meta, &count));
    float *one = malloc((size_t)count * sizeof *one), *all = malloc((size_t)count * sizeof *all);
    if (!one || !all) {
        fprintf(stderr, "meta_batch: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n; i++)
        CHECK(flp_sampler_next(tasks, FLP_SPLIT_TRAIN, eps[i]));
    batch_gradient(meta, batch, episodes, n, 1, one, count);
    batch_gradient(meta, batch, episodes, n, 0, all, count);
    int same = memcmp(one, all, (size_t)count * sizeof *one) == 0;
    printf("meta-gradient of %d episodes, %lld values: %s on 1 thread and on 4\n", n, (long long)count,
           same ? "bit-identical" : "DIFFERENT");

    for (long s = 1; s <= steps; s++) {
        float losses[MAX_EPISODES];
        double mean = 0;
        for (int i = 0; i < n; i++)
            CHECK(flp_sampler_next(tasks, FLP_SPLIT_TRAIN, eps[i]));
        CHECK(flp_batch_train_step(batch, episodes, n, losses)); /* zero, run, average, Adam */
        for (int i = 0; i < n; i++)
            mean += losses[i] / n;
        printf("meta-step %ld: mean meta-loss %.4f over %d episodes\n", s, mean, n);
    }

    free(one);
    free(all);
    for (int i = 0; i < n; i++)
        flp_episode_free(eps[i]);
    flp_sampler_free(tasks);
    flp_batch_free(batch);
    flp_meta_free(meta);
    flp_rule_free(rule);
    flp_feedback_free(fb);
    flp_rng_free(rng);
    flp_net_free(net);
    return same ? 0 : 1;
}
