/* flp-bench - time full meta-steps and relate them to BLIS's own speed.
 *
 *   flp-bench sine [--width W] [--steps-per-task S] [--plastic N] [--threads T]
 *                  [--meta-batch B] [--repeats R] [--memory-mib M] [--json]
 *
 * A meta-step is what a training loop does per meta-batch: draw B episodes
 * (sampler) and flp_batch_train_step (B lifetimes run concurrently, each
 * with its forward pass and reverse sweep with recomputation, then Adam). The plasticity coefficients stay at their initial
 * value, so that lifetimes of any length stay finite. The network is the paper's 11-W-W-W-W-W-3W-W-W-1
 * with every linear layer plastic by default.
 *
 * Work: the floating-point operations of every matrix product the lifetime
 * did (flp_lifetime_work: 2 m n k per product, recomputation included;
 * the elementwise passes and Adam are not counted, only timed).
 *
 * gemm_gflops is BLIS's rate on same-shaped products measured in the same
 * run: b x W x W "NT" products (the forward) and W x W x b "TN" outer
 * products (the Hebbian term), equal numbers of each; the better of BLIS
 * splitting each product over T threads and T threads each running their
 * own products (how the lifetime runs independent layers). efficiency =
 * gflops / gemm_gflops. gemm_replay_gflops is BLIS alone on the lifetime's
 * own sequence of products, with weights beyond the cache as the records
 * are: the ceiling of gflops with BLIS; replay_efficiency = gflops /
 * gemm_replay_gflops says how much of the step is not its products.
 *
 * gemm_peak_gflops is the machine's ceiling: BLIS on a large square sgemm
 * (2048^3) on the same threads with the kernels in use (`kernels`, libflp's
 * choice unless FLP_KERNELS or BLIS_ARCH_TYPE say otherwise), measured in
 * the same run; peak_efficiency = gflops / gemm_peak_gflops. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <flp/flp.h>

#include "cli.h"
#include "core/gemm.h"
#include "sine_model.h"
#include "sine_options.h"

typedef struct {
    sine_config cfg;
    int threads, repeats, json, meta_batch;
} options;

typedef struct {
    double seconds, seconds_min, seconds_max, gflop, gflops, gemm_gflops, efficiency, peak_rss_mib, workspace_mib;
    double replay_gflops, replay_efficiency, peak_gflops, peak_efficiency;
    int64_t recomputed;
} results;

/* ---- command line ---------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: flp-bench sine [--width W] [--steps-per-task S] [--plastic N] [--threads T]\n"
        "                      [--meta-batch B] [--repeats R] [--memory-mib M] [--json]\n"
        "Time full meta-steps (sampler + flp_batch_train_step) on incremental sine waves,\n"
        "network 11-W-W-W-W-W-3W-W-W-1, batch 32, 10 sinusoids.\n"
        "\n"
        "  --width W           hidden width (default %d)\n"
        "  --steps-per-task S  batches per sinusoid; K = 10 S inner steps (default 40)\n"
        "  --plastic N         last N linear layers plastic (default 9: all)\n"
        "  --threads T         threads (default: every CPU it may use): episode threads x\n"
        "                      each lifetime's threads stay within T (flp_batch.h)\n"
        "  --meta-batch B      episodes per meta-step, run concurrently (default 1)\n"
        "  --repeats R         timed meta-steps after one warm-up (default 5)\n"
        "  --memory-mib M      lifetime memory budget in MiB (default: library default)\n"
        "  --json              one JSON object instead of `name value` lines\n"
        "  --help              this text\n"
        "\n"
        "Output:\n"
        "  seconds_per_meta_step  median of R (seconds_min, seconds_max: the extremes)\n"
        "  meta_steps_per_second  1 / seconds_per_meta_step\n"
        "  episodes_per_second    B / seconds_per_meta_step\n"
        "  gflop_per_meta_step    matrix-product work the lifetimes counted (B times\n"
        "                         flp_lifetime_work of one): 2 m n k per product,\n"
        "                         recomputation included\n"
        "  gflops                 gflop_per_meta_step / seconds_per_meta_step\n"
        "  gemm_gflops            BLIS sgemm rate on b x W x W (NT) and W x W x b (TN)\n"
        "                         products, the better of BLIS threading each product\n"
        "                         and T threads running products side by side,\n"
        "                         measured in this run\n"
        "  efficiency             gflops / gemm_gflops\n"
        "  gemm_replay_gflops     BLIS sgemm rate on the lifetime's own products: the\n"
        "                         seven products per layer and inner step, weights in\n"
        "                         record slots beyond the cache, layers as parallel\n"
        "                         tasks, 400 steps (the ceiling of gflops with BLIS)\n"
        "  replay_efficiency      gflops / gemm_replay_gflops\n"
        "  gemm_peak_gflops       BLIS sgemm rate on one 2048^3 product on the same\n"
        "                         threads and kernels: the machine's ceiling\n"
        "  peak_efficiency        gflops / gemm_peak_gflops\n"
        "  kernels                BLIS's kernel set in use (flp_kernels)\n"
        "  peak_rss_mib           peak resident memory of the process\n"
        "  workspace_mib          the lifetime's workspace (flp_lifetime_stats)\n"
        "  recomputed_steps       inner steps the reverse sweep recomputed\n",
        SINE_WIDTH);
}

enum { OPT_WIDTH = 256, OPT_THREADS, OPT_REPEATS, OPT_JSON, OPT_META_BATCH };

static void parse_option(void *ctx, int c, const char *name, const char *arg)
{
    options *o = ctx;
    switch (c) {
    case SINE_OPTION: sine_option_parse(&o->cfg, name, arg); break;
    case OPT_WIDTH: o->cfg.width = cli_parse_long("width", arg, 1, 1L << 16); break;
    case OPT_THREADS: o->threads = (int)cli_parse_long("threads", arg, 1, 4096); break;
    case OPT_REPEATS: o->repeats = (int)cli_parse_long("repeats", arg, 1, 100000); break;
    case OPT_META_BATCH: o->meta_batch = (int)cli_parse_long("meta-batch", arg, 1, 1 << 16); break;
    case OPT_JSON: o->json = 1; break;
    }
}

static const struct option long_options[] = {
    {"width", required_argument, NULL, OPT_WIDTH},
    {"steps-per-task", required_argument, NULL, SINE_OPTION},
    {"plastic", required_argument, NULL, SINE_OPTION},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"repeats", required_argument, NULL, OPT_REPEATS},
    {"meta-batch", required_argument, NULL, OPT_META_BATCH},
    {"memory-mib", required_argument, NULL, SINE_OPTION},
    {"json", no_argument, NULL, OPT_JSON},
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0},
};

static options parse_args(int argc, char **argv)
{
    options o = {.cfg = sine_config_default(), .repeats = 5, .meta_batch = 1};
    o.cfg.plastic = o.cfg.depth + 1;
    int first = cli_parse_options(argc, argv, long_options, parse_option, &o);
    if (first != argc - 1 || strcmp(argv[first], "sine") != 0)
        cli_bad_usage("expected exactly one benchmark name, 'sine'");
    return o;
}

/* ---- measurements ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median (and extremes) of the seconds of `repeats` meta-steps after one warm-up. */
static double time_meta_steps(const options *o, const sine_model *m, flp_batch *batch, flp_episode **eps,
                              double *lo, double *hi)
{
    double *t = malloc((size_t)o->repeats * sizeof *t);
    float *losses = malloc((size_t)o->meta_batch * sizeof *losses);
    if (!t || !losses) {
        fprintf(stderr, "flp-bench: out of memory\n");
        exit(1);
    }
    for (int r = -1; r < o->repeats; r++) {
        double t0 = cli_now();
        for (int i = 0; i < o->meta_batch; i++)
            CLI_CHECK(flp_sampler_next(m->sampler, FLP_SPLIT_TRAIN, eps[i]));
        flp_status st = flp_batch_train_step(batch, (const flp_episode *const *)eps, o->meta_batch, losses);
        if (st == FLP_ERR_NONFINITE)
            fprintf(stderr, "flp-bench: warning: %s\n", flp_last_error());
        else if (st != FLP_OK)
            cli_die_flp("flp_batch_train_step");
        if (r >= 0)
            t[r] = cli_now() - t0;
    }
    qsort(t, (size_t)o->repeats, sizeof *t, cmp_double);
    *lo = t[0];
    *hi = t[o->repeats - 1];
    double median = o->repeats % 2 ? t[o->repeats / 2]
                                   : 0.5 * (t[o->repeats / 2 - 1] + t[o->repeats / 2]);
    free(t);
    free(losses);
    return median;
}

