/* cli.c - command-line helpers; see cli.h. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "cli.h"

#include <errno.h>
#include <sched.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <flp/flp.h>

static const char *cli_prog = "";
static void (*cli_usage)(FILE *f);

void cli_init(const char *prog, void (*usage)(FILE *f))
{
    cli_prog = prog;
    cli_usage = usage;
}

const char *cli_prog_name(void)
{
    return cli_prog;
}

void cli_bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cli_prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (cli_usage)
        cli_usage(stderr);
    exit(2);
}

int cli_parse_options(int argc, char **argv, const struct option *table, cli_option_fn handle, void *ctx)
{
    int c, idx = 0;
    while ((c = getopt_long(argc, argv, "", table, &idx)) != -1) {
        if (c == CLI_HELP || c == '?') {
            if (cli_usage)
                cli_usage(c == CLI_HELP ? stdout : stderr);
            exit(c == CLI_HELP ? 0 : 2);
        }
        handle(ctx, c, table[idx].name, optarg);
    }
    return optind;
}

void cli_die_flp(const char *what)
{
    fprintf(stderr, "%s: %s failed: %s\n", cli_prog, what, flp_last_error());
    exit(1);
}

long cli_parse_long(const char *name, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        cli_bad_usage("--%s wants an integer in [%ld, %ld], got '%s'", name, lo, hi, s);
    return v;
}

double cli_parse_rate(const char *name, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || !isfinite(v))
        cli_bad_usage("--%s wants a finite number >= 0, got '%s'", name, s);
    return v;
}

static const char *const rule_names[] = {
    [FLP_RULE_OJA] = "oja", [FLP_RULE_HEBB] = "hebb", [FLP_RULE_GRADIENT] = "gradient"};

flp_rule_kind cli_parse_rule(const char *s)
{
    for (int k = 0; k < (int)(sizeof rule_names / sizeof rule_names[0]); k++)
        if (strcmp(s, rule_names[k]) == 0)
            return (flp_rule_kind)k;
    cli_bad_usage("--rule is oja, hebb or gradient, not '%s'", s);
}

const char *cli_rule_name(flp_rule_kind rule)
{
    return rule_names[rule];
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_format_duration(double s, char *buf, size_t n)
{
    long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
    if (t < 60)
        snprintf(buf, n, "%lds", t);
    else if (t < 3600)
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, n, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
}

void cli_set_threads(int requested)
{
    int n = requested;
    if (n <= 0) {
        cpu_set_t cpus;
        n = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
        if (n > FLP_MAX_THREADS)
            n = FLP_MAX_THREADS;
    }
    CLI_CHECK(flp_set_num_threads(n < 1 ? 1 : n));
}

void cli_describe_machine(void)
{
    int threads;
    CLI_CHECK(flp_get_num_threads(&threads));
    fprintf(stderr, "%s: %d thread%s, BLIS kernels %s (%s)\n", cli_prog, threads, threads == 1 ? "" : "s",
            flp_kernels(), flp_kernels_reason());
}
