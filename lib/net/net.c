/* net/net.c - the network handle: construction, shape queries, forward and
 * backward over the layer kernels. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "net/net_internal.h"

/* Bound on every extent and per-example size, so that products and the
 * convolution arithmetic below can never overflow int64. */
#define FLP__NET_MAX_SIZE ((int64_t)1 << 40)

/* Workspace segments start on 64-byte boundaries for BLIS. */
static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

/* a * b <= 2^40, for a, b >= 1, without forming a product that overflows. */
static int fits(int64_t a, int64_t b) { return a <= FLP__NET_MAX_SIZE / b; }

/* ---- lifecycle --------------------------------------------------------- */

void flp__net_ws_free(flp__net_ws *ws)
{
    flp__free(ws->acts);
    flp__free(ws->block);
    memset(ws, 0, sizeof *ws);
}

static void drop_workspace(flp_net *net)
{
    flp__net_ws_free(&net->ws);
    net->have_forward = 0;
    net->last_batch = 0;
}

static flp_status check_extent(const char *fn, const char *what, int64_t v)
{
    if (v < 1 || v > FLP__NET_MAX_SIZE)
        return flp__error(FLP_ERR_RANGE, "%s: %s = %lld, need 1 <= %s <= 2^40", fn, what,
                          (long long)v, what);
    return FLP_OK;
}

flp_status flp_net_create(int rank, const int64_t *shape, flp_net **out)
{
    FLP__CHECK_NULL(out);
    *out = NULL;
    FLP__CHECK_NULL(shape);
    if (rank != 1 && rank != 3)
        return flp__error(FLP_ERR_RANGE, "%s: rank = %d, need 1 ([features]) or 3 ([C, H, W])",
                          __func__, rank);
    int64_t size = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] < 1 || shape[d] > FLP__NET_MAX_SIZE)
            return flp__error(FLP_ERR_RANGE, "%s: shape[%d] = %lld, need 1 <= extent <= 2^40",
                              __func__, d, (long long)shape[d]);
        size *= shape[d];
        if (size > FLP__NET_MAX_SIZE)
            return flp__error(FLP_ERR_RANGE, "%s: input has more than 2^40 elements", __func__);
    }
    flp_net *net = flp__alloc_bytes(sizeof *net, "flp_net");
    if (net == NULL)
        return FLP_ERR_NOMEM;
    net->in_rank = rank;
    for (int d = 0; d < 3; d++)
        net->in_shape[d] = d < rank ? shape[d] : 1;
    net->in_size = size;
    *out = net;
    return FLP_OK;
}

void flp_net_free(flp_net *net)
{
    if (net == NULL)
        return;
    for (int i = 0; i < net->n_layers; i++)
        flp__free(net->layers[i].W);
    flp__free(net->layers);
    drop_workspace(net);
    flp__free(net);
}

/* ---- adding layers ----------------------------------------------------- */

/* A new layer's input is the current output (the net's input when empty). */
static flp__layer next_layer(const flp_net *net, flp_layer_kind kind)
{
    flp__layer l = {0};
    l.kind = kind;
    if (net->n_layers == 0) {
        l.in_rank = net->in_rank;
        memcpy(l.in_shape, net->in_shape, sizeof l.in_shape);
        l.in_size = net->in_size;
    } else {
        const flp__layer *p = &net->layers[net->n_layers - 1];
        l.in_rank = p->out_rank;
        memcpy(l.in_shape, p->out_shape, sizeof l.in_shape);
        l.in_size = p->out_size;
    }
    /* Shape-preserving unless the caller says otherwise. */
    l.out_rank = l.in_rank;
    memcpy(l.out_shape, l.in_shape, sizeof l.out_shape);
    l.out_size = l.in_size;
    return l;
}

