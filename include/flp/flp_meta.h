/*
 * flp_meta.h - the meta-optimizer (Adam over parameter groups) and
 * checkpoint files.
 *
 * flp_meta owns Adam's state for every meta-parameter of a network and,
 * optionally, its feedback pathways and plasticity rule. Each group
 * (flp_group) has its own learning rate, schedule and can be frozen. A
 * meta-step is: zero the gradients, run lifetimes that add their
 * meta-gradients, then flp_meta_step(). flp_meta_train_step() does the three
 * for one episode; flp_batch_train_step() (flp_batch.h) for several, run
 * concurrently.
 *
 * Non-finite gradients are never applied: flp_meta_step() returns
 * FLP_ERR_NONFINITE naming the first offending tensor and, by default,
 * skips the whole step (FLP_META_NONFINITE = 0); with FLP_META_NONFINITE =
 * 1 it zeroes the offending entries and applies the rest (what the FLP
 * reference does silently), still returning FLP_ERR_NONFINITE so the caller
 * knows.
 */
#ifndef FLP_META_H
#define FLP_META_H

#include "flp_common.h"
#include "flp_episode.h"
#include "flp_lifetime.h"
#include "flp_net.h"
#include "flp_plasticity.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flp_meta flp_meta;

/* Settings of the optimizer, one line per key (flp_common.h, "key maps"):
 * X(META, NAME, value, type, default, lo, hi): Adam's FLP_META_BETA1 (in
 * [0, 1), default 0.9), FLP_META_BETA2 ([0, 1), 0.999) and
 * FLP_META_EPSILON (> 0 and finite, 1e-8), FLP_META_NONFINITE (0 skip the
 * step, the default; 1 zero the entries), and FLP_META_RESTART_EVERY
 * (0 to 2^31 - 1, default 0 = never): every N meta-steps Adam starts afresh, its
 * moments zeroed and its bias correction and every group's schedule counted
 * from that step, as a run split into processes of N steps that each build
 * a new optimizer (the FLP reference's sine protocol: 20 processes of 1,000
 * steps, so its x0.3 decay at 1500 never fires). flp_meta_step_count still
 * counts every step. Checkpoints store and restore them. */
#define FLP_META_KEY_MAP(X)                                                                    \
    X(META, BETA1, 0, REAL, 0.9, 0, 0x1.fffffffffffffp-1)                                      \
    X(META, BETA2, 1, REAL, 0.999, 0, 0x1.fffffffffffffp-1)                                    \
    X(META, EPSILON, 2, REAL, 1e-8, DBL_TRUE_MIN, DBL_MAX)                                     \
    X(META, NONFINITE, 3, BOOL, 0, 0, 1)                                                       \
    X(META, RESTART_EVERY, 4, INT, 0, 0, 2147483647)

typedef enum { FLP_META_KEY_MAP(FLP__KEY_ENUM) } flp_meta_key;

/** Learning-rate schedule: return the learning rate of `group` at meta-step
 *  `step` (0-based) given its base rate. Must be pure (checkpoints replay it). */
typedef double (*flp_lr_schedule)(flp_group group, int64_t step, double base_lr, void *user);

/** Create an optimizer over net and, when not NULL, fb and rule (which
 *  must outlive it). Default base learning rates: 1e-3 for every group.
 *  The handles' configuration must not change afterwards (FLP_ERR_STATE at
 *  the next step if it does). @since 0.1 */
FLP_API flp_status flp_meta_create(flp_net *net, flp_feedback *fb, flp_rule *rule, flp_meta **out);
/** Free; NULL is accepted. @since 0.1 */
FLP_API void flp_meta_free(flp_meta *meta);
/** Set / get a flp_meta_key: FLP_ERR_RANGE for a value outside
 *  flp_meta_bounds, FLP_ERR_INVALID for a key that is not a flp_meta_key.
 *  @since 0.1 */
FLP_API flp_status flp_meta_set(flp_meta *meta, flp_meta_key key, double value);
FLP_API flp_status flp_meta_get(const flp_meta *meta, flp_meta_key key, double *value);
/** The bounds [*lo, *hi] a flp_meta_key accepts (FLP_META_BETA1's upper
 *  bound is the largest double below 1). @since 0.1 */
FLP_API flp_status flp_meta_bounds(flp_meta_key key, double *lo, double *hi);

/** Base learning rate of a group, 0 to FLT_MAX (FLP_ERR_RANGE otherwise:
 *  a larger step is more than a float parameter holds). A schedule
 *  callback's or step decay's rate outside that range makes the step fail
 *  with FLP_ERR_RANGE, applying nothing. @since 0.1 */
FLP_API flp_status flp_meta_set_lr(flp_meta *meta, flp_group group, double lr);
/** Learning rate of a group at the current step, after schedule and decay. @since 0.1 */
FLP_API flp_status flp_meta_get_lr(const flp_meta *meta, flp_group group, double *lr);
/** Freeze (1) or unfreeze (0) a group: frozen parameters never move and
 *  their Adam state is left alone. @since 0.1 */
