/* lifetime.c - the lifetime handle and the forward half of an inner step:
 * forward pass, feedback signal, postsynaptic activity, plasticity update
 * (or, under the gradient rule, the step's loss gradient and a descent step). */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/rng_internal.h"
#include "lifetime/lifetime_internal.h"
#include "plasticity/update.h"

/* ---- building the layer table ------------------------------------------ */

/* Describe net layer `li` (linear) and the activation after it, if any. */
static flp_status describe_layer(flp_lifetime *lt, int li, flp__lt_layer *d)
{
    flp_net *net = lt->net;
    d->net_index = li;
    d->net_layer = &net->layers[li];
    d->n_in = d->net_layer->in_size;
    d->n_out = d->net_layer->out_size;
    d->path = &lt->fb->path[li];
    d->rule = &lt->rule->layer[li];
    d->act = FLP__ACT_NONE;
    if (li + 1 < net->n_layers) {
        const flp__layer *next = &net->layers[li + 1];
        if (next->kind == FLP_LAYER_RELU)
            d->act = FLP__ACT_RELU;
        else if (next->kind == FLP_LAYER_SOFTPLUS) {
            d->act = FLP__ACT_SOFTPLUS;
            d->softplus_beta = next->softplus_beta;
        }
    }
    return FLP_OK;
}

/* Check the layers after the front-end form a dense stack and count its
 * linear layers. */
static flp_status count_dense(const flp_net *net, int front, int *n)
{
    if (front == net->n_layers)
        return flp__error(FLP_ERR_UNSUPPORTED, "flp_lifetime_create: the network has no dense layers");
    *n = 0;
    for (int li = front; li < net->n_layers; li++) {
        flp_layer_kind k = net->layers[li].kind;
        int after_linear = li > front && net->layers[li - 1].kind == FLP_LAYER_LINEAR;
        if (k == FLP_LAYER_LINEAR)
            (*n)++;
        else if (!((k == FLP_LAYER_RELU || k == FLP_LAYER_SOFTPLUS) && after_linear))
            return flp__error(FLP_ERR_UNSUPPORTED, "flp_lifetime_create: layer %d (kind %d) is not part of a "
                              "dense stack (linear layers, each optionally followed by relu or softplus)",
                              li, (int)k);
    }
    if (net->layers[front].kind != FLP_LAYER_LINEAR)
        return flp__error(FLP_ERR_UNSUPPORTED, "flp_lifetime_create: layer %d must be linear", front);
    return FLP_OK;
}

static flp_status build_layers(flp_lifetime *lt)
{
    int n = 0;
    if (lt->net->n_layers == 0)
        return flp__error(FLP_ERR_UNSUPPORTED, "flp_lifetime_create: the network has no layers");
    FLP__TRY(flp__lt_frontend_layers(lt->net, &lt->front));
    FLP__TRY(count_dense(lt->net, lt->front, &n));
    if (lt->front > 0) {
        lt->front_grad = flp__alloc_bytes(2 * (size_t)lt->front * sizeof *lt->front_grad, "lifetime front-end");
        if (lt->front_grad == NULL)
            return FLP_ERR_NOMEM;
    }
    lt->layer = flp__alloc_bytes((size_t)n * sizeof *lt->layer, "lifetime layers");
    lt->order_all = flp__alloc_bytes(2 * (size_t)n * sizeof *lt->order_all, "lifetime task order");
    if (lt->layer == NULL || lt->order_all == NULL)
        return FLP_ERR_NOMEM;
    lt->order_plastic = lt->order_all + n;
    lt->n = 0;
    for (int li = lt->front; li < lt->net->n_layers; li++)
        if (lt->net->layers[li].kind == FLP_LAYER_LINEAR)
            FLP__TRY(describe_layer(lt, li, &lt->layer[lt->n++]));
    lt->n_final = lt->layer[n - 1].n_out;
    lt->n_image = lt->net->in_size;
    return FLP_OK;
}

