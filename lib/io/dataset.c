/* dataset.c - Omniglot and Mini-ImageNet on disk, decoded lazily and cached.
 *
 * A store holds the file list of one opened folder (or split), grouped into
 * classes, and the cache: for every image either NULL (not read yet) or its
 * resized pixels in 8 bits, [channels, size, size]. Handles (flp_dataset)
 * are lists of the store's classes; the store is reference-counted so that
 * views, samplers and the handle they came from can be freed in any order.
 * Reading an image turns its bytes into floats through a per-channel table
 * (v / 255 for Omniglot, (v / 255 - mean) / std for Mini-ImageNet). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/dataset_internal.h"
#include "io/image.h"

enum { KIND_OMNIGLOT = 1, KIND_MINIIMAGENET = 2, KIND_BYTES = 3 };

#define SIZE_MAX_SIDE 1024

typedef struct {
    char *path;
    uint8_t *cache;
} ds_image;

typedef struct {
    char *name;
    int64_t first, count; /* images[first .. first + count) */
    int64_t alphabet;     /* index into alphabets, -1 without */
} ds_class;

struct flp__store {
    int refs;
    int kind;
    int64_t channels, size;
    ds_image *images;
    int64_t n_images;
    ds_class *classes;
    int64_t n_classes;
    char **alphabets; /* Omniglot: alphabet folder names, sorted */
    int64_t n_alphabets;
    float lut[3][256];
};

static const double imagenet_mean[3] = {0.485, 0.456, 0.406};
static const double imagenet_std[3] = {0.229, 0.224, 0.225};

/* ---- small helpers ----------------------------------------------------------- */

static char *dup_str(const char *s, const char *what)
{
    size_t n = strlen(s);
    char *d = flp__alloc_bytes(n + 1, what);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

/* "a/b", newly allocated. */
static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = flp__alloc_bytes(n, "path");
    if (p != NULL)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

static void store_release(flp__store *S)
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

static flp__store *store_new(int kind, int64_t channels, int64_t size)
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
            S->lut[c][v] = kind != KIND_MINIIMAGENET
                               ? (float)(v / 255.0)
                               : (float)((v / 255.0 - imagenet_mean[c]) / imagenet_std[c]);
    return S;
}

/* A handle on S holding classes cls[0..n) (copied); S's count goes up. */
static flp_status make_view(flp__store *S, const int64_t *cls, int64_t n, flp_dataset **out,
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

/* A handle on every class of S; the caller's reference is handed over. */
static flp_status wrap_store(flp__store *S, flp_dataset **out, const char *fn)
{
    int64_t *cls = flp__alloc_bytes((size_t)S->n_classes * sizeof *cls, "class list");
    flp_status st;
    if (cls == NULL) {
        st = flp__error_context(FLP_ERR_NOMEM, "%s", fn);
    } else {
        for (int64_t c = 0; c < S->n_classes; c++)
            cls[c] = c;
        st = make_view(S, cls, S->n_classes, out, fn);
    }
    flp__free(cls);
    store_release(S);
    return st;
}

static flp_status check_size(int size, const char *fn)
{
    if (size < 1 || size > SIZE_MAX_SIDE)
        return flp__error(FLP_ERR_RANGE, "%s: size = %d, expected 1 to %d (84 in the papers)", fn,
                          size, SIZE_MAX_SIDE);
    return FLP_OK;
}

/* Append to a growable array of `size`-byte elements; -1 when out of memory. */
static int push(void **arr, int64_t *n, int64_t *cap, size_t size, const void *item, const char *what)
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

/* ---- folder listing ------------------------------------------------------------ */

enum { LIST_DIRS = 1, LIST_PNGS = 2 };

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        flp__free(names[i]);
    flp__free(names);
}

static int has_png_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".png") == 0;
}

/* The entries of `dir` that are folders (LIST_DIRS) or regular *.png files
 * (LIST_PNGS), hidden ones skipped, sorted by bytes. */
static flp_status list_dir(const char *dir, int what, char ***names_out, int64_t *n_out,
                           const char *fn)
{
    *names_out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return flp__error(FLP_ERR_IO, "%s: cannot open folder '%s': %s", fn, dir, strerror(errno));
    char **names = NULL;
    int64_t n = 0, cap = 0;
    flp_status st = FLP_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *full = join(dir, e->d_name);
        if (full == NULL) {
            st = flp__error_context(FLP_ERR_NOMEM, "%s", fn);
            break;
        }
        struct stat sb;
        int keep = stat(full, &sb) == 0 &&
                   (what == LIST_DIRS ? S_ISDIR(sb.st_mode)
                                      : S_ISREG(sb.st_mode) && has_png_suffix(e->d_name));
        flp__free(full);
        if (!keep)
            continue;
        char *name = dup_str(e->d_name, "file name");
        if (name == NULL || push((void **)&names, &n, &cap, sizeof name, &name, "folder listing") != 0) {
            flp__free(name);
            st = flp__error_context(FLP_ERR_NOMEM, "%s", fn);
            break;
        }
    }
    closedir(d);
    if (st != FLP_OK) {
        free_names(names, n);
        return st;
    }
    if (n > 1)
        qsort(names, (size_t)n, sizeof *names, cmp_str);
    *names_out = names;
    *n_out = n;
    return FLP_OK;
}