static flp_status grow_layers(flp_net *net)
{
    if (net->n_layers < net->cap_layers)
        return FLP_OK;
    int cap = net->cap_layers ? 2 * net->cap_layers : 8;
    flp__layer *layers = flp__alloc_bytes((size_t)cap * sizeof *layers, "flp_net layers");
    if (layers == NULL)
        return FLP_ERR_NOMEM;
    if (net->n_layers > 0)
        memcpy(layers, net->layers, (size_t)net->n_layers * sizeof *layers);
    flp__free(net->layers);
    net->layers = layers;
    net->cap_layers = cap;
    return FLP_OK;
}

/* Allocates l's parameters and gradients (one block, owned by l->W) and
 * commits it; on failure the net is unchanged. */
static flp_status append_layer(flp_net *net, flp__layer *l)
{
    FLP__TRY(grow_layers(net));
    if (l->n_weight > 0) {
        int64_t rw = round16(l->n_weight), rb = round16(l->n_bias);
        float *block = flp__alloc_floats(2 * (rw + rb), "flp_net parameters");
        if (block == NULL)
            return FLP_ERR_NOMEM;
        l->W = block;
        l->gW = block + rw;
        if (l->n_bias > 0) {
            l->b = block + 2 * rw;
            l->gb = block + 2 * rw + rb;
        }
    }
    drop_workspace(net);
    net->layers[net->n_layers++] = *l;
    return FLP_OK;
}

flp_status flp_net_add_linear(flp_net *net, int64_t out_features, int bias)
{
    FLP__CHECK_NULL(net);
    flp__layer l = next_layer(net, FLP_LAYER_LINEAR);
    if (l.in_rank != 1)
        return flp__error(FLP_ERR_SHAPE,
                          "%s: input is [%lld, %lld, %lld] (rank 3); add a flatten before a linear layer",
                          __func__, (long long)l.in_shape[0], (long long)l.in_shape[1],
                          (long long)l.in_shape[2]);
    FLP__TRY(check_extent(__func__, "out_features", out_features));
    if (!fits(out_features, l.in_size))
        return flp__error(FLP_ERR_RANGE, "%s: weight [%lld, %lld] has more than 2^40 elements",
                          __func__, (long long)out_features, (long long)l.in_size);
    l.out_shape[0] = l.out_size = out_features;
    l.n_weight = out_features * l.in_size;
    l.n_bias = bias ? out_features : 0;
    return append_layer(net, &l);
}

static flp_status check_conv_args(const char *fn, int64_t oc, int64_t kh, int64_t kw,
                                  int64_t stride, int64_t padding)
{
    FLP__TRY(check_extent(fn, "out_channels", oc));
    FLP__TRY(check_extent(fn, "kernel_h", kh));
    FLP__TRY(check_extent(fn, "kernel_w", kw));
    FLP__TRY(check_extent(fn, "stride", stride));
    if (padding < 0 || padding > FLP__NET_MAX_SIZE)
        return flp__error(FLP_ERR_RANGE, "%s: padding = %lld, need 0 <= padding <= 2^40", fn,
                          (long long)padding);
    return FLP_OK;
}

/* Every extent is <= 2^40 (and padded extents < 2^42), so each step's
 * product is checked before it is formed. */
static int conv_sizes_ok(const flp__conv_geom *g)
{
    if (!fits(g->in_c, g->kh) || !fits(g->in_c * g->kh, g->kw) || !fits(g->out_h, g->out_w))
        return 0;
    int64_t fan_in = g->in_c * g->kh * g->kw, P = g->out_h * g->out_w;
    return fits(g->out_c, fan_in) && fits(g->out_c, P) && fits(fan_in, P);
}

