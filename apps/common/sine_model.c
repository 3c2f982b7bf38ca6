/* sine_model.c - see sine_model.h. */
#include "sine_model.h"

#include <string.h>

#include "mean_se.h"

sine_config sine_config_default(void)
{
    sine_config c;
    memset(&c, 0, sizeof c);
    c.width = SINE_WIDTH;
    c.depth = SINE_DEPTH;
    c.plastic = 3;
    c.rule = FLP_RULE_OJA;
    c.order = FLP_ORDER_IID;
    c.batches_per_task = 40;
    c.batch = 32;
    c.memory_mib = -1;
    c.inner_lr = 0.003;
    c.lr_weights = 1e-4;
    c.lr_feedback = 1e-4;
    c.lr_plasticity = 1e-8;
    c.lr_strength = 1e-4;
    return c;
}

int64_t sine_hidden_width(const sine_config *cfg, int i)
{
    return cfg->depth >= 3 && i == cfg->depth - 3 ? 3 * cfg->width : cfg->width;
}

static flp_status build_net(const sine_config *cfg, flp_rng *rng, flp_net **out)
{
    int64_t in = SINE_TASKS + 1;
    MODEL_TRY(flp_net_create(1, &in, out));
    for (int i = 0; i < cfg->depth; i++) {
        MODEL_TRY(flp_net_add_linear(*out, sine_hidden_width(cfg, i), 1));
        MODEL_TRY(flp_net_add_relu(*out));
    }
    MODEL_TRY(flp_net_add_linear(*out, 1, 1));
    return flp_net_init(*out, FLP_INIT_KAIMING_NORMAL, rng);
}

static flp_status configure_meta(const sine_config *cfg, flp_meta *meta)
{
    MODEL_TRY(model_paper_adam(meta, cfg->lr_weights, cfg->lr_feedback, cfg->lr_plasticity));
    return flp_meta_set_lr(meta, FLP_GROUP_STRENGTH, cfg->lr_strength);
}

static flp_status configure_sampler(const sine_config *cfg, flp_sampler *s)
{
    MODEL_TRY(flp_sampler_set(s, FLP_SINE_ORDER, cfg->order));
    MODEL_TRY(flp_sampler_set(s, FLP_SINE_BATCHES_PER_TASK, (double)cfg->batches_per_task));
    return flp_sampler_set(s, FLP_SINE_BATCH, (double)cfg->batch);
}

flp_status sine_sampler_create(const sine_config *cfg, uint64_t seed, flp_sampler **out)
{
    MODEL_TRY(flp_sampler_create_sine(seed, out));
    flp_status st = configure_sampler(cfg, *out);
    if (st != FLP_OK) {
        flp_sampler_free(*out);
        *out = NULL;
    }
    return st;
}

static flp_status build(const sine_config *cfg, flp_rng *rng, uint64_t seed, sine_model *m)
{
    model_handles *h = &m->h;
    MODEL_TRY(build_net(cfg, rng, &h->net));
    MODEL_TRY(flp_feedback_create(h->net, &h->fb));
    MODEL_TRY(flp_feedback_init(h->fb, rng, 0.5f));
    MODEL_TRY(flp_rule_create(h->net, cfg->rule, &h->rule));
    MODEL_TRY(flp_rule_set(h->rule, FLP_RULE_PLASTIC_LAST, cfg->plastic));
    if (cfg->rule == FLP_RULE_GRADIENT) /* its coefficients are the inner learning rates */
        MODEL_TRY(flp_rule_set(h->rule, FLP_RULE_ALPHA_INIT, cfg->inner_lr));
    MODEL_TRY(model_lifetime_meta(h, cfg->memory_mib));
    MODEL_TRY(configure_meta(cfg, h->meta));
    return sine_sampler_create(cfg, seed, &m->sampler);
}

flp_status sine_model_create(const sine_config *cfg, uint64_t seed, sine_model *m)
{
    memset(m, 0, sizeof *m);
    flp_rng *rng;
    MODEL_TRY(flp_rng_create(seed, &rng));
    flp_status st = build(cfg, rng, seed, m);
    flp_rng_free(rng);
    if (st != FLP_OK)
        sine_model_free(m);
    return st;
}

void sine_model_free(sine_model *m)
{
    flp_sampler_free(m->sampler);
    m->sampler = NULL;
    model_handles_free(&m->h);
}

/* The query losses of `runs` episodes of s. */
static flp_status eval_losses(flp_sampler *s, long runs, flp_lifetime *lt, flp_episode *ep, mean_se *acc)
{
    for (long r = 0; r < runs; r++) {
        float loss;
        MODEL_TRY(flp_sampler_next(s, FLP_SPLIT_EVAL, ep));
        MODEL_TRY(flp_lifetime_run(lt, ep, 0, &loss));
        mean_se_add(acc, loss);
    }
    return FLP_OK;
}

flp_status sine_evaluate(const sine_config *cfg, uint64_t seed, long runs, flp_lifetime *lt, flp_episode *ep,
                         double *mean, double *se)
{
    flp_sampler *s;
    mean_se acc = {0};
    MODEL_TRY(sine_sampler_create(cfg, seed, &s));
    flp_status st = eval_losses(s, runs, lt, ep, &acc);
    flp_sampler_free(s);
    MODEL_TRY(st);
    mean_se_get(&acc, mean, se);
    return FLP_OK;
}
