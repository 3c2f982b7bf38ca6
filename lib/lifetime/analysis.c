/* analysis.c - Figure 2's measurements of a lifetime (flp_analysis.h). They
 * walk the inner steps with the lifetime's own forward half (flp__lt_step)
 * and its step gradient (flp__lt_step_gradient), so that what they measure
 * is exactly what a run does. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "flp/flp_analysis.h"
#include "lifetime/dense.h"
#include "lifetime/sweep.h"

static flp_status check_steps(const flp_lifetime *lt, int64_t steps, const char *fn)
{
    if (steps != lt->K)
        return flp__error(FLP_ERR_SHAPE, "%s: the episode has %lld steps, steps = %lld", fn, (long long)lt->K,
                          (long long)steps);
    return FLP_OK;
}

/* ---- update magnitude and alignment ------------------------------------------- */

/* Norm of layer d's update (W1 - W0) and its cosine with -G. */
static void measure_update(const flp__lt_layer *d, const float *W0, const float *W1, const float *G, double *norm,
                           double *cosine)
{
    double uu = 0, gg = 0, ug = 0;
    for (int64_t j = d->w_off; j < d->w_off + d->n_out * d->n_in; j++) {
        double u = (double)W1[j] - W0[j];
        uu += u * u;
        gg += (double)G[j] * G[j];
        ug -= u * G[j];
    }
    *norm = sqrt(uu);
    *cosine = uu > 0 && gg > 0 ? ug / (sqrt(uu) * sqrt(gg)) : 0.0;
}

/* Steps of the trace: W_k kept in W0, the step gradient in G, then the
 * step itself from the same forward pass. */
static flp_status trace_steps(flp_lifetime *lt, float *W0, float *G, int n_plastic, double *norm, double *cosine)
{
    int64_t B = lt->batch;
    for (int64_t k = 0; k < lt->K; k++) {
        memcpy(W0, lt->W, (size_t)lt->n_state * sizeof *W0);
        flp__lt_forward(lt, lt->W, B, flp__lt_step_x(lt, k), lt->s.acts);
        flp__lt_step_gradient(lt, k, lt->W, G, lt->s.acts);
        FLP__TRY(flp__lt_step(lt, k, lt->W, NULL, lt->s.acts, 1));
        int j = 0;
        for (int i = 0; i < lt->n; i++) {
            if (!lt->layer[i].plastic)
                continue;
            double nm, cs;
            measure_update(&lt->layer[i], W0, lt->W, G, &nm, &cs);
            if (norm)
                norm[k * n_plastic + j] = nm;
            if (cosine)
                cosine[k * n_plastic + j] = cs;
            j++;
        }
    }
    return FLP_OK;
}

flp_status flp_analysis_update_trace(flp_lifetime *lt, const flp_episode *ep, int64_t steps, int n_plastic,
                                     double *norm, double *cosine)
{
    FLP__CHECK_NULL(lt);
    FLP__CHECK_NULL(ep);
    FLP__TRY(flp__lt_begin(lt, ep));
    FLP__TRY(check_steps(lt, steps, __func__));
    if (n_plastic != lt->n_plastic)
        return flp__error(FLP_ERR_SHAPE, "%s: the rule has %d plastic layers, n_plastic = %d", __func__,
                          lt->n_plastic, n_plastic);
    float *W0 = flp__alloc_floats(2 * (lt->n_state > 0 ? lt->n_state : 1), "update trace");
    if (W0 == NULL)
        return FLP_ERR_NOMEM;
    flp_status st = trace_steps(lt, W0, W0 + lt->n_state, n_plastic, norm, cosine);
    flp__free(W0);
    lt->have_run = st == FLP_OK;
    return st;
}

/* ---- interference ------------------------------------------------------------------ */

static double mean_sq_change(int64_t n, const float *a, const float *b)
{
    double s = 0;
    for (int64_t j = 0; j < n; j++)
        s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    return n > 0 ? s / (double)n : 0.0;
}

