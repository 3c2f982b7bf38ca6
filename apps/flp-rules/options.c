/* options.c - flp-rules' command line: the usage text, the option table,
 * the lists (--terms, --theta, --hidden) and the defaults that depend on
 * the data; see options.h. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* --quick: meta-training and evaluation within 5 minutes on 2 cores (an
 * IDX episode, 50 shots, costs about three Omniglot ones, 15 shots) */
#define QUICK_EPISODES 200
#define QUICK_EPISODES_IDX 80
#define QUICK_EVAL 50

const char *const term_names[N_TERMS] = {
    [FLP_TERM_PSEUDO_GRADIENT] = "pg", [FLP_TERM_ERROR_HEBB] = "eh", [FLP_TERM_OJA] = "oja"};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: flp-rules (--data DIR | --omniglot DIR) [options]\n"
        "Meta-learn the coefficients theta of the plasticity rule\n"
        "  dW = -theta_pg e' y^T - theta_eh e' e^T + theta_oja (y' y^T - y' y'^T W)\n"
        "over fixed random feedback (feedback alignment) or symmetric feedback (backprop),\n"
        "on online few-shot episodes; the weights are drawn afresh for every lifetime.\n"
        "\n"
        "  --data DIR             IDX folder (MNIST, EMNIST, Fashion-MNIST): train-images-idx3-ubyte,\n"
        "                         train-labels-idx1-ubyte and the t10k- pair, raw or .gz; train\n"
        "                         episodes come from the train pair, evaluation from t10k\n"
        "  --omniglot DIR         an Omniglot folder (e.g. images_background_small1) at 28x28;\n"
        "                         the first 3 alphabets train, the others evaluate\n"
        "  --feedback fixed|symmetric  fixed random B (default) or B = W (backprop)\n"
        "  --terms LIST           comma-separated terms among pg, eh, oja (default pg,eh,oja)\n"
        "  --theta A,B,C          initial theta_pg, theta_eh, theta_oja (default 0.03,0,0.01)\n"
        "  --episodes N           meta-training episodes (default 600; %d with --quick, %d with\n"
        "                         --quick --data;"
        " 0 = evaluate the rule as initialised)\n"
        "  --eval-episodes N      evaluation episodes (default 100; %d with --quick)\n"
        "  --ways M               classes per episode (default 5)\n"
        "  --shots K              training examples per class, shown one at a time\n"
        "                         (default 50 with --data, 15 with --omniglot)\n"
        "  --query Q              query examples per class (default 10 with --data, 5 with --omniglot)\n"
        "  --hidden LIST          hidden widths (default 170,130,100,70; softplus, beta 10)\n"
        "  --lr X                 Adam learning rate of theta (default 1e-3)\n"
        "  --l1 X                 L1 penalty on theta (default 0)\n"
        "  --seed S               seed of B, the episodes and the weight draws (default 1)\n"
        "  --threads T            threads (default 1: steps of one example are too small to share;\n"
        "                         2 threads ran 2.5x slower on the 2-core development machine)\n"
        "  --save FILE            write a checkpoint at the end\n"
        "  --load FILE            resume from a checkpoint written with the same options\n"
        "  --csv FILE             per-episode log (default flp-rules.csv)\n"
        "  --png FILE             plot of theta's trajectories (default flp-rules.png; needs gnuplot)\n"
        "  --quick                %d meta-training episodes (fewer with --data) and %d evaluation episodes\n"
        "  --help                 this text\n",
        QUICK_EPISODES, QUICK_EPISODES_IDX, QUICK_EVAL, QUICK_EPISODES, QUICK_EVAL);
}

enum {
    OPT_DATA = 256, OPT_OMNIGLOT, OPT_FEEDBACK, OPT_TERMS, OPT_THETA, OPT_EPISODES, OPT_EVAL, OPT_WAYS,
    OPT_SHOTS, OPT_QUERY, OPT_HIDDEN, OPT_LR, OPT_L1, OPT_SEED, OPT_THREADS, OPT_SAVE, OPT_LOAD, OPT_CSV,
    OPT_PNG, OPT_QUICK
};

static int parse_terms(const char *arg)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    int mask = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int t = 0;
        while (t < N_TERMS && strcmp(tok, term_names[t]) != 0)
            t++;
        if (t == N_TERMS)
            cli_bad_usage("--terms: unknown term '%s' (pg, eh, oja)", tok);
        mask |= 1 << t;
    }
    if (mask == 0)
        cli_bad_usage("--terms needs at least one term");
    return mask;
}

/* "a,b,c" into at most `max` numbers; returns how many. */
static long parse_list(const char *name, const char *arg, double *dst, long max)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    long n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == max)
            cli_bad_usage("--%s takes at most %ld values", name, max);
        char *end;
        errno = 0;
        dst[n] = strtod(tok, &end);
        if (errno || *end || !isfinite(dst[n]))
            cli_bad_usage("--%s: '%s' is not a number", name, tok);
        n++;
    }
    return n;
}