flp_status flp_net_add_conv2d(flp_net *net, int64_t out_channels, int64_t kernel_h,
                              int64_t kernel_w, int64_t stride, int64_t padding, int bias)
{
    FLP__CHECK_NULL(net);
    flp__layer l = next_layer(net, FLP_LAYER_CONV2D);
    if (l.in_rank != 3)
        return flp__error(FLP_ERR_SHAPE, "%s: input is [%lld] (rank 1); a convolution needs [C, H, W]",
                          __func__, (long long)l.in_size);
    FLP__TRY(check_conv_args(__func__, out_channels, kernel_h, kernel_w, stride, padding));
    int64_t ph = l.in_shape[1] + 2 * padding, pw = l.in_shape[2] + 2 * padding;
    if (kernel_h > ph || kernel_w > pw)
        return flp__error(FLP_ERR_SHAPE, "%s: kernel %lldx%lld does not fit the padded input %lldx%lld",
                          __func__, (long long)kernel_h, (long long)kernel_w, (long long)ph,
                          (long long)pw);
    flp__conv_geom g = {.in_c = l.in_shape[0], .in_h = l.in_shape[1], .in_w = l.in_shape[2],
                        .out_c = out_channels, .out_h = (ph - kernel_h) / stride + 1,
                        .out_w = (pw - kernel_w) / stride + 1, .kh = kernel_h, .kw = kernel_w,
                        .stride = stride, .pad = padding};
    if (!conv_sizes_ok(&g))
        return flp__error(FLP_ERR_RANGE, "%s: weight, output or im2col matrix exceeds 2^40 elements",
                          __func__);
    int64_t fan_in = g.in_c * kernel_h * kernel_w;
    l.conv = g;
    l.out_shape[0] = g.out_c;
    l.out_shape[1] = g.out_h;
    l.out_shape[2] = g.out_w;
    l.out_size = g.out_c * g.out_h * g.out_w;
    l.n_weight = out_channels * fan_in;
    l.n_bias = bias ? out_channels : 0;
    return append_layer(net, &l);
}

flp_status flp_net_add_relu(flp_net *net)
{
    FLP__CHECK_NULL(net);
    flp__layer l = next_layer(net, FLP_LAYER_RELU);
    return append_layer(net, &l);
}

flp_status flp_net_add_softplus(flp_net *net, float beta)
{
    FLP__CHECK_NULL(net);
    if (!(beta > 0.0f) || isinf(beta))
        return flp__error(FLP_ERR_RANGE, "%s: beta = %g, need a finite beta > 0", __func__, beta);
    flp__layer l = next_layer(net, FLP_LAYER_SOFTPLUS);
    l.softplus_beta = beta;
    return append_layer(net, &l);
}

flp_status flp_net_add_flatten(flp_net *net)
{
    FLP__CHECK_NULL(net);
    flp__layer l = next_layer(net, FLP_LAYER_FLATTEN);
    if (l.in_rank != 3)
        return flp__error(FLP_ERR_SHAPE, "%s: input is already rank 1 ([%lld])", __func__,
                          (long long)l.in_size);
    l.out_rank = 1;
    l.out_shape[0] = l.in_size;
    l.out_shape[1] = l.out_shape[2] = 1;
    return append_layer(net, &l);
}

/* ---- queries ------------------------------------------------------------ */

flp_status flp_net_num_layers(const flp_net *net, int *n)
{
    FLP__CHECK_NULL(net);
    FLP__CHECK_NULL(n);
    *n = net->n_layers;
    return FLP_OK;
}

flp_status flp_net_layer_kind(const flp_net *net, int layer, flp_layer_kind *kind)
{
    FLP__CHECK_NULL(net);
    FLP__CHECK_NULL(kind);
    FLP__TRY(flp__net_check_layer(net, layer, __func__));
    *kind = net->layers[layer].kind;
    return FLP_OK;
}

flp_status flp_net_layer_shape(const flp_net *net, int layer, int *rank, int64_t shape[3])
{
    FLP__CHECK_NULL(net);
    FLP__CHECK_NULL(rank);
    FLP__CHECK_NULL(shape);
    if (layer == -1) {
        *rank = net->in_rank;
        memcpy(shape, net->in_shape, 3 * sizeof *shape);
        return FLP_OK;
    }
    FLP__TRY(flp__net_check_layer(net, layer, __func__));
    *rank = net->layers[layer].out_rank;
    memcpy(shape, net->layers[layer].out_shape, 3 * sizeof *shape);
    return FLP_OK;
}

static int64_t out_size(const flp_net *net)
{
    return net->n_layers ? net->layers[net->n_layers - 1].out_size : net->in_size;
}

