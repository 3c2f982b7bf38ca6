/* rule_flp.c - Oja's and Hebb's rules over direct feedback pathways (FLP,
 * Lindsey & Litwin-Kumar) as a rule of the lifetime. Step k, plastic layer i:
 *     s = y - yhat (or the target),   post_i = beta act(s B_i^T + c_i) + (1 - beta) h_i,
 *     W_{k+1} = W_k + m alpha ⊙ (post^T pre - diag(sum post^2) W_k)   (Hebb: no decay)
 * and its exact vector-Jacobian product, through the forward pass that
 * produced h and s. Derivation in doc/MATH.md. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/gemm.h"
#include "lifetime/dense.h"
#include "lifetime/rules.h"
#include "plasticity/update.h"

static flp_status check(const flp_lifetime *lt)
{
    FLP__TRY(flp__lt_check_direct_feedback(lt));
    int wants_labels = lt->fb->signal != FLP_SIGNAL_ERROR;
    if (wants_labels != lt->classification)
        return flp__error(FLP_ERR_SHAPE, "flp_lifetime_run: the feedback signal (%d) needs a %s episode, "
                          "this one is %s", lt->fb->signal, wants_labels ? "labelled" : "regression",
                          lt->classification ? "labelled" : "regression");
    return FLP_OK;
}

/* Whether layer i's postsynaptic activity is the signal itself (a clamped output). */
static int clamped(const flp_lifetime *lt, int i) { return i == lt->n - 1 && lt->fb->clamp_output; }

/* Oja's decay term needs sq; Hebb's rule has none. */
static int oja(const flp_lifetime *lt) { return lt->rule->kind == FLP_RULE_OJA; }

/* Matrix-product flops per example, counted from the products below (2 m n k each). */
static void work(flp_lifetime *lt)
{
    for (int i = 0; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i];
        double w = 2.0 * (double)d->n_out * (double)d->n_in, fb = 2.0 * (double)d->n_out * (double)lt->n_final;
        if (!d->plastic)
            continue;
        lt->flops_update += w;                         /* P = post^T pre */
        lt->flops_reverse += i > 0 ? 2 * w : w;        /* pre G^T, and post G above layer 0 */
        if (!clamped(lt, i)) {
            lt->flops_pathway += fb;                   /* g = s B^T */
            lt->flops_reverse += 2 * fb;               /* dB, ds */
        }
    }
}

/* ---- the step ------------------------------------------------------------------ */

/* The feedback signal of step k from its activities, into lt->s.sig. */
static void feedback_signal(flp_lifetime *lt, int64_t k, const float *acts)
{
    int64_t B = lt->batch, n = lt->n_final;
    const float *yhat = acts + B * lt->layer[lt->n - 1].h_off;
    float *s = lt->s.sig;
    int signal = lt->fb->signal;
    if (signal == FLP_SIGNAL_ERROR) {
        const float *y = lt->y + k * B * n;
        for (int64_t i = 0; i < B * n; i++)
            s[i] = y[i] - yhat[i];
        return;
    }
    const int32_t *lab = lt->labels + k * B;
    for (int64_t b = 0; b < B; b++) {
        float *sb = s + b * n;
        if (signal == FLP_SIGNAL_TARGET_MINUS_SOFTMAX) {
            flp__lt_softmax(n, yhat + b * n, sb);
            for (int64_t j = 0; j < n; j++)
                sb[j] = -sb[j];
        } else {
            memset(sb, 0, (size_t)n * sizeof *sb);
        }
        sb[lab[b]] += 1.0f;
    }
}

/* post_i (and g_i) of plastic layer i. */
static void post_layer(flp_lifetime *lt, int i, const float *acts)
{
    const flp__lt_layer *d = &lt->layer[i];
    int64_t B = lt->batch, n = d->n_out;
    float *post = lt->s.post + B * d->h_off, *g = lt->s.g + B * d->h_off;
    if (clamped(lt, i)) {
        memcpy(post, lt->s.sig, (size_t)(B * n) * sizeof *post);
        return;
    }
    /* g = s B^T + c; f = act(g); post = beta f + (1 - beta) h */
    flp__linear_forward(B, lt->n_final, n, lt->s.sig, d->path->B, d->path->c, g);
    const float *h = acts + B * d->h_off;
    float beta = d->path->beta[0];
    int relu = lt->fb->relu;
    for (int64_t j = 0; j < B * n; j++) {
        float f = relu && g[j] < 0 ? 0.0f : g[j];
        post[j] = beta * f + (1.0f - beta) * h[j];
    }
}

