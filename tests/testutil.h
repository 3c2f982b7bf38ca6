/* testutil.h - helpers shared by the Check suites. */
#ifndef FLP_TESTUTIL_H
#define FLP_TESTUTIL_H

#include <check.h>
#include <stdint.h>
#include <string.h>

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

/* Assert that flp_last_error() holds `needle`. */
#define ck_flp_message_has(needle)                                                       \
    ck_assert_msg(strstr(flp_last_error(), (needle)) != NULL, "message '%s' lacks '%s'", \
                  flp_last_error(), (needle))

/* |a - b| <= rtol * max(|a|, |b|) + atol, elementwise; on failure reports the
 * worst index. `what` names the array in the message. */
void ck_allclose(const char *what, const float *a, const double *b, int64_t n, double rtol, double atol);
void ck_allclose_f(const char *what, const float *a, const float *b, int64_t n, double rtol, double atol);

/* Fill with uniform values in [lo, hi) from a seeded stream (test-local). */
void tu_fill_uniform(float *x, int64_t n, float lo, float hi, uint64_t seed);

/* One point of a finite-difference check: set the tensor under test to
 * p, run the lifetime from zeroed gradients, write dLoss/dtensor to grad
 * (as many values as p) and return the loss. */
typedef double (*tu_loss_grad)(void *ctx, const float *p, float *grad);

/* The gradient of a loss along a random direction d (from `seed`) of a
 * tensor of n values at v, checked by integration: L(v + e d) - L(v - e d)
 * must equal Simpson's rule on the analytic directional derivative at -e,
 * 0 and +e, to 1% (plus 1e-5 of the loss), with e = step |v| / |d| (step
 * when v = 0). Its error is O(e^5), so e can be a few percent of the
 * tensor's scale, where float32 rounding of the lifetime is negligible; a
 * plain central difference is rounding-limited at any step that makes its
 * O(e^2) truncation error small. The tensor is left at v + e d: the caller
 * sets it back. Returns the directional derivative at v. `what` names the
 * tensor in the failure message. */
double tu_fd_simpson(const char *what, const float *v, int64_t n, double step, tu_loss_grad f, void *ctx,
                     uint64_t seed);

/* Path of a file in the shared folder (FLP_SHARED_DIR, default: the
 * `shared` folder beside the checkout the suite was built from), or NULL if
 * absent. Returned string is static. */
const char *tu_shared_path(const char *relative);

/* The suite's own folder, tests/ of the checkout (FLP_TESTS_DIR overrides
 * it), so that a suite run by hand finds its files as under meson test. */
const char *tu_tests_dir(void);

/* A random labelled episode: K steps of `batch` examples and Q queries of
 * n_in values uniform in [0, 1) from `seed`; labels (i * 7 + seed) % n_classes
 * for training example i, (i * 3 + seed) % n_classes for query i. */
void tu_labelled_episode(flp_episode *ep, int64_t K, int64_t batch, int64_t n_in, int64_t n_classes,
                         int64_t Q, uint64_t seed);

/* The handles of one meta-training setup, and their release (any may be
 * NULL; the optimizer and the lifetime first: they refer to the others). */
typedef struct {
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    flp_lifetime *lt;
    flp_meta *meta;
    flp_episode *ep;
} tu_rig;
void tu_free_rig(tu_rig *r);

/* Free the handles of a lifetime under test (any may be NULL), the
 * lifetime first: it refers to the others. */
void tu_free_lifetime(flp_lifetime *lt, flp_rule *rule, flp_feedback *fb, flp_net *net, flp_episode *ep);
/* Zero the meta-gradients a lifetime run accumulates into. */
void tu_zero_grads(flp_net *net, flp_feedback *fb, flp_rule *rule);

#endif
