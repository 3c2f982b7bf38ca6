/* flp-compare - the comparison of Lindsey & Litwin-Kumar (2020), Table 1,
 * on incremental sine waves, through the public API only.
 *
 * Meta-trains four methods on the same budget and seeds, in i.i.d. and
 * continual order: FLP with the last 2 and the last 3 layers plastic (Oja),
 * the gradient-based baseline on the last 3 layers, and the feature-reuse
 * control (only the readout plastic, Oja). Each is evaluated on R fresh
 * evaluation episodes (sinusoids never in the training pool); the table of
 * query MSE, mean and standard error, goes to stdout and to OUT/table.csv.
 * Each run's checkpoint is kept in OUT: a second call with the same options
 * resumes the runs, or, when they are complete, only evaluates. Exit
 * status: 0 done, 1 library or I/O error, 2 bad command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <flp/flp.h>

#include "cli.h"
#include "compare_analysis.h"
#include "options.h"
#include "sine_model.h"
#include "train_loop.h"

typedef struct {
    const char *name;       /* as in the table */
    const char *file;       /* file-name stem */
    flp_rule_kind rule;
    int plastic;
} method;

static const method methods[] = {
    {"FLP (2 plastic)", "flp2", FLP_RULE_OJA, 2},
    {"FLP (3 plastic)", "flp3", FLP_RULE_OJA, 3},
    {"gradient (3 plastic)", "grad3", FLP_RULE_GRADIENT, 3},
    {"feature reuse (1 plastic)", "reuse1", FLP_RULE_OJA, 1},
};
enum { N_METHODS = sizeof methods / sizeof methods[0], N_MODES = 2 };
static const char *const mode_names[N_MODES] = {"iid", "continual"};

typedef struct {
    double mean, se, seconds;
} result;

static void make_dir(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "flp-compare: cannot create '%s': %s\n", dir, strerror(errno));
        exit(1);
    }
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static sine_config run_config(const options *o, const method *me, int mode)
{
    sine_config cfg = o->cfg;
    cfg.rule = me->rule;
    cfg.plastic = me->plastic;
    cfg.order = mode == 0 ? FLP_ORDER_IID : FLP_ORDER_CONTINUAL;
    return cfg;
}

/* flp-compare's meta-steps: one episode each, progress lines tagged with
 * the run. */
typedef struct {
    const sine_model *m;
    flp_episode *ep;
    const char *tag;
} trainer;

static flp_status train_step(void *ctx, long step, float *loss, double *err, const char **why)
{
    trainer *t = ctx;
    (void)step;
    (void)err;
    return train_single_episode(t->m->h.meta, t->m->h.lt, t->m->sampler, t->ep, loss, why);
}

static void progress_line(void *ctx, const train_window *w)
{
    const trainer *t = ctx;
    fprintf(stderr, "%s: episode %ld/%ld  meta_loss %.4g (running mean)  %.2f s/step  ETA %s\n", t->tag,
            w->step, w->total, w->loss, w->per_step, w->eta);
}

/* Meta-train m from its step count up to --episodes. */
static void train(const options *o, const sine_model *m, flp_episode *ep, const char *tag)
{
    int64_t done;
    CLI_CHECK(flp_meta_step_count(m->h.meta, &done));
    trainer t = {m, ep, tag};
    train_loop loop = {.prog = "flp-compare", .unit = "episode",
                       .hint = "lower the learning rates, e.g. --lr-plasticity", .talk = 1,
                       .total = o->run.episodes, .progress_every = o->run.progress_every,
                       .step = train_step, .what = "flp_meta_train_step", .line = progress_line, .ctx = &t};
    train_loop_run(&loop, (long)done);
}

/* Train (or resume, or just load) one run, checkpoint it, evaluate and
 * analyse it. */
