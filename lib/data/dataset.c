/* dataset.c - data set handles over a store (store.h): queries, images
 * decoded lazily and cached, views, fingerprints.
 *
 * A store holds the file list of one opened folder (or split), grouped into
 * classes, and the cache: for every image either NULL (not read yet) or its
 * resized pixels in 8 bits, [channels, size, size]. Handles (flp_dataset)
 * are lists of the store's classes; the store is reference-counted so that
 * views, samplers and the handle they came from can be freed in any order.
 * Reading an image turns its bytes into floats through a per-channel table
 * (v / 255 for Omniglot, (v / 255 - mean) / std for Mini-ImageNet). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/dataset_internal.h"
#include "data/store.h"
#include "data/image.h"

/* ---- handles and queries ---------------------------------------------------------- */

void flp_dataset_free(flp_dataset *ds)
{
    if (ds == NULL)
        return;
    flp__store_release(ds->store);
    flp__free(ds->classes);
    flp__free(ds);
}

flp_status flp__dataset_clone(const flp_dataset *ds, flp_dataset **out)
{
    return flp__store_view(ds->store, ds->classes, ds->n, out, "data set reference");
}

static flp_status check_class(const flp_dataset *ds, int64_t cls, const char *fn)
{
    if (cls < 0 || cls >= ds->n)
        return flp__error(FLP_ERR_RANGE, "%s: class %lld is outside [0, %lld)", fn, (long long)cls,
                          (long long)ds->n);
    return FLP_OK;
}

flp_status flp_dataset_num_classes(const flp_dataset *ds, int64_t *n)
{
    FLP__CHECK_NULL(ds);
    FLP__CHECK_NULL(n);
    *n = ds->n;
    return FLP_OK;
}

flp_status flp_dataset_class_size(const flp_dataset *ds, int64_t cls, int64_t *n)
{
    FLP__CHECK_NULL(ds);
    FLP__CHECK_NULL(n);
    FLP__TRY(check_class(ds, cls, __func__));
    *n = ds->store->classes[ds->classes[cls]].count;
    return FLP_OK;
}

flp_status flp_dataset_class_name(const flp_dataset *ds, int64_t cls, const char **name)
{
    FLP__CHECK_NULL(ds);
    FLP__CHECK_NULL(name);
    FLP__TRY(check_class(ds, cls, __func__));
    *name = ds->store->classes[ds->classes[cls]].name;
    return FLP_OK;
}

static flp_status check_example(const flp_dataset *ds, int64_t cls, int64_t index, const char *fn)
{
    FLP__TRY(check_class(ds, cls, fn));
    const ds_class *k = &ds->store->classes[ds->classes[cls]];
    if (index < 0 || index >= k->count)
        return flp__error(FLP_ERR_RANGE, "%s: example %lld of class '%s' is outside [0, %lld)", fn,
                          (long long)index, k->name, (long long)k->count);
    return FLP_OK;
}

flp_status flp_dataset_example_path(const flp_dataset *ds, int64_t cls, int64_t index,
                                    const char **path)
{
    FLP__CHECK_NULL(ds);
    FLP__CHECK_NULL(path);
    FLP__TRY(check_example(ds, cls, index, __func__));
    const ds_class *k = &ds->store->classes[ds->classes[cls]];
    *path = ds->store->images[k->first + index].path;
    return FLP_OK;
}

flp_status flp_dataset_image_shape(const flp_dataset *ds, int64_t *channels, int64_t *height,
                                   int64_t *width)
{
    FLP__CHECK_NULL(ds);
    if (channels)
        *channels = ds->store->channels;
    if (height)
        *height = ds->store->size;
    if (width)
        *width = ds->store->size;
    return FLP_OK;
}

/* ---- decoding and the cache --------------------------------------------------------- */

/* Decode image i of S into its cache slot (a no-op when cached). */
static flp_status load(flp__store *S, int64_t i)
{
    ds_image *im = &S->images[i];
    if (im->cache != NULL)
        return FLP_OK;
    float *img = NULL;
    int64_t h = 0, w = 0;
    const int ch = (int)S->channels;
    flp_status st = S->kind == FLP__DS_OMNIGLOT ? flp__png_read(im->path, ch, &img, &h, &w)
                                             : flp__jpeg_read(im->path, ch, &img, &h, &w);
    if (st != FLP_OK)
        return st;
    const int64_t sz = S->size, plane = sz * sz;
    float *work = flp__alloc_floats(sz * w, "resize scratch");
    float *res = flp__alloc_floats(plane, "resized plane");
    uint8_t *px = flp__alloc_bytes((size_t)(ch * plane), "image cache");
    if (work == NULL || res == NULL || px == NULL) {
        st = flp__error_context(FLP_ERR_NOMEM, "caching '%s'", im->path);
    } else {
        for (int c = 0; c < ch; c++) {
            flp__resize_auto(img + c * h * w, h, w, res, sz, sz, work);
            for (int64_t p = 0; p < plane; p++) {
                double v = res[p];
                if (S->kind == FLP__DS_OMNIGLOT)
                    v = 1.0 - v; /* ink = 1 */
                v = v < 0 ? 0 : v > 1 ? 1 : v;
                px[c * plane + p] = (uint8_t)lrint(v * 255.0);
            }
        }
        im->cache = px;
        px = NULL;
    }
    flp__free(img);
    flp__free(work);
    flp__free(res);
    flp__free(px);
    return st;
}

