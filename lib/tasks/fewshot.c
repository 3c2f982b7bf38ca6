/* fewshot.c - online N-way k-shot classification episodes from an image data
 * set (flp_data.h gives the protocol).
 *
 * Randomness. As for the sine sampler, the seed yields independent training
 * and evaluation generators, so evaluation never shifts the training
 * stream. Within an episode the draws come in a fixed order: the classes
 * (a partial Fisher-Yates shuffle of the split's class indices, whose first
 * WAYS entries get labels 0..WAYS-1), then for each class in label order
 * SHOTS + QUERY_PER_CLASS distinct examples (a partial shuffle of its
 * example indices: the first SHOTS are shown, the rest form the query, so
 * the two never overlap), then in i.i.d. order the presentation order (a
 * shuffle of the WAYS * SHOTS shown examples). Scratch buffers are reset to
 * the identity before every shuffle, so an episode is a function of the
 * generator state and the settings alone.
 *
 * The serialised state (for checkpoints) is a fixed 136-byte little-endian
 * record: magic, version, seed, the five settings, both generator states and
 * a fingerprint of each data set (class names and sizes, image shape). */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng_internal.h"
#include "flp/flp_data.h"
#include "data/dataset_internal.h"
#include "core/episode_internal.h"
#include "tasks/sampler_internal.h"
#include "tasks/state_record.h"

enum { FS_NKEYS = 0 FLP_FEWSHOT_KEY_MAP(FLP__KEY_COUNT) };

static const flp__key fs_keys[FS_NKEYS] = {FLP_FEWSHOT_KEY_MAP(FLP__KEY_ENTRY)};

typedef struct {
    flp_sampler base; /* first member: the handle and its state are one allocation */
    uint64_t seed;
    int64_t set[FS_NKEYS];
    flp_rng rng[2];     /* indexed by flp_split */
    flp_dataset *ds[2]; /* own references; ds[FLP_SPLIT_EVAL] may be NULL */
    int64_t n_in;
    /* scratch, grown only when settings or data grow */
    int64_t *pick, pick_cap;     /* class indices of the split */
    int64_t *ex, ex_cap;         /* example indices of one class */
    int64_t *chosen, chosen_cap; /* [WAYS, SHOTS + QUERY] example indices */
    int64_t *order, order_cap;   /* presentation order of the shown examples */
} fewshot;

enum { STREAM_TRAIN = 1, STREAM_EVAL = 2 };

static uint64_t stream_seed(uint64_t seed, int stream)
{
    flp_rng master;
    flp__rng_seed(&master, seed);
    uint64_t v = 0;
    for (int i = 0; i <= stream; i++)
        v = flp__rng_u64(&master);
    return v;
}

static flp_status grow(int64_t **buf, int64_t *cap, int64_t n, const char *what)
{
    if (n <= *cap)
        return FLP_OK;
    int64_t *p = flp__alloc_bytes((size_t)n * sizeof *p, what);
    if (p == NULL)
        return FLP_ERR_NOMEM;
    flp__free(*buf);
    *buf = p;
    *cap = n;
    return FLP_OK;
}

/* ---- settings ------------------------------------------------------------------ */

static flp_status fs_store(void *h, int key, double value)
{
    fewshot *S = ((flp_sampler *)h)->impl;
    S->set[key] = (int64_t)value;
    return FLP_OK;
}

static double fs_load(const void *h, int key)
{
    const fewshot *S = ((const flp_sampler *)h)->impl;
    return (double)S->set[key];
}

const flp__key_map flp__fewshot_keys = {"flp_fewshot_key", "few-shot", FS_NKEYS, fs_keys,
                                        NULL, fs_load, fs_store};

static flp_status fs_io_size(const flp_sampler *s, int64_t *n_in, int64_t *n_out, int *classification)
{
    const fewshot *S = s->impl;
    *n_in = S->n_in;
    *n_out = S->set[FLP_FEWSHOT_WAYS];
    *classification = 1;
    return FLP_OK;
}

/* ---- episodes ------------------------------------------------------------------ */

static const char *split_name(int split)
{
    return split == FLP_SPLIT_TRAIN ? "training" : "evaluation";
}

