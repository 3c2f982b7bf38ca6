/* rules_model.c - see rules_model.h. */
#include "rules_model.h"

#include <string.h>

#include "cli.h"

static void open_data(const options *o, rules_model *m)
{
    if (o->data) {
        CLI_CHECK(flp_dataset_open_idx(o->data, "train", &m->train));
        CLI_CHECK(flp_dataset_open_idx(o->data, "t10k", &m->eval));
        return;
    }
    flp_dataset *all;
    CLI_CHECK(flp_dataset_open_omniglot(o->omniglot, 28, &all));
    CLI_CHECK(flp_dataset_split_by_alphabet(all, 3, &m->train, &m->eval));
    flp_dataset_free(all);
}

void rules_sampler_create(const options *o, const rules_model *m, uint64_t seed, flp_sampler **s)
{
    CLI_CHECK(flp_sampler_create_fewshot(m->train, m->eval, seed, s));
    CLI_CHECK(flp_sampler_set(*s, FLP_FEWSHOT_WAYS, (double)o->ways));
    CLI_CHECK(flp_sampler_set(*s, FLP_FEWSHOT_SHOTS, (double)o->shots));
    CLI_CHECK(flp_sampler_set(*s, FLP_FEWSHOT_QUERY_PER_CLASS, (double)o->query));
}

static void build_net(const options *o, flp_net **net, int64_t n_in)
{
    CLI_CHECK(flp_net_create(1, &n_in, net));
    for (long i = 0; i < o->n_hidden; i++) {
        CLI_CHECK(flp_net_add_linear(*net, o->hidden[i], 0));
        CLI_CHECK(flp_net_add_softplus(*net, 10.0f));
    }
    CLI_CHECK(flp_net_add_linear(*net, o->ways, 0));
}

static void build_rule(const options *o, model_handles *h)
{
    CLI_CHECK(flp_rule_create(h->net, FLP_RULE_FAMILY, &h->rule));
    CLI_CHECK(flp_rule_set(h->rule, FLP_RULE_TERMS, o->terms));
    CLI_CHECK(flp_rule_set(h->rule, FLP_RULE_THETA_L1, o->l1));
    float theta[N_TERMS];
    for (int t = 0; t < N_TERMS; t++)
        theta[t] = o->terms >> t & 1 ? (float)o->theta[t] : 0.0f;
    CLI_CHECK(flp_rule_set_theta(h->rule, theta, N_TERMS));
}

void rules_model_create(const options *o, rules_model *m)
{
    memset(m, 0, sizeof *m);
    model_handles *h = &m->h;
    open_data(o, m);
    rules_sampler_create(o, m, o->seed, &m->sampler);
    int64_t n_in, n_out;
    int labelled;
    CLI_CHECK(flp_sampler_io_size(m->sampler, &n_in, &n_out, &labelled));
    build_net(o, &h->net, n_in);
    flp_rng *rng;
    CLI_CHECK(flp_rng_create(o->seed, &rng));
    CLI_CHECK(flp_feedback_create(h->net, &h->fb));
    CLI_CHECK(flp_feedback_set(h->fb, FLP_FEEDBACK_KIND, o->symmetric ? FLP_FEEDBACK_SYMMETRIC : FLP_FEEDBACK_CHAINED));
    CLI_CHECK(flp_feedback_init(h->fb, rng, 1.0f));
    flp_rng_free(rng);
    build_rule(o, h);
    CLI_CHECK(model_lifetime_meta(h, -1));
    CLI_CHECK(flp_lifetime_set(h->lt, FLP_LIFETIME_REINIT, 1));
    CLI_CHECK(flp_lifetime_set(h->lt, FLP_LIFETIME_REINIT_SEED, (double)o->seed));
    /* only theta learns: the weights are drawn per lifetime, B is fixed */
    for (int g = 0; g < FLP_GROUP_COUNT; g++)
        CLI_CHECK(flp_meta_freeze(h->meta, (flp_group)g, g != FLP_GROUP_RULE));
    CLI_CHECK(flp_meta_set_lr(h->meta, FLP_GROUP_RULE, o->lr));
}

void rules_model_free(rules_model *m)
{
    model_handles_free(&m->h);
    flp_sampler_free(m->sampler);
    flp_dataset_free(m->train);
    flp_dataset_free(m->eval);
    memset(m, 0, sizeof *m);
}
