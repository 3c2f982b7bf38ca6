/* omniglot.c - the Omniglot layout: DIR/<alphabet>/<character>/<drawing>.png,
 * alphabets and characters in byte order of their names. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/store.h"

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
        char *full = flp__ds_join(dir, e->d_name);
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
        char *name = flp__ds_strdup(e->d_name, "file name");
        if (name == NULL || flp__ds_push((void **)&names, &n, &cap, sizeof name, &name, "folder listing") != 0) {
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
    char *adir = flp__ds_join(dir, alpha);
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
        char *cdir = flp__ds_join(adir, chars[c]);
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
            ds_class k = {flp__ds_join(alpha, chars[c]), S->n_images, n_png, a};
            if (k.name == NULL || flp__ds_push((void **)&S->classes, &S->n_classes, cls_cap, sizeof k, &k,
                                       "class list") != 0) {
                flp__free(k.name);
                st = flp__error_context(FLP_ERR_NOMEM, "%s", fn);
            }
        }
        for (int64_t i = 0; st == FLP_OK && i < n_png; i++) {
            ds_image im = {flp__ds_join(cdir, pngs[i]), NULL};
            if (im.path == NULL || flp__ds_push((void **)&S->images, &S->n_images, img_cap, sizeof im, &im,
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
    FLP__TRY(flp__ds_check_size(size, fn));
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
    flp__store *S = flp__store_new(FLP__DS_OMNIGLOT, 1, size);
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
            flp__store_release(S);
            return st;
        }
    }
    return flp__store_wrap(S, out, fn);
}
