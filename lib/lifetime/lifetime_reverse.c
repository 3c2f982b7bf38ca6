/* lifetime_reverse.c - the meta-loss on the query set and the reverse of
 * an inner step: the exact vector-Jacobian product of
 *     W_{k+1} = W_k + m alpha ⊙ (post^T pre - diag(sum post^2) W_k)
 * with post = beta act(s B^T + c) + (1 - beta) h, through the forward pass
 * that produced h and s. Derivation in doc/MATH.md. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/gemm.h"
#include "lifetime/lifetime_internal.h"
#include "plasticity/update.h"

/* ---- the dense network's adjoint ------------------------------------------ */

/* dL/dz from dL/dh through the activation, written in terms of h. */
void flp__lt_activation_vjp(const flp__lt_layer *d, int64_t n, const float *h, float *hb)
{
    if (d->act == FLP__ACT_RELU)
        flp__relu_vjp(n, h, hb, hb);
    else if (d->act == FLP__ACT_SOFTPLUS)
        flp__softplus_vjp(n, d->softplus_beta, h, hb, hb);
}

/* Input of dense layer i for `rows` examples. */
static const float *layer_input(const flp_lifetime *lt, int i, int64_t rows, const float *x, const float *acts)
{
    return i == 0 ? x : acts + rows * lt->layer[i - 1].h_off;
}

/* dL/dz_i for every layer i >= lowest, from dL/dh_L down, for rows
 * [r0, r1): each layer's block of hbar turns into dL/dz_i and feeds dL/dh_i
 * below. */
static void chain_rows(const flp_lifetime *lt, const float *state, int64_t rows, int64_t r0, int64_t r1,
                       const float *acts, float *hbar, int lowest)
{
    for (int i = lt->n - 1; i >= lowest; i--) {
        const flp__lt_layer *d = &lt->layer[i];
        float *zb = hbar + rows * d->h_off + r0 * d->n_out;
        flp__lt_activation_vjp(d, (r1 - r0) * d->n_out, acts + rows * d->h_off + r0 * d->n_out, zb);
        if (i > lowest) { /* dL/dh_i += dL/dz_i W_i */
            const flp__lt_layer *below = &lt->layer[i - 1];
            flp__gemm_nn(r1 - r0, d->n_in, d->n_out, 1.0f, zb, d->n_out, flp__lt_weight(lt, i, state), d->n_in,
                         1.0f, hbar + rows * below->h_off + r0 * below->n_out, d->n_in);
        }
    }
}

void flp__lt_chain(flp_lifetime *lt, const float *state, int64_t rows, const float *acts, float *hbar,
                   int lowest)
{
    int64_t chunks = flp__lt_row_chunks(rows);
#pragma omp parallel for schedule(static) num_threads(lt->threads) if (lt->threads > 1 && chunks > 1)
    for (int64_t c = 0; c < chunks; c++)
        chain_rows(lt, state, rows, c * FLP__ROW_CHUNK, c == chunks - 1 ? rows : (c + 1) * FLP__ROW_CHUNK, acts,
                   hbar, lowest);
}

void flp__lt_backprop(flp_lifetime *lt, const float *state, int64_t rows, const float *x,
                      const float *acts, float *hbar, float *gstate, int step_only)
{
    int lowest = step_only ? lt->lowest_plastic : 0;
    flp__lt_chain(lt, state, rows, acts, hbar, lowest);
    /* the parameter gradients dL/dz_i^T h_i and 1^T dL/dz_i: independent tasks */
#pragma omp parallel for schedule(dynamic, 1) num_threads(lt->threads) if (lt->threads > 1)
    for (int j = 0; j < lt->n; j++) {
        int i = lt->order_all[j];
        const flp__lt_layer *d = &lt->layer[i];
        if (step_only && !d->plastic)
            continue;
        float *gW = d->plastic ? gstate + d->w_off : d->gW;
        float *gb = d->b_off >= 0 ? gstate + d->b_off : step_only ? NULL : d->gb;
        flp__linear_vjp(rows, d->n_in, d->n_out, layer_input(lt, i, rows, x, acts), NULL, hbar + rows * d->h_off,
                        NULL, gW, gb);
    }
}

