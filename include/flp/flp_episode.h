/*
 * flp_episode.h - episodes (one lifetime's data) and the samplers that draw them.
 *
 * An episode is K inner steps of `batch` examples each, shown in order, and
 * a query set on which the meta-loss is measured after the last step:
 *
 *     x      [K, batch, n_in]      inputs, step by step
 *     y      [K, batch, n_out]     regression targets     (or)
 *     labels [K, batch]            class labels in [0, n_out)
 *     xq     [n_query, n_in],  yq [n_query, n_out] / lq [n_query]
 *
 * Samplers fill an episode in place; the episode reuses its buffers, so a
 * training loop allocates nothing per episode once shapes are stable.
 */
#ifndef FLP_EPISODE_H
#define FLP_EPISODE_H

#include "flp_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flp_episode flp_episode;

typedef enum {
    FLP_EPISODE_X = 0,        /* float [K, batch, n_in] */
    FLP_EPISODE_Y = 1,        /* float [K, batch, n_out]  (regression) */
    FLP_EPISODE_LABELS = 2,   /* int32 [K, batch]         (classification) */
    FLP_EPISODE_XQ = 3,       /* float [n_query, n_in] */
    FLP_EPISODE_YQ = 4,       /* float [n_query, n_out]   (regression) */
    FLP_EPISODE_LQ = 5        /* int32 [n_query]          (classification) */
} flp_episode_array;

/** Create an empty episode. @since 0.1 */
FLP_API flp_status flp_episode_create(flp_episode **out);
/** Free; NULL is accepted. @since 0.1 */
FLP_API void flp_episode_free(flp_episode *ep);

/** Copy a regression episode in (shapes above; every extent >= 1; NaN and
 *  infinity refused with FLP_ERR_NONFINITE naming the array). @since 0.1 */
FLP_API flp_status flp_episode_set_regression(flp_episode *ep, int64_t steps, int64_t batch,
                                              int64_t n_in, int64_t n_out, const float *x,
                                              const float *y, int64_t n_query, const float *xq,
                                              const float *yq);
/** Copy a classification episode in; labels outside [0, n_classes) are
 *  refused with FLP_ERR_RANGE naming the position. @since 0.1 */
FLP_API flp_status flp_episode_set_classes(flp_episode *ep, int64_t steps, int64_t batch,
                                           int64_t n_in, int64_t n_classes, const float *x,
                                           const int32_t *labels, int64_t n_query,
                                           const float *xq, const int32_t *lq);

/** Shape of the episode; *classification is 1 for labelled episodes.
 *  Any output pointer may be NULL. FLP_ERR_STATE if nothing was set. @since 0.1 */
FLP_API flp_status flp_episode_shape(const flp_episode *ep, int64_t *steps, int64_t *batch,
                                     int64_t *n_in, int64_t *n_out, int64_t *n_query,
                                     int *classification);
/** Read-only view of a float array (valid until the episode changes);
 *  *count gets its element count. FLP_ERR_INVALID for a label array or an
 *  array the episode's kind lacks. @since 0.1 */
FLP_API flp_status flp_episode_floats(const flp_episode *ep, flp_episode_array which,
                                      const float **data, int64_t *count);
/** Read-only view of a label array. @since 0.1 */
FLP_API flp_status flp_episode_labels(const flp_episode *ep, flp_episode_array which,
                                      const int32_t **data, int64_t *count);

/* ======================================================================
 * Samplers
 * ====================================================================== */
typedef struct flp_sampler flp_sampler;

typedef enum {
    FLP_SPLIT_TRAIN = 0, /* meta-training tasks */
    FLP_SPLIT_EVAL = 1   /* fresh tasks, never used in meta-training */
} flp_split;

typedef enum {
    FLP_ORDER_IID = 0,        /* steps shuffled across tasks */
    FLP_ORDER_CONTINUAL = 1   /* all of task 1, then task 2, ... */
} flp_order;

