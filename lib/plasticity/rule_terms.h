/* rule_terms.h - the candidate terms of the rule family (FLP_RULE_FAMILY).
 *
 * A term is a matrix T(pre, post, e_post, e_pre, W) shaped like the layer's
 * weights W [n, m]; the family updates W += sum_t theta_t T_t. Each term is
 * one entry of flp__rule_terms: its value and its vector-Jacobian product.
 * Adding a term: write the two functions in rule_terms.c, append the entry,
 * a value to flp_rule_term (flp_plasticity.h) and raise FLP__N_TERMS
 * (plasticity_internal.h); tests/check_plasticity.c checks every entry of
 * the table against finite differences. */
#ifndef FLP_PLASTICITY_RULE_TERMS_H
#define FLP_PLASTICITY_RULE_TERMS_H

#include <stdint.h>

#include "plasticity/plasticity_internal.h"

/* What a term reads, for one layer and a batch of B examples (row-major). */
typedef struct {
    int64_t B, n, m;        /* batch, the layer's outputs and inputs */
    const float *pre;       /* [B, m] y_l, the input activity */
    const float *post;      /* [B, n] y_{l+1}, the output activity (softmax at the top) */
    const float *err_post;  /* [B, n] e_{l+1} */
    const float *err_pre;   /* [B, m] e_l */
    const float *W;         /* [n, m] the weights before the update */
    float *work;            /* [2 B m] scratch */
} flp__term_in;

/* Adjoints a vjp adds into (same shapes); NULL where none is wanted. */
typedef struct {
    float *pre, *post, *err_post, *err_pre, *W;
} flp__term_adj;

typedef struct {
    const char *name;
    /* T += scale * term */
    void (*value)(const flp__term_in *in, float scale, float *T);
    /* adjoints += d<Tbar, scale * term>/d(input) */
    void (*vjp)(const flp__term_in *in, const float *Tbar, float scale, const flp__term_adj *adj);
} flp__rule_term;

extern const flp__rule_term flp__rule_terms[FLP__N_TERMS];

#endif
