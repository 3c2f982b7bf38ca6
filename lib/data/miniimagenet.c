/* miniimagenet.c - the Mini-ImageNet layout: DIR/images/<filename> and the
 * split files DIR/{train,val,test}.csv (filename,label); classes in label
 * order, images in file order within a class. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/image.h"
#include "data/store.h"

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
    FLP__TRY(flp__ds_check_size(size, fn));
    char *images = flp__ds_join(dir, "images");
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
    S = flp__store_new(FLP__DS_MINIIMAGENET, 3, size);
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
        char *path = flp__ds_join(images, csv.filename[r]);
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
            if ((c->name = flp__ds_strdup(csv.label[r], "class name")) == NULL) {
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
        flp__store_release(S);
        return st;
    }
    return flp__store_wrap(S, out, fn);
}