/* The signal, then post_i (and pathway pre-activation g_i) of every
 * plastic layer into lt->s.post / lt->s.g (layers in parallel). */
static void prepare(flp_lifetime *lt, int64_t k, const float *state, float *P, const float *acts)
{
    (void)state;
    (void)P;
    feedback_signal(lt, k, acts);
#pragma omp parallel for schedule(dynamic, 1) num_threads(lt->threads) if (lt->threads > 1)
    for (int j = 0; j < lt->n_plastic; j++)
        post_layer(lt, lt->order_plastic[j], acts);
}

/* Presynaptic activity of plastic layer i at step k: the layer's input, or
 * the postsynaptic activity of a plastic layer below. */
static const float *pre(const flp_lifetime *lt, int i, int64_t k, const float *acts)
{
    if (i > 0 && lt->fb->post_presynaptic && lt->layer[i - 1].plastic)
        return lt->s.post + lt->batch * lt->layer[i - 1].h_off;
    return flp__lt_input(lt, i, lt->batch, flp__lt_step_x(lt, k), acts);
}

/* sq[r] = sum over the batch of post[:, r]^2 (Oja's decay term). */
static void column_sumsq(int64_t B, int64_t n, const float *post, float *sq)
{
    for (int64_t r = 0; r < n; r++)
        sq[r] = 0.0f;
    for (int64_t b = 0; b < B; b++)
        for (int64_t r = 0; r < n; r++)
            sq[r] += post[b * n + r] * post[b * n + r];
}

/* P receives the outer products (state layout). The update pass copies the
 * layer's weights into `saved` on the way (one read of W instead of two). */
static int update(const flp_lifetime *lt, int i, int64_t k, float *state, float *P, float *saved,
                  const float *acts)
{
    const flp__lt_layer *d = &lt->layer[i];
    int64_t B = lt->batch;
    const float *post = lt->s.post + B * d->h_off;
    float *sq = oja(lt) ? lt->s.sq + d->h_off : NULL;
    /* P = post^T pre: the Hebbian outer product summed over the batch */
    flp__gemm_tn(d->n_out, d->n_in, B, 1.0f, post, d->n_out, pre(lt, i, k, acts), d->n_in, 0.0f, P + d->w_off,
                 d->n_in);
    if (sq)
        column_sumsq(B, d->n_out, post, sq);
    return flp__plastic_update(d->n_out, d->n_in, d->mult, d->rule->alpha, lt->rule->granularity,
                               P + d->w_off, sq, state + d->w_off, saved ? saved + d->w_off : NULL);
}

/* ---- the reverse ---------------------------------------------------------------- */

/* Adjoint of post = beta act(g) + (1 - beta) h, g = s B^T + c, for plastic
 * layer i: consumes postbar_i; adds to hbar_i and the pathway's gradients;
 * overwrites g with its adjoint (which signal_adjoint() sends on to s). */
static void pathway_vjp(flp_lifetime *lt, const flp__lt_layer *d, const float *acts)
{
    int64_t B = lt->batch, n = d->n_out, off = B * d->h_off;
    const float *pb = lt->s.postbar + off, *h = acts + off;
    float *g = lt->s.g + off, *hb = lt->s.hbar + off;
    float beta = d->path->beta[0];
    int relu = lt->fb->relu;
    double beta_bar = 0.0;
    for (int64_t j = 0; j < B * n; j++) {
        float f = relu && g[j] < 0 ? 0.0f : g[j];
        beta_bar += (double)pb[j] * (f - h[j]);
        hb[j] += (1.0f - beta) * pb[j];
        g[j] = relu && g[j] <= 0 ? 0.0f : beta * pb[j];
    }
    d->gbeta[0] += (float)beta_bar;
    /* dB += gbar^T s, dc += colsum(gbar) */
    flp__linear_vjp(B, lt->n_final, n, lt->s.sig, d->path->B, g, NULL, d->gB, d->gc);
}

