/*
 * flp_plasticity.h - feedback pathways and local plasticity rules.
 *
 * A feedback pathway carries a signal s from the output back to every
 * plastic layer l (FLP, Lindsey & Litwin-Kumar 2020):
 *
 *     f_l    = act(s B_l^T + c_l)           B_l [n_l, n_out], c_l [n_l]
 *     post_l = beta_l f_l + (1 - beta_l) h_l
 *
 * where h_l is layer l's activity in the forward pass and s is the error
 * y - yhat (regression) or the one-hot target (classification). A plasticity
 * rule then updates the layer's weights from post_l and the presynaptic
 * activity pre_l = h_{l-1}:
 *
 *     Oja:  W_l += m_l alpha_l ⊙ (post_l^T pre_l - diag(sum_batch post_l^2) W_l)
 *     Hebb: W_l += m_l alpha_l ⊙ (post_l^T pre_l)
 *
 * The gradient rule is the gradient-based baseline (OML-style): it ignores
 * the feedback pathways and takes a step of gradient descent on the loss of
 * the step's batch L_step (the mean squared error over every output of the
 * batch, or the mean cross-entropy for a labelled episode):
 *
 *     Gradient: W_l -= alpha_l ⊙ dL_step/dW_l,  b_l -= lr_b_l ⊙ dL_step/db_l
 *
 * for weights AND biases of the plastic layers; alpha_l are the weights'
 * learning rates and lr_b_l (flp_rule_lr_bias_*) the biases'. The hidden
 * multiplier does not apply to it. In the meta-gradient the inner gradient
 * is a constant (first order, as in the reference); with the experimental
 * FLP_RULE_SECOND_ORDER the lifetime differentiates through it exactly
 * (Hessian-vector products through the network).
 *
 * Chained feedback and the rule family (Shervani-Tabar & Rosenbaum; both
 * experimental: the section at the end of this header, seen with
 * FLP_EXPERIMENTAL defined, doc/CONVENTIONS.md). With
 * FLP_FEEDBACK_KIND = FLP_FEEDBACK_CHAINED the error flows down layer by
 * layer through matrices B_l shaped like the forward weights W_l
 * ([n_l, n_{l-1}]; fixed random for feedback alignment, or meta-learned):
 *
 *     e_L = softmax(yhat) - onehot(label)
 *     e_l = (e_{l+1} B_l) ⊙ act'(y_l)       down to the input (y_0 = x)
 *
 * act' is the derivative of the hidden activation written in terms of the
 * activity (1 - exp(-beta y) for softplus; the input uses the first hidden
 * layer's activation, as the reference does). FLP_FEEDBACK_SYMMETRIC uses
 * B_l = W_l (the current weights): exact backprop. The rule FLP_RULE_FAMILY
 * then updates every plastic layer by a weighted sum of candidate terms
 * (y_{l+1} is the layer's output activity, softmax(yhat) at the top):
 *
 *     W_l += sum_t theta_t T_t,l
 *     T_pseudo_gradient = -e_{l+1}^T y_l
 *     T_error_hebb      = -e_{l+1}^T e_l
 *     T_oja             = y_{l+1}^T y_l - (y_{l+1}^T y_{l+1}) W_l
 *
 * (sums over the batch; the last is Oja's subspace rule, a matrix product).
 * theta (flp_rule_get_theta) is one coefficient per term, meta-learned in
 * FLP_GROUP_RULE; FLP_RULE_TERMS switches terms on and off and
 * FLP_RULE_THETA_L1 adds lambda sum |theta_t| to the meta-loss. The family
 * uses neither alpha nor the hidden multiplier, and needs a labelled
 * episode and chained or symmetric feedback (a convolutional front-end
 * before its dense layers is meta-learned through it, as under the other
 * rules); the other rules need direct pathways.
 *
 * Layers are named by their index in the network (flp_net.h); feedback
 * pathways and plasticity coefficients exist for linear layers only. Every
 * pathway of every linear layer is a meta-parameter, used or not: a
 * pathway into a layer that is not plastic simply receives a zero gradient.
 *
 * Settings are set through flp_*_set(handle, key, value) with a double
 * value (integers and enums are passed as their value) so that the ABI never
 * freezes a struct; flp_*_bounds() says what each key accepts.
 */