void flp__lt_input_vjp(flp_lifetime *lt, const float *state, int64_t rows, const float *hbar, float *dx)
{
    const flp__lt_layer *d = &lt->layer[0];
    lt->flops += 2.0 * (double)rows * (double)d->n_out * (double)d->n_in;
    flp__gemm_nn(rows, d->n_in, d->n_out, 1.0f, hbar + rows * d->h_off, d->n_out, flp__lt_weight(lt, 0, state),
                 d->n_in, 1.0f, dx, d->n_in);
}

/* ---- the meta-loss ------------------------------------------------------------ */

/* Mean squared error over every query output; seeds dL/dyhat in grad. */
static double mse(int64_t n, const float *yhat, const float *y, float *grad)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)yhat[i] - y[i];
        sum += e * e;
        if (grad)
            grad[i] = (float)(2.0 * e / (double)n);
    }
    return sum / (double)n;
}

/* Mean cross-entropy of logits z [q, c]; seeds (softmax - onehot) / q. */
static double cross_entropy(int64_t q, int64_t c, const float *z, const int32_t *label, float *grad)
{
    double sum = 0.0;
    for (int64_t b = 0; b < q; b++) {
        const float *zb = z + b * c;
        float mx = zb[0];
        for (int64_t j = 1; j < c; j++)
            mx = zb[j] > mx ? zb[j] : mx;
        double se = 0.0;
        for (int64_t j = 0; j < c; j++)
            se += exp((double)zb[j] - mx);
        sum += log(se) + mx - zb[label[b]];
        if (grad) {
            for (int64_t j = 0; j < c; j++)
                grad[b * c + j] = (float)(exp((double)zb[j] - mx) / se / (double)q);
            grad[b * c + label[b]] -= (float)(1.0 / (double)q);
        }
    }
    return sum / (double)q;
}

double flp__lt_loss(const flp_lifetime *lt, int64_t rows, const float *out, const float *y,
                    const int32_t *labels, float *grad)
{
    return lt->classification ? cross_entropy(rows, lt->n_final, out, labels, grad)
                              : mse(rows * lt->n_final, out, y, grad);
}

/* A non-finite query loss: name the first layer whose query activities
 * went non-finite, as a failed inner step names its layer. */
static flp_status query_nonfinite(const flp_lifetime *lt, int64_t rows, const float *acts)
{
    for (int i = 0; i < lt->n; i++) {
        const float *h = acts + rows * lt->layer[i].h_off;
        for (int64_t j = 0; j < rows * lt->layer[i].n_out; j++)
            if (!isfinite(h[j]))
                return flp__error(FLP_ERR_NONFINITE,
                                  "flp_lifetime_run: the query loss is not finite: the query pass "
                                  "after inner step %lld goes non-finite at layer %d",
                                  (long long)(lt->K - 1), lt->layer[i].net_index);
    }
    return flp__error(FLP_ERR_NONFINITE,
                      "flp_lifetime_run: the query loss is not finite (the outputs are finite; the "
                      "loss overflows)");
}

