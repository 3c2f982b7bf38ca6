/* tensor.h - a named view of one meta-parameter and its gradient. The
 * net, feedback and rule handles each list their meta-parameters this way;
 * the meta-optimizer, checkpoint files and the public named-tensor interface
 * (flp_params.h) walk the lists, so none of them needs to know how any handle
 * stores its parameters. */
#ifndef FLP_CORE_TENSOR_H
#define FLP_CORE_TENSOR_H

#include <stdint.h>

#include "flp/flp_common.h"

/* The most extents a meta-parameter has (a convolution's weight:
 * [out_channels, in_channels, kernel_h, kernel_w]); FLP_TENSOR_MAX_RANK. */
#define FLP__TENSOR_MAX_RANK 4

typedef struct {
    float *value;
    float *grad;
    int64_t count;     /* the product of dims */
    int rank;          /* 1 to FLP__TENSOR_MAX_RANK; a scalar is [1] */
    int64_t dims[FLP__TENSOR_MAX_RANK];  /* row-major extents; 1 past the rank */
    int group;         /* flp_group (flp_common.h) */
    char name[32];     /* stable, e.g. "net.3.weight", "feedback.3.B", "rule.3.alpha" */
} flp__tensor;

/* A growable list of views. */
typedef struct {
    flp__tensor *items;
    int n, cap;
} flp__tensor_list;

/* Append a view of the `rank` extents dims[] (a row-major array of their
 * product floats at value, its gradient at grad), named by fmt. */
flp_status flp__tensor_list_add(flp__tensor_list *list, float *value, float *grad, int group, int rank,
                                const int64_t *dims, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Index of the tensor named `name`, or -1 if none; *offset (may be NULL)
 * gets the floats of the tensors before it (its place in a flat array laid
 * out in list order). */
int flp__tensor_list_find(const flp__tensor_list *list, const char *name, int64_t *offset);
void flp__tensor_list_clear(flp__tensor_list *list);
void flp__tensor_list_free(flp__tensor_list *list);
int64_t flp__tensor_list_total(const flp__tensor_list *list);

/* Checked copies between a parameter of `n` floats and a caller's array of
 * `count` floats: FLP_ERR_NULL / FLP_ERR_SHAPE (and FLP_ERR_NONFINITE for
 * copy_in, which then leaves dst untouched), messages prefixed by fn and what. */
flp_status flp__copy_out(const char *fn, const char *what, const float *src, int64_t n, float *dst,
                         int64_t count);
flp_status flp__copy_in(const char *fn, const char *what, float *dst, int64_t n, const float *src,
                        int64_t count);

#endif