flp_status flp_lifetime_create(flp_net *net, flp_feedback *fb, flp_rule *rule, flp_lifetime **out)
{
    FLP__CHECK_NULL(out);
    *out = NULL;
    FLP__CHECK_NULL(net);
    FLP__CHECK_NULL(fb);
    FLP__CHECK_NULL(rule);
    FLP__TRY(flp__feedback_check_net(fb, net, __func__));
    FLP__TRY(flp__rule_check_net(rule, net, __func__));
    flp_lifetime *lt = flp__alloc_bytes(sizeof *lt, "flp_lifetime");
    if (lt == NULL)
        return FLP_ERR_NOMEM;
    lt->net = net;
    lt->fb = fb;
    lt->rule = rule;
    lt->budget_bytes = FLP__LT_DEFAULT_BUDGET;
    lt->check_finite = 1;
    flp_status st = build_layers(lt);
    if (st != FLP_OK) {
        flp_lifetime_free(lt);
        return st;
    }
    *out = lt;
    return FLP_OK;
}

static void free_buffers(flp_lifetime *lt)
{
    flp__free(lt->W);
    flp__free(lt->Wbar);
    flp__free(lt->arena);
    flp__free(lt->s.row_sum); /* the start of the one block that holds all scratch */
    lt->W = lt->Wbar = lt->arena = NULL;
    lt->arena_floats = 0;
    memset(&lt->s, 0, sizeof lt->s);
}

void flp_lifetime_free(flp_lifetime *lt)
{
    if (lt == NULL)
        return;
    free_buffers(lt);
    flp__lt_frontend_free(lt);
    flp__free(lt->front_grad);
    flp__free(lt->layer);
    flp__free(lt->order_all);
    flp__free(lt);
}

/* ---- per-run layout and buffers ------------------------------------------ */

/* Task orders for the parallel phases: largest layers first, so that the
 * last tasks to start are the short ones. */
static void sort_by_size(flp_lifetime *lt)
{
    int n = 0;
    for (int i = 0; i < lt->n; i++)
        lt->order_all[i] = i;
    for (int i = 1; i < lt->n; i++) /* insertion sort: n is small */
        for (int j = i; j > 0; j--) {
            const flp__lt_layer *a = &lt->layer[lt->order_all[j - 1]], *b = &lt->layer[lt->order_all[j]];
            if (a->n_out * a->n_in >= b->n_out * b->n_in)
                break;
            int t = lt->order_all[j];
            lt->order_all[j] = lt->order_all[j - 1];
            lt->order_all[j - 1] = t;
        }
    for (int j = 0; j < lt->n; j++)
        if (lt->layer[lt->order_all[j]].plastic)
            lt->order_plastic[n++] = lt->order_all[j];
    lt->n_plastic = n;
}

/* The gradient rule's products per example: the step gradient's backprop
 * (dW from the lowest plastic layer up, dh above it) counts as the update;
 * the reverse does products only in second order: the step's chain down to
 * layer 0, the tangent forward and the tangent backprop (gradient_rule.c). */
static void count_gradient_work(flp_lifetime *lt)
{
    for (int i = 0; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i];
        double w = 2.0 * (double)d->n_out * (double)d->n_in;
        lt->flops_dense += w;
        lt->flops_backprop += i > 0 ? 2 * w : w;
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

/* Matrix-product flops per example of each part of a step, counted from
 * the products the code below does (2 m n k each). */
static void count_work(flp_lifetime *lt)
{
    lt->flops_dense = lt->flops_pathway = lt->flops_update = lt->flops_reverse = lt->flops_backprop = 0;
    if (lt->gradient_rule) {
        count_gradient_work(lt);
        return;
    }
    if (lt->family) {
        flp__lt_family_work(lt);
        return;
    }
    for (int i = 0; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i];
        double w = 2.0 * (double)d->n_out * (double)d->n_in, fb = 2.0 * (double)d->n_out * (double)lt->n_final;
        lt->flops_dense += w;                          /* z = h W^T */
        lt->flops_backprop += i > 0 ? 2 * w : w;       /* dW, and dh below layer 0 */
        if (!d->plastic)
            continue;
        lt->flops_update += w;                         /* P = post^T pre */
        lt->flops_reverse += i > 0 ? 2 * w : w;        /* pre G^T, and post G above layer 0 */
        if (!flp__lt_clamped(lt, i)) {
            lt->flops_pathway += fb;                   /* g = s B^T */
            lt->flops_reverse += 2 * fb;               /* dB, ds */
        }
    }
}

