/* sine.c - incremental sine waves (Lindsey & Litwin-Kumar 2020, after Javed
 * & White 2019); see flp_episode.h for the protocol.
 *
 * Randomness. The seed feeds a splitmix-seeded generator that hands out
 * three independent seeds: one builds the training pool, one drives the
 * training episodes, one the evaluation episodes. Drawing evaluation
 * episodes therefore never shifts the training stream, and the pool is a
 * pure function of (seed, pool index): growing the pool keeps its first
 * entries. The state that determines every episode still to come is the
 * seed, the settings and the two episode generators; it serialises into a
 * fixed 136-byte little-endian record for checkpoints.
 *
 * Drawing order within an episode (fixed, so equal states give equal
 * episodes): the episode's sinusoids, the presentation order, the training
 * inputs task by task, then the query inputs task by task. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng_internal.h"
#include "core/episode_internal.h"
#include "tasks/sampler_internal.h"
#include "tasks/state_record.h"

#define SINE_PI 3.14159265358979323846
#define SINE_AMP_LO 0.1
#define SINE_AMP_HI 5.1
#define SINE_X_LO (-5.0)
#define SINE_X_HI 5.0

enum { SINE_NKEYS = 0 FLP_SINE_KEY_MAP(FLP__KEY_COUNT) };

/* Bounds keep every product of settings far from int64 overflow before the
 * episode's own size check; values beyond them are not useful anyway. */
static const flp__key sine_keys[SINE_NKEYS] = {FLP_SINE_KEY_MAP(FLP__KEY_ENTRY)};

typedef struct {
    double amp, phase;
} sinusoid;

typedef struct {
    flp_sampler base; /* first member: the handle and its state are one allocation */
    uint64_t seed;
    int64_t set[SINE_NKEYS];
    flp_rng train, eval; /* episode streams */
    sinusoid *pool;
    int64_t pool_n;
    /* scratch, grown only when settings grow */
    int64_t *pick, pick_cap;     /* pool indices for a partial shuffle */
    int64_t *order, order_cap;   /* presentation order of batches or examples */
    sinusoid *chosen;            /* the episode's sinusoids */
    int64_t chosen_cap;
} sine;

enum { STREAM_POOL = 0, STREAM_TRAIN = 1, STREAM_EVAL = 2 };

/* Seed of one of the three streams derived from the user's seed. */
static uint64_t stream_seed(uint64_t seed, int stream)
{
    flp_rng master;
    flp__rng_seed(&master, seed);
    uint64_t v = 0;
    for (int i = 0; i <= stream; i++)
        v = flp__rng_u64(&master);
    return v;
}

static sinusoid draw_sinusoid(flp_rng *rng)
{
    sinusoid s;
    s.amp = SINE_AMP_LO + (SINE_AMP_HI - SINE_AMP_LO) * flp__rng_unit(rng);
    s.phase = SINE_PI * flp__rng_unit(rng);
    return s;
}

/* A freshly built pool of n sinusoids for `seed`, or NULL (error set). */
static sinusoid *build_pool(uint64_t seed, int64_t n)
{
    sinusoid *pool = flp__alloc_bytes((size_t)n * sizeof *pool, "sine pool");
    if (pool == NULL)
        return NULL;
    flp_rng rng;
    flp__rng_seed(&rng, stream_seed(seed, STREAM_POOL));
    for (int64_t i = 0; i < n; i++)
        pool[i] = draw_sinusoid(&rng);
    return pool;
}

/* Grow a scratch buffer to hold n elements of `size` bytes; contents are
 * not kept (every user rewrites its scratch from scratch). */
static flp_status grow(void **buf, int64_t *cap, int64_t n, size_t size, const char *what)
{
    if (n <= *cap)
        return FLP_OK;
    void *p = flp__alloc_bytes((size_t)n * size, what);
    if (p == NULL)
        return FLP_ERR_NOMEM;
    flp__free(*buf);
    *buf = p;
    *cap = n;
    return FLP_OK;
}

/* ---- settings ------------------------------------------------------------- */

/* Make the pool match (seed, n): a no-op when it already does, since the
 * pool is a pure function of the two. Leaves the old pool on failure. */
static flp_status ensure_pool(sine *S, uint64_t seed, int64_t n, const char *fn)
{
    if (S->pool != NULL && S->seed == seed && S->pool_n == n)
        return FLP_OK;
    sinusoid *pool = build_pool(seed, n);
    if (pool == NULL)
        return flp__error_context(FLP_ERR_NOMEM, "%s", fn);
    flp__free(S->pool);
    S->pool = pool;
    S->pool_n = n;
    return FLP_OK;
}

/* The one setting another constrains: training episodes draw FLP_SINE_TASKS
 * distinct sinusoids from the pool. The setters leave it to flp_sampler_next
 * (settings may be changed in any order); a loaded state must satisfy it. */
