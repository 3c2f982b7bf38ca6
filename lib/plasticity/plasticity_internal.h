/* plasticity_internal.h - feedback and rule layouts, shared with the
 * lifetime that runs them. Per-layer arrays are indexed by NET layer index;
 * entries of non-linear layers are unused (NULL / 0). */
#ifndef FLP_PLASTICITY_INTERNAL_H
#define FLP_PLASTICITY_INTERNAL_H

#include "core/keys.h"
#include "core/tensor.h"
#include "flp/flp_plasticity.h"
#include "flp/flp_net.h"

typedef struct {
    int64_t n_post;          /* n_l */
    int64_t n_in;            /* n_{l-1}: the layer's input width */
    int64_t n_cols;          /* B's columns: n_out (direct) or n_in (chained, symmetric) */
    float *B, *c, *beta;     /* [n_l, n_cols], [n_l], [1] */
    float *gB, *gc, *gbeta;
} flp__pathway;

struct flp_feedback {
    int n_layers;
    int64_t n_out;           /* the network's output size */
    flp__pathway *path;      /* [n_layers] */
    int signal, relu, clamp_output, post_presynaptic, differentiate_signal;
    int kind;                /* flp_feedback_kind */
};

typedef struct {
    int64_t n_alpha;         /* per granularity; 0 for non-linear layers */
    int64_t n_lr_bias;       /* gradient rule: per neuron or 1; 0 otherwise */
    int64_t rows, cols;      /* the layer's weight shape [n_l, n_{l-1}] */
    /* one block: [alpha | lr_bias | galpha | glr_bias], so that the
     * gradients are contiguous */
    float *alpha, *galpha;
    float *lr_bias, *glr_bias;
    int plastic;
} flp__plastic_layer;

/* Rule-family terms (lib/plasticity/rule_terms.c): the table's size. */
#define FLP__N_TERMS 3

struct flp_rule {
    flp_rule_kind kind;
    /* FLP_RULE_FAMILY: coefficients, their gradients, which terms are on
     * (bit t = term t), and the L1 penalty on the enabled coefficients */
    float theta[FLP__N_TERMS], gtheta[FLP__N_TERMS];
    int terms;
    double l1;
    int n_layers;
    flp__plastic_layer *layer;  /* [n_layers] */
    int granularity;
    int second_order;           /* FLP_RULE_SECOND_ORDER */
    double hidden_multiplier, alpha_init;
};

/* Granularity of the bias learning rates: a bias has one "synapse" per
 * neuron, so synapse granularity is per neuron. */
static inline int flp__bias_granularity(int granularity)
{
    return granularity == FLP_GRANULARITY_LAYER ? FLP_GRANULARITY_LAYER : FLP_GRANULARITY_NEURON;
}

/* The handles' settings (feedback_keys.c, rule_keys.c): the key maps of
 * flp_plasticity.h as tables, and what setting a key changes besides its
 * value. */
extern const flp__key_map flp__feedback_keys;
extern const flp__key_map flp__rule_keys;
/* Reallocate every pathway for an flp_feedback_kind, zeroed (B, c zero,
 * beta 1); on failure (FLP_ERR_NOMEM) the old ones stay. */
flp_status flp__feedback_realloc(flp_feedback *fb, int kind);
/* Reallocate every alpha (and bias learning rate) for an flp_granularity,
 * filled with alpha_init; on failure (FLP_ERR_NOMEM) the old ones stay. */
flp_status flp__rule_realloc(flp_rule *rule, int granularity);
/* Every alpha and bias learning rate = value. */
void flp__rule_fill_coefficients(flp_rule *rule, double value);
/* The name of an flp_rule_kind ("oja", "family"), or NULL. */
const char *flp__rule_kind_name(int kind);

/* FLP_ERR_INVALID (naming fn and the first mismatch) unless the handle was
 * created for a network of net's shape: same layers, same linear widths. */
flp_status flp__feedback_check_net(const flp_feedback *fb, const flp_net *net, const char *fn);
flp_status flp__rule_check_net(const flp_rule *rule, const flp_net *net, const char *fn);

/* Append the handle's meta-parameters to `list` in a fixed order
 * ("feedback.<l>.B|c|beta", "rule.<l>.alpha", then "rule.<l>.lr_bias" under the
 * gradient rule). */
flp_status flp__feedback_tensors(flp_feedback *fb, flp__tensor_list *list);
flp_status flp__rule_tensors(flp_rule *rule, flp__tensor_list *list);

#endif