/* The settings `set` fit the split's data: enough classes, enough examples
 * in every class (checked over all of them, so that a failure does not
 * depend on the draw), and a batch that divides the shown examples. The
 * setters leave this to flp_sampler_next (settings may be changed in any
 * order); a loaded state must satisfy it for the training data.
 * `status` (with "who: ") reports a failure. */
static flp_status check_fit(const int64_t *set, const flp_dataset *ds, flp_split split,
                            flp_status status, const char *who)
{
    const int64_t W = set[FLP_FEWSHOT_WAYS], K = set[FLP_FEWSHOT_SHOTS];
    const int64_t Q = set[FLP_FEWSHOT_QUERY_PER_CLASS], B = set[FLP_FEWSHOT_BATCH];
    if (W > ds->n)
        return flp__error(status,
                          "%s: FLP_FEWSHOT_WAYS = %lld, but the %s data set has only %lld classes",
                          who, (long long)W, split_name(split), (long long)ds->n);
    if ((W * K) % B != 0)
        return flp__error(status,
                          "%s: FLP_FEWSHOT_BATCH = %lld does not divide the %lld examples shown "
                          "(FLP_FEWSHOT_WAYS x FLP_FEWSHOT_SHOTS)",
                          who, (long long)B, (long long)(W * K));
    for (int64_t c = 0; c < ds->n; c++) {
        int64_t have = flp__dataset_class_count(ds, c);
        if (have < K + Q)
            return flp__error(status,
                              "%s: class '%s' of the %s data set has %lld examples, an episode "
                              "needs %lld (FLP_FEWSHOT_SHOTS %lld + FLP_FEWSHOT_QUERY_PER_CLASS "
                              "%lld)",
                              who, flp__dataset_class_name(ds, c), split_name(split), (long long)have,
                              (long long)(K + Q), (long long)K, (long long)Q);
    }
    return FLP_OK;
}

/* Choose the classes and examples, and the presentation order. */
static void draw(fewshot *S, const flp_dataset *ds, flp_rng *rng)
{
    const int64_t W = S->set[FLP_FEWSHOT_WAYS], K = S->set[FLP_FEWSHOT_SHOTS];
    const int64_t Q = S->set[FLP_FEWSHOT_QUERY_PER_CLASS], E = K + Q;
    for (int64_t c = 0; c < ds->n; c++)
        S->pick[c] = c;
    for (int64_t j = 0; j < W; j++) {
        int64_t r = j + (int64_t)flp__rng_below(rng, (uint64_t)(ds->n - j));
        int64_t t = S->pick[j];
        S->pick[j] = S->pick[r];
        S->pick[r] = t;
    }
    for (int64_t j = 0; j < W; j++) {
        int64_t n = flp__dataset_class_count(ds, S->pick[j]);
        for (int64_t i = 0; i < n; i++)
            S->ex[i] = i;
        for (int64_t i = 0; i < E; i++) {
            int64_t r = i + (int64_t)flp__rng_below(rng, (uint64_t)(n - i));
            int64_t t = S->ex[i];
            S->ex[i] = S->ex[r];
            S->ex[r] = t;
            S->chosen[j * E + i] = S->ex[i];
        }
    }
    for (int64_t i = 0; i < W * K; i++)
        S->order[i] = i;
    if (S->set[FLP_FEWSHOT_ORDER] == FLP_ORDER_IID)
        flp__rng_shuffle(rng, S->order, W * K);
}

/* Decode the drawn images straight into the episode's buffers. */
static flp_status fill(fewshot *S, flp_dataset *ds, flp_episode *ep)
{
    const int64_t W = S->set[FLP_FEWSHOT_WAYS], K = S->set[FLP_FEWSHOT_SHOTS];
    const int64_t Q = S->set[FLP_FEWSHOT_QUERY_PER_CLASS], E = K + Q, n_in = S->n_in;
    float *x = flp__episode_f32(ep, FLP_EPISODE_X), *xq = flp__episode_f32(ep, FLP_EPISODE_XQ);
    int32_t *lab = flp__episode_i32(ep, FLP_EPISODE_LABELS);
    int32_t *lq = flp__episode_i32(ep, FLP_EPISODE_LQ);
    for (int64_t r = 0; r < W * K; r++) {
        int64_t item = S->order[r], j = item / K, t = item % K;
        FLP__TRY(flp__dataset_read(ds, S->pick[j], S->chosen[j * E + t], x + r * n_in));
        lab[r] = (int32_t)j;
    }
    for (int64_t j = 0; j < W; j++) {
        for (int64_t u = 0; u < Q; u++) {
            int64_t row = j * Q + u;
            FLP__TRY(flp__dataset_read(ds, S->pick[j], S->chosen[j * E + K + u], xq + row * n_in));
            lq[row] = (int32_t)j;
        }
    }
    return FLP_OK;
}

