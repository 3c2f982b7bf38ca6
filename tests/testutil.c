/* testutil.c - tolerance asserts, fills, the finite-difference check and
 * the shared-folder lookup. */
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

/* f at v + t dir, and the directional derivative dir . grad there. */
static double loss_and_slope(tu_loss_grad f, void *ctx, const float *v, const float *dir, int64_t n, double t,
                             float *p, double *slope)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)(v[i] + t * dir[i]);
    double loss = f(ctx, p, p);
    *slope = 0;
    for (int64_t i = 0; i < n; i++)
        *slope += (double)dir[i] * p[i];
    return loss;
}

double tu_fd_simpson(const char *what, const float *v, int64_t n, double step, tu_loss_grad f, void *ctx,
                     uint64_t seed)
{
    float *dir = malloc((size_t)n * sizeof *dir), *p = malloc((size_t)n * sizeof *p);
    ck_assert_msg(dir != NULL && p != NULL, "%s: out of memory", what);
    tu_fill_uniform(dir, n, -1, 1, seed);
    double vnorm = 0, pnorm = 0;
    for (int64_t i = 0; i < n; i++) {
        vnorm += (double)dir[i] * dir[i];
        pnorm += (double)v[i] * v[i];
    }
    double e = step * (pnorm > 0 ? sqrt(pnorm / vnorm) : 1.0), d[3], l[3];
    for (int k = 0; k < 3; k++)
        l[k] = loss_and_slope(f, ctx, v, dir, n, (k - 1) * e, p, &d[k]);
    free(dir);
    free(p);
    double actual = l[2] - l[0], predicted = e / 3 * (d[0] + 4 * d[1] + d[2]);
    double tol = 1e-2 * fmax(fabs(actual), fabs(predicted)) + 1e-5 * fabs(l[1]) + 1e-9;
    ck_assert_msg(fabs(actual - predicted) <= tol,
                  "%s: loss change %.7g over [-e, e], gradient integrates to %.7g (slope %.5g)", what, actual,
                  predicted, d[1]);
    return d[1];
}

const char *tu_shared_path(const char *relative)
{
    static char path[4096];
    const char *dir = getenv("FLP_SHARED_DIR");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : FLP_SHARED_SOURCE_DIR, relative);
    return access(path, R_OK) == 0 ? path : NULL;
}

const char *tu_tests_dir(void)
{
    const char *dir = getenv("FLP_TESTS_DIR");
    return dir ? dir : FLP_TESTS_SOURCE_DIR;
}

void tu_free_lifetime(flp_lifetime *lt, flp_rule *rule, flp_feedback *fb, flp_net *net, flp_episode *ep)
{
    flp_lifetime_free(lt);
    flp_rule_free(rule);
    flp_feedback_free(fb);
    flp_net_free(net);
    flp_episode_free(ep);
}

void tu_zero_grads(flp_net *net, flp_feedback *fb, flp_rule *rule)
{
    ck_flp(flp_net_zero_grad(net));
    ck_flp(flp_feedback_zero_grad(fb));
    ck_flp(flp_rule_zero_grad(rule));
}

void tu_free_rig(tu_rig *r)
{
    flp_meta_free(r->meta);
    tu_free_lifetime(r->lt, r->rule, r->fb, r->net, r->ep);
}

void tu_labelled_episode(flp_episode *ep, int64_t K, int64_t batch, int64_t n_in, int64_t n_classes,
                         int64_t Q, uint64_t seed)
{
    float *x = malloc((size_t)(K * batch * n_in) * sizeof *x), *xq = malloc((size_t)(Q * n_in) * sizeof *xq);
    int32_t *l = malloc((size_t)(K * batch) * sizeof *l), *lq = malloc((size_t)Q * sizeof *lq);
    tu_fill_uniform(x, K * batch * n_in, 0, 1, seed);
    tu_fill_uniform(xq, Q * n_in, 0, 1, seed + 1);
    for (int64_t i = 0; i < K * batch; i++)
        l[i] = (int32_t)((i * 7 + (int64_t)seed) % n_classes);
    for (int64_t i = 0; i < Q; i++)
        lq[i] = (int32_t)((i * 3 + (int64_t)seed) % n_classes);
    ck_flp(flp_episode_set_classes(ep, K, batch, n_in, n_classes, x, l, Q, xq, lq));
    free(x), free(xq), free(l), free(lq);
}