/* Offsets depend on which layers are plastic, which the rule may change
 * between runs, so the layout is refreshed at every run. */
static void layout(flp_lifetime *lt)
{
    double hidden_mult = lt->rule->hidden_multiplier;
    lt->gradient_rule = lt->rule->kind == FLP_RULE_GRADIENT;
    lt->family = lt->rule->kind == FLP_RULE_FAMILY;
    lt->n_state = 0;
    lt->act_width = 0;
    lt->in_width = 0;
    lt->lowest_plastic = lt->n;
    for (int i = 0; i < lt->n; i++) {
        flp__lt_layer *d = &lt->layer[i];
        d->plastic = d->rule->plastic;
        d->mult = i == lt->n - 1 ? 1.0f : (float)hidden_mult;
        d->w_off = lt->n_state;
        d->b_off = -1;
        d->h_off = lt->act_width;
        d->in_off = lt->in_width;
        lt->in_width += d->n_in;
        if (d->plastic) {
            lt->n_state += d->n_out * d->n_in;
            if (lt->gradient_rule) { /* the gradient rule also changes the bias */
                d->b_off = lt->n_state;
                lt->n_state += d->n_out;
            }
            if (i < lt->lowest_plastic)
                lt->lowest_plastic = i;
        }
        lt->act_width += d->n_out;
    }
    sort_by_size(lt);
    count_work(lt);
}

/* Scratch for `rows` examples, in one block; reallocated only when it grows.
 * Per-layer pieces (activities, adjoints, Oja sums, outer products) are
 * laid out like the activities and the state, so that layers can be
 * processed in parallel without sharing a byte. */
static flp_status ensure_scratch(flp_lifetime *lt, int64_t rows)
{
    if (lt->s.acts != NULL && lt->s.rows >= rows && lt->W != NULL)
        return FLP_OK;
    free_buffers(lt);
    int64_t aw = rows * lt->act_width, sig = rows * lt->n_final, state = lt->n_state > 0 ? lt->n_state : 1;
    int64_t e0 = rows * lt->layer[0].n_in, work = 2 * rows * lt->in_width;
    int64_t total = 2 * lt->act_width /* row_sum, doubles */ + 6 * aw + 2 * sig + state + 2 * lt->act_width
                    + 2 * e0 + work;
    float *block = flp__alloc_floats(total, "lifetime scratch");
    lt->W = flp__alloc_floats(state, "lifetime state");
    lt->Wbar = flp__alloc_floats(state, "lifetime adjoint");
    if (block == NULL || lt->W == NULL || lt->Wbar == NULL) {
        flp__free(block);
        free_buffers(lt);
        return FLP_ERR_NOMEM;
    }
    lt->scratch_floats = total + 2 * state;
    flp__lt_scratch *s = &lt->s;
    s->rows = rows;
    s->row_sum = (double *)block; /* first: the block's start, aligned for doubles */
    s->acts = block + 2 * lt->act_width;
    s->post = s->acts + aw;
    s->g = s->post + aw;
    s->hbar = s->g + aw;
    s->postbar = s->hbar + aw;
    s->prebar = s->postbar + aw;
    s->sig = s->prebar + aw;
    s->sigbar = s->sig + sig;
    s->pg = s->sigbar + sig;
    s->sq = s->pg + state;
    s->sqbar = s->sq + lt->act_width;
    s->e0 = s->sqbar + lt->act_width;
    s->e0bar = s->e0 + e0;
    s->work = s->e0bar + e0;
    return FLP_OK;
}

/* ---- the forward half of a step ------------------------------------------ */

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

