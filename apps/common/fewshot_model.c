/* fewshot_model.c - see fewshot_model.h. */
#include "fewshot_model.h"

#include <string.h>

const int64_t fewshot_conv_strides[FEWSHOT_MAX_CONV] = {2, 1, 2, 1, 2, 2};

fewshot_config fewshot_config_default(void)
{
    fewshot_config c;
    memset(&c, 0, sizeof c);
    c.channels_in = 1;
    c.size = 84;
    c.channels = 256;
    c.conv_layers = FEWSHOT_MAX_CONV;
    c.width = 1024;
    c.depth = 2;
    c.plastic = 3;
    c.rule = FLP_RULE_OJA;
    c.order = FLP_ORDER_IID;
    c.ways = 5;
    c.shots = 5;
    c.query = 5;
    c.alpha_init = 1e-3;
    c.hidden_mult = 100;
    c.lr_weights = 1e-4;
    c.lr_feedback = 1e-4;
    c.lr_plasticity = 1e-5;
    c.memory_mib = -1;
    return c;
}

static flp_status build_net(const fewshot_config *cfg, flp_rng *rng, flp_net **out)
{
    int64_t shape[3] = {cfg->channels_in, cfg->size, cfg->size};
    MODEL_TRY(flp_net_create(3, shape, out));
    for (int i = 0; i < cfg->conv_layers; i++) {
        MODEL_TRY(flp_net_add_conv2d(*out, cfg->channels, 3, 3, fewshot_conv_strides[i], 0, 1));
        MODEL_TRY(flp_net_add_relu(*out));
    }
    MODEL_TRY(flp_net_add_flatten(*out));
    for (int i = 0; i < cfg->depth; i++) {
        MODEL_TRY(flp_net_add_linear(*out, cfg->width, 1));
        MODEL_TRY(flp_net_add_relu(*out));
    }
    MODEL_TRY(flp_net_add_linear(*out, cfg->ways, 1));
    return flp_net_init(*out, FLP_INIT_KAIMING_NORMAL, rng);
}

static flp_status configure_meta(const fewshot_config *cfg, flp_meta *meta)
{
    MODEL_TRY(model_paper_adam(meta, cfg->lr_weights, cfg->lr_feedback, cfg->lr_plasticity));
    MODEL_TRY(flp_meta_freeze(meta, FLP_GROUP_STRENGTH, 1)); /* beta stays 1, as the paper's Omniglot runs */
    return flp_meta_set(meta, FLP_META_NONFINITE, 1);  /* zero non-finite entries, as the reference */
}

static flp_status build(const fewshot_config *cfg, flp_rng *rng, model_handles *m)
{
    MODEL_TRY(build_net(cfg, rng, &m->net));
    MODEL_TRY(flp_feedback_create(m->net, &m->fb));
    MODEL_TRY(flp_feedback_init(m->fb, rng, 1.0f));
    MODEL_TRY(flp_feedback_set(m->fb, FLP_FEEDBACK_SIGNAL, FLP_SIGNAL_TARGET));
    MODEL_TRY(flp_feedback_set(m->fb, FLP_FEEDBACK_CLAMP_OUTPUT, 1));
    MODEL_TRY(flp_rule_create(m->net, cfg->rule, &m->rule));
    MODEL_TRY(flp_rule_set(m->rule, FLP_RULE_PLASTIC_LAST, cfg->plastic));
    MODEL_TRY(flp_rule_set(m->rule, FLP_RULE_ALPHA_INIT, cfg->alpha_init));
    if (cfg->rule != FLP_RULE_GRADIENT)
        MODEL_TRY(flp_rule_set(m->rule, FLP_RULE_HIDDEN_MULTIPLIER, cfg->hidden_mult));
    MODEL_TRY(model_lifetime_meta(m, cfg->memory_mib));
    return configure_meta(cfg, m->meta);
}

flp_status fewshot_model_create(const fewshot_config *cfg, uint64_t seed, model_handles *m)
{
    memset(m, 0, sizeof *m);
    flp_rng *rng;
    MODEL_TRY(flp_rng_create(seed, &rng));
    flp_status st = build(cfg, rng, m);
    flp_rng_free(rng);
    if (st != FLP_OK)
        model_handles_free(m);
    return st;
}

flp_status fewshot_final_error(flp_lifetime *lt, const flp_episode *ep, double *error_pct)
{
    int64_t correct, n;
    MODEL_TRY(model_query_correct(lt, ep, &correct, &n));
    *error_pct = 100.0 * (double)(n - correct) / (double)n;
    return FLP_OK;
}

flp_status fewshot_query_error(flp_lifetime *lt, const flp_episode *ep, double *error_pct)
{
    float loss;
    MODEL_TRY(flp_lifetime_run(lt, ep, 0, &loss));
    return fewshot_final_error(lt, ep, error_pct);
}
