/* check_oom.c - allocation failures, SQLite-style: for every n, a run where
 * the n-th allocation fails, through the create functions, a whole
 * lifetime + meta-step (every rule, a tight memory budget, a convolutional
 * front-end), the samplers, checkpoint save and load, and opening a data
 * set; and files declaring huge images are refused before anything is
 * allocated.
 *
 * Each injected failure must come back as FLP_ERR_NOMEM with a message;
 * the handles involved must then still work (the same call without the
 * failure gives exactly the result of a run that never failed) and free
 * cleanly (the ASan build, with detect_leaks, fails on any leak). Each
 * scenario prints how many failure points it exercised (doc/RELIABILITY.md). */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "data/image.h"
#include "testutil.h"

/* ---- the handles a scenario works on ---------------------------------- */

typedef struct {
    flp_rule_kind rule_kind;
    flp_rng *rng;
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    flp_lifetime *lt;
    flp_meta *meta;
    flp_sampler *sampler;
    flp_episode *ep;
    flp_dataset *ds;
    char ckpt[64];           /* a checkpoint file, "" if none */
} world;

static void world_free(world *w)
{
    flp_dataset_free(w->ds);
    flp_episode_free(w->ep);
    flp_sampler_free(w->sampler);
    flp_meta_free(w->meta);
    flp_lifetime_free(w->lt);
    flp_rule_free(w->rule);
    flp_feedback_free(w->fb);
    flp_net_free(w->net);
    flp_rng_free(w->rng);
    if (w->ckpt[0] != '\0')
        unlink(w->ckpt);
    memset(w, 0, sizeof *w);
}

#define TRY(expr)                   \
    do {                            \
        flp_status try_st = (expr); \
        if (try_st != FLP_OK)       \
            return try_st;          \
    } while (0)

/* A sine sampler with short episodes and the sine example's network over
 * it (in -> 8 -> relu -> 8 -> relu -> out), weak plasticity. Stops at the
 * first failure, leaving what was made for world_free. */
static flp_status world_build(world *w)
{
    int64_t in, out;
    int labelled;
    TRY(flp_rng_create(11, &w->rng));
    TRY(flp_sampler_create_sine(5, &w->sampler));
    TRY(flp_sampler_set(w->sampler, FLP_SINE_BATCHES_PER_TASK, 3));
    TRY(flp_sampler_set(w->sampler, FLP_SINE_BATCH, 4));
    TRY(flp_sampler_io_size(w->sampler, &in, &out, &labelled));
    TRY(flp_net_create(1, &in, &w->net));
    TRY(flp_net_add_linear(w->net, 8, 1));
    TRY(flp_net_add_relu(w->net));
    TRY(flp_net_add_linear(w->net, 8, 1));
    TRY(flp_net_add_relu(w->net));
    TRY(flp_net_add_linear(w->net, out, 1));
    TRY(flp_net_init(w->net, FLP_INIT_KAIMING_NORMAL, w->rng));
    TRY(flp_feedback_create(w->net, &w->fb));
    TRY(flp_feedback_init(w->fb, w->rng, 0.5f));
    TRY(flp_rule_create(w->net, w->rule_kind, &w->rule));
    TRY(flp_rule_set(w->rule, FLP_RULE_ALPHA_INIT, w->rule_kind == FLP_RULE_GRADIENT ? 0.003 : 1e-4));
    TRY(flp_lifetime_create(w->net, w->fb, w->rule, &w->lt));
    TRY(flp_meta_create(w->net, w->fb, w->rule, &w->meta));
    return flp_episode_create(&w->ep);
}

#define FNV_START 1469598103934665603ull

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
    return h;
}

/* FNV-1a of a file's bytes (0 if it cannot be read). */
static uint64_t file_hash(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    uint64_t h = FNV_START;
    uint8_t buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        h = fnv(h, buf, n);
    fclose(f);
    return h;
}

/* The inputs of the episode in w->ep. */
static uint64_t x_hash(world *w)
{
    const float *x;
    int64_t count;
    ck_flp(flp_episode_floats(w->ep, FLP_EPISODE_X, &x, &count));
    return fnv(FNV_START, x, (size_t)count * sizeof *x);
}

/* Everything the meta-optimizer and sampler hold, as the bytes of a
 * checkpoint of them. */
static uint64_t world_hash(world *w)
{
    char path[] = "/tmp/flp_oom_hash_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_flp(flp_checkpoint_save(path, w->meta, w->sampler));
    uint64_t h = file_hash(path);
    unlink(path);
    return h;
}

