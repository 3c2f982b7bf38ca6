/* compare_analysis.c - see compare_analysis.h. */
/* flp_analysis.h is libflp's experimental API: a research program pinned
 * to its libflp. */
#define FLP_EXPERIMENTAL

#include "compare_analysis.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plot.h"

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "flp-compare: out of memory\n");
        exit(1);
    }
    return p;
}

static void stats_init(stats *s, int64_t n)
{
    s->n = n;
    s->runs = 0;
    s->sum = xcalloc((size_t)n, sizeof *s->sum);
    s->sumsq = xcalloc((size_t)n, sizeof *s->sumsq);
}

static void stats_add(stats *s, const double *v)
{
    for (int64_t j = 0; j < s->n; j++) {
        s->sum[j] += v[j];
        s->sumsq[j] += v[j] * v[j];
    }
    s->runs++;
}

static double stats_mean(const stats *s, int64_t j) { return s->runs ? s->sum[j] / (double)s->runs : NAN; }

static double stats_se(const stats *s, int64_t j)
{
    double n = (double)s->runs;
    if (s->runs < 2)
        return 0;
    double var = (s->sumsq[j] - s->sum[j] * s->sum[j] / n) / (n - 1);
    return sqrt(var > 0 ? var : 0) / sqrt(n);
}

static void stats_free(stats *s)
{
    free(s->sum);
    free(s->sumsq);
    memset(s, 0, sizeof *s);
}

void analysis_run(run_analysis *a, const sine_config *cfg, const sine_model *m, uint64_t seed, long runs,
                  double ridge, flp_episode *ep)
{
    a->continual = cfg->order == FLP_ORDER_CONTINUAL;
    a->n_plastic = cfg->plastic;
    a->n_linear = cfg->depth + 1;
    a->steps = SINE_TASKS * cfg->batches_per_task;
    int64_t cells = a->steps * a->n_plastic;
    stats_init(&a->norm, cells);
    stats_init(&a->cosine, cells);
    stats_init(&a->interference, SINE_TASKS);
    stats_init(&a->probe, 2);
    double *norm = xcalloc((size_t)cells, sizeof *norm), *cosine = xcalloc((size_t)cells, sizeof *cosine);
    double interference[SINE_TASKS];
    flp_sampler *s;
    CLI_CHECK(sine_sampler_create(cfg, seed, &s));
    for (long r = 0; r < runs; r++) {
        CLI_CHECK(flp_sampler_next(s, FLP_SPLIT_EVAL, ep));
        CLI_CHECK(flp_analysis_update_trace(m->h.lt, ep, a->steps, a->n_plastic, norm, cosine));
        stats_add(&a->norm, norm);
        stats_add(&a->cosine, cosine);
        if (a->continual) {
            CLI_CHECK(flp_analysis_interference(m->h.lt, ep, cfg->batches_per_task, SINE_TASKS, interference));
            stats_add(&a->interference, interference);
        }
    }
    flp_sampler_free(s);
    free(norm);
    free(cosine);
    /* the probe fits i.i.d. data whatever the run's order */
    sine_config iid = *cfg;
    iid.order = FLP_ORDER_IID;
    CLI_CHECK(sine_sampler_create(&iid, seed, &s));
    for (long r = 0; r < runs; r++) {
        double fit_query[2];
        CLI_CHECK(flp_sampler_next(s, FLP_SPLIT_EVAL, ep));
        CLI_CHECK(flp_analysis_linear_probe(m->h.lt, ep, ridge, &fit_query[0], &fit_query[1], NULL, 0));
        stats_add(&a->probe, fit_query);
    }
    flp_sampler_free(s);
}

void analysis_free(run_analysis *a)
{
    stats_free(&a->norm);
    stats_free(&a->cosine);
    stats_free(&a->interference);
    stats_free(&a->probe);
}

/* ---- output ------------------------------------------------------------------ */

static FILE *open_csv(const char *out, const char *name, const char *header)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "flp-compare: cannot open '%s': %s\n", path, strerror(errno));
        exit(1);
    }
    fprintf(f, "%s\n", header);
    return f;
}

static void close_csv(FILE *f, const char *out, const char *name)
{
    if (fclose(f) != 0) {
        fprintf(stderr, "flp-compare: writing '%s/%s': %s\n", out, name, strerror(errno));
        exit(1);
    }
    fprintf(stderr, "%s/%s written\n", out, name);
}

static const char *mode_name(const run_analysis *a) { return a->continual ? "continual" : "iid"; }

/* 1-based number of the linear layer in plastic column j. */
static int layer_number(const run_analysis *a, int j) { return a->n_linear - a->n_plastic + j + 1; }

