/*
 * flp_batch.h - meta-batches: several lifetimes per meta-step, run
 * concurrently, their meta-gradients summed in a fixed order.
 *
 * A meta-batch handle belongs to one meta-optimizer (flp_meta.h) over a
 * network, its feedback and its rule. flp_batch_run() runs n episodes on a
 * pool of worker lifetimes: each worker has its own lifetime workspace and
 * writes each episode's meta-gradient to a private sink, never to the
 * handles; the sinks are summed in episode order 0, 1, ..., n-1 and the sum
 * is added to the handles' gradients. The result is therefore the same for
 * any thread count and any scheduling: bit for bit the sum, in episode
 * order, of the gradients flp_lifetime_run() gives each episode alone.
 *
 * Threads. With T = flp_get_num_threads(), a run uses E = min(n, T) episode
 * threads (FLP_BATCH_THREADS caps E further) and gives each worker's
 * lifetime T / E threads for its own parallel phases, so E x (T / E) <= T:
 * cores are never oversubscribed. The lifetime's threads are nested inside
 * the episode threads and only fork where the OpenMP runtime allows nested
 * parallelism (OMP_MAX_ACTIVE_LEVELS >= 2); otherwise each worker runs its
 * lifetime on one thread, which is what a meta-batch with n >= T wants
 * anyway. With E = 1 the episodes run one after the other on the calling
 * thread, each with all T threads, exactly like flp_lifetime_run().
 *
 * Memory: per episode thread, one lifetime workspace and one gradient sink
 * (as many floats as the meta-parameters), plus one more sink; the episodes
 * run in waves of one per episode thread.
 *
 * Several processes (MPI ranks, say) share a meta-batch by running a share
 * each with flp_batch_run(), summing the gradients with their transport
 * (flp_meta_get_grads / flp_meta_set_grads give them as one flat array),
 * then flp_meta_scale_grad(meta, 1.0 / n_total) and flp_meta_step().
 */
#ifndef FLP_BATCH_H
#define FLP_BATCH_H

#include "flp_common.h"
#include "flp_episode.h"
#include "flp_meta.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flp_batch flp_batch;

/* Settings of a meta-batch: its own keys, one line each (flp_common.h,
 * "key maps": X(BATCH, NAME, value, type, default, lo, hi)), and every key
 * of the lifetime's map (flp_lifetime.h) forwarded to each worker lifetime
 * as FLP_BATCH_<NAME> = 1 + FLP_LIFETIME_<NAME>, with the lifetime's type,
 * default and bounds: FLP_BATCH_MEMORY_BUDGET (each worker's workspace,
 * default 512 MiB, 0 = no limit), FLP_BATCH_CHECK_FINITE (default 1),
 * and, experimental (with FLP_EXPERIMENTAL), FLP_BATCH_REINIT and
 * FLP_BATCH_REINIT_SEED (weights drawn afresh per lifetime, e.g. for the
 * rule family; default 0 and 0: the draw depends on the episode only, so a
 * meta-batch still sums exactly what single lifetimes give). A key added to the lifetime's map is forwarded the same
 * way; the batch's own keys after FLP_BATCH_THREADS are numbered from 1000.
 *   FLP_BATCH_THREADS: at most this many episode threads (>= 0; 0, the
 *     default: no cap besides min(n, flp_get_num_threads())). */
#define FLP_BATCH_KEY_MAP(X) X(BATCH, THREADS, 0, INT, 0, 0, 4096)
#define FLP__BATCH_FORWARD_ENUM(handle, name, value, type, def, lo, hi) \
    FLP_BATCH_##name = 1 + (value),

typedef enum {
    FLP_BATCH_KEY_MAP(FLP__KEY_ENUM)
    FLP_LIFETIME_KEY_MAP(FLP__BATCH_FORWARD_ENUM)
    FLP_LIFETIME_KEY_MAP_EXPERIMENTAL(FLP__BATCH_FORWARD_ENUM)
} flp_batch_key;

/** Create a meta-batch for `meta`, which must outlive it and must have been
 *  created over a feedback and a rule (FLP_ERR_INVALID otherwise). @since 0.1 */
FLP_API flp_status flp_batch_create(flp_meta *meta, flp_batch **out);
/** Free; NULL is accepted. @since 0.1 */
FLP_API void flp_batch_free(flp_batch *batch);
/** Set a flp_batch_key; FLP_ERR_RANGE for a value out of bounds,
 *  FLP_ERR_INVALID for a key that is not a flp_batch_key. @since 0.1 */
FLP_API flp_status flp_batch_set(flp_batch *batch, flp_batch_key key, double value);
/** Read a flp_batch_key. @since 0.1 */
FLP_API flp_status flp_batch_get(const flp_batch *batch, flp_batch_key key, double *value);
/** The bounds [*lo, *hi] a flp_batch_key accepts. @since 0.1 */
FLP_API flp_status flp_batch_bounds(flp_batch_key key, double *lo, double *hi);

/** Run the lifetimes of episodes[0..n-1] (n >= 1) with gradient and ADD
 *  the sum of their meta-gradients, g_0 + g_1 + ... + g_{n-1} summed in
 *  that order, to the handles' gradients; losses[i] gets episode i's query
 *  loss. If an episode fails, nothing is added, the later episodes may not
 *  run, and the error of the first failing episode is returned, its message
 *  prefixed with the episode's index (FLP_ERR_NULL for a NULL episode,
 *  FLP_ERR_SHAPE, FLP_ERR_NONFINITE, FLP_ERR_NOMEM: see flp_lifetime_run).
 *  @since 0.1 */
FLP_API flp_status flp_batch_run(flp_batch *batch, const flp_episode *const *episodes, int n,
                                 float *losses);

/** One meta-step on a meta-batch: zero the gradients, flp_batch_run(),
 *  average (scale by 1/n), flp_meta_step(). With n = 1 it is
 *  flp_meta_train_step() exactly. @since 0.1 */
FLP_API flp_status flp_batch_train_step(flp_batch *batch, const flp_episode *const *episodes, int n,
                                        float *losses);

#ifdef __cplusplus
}
#endif
#endif /* FLP_BATCH_H */
