/* mean_se.h - mean and standard error of a stream of numbers, for the
 * programs' evaluation lines (`eval_... MEAN SE`). */
#ifndef FLP_APPS_MEAN_SE_H
#define FLP_APPS_MEAN_SE_H

typedef struct {
    double sum, sumsq;
    long n;
} mean_se;

/* Start empty: mean_se s = {0}. */
void mean_se_add(mean_se *s, double v);

/* The mean of the values added and its standard error (0 for one value;
 * a variance that rounding leaves below 0 counts as 0). */
void mean_se_get(const mean_se *s, double *mean, double *se);

#endif
