/* net_internal.h - the network handle's layout, shared with the modules that
 * run networks on their own buffers (the lifetime). */
#ifndef FLP_NET_INTERNAL_H
#define FLP_NET_INTERNAL_H

#include "core/tensor.h"
#include "flp/flp_net.h"
#include "net/layers.h"

typedef struct {
    flp_layer_kind kind;
    int in_rank, out_rank;
    int64_t in_shape[3], out_shape[3];
    int64_t in_size, out_size;  /* per example */
    flp__conv_geom conv;        /* FLP_LAYER_CONV2D */
    float softplus_beta;        /* FLP_LAYER_SOFTPLUS */
    int64_t n_weight, n_bias;   /* 0 when absent */
    float *W, *b;               /* parameters (NULL when absent); W owns one block
                                   holding W, b, gW and gb */
    float *gW, *gb;             /* accumulated gradients, same shapes */
} flp__layer;

/* A forward/backward workspace: acts[i] = output of layer i-1 (acts[0] = a
 * copy of the input), sized for `batch` examples; a flatten's output aliases
 * its input. n_layers + 1 entries; every float buffer lies in `block` (one
 * allocation). */
typedef struct {
    int64_t batch;
    float **acts;
    float *block;
    float *grad_a, *grad_b; /* ping-pong buffers for backward, largest layer */
    float *conv_work;
    int64_t floats;         /* the size of block */
} flp__net_ws;

struct flp_net {
    int n_layers, cap_layers;
    flp__layer *layers;
    int in_rank;
    int64_t in_shape[3], in_size;
    flp__net_ws ws;         /* flp_net_forward's; dropped whenever a layer is added */
    int have_forward;
    int64_t last_batch;
};

/* Largest per-example activation size over the input and all layers. */
int64_t flp__net_max_width(const flp_net *net);

/* Range / kind checks with messages naming the calling function. */
flp_status flp__net_check_layer(const flp_net *net, int layer, const char *fn);

/* Running the first layers of a network on a workspace of one's own (the
 * lifetime's frozen front-end), so that the network's own forward state is
 * untouched. flp__net_ws_ensure sizes ws for `batch` examples (keeping it if
 * large enough; errors reported as coming from fn); put their inputs in
 * ws->acts[0]. flp__net_ws_forward runs layers [0, upto) and returns their
 * outputs (in ws); flp__net_ws_backward adds the VJP of those layers, from
 * dy (the gradient of the outputs), to grads[2i] (weight) and grads[2i+1]
 * (bias) of layer i, arrays shaped like the layer's own gradients (NULL
 * where it has no such parameter). */
flp_status flp__net_ws_ensure(const flp_net *net, flp__net_ws *ws, int64_t batch, const char *fn);
void flp__net_ws_free(flp__net_ws *ws);
const float *flp__net_ws_forward(const flp_net *net, flp__net_ws *ws, int upto, int64_t batch);
void flp__net_ws_backward(flp_net *net, flp__net_ws *ws, int upto, int64_t batch, const float *dy,
                          float *const *grads);

/* Append a view of every parameter (value + accumulated gradient) in layer
 * order, weight before bias, group FLP_GROUP_WEIGHTS, named "net.<layer>.weight"
 * and "net.<layer>.bias". The views stay valid until the net is freed (adding
 * layers never moves existing parameters). */
flp_status flp__net_tensors(flp_net *net, flp__tensor_list *list);

#endif
