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
/* The rule family, chained feedback and re-initialised lifetimes are
 * libflp's experimental API: a research program pinned to its libflp. */
#define FLP_EXPERIMENTAL

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flp/flp.h>

#include "cli.h"
#include "mean_se.h"

#define MAX_HIDDEN 8
#define N_TERMS 3
/* --quick: meta-training and evaluation within 5 minutes on 2 cores (an
 * IDX episode, 50 shots, costs about three Omniglot ones, 15 shots) */
#define QUICK_EPISODES 200
#define QUICK_EPISODES_IDX 80
#define QUICK_EVAL 50

static const char *const term_names[N_TERMS] = {
    [FLP_TERM_PSEUDO_GRADIENT] = "pg", [FLP_TERM_ERROR_HEBB] = "eh", [FLP_TERM_OJA] = "oja"};

typedef struct {
    const char *data, *omniglot, *save, *load, *csv, *png;
    int symmetric, terms, quick, threads;
    long episodes, eval_episodes, ways, shots, query, n_hidden, hidden[MAX_HIDDEN];
    double lr, l1, theta[N_TERMS];
    uint64_t seed;
} options;

/* ---- command line ----------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: flp-rules (--data DIR | --omniglot DIR) [options]\n"
        "Meta-learn the coefficients theta of the plasticity rule\n"
        "  dW = -theta_pg e' y^T - theta_eh e' e^T + theta_oja (y' y^T - y' y'^T W)\n"
        "over fixed random feedback (feedback alignment) or symmetric feedback (backprop),\n"
        "on online few-shot episodes; the weights are drawn afresh for every lifetime.\n"
        "\n"
        "  --data DIR             IDX folder (MNIST, EMNIST, Fashion-MNIST): train-images-idx3-ubyte,\n"
        "                         train-labels-idx1-ubyte and the t10k- pair, raw or .gz; train\n"
        "                         episodes come from the train pair, evaluation from t10k\n"
        "  --omniglot DIR         an Omniglot folder (e.g. images_background_small1) at 28x28;\n"
        "                         the first 3 alphabets train, the others evaluate\n"
        "  --feedback fixed|symmetric  fixed random B (default) or B = W (backprop)\n"
        "  --terms LIST           comma-separated terms among pg, eh, oja (default pg,eh,oja)\n"
        "  --theta A,B,C          initial theta_pg, theta_eh, theta_oja (default 0.03,0,0.01)\n"
        "  --episodes N           meta-training episodes (default 600; %d with --quick, %d with\n"
        "                         --quick --data;"
        " 0 = evaluate the rule as initialised)\n"
        "  --eval-episodes N      evaluation episodes (default 100; %d with --quick)\n"
        "  --ways M               classes per episode (default 5)\n"
        "  --shots K              training examples per class, shown one at a time\n"
        "                         (default 50 with --data, 15 with --omniglot)\n"
        "  --query Q              query examples per class (default 10 with --data, 5 with --omniglot)\n"
        "  --hidden LIST          hidden widths (default 170,130,100,70; softplus, beta 10)\n"
        "  --lr X                 Adam learning rate of theta (default 1e-3)\n"
        "  --l1 X                 L1 penalty on theta (default 0)\n"
        "  --seed S               seed of B, the episodes and the weight draws (default 1)\n"
        "  --threads T            threads (default 1: steps of one example are too small to share;\n"
        "                         2 threads ran 2.5x slower on the 2-core development machine)\n"
        "  --save FILE            write a checkpoint at the end\n"
        "  --load FILE            resume from a checkpoint written with the same options\n"
        "  --csv FILE             per-episode log (default flp-rules.csv)\n"
        "  --png FILE             plot of theta's trajectories (default flp-rules.png; needs gnuplot)\n"
        "  --quick                %d meta-training episodes (fewer with --data) and %d evaluation episodes\n"
        "  --help                 this text\n",
        QUICK_EPISODES, QUICK_EPISODES_IDX, QUICK_EVAL, QUICK_EPISODES, QUICK_EVAL);
}

enum {
    OPT_DATA = 256, OPT_OMNIGLOT, OPT_FEEDBACK, OPT_TERMS, OPT_THETA, OPT_EPISODES, OPT_EVAL, OPT_WAYS,
    OPT_SHOTS, OPT_QUERY, OPT_HIDDEN, OPT_LR, OPT_L1, OPT_SEED, OPT_THREADS, OPT_SAVE, OPT_LOAD, OPT_CSV,
    OPT_PNG, OPT_QUICK, OPT_HELP
};

static const struct option long_options[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"omniglot", required_argument, NULL, OPT_OMNIGLOT},
    {"feedback", required_argument, NULL, OPT_FEEDBACK},
    {"terms", required_argument, NULL, OPT_TERMS},
    {"theta", required_argument, NULL, OPT_THETA},
    {"episodes", required_argument, NULL, OPT_EPISODES},
    {"eval-episodes", required_argument, NULL, OPT_EVAL},
    {"ways", required_argument, NULL, OPT_WAYS},
    {"shots", required_argument, NULL, OPT_SHOTS},
    {"query", required_argument, NULL, OPT_QUERY},
    {"hidden", required_argument, NULL, OPT_HIDDEN},
    {"lr", required_argument, NULL, OPT_LR},
    {"l1", required_argument, NULL, OPT_L1},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"save", required_argument, NULL, OPT_SAVE},
    {"load", required_argument, NULL, OPT_LOAD},
    {"csv", required_argument, NULL, OPT_CSV},
    {"png", required_argument, NULL, OPT_PNG},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int parse_terms(const char *arg)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    int mask = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int t = 0;
        while (t < N_TERMS && strcmp(tok, term_names[t]) != 0)
            t++;
        if (t == N_TERMS)
            cli_bad_usage("--terms: unknown term '%s' (pg, eh, oja)", tok);
        mask |= 1 << t;
    }
    if (mask == 0)
        cli_bad_usage("--terms needs at least one term");
    return mask;
}

/* "a,b,c" into at most `max` numbers; returns how many. */
static long parse_list(const char *name, const char *arg, double *dst, long max)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    long n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == max)
            cli_bad_usage("--%s takes at most %ld values", name, max);
        char *end;
        errno = 0;
        dst[n] = strtod(tok, &end);
        if (errno || *end || !isfinite(dst[n]))
            cli_bad_usage("--%s: '%s' is not a number", name, tok);
        n++;
    }
    return n;
}

