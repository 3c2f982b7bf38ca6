/* fewshot_driver.h - the program behind flp-omniglot and flp-miniimagenet:
 * data, meta-training on the shared loop (progress, CSV log, checkpoints),
 * evaluation; its command line is options.c. The two programs differ only
 * in their data options and loaders. Public API only. */
#ifndef FLP_APPS_FEWSHOT_DRIVER_H
#define FLP_APPS_FEWSHOT_DRIVER_H

typedef enum { FEWSHOT_OMNIGLOT, FEWSHOT_MINIIMAGENET } fewshot_data;

/* Run the program on the command line; returns the exit status (0 done,
 * 1 library or I/O error, 2 bad command line). */
int fewshot_main(int argc, char **argv, fewshot_data data);

#endif
