/* flp-sine - meta-train and evaluate FLP on incremental sine waves
 * (Lindsey & Litwin-Kumar 2020, §4.1), through the public API only.
 *
 * stdout carries only results: `eval_mse_untrained MEAN SE` (when training
 * from scratch) and, last, `eval_mse MEAN SE`, each the mean over R fresh
 * evaluation sinusoid sets of the query MSE after a lifetime, with its
 * standard error. Progress and warnings go to stderr. Exit status: 0 done,
 * 1 library or I/O error, 2 bad command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flp/flp.h>

#include "cli.h"
#include "run_options.h"
#include "ranks.h"
#include "shared_step.h"
#include "sine_model.h"
#include "sine_options.h"
#include "train_loop.h"

/* Quick configuration: meta-trains and evaluates in a few minutes on two
 * cores, and still shows meta-learning at work. */
#define QUICK_WIDTH 64
#define QUICK_EPISODES 500
#define QUICK_EVAL_RUNS 10

typedef struct {
    sine_config cfg;
    run_options run;
    long eval_runs;
    int meta_batch;
    ranks who;
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

enum { OPT_EVAL_RUNS = 256, OPT_META_BATCH, OPT_HELP };

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
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void parse_option(options *o, int c, const char *name, const char *arg)
{
    switch (c) {
    case SINE_OPTION: sine_option_parse(&o->cfg, name, arg); break;
    case RUN_OPTION: run_option_parse(&o->run, name, arg); break;
    case OPT_EVAL_RUNS: o->eval_runs = cli_parse_long("eval-runs", arg, 1, 1L << 30); break;
    case OPT_META_BATCH: o->meta_batch = (int)cli_parse_long("meta-batch", arg, 1, 1L << 20); break;
    case OPT_HELP: usage(stdout); exit(0);
    default: usage(stderr); exit(2);
    }
}

/* Defaults that depend on other options are resolved after parsing: -1
 * marks "not given". */
static options parse_args(int argc, char **argv, ranks who)
{
    options o;
    memset(&o, 0, sizeof o);
    o.who = who;
    o.meta_batch = 1;
    o.cfg = sine_config_default();
    o.cfg.width = -1;
    o.cfg.plastic = -1;
    o.run.episodes = -1;
    o.eval_runs = -1;
    o.run.seed = 1;
    int c, idx = 0;
    while ((c = getopt_long(argc, argv, "", long_options, &idx)) != -1)
        parse_option(&o, c, long_options[idx].name, optarg);
    if (optind < argc)
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

/* ---- evaluation --------------------------------------------------------------- */

/* Query MSE on fresh evaluation sinusoids (sine_evaluate). */
static void evaluate(const options *o, flp_lifetime *lt, flp_episode *ep, double *mean, double *se)
{
    CLI_CHECK(sine_evaluate(&o->cfg, o->run.seed, o->eval_runs, lt, ep, mean, se));
}

/* ---- training ------------------------------------------------------------------- */

static void save_checkpoint(const options *o, const sine_model *m)
{
    if (o->who.rank != 0)
        return;
    CLI_CHECK(flp_checkpoint_save(o->run.save, m->meta, m->sampler));
    fprintf(stderr, "checkpoint written to %s\n", o->run.save);
}

/* What a meta-step needs: the meta-batch's episodes and losses. */
typedef struct {
    const options *o;
    const sine_model *m;
    shared_step ss;
    flp_episode **eps;
    float *losses;
} trainer;

/* One meta-step on a meta-batch of fresh episodes (every rank draws all of
 * them, so the task stream is the same for any rank count); a non-finite
 * meta-gradient or lifetime skips the step on every rank (the optimizer
 * never applies it). The loss is the meta-batch's mean. */
static flp_status train_step(void *ctx, long step, float *loss, double *err, const char **why)
{
    trainer *t = ctx;
    (void)step;
    (void)err;
    for (int i = 0; i < t->o->meta_batch; i++)
        CLI_CHECK(flp_sampler_next(t->m->sampler, FLP_SPLIT_TRAIN, t->eps[i]));
    flp_status st = shared_step_run(&t->ss, t->eps, t->losses);
    *why = t->ss.why;
    if (st != FLP_OK)
        return st;
    double sum = 0;
    for (int i = 0; i < t->o->meta_batch; i++)
        sum += t->losses[i];
    *loss = (float)(sum / t->o->meta_batch);
    return FLP_OK;
}

static void progress_line(void *ctx, const train_window *w)
{
    const trainer *t = ctx;
    fprintf(stderr, "meta-step %ld/%ld  meta_loss %.4g (running mean)  %.2f s/step  %.1f episodes/s  "
            "ETA %s\n", w->step, w->total, w->loss, w->per_step, (double)t->o->meta_batch / w->per_step, w->eta);
}

static void save_trained(void *ctx)
{
    const trainer *t = ctx;
    save_checkpoint(t->o, t->m);
}

/* Returns 1 if the last meta-step's checkpoint was already written. */
static int train(const options *o, const sine_model *m, flp_batch *batch, FILE *log)
{
    int64_t done;
    CLI_CHECK(flp_meta_step_count(m->meta, &done));
    trainer t = {o, m, {0}, NULL, NULL};
    CLI_CHECK(shared_step_create(m->meta, batch, o->who, o->meta_batch, &t.ss));
    t.eps = calloc((size_t)o->meta_batch, sizeof *t.eps);
    t.losses = calloc((size_t)o->meta_batch, sizeof *t.losses);
    if (t.eps == NULL || t.losses == NULL) {
        fprintf(stderr, "flp-sine: out of memory for a meta-batch of %d\n", o->meta_batch);
        exit(1);
    }
    for (int i = 0; i < o->meta_batch; i++)
        CLI_CHECK(flp_episode_create(&t.eps[i]));
    train_loop loop = {"flp-sine", "meta-step", "lower the learning rates, e.g. --lr-plasticity",
                       o->who.rank == 0, o->run.episodes, o->run.progress_every, o->run.save ? o->run.save_every : 0,
                       log, 0, train_step, "a meta-step", progress_line, save_trained, &t};
    int saved = train_loop_run(&loop, (long)done);
    for (int i = 0; i < o->meta_batch; i++)
        flp_episode_free(t.eps[i]);
    free(t.eps);
    free(t.losses);
    shared_step_free(&t.ss);
    return saved;
}

static FILE *open_log(const options *o)
{
    if (!o->run.log || o->who.rank != 0)
        return NULL;
    return train_open_log(o->run.log, o->run.load != NULL, "episode,meta_loss,seconds");
}

static void describe(const options *o)
{
    int threads;
    CLI_CHECK(flp_get_num_threads(&threads));
    fprintf(stderr, "flp-sine %s: %s order, %s rule, last %d layers plastic, width %lld, depth %d, "
            "%ld meta-steps of %d episodes of %lldx%lld steps x batch %lld, %ld eval runs, seed %llu; "
            "%d threads x %d ranks (%s)\n",
            flp_version(), o->cfg.order == FLP_ORDER_IID ? "iid" : "continual",
            cli_rule_name(o->cfg.rule), o->cfg.plastic, (long long)o->cfg.width,
            o->cfg.depth, o->run.episodes, o->meta_batch, (long long)SINE_TASKS,
            (long long)o->cfg.batches_per_task, (long long)o->cfg.batch, o->eval_runs,
            (unsigned long long)o->run.seed, threads, o->who.size, ranks_transport());
}

/* The meta-batch's worker lifetimes get the model lifetime's settings. */
static flp_batch *make_batch(const options *o, const sine_model *m)
{
    flp_batch *b;
    CLI_CHECK(flp_batch_create(m->meta, &b));
    if (o->cfg.memory_mib >= 0)
        CLI_CHECK(flp_batch_set(b, FLP_BATCH_MEMORY_BUDGET, o->cfg.memory_mib * 1048576.0));
    return b;
}

/* Rank 0 evaluates and prints `label MEAN SE`. */
static void report_eval(const options *o, const sine_model *m, const char *label)
{
    if (o->who.rank != 0)
        return;
    flp_episode *ep;
    double mean, se;
    CLI_CHECK(flp_episode_create(&ep));
    evaluate(o, m->lt, ep, &mean, &se);
    flp_episode_free(ep);
    printf("%s %.6g %.3g\n", label, mean, se);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    ranks who = ranks_init(&argc, &argv);
    cli_init("flp-sine", usage);
    options o = parse_args(argc, argv, who);
    cli_set_threads(o.run.threads);
    if (who.rank == 0) {
        cli_describe_machine();
        describe(&o);
    }

    sine_model m;
    CLI_CHECK(sine_model_create(&o.cfg, o.run.seed, &m));
    if (o.run.load) {
        CLI_CHECK(flp_checkpoint_load(o.run.load, m.meta, m.sampler));
        int64_t done;
        CLI_CHECK(flp_meta_step_count(m.meta, &done));
        if (who.rank == 0)
            fprintf(stderr, "resumed from %s after %lld meta-steps\n", o.run.load, (long long)done);
    } else {
        report_eval(&o, &m, "eval_mse_untrained");
    }

    FILE *log = open_log(&o);
    flp_batch *batch = make_batch(&o, &m);
    int saved = train(&o, &m, batch, log);
    flp_batch_free(batch);
    if (log && train_close_log(log, o.run.log))
        return 1;
    if (o.run.save && !saved)
        save_checkpoint(&o, &m);

    report_eval(&o, &m, "eval_mse");
    sine_model_free(&m);
    ranks_finish();
    return 0;
}
