/* sweep.h - the inner step and the reverse sweep over a lifetime's steps,
 * checkpointed within the memory budget (sweep.c). */
#ifndef FLP_LIFETIME_SWEEP_H
#define FLP_LIFETIME_SWEEP_H

#include "lifetime/lifetime_internal.h"

/* One inner step k: state W_k -> W_{k+1} in place. saved_W (if not NULL)
 * is a record: it receives W_k, then what the rule keeps of the step (P_k,
 * or the step gradient under the gradient rule). The step's activities are
 * computed into `acts` (scratch if NULL), or, with have_acts, read from
 * it: a recomputation from stored activities skips the forward pass.
 * Returns FLP_ERR_NONFINITE (naming step and layer) if a weight became
 * non-finite. */
flp_status flp__lt_step(flp_lifetime *lt, int64_t k, float *state, float *saved_W, float *acts,
                        int have_acts);
/* Run steps [0, K) from the state in lt->W, leaving W_K there, measure the
 * query loss and, with want_gradient, sweep back through every step,
 * checkpointing within lt->budget_bytes. Leaves the adjoint of W_0 in
 * lt->Wbar. */
flp_status flp__lt_sweep(flp_lifetime *lt, int want_gradient, float *loss);

#endif
