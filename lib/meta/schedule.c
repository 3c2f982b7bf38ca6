/* schedule.c - per-group learning rates (base rate, freezing, step decay or
 * a user callback) and the public calls that set them. */
#include "meta/schedule.h"

#include <float.h>
#include <math.h>

#include "core/error.h"
#include "meta/meta_internal.h"

void flp__schedule_init(flp__schedule *s)
{
    for (int g = 0; g < FLP_GROUP_COUNT; g++) {
        flp__group_schedule *gs = &s->group[g];
        gs->base_lr = FLP__DEFAULT_LR;
        gs->frozen = 0;
        gs->decay_factor = 1.0;
        gs->n_milestones = 0;
        for (int i = 0; i < FLP__MAX_MILESTONES; i++)
            gs->milestones[i] = 0;
    }
    s->fn = NULL;
    s->user = NULL;
}

/* A rate is usable when it is in [0, FLT_MAX] (written so that NaN fails):
 * a larger one moves a float parameter by more than a float holds, so the
 * step writes inf, and every later lifetime, gradient and checkpoint with
 * it is non-finite. */
static int flp__rate_ok(double r) { return r >= 0 && r <= FLT_MAX; }

const char *flp__schedule_group_problem(const flp__group_schedule *g)
{
    if (!flp__rate_ok(g->base_lr))
        return "the base learning rate must be in [0, FLT_MAX = 3.4e38]";
    if (g->frozen != 0 && g->frozen != 1)
        return "the frozen flag must be 0 or 1";
    if (g->n_milestones < 0 || g->n_milestones > FLP__MAX_MILESTONES)
        return "the number of milestones must be in [0, 16]";
    if (g->n_milestones > 0 && !(g->decay_factor >= 0 && isfinite(g->decay_factor)))
        return "the decay factor must be finite and >= 0";
    for (int i = 0; i < g->n_milestones; i++) {
        if (g->milestones[i] < 0)
            return "milestones must be >= 0";
        if (i > 0 && g->milestones[i] <= g->milestones[i - 1])
            return "milestones must be strictly increasing";
    }
    return NULL;
}

/* Step decay: the base rate times factor once per milestone already reached
 * (PyTorch's MultiStepLR stepped once per meta-step). */
static double flp__decayed_lr(const flp__group_schedule *g, int64_t step)
{
    double lr = g->base_lr;
    for (int i = 0; i < g->n_milestones && g->milestones[i] <= step; i++)
        lr *= g->decay_factor;
    return lr;
}

flp_status flp__schedule_lr(const flp__schedule *s, int group, int64_t step, double *lr,
                            const char *fn)
{
    const flp__group_schedule *g = &s->group[group];
    if (s->fn == NULL) {
        double r = flp__decayed_lr(g, step);
        if (!flp__rate_ok(r)) /* a decay factor above 1 can grow the rate past FLT_MAX */
            return flp__error(FLP_ERR_RANGE,
                              "%s: the step decay takes group %d's learning rate to %g at step %lld "
                              "(must be in [0, FLT_MAX = 3.4e38])",
                              fn, group, r, (long long)step);
        *lr = r;
        return FLP_OK;
    }
    double r = s->fn((flp_group)group, step, g->base_lr, s->user);
    if (!flp__rate_ok(r))
        return flp__error(FLP_ERR_RANGE,
                          "%s: the learning-rate schedule returned %g for group %d at step %lld "
                          "(must be in [0, FLT_MAX = 3.4e38])",
                          fn, r, group, (long long)step);
    *lr = r;
    return FLP_OK;
}

static flp_status flp__check_group(flp_group group, const char *fn)
{
    if ((int)group < 0 || (int)group >= FLP_GROUP_COUNT)
        return flp__error(FLP_ERR_RANGE, "%s: group %d is not in [0, %d)", fn, (int)group,
                          FLP_GROUP_COUNT);
    return FLP_OK;
}

/* Install `candidate` as the group's schedule if it is valid; on error the
 * meta is unchanged. */
static flp_status flp__install_group(flp_meta *meta, flp_group group,
                                     const flp__group_schedule *candidate, const char *fn)
{
    const char *problem = flp__schedule_group_problem(candidate);
    if (problem != NULL)
        return flp__error(FLP_ERR_RANGE, "%s: group %d: %s", fn, (int)group, problem);
    meta->sched.group[group] = *candidate;
    return FLP_OK;
}

flp_status flp_meta_set_lr(flp_meta *meta, flp_group group, double lr)
{
    FLP__CHECK_NULL(meta);
    FLP__TRY(flp__check_group(group, __func__));
    flp__group_schedule g = meta->sched.group[group];
    g.base_lr = lr;
    return flp__install_group(meta, group, &g, __func__);
}

flp_status flp_meta_get_lr(const flp_meta *meta, flp_group group, double *lr)
{
    FLP__CHECK_NULL(meta);
    FLP__CHECK_NULL(lr);
    FLP__TRY(flp__check_group(group, __func__));
    return flp__schedule_lr(&meta->sched, group, flp__meta_run_step(meta), lr, __func__);
}

flp_status flp_meta_freeze(flp_meta *meta, flp_group group, int frozen)
{
    FLP__CHECK_NULL(meta);
    FLP__TRY(flp__check_group(group, __func__));
    if (frozen != 0 && frozen != 1)
        return flp__error(FLP_ERR_RANGE, "%s: frozen is %d, must be 0 or 1", __func__, frozen);
    meta->sched.group[group].frozen = frozen;
    return FLP_OK;
}

flp_status flp_meta_set_step_decay(flp_meta *meta, flp_group group, double factor,
                                   const int64_t *milestones, int n)
{
    FLP__CHECK_NULL(meta);
    FLP__TRY(flp__check_group(group, __func__));
    if (n < 0 || n > FLP__MAX_MILESTONES)
        return flp__error(FLP_ERR_RANGE, "%s: n is %d, must be in [0, %d]", __func__, n,
                          FLP__MAX_MILESTONES);
    if (n > 0)
        FLP__CHECK_NULL(milestones);
    flp__group_schedule g = meta->sched.group[group];
    g.decay_factor = n > 0 ? factor : 1.0;
    g.n_milestones = n;
    for (int i = 0; i < FLP__MAX_MILESTONES; i++)
        g.milestones[i] = i < n ? milestones[i] : 0;
    return flp__install_group(meta, group, &g, __func__);
}

flp_status flp_meta_set_schedule(flp_meta *meta, flp_lr_schedule fn, void *user)
{
    FLP__CHECK_NULL(meta);
    meta->sched.fn = fn;
    meta->sched.user = fn != NULL ? user : NULL;
    return FLP_OK;
}
