/* feedback.c - the feedback-pathway handle: B_l, c_l, beta_l for every
 * linear layer, and the settings that say what the pathway carries. B_l's
 * shape follows the kind: [n_l, n_out] for direct pathways, the shape of
 * W_l for chained ones. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng_internal.h"
#include "net/net_internal.h"
#include "plasticity/plasticity_internal.h"

static void free_blocks(flp_feedback *fb)
{
    for (int l = 0; l < fb->n_layers; l++) {
        flp__pathway *p = &fb->path[l];
        flp__free(p->B);  /* B, c, beta and their grads share one block */
        p->B = NULL;
    }
}

static void free_pathways(flp_feedback *fb)
{
    free_blocks(fb);
    flp__free(fb->path);
}

void flp_feedback_free(flp_feedback *fb)
{
    if (fb == NULL)
        return;
    free_pathways(fb);
    flp__free(fb);
}

/* Columns of B_l under `kind`. */
static int64_t pathway_cols(const flp_feedback *fb, const flp__pathway *p, int kind)
{
    return kind == FLP_FEEDBACK_DIRECT ? fb->n_out : p->n_in;
}

/* One allocation per pathway: [B | c | beta | gB | gc | gbeta]. */
static float *alloc_block(int64_t n_post, int64_t n_cols)
{
    return flp__alloc_floats(2 * (n_post * n_cols + n_post + 1), "feedback pathway");
}

/* Lay a fresh (zeroed) block out as pathway p, beta = 1. */
static void attach_block(flp__pathway *p, float *block, int64_t n_cols)
{
    int64_t n_post = p->n_post, nB = n_post * n_cols;
    p->n_cols = n_cols;
    p->B = block;
    p->c = p->B + nB;
    p->beta = p->c + n_post;
    p->gB = p->beta + 1;
    p->gc = p->gB + nB;
    p->gbeta = p->gc + n_post;
    p->beta[0] = 1.0f;
}

/* (Re)allocate every pathway for `kind`, zeroed. On failure the old
 * pathways stay in place. */
flp_status flp__feedback_realloc(flp_feedback *fb, int kind)
{
    float *blocks[fb->n_layers];
    for (int l = 0; l < fb->n_layers; l++) {
        flp__pathway *p = &fb->path[l];
        blocks[l] = NULL;
        if (p->n_post == 0)
            continue;
        blocks[l] = alloc_block(p->n_post, pathway_cols(fb, p, kind));
        if (blocks[l] == NULL) {
            for (int k = 0; k < l; k++)
                flp__free(blocks[k]);
            return FLP_ERR_NOMEM;
        }
    }
    free_blocks(fb);
    fb->kind = kind;
    for (int l = 0; l < fb->n_layers; l++)
        if (blocks[l] != NULL)
            attach_block(&fb->path[l], blocks[l], pathway_cols(fb, &fb->path[l], kind));
    return FLP_OK;
}

flp_status flp_feedback_create(const flp_net *net, flp_feedback **out)
{
    FLP__CHECK_NULL(out);
    *out = NULL;
    FLP__CHECK_NULL(net);
    if (net->n_layers == 0)
        return flp__error(FLP_ERR_STATE, "%s: the network has no layers", __func__);
    flp_feedback *fb = flp__alloc_bytes(sizeof *fb, "flp_feedback");
    if (fb == NULL)
        return FLP_ERR_NOMEM;
    fb->n_layers = net->n_layers;
    fb->n_out = net->layers[net->n_layers - 1].out_size;
    fb->relu = 1;
    fb->signal = FLP_SIGNAL_ERROR;
    fb->path = flp__alloc_bytes((size_t)net->n_layers * sizeof *fb->path, "feedback pathways");
    if (fb->path == NULL) {
        flp__free(fb);
        return FLP_ERR_NOMEM;
    }
    for (int l = 0; l < net->n_layers; l++) {
        if (net->layers[l].kind != FLP_LAYER_LINEAR)
            continue;
        fb->path[l].n_post = net->layers[l].out_size;
        fb->path[l].n_in = net->layers[l].in_size;
    }
    if (flp__feedback_realloc(fb, FLP_FEEDBACK_DIRECT) != FLP_OK) {
        flp_feedback_free(fb);
        return FLP_ERR_NOMEM;
    }
    *out = fb;
    return FLP_OK;
}

flp_status flp_feedback_init(flp_feedback *fb, flp_rng *rng, float beta)
{
    FLP__CHECK_NULL(fb);
    FLP__CHECK_NULL(rng);
    if (!isfinite(beta))
        return flp__error(FLP_ERR_NONFINITE, "%s: beta is not finite", __func__);
    for (int l = 0; l < fb->n_layers; l++) {
        flp__pathway *p = &fb->path[l];
        if (p->B == NULL)
            continue;
        if (fb->kind == FLP_FEEDBACK_DIRECT) {
            double std = sqrt(2.0 / (double)fb->n_out);
            for (int64_t i = 0; i < p->n_post * p->n_cols; i++)
                p->B[i] = (float)(std * flp__rng_gauss(rng));
        } else {
            double a = sqrt(6.0 / (double)(p->n_post + p->n_cols));
            for (int64_t i = 0; i < p->n_post * p->n_cols; i++)
                p->B[i] = (float)(a * (2.0 * flp__rng_unit(rng) - 1.0));
        }
        for (int64_t i = 0; i < p->n_post; i++)
            p->c[i] = 0.0f;
        p->beta[0] = beta;
    }
    return FLP_OK;
}

