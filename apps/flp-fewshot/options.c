/* options.c - the command line of flp-omniglot and flp-miniimagenet: the
 * usage text, the option table, and the defaults --quick changes; see
 * options.h. */
#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Quick configuration: meta-training and evaluation within 5 minutes on two
 * cores (28x28 images, 4 convolutions of 32 channels, width 128). */
#define QUICK_SIZE 28
#define QUICK_CHANNELS 32
#define QUICK_CONV 4
#define QUICK_WIDTH 128
#define QUICK_EPISODES 1500
#define QUICK_EVAL 100
#define QUICK_LR 1e-3
/* The paper's alpha 1e-3 with hidden updates x100 wrecks the small
 * network's hidden layers (chance error after meta-training); a faster
 * readout and slow hidden layers work. */
#define QUICK_ALPHA 0.1
#define QUICK_HIDDEN_MULT 0.01

static fewshot_data usage_data;

static void usage_data_options(FILE *f)
{
    if (usage_data == FEWSHOT_OMNIGLOT)
        fprintf(f,
            "usage: flp-omniglot --train-dir DIR [--test-dir DIR] [options]\n"
            "Meta-train FLP on online few-shot Omniglot, then evaluate it on classes never seen.\n"
            "\n"
            "Data: Omniglot in the official layout, DIR/<alphabet>/<character>/<NNNN_DD>.png\n"
            "(105x105 PNGs; e.g. images_background and images_evaluation unpacked from the\n"
            "official zips, or images_background_small1).\n"
            "  --train-dir DIR        meta-training classes\n"
            "  --test-dir DIR         evaluation classes; without it the alphabets of\n"
            "                         --train-dir are split: the first --train-alphabets (in\n"
            "                         name order) for meta-training, the others for evaluation\n"
            "  --train-alphabets N    (default: 3/5 of the alphabets, at least 1)\n");
    else
        fprintf(f,
            "usage: flp-miniimagenet --data DIR [options]\n"
            "Meta-train FLP on online few-shot Mini-ImageNet, then evaluate it on classes never seen.\n"
            "\n"
            "Data: DIR/images/*.jpg plus DIR/train.csv, DIR/val.csv, DIR/test.csv\n"
            "(`filename,label` lines, the standard 64/16/20-class split). Images are resized\n"
            "to --size and normalised with the ImageNet mean and standard deviation.\n"
            "  --data DIR             the folder above; meta-training uses train.csv\n"
            "  --eval-split val|test  classes to evaluate on (default test)\n");
}

