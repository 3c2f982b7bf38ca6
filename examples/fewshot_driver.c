/* fewshot_driver.c - see fewshot_driver.h.
 *
 * stdout carries only results: `eval_error_pct_untrained MEAN SE` (when
 * training from scratch) and, last, `eval_error_pct MEAN SE`: the % of query
 * examples misclassified after a lifetime, mean and standard error over R
 * evaluation episodes of classes never used in meta-training. Progress and
 * warnings go to stderr. */
#include "fewshot_driver.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flp/flp.h>

#include "cli.h"
#include "run_options.h"
#include "fewshot_model.h"
#include "mean_se.h"
#include "train_loop.h"

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

typedef struct {
    fewshot_data data;
    const char *prog;
    fewshot_config cfg;
    const char *train_dir, *test_dir, *data_dir, *eval_split;
    long train_alphabets;
    run_options run;
    long eval_episodes;
} options;

/* ---- command line ----------------------------------------------------------- */

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
    OPT_ALPHA, OPT_HIDDEN_MULT, OPT_LR_W, OPT_LR_FB, OPT_LR_PL, OPT_EVAL, OPT_MEMORY, OPT_HELP
};

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
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Options of the other program's data are refused by name. */
static void check_data_option(const options *o, int c)
{
    int omniglot_only = c == OPT_TRAIN_DIR || c == OPT_TEST_DIR || c == OPT_TRAIN_ALPHABETS;
    int mini_only = c == OPT_DATA || c == OPT_EVAL_SPLIT;
    if ((omniglot_only && o->data != FEWSHOT_OMNIGLOT) || (mini_only && o->data != FEWSHOT_MINIIMAGENET))
        for (const struct option *op = long_options; op->name; op++)
            if (op->val == c)
                cli_bad_usage("--%s is not an option of %s", op->name, o->prog);
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

static void parse_option(options *o, int c, const char *name, const char *arg)
{
    fewshot_config *cfg = &o->cfg;
    check_data_option(o, c);
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
    case OPT_HELP: usage(stdout); exit(0);
    default: usage(stderr); exit(2);
    }
}

/* Options that --quick changes are resolved after parsing: -1 marks "not
 * given". */
