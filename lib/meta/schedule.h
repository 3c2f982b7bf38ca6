/* schedule.h - per-group learning rates: base rate, freezing, step decay or
 * a user callback. Plain data, so that checkpoints can store and restore it
 * field by field; the callback is not stored (a function pointer means
 * nothing in another process) and survives a checkpoint load untouched. */
#ifndef FLP_META_SCHEDULE_H
#define FLP_META_SCHEDULE_H

#include <stdint.h>

#include "flp/flp_meta.h"

#define FLP__MAX_MILESTONES 16
#define FLP__DEFAULT_LR 1e-3

typedef struct {
    double base_lr;       /* in [0, FLT_MAX] */
    int frozen;           /* 0 or 1 */
    double decay_factor;  /* >= 0, finite; used only when n_milestones > 0 */
    int n_milestones;     /* 0..FLP__MAX_MILESTONES */
    int64_t milestones[FLP__MAX_MILESTONES]; /* >= 0, strictly increasing */
} flp__group_schedule;

typedef struct {
    flp__group_schedule group[FLP_GROUP_COUNT];
    flp_lr_schedule fn;   /* NULL: step decay */
    void *user;
} flp__schedule;

/* Defaults: every group at FLP__DEFAULT_LR, unfrozen, no decay, no callback. */
void flp__schedule_init(flp__schedule *s);

/* NULL if `g` is a valid group schedule, else a description of the first
 * problem ("milestones are not strictly increasing"). Shared by the setters
 * and the checkpoint loader so that both accept exactly the same states. */
const char *flp__schedule_group_problem(const flp__group_schedule *g);

/* Learning rate of `group` at meta-step `step` (0-based). FLP_ERR_RANGE,
 * reported as coming from `fn`, when a user callback returns, or step decay
 * reaches, a rate outside [0, FLT_MAX]. */
flp_status flp__schedule_lr(const flp__schedule *s, int group, int64_t step, double *lr,
                            const char *fn);

#endif
