/* omniglot_episode.c - one online 5-way 5-shot Omniglot episode through a
 * lifetime.
 *
 *     omniglot_episode DIR
 *
 * DIR is an Omniglot folder in the official layout, e.g.
 * images_background_small1 unzipped. The images are read at 28x28 and the
 * alphabets split by name: the first 3 for meta-training, the others for
 * evaluation. One evaluation episode (5 classes, 5 drawings of each shown
 * one at a time, then 5 more of each as the query) runs through a lifetime
 * of a network that was never meta-trained: one plastic layer from the
 * pixels to the 5 outputs, clamped to the one-hot target, so that Oja's
 * rule makes each output's weights a running prototype of its class.
 * Prints the query accuracy (chance is 20%); meta-training (flp-omniglot)
 * adds the features and plasticity that do better. Without DIR it says so
 * and exits 77, which tests count as skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <flp/flp.h>

#include "common.h"

enum { SIZE = 28, WAYS = 5, SHOTS = 5, QUERY = 5 };

int main(int argc, char **argv)
{
    struct stat st;
    if (argc != 2 || stat(argv[1], &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "omniglot_episode: no Omniglot folder given or found (%s); usage: omniglot_episode DIR, "
                "e.g. images_background_small1 unzipped\n", argc > 1 ? argv[1] : "none");
        return 77;
    }
    flp_dataset *all, *train, *eval;
    CHECK(flp_dataset_open_omniglot(argv[1], SIZE, &all));
    CHECK(flp_dataset_split_by_alphabet(all, 3, &train, &eval));
    flp_dataset_free(all); /* the views keep the images */
    flp_sampler *tasks;
    CHECK(flp_sampler_create_fewshot(train, eval, 42, &tasks));
    CHECK(flp_sampler_set(tasks, FLP_FEWSHOT_WAYS, WAYS));
    CHECK(flp_sampler_set(tasks, FLP_FEWSHOT_SHOTS, SHOTS));
    CHECK(flp_sampler_set(tasks, FLP_FEWSHOT_QUERY_PER_CLASS, QUERY));
    flp_episode *ep; /* 25 steps of one [1, 28, 28] image, labels 0..4; 25 queries */
    CHECK(flp_episode_create(&ep));
    CHECK(flp_sampler_next(tasks, FLP_SPLIT_EVAL, ep));

    int64_t shape[3] = {1, SIZE, SIZE};
    flp_net *net;
    CHECK(flp_net_create(3, shape, &net));
    CHECK(flp_net_add_flatten(net)); /* [1, 28, 28] -> 784 */
    CHECK(flp_net_add_linear(net, WAYS, 1));
    flp_rng *rng;
    CHECK(flp_rng_create(1, &rng));
    CHECK(flp_net_init(net, FLP_INIT_KAIMING_NORMAL, rng));
    flp_feedback *fb; /* the one-hot target as the signal; the output clamped to it */
    CHECK(flp_feedback_create(net, &fb));
    CHECK(flp_feedback_init(fb, rng, 1.0f));
    CHECK(flp_feedback_set(fb, FLP_FEEDBACK_SIGNAL, FLP_SIGNAL_TARGET));
    CHECK(flp_feedback_set(fb, FLP_FEEDBACK_CLAMP_OUTPUT, 1));
    flp_rule *rule;
    CHECK(flp_rule_create(net, FLP_RULE_OJA, &rule));
    CHECK(flp_rule_set(rule, FLP_RULE_ALPHA_INIT, 0.1));
    flp_lifetime *lt;
    CHECK(flp_lifetime_create(net, fb, rule, &lt));

    float loss, scores[WAYS * QUERY * WAYS];
    const float *xq;
    const int32_t *lq;
    int64_t n_query, n;
    CHECK(flp_lifetime_run(lt, ep, 0, &loss)); /* the lifetime, no meta-gradient */
    CHECK(flp_episode_shape(ep, NULL, NULL, NULL, NULL, &n_query, NULL));
    CHECK(flp_episode_floats(ep, FLP_EPISODE_XQ, &xq, &n));
    CHECK(flp_episode_labels(ep, FLP_EPISODE_LQ, &lq, &n));
    CHECK(flp_lifetime_predict(lt, n_query, xq, scores)); /* with the lifetime's final weights */
    int right = 0;
    for (int64_t q = 0; q < n_query; q++) {
        int best = 0;
        for (int j = 1; j < WAYS; j++)
            best = scores[q * WAYS + j] > scores[q * WAYS + best] ? j : best;
        right += best == lq[q];
    }
    printf("%d-way %d-shot episode: %d of %lld queries right, accuracy %.0f%% (chance %.0f%%), "
           "query loss %.3f\n", WAYS, SHOTS, right, (long long)n_query, 100.0 * right / (double)n_query,
           100.0 / WAYS, loss);

    flp_lifetime_free(lt);
    flp_rule_free(rule);
    flp_feedback_free(fb);
    flp_rng_free(rng);
    flp_net_free(net);
    flp_episode_free(ep);
    flp_sampler_free(tasks);
    flp_dataset_free(train);
    flp_dataset_free(eval);
    return 0;
}
