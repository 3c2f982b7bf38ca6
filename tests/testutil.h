/* testutil.h - helpers shared by the Check suites. */
#ifndef FLP_TESTUTIL_H
#define FLP_TESTUTIL_H

#include <check.h>
#include <stdint.h>

#include "flp/flp.h"

/* Fail the test with flp_last_error() if `expr` is not FLP_OK. */
#define ck_flp(expr)                                                                   \
    do {                                                                               \
        flp_status ck__st = (expr);                                                    \
        ck_assert_msg(ck__st == FLP_OK, "%s -> %s: %s", #expr, flp_status_name(ck__st), \
                      flp_last_error());                                               \
    } while (0)

/* Assert `expr` returns `status` and left a non-empty message. */
#define ck_flp_fails(expr, status)                                                     \
    do {                                                                               \
        flp_clear_error();                                                             \
        flp_status ck__st = (expr);                                                    \
        ck_assert_msg(ck__st == (status), "%s -> %s, expected %s (%s)", #expr,          \
                      flp_status_name(ck__st), flp_status_name(status), flp_last_error()); \
        ck_assert_msg(flp_last_error()[0] != '\0', "%s left no error message", #expr);  \
    } while (0)

/* |a - b| <= rtol * max(|a|, |b|) + atol, elementwise; on failure reports the
 * worst index. `what` names the array in the message. */
void ck_allclose(const char *what, const float *a, const double *b, int64_t n, double rtol, double atol);
void ck_allclose_f(const char *what, const float *a, const float *b, int64_t n, double rtol, double atol);

/* Fill with uniform values in [lo, hi) from a seeded stream (test-local). */
void tu_fill_uniform(float *x, int64_t n, float lo, float hi, uint64_t seed);

/* Path of a file in the shared folder (FLP_SHARED_DIR, default ../shared),
 * or NULL if absent. Returned string is static. */
const char *tu_shared_path(const char *relative);

#endif
