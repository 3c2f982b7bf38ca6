/* store.c - the store every data set format fills (store.h), and the
 * store of images already in memory as bytes (the IDX files). */
#include "data/store.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

#define SIZE_MAX_SIDE 1024

static const double imagenet_mean[3] = {0.485, 0.456, 0.406};
static const double imagenet_std[3] = {0.229, 0.224, 0.225};

char *flp__ds_strdup(const char *s, const char *what)
{
    size_t n = strlen(s);
    char *d = flp__alloc_bytes(n + 1, what);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

char *flp__ds_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = flp__alloc_bytes(n, "path");
    if (p != NULL)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

void flp__store_release(flp__store *S)
{
    if (S == NULL || --S->refs > 0)
        return;
    for (int64_t i = 0; i < S->n_images; i++) {
        flp__free(S->images[i].path);
        flp__free(S->images[i].cache);
    }
    for (int64_t c = 0; c < S->n_classes; c++)
        flp__free(S->classes[c].name);
    for (int64_t a = 0; a < S->n_alphabets; a++)
        flp__free(S->alphabets[a]);
    flp__free(S->images);
    flp__free(S->classes);
    flp__free(S->alphabets);
    flp__free(S);
}

flp__store *flp__store_new(int kind, int64_t channels, int64_t size)
{
    flp__store *S = flp__alloc_bytes(sizeof *S, "data set");
    if (S == NULL)
        return NULL;
    S->refs = 1;
    S->kind = kind;
    S->channels = channels;
    S->size = size;
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++)
            S->lut[c][v] = kind != FLP__DS_MINIIMAGENET
                               ? (float)(v / 255.0)
                               : (float)((v / 255.0 - imagenet_mean[c]) / imagenet_std[c]);
    return S;
}

flp_status flp__store_view(flp__store *S, const int64_t *cls, int64_t n, flp_dataset **out,
                            const char *fn)
{
    flp_dataset *v = flp__alloc_bytes(sizeof *v, "data set handle");
    int64_t *c = v ? flp__alloc_bytes((size_t)(n > 0 ? n : 1) * sizeof *c, "class list") : NULL;
    if (c == NULL) {
        flp__free(v);
        return flp__error_context(FLP_ERR_NOMEM, "%s", fn);
    }
    if (n > 0)
        memcpy(c, cls, (size_t)n * sizeof *c);
    v->store = S;
    v->classes = c;
    v->n = n;
    S->refs++;
    *out = v;
    return FLP_OK;
}

flp_status flp__store_wrap(flp__store *S, flp_dataset **out, const char *fn)
{
    int64_t *cls = flp__alloc_bytes((size_t)S->n_classes * sizeof *cls, "class list");
    flp_status st;
    if (cls == NULL) {
        st = flp__error_context(FLP_ERR_NOMEM, "%s", fn);
    } else {
        for (int64_t c = 0; c < S->n_classes; c++)
            cls[c] = c;
        st = flp__store_view(S, cls, S->n_classes, out, fn);
    }
    flp__free(cls);
    flp__store_release(S);
    return st;
}

flp_status flp__ds_check_size(int size, const char *fn)
{
    if (size < 1 || size > SIZE_MAX_SIDE)
        return flp__error(FLP_ERR_RANGE, "%s: size = %d, expected 1 to %d (84 in the papers)", fn,
                          size, SIZE_MAX_SIDE);
    return FLP_OK;
}

int flp__ds_push(void **arr, int64_t *n, int64_t *cap, size_t size, const void *item, const char *what)
{
    if (*n == *cap) {
        int64_t nc = *cap ? 2 * *cap : 64;
        void *bigger = flp__alloc_bytes((size_t)nc * size, what);
        if (bigger == NULL)
            return -1;
        if (*n)
            memcpy(bigger, *arr, (size_t)*n * size);
        flp__free(*arr);
        *arr = bigger;
        *cap = nc;
    }
    memcpy((char *)*arr + (size_t)*n * size, item, size);
    (*n)++;
    return 0;
}

/* ---- images already in memory (IDX files) ---------------------------------------- */

/* Fill S from n images of size x size bytes and their labels: classes are
 * the distinct labels in increasing order, named by their value; images
 * keep the file's order within a class and are cached from the start (the
 * store never decodes them). */
static flp_status fill_from_bytes(flp__store *S, const char *origin, const uint8_t *pixels, const uint8_t *labels,
                                  int64_t n)
{
    int64_t per_label[256] = {0}, first[256], plane = S->size * S->size;
    for (int64_t i = 0; i < n; i++)
        per_label[labels[i]]++;
    S->images = flp__alloc_bytes((size_t)n * sizeof *S->images, "image list");
    S->classes = flp__alloc_bytes(256 * sizeof *S->classes, "class list");
    if (S->images == NULL || S->classes == NULL)
        return FLP_ERR_NOMEM;
    for (int v = 0, at = 0; v < 256; at += (int)per_label[v], v++)
        first[v] = at;
    for (int v = 0; v < 256; v++) {
        if (per_label[v] == 0)
            continue;
        char name[4];
        snprintf(name, sizeof name, "%d", v);
        ds_class *c = &S->classes[S->n_classes];
        if ((c->name = flp__ds_strdup(name, "class name")) == NULL)
            return FLP_ERR_NOMEM;
        c->first = first[v];
        c->count = per_label[v];
        c->alphabet = -1;
        S->n_classes++;
    }
    S->n_images = n; /* every slot is filled below, or freed as NULL */
    size_t len = strlen(origin) + 24;
    for (int64_t i = 0; i < n; i++) {
        ds_image *im = &S->images[first[labels[i]]++];
        im->path = flp__alloc_bytes(len, "image name");
        im->cache = flp__alloc_bytes((size_t)plane, "image cache");
        if (im->path == NULL || im->cache == NULL)
            return FLP_ERR_NOMEM;
        snprintf(im->path, len, "%s#%lld", origin, (long long)i);
        memcpy(im->cache, pixels + i * plane, (size_t)plane);
    }
    return FLP_OK;
}

flp_status flp__dataset_from_bytes(const char *origin, int64_t size, int64_t n, const uint8_t *pixels,
                                   const uint8_t *labels, flp_dataset **out)
{
    static const char fn[] = "flp_dataset_open_idx";
    flp__store *S = flp__store_new(FLP__DS_BYTES, 1, size);
    if (S == NULL)
        return flp__error_context(FLP_ERR_NOMEM, "%s", fn);
    if (fill_from_bytes(S, origin, pixels, labels, n) != FLP_OK) {
        flp__store_release(S);
        return flp__error_context(FLP_ERR_NOMEM, "%s: '%s'", fn, origin);
    }
    return flp__store_wrap(S, out, fn);
}