#ifndef FLP_PLASTICITY_H
#define FLP_PLASTICITY_H

#include "flp_common.h"
#include "flp_net.h"
#include "flp_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Feedback pathways
 * ====================================================================== */
typedef struct flp_feedback flp_feedback;

typedef enum {
    FLP_SIGNAL_ERROR = 0,                 /* s = y - yhat (regression) */
    FLP_SIGNAL_TARGET = 1,                /* s = onehot(label) */
    FLP_SIGNAL_TARGET_MINUS_SOFTMAX = 2   /* s = onehot(label) - softmax(yhat) */
} flp_signal;

/* Settings of a feedback pathway, one line per key (flp_common.h, "key
 * maps"): X(FEEDBACK, NAME, value, type, default, lo, hi).
 *   FLP_FEEDBACK_SIGNAL: an flp_signal; default FLP_SIGNAL_ERROR.
 *   FLP_FEEDBACK_RELU: activation of the pathway, 1 = ReLU (default, as the
 *     reference), 0 = linear.
 *   FLP_FEEDBACK_CLAMP_OUTPUT: 1: the output layer's postsynaptic activity
 *     is the signal itself (the output is clamped to the target,
 *     classification). Default 0.
 *   FLP_FEEDBACK_POST_PRESYNAPTIC: 1: pre_l is the feedback-modulated
 *     activity post_{l-1} when layer l-1 is plastic, instead of the forward
 *     activity h_{l-1}. Default 0.
 *   FLP_FEEDBACK_DIFFERENTIATE_SIGNAL: 1: differentiate through softmax in
 *     FLP_SIGNAL_TARGET_MINUS_SOFTMAX. Default 0: the signal is a constant in
 *     the meta-gradient, as in the reference code. The error signal
 *     y - yhat is always differentiated.
 * Experimental (FLP_FEEDBACK_KEY_MAP_EXPERIMENTAL, with FLP_EXPERIMENTAL):
 *   FLP_FEEDBACK_KIND: an flp_feedback_kind; default FLP_FEEDBACK_DIRECT.
 *     Switching between direct and chained (or symmetric) pathways
 *     reallocates every B with its new shape, zeroed (c = 0, beta = 1). */
#define FLP_FEEDBACK_KEY_MAP(X)                                                                \
    X(FEEDBACK, SIGNAL, 0, ENUM, FLP_SIGNAL_ERROR, FLP_SIGNAL_ERROR,                           \
      FLP_SIGNAL_TARGET_MINUS_SOFTMAX)                                                         \
    X(FEEDBACK, RELU, 1, BOOL, 1, 0, 1)                                                        \
    X(FEEDBACK, CLAMP_OUTPUT, 2, BOOL, 0, 0, 1)                                                \
    X(FEEDBACK, POST_PRESYNAPTIC, 3, BOOL, 0, 0, 1)                                            \
    X(FEEDBACK, DIFFERENTIATE_SIGNAL, 4, BOOL, 0, 0, 1)
#ifdef FLP_EXPERIMENTAL
#define FLP_FEEDBACK_KEY_MAP_EXPERIMENTAL(X)                                                   \
    X(FEEDBACK, KIND, 5, ENUM, FLP_FEEDBACK_DIRECT, FLP_FEEDBACK_DIRECT, FLP_FEEDBACK_SYMMETRIC)
#else
#define FLP_FEEDBACK_KEY_MAP_EXPERIMENTAL(X)
#endif

typedef enum {
    FLP_FEEDBACK_KEY_MAP(FLP__KEY_ENUM)
    FLP_FEEDBACK_KEY_MAP_EXPERIMENTAL(FLP__KEY_ENUM)
} flp_feedback_key;