/* Locate tensor `which` of layer `layer`, checking everything a caller can get wrong. */
static flp_status locate(const flp_feedback *fb, int layer, flp_feedback_tensor which, int grad,
                         float **ptr, int64_t *count, const char *fn)
{
    *ptr = NULL;
    *count = 0;
    if (fb == NULL)
        return flp__error(FLP_ERR_NULL, "%s: argument 'fb' is NULL", fn);
    if (layer < 0 || layer >= fb->n_layers)
        return flp__error(FLP_ERR_RANGE, "%s: layer %d out of range [0, %d)", fn, layer, fb->n_layers);
    const flp__pathway *p = &fb->path[layer];
    if (p->B == NULL)
        return flp__error(FLP_ERR_INVALID, "%s: layer %d is not linear and has no feedback pathway", fn, layer);
    switch (which) {
    case FLP_FEEDBACK_B: *ptr = grad ? p->gB : p->B; *count = p->n_post * p->n_cols; return FLP_OK;
    case FLP_FEEDBACK_C: *ptr = grad ? p->gc : p->c; *count = p->n_post; return FLP_OK;
    case FLP_FEEDBACK_BETA: *ptr = grad ? p->gbeta : p->beta; *count = 1; return FLP_OK;
    }
    return flp__error(FLP_ERR_RANGE, "%s: unknown feedback tensor %d", fn, (int)which);
}

flp_status flp_feedback_count(const flp_feedback *fb, int layer, flp_feedback_tensor which, int64_t *count)
{
    float *p;
    FLP__CHECK_NULL(count);
    return locate(fb, layer, which, 0, &p, count, __func__);
}

static flp_status copy_out(const flp_feedback *fb, int layer, flp_feedback_tensor which, int grad,
                           float *dst, int64_t count, const char *fn)
{
    float *p;
    int64_t n;
    FLP__TRY(locate(fb, layer, which, grad, &p, &n, fn));
    return flp__copy_out(fn, "feedback tensor", p, n, dst, count);
}

flp_status flp_feedback_get_param(const flp_feedback *fb, int layer, flp_feedback_tensor which,
                                  float *dst, int64_t count)
{
    return copy_out(fb, layer, which, 0, dst, count, __func__);
}

flp_status flp_feedback_get_grad(const flp_feedback *fb, int layer, flp_feedback_tensor which,
                                 float *dst, int64_t count)
{
    return copy_out(fb, layer, which, 1, dst, count, __func__);
}

flp_status flp_feedback_set_param(flp_feedback *fb, int layer, flp_feedback_tensor which,
                                  const float *src, int64_t count)
{
    float *p;
    int64_t n;
    FLP__TRY(locate(fb, layer, which, 0, &p, &n, __func__));
    return flp__copy_in(__func__, "feedback tensor", p, n, src, count);
}

flp_status flp__feedback_tensors(flp_feedback *fb, flp__tensor_list *list)
{
    for (int l = 0; l < fb->n_layers; l++) {
        flp__pathway *p = &fb->path[l];
        if (p->B == NULL)
            continue;
        const int64_t B_dims[2] = {p->n_post, p->n_cols}, one = 1;
        FLP__TRY(flp__tensor_list_add(list, p->B, p->gB, FLP_GROUP_FEEDBACK, 2, B_dims, "feedback.%d.B", l));
        FLP__TRY(flp__tensor_list_add(list, p->c, p->gc, FLP_GROUP_FEEDBACK, 1, &p->n_post, "feedback.%d.c", l));
        FLP__TRY(flp__tensor_list_add(list, p->beta, p->gbeta, FLP_GROUP_STRENGTH, 1, &one, "feedback.%d.beta", l));
    }
    return FLP_OK;
}

flp_status flp_feedback_zero_grad(flp_feedback *fb)
{
    FLP__CHECK_NULL(fb);
    for (int l = 0; l < fb->n_layers; l++) {
        flp__pathway *p = &fb->path[l];
        if (p->B != NULL) /* gB, gc, gbeta are contiguous */
            memset(p->gB, 0, (size_t)(p->n_post * p->n_cols + p->n_post + 1) * sizeof(float));
    }
    return FLP_OK;
}

flp_status flp__feedback_check_net(const flp_feedback *fb, const flp_net *net, const char *fn)
{
    int64_t n_out = net->n_layers > 0 ? net->layers[net->n_layers - 1].out_size : 0;
    if (fb->n_layers != net->n_layers || fb->n_out != n_out)
        return flp__error(FLP_ERR_INVALID, "%s: the feedback was created for a network of %d layers and "
                          "%lld outputs, this one has %d and %lld", fn, fb->n_layers, (long long)fb->n_out,
                          net->n_layers, (long long)n_out);
    for (int l = 0; l < net->n_layers; l++) {
        const flp__layer *L = &net->layers[l];
        int linear = L->kind == FLP_LAYER_LINEAR;
        if (fb->path[l].n_post != (linear ? L->out_size : 0) || fb->path[l].n_in != (linear ? L->in_size : 0))
            return flp__error(FLP_ERR_INVALID, "%s: the feedback was created for another network "
                              "(layer %d differs)", fn, l);
    }
    return FLP_OK;
}
