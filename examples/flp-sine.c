/* flp-sine - meta-train and evaluate FLP on incremental sine waves
 * (Lindsey & Litwin-Kumar 2020, §4.1), through the public API only.
 *
 * stdout carries only results: `eval_mse_untrained MEAN SE` (when training
 * from scratch) and, last, `eval_mse MEAN SE`, each the mean over R fresh
 * evaluation sinusoid sets of the query MSE after a lifetime, with its
 * standard error. Progress and warnings go to stderr. Exit status: 0 done,
 * 1 library or I/O error, 2 bad command line. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flp/flp.h>

#include "cli.h"
#include "sine_model.h"
#include "sine_train.h"

/* Quick configuration: meta-trains and evaluates in a few minutes on two
 * cores, and still shows meta-learning at work. */
#define QUICK_WIDTH 64
#define QUICK_EPISODES 500
#define QUICK_EVAL_RUNS 10

typedef struct {
    sine_config cfg;
    long episodes, eval_runs, save_every, progress_every;
    uint64_t seed;
    int threads;
    int quick;
    const char *save, *load, *log;
} options;

/* ---- command line ----------------------------------------------------------- */

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
        "  --episodes N           meta-training episodes in total (default 20000; %d with --quick)\n"
        "  --eval-runs R          evaluation lifetimes (default 50; %d with --quick)\n"
        "  --seed S               seed of the initialisation and the task stream (default 1)\n"
        "  --threads T            BLIS threads (default: BLIS's own setting)\n"
        "  --save FILE            write a checkpoint at the end (and every --save-every)\n"
        "  --save-every N         checkpoint every N episodes (default 0: only at the end)\n"
        "  --load FILE            resume from a checkpoint written with the same options\n"
        "  --log FILE.csv         per-episode log: episode,meta_loss,seconds (wall time since\n"
        "                         the start of this run); appended to when resuming\n"
        "  --memory-mib M         lifetime memory budget in MiB (default: library default,\n"
        "                         512; 0 = unlimited)\n"
        "  --steps-per-task S     batches per sinusoid (default %lld)\n"
        "  --batch B              examples per batch (default %lld)\n"
        "  --progress-every N     progress line every N episodes (default 0: every 10 s)\n"
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
        "%d in a row stop the run (exit 1).\n",
        d.inner_lr, (long long)d.width, QUICK_WIDTH, d.depth, QUICK_EPISODES, QUICK_EVAL_RUNS,
        (long long)d.batches_per_task, (long long)d.batch, d.lr_weights, d.lr_feedback,
        d.lr_plasticity, d.lr_strength, QUICK_WIDTH, QUICK_EPISODES, QUICK_EVAL_RUNS,
        SINE_MAX_CONSECUTIVE_SKIPS);
}

static const char *const rule_names[] = {
    [FLP_RULE_OJA] = "oja", [FLP_RULE_HEBB] = "hebb", [FLP_RULE_GRADIENT] = "gradient"};

static flp_rule_kind parse_rule(const char *arg)
{
    for (int k = 0; k < (int)(sizeof rule_names / sizeof rule_names[0]); k++)
        if (strcmp(arg, rule_names[k]) == 0)
            return (flp_rule_kind)k;
    cli_bad_usage("--rule is oja, hebb or gradient, not '%s'", arg);
}

enum {
    OPT_MODE = 256, OPT_RULE, OPT_PLASTIC, OPT_WIDTH, OPT_DEPTH, OPT_EPISODES, OPT_EVAL_RUNS,
    OPT_SEED, OPT_THREADS, OPT_SAVE, OPT_SAVE_EVERY, OPT_LOAD, OPT_LOG, OPT_MEMORY, OPT_STEPS,
    OPT_BATCH, OPT_PROGRESS, OPT_LR_W, OPT_LR_FB, OPT_LR_PL, OPT_LR_ST, OPT_QUICK, OPT_HELP,
    OPT_INNER_LR
};