/* ---- Omniglot ------------------------------------------------------------------ */

/* Add the classes of one alphabet folder to S. */
static flp_status add_alphabet(flp__store *S, const char *dir, const char *alpha, int64_t a,
                               int64_t *img_cap, int64_t *cls_cap, const char *fn)
{
    char *adir = join(dir, alpha);
    if (adir == NULL)
        return flp__error_context(FLP_ERR_NOMEM, "%s", fn);
    char **chars;
    int64_t n_chars;
    flp_status st = list_dir(adir, LIST_DIRS, &chars, &n_chars, fn);
    if (st == FLP_OK && n_chars == 0)
        st = flp__error(FLP_ERR_FORMAT,
                        "%s: alphabet folder '%s' holds no character folders (expected "
                        "DIR/<alphabet>/<character>/*.png)",
                        fn, adir);
    for (int64_t c = 0; st == FLP_OK && c < n_chars; c++) {
        char *cdir = join(adir, chars[c]);
        char **pngs = NULL;
        int64_t n_png = 0;
        if (cdir == NULL)
            st = flp__error_context(FLP_ERR_NOMEM, "%s", fn);
        else
            st = list_dir(cdir, LIST_PNGS, &pngs, &n_png, fn);
        if (st == FLP_OK && n_png == 0)
            st = flp__error(FLP_ERR_FORMAT,
                            "%s: folder '%s' holds no .png images (expected "
                            "DIR/<alphabet>/<character>/*.png)",
                            fn, cdir);
        if (st == FLP_OK) {
            ds_class k = {join(alpha, chars[c]), S->n_images, n_png, a};
            if (k.name == NULL || push((void **)&S->classes, &S->n_classes, cls_cap, sizeof k, &k,
                                       "class list") != 0) {
                flp__free(k.name);
                st = flp__error_context(FLP_ERR_NOMEM, "%s", fn);
            }
        }
        for (int64_t i = 0; st == FLP_OK && i < n_png; i++) {
            ds_image im = {join(cdir, pngs[i]), NULL};
            if (im.path == NULL || push((void **)&S->images, &S->n_images, img_cap, sizeof im, &im,
                                        "image list") != 0) {
                flp__free(im.path);
                st = flp__error_context(FLP_ERR_NOMEM, "%s", fn);
            }
        }
        free_names(pngs, n_png);
        flp__free(cdir);
    }
    free_names(chars, n_chars);
    flp__free(adir);
    return st;
}

flp_status flp_dataset_open_omniglot(const char *dir, int size, flp_dataset **out)
{
    static const char fn[] = "flp_dataset_open_omniglot";
    FLP__CHECK_NULL(out);
    *out = NULL;
    FLP__CHECK_NULL(dir);
    FLP__TRY(check_size(size, fn));
    char **alphas;
    int64_t n_alpha;
    FLP__TRY(list_dir(dir, LIST_DIRS, &alphas, &n_alpha, fn));
    if (n_alpha == 0) {
        free_names(alphas, n_alpha);
        return flp__error(FLP_ERR_FORMAT,
                          "%s: folder '%s' holds no alphabet folders (expected "
                          "DIR/<alphabet>/<character>/*.png)",
                          fn, dir);
    }
    flp__store *S = store_new(KIND_OMNIGLOT, 1, size);
    if (S == NULL) {
        free_names(alphas, n_alpha);
        return flp__error_context(FLP_ERR_NOMEM, "%s", fn);
    }
    S->alphabets = alphas;
    S->n_alphabets = n_alpha;
    int64_t img_cap = 0, cls_cap = 0;
    for (int64_t a = 0; a < n_alpha; a++) {
        flp_status st = add_alphabet(S, dir, alphas[a], a, &img_cap, &cls_cap, fn);
        if (st != FLP_OK) {
            store_release(S);
            return st;
        }
    }
    return wrap_store(S, out, fn);
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
        if ((c->name = dup_str(name, "class name")) == NULL)
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
    flp__store *S = store_new(KIND_BYTES, 1, size);
    if (S == NULL)
        return flp__error_context(FLP_ERR_NOMEM, "%s", fn);
    if (fill_from_bytes(S, origin, pixels, labels, n) != FLP_OK) {
        store_release(S);
        return flp__error_context(FLP_ERR_NOMEM, "%s: '%s'", fn, origin);
    }
    return wrap_store(S, out, fn);
}

/* ---- Mini-ImageNet ------------------------------------------------------------- */

typedef struct {
    const char *label;
    int64_t row;
} row_key;

