/*
 * flp_lifetime.h - run a whole lifetime and differentiate through it.
 *
 * A lifetime takes the network's initial parameters, applies the plasticity
 * rule once per inner step of an episode (feedback pathway + rule, see
 * flp_plasticity.h), then measures the meta-loss on the episode's query set
 * with the final weights: mean squared error (regression) or mean
 * cross-entropy (classification). With `want_gradient`, it also computes the
 * exact gradient of that loss with respect to every meta-parameter — the
 * initial weights and all biases of the network, B, c and beta of the
 * feedback, alpha of the rule (the biases' learning rates of the gradient
 * rule, theta of the rule family) — and ADDS it to their gradients (read them
 * by name with flp_meta_tensor_get, flp_params.h, or with flp_net_get_grad,
 * flp_feedback_get_grad, flp_rule_get_alpha_grad, flp_rule_get_lr_bias_grad).
 *
 * Under FLP_RULE_GRADIENT a step is a step of gradient descent on the loss
 * of the step's batch (mean squared error, or mean cross-entropy for a
 * labelled episode, whatever the feedback's signal), on the weights and
 * biases of the plastic layers; the feedback pathways are unused and their
 * gradients stay zero. The meta-gradient is first order unless the
 * experimental FLP_RULE_SECOND_ORDER is set (see flp_plasticity.h).
 *
 * Memory. The reverse sweep needs every step's weights. The lifetime keeps
 * checkpoints of the plastic weights and recomputes the steps in between,
 * nesting checkpoints as deep as needed to stay inside
 * FLP_LIFETIME_MEMORY_BUDGET; the gradient is the same for every budget.
 *
 * The network must be a dense stack: rank-1 input, then linear layers, each
 * optionally followed by relu or softplus; or, for images, a frozen
 * front-end first: a rank-3 input, 2-D convolutions (each optionally
 * followed by relu or softplus), a flatten, then the dense stack. No rule
 * changes a convolution within a lifetime, so the front-end's outputs (the
 * features) are computed once per run for every example of the episode, in
 * one batched pass, and the meta-gradient is sent back through it once: the
 * convolutions' weights and biases are meta-parameters like the initial
 * dense weights (under the gradient rule's first order they receive the
 * query loss's gradient only, the inner steps' gradients being constants).
 * The features and their gradients take 2 (K*B + Q) x (features per
 * example) floats, and the lifetime keeps the front-end's activations for
 * those examples (its own workspace: a run never touches the network's
 * flp_net_forward state). The lifetime reads the
 * handles' parameters at each run and never modifies them.
 */
#ifndef FLP_LIFETIME_H
#define FLP_LIFETIME_H

#include "flp_common.h"
#include "flp_episode.h"
#include "flp_net.h"
#include "flp_plasticity.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flp_lifetime flp_lifetime;

/* Settings of a lifetime, one line per key (flp_common.h, "key maps"):
 * X(LIFETIME, NAME, value, type, default, lo, hi).
 *   FLP_LIFETIME_MEMORY_BUDGET: bytes the lifetime's workspace may take
 *     (>= 0; default 512 MiB): the weights and activities the reverse sweep
 *     stores, its scratch, and a front-end's activations (what
 *     flp_lifetime_stats reports). Too small a budget for even the minimum
 *     (a few copies of the plastic weights) is FLP_ERR_NOMEM from
 *     flp_lifetime_run with a message giving the minimum. 0 = no limit:
 *     keep every step.
 *   FLP_LIFETIME_CHECK_FINITE: 1 (default): check plastic weights for
 *     NaN/inf after every step and stop with FLP_ERR_NONFINITE naming the
 *     step and layer.
 * Experimental (FLP_LIFETIME_KEY_MAP_EXPERIMENTAL, with FLP_EXPERIMENTAL),
 * for the rule family's protocol:
 *   FLP_LIFETIME_REINIT: 1: draw the plastic layers' initial weights afresh
 *     at every run (Xavier uniform, U(-a, a) with a = sqrt(6 / (n_in +
 *     n_out))) instead of starting from the network's; they then get no
 *     meta-gradient. The draw is a pure function of
 *     FLP_LIFETIME_REINIT_SEED and the episode's inputs, so a run is
 *     reproducible. Default 0.
 *   FLP_LIFETIME_REINIT_SEED: seed of those draws: an integer in
 *     [0, 2^53]. Default 0.
 * flp_batch (flp_batch.h) forwards every key of both maps to its workers. */