static result run_one(const options *o, const method *me, int mode, flp_episode *ep, run_analysis *a)
{
    sine_config cfg = run_config(o, me, mode);
    char ckpt[4096], tag[128];
    snprintf(ckpt, sizeof ckpt, "%s/%s-%s.ckpt", o->out, me->file, mode_names[mode]);
    snprintf(tag, sizeof tag, "%s %s", me->file, mode_names[mode]);
    sine_model m;
    CLI_CHECK(sine_model_create(&cfg, o->run.seed, &m));
    if (file_exists(ckpt)) {
        CLI_CHECK(flp_checkpoint_load(ckpt, m.h.meta, m.sampler));
        int64_t done;
        CLI_CHECK(flp_meta_step_count(m.h.meta, &done));
        fprintf(stderr, "%s: resumed from %s after %lld meta-steps\n", tag, ckpt, (long long)done);
        if (done > o->run.episodes) {
            fprintf(stderr, "flp-compare: %s holds %lld meta-steps, more than --episodes %ld; "
                    "use another --out\n", ckpt, (long long)done, o->run.episodes);
            exit(1);
        }
    }
    result r;
    double t0 = cli_now();
    train(o, &m, ep, tag);
    r.seconds = cli_now() - t0;
    CLI_CHECK(flp_checkpoint_save(ckpt, m.h.meta, m.sampler));
    fprintf(stderr, "checkpoint written to %s\n", ckpt);
    CLI_CHECK(sine_evaluate(&cfg, o->run.seed, o->eval_runs, m.h.lt, ep, &r.mean, &r.se));
    fprintf(stderr, "%s: eval_mse %.6g +- %.3g\n", tag, r.mean, r.se);
    a->method = me->file;
    a->legend = me->name;
    if (o->analysis_runs > 0) {
        double t1 = cli_now();
        analysis_run(a, &cfg, &m, o->run.seed, o->analysis_runs, o->ridge, ep);
        fprintf(stderr, "%s: analyses of %ld episodes done in %.1f s\n", tag, o->analysis_runs, cli_now() - t1);
    }
    sine_model_free(&m);
    return r;
}

static void print_table(FILE *f, const result res[N_METHODS][N_MODES])
{
    fprintf(f, "%-26s  %-20s  %-20s\n", "method", "i.i.d.", "continual");
    for (int i = 0; i < N_METHODS; i++) {
        fprintf(f, "%-26s", methods[i].name);
        for (int mode = 0; mode < N_MODES; mode++) {
            char cell[64];
            snprintf(cell, sizeof cell, "%.4f +- %.4f", res[i][mode].mean, res[i][mode].se);
            fprintf(f, "  %-20s", cell);
        }
        fprintf(f, "\n");
    }
}

static void write_csv(const options *o, const result res[N_METHODS][N_MODES])
{
    char path[4096];
    snprintf(path, sizeof path, "%s/table.csv", o->out);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "flp-compare: cannot open '%s': %s\n", path, strerror(errno));
        exit(1);
    }
    fprintf(f, "method,mode,rule,plastic,width,episodes,eval_runs,mse_mean,mse_se,train_seconds\n");
    for (int i = 0; i < N_METHODS; i++)
        for (int mode = 0; mode < N_MODES; mode++)
            fprintf(f, "%s,%s,%s,%d,%lld,%ld,%ld,%.9g,%.9g,%.1f\n", methods[i].file, mode_names[mode],
                    methods[i].rule == FLP_RULE_GRADIENT ? "gradient" : "oja", methods[i].plastic,
                    (long long)o->cfg.width, o->run.episodes, o->eval_runs, res[i][mode].mean, res[i][mode].se,
                    res[i][mode].seconds);
    if (fclose(f) != 0) {
        fprintf(stderr, "flp-compare: writing '%s': %s\n", path, strerror(errno));
        exit(1);
    }
    fprintf(stderr, "table written to %s\n", path);
}

int main(int argc, char **argv)
{
    options o = parse_args(argc, argv);
    cli_set_threads(o.run.threads);
    cli_describe_machine();
    fprintf(stderr, "flp-compare %s: width %lld, %ld episodes of %lldx%lld steps x batch %lld per run, "
            "%ld eval runs, seed %llu, into %s\n", flp_version(), (long long)o.cfg.width, o.run.episodes,
            (long long)SINE_TASKS, (long long)o.cfg.batches_per_task, (long long)o.cfg.batch, o.eval_runs,
            (unsigned long long)o.run.seed, o.out);
    make_dir(o.out);
    flp_episode *ep;
    CLI_CHECK(flp_episode_create(&ep));
    result res[N_METHODS][N_MODES];
    run_analysis ana[N_MODES * N_METHODS];
    memset(ana, 0, sizeof ana);
    for (int mode = 0; mode < N_MODES; mode++)
        for (int i = 0; i < N_METHODS; i++)
            res[i][mode] = run_one(&o, &methods[i], mode, ep, &ana[mode * N_METHODS + i]);
    flp_episode_free(ep);
    print_table(stdout, res);
    write_csv(&o, res);
    if (o.analysis_runs > 0) {
        static const char *const traced[] = {"flp3", "grad3"}; /* Figure 2C-D: FLP vs gradient */
        analysis_write(o.out, ana, N_MODES * N_METHODS, traced, 2);
    }
    for (int j = 0; j < N_MODES * N_METHODS; j++)
        analysis_free(&ana[j]);
    return 0;
}
