/* compare_analysis.h - flp-compare's Figure-2 analyses of one trained run,
 * through the library's flp_analysis calls, averaged over evaluation
 * episodes, and their CSVs and plots. Public API only. */
#ifndef FLP_APPS_COMPARE_ANALYSIS_H
#define FLP_APPS_COMPARE_ANALYSIS_H

#include <stdint.h>

#include "sine_model.h"

/* Mean and standard error of n quantities over runs. */
typedef struct {
    int64_t n;
    long runs;
    double *sum, *sumsq;
} stats;

typedef struct {
    const char *method;     /* file-name stem of the method */
    const char *legend;     /* its name in plots */
    int continual;
    int n_plastic, n_linear;
    int64_t steps;
    stats norm, cosine;     /* [steps * n_plastic] (2D, 2C) */
    stats interference;     /* [SINE_TASKS], continual runs only (2B) */
    stats probe;            /* [2]: fit and query MSE of the linear probe (2A) */
} run_analysis;

/* Analyse the trained model m of a run configured by cfg on `runs` fresh
 * evaluation episodes from `seed` (i.i.d. ones for the probe). */
void analysis_run(run_analysis *a, const sine_config *cfg, const sine_model *m, uint64_t seed, long runs,
                  double ridge, flp_episode *ep);
void analysis_free(run_analysis *a);

/* OUT/probe.csv, OUT/interference.csv, OUT/updates.csv and the plots
 * OUT/interference.png, OUT/alignment.png, OUT/magnitude.png (continual
 * runs; alignment and magnitude for the methods named in `traced`); the
 * probe table also to stdout. */
void analysis_write(const char *out, const run_analysis *runs, int n, const char *const *traced, int n_traced);

#endif
