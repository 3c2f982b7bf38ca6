/* plot.c - see plot.h. */
#include "plot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Start the script at p->script rendering p->png. */
static int plot_open(plot *p, const char *title, const char *xlabel, const char *ylabel, int log_y)
{
    p->f = fopen(p->script, "w");
    if (!p->f) {
        fprintf(stderr, "cannot write plot script '%s': %s\n", p->script, strerror(errno));
        return 0;
    }
    fprintf(p->f, "# gnuplot script written by a libflp example; run: gnuplot %s\n"
            "set terminal pngcairo size 1000,700 enhanced font 'sans,11'\n"
            "set output '%s'\nset title \"%s\"\nset xlabel \"%s\"\nset ylabel \"%s\"\n"
            "set key below\nset grid\n%s",
            p->script, p->png, title, xlabel, ylabel, log_y ? "set logscale y\nset format y '10^{%L}'\n" : "");
    return 1;
}

int plot_begin(plot *p, const char *out, const char *name, const char *title, const char *xlabel,
               const char *ylabel, int log_y, int errorbars)
{
    memset(p, 0, sizeof *p);
    snprintf(p->script, sizeof p->script, "%s/%s.gp", out, name);
    snprintf(p->png, sizeof p->png, "%s/%s.png", out, name);
    p->errorbars = errorbars;
    return plot_open(p, title, xlabel, ylabel, log_y);
}

int plot_begin_png(plot *p, const char *png, const char *title, const char *xlabel, const char *ylabel,
                   int log_y, int errorbars)
{
    memset(p, 0, sizeof *p);
    size_t n = strlen(png);
    int stem = n > 4 && strcmp(png + n - 4, ".png") == 0 ? (int)(n - 4) : (int)n;
    snprintf(p->script, sizeof p->script, "%.*s.gp", stem, png);
    snprintf(p->png, sizeof p->png, "%s", png);
    p->errorbars = errorbars;
    return plot_open(p, title, xlabel, ylabel, log_y);
}

void plot_command(plot *p, const char *line)
{
    if (p->f && p->n_series == 0)
        fprintf(p->f, "%s\n", line);
}

void plot_series(plot *p, const char *legend)
{
    if (!p->f || p->n_series >= 32)
        return;
    if (p->n_series > 0)
        fprintf(p->f, "EOD\n");
    snprintf(p->series[p->n_series], sizeof p->series[0], "%s", legend);
    fprintf(p->f, "$s%d << EOD\n", p->n_series++);
}

void plot_point(plot *p, double x, double y, double se)
{
    if (!p->f || p->n_series == 0)
        return;
    if (p->errorbars)
        fprintf(p->f, "%.9g %.9g %.9g\n", x, y, se);
    else
        fprintf(p->f, "%.9g %.9g\n", x, y);
}

/* Field `col` (1-based) of a CSV row as a number; 0 if it is not one. */
static int csv_field(const char *row, int col, double *v)
{
    for (int c = 1; c < col; c++) {
        row = strchr(row, ',');
        if (!row)
            return 0;
        row++;
    }
    char *end;
    *v = strtod(row, &end);
    return end != row && (*end == ',' || *end == '\n' || *end == '\0');
}

int plot_series_csv(plot *p, const char *legend, const char *csv, int x_col, int y_col)
{
    FILE *f = fopen(csv, "r");
    if (!f) {
        fprintf(stderr, "cannot read '%s' for a plot: %s\n", csv, strerror(errno));
        return 0;
    }
    plot_series(p, legend);
    char row[4096];
    for (int first = 1; fgets(row, sizeof row, f); first = 0) {
        double x, y;
        if (!first && csv_field(row, x_col, &x) && csv_field(row, y_col, &y))
            plot_point(p, x, y, 0);
    }
    fclose(f);
    return 1;
}

static int have_gnuplot(void)
{
    return system("gnuplot --version >/dev/null 2>&1") == 0;
}

int plot_end(plot *p)
{
    if (!p->f)
        return 0;
    if (p->n_series > 0)
        fprintf(p->f, "EOD\n");
    fprintf(p->f, "plot ");
    for (int i = 0; i < p->n_series; i++)
        fprintf(p->f, "%s$s%d %s title \"%s\"", i ? ", \\\n     " : "", i,
                p->errorbars ? "with yerrorlines" : "with lines lw 1.5", p->series[i]);
    fprintf(p->f, "\n");
    if (fclose(p->f) != 0) {
        fprintf(stderr, "writing plot script '%s': %s\n", p->script, strerror(errno));
        return 0;
    }
    p->f = NULL;
    if (!have_gnuplot()) {
        fprintf(stderr, "gnuplot not found: %s not drawn (install gnuplot-nox, then run gnuplot %s); "
                "the CSV is written\n", p->png, p->script);
        return 0;
    }
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "gnuplot '%s'", p->script);
    if (system(cmd) != 0) {
        fprintf(stderr, "gnuplot failed on %s\n", p->script);
        return 0;
    }
    fprintf(stderr, "plot written to %s\n", p->png);
    return 1;
}