flp_status flp__lt_query(flp_lifetime *lt, const float *state, int want_gradient, float *loss)
{
    int64_t Q = lt->n_query, width = Q * lt->act_width;
    float *acts = lt->s.acts, *hbar = lt->s.hbar;
    flp__lt_forward(lt, state, Q, lt->xq, acts);
    lt->flops += (double)Q * (lt->flops_dense + (want_gradient ? lt->flops_backprop : 0));
    int64_t out_off = Q * lt->layer[lt->n - 1].h_off;
    float *seed = want_gradient ? hbar + out_off : NULL;
    if (want_gradient)
        memset(hbar, 0, (size_t)width * sizeof *hbar);
    double l = flp__lt_loss(lt, Q, acts + out_off, lt->yq, lt->lq, seed);
    *loss = (float)l;
    if (!isfinite(l))
        return query_nonfinite(lt, Q, acts);
    if (want_gradient) {
        memset(lt->Wbar, 0, (size_t)lt->n_state * sizeof *lt->Wbar);
        flp__lt_backprop(lt, state, Q, lt->xq, acts, hbar, lt->Wbar, 0);
        if (lt->xqbar != NULL)
            flp__lt_input_vjp(lt, state, Q, hbar, lt->xqbar);
    }
    return FLP_OK;
}

/* ---- the reverse of one inner step ---------------------------------------------- */

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
    const float *post = lt->s.post + B * d->h_off, *pre = flp__lt_pre(lt, i, k, acts);
    float *pb = lt->s.postbar + B * d->h_off, *pg = Wk + lt->n_state + d->w_off; /* P_k */
    float *sq = lt->rule->kind == FLP_RULE_OJA ? lt->s.sq + d->h_off : NULL, *sqbar = lt->s.sqbar + d->h_off;
    if (sq)
        flp__lt_column_sumsq(B, rows, post, sq);
    flp__plastic_update_vjp(rows, cols, d->mult, d->rule->alpha, lt->rule->granularity, sq, Wk + d->w_off,
                            pg, lt->Wbar + d->w_off, d->galpha, sqbar, lt->s.row_sum + d->h_off);
    /* P_k is consumed: pg now holds G. dpost += pre G^T, dpre = post G */
    flp__gemm_nt(B, rows, cols, 1.0f, pre, cols, pg, cols, 1.0f, pb, rows);
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
    if (!flp__lt_clamped(lt, i))
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
        if (flp__lt_clamped(lt, i)) {
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
            float mx = z[b * n];
            for (int64_t j = 1; j < n; j++)
                mx = z[b * n + j] > mx ? z[b * n + j] : mx;
            double se = 0.0, dot = 0.0;
            for (int64_t j = 0; j < n; j++)
                se += exp((double)z[b * n + j] - mx);
            for (int64_t j = 0; j < n; j++)
                dot += sb[b * n + j] * (exp((double)z[b * n + j] - mx) / se);
            for (int64_t j = 0; j < n; j++) {
                double p = exp((double)z[b * n + j] - mx) / se;
                yb[b * n + j] -= (float)(p * (sb[b * n + j] - dot));
            }
        }
    }
}

void flp__lt_reverse_step(flp_lifetime *lt, int64_t k, float *Wk, const float *acts)
{
    if (lt->gradient_rule) {
        flp__lt_gradient_reverse(lt, k, Wk, acts);
        return;
    }
    if (lt->family) {
        flp__lt_family_reverse(lt, k, Wk, acts);
        return;
    }
    int64_t B = lt->batch;
    lt->flops += (double)B * (lt->flops_pathway + lt->flops_reverse + lt->flops_backprop);
    flp__lt_signal(lt, k, acts);
    flp__lt_post(lt, acts);
    memset(lt->s.hbar, 0, (size_t)(B * lt->act_width) * sizeof(float));
    memset(lt->s.postbar, 0, (size_t)(B * lt->act_width) * sizeof(float));
    memset(lt->s.sigbar, 0, (size_t)(B * lt->n_final) * sizeof(float));
    plastic_layers_reverse(lt, k, Wk, acts);
    signal_adjoint(lt);
    signal_vjp(lt, acts);
    flp__lt_backprop(lt, Wk, B, lt->x + k * B * lt->layer[0].n_in, acts, lt->s.hbar, lt->Wbar, 0);
    if (lt->xbar != NULL)
        flp__lt_input_vjp(lt, Wk, B, lt->s.hbar, lt->xbar + k * B * lt->layer[0].n_in);
}