static const struct option long_options[] = {
    {"mode", required_argument, NULL, OPT_MODE},
    {"rule", required_argument, NULL, OPT_RULE},
    {"plastic", required_argument, NULL, OPT_PLASTIC},
    {"width", required_argument, NULL, OPT_WIDTH},
    {"depth", required_argument, NULL, OPT_DEPTH},
    {"episodes", required_argument, NULL, OPT_EPISODES},
    {"eval-runs", required_argument, NULL, OPT_EVAL_RUNS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"save", required_argument, NULL, OPT_SAVE},
    {"save-every", required_argument, NULL, OPT_SAVE_EVERY},
    {"load", required_argument, NULL, OPT_LOAD},
    {"log", required_argument, NULL, OPT_LOG},
    {"memory-mib", required_argument, NULL, OPT_MEMORY},
    {"steps-per-task", required_argument, NULL, OPT_STEPS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"progress-every", required_argument, NULL, OPT_PROGRESS},
    {"lr-weights", required_argument, NULL, OPT_LR_W},
    {"lr-feedback", required_argument, NULL, OPT_LR_FB},
    {"lr-plasticity", required_argument, NULL, OPT_LR_PL},
    {"inner-lr", required_argument, NULL, OPT_INNER_LR},
    {"lr-strength", required_argument, NULL, OPT_LR_ST},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void parse_option(options *o, int c, const char *arg)
{
    sine_config *cfg = &o->cfg;
    switch (c) {
    case OPT_MODE:
        if (strcmp(arg, "iid") && strcmp(arg, "continual"))
            cli_bad_usage("--mode is iid or continual, not '%s'", arg);
        cfg->order = strcmp(arg, "iid") ? FLP_ORDER_CONTINUAL : FLP_ORDER_IID;
        break;
    case OPT_RULE:
        cfg->rule = parse_rule(arg);
        break;
    case OPT_PLASTIC: cfg->plastic = (int)cli_parse_long("plastic", arg, 0, 1000); break;
    case OPT_WIDTH: cfg->width = cli_parse_long("width", arg, 1, 1L << 20); break;
    case OPT_DEPTH: cfg->depth = (int)cli_parse_long("depth", arg, 0, 1000); break;
    case OPT_EPISODES: o->episodes = cli_parse_long("episodes", arg, 0, 1L << 40); break;
    case OPT_EVAL_RUNS: o->eval_runs = cli_parse_long("eval-runs", arg, 1, 1L << 30); break;
    case OPT_SEED: o->seed = (uint64_t)cli_parse_long("seed", arg, 0, (1L << 62)); break;
    case OPT_THREADS: o->threads = (int)cli_parse_long("threads", arg, 1, 4096); break;
    case OPT_SAVE: o->save = arg; break;
    case OPT_SAVE_EVERY: o->save_every = cli_parse_long("save-every", arg, 0, 1L << 40); break;
    case OPT_LOAD: o->load = arg; break;
    case OPT_LOG: o->log = arg; break;
    case OPT_MEMORY: cfg->memory_mib = (double)cli_parse_long("memory-mib", arg, 0, 1L << 30); break;
    case OPT_STEPS: cfg->batches_per_task = cli_parse_long("steps-per-task", arg, 1, 1L << 20); break;
    case OPT_BATCH: cfg->batch = cli_parse_long("batch", arg, 1, 1L << 20); break;
    case OPT_PROGRESS: o->progress_every = cli_parse_long("progress-every", arg, 0, 1L << 40); break;
    case OPT_LR_W: cfg->lr_weights = cli_parse_rate("lr-weights", arg); break;
    case OPT_LR_FB: cfg->lr_feedback = cli_parse_rate("lr-feedback", arg); break;
    case OPT_LR_PL: cfg->lr_plasticity = cli_parse_rate("lr-plasticity", arg); break;
    case OPT_INNER_LR: cfg->inner_lr = cli_parse_rate("inner-lr", arg); break;
    case OPT_LR_ST: cfg->lr_strength = cli_parse_rate("lr-strength", arg); break;
    case OPT_QUICK: o->quick = 1; break;
    case OPT_HELP: usage(stdout); exit(0);
    default: usage(stderr); exit(2);
    }
}

/* Defaults that depend on other options are resolved after parsing: -1
 * marks "not given". */
static options parse_args(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    o.cfg = sine_config_default();
    o.cfg.width = -1;
    o.cfg.plastic = -1;
    o.episodes = -1;
    o.eval_runs = -1;
    o.seed = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1)
        parse_option(&o, c, optarg);
    if (optind < argc)
        cli_bad_usage("unexpected argument '%s'", argv[optind]);
    if (o.cfg.width < 0)
        o.cfg.width = o.quick ? QUICK_WIDTH : SINE_WIDTH;
    if (o.cfg.plastic < 0)
        o.cfg.plastic = o.cfg.order == FLP_ORDER_IID ? 3 : 2;
    if (o.episodes < 0)
        o.episodes = o.quick ? QUICK_EPISODES : 20000;
    if (o.eval_runs < 0)
        o.eval_runs = o.quick ? QUICK_EVAL_RUNS : 50;
    return o;
}

