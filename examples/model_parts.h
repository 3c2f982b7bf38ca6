/* model_parts.h - what the sine model (sine_model.c) and the few-shot
 * model (fewshot_model.c) build alike: the lifetime and meta-learner over a
 * network, and the paper's Adam schedule. Public API only; errors are
 * returned (flp_last_error() says why). */
#ifndef FLP_EXAMPLES_MODEL_PARTS_H
#define FLP_EXAMPLES_MODEL_PARTS_H

#include <flp/flp.h>

/* Return the status of `expr` unless it is FLP_OK. */
#define MODEL_TRY(expr)                 \
    do {                                \
        flp_status try_st = (expr);     \
        if (try_st != FLP_OK)           \
            return try_st;              \
    } while (0)

/* The lifetime and the meta-learner over net, fb and rule. memory_mib >= 0
 * sets the lifetime's memory budget in MiB (0: unlimited); < 0 keeps the
 * library's default. On failure the caller frees what *lt and *meta hold. */
flp_status model_lifetime_meta(flp_net *net, flp_feedback *fb, flp_rule *rule, double memory_mib,
                               flp_lifetime **lt, flp_meta **meta);

/* The paper's Adam rates: initial weights and biases at lr_weights, x0.3
 * at meta-steps 1500, 2500 and 3500; feedback weights and plasticity
 * coefficients at theirs. */
flp_status model_paper_adam(flp_meta *meta, double lr_weights, double lr_feedback, double lr_plasticity);

#endif
