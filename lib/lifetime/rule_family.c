/* rule_family.c - the rule family over chained feedback (Shervani-Tabar &
 * Rosenbaum) as a plasticity rule of the lifetime. Step k:
 *     e_L = softmax(yhat) - onehot,  e_i = (e_{i+1} B_i) ⊙ act'(y_i)  (i = L-1 .. 0)
 *     W_i += sum_t theta_t T_t(y_i, y_{i+1}, e_{i+1}, e_i, W_i)
 * with B_i the chained feedback matrix or, symmetric, W_i itself; and its
 * exact reverse: the terms' VJPs (rule_terms.c), then the error chain
 * bottom-up, softmax, and backprop through the forward pass that made y.
 * Behind a front-end the inputs x are its features: the three places x
 * enters a step (layer 0's terms as their presynaptic activity, e_0's
 * slope act'(x), the forward pass) each add to dLoss/dx of the step
 * (lt->xbar) when it is wanted. Derivation in doc/MATH.md. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/gemm.h"
#include "lifetime/dense.h"
#include "lifetime/rules.h"
#include "plasticity/rule_terms.h"

static flp_status check(const flp_lifetime *lt)
{
    if (lt->fb->kind == FLP_FEEDBACK_DIRECT)
        return flp__error(FLP_ERR_INVALID, "flp_lifetime_run: the rule family needs chained or symmetric "
                          "feedback (FLP_FEEDBACK_KIND)");
    if (!lt->classification) /* the error is always softmax - onehot */
        return flp__error(FLP_ERR_SHAPE, "flp_lifetime_run: the rule family needs a labelled episode, this one "
                          "is regression");
    return FLP_OK;
}

/* ---- what the step reads -------------------------------------------------- */

/* The error e_i at the input of dense layer i (e_0 at the network's input):
 * error blocks are laid out like the activities. The buffers are the
 * caller's own, writable: the cast only restores what the helper took. */
static float *error_in(const flp_lifetime *lt, int i, float *blocks, float *e0)
{
    return (float *)flp__lt_input(lt, i, lt->batch, e0, blocks);
}

/* The activation whose derivative modulates e_i: the one that made y_i; for
 * the input, the first hidden layer's (as the reference does). */
static const flp__lt_layer *modulating_layer(const flp_lifetime *lt, int i)
{
    return &lt->layer[i > 0 ? i - 1 : 0];
}

/* act'(y) in terms of the activity y. */
static float act_slope(const flp__lt_layer *d, float y)
{
    if (d->act == FLP__ACT_SOFTPLUS)
        return 1.0f - expf(-d->softplus_beta * y);
    if (d->act == FLP__ACT_RELU)
        return y > 0.0f ? 1.0f : 0.0f;
    return 1.0f;
}

/* d act'(y) / dy: nonzero only for softplus. */
static float act_curvature(const flp__lt_layer *d, float y)
{
    return d->act == FLP__ACT_SOFTPLUS ? d->softplus_beta * expf(-d->softplus_beta * y) : 0.0f;
}

/* B_i, and where its gradient goes: the feedback's, or the weights' own
 * when the feedback is symmetric. */
static const float *feedback_matrix(const flp_lifetime *lt, int i, const float *state)
{
    return lt->fb->kind == FLP_FEEDBACK_SYMMETRIC ? flp__lt_weight(lt, i, state) : lt->layer[i].path->B;
}

static float *feedback_grad(flp_lifetime *lt, int i)
{
    const flp__lt_layer *d = &lt->layer[i];
    if (lt->fb->kind != FLP_FEEDBACK_SYMMETRIC)
        return d->gB;
    return d->plastic ? lt->Wbar + d->w_off : d->gW;
}

/* ---- the forward half ------------------------------------------------------- */

/* p = softmax(yhat) into lt->s.sig and every error e_i of step k under
 * `state`: e_0 into lt->s.e0, the others into lt->s.post (layer blocks). */