/* Where dL/dpre of plastic layer i goes: the postsynaptic adjoint of the
 * layer below when pre was its post, the forward activity's otherwise. */
static float *pre_adjoint(flp_lifetime *lt, int i)
{
    const flp__lt_layer *below = &lt->layer[i - 1];
    float *base = lt->fb->post_presynaptic && below->plastic ? lt->s.postbar : lt->s.hbar;
    return base + lt->batch * below->h_off;
}

/* Reverse of plastic layer i's update: Wbar_{k+1} -> the rule's share of
 * Wbar_k; dL/dalpha; dL/dpost_i; dL/dpre_i into `prebar` (scaled by
 * prebar_beta first: 0 overwrites, 1 accumulates). Touches only layer i's
 * slices of shared buffers, so layers can run as parallel tasks. */
static void update_vjp(flp_lifetime *lt, int i, int64_t k, float *Wk, const float *acts, float *prebar,
                       float prebar_beta)
{
    const flp__lt_layer *d = &lt->layer[i];
    int64_t B = lt->batch, rows = d->n_out, cols = d->n_in;
    const float *post = lt->s.post + B * d->h_off, *pr = pre(lt, i, k, acts);
    float *pb = lt->s.postbar + B * d->h_off, *pg = Wk + lt->n_state + d->w_off; /* P_k */
    float *sq = oja(lt) ? lt->s.sq + d->h_off : NULL, *sqbar = lt->s.sqbar + d->h_off;
    if (sq)
        column_sumsq(B, rows, post, sq);
    flp__plastic_update_vjp(rows, cols, d->mult, d->rule->alpha, lt->rule->granularity, sq, Wk + d->w_off,
                            pg, lt->Wbar + d->w_off, d->galpha, sqbar, lt->s.row_sum + d->h_off);
    /* P_k is consumed: pg now holds G. dpost += pre G^T, dpre = post G */
    flp__gemm_nt(B, rows, cols, 1.0f, pr, cols, pg, cols, 1.0f, pb, rows);
    if (sq)
        for (int64_t b = 0; b < B; b++)
            for (int64_t r = 0; r < rows; r++)
                pb[b * rows + r] += 2.0f * post[b * rows + r] * sqbar[r];
    if (i > 0)
        flp__gemm_nn(B, cols, rows, 1.0f, post, rows, pg, cols, prebar_beta, prebar, cols);
    else if (lt->xbar != NULL) /* pre is the input: dL/dx of step k */
        flp__gemm_nn(B, cols, rows, 1.0f, post, rows, pg, cols, 1.0f, lt->xbar + k * B * cols, cols);
}

/* Everything the reverse of plastic layer i's update needs of that layer
 * alone: the rule, then the pathway (unless the output is clamped). */
static void layer_reverse(flp_lifetime *lt, int i, int64_t k, float *Wk, const float *acts, float *prebar,
                          float prebar_beta)
{
    update_vjp(lt, i, k, Wk, acts, prebar, prebar_beta);
    if (!clamped(lt, i))
        pathway_vjp(lt, &lt->layer[i], acts);
}

/* The plastic layers' adjoints. With the forward activity as presynaptic
 * activity the layers are independent tasks; each writes its dL/dpre apart
 * and the parts join hbar afterwards, in layer order. With post_{i-1} as
 * presynaptic activity, layer i's dL/dpre feeds layer i-1: top-down, in turn. */