flp_status flp_net_io_size(const flp_net *net, int64_t *in_size, int64_t *out)
{
    FLP__CHECK_NULL(net);
    FLP__CHECK_NULL(in_size);
    FLP__CHECK_NULL(out);
    *in_size = net->in_size;
    *out = out_size(net);
    return FLP_OK;
}

/* ---- forward / backward ------------------------------------------------- */

/* Lays the workspace out for `batch` examples and returns its size in
 * floats; with a block, also points acts and the scratch buffers into it. */
static int64_t layout_workspace(const flp_net *net, flp__net_ws *ws, int64_t batch, float *block, float **acts)
{
    int64_t off = round16(batch * net->in_size), conv = 0;
    if (block != NULL)
        acts[0] = block;
    for (int i = 0; i < net->n_layers; i++) {
        const flp__layer *l = &net->layers[i];
        if (l->kind == FLP_LAYER_CONV2D && flp__conv2d_workspace(&l->conv) > conv)
            conv = flp__conv2d_workspace(&l->conv);
        if (l->kind == FLP_LAYER_FLATTEN) {
            if (block != NULL)
                acts[i + 1] = acts[i];
            continue;
        }
        if (block != NULL)
            acts[i + 1] = block + off;
        off += round16(batch * l->out_size);
    }
    int64_t width = round16(batch * flp__net_max_width(net));
    if (block != NULL) {
        ws->grad_a = block + off;
        ws->grad_b = block + off + width;
        ws->conv_work = block + off + 2 * width;
    }
    return off + 2 * width + round16(conv);
}

/* Allocates the new workspace before releasing the old one, so that a
 * failure leaves the previous forward usable by backward. */
flp_status flp__net_ws_ensure(const flp_net *net, flp__net_ws *ws, int64_t batch, const char *fn)
{
    if (ws->acts != NULL && batch <= ws->batch)
        return FLP_OK;
    /* Per-example sizes are <= 2^40 each (checked when layers are added). */
    int64_t per_example = net->in_size + 2 * flp__net_max_width(net) + 16 * (net->n_layers + 4);
    for (int i = 0; i < net->n_layers; i++)
        per_example += net->layers[i].out_size + flp__conv2d_workspace(&net->layers[i].conv);
    if (batch > (INT64_MAX / 8) / per_example)
        return flp__error(FLP_ERR_RANGE, "%s: batch = %lld is too large for this network", fn,
                          (long long)batch);
    float **acts = flp__alloc_bytes((size_t)(net->n_layers + 1) * sizeof *acts, "flp_net activations");
    int64_t floats = layout_workspace(net, ws, batch, NULL, NULL);
    float *block = acts ? flp__alloc_floats(floats, "flp_net workspace") : NULL;
    if (block == NULL) {
        flp__free(acts);
        return FLP_ERR_NOMEM;
    }
    flp__net_ws_free(ws);
    layout_workspace(net, ws, batch, block, acts);
    ws->acts = acts;
    ws->block = block;
    ws->floats = floats;
    ws->batch = batch;
    return FLP_OK;
}

static void layer_forward(const flp__layer *l, int64_t batch, const float *x, float *y, float *work)
{
    switch (l->kind) {
    case FLP_LAYER_LINEAR:
        flp__linear_forward(batch, l->in_size, l->out_size, x, l->W, l->b, y);
        break;
    case FLP_LAYER_CONV2D:
        flp__conv2d_forward(&l->conv, batch, x, l->W, l->b, y, work);
        break;
    case FLP_LAYER_RELU:
        flp__relu_forward(batch * l->in_size, x, y);
        break;
    case FLP_LAYER_SOFTPLUS:
        flp__softplus_forward(batch * l->in_size, l->softplus_beta, x, y);
        break;
    case FLP_LAYER_FLATTEN: /* y aliases x */
        break;
    }
}

/* Accumulates l's parameter gradients into dW, db and writes the input
 * gradient to dx when dx is not NULL. Returns where the input gradient is:
 * dx, or dy itself for a flatten (nothing to compute). */
