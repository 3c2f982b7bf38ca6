/* fewshot_driver.c - see fewshot_driver.h.
 *
 * stdout carries only results: `eval_error_pct_untrained MEAN SE` (when
 * training from scratch) and, last, `eval_error_pct MEAN SE`: the % of query
 * examples misclassified after a lifetime, mean and standard error over R
 * evaluation episodes of classes never used in meta-training. Progress and
 * warnings go to stderr. */
#include "fewshot_driver.h"

#include <stdio.h>

#include <flp/flp.h>

#include "cli.h"
#include "fewshot_model.h"
#include "mean_se.h"
#include "options.h"
#include "train_loop.h"

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
static void evaluate(const options *o, const data_sets *d, model_handles *m, flp_episode *ep, double *mean,
                     double *se)
{
    flp_sampler *s;
    create_sampler(o, d, &s);
    mean_se acc = {0};
    for (long r = 0; r < o->eval_episodes; r++) {
        double err;
        CLI_CHECK(flp_sampler_next(s, FLP_SPLIT_EVAL, ep));
        CLI_CHECK(fewshot_query_error(m->lt, ep, &err));
        mean_se_add(&acc, err);
    }
    flp_sampler_free(s);
    mean_se_get(&acc, mean, se);
}

/* ---- training ------------------------------------------------------------------- */

static void save_checkpoint(const options *o, const model_handles *m, flp_sampler *s)
{
    CLI_CHECK(flp_checkpoint_save(o->run.save, m->meta, s));
    fprintf(stderr, "%s: checkpoint written to %s\n", o->prog, o->run.save);
}

/* A meta-step: one episode, and the % training error at its lifetime's end. */
typedef struct {
    const options *o;
    model_handles *m;
    flp_sampler *s;
    flp_episode *ep;
} trainer;

static flp_status train_step(void *ctx, long step, float *loss, double *err, const char **why)
{
    trainer *t = ctx;
    (void)step;
    flp_status st = train_single_episode(t->m->meta, t->m->lt, t->s, t->ep, loss, why);
    if (st == FLP_OK)
        CLI_CHECK(fewshot_final_error(t->m->lt, t->ep, err));
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
static int train(const options *o, model_handles *m, flp_sampler *s, flp_episode *ep, FILE *log)
{
    int64_t done;
    CLI_CHECK(flp_meta_step_count(m->meta, &done));
    trainer t = {o, m, s, ep};
    train_loop loop = {.prog = o->prog, .unit = "episode", .hint = "lower --alpha or the learning rates",
                       .talk = 1, .total = o->run.episodes, .progress_every = o->run.progress_every,
                       .save_every = o->run.save ? o->run.save_every : 0, .log = log, .log_err = 1,
                       .step = train_step, .what = "flp_meta_train_step", .line = progress_line,
                       .save = save_trained, .ctx = &t};
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
    options o = parse_args(argc, argv, data);
    cli_set_threads(o.run.threads);
    cli_describe_machine();
    describe(&o);
    data_sets d = {NULL, NULL};
    open_data(&o, &d);

    model_handles m;
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
    model_handles_free(&m);
    flp_dataset_free(d.train);
    flp_dataset_free(d.eval);
    return 0;
}
