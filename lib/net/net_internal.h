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

struct flp_net {
    int n_layers, cap_layers;
    flp__layer *layers;
    int in_rank;
    int64_t in_shape[3], in_size;
    /* forward/backward workspace: acts[i] = output of layer i-1 (acts[0] = a
     * copy of the input), sized for ws_batch examples; a flatten's output
     * aliases its input. n_layers + 1 entries; every float buffer lies in
     * ws_block (one allocation). Dropped whenever a layer is added. */
    int64_t ws_batch;
    float **acts;
    float *ws_block;
    float *grad_a, *grad_b; /* ping-pong buffers for backward, largest layer */
    float *conv_work;
    int have_forward;
    int64_t last_batch;
};

/* Largest per-example activation size over the input and all layers. */
int64_t flp__net_max_width(const flp_net *net);

/* Range / kind checks with messages naming the calling function. */
flp_status flp__net_check_layer(const flp_net *net, int layer, const char *fn);

/* Running the first layers of a network alone (the lifetime's frozen
 * front-end). flp__net_prefix_input sizes the workspace for `batch`
 * examples and gives the buffer to put their inputs in (errors reported as
 * coming from fn); flp__net_prefix_forward runs layers [0, upto) on them and
 * returns their outputs (in the workspace, valid until the next forward);
 * flp__net_prefix_backward adds the VJP of those layers, from dy (the
 * gradient of the outputs), to the parameters' gradients. The network's
 * public forward state is dropped: flp_net_backward then fails until the
 * next flp_net_forward. */
flp_status flp__net_prefix_input(flp_net *net, int64_t batch, const char *fn, float **input);
const float *flp__net_prefix_forward(flp_net *net, int upto);
void flp__net_prefix_backward(flp_net *net, int upto, const float *dy);

/* Append a view of every parameter (value + accumulated gradient) in layer
 * order, weight before bias, group FLP_GROUP_WEIGHTS, named "net.<layer>.weight"
 * and "net.<layer>.bias". The views stay valid until the net is freed (adding
 * layers never moves existing parameters). */
flp_status flp__net_tensors(flp_net *net, flp__tensor_list *list);

#endif
