/* cli.h - command-line helpers shared by the programs of apps/ and the
 * flp-bench benchmark: exits with a message on a bad command line (status 2)
 * or a failed library call (status 1), number and --rule parsing with range
 * checks, a monotonic clock. Public API only. */
#ifndef FLP_APPS_CLI_H
#define FLP_APPS_CLI_H

#include <getopt.h>
#include <stdio.h>

#include <flp/flp.h>

/* The program's name, which prefixes every message ("flp-sine"), and its
 * usage text, printed to stderr after a bad command line. Call first. */
void cli_init(const char *prog, void (*usage)(FILE *f));

/* The name given to cli_init. */
const char *cli_prog_name(void);

/* "PROG: <message>", the usage text, exit 2. */
_Noreturn void cli_bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "PROG: WHAT failed: <flp_last_error()>", exit 1. */
_Noreturn void cli_die_flp(const char *what);

/* Run a library call; any status but FLP_OK ends the program. */
#define CLI_CHECK(expr)               \
    do {                              \
        if ((expr) != FLP_OK)         \
            cli_die_flp(#expr);       \
    } while (0)

/* getopt_long's value of --help; CLI_HELP_OPTION is its entry in a
 * program's table (above every program's own values). */
#define CLI_HELP 1002
#define CLI_HELP_OPTION {"help", no_argument, NULL, CLI_HELP}

/* What a program does with one of its options: `value` and `name` are its
 * table entry's, `arg` its argument (NULL for a flag). */
typedef void (*cli_option_fn)(void *ctx, int value, const char *name, const char *arg);

/* Read the command line's long options, in order, through `table` (ending
 * with a zeroed entry): --help prints the usage text to stdout and exits 0;
 * an option getopt_long refuses (unknown, or its argument missing) gets
 * getopt's message, the usage text on stderr and exit 2; every other option
 * goes to handle(ctx, ...). Returns the index in argv of the first argument
 * that is not an option. */
int cli_parse_options(int argc, char **argv, const struct option *table, cli_option_fn handle, void *ctx);

/* The integer value `s` of option --NAME, which must lie in [lo, hi]. */
long cli_parse_long(const char *name, const char *s, long lo, long hi);

/* The finite number >= 0 `s` of option --NAME. */
double cli_parse_rate(const char *name, const char *s);

/* The plasticity rule named `s` by --rule: oja, hebb or gradient. */
flp_rule_kind cli_parse_rule(const char *s);

/* The --rule name of a rule kind. */
const char *cli_rule_name(flp_rule_kind rule);

/* Set libflp's thread count to `requested`, or with 0 to the number of
 * CPUs this process may run on (sched_getaffinity: what taskset, a batch
 * scheduler or mpirun's binding leave it). */
void cli_set_threads(int requested);

/* "PROG: N threads, BLIS kernels K (why)" on stderr: the line a program
 * opens with, so that a log says what the figures were measured on. */
void cli_describe_machine(void);

/* Seconds on a monotonic clock. */
double cli_now(void);

/* A duration for a progress line: "45s", "1m05s", "2h03m". */
void cli_format_duration(double seconds, char *buf, size_t n);

#endif