/* ---- running ------------------------------------------------------------------ */

static void evaluate(const options *o, flp_lifetime *lt, flp_episode *ep, double *mean, double *se)
{
    sine_evaluate(&o->cfg, o->seed, o->eval_runs, lt, ep, mean, se);
}

/* Returns 1 if the last episode's checkpoint was already written. */
static int train(const options *o, const sine_model *m, flp_episode *ep, FILE *log)
{
    sine_train_opts t = {"flp-sine", NULL, o->episodes, o->progress_every, o->save_every, o->save, log};
    return sine_train(&t, m, ep);
}

static FILE *open_log(const options *o)
{
    if (!o->log)
        return NULL;
    FILE *f = fopen(o->log, o->load ? "a" : "w");
    if (!f) {
        fprintf(stderr, "flp-sine: cannot open log '%s': %s\n", o->log, strerror(errno));
        exit(1);
    }
    fseek(f, 0, SEEK_END); /* where "a" starts is implementation-defined */
    if (ftell(f) == 0)
        fprintf(f, "episode,meta_loss,seconds\n");
    return f;
}

static void describe(const options *o)
{
    fprintf(stderr, "flp-sine %s: %s order, %s rule, last %d layers plastic, width %lld, depth %d, "
            "%ld episodes of %lldx%lld steps x batch %lld, %ld eval runs, seed %llu\n",
            flp_version(), o->cfg.order == FLP_ORDER_IID ? "iid" : "continual",
            rule_names[o->cfg.rule], o->cfg.plastic, (long long)o->cfg.width,
            o->cfg.depth, o->episodes, (long long)SINE_TASKS, (long long)o->cfg.batches_per_task,
            (long long)o->cfg.batch, o->eval_runs, (unsigned long long)o->seed);
}

int main(int argc, char **argv)
{
    cli_init("flp-sine", usage);
    options o = parse_args(argc, argv);
    if (o.threads > 0)
        CLI_CHECK(flp_set_num_threads(o.threads));
    describe(&o);

    sine_model m;
    CLI_CHECK(sine_model_create(&o.cfg, o.seed, &m));
    flp_episode *ep;
    CLI_CHECK(flp_episode_create(&ep));
    double mean, se;
    if (o.load) {
        CLI_CHECK(flp_checkpoint_load(o.load, m.meta, m.sampler));
        int64_t done;
        CLI_CHECK(flp_meta_step_count(m.meta, &done));
        fprintf(stderr, "resumed from %s after %lld meta-steps\n", o.load, (long long)done);
    } else {
        evaluate(&o, m.lt, ep, &mean, &se);
        printf("eval_mse_untrained %.6g %.3g\n", mean, se);
        fflush(stdout);
    }

    FILE *log = open_log(&o);
    int saved = train(&o, &m, ep, log);
    if (log && fclose(log) != 0) {
        fprintf(stderr, "flp-sine: writing log '%s': %s\n", o.log, strerror(errno));
        return 1;
    }
    if (o.save && !saved)
        sine_save(o.save, &m);

    evaluate(&o, m.lt, ep, &mean, &se);
    printf("eval_mse %.6g %.3g\n", mean, se);
    flp_episode_free(ep);
    sine_model_free(&m);
    return 0;
}
