/* options.c - flp-sine's command line: the usage text, the option table,
 * and the defaults that depend on other options; see options.h. */
#include "options.h"

#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "sine_options.h"
#include "train_loop.h"

/* Quick configuration: meta-trains and evaluates in a few minutes on two
 * cores, and still shows meta-learning at work. */
#define QUICK_WIDTH 64
#define QUICK_EPISODES 500
#define QUICK_EVAL_RUNS 10

static void usage(FILE *f)
{
    sine_config d = sine_config_default();
    fprintf(f,
        "usage: flp-sine [options]\n"
        "Meta-train FLP on incremental sine waves, then evaluate it on fresh sinusoids.\n"
        "Network 11-W-W-W-W-W-3W-W-W-1 (relu), Oja or Hebb plasticity in the last N layers\n"
        "with direct feedback of the error (or the gradient-based baseline), Adam at the\n"
        "paper's learning rates.\n"
        "\n"
        "  --mode iid|continual   order of the inner steps (default iid)\n"
        "  --rule oja|hebb|gradient  plasticity rule (default oja); gradient = the\n"
        "                         gradient-based baseline p -= lr * dL/dp, first order\n"
        "  --inner-lr X           gradient rule: initial inner learning rates (default %g)\n"
        "  --plastic N            last N linear layers plastic (default 3 iid, 2 continual)\n"
        "  --width W              hidden width (default %lld; %d with --quick)\n"
        "  --depth D              hidden layers (default %d: five of W, one of 3W, two of W;\n"
        "                         in general all W except the third from last, 3W)\n"
        "  --episodes N           meta-steps in total (default 20000; %d with --quick), each\n"
        "                         on --meta-batch episodes\n"
        "  --meta-batch B         episodes per meta-step (default 1), run concurrently (threads)\n"
        "                         and split across MPI ranks under mpirun; their meta-gradients\n"
        "                         are averaged. The task stream does not depend on threads or\n"
        "                         ranks: a run resumes with any number of either\n"
        "  --eval-runs R          evaluation lifetimes (default 50; %d with --quick)\n"
        "  --seed S               seed of the initialisation and the task stream (default 1)\n"
        "  --threads T            threads per process (default: every CPU it may use), shared\n"
        "                         by the meta-batch's episodes and their lifetimes\n"
        "  --save FILE            write a checkpoint at the end (and every --save-every)\n"
        "  --save-every N         checkpoint every N meta-steps (default 0: only at the end)\n"
        "  --load FILE            resume from a checkpoint written with the same options\n"
        "  --log FILE.csv         per-meta-step log: episode,meta_loss,seconds (episode = the\n"
        "                         meta-step, meta_loss = the mean over its meta-batch, seconds\n"
        "                         = wall time since the start of this run); appended to when\n"
        "                         resuming\n"
        "  --memory-mib M         lifetime memory budget in MiB (default: library default,\n"
        "                         512; 0 = unlimited)\n"
        "  --steps-per-task S     batches per sinusoid (default %lld)\n"
        "  --batch B              examples per batch (default %lld)\n"
        "  --progress-every N     progress line every N meta-steps (default 0: every 10 s)\n"
        "  --lr-weights X         Adam rate of initial weights and biases (default %g, x0.3\n"
        "                         at meta-steps 1500, 2500, 3500)\n"
        "  --lr-feedback X        Adam rate of feedback weights (default %g)\n"
        "  --lr-plasticity X      Adam rate of plasticity coefficients (default %g)\n"
        "  --lr-strength X        Adam rate of feedback strengths (default %g)\n"
        "  --quick                small run: width %d, %d episodes, %d evaluation runs\n"
        "  --help                 this text\n"
        "\n"
        "Prints `eval_mse_untrained MEAN SE` before training from scratch and\n"
        "`eval_mse MEAN SE` (query MSE, mean and standard error over R runs) last.\n"
        "A meta-step whose lifetime or gradient is not finite is reported and skipped;\n"
        "%d in a row stop the run (exit 1).\n"
        "Under mpirun (MPI build, -Dmpi=enabled) every rank takes the same options; rank 0\n"
        "prints, logs and writes the checkpoints.\n",
        d.inner_lr, (long long)d.width, QUICK_WIDTH, d.depth, QUICK_EPISODES, QUICK_EVAL_RUNS,
        (long long)d.batches_per_task, (long long)d.batch, d.lr_weights, d.lr_feedback,
        d.lr_plasticity, d.lr_strength, QUICK_WIDTH, QUICK_EPISODES, QUICK_EVAL_RUNS,
        TRAIN_MAX_CONSECUTIVE_SKIPS);
}