void flp__lt_softmax(int64_t n, const float *z, float *p)
{
    float mx = z[0];
    for (int64_t j = 1; j < n; j++)
        mx = z[j] > mx ? z[j] : mx;
    double sum = 0.0;
    for (int64_t j = 0; j < n; j++)
        sum += p[j] = expf(z[j] - mx);
    for (int64_t j = 0; j < n; j++)
        p[j] = (float)(p[j] / sum);
}

void flp__lt_signal(flp_lifetime *lt, int64_t k, const float *acts)
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

int flp__lt_clamped(const flp_lifetime *lt, int i) { return i == lt->n - 1 && lt->fb->clamp_output; }

/* post_i (and g_i) of plastic layer i. */
static void post_layer(flp_lifetime *lt, int i, const float *acts)
{
    const flp__lt_layer *d = &lt->layer[i];
    int64_t B = lt->batch, n = d->n_out;
    float *post = lt->s.post + B * d->h_off, *g = lt->s.g + B * d->h_off;
    if (flp__lt_clamped(lt, i)) {
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

void flp__lt_post(flp_lifetime *lt, const float *acts)
{
#pragma omp parallel for schedule(dynamic, 1) num_threads(lt->threads) if (lt->threads > 1)
    for (int j = 0; j < lt->n_plastic; j++)
        post_layer(lt, lt->order_plastic[j], acts);
}

const float *flp__lt_pre(const flp_lifetime *lt, int i, int64_t k, const float *acts)
{
    int64_t B = lt->batch;
    if (i == 0)
        return lt->x + k * B * lt->layer[0].n_in;
    const flp__lt_layer *below = &lt->layer[i - 1];
    if (lt->fb->post_presynaptic && below->plastic)
        return lt->s.post + B * below->h_off;
    return acts + B * below->h_off;
}

void flp__lt_column_sumsq(int64_t B, int64_t n, const float *post, float *sq)
{
    for (int64_t r = 0; r < n; r++)
        sq[r] = 0.0f;
    for (int64_t b = 0; b < B; b++)
        for (int64_t r = 0; r < n; r++)
            sq[r] += post[b * n + r] * post[b * n + r];
}

/* Plasticity update of plastic layer i at step k; P receives the outer
 * products (state layout), or holds the step gradient under the gradient
 * rule. Oja's and Hebb's pass copies the layer's weights into `saved` (a
 * record, state layout) on the way, when it is not NULL. Returns 1 if a
 * weight became non-finite. */
static int update_layer(flp_lifetime *lt, int i, int64_t k, float *state, float *P, float *saved,
                        const float *acts)
{
    if (lt->gradient_rule)
        return flp__lt_gradient_update(lt, i, state, P);
    if (lt->family)
        return flp__lt_family_update(lt, i, k, state, P, acts);
    const flp__lt_layer *d = &lt->layer[i];
    int64_t B = lt->batch;
    const float *post = lt->s.post + B * d->h_off;
    float *sq = lt->rule->kind == FLP_RULE_OJA ? lt->s.sq + d->h_off : NULL;
    /* P = post^T pre: the Hebbian outer product summed over the batch */
    flp__gemm_tn(d->n_out, d->n_in, B, 1.0f, post, d->n_out, flp__lt_pre(lt, i, k, acts), d->n_in, 0.0f,
                 P + d->w_off, d->n_in);
    if (sq)
        flp__lt_column_sumsq(B, d->n_out, post, sq);
    return flp__plastic_update(d->n_out, d->n_in, d->mult, d->rule->alpha, lt->rule->granularity,
                               P + d->w_off, sq, state + d->w_off, saved ? saved + d->w_off : NULL);
}

flp_status flp__lt_step(flp_lifetime *lt, int64_t k, float *state, float *saved_W, float *acts,
                        int have_acts)
{
    int64_t B = lt->batch;
    /* Oja's and Hebb's update passes copy the weights into the record
     * themselves (one read of W, on every thread, instead of two) */
    int copy_in_update = !lt->gradient_rule && !lt->family;
    if (saved_W != NULL && !copy_in_update)
        memcpy(saved_W, state, (size_t)lt->n_state * sizeof *saved_W);
    if (acts == NULL)
        acts = lt->s.acts;
    if (!have_acts)
        flp__lt_forward(lt, state, B, lt->x + k * B * lt->layer[0].n_in, acts);
    lt->flops += (double)B * ((have_acts ? 0 : lt->flops_dense) + lt->flops_pathway + lt->flops_update);
    /* Every layer's update reads the same forward pass: independent tasks.
     * A record keeps the outer products (or the step gradient) so the
     * reverse sweep need not redo them. */
    float *P = saved_W != NULL ? saved_W + lt->n_state : lt->s.pg;
    if (lt->gradient_rule) {
        flp__lt_step_gradient(lt, k, state, P, acts);
    } else if (lt->family) {
        flp__lt_family_errors(lt, k, state, acts);
    } else {
        flp__lt_signal(lt, k, acts);
        flp__lt_post(lt, acts);
    }
    int first_bad = lt->n;
#pragma omp parallel for schedule(dynamic, 1) num_threads(lt->threads) if (lt->threads > 1) \
    reduction(min : first_bad)
    for (int j = 0; j < lt->n_plastic; j++) {
        int i = lt->order_plastic[j];
        if (update_layer(lt, i, k, state, P, copy_in_update ? saved_W : NULL, acts) && i < first_bad)
            first_bad = i;
    }
    if (first_bad < lt->n && lt->check_finite)
        return flp__error(FLP_ERR_NONFINITE, "flp_lifetime_run: a weight of layer %d became non-finite "
                          "at inner step %lld (plasticity too strong?)", lt->layer[first_bad].net_index,
                          (long long)k);
    return FLP_OK;
}

/* ---- running a lifetime --------------------------------------------------- */

/* Bind the episode's arrays and check it fits the network and the signal. */
static flp_status bind_episode(flp_lifetime *lt, const flp_episode *ep)
{
    int64_t n_in, n_out;
    FLP__TRY(flp_episode_shape(ep, &lt->K, &lt->batch, &n_in, &n_out, &lt->n_query, &lt->classification));
    if (n_in != lt->n_image || n_out != lt->n_final)
        return flp__error(FLP_ERR_SHAPE, "flp_lifetime_run: the episode has %lld inputs and %lld outputs, "
                          "the network %lld and %lld", (long long)n_in, (long long)n_out,
                          (long long)lt->n_image, (long long)lt->n_final);
    int chained = lt->fb->kind != FLP_FEEDBACK_DIRECT, family = lt->rule->kind == FLP_RULE_FAMILY;
    if (family != chained)
        return flp__error(FLP_ERR_INVALID, "flp_lifetime_run: %s", family ? "the rule family needs chained or "
                          "symmetric feedback (FLP_FEEDBACK_KIND)" : "chained and symmetric feedback work only "
                          "with the rule family (FLP_RULE_FAMILY)");
    if (family && lt->front > 0)
        return flp__error(FLP_ERR_UNSUPPORTED, "flp_lifetime_run: the rule family does not support a "
                          "convolutional front-end yet (its input gradient is not collected)");
    if (family && !lt->classification)
        return flp__error(FLP_ERR_SHAPE, "flp_lifetime_run: the rule family needs a labelled episode, this one "
                          "is regression");
    /* the gradient rule ignores the feedback: its step loss follows the
     * episode; the family's error is always softmax - onehot */
    int wants_labels = lt->fb->signal != FLP_SIGNAL_ERROR;
    if (lt->rule->kind != FLP_RULE_GRADIENT && !family && wants_labels != lt->classification)
        return flp__error(FLP_ERR_SHAPE, "flp_lifetime_run: the feedback signal (%d) needs a %s episode, "
                          "this one is %s", lt->fb->signal, wants_labels ? "labelled" : "regression",
                          lt->classification ? "labelled" : "regression");
    int64_t count;
    FLP__TRY(flp_episode_floats(ep, FLP_EPISODE_X, &lt->x, &count));
    FLP__TRY(flp_episode_floats(ep, FLP_EPISODE_XQ, &lt->xq, &count));
    if (lt->classification) {
        FLP__TRY(flp_episode_labels(ep, FLP_EPISODE_LABELS, &lt->labels, &count));
        FLP__TRY(flp_episode_labels(ep, FLP_EPISODE_LQ, &lt->lq, &count));
    } else {
        FLP__TRY(flp_episode_floats(ep, FLP_EPISODE_Y, &lt->y, &count));
        FLP__TRY(flp_episode_floats(ep, FLP_EPISODE_YQ, &lt->yq, &count));
    }
    lt->ep = ep;
    return FLP_OK;
}

/* FNV-1a over the episode's inputs: re-initialised weights depend on the
 * episode itself, so a run is reproducible without any state. */
static uint64_t episode_hash(const flp_lifetime *lt)
{
    const unsigned char *b = (const unsigned char *)lt->x;
    size_t n = (size_t)(lt->K * lt->batch * lt->n_image) * sizeof(float);
    uint64_t h = 1469598103934665603ull;
    for (size_t j = 0; j < n; j++)
        h = (h ^ b[j]) * 1099511628211ull;
    return h;
}

/* Xavier uniform weights for every plastic layer, layer by layer in
 * row-major order, from FLP_LIFETIME_REINIT_SEED and the episode. */
static void draw_initial_weights(flp_lifetime *lt)
{
    flp_rng rng;
    flp__rng_seed(&rng, (uint64_t)lt->reinit_seed ^ episode_hash(lt));
    for (int i = 0; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i];
        if (!d->plastic)
            continue;
        double a = sqrt(6.0 / (double)(d->n_in + d->n_out));
        for (int64_t j = 0; j < d->n_out * d->n_in; j++)
            lt->W[d->w_off + j] = (float)(a * (2.0 * flp__rng_unit(&rng) - 1.0));
    }
}

/* The initial state: the network's weights (and biases, when the rule
 * changes them) of the plastic layers, or fresh weights under
 * FLP_LIFETIME_REINIT. */
static void load_initial_state(flp_lifetime *lt)
{
    if (lt->reinit)
        draw_initial_weights(lt);
    for (int i = 0; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i];
        if (d->plastic && !lt->reinit)
            memcpy(lt->W + d->w_off, d->net_layer->W, (size_t)(d->n_out * d->n_in) * sizeof(float));
        if (d->b_off >= 0)
            memcpy(lt->W + d->b_off, d->net_layer->b, (size_t)d->n_out * sizeof(float));
    }
}

