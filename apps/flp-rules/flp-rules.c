/* flp-rules - meta-learn the coefficients of a family of plasticity rules
 * over fixed random (or symmetric) feedback, as in Shervani-Tabar &
 * Rosenbaum, through the public API only.
 *
 * Every lifetime starts from freshly drawn weights (Xavier uniform), shows
 * WAYS x SHOTS examples one at a time, and is scored on QUERY examples per
 * class; only the rule's coefficients theta are meta-learned (Adam).
 * stdout: one line per meta-training episode (meta-loss, query accuracy,
 * theta), then, last, `eval_accuracy_pct MEAN SE` over fresh evaluation
 * episodes. Progress and warnings go to stderr. A CSV of the episodes and,
 * when gnuplot is installed, a PNG of theta's trajectories are written.
 * Exit status: 0 done, 1 library or I/O error, 2 bad command line. */
#include <stdio.h>

#include <flp/flp.h>

#include "cli.h"
#include "mean_se.h"
#include "options.h"
#include "plot.h"
#include "rules_model.h"
#include "train_loop.h"

/* ---- lifetimes ---------------------------------------------------------------------- */

/* Query accuracy in percent of the last lifetime's final weights. */
static double query_accuracy(const rules_model *m, const flp_episode *ep)
{
    int64_t right, n;
    CLI_CHECK(model_query_correct(m->h.lt, ep, &right, &n));
    return 100.0 * (double)right / (double)n;
}

/* Mean and standard error of the query accuracy over fresh evaluation
 * episodes, from a sampler made anew so every evaluation sees the same. A
 * lifetime whose weights diverge scores 0 (and is reported). */
static void evaluate(const options *o, const rules_model *m, flp_episode *ep, double *mean, double *se)
{
    flp_sampler *s;
    rules_sampler_create(o, m, o->seed + 1, &s);
    mean_se acc = {0};
    double t0 = cli_now(), t_last = t0;
    long diverged = 0;
    for (long r = 0; r < o->eval_episodes; r++) {
        float loss;
        CLI_CHECK(flp_sampler_next(s, FLP_SPLIT_EVAL, ep));
        flp_status st = flp_lifetime_run(m->h.lt, ep, 0, &loss);
        if (st != FLP_OK && st != FLP_ERR_NONFINITE)
            cli_die_flp("flp_lifetime_run");
        diverged += st != FLP_OK;
        mean_se_add(&acc, st == FLP_OK ? query_accuracy(m, ep) : 0.0);
        if (cli_now() - t_last >= 10) {
            t_last = cli_now();
            double per = (t_last - t0) / (double)(r + 1);
            fprintf(stderr, "evaluation %ld/%ld  %.2f s/episode  ETA %.0fs\n", r + 1, o->eval_episodes, per,
                    per * (double)(o->eval_episodes - r - 1));
        }
    }
    flp_sampler_free(s);
    if (diverged)
        fprintf(stderr, "flp-rules: %ld of %ld evaluation lifetimes diverged (non-finite weights), counted as "
                "0%% accuracy\n", diverged, o->eval_episodes);
    mean_se_get(&acc, mean, se);
}

/* ---- training on the shared loop (train_loop.h) -------------------------------------- */

/* A meta-step is one episode; the loop's `err` is the query accuracy after
 * its lifetime. Every step prints a line of its loss, accuracy and theta
 * and writes them to the CSV. */
typedef struct {
    rules_model *m;
    flp_episode *ep;
    FILE *csv;
} trainer;

static flp_status train_step(void *ctx, long step, float *loss, double *accuracy, const char **why)
{
    trainer *t = ctx;
    (void)step;
    flp_status st = train_single_episode(t->m->h.meta, t->m->h.lt, t->m->sampler, t->ep, loss, why);
    if (st == FLP_OK)
        *accuracy = query_accuracy(t->m, t->ep);
    return st;
}

