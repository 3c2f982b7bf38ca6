/*
 * flp.h - libflp: meta-learning networks that learn by feedback and local
 * plasticity. Include this one header.
 *
 * A complete program, meta-training on incremental sine waves. Error checks
 * are elided but for the last call's: every call returns an flp_status, and
 * flp_last_error() explains a failure. It is examples/tutorial.c, which the
 * tests build, run, and compare with this text:
 *
 *     // examples/tutorial.c: meta-train FLP on incremental sine waves.
 *     #include <stdio.h>
 *     #include <stdlib.h>
 *
 *     #include <flp/flp.h>
 *
 *     int main(int argc, char **argv)
 *     {
 *         long steps = argc > 1 ? atol(argv[1]) : 20000;     // meta-steps; the paper runs 20,000
 *         flp_rng *rng;        flp_rng_create(1, &rng);
 *         int64_t in = 11;
 *         flp_net *net;        flp_net_create(1, &in, &net);
 *         for (int i = 0; i < 3; i++) { flp_net_add_linear(net, 300, 1); flp_net_add_relu(net); }
 *         flp_net_add_linear(net, 1, 1);
 *         flp_net_init(net, FLP_INIT_KAIMING_NORMAL, rng);
 *
 *         flp_feedback *fb;    flp_feedback_create(net, &fb);
 *         flp_feedback_init(fb, rng, 0.5f);                // B Kaiming, beta = 0.5
 *         flp_rule *rule;      flp_rule_create(net, FLP_RULE_OJA, &rule);
 *         flp_rule_set(rule, FLP_RULE_PLASTIC_LAST, 3);
 *
 *         flp_lifetime *lt;    flp_lifetime_create(net, fb, rule, &lt);
 *         flp_meta *meta;      flp_meta_create(net, fb, rule, &meta);
 *         flp_meta_set_lr(meta, FLP_GROUP_PLASTICITY, 1e-8);
 *         flp_sampler *tasks;  flp_sampler_create_sine(42, &tasks);
 *         flp_episode *ep;     flp_episode_create(&ep);
 *
 *         float loss = 0;
 *         for (long step = 0; step < steps; step++) {
 *             flp_sampler_next(tasks, FLP_SPLIT_TRAIN, ep);
 *             flp_meta_train_step(meta, lt, ep, &loss);    // lifetime + exact meta-gradient + Adam
 *         }
 *         printf("meta-loss %.4g after %ld meta-steps\n", loss, steps);
 *         flp_status st = flp_checkpoint_save("sine.ckpt", meta, tasks);
 *         if (st != FLP_OK)
 *             fprintf(stderr, "%s\n", flp_last_error());  // what failed, and why
 *
 *         flp_episode_free(ep);     flp_sampler_free(tasks);  flp_meta_free(meta);
 *         flp_lifetime_free(lt);    flp_rule_free(rule);      flp_feedback_free(fb);
 *         flp_net_free(net);        flp_rng_free(rng);
 *         return st == FLP_OK ? 0 : 1;
 *     }
 *
 * Headers by concern: flp_common.h (status codes, versions, threads),
 * flp_rng.h, flp_net.h (networks), flp_plasticity.h (feedback pathways and
 * rules), flp_episode.h (episodes and task samplers), flp_lifetime.h (the
 * inner loop and its meta-gradient), flp_meta.h (Adam and checkpoints),
 * flp_params.h (every meta-parameter as a named tensor: value, gradient,
 * Adam's moments), flp_batch.h (meta-batches of lifetimes run concurrently),
 * flp_data.h (Omniglot and Mini-ImageNet data sets, few-shot episodes),
 * flp_analysis.h (what a lifetime does to the network).
 *
 * Experimental parts: the rule family over chained feedback, the gradient
 * rule's second order, re-initialised lifetimes and the analyses may still
 * change. They are declared only where FLP_EXPERIMENTAL is defined before
 * this header is included (#define FLP_EXPERIMENTAL, or -DFLP_EXPERIMENTAL),
 * and a program that uses them must be built against one exact libflp
 * version. Everything else keeps its ABI within a major version.
 * Conventions: doc/CONVENTIONS.md.
 */
#ifndef FLP_H
#define FLP_H

#include "flp_common.h"
#include "flp_rng.h"
#include "flp_net.h"
#include "flp_plasticity.h"
#include "flp_episode.h"
#include "flp_lifetime.h"
#include "flp_meta.h"
#include "flp_params.h"
#include "flp_batch.h"
#include "flp_data.h"
#include "flp_analysis.h"

#endif /* FLP_H */