static void usage(FILE *f)
{
    fewshot_config d = fewshot_config_default();
    usage_data_options(f);
    fprintf(f,
        "\n"
        "Network: %d 3x3 convolutions (strides 2,1,2,1,2,2, no padding, relu), frozen within a\n"
        "lifetime and meta-learned across lifetimes, then D dense hidden layers of width W\n"
        "(relu) and a readout; the last N dense layers are plastic (Oja by default, one-hot\n"
        "target feedback, output clamped to the target). Adam meta-optimizer.\n"
        "  --ways N / --shots K / --query Q  classes per episode, examples of each shown\n"
        "                         one at a time, query examples of each (default %lld/%lld/%lld)\n"
        "  --mode iid|continual   order of the examples shown (default iid)\n"
        "  --rule oja|hebb|gradient  plasticity rule (default oja); gradient = the\n"
        "                         gradient-based baseline, first order\n"
        "  --plastic N            last N dense layers plastic (default %d = all; 1 = the\n"
        "                         feature-reuse control: only the readout learns)\n"
        "  --size S               image side in pixels (default %lld; %d with --quick)\n"
        "  --channels C           channels of every convolution (default %lld; %d with --quick)\n"
        "  --conv-layers N        the first N of the six convolutions (default %d; %d with --quick)\n"
        "  --width W              dense hidden width (default %lld; %d with --quick)\n"
        "  --depth D              dense hidden layers (default %d)\n"
        "  --alpha X              initial plasticity coefficients, or inner learning rates of\n"
        "                         the gradient rule (default %g; %g with --quick)\n"
        "  --hidden-mult M        multiplier of hidden layers' plastic updates (default %g;\n"
        "                         %g with --quick)\n"
        "  --lr-weights X         Adam rate of initial weights, biases and convolutions\n"
        "                         (default %g, %g with --quick; x0.3 at meta-steps 1500/2500/3500)\n"
        "  --lr-feedback X        Adam rate of the feedback weights (default %g, %g with --quick)\n"
        "  --lr-plasticity X      Adam rate of the plasticity coefficients (default %g)\n"
        "  --episodes N           meta-training episodes in total (default 40000; %d with --quick)\n"
        "  --eval-episodes R      evaluation episodes (default 600; %d with --quick)\n"
        "  --seed S               seed of the initialisation and the episode streams (default 1)\n"
        "  --threads T            threads (default: every CPU this process may use)\n"
        "  --save FILE            write a checkpoint at the end (and every --save-every)\n"
        "  --save-every N         checkpoint every N episodes (default 0: only at the end)\n"
        "  --load FILE            resume from a checkpoint written with the same options\n"
        "  --log FILE.csv         per-episode log: episode,meta_loss,train_error_pct,seconds\n"
        "                         (wall time since the start of this run); appended to on --load\n"
        "  --memory-mib M         lifetime memory budget in MiB (default: the library's, 512)\n"
        "  --progress-every N     progress line every N episodes (default 0: every 10 s)\n"
        "  --quick                small run: meta-training and evaluation within 5 minutes on\n"
        "                         2 cores\n"
        "  --help                 this text\n"
        "\n"
        "Prints `eval_error_pct_untrained MEAN SE` before training from scratch and\n"
        "`eval_error_pct MEAN SE` (%% of query examples misclassified, mean and standard error\n"
        "over R evaluation episodes) last. Exit status: 0 done, 1 library or I/O error,\n"
        "2 bad command line.\n",
        FEWSHOT_MAX_CONV, (long long)d.ways, (long long)d.shots, (long long)d.query, d.plastic,
        (long long)d.size, QUICK_SIZE, (long long)d.channels, QUICK_CHANNELS, d.conv_layers, QUICK_CONV,
        (long long)d.width, QUICK_WIDTH, d.depth, d.alpha_init, QUICK_ALPHA, d.hidden_mult, QUICK_HIDDEN_MULT,
        d.lr_weights, QUICK_LR,
        d.lr_feedback, QUICK_LR, d.lr_plasticity, QUICK_EPISODES, QUICK_EVAL);
}

enum {
    OPT_TRAIN_DIR = 256, OPT_TEST_DIR, OPT_TRAIN_ALPHABETS, OPT_DATA, OPT_EVAL_SPLIT, OPT_WAYS, OPT_SHOTS,
    OPT_QUERY, OPT_MODE, OPT_RULE, OPT_PLASTIC, OPT_SIZE, OPT_CHANNELS, OPT_CONV, OPT_WIDTH, OPT_DEPTH,
    OPT_ALPHA, OPT_HIDDEN_MULT, OPT_LR_W, OPT_LR_FB, OPT_LR_PL, OPT_EVAL, OPT_MEMORY
};

/* Options of the other program's data are refused by name. */
static void check_data_option(const options *o, int c, const char *name)
{
    int omniglot_only = c == OPT_TRAIN_DIR || c == OPT_TEST_DIR || c == OPT_TRAIN_ALPHABETS;
    int mini_only = c == OPT_DATA || c == OPT_EVAL_SPLIT;
    if ((omniglot_only && o->data != FEWSHOT_OMNIGLOT) || (mini_only && o->data != FEWSHOT_MINIIMAGENET))
        cli_bad_usage("--%s is not an option of %s", name, o->prog);
}

static void parse_data_option(options *o, int c, const char *arg)
{
    switch (c) {
    case OPT_TRAIN_DIR: o->train_dir = arg; break;
    case OPT_TEST_DIR: o->test_dir = arg; break;
    case OPT_TRAIN_ALPHABETS: o->train_alphabets = cli_parse_long("train-alphabets", arg, 1, 1L << 20); break;
    case OPT_DATA: o->data_dir = arg; break;
    case OPT_EVAL_SPLIT:
        if (strcmp(arg, "val") && strcmp(arg, "test"))
            cli_bad_usage("--eval-split is val or test, not '%s'", arg);
        o->eval_split = arg;
        break;
    }
}

