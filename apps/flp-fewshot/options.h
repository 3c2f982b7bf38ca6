/* options.h - the command line of flp-omniglot and flp-miniimagenet
 * (options.c): what a run is given, every default resolved. */
#ifndef FLP_APPS_FEWSHOT_OPTIONS_H
#define FLP_APPS_FEWSHOT_OPTIONS_H

#include "fewshot_driver.h"
#include "fewshot_model.h"
#include "run_options.h"

typedef struct {
    fewshot_data data;
    const char *prog;
    fewshot_config cfg;
    const char *train_dir, *test_dir, *data_dir, *eval_split;
    long train_alphabets;
    run_options run;
    long eval_episodes;
} options;

/* The command line of `data`'s program (cli_init is called here, with its
 * name and usage text). --help prints the usage and exits 0; a bad command
 * line ends the program with status 2 (cli_bad_usage). */
options parse_args(int argc, char **argv, fewshot_data data);

#endif
