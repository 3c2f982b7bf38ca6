/* rule_gradient.c - the gradient-based baseline (OML-style) as a plasticity
 * rule. Step k on the plastic layers, L_k the loss of the step's batch:
 *     W_{k+1} = W_k - alpha ⊙ dL_k/dW,   b_{k+1} = b_k - lr_b ⊙ dL_k/db
 * and its reverse. First order treats the inner gradient g_k as a constant;
 * exact second order sends its adjoint gbar = -lr ⊙ Wbar_{k+1} back through
 * g_k = dL_k/dθ, which is the Hessian-vector product H gbar (H symmetric),
 * computed forward-over-reverse: the directional derivative of the step's
 * backprop along gbar. Derivation in doc/MATH.md. */
#include <math.h>
#include <string.h>

#include "core/gemm.h"
#include "lifetime/dense.h"
#include "lifetime/rules.h"
#include "plasticity/update.h"

/* The step's loss follows the episode: the feedback is not read. */
static flp_status check(const flp_lifetime *lt) { return flp__lt_check_direct_feedback(lt); }

/* The products per example: the step gradient's backprop (dW from the
 * lowest plastic layer up, dh above it) counts as the update; the reverse
 * does products only in second order: the step's chain down to layer 0,
 * the tangent forward and the tangent backprop. */
static void work(flp_lifetime *lt)
{
    for (int i = 0; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i];
        double w = 2.0 * (double)d->n_out * (double)d->n_in;
        if (i >= lt->lowest_plastic)
            lt->flops_update += d->plastic ? (i > lt->lowest_plastic ? 2 * w : w) : (i > lt->lowest_plastic ? w : 0);
        if (!lt->rule->second_order)
            continue;
        lt->flops_reverse += i > 0 ? w : 0;                                 /* chain */
        if (i >= lt->lowest_plastic)
            lt->flops_reverse += (d->plastic ? w : 0) + (i > lt->lowest_plastic ? w : 0); /* tangent forward */
        lt->flops_reverse += w + (i > lt->lowest_plastic ? w : 0)          /* tangent dW */
                             + (i > 0 ? w : 0) + (i > 0 && d->plastic ? w : 0); /* tangent dh */
    }
}

/* ---- the step: its gradient (flp__lt_step_gradient), then a descent step ---- */

/* W -= alpha ⊙ gW, b -= lr_b ⊙ gb for plastic layer i. The plasticity
 * kernels compute W += m alpha ⊙ (P - sq W): with m = -1, P = the gradient
 * and no decay term that is the descent step, so the gradient rule shares
 * their fused, thread-count-independent passes. */
static int update(const flp_lifetime *lt, int i, int64_t k, float *state, float *G, float *saved,
                  const float *acts)
{
    (void)k;
    (void)acts;
    const flp__lt_layer *d = &lt->layer[i];
    int gran = lt->rule->granularity;
    flp__lt_save_layer(lt, i, state, saved);
    int bad = flp__plastic_update(d->n_out, d->n_in, -1.0f, d->rule->alpha, gran, G + d->w_off, NULL,
                                  state + d->w_off, NULL);
    bad |= flp__plastic_update(d->n_out, 1, -1.0f, d->rule->lr_bias, flp__bias_granularity(gran), G + d->b_off,
                               NULL, state + d->b_off, NULL);
    return bad;
}

/* ---- first order ------------------------------------------------------------ */

/* Reverse of plastic layer i's descent step: lrbar += -Wbar ⊙ g (reduced to
 * the granularity), Wbar passes unchanged, and g (in G) becomes its adjoint
 * gbar = -lr ⊙ Wbar, the direction second order needs. */
static void update_vjp(flp_lifetime *lt, int i, const float *Wk, float *G)
{
    const flp__lt_layer *d = &lt->layer[i];
    int gran = lt->rule->granularity;
    double *row_sum = lt->s.row_sum + d->h_off;
    flp__plastic_update_vjp(d->n_out, d->n_in, -1.0f, d->rule->alpha, gran, NULL, Wk + d->w_off, G + d->w_off,
                            lt->Wbar + d->w_off, d->galpha, NULL, row_sum);
    flp__plastic_update_vjp(d->n_out, 1, -1.0f, d->rule->lr_bias, flp__bias_granularity(gran), NULL,
                            Wk + d->b_off, G + d->b_off, lt->Wbar + d->b_off, d->glr_bias, NULL, row_sum);
}

