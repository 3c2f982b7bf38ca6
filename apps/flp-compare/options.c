/* options.c - flp-compare's command line: the usage text, the option
 * table and the defaults; see options.h. */
#include "options.h"

#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "sine_options.h"

/* A reduced budget that fits about 40 minutes on one loaded core. */
#define DEFAULT_WIDTH 32
#define DEFAULT_EPISODES 2000

static void usage(FILE *f)
{
    sine_config d = sine_config_default();
    fprintf(f,
        "usage: flp-compare [options]\n"
        "Meta-train FLP (2 and 3 plastic layers, Oja), the gradient-based baseline (3)\n"
        "and the feature-reuse control (readout only, Oja) on incremental sine waves,\n"
        "i.i.d. and continual, on the same budget and seeds; evaluate each on fresh\n"
        "sinusoids and print the table (query MSE, mean and standard error).\n"
        "\n"
        "  --out DIR              where checkpoints and table.csv go (default flp-compare-out);\n"
        "                         runs found complete there are only evaluated, partial ones resumed\n"
        "  --width W              hidden width (default %d; the paper's is %d)\n"
        "  --episodes N           meta-training episodes per run (default %d; the paper's 20000)\n"
        "  --eval-runs R          evaluation lifetimes per run (default 50)\n"
        "  --seed S               seed of initialisations, task streams and evaluation (default 1)\n"
        "  --steps-per-task S     batches per sinusoid (default %lld)\n"
        "  --batch B              examples per batch (default %lld)\n"
        "  --inner-lr X           gradient baseline: initial inner learning rates (default %g)\n"
        "  --lr-plasticity X      Adam rate of FLP's plasticity coefficients and of the\n"
        "                         baseline's inner rates (default %g, the paper's)\n"
        "  --analysis-runs N      episodes the Figure-2 analyses average over (default 20; 0: none)\n"
        "  --probe-ridge X        ridge penalty of the linear probe (default 1e-4, > 0)\n"
        "  --threads T            threads (default: every CPU this process may use)\n"
        "  --progress-every N     progress line every N episodes (default 0: every 10 s)\n"
        "  --help                 this text\n"
        "\n"
        "Writes OUT/METHOD-MODE.ckpt for each run and OUT/table.csv\n"
        "(method,mode,rule,plastic,width,episodes,eval_runs,mse_mean,mse_se,train_seconds:\n"
        "wall seconds of training in this call, 0 for a run found complete);\n"
        "the analyses of Figure 2 of each trained run into OUT/probe.csv (linear probe of\n"
        "the initial features), OUT/interference.csv, OUT/updates.csv (per step and plastic\n"
        "layer: update norm and cosine with the negative step gradient) and, with gnuplot,\n"
        "OUT/interference.png, OUT/alignment.png, OUT/magnitude.png (FLP 3 vs gradient 3).\n",
        DEFAULT_WIDTH, SINE_WIDTH, DEFAULT_EPISODES, (long long)d.batches_per_task, (long long)d.batch,
        d.inner_lr, d.lr_plasticity);
}

enum { OPT_OUT = 256, OPT_EVAL_RUNS, OPT_ANALYSIS_RUNS, OPT_RIDGE };

static void parse_option(void *ctx, int c, const char *name, const char *arg)
{
    options *o = ctx;
    switch (c) {
    case SINE_OPTION: sine_option_parse(&o->cfg, name, arg); break;
    case RUN_OPTION: run_option_parse(&o->run, name, arg); break;
    case OPT_OUT: o->out = arg; break;
    case OPT_EVAL_RUNS: o->eval_runs = cli_parse_long("eval-runs", arg, 1, 1L << 30); break;
    case OPT_ANALYSIS_RUNS: o->analysis_runs = cli_parse_long("analysis-runs", arg, 0, 1L << 30); break;
    case OPT_RIDGE:
        o->ridge = cli_parse_rate("probe-ridge", arg);
        if (!(o->ridge > 0))
            cli_bad_usage("--probe-ridge must be > 0");
        break;
    }
}

static const struct option long_options[] = {
    {"out", required_argument, NULL, OPT_OUT},
    {"width", required_argument, NULL, SINE_OPTION},
    {"episodes", required_argument, NULL, RUN_OPTION},
    {"eval-runs", required_argument, NULL, OPT_EVAL_RUNS},
    {"seed", required_argument, NULL, RUN_OPTION},
    {"steps-per-task", required_argument, NULL, SINE_OPTION},
    {"batch", required_argument, NULL, SINE_OPTION},
    {"inner-lr", required_argument, NULL, SINE_OPTION},
    {"lr-plasticity", required_argument, NULL, SINE_OPTION},
    {"threads", required_argument, NULL, RUN_OPTION},
    {"progress-every", required_argument, NULL, RUN_OPTION},
    {"analysis-runs", required_argument, NULL, OPT_ANALYSIS_RUNS},
    {"probe-ridge", required_argument, NULL, OPT_RIDGE},
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0},
};

options parse_args(int argc, char **argv)
{
    cli_init("flp-compare", usage);
    options o = {.cfg = sine_config_default(), .run = {.episodes = DEFAULT_EPISODES, .seed = 1}, .eval_runs = 50,
                 .analysis_runs = 20, .ridge = 1e-4, .out = "flp-compare-out"};
    o.cfg.width = DEFAULT_WIDTH;
    if (cli_parse_options(argc, argv, long_options, parse_option, &o) < argc)
        cli_bad_usage("unexpected argument '%s'", argv[optind]);
    return o;
}
