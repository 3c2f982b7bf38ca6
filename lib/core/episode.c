/* episode.c - an episode owns six reusable arrays (see episode_internal.h).
 *
 * Buffers only ever grow, so a training loop whose shapes are stable
 * allocates nothing per episode. Everything a caller copies in is validated
 * before the episode is touched: a refused episode leaves the old one intact. */
#include "core/episode_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* Names and logical shapes of the arrays, for messages that point at the
 * offending element ("x[37] (step 1, example 5, feature 3)"). */
static const char *const array_names[FLP__EPISODE_NARRAYS] = {"x", "y", "labels", "xq", "yq", "lq"};

typedef struct {
    int rank;
    int64_t dims[3];
    const char *axes[3];
} array_layout;

static array_layout layout_of(const flp_episode *ep, flp_episode_array which)
{
    int64_t K = ep->steps, B = ep->batch;
    switch (which) {
    case FLP_EPISODE_X: return (array_layout){3, {K, B, ep->n_in}, {"step", "example", "feature"}};
    case FLP_EPISODE_Y: return (array_layout){3, {K, B, ep->n_out}, {"step", "example", "output"}};
    case FLP_EPISODE_LABELS: return (array_layout){2, {K, B, 1}, {"step", "example", NULL}};
    case FLP_EPISODE_XQ: return (array_layout){2, {ep->n_query, ep->n_in, 1}, {"example", "feature", NULL}};
    case FLP_EPISODE_YQ: return (array_layout){2, {ep->n_query, ep->n_out, 1}, {"example", "output", NULL}};
    case FLP_EPISODE_LQ: return (array_layout){1, {ep->n_query, 1, 1}, {"example", NULL, NULL}};
    }
    return (array_layout){0, {0, 0, 0}, {NULL, NULL, NULL}};
}

/* "x[37] (step 1, example 5, feature 3)" into buf. */
static void format_position(const flp_episode *shape, flp_episode_array which, int64_t flat,
                            char *buf, size_t size)
{
    array_layout lay = layout_of(shape, which);
    int64_t idx[3] = {0, 0, 0}, rest = flat;
    for (int d = lay.rank - 1; d >= 0; d--) {
        idx[d] = rest % lay.dims[d];
        rest /= lay.dims[d];
    }
    int n = snprintf(buf, size, "%s[%lld] (", array_names[which], (long long)flat);
    for (int d = 0; d < lay.rank && n > 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, "%s%s %lld", d ? ", " : "", lay.axes[d],
                      (long long)idx[d]);
    if (n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ")");
}

static int64_t array_count(const flp_episode *shape, flp__episode_kind kind, flp_episode_array which)
{
    int labelled = kind == FLP__EPISODE_CLASSES;
    if ((which == FLP_EPISODE_Y || which == FLP_EPISODE_YQ) && labelled)
        return 0;
    if ((which == FLP_EPISODE_LABELS || which == FLP_EPISODE_LQ) && !labelled)
        return 0;
    array_layout lay = layout_of(shape, which);
    int64_t n = 1;
    for (int d = 0; d < lay.rank; d++)
        n *= lay.dims[d];
    return n;
}

/* Fill `counts` for an episode of the given shape; FLP_ERR_RANGE if any
 * array would exceed what a byte count can hold. */
static flp_status shape_counts(const flp_episode *shape, flp__episode_kind kind,
                               int64_t counts[FLP__EPISODE_NARRAYS], const char *fn)
{
    const int64_t limit = INT64_MAX / 16; /* 4-byte elements, with headroom for rounding */
    const int64_t ext[5] = {shape->steps, shape->batch, shape->n_in, shape->n_out, shape->n_query};
    int64_t prod = 1;
    for (int i = 0; i < 5; i++)
        if (__builtin_mul_overflow(prod, ext[i], &prod) || prod > limit)
            return flp__error(FLP_ERR_RANGE,
                              "%s: episode too large (steps %lld, batch %lld, n_in %lld, n_out %lld, "
                              "n_query %lld)", fn, (long long)ext[0], (long long)ext[1],
                              (long long)ext[2], (long long)ext[3], (long long)ext[4]);
    /* Every array's count divides the product of all five extents, so none overflows. */
    for (int a = 0; a < FLP__EPISODE_NARRAYS; a++)
        counts[a] = array_count(shape, kind, (flp_episode_array)a);
    return FLP_OK;
}

static flp_episode shape_of(flp__episode_kind kind, int64_t steps, int64_t batch, int64_t n_in,
                            int64_t n_out, int64_t n_query)
{
    flp_episode s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.steps = steps;
    s.batch = batch;
    s.n_in = n_in;
    s.n_out = n_out;
    s.n_query = n_query;
    return s;
}