static void new_ckpt_path(world *w)
{
    snprintf(w->ckpt, sizeof w->ckpt, "/tmp/flp_oom_ckpt_XXXXXX");
    int fd = mkstemp(w->ckpt);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

/* ---- the sweep ----------------------------------------------------------- */

typedef struct {
    const char *name;
    flp_rule_kind rule_kind;
    /* Runs without injection, before `action`; NULL: nothing. */
    void (*setup)(world *w);
    /* The calls under test. */
    flp_status (*action)(world *w);
    /* What a successful action produced, for comparison with a run that
     * never failed; NULL for creates, whose handles are not re-made. */
    uint64_t (*result)(world *w);
} scenario;

/* Fail allocation n = 1, 2, ... of `action` until it makes fewer than n,
 * and print the number of failure points exercised. */
static void sweep(const scenario *sc)
{
    world ref = {.rule_kind = sc->rule_kind};
    if (sc->setup)
        sc->setup(&ref);
    ck_flp(sc->action(&ref));
    uint64_t expect = sc->result ? sc->result(&ref) : 0;
    world_free(&ref);
    int64_t points = 0;
    for (int64_t n = 1;; n++) {
        world w = {.rule_kind = sc->rule_kind};
        if (sc->setup)
            sc->setup(&w);
        flp_clear_error();
        flp__alloc_fail_after(n);
        flp_status st = sc->action(&w);
        int64_t made = flp__alloc_fail_after(0);
        if (made < n) { /* no allocation left to fail: the whole action ran */
            ck_assert_msg(st == FLP_OK, "%s: no failure injected, got %s: %s", sc->name,
                          flp_status_name(st), flp_last_error());
            world_free(&w);
            break;
        }
        points++;
        ck_assert_msg(st == FLP_ERR_NOMEM, "%s: allocation %lld failed, got %s: %s", sc->name,
                      (long long)n, flp_status_name(st), flp_last_error());
        ck_assert_msg(strstr(flp_last_error(), "out of memory") != NULL,
                      "%s: allocation %lld: message '%s'", sc->name, (long long)n, flp_last_error());
        if (sc->result) { /* the same handles, the same call, no failure */
            flp_status again = sc->action(&w);
            ck_assert_msg(again == FLP_OK, "%s: after failing allocation %lld: %s: %s", sc->name,
                          (long long)n, flp_status_name(again), flp_last_error());
            ck_assert_msg(sc->result(&w) == expect,
                          "%s: after failing allocation %lld the result differs from a clean run",
                          sc->name, (long long)n);
        }
        world_free(&w);
    }
    ck_assert_msg(points > 0, "%s: no allocation to fail", sc->name);
    printf("alloc failure points: %-40s %5lld\n", sc->name, (long long)points);
    fflush(stdout);
}

/* ---- scenarios -------------------------------------------------------------- */

static flp_status act_build(world *w) { return world_build(w); }

static void setup_built(world *w) { ck_flp(world_build(w)); }

static void setup_episode(world *w)
{
    setup_built(w);
    ck_flp(flp_sampler_next(w->sampler, FLP_SPLIT_TRAIN, w->ep));
}

/* A memory budget a quarter above the least the lifetime accepts (read
 * from the message refusing a budget of 1 byte), on a fresh lifetime:
 * checkpoints nest. */
static void setup_tight(world *w)
{
    setup_episode(w);
    float loss;
    ck_flp(flp_lifetime_set(w->lt, FLP_LIFETIME_MEMORY_BUDGET, 1));
    ck_flp_fails(flp_lifetime_run(w->lt, w->ep, 1, &loss), FLP_ERR_NOMEM);
    const char *at = strstr(flp_last_error(), "the minimum is ");
    double least;
    ck_assert_msg(at && sscanf(at, "the minimum is %lf", &least) == 1, "%s", flp_last_error());
    flp_lifetime_free(w->lt);
    ck_flp(flp_lifetime_create(w->net, w->fb, w->rule, &w->lt));
    ck_flp(flp_lifetime_set(w->lt, FLP_LIFETIME_MEMORY_BUDGET, 1.25 * least));
    flp_clear_error();
}

/* One meta-training step: lifetime forward and reverse, then Adam. */
static flp_status act_train(world *w)
{
    float loss;
    return flp_meta_train_step(w->meta, w->lt, w->ep, &loss);
}

static flp_status act_sample(world *w) { return flp_sampler_next(w->sampler, FLP_SPLIT_TRAIN, w->ep); }

/* The episode just drawn and the sampler's state after it. */
static uint64_t episode_hash(world *w) { return x_hash(w) ^ world_hash(w); }

static void setup_trained(world *w)
{
    setup_episode(w);
    float loss;
    ck_flp(flp_meta_train_step(w->meta, w->lt, w->ep, &loss));
    new_ckpt_path(w);
}

static flp_status act_save(world *w) { return flp_checkpoint_save(w->ckpt, w->meta, w->sampler); }

static uint64_t saved_hash(world *w) { return file_hash(w->ckpt); }

/* A checkpoint of a trained world, loaded into a fresh one. */
static void setup_load(world *w)
{
    world src = {.rule_kind = w->rule_kind};
    setup_trained(&src);
    ck_flp(flp_checkpoint_save(src.ckpt, src.meta, src.sampler));
    setup_built(w);
    snprintf(w->ckpt, sizeof w->ckpt, "%s", src.ckpt);
    src.ckpt[0] = '\0'; /* now w's to remove */
    world_free(&src);
}

static flp_status act_load(world *w) { return flp_checkpoint_load(w->ckpt, w->meta, w->sampler); }

static const scenario scenarios[] = {
    {"create (oja)", FLP_RULE_OJA, NULL, act_build, NULL},
    {"create (gradient rule)", FLP_RULE_GRADIENT, NULL, act_build, NULL},
    {"sine sampler next", FLP_RULE_OJA, setup_built, act_sample, episode_hash},
    {"lifetime + meta-step (oja)", FLP_RULE_OJA, setup_episode, act_train, world_hash},
    {"lifetime + meta-step (hebb)", FLP_RULE_HEBB, setup_episode, act_train, world_hash},
    {"lifetime + meta-step (gradient rule)", FLP_RULE_GRADIENT, setup_episode, act_train,
     world_hash},
    {"lifetime + meta-step (tight budget)", FLP_RULE_OJA, setup_tight, act_train,
     world_hash},
    {"checkpoint save", FLP_RULE_OJA, setup_trained, act_save, saved_hash},
    {"checkpoint load", FLP_RULE_OJA, setup_load, act_load, world_hash},
};

START_TEST(test_scenario)
{
    sweep(&scenarios[_i]);
}
END_TEST

/* ---- a data set and the few-shot sampler over it ------------------------------- */

#define SIDE 6

static char omni_root[64];

static void write_gray_png(const char *path, int seed)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(png != NULL && info != NULL);
    png_init_io(png, f);
    png_set_IHDR(png, info, SIDE, SIDE, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_byte row[SIDE];
    for (int y = 0; y < SIDE; y++) {
        for (int x = 0; x < SIDE; x++)
            row[x] = (png_byte)((seed * 31 + x * 7 + y * 13) & 0xff);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

/* root/A<a>/c<c>/<d>.png: 2 alphabets of 2 characters by 3 drawers. */
static void omni_setup(void)
{
    snprintf(omni_root, sizeof omni_root, "/tmp/flp_oom_omni_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(omni_root));
    char path[256];
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 2; c++) {
            snprintf(path, sizeof path, "%s/A%d", omni_root, a);
            mkdir(path, 0700);
            snprintf(path, sizeof path, "%s/A%d/c%d", omni_root, a, c);
            mkdir(path, 0700);
            for (int d = 0; d < 3; d++) {
                snprintf(path, sizeof path, "%s/A%d/c%d/%d.png", omni_root, a, c, d);
                write_gray_png(path, a * 6 + c * 3 + d);
            }
        }
}

static void omni_teardown(void)
{
    char path[256];
    for (int a = 0; a < 2; a++) {
        for (int c = 0; c < 2; c++) {
            for (int d = 0; d < 3; d++) {
                snprintf(path, sizeof path, "%s/A%d/c%d/%d.png", omni_root, a, c, d);
                unlink(path);
            }
            snprintf(path, sizeof path, "%s/A%d/c%d", omni_root, a, c);
            rmdir(path);
        }
        snprintf(path, sizeof path, "%s/A%d", omni_root, a);
        rmdir(path);
    }
    rmdir(omni_root);
}

static flp_status act_open(world *w) { return flp_dataset_open_omniglot(omni_root, SIDE, &w->ds); }

/* A 2-way 1-shot sampler over the data set (the sine sampler replaced). */
static flp_status make_fewshot(world *w)
{
    TRY(flp_dataset_open_omniglot(omni_root, SIDE, &w->ds));
    flp_sampler_free(w->sampler);
    w->sampler = NULL;
    TRY(flp_sampler_create_fewshot(w->ds, w->ds, 9, &w->sampler));
    TRY(flp_sampler_set(w->sampler, FLP_FEWSHOT_WAYS, 2));
    TRY(flp_sampler_set(w->sampler, FLP_FEWSHOT_SHOTS, 1));
    return flp_sampler_set(w->sampler, FLP_FEWSHOT_QUERY_PER_CLASS, 1);
}

static flp_status act_fewshot_create(world *w)
{
    TRY(flp_episode_create(&w->ep));
    TRY(make_fewshot(w));
    return flp_sampler_next(w->sampler, FLP_SPLIT_TRAIN, w->ep);
}

static void setup_fewshot(world *w)
{
    ck_flp(flp_episode_create(&w->ep));
    ck_flp(make_fewshot(w));
}


/* A convolutional front-end (conv 3x3 -> relu -> flatten) under a plastic
 * readout, on 2-way few-shot episodes of the generated images. */
static void setup_conv(world *w)
{
    setup_fewshot(w);
    ck_flp(flp_sampler_next(w->sampler, FLP_SPLIT_TRAIN, w->ep));
    int64_t shape[3] = {1, SIDE, SIDE};
    ck_flp(flp_rng_create(13, &w->rng));
    ck_flp(flp_net_create(3, shape, &w->net));
    ck_flp(flp_net_add_conv2d(w->net, 2, 3, 3, 1, 0, 1));
    ck_flp(flp_net_add_relu(w->net));
    ck_flp(flp_net_add_flatten(w->net));
    ck_flp(flp_net_add_linear(w->net, 2, 1));
    ck_flp(flp_net_init(w->net, FLP_INIT_KAIMING_NORMAL, w->rng));
    ck_flp(flp_feedback_create(w->net, &w->fb));
    ck_flp(flp_feedback_init(w->fb, w->rng, 0.5f));
    ck_flp(flp_feedback_set(w->fb, FLP_FEEDBACK_SIGNAL, FLP_SIGNAL_TARGET_MINUS_SOFTMAX));
    ck_flp(flp_rule_create(w->net, FLP_RULE_OJA, &w->rule));
    ck_flp(flp_rule_set(w->rule, FLP_RULE_ALPHA_INIT, 1e-3));
    ck_flp(flp_lifetime_create(w->net, w->fb, w->rule, &w->lt));
    ck_flp(flp_meta_create(w->net, w->fb, w->rule, &w->meta));
}

static const scenario data_scenarios[] = {
    {"data set open (omniglot)", FLP_RULE_OJA, NULL, act_open, NULL},
    {"few-shot sampler create + next", FLP_RULE_OJA, NULL, act_fewshot_create, NULL},
    {"few-shot sampler next", FLP_RULE_OJA, setup_fewshot, act_sample, x_hash},
    {"lifetime + meta-step (conv front-end)", FLP_RULE_OJA, setup_conv, act_train, world_hash},
};

START_TEST(test_data_scenario)
{
    sweep(&data_scenarios[_i]);
}
END_TEST

/* A 74-byte PNG whose header declares 16384x16384 RGBA pixels of 16 bits
 * (a fuzzing regression): refused as corrupt before a single allocation,
 * where it used to cost 2 GiB of rows and 1 GiB of floats first. */
START_TEST(test_huge_png_refused_before_allocating)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/../fuzz/regress/png/huge-ihdr-little-data.png", tu_tests_dir());
    float *img = NULL;
    int64_t h, w;
    flp__alloc_fail_after(1); /* any allocation would turn the result into NOMEM */
    ck_flp_fails(flp__png_read(path, 1, &img, &h, &w), FLP_ERR_FORMAT);
    flp__alloc_fail_after(0);
    ck_assert_msg(strstr(flp_last_error(), "declares 16384x16384 pixels, more than its data can hold"),
                  "%s", flp_last_error());
    ck_assert_ptr_null(img);
}
END_TEST

Suite *make_oom_suite(void)
{
    Suite *s = suite_create("oom");
    TCase *core = tcase_create("core");
    tcase_add_loop_test(core, test_scenario, 0, (int)(sizeof scenarios / sizeof scenarios[0]));
    suite_add_tcase(s, core);
    TCase *data = tcase_create("data");
    tcase_add_checked_fixture(data, omni_setup, omni_teardown);
    tcase_add_loop_test(data, test_data_scenario, 0,
                        (int)(sizeof data_scenarios / sizeof data_scenarios[0]));
    suite_add_tcase(s, data);
    TCase *early = tcase_create("refused early");
    tcase_add_test(early, test_huge_png_refused_before_allocating);
    suite_add_tcase(s, early);
    return s;
}
