/* golden.h - reader for the golden-vector files in ../shared/golden/
 * ("NAME d0 d1 ..." then a line of values, row-major, float64). */
#ifndef FLP_TESTS_GOLDEN_H
#define FLP_TESTS_GOLDEN_H

#include <stdint.h>

typedef struct {
    char name[48];
    int rank;
    int64_t shape[4];
    int64_t count;
    double *v;
    float *f; /* the same values in float32 */
} tg_array;

typedef struct {
    int n;
    tg_array *a;
} tg_file;

/* Load `relative` (e.g. "golden/flp_regression_oja.txt") from the suite's
 * own copy under tests/ (FLP_TESTS_DIR), else from the shared folder;
 * returns 0 if the file is absent (the caller skips), aborts the test on a
 * malformed file. */
int tg_load(const char *relative, tg_file *f);
/* The array called `name`, or NULL. */
const tg_array *tg_find(const tg_file *f, const char *name);
/* The array called `name`; fails the test if absent. */
const tg_array *tg_get(const tg_file *f, const char *name);
void tg_free(tg_file *f);

#endif