/* ---- second order: H v, forward over reverse ----------------------------------- */

/* Tangent of the forward pass along v (state layout: directions for the
 * plastic layers' W and b, every other parameter fixed), from the lowest
 * plastic layer up (below it the tangents vanish):
 *     zdot_i = hdot_i W_i^T + h_i Wdot_i^T + bdot_i,   hdot_{i+1} = act'(z_i) ⊙ zdot_i */
static void tangent_forward(flp_lifetime *lt, int64_t k, const float *Wk, const float *v, const float *acts,
                            float *zdot, float *hdot)
{
    int64_t B = lt->batch;
    const float *x = flp__lt_step_x(lt, k);
    for (int i = lt->lowest_plastic; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i];
        float *zd = zdot + B * d->h_off, *hd = hdot + B * d->h_off;
        if (d->plastic)
            flp__linear_forward(B, d->n_in, d->n_out, flp__lt_input(lt, i, B, x, acts), v + d->w_off, v + d->b_off,
                                zd);
        if (i > lt->lowest_plastic)
            flp__gemm_nt(B, d->n_out, d->n_in, 1.0f, hdot + B * lt->layer[i - 1].h_off, d->n_in,
                         flp__lt_weight(lt, i, Wk), d->n_in, d->plastic ? 1.0f : 0.0f, zd, d->n_out);
        memcpy(hd, zd, (size_t)(B * d->n_out) * sizeof *hd);
        flp__lt_activation_vjp(d, B * d->n_out, acts + B * d->h_off, hd); /* multiplies by act' */
    }
}

/* Tangent of dL_k/dyhat along ydot, into ybd: the loss's Hessian times
 * ydot. Mean squared error over N outputs: 2 ydot / N; mean cross-entropy
 * over B rows: p ⊙ (ydot - <ydot, p>) / B with p = softmax(yhat). */
static void loss_tangent(flp_lifetime *lt, const float *yhat, const float *ydot, float *ybd)
{
    int64_t B = lt->batch, n = lt->n_final;
    if (!lt->classification) {
        for (int64_t j = 0; j < B * n; j++)
            ybd[j] = (float)(2.0 * ydot[j] / (double)(B * n));
        return;
    }
    float *p = lt->s.sig; /* the feedback signal's buffer: free under this rule */
    for (int64_t b = 0; b < B; b++) {
        flp__lt_softmax(n, yhat + b * n, p);
        double dot = 0.0;
        for (int64_t j = 0; j < n; j++)
            dot += (double)p[j] * ydot[b * n + j];
        for (int64_t j = 0; j < n; j++)
            ybd[b * n + j] = (float)(p[j] * (ydot[b * n + j] - dot) / (double)B);
    }
}

/* zbd += zbar ⊙ (act''(z) / act'(z)) ⊙ zdot, the activation's curvature
 * term: zero for relu and the identity, beta exp(-beta h) for softplus
 * (act' = 1 - exp(-beta h), act'' = beta act' exp(-beta h)), written with
 * zbar = hbar ⊙ act' so that hbar need not be kept. */
static void curvature_term(const flp__lt_layer *d, int64_t n, const float *h, const float *zbar,
                           const float *zdot, float *zbd)
{
    if (d->act != FLP__ACT_SOFTPLUS)
        return;
    float beta = d->softplus_beta;
    for (int64_t j = 0; j < n; j++)
        zbd[j] += zbar[j] * beta * expf(-beta * h[j]) * zdot[j];
}

/* Tangent of the step's backprop along v, top layer down. With zbar_i the
 * step's dL/dz_i and hbd the tangent of dL/dh_{i+1}:
 *     zbd_i = act' ⊙ hbd + curvature,   d(dL/dW_i) = zbd_i^T h_i + zbar_i^T hdot_i,
 *     d(dL/db_i) = 1^T zbd_i,           hbd (layer below) = zbd_i W_i + zbar_i Wdot_i.
 * The parameter tangents are H v: they go to Wbar for what the state holds
 * and to the network's gradients for frozen weights and biases. */