static void parse_option(options *o, int c, const char *arg)
{
    double v[MAX_HIDDEN];
    switch (c) {
    case OPT_DATA: o->data = arg; break;
    case OPT_OMNIGLOT: o->omniglot = arg; break;
    case OPT_FEEDBACK:
        if (strcmp(arg, "fixed") && strcmp(arg, "symmetric"))
            cli_bad_usage("--feedback is fixed or symmetric, not '%s'", arg);
        o->symmetric = strcmp(arg, "symmetric") == 0;
        break;
    case OPT_TERMS: o->terms = parse_terms(arg); break;
    case OPT_THETA:
        if (parse_list("theta", arg, o->theta, N_TERMS) != N_TERMS)
            cli_bad_usage("--theta takes %d values", N_TERMS);
        break;
    case OPT_EPISODES: o->episodes = cli_parse_long("episodes", arg, 0, 1L << 40); break;
    case OPT_EVAL: o->eval_episodes = cli_parse_long("eval-episodes", arg, 1, 1L << 30); break;
    case OPT_WAYS: o->ways = cli_parse_long("ways", arg, 2, 1000); break;
    case OPT_SHOTS: o->shots = cli_parse_long("shots", arg, 1, 100000); break;
    case OPT_QUERY: o->query = cli_parse_long("query", arg, 1, 100000); break;
    case OPT_HIDDEN:
        o->n_hidden = parse_list("hidden", arg, v, MAX_HIDDEN);
        for (long i = 0; i < o->n_hidden; i++) {
            if (v[i] < 1 || v[i] > 1 << 20 || v[i] != floor(v[i]))
                cli_bad_usage("--hidden: widths are integers in [1, %d]", 1 << 20);
            o->hidden[i] = (long)v[i];
        }
        break;
    case OPT_LR: o->lr = cli_parse_rate("lr", arg); break;
    case OPT_L1: o->l1 = cli_parse_rate("l1", arg); break;
    case OPT_SEED: o->seed = (uint64_t)cli_parse_long("seed", arg, 0, 1L << 52); break;
    case OPT_THREADS: o->threads = (int)cli_parse_long("threads", arg, 1, 4096); break;
    case OPT_SAVE: o->save = arg; break;
    case OPT_LOAD: o->load = arg; break;
    case OPT_CSV: o->csv = arg; break;
    case OPT_PNG: o->png = arg; break;
    case OPT_QUICK: o->quick = 1; break;
    case OPT_HELP: usage(stdout); exit(0);
    default: usage(stderr); exit(2);
    }
}

