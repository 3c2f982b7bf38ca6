/* rules.h - a plasticity rule of the lifetime is one table of operations,
 * chosen once per lifetime from the rule's kind (flp__lt_select_rule), as
 * zstd chooses its block compressor from the strategy. The engine
 * (lifetime.c, sweep.c) runs every rule through the table alone and never
 * asks which rule it runs; a rule builds its step and its reverse from the
 * dense stack (dense.h) and never calls the engine back.
 *
 * Adding a rule: a file rule_<name>.c defining its table (every operation
 * below but `finish` is required), its extern declaration here and its
 * entry in rules.c; tests/check_lifetime.c's finite-difference checks then
 * cover it once a configuration uses it. */
#ifndef FLP_LIFETIME_RULES_H
#define FLP_LIFETIME_RULES_H

#include "core/error.h"
#include "lifetime/lifetime_internal.h"

typedef struct flp__lt_rule {
    /* The rule changes the plastic layers' biases too: they join the state
     * after each layer's weights (lifetime_internal.h). */
    int bias_in_state;
    /* FLP_OK if the bound episode, the feedback and the network suit the
     * rule, else the error (messages name flp_lifetime_run). */
    flp_status (*check)(const flp_lifetime *lt);
    /* Add the products per example of one step's parts to lt->flops_pathway,
     * flops_update and flops_reverse (the engine counts the forward pass
     * and the backprop, flops_dense and flops_backprop, for every rule). */
    void (*work)(flp_lifetime *lt);
    /* What every layer's update of step k reads, from the step's activities
     * under `state`, before the layers update in parallel (the signal and
     * postsynaptic activities, the step's gradient into P, the errors). P is
     * state-shaped: the record's second slot when the step is recorded. */
    void (*prepare)(flp_lifetime *lt, int64_t k, const float *state, float *P, const float *acts);
    /* Update plastic layer i of `state` in place (W_k -> W_{k+1}), first
     * copying its part of W_k into `saved` (state layout) when not NULL;
     * touches only layer i's parts of the state, P and the scratch, as the
     * layers run as parallel tasks. Returns 1 if a value became non-finite. */
    int (*update)(const flp_lifetime *lt, int i, int64_t k, float *state, float *P, float *saved,
                  const float *acts);
    /* Reverse of step k from its record (W_k, then the slot `prepare` and
     * `update` filled, which it may overwrite) and its activities: lt->Wbar,
     * the adjoint of W_{k+1}, becomes that of W_k; the meta-gradients of the
     * step accumulate; adds its products to lt->flops. */
    void (*reverse)(flp_lifetime *lt, int64_t k, float *Wk, const float *acts);
    /* After the sweep, NULL where none: terms of the meta-loss the rule adds
     * itself (and, with want_gradient, their gradients). */
    void (*finish)(flp_lifetime *lt, int want_gradient, float *loss);
} flp__lt_rule;

/* For a rule's check: FLP_OK if the feedback is direct pathways, which
 * every rule reads but the family (FLP_FEEDBACK_KIND). */
static inline flp_status flp__lt_check_direct_feedback(const flp_lifetime *lt)
{
    if (lt->fb->kind != FLP_FEEDBACK_DIRECT)
        return flp__error(FLP_ERR_INVALID, "flp_lifetime_run: chained and symmetric feedback work only with the "
                          "rule family (FLP_RULE_FAMILY)");
    return FLP_OK;
}

extern const flp__lt_rule flp__lt_rule_flp;      /* rule_flp.c: Oja's and Hebb's rules */
extern const flp__lt_rule flp__lt_rule_gradient; /* rule_gradient.c: the gradient-based baseline */
extern const flp__lt_rule flp__lt_rule_family;   /* rule_family.c: candidate terms over chained errors */

/* The table of a rule kind; NULL for a kind no entry serves. */
const flp__lt_rule *flp__lt_select_rule(flp_rule_kind kind);

#endif
