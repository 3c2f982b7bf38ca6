/* rule.c - the plasticity-rule handle: kind, which layers are plastic, the
 * coefficients alpha_l at the chosen granularity (and, for the gradient rule,
 * the biases' learning rates), the hidden multiplier; for the rule family
 * its coefficients theta, enabled terms and L1 penalty. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "net/net_internal.h"
#include "plasticity/plasticity_internal.h"

static int64_t alpha_count(const flp__plastic_layer *p, int granularity)
{
    switch (granularity) {
    case FLP_GRANULARITY_SYNAPSE: return p->rows * p->cols;
    case FLP_GRANULARITY_NEURON: return p->rows;
    default: return 1;
    }
}

/* Only the gradient rule has bias learning rates. */
static int64_t lr_bias_count(const flp__plastic_layer *p, flp_rule_kind kind, int granularity)
{
    if (kind != FLP_RULE_GRADIENT)
        return 0;
    return flp__bias_granularity(granularity) == FLP_GRANULARITY_LAYER ? 1 : p->rows;
}

static void free_alphas(flp_rule *rule)
{
    for (int l = 0; l < rule->n_layers; l++) {
        flp__plastic_layer *p = &rule->layer[l];
        flp__free(p->alpha); /* the start of the layer's one block */
        p->alpha = p->galpha = p->lr_bias = p->glr_bias = NULL;
        p->n_alpha = p->n_lr_bias = 0;
    }
}

void flp_rule_free(flp_rule *rule)
{
    if (rule == NULL)
        return;
    free_alphas(rule);
    flp__free(rule->layer);
    flp__free(rule);
}

/* Every alpha and bias learning rate = value. */
void flp__rule_fill_coefficients(flp_rule *rule, double value)
{
    for (int l = 0; l < rule->n_layers; l++) {
        flp__plastic_layer *p = &rule->layer[l];
        for (int64_t i = 0; i < p->n_alpha + p->n_lr_bias; i++)
            p->alpha[i] = (float)value; /* alpha and lr_bias are adjacent */
    }
}

/* (Re)allocate every alpha for `granularity`, filled with alpha_init. On
 * failure the old coefficients stay in place. */
flp_status flp__rule_realloc(flp_rule *rule, int granularity)
{
    float *blocks[rule->n_layers];
    for (int l = 0; l < rule->n_layers; l++) {
        flp__plastic_layer *p = &rule->layer[l];
        blocks[l] = NULL;
        if (p->rows == 0)
            continue;
        blocks[l] = flp__alloc_floats(2 * (alpha_count(p, granularity) + lr_bias_count(p, rule->kind, granularity)),
                                      "plasticity coefficients");
        if (blocks[l] == NULL) {
            for (int k = 0; k < l; k++)
                flp__free(blocks[k]);
            return FLP_ERR_NOMEM;
        }
    }
    free_alphas(rule);
    rule->granularity = granularity;
    for (int l = 0; l < rule->n_layers; l++) {
        flp__plastic_layer *p = &rule->layer[l];
        if (blocks[l] == NULL)
            continue;
        p->n_alpha = alpha_count(p, granularity);
        p->n_lr_bias = lr_bias_count(p, rule->kind, granularity);
        p->alpha = blocks[l];
        p->lr_bias = p->alpha + p->n_alpha;
        p->galpha = p->lr_bias + p->n_lr_bias;
        p->glr_bias = p->galpha + p->n_alpha;
    }
    flp__rule_fill_coefficients(rule, rule->alpha_init);
    return FLP_OK;
}

flp_status flp_rule_create(const flp_net *net, flp_rule_kind kind, flp_rule **out)
{
    FLP__CHECK_NULL(out);
    *out = NULL;
    FLP__CHECK_NULL(net);
    if (kind != FLP_RULE_OJA && kind != FLP_RULE_HEBB && kind != FLP_RULE_GRADIENT && kind != FLP_RULE_FAMILY)
        return flp__error(FLP_ERR_RANGE, "%s: unknown rule kind %d", __func__, (int)kind);
    if (net->n_layers == 0)
        return flp__error(FLP_ERR_STATE, "%s: the network has no layers", __func__);
    flp_rule *rule = flp__alloc_bytes(sizeof *rule, "flp_rule");
    if (rule == NULL)
        return FLP_ERR_NOMEM;
    rule->kind = kind;
    rule->n_layers = net->n_layers;
    rule->hidden_multiplier = 1.0;
    rule->terms = (1 << FLP__N_TERMS) - 1;
    rule->layer = flp__alloc_bytes((size_t)net->n_layers * sizeof *rule->layer, "plastic layers");
    if (rule->layer == NULL) {
        flp__free(rule);
        return FLP_ERR_NOMEM;
    }
    for (int l = 0; l < net->n_layers; l++) {
        const flp__layer *L = &net->layers[l];
        if (L->kind != FLP_LAYER_LINEAR)
            continue;
        rule->layer[l].rows = L->out_size;
        rule->layer[l].cols = L->in_size;
        rule->layer[l].plastic = 1;
    }
    if (flp__rule_realloc(rule, FLP_GRANULARITY_SYNAPSE) != FLP_OK) {
        flp_rule_free(rule);
        return FLP_ERR_NOMEM;
    }
    *out = rule;
    return FLP_OK;
}