enum { OPT_EVAL_RUNS = 256, OPT_META_BATCH };

static void parse_option(void *ctx, int c, const char *name, const char *arg)
{
    options *o = ctx;
    switch (c) {
    case SINE_OPTION: sine_option_parse(&o->cfg, name, arg); break;
    case RUN_OPTION: run_option_parse(&o->run, name, arg); break;
    case OPT_EVAL_RUNS: o->eval_runs = cli_parse_long("eval-runs", arg, 1, 1L << 30); break;
    case OPT_META_BATCH: o->meta_batch = (int)cli_parse_long("meta-batch", arg, 1, 1L << 20); break;
    }
}

static const struct option long_options[] = {
    {"mode", required_argument, NULL, SINE_OPTION},
    {"rule", required_argument, NULL, SINE_OPTION},
    {"plastic", required_argument, NULL, SINE_OPTION},
    {"width", required_argument, NULL, SINE_OPTION},
    {"depth", required_argument, NULL, SINE_OPTION},
    {"episodes", required_argument, NULL, RUN_OPTION},
    {"eval-runs", required_argument, NULL, OPT_EVAL_RUNS},
    {"seed", required_argument, NULL, RUN_OPTION},
    {"threads", required_argument, NULL, RUN_OPTION},
    {"save", required_argument, NULL, RUN_OPTION},
    {"save-every", required_argument, NULL, RUN_OPTION},
    {"load", required_argument, NULL, RUN_OPTION},
    {"log", required_argument, NULL, RUN_OPTION},
    {"memory-mib", required_argument, NULL, SINE_OPTION},
    {"steps-per-task", required_argument, NULL, SINE_OPTION},
    {"batch", required_argument, NULL, SINE_OPTION},
    {"progress-every", required_argument, NULL, RUN_OPTION},
    {"lr-weights", required_argument, NULL, SINE_OPTION},
    {"lr-feedback", required_argument, NULL, SINE_OPTION},
    {"lr-plasticity", required_argument, NULL, SINE_OPTION},
    {"inner-lr", required_argument, NULL, SINE_OPTION},
    {"lr-strength", required_argument, NULL, SINE_OPTION},
    {"meta-batch", required_argument, NULL, OPT_META_BATCH},
    {"quick", no_argument, NULL, RUN_OPTION},
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0},
};

/* Defaults that depend on other options are resolved after parsing: -1
 * marks "not given". */
options parse_args(int argc, char **argv, ranks who)
{
    cli_init("flp-sine", usage);
    options o = {.cfg = sine_config_default(), .run = {.episodes = -1, .seed = 1}, .eval_runs = -1,
                 .meta_batch = 1, .who = who};
    o.cfg.width = -1;
    o.cfg.plastic = -1;
    if (cli_parse_options(argc, argv, long_options, parse_option, &o) < argc)
        cli_bad_usage("unexpected argument '%s'", argv[optind]);
    if (o.cfg.width < 0)
        o.cfg.width = o.run.quick ? QUICK_WIDTH : SINE_WIDTH;
    if (o.cfg.plastic < 0)
        o.cfg.plastic = o.cfg.order == FLP_ORDER_IID ? 3 : 2;
    if (o.run.episodes < 0)
        o.run.episodes = o.run.quick ? QUICK_EPISODES : 20000;
    if (o.eval_runs < 0)
        o.eval_runs = o.run.quick ? QUICK_EVAL_RUNS : 50;
    return o;
}
