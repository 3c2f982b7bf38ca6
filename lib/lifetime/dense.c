/* dense.c - the dense stack under a state (dense.h): forward pass,
 * backpropagation, the losses and the step's loss gradient, shared by every
 * rule. Derivation in doc/MATH.md. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/gemm.h"
#include "lifetime/dense.h"

/* ---- what a layer reads ------------------------------------------------------ */

const float *flp__lt_weight(const flp_lifetime *lt, int i, const float *state)
{
    const flp__lt_layer *d = &lt->layer[i];
    return d->plastic ? state + d->w_off : d->net_layer->W;
}

const float *flp__lt_bias(const flp_lifetime *lt, int i, const float *state)
{
    const flp__lt_layer *d = &lt->layer[i];
    return d->b_off >= 0 ? state + d->b_off : d->net_layer->b;
}

const float *flp__lt_input(const flp_lifetime *lt, int i, int64_t rows, const float *x, const float *blocks)
{
    return i == 0 ? x : blocks + rows * lt->layer[i - 1].h_off;
}

const float *flp__lt_step_x(const flp_lifetime *lt, int64_t k)
{
    return lt->x + k * lt->batch * lt->layer[0].n_in;
}

void flp__lt_save_layer(const flp_lifetime *lt, int i, const float *state, float *saved)
{
    const flp__lt_layer *d = &lt->layer[i];
    if (saved == NULL)
        return;
    memcpy(saved + d->w_off, state + d->w_off, (size_t)(d->n_out * d->n_in) * sizeof *saved);
    if (d->b_off >= 0)
        memcpy(saved + d->b_off, state + d->b_off, (size_t)d->n_out * sizeof *saved);
}

/* ---- forward ------------------------------------------------------------------ */

/* Forward pass of rows [r0, r1) of a batch of `rows`. */
static void forward_rows(const flp_lifetime *lt, const float *state, int64_t rows, int64_t r0, int64_t r1,
                         const float *x, float *acts)
{
    const float *in = x + r0 * lt->layer[0].n_in;
    for (int i = 0; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i];
        float *out = acts + rows * d->h_off + r0 * d->n_out;
        flp__linear_forward(r1 - r0, d->n_in, d->n_out, in, flp__lt_weight(lt, i, state), flp__lt_bias(lt, i, state),
                            out);
        if (d->act == FLP__ACT_RELU)
            flp__relu_forward((r1 - r0) * d->n_out, out, out);
        else if (d->act == FLP__ACT_SOFTPLUS)
            flp__softplus_forward((r1 - r0) * d->n_out, d->softplus_beta, out, out);
        in = out;
    }
}

void flp__lt_forward(const flp_lifetime *lt, const float *state, int64_t rows, const float *x, float *acts)
{
    int64_t chunks = flp__lt_row_chunks(rows);
#pragma omp parallel for schedule(static) num_threads(lt->threads) if (lt->threads > 1 && chunks > 1)
    for (int64_t c = 0; c < chunks; c++)
        forward_rows(lt, state, rows, c * FLP__ROW_CHUNK, c == chunks - 1 ? rows : (c + 1) * FLP__ROW_CHUNK, x,
                     acts);
}

void flp__lt_activity(flp_lifetime *lt, const float *state, int i, int64_t n, const float *x, float *h)
{
    const flp__lt_layer *d = &lt->layer[i];
    for (int64_t start = 0; start < n; start += lt->s.rows) {
        int64_t rows = n - start < lt->s.rows ? n - start : lt->s.rows;
        flp__lt_forward(lt, state, rows, x + start * lt->layer[0].n_in, lt->s.acts);
        memcpy(h + start * d->n_out, lt->s.acts + rows * d->h_off, (size_t)(rows * d->n_out) * sizeof *h);
    }
}

static float row_max(int64_t n, const float *z)
{
    float mx = z[0];
    for (int64_t j = 1; j < n; j++)
        mx = z[j] > mx ? z[j] : mx;
    return mx;
}

void flp__lt_softmax(int64_t n, const float *z, float *p)
{
    float mx = row_max(n, z);
    double sum = 0.0;
    for (int64_t j = 0; j < n; j++)
        sum += p[j] = expf(z[j] - mx);
    for (int64_t j = 0; j < n; j++)
        p[j] = (float)(p[j] / sum);
}

double flp__lt_softmax_sum(int64_t n, const float *z, float *mx)
{
    *mx = row_max(n, z);
    double se = 0.0;
    for (int64_t j = 0; j < n; j++)
        se += exp((double)z[j] - *mx);
    return se;
}

/* ---- backward ------------------------------------------------------------------ */

/* dL/dz from dL/dh through the activation, written in terms of h. */
void flp__lt_activation_vjp(const flp__lt_layer *d, int64_t n, const float *h, float *hb)
{
    if (d->act == FLP__ACT_RELU)
        flp__relu_vjp(n, h, hb, hb);
    else if (d->act == FLP__ACT_SOFTPLUS)
        flp__softplus_vjp(n, d->softplus_beta, h, hb, hb);
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
        flp__linear_vjp(rows, d->n_in, d->n_out, flp__lt_input(lt, i, rows, x, acts), NULL, hbar + rows * d->h_off,
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

/* ---- the losses ------------------------------------------------------------------ */

/* Mean squared error over every output; seeds dL/dyhat in grad. */
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
        float mx;
        double se = flp__lt_softmax_sum(c, zb, &mx);
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

void flp__lt_seed_step_loss(const flp_lifetime *lt, int64_t k, const float *acts, float *hbar)
{
    int64_t B = lt->batch, off = B * lt->layer[lt->n - 1].h_off;
    memset(hbar, 0, (size_t)(B * lt->act_width) * sizeof *hbar);
    const float *y = lt->classification ? NULL : lt->y + k * B * lt->n_final;
    const int32_t *labels = lt->classification ? lt->labels + k * B : NULL;
    flp__lt_loss(lt, B, acts + off, y, labels, hbar + off);
}

void flp__lt_step_gradient(flp_lifetime *lt, int64_t k, const float *state, float *G, const float *acts)
{
    memset(G, 0, (size_t)lt->n_state * sizeof *G); /* the backprop adds into it */
    flp__lt_seed_step_loss(lt, k, acts, lt->s.hbar);
    flp__lt_backprop(lt, state, lt->batch, flp__lt_step_x(lt, k), acts, lt->s.hbar, G, 1);
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