static void tangent_backward(flp_lifetime *lt, int64_t k, const float *Wk, const float *v, const float *acts,
                             const float *zbar, const float *zdot, const float *hdot, float *hbd)
{
    int64_t B = lt->batch;
    int lowest = lt->lowest_plastic;
    const float *x = flp__lt_step_x(lt, k);
    for (int i = lt->n - 1; i >= 0; i--) {
        const flp__lt_layer *d = &lt->layer[i];
        int64_t off = B * d->h_off, n = B * d->n_out;
        float *zbd = hbd + off;
        flp__lt_activation_vjp(d, n, acts + off, zbd);
        if (i >= lowest)
            curvature_term(d, n, acts + off, zbar + off, zdot + off, zbd);
        float *gW = d->plastic ? lt->Wbar + d->w_off : d->gW;
        float *gb = d->b_off >= 0 ? lt->Wbar + d->b_off : d->gb;
        flp__linear_vjp(B, d->n_in, d->n_out, flp__lt_input(lt, i, B, x, acts), NULL, zbd, NULL, gW, gb);
        if (i > lowest)
            flp__gemm_tn(d->n_out, d->n_in, B, 1.0f, zbar + off, d->n_out, hdot + B * lt->layer[i - 1].h_off,
                         d->n_in, 1.0f, gW, d->n_in);
        if (i == 0 && lt->xbar == NULL)
            continue;
        /* below layer 0: the tangent of dL_k/dx, the inputs' share of H v */
        float *below = i > 0 ? hbd + B * lt->layer[i - 1].h_off : lt->xbar + k * B * d->n_in;
        flp__gemm_nn(B, d->n_in, d->n_out, 1.0f, zbd, d->n_out, flp__lt_weight(lt, i, Wk), d->n_in,
                     i > 0 ? 0.0f : 1.0f, below, d->n_in);
        if (d->plastic)
            flp__gemm_nn(B, d->n_in, d->n_out, 1.0f, zbar + off, d->n_out, v + d->w_off, d->n_in, 1.0f, below,
                         d->n_in);
    }
}

/* Wbar += H_state v and frozen parameters' gradients += H_frozen,state v,
 * H the Hessian of L_k at W_k over every parameter. */
static void hessian_vector(flp_lifetime *lt, int64_t k, const float *Wk, const float *v, const float *acts)
{
    int64_t B = lt->batch, out = B * lt->layer[lt->n - 1].h_off;
    /* The pathway buffers are free under the gradient rule. */
    float *zbar = lt->s.hbar, *zdot = lt->s.g, *hdot = lt->s.post, *hbd = lt->s.postbar;
    flp__lt_seed_step_loss(lt, k, acts, zbar);
    flp__lt_chain(lt, Wk, B, acts, zbar, 0);
    tangent_forward(lt, k, Wk, v, acts, zdot, hdot);
    loss_tangent(lt, acts + out, hdot + out, hbd + out);
    tangent_backward(lt, k, Wk, v, acts, zbar, zdot, hdot, hbd);
}

/* The learning rates' gradients; under second order also the
 * Hessian-vector product through the step's loss. */
static void reverse(flp_lifetime *lt, int64_t k, float *Wk, const float *acts)
{
    float *G = Wk + lt->n_state; /* the record's second slot: the step gradient */
    lt->flops += (double)lt->batch * lt->flops_reverse;
#pragma omp parallel for schedule(dynamic, 1) num_threads(lt->threads) if (lt->threads > 1)
    for (int j = 0; j < lt->n_plastic; j++)
        update_vjp(lt, lt->order_plastic[j], Wk, G);
    if (lt->rule->second_order && lt->n_plastic > 0) /* no plastic layer: no direction, H v = 0 */
        hessian_vector(lt, k, Wk, G, acts);
}

/* The step changes the biases too; its preparation is the step gradient. */
const flp__lt_rule flp__lt_rule_gradient = {
    .bias_in_state = 1,
    .check = check, .work = work, .prepare = flp__lt_step_gradient, .update = update, .reverse = reverse,
};