static void parse_option(void *ctx, int c, const char *name, const char *arg)
{
    options *o = ctx;
    fewshot_config *cfg = &o->cfg;
    check_data_option(o, c, name);
    switch (c) {
    case OPT_TRAIN_DIR: case OPT_TEST_DIR: case OPT_TRAIN_ALPHABETS: case OPT_DATA: case OPT_EVAL_SPLIT:
        parse_data_option(o, c, arg);
        break;
    case OPT_WAYS: cfg->ways = cli_parse_long("ways", arg, 2, 1L << 20); break;
    case OPT_SHOTS: cfg->shots = cli_parse_long("shots", arg, 1, 1L << 20); break;
    case OPT_QUERY: cfg->query = cli_parse_long("query", arg, 1, 1L << 20); break;
    case OPT_MODE:
        if (strcmp(arg, "iid") && strcmp(arg, "continual"))
            cli_bad_usage("--mode is iid or continual, not '%s'", arg);
        cfg->order = strcmp(arg, "iid") ? FLP_ORDER_CONTINUAL : FLP_ORDER_IID;
        break;
    case OPT_RULE: cfg->rule = cli_parse_rule(arg); break;
    case OPT_PLASTIC: cfg->plastic = (int)cli_parse_long("plastic", arg, 0, 1000); break;
    case OPT_SIZE: cfg->size = cli_parse_long("size", arg, 1, 1024); break;
    case OPT_CHANNELS: cfg->channels = cli_parse_long("channels", arg, 1, 1L << 16); break;
    case OPT_CONV: cfg->conv_layers = (int)cli_parse_long("conv-layers", arg, 0, FEWSHOT_MAX_CONV); break;
    case OPT_WIDTH: cfg->width = cli_parse_long("width", arg, 1, 1L << 20); break;
    case OPT_DEPTH: cfg->depth = (int)cli_parse_long("depth", arg, 0, 1000); break;
    case OPT_ALPHA: cfg->alpha_init = cli_parse_rate("alpha", arg); break;
    case OPT_HIDDEN_MULT: cfg->hidden_mult = cli_parse_rate("hidden-mult", arg); break;
    case OPT_LR_W: cfg->lr_weights = cli_parse_rate("lr-weights", arg); break;
    case OPT_LR_FB: cfg->lr_feedback = cli_parse_rate("lr-feedback", arg); break;
    case OPT_LR_PL: cfg->lr_plasticity = cli_parse_rate("lr-plasticity", arg); break;
    case RUN_OPTION: run_option_parse(&o->run, name, arg); break;
    case OPT_EVAL: o->eval_episodes = cli_parse_long("eval-episodes", arg, 1, 1L << 30); break;
    case OPT_MEMORY: cfg->memory_mib = (double)cli_parse_long("memory-mib", arg, 0, 1L << 30); break;
    }
}

static const struct option long_options[] = {
    {"train-dir", required_argument, NULL, OPT_TRAIN_DIR},
    {"test-dir", required_argument, NULL, OPT_TEST_DIR},
    {"train-alphabets", required_argument, NULL, OPT_TRAIN_ALPHABETS},
    {"data", required_argument, NULL, OPT_DATA},
    {"eval-split", required_argument, NULL, OPT_EVAL_SPLIT},
    {"ways", required_argument, NULL, OPT_WAYS},
    {"shots", required_argument, NULL, OPT_SHOTS},
    {"query", required_argument, NULL, OPT_QUERY},
    {"mode", required_argument, NULL, OPT_MODE},
    {"rule", required_argument, NULL, OPT_RULE},
    {"plastic", required_argument, NULL, OPT_PLASTIC},
    {"size", required_argument, NULL, OPT_SIZE},
    {"channels", required_argument, NULL, OPT_CHANNELS},
    {"conv-layers", required_argument, NULL, OPT_CONV},
    {"width", required_argument, NULL, OPT_WIDTH},
    {"depth", required_argument, NULL, OPT_DEPTH},
    {"alpha", required_argument, NULL, OPT_ALPHA},
    {"hidden-mult", required_argument, NULL, OPT_HIDDEN_MULT},
    {"lr-weights", required_argument, NULL, OPT_LR_W},
    {"lr-feedback", required_argument, NULL, OPT_LR_FB},
    {"lr-plasticity", required_argument, NULL, OPT_LR_PL},
    {"episodes", required_argument, NULL, RUN_OPTION},
    {"eval-episodes", required_argument, NULL, OPT_EVAL},
    {"seed", required_argument, NULL, RUN_OPTION},
    {"threads", required_argument, NULL, RUN_OPTION},
    {"save", required_argument, NULL, RUN_OPTION},
    {"save-every", required_argument, NULL, RUN_OPTION},
    {"load", required_argument, NULL, RUN_OPTION},
    {"log", required_argument, NULL, RUN_OPTION},
    {"memory-mib", required_argument, NULL, OPT_MEMORY},
    {"progress-every", required_argument, NULL, RUN_OPTION},
    {"quick", no_argument, NULL, RUN_OPTION},
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0},
};