static void write_row(void *ctx, long step, float loss, double accuracy, double seconds)
{
    const trainer *t = ctx;
    float theta[N_TERMS];
    CLI_CHECK(flp_rule_get_theta(t->m->h.rule, theta, N_TERMS));
    printf("episode %ld meta_loss %.5g accuracy_pct %.1f theta", step, (double)loss, accuracy);
    fprintf(t->csv, "%ld,%.7g,%.2f", step, (double)loss, accuracy);
    for (int k = 0; k < N_TERMS; k++) {
        printf(" %s=%.5g", term_names[k], (double)theta[k]);
        fprintf(t->csv, ",%.7g", (double)theta[k]);
    }
    printf("\n");
    fprintf(t->csv, ",%.3f\n", seconds);
}

static void progress_line(void *ctx, const train_window *w)
{
    (void)ctx;
    fprintf(stderr, "episode %ld/%ld  %.2f s/step  ETA %s\n", w->step, w->total, w->per_step, w->eta);
}

/* The CSV: episode,meta_loss,accuracy_pct,theta_pg,theta_eh,theta_oja,seconds. */
static FILE *open_csv(const options *o)
{
    char header[256];
    snprintf(header, sizeof header, "episode,meta_loss,accuracy_pct,theta_%s,theta_%s,theta_%s,seconds",
             term_names[0], term_names[1], term_names[2]);
    return train_open_log(o->csv, o->load != NULL, header);
}

static void train(const options *o, rules_model *m, flp_episode *ep, FILE *csv)
{
    int64_t done;
    CLI_CHECK(flp_meta_step_count(m->h.meta, &done));
    trainer t = {m, ep, csv};
    train_loop loop = {.prog = "flp-rules", .unit = "episode", .hint = "lower --lr or the initial --theta",
                       .talk = 1, .total = o->episodes, .step = train_step, .what = "flp_meta_train_step",
                       .line = progress_line, .row = write_row, .ctx = &t};
    train_loop_run(&loop, (long)done);
    fflush(stdout);
}

/* theta per episode, every row of the CSV (earlier runs' too, after
 * --load), through the shared plotting (plot.h). */
static void plot_theta(const options *o)
{
    static const char *const legends[N_TERMS] = {"theta_{pg}", "theta_{eh}", "theta_{oja}"};
    plot p;
    if (!plot_begin_png(&p, o->png, "rule coefficients", "meta-training episode", "theta", 0, 0))
        return;
    for (int k = 0; k < N_TERMS; k++)
        plot_series_csv(&p, legends[k], o->csv, 1, 4 + k);
    plot_end(&p);
}

int main(int argc, char **argv)
{
    options o = parse_args(argc, argv);
    cli_set_threads(o.threads);
    cli_describe_machine();
    rules_model m;
    rules_model_create(&o, &m);
    fprintf(stderr, "flp-rules %s: %s feedback, terms 0x%x, %ld-way %ld-shot online, %ld query per class, "
            "%ld episodes, %ld evaluation episodes, seed %llu\n", flp_version(), o.symmetric ? "symmetric" : "fixed",
            o.terms, o.ways, o.shots, o.query, o.episodes, o.eval_episodes, (unsigned long long)o.seed);
    if (o.load) {
        CLI_CHECK(flp_checkpoint_load(o.load, m.h.meta, m.sampler));
        int64_t done;
        CLI_CHECK(flp_meta_step_count(m.h.meta, &done));
        fprintf(stderr, "resumed from %s after %lld meta-steps\n", o.load, (long long)done);
    }
    flp_episode *ep;
    CLI_CHECK(flp_episode_create(&ep));
    if (o.episodes > 0) {
        FILE *csv = open_csv(&o);
        train(&o, &m, ep, csv);
        if (train_close_log(csv, o.csv))
            return 1;
        plot_theta(&o);
    }
    if (o.save) {
        CLI_CHECK(flp_checkpoint_save(o.save, m.h.meta, m.sampler));
        fprintf(stderr, "checkpoint written to %s\n", o.save);
    }
    double mean, se;
    evaluate(&o, &m, ep, &mean, &se);
    printf("eval_accuracy_pct %.2f %.2f\n", mean, se);
    flp_episode_free(ep);
    rules_model_free(&m);
    return 0;
}
