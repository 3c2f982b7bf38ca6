/* options.h - flp-sine's command line (options.c): what a run is given,
 * every default resolved. */
#ifndef FLP_APPS_SINE_PROGRAM_OPTIONS_H
#define FLP_APPS_SINE_PROGRAM_OPTIONS_H

#include "ranks.h"
#include "run_options.h"
#include "sine_model.h"

typedef struct {
    sine_config cfg;
    run_options run;
    long eval_runs;
    int meta_batch;
    ranks who;
} options;

/* flp-sine's command line on rank `who` (cli_init is called here). --help
 * prints the usage and exits 0; a bad command line ends the program with
 * status 2 (cli_bad_usage). */
options parse_args(int argc, char **argv, ranks who);

#endif