flp_status flp_rule_kind_of(const flp_rule *rule, flp_rule_kind *kind)
{
    FLP__CHECK_NULL(rule);
    FLP__CHECK_NULL(kind);
    *kind = rule->kind;
    return FLP_OK;
}

flp_status flp_rule_set_plastic_mask(flp_rule *rule, const int *mask, int n)
{
    FLP__CHECK_NULL(rule);
    FLP__CHECK_NULL(mask);
    if (n != rule->n_layers)
        return flp__error(FLP_ERR_SHAPE, "%s: mask has %d entries, the network has %d layers",
                          __func__, n, rule->n_layers);
    for (int l = 0; l < n; l++)
        if (mask[l] && rule->layer[l].rows == 0)
            return flp__error(FLP_ERR_INVALID, "%s: layer %d is not linear and cannot be plastic", __func__, l);
    for (int l = 0; l < n; l++)
        rule->layer[l].plastic = mask[l] != 0;
    return FLP_OK;
}

static flp_status check_layer(const flp_rule *rule, int layer, const char *fn)
{
    if (rule == NULL)
        return flp__error(FLP_ERR_NULL, "%s: argument 'rule' is NULL", fn);
    if (layer < 0 || layer >= rule->n_layers)
        return flp__error(FLP_ERR_RANGE, "%s: layer %d out of range [0, %d)", fn, layer, rule->n_layers);
    return FLP_OK;
}

static flp_status check_linear(const flp_rule *rule, int layer, const char *fn)
{
    FLP__TRY(check_layer(rule, layer, fn));
    if (rule->layer[layer].rows == 0)
        return flp__error(FLP_ERR_INVALID, "%s: layer %d is not linear and has no coefficients", fn, layer);
    return FLP_OK;
}

flp_status flp_rule_is_plastic(const flp_rule *rule, int layer, int *plastic)
{
    FLP__CHECK_NULL(plastic);
    FLP__TRY(check_layer(rule, layer, __func__));
    *plastic = rule->layer[layer].plastic;
    return FLP_OK;
}

flp_status flp_rule_alpha_count(const flp_rule *rule, int layer, int64_t *count)
{
    FLP__CHECK_NULL(count);
    FLP__TRY(check_linear(rule, layer, __func__));
    *count = rule->layer[layer].n_alpha;
    return FLP_OK;
}

flp_status flp_rule_get_alpha(const flp_rule *rule, int layer, float *dst, int64_t count)
{
    FLP__TRY(check_linear(rule, layer, __func__));
    const flp__plastic_layer *p = &rule->layer[layer];
    return flp__copy_out(__func__, "alpha", p->alpha, p->n_alpha, dst, count);
}

flp_status flp_rule_set_alpha(flp_rule *rule, int layer, const float *src, int64_t count)
{
    FLP__TRY(check_linear(rule, layer, __func__));
    flp__plastic_layer *p = &rule->layer[layer];
    return flp__copy_in(__func__, "alpha", p->alpha, p->n_alpha, src, count);
}

flp_status flp_rule_get_alpha_grad(const flp_rule *rule, int layer, float *dst, int64_t count)
{
    FLP__TRY(check_linear(rule, layer, __func__));
    const flp__plastic_layer *p = &rule->layer[layer];
    return flp__copy_out(__func__, "alpha gradient", p->galpha, p->n_alpha, dst, count);
}

/* A linear layer of a gradient rule: the only place bias learning rates live. */
static flp_status check_lr_bias(const flp_rule *rule, int layer, const char *fn)
{
    FLP__TRY(check_linear(rule, layer, fn));
    if (rule->kind != FLP_RULE_GRADIENT)
        return flp__error(FLP_ERR_INVALID, "%s: only the gradient rule (kind %d) has bias learning rates, "
                          "this rule is of kind %d", fn, (int)FLP_RULE_GRADIENT, (int)rule->kind);
    return FLP_OK;
}

flp_status flp_rule_lr_bias_count(const flp_rule *rule, int layer, int64_t *count)
{
    FLP__CHECK_NULL(count);
    FLP__TRY(check_lr_bias(rule, layer, __func__));
    *count = rule->layer[layer].n_lr_bias;
    return FLP_OK;
}

flp_status flp_rule_get_lr_bias(const flp_rule *rule, int layer, float *dst, int64_t count)
{
    FLP__TRY(check_lr_bias(rule, layer, __func__));
    const flp__plastic_layer *p = &rule->layer[layer];
    return flp__copy_out(__func__, "bias learning rate", p->lr_bias, p->n_lr_bias, dst, count);
}

flp_status flp_rule_set_lr_bias(flp_rule *rule, int layer, const float *src, int64_t count)
{
    FLP__TRY(check_lr_bias(rule, layer, __func__));
    flp__plastic_layer *p = &rule->layer[layer];
    return flp__copy_in(__func__, "bias learning rate", p->lr_bias, p->n_lr_bias, src, count);
}

