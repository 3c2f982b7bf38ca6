/* options.h - flp-rules' command line (options.c): what a run is given,
 * every default resolved, and the names of the rule's terms. */
#ifndef FLP_APPS_RULES_OPTIONS_H
#define FLP_APPS_RULES_OPTIONS_H

#include <stdint.h>

#include <flp/flp.h>

#define MAX_HIDDEN 8
#define N_TERMS 3

/* The terms' names in --terms, the output lines and the CSV header:
 * pg (pseudo-gradient), eh (error-Hebbian), oja. */
extern const char *const term_names[N_TERMS];

typedef struct {
    const char *data, *omniglot, *save, *load, *csv, *png;
    int symmetric, terms, quick, threads;
    long episodes, eval_episodes, ways, shots, query, n_hidden, hidden[MAX_HIDDEN];
    double lr, l1, theta[N_TERMS];
    uint64_t seed;
} options;

/* flp-rules' command line (cli_init is called here). --help prints the
 * usage and exits 0; a bad command line ends the program with status 2
 * (cli_bad_usage). */
options parse_args(int argc, char **argv);

#endif