static void add_into(int64_t n, const float *src, float *dst)
{
    for (int64_t j = 0; j < n; j++)
        dst[j] += src[j];
}

/* Hand the adjoint of the initial state to the network's gradients (drawn
 * weights are no meta-parameter: theirs is dropped). */
static void export_state_grad(flp_lifetime *lt)
{
    for (int i = 0; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i];
        if (d->plastic && !lt->reinit)
            add_into(d->n_out * d->n_in, lt->Wbar + d->w_off, d->gW);
        if (d->b_off >= 0)
            add_into(d->n_out, lt->Wbar + d->b_off, d->gb);
    }
}

/* The family's L1 penalty lambda sum |theta_t| over the enabled terms: in
 * the loss, and its subgradient lambda sign(theta_t) in theta's gradient. */
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

/* Send every layer's meta-gradients to the handles' own arrays. */
static void bind_handle_grads(flp_lifetime *lt)
{
    for (int i = 0; i < lt->n; i++) {
        flp__lt_layer *d = &lt->layer[i];
        d->gW = d->net_layer->gW;
        d->gb = d->net_layer->gb;
        d->gB = d->path->gB;
        d->gc = d->path->gc;
        d->gbeta = d->path->gbeta;
        /* the family's alphas are no meta-parameter (flp__rule_tensors) */
        d->galpha = lt->rule->kind == FLP_RULE_FAMILY ? NULL : d->rule->galpha;
        /* the rule's block keeps glr_bias beside galpha even when empty */
        d->glr_bias = d->rule->n_lr_bias > 0 ? d->rule->glr_bias : NULL;
    }
    lt->gtheta = lt->rule->gtheta;
    for (int li = 0; li < lt->front; li++) {
        lt->front_grad[2 * li] = lt->net->layers[li].gW;
        lt->front_grad[2 * li + 1] = lt->net->layers[li].gb;
    }
}