static options parse_args(int argc, char **argv)
{
    options o = {.terms = (1 << N_TERMS) - 1, .episodes = -1, .eval_episodes = -1, .ways = 5, .shots = -1,
                 .query = -1, .n_hidden = 4, .hidden = {170, 130, 100, 70}, .lr = 1e-3,
                 .theta = {0.03, 0, 0.01}, .seed = 1, .threads = 1, .csv = "flp-rules.csv",
                 .png = "flp-rules.png"};
    int c;
    while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1)
        parse_option(&o, c, optarg);
    if (optind < argc)
        cli_bad_usage("unexpected argument '%s'", argv[optind]);
    if (!o.data == !o.omniglot)
        cli_bad_usage("give one of --data DIR or --omniglot DIR");
    if (o.shots < 0)
        o.shots = o.data ? 50 : 15;
    if (o.query < 0)
        o.query = o.data ? 10 : 5;
    if (o.episodes < 0)
        o.episodes = !o.quick ? 600 : o.data ? QUICK_EPISODES_IDX : QUICK_EPISODES;
    if (o.eval_episodes < 0)
        o.eval_episodes = o.quick ? QUICK_EVAL : 100;
    return o;
}

/* ---- the model ----------------------------------------------------------------- */

typedef struct {
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    flp_lifetime *lt;
    flp_meta *meta;
    flp_dataset *train, *eval;
    flp_sampler *sampler;
} model;

static void open_data(const options *o, model *m)
{
    if (o->data) {
        CLI_CHECK(flp_dataset_open_idx(o->data, "train", &m->train));
        CLI_CHECK(flp_dataset_open_idx(o->data, "t10k", &m->eval));
        return;
    }
    flp_dataset *all;
    CLI_CHECK(flp_dataset_open_omniglot(o->omniglot, 28, &all));
    CLI_CHECK(flp_dataset_split_by_alphabet(all, 3, &m->train, &m->eval));
    flp_dataset_free(all);
}

static void make_sampler(const options *o, const model *m, uint64_t seed, flp_sampler **s)
{
    CLI_CHECK(flp_sampler_create_fewshot(m->train, m->eval, seed, s));
    CLI_CHECK(flp_sampler_set(*s, FLP_FEWSHOT_WAYS, (double)o->ways));
    CLI_CHECK(flp_sampler_set(*s, FLP_FEWSHOT_SHOTS, (double)o->shots));
    CLI_CHECK(flp_sampler_set(*s, FLP_FEWSHOT_QUERY_PER_CLASS, (double)o->query));
}

static void build_net(const options *o, model *m, int64_t n_in)
{
    CLI_CHECK(flp_net_create(1, &n_in, &m->net));
    for (long i = 0; i < o->n_hidden; i++) {
        CLI_CHECK(flp_net_add_linear(m->net, o->hidden[i], 0));
        CLI_CHECK(flp_net_add_softplus(m->net, 10.0f));
    }
    CLI_CHECK(flp_net_add_linear(m->net, o->ways, 0));
}

static void model_create(const options *o, model *m)
{
    memset(m, 0, sizeof *m);
    open_data(o, m);
    make_sampler(o, m, o->seed, &m->sampler);
    int64_t n_in, n_out;
    int labelled;
    CLI_CHECK(flp_sampler_io_size(m->sampler, &n_in, &n_out, &labelled));
    build_net(o, m, n_in);
    flp_rng *rng;
    CLI_CHECK(flp_rng_create(o->seed, &rng));
    CLI_CHECK(flp_feedback_create(m->net, &m->fb));
    CLI_CHECK(flp_feedback_set(m->fb, FLP_FEEDBACK_KIND, o->symmetric ? FLP_FEEDBACK_SYMMETRIC : FLP_FEEDBACK_CHAINED));
    CLI_CHECK(flp_feedback_init(m->fb, rng, 1.0f));
    flp_rng_free(rng);
    CLI_CHECK(flp_rule_create(m->net, FLP_RULE_FAMILY, &m->rule));
    CLI_CHECK(flp_rule_set(m->rule, FLP_RULE_TERMS, o->terms));
    CLI_CHECK(flp_rule_set(m->rule, FLP_RULE_THETA_L1, o->l1));
    float theta[N_TERMS];
    for (int t = 0; t < N_TERMS; t++)
        theta[t] = o->terms >> t & 1 ? (float)o->theta[t] : 0.0f;
    CLI_CHECK(flp_rule_set_theta(m->rule, theta, N_TERMS));
    CLI_CHECK(flp_lifetime_create(m->net, m->fb, m->rule, &m->lt));
    CLI_CHECK(flp_lifetime_set(m->lt, FLP_LIFETIME_REINIT, 1));
    CLI_CHECK(flp_lifetime_set(m->lt, FLP_LIFETIME_REINIT_SEED, (double)o->seed));
    /* only theta learns: the weights are drawn per lifetime, B is fixed */
    CLI_CHECK(flp_meta_create(m->net, m->fb, m->rule, &m->meta));
    for (int g = 0; g < FLP_GROUP_COUNT; g++)
        CLI_CHECK(flp_meta_freeze(m->meta, (flp_group)g, g != FLP_GROUP_RULE));
    CLI_CHECK(flp_meta_set_lr(m->meta, FLP_GROUP_RULE, o->lr));
}

