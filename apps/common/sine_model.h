/* sine_model.h - the incremental-sine setup of Lindsey & Litwin-Kumar
 * (2020), shared by flp-sine, flp-compare and the flp-bench benchmark.
 * Public API only. */
#ifndef FLP_APPS_SINE_MODEL_H
#define FLP_APPS_SINE_MODEL_H

#include <flp/flp.h>

#include "model_parts.h"

/* Paper defaults (DESIGN.md §1.1, §2). */
#define SINE_WIDTH 300
#define SINE_DEPTH 8        /* hidden layers: 5 of W, 1 of 3W, 2 of W */
#define SINE_TASKS 10

typedef struct {
    int64_t width;          /* W */
    int depth;              /* hidden layers */
    int plastic;            /* last N linear layers plastic */
    flp_rule_kind rule;
    flp_order order;
    int64_t batches_per_task;
    int64_t batch;
    double memory_mib;      /* < 0: library default */
    double inner_lr;        /* FLP_RULE_GRADIENT: initial inner learning rates */
    /* Adam base rates of the four groups (weights decay x0.3 at 1500/2500/3500). */
    double lr_weights, lr_feedback, lr_plasticity, lr_strength;
} sine_config;

/* Every handle of a meta-training run: the model's and its task sampler. */
typedef struct {
    model_handles h;
    flp_sampler *sampler;
} sine_model;

/* The paper's configuration (i.i.d., Oja, 3 plastic layers). */
sine_config sine_config_default(void);

/* Width of hidden layer i (0-based) of a `depth`-layer stack: W, except the
 * third from last, which is 3W (the paper's 300-...-900-300-300). */
int64_t sine_hidden_width(const sine_config *cfg, int i);

/* Build the network (Kaiming normal), feedback (B Kaiming, beta 0.5), rule
 * (alpha 0), lifetime, meta-optimizer (paper rates) and sampler from `seed`.
 * On error every handle made so far is freed, *m is zeroed and the status
 * returned (flp_last_error() says what failed). */
flp_status sine_model_create(const sine_config *cfg, uint64_t seed, sine_model *m);
/* A sampler configured like the model's, from `seed` (for evaluation);
 * *out is NULL on error. */
flp_status sine_sampler_create(const sine_config *cfg, uint64_t seed, flp_sampler **out);
void sine_model_free(sine_model *m);

/* Query MSE after a lifetime (no gradient) on `runs` evaluation episodes:
 * fresh sinusoids, never in the training pool, from a sampler made anew from
 * `seed`, so that every evaluation of a run (untrained, trained, resumed)
 * sees the same tasks and the same seed gives the same numbers. *mean and
 * *se get the mean over the runs and its standard error. */
flp_status sine_evaluate(const sine_config *cfg, uint64_t seed, long runs, flp_lifetime *lt, flp_episode *ep,
                         double *mean, double *se);

#endif