typedef enum {
    FLP_FEEDBACK_B = 0,    /* [n_l, n_out], or [n_l, n_{l-1}] when chained */
    FLP_FEEDBACK_C = 1,    /* [n_l] */
    FLP_FEEDBACK_BETA = 2  /* [1] */
} flp_feedback_tensor;

/** Create pathways into every linear layer of `net` (B, c zero, beta 1).
 *  The network must not change shape afterwards. @since 0.1 */
FLP_API flp_status flp_feedback_create(const flp_net *net, flp_feedback **out);
/** Free; NULL is accepted. @since 0.1 */
FLP_API void flp_feedback_free(flp_feedback *fb);
/** Set / get a flp_feedback_key, and the bounds [*lo, *hi] it accepts:
 *  FLP_ERR_RANGE for a value outside them, FLP_ERR_INVALID for a key that
 *  is not a flp_feedback_key. @since 0.1 */
FLP_API flp_status flp_feedback_set(flp_feedback *fb, flp_feedback_key key, double value);
FLP_API flp_status flp_feedback_get(const flp_feedback *fb, flp_feedback_key key, double *value);
FLP_API flp_status flp_feedback_bounds(flp_feedback_key key, double *lo, double *hi);
/** B_l Kaiming normal (std sqrt(2 / n_out)) from rng, or Xavier uniform
 *  (U(-a, a), a = sqrt(6 / (n_l + n_{l-1}))) for chained pathways; c_l = 0,
 *  beta_l = beta. @since 0.1 */
FLP_API flp_status flp_feedback_init(flp_feedback *fb, flp_rng *rng, float beta);
/** Element count / copy out / overwrite / gradient of a pathway tensor of
 *  linear layer `layer`. FLP_ERR_INVALID if the layer is not linear. @since 0.1 */
FLP_API flp_status flp_feedback_count(const flp_feedback *fb, int layer, flp_feedback_tensor which, int64_t *count);
FLP_API flp_status flp_feedback_get_param(const flp_feedback *fb, int layer, flp_feedback_tensor which, float *dst, int64_t count);
FLP_API flp_status flp_feedback_set_param(flp_feedback *fb, int layer, flp_feedback_tensor which, const float *src, int64_t count);
FLP_API flp_status flp_feedback_get_grad(const flp_feedback *fb, int layer, flp_feedback_tensor which, float *dst, int64_t count);
/** Set every accumulated gradient of the pathways to zero. @since 0.1 */
FLP_API flp_status flp_feedback_zero_grad(flp_feedback *fb);

/* ======================================================================
 * Plasticity rules
 * ====================================================================== */
typedef struct flp_rule flp_rule;

typedef enum {
    FLP_RULE_OJA = 0,
    FLP_RULE_HEBB = 1,
    FLP_RULE_GRADIENT = 2,  /* gradient descent on the step's loss (see above) */
#ifdef FLP_EXPERIMENTAL
    FLP_RULE_FAMILY = 3     /* weighted sum of candidate terms over chained feedback */
#endif
} flp_rule_kind;

typedef enum {
    FLP_GRANULARITY_SYNAPSE = 0,  /* alpha_l is [n_l, n_{l-1}] */
    FLP_GRANULARITY_NEURON = 1,   /* alpha_l is [n_l] (one per postsynaptic neuron) */
    FLP_GRANULARITY_LAYER = 2     /* alpha_l is [1] */
} flp_granularity;