static flp_status fs_next(flp_sampler *s, flp_split split, flp_episode *ep)
{
    fewshot *S = s->impl;
    flp_dataset *ds = S->ds[split];
    if (ds == NULL)
        return flp__error(FLP_ERR_STATE,
                          "flp_sampler_next: this few-shot sampler was created without an "
                          "evaluation data set");
    FLP__TRY(check_fit(S->set, ds, split, FLP_ERR_RANGE, "flp_sampler_next"));
    const int64_t W = S->set[FLP_FEWSHOT_WAYS], K = S->set[FLP_FEWSHOT_SHOTS];
    const int64_t Q = S->set[FLP_FEWSHOT_QUERY_PER_CLASS], B = S->set[FLP_FEWSHOT_BATCH];
    int64_t max_count = 0;
    for (int64_t c = 0; c < ds->n; c++) {
        int64_t n = flp__dataset_class_count(ds, c);
        max_count = n > max_count ? n : max_count;
    }
    /* Every allocation happens before the generator moves. */
    FLP__TRY(flp__episode_reshape(ep, FLP__EPISODE_CLASSES, W * K / B, B, S->n_in, W, W * Q,
                                  "flp_sampler_next"));
    if (grow(&S->pick, &S->pick_cap, ds->n, "few-shot class indices") ||
        grow(&S->ex, &S->ex_cap, max_count, "few-shot example indices") ||
        grow(&S->chosen, &S->chosen_cap, W * (K + Q), "few-shot chosen examples") ||
        grow(&S->order, &S->order_cap, W * K, "few-shot order"))
        return flp__error_context(FLP_ERR_NOMEM, "flp_sampler_next");
    flp_rng *rng = &S->rng[split];
    const flp_rng saved = *rng;
    draw(S, ds, rng);
    flp_status st = fill(S, ds, ep);
    if (st != FLP_OK) {
        *rng = saved; /* the stream stays where it was */
        return flp__error_context(st, "flp_sampler_next");
    }
    return FLP_OK;
}

/* ---- state ------------------------------------------------------------------------ */

static const uint8_t state_magic[4] = {'F', 'S', 'H', 'T'};
#define FS_STATE_VERSION 1u
#define FS_STATE_SIZE                                                                            \
    (FLP__STATE_HEADER_SIZE + FLP__STATE_SETTINGS_SIZE(FS_NKEYS) + 2 * FLP__STATE_RNG_SIZE +    \
     2 * 8)

_Static_assert(FS_STATE_SIZE == 136, "the state record is 136 bytes (see the top of this file)");

static uint64_t fingerprint(const fewshot *S, int split)
{
    return S->ds[split] ? flp__dataset_fingerprint(S->ds[split]) : 0;
}

static int64_t fs_state_size(const flp_sampler *s)
{
    (void)s;
    return FS_STATE_SIZE;
}

static void fs_get_state(const flp_sampler *s, uint8_t *buf)
{
    const fewshot *S = s->impl;
    uint8_t *p = buf;
    flp__state_write_header(&p, state_magic, FS_STATE_VERSION);
    flp__state_write_settings(&p, S->seed, S->set, FS_NKEYS);
    for (int r = 0; r < 2; r++)
        flp__state_write_rng(&p, &S->rng[r]);
    flp__state_put_u64(&p, fingerprint(S, FLP_SPLIT_TRAIN));
    flp__state_put_u64(&p, fingerprint(S, FLP_SPLIT_EVAL));
}

/* Decode and validate everything first, then commit: a refused state
 * leaves the sampler untouched. */