/* Task by task: outputs on the earlier tasks' inputs before and after. */
static flp_status interference_steps(flp_lifetime *lt, int64_t S, int64_t T, float *before, float *after,
                                     double *out)
{
    int64_t rows_per_task = S * lt->batch, out_last = lt->n - 1;
    for (int64_t t = 0; t < T; t++) {
        int64_t rows = t * rows_per_task;
        if (rows > 0)
            flp__lt_activity(lt, lt->W, (int)out_last, rows, lt->x, before);
        for (int64_t k = t * S; k < (t + 1) * S; k++)
            FLP__TRY(flp__lt_step(lt, k, lt->W, NULL, NULL, 0));
        if (rows > 0)
            flp__lt_activity(lt, lt->W, (int)out_last, rows, lt->x, after);
        out[t] = mean_sq_change(rows * lt->n_final, before, after);
    }
    return FLP_OK;
}

flp_status flp_analysis_interference(flp_lifetime *lt, const flp_episode *ep, int64_t steps_per_task,
                                     int64_t n_tasks, double *out)
{
    FLP__CHECK_NULL(lt);
    FLP__CHECK_NULL(ep);
    FLP__CHECK_NULL(out);
    if (steps_per_task < 1 || n_tasks < 1)
        return flp__error(FLP_ERR_RANGE, "%s: steps_per_task = %lld and n_tasks = %lld must be >= 1", __func__,
                          (long long)steps_per_task, (long long)n_tasks);
    FLP__TRY(flp__lt_begin(lt, ep));
    if (lt->K != steps_per_task * n_tasks)
        return flp__error(FLP_ERR_SHAPE, "%s: the episode has %lld steps, not %lld tasks x %lld steps", __func__,
                          (long long)lt->K, (long long)n_tasks, (long long)steps_per_task);
    int64_t n = (n_tasks - 1) * steps_per_task * lt->batch * lt->n_final;
    float *before = flp__alloc_floats(2 * (n > 0 ? n : 1), "interference outputs");
    if (before == NULL)
        return FLP_ERR_NOMEM;
    flp_status st = interference_steps(lt, steps_per_task, n_tasks, before, before + n, out);
    flp__free(before);
    lt->have_run = st == FLP_OK;
    return st;
}

/* ---- linear probe -------------------------------------------------------------------- */

/* Solve A x = b in place (b becomes x) for symmetric positive definite A
 * [n, n], by Cholesky, for m right-hand sides b [n, m]. 0 if A is not
 * positive definite. */
static int cholesky_solve(int64_t n, double *A, int64_t m, double *b)
{
    for (int64_t j = 0; j < n; j++) {
        double d = A[j * n + j];
        for (int64_t k = 0; k < j; k++)
            d -= A[j * n + k] * A[j * n + k];
        if (!(d > 0))
            return 0;
        A[j * n + j] = sqrt(d);
        for (int64_t i = j + 1; i < n; i++) {
            double s = A[i * n + j];
            for (int64_t k = 0; k < j; k++)
                s -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = s / A[j * n + j];
        }
    }
    for (int64_t c = 0; c < m; c++) {
        for (int64_t i = 0; i < n; i++) { /* L z = b */
            double s = b[i * m + c];
            for (int64_t k = 0; k < i; k++)
                s -= A[i * n + k] * b[k * m + c];
            b[i * m + c] = s / A[i * n + i];
        }
        for (int64_t i = n - 1; i >= 0; i--) { /* L^T x = z */
            double s = b[i * m + c];
            for (int64_t k = i + 1; k < n; k++)
                s -= A[k * n + i] * b[k * m + c];
            b[i * m + c] = s / A[i * n + i];
        }
    }
    return 1;
}

/* MSE of the readout w [p = nh + 1, m] (w column o: weights, then bias) on
 * features H [rows, nh] against Y [rows, m]. */
static double readout_mse(int64_t rows, int64_t nh, int64_t m, const float *H, const double *w, const float *Y)
{
    double s = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < m; o++) {
            double yhat = w[nh * m + o];
            for (int64_t f = 0; f < nh; f++)
                yhat += (double)H[r * nh + f] * w[f * m + o];
            double e = yhat - Y[r * m + o];
            s += e * e;
        }
    return s / (double)(rows * m);
}

/* The normal equations of the ridge problem, in double: the features of the
 * probe are summed over thousands of examples, more than single-precision
 * BLIS keeps exact, and the system is tiny ((nh + 1)^2). */