/* Settings of a rule, one line per key (flp_common.h, "key maps"):
 * X(RULE, NAME, value, type, default, lo, hi).
 *   FLP_RULE_GRANULARITY: an flp_granularity; default
 *     FLP_GRANULARITY_SYNAPSE. Changing it reallocates every alpha, filled
 *     with FLP_RULE_ALPHA_INIT.
 *   FLP_RULE_PLASTIC_LAST: make the last N linear layers plastic (N >= 0);
 *     default all (any N at least the number of linear layers). Reads back
 *     as the number of plastic layers, or -1 when flp_rule_set_plastic_mask
 *     chose layers that are not the last ones.
 *   FLP_RULE_HIDDEN_MULTIPLIER: multiplier m_l of the update in plastic
 *     hidden layers (the output layer always uses 1). Default 1; the
 *     paper's Omniglot runs use 100.
 *   FLP_RULE_ALPHA_INIT: fill every alpha with this value (default 0);
 *     under the gradient rule also every bias learning rate.
 * Experimental (FLP_RULE_KEY_MAP_EXPERIMENTAL, with FLP_EXPERIMENTAL):
 *   FLP_RULE_SECOND_ORDER: gradient rule only (others ignore it): 1
 *     differentiates through the inner gradient in the meta-gradient (exact
 *     second order); 0 (default) treats it as a constant (first order, as
 *     the reference).
 *   FLP_RULE_TERMS: rule family: bit mask of the enabled terms (bit t =
 *     flp_rule_term t); default all. A disabled term contributes nothing and
 *     its theta gets no gradient.
 *   FLP_RULE_THETA_L1: rule family: lambda >= 0 of the L1 penalty
 *     lambda sum_t |theta_t| over the enabled terms, added to the meta-loss.
 *     Default 0. */
#define FLP_RULE_KEY_MAP(X)                                                                    \
    X(RULE, GRANULARITY, 0, ENUM, FLP_GRANULARITY_SYNAPSE, FLP_GRANULARITY_SYNAPSE,            \
      FLP_GRANULARITY_LAYER)                                                                   \
    X(RULE, PLASTIC_LAST, 1, INT, 1e9, 0, 1e9)                                                 \
    X(RULE, HIDDEN_MULTIPLIER, 2, REAL, 1, -1e30, 1e30)                                        \
    X(RULE, ALPHA_INIT, 3, REAL, 0, -1e30, 1e30)
#ifdef FLP_EXPERIMENTAL
#define FLP_RULE_KEY_MAP_EXPERIMENTAL(X)                                                       \
    X(RULE, SECOND_ORDER, 4, BOOL, 0, 0, 1)                                                    \
    X(RULE, TERMS, 5, INT, 7, 0, 7)                                                            \
    X(RULE, THETA_L1, 6, REAL, 0, 0, 1e30)
#else
#define FLP_RULE_KEY_MAP_EXPERIMENTAL(X)
#endif

typedef enum {
    FLP_RULE_KEY_MAP(FLP__KEY_ENUM)
    FLP_RULE_KEY_MAP_EXPERIMENTAL(FLP__KEY_ENUM)
} flp_rule_key;

/** Create a rule for `net` with every linear layer plastic. @since 0.1 */
FLP_API flp_status flp_rule_create(const flp_net *net, flp_rule_kind kind, flp_rule **out);
/** Free; NULL is accepted. @since 0.1 */
FLP_API void flp_rule_free(flp_rule *rule);
/** Set / get a flp_rule_key, and the bounds [*lo, *hi] it accepts:
 *  FLP_ERR_RANGE for a value outside them, FLP_ERR_INVALID for a key that
 *  is not a flp_rule_key. @since 0.1 */
FLP_API flp_status flp_rule_set(flp_rule *rule, flp_rule_key key, double value);
FLP_API flp_status flp_rule_get(const flp_rule *rule, flp_rule_key key, double *value);
FLP_API flp_status flp_rule_bounds(flp_rule_key key, double *lo, double *hi);
/** The rule's kind. @since 0.1 */
FLP_API flp_status flp_rule_kind_of(const flp_rule *rule, flp_rule_kind *kind);
/** Choose plastic layers explicitly: mask[i] != 0 makes net layer i plastic;
 *  n must equal the network's layer count and only linear layers may be
 *  marked. @since 0.1 */
