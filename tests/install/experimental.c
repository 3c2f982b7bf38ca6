/* experimental.c - the FLP_EXPERIMENTAL part of the installed headers, as
 * a research program would use it. run.sh builds it with -DFLP_EXPERIMENTAL
 * (the declarations appear, and the shared library exports what they
 * declare) and checks that without the macro it does not compile (the gate
 * hides them). Prints OK and exits 0 when the rule family's theta is there. */
#include <flp/flp.h>

#include <stdio.h>

int main(void)
{
    int64_t in = 4, n_theta = 0;
    flp_net *net = NULL;
    flp_rule *rule = NULL;
    int ok = flp_net_create(1, &in, &net) == FLP_OK && flp_net_add_linear(net, 3, 0) == FLP_OK &&
             flp_rule_create(net, FLP_RULE_FAMILY, &rule) == FLP_OK &&
             flp_rule_theta_count(rule, &n_theta) == FLP_OK && n_theta == FLP_TERM_OJA + 1;
    if (!ok)
        fprintf(stderr, "experimental: %s (theta count %lld)\n", flp_last_error(), (long long)n_theta);
    flp_rule_free(rule);
    flp_net_free(net);
    if (ok)
        printf("OK experimental API: %lld rule-family terms\n", (long long)n_theta);
    return ok ? 0 : 1;
}