int64_t flp__dataset_image_size(const flp_dataset *ds)
{
    return ds->store->channels * ds->store->size * ds->store->size;
}

int64_t flp__dataset_class_count(const flp_dataset *ds, int64_t cls)
{
    return ds->store->classes[ds->classes[cls]].count;
}

const char *flp__dataset_class_name(const flp_dataset *ds, int64_t cls)
{
    return ds->store->classes[ds->classes[cls]].name;
}

flp_status flp__dataset_read(flp_dataset *ds, int64_t cls, int64_t index, float *dst)
{
    flp__store *S = ds->store;
    int64_t i = S->classes[ds->classes[cls]].first + index;
    FLP__TRY(load(S, i));
    const int64_t plane = S->size * S->size;
    const uint8_t *px = S->images[i].cache;
    for (int64_t c = 0; c < S->channels; c++) {
        const float *lut = S->lut[c];
        for (int64_t p = 0; p < plane; p++)
            dst[c * plane + p] = lut[px[c * plane + p]];
    }
    return FLP_OK;
}

flp_status flp_dataset_get(flp_dataset *ds, int64_t cls, int64_t index, float *dst, int64_t count)
{
    FLP__CHECK_NULL(ds);
    FLP__CHECK_NULL(dst);
    FLP__TRY(check_example(ds, cls, index, __func__));
    int64_t want = flp__dataset_image_size(ds);
    if (count != want)
        return flp__error(FLP_ERR_SHAPE, "%s: count = %lld, an image has %lld x %lld x %lld = %lld values",
                          __func__, (long long)count, (long long)ds->store->channels,
                          (long long)ds->store->size, (long long)ds->store->size, (long long)want);
    flp_status st = flp__dataset_read(ds, cls, index, dst);
    if (st != FLP_OK)
        return flp__error_context(st, "%s", __func__);
    return FLP_OK;
}

flp_status flp_dataset_preload(flp_dataset *ds)
{
    FLP__CHECK_NULL(ds);
    for (int64_t c = 0; c < ds->n; c++) {
        const ds_class *k = &ds->store->classes[ds->classes[c]];
        for (int64_t i = 0; i < k->count; i++) {
            flp_status st = load(ds->store, k->first + i);
            if (st != FLP_OK)
                return flp__error_context(st, "%s", __func__);
        }
    }
    return FLP_OK;
}

/* ---- views --------------------------------------------------------------------------- */

flp_status flp_dataset_subset(const flp_dataset *ds, const int64_t *classes, int64_t n,
                              flp_dataset **out)
{
    FLP__CHECK_NULL(out);
    *out = NULL;
    FLP__CHECK_NULL(ds);
    FLP__CHECK_NULL(classes);
    if (n < 1 || n > ds->n)
        return flp__error(FLP_ERR_RANGE, "%s: n = %lld, expected 1 to %lld classes", __func__,
                          (long long)n, (long long)ds->n);
    uint8_t *seen = flp__alloc_bytes((size_t)ds->n, "class marks");
    int64_t *cls = flp__alloc_bytes((size_t)n * sizeof *cls, "class list");
    flp_status st = FLP_OK;
    if (seen == NULL || cls == NULL)
        st = flp__error_context(FLP_ERR_NOMEM, "%s", __func__);
    for (int64_t i = 0; st == FLP_OK && i < n; i++) {
        int64_t c = classes[i];
        if (c < 0 || c >= ds->n)
            st = flp__error(FLP_ERR_RANGE, "%s: classes[%lld] = %lld is outside [0, %lld)", __func__,
                            (long long)i, (long long)c, (long long)ds->n);
        else if (seen[c]++)
            st = flp__error(FLP_ERR_INVALID, "%s: classes[%lld] = %lld appears twice", __func__,
                            (long long)i, (long long)c);
        else
            cls[i] = ds->classes[c];
    }
    if (st == FLP_OK)
        st = flp__store_view(ds->store, cls, n, out, __func__);
    flp__free(seen);
    flp__free(cls);
    return st;
}