/* Incremental sine waves (Lindsey & Litwin-Kumar 2020, after Javed & White
 * 2019). An episode draws FLP_SINE_TASKS sinusoids A sin(x + phi),
 * A ~ U[0.1, 5.1], phi ~ U[0, pi]; each example is onehot(task) ++ x,
 * x ~ U[-5, 5]; FLP_SINE_BATCHES_PER_TASK batches of FLP_SINE_BATCH per task;
 * FLP_SINE_QUERY_PER_TASK fresh points per task form the query. Training
 * episodes draw their sinusoids from a fixed pool of FLP_SINE_POOL (made
 * from the seed), evaluation episodes draw fresh ones; drawing a training
 * episode needs FLP_SINE_POOL >= FLP_SINE_TASKS (FLP_ERR_STATE otherwise).
 * FLP_SINE_ORDER is an flp_order; FLP_SINE_SHUFFLE_EXAMPLES = 1 shuffles, in
 * i.i.d. order, individual examples across all tasks instead of whole
 * batches (default 0). Settings, one line per key (flp_common.h, "key
 * maps"): X(SINE, NAME, value, type, default, lo, hi).
 *
 * Sampler key families. flp_sine_key and flp_fewshot_key (flp_data.h)
 * share values (both start at 0), so flp_sampler_set cannot tell
 * FLP_SINE_TASKS from FLP_FEWSHOT_WAYS; a key whose value only the other
 * family has is refused with FLP_ERR_INVALID naming it. The next major
 * version numbers the families apart (as zstd numbers its parameters) so
 * that every foreign key is refused; until then the bindings refuse them
 * from the key's enum type. */
#define FLP_SINE_KEY_MAP(X)                                                                    \
    X(SINE, TASKS, 0, INT, 10, 1, 4096)                                                        \
    X(SINE, BATCHES_PER_TASK, 1, INT, 40, 1, 1 << 20)                                          \
    X(SINE, BATCH, 2, INT, 32, 1, 1 << 20)                                                     \
    X(SINE, QUERY_PER_TASK, 3, INT, 32, 1, 1 << 20)                                            \
    X(SINE, ORDER, 4, ENUM, FLP_ORDER_IID, FLP_ORDER_IID, FLP_ORDER_CONTINUAL)                 \
    X(SINE, POOL, 5, INT, 400, 1, 1 << 20)                                                     \
    X(SINE, SHUFFLE_EXAMPLES, 6, BOOL, 0, 0, 1)

typedef enum { FLP_SINE_KEY_MAP(FLP__KEY_ENUM) } flp_sine_key;

/** Create an incremental-sine sampler; the seed fixes the training pool
 *  and the stream of episodes. @since 0.1 */
FLP_API flp_status flp_sampler_create_sine(uint64_t seed, flp_sampler **out);
/** Free; NULL is accepted. @since 0.1 */
FLP_API void flp_sampler_free(flp_sampler *s);
/** Set / get / bounds of a sampler key (flp_sine_key for sine samplers,
 *  flp_fewshot_key for few-shot samplers): FLP_ERR_RANGE for a value outside
 *  the bounds, FLP_ERR_INVALID for a key the sampler's kind does not have.
 *  Changing FLP_SINE_POOL rebuilds the pool from the seed. @since 0.1 */
FLP_API flp_status flp_sampler_set(flp_sampler *s, int key, double value);
FLP_API flp_status flp_sampler_get(const flp_sampler *s, int key, double *value);
FLP_API flp_status flp_sampler_bounds(const flp_sampler *s, int key, double *lo, double *hi);
/** Per-example input and output sizes of the episodes this sampler makes,
 *  and whether they are labelled. @since 0.1 */
FLP_API flp_status flp_sampler_io_size(const flp_sampler *s, int64_t *n_in, int64_t *n_out,
                                       int *classification);
/** Draw the next episode of `split` into `ep`. @since 0.1 */
FLP_API flp_status flp_sampler_next(flp_sampler *s, flp_split split, flp_episode *ep);

#ifdef __cplusplus
}
#endif
#endif /* FLP_EPISODE_H */