/* The place in `sink` (laid out like `list`) of the handle gradient array
 * `grad`; NULL stays NULL. Sets *missing when `grad` is not in the list. */
static float *sink_slot(const flp__tensor_list *list, float *sink, float *grad, int *missing)
{
    if (grad == NULL)
        return NULL;
    int64_t off = 0;
    for (int t = 0; t < list->n; t++) {
        if (list->items[t].grad == grad)
            return sink + off;
        off += list->items[t].count;
    }
    *missing = 1;
    return NULL;
}

/* Send every layer's meta-gradients to their slots in `sink`. */
static flp_status bind_sink_grads(flp_lifetime *lt, const flp__tensor_list *list, float *sink)
{
    int missing = 0;
    bind_handle_grads(lt);
    for (int i = 0; i < lt->n; i++) {
        flp__lt_layer *d = &lt->layer[i];
        float **slots[] = {&d->gW, &d->gb, &d->gB, &d->gc, &d->gbeta, &d->galpha, &d->glr_bias};
        for (size_t j = 0; j < sizeof slots / sizeof slots[0]; j++)
            *slots[j] = sink_slot(list, sink, *slots[j], &missing);
        if (missing)
            return flp__error(FLP_ERR_STATE, "flp_lifetime_run: a meta-parameter of layer %d is not in "
                              "the optimizer's tensor list (were the handles changed?)", d->net_index);
    }
    for (int j = 0; j < 2 * lt->front; j++) {
        lt->front_grad[j] = sink_slot(list, sink, lt->front_grad[j], &missing);
        if (missing)
            return flp__error(FLP_ERR_STATE, "flp_lifetime_run: a meta-parameter of layer %d is not in "
                              "the optimizer's tensor list (were the handles changed?)", j / 2);
    }
    lt->gtheta = lt->rule->kind == FLP_RULE_FAMILY ? sink_slot(list, sink, lt->gtheta, &missing) : NULL;
    if (missing)
        return flp__error(FLP_ERR_STATE, "flp_lifetime_run: the rule's theta is not in the optimizer's "
                          "tensor list (was the rule changed?)");
    memset(sink, 0, (size_t)flp__tensor_list_total(list) * sizeof *sink);
    return FLP_OK;
}

