/* mean_se.c - see mean_se.h. */
#include "mean_se.h"

#include <math.h>

void mean_se_add(mean_se *s, double v)
{
    s->sum += v;
    s->sumsq += v * v;
    s->n++;
}

void mean_se_get(const mean_se *s, double *mean, double *se)
{
    double n = (double)s->n;
    double var = s->n > 1 ? (s->sumsq - s->sum * s->sum / n) / (n - 1) : 0;
    *mean = s->sum / n;
    *se = sqrt(var > 0 ? var : 0) / sqrt(n);
}