static void parse_option(void *ctx, int c, const char *name, const char *arg)
{
    options *o = ctx;
    double v[MAX_HIDDEN];
    (void)name;
    switch (c) {
    case OPT_DATA: o->data = arg; break;
    case OPT_OMNIGLOT: o->omniglot = arg; break;
    case OPT_FEEDBACK:
        if (strcmp(arg, "fixed") && strcmp(arg, "symmetric"))
            cli_bad_usage("--feedback is fixed or symmetric, not '%s'", arg);
        o->symmetric = strcmp(arg, "symmetric") == 0;
        break;
    case OPT_TERMS: o->terms = parse_terms(arg); break;
    case OPT_THETA:
        if (parse_list("theta", arg, o->theta, N_TERMS) != N_TERMS)
            cli_bad_usage("--theta takes %d values", N_TERMS);
        break;
    case OPT_EPISODES: o->episodes = cli_parse_long("episodes", arg, 0, 1L << 40); break;
    case OPT_EVAL: o->eval_episodes = cli_parse_long("eval-episodes", arg, 1, 1L << 30); break;
    case OPT_WAYS: o->ways = cli_parse_long("ways", arg, 2, 1000); break;
    case OPT_SHOTS: o->shots = cli_parse_long("shots", arg, 1, 100000); break;
    case OPT_QUERY: o->query = cli_parse_long("query", arg, 1, 100000); break;
    case OPT_HIDDEN:
        o->n_hidden = parse_list("hidden", arg, v, MAX_HIDDEN);
        for (long i = 0; i < o->n_hidden; i++) {
            if (v[i] < 1 || v[i] > 1 << 20 || v[i] != floor(v[i]))
                cli_bad_usage("--hidden: widths are integers in [1, %d]", 1 << 20);
            o->hidden[i] = (long)v[i];
        }
        break;
    case OPT_LR: o->lr = cli_parse_rate("lr", arg); break;
    case OPT_L1: o->l1 = cli_parse_rate("l1", arg); break;
    case OPT_SEED: o->seed = (uint64_t)cli_parse_long("seed", arg, 0, 1L << 52); break;
    case OPT_THREADS: o->threads = (int)cli_parse_long("threads", arg, 1, 4096); break;
    case OPT_SAVE: o->save = arg; break;
    case OPT_LOAD: o->load = arg; break;
    case OPT_CSV: o->csv = arg; break;
    case OPT_PNG: o->png = arg; break;
    case OPT_QUICK: o->quick = 1; break;
    }
}

static const struct option long_options[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"omniglot", required_argument, NULL, OPT_OMNIGLOT},
    {"feedback", required_argument, NULL, OPT_FEEDBACK},
    {"terms", required_argument, NULL, OPT_TERMS},
    {"theta", required_argument, NULL, OPT_THETA},
    {"episodes", required_argument, NULL, OPT_EPISODES},
    {"eval-episodes", required_argument, NULL, OPT_EVAL},
    {"ways", required_argument, NULL, OPT_WAYS},
    {"shots", required_argument, NULL, OPT_SHOTS},
    {"query", required_argument, NULL, OPT_QUERY},
    {"hidden", required_argument, NULL, OPT_HIDDEN},
    {"lr", required_argument, NULL, OPT_LR},
    {"l1", required_argument, NULL, OPT_L1},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"save", required_argument, NULL, OPT_SAVE},
    {"load", required_argument, NULL, OPT_LOAD},
    {"csv", required_argument, NULL, OPT_CSV},
    {"png", required_argument, NULL, OPT_PNG},
    {"quick", no_argument, NULL, OPT_QUICK},
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0},
};

options parse_args(int argc, char **argv)
{
    cli_init("flp-rules", usage);
    options o = {.terms = (1 << N_TERMS) - 1, .episodes = -1, .eval_episodes = -1, .ways = 5, .shots = -1,
                 .query = -1, .n_hidden = 4, .hidden = {170, 130, 100, 70}, .lr = 1e-3,
                 .theta = {0.03, 0, 0.01}, .seed = 1, .threads = 1, .csv = "flp-rules.csv",
                 .png = "flp-rules.png"};
    if (cli_parse_options(argc, argv, long_options, parse_option, &o) < argc)
        cli_bad_usage("unexpected argument '%s'", argv[optind]);
    if (!o.data == !o.omniglot)
        cli_bad_usage("give one of --data DIR or --omniglot DIR");
    if (o.shots < 0)
        o.shots = o.data ? 50 : 15;
    if (o.query < 0)
        o.query = o.data ? 10 : 5;
    if (o.episodes < 0)
        o.episodes = !o.quick ? 600 : o.data ? QUICK_EPISODES_IDX : QUICK_EPISODES;
    if (o.eval_episodes < 0)
        o.eval_episodes = o.quick ? QUICK_EVAL : 100;
    return o;
}
