/* frontend.c - the lifetime's frozen front-end: convolutions (each
 * optionally followed by relu or softplus) over a rank-3 input, then a
 * flatten, ahead of the dense stack. Plasticity never touches these layers,
 * so their outputs are the same at every inner step: the features of every
 * example of an episode (its K*B step inputs and Q queries) are computed in
 * one batched pass, and the meta-gradient goes back through the front-end
 * once, from dLoss/dfeatures summed over every use of each example. The
 * reference recomputes the convolutions at every step; the result is the
 * same. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "lifetime/frontend.h"

flp_status flp__lt_frontend_layers(const flp_net *net, int *front)
{
    *front = 0;
    if (net->in_rank == 1)
        return FLP_OK;
    for (int li = 0; li < net->n_layers; li++) {
        flp_layer_kind k = net->layers[li].kind;
        if (k == FLP_LAYER_FLATTEN) {
            *front = li + 1;
            return FLP_OK;
        }
        int after_conv = li > 0 && net->layers[li - 1].kind == FLP_LAYER_CONV2D;
        if (!(k == FLP_LAYER_CONV2D || ((k == FLP_LAYER_RELU || k == FLP_LAYER_SOFTPLUS) && after_conv)))
            return flp__error(FLP_ERR_UNSUPPORTED, "flp_lifetime_create: layer %d (kind %d) is not part of a "
                              "front-end (convolutions, each optionally followed by relu or softplus, then "
                              "a flatten)", li, (int)k);
    }
    return flp__error(FLP_ERR_UNSUPPORTED, "flp_lifetime_create: the network takes images but has no "
                      "flatten before its dense layers");
}

/* Matrix-product flops per example of the front-end's forward pass and of
 * its VJP (dW of every convolution, dx of all but the first). */
static void count_front_work(flp_lifetime *lt)
{
    lt->flops_front = lt->flops_front_back = 0;
    for (int li = 0; li < lt->front; li++) {
        const flp__layer *l = &lt->net->layers[li];
        if (l->kind != FLP_LAYER_CONV2D)
            continue;
        const flp__conv_geom *g = &l->conv;
        double w = 2.0 * (double)g->out_c * (double)(g->in_c * g->kh * g->kw) * (double)(g->out_h * g->out_w);
        lt->flops_front += w;
        lt->flops_front_back += li > 0 ? 2 * w : w;
    }
}

static int has_params(const flp_lifetime *lt)
{
    for (int li = 0; li < lt->front; li++)
        if (lt->net->layers[li].n_weight + lt->net->layers[li].n_bias > 0)
            return 1;
    return 0;
}

flp_status flp__lt_frontend_forward(flp_lifetime *lt, int want_gradient)
{
    lt->xbar = lt->xqbar = NULL;
    if (lt->front == 0)
        return FLP_OK;
    int64_t steps = lt->K * lt->batch, rows = steps + lt->n_query, nf = lt->layer[0].n_in;
    FLP__TRY(flp__net_ws_ensure(lt->net, &lt->front_ws, rows, "flp_lifetime_run"));
    float *in = lt->front_ws.acts[0];
    memcpy(in, lt->x, (size_t)(steps * lt->n_image) * sizeof *in);
    memcpy(in + steps * lt->n_image, lt->xq, (size_t)(lt->n_query * lt->n_image) * sizeof *in);
    count_front_work(lt);
    lt->flops += (double)rows * lt->flops_front;
    lt->front_params = has_params(lt);
    if (want_gradient && lt->front_params) {
        if (flp__ensure_floats(&lt->featbar, &lt->featbar_floats, rows * nf, "lifetime feature gradients") != FLP_OK)
            return flp__error_context(FLP_ERR_NOMEM, "flp_lifetime_run");
        memset(lt->featbar, 0, (size_t)(rows * nf) * sizeof *lt->featbar);
        lt->xbar = lt->featbar;
        lt->xqbar = lt->featbar + steps * nf;
    }
    const float *feat = flp__net_ws_forward(lt->net, &lt->front_ws, lt->front, rows);
    lt->x = feat;
    lt->xq = feat + steps * nf;
    return FLP_OK;
}

void flp__lt_frontend_backward(flp_lifetime *lt)
{
    if (lt->xbar == NULL)
        return;
    int64_t rows = lt->K * lt->batch + lt->n_query;
    lt->flops += (double)rows * lt->flops_front_back;
    flp__net_ws_backward(lt->net, &lt->front_ws, lt->front, rows, lt->featbar, lt->front_grad);
}

flp_status flp__lt_features(flp_lifetime *lt, int64_t rows, const float *x, const float **features)
{
    if (lt->front == 0) {
        *features = x;
        return FLP_OK;
    }
    FLP__TRY(flp__net_ws_ensure(lt->net, &lt->front_ws, rows, "flp_lifetime_predict"));
    memcpy(lt->front_ws.acts[0], x, (size_t)(rows * lt->n_image) * sizeof(float));
    *features = flp__net_ws_forward(lt->net, &lt->front_ws, lt->front, rows);
    return FLP_OK;
}

int64_t flp__lt_frontend_floats(const flp_lifetime *lt)
{
    return lt->front == 0 ? 0 : lt->front_ws.floats + lt->featbar_floats;
}

void flp__lt_frontend_free(flp_lifetime *lt)
{
    flp__net_ws_free(&lt->front_ws);
    flp__free(lt->featbar);
    lt->featbar = NULL;
    lt->featbar_floats = 0;
}