static flp_status check_pool(const int64_t *set, flp_status status, const char *who)
{
    if (set[FLP_SINE_POOL] < set[FLP_SINE_TASKS])
        return flp__error(status,
                          "%s: the training pool has %lld sinusoids, fewer than the %lld an episode "
                          "draws without replacement (FLP_SINE_POOL < FLP_SINE_TASKS)",
                          who, (long long)set[FLP_SINE_POOL], (long long)set[FLP_SINE_TASKS]);
    return FLP_OK;
}

static flp_status sine_store(void *h, int key, double value)
{
    sine *S = ((flp_sampler *)h)->impl;
    if (key == FLP_SINE_POOL)
        FLP__TRY(ensure_pool(S, S->seed, (int64_t)value, "flp_sampler_set"));
    /* FLP_SINE_TASKS needs no rebuild: the pool does not depend on it. */
    S->set[key] = (int64_t)value;
    return FLP_OK;
}

static double sine_load(const void *h, int key)
{
    const sine *S = ((const flp_sampler *)h)->impl;
    return (double)S->set[key];
}

const flp__key_map flp__sine_keys = {"flp_sine_key", "sine", SINE_NKEYS, sine_keys,
                                     NULL, sine_load, sine_store};

static flp_status sine_io_size(const flp_sampler *s, int64_t *n_in, int64_t *n_out, int *classification)
{
    const sine *S = s->impl;
    *n_in = S->set[FLP_SINE_TASKS] + 1;
    *n_out = 1;
    *classification = 0;
    return FLP_OK;
}

/* ---- episodes --------------------------------------------------------------- */

/* The episode's sinusoids: distinct pool entries (partial Fisher-Yates over
 * a fresh identity, so the choice depends on the generator state alone) or
 * fresh draws for evaluation. */
static void choose_sinusoids(sine *S, flp_split split, flp_rng *rng, int64_t tasks)
{
    if (split == FLP_SPLIT_EVAL) {
        for (int64_t t = 0; t < tasks; t++)
            S->chosen[t] = draw_sinusoid(rng);
        return;
    }
    for (int64_t i = 0; i < S->pool_n; i++)
        S->pick[i] = i;
    for (int64_t t = 0; t < tasks; t++) {
        int64_t j = t + (int64_t)flp__rng_below(rng, (uint64_t)(S->pool_n - t));
        int64_t tmp = S->pick[t];
        S->pick[t] = S->pick[j];
        S->pick[j] = tmp;
        S->chosen[t] = S->pool[S->pick[t]];
    }
}

static float draw_x(flp_rng *rng)
{
    return (float)(SINE_X_LO + (SINE_X_HI - SINE_X_LO) * flp__rng_unit(rng));
}

/* One example of task t at row `row` of x (n_in = tasks + 1 columns) and y. */
static void write_example(float *x, float *y, int64_t row, int64_t tasks, int64_t t, float xv,
                          sinusoid f)
{
    float *r = x + row * (tasks + 1);
    memset(r, 0, (size_t)tasks * sizeof *r);
    r[t] = 1.0f;
    r[tasks] = xv;
    y[row] = (float)(f.amp * sin((double)xv + f.phase));
}

static flp_status sine_next(flp_sampler *s, flp_split split, flp_episode *ep)
{
    sine *S = s->impl;
    const int64_t tasks = S->set[FLP_SINE_TASKS], per_task = S->set[FLP_SINE_BATCHES_PER_TASK];
    const int64_t B = S->set[FLP_SINE_BATCH], Q = S->set[FLP_SINE_QUERY_PER_TASK];
    const int64_t K = tasks * per_task;
    if (split == FLP_SPLIT_TRAIN)
        FLP__TRY(check_pool(S->set, FLP_ERR_STATE, "flp_sampler_next"));

    /* Granules are what gets shuffled: whole batches, or single examples with
     * FLP_SINE_SHUFFLE_EXAMPLES. Continual order keeps the identity. */
    const int iid = S->set[FLP_SINE_ORDER] == FLP_ORDER_IID;
    const int64_t g = iid && S->set[FLP_SINE_SHUFFLE_EXAMPLES] ? 1 : B;

    /* Every allocation happens before the generator moves, so a failed call
     * leaves the stream where it was. */
    FLP__TRY(flp__episode_reshape(ep, FLP__EPISODE_REGRESSION, K, B, tasks + 1, 1, tasks * Q,
                                  "flp_sampler_next"));
    const int64_t n_granules = K * B / g;
    if (grow((void **)&S->order, &S->order_cap, n_granules, sizeof *S->order, "sine order") ||
        grow((void **)&S->chosen, &S->chosen_cap, tasks, sizeof *S->chosen, "sine tasks") ||
        grow((void **)&S->pick, &S->pick_cap, S->pool_n, sizeof *S->pick, "sine pool indices"))
        return flp__error_context(FLP_ERR_NOMEM, "flp_sampler_next");

    flp_rng *rng = split == FLP_SPLIT_TRAIN ? &S->train : &S->eval;
    choose_sinusoids(S, split, rng, tasks);
    for (int64_t j = 0; j < n_granules; j++)
        S->order[j] = j;
    if (iid)
        flp__rng_shuffle(rng, S->order, n_granules);

    float *x = flp__episode_f32(ep, FLP_EPISODE_X), *y = flp__episode_f32(ep, FLP_EPISODE_Y);
    const int64_t per_task_examples = per_task * B;
    for (int64_t i = 0; i < K * B; i++) {
        int64_t t = i / per_task_examples;
        int64_t row = S->order[i / g] * g + i % g;
        write_example(x, y, row, tasks, t, draw_x(rng), S->chosen[t]);
    }
    float *xq = flp__episode_f32(ep, FLP_EPISODE_XQ), *yq = flp__episode_f32(ep, FLP_EPISODE_YQ);
    for (int64_t i = 0; i < tasks * Q; i++)
        write_example(xq, yq, i, tasks, i / Q, draw_x(rng), S->chosen[i / Q]);
    return FLP_OK;
}

