/* rules.c - which table of operations runs each rule kind (rules.h). */
#include "lifetime/rules.h"

const flp__lt_rule *flp__lt_select_rule(flp_rule_kind kind)
{
    static const flp__lt_rule *const table[] = {
        [FLP_RULE_OJA] = &flp__lt_rule_flp,
        [FLP_RULE_HEBB] = &flp__lt_rule_flp,
        [FLP_RULE_GRADIENT] = &flp__lt_rule_gradient,
        [FLP_RULE_FAMILY] = &flp__lt_rule_family,
    };
    if ((unsigned)kind >= sizeof table / sizeof table[0])
        return NULL;
    return table[kind];
}