static void plastic_layers_reverse(flp_lifetime *lt, int64_t k, float *Wk, const float *acts)
{
    int64_t B = lt->batch;
    if (lt->fb->post_presynaptic) {
        for (int i = lt->n - 1; i >= 0; i--)
            if (lt->layer[i].plastic)
                layer_reverse(lt, i, k, Wk, acts, i > 0 ? pre_adjoint(lt, i) : NULL, 1.0f);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(lt->threads) if (lt->threads > 1)
    for (int j = 0; j < lt->n_plastic; j++) {
        int i = lt->order_plastic[j];
        layer_reverse(lt, i, k, Wk, acts, i > 0 ? lt->s.prebar + B * lt->layer[i - 1].h_off : NULL, 0.0f);
    }
    for (int i = 1; i < lt->n; i++) {
        if (!lt->layer[i].plastic)
            continue;
        int64_t off = B * lt->layer[i - 1].h_off, n = B * lt->layer[i - 1].n_out;
        for (int64_t j = 0; j < n; j++)
            lt->s.hbar[off + j] += lt->s.prebar[off + j];
    }
}

/* Gather dL/ds from every plastic layer, in layer order: ds += gbar_i B_i
 * through each pathway, or dL/dpost of a clamped output. */
static void signal_adjoint(flp_lifetime *lt)
{
    int64_t B = lt->batch, n = lt->n_final;
    for (int i = lt->n - 1; i >= 0; i--) {
        const flp__lt_layer *d = &lt->layer[i];
        if (!d->plastic)
            continue;
        if (clamped(lt, i)) {
            const float *pb = lt->s.postbar + B * d->h_off;
            for (int64_t j = 0; j < B * n; j++)
                lt->s.sigbar[j] += pb[j];
        } else {
            flp__gemm_nn(B, n, d->n_out, 1.0f, lt->s.g + B * d->h_off, d->n_out, d->path->B, n, 1.0f,
                         lt->s.sigbar, n);
        }
    }
}

/* Adjoint of the signal into dL/dyhat (the error is differentiated; a target
 * is a constant; onehot - softmax only when asked). */
static void signal_vjp(flp_lifetime *lt, const float *acts)
{
    int64_t B = lt->batch, n = lt->n_final, off = B * lt->layer[lt->n - 1].h_off;
    const float *sb = lt->s.sigbar;
    float *yb = lt->s.hbar + off;
    if (lt->fb->signal == FLP_SIGNAL_ERROR) {
        for (int64_t j = 0; j < B * n; j++)
            yb[j] -= sb[j];
    } else if (lt->fb->signal == FLP_SIGNAL_TARGET_MINUS_SOFTMAX && lt->fb->differentiate_signal) {
        /* s = onehot - p: dz = -(p ⊙ (sb - <sb, p>)), with p = onehot - s */
        const float *z = acts + off;
        for (int64_t b = 0; b < B; b++) {
            float mx;
            double se = flp__lt_softmax_sum(n, z + b * n, &mx), dot = 0.0;
            for (int64_t j = 0; j < n; j++)
                dot += sb[b * n + j] * (exp((double)z[b * n + j] - mx) / se);
            for (int64_t j = 0; j < n; j++) {
                double p = exp((double)z[b * n + j] - mx) / se;
                yb[b * n + j] -= (float)(p * (sb[b * n + j] - dot));
            }
        }
    }
}

static void reverse(flp_lifetime *lt, int64_t k, float *Wk, const float *acts)
{
    int64_t B = lt->batch;
    lt->flops += (double)B * (lt->flops_pathway + lt->flops_reverse + lt->flops_backprop);
    prepare(lt, k, Wk, NULL, acts);
    memset(lt->s.hbar, 0, (size_t)(B * lt->act_width) * sizeof(float));
    memset(lt->s.postbar, 0, (size_t)(B * lt->act_width) * sizeof(float));
    memset(lt->s.sigbar, 0, (size_t)(B * lt->n_final) * sizeof(float));
    plastic_layers_reverse(lt, k, Wk, acts);
    signal_adjoint(lt);
    signal_vjp(lt, acts);
    flp__lt_backprop(lt, Wk, B, flp__lt_step_x(lt, k), acts, lt->s.hbar, lt->Wbar, 0);
    if (lt->xbar != NULL)
        flp__lt_input_vjp(lt, Wk, B, lt->s.hbar, lt->xbar + k * B * lt->layer[0].n_in);
}

const flp__lt_rule flp__lt_rule_flp = {
    .check = check, .work = work, .prepare = prepare, .update = update, .reverse = reverse,
};
