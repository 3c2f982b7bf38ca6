/* tensor.h - a named view of one meta-parameter and its gradient. The
 * net, feedback and rule handles each list their meta-parameters this way;
 * the meta-optimizer and checkpoint files walk the lists, so neither needs to
 * know how any handle stores its parameters. */
#ifndef FLP_CORE_TENSOR_H
#define FLP_CORE_TENSOR_H

#include <stdint.h>

#include "flp/flp_common.h"

typedef struct {
    float *value;
    float *grad;
    int64_t count;
    int group;         /* flp_group (flp_meta.h) */
    char name[32];     /* stable, e.g. "net.3.weight", "feedback.3.B", "rule.3.alpha" */
} flp__tensor;

/* A growable list of views. */
typedef struct {
    flp__tensor *items;
    int n, cap;
} flp__tensor_list;

flp_status flp__tensor_list_add(flp__tensor_list *list, float *value, float *grad, int64_t count,
                                int group, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
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