FLP_API flp_status flp_rule_set_plastic_mask(flp_rule *rule, const int *mask, int n);
/** *plastic = 1 if net layer `layer` is plastic. @since 0.1 */
FLP_API flp_status flp_rule_is_plastic(const flp_rule *rule, int layer, int *plastic);
/** alpha of linear layer `layer` (whether plastic or not): count, get, set, gradient. @since 0.1 */
FLP_API flp_status flp_rule_alpha_count(const flp_rule *rule, int layer, int64_t *count);
FLP_API flp_status flp_rule_get_alpha(const flp_rule *rule, int layer, float *dst, int64_t count);
FLP_API flp_status flp_rule_set_alpha(flp_rule *rule, int layer, const float *src, int64_t count);
FLP_API flp_status flp_rule_get_alpha_grad(const flp_rule *rule, int layer, float *dst, int64_t count);
/** Set every accumulated alpha gradient (and bias learning-rate gradient) to zero. @since 0.1 */
FLP_API flp_status flp_rule_zero_grad(flp_rule *rule);
/** Learning rates of the biases of linear layer `layer` under the gradient
 *  rule (whether plastic or not): count, get, set, gradient. One per neuron
 *  [n_l] at synapse or neuron granularity, one [1] at layer granularity;
 *  FLP_RULE_GRANULARITY reallocates them with alpha. FLP_ERR_INVALID for a
 *  layer that is not linear or a rule of another kind. @since 0.1 */
FLP_API flp_status flp_rule_lr_bias_count(const flp_rule *rule, int layer, int64_t *count);
FLP_API flp_status flp_rule_get_lr_bias(const flp_rule *rule, int layer, float *dst, int64_t count);
FLP_API flp_status flp_rule_set_lr_bias(flp_rule *rule, int layer, const float *src, int64_t count);
FLP_API flp_status flp_rule_get_lr_bias_grad(const flp_rule *rule, int layer, float *dst, int64_t count);

/* ======================================================================
 * Experimental: chained feedback, the rule family and the gradient rule's
 * second order (with the keys FLP_FEEDBACK_KIND, FLP_RULE_SECOND_ORDER,
 * FLP_RULE_TERMS, FLP_RULE_THETA_L1 and the kind FLP_RULE_FAMILY above).
 * Seen only where FLP_EXPERIMENTAL is defined before this header is
 * included. The shared library exports them, but they may change or
 * disappear in any release: a program that uses them must be built and
 * shipped against one exact libflp version (doc/CONVENTIONS.md).
 * ====================================================================== */
#ifdef FLP_EXPERIMENTAL

typedef enum {
    FLP_FEEDBACK_DIRECT = 0,    /* FLP pathways from the output: B_l [n_l, n_out] */
    FLP_FEEDBACK_CHAINED = 1,   /* errors layer by layer: B_l shaped like W_l */
    FLP_FEEDBACK_SYMMETRIC = 2  /* chained through W_l itself (backprop); B_l unused */
} flp_feedback_kind;

/* Terms of FLP_RULE_FAMILY: index of theta_t, and bit t of FLP_RULE_TERMS. */
typedef enum {
    FLP_TERM_PSEUDO_GRADIENT = 0,  /* -e_{l+1}^T y_l */
    FLP_TERM_ERROR_HEBB = 1,       /* -e_{l+1}^T e_l */
    FLP_TERM_OJA = 2               /* y_{l+1}^T y_l - (y_{l+1}^T y_{l+1}) W_l */
} flp_rule_term;

/** Coefficients theta of a rule family, one per term (flp_rule_term):
 *  count, get, set, gradient (also reached as the tensor "rule.theta",
 *  flp_params.h). FLP_ERR_INVALID for a rule of another kind. Defaults 0.
 *  @since 0.1 */
FLP_API flp_status flp_rule_theta_count(const flp_rule *rule, int64_t *count);
FLP_API flp_status flp_rule_get_theta(const flp_rule *rule, float *dst, int64_t count);
FLP_API flp_status flp_rule_set_theta(flp_rule *rule, const float *src, int64_t count);
FLP_API flp_status flp_rule_get_theta_grad(const flp_rule *rule, float *dst, int64_t count);

#endif /* FLP_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif
#endif /* FLP_PLASTICITY_H */
