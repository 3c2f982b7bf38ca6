/* update.h - the fused elementwise part of a plasticity update and of its
 * VJP: one pass over the weights each, after the Hebbian outer product
 * P = post^T pre has been formed by a GEMM.
 *
 * Forward:  W += m * alpha ⊙ (P - sq[:,None] ⊙ W)      (sq == NULL: Hebb)
 * where alpha is indexed per synapse [rows*cols], per neuron [rows] or per
 * layer [1] (flp_granularity). Rows run in parallel (OpenMP); every output
 * element and every per-row reduction has a fixed order, and cross-row sums
 * are added row by row afterwards, so results never depend on the thread
 * count. */
#ifndef FLP_PLASTICITY_UPDATE_H
#define FLP_PLASTICITY_UPDATE_H

#include <stdint.h>

/* saved (if not NULL) receives the weights before the update: copying
 * them in the same pass saves a separate read of W when the reverse sweep
 * keeps a record of the step. Returns 1 if any updated weight is
 * non-finite, else 0. */
int flp__plastic_update(int64_t rows, int64_t cols, float m, const float *alpha, int granularity,
                        const float *P, const float *sq, float *W, float *saved);

/* Reverse of flp__plastic_update at weights W (= W_k, before the update):
 *   in:  PG = P, Wbar = adjoint of the updated weights
 *   out: PG = G = m alpha ⊙ Wbar_in        (feeds postbar = pre G^T, prebar = post G)
 *        Wbar = Wbar_in ⊙ (1 - m alpha sq)  (the rule's share of the adjoint of W_k)
 *        galpha += m Wbar_in ⊙ (P - sq W), reduced to the granularity
 *        sqbar[r] = -sum_c G[r,c] W[r,c]    (Oja only; sq == NULL skips it)
 * row_sum is scratch of `rows` doubles. */
void flp__plastic_update_vjp(int64_t rows, int64_t cols, float m, const float *alpha,
                             int granularity, const float *sq, const float *W, float *PG,
                             float *Wbar, float *galpha, float *sqbar, double *row_sum);

#endif