/* By label, then by CSV row: classes in label order, rows in file order. */
static int cmp_rows(const void *pa, const void *pb)
{
    const row_key *a = pa, *b = pb;
    int c = strcmp(a->label, b->label);
    return c != 0 ? c : (a->row > b->row) - (a->row < b->row);
}

flp_status flp_dataset_open_miniimagenet(const char *dir, const char *split, int size,
                                         flp_dataset **out)
{
    static const char fn[] = "flp_dataset_open_miniimagenet";
    FLP__CHECK_NULL(out);
    *out = NULL;
    FLP__CHECK_NULL(dir);
    FLP__CHECK_NULL(split);
    if (strcmp(split, "train") != 0 && strcmp(split, "val") != 0 && strcmp(split, "test") != 0)
        return flp__error(FLP_ERR_INVALID, "%s: split '%s' is not \"train\", \"val\" or \"test\"",
                          fn, split);
    FLP__TRY(check_size(size, fn));
    char *images = join(dir, "images");
    size_t n = strlen(dir) + strlen(split) + 6;
    char *csv_path = flp__alloc_bytes(n, "CSV path");
    if (images == NULL || csv_path == NULL) {
        flp__free(images);
        flp__free(csv_path);
        return flp__error_context(FLP_ERR_NOMEM, "%s", fn);
    }
    snprintf(csv_path, n, "%s/%s.csv", dir, split);
    flp__store *S = NULL;
    row_key *order = NULL;
    flp__csv csv = {0};
    flp_status st = FLP_OK;
    struct stat sb;
    if (stat(images, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        st = flp__error(FLP_ERR_IO, "%s: no folder '%s' (expected DIR/images/<filename> and DIR/%s.csv)",
                        fn, images, split);
        goto done;
    }
    if ((st = flp__csv_read(csv_path, &csv)) != FLP_OK) {
        flp__error_context(st, "%s", fn);
        goto done;
    }
    S = store_new(KIND_MINIIMAGENET, 3, size);
    order = flp__alloc_bytes((size_t)csv.n * sizeof *order, "CSV order");
    if (S != NULL) {
        S->images = flp__alloc_bytes((size_t)csv.n * sizeof *S->images, "image list");
        S->classes = flp__alloc_bytes((size_t)csv.n * sizeof *S->classes, "class list");
    }
    if (S == NULL || order == NULL || S->images == NULL || S->classes == NULL) {
        st = flp__error_context(FLP_ERR_NOMEM, "%s", fn);
        goto done;
    }
    for (int64_t i = 0; i < csv.n; i++)
        order[i] = (row_key){csv.label[i], i};
    qsort(order, (size_t)csv.n, sizeof *order, cmp_rows);
    for (int64_t k = 0; k < csv.n; k++) {
        int64_t r = order[k].row;
        char *path = join(images, csv.filename[r]);
        if (path == NULL) {
            st = flp__error_context(FLP_ERR_NOMEM, "%s", fn);
            goto done;
        }
        S->images[S->n_images++] = (ds_image){path, NULL};
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            st = flp__error(FLP_ERR_IO, "%s: %s:%lld names '%s', but '%s' is missing", fn, csv_path,
                            (long long)csv.line[r], csv.filename[r], path);
            goto done;
        }
        if (k == 0 || strcmp(csv.label[r], order[k - 1].label) != 0) {
            ds_class *c = &S->classes[S->n_classes];
            if ((c->name = dup_str(csv.label[r], "class name")) == NULL) {
                st = flp__error_context(FLP_ERR_NOMEM, "%s", fn);
                goto done;
            }
            c->first = k;
            c->alphabet = -1;
            S->n_classes++;
        }
        S->classes[S->n_classes - 1].count++;
    }
done:
    flp__free(order);
    flp__csv_free(&csv);
    flp__free(images);
    flp__free(csv_path);
    if (st != FLP_OK) {
        store_release(S);
        return st;
    }
    return wrap_store(S, out, fn);
}

/* ---- handles and queries ---------------------------------------------------------- */

void flp_dataset_free(flp_dataset *ds)
{
    if (ds == NULL)
        return;
    store_release(ds->store);
    flp__free(ds->classes);
    flp__free(ds);
}

flp_status flp__dataset_clone(const flp_dataset *ds, flp_dataset **out)
{
    return make_view(ds->store, ds->classes, ds->n, out, "data set reference");
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
    flp_status st = S->kind == KIND_OMNIGLOT ? flp__png_read(im->path, ch, &img, &h, &w)
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
                if (S->kind == KIND_OMNIGLOT)
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
        st = make_view(ds->store, cls, n, out, __func__);
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
    if (S->kind != KIND_OMNIGLOT)
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
    st = make_view(ds->store, cls, nt, train, __func__);
    if (st == FLP_OK && (st = make_view(ds->store, cls + nt, ne, eval, __func__)) != FLP_OK) {
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
