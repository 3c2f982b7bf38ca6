/*
 * flp_net.h - the network handle: a stack of layers with exact VJPs.
 *
 * A network is built layer by layer from an input shape; every add_* call
 * checks shapes at once. Layers are numbered from 0 in the order they were
 * added, activations included; parameters are read and written by that
 * index. Data is float32, row-major, one example per row: a batch of images
 * is [batch, channels, height, width].
 *
 *     flp_net *net;
 *     int64_t in = 11;
 *     flp_net_create(1, &in, &net);
 *     flp_net_add_linear(net, 300, 1); flp_net_add_relu(net);
 *     flp_net_add_linear(net, 1, 1);
 *     flp_net_init(net, FLP_INIT_KAIMING_NORMAL, rng);
 *     flp_net_forward(net, batch, x, y);        // y = net(x)
 *     flp_net_zero_grad(net);
 *     flp_net_backward(net, dy, dx);            // grads += dy^T dy/dparams
 *     flp_net_free(net);
 *
 * Parameter layouts: linear weight [out, in], bias [out]; conv2d weight
 * [out_channels, in_channels, kernel_h, kernel_w], bias [out_channels].
 */
#ifndef FLP_NET_H
#define FLP_NET_H

#include "flp_common.h"
#include "flp_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flp_net flp_net;

/* Values never change; new kinds are appended. */
typedef enum {
    FLP_LAYER_LINEAR = 0,
    FLP_LAYER_CONV2D = 1,
    FLP_LAYER_RELU = 2,
    FLP_LAYER_SOFTPLUS = 3,
    FLP_LAYER_FLATTEN = 4
} flp_layer_kind;

typedef enum { FLP_PARAM_WEIGHT = 0, FLP_PARAM_BIAS = 1 } flp_param;

typedef enum {
    /* Normal(0, sqrt(2 / fan_in)) weights, as PyTorch's kaiming_normal_ (FLP reference). */
    FLP_INIT_KAIMING_NORMAL = 0,
    /* Uniform(-a, a), a = sqrt(6 / (fan_in + fan_out)) (rule-family reference). */
    FLP_INIT_XAVIER_UNIFORM = 1
} flp_init;

/** Create an empty network taking inputs of the given shape: rank 1
 *  ([features]) or rank 3 ([channels, height, width]). Every extent >= 1.
 *  Errors: FLP_ERR_NULL, FLP_ERR_RANGE (rank or extent), FLP_ERR_NOMEM. @since 0.1 */
FLP_API flp_status flp_net_create(int rank, const int64_t *shape, flp_net **out);
/** Free a network and everything it owns; NULL is accepted. @since 0.1 */
FLP_API void flp_net_free(flp_net *net);

/** Append a dense layer y = x W^T + b; the input must be rank 1 (add a
 *  flatten after convolutions). `bias` 0 omits b. FLP_ERR_SHAPE if the
 *  current output is not rank 1, FLP_ERR_RANGE if out_features < 1. @since 0.1 */
FLP_API flp_status flp_net_add_linear(flp_net *net, int64_t out_features, int bias);
/** Append a 2-D convolution (cross-correlation, as PyTorch) over a rank-3
 *  input. FLP_ERR_RANGE for non-positive sizes or stride, negative padding;
 *  FLP_ERR_SHAPE if the current output is not rank 3 or the kernel does not
 *  fit the padded input. @since 0.1 */
FLP_API flp_status flp_net_add_conv2d(flp_net *net, int64_t out_channels, int64_t kernel_h,
                                      int64_t kernel_w, int64_t stride, int64_t padding, int bias);
/** Append max(x, 0). @since 0.1 */
FLP_API flp_status flp_net_add_relu(flp_net *net);
/** Append softplus(x) = log(1 + exp(beta x)) / beta, beta > 0. @since 0.1 */
FLP_API flp_status flp_net_add_softplus(flp_net *net, float beta);
/** Append a reshape from [C, H, W] to [C*H*W] (no data movement).
 *  FLP_ERR_SHAPE if the current output is already rank 1. @since 0.1 */
FLP_API flp_status flp_net_add_flatten(flp_net *net);

/** Number of layers added so far. @since 0.1 */
FLP_API flp_status flp_net_num_layers(const flp_net *net, int *n);
/** Kind of layer `layer`; FLP_ERR_RANGE if out of range. @since 0.1 */
FLP_API flp_status flp_net_layer_kind(const flp_net *net, int layer, flp_layer_kind *kind);
/** Per-example shape after layer `layer` (layer -1 = the input). shape has
 *  room for 3 extents; *rank is 1 or 3, and extents past the rank are set
 *  to 1. FLP_ERR_RANGE unless -1 <= layer < number of layers. @since 0.1 */
FLP_API flp_status flp_net_layer_shape(const flp_net *net, int layer, int *rank, int64_t shape[3]);
/** Per-example input and output element counts. @since 0.1 */
FLP_API flp_status flp_net_io_size(const flp_net *net, int64_t *in_size, int64_t *out_size);

/** Number of floats in a parameter (0 if the layer has none of that kind).
 *  For this and the functions below: FLP_ERR_RANGE for a layer out of range,
 *  FLP_ERR_INVALID for a `which` that is not an flp_param. @since 0.1 */
FLP_API flp_status flp_net_param_count(const flp_net *net, int layer, flp_param which, int64_t *count);
/** Copy a parameter out; `count` must equal flp_net_param_count (FLP_ERR_SHAPE otherwise). @since 0.1 */
FLP_API flp_status flp_net_get_param(const flp_net *net, int layer, flp_param which, float *dst, int64_t count);
/** Overwrite a parameter; same rules as get. Non-finite values are refused (FLP_ERR_NONFINITE). @since 0.1 */
FLP_API flp_status flp_net_set_param(flp_net *net, int layer, flp_param which, const float *src, int64_t count);
/** Copy out the gradient accumulated for a parameter. @since 0.1 */
FLP_API flp_status flp_net_get_grad(const flp_net *net, int layer, flp_param which, float *dst, int64_t count);
/** Set every accumulated gradient to zero. @since 0.1 */
FLP_API flp_status flp_net_zero_grad(flp_net *net);

/** Initialise every weight by `scheme` from `rng`, every bias to zero.
 *  Weights are drawn layer by layer in row-major order, so the rng's state
 *  fixes the result. Gradients are left as they are. FLP_ERR_INVALID for an
 *  unknown scheme. @since 0.1 */
FLP_API flp_status flp_net_init(flp_net *net, flp_init scheme, flp_rng *rng);

/** y[batch, out] = net(x[batch, in]). Keeps the activations for
 *  flp_net_backward; the workspace grows only when `batch` grows.
 *  FLP_ERR_RANGE if batch < 1 (or too large to address). A failed call
 *  leaves the previous forward in place. @since 0.1 */
FLP_API flp_status flp_net_forward(flp_net *net, int64_t batch, const float *x, float *y);
/** Vector-Jacobian product of the last forward: adds dy^T d(y)/d(param) to
 *  every parameter's gradient and, if dx is not NULL, writes
 *  dx[batch, in] = dy^T dy/dx, batch being the last forward's. May be called
 *  more than once per forward (gradients add up). FLP_ERR_STATE before any
 *  forward, or after a layer was added since. @since 0.1 */
FLP_API flp_status flp_net_backward(flp_net *net, const float *dy, float *dx);

#ifdef __cplusplus
}
#endif
#endif /* FLP_NET_H */