FLP_API flp_status flp_meta_freeze(flp_meta *meta, flp_group group, int frozen);
/** Step decay: multiply the group's rate by `factor` at each milestone
 *  (meta-step counts, strictly increasing; at most 16). n = 0 clears it. @since 0.1 */
FLP_API flp_status flp_meta_set_step_decay(flp_meta *meta, flp_group group, double factor,
                                           const int64_t *milestones, int n);
/** Replace step decay by a callback for every group (NULL restores decay). @since 0.1 */
FLP_API flp_status flp_meta_set_schedule(flp_meta *meta, flp_lr_schedule fn, void *user);

/** Zero the gradients of every meta-parameter. @since 0.1 */
FLP_API flp_status flp_meta_zero_grad(flp_meta *meta);
/** Multiply every accumulated gradient by `factor` (1/n averages a meta-batch of n). @since 0.1 */
FLP_API flp_status flp_meta_scale_grad(flp_meta *meta, double factor);
/** Number of meta-parameters: the length of the flat gradient array of
 *  flp_meta_get_grads / flp_meta_set_grads. @since 0.1 */
FLP_API flp_status flp_meta_grad_count(const flp_meta *meta, int64_t *count);
/** Copy every accumulated gradient into dst[count], one flat array in the
 *  order of the checkpoint's tensors (network, feedback, rule): what a
 *  transport (MPI_Allreduce, say) sums across processes. FLP_ERR_SHAPE
 *  unless count = flp_meta_grad_count. @since 0.1 */
FLP_API flp_status flp_meta_get_grads(const flp_meta *meta, float *dst, int64_t count);
/** Overwrite every accumulated gradient from src[count], laid out as by
 *  flp_meta_get_grads. Non-finite values are accepted: flp_meta_step deals
 *  with them. FLP_ERR_SHAPE unless count = flp_meta_grad_count. @since 0.1 */
FLP_API flp_status flp_meta_set_grads(flp_meta *meta, const float *src, int64_t count);
/** Apply one Adam step with the accumulated gradients. A meta-optimizer
 *  takes at most 2^53 steps (the count stays exact as a double): the next
 *  one fails with FLP_ERR_RANGE, applying nothing. @since 0.1 */
FLP_API flp_status flp_meta_step(flp_meta *meta);
/** Zero the gradients, run `lt` on `ep` with gradient, step. *loss gets the
 *  query loss (may be NULL). @since 0.1 */
FLP_API flp_status flp_meta_train_step(flp_meta *meta, flp_lifetime *lt, const flp_episode *ep,
                                       float *loss);
/** Number of meta-steps applied so far. @since 0.1 */
FLP_API flp_status flp_meta_step_count(const flp_meta *meta, int64_t *steps);
/** Global L2 norm of the accumulated gradients of a group (all groups if
 *  group < 0). @since 0.1 */
FLP_API flp_status flp_meta_grad_norm(const flp_meta *meta, int group, double *norm);

/* ======================================================================
 * Checkpoints
 *
 * A checkpoint holds everything needed to resume meta-training bit for
 * bit: every meta-parameter, Adam's moments and step count, the optimizer's
 * settings and, when given, the sampler's state. Files are versioned and
 * checksummed (CRC-32 per section) and written atomically (temporary file,
 * fsync, rename): a crash never leaves a partial file under `path`.
 * Loading checks the configuration (layers, the rule's kind and every
 * rule and feedback key, tensor names and sizes, sampler kind) and the
 * machine (byte order, float and double layout) against the handles and
 * refuses a mismatch with FLP_ERR_VERSION and a message naming what
 * differs and both values; the optimizer's and the sampler's settings are
 * restored, and a sampler state that could not draw the next training
 * episode is refused (FLP_ERR_FORMAT). The lifetime's and a meta-batch's
 * settings are not recorded. Files written by libflp 0.1.0 (format 1) and
 * format 2 still load. Truncated, corrupt and wrong-version files are
 * refused (FLP_ERR_FORMAT / FLP_ERR_VERSION) and leave the handles
 * untouched.
 * ====================================================================== */

/** Write a checkpoint of `meta` (and `sampler`, may be NULL). A `path`
 *  that is a symbolic link has the file it points to replaced (the link
 *  stays; a link to a missing file is refused); anything but a regular file
 *  or a missing path (a device, a FIFO, a directory) is refused with
 *  FLP_ERR_IO. Non-finite parameters or moments, which the loader would
 *  refuse, fail with FLP_ERR_NONFINITE and write nothing. The data goes
 *  into an unnamed file where the system offers O_TMPFILE, else into
 *  PATH.tmp.PID.N beside the target; a process killed between creating
 *  that name and the rename leaves it behind (doc/RELIABILITY.md). @since 0.1 */
FLP_API flp_status flp_checkpoint_save(const char *path, const flp_meta *meta,
                                       const flp_sampler *sampler);
/** Restore a checkpoint into handles configured as when it was saved. Only
 *  a regular file is read (FLP_ERR_IO names what else `path` is), and never
 *  more of it than the handles can take. @since 0.1 */
FLP_API flp_status flp_checkpoint_load(const char *path, flp_meta *meta, flp_sampler *sampler);

#ifdef __cplusplus
}
#endif
#endif /* FLP_META_H */
