/* batch.c - meta-batches: n lifetimes per meta-step on a pool of worker
 * lifetimes, each episode's meta-gradient in a private sink, the sinks
 * summed in episode order and the sum added to the handles (flp_batch.h).
 *
 * Why private sinks rather than worker replicas of the handles: a replica
 * would copy every meta-parameter into each worker at every step, and the
 * replicas' gradients would still need the same ordered reduction. A sink
 * is just the gradient half, written by the lifetime through per-layer
 * pointers (flp__lt_layer.gW ... glr_bias) that a run binds either to the
 * handles or to a sink. Float addition is not associative, so a worker
 * must not accumulate its episodes in one sink (the sum would depend on the
 * schedule): the episodes run in waves of E (one per episode thread), each
 * into its own sink, and after each wave the E sinks are added, in episode
 * order, to an accumulator. Memory is E + 1 sinks whatever n; the waves
 * cost a barrier per E episodes, negligible next to a lifetime. The
 * accumulator reaches the handles only when every episode succeeded. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/alloc.h"
#include "core/error.h"
#include "flp/flp_batch.h"
#include "lifetime/lifetime_internal.h"
#include "lifetime/lifetime_keys.h"
#include "meta/meta_internal.h"

enum { N_LIFETIME_KEYS = 0 FLP_LIFETIME_KEY_MAP(FLP__KEY_COUNT) FLP_LIFETIME_KEY_MAP_EXPERIMENTAL(FLP__KEY_COUNT) };

struct flp_batch {
    flp_meta *meta;
    flp__tensor_list views;     /* the handles' gradients, re-collected at every run */
    flp_lifetime **workers;     /* one per episode thread, created on demand */
    int n_workers;
    float *sinks;               /* [(cap_threads + 1) * meta->total]: one per episode
                                   thread, then the accumulator */
    int cap_threads;
    int max_threads;            /* FLP_BATCH_THREADS; 0 = no cap */
    double lifetime[N_LIFETIME_KEYS]; /* the workers' settings, by flp_lifetime_key */
};

/* The first failing episode of a run (lowest index), its status and message. */
typedef struct {
    int episode;
    flp_status status;
    char message[512];
} flp__batch_failure;

flp_status flp_batch_create(flp_meta *meta, flp_batch **out)
{
    FLP__CHECK_NULL(out);
    *out = NULL;
    FLP__CHECK_NULL(meta);
    if (meta->fb == NULL || meta->rule == NULL)
        return flp__error(FLP_ERR_INVALID, "%s: meta was created without a %s; a lifetime needs both a "
                          "feedback and a rule", __func__, meta->fb == NULL ? "feedback" : "rule");
    flp_batch *b = flp__alloc_bytes(sizeof *b, "flp_batch");
    if (b == NULL)
        return FLP_ERR_NOMEM;
    b->meta = meta;
    b->max_threads = (int)flp__batch_keys.keys[0].def;
    for (int i = 0; i < flp__lifetime_keys.n; i++)
        b->lifetime[flp__lifetime_keys.keys[i].value] = flp__lifetime_keys.keys[i].def;
    *out = b;
    return FLP_OK;
}

void flp_batch_free(flp_batch *batch)
{
    if (batch == NULL)
        return;
    for (int w = 0; w < batch->n_workers; w++)
        flp_lifetime_free(batch->workers[w]);
    flp__free(batch->workers);
    flp__free(batch->sinks);
    flp__tensor_list_free(&batch->views);
    flp__free(batch);
}

/* ---- settings ------------------------------------------------------------------ */

