/* shared_step.c - one meta-step on a meta-batch shared among ranks. */
#include "shared_step.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

flp_status shared_step_create(flp_meta *meta, flp_batch *batch, ranks who, int n, shared_step *s)
{
    memset(s, 0, sizeof *s);
    s->meta = meta;
    s->batch = batch;
    s->who = who;
    s->n = n;
    flp_status st = flp_meta_grad_count(meta, &s->n_grad);
    if (st != FLP_OK)
        return st;
    s->mine = malloc((size_t)n * sizeof *s->mine);
    s->buf = malloc((size_t)(s->n_grad + n + 1) * sizeof *s->buf);
    if (s->mine == NULL || s->buf == NULL) {
        shared_step_free(s);
        fprintf(stderr, "shared_step_create: out of memory\n");
        return FLP_ERR_NOMEM;
    }
    return FLP_OK;
}

void shared_step_free(shared_step *s)
{
    free(s->mine);
    free(s->buf);
    s->mine = NULL;
    s->buf = NULL;
}

/* Run this rank's share; its gradient sum lands in the handles, its losses
 * in `losses` at their episodes' places (0 elsewhere, so that the sum across
 * ranks fills every place exactly), and a non-finite lifetime in *failed. */
static flp_status run_share(shared_step *s, flp_episode *const *episodes, float *losses, int *failed)
{
    int mine = 0;
    for (int i = s->who.rank; i < s->n; i += s->who.size)
        s->mine[mine++] = episodes[i];
    float *share = s->buf + s->n_grad; /* scratch for the share's losses */
    memset(losses, 0, (size_t)s->n * sizeof *losses);
    *failed = 0;
    if (mine == 0)
        return FLP_OK;
    flp_status st = flp_batch_run(s->batch, s->mine, mine, share);
    if (st == FLP_ERR_NONFINITE) {
        *failed = 1;
        snprintf(s->why, sizeof s->why, "%s", flp_last_error());
        return FLP_OK;
    }
    for (int k = 0, i = s->who.rank; st == FLP_OK && k < mine; k++, i += s->who.size)
        losses[i] = share[k];
    return st;
}

/* Sum the gradients, the losses and the failure counts across ranks. */
static flp_status sum_across_ranks(shared_step *s, float *losses, int *failed)
{
    flp_status st = flp_meta_get_grads(s->meta, s->buf, s->n_grad);
    if (st != FLP_OK)
        return st;
    memcpy(s->buf + s->n_grad, losses, (size_t)s->n * sizeof *losses);
    s->buf[s->n_grad + s->n] = (float)*failed;
    ranks_sum(s->buf, s->n_grad + s->n + 1);
    memcpy(losses, s->buf + s->n_grad, (size_t)s->n * sizeof *losses);
    *failed = s->buf[s->n_grad + s->n] > 0;
    return flp_meta_set_grads(s->meta, s->buf, s->n_grad);
}

flp_status shared_step_run(shared_step *s, flp_episode *const *episodes, float *losses)
{
    int failed = 0;
    s->why[0] = '\0';
    flp_status st = flp_meta_zero_grad(s->meta);
    if (st == FLP_OK)
        st = run_share(s, episodes, losses, &failed);
    if (st == FLP_OK && s->who.size > 1)
        st = sum_across_ranks(s, losses, &failed);
    if (st != FLP_OK)
        return st;
    if (failed) {
        if (s->why[0] == '\0')
            snprintf(s->why, sizeof s->why, "a lifetime on another rank was not finite");
        for (int i = 0; i < s->n; i++)
            losses[i] = NAN;
        return FLP_ERR_NONFINITE;
    }
    if (s->n > 1 && (st = flp_meta_scale_grad(s->meta, 1.0 / s->n)) != FLP_OK)
        return st;
    st = flp_meta_step(s->meta);
    if (st == FLP_ERR_NONFINITE)
        snprintf(s->why, sizeof s->why, "%s", flp_last_error());
    return st;
}