static void model_free(model *m)
{
    flp_meta_free(m->meta);
    flp_lifetime_free(m->lt);
    flp_rule_free(m->rule);
    flp_feedback_free(m->fb);
    flp_net_free(m->net);
    flp_sampler_free(m->sampler);
    flp_dataset_free(m->train);
    flp_dataset_free(m->eval);
}

/* ---- lifetimes ---------------------------------------------------------------------- */

/* Query accuracy in percent of the last lifetime's final weights. */
static double query_accuracy(const model *m, const flp_episode *ep, float *scores)
{
    int64_t K, batch, n_in, n_out, Q;
    const float *xq;
    const int32_t *lq;
    int64_t count;
    CLI_CHECK(flp_episode_shape(ep, &K, &batch, &n_in, &n_out, &Q, NULL));
    CLI_CHECK(flp_episode_floats(ep, FLP_EPISODE_XQ, &xq, &count));
    CLI_CHECK(flp_episode_labels(ep, FLP_EPISODE_LQ, &lq, &count));
    CLI_CHECK(flp_lifetime_predict(m->lt, Q, xq, scores));
    int64_t right = 0;
    for (int64_t q = 0; q < Q; q++) {
        int64_t best = 0;
        for (int64_t j = 1; j < n_out; j++)
            best = scores[q * n_out + j] > scores[q * n_out + best] ? j : best;
        right += best == lq[q];
    }
    return 100.0 * (double)right / (double)Q;
}

/* Mean and standard error of the query accuracy over fresh evaluation
 * episodes, from a sampler made anew so every evaluation sees the same. A
 * lifetime whose weights diverge scores 0 (and is reported). */
