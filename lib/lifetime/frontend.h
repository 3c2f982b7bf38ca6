/* frontend.h - the lifetime's frozen convolutional front-end (frontend.c). */
#ifndef FLP_LIFETIME_FRONTEND_H
#define FLP_LIFETIME_FRONTEND_H

#include "lifetime/lifetime_internal.h"

/* Number of net layers before the dense stack (through the flatten; 0 for
 * a rank-1 input), or FLP_ERR_UNSUPPORTED naming the layer that does not
 * belong to a front-end. */
flp_status flp__lt_frontend_layers(const flp_net *net, int *front);
/* Features of every example of the bound episode, in one batched pass:
 * lt->x and lt->xq then point at them; with want_gradient (and front-end
 * parameters), lt->xbar / lt->xqbar at zeroed gradients. */
flp_status flp__lt_frontend_forward(flp_lifetime *lt, int want_gradient);
/* Send the collected feature gradients back through the front-end, into
 * its parameters' gradients (one batched pass). */
void flp__lt_frontend_backward(flp_lifetime *lt);
/* Features of `rows` network inputs x (lt->x's layout); x itself without a
 * front-end. */
flp_status flp__lt_features(flp_lifetime *lt, int64_t rows, const float *x, const float **features);
/* Floats the front-end holds for the run: its activations for every
 * example of the episode and their gradient (0 without a front-end); part
 * of the workspace the memory budget bounds. */
int64_t flp__lt_frontend_floats(const flp_lifetime *lt);
void flp__lt_frontend_free(flp_lifetime *lt);

#endif
