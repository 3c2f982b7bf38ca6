/* gradient_rule.c - the gradient-based baseline (OML-style) as a plasticity
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
#include "lifetime/lifetime_internal.h"
#include "plasticity/update.h"

/* ---- the step's batch ----------------------------------------------------- */

static const float *step_x(const flp_lifetime *lt, int64_t k)
{
    return lt->x + k * lt->batch * lt->layer[0].n_in;
}

/* Input of dense layer i for step k's batch. */
static const float *step_input(const flp_lifetime *lt, int i, int64_t k, const float *acts)
{
    return i == 0 ? step_x(lt, k) : acts + lt->batch * lt->layer[i - 1].h_off;
}

/* hbar = 0 but for dL_k/dyhat in the output's block. */
static void seed_step_loss(const flp_lifetime *lt, int64_t k, const float *acts, float *hbar)
{
    int64_t B = lt->batch, off = B * lt->layer[lt->n - 1].h_off;
    memset(hbar, 0, (size_t)(B * lt->act_width) * sizeof *hbar);
    const float *y = lt->classification ? NULL : lt->y + k * B * lt->n_final;
    const int32_t *labels = lt->classification ? lt->labels + k * B : NULL;
    flp__lt_loss(lt, B, acts + off, y, labels, hbar + off);
}

/* ---- the forward half ----------------------------------------------------- */

void flp__lt_step_gradient(flp_lifetime *lt, int64_t k, const float *state, float *G, const float *acts)
{
    memset(G, 0, (size_t)lt->n_state * sizeof *G); /* the backprop adds into it */
    seed_step_loss(lt, k, acts, lt->s.hbar);
    flp__lt_backprop(lt, state, lt->batch, step_x(lt, k), acts, lt->s.hbar, G, 1);
}

/* The plasticity kernels compute W += m alpha ⊙ (P - sq W): with m = -1,
 * P = the gradient and no decay term that is the descent step, so the
 * gradient rule shares their fused, thread-count-independent passes. */
int flp__lt_gradient_update(const flp_lifetime *lt, int i, float *state, const float *G)
{
    const flp__lt_layer *d = &lt->layer[i];
    int gran = lt->rule->granularity;
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
    for (int i = lt->lowest_plastic; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i];
        float *zd = zdot + B * d->h_off, *hd = hdot + B * d->h_off;
        if (d->plastic)
            flp__linear_forward(B, d->n_in, d->n_out, step_input(lt, i, k, acts), v + d->w_off, v + d->b_off, zd);
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
    for (int i = lt->n - 1; i >= 0; i--) {
        const flp__lt_layer *d = &lt->layer[i];
        int64_t off = B * d->h_off, n = B * d->n_out;
        float *zbd = hbd + off;
        flp__lt_activation_vjp(d, n, acts + off, zbd);
        if (i >= lowest)
            curvature_term(d, n, acts + off, zbar + off, zdot + off, zbd);
        float *gW = d->plastic ? lt->Wbar + d->w_off : d->gW;
        float *gb = d->b_off >= 0 ? lt->Wbar + d->b_off : d->gb;
        flp__linear_vjp(B, d->n_in, d->n_out, step_input(lt, i, k, acts), NULL, zbd, NULL, gW, gb);
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
    seed_step_loss(lt, k, acts, zbar);
    flp__lt_chain(lt, Wk, B, acts, zbar, 0);
    tangent_forward(lt, k, Wk, v, acts, zdot, hdot);
    loss_tangent(lt, acts + out, hdot + out, hbd + out);
    tangent_backward(lt, k, Wk, v, acts, zbar, zdot, hdot, hbd);
}

void flp__lt_gradient_reverse(flp_lifetime *lt, int64_t k, float *Wk, const float *acts)
{
    float *G = Wk + lt->n_state; /* the record's second slot: the step gradient */
    lt->flops += (double)lt->batch * lt->flops_reverse;
#pragma omp parallel for schedule(dynamic, 1) num_threads(lt->threads) if (lt->threads > 1)
    for (int j = 0; j < lt->n_plastic; j++)
        update_vjp(lt, lt->order_plastic[j], Wk, G);
    if (lt->rule->second_order && lt->n_plastic > 0) /* no plastic layer: no direction, H v = 0 */
        hessian_vector(lt, k, Wk, G, acts);
}