static const float *layer_vjp(const flp__layer *l, int64_t batch, const float *x, const float *y,
                              const float *dy, float *dx, float *dW, float *db, float *work)
{
    switch (l->kind) {
    case FLP_LAYER_LINEAR:
        flp__linear_vjp(batch, l->in_size, l->out_size, x, l->W, dy, dx, dW, db);
        break;
    case FLP_LAYER_CONV2D:
        flp__conv2d_vjp(&l->conv, batch, x, l->W, dy, dx, dW, db, work);
        break;
    case FLP_LAYER_RELU:
        if (dx != NULL)
            flp__relu_vjp(batch * l->in_size, y, dy, dx);
        break;
    case FLP_LAYER_SOFTPLUS:
        if (dx != NULL)
            flp__softplus_vjp(batch * l->in_size, l->softplus_beta, y, dy, dx);
        break;
    case FLP_LAYER_FLATTEN:
        return dy;
    }
    return dx;
}

const float *flp__net_ws_forward(const flp_net *net, flp__net_ws *ws, int upto, int64_t batch)
{
    for (int i = 0; i < upto; i++)
        layer_forward(&net->layers[i], batch, ws->acts[i], ws->acts[i + 1], ws->conv_work);
    return ws->acts[upto];
}

/* VJP of layers [0, upto) of the last forward of `batch` examples in ws,
 * from dy (the gradient of layer upto-1's output); layer i's parameter
 * gradients go to grads[2i] and grads[2i+1], or to its own with grads NULL. */
static void backward_layers(flp_net *net, flp__net_ws *ws, int upto, int64_t batch, const float *dy, float *dx,
                            float *const *grads)
{
    const float *g = dy;
    for (int i = upto - 1; i >= 0; i--) {
        /* The first layer writes straight into the caller's dx (or skips its
         * input gradient when dx is NULL); the others ping-pong. */
        float *dst = i == 0 ? dx : (g == ws->grad_a ? ws->grad_b : ws->grad_a);
        flp__layer *l = &net->layers[i];
        g = layer_vjp(l, batch, ws->acts[i], ws->acts[i + 1], g, dst, grads ? grads[2 * i] : l->gW,
                      grads ? grads[2 * i + 1] : l->gb, ws->conv_work);
    }
    if (dx != NULL && g != dx)
        memcpy(dx, g, (size_t)(batch * net->in_size) * sizeof *dx);
}

flp_status flp_net_forward(flp_net *net, int64_t batch, const float *x, float *y)
{
    FLP__CHECK_NULL(net);
    FLP__CHECK_NULL(x);
    FLP__CHECK_NULL(y);
    if (batch <= 0)
        return flp__error(FLP_ERR_RANGE, "%s: batch = %lld, need batch >= 1", __func__, (long long)batch);
    /* A failed resize leaves the previous forward usable by backward. */
    FLP__TRY(flp__net_ws_ensure(net, &net->ws, batch, __func__));
    memcpy(net->ws.acts[0], x, (size_t)(batch * net->in_size) * sizeof *x);
    memcpy(y, flp__net_ws_forward(net, &net->ws, net->n_layers, batch), (size_t)(batch * out_size(net)) * sizeof *y);
    net->have_forward = 1;
    net->last_batch = batch;
    return FLP_OK;
}

flp_status flp_net_backward(flp_net *net, const float *dy, float *dx)
{
    FLP__CHECK_NULL(net);
    FLP__CHECK_NULL(dy);
    if (!net->have_forward)
        return flp__error(FLP_ERR_STATE, "%s: no forward since the network was created or last changed",
                          __func__);
    backward_layers(net, &net->ws, net->n_layers, net->last_batch, dy, dx, NULL);
    return FLP_OK;
}

void flp__net_ws_backward(flp_net *net, flp__net_ws *ws, int upto, int64_t batch, const float *dy,
                          float *const *grads)
{
    backward_layers(net, ws, upto, batch, dy, NULL, grads);
}
