/* lifetime.c - the lifetime handle: its layer table and the rule's
 * operations (chosen once, at creation), the layout of each run, the runs
 * themselves (the sweep does the steps) and their results. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng_internal.h"
#include "lifetime/dense.h"
#include "lifetime/frontend.h"
#include "lifetime/rules.h"
#include "lifetime/sweep.h"

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
    lt->ops = flp__lt_select_rule(lt->rule->kind);
    if (lt->ops == NULL)
        return flp__error(FLP_ERR_UNSUPPORTED, "flp_lifetime_create: no lifetime runs rules of kind %d",
                          (int)lt->rule->kind);
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
    flp__tensor_list_free(&lt->tensors);
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

/* Matrix-product flops per example of each part of a step: the forward
 * pass (z = h W^T) and the backprop (dW, and dh below layer 0) are every
 * rule's; the rule counts the rest from the products it does. */
static void count_work(flp_lifetime *lt)
{
    lt->flops_dense = lt->flops_pathway = lt->flops_update = lt->flops_reverse = lt->flops_backprop = 0;
    for (int i = 0; i < lt->n; i++) {
        const flp__lt_layer *d = &lt->layer[i];
        double w = 2.0 * (double)d->n_out * (double)d->n_in;
        lt->flops_dense += w;
        lt->flops_backprop += i > 0 ? 2 * w : w;
    }
    lt->ops->work(lt);
}

/* Offsets depend on which layers are plastic, which the rule may change
 * between runs, so the layout is refreshed at every run. */
static void layout(flp_lifetime *lt)
{
    double hidden_mult = lt->rule->hidden_multiplier;
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
            if (lt->ops->bias_in_state) {
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
    FLP__TRY(lt->ops->check(lt));
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

/* The meta-parameters of the lifetime's handles, as the optimizer and the
 * checkpoints see them, rebuilt for every run (the capacity stays, so
 * nothing is allocated once the first run has sized it). */
static flp_status list_own_tensors(flp_lifetime *lt)
{
    flp__tensor_list_clear(&lt->tensors);
    FLP__TRY(flp__net_tensors(lt->net, &lt->tensors));
    FLP__TRY(flp__feedback_tensors(lt->fb, &lt->tensors));
    return flp__rule_tensors(lt->rule, &lt->tensors);
}

/* One binding of the gradients: where they go and how it went. */
typedef struct {
    const flp_lifetime *lt;
    const flp__tensor_list *list; /* the tensors to bind to */
    float *sink;                  /* laid out like list, or NULL: the arrays the list points at */
    int bound, missing;           /* tensors bound; a tensor of the handles absent from list */
} grad_binding;

/* Where the run accumulates the gradient of the handles' tensor `name`
 * ("net.3.weight", "rule.theta"): its place in the sink, or the list entry's
 * own array; NULL when the handles have no such meta-parameter. */
static float *grad_slot(grad_binding *b, const char *name)
{
    if (flp__tensor_list_find(&b->lt->tensors, name, NULL) < 0)
        return NULL;
    int64_t off = 0;
    int t = flp__tensor_list_find(b->list, name, &off);
    if (t < 0) {
        b->missing = 1;
        return NULL;
    }
    b->bound++;
    return b->sink != NULL ? b->sink + off : b->list->items[t].grad;
}

/* The same for tensor "HANDLE.LAYER.WHAT" ("feedback.4.B"). */
static float *layer_slot(grad_binding *b, const char *handle, int layer, const char *what)
{
    char name[32];
    snprintf(name, sizeof name, "%s.%d.%s", handle, layer, what);
    return grad_slot(b, name);
}

/* Bind every meta-gradient a run accumulates to the tensors of `list` by
 * name: to the handles' own arrays (list = the lifetime's own, sink NULL)
 * or to a flat sink laid out like the optimizer's list (meta-batches),
 * which is zeroed. Every tensor of the handles is bound exactly once. */
static flp_status bind_grads(flp_lifetime *lt, const flp__tensor_list *list, float *sink)
{
    FLP__TRY(list_own_tensors(lt));
    grad_binding b = {lt, list, sink, 0, 0};
    for (int i = 0; i < lt->n; i++) {
        flp__lt_layer *d = &lt->layer[i];
        int k = d->net_index;
        d->gW = layer_slot(&b, "net", k, "weight");
        d->gb = layer_slot(&b, "net", k, "bias");
        d->gB = layer_slot(&b, "feedback", k, "B");
        d->gc = layer_slot(&b, "feedback", k, "c");
        d->gbeta = layer_slot(&b, "feedback", k, "beta");
        d->galpha = layer_slot(&b, "rule", k, "alpha");
        d->glr_bias = layer_slot(&b, "rule", k, "lr_bias");
    }
    for (int li = 0; li < lt->front; li++) {
        lt->front_grad[2 * li] = layer_slot(&b, "net", li, "weight");
        lt->front_grad[2 * li + 1] = layer_slot(&b, "net", li, "bias");
    }
    lt->gtheta = grad_slot(&b, "rule.theta");
    if (b.missing || b.bound != lt->tensors.n)
        return flp__error(FLP_ERR_STATE, "flp_lifetime_run: the handles' meta-parameters are not those of the "
                          "optimizer's tensor list (were the handles changed?)");
    if (sink != NULL)
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
    if (lt->ops->finish != NULL)
        lt->ops->finish(lt, want_gradient, loss);
    lt->have_run = 1;
    return FLP_OK;
}

flp_status flp_lifetime_run(flp_lifetime *lt, const flp_episode *ep, int want_gradient, float *loss)
{
    FLP__CHECK_NULL(lt);
    FLP__CHECK_NULL(ep);
    FLP__CHECK_NULL(loss);
    FLP__TRY(flp_get_num_threads(&lt->threads));
    flp_status st = bind_grads(lt, &lt->tensors, NULL);
    if (st != FLP_OK)
        return flp__error_context(st, "%s", __func__);
    return run(lt, ep, want_gradient, loss);
}

flp_status flp__lt_run_private(flp_lifetime *lt, const flp_episode *ep, const flp__tensor_list *list,
                               float *sink, int threads, float *loss)
{
    lt->threads = threads;
    FLP__TRY(bind_grads(lt, list, sink));
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
