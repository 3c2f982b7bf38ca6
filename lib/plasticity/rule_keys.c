/* rule_keys.c - the rule handle's settings: FLP_RULE_KEY_MAP
 * (flp_plasticity.h) as a table, what setting each key does, and set / get
 * / bounds over it. */
#include "plasticity/plasticity_internal.h"

static const flp__key keys[] = {FLP_RULE_KEY_MAP(FLP__KEY_ENTRY) FLP_RULE_KEY_MAP_EXPERIMENTAL(FLP__KEY_ENTRY)};

/* A new term changes FLP_RULE_TERMS' default and upper bound (all terms). */
_Static_assert(FLP__N_TERMS == 3, "update FLP_RULE_TERMS in FLP_RULE_KEY_MAP to the new term count");

const char *flp__rule_kind_name(int kind)
{
    static const char *const kinds[] = {"oja", "hebb", "gradient", "family"};
    return kind >= 0 && kind < (int)(sizeof kinds / sizeof kinds[0]) ? kinds[kind] : NULL;
}

static const char *value_name(int key, int v)
{
    static const char *const grains[] = {"synapse", "neuron", "layer"};
    return key == FLP_RULE_GRANULARITY && v >= 0 && v < 3 ? grains[v] : NULL;
}

static void set_plastic_last(flp_rule *rule, int n)
{
    for (int l = rule->n_layers - 1; l >= 0; l--) {
        flp__plastic_layer *p = &rule->layer[l];
        if (p->rows == 0)
            continue;
        p->plastic = n > 0;
        n--;
    }
}

/* FLP_RULE_PLASTIC_LAST reads back as N only when the plastic layers are a
 * suffix; otherwise -1 (a mask was set). */
static double plastic_last_value(const flp_rule *rule)
{
    int seen_plastic = 0, n = 0;
    for (int l = 0; l < rule->n_layers; l++) {
        const flp__plastic_layer *p = &rule->layer[l];
        if (p->rows == 0)
            continue;
        if (p->plastic)
            seen_plastic = 1;
        else if (seen_plastic)
            return -1;
        n += p->plastic;
    }
    return n;
}

static flp_status store(void *h, int key, double value)
{
    flp_rule *rule = h;
    switch ((flp_rule_key)key) {
    case FLP_RULE_GRANULARITY: return flp__rule_realloc(rule, (int)value);
    case FLP_RULE_PLASTIC_LAST: set_plastic_last(rule, (int)value); break;
    case FLP_RULE_HIDDEN_MULTIPLIER: rule->hidden_multiplier = value; break;
    case FLP_RULE_ALPHA_INIT:
        rule->alpha_init = value;
        flp__rule_fill_coefficients(rule, value);
        break;
    case FLP_RULE_SECOND_ORDER: rule->second_order = (int)value; break;
    case FLP_RULE_TERMS: rule->terms = (int)value; break;
    case FLP_RULE_THETA_L1: rule->l1 = value; break;
    }
    return FLP_OK;
}

static double load(const void *h, int key)
{
    const flp_rule *rule = h;
    switch ((flp_rule_key)key) {
    case FLP_RULE_GRANULARITY: return rule->granularity;
    case FLP_RULE_PLASTIC_LAST: return plastic_last_value(rule);
    case FLP_RULE_HIDDEN_MULTIPLIER: return rule->hidden_multiplier;
    case FLP_RULE_ALPHA_INIT: return rule->alpha_init;
    case FLP_RULE_SECOND_ORDER: return rule->second_order;
    case FLP_RULE_TERMS: return rule->terms;
    case FLP_RULE_THETA_L1: return rule->l1;
    }
    return 0;
}

const flp__key_map flp__rule_keys = {"flp_rule_key", "rule", (int)(sizeof keys / sizeof keys[0]),
                                     keys, value_name, load, store};

FLP__KEY_FUNCTIONS(rule, "rule")
