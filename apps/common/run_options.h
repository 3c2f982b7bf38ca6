/* run_options.h - the command-line options of a meta-training run that
 * flp-sine, flp-compare and the few-shot programs take alike (--episodes,
 * --seed, --threads, --save, --save-every, --load, --log,
 * --progress-every, --quick). A program lists those it offers in its
 * getopt_long table with the value RUN_OPTION and hands them here by name,
 * so that each is parsed, and range-checked, in one place. */
#ifndef FLP_APPS_RUN_OPTIONS_H
#define FLP_APPS_RUN_OPTIONS_H

#include <stdint.h>

/* getopt_long's value for the options below (above every program's own). */
#define RUN_OPTION 1001

typedef struct {
    long episodes;          /* meta-steps in total */
    long save_every;        /* checkpoint every N meta-steps; 0: only at the end */
    long progress_every;    /* progress line every N meta-steps; 0: every 10 s */
    uint64_t seed;
    int threads;            /* 0: BLIS's own setting */
    int quick;
    const char *save, *load, *log;  /* paths, or NULL */
} run_options;

/* Set r from option --NAME's argument. A bad value, or a name not among
 * the above, ends the program (cli_bad_usage). */
void run_option_parse(run_options *r, const char *name, const char *arg);

#endif