/* Everything a run does before its first step. */
static flp_status prepare(flp_lifetime *lt, const flp_episode *ep, int want_gradient)
{
    lt->have_run = 0;
    FLP__TRY(bind_episode(lt, ep));
    int64_t n_state_before = lt->n_state;
    layout(lt);
    if (lt->n_state != n_state_before)
        free_buffers(lt);
    FLP__TRY(ensure_scratch(lt, lt->batch > lt->n_query ? lt->batch : lt->n_query));
    load_initial_state(lt);
    lt->flops = 0;
    return flp__lt_frontend_forward(lt, want_gradient);
}

flp_status flp__lt_begin(flp_lifetime *lt, const flp_episode *ep)
{
    FLP__TRY(flp_get_num_threads(&lt->threads));
    return prepare(lt, ep, 0);
}

/* The run itself, on lt->threads threads, into the bound gradients. */
static flp_status run(flp_lifetime *lt, const flp_episode *ep, int want_gradient, float *loss)
{
    FLP__TRY(prepare(lt, ep, want_gradient));
    FLP__TRY(flp__lt_sweep(lt, want_gradient, loss));
    if (want_gradient) {
        export_state_grad(lt);
        flp__lt_frontend_backward(lt);
    }
    if (lt->family)
        add_l1_penalty(lt, want_gradient, loss);
    lt->have_run = 1;
    return FLP_OK;
}