static void errors(flp_lifetime *lt, int64_t k, const float *state, float *P, const float *acts)
{
    (void)P;
    int64_t B = lt->batch, n = lt->n_final;
    const flp__lt_layer *top = &lt->layer[lt->n - 1];
    const int32_t *lab = lt->labels + k * B;
    float *p = lt->s.sig, *e_top = lt->s.post + B * top->h_off;
    const float *x = flp__lt_step_x(lt, k);
    for (int64_t b = 0; b < B; b++) {
        flp__lt_softmax(n, acts + B * top->h_off + b * n, p + b * n);
        memcpy(e_top + b * n, p + b * n, (size_t)n * sizeof *p);
        e_top[b * n + lab[b]] -= 1.0f;
    }
    for (int i = lt->n - 1; i >= 0; i--) {
        const flp__lt_layer *d = &lt->layer[i], *m = modulating_layer(lt, i);
        float *e = error_in(lt, i, lt->s.post, lt->s.e0);
        const float *y = flp__lt_input(lt, i, B, x, acts);
        flp__gemm_nn(B, d->n_in, d->n_out, 1.0f, lt->s.post + B * d->h_off, d->n_out, feedback_matrix(lt, i, state),
                     d->n_in, 0.0f, e, d->n_in);
        for (int64_t j = 0; j < B * d->n_in; j++)
            e[j] *= act_slope(m, y[j]);
    }
}

/* The inputs of plastic layer i's terms at step k (errors already computed). */
static flp__term_in term_inputs(const flp_lifetime *lt, int i, int64_t k, const float *state, const float *acts)
{
    const flp__lt_layer *d = &lt->layer[i];
    int64_t B = lt->batch;
    int top = i == lt->n - 1;
    return (flp__term_in){
        .B = B, .n = d->n_out, .m = d->n_in,
        .pre = flp__lt_input(lt, i, B, flp__lt_step_x(lt, k), acts),
        .post = top ? lt->s.sig : acts + B * d->h_off,
        .err_post = lt->s.post + B * d->h_off,
        .err_pre = error_in(lt, i, lt->s.post, lt->s.e0),
        .W = state + d->w_off,
        .work = lt->s.work + 2 * B * d->in_off,
    };
}

/* W_i += sum_t theta_t T_t for plastic layer i, the sum kept in P (state
 * layout). */
static int update(const flp_lifetime *lt, int i, int64_t k, float *state, float *P, float *saved,
                  const float *acts)
{
    const flp__lt_layer *d = &lt->layer[i];
    const flp_rule *rule = lt->rule;
    int64_t len = d->n_out * d->n_in;
    float *dW = P + d->w_off, *W = state + d->w_off;
    flp__term_in in = term_inputs(lt, i, k, state, acts);
    flp__lt_save_layer(lt, i, state, saved);
    memset(dW, 0, (size_t)len * sizeof *dW);
    for (int t = 0; t < FLP__N_TERMS; t++)
        if (rule->terms >> t & 1)
            flp__rule_terms[t].value(&in, rule->theta[t], dW);
    int bad = 0;
    for (int64_t j = 0; j < len; j++) {
        W[j] += dW[j];
        bad |= !isfinite(W[j]);
    }
    return bad;
}

/* ---- the reverse -------------------------------------------------------------- */

/* dLoss/dx of step k's batch, where a front-end wants it; else NULL. */
static float *step_xbar(const flp_lifetime *lt, int64_t k)
{
    return lt->xbar != NULL ? lt->xbar + k * lt->batch * lt->layer[0].n_in : NULL;
}

static double dot(int64_t n, const float *a, const float *b)
{
    double s = 0.0;
    for (int64_t j = 0; j < n; j++)
        s += (double)a[j] * b[j];
    return s;
}

/* Plastic layer i's terms: theta's gradient <Wbar_{k+1}, T_t>, then every
 * term's VJP with Tbar = theta_t Wbar_{k+1} into the activities' and
 * errors' adjoints; the direct dependence on W_k joins Wbar at the end
 * (Wbar_{k+1} is read until then). `T` is state-shaped scratch. */
