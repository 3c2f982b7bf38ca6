/* fewshot_model.h - the online few-shot classification setup of Lindsey &
 * Litwin-Kumar (2020) for images (Omniglot, Mini-ImageNet): a frozen
 * convolutional front-end, plastic dense layers, FLP or the gradient-based
 * baseline, Adam. Shared by the flp-omniglot and flp-miniimagenet programs
 * through fewshot_driver.c. Public API only. */
#ifndef FLP_APPS_FEWSHOT_MODEL_H
#define FLP_APPS_FEWSHOT_MODEL_H

#include <flp/flp.h>

#include "model_parts.h"

/* The paper's front-end: six 3x3 convolutions, these strides, no padding. */
#define FEWSHOT_MAX_CONV 6
extern const int64_t fewshot_conv_strides[FEWSHOT_MAX_CONV];

typedef struct {
    int64_t channels_in;    /* image channels: 1 Omniglot, 3 Mini-ImageNet */
    int64_t size;           /* images are size x size */
    int64_t channels;       /* of every convolution */
    int conv_layers;        /* the first N of the paper's six */
    int64_t width;          /* hidden dense width */
    int depth;              /* hidden dense layers */
    int plastic;            /* last N dense layers plastic (1 = the feature-reuse control) */
    flp_rule_kind rule;
    flp_order order;
    int64_t ways, shots, query;
    double alpha_init;      /* plasticity coefficients, or the gradient rule's inner rates */
    double hidden_mult;     /* FLP: multiplier of hidden layers' updates */
    double lr_weights, lr_feedback, lr_plasticity;
    double memory_mib;      /* < 0: library default */
} fewshot_config;

/* The paper's configuration for 1-channel images. */
fewshot_config fewshot_config_default(void);

/* Build network (Kaiming normal), feedback (one-hot target signal, clamped
 * output, B Kaiming, beta 1 frozen), rule, lifetime and Adam from `seed`
 * into *m (the sampler is made by the driver, which owns the data). On
 * error every handle made so far is freed, *m is zeroed and the status
 * returned (flp_last_error() says what failed); model_handles_free frees
 * them after use. */
flp_status fewshot_model_create(const fewshot_config *cfg, uint64_t seed, model_handles *m);

/* The % of ep's query examples misclassified (argmax of the outputs) by the
 * network as the last lifetime run on `lt` left it: after a meta-training
 * step on `ep`, its training error. */
flp_status fewshot_final_error(flp_lifetime *lt, const flp_episode *ep, double *error_pct);
/* Run a lifetime on `ep` (no gradient), then fewshot_final_error. */
flp_status fewshot_query_error(flp_lifetime *lt, const flp_episode *ep, double *error_pct);

#endif
