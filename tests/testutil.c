/* testutil.c - tolerance asserts, fills and the shared-folder lookup. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void allclose(const char *what, const float *a, const float *bf, const double *bd, int64_t n,
                     double rtol, double atol)
{
    int64_t worst = -1;
    double worst_excess = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = a[i], y = bf ? bf[i] : bd[i];
        double tol = rtol * fmax(fabs(x), fabs(y)) + atol;
        double err = fabs(x - y);
        if (!(err <= tol) && (worst < 0 || err - tol > worst_excess || isnan(err))) {
            worst = i;
            worst_excess = err - tol;
        }
    }
    if (worst >= 0) {
        double y = bf ? bf[worst] : bd[worst];
        ck_abort_msg("%s[%lld]: %.9g vs expected %.9g (rtol %g, atol %g)", what, (long long)worst,
                     a[worst], y, rtol, atol);
    }
}

void ck_allclose(const char *what, const float *a, const double *b, int64_t n, double rtol, double atol)
{
    allclose(what, a, NULL, b, n, rtol, atol);
}

void ck_allclose_f(const char *what, const float *a, const float *b, int64_t n, double rtol, double atol)
{
    allclose(what, a, b, NULL, n, rtol, atol);
}

void tu_fill_uniform(float *x, int64_t n, float lo, float hi, uint64_t seed)
{
    flp_rng *rng;
    ck_flp(flp_rng_create(seed, &rng));
    ck_flp(flp_rng_uniform(rng, lo, hi, x, n));
    flp_rng_free(rng);
}

const char *tu_shared_path(const char *relative)
{
    static char path[4096];
    const char *dir = getenv("FLP_SHARED_DIR");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "../shared", relative);
    return access(path, R_OK) == 0 ? path : NULL;
}