/* Options that --quick changes are resolved after parsing: -1 marks "not
 * given". */
options parse_args(int argc, char **argv, fewshot_data data)
{
    options o;
    memset(&o, 0, sizeof o);
    o.data = data;
    o.prog = data == FEWSHOT_OMNIGLOT ? "flp-omniglot" : "flp-miniimagenet";
    usage_data = data;
    cli_init(o.prog, usage);
    o.cfg = fewshot_config_default();
    o.cfg.channels_in = data == FEWSHOT_OMNIGLOT ? 1 : 3;
    o.cfg.size = o.cfg.channels = o.cfg.width = -1;
    o.cfg.conv_layers = -1;
    o.cfg.lr_weights = o.cfg.lr_feedback = o.cfg.alpha_init = o.cfg.hidden_mult = -1;
    o.run.episodes = o.eval_episodes = -1;
    o.eval_split = "test";
    o.run.seed = 1;
    if (cli_parse_options(argc, argv, long_options, parse_option, &o) < argc)
        cli_bad_usage("unexpected argument '%s'", argv[optind]);
    if (data == FEWSHOT_OMNIGLOT && o.train_dir == NULL)
        cli_bad_usage("--train-dir DIR is required (the Omniglot folder to meta-train on)");
    if (data == FEWSHOT_MINIIMAGENET && o.data_dir == NULL)
        cli_bad_usage("--data DIR is required (the Mini-ImageNet folder: images/ and the CSVs)");
    fewshot_config d = fewshot_config_default();
    fewshot_config *cfg = &o.cfg;
    cfg->size = cfg->size > 0 ? cfg->size : o.run.quick ? QUICK_SIZE : d.size;
    cfg->channels = cfg->channels > 0 ? cfg->channels : o.run.quick ? QUICK_CHANNELS : d.channels;
    cfg->conv_layers = cfg->conv_layers >= 0 ? cfg->conv_layers : o.run.quick ? QUICK_CONV : d.conv_layers;
    cfg->width = cfg->width > 0 ? cfg->width : o.run.quick ? QUICK_WIDTH : d.width;
    cfg->lr_weights = cfg->lr_weights >= 0 ? cfg->lr_weights : o.run.quick ? QUICK_LR : d.lr_weights;
    cfg->lr_feedback = cfg->lr_feedback >= 0 ? cfg->lr_feedback : o.run.quick ? QUICK_LR : d.lr_feedback;
    cfg->alpha_init = cfg->alpha_init >= 0 ? cfg->alpha_init : o.run.quick ? QUICK_ALPHA : d.alpha_init;
    cfg->hidden_mult = cfg->hidden_mult >= 0 ? cfg->hidden_mult : o.run.quick ? QUICK_HIDDEN_MULT : d.hidden_mult;
    if (o.run.episodes < 0)
        o.run.episodes = o.run.quick ? QUICK_EPISODES : 40000;
    if (o.eval_episodes < 0)
        o.eval_episodes = o.run.quick ? QUICK_EVAL : 600;
    if (cfg->plastic > cfg->depth + 1)
        cli_bad_usage("--plastic %d: the network has only %d dense layers", cfg->plastic, cfg->depth + 1);
    return o;
}
