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

/* Append a view of every parameter (value + accumulated gradient) in layer
 * order, weight before bias, group FLP_GROUP_WEIGHTS, named "net.<layer>.weight"
 * and "net.<layer>.bias". The views stay valid until the net is freed (adding
 * layers never moves existing parameters). */
flp_status flp__net_tensors(flp_net *net, flp__tensor_list *list);

#endif
