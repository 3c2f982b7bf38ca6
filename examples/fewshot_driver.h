/* fewshot_driver.h - the command-line program behind flp-omniglot and
 * flp-miniimagenet: options, data, meta-training with progress, CSV log and
 * checkpoints, evaluation. The two programs differ only in their data
 * options and loaders. Public API only. */
#ifndef FLP_EXAMPLES_FEWSHOT_DRIVER_H
#define FLP_EXAMPLES_FEWSHOT_DRIVER_H

typedef enum { FEWSHOT_OMNIGLOT, FEWSHOT_MINIIMAGENET } fewshot_data;

/* Run the program on the command line; returns the exit status (0 done,
 * 1 library or I/O error, 2 bad command line). */
int fewshot_main(int argc, char **argv, fewshot_data data);

#endif
