/*
 * flp_analysis.h - what a lifetime does to the network (Lindsey &
 * Litwin-Kumar 2020, Figure 2).
 *
 * Each call runs the lifetime `lt` on an episode without gradient, like
 * flp_lifetime_run(lt, ep, 0, ...), and measures something along the way;
 * afterwards the lifetime holds the run's final weights (flp_lifetime_predict
 * and flp_lifetime_final_weight read them) unless the call says otherwise.
 * Layers are the network's linear layers; "the update" of layer l at inner
 * step k is dW_l = W_l(k+1) - W_l(k) of its weights (biases, plastic under
 * the gradient rule only, are left out so that every rule is measured alike),
 * and "the step's loss" L_k is the loss of step k's batch under W(k): the
 * mean squared error over every output, or the mean cross-entropy for a
 * labelled episode.
 *
 * Experimental, the whole header: seen only where FLP_EXPERIMENTAL is
 * defined before it is included. The shared library exports these
 * functions, but what they measure and how may change in any release: a
 * program that uses them must be built and shipped against one exact libflp
 * version (doc/CONVENTIONS.md).
 */
#ifndef FLP_ANALYSIS_H
#define FLP_ANALYSIS_H

#include "flp_common.h"
#include "flp_episode.h"
#include "flp_lifetime.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef FLP_EXPERIMENTAL

/** Update magnitude and alignment with the gradient, per step and per
 *  plastic layer (Figure 2D and 2C). For inner step k of `ep` and the j-th
 *  plastic linear layer l (lowest first), norm[k * n_plastic + j] = ||dW_l||
 *  (Frobenius) and cosine[k * n_plastic + j] = <dW_l, -dL_k/dW_l> /
 *  (||dW_l|| ||dL_k/dW_l||), 0 when either is 0. Either output may be NULL.
 *  `steps` must be the episode's step count and `n_plastic` the number of
 *  plastic layers (FLP_ERR_SHAPE otherwise, saying what was expected).
 *  FLP_ERR_NONFINITE if a weight became non-finite, as in a run. @since 0.1 */
FLP_API flp_status flp_analysis_update_trace(flp_lifetime *lt, const flp_episode *ep, int64_t steps,
                                             int n_plastic, double *norm, double *cosine);

/** Interference (Figure 2B): for an episode that shows n_tasks tasks one
 *  after the other, steps_per_task consecutive steps each (continual order),
 *  out[t] is the mean squared change of the network's outputs, over every
 *  output of every example of the steps of tasks 0..t-1, between the weights
 *  before task t's first step and after its last; out[0] = 0 (no earlier
 *  data). The episode must have n_tasks * steps_per_task steps
 *  (FLP_ERR_SHAPE otherwise). @since 0.1 */
FLP_API flp_status flp_analysis_interference(flp_lifetime *lt, const flp_episode *ep,
                                             int64_t steps_per_task, int64_t n_tasks, double *out);

/** Linear probe of the initial features (Figure 2A): with the network's
 *  initial weights frozen (no plasticity), fit the readout (the last linear
 *  layer: weights and bias) to the examples of every step of the regression
 *  episode `ep` by ridge least squares, solved exactly (to convergence):
 *      min_{w, b} mean over examples and outputs of (h w_o + b_o - y_o)^2
 *                 + ridge * ||w||^2     (the bias is not penalised)
 *  where h is the input of the readout. *fit_mse gets the objective's
 *  squared-error term on those examples, *query_mse the MSE of the fitted
 *  readout on the episode's query set (either may be NULL). `readout`, if
 *  not NULL, gets the fit: count = n_out * (n_h + 1) floats, row o holding
 *  w_o then b_o. ridge must be > 0 and finite (a feature that is always 0,
 *  a dead ReLU, would leave the problem singular otherwise).
 *  FLP_ERR_UNSUPPORTED for a labelled episode or a network with a single
 *  linear layer. The lifetime's final weights are its initial ones
 *  afterwards. @since 0.1 */
FLP_API flp_status flp_analysis_linear_probe(flp_lifetime *lt, const flp_episode *ep, double ridge,
                                             double *fit_mse, double *query_mse, float *readout,
                                             int64_t count);

#endif /* FLP_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif
#endif /* FLP_ANALYSIS_H */
