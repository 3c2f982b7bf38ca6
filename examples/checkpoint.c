/* checkpoint.c - save meta-training, load it into fresh handles, and go on
 * exactly where it stopped.
 *
 *     checkpoint [FILE]        (default flp-example.ckpt)
 *
 * A run meta-trains for SAVED steps and writes FILE (atomically: a crash
 * never leaves half a file), then goes on for MORE steps. A second run,
 * made from scratch with the same configuration, loads FILE (parameters,
 * Adam's moments and step count, the sampler's stream) and takes the same
 * MORE steps. Prints both runs' meta-losses of those steps, which are
 * bit-identical, and exits 1 if they are not. */
#include <stdio.h>
#include <stdlib.h>

#include <flp/flp.h>

#include "common.h"

enum { SAVED = 3, MORE = 2 };

/* A meta-training run: what a checkpoint restores is meta (with the
 * parameters of net, fb and rule it optimizes) and tasks. */
typedef struct {
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    flp_meta *meta;         /* Adam over net, fb and rule */
    flp_sampler *tasks;     /* the stream of training episodes */
    flp_lifetime *lt;       /* the inner loop */
    flp_episode *ep;
} run;

/* Every run starts alike here, but a checkpoint loads into handles of the
 * same configuration however they were initialised. */
static void run_create(run *r)
{
    int64_t in = 11;
    CHECK(flp_net_create(1, &in, &r->net));
    CHECK(flp_net_add_linear(r->net, 32, 1));
    CHECK(flp_net_add_relu(r->net));
    CHECK(flp_net_add_linear(r->net, 1, 1));
    flp_rng *rng;
    CHECK(flp_rng_create(11, &rng));
    CHECK(flp_net_init(r->net, FLP_INIT_KAIMING_NORMAL, rng));
    CHECK(flp_feedback_create(r->net, &r->fb));
    CHECK(flp_feedback_init(r->fb, rng, 0.5f));
    flp_rng_free(rng);
    CHECK(flp_rule_create(r->net, FLP_RULE_GRADIENT, &r->rule)); /* the gradient-based baseline */
    CHECK(flp_rule_set(r->rule, FLP_RULE_ALPHA_INIT, 0.003)); /* its inner learning rates */
    CHECK(flp_lifetime_create(r->net, r->fb, r->rule, &r->lt));
    CHECK(flp_meta_create(r->net, r->fb, r->rule, &r->meta));
    CHECK(flp_sampler_create_sine(8, &r->tasks));
    CHECK(flp_sampler_set(r->tasks, FLP_SINE_BATCHES_PER_TASK, 4));
    CHECK(flp_episode_create(&r->ep));
}

static void run_free(run *r)
{
    flp_episode_free(r->ep);
    flp_sampler_free(r->tasks);
    flp_meta_free(r->meta);
    flp_lifetime_free(r->lt);
    flp_rule_free(r->rule);
    flp_feedback_free(r->fb);
    flp_net_free(r->net);
}

static void train(run *r, int steps, float *losses)
{
    for (int s = 0; s < steps; s++) {
        CHECK(flp_sampler_next(r->tasks, FLP_SPLIT_TRAIN, r->ep));
        CHECK(flp_meta_train_step(r->meta, r->lt, r->ep, &losses[s]));
    }
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "flp-example.ckpt";
    float first[SAVED], straight[MORE], resumed[MORE];
    run a, b;
    run_create(&a);
    train(&a, SAVED, first);
    CHECK(flp_checkpoint_save(path, a.meta, a.tasks));
    train(&a, MORE, straight);

    run_create(&b);
    CHECK(flp_checkpoint_load(path, b.meta, b.tasks));
    int64_t done;
    CHECK(flp_meta_step_count(b.meta, &done));
    train(&b, MORE, resumed);

    int same = 1;
    printf("saved after %d meta-steps to %s; loaded: %lld meta-steps done\n", SAVED, path, (long long)done);
    for (int s = 0; s < MORE; s++) {
        same &= straight[s] == resumed[s];
        printf("meta-step %d: meta-loss %.9g straight, %.9g resumed\n", SAVED + s + 1, straight[s], resumed[s]);
    }
    printf("%s\n", same ? "resumed run bit-identical to the straight one" : "RESUMED RUN DIFFERS");
    run_free(&a);
    run_free(&b);
    return same ? 0 : 1;
}