/* ---- state -------------------------------------------------------------------- */

static const uint8_t state_magic[4] = {'S', 'I', 'N', 'E'};
#define SINE_STATE_VERSION 1u
#define SINE_STATE_SIZE                                                                          \
    (FLP__STATE_HEADER_SIZE + FLP__STATE_SETTINGS_SIZE(SINE_NKEYS) + 2 * FLP__STATE_RNG_SIZE)

_Static_assert(SINE_STATE_SIZE == 136, "the state record is 136 bytes (see the top of this file)");

static int64_t sine_state_size(const flp_sampler *s)
{
    (void)s;
    return SINE_STATE_SIZE;
}

static void sine_get_state(const flp_sampler *s, uint8_t *buf)
{
    const sine *S = s->impl;
    uint8_t *p = buf;
    flp__state_write_header(&p, state_magic, SINE_STATE_VERSION);
    flp__state_write_settings(&p, S->seed, S->set, SINE_NKEYS);
    flp__state_write_rng(&p, &S->train);
    flp__state_write_rng(&p, &S->eval);
}

/* Decode and validate everything first, then commit: a refused state
 * leaves the sampler untouched. */
static flp_status sine_set_state(flp_sampler *s, const uint8_t *buf, int64_t n)
{
    sine *S = s->impl;
    static const char who[] = "sine sampler state";
    FLP__TRY(flp__state_check_header(buf, n, SINE_STATE_SIZE, state_magic, SINE_STATE_VERSION,
                                     who, "sine"));
    const uint8_t *p = buf + FLP__STATE_HEADER_SIZE;
    uint64_t seed;
    int64_t set[SINE_NKEYS];
    FLP__TRY(flp__state_read_settings(&p, &flp__sine_keys, &seed, set, who));
    FLP__TRY(check_pool(set, FLP_ERR_FORMAT, who));
    flp_rng train, eval;
    FLP__TRY(flp__state_read_rng(&p, &train, who, "training"));
    FLP__TRY(flp__state_read_rng(&p, &eval, who, "evaluation"));
    FLP__TRY(ensure_pool(S, seed, set[FLP_SINE_POOL], who));
    S->seed = seed;
    memcpy(S->set, set, sizeof set);
    S->train = train;
    S->eval = eval;
    return FLP_OK;
}

static void sine_destroy(flp_sampler *s)
{
    sine *S = s->impl;
    flp__free(S->pool);
    flp__free(S->pick);
    flp__free(S->order);
    flp__free(S->chosen);
    flp__free(S);
}

static const flp__sampler_ops sine_ops = {
    .kind = "sine",
    .keys = &flp__sine_keys,
    .io_size = sine_io_size,
    .next = sine_next,
    .state_size = sine_state_size,
    .get_state = sine_get_state,
    .set_state = sine_set_state,
    .destroy = sine_destroy,
};

flp_status flp_sampler_create_sine(uint64_t seed, flp_sampler **out)
{
    FLP__CHECK_NULL(out);
    *out = NULL;
    sine *S = flp__alloc_bytes(sizeof *S, "sine sampler");
    if (S == NULL)
        return flp__error_context(FLP_ERR_NOMEM, "%s", __func__);
    S->base.ops = &sine_ops;
    S->base.impl = S;
    S->seed = seed;
    for (int k = 0; k < SINE_NKEYS; k++)
        S->set[sine_keys[k].value] = (int64_t)sine_keys[k].def;
    flp__rng_seed(&S->train, stream_seed(seed, STREAM_TRAIN));
    flp__rng_seed(&S->eval, stream_seed(seed, STREAM_EVAL));
    if (ensure_pool(S, seed, S->set[FLP_SINE_POOL], __func__) != FLP_OK) {
        flp__free(S);
        return FLP_ERR_NOMEM;
    }
    *out = &S->base;
    return FLP_OK;
}