static void evaluate(const options *o, const model *m, flp_episode *ep, float *scores, double *mean, double *se)
{
    flp_sampler *s;
    make_sampler(o, m, o->seed + 1, &s);
    mean_se acc = {0};
    double t0 = cli_now(), t_last = t0;
    long diverged = 0;
    for (long r = 0; r < o->eval_episodes; r++) {
        float loss;
        CLI_CHECK(flp_sampler_next(s, FLP_SPLIT_EVAL, ep));
        flp_status st = flp_lifetime_run(m->lt, ep, 0, &loss);
        if (st != FLP_OK && st != FLP_ERR_NONFINITE)
            cli_die_flp("flp_lifetime_run");
        diverged += st != FLP_OK;
        mean_se_add(&acc, st == FLP_OK ? query_accuracy(m, ep, scores) : 0.0);
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

/* ---- training -------------------------------------------------------------------------- */

static FILE *open_csv(const options *o)
{
    FILE *f = fopen(o->csv, o->load ? "a" : "w");
    if (!f) {
        fprintf(stderr, "flp-rules: cannot open '%s': %s\n", o->csv, strerror(errno));
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    if (ftell(f) == 0) {
        fprintf(f, "episode,meta_loss,accuracy_pct");
        for (int t = 0; t < N_TERMS; t++)
            fprintf(f, ",theta_%s", term_names[t]);
        fprintf(f, ",seconds\n");
    }
    return f;
}

static void train(const options *o, model *m, flp_episode *ep, float *scores, FILE *csv)
{
    int64_t done;
    CLI_CHECK(flp_meta_step_count(m->meta, &done));
    double t0 = cli_now(), t_last = t0;
    for (long e = (long)done; e < o->episodes; e++) {
        float loss, theta[N_TERMS];
        CLI_CHECK(flp_sampler_next(m->sampler, FLP_SPLIT_TRAIN, ep));
        flp_status st = flp_meta_train_step(m->meta, m->lt, ep, &loss);
        if (st == FLP_ERR_NONFINITE)
            fprintf(stderr, "flp-rules: episode %ld: step skipped: %s\n", e + 1, flp_last_error());
        else if (st != FLP_OK)
            cli_die_flp("flp_meta_train_step");
        double acc = st == FLP_OK ? query_accuracy(m, ep, scores) : NAN;
        CLI_CHECK(flp_rule_get_theta(m->rule, theta, N_TERMS));
        printf("episode %ld meta_loss %.5g accuracy_pct %.1f theta", e + 1, (double)loss, acc);
        fprintf(csv, "%ld,%.7g,%.2f", e + 1, (double)loss, acc);
        for (int t = 0; t < N_TERMS; t++) {
            printf(" %s=%.5g", term_names[t], (double)theta[t]);
            fprintf(csv, ",%.7g", (double)theta[t]);
        }
        printf("\n");
        fprintf(csv, ",%.3f\n", cli_now() - t0);
        if (cli_now() - t_last >= 10 || e + 1 == o->episodes) {
            t_last = cli_now();
            double per = (t_last - t0) / (double)(e + 1 - done);
            fprintf(stderr, "episode %ld/%ld  %.2f s/step  ETA %.0fs\n", e + 1, o->episodes, per,
                    per * (double)(o->episodes - e - 1));
        }
    }
    fflush(stdout);
}

/* A PNG of theta per episode from the CSV, through gnuplot if it is there. */
static void plot(const options *o)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "flp-rules: gnuplot is not installed: no plot written (the CSV %s has the data; "
                "apt-get install gnuplot-nox)\n", o->csv);
        return;
    }
    FILE *g = popen("gnuplot", "w");
    if (!g) {
        fprintf(stderr, "flp-rules: cannot run gnuplot: %s; no plot written\n", strerror(errno));
        return;
    }
    fprintf(g, "set terminal png size 900,540 noenhanced\nset output '%s'\nset datafile separator ','\n"
               "set key autotitle columnhead\nset xlabel 'meta-training episode'\nset ylabel 'theta'\n"
               "set title 'rule coefficients'\nplot", o->png);
    for (int t = 0; t < N_TERMS; t++)
        fprintf(g, "%s '%s' using 1:%d with lines lw 2", t ? "," : "", o->csv, 4 + t);
    fprintf(g, "\n");
    if (pclose(g) != 0)
        fprintf(stderr, "flp-rules: gnuplot failed; no plot written\n");
    else
        fprintf(stderr, "plot written to %s\n", o->png);
}

int main(int argc, char **argv)
{
    cli_init("flp-rules", usage);
    options o = parse_args(argc, argv);
    cli_set_threads(o.threads);
    cli_describe_machine();
    model m;
    model_create(&o, &m);
    fprintf(stderr, "flp-rules %s: %s feedback, terms 0x%x, %ld-way %ld-shot online, %ld query per class, "
            "%ld episodes, %ld evaluation episodes, seed %llu\n", flp_version(), o.symmetric ? "symmetric" : "fixed",
            o.terms, o.ways, o.shots, o.query, o.episodes, o.eval_episodes, (unsigned long long)o.seed);
    if (o.load) {
        CLI_CHECK(flp_checkpoint_load(o.load, m.meta, m.sampler));
        int64_t done;
        CLI_CHECK(flp_meta_step_count(m.meta, &done));
        fprintf(stderr, "resumed from %s after %lld meta-steps\n", o.load, (long long)done);
    }
    flp_episode *ep;
    CLI_CHECK(flp_episode_create(&ep));
    float *scores = malloc((size_t)(o.ways * o.query * o.ways) * sizeof *scores); /* [query, ways] */
    if (!scores) {
        fprintf(stderr, "flp-rules: out of memory\n");
        return 1;
    }
    if (o.episodes > 0) {
        FILE *csv = open_csv(&o);
        train(&o, &m, ep, scores, csv);
        if (fclose(csv) != 0) {
            fprintf(stderr, "flp-rules: writing '%s': %s\n", o.csv, strerror(errno));
            return 1;
        }
        plot(&o);
    }
    if (o.save) {
        CLI_CHECK(flp_checkpoint_save(o.save, m.meta, m.sampler));
        fprintf(stderr, "checkpoint written to %s\n", o.save);
    }
    double mean, se;
    evaluate(&o, &m, ep, scores, &mean, &se);
    printf("eval_accuracy_pct %.2f %.2f\n", mean, se);
    free(scores);
    flp_episode_free(ep);
    model_free(&m);
    return 0;
}