#define FLP_LIFETIME_KEY_MAP(X)                                                                \
    X(LIFETIME, MEMORY_BUDGET, 0, REAL, 512.0 * 1024 * 1024, 0, DBL_MAX)                       \
    X(LIFETIME, CHECK_FINITE, 1, BOOL, 1, 0, 1)
#ifdef FLP_EXPERIMENTAL
#define FLP_LIFETIME_KEY_MAP_EXPERIMENTAL(X)                                                   \
    X(LIFETIME, REINIT, 2, BOOL, 0, 0, 1)                                                      \
    X(LIFETIME, REINIT_SEED, 3, INT, 0, 0, 9007199254740992.0)
#else
#define FLP_LIFETIME_KEY_MAP_EXPERIMENTAL(X)
#endif

typedef enum {
    FLP_LIFETIME_KEY_MAP(FLP__KEY_ENUM)
    FLP_LIFETIME_KEY_MAP_EXPERIMENTAL(FLP__KEY_ENUM)
} flp_lifetime_key;

/** Create a lifetime over the three handles, which must outlive it. The
 *  feedback and rule must have been created for `net`. FLP_ERR_UNSUPPORTED
 *  (naming the layer) for a network that is not a dense stack, with or
 *  without a front-end. @since 0.1 */
FLP_API flp_status flp_lifetime_create(flp_net *net, flp_feedback *fb, flp_rule *rule,
                                       flp_lifetime **out);
/** Free; NULL is accepted. @since 0.1 */
FLP_API void flp_lifetime_free(flp_lifetime *lt);
/** Set / get a flp_lifetime_key: FLP_ERR_RANGE for a value outside
 *  flp_lifetime_bounds, FLP_ERR_INVALID for a key that is not a
 *  flp_lifetime_key. @since 0.1 */
FLP_API flp_status flp_lifetime_set(flp_lifetime *lt, flp_lifetime_key key, double value);
FLP_API flp_status flp_lifetime_get(const flp_lifetime *lt, flp_lifetime_key key, double *value);
/** The bounds [*lo, *hi] a flp_lifetime_key accepts. @since 0.1 */
FLP_API flp_status flp_lifetime_bounds(flp_lifetime_key key, double *lo, double *hi);

/** Run the lifetime on `ep` and put the query loss in *loss. With
 *  want_gradient != 0, add the meta-gradient to the handles' gradients.
 *  Errors: FLP_ERR_SHAPE (episode does not fit the network, or its kind
 *  does not fit the feedback signal), FLP_ERR_NONFINITE (a weight or the
 *  loss became non-finite: the message names the step and layer; no
 *  gradient is added), FLP_ERR_NOMEM. @since 0.1 */
FLP_API flp_status flp_lifetime_run(flp_lifetime *lt, const flp_episode *ep, int want_gradient,
                                    float *loss);

/** Weights of linear layer `layer` at the end of the last run. @since 0.1 */
FLP_API flp_status flp_lifetime_final_weight(const flp_lifetime *lt, int layer, float *dst,
                                             int64_t count);
/** Biases of linear layer `layer` at the end of the last run (they change
 *  only under the gradient rule). @since 0.1 */
FLP_API flp_status flp_lifetime_final_bias(const flp_lifetime *lt, int layer, float *dst,
                                           int64_t count);
/** Outputs of the network with the final weights of the last run:
 *  y[n, n_out] = net(x[n, n_in]) (n_in the network's input size: whole
 *  images for a network with a front-end). @since 0.1 */
FLP_API flp_status flp_lifetime_predict(flp_lifetime *lt, int64_t n, const float *x, float *y);

/** Bytes of workspace the last run used (stored weights, activities,
 *  scratch, and a front-end's activations and their gradient), and the number of inner steps it recomputed in the reverse
 *  sweep. @since 0.1 */
FLP_API flp_status flp_lifetime_stats(const flp_lifetime *lt, int64_t *workspace_bytes,
                                      int64_t *recomputed_steps);

/** Floating-point operations of the matrix products the last run did
 *  (2 m n k per m x n x k product, recomputation included): what a
 *  benchmark divides by the time to get a rate. @since 0.1 */
FLP_API flp_status flp_lifetime_work(const flp_lifetime *lt, double *flops);

#ifdef __cplusplus
}
#endif
#endif /* FLP_LIFETIME_H */
