/* model_parts.c - see model_parts.h. */
#include "model_parts.h"

flp_status model_lifetime_meta(flp_net *net, flp_feedback *fb, flp_rule *rule, double memory_mib,
                               flp_lifetime **lt, flp_meta **meta)
{
    MODEL_TRY(flp_lifetime_create(net, fb, rule, lt));
    if (memory_mib >= 0)
        MODEL_TRY(flp_lifetime_set(*lt, FLP_LIFETIME_MEMORY_BUDGET, memory_mib * 1048576.0));
    return flp_meta_create(net, fb, rule, meta);
}

flp_status model_paper_adam(flp_meta *meta, double lr_weights, double lr_feedback, double lr_plasticity)
{
    static const int64_t milestones[] = {1500, 2500, 3500};
    MODEL_TRY(flp_meta_set_lr(meta, FLP_GROUP_WEIGHTS, lr_weights));
    MODEL_TRY(flp_meta_set_step_decay(meta, FLP_GROUP_WEIGHTS, 0.3, milestones, 3));
    MODEL_TRY(flp_meta_set_lr(meta, FLP_GROUP_FEEDBACK, lr_feedback));
    return flp_meta_set_lr(meta, FLP_GROUP_PLASTICITY, lr_plasticity);
}
