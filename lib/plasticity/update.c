/* update.c - fused plasticity update kernels (see update.h). */
#include "plasticity/update.h"

#include "core/gemm.h"
#include "core/threads.h"
#include "flp/flp_plasticity.h"

/* Below this many weights a parallel region costs more than the pass (and
 * spinning threads hurt badly on a loaded machine). */
#define FLP__PARALLEL_MIN 16384

/* a_inc is 1 (per-synapse alpha row) or 0 (one alpha for the row); callers
 * pass literals so the compiler specialises and vectorises each case. */
static inline int update_row(int64_t cols, float m, const float *restrict a, int a_inc,
                             const float *restrict P, float sq, float *restrict W, float *restrict saved)
{
    int bad = 0;
#pragma omp simd reduction(| : bad)
    for (int64_t c = 0; c < cols; c++) {
        float w0 = W[c], w = w0 + m * a[c * a_inc] * (P[c] - sq * w0);
        if (saved != NULL) /* a loop invariant: the compiler unswitches it */
            saved[c] = w0;
        W[c] = w;
        bad |= (w - w) != (w - w); /* NaN exactly when w is NaN or infinite; vectorises, unlike isfinite */
    }
    return bad;
}

int flp__plastic_update(int64_t rows, int64_t cols, float m, const float *alpha, int granularity,
                        const float *P, const float *sq, float *W, float *saved)
{
    int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static) num_threads(flp__num_threads()) \
    if (rows * cols >= FLP__PARALLEL_MIN && !flp__in_parallel())
    for (int64_t r = 0; r < rows; r++) {
        float s = sq ? sq[r] : 0.0f;
        const float *Pr = P + r * cols;
        float *Wr = W + r * cols, *Sr = saved ? saved + r * cols : NULL;
        if (granularity == FLP_GRANULARITY_SYNAPSE)
            bad |= update_row(cols, m, alpha + r * cols, 1, Pr, s, Wr, Sr);
        else
            bad |= update_row(cols, m, granularity == FLP_GRANULARITY_NEURON ? alpha + r : alpha, 0,
                              Pr, s, Wr, Sr);
    }
    return bad;
}

/* One row of the reverse pass. ga_inc = 1 accumulates per synapse into ga;
 * ga_inc = 0 returns the row's alpha-gradient sum instead. */
static inline double vjp_row(int64_t cols, float m, const float *restrict a, int a_inc, float sq,
                             const float *restrict W, float *restrict PG, float *restrict Wbar,
                             float *restrict ga, int ga_inc, float *sqbar)
{
    double alpha_sum = 0.0, sq_sum = 0.0;
    /* simd reductions: a fixed, compile-time summation order, the same for any thread count */
#pragma omp simd reduction(+ : alpha_sum, sq_sum)
    for (int64_t c = 0; c < cols; c++) {
        float wb = Wbar[c], w = W[c];
        float du = m * wb * (PG[c] - sq * w);
        float g = m * a[c * a_inc] * wb;
        if (ga_inc)
            ga[c] += du;
        else
            alpha_sum += du;
        sq_sum += (double)g * w;
        PG[c] = g;
        Wbar[c] = wb - g * sq;
    }
    if (sqbar)
        *sqbar = (float)-sq_sum;
    return alpha_sum;
}

void flp__plastic_update_vjp(int64_t rows, int64_t cols, float m, const float *alpha,
                             int granularity, const float *sq, const float *W, float *PG,
                             float *Wbar, float *galpha, float *sqbar, double *row_sum)
{
#pragma omp parallel for schedule(static) num_threads(flp__num_threads()) \
    if (rows * cols >= FLP__PARALLEL_MIN && !flp__in_parallel())
    for (int64_t r = 0; r < rows; r++) {
        float s = sq ? sq[r] : 0.0f;
        float *sb = sq ? sqbar + r : NULL;
        int64_t o = r * cols;
        if (granularity == FLP_GRANULARITY_SYNAPSE)
            row_sum[r] = vjp_row(cols, m, alpha + o, 1, s, W + o, PG + o, Wbar + o, galpha + o, 1, sb);
        else
            row_sum[r] = vjp_row(cols, m, granularity == FLP_GRANULARITY_NEURON ? alpha + r : alpha,
                                 0, s, W + o, PG + o, Wbar + o, NULL, 0, sb);
    }
    if (granularity == FLP_GRANULARITY_NEURON) {
        for (int64_t r = 0; r < rows; r++)
            galpha[r] += (float)row_sum[r];
    } else if (granularity == FLP_GRANULARITY_LAYER) {
        double total = 0.0;
        for (int64_t r = 0; r < rows; r++)
            total += row_sum[r];
        galpha[0] += (float)total;
    }
}