flp_status flp__episode_reshape(flp_episode *ep, flp__episode_kind kind, int64_t steps,
                                int64_t batch, int64_t n_in, int64_t n_out, int64_t n_query,
                                const char *fn)
{
    flp_episode shape = shape_of(kind, steps, batch, n_in, n_out, n_query);
    int64_t counts[FLP__EPISODE_NARRAYS];
    FLP__TRY(shape_counts(&shape, kind, counts, fn));

    /* Allocate every buffer that must grow before releasing any, so that a
     * failure leaves the episode as it was. */
    void *fresh[FLP__EPISODE_NARRAYS] = {NULL};
    for (int a = 0; a < FLP__EPISODE_NARRAYS; a++) {
        if (counts[a] <= ep->cap[a])
            continue;
        fresh[a] = flp__alloc_floats(counts[a], array_names[a]);
        if (fresh[a] == NULL) {
            for (int b = 0; b < a; b++)
                flp__free(fresh[b]);
            return flp__error_context(FLP_ERR_NOMEM, "%s", fn);
        }
    }
    for (int a = 0; a < FLP__EPISODE_NARRAYS; a++) {
        if (fresh[a] != NULL) {
            flp__free(ep->data[a]);
            ep->data[a] = fresh[a];
            ep->cap[a] = counts[a];
        }
        ep->count[a] = counts[a];
    }
    ep->kind = kind;
    ep->steps = steps;
    ep->batch = batch;
    ep->n_in = n_in;
    ep->n_out = n_out;
    ep->n_query = n_query;
    return FLP_OK;
}

flp_status flp_episode_create(flp_episode **out)
{
    FLP__CHECK_NULL(out);
    *out = flp__alloc_bytes(sizeof **out, "flp_episode");
    return *out == NULL ? flp__error_context(FLP_ERR_NOMEM, "%s", __func__) : FLP_OK;
}

void flp_episode_free(flp_episode *ep)
{
    if (ep == NULL)
        return;
    for (int a = 0; a < FLP__EPISODE_NARRAYS; a++)
        flp__free(ep->data[a]);
    flp__free(ep);
}

/* ---- validation of what a caller copies in -------------------------------- */

static flp_status check_extents(const char *fn, int64_t steps, int64_t batch, int64_t n_in,
                                int64_t n_out, const char *out_name, int64_t n_query)
{
    const int64_t ext[5] = {steps, batch, n_in, n_out, n_query};
    const char *const names[5] = {"steps", "batch", "n_in", out_name, "n_query"};
    for (int i = 0; i < 5; i++)
        if (ext[i] < 1)
            return flp__error(FLP_ERR_RANGE, "%s: %s = %lld, every extent must be >= 1", fn,
                              names[i], (long long)ext[i]);
    return FLP_OK;
}

static flp_status check_finite(const char *fn, const flp_episode *shape, flp_episode_array which,
                               const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            char pos[160];
            format_position(shape, which, i, pos, sizeof pos);
            return flp__error(FLP_ERR_NONFINITE, "%s: %s is %g", fn, pos, (double)v[i]);
        }
    }
    return FLP_OK;
}

static flp_status check_labels(const char *fn, const flp_episode *shape, flp_episode_array which,
                               const int32_t *v, int64_t n, int64_t n_classes)
{
    for (int64_t i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] >= n_classes) {
            char pos[160];
            format_position(shape, which, i, pos, sizeof pos);
            return flp__error(FLP_ERR_RANGE, "%s: %s = %d is outside [0, %lld)", fn, pos, (int)v[i],
                              (long long)n_classes);
        }
    }
    return FLP_OK;
}

/* Validate every source array against `shape` (finite floats, labels in
 * range), then reshape `ep` and copy them in. src[a] is NULL for arrays the
 * kind lacks. */
static flp_status copy_in(flp_episode *ep, const flp_episode *shape, const void *const src[],
                          const char *fn)
{
    int64_t counts[FLP__EPISODE_NARRAYS];
    FLP__TRY(shape_counts(shape, shape->kind, counts, fn));
    for (int a = 0; a < FLP__EPISODE_NARRAYS; a++) {
        if (counts[a] == 0)
            continue;
        if (a == FLP_EPISODE_LABELS || a == FLP_EPISODE_LQ)
            FLP__TRY(check_labels(fn, shape, (flp_episode_array)a, src[a], counts[a], shape->n_out));
        else
            FLP__TRY(check_finite(fn, shape, (flp_episode_array)a, src[a], counts[a]));
    }
    FLP__TRY(flp__episode_reshape(ep, shape->kind, shape->steps, shape->batch, shape->n_in,
                                  shape->n_out, shape->n_query, fn));
    for (int a = 0; a < FLP__EPISODE_NARRAYS; a++)
        if (counts[a] > 0)
            memcpy(ep->data[a], src[a], (size_t)counts[a] * 4);
    return FLP_OK;
}