flp_status flp_lifetime_run(flp_lifetime *lt, const flp_episode *ep, int want_gradient, float *loss)
{
    FLP__CHECK_NULL(lt);
    FLP__CHECK_NULL(ep);
    FLP__CHECK_NULL(loss);
    FLP__TRY(flp_get_num_threads(&lt->threads));
    bind_handle_grads(lt);
    return run(lt, ep, want_gradient, loss);
}

flp_status flp__lt_run_private(flp_lifetime *lt, const flp_episode *ep, const flp__tensor_list *list,
                               float *sink, int threads, float *loss)
{
    lt->threads = threads;
    FLP__TRY(bind_sink_grads(lt, list, sink));
    return run(lt, ep, 1, loss);
}

/* ---- results ---------------------------------------------------------------- */

/* Dense index of net layer `layer` after a run, or an error naming fn. */
static flp_status final_layer(const flp_lifetime *lt, int layer, const char *fn, int *i)
{
    if (lt == NULL)
        return flp__error(FLP_ERR_NULL, "%s: argument 'lt' is NULL", fn);
    if (!lt->have_run)
        return flp__error(FLP_ERR_STATE, "%s: no lifetime has run yet", fn);
    for (*i = 0; *i < lt->n; (*i)++)
        if (lt->layer[*i].net_index == layer)
            return FLP_OK;
    return flp__error(FLP_ERR_INVALID, "%s: layer %d is not a linear layer of the network", fn, layer);
}

flp_status flp_lifetime_final_weight(const flp_lifetime *lt, int layer, float *dst, int64_t count)
{
    int i = 0;
    FLP__TRY(final_layer(lt, layer, __func__, &i));
    const flp__lt_layer *d = &lt->layer[i];
    return flp__copy_out(__func__, "final weight", flp__lt_weight(lt, i, lt->W), d->n_out * d->n_in, dst, count);
}

flp_status flp_lifetime_final_bias(const flp_lifetime *lt, int layer, float *dst, int64_t count)
{
    int i = 0;
    FLP__TRY(final_layer(lt, layer, __func__, &i));
    return flp__copy_out(__func__, "final bias", flp__lt_bias(lt, i, lt->W), lt->layer[i].n_out, dst, count);
}

flp_status flp_lifetime_predict(flp_lifetime *lt, int64_t n, const float *x, float *y)
{
    FLP__CHECK_NULL(lt);
    FLP__CHECK_NULL(x);
    FLP__CHECK_NULL(y);
    if (!lt->have_run)
        return flp__error(FLP_ERR_STATE, "%s: no lifetime has run yet", __func__);
    if (n < 1)
        return flp__error(FLP_ERR_RANGE, "%s: n = %lld, need at least 1", __func__, (long long)n);
    const flp__lt_layer *last = &lt->layer[lt->n - 1];
    FLP__TRY(flp_get_num_threads(&lt->threads));
    for (int64_t start = 0; start < n; start += lt->s.rows) {
        int64_t rows = n - start < lt->s.rows ? n - start : lt->s.rows;
        const float *features;
        FLP__TRY(flp__lt_features(lt, rows, x + start * lt->n_image, &features));
        flp__lt_forward(lt, lt->W, rows, features, lt->s.acts);
        memcpy(y + start * lt->n_final, lt->s.acts + rows * last->h_off,
               (size_t)(rows * lt->n_final) * sizeof *y);
    }
    return FLP_OK;
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

flp_status flp_lifetime_work(const flp_lifetime *lt, double *flops)
{
    FLP__CHECK_NULL(lt);
    FLP__CHECK_NULL(flops);
    *flops = lt->flops;
    return FLP_OK;
}

flp_status flp_lifetime_stats(const flp_lifetime *lt, int64_t *workspace_bytes, int64_t *recomputed_steps)
{
    FLP__CHECK_NULL(lt);
    if (workspace_bytes)
        *workspace_bytes = lt->workspace_bytes;
    if (recomputed_steps)
        *recomputed_steps = lt->recomputed;
    return FLP_OK;
}
