/* flp-sine - meta-train and evaluate FLP on incremental sine waves
 * (Lindsey & Litwin-Kumar 2020, §4.1), through the public API only.
 *
 * stdout carries only results: `eval_mse_untrained MEAN SE` (when training
 * from scratch) and, last, `eval_mse MEAN SE`, each the mean over R fresh
 * evaluation sinusoid sets of the query MSE after a lifetime, with its
 * standard error. Progress and warnings go to stderr. Exit status: 0 done,
 * 1 library or I/O error, 2 bad command line. */
#include <stdio.h>
#include <stdlib.h>

#include <flp/flp.h>

#include "cli.h"
#include "options.h"
#include "ranks.h"
#include "shared_step.h"
#include "sine_model.h"
#include "train_loop.h"

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
    CLI_CHECK(flp_checkpoint_save(o->run.save, m->h.meta, m->sampler));
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
    CLI_CHECK(flp_meta_step_count(m->h.meta, &done));
    trainer t = {o, m, {0}, NULL, NULL};
    CLI_CHECK(shared_step_create(m->h.meta, batch, o->who, o->meta_batch, &t.ss));
    t.eps = calloc((size_t)o->meta_batch, sizeof *t.eps);
    t.losses = calloc((size_t)o->meta_batch, sizeof *t.losses);
    if (t.eps == NULL || t.losses == NULL) {
        fprintf(stderr, "flp-sine: out of memory for a meta-batch of %d\n", o->meta_batch);
        exit(1);
    }
    for (int i = 0; i < o->meta_batch; i++)
        CLI_CHECK(flp_episode_create(&t.eps[i]));
    train_loop loop = {.prog = "flp-sine", .unit = "meta-step",
                       .hint = "lower the learning rates, e.g. --lr-plasticity", .talk = o->who.rank == 0,
                       .total = o->run.episodes, .progress_every = o->run.progress_every,
                       .save_every = o->run.save ? o->run.save_every : 0, .log = log, .step = train_step,
                       .what = "a meta-step", .line = progress_line, .save = save_trained, .ctx = &t};
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
    CLI_CHECK(flp_batch_create(m->h.meta, &b));
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
    evaluate(o, m->h.lt, ep, &mean, &se);
    flp_episode_free(ep);
    printf("%s %.6g %.3g\n", label, mean, se);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    ranks who = ranks_init(&argc, &argv);
    options o = parse_args(argc, argv, who);
    cli_set_threads(o.run.threads);
    if (who.rank == 0) {
        cli_describe_machine();
        describe(&o);
    }

    sine_model m;
    CLI_CHECK(sine_model_create(&o.cfg, o.run.seed, &m));
    if (o.run.load) {
        CLI_CHECK(flp_checkpoint_load(o.run.load, m.h.meta, m.sampler));
        int64_t done;
        CLI_CHECK(flp_meta_step_count(m.h.meta, &done));
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