flp_status flp_episode_set_regression(flp_episode *ep, int64_t steps, int64_t batch, int64_t n_in,
                                      int64_t n_out, const float *x, const float *y,
                                      int64_t n_query, const float *xq, const float *yq)
{
    FLP__CHECK_NULL(ep);
    FLP__CHECK_NULL(x);
    FLP__CHECK_NULL(y);
    FLP__CHECK_NULL(xq);
    FLP__CHECK_NULL(yq);
    FLP__TRY(check_extents(__func__, steps, batch, n_in, n_out, "n_out", n_query));
    flp_episode shape = shape_of(FLP__EPISODE_REGRESSION, steps, batch, n_in, n_out, n_query);
    const void *const src[FLP__EPISODE_NARRAYS] = {x, y, NULL, xq, yq, NULL};
    return copy_in(ep, &shape, src, __func__);
}

flp_status flp_episode_set_classes(flp_episode *ep, int64_t steps, int64_t batch, int64_t n_in,
                                   int64_t n_classes, const float *x, const int32_t *labels,
                                   int64_t n_query, const float *xq, const int32_t *lq)
{
    FLP__CHECK_NULL(ep);
    FLP__CHECK_NULL(x);
    FLP__CHECK_NULL(labels);
    FLP__CHECK_NULL(xq);
    FLP__CHECK_NULL(lq);
    FLP__TRY(check_extents(__func__, steps, batch, n_in, n_classes, "n_classes", n_query));
    flp_episode shape = shape_of(FLP__EPISODE_CLASSES, steps, batch, n_in, n_classes, n_query);
    const void *const src[FLP__EPISODE_NARRAYS] = {x, NULL, labels, xq, NULL, lq};
    return copy_in(ep, &shape, src, __func__);
}

/* ---- reading ----------------------------------------------------------------- */

flp_status flp_episode_shape(const flp_episode *ep, int64_t *steps, int64_t *batch, int64_t *n_in,
                             int64_t *n_out, int64_t *n_query, int *classification)
{
    FLP__CHECK_NULL(ep);
    if (ep->kind == FLP__EPISODE_EMPTY)
        return flp__error(FLP_ERR_STATE, "%s: the episode is empty (nothing was set)", __func__);
    if (steps) *steps = ep->steps;
    if (batch) *batch = ep->batch;
    if (n_in) *n_in = ep->n_in;
    if (n_out) *n_out = ep->n_out;
    if (n_query) *n_query = ep->n_query;
    if (classification) *classification = ep->kind == FLP__EPISODE_CLASSES;
    return FLP_OK;
}

/* Shared checks of the two views: `want_labels` says which element type the
 * caller asked for. */
static flp_status view(const flp_episode *ep, flp_episode_array which, int want_labels,
                       const void **data, int64_t *count, const char *fn)
{
    if (ep == NULL)
        return flp__error(FLP_ERR_NULL, "%s: argument 'ep' is NULL", fn);
    if (data == NULL)
        return flp__error(FLP_ERR_NULL, "%s: argument 'data' is NULL", fn);
    if (count == NULL)
        return flp__error(FLP_ERR_NULL, "%s: argument 'count' is NULL", fn);
    if ((int)which < 0 || (int)which >= FLP__EPISODE_NARRAYS)
        return flp__error(FLP_ERR_INVALID, "%s: %d is not an flp_episode_array", fn, (int)which);
    int is_labels = which == FLP_EPISODE_LABELS || which == FLP_EPISODE_LQ;
    if (is_labels != want_labels)
        return flp__error(FLP_ERR_INVALID, "%s: '%s' is %s array; use %s", fn, array_names[which],
                          is_labels ? "a label" : "a float",
                          is_labels ? "flp_episode_labels" : "flp_episode_floats");
    if (ep->kind == FLP__EPISODE_EMPTY)
        return flp__error(FLP_ERR_STATE, "%s: the episode is empty (nothing was set)", fn);
    if (ep->count[which] == 0)
        return flp__error(FLP_ERR_INVALID, "%s: a %s episode has no '%s' array", fn,
                          ep->kind == FLP__EPISODE_CLASSES ? "classification" : "regression",
                          array_names[which]);
    *data = ep->data[which];
    *count = ep->count[which];
    return FLP_OK;
}

flp_status flp_episode_floats(const flp_episode *ep, flp_episode_array which, const float **data,
                              int64_t *count)
{
    const void *p = NULL;
    FLP__TRY(view(ep, which, 0, data ? &p : NULL, count, __func__));
    *data = p;
    return FLP_OK;
}

flp_status flp_episode_labels(const flp_episode *ep, flp_episode_array which,
                              const int32_t **data, int64_t *count)
{
    const void *p = NULL;
    FLP__TRY(view(ep, which, 1, data ? &p : NULL, count, __func__));
    *data = p;
    return FLP_OK;
}