static void terms_reverse(flp_lifetime *lt, int i, int64_t k, const float *Wk, const float *acts, float *T)
{
    const flp__lt_layer *d = &lt->layer[i];
    flp_rule *rule = lt->rule;
    int64_t B = lt->batch, len = d->n_out * d->n_in;
    int top = i == lt->n - 1;
    float *Wb = lt->Wbar + d->w_off, *Td = T + d->w_off;
    flp__term_in in = term_inputs(lt, i, k, Wk, acts);
    for (int t = 0; t < FLP__N_TERMS; t++) {
        if (!(rule->terms >> t & 1))
            continue;
        memset(Td, 0, (size_t)len * sizeof *Td);
        flp__rule_terms[t].value(&in, 1.0f, Td);
        lt->gtheta[t] += (float)dot(len, Wb, Td);
    }
    memset(Td, 0, (size_t)len * sizeof *Td);
    flp__term_adj adj = {
        .pre = i > 0 ? lt->s.hbar + B * lt->layer[i - 1].h_off : step_xbar(lt, k),
        .post = top ? lt->s.sigbar : lt->s.hbar + B * d->h_off,
        .err_post = lt->s.postbar + B * d->h_off,
        .err_pre = error_in(lt, i, lt->s.postbar, lt->s.e0bar),
        .W = Td,
    };
    for (int t = 0; t < FLP__N_TERMS; t++)
        if (rule->terms >> t & 1)
            flp__rule_terms[t].vjp(&in, Wb, rule->theta[t], &adj);
    for (int64_t j = 0; j < len; j++)
        Wb[j] += Td[j];
}

/* Reverse of the error chain, bottom-up so that each ebar_{i+1} is complete
 * before it is used: with u = ebar_i ⊙ act'(y_i),
 *     ebar_{i+1} += u B_i^T,   Bbar_i += e_{i+1}^T u,
 *     ybar_i += ebar_i ⊙ (e_{i+1} B_i) ⊙ act''(y_i)   (y_0 = x: into xbar, if wanted)
 * and at the top sigbar (the adjoint of softmax) += ebar_L. */
static void errors_reverse(flp_lifetime *lt, int64_t k, const float *Wk, const float *acts)
{
    int64_t B = lt->batch;
    const float *x = flp__lt_step_x(lt, k);
    for (int i = 0; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i], *m = modulating_layer(lt, i);
        const float *eb = error_in(lt, i, lt->s.postbar, lt->s.e0bar), *y = flp__lt_input(lt, i, B, x, acts);
        const float *e_up = lt->s.post + B * d->h_off, *Bi = feedback_matrix(lt, i, Wk);
        float *u = lt->s.work, *eB = lt->s.work + B * d->n_in;
        for (int64_t j = 0; j < B * d->n_in; j++)
            u[j] = eb[j] * act_slope(m, y[j]);
        float *yb = i > 0 ? lt->s.hbar + B * lt->layer[i - 1].h_off : step_xbar(lt, k);
        if (yb != NULL && m->act == FLP__ACT_SOFTPLUS) {
            flp__gemm_nn(B, d->n_in, d->n_out, 1.0f, e_up, d->n_out, Bi, d->n_in, 0.0f, eB, d->n_in);
            for (int64_t j = 0; j < B * d->n_in; j++)
                yb[j] += eb[j] * eB[j] * act_curvature(m, y[j]);
        }
        flp__gemm_nt(B, d->n_out, d->n_in, 1.0f, u, d->n_in, Bi, d->n_in, 1.0f, lt->s.postbar + B * d->h_off,
                     d->n_out);
        flp__gemm_tn(d->n_out, d->n_in, B, 1.0f, e_up, d->n_out, u, d->n_in, 1.0f, feedback_grad(lt, i), d->n_in);
    }
    const float *eb_top = lt->s.postbar + B * lt->layer[lt->n - 1].h_off;
    for (int64_t j = 0; j < B * lt->n_final; j++)
        lt->s.sigbar[j] += eb_top[j];
}

/* Adjoint of p = softmax(z) into the logits' block of hbar:
 * zbar += p ⊙ (pbar - <pbar, p>). */