static void normal_equations(int64_t rows, int64_t nh, int64_t m, const float *H, const float *Y, double ridge,
                             double *A, double *b)
{
    int64_t p = nh + 1;
    memset(A, 0, (size_t)(p * p) * sizeof *A);
    memset(b, 0, (size_t)(p * m) * sizeof *b);
    for (int64_t r = 0; r < rows; r++) {
        const float *h = H + r * nh;
        for (int64_t i = 0; i < p; i++) {
            double hi = i < nh ? h[i] : 1.0;
            for (int64_t j = 0; j <= i; j++)
                A[i * p + j] += hi * (j < nh ? h[j] : 1.0);
            for (int64_t o = 0; o < m; o++)
                b[i * m + o] += hi * Y[r * m + o];
        }
    }
    /* mean squared error over rows x m outputs: each output's problem is
     * scaled by 1 / (rows m); the penalty ridge ||w||^2 by the same */
    double scale = 1.0 / (double)(rows * m);
    for (int64_t i = 0; i < p; i++) {
        for (int64_t j = 0; j <= i; j++)
            A[j * p + i] = A[i * p + j] *= scale;
        for (int64_t o = 0; o < m; o++)
            b[i * m + o] *= scale;
        if (i < nh)
            A[i * p + i] += ridge;
    }
}

static flp_status probe(flp_lifetime *lt, double ridge, float *H, double *A, double *w, double *fit_mse,
                        double *query_mse, float *readout)
{
    int below = lt->n - 2;
    int64_t nh = lt->layer[below].n_out, m = lt->n_final, p = nh + 1, rows = lt->K * lt->batch;
    flp__lt_activity(lt, lt->W, below, rows, lt->x, H);
    normal_equations(rows, nh, m, H, lt->y, ridge, A, w);
    if (!cholesky_solve(p, A, m, w))
        return flp__error(FLP_ERR_NONFINITE, "flp_analysis_linear_probe: the normal equations are not positive "
                          "definite (non-finite features?)");
    if (fit_mse)
        *fit_mse = readout_mse(rows, nh, m, H, w, lt->y);
    if (query_mse) {
        flp__lt_activity(lt, lt->W, below, lt->n_query, lt->xq, H);
        *query_mse = readout_mse(lt->n_query, nh, m, H, w, lt->yq);
    }
    if (readout)
        for (int64_t o = 0; o < m; o++)
            for (int64_t f = 0; f < p; f++)
                readout[o * p + f] = (float)w[f * m + o];
    return FLP_OK;
}

flp_status flp_analysis_linear_probe(flp_lifetime *lt, const flp_episode *ep, double ridge, double *fit_mse,
                                     double *query_mse, float *readout, int64_t count)
{
    FLP__CHECK_NULL(lt);
    FLP__CHECK_NULL(ep);
    if (!(ridge > 0) || !isfinite(ridge))
        return flp__error(FLP_ERR_RANGE, "%s: ridge must be > 0 and finite, got %g", __func__, ridge);
    if (lt->n < 2)
        return flp__error(FLP_ERR_UNSUPPORTED, "%s: the network has one linear layer: no features to probe",
                          __func__);
    FLP__TRY(flp__lt_begin(lt, ep));
    if (lt->classification)
        return flp__error(FLP_ERR_UNSUPPORTED, "%s: the probe fits a regression episode, this one is labelled",
                          __func__);
    int64_t nh = lt->layer[lt->n - 2].n_out, m = lt->n_final, p = nh + 1;
    if (readout && count != m * p)
        return flp__error(FLP_ERR_SHAPE, "%s: readout holds %lld floats, need %lld (%lld outputs x %lld)", __func__,
                          (long long)count, (long long)(m * p), (long long)m, (long long)p);
    int64_t rows = lt->K * lt->batch > lt->n_query ? lt->K * lt->batch : lt->n_query;
    float *H = flp__alloc_floats(rows * nh, "probe features");
    double *A = flp__alloc_bytes((size_t)(p * p + p * m) * sizeof *A, "probe normal equations");
    flp_status st = FLP_ERR_NOMEM;
    if (H != NULL && A != NULL)
        st = probe(lt, ridge, H, A, A + p * p, fit_mse, query_mse, readout);
    flp__free(H);
    flp__free(A);
    lt->have_run = st == FLP_OK;
    return st;
}
