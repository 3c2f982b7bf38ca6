/* model_parts.c - see model_parts.h. */
#include "model_parts.h"

#include <stdlib.h>
#include <string.h>

void model_handles_free(model_handles *h)
{
    flp_meta_free(h->meta);
    flp_lifetime_free(h->lt);
    flp_rule_free(h->rule);
    flp_feedback_free(h->fb);
    flp_net_free(h->net);
    memset(h, 0, sizeof *h);
}

flp_status model_lifetime_meta(model_handles *h, double memory_mib)
{
    MODEL_TRY(flp_lifetime_create(h->net, h->fb, h->rule, &h->lt));
    if (memory_mib >= 0)
        MODEL_TRY(flp_lifetime_set(h->lt, FLP_LIFETIME_MEMORY_BUDGET, memory_mib * 1048576.0));
    return flp_meta_create(h->net, h->fb, h->rule, &h->meta);
}

flp_status model_paper_adam(flp_meta *meta, double lr_weights, double lr_feedback, double lr_plasticity)
{
    static const int64_t milestones[] = {1500, 2500, 3500};
    MODEL_TRY(flp_meta_set_lr(meta, FLP_GROUP_WEIGHTS, lr_weights));
    MODEL_TRY(flp_meta_set_step_decay(meta, FLP_GROUP_WEIGHTS, 0.3, milestones, 3));
    MODEL_TRY(flp_meta_set_lr(meta, FLP_GROUP_FEEDBACK, lr_feedback));
    return flp_meta_set_lr(meta, FLP_GROUP_PLASTICITY, lr_plasticity);
}

flp_status model_query_correct(flp_lifetime *lt, const flp_episode *ep, int64_t *correct, int64_t *n)
{
    int64_t n_out, n_query, count;
    const float *xq;
    const int32_t *lq;
    MODEL_TRY(flp_episode_shape(ep, NULL, NULL, NULL, &n_out, &n_query, NULL));
    MODEL_TRY(flp_episode_floats(ep, FLP_EPISODE_XQ, &xq, &count));
    MODEL_TRY(flp_episode_labels(ep, FLP_EPISODE_LQ, &lq, &count));
    float *y = malloc((size_t)(n_query * n_out) * sizeof *y);
    if (y == NULL)
        return FLP_ERR_NOMEM;
    flp_status st = flp_lifetime_predict(lt, n_query, xq, y);
    int64_t right = 0;
    for (int64_t q = 0; st == FLP_OK && q < n_query; q++) {
        int64_t best = 0;
        for (int64_t j = 1; j < n_out; j++)
            best = y[q * n_out + j] > y[q * n_out + best] ? j : best;
        right += best == lq[q];
    }
    free(y);
    *correct = right;
    *n = n_query;
    return st;
}
