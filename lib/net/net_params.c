/* net/net_params.c - parameter access, gradients and initialisation. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/rng_internal.h"
#include "net/net_internal.h"

int64_t flp__net_max_width(const flp_net *net)
{
    int64_t w = net->in_size;
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].out_size > w)
            w = net->layers[i].out_size;
    return w;
}

flp_status flp__net_check_layer(const flp_net *net, int layer, const char *fn)
{
    if (layer < 0 || layer >= net->n_layers)
        return flp__error(FLP_ERR_RANGE, "%s: layer %d out of range, the network has %d layers", fn,
                          layer, net->n_layers);
    return FLP_OK;
}

/* The value and gradient arrays of one parameter, after every argument
 * check get/set/get_grad share. */
static flp_status find_param(const flp_net *net, int layer, flp_param which, int64_t count,
                             const void *buf, const char *fn, float **value, float **grad)
{
    if (net == NULL)
        return flp__error(FLP_ERR_NULL, "%s: argument 'net' is NULL", fn);
    if (buf == NULL)
        return flp__error(FLP_ERR_NULL, "%s: the data pointer is NULL", fn);
    FLP__TRY(flp__net_check_layer(net, layer, fn));
    if (which != FLP_PARAM_WEIGHT && which != FLP_PARAM_BIAS)
        return flp__error(FLP_ERR_INVALID, "%s: which = %d is not an flp_param", fn, (int)which);
    const flp__layer *l = &net->layers[layer];
    int64_t n = which == FLP_PARAM_WEIGHT ? l->n_weight : l->n_bias;
    if (count != n)
        return flp__error(FLP_ERR_SHAPE, "%s: count = %lld, layer %d's %s has %lld floats", fn,
                          (long long)count, layer, which == FLP_PARAM_WEIGHT ? "weight" : "bias",
                          (long long)n);
    *value = which == FLP_PARAM_WEIGHT ? l->W : l->b;
    *grad = which == FLP_PARAM_WEIGHT ? l->gW : l->gb;
    return FLP_OK;
}

static void copy_floats(float *dst, const float *src, int64_t n)
{
    if (n > 0)
        memcpy(dst, src, (size_t)n * sizeof *dst);
}

flp_status flp_net_param_count(const flp_net *net, int layer, flp_param which, int64_t *count)
{
    FLP__CHECK_NULL(net);
    FLP__CHECK_NULL(count);
    FLP__TRY(flp__net_check_layer(net, layer, __func__));
    if (which != FLP_PARAM_WEIGHT && which != FLP_PARAM_BIAS)
        return flp__error(FLP_ERR_INVALID, "%s: which = %d is not an flp_param", __func__, (int)which);
    *count = which == FLP_PARAM_WEIGHT ? net->layers[layer].n_weight : net->layers[layer].n_bias;
    return FLP_OK;
}

flp_status flp_net_get_param(const flp_net *net, int layer, flp_param which, float *dst, int64_t count)
{
    float *value = NULL, *grad = NULL;
    FLP__TRY(find_param(net, layer, which, count, dst, __func__, &value, &grad));
    copy_floats(dst, value, count);
    return FLP_OK;
}

flp_status flp_net_set_param(flp_net *net, int layer, flp_param which, const float *src, int64_t count)
{
    float *value = NULL, *grad = NULL;
    FLP__TRY(find_param(net, layer, which, count, src, __func__, &value, &grad));
    /* Checked in full first, so a refused array leaves the parameter as it was. */
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(src[i]))
            return flp__error(FLP_ERR_NONFINITE, "%s: src[%lld] = %g", __func__, (long long)i, src[i]);
    copy_floats(value, src, count);
    return FLP_OK;
}

flp_status flp_net_get_grad(const flp_net *net, int layer, flp_param which, float *dst, int64_t count)
{
    float *value = NULL, *grad = NULL;
    FLP__TRY(find_param(net, layer, which, count, dst, __func__, &value, &grad));
    copy_floats(dst, grad, count);
    return FLP_OK;
}

