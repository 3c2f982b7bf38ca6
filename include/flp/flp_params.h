/*
 * flp_params.h - every meta-parameter as a named tensor.
 *
 * A meta-optimizer (flp_meta.h) sees every meta-parameter of the handles it
 * was created over as one list of named tensors, in a fixed order: the
 * network's, then the feedback pathways', then the rule's.
 *
 *     net.<layer>.weight     [out, in], or [out_c, in_c, kh, kw] (conv2d)
 *     net.<layer>.bias       [out]
 *     feedback.<layer>.B     [n_l, n_out], or [n_l, n_{l-1}] when chained
 *     feedback.<layer>.c     [n_l]
 *     feedback.<layer>.beta  [1]
 *     rule.<layer>.alpha     [n_l, n_{l-1}], [n_l] or [1] (FLP_RULE_GRANULARITY)
 *     rule.<layer>.lr_bias   [n_l] or [1] (gradient rule only)
 *     rule.theta             [number of terms] (rule family only; it has no alpha)
 *
 * <layer> is the layer's index in the network. This is the order and these
 * are the names of a checkpoint's tensors and of the flat array of
 * flp_meta_get_grads. Each tensor has four arrays of its element count,
 * row-major in its shape: its value, its accumulated meta-gradient and
 * Adam's first and second moments (flp_tensor_array). Which tensors exist
 * depends on the configuration (a rule family has rule.theta); the names,
 * groups and shapes are the optimizer's configuration, fixed when it was
 * created (a call after the handles changed shape fails with FLP_ERR_STATE,
 * as every flp_meta_* call does).
 *
 *     int i;
 *     int64_t dims[FLP_TENSOR_MAX_RANK], count;
 *     flp_meta_tensor_find(meta, "net.2.weight", &i);
 *     flp_meta_tensor_info(meta, i, NULL, NULL, NULL, dims, &count);   // [dims[0], dims[1]]
 *     flp_meta_tensor_get(meta, i, FLP_TENSOR_GRAD, buf, count);
 *
 * This interface reaches every meta-parameter of every kind, present and
 * future, with the same five calls; the per-kind accessors of flp_net.h and
 * flp_plasticity.h stay for compatibility and no new ones are added.
 */
#ifndef FLP_PARAMS_H
#define FLP_PARAMS_H

#include "flp_common.h"
#include "flp_meta.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most extents a tensor has (a convolution's weight). */
#define FLP_TENSOR_MAX_RANK 4

/* The arrays of a tensor, each of its element count. */
typedef enum {
    FLP_TENSOR_VALUE = 0,    /* the meta-parameter */
    FLP_TENSOR_GRAD = 1,     /* its accumulated meta-gradient */
    FLP_TENSOR_MOMENT1 = 2,  /* Adam's first moment m (0 before the first step) */
    FLP_TENSOR_MOMENT2 = 3   /* Adam's second moment v (>= 0; 0 before the first step) */
} flp_tensor_array;

/** Number of tensors of the optimizer. @since 0.1 */
FLP_API flp_status flp_meta_tensor_count(const flp_meta *meta, int *count);
/** Describe tensor `index` (0 <= index < count; FLP_ERR_RANGE otherwise):
 *  *name (owned by meta, valid until it is freed), *group, *rank (1 to
 *  FLP_TENSOR_MAX_RANK), dims[0..rank-1] its row-major extents (those past
 *  the rank are set to 1) and *count their product. Any output may be
 *  NULL. @since 0.1 */
FLP_API flp_status flp_meta_tensor_info(const flp_meta *meta, int index, const char **name,
                                        flp_group *group, int *rank,
                                        int64_t dims[FLP_TENSOR_MAX_RANK], int64_t *count);
/** *index of the tensor named `name`; FLP_ERR_INVALID (listing the names)
 *  when there is none. @since 0.1 */
FLP_API flp_status flp_meta_tensor_find(const flp_meta *meta, const char *name, int *index);
/** Copy array `which` of tensor `index` into dst[count]. FLP_ERR_SHAPE
 *  (naming the tensor and its size) unless count is the tensor's element
 *  count. @since 0.1 */
FLP_API flp_status flp_meta_tensor_get(const flp_meta *meta, int index, flp_tensor_array which,
                                       float *dst, int64_t count);
/** Overwrite array `which` of tensor `index` from src[count] (what a
 *  checkpoint of one's own restores, with flp_meta_tensor_get). Values and
 *  first moments must be finite, second moments finite and >= 0
 *  (FLP_ERR_NONFINITE / FLP_ERR_RANGE naming the tensor and the entry);
 *  gradients may be anything, as with flp_meta_set_grads. A refused array
 *  leaves the tensor as it was. Writing the moments of a frozen group is
 *  allowed (the step leaves them alone). @since 0.1 */
FLP_API flp_status flp_meta_tensor_set(flp_meta *meta, int index, flp_tensor_array which,
                                       const float *src, int64_t count);

#ifdef __cplusplus
}
#endif
#endif /* FLP_PARAMS_H */