flp_status flp_rule_get_lr_bias_grad(const flp_rule *rule, int layer, float *dst, int64_t count)
{
    FLP__TRY(check_lr_bias(rule, layer, __func__));
    const flp__plastic_layer *p = &rule->layer[layer];
    return flp__copy_out(__func__, "bias learning-rate gradient", p->glr_bias, p->n_lr_bias, dst, count);
}

/* A rule family: the only place theta lives. */
static flp_status check_family(const flp_rule *rule, const char *fn)
{
    if (rule == NULL)
        return flp__error(FLP_ERR_NULL, "%s: argument 'rule' is NULL", fn);
    if (rule->kind != FLP_RULE_FAMILY)
        return flp__error(FLP_ERR_INVALID, "%s: only the rule family (kind %d) has coefficients theta, this "
                          "rule is of kind %d", fn, (int)FLP_RULE_FAMILY, (int)rule->kind);
    return FLP_OK;
}

flp_status flp_rule_theta_count(const flp_rule *rule, int64_t *count)
{
    FLP__CHECK_NULL(count);
    FLP__TRY(check_family(rule, __func__));
    *count = FLP__N_TERMS;
    return FLP_OK;
}

flp_status flp_rule_get_theta(const flp_rule *rule, float *dst, int64_t count)
{
    FLP__TRY(check_family(rule, __func__));
    return flp__copy_out(__func__, "theta", rule->theta, FLP__N_TERMS, dst, count);
}

flp_status flp_rule_set_theta(flp_rule *rule, const float *src, int64_t count)
{
    FLP__TRY(check_family(rule, __func__));
    return flp__copy_in(__func__, "theta", rule->theta, FLP__N_TERMS, src, count);
}

flp_status flp_rule_get_theta_grad(const flp_rule *rule, float *dst, int64_t count)
{
    FLP__TRY(check_family(rule, __func__));
    return flp__copy_out(__func__, "theta gradient", rule->gtheta, FLP__N_TERMS, dst, count);
}

/* The family's meta-parameters are its coefficients theta (its alphas are
 * unused); the other kinds' are the alphas and bias learning rates. */
/* alpha's extents at the rule's granularity: [n_l, n_{l-1}], [n_l] or [1]. */
static int alpha_dims(const flp_rule *rule, const flp__plastic_layer *p, int64_t dims[2])
{
    dims[0] = rule->granularity == FLP_GRANULARITY_LAYER ? 1 : p->rows;
    dims[1] = p->cols;
    return rule->granularity == FLP_GRANULARITY_SYNAPSE ? 2 : 1;
}

flp_status flp__rule_tensors(flp_rule *rule, flp__tensor_list *list)
{
    if (rule->kind == FLP_RULE_FAMILY) {
        const int64_t n_terms = FLP__N_TERMS;
        return flp__tensor_list_add(list, rule->theta, rule->gtheta, FLP_GROUP_RULE, 1, &n_terms, "rule.theta");
    }
    for (int l = 0; l < rule->n_layers; l++) {
        flp__plastic_layer *p = &rule->layer[l];
        int64_t dims[2];
        if (p->alpha != NULL)
            FLP__TRY(flp__tensor_list_add(list, p->alpha, p->galpha, FLP_GROUP_PLASTICITY,
                                          alpha_dims(rule, p, dims), dims, "rule.%d.alpha", l));
        if (p->n_lr_bias > 0)
            FLP__TRY(flp__tensor_list_add(list, p->lr_bias, p->glr_bias, FLP_GROUP_PLASTICITY, 1, &p->n_lr_bias,
                                          "rule.%d.lr_bias", l));
    }
    return FLP_OK;
}

flp_status flp_rule_zero_grad(flp_rule *rule)
{
    FLP__CHECK_NULL(rule);
    memset(rule->gtheta, 0, sizeof rule->gtheta);
    for (int l = 0; l < rule->n_layers; l++)
        if (rule->layer[l].galpha != NULL) /* galpha and glr_bias are adjacent */
            memset(rule->layer[l].galpha, 0,
                   (size_t)(rule->layer[l].n_alpha + rule->layer[l].n_lr_bias) * sizeof(float));
    return FLP_OK;
}

flp_status flp__rule_check_net(const flp_rule *rule, const flp_net *net, const char *fn)
{
    if (rule->n_layers != net->n_layers)
        return flp__error(FLP_ERR_INVALID, "%s: the rule was created for a network of %d layers, this one "
                          "has %d", fn, rule->n_layers, net->n_layers);
    for (int l = 0; l < net->n_layers; l++) {
        const flp__layer *L = &net->layers[l];
        int linear = L->kind == FLP_LAYER_LINEAR;
        if (rule->layer[l].rows != (linear ? L->out_size : 0) || rule->layer[l].cols != (linear ? L->in_size : 0))
            return flp__error(FLP_ERR_INVALID, "%s: the rule was created for another network (layer %d differs)",
                              fn, l);
    }
    return FLP_OK;
}
