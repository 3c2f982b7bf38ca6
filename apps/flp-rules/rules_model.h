/* rules_model.h - flp-rules' model (rules_model.c): a bias-free softplus
 * network over the data, chained feedback (fixed random, or symmetric),
 * the rule family with its initial theta, a lifetime that draws the weights
 * afresh each time, and Adam on theta alone. Library errors end the
 * program (cli.h). */
#ifndef FLP_APPS_RULES_MODEL_H
#define FLP_APPS_RULES_MODEL_H

#include <flp/flp.h>

#include "model_parts.h"
#include "options.h"

typedef struct {
    model_handles h;
    flp_dataset *train, *eval;
    flp_sampler *sampler;   /* the training stream, checkpointed with h.meta */
} rules_model;

/* Open the data and build every handle from o. */
void rules_model_create(const options *o, rules_model *m);
void rules_model_free(rules_model *m);

/* A few-shot sampler over m's data with o's episode shape, from `seed`. */
void rules_sampler_create(const options *o, const rules_model *m, uint64_t seed, flp_sampler **s);

#endif
