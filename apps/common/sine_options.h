/* sine_options.h - the command-line options of the sine setup
 * (sine_config) that flp-sine, flp-compare and flp-bench take alike. A
 * program lists those it offers in its getopt_long table with the value
 * SINE_OPTION and hands them here by name, so that each is parsed, and
 * range-checked, in one place. */
#ifndef FLP_APPS_SINE_OPTIONS_H
#define FLP_APPS_SINE_OPTIONS_H

#include "sine_model.h"

/* getopt_long's value for the options below (above every program's own). */
#define SINE_OPTION 1000

/* Set cfg from option --NAME's argument: mode, rule, plastic, width,
 * depth, memory-mib, steps-per-task, batch, lr-weights, lr-feedback,
 * lr-plasticity, lr-strength, inner-lr. A bad value, or a name not among
 * them, ends the program (cli_bad_usage). */
void sine_option_parse(sine_config *cfg, const char *name, const char *arg);

#endif
