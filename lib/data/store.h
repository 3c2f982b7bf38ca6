/* store.h - the data sets' shared store (store.c): the file list of one
 * opened folder (or split) grouped into classes, and the cache. Every
 * format's opener (omniglot.c, miniimagenet.c, idx.c through
 * flp__dataset_from_bytes) fills one; dataset.c serves the handles on it. */
#ifndef FLP_DATA_STORE_H
#define FLP_DATA_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset_internal.h"

enum { FLP__DS_OMNIGLOT = 1, FLP__DS_MINIIMAGENET = 2, FLP__DS_BYTES = 3 };

typedef struct {
    char *path;
    uint8_t *cache;
} ds_image;

typedef struct {
    char *name;
    int64_t first, count; /* images[first .. first + count) */
    int64_t alphabet;     /* index into alphabets, -1 without */
} ds_class;

/* kind: FLP__DS_*; the per-channel table turns cached bytes into floats. */
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


/* A copy of s, or NULL (out of memory, recorded with `what`). */
char *flp__ds_strdup(const char *s, const char *what);
/* "a/b", newly allocated, or NULL. */
char *flp__ds_join(const char *a, const char *b);
/* A store of `kind` with one reference and no classes, or NULL. */
flp__store *flp__store_new(int kind, int64_t channels, int64_t size);
/* Drop a reference; the last one frees the store. NULL is a no-op. */
void flp__store_release(flp__store *S);
/* A handle on S holding classes cls[0..n) (copied); S's count goes up. */
flp_status flp__store_view(flp__store *S, const int64_t *cls, int64_t n, flp_dataset **out, const char *fn);
/* A handle on every class of S; the caller's reference is handed over. */
flp_status flp__store_wrap(flp__store *S, flp_dataset **out, const char *fn);
/* The image side an opener was given, checked against its bounds. */
flp_status flp__ds_check_size(int size, const char *fn);
/* Append to a growable array of `size`-byte elements; -1 when out of memory. */
int flp__ds_push(void **arr, int64_t *n, int64_t *cap, size_t size, const void *item, const char *what);

#endif