static flp_status fs_set_state(flp_sampler *s, const uint8_t *buf, int64_t n)
{
    fewshot *S = s->impl;
    static const char who[] = "few-shot sampler state";
    FLP__TRY(flp__state_check_header(buf, n, FS_STATE_SIZE, state_magic, FS_STATE_VERSION, who,
                                     "few-shot"));
    const uint8_t *p = buf + FLP__STATE_HEADER_SIZE;
    uint64_t seed;
    int64_t set[FS_NKEYS];
    FLP__TRY(flp__state_read_settings(&p, &flp__fewshot_keys, &seed, set, who));
    flp_rng rng[2];
    for (int r = 0; r < 2; r++)
        FLP__TRY(flp__state_read_rng(&p, &rng[r], who, split_name(r)));
    for (int r = 0; r < 2; r++) {
        uint64_t f = flp__state_get_u64(&p);
        if (f != fingerprint(S, r))
            return flp__error(FLP_ERR_VERSION,
                              "%s: saved over a different %s data set (other classes, class sizes "
                              "or image shape)",
                              who, split_name(r));
    }
    FLP__TRY(check_fit(set, S->ds[FLP_SPLIT_TRAIN], FLP_SPLIT_TRAIN, FLP_ERR_FORMAT, who));
    S->seed = seed;
    memcpy(S->set, set, sizeof set);
    S->rng[0] = rng[0];
    S->rng[1] = rng[1];
    return FLP_OK;
}

static void fs_destroy(flp_sampler *s)
{
    fewshot *S = s->impl;
    flp_dataset_free(S->ds[0]);
    flp_dataset_free(S->ds[1]);
    flp__free(S->pick);
    flp__free(S->ex);
    flp__free(S->chosen);
    flp__free(S->order);
    flp__free(S);
}

static const flp__sampler_ops fewshot_ops = {
    .kind = "fewshot",
    .keys = &flp__fewshot_keys,
    .io_size = fs_io_size,
    .next = fs_next,
    .state_size = fs_state_size,
    .get_state = fs_get_state,
    .set_state = fs_set_state,
    .destroy = fs_destroy,
};

flp_status flp_sampler_create_fewshot(const flp_dataset *train, const flp_dataset *eval,
                                      uint64_t seed, flp_sampler **out)
{
    FLP__CHECK_NULL(out);
    *out = NULL;
    FLP__CHECK_NULL(train);
    int64_t c1, h1, w1, c2, h2, w2;
    FLP__TRY(flp_dataset_image_shape(train, &c1, &h1, &w1));
    if (eval != NULL) {
        FLP__TRY(flp_dataset_image_shape(eval, &c2, &h2, &w2));
        if (c1 != c2 || h1 != h2 || w1 != w2)
            return flp__error(FLP_ERR_SHAPE,
                              "%s: training images are %lldx%lldx%lld, evaluation images "
                              "%lldx%lldx%lld",
                              __func__, (long long)c1, (long long)h1, (long long)w1, (long long)c2,
                              (long long)h2, (long long)w2);
    }
    fewshot *S = flp__alloc_bytes(sizeof *S, "few-shot sampler");
    if (S == NULL)
        return flp__error_context(FLP_ERR_NOMEM, "%s", __func__);
    S->base.ops = &fewshot_ops;
    S->base.impl = S;
    if (flp__dataset_clone(train, &S->ds[FLP_SPLIT_TRAIN]) != FLP_OK ||
        (eval != NULL && flp__dataset_clone(eval, &S->ds[FLP_SPLIT_EVAL]) != FLP_OK)) {
        fs_destroy(&S->base);
        return flp__error_context(FLP_ERR_NOMEM, "%s", __func__);
    }
    S->seed = seed;
    S->n_in = c1 * h1 * w1;
    for (int k = 0; k < FS_NKEYS; k++)
        S->set[fs_keys[k].value] = (int64_t)fs_keys[k].def;
    flp__rng_seed(&S->rng[FLP_SPLIT_TRAIN], stream_seed(seed, STREAM_TRAIN));
    flp__rng_seed(&S->rng[FLP_SPLIT_EVAL], stream_seed(seed, STREAM_EVAL));
    *out = &S->base;
    return FLP_OK;
}
