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
#include "ranks.h"
#include "shared_step.h"
#include "sine_model.h"

/* Quick configuration: meta-trains and evaluates in a few minutes on two
 * cores, and still shows meta-learning at work. */
#define QUICK_WIDTH 64
#define QUICK_EPISODES 500
#define QUICK_EVAL_RUNS 10

/* Skipped steps leave the meta-parameters as they were, so a long run of
 * them means every lifetime now diverges: stop instead of idling. */
#define MAX_CONSECUTIVE_SKIPS 50

typedef struct {
    sine_config cfg;
    long episodes, eval_runs, save_every, progress_every;
    uint64_t seed;
    int threads;
    int meta_batch;
    int quick;
    const char *save, *load, *log;
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
        "  --threads T            threads per process (default: BLIS's own setting), shared\n"
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
        MAX_CONSECUTIVE_SKIPS);
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
    OPT_INNER_LR, OPT_META_BATCH
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
    {"meta-batch", required_argument, NULL, OPT_META_BATCH},
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
    case OPT_META_BATCH: o->meta_batch = (int)cli_parse_long("meta-batch", arg, 1, 1L << 20); break;
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
static options parse_args(int argc, char **argv, ranks who)
{
    options o;
    memset(&o, 0, sizeof o);
    o.who = who;
    o.meta_batch = 1;
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

/* ---- evaluation --------------------------------------------------------------- */

/* Query MSE on fresh evaluation sinusoids (sine_evaluate). */
static void evaluate(const options *o, flp_lifetime *lt, flp_episode *ep, double *mean, double *se)
{
    CLI_CHECK(sine_evaluate(&o->cfg, o->seed, o->eval_runs, lt, ep, mean, se));
}

/* ---- training ------------------------------------------------------------------- */

typedef struct {
    double t_start, t_last;      /* run start, last progress line */
    long first, last_episode;    /* first episode of this run, episode at last line */
    double window_loss;          /* finite losses since the last line */
    long window_n, nonfinite, consecutive;
} progress;

static void report_progress(const options *o, progress *p, long step, long total)
{
    double t = cli_now(), per_step = (t - p->t_last) / (double)(step - p->last_episode);
    double rate_all = (t - p->t_start) / (double)(step - p->first);
    char eta[32];
    cli_format_duration(rate_all * (double)(total - step), eta, sizeof eta);
    fprintf(stderr, "meta-step %ld/%ld  meta_loss %.4g (running mean)  %.2f s/step  %.1f episodes/s  "
            "ETA %s\n", step, total, p->window_n ? p->window_loss / (double)p->window_n : NAN, per_step,
            (double)o->meta_batch / per_step, eta);
    p->t_last = t;
    p->last_episode = step;
    p->window_loss = 0;
    p->window_n = 0;
}

static void save_checkpoint(const options *o, const sine_model *m)
{
    if (o->who.rank != 0)
        return;
    CLI_CHECK(flp_checkpoint_save(o->save, m->meta, m->sampler));
    fprintf(stderr, "checkpoint written to %s\n", o->save);
}

/* One meta-step on a meta-batch of fresh episodes (every rank draws all of
 * them, so the task stream is the same for any rank count); a non-finite
 * meta-gradient or lifetime is reported and the step skipped on every rank
 * (the optimizer never applies it). Returns the mean loss or NaN. */
static float train_step(const options *o, const sine_model *m, shared_step *ss, flp_episode **eps,
                        float *losses, progress *p, long step)
{
    for (int i = 0; i < o->meta_batch; i++)
        CLI_CHECK(flp_sampler_next(m->sampler, FLP_SPLIT_TRAIN, eps[i]));
    flp_status st = shared_step_run(ss, eps, losses);
    if (st == FLP_ERR_NONFINITE) {
        if (p->nonfinite++ < 10 && o->who.rank == 0)
            fprintf(stderr, "flp-sine: meta-step %ld: step skipped: %s\n", step, ss->why);
        if (++p->consecutive >= MAX_CONSECUTIVE_SKIPS) {
            if (o->who.rank == 0)
                fprintf(stderr, "flp-sine: %d steps in a row skipped for non-finite values; stopping "
                        "(lower the learning rates, e.g. --lr-plasticity)\n", MAX_CONSECUTIVE_SKIPS);
            exit(1);
        }
        return NAN;
    }
    if (st != FLP_OK)
        cli_die_flp("a meta-step");
    p->consecutive = 0;
    double sum = 0;
    for (int i = 0; i < o->meta_batch; i++)
        sum += losses[i];
    return (float)(sum / o->meta_batch);
}

/* Returns 1 if the last meta-step's checkpoint was already written. */
static int train(const options *o, const sine_model *m, flp_batch *batch, FILE *log)
{
    int saved = 0;
    int64_t done;
    CLI_CHECK(flp_meta_step_count(m->meta, &done));
    shared_step ss;
    CLI_CHECK(shared_step_create(m->meta, batch, o->who, o->meta_batch, &ss));
    flp_episode **eps = calloc((size_t)o->meta_batch, sizeof *eps);
    float *losses = calloc((size_t)o->meta_batch, sizeof *losses);
    if (eps == NULL || losses == NULL) {
        fprintf(stderr, "flp-sine: out of memory for a meta-batch of %d\n", o->meta_batch);
        exit(1);
    }
    for (int i = 0; i < o->meta_batch; i++)
        CLI_CHECK(flp_episode_create(&eps[i]));
    progress p = {cli_now(), cli_now(), (long)done, (long)done, 0, 0, 0, 0};
    int talk = o->who.rank == 0;
    for (long e = (long)done; e < o->episodes; e++) {
        float loss = train_step(o, m, &ss, eps, losses, &p, e + 1);
        if (isfinite(loss)) {
            p.window_loss += loss;
            p.window_n++;
        }
        if (log)
            fprintf(log, "%ld,%.9g,%.3f\n", e + 1, (double)loss, cli_now() - p.t_start);
        int due = o->progress_every > 0 ? (e + 1) % o->progress_every == 0 : cli_now() - p.t_last >= 10;
        if (talk && (due || e + 1 == o->episodes))
            report_progress(o, &p, e + 1, o->episodes);
        saved = o->save && o->save_every > 0 && (e + 1) % o->save_every == 0;
        if (saved)
            save_checkpoint(o, m);
    }
    if (p.nonfinite && talk)
        fprintf(stderr, "flp-sine: %ld of %ld steps skipped for non-finite values\n", p.nonfinite,
                o->episodes - (long)done);
    for (int i = 0; i < o->meta_batch; i++)
        flp_episode_free(eps[i]);
    free(eps);
    free(losses);
    shared_step_free(&ss);
    return saved;
}

static FILE *open_log(const options *o)
{
    if (!o->log || o->who.rank != 0)
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
    int threads;
    CLI_CHECK(flp_get_num_threads(&threads));
    fprintf(stderr, "flp-sine %s: %s order, %s rule, last %d layers plastic, width %lld, depth %d, "
            "%ld meta-steps of %d episodes of %lldx%lld steps x batch %lld, %ld eval runs, seed %llu; "
            "%d threads x %d ranks (%s)\n",
            flp_version(), o->cfg.order == FLP_ORDER_IID ? "iid" : "continual",
            rule_names[o->cfg.rule], o->cfg.plastic, (long long)o->cfg.width,
            o->cfg.depth, o->episodes, o->meta_batch, (long long)SINE_TASKS,
            (long long)o->cfg.batches_per_task, (long long)o->cfg.batch, o->eval_runs,
            (unsigned long long)o->seed, threads, o->who.size, ranks_transport());
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
    if (o.threads > 0)
        CLI_CHECK(flp_set_num_threads(o.threads));
    if (who.rank == 0)
        describe(&o);

    sine_model m;
    CLI_CHECK(sine_model_create(&o.cfg, o.seed, &m));
    if (o.load) {
        CLI_CHECK(flp_checkpoint_load(o.load, m.meta, m.sampler));
        int64_t done;
        CLI_CHECK(flp_meta_step_count(m.meta, &done));
        if (who.rank == 0)
            fprintf(stderr, "resumed from %s after %lld meta-steps\n", o.load, (long long)done);
    } else {
        report_eval(&o, &m, "eval_mse_untrained");
    }

    FILE *log = open_log(&o);
    flp_batch *batch = make_batch(&o, &m);
    int saved = train(&o, &m, batch, log);
    flp_batch_free(batch);
    if (log && fclose(log) != 0) {
        fprintf(stderr, "flp-sine: writing log '%s': %s\n", o.log, strerror(errno));
        return 1;
    }
    if (o.save && !saved)
        save_checkpoint(&o, &m);

    report_eval(&o, &m, "eval_mse");
    sine_model_free(&m);
    ranks_finish();
    return 0;
}
