/* dense.h - the dense stack every rule runs on: the forward pass under a
 * state, backpropagation through it, the losses (a step's, the query's) and
 * the step's loss gradient. Nothing here knows the rule: the state decides
 * which weights and biases a layer uses (lifetime_internal.h), and the
 * rules (rule_*.c) build their steps and reverses from these pieces. */
#ifndef FLP_LIFETIME_DENSE_H
#define FLP_LIFETIME_DENSE_H

#include "lifetime/lifetime_internal.h"

/* ---- what a layer reads ---- */
/* Weights and bias layer i uses under `state`. */
const float *flp__lt_weight(const flp_lifetime *lt, int i, const float *state);
const float *flp__lt_bias(const flp_lifetime *lt, int i, const float *state);
/* The input of dense layer i for `rows` examples: x itself for layer 0,
 * else h_i, layer i-1's block of `blocks` (activities, or any buffer laid
 * out like them). */
const float *flp__lt_input(const flp_lifetime *lt, int i, int64_t rows, const float *x, const float *blocks);
/* The dense stack's inputs of step k's batch. */
const float *flp__lt_step_x(const flp_lifetime *lt, int64_t k);
/* Copy layer i's part of `state` (W_i, and b_i where the state holds it)
 * into `saved` (state layout); nothing when saved is NULL. */
void flp__lt_save_layer(const flp_lifetime *lt, int i, const float *state, float *saved);

/* ---- forward ---- */
/* Forward pass of `rows` examples x under `state` into acts ([rows, act_width] blocks). */
void flp__lt_forward(const flp_lifetime *lt, const float *state, int64_t rows, const float *x, float *acts);
/* Activities h_{i+1} of dense layer i ([n, n_out_i]) for n examples x (the
 * dense stack's inputs, such as lt->x) under `state`, in chunks the scratch
 * holds (clobbers lt->s.acts). */
void flp__lt_activity(flp_lifetime *lt, const float *state, int i, int64_t n, const float *x, float *h);
/* p = softmax(z) of one row of n logits, in float (the signal, the family's
 * output activity, the gradient rule's curvature). */
void flp__lt_softmax(int64_t n, const float *z, float *p);
/* The same softmax kept in double for the losses' gradients: returns
 * sum_j exp(z_j - mx) with *mx = max_j z_j, so that p_j = exp(z_j - mx) / sum. */
double flp__lt_softmax_sum(int64_t n, const float *z, float *mx);

/* ---- backward ---- */
/* dL/dz from dL/dh (hb, in place) through layer i's activation, given h. */
void flp__lt_activation_vjp(const flp__lt_layer *d, int64_t n, const float *h, float *hb);
/* dL/dz_i of every layer i >= lowest, from dL/dh blocks in hbar (turned
 * into dL/dz_i in place; layer `lowest` passes nothing below). */
void flp__lt_chain(flp_lifetime *lt, const float *state, int64_t rows, const float *acts, float *hbar,
                   int lowest);
/* Adjoint of the dense forward pass of `rows` examples under `state`: hbar
 * holds dLoss/dh_i blocks (consumed). Meta-gradient (step_only = 0): the
 * gradients of what the state holds go to gstate (lt->Wbar), the others
 * to the network's gW / gb. Step gradient (step_only = 1): the chain stops
 * at the lowest plastic layer and only the state's gradients are added to
 * gstate. */
void flp__lt_backprop(flp_lifetime *lt, const float *state, int64_t rows, const float *x,
                      const float *acts, float *hbar, float *gstate, int step_only);
/* dx += dz_0 W_0 (dz_0 in its hbar block after a chain to layer 0) for
 * `rows` examples under `state`: the inputs' share of the gradient. */
void flp__lt_input_vjp(flp_lifetime *lt, const float *state, int64_t rows, const float *hbar, float *dx);

/* ---- the losses ---- */
/* Loss of `rows` outputs `out` against targets y (regression) or labels:
 * the mean squared error over every output, or the mean cross-entropy.
 * With grad, seeds dLoss/dout there. */
double flp__lt_loss(const flp_lifetime *lt, int64_t rows, const float *out, const float *y,
                    const int32_t *labels, float *grad);
/* hbar = 0 but for dL_k/dyhat of step k's batch in the output's block. */
void flp__lt_seed_step_loss(const flp_lifetime *lt, int64_t k, const float *acts, float *hbar);
/* The loss gradient of step k's batch under `state`, into G (state layout),
 * from the step's activities. */
void flp__lt_step_gradient(flp_lifetime *lt, int64_t k, const float *state, float *G, const float *acts);
/* Loss on the query set under `state`; with `want_gradient`, seed the
 * adjoint: Wbar = dLoss/dstate, and add dLoss/d(b, frozen W) to the net. */
flp_status flp__lt_query(flp_lifetime *lt, const float *state, int want_gradient, float *loss);

#endif
