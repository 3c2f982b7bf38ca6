/* plot.h - line plots as gnuplot scripts with their data inline, rendered to
 * PNG when gnuplot is installed (Debian: gnuplot-nox). A script is written in
 * any case, so a missing gnuplot costs only the PNG, and says so. */
#ifndef FLP_APPS_PLOT_H
#define FLP_APPS_PLOT_H

#include <stdio.h>

typedef struct {
    FILE *f;
    char script[4096], png[4096];
    int n_series;
    char series[32][96];    /* legend titles */
    int errorbars;
} plot;

/* Start OUT/NAME.gp (rendering OUT/NAME.png): title, axis labels with units,
 * log scale on y if log_y. errorbars: series rows are "x y se" instead of
 * "x y". Returns 0 and says why on stderr if the script cannot be written. */
int plot_begin(plot *p, const char *out, const char *name, const char *title, const char *xlabel,
               const char *ylabel, int log_y, int errorbars);
/* The same with the PNG at `png` and the script beside it (the name with
 * .png replaced by .gp, or .gp appended). */
int plot_begin_png(plot *p, const char *png, const char *title, const char *xlabel, const char *ylabel,
                   int log_y, int errorbars);
/* A gnuplot command of the caller's (e.g. "set yrange [-0.3:1.05]"), before
 * the first series. */
void plot_command(plot *p, const char *line);
/* Start a series (its rows follow, one plot_point each); at most 32. */
void plot_series(plot *p, const char *legend);
void plot_point(plot *p, double x, double y, double se);
/* A series of the numbers in columns x_col and y_col (1-based) of every
 * row of the CSV file at `csv` after its header line (rows without both
 * are left out). Returns 0 and says why on stderr if the file cannot be
 * read. */
int plot_series_csv(plot *p, const char *legend, const char *csv, int x_col, int y_col);
/* Finish the script and run gnuplot on it; 1 if the PNG was made. */
int plot_end(plot *p);

#endif