flp_status flp_net_zero_grad(flp_net *net)
{
    FLP__CHECK_NULL(net);
    for (int i = 0; i < net->n_layers; i++) {
        flp__layer *l = &net->layers[i];
        if (l->gW != NULL)
            memset(l->gW, 0, (size_t)l->n_weight * sizeof *l->gW);
        if (l->gb != NULL)
            memset(l->gb, 0, (size_t)l->n_bias * sizeof *l->gb);
    }
    return FLP_OK;
}

/* fan_in / fan_out as PyTorch computes them: a conv kernel's receptive field
 * counts in both. */
static void fans(const flp__layer *l, double *fan_in, double *fan_out)
{
    if (l->kind == FLP_LAYER_CONV2D) {
        double field = (double)(l->conv.kh * l->conv.kw);
        *fan_in = (double)l->conv.in_c * field;
        *fan_out = (double)l->conv.out_c * field;
    } else {
        *fan_in = (double)l->in_size;
        *fan_out = (double)l->out_size;
    }
}

flp_status flp_net_init(flp_net *net, flp_init scheme, flp_rng *rng)
{
    FLP__CHECK_NULL(net);
    FLP__CHECK_NULL(rng);
    if (scheme != FLP_INIT_KAIMING_NORMAL && scheme != FLP_INIT_XAVIER_UNIFORM)
        return flp__error(FLP_ERR_INVALID, "%s: scheme = %d is not an flp_init", __func__, (int)scheme);
    /* Draws go layer by layer, weights in row-major order: the stream, and
     * so the network, is fixed by the rng's state. */
    for (int i = 0; i < net->n_layers; i++) {
        flp__layer *l = &net->layers[i];
        if (l->n_weight == 0)
            continue;
        double fan_in, fan_out;
        fans(l, &fan_in, &fan_out);
        if (scheme == FLP_INIT_KAIMING_NORMAL) {
            double std = sqrt(2.0 / fan_in);
            for (int64_t k = 0; k < l->n_weight; k++)
                l->W[k] = (float)(std * flp__rng_gauss(rng));
        } else {
            double a = sqrt(6.0 / (fan_in + fan_out));
            for (int64_t k = 0; k < l->n_weight; k++)
                l->W[k] = (float)(a * (2.0 * flp__rng_unit(rng) - 1.0));
        }
        if (l->b != NULL)
            memset(l->b, 0, (size_t)l->n_bias * sizeof *l->b);
    }
    return FLP_OK;
}

/* A weight's extents: [out, in], or [out_c, in_c, kh, kw] for a convolution. */
static int weight_dims(const flp__layer *l, int64_t dims[FLP__TENSOR_MAX_RANK])
{
    if (l->kind == FLP_LAYER_CONV2D) {
        const flp__conv_geom *g = &l->conv;
        dims[0] = g->out_c, dims[1] = g->in_c, dims[2] = g->kh, dims[3] = g->kw;
        return 4;
    }
    dims[0] = l->out_size, dims[1] = l->in_size;
    return 2;
}

flp_status flp__net_tensors(flp_net *net, flp__tensor_list *list)
{
    for (int i = 0; i < net->n_layers; i++) {
        flp__layer *l = &net->layers[i];
        int64_t dims[FLP__TENSOR_MAX_RANK];
        if (l->n_weight > 0)
            FLP__TRY(flp__tensor_list_add(list, l->W, l->gW, FLP_GROUP_WEIGHTS, weight_dims(l, dims),
                                          dims, "net.%d.weight", i));
        if (l->n_bias > 0)
            FLP__TRY(flp__tensor_list_add(list, l->b, l->gb, FLP_GROUP_WEIGHTS, 1, &l->n_bias,
                                          "net.%d.bias", i));
    }
    return FLP_OK;
}
