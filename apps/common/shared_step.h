/* shared_step.h - one meta-step on a meta-batch shared among ranks
 * (ranks.h): every rank holds the same B episodes, rank r runs episodes
 * r, r + R, r + 2R, ... with flp_batch_run, the meta-gradients and losses
 * are summed across ranks, and every rank applies the same averaged Adam
 * step. With one rank this is flp_batch_train_step. Public API only. */
#ifndef FLP_APPS_SHARED_STEP_H
#define FLP_APPS_SHARED_STEP_H

#include <flp/flp.h>

#include "ranks.h"

typedef struct {
    flp_meta *meta;
    flp_batch *batch;
    ranks who;
    int n;                          /* B: episodes per meta-step, across all ranks */
    const flp_episode **mine;       /* this rank's share of them */
    float *buf;                     /* summed across ranks: gradients, B losses, failures */
    int64_t n_grad;
    char why[512];                  /* why the last step was skipped */
} shared_step;

/* Set up for meta-batches of `n` episodes over `meta` (which must outlive
 * it). `batch` is the flp_batch the share runs on (owned by the caller). */
flp_status shared_step_create(flp_meta *meta, flp_batch *batch, ranks who, int n, shared_step *s);
void shared_step_free(shared_step *s);

/* One meta-step on episodes[0..n). losses[0..n) gets every episode's loss on
 * every rank. FLP_ERR_NONFINITE when a lifetime on any rank, or the averaged
 * gradient, was not finite: every rank skipped the step, s->why says why.
 * Any other error is this rank's own (flp_last_error()). */
flp_status shared_step_run(shared_step *s, flp_episode *const *episodes, float *losses);

#endif