static void write_probe(const char *out, const run_analysis *runs, int n)
{
    FILE *f = open_csv(out, "probe.csv", "method,mode,fit_mse_mean,fit_mse_se,query_mse_mean,query_mse_se");
    printf("\nlinear probe of the initial features (readout refit by ridge least squares on i.i.d. data)\n"
           "%-26s  %-10s  %-20s  %-20s\n", "method", "trained", "fit MSE", "query MSE");
    for (int i = 0; i < n; i++) {
        const run_analysis *a = &runs[i];
        const stats *p = &a->probe;
        fprintf(f, "%s,%s,%.9g,%.9g,%.9g,%.9g\n", a->method, mode_name(a), stats_mean(p, 0), stats_se(p, 0),
                stats_mean(p, 1), stats_se(p, 1));
        char fit[64], query[64];
        snprintf(fit, sizeof fit, "%.4f +- %.4f", stats_mean(p, 0), stats_se(p, 0));
        snprintf(query, sizeof query, "%.4f +- %.4f", stats_mean(p, 1), stats_se(p, 1));
        printf("%-26s  %-10s  %-20s  %-20s\n", a->legend, mode_name(a), fit, query);
    }
    close_csv(f, out, "probe.csv");
}

static void write_interference(const char *out, const run_analysis *runs, int n)
{
    FILE *f = open_csv(out, "interference.csv", "method,sinusoids_seen,mse_change_mean,mse_change_se");
    plot p;
    plot_begin(&p, out, "interference",
               "Interference (continual training, fresh sinusoids): change of earlier outputs",
               "sinusoids seen (the current one included)",
               "mean squared change of outputs on earlier sinusoids' data (target units^2)", 1, 1);
    for (int i = 0; i < n; i++) {
        const run_analysis *a = &runs[i];
        if (!a->continual)
            continue;
        plot_series(&p, a->legend);
        for (int t = 1; t < SINE_TASKS; t++) { /* with one sinusoid seen there is no earlier data */
            double mean = stats_mean(&a->interference, t), se = stats_se(&a->interference, t);
            fprintf(f, "%s,%d,%.9g,%.9g\n", a->method, t + 1, mean, se);
            plot_point(&p, t + 1, mean, se);
        }
    }
    close_csv(f, out, "interference.csv");
    plot_end(&p);
}

static int is_traced(const run_analysis *a, const char *const *traced, int n_traced)
{
    for (int i = 0; i < n_traced; i++)
        if (a->continual && strcmp(a->method, traced[i]) == 0)
            return 1;
    return 0;
}

/* One line per traced continual run and plastic layer: the mean over the
 * analysed episodes at each inner step. */
static void plot_trace(const char *out, const run_analysis *runs, int n, const char *const *traced, int n_traced,
                       int cosine)
{
    plot p;
    char xlabel[64];
    snprintf(xlabel, sizeof xlabel, "inner step (%lld per sinusoid)", n ? (long long)(runs[0].steps / SINE_TASKS) : 0LL);
    if (cosine) {
        plot_begin(&p, out, "alignment",
                   "Alignment of each layer's update with the negative step gradient (continual)", xlabel,
                   "cosine similarity (dimensionless)", 0, 0);
        /* the gradient rule's lines sit at 1: keep them off the border */
        plot_command(&p, "set yrange [-1.05:1.1]");
    } else {
        plot_begin(&p, out, "magnitude", "Update magnitude per layer (continual)", xlabel,
                   "Frobenius norm of the weight update ||dW|| (weight units)", 1, 0);
    }
    for (int i = 0; i < n; i++) {
        const run_analysis *a = &runs[i];
        if (!is_traced(a, traced, n_traced))
            continue;
        for (int j = 0; j < a->n_plastic; j++) {
            char legend[96];
            snprintf(legend, sizeof legend, "%s, layer %d of %d%s", a->legend, layer_number(a, j), a->n_linear,
                     j == a->n_plastic - 1 ? " (readout)" : "");
            plot_series(&p, legend);
            const stats *s = cosine ? &a->cosine : &a->norm;
            for (int64_t k = 0; k < a->steps; k++)
                plot_point(&p, (double)(k + 1), stats_mean(s, k * a->n_plastic + j), 0);
        }
    }
    plot_end(&p);
}

static void write_updates(const char *out, const run_analysis *runs, int n)
{
    FILE *f = open_csv(out, "updates.csv", "method,mode,step,layer,norm_mean,norm_se,cosine_mean,cosine_se");
    for (int i = 0; i < n; i++) {
        const run_analysis *a = &runs[i];
        for (int64_t k = 0; k < a->steps; k++)
            for (int j = 0; j < a->n_plastic; j++) {
                int64_t c = k * a->n_plastic + j;
                fprintf(f, "%s,%s,%lld,%d,%.9g,%.9g,%.9g,%.9g\n", a->method, mode_name(a), (long long)(k + 1),
                        layer_number(a, j), stats_mean(&a->norm, c), stats_se(&a->norm, c),
                        stats_mean(&a->cosine, c), stats_se(&a->cosine, c));
            }
    }
    close_csv(f, out, "updates.csv");
}

void analysis_write(const char *out, const run_analysis *runs, int n, const char *const *traced, int n_traced)
{
    write_probe(out, runs, n);
    write_interference(out, runs, n);
    write_updates(out, runs, n);
    plot_trace(out, runs, n, traced, n_traced, 1);
    plot_trace(out, runs, n, traced, n_traced, 0);
}