/* The batch's own keys, then the lifetime's, forwarded (flp_batch.h). */
#define FORWARD_ENTRY(handle, name, value, type, def, lo, hi)                                    \
    {"FLP_BATCH_" #name, #name, 1 + (value), FLP__KEY_##type, (def), (lo), (hi)},

static const flp__key keys[] = {FLP_BATCH_KEY_MAP(FLP__KEY_ENTRY)
                                    FLP_LIFETIME_KEY_MAP(FORWARD_ENTRY)
                                    FLP_LIFETIME_KEY_MAP_EXPERIMENTAL(FORWARD_ENTRY)};

/* The flp_lifetime_key a batch key forwards, or -1 for the batch's own. */
static int forwarded(int key)
{
    return key >= 1 && key <= N_LIFETIME_KEYS ? key - 1 : -1;
}

/* Hand the lifetime settings on to one worker. */
static flp_status configure_worker(const flp_batch *b, flp_lifetime *lt)
{
    for (int k = 0; k < N_LIFETIME_KEYS; k++)
        FLP__TRY(flp_lifetime_set(lt, (flp_lifetime_key)k, b->lifetime[k]));
    return FLP_OK;
}

static flp_status store(void *h, int key, double value)
{
    flp_batch *batch = h;
    if (key == FLP_BATCH_THREADS)
        batch->max_threads = (int)value;
    else
        batch->lifetime[forwarded(key)] = value;
    for (int w = 0; w < batch->n_workers; w++)
        FLP__TRY(configure_worker(batch, batch->workers[w]));
    return FLP_OK;
}

static double load(const void *h, int key)
{
    const flp_batch *batch = h;
    return key == FLP_BATCH_THREADS ? batch->max_threads : batch->lifetime[forwarded(key)];
}

const flp__key_map flp__batch_keys = {"flp_batch_key", "batch", (int)(sizeof keys / sizeof keys[0]),
                                      keys, NULL, load, store};

FLP__KEY_FUNCTIONS(batch, "batch")

/* ---- the run ------------------------------------------------------------------------ */

/* Enough worker lifetimes and sinks for `threads` episode threads; both
 * only grow. */
static flp_status ensure_capacity(flp_batch *b, int threads)
{
    if (threads > b->n_workers) {
        flp_lifetime **w = flp__alloc_bytes((size_t)threads * sizeof *w, "flp_batch workers");
        if (w == NULL)
            return FLP_ERR_NOMEM;
        if (b->n_workers > 0)
            memcpy(w, b->workers, (size_t)b->n_workers * sizeof *w);
        flp__free(b->workers);
        b->workers = w;
        const flp_meta *m = b->meta;
        for (; b->n_workers < threads; b->n_workers++) {
            FLP__TRY(flp_lifetime_create(m->net, m->fb, m->rule, &b->workers[b->n_workers]));
            FLP__TRY(configure_worker(b, b->workers[b->n_workers]));
        }
    }
    if (threads > b->cap_threads) {
        float *s = flp__alloc_floats((int64_t)(threads + 1) * b->meta->total, "flp_batch gradient sinks");
        if (s == NULL)
            return FLP_ERR_NOMEM;
        flp__free(b->sinks);
        b->sinks = s;
        b->cap_threads = threads;
    }
    return FLP_OK;
}

/* Episode threads for n episodes on T threads, and the lifetime threads each. */
static void split_threads(const flp_batch *b, int n, int T, int *episode_threads, int *lifetime_threads)
{
    int e = n < T ? n : T;
    if (b->max_threads > 0 && e > b->max_threads)
        e = b->max_threads;
#ifndef _OPENMP
    e = 1; /* no thread pool without OpenMP */
#endif
    *episode_threads = e;
    *lifetime_threads = T / e;
}

static int worker_index(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static float *sink_of(const flp_batch *b, int slot) { return b->sinks + (int64_t)slot * b->meta->total; }

/* Episode i of a wave, slot k of it, on worker `w`; a failure is kept if it
 * is the first by index. */
static void run_episode(flp_batch *b, int w, int threads, const flp_episode *ep, int i, int k, float *loss,
                        flp__batch_failure *fail)
{
    float *sink = sink_of(b, k);
    flp_status st = ep == NULL ? flp__error(FLP_ERR_NULL, "flp_batch_run: episodes[%d] is NULL", i)
                               : flp__lt_run_private(b->workers[w], ep, &b->views, sink, threads, loss);
    if (st == FLP_OK)
        return;
#ifdef _OPENMP
#pragma omp critical(flp__batch_failure)
#endif
    if (i < fail->episode) {
        fail->episode = i;
        fail->status = st;
        snprintf(fail->message, sizeof fail->message, "%s", flp_last_error());
    }
}

/* dst[0..n) += src[0..n) */
static void add_into(int64_t n, const float *src, float *dst)
{
    for (int64_t j = 0; j < n; j++)
        dst[j] += src[j];
}

/* Add the sinks of a wave's m episodes to the accumulator, in episode order. */
static void accumulate_wave(flp_batch *b, int m)
{
    float *acc = sink_of(b, b->cap_threads);
    for (int k = 0; k < m; k++)
        add_into(b->meta->total, sink_of(b, k), acc);
}

/* Add the accumulator to the handles' gradients. */
static void add_to_handles(flp_batch *b)
{
    const float *acc = sink_of(b, b->cap_threads);
    for (int t = 0; t < b->views.n; t++) {
        add_into(b->views.items[t].count, acc, b->views.items[t].grad);
        acc += b->views.items[t].count;
    }
}

flp_status flp_batch_run(flp_batch *batch, const flp_episode *const *episodes, int n, float *losses)
{
    FLP__CHECK_NULL(batch);
    FLP__CHECK_NULL(episodes);
    FLP__CHECK_NULL(losses);
    if (n < 1)
        return flp__error(FLP_ERR_RANGE, "%s: n = %d, need at least 1 episode", __func__, n);
    FLP__TRY(flp__meta_collect(batch->meta, &batch->views, __func__));
    int T, e, lt_threads;
    FLP__TRY(flp_get_num_threads(&T));
    split_threads(batch, n, T, &e, &lt_threads);
    flp_status st = ensure_capacity(batch, e);
    if (st != FLP_OK)
        return flp__error_context(st, "%s", __func__);
    memset(sink_of(batch, batch->cap_threads), 0, (size_t)batch->meta->total * sizeof(float));
    flp__batch_failure fail = {n, FLP_OK, ""};
    for (int start = 0; start < n && fail.episode == n; start += e) {
        int m = n - start < e ? n - start : e;
#ifdef _OPENMP
#pragma omp parallel for schedule(static, 1) num_threads(m) if (m > 1)
#endif
        for (int k = 0; k < m; k++)
            run_episode(batch, worker_index(), lt_threads, episodes[start + k], start + k, k,
                        &losses[start + k], &fail);
        accumulate_wave(batch, m);
    }
    if (fail.episode < n)
        return flp__error(fail.status, "%s: episode %d: %s", __func__, fail.episode, fail.message);
    add_to_handles(batch);
    return FLP_OK;
}

flp_status flp_batch_train_step(flp_batch *batch, const flp_episode *const *episodes, int n, float *losses)
{
    FLP__CHECK_NULL(batch);
    FLP__TRY(flp_meta_zero_grad(batch->meta));
    FLP__TRY(flp_batch_run(batch, episodes, n, losses));
    if (n > 1)
        FLP__TRY(flp_meta_scale_grad(batch->meta, 1.0 / n));
    return flp_meta_step(batch->meta);
}