static void softmax_reverse(flp_lifetime *lt)
{
    int64_t B = lt->batch, n = lt->n_final;
    const float *p = lt->s.sig, *pb = lt->s.sigbar;
    float *zb = lt->s.hbar + B * lt->layer[lt->n - 1].h_off;
    for (int64_t b = 0; b < B; b++) {
        double s = dot(n, p + b * n, pb + b * n);
        for (int64_t j = 0; j < n; j++)
            zb[b * n + j] += (float)(p[b * n + j] * (pb[b * n + j] - s));
    }
}

/* Reverse of a family step from its record (W_k, then P_k, which it uses
 * as scratch): theta's gradient, the feedback's (or, symmetric, the
 * weights'), and the adjoint of W_k. */
static void reverse(flp_lifetime *lt, int64_t k, float *Wk, const float *acts)
{
    int64_t B = lt->batch;
    lt->flops += (double)B * (lt->flops_reverse + lt->flops_backprop);
    errors(lt, k, Wk, NULL, acts);
    memset(lt->s.hbar, 0, (size_t)(B * lt->act_width) * sizeof(float));
    memset(lt->s.postbar, 0, (size_t)(B * lt->act_width) * sizeof(float));
    memset(lt->s.e0bar, 0, (size_t)(B * lt->layer[0].n_in) * sizeof(float));
    memset(lt->s.sigbar, 0, (size_t)(B * lt->n_final) * sizeof(float));
    for (int i = 0; i < lt->n; i++)
        if (lt->layer[i].plastic)
            terms_reverse(lt, i, k, Wk, acts, Wk + lt->n_state); /* the record's P slot is free */
    errors_reverse(lt, k, Wk, acts);
    softmax_reverse(lt);
    flp__lt_backprop(lt, Wk, B, flp__lt_step_x(lt, k), acts, lt->s.hbar, lt->Wbar, 0);
    if (lt->xbar != NULL)
        flp__lt_input_vjp(lt, Wk, B, lt->s.hbar, step_xbar(lt, k));
}

/* ---- work ----------------------------------------------------------------------- */

/* Products per example, counted from the code above with w = 2 n m per
 * layer: errors w; terms w each (Oja 2w); in the reverse the errors, the
 * terms' values again, their VJPs (2w each, Oja 5w) and the chain (2w, 3w
 * with softplus curvature). */
static void work(flp_lifetime *lt)
{
    int terms = lt->rule->terms;
    for (int i = 0; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i];
        double w = 2.0 * (double)d->n_out * (double)d->n_in, value = 0, vjp = 0;
        for (int t = 0; t < FLP__N_TERMS; t++)
            if (terms >> t & 1) {
                value += t == FLP_TERM_OJA ? 2 * w : w;
                vjp += t == FLP_TERM_OJA ? 5 * w : 2 * w;
            }
        lt->flops_update += w + (d->plastic ? value : 0);
        lt->flops_reverse += w + (d->plastic ? value + vjp : 0) + 2 * w
                             + (i > 0 && modulating_layer(lt, i)->act == FLP__ACT_SOFTPLUS ? w : 0);
    }
}

/* The L1 penalty lambda sum |theta_t| over the enabled terms: in the loss,
 * and its subgradient lambda sign(theta_t) in theta's gradient. */
static void add_l1_penalty(flp_lifetime *lt, int want_gradient, float *loss)
{
    flp_rule *rule = lt->rule;
    double penalty = 0.0;
    for (int t = 0; t < FLP__N_TERMS; t++) {
        if (!(rule->terms >> t & 1))
            continue;
        float th = rule->theta[t];
        penalty += fabs((double)th);
        if (want_gradient)
            lt->gtheta[t] += (float)(rule->l1 * (double)((th > 0) - (th < 0)));
    }
    *loss += (float)(rule->l1 * penalty);
}

const flp__lt_rule flp__lt_rule_family = {
    .check = check, .work = work, .prepare = errors, .update = update, .reverse = reverse,
    .finish = add_l1_penalty,
};