/* Seconds per NT + TN pair of the lifetime's shapes on this thread, over
 * at least `min_seconds`. */
static double pair_seconds(int64_t b, int64_t w, double min_seconds)
{
    float *A = calloc((size_t)(b * w), sizeof *A), *Bm = calloc((size_t)(w * w), sizeof *Bm);
    float *C = calloc((size_t)(w * w), sizeof *C), *D = calloc((size_t)(b * w), sizeof *D);
    if (!A || !Bm || !C || !D) {
        fprintf(stderr, "flp-bench: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < b * w; i++)
        A[i] = D[i] = (float)((i % 17) - 8) * 0.01f;
    for (int64_t i = 0; i < w * w; i++)
        Bm[i] = (float)((i % 13) - 6) * 0.01f;
    /* warm-up: packing buffers and threads */
    flp__gemm_nt(b, w, w, 1.0f, A, w, Bm, w, 0.0f, D, w);
    flp__gemm_tn(w, w, b, 1.0f, A, w, D, w, 0.0f, C, w);
    long pairs = 0;
    double t0 = cli_now(), elapsed;
    do {
        for (int i = 0; i < 10; i++) {
            flp__gemm_nt(b, w, w, 1.0f, A, w, Bm, w, 0.0f, D, w);  /* D[b,w] = A Bm^T */
            flp__gemm_tn(w, w, b, 1.0f, A, w, D, w, 0.0f, C, w);   /* C[w,w] = A^T D */
        }
        pairs += 10;
        elapsed = cli_now() - t0;
    } while (elapsed < min_seconds);
    free(A);
    free(Bm);
    free(C);
    free(D);
    return elapsed / (double)pairs;
}

/* ---- BLIS alone on the lifetime's own products ------------------------------------ */

/* Record slots the replay cycles through: more than a last-level cache
 * holds, as the reverse sweep's records are. */
#define REPLAY_SLOTS 24

typedef struct {
    int64_t in, out, off; /* off: where its weights start in a slot */
} replay_layer;

/* The seven products one inner step makes per plastic layer of `in`
 * inputs and `out` neurons at batch b (doc/MATH.md): forward, outer product
 * on the first pass and on recomputation, pre G^T, post G, the chain and
 * the weight gradient. W is the step's record slot; the small operands
 * (batch x width) stay in cache, as one step's activities do. */
static void replay_layer_step(int64_t b, const replay_layer *l, float *W, float *small1, float *small2)
{
    int64_t in = l->in, out = l->out;
    flp__gemm_nt(b, out, in, 1.0f, small1, in, W, in, 0.0f, small2, out);     /* z = h W^T */
    flp__gemm_tn(out, in, b, 1.0f, small2, out, small1, in, 0.0f, W, in);     /* P = post^T pre */
    flp__gemm_tn(out, in, b, 1.0f, small2, out, small1, in, 0.0f, W, in);     /* again, recomputing */
    flp__gemm_nt(b, out, in, 1.0f, small1, in, W, in, 1.0f, small2, out);     /* dpost += pre G^T */
    flp__gemm_nn(b, in, out, 1.0f, small2, out, W, in, 0.0f, small1, in);     /* dpre = post G */
    flp__gemm_nn(b, in, out, 1.0f, small2, out, W, in, 1.0f, small1, in);     /* dh += dz W */
    flp__gemm_tn(out, in, b, 1.0f, small2, out, small1, in, 1.0f, W, in);     /* dW += dz^T h */
}

/* GFLOP/s of BLIS on those products for `steps` inner steps of the sine
 * network, layers as parallel tasks on `threads` threads as the lifetime
 * runs them: what the meta-step would reach if it did nothing but its
 * matrix products. */
static double replay_rate(const sine_config *cfg, int threads, int steps)
{
    replay_layer l[16];
    int n = 0;
    int64_t in = SINE_TASKS + 1, state = 0, widest = in; /* the task code and x */
    for (int i = 0; i <= cfg->depth && n < 16; i++) {
        int64_t out = i < cfg->depth ? sine_hidden_width(cfg, i) : 1;
        l[n++] = (replay_layer){in, out, state};
        state += in * out;
        widest = out > widest ? out : widest;
        in = out;
    }
    float *W = calloc((size_t)(REPLAY_SLOTS * state), sizeof *W);
    float *small = calloc((size_t)(2 * n * cfg->batch * widest), sizeof *small); /* per layer */
    if (!W || !small) {
        fprintf(stderr, "flp-bench: out of memory\n");
        exit(1);
    }
    double flop = 0.0;
    for (int i = 0; i < n; i++)
        flop += 7.0 * 2.0 * (double)cfg->batch * (double)l[i].in * (double)l[i].out;
    double t0 = 0.0;
    for (int k = -1; k < steps; k++) { /* step -1 warms up */
        if (k == 0)
            t0 = cli_now();
        float *slot = W + (k + REPLAY_SLOTS) % REPLAY_SLOTS * state;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (int i = 0; i < n; i++) {
            float *mine = small + 2 * i * cfg->batch * widest;
            replay_layer_step(cfg->batch, &l[i], slot + l[i].off, mine, mine + cfg->batch * widest);
        }
    }
    double seconds = cli_now() - t0;
    free(W);
    free(small);
    return flop * steps / seconds;
}

/* BLIS's rate on the lifetime's two product shapes: the better of BLIS
 * splitting each product over the threads, and every thread running its own
 * products (inside a parallel region BLIS runs serially). */
static double gemm_rate(int64_t b, int64_t w, int threads, double min_seconds)
{
    double pair_flop = 2.0 * (2.0 * (double)b * (double)w * (double)w);
    double threaded = pair_flop / pair_seconds(b, w, min_seconds), side_by_side = 0;
#pragma omp parallel num_threads(threads) reduction(+ : side_by_side)
    side_by_side += pair_flop / pair_seconds(b, w, min_seconds);
    return threaded > side_by_side ? threaded : side_by_side;
}

/* BLIS's rate on one large square product, split over the threads: the
 * best any dense float32 computation reaches on this machine. */
static double peak_rate(double min_seconds)
{
    const int64_t n = 2048;
    float *a = malloc((size_t)(3 * n * n) * sizeof *a);
    if (!a) {
        fprintf(stderr, "flp-bench: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < 3 * n * n; i++)
        a[i] = (float)(i % 7) * 0.125f;
    double best = 1e30, spent = 0.0;
    for (int r = 0; r < 3 || spent < min_seconds; r++) {
        double t = cli_now();
        flp__gemm_nn(n, n, n, 1.0f, a, n, a + n * n, n, 0.0f, a + 2 * n * n, n);
        t = cli_now() - t;
        spent += t;
        best = t < best ? t : best;
    }
    free(a);
    return 2.0 * (double)n * (double)n * (double)n / best;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

static results run(const options *o)
{
    results r;
    memset(&r, 0, sizeof r);
    sine_model m;
    CLI_CHECK(sine_model_create(&o->cfg, 1, &m));
    /* Adam's first steps move alpha away from 0 by +-lr, and an anti-Hebbian
     * alpha < 0 blows long lifetimes up. Keeping alpha at its initial value
     * keeps any lifetime finite; the work is the same (alpha's gradient is
     * still computed; Adam leaves the frozen group alone). */
    CLI_CHECK(flp_meta_freeze(m.h.meta, FLP_GROUP_PLASTICITY, 1));
    flp_episode **eps = calloc((size_t)o->meta_batch, sizeof *eps);
    if (!eps) {
        fprintf(stderr, "flp-bench: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < o->meta_batch; i++)
        CLI_CHECK(flp_episode_create(&eps[i]));
    flp_batch *batch;
    CLI_CHECK(flp_batch_create(m.h.meta, &batch));
    if (o->cfg.memory_mib >= 0)
        CLI_CHECK(flp_batch_set(batch, FLP_BATCH_MEMORY_BUDGET, o->cfg.memory_mib * 1048576.0));
    r.seconds = time_meta_steps(o, &m, batch, eps, &r.seconds_min, &r.seconds_max);
    flp_batch_free(batch);
    /* Read before the lifetime below adds a workspace of its own. */
    r.peak_rss_mib = peak_rss_mib();
    /* The work and workspace of one lifetime (every sine episode has the
     * same shapes), from the model's own lifetime on one episode: the
     * meta-batch's worker lifetimes are internal. */
    float loss;
    CLI_CHECK(flp_sampler_next(m.sampler, FLP_SPLIT_EVAL, eps[0]));
    CLI_CHECK(flp_lifetime_run(m.h.lt, eps[0], 1, &loss));
    int64_t workspace;
    CLI_CHECK(flp_lifetime_stats(m.h.lt, &workspace, &r.recomputed));
    double flops;
    CLI_CHECK(flp_lifetime_work(m.h.lt, &flops));
    r.gflop = o->meta_batch * flops / 1e9;
    r.gflops = r.gflop / r.seconds;
    r.workspace_mib = (double)workspace / 1048576.0;
    int threads;
    CLI_CHECK(flp_get_num_threads(&threads));
    r.gemm_gflops = gemm_rate(o->cfg.batch, o->cfg.width, threads, 1.0) / 1e9;
    r.efficiency = r.gflops / r.gemm_gflops;
    r.replay_gflops = replay_rate(&o->cfg, threads, 400) / 1e9;
    r.replay_efficiency = r.gflops / r.replay_gflops;
    r.peak_gflops = peak_rate(1.0) / 1e9;
    r.peak_efficiency = r.gflops / r.peak_gflops;
    for (int i = 0; i < o->meta_batch; i++)
        flp_episode_free(eps[i]);
    free(eps);
    sine_model_free(&m);
    return r;
}

/* ---- output ------------------------------------------------------------------------- */

static void print_results(const options *o, const results *r)
{
    int threads;
    CLI_CHECK(flp_get_num_threads(&threads));
    const struct {
        const char *name;
        double value;
        const char *fmt;
    } rows[] = {
        {"width", (double)o->cfg.width, "%.0f"},
        {"steps", 10.0 * (double)o->cfg.batches_per_task, "%.0f"},
        {"batch", (double)o->cfg.batch, "%.0f"},
        {"plastic_layers", (double)o->cfg.plastic, "%.0f"},
        {"threads", (double)threads, "%.0f"},
        {"meta_batch", (double)o->meta_batch, "%.0f"},
        {"repeats", (double)o->repeats, "%.0f"},
        {"seconds_per_meta_step", r->seconds, "%.4f"},
        {"seconds_min", r->seconds_min, "%.4f"},
        {"seconds_max", r->seconds_max, "%.4f"},
        {"meta_steps_per_second", 1.0 / r->seconds, "%.4f"},
        {"episodes_per_second", o->meta_batch / r->seconds, "%.4f"},
        {"gflop_per_meta_step", r->gflop, "%.2f"},
        {"gflops", r->gflops, "%.2f"},
        {"gemm_gflops", r->gemm_gflops, "%.2f"},
        {"efficiency", r->efficiency, "%.3f"},
        {"gemm_replay_gflops", r->replay_gflops, "%.2f"},
        {"replay_efficiency", r->replay_efficiency, "%.3f"},
        {"gemm_peak_gflops", r->peak_gflops, "%.2f"},
        {"peak_efficiency", r->peak_efficiency, "%.3f"},
        {"peak_rss_mib", r->peak_rss_mib, "%.1f"},
        {"workspace_mib", r->workspace_mib, "%.1f"},
        {"recomputed_steps", (double)r->recomputed, "%.0f"},
    };
    const int n = (int)(sizeof rows / sizeof *rows);
    if (o->json)
        printf("{\"benchmark\": \"sine\", \"kernels\": \"%s\"", flp_kernels());
    else
        printf("kernels %s\n", flp_kernels());
    for (int i = 0; i < n; i++) {
        printf(o->json ? ", \"%s\": " : "%s ", rows[i].name);
        printf(rows[i].fmt, rows[i].value);
        if (!o->json)
            printf("\n");
    }
    if (o->json)
        printf("}\n");
}

int main(int argc, char **argv)
{
    cli_init("flp-bench", usage);
    options o = parse_args(argc, argv);
    cli_set_threads(o.threads);
    results r = run(&o);
    print_results(&o, &r);
    return 0;
}