/* Marks of the alphabets present in ds (store indices), and their count. */
static int64_t alphabets_present(const flp_dataset *ds, uint8_t *mark)
{
    int64_t n = 0;
    for (int64_t c = 0; c < ds->n; c++) {
        int64_t a = ds->store->classes[ds->classes[c]].alphabet;
        if (a >= 0 && !mark[a]++)
            n++;
    }
    return n;
}

flp_status flp_dataset_num_alphabets(const flp_dataset *ds, int64_t *n)
{
    FLP__CHECK_NULL(ds);
    FLP__CHECK_NULL(n);
    if (ds->store->n_alphabets == 0) {
        *n = 0;
        return FLP_OK;
    }
    uint8_t *mark = flp__alloc_bytes((size_t)ds->store->n_alphabets, "alphabet marks");
    if (mark == NULL)
        return flp__error_context(FLP_ERR_NOMEM, "%s", __func__);
    *n = alphabets_present(ds, mark);
    flp__free(mark);
    return FLP_OK;
}

flp_status flp_dataset_split_by_alphabet(const flp_dataset *ds, int64_t n_train,
                                         flp_dataset **train, flp_dataset **eval)
{
    FLP__CHECK_NULL(train);
    FLP__CHECK_NULL(eval);
    *train = *eval = NULL;
    FLP__CHECK_NULL(ds);
    const flp__store *S = ds->store;
    if (S->kind != FLP__DS_OMNIGLOT)
        return flp__error(FLP_ERR_INVALID, "%s: the data set has no alphabets (not Omniglot)",
                          __func__);
    uint8_t *mark = flp__alloc_bytes((size_t)S->n_alphabets, "alphabet marks");
    int64_t *rank = flp__alloc_bytes((size_t)S->n_alphabets * sizeof *rank, "alphabet ranks");
    int64_t *cls = flp__alloc_bytes((size_t)(ds->n > 0 ? ds->n : 1) * sizeof *cls, "class list");
    flp_status st = FLP_OK;
    if (mark == NULL || rank == NULL || cls == NULL) {
        st = flp__error_context(FLP_ERR_NOMEM, "%s", __func__);
        goto done;
    }
    int64_t present = alphabets_present(ds, mark);
    if (n_train < 1 || n_train >= present) {
        st = flp__error(FLP_ERR_RANGE,
                        "%s: n_train = %lld, expected 1 to %lld (the data set has %lld alphabets)",
                        __func__, (long long)n_train, (long long)(present - 1), (long long)present);
        goto done;
    }
    /* rank of each present alphabet in name order (store order is name order) */
    for (int64_t a = 0, r = 0; a < S->n_alphabets; a++)
        rank[a] = mark[a] ? r++ : -1;
    /* training classes fill cls from the front, evaluation ones from the back */
    int64_t nt = 0, ne = 0;
    for (int64_t c = 0; c < ds->n; c++) {
        int64_t k = ds->classes[c];
        if (rank[S->classes[k].alphabet] < n_train)
            cls[nt++] = k;
        else
            cls[ds->n - 1 - ne++] = k;
    }
    for (int64_t i = 0; i < ne / 2; i++) { /* back into ds order */
        int64_t t = cls[nt + i];
        cls[nt + i] = cls[ds->n - 1 - i];
        cls[ds->n - 1 - i] = t;
    }
    st = flp__store_view(ds->store, cls, nt, train, __func__);
    if (st == FLP_OK && (st = flp__store_view(ds->store, cls + nt, ne, eval, __func__)) != FLP_OK) {
        flp_dataset_free(*train);
        *train = NULL;
    }
done:
    flp__free(mark);
    flp__free(rank);
    flp__free(cls);
    return st;
}

/* ---- fingerprint ------------------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return fnv(h, b, 8);
}

uint64_t flp__dataset_fingerprint(const flp_dataset *ds)
{
    const flp__store *S = ds->store;
    uint64_t h = 14695981039346656037ull;
    h = fnv_u64(h, (uint64_t)S->kind);
    h = fnv_u64(h, (uint64_t)S->channels);
    h = fnv_u64(h, (uint64_t)S->size);
    h = fnv_u64(h, (uint64_t)ds->n);
    for (int64_t c = 0; c < ds->n; c++) {
        const ds_class *k = &S->classes[ds->classes[c]];
        h = fnv(h, k->name, strlen(k->name) + 1);
        h = fnv_u64(h, (uint64_t)k->count);
    }
    return h;
}
