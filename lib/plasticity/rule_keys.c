/* rule_keys.c - the rule handle's settings: FLP_RULE_KEY_MAP
 * (flp_plasticity.h) as a table, and set / get / bounds over it. */
#include "core/error.h"
#include "plasticity/plasticity_internal.h"

enum { N_KEYS = 0 FLP_RULE_KEY_MAP(FLP__KEY_COUNT) };

static const flp__key keys[N_KEYS] = {FLP_RULE_KEY_MAP(FLP__KEY_ENTRY)};

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

static flp_status get_any(const void *h, int key, double *value)
{
    return flp_rule_get(h, (flp_rule_key)key, value);
}

static flp_status set_any(void *h, int key, double value)
{
    return flp_rule_set(h, (flp_rule_key)key, value);
}

const flp__key_map flp__rule_keys = {"flp_rule_key", "rule", N_KEYS, keys,
                                     value_name, get_any, set_any};

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

flp_status flp_rule_set(flp_rule *rule, flp_rule_key key, double value)
{
    FLP__CHECK_NULL(rule);
    const flp__key *k;
    FLP__TRY(flp__key_check_set(&flp__rule_keys, (int)key, value, __func__, &k));
    switch (key) {
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

flp_status flp_rule_get(const flp_rule *rule, flp_rule_key key, double *value)
{
    FLP__CHECK_NULL(rule);
    FLP__CHECK_NULL(value);
    const flp__key *k;
    FLP__TRY(flp__key_lookup(&flp__rule_keys, (int)key, __func__, &k));
    switch (key) {
    case FLP_RULE_GRANULARITY: *value = rule->granularity; break;
    case FLP_RULE_PLASTIC_LAST: *value = plastic_last_value(rule); break;
    case FLP_RULE_HIDDEN_MULTIPLIER: *value = rule->hidden_multiplier; break;
    case FLP_RULE_ALPHA_INIT: *value = rule->alpha_init; break;
    case FLP_RULE_SECOND_ORDER: *value = rule->second_order; break;
    case FLP_RULE_TERMS: *value = rule->terms; break;
    case FLP_RULE_THETA_L1: *value = rule->l1; break;
    }
    return FLP_OK;
}

flp_status flp_rule_bounds(flp_rule_key key, double *lo, double *hi)
{
    return flp__key_bounds(&flp__rule_keys, (int)key, lo, hi, __func__);
}
