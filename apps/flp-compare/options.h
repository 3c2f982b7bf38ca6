/* options.h - flp-compare's command line (options.c): what a comparison is
 * given, every default resolved. */
#ifndef FLP_APPS_COMPARE_OPTIONS_H
#define FLP_APPS_COMPARE_OPTIONS_H

#include "run_options.h"
#include "sine_model.h"

typedef struct {
    sine_config cfg;        /* shared settings; rule, plastic and order set per run */
    run_options run;        /* --episodes, --seed, --threads, --progress-every */
    long eval_runs, analysis_runs;
    double ridge;
    const char *out;
} options;

/* flp-compare's command line (cli_init is called here). --help prints the
 * usage and exits 0; a bad command line ends the program with status 2
 * (cli_bad_usage). */
options parse_args(int argc, char **argv);

#endif
