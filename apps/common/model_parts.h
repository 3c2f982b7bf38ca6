/* model_parts.h - what the sine model (sine_model.c), the few-shot model
 * (fewshot_model.c) and flp-rules build alike: the handles of a run, the
 * lifetime and meta-learner over a network, the paper's Adam schedule, and
 * the query accuracy of a classifier. Public API only; errors are returned
 * (flp_last_error() says why). */
#ifndef FLP_APPS_MODEL_PARTS_H
#define FLP_APPS_MODEL_PARTS_H

#include <flp/flp.h>

/* Return the status of `expr` unless it is FLP_OK. */
#define MODEL_TRY(expr)                 \
    do {                                \
        flp_status try_st = (expr);     \
        if (try_st != FLP_OK)           \
            return try_st;              \
    } while (0)

/* The handles of a meta-training run over one network. */
typedef struct {
    flp_net *net;
    flp_feedback *fb;       /* its pathways */
    flp_rule *rule;         /* its plasticity */
    flp_lifetime *lt;       /* the inner loop over the three */
    flp_meta *meta;         /* Adam over their meta-parameters */
} model_handles;

/* Free every handle of h (NULL ones too) and zero it. */
void model_handles_free(model_handles *h);

/* The lifetime and the meta-learner over h's net, fb and rule, into h->lt
 * and h->meta. memory_mib >= 0 sets the lifetime's memory budget in MiB (0:
 * unlimited); < 0 keeps the library's default. On failure the caller frees
 * what h holds. */
flp_status model_lifetime_meta(model_handles *h, double memory_mib);

/* The paper's Adam rates: initial weights and biases at lr_weights, x0.3
 * at meta-steps 1500, 2500 and 3500; feedback weights and plasticity
 * coefficients at theirs. */
flp_status model_paper_adam(flp_meta *meta, double lr_weights, double lr_feedback, double lr_plasticity);

/* How many of ep's query examples the network, as the last lifetime run on
 * `lt` left it, classifies right (the argmax of its outputs, the first on a
 * tie); *n gets the number of query examples. */
flp_status model_query_correct(flp_lifetime *lt, const flp_episode *ep, int64_t *correct, int64_t *n);

#endif