static options parse_args(int argc, char **argv, fewshot_data data)
{
    options o;
    memset(&o, 0, sizeof o);
    o.data = data;
    o.prog = data == FEWSHOT_OMNIGLOT ? "flp-omniglot" : "flp-miniimagenet";
    o.cfg = fewshot_config_default();
    o.cfg.channels_in = data == FEWSHOT_OMNIGLOT ? 1 : 3;
    o.cfg.size = o.cfg.channels = o.cfg.width = -1;
    o.cfg.conv_layers = -1;
    o.cfg.lr_weights = o.cfg.lr_feedback = o.cfg.alpha_init = o.cfg.hidden_mult = -1;
    o.run.episodes = o.eval_episodes = -1;
    o.eval_split = "test";
    o.run.seed = 1;
    int c, idx = 0;
    while ((c = getopt_long(argc, argv, "", long_options, &idx)) != -1)
        parse_option(&o, c, long_options[idx].name, optarg);
    if (optind < argc)
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

/* ---- data ------------------------------------------------------------------------ */

typedef struct {
    flp_dataset *train, *eval;
} data_sets;

static void open_omniglot(const options *o, data_sets *d)
{
    int size = (int)o->cfg.size;
    flp_dataset *all;
    CLI_CHECK(flp_dataset_open_omniglot(o->train_dir, size, &all));
    if (o->test_dir) {
        d->train = all;
        CLI_CHECK(flp_dataset_open_omniglot(o->test_dir, size, &d->eval));
        return;
    }
    int64_t alphabets;
    CLI_CHECK(flp_dataset_num_alphabets(all, &alphabets));
    int64_t n = o->train_alphabets > 0 ? o->train_alphabets : alphabets * 3 / 5 > 0 ? alphabets * 3 / 5 : 1;
    if (n >= alphabets)
        cli_bad_usage("%s has %lld alphabets: --train-alphabets must leave at least one for evaluation "
                      "(or give --test-dir)", o->train_dir, (long long)alphabets);
    CLI_CHECK(flp_dataset_split_by_alphabet(all, n, &d->train, &d->eval));
    flp_dataset_free(all);
    fprintf(stderr, "%s: meta-training on the first %lld of %lld alphabets, evaluating on the others\n",
            o->prog, (long long)n, (long long)alphabets);
}

static void open_data(const options *o, data_sets *d)
{
    if (o->data == FEWSHOT_OMNIGLOT) {
        open_omniglot(o, d);
    } else {
        CLI_CHECK(flp_dataset_open_miniimagenet(o->data_dir, "train", (int)o->cfg.size, &d->train));
        CLI_CHECK(flp_dataset_open_miniimagenet(o->data_dir, o->eval_split, (int)o->cfg.size, &d->eval));
    }
    int64_t ntrain, neval;
    CLI_CHECK(flp_dataset_num_classes(d->train, &ntrain));
    CLI_CHECK(flp_dataset_num_classes(d->eval, &neval));
    fprintf(stderr, "%s: %lld meta-training classes, %lld evaluation classes\n", o->prog, (long long)ntrain,
            (long long)neval);
}

static void create_sampler(const options *o, const data_sets *d, flp_sampler **s)
{
    CLI_CHECK(flp_sampler_create_fewshot(d->train, d->eval, o->run.seed, s));
    CLI_CHECK(flp_sampler_set(*s, FLP_FEWSHOT_WAYS, (double)o->cfg.ways));
    CLI_CHECK(flp_sampler_set(*s, FLP_FEWSHOT_SHOTS, (double)o->cfg.shots));
    CLI_CHECK(flp_sampler_set(*s, FLP_FEWSHOT_QUERY_PER_CLASS, (double)o->cfg.query));
    CLI_CHECK(flp_sampler_set(*s, FLP_FEWSHOT_ORDER, (double)o->cfg.order));
}

/* ---- evaluation ----------------------------------------------------------------- */

/* % query error after a lifetime on R evaluation episodes, from a sampler
 * made anew from the seed, so that every evaluation (untrained, trained,
 * resumed) sees the same episodes. */
static void evaluate(const options *o, const data_sets *d, fewshot_model *m, flp_episode *ep, double *mean,
                     double *se)
{
    flp_sampler *s;
    create_sampler(o, d, &s);
    mean_se acc = {0};
    for (long r = 0; r < o->eval_episodes; r++) {
        double err;
        CLI_CHECK(flp_sampler_next(s, FLP_SPLIT_EVAL, ep));
        CLI_CHECK(fewshot_query_error(m, ep, &err));
        mean_se_add(&acc, err);
    }
    flp_sampler_free(s);
    mean_se_get(&acc, mean, se);
}

/* ---- training ------------------------------------------------------------------- */

static void save_checkpoint(const options *o, const fewshot_model *m, flp_sampler *s)
{
    CLI_CHECK(flp_checkpoint_save(o->run.save, m->meta, s));
    fprintf(stderr, "%s: checkpoint written to %s\n", o->prog, o->run.save);
}

/* A meta-step: one episode, and the % training error at its lifetime's end. */
typedef struct {
    const options *o;
    fewshot_model *m;
    flp_sampler *s;
    flp_episode *ep;
} trainer;

static flp_status train_step(void *ctx, long step, float *loss, double *err, const char **why)
{
    trainer *t = ctx;
    (void)step;
    flp_status st = train_single_episode(t->m->meta, t->m->lt, t->s, t->ep, loss, why);
    if (st == FLP_OK)
        CLI_CHECK(fewshot_final_error(t->m, t->ep, err));
    return st;
}

static void progress_line(void *ctx, const train_window *w)
{
    (void)ctx;
    fprintf(stderr, "episode %ld/%ld  meta_loss %.4g  train_error %.1f%% (running means)  %.3f s/step  ETA %s\n",
            w->step, w->total, w->loss, w->err, w->per_step, w->eta);
}

static void save_trained(void *ctx)
{
    const trainer *t = ctx;
    save_checkpoint(t->o, t->m, t->s);
}

/* Returns 1 if the last episode's checkpoint was already written. */
static int train(const options *o, fewshot_model *m, flp_sampler *s, flp_episode *ep, FILE *log)
{
    int64_t done;
    CLI_CHECK(flp_meta_step_count(m->meta, &done));
    trainer t = {o, m, s, ep};
    train_loop loop = {o->prog, "episode", "lower --alpha or the learning rates", 1, o->run.episodes,
                       o->run.progress_every, o->run.save ? o->run.save_every : 0, log, 1, train_step,
                       "flp_meta_train_step", progress_line, save_trained, &t};
    return train_loop_run(&loop, (long)done);
}

static FILE *open_log(const options *o)
{
    if (!o->run.log)
        return NULL;
    return train_open_log(o->run.log, o->run.load != NULL, "episode,meta_loss,train_error_pct,seconds");
}

static void describe(const options *o)
{
    const fewshot_config *c = &o->cfg;
    fprintf(stderr, "%s %s: %lld-way %lld-shot (%s, query %lld per class), %s rule, last %d dense layers "
            "plastic; %lldx%lldx%lld images, %d conv layers of %lld channels, %d hidden of width %lld; "
            "%ld episodes, %ld eval episodes, seed %llu\n",
            o->prog, flp_version(), (long long)c->ways, (long long)c->shots,
            c->order == FLP_ORDER_IID ? "iid" : "continual", (long long)c->query, cli_rule_name(c->rule), c->plastic,
            (long long)c->channels_in, (long long)c->size, (long long)c->size, c->conv_layers,
            (long long)c->channels, c->depth, (long long)c->width, o->run.episodes, o->eval_episodes,
            (unsigned long long)o->run.seed);
}

int fewshot_main(int argc, char **argv, fewshot_data data)
{
    usage_data = data;
    cli_init(data == FEWSHOT_OMNIGLOT ? "flp-omniglot" : "flp-miniimagenet", usage);
    options o = parse_args(argc, argv, data);
    cli_set_threads(o.run.threads);
    cli_describe_machine();
    describe(&o);
    data_sets d = {NULL, NULL};
    open_data(&o, &d);

    fewshot_model m;
    CLI_CHECK(fewshot_model_create(&o.cfg, o.run.seed, &m));
    flp_sampler *sampler;
    create_sampler(&o, &d, &sampler);
    flp_episode *ep;
    CLI_CHECK(flp_episode_create(&ep));
    double mean, se;
    if (o.run.load) {
        CLI_CHECK(flp_checkpoint_load(o.run.load, m.meta, sampler));
        int64_t done;
        CLI_CHECK(flp_meta_step_count(m.meta, &done));
        fprintf(stderr, "%s: resumed from %s after %lld meta-steps\n", o.prog, o.run.load, (long long)done);
    } else {
        evaluate(&o, &d, &m, ep, &mean, &se);
        printf("eval_error_pct_untrained %.4g %.3g\n", mean, se);
        fflush(stdout);
    }

    FILE *log = open_log(&o);
    int saved = train(&o, &m, sampler, ep, log);
    if (log && train_close_log(log, o.run.log))
        return 1;
    if (o.run.save && !saved)
        save_checkpoint(&o, &m, sampler);

    double t = cli_now();
    evaluate(&o, &d, &m, ep, &mean, &se);
    fprintf(stderr, "%s: evaluation took %.1f s\n", o.prog, cli_now() - t);
    printf("eval_error_pct %.4g %.3g\n", mean, se);
    flp_episode_free(ep);
    flp_sampler_free(sampler);
    fewshot_model_free(&m);
    flp_dataset_free(d.train);
    flp_dataset_free(d.eval);
    return 0;
}
