/* check_machine.c - what libflp runs on: the BLIS kernel set it chooses
 * (never BLIS's portable `generic` one on an x86-64 CPU with AVX2 or
 * AVX-512), the overrides (flp_set_kernels, FLP_KERNELS, a user's
 * BLIS_ARCH_TYPE) and the one thread count, which every parallel loop
 * honours: after a lifetime, a meta-step and a meta-batch on T threads the
 * process has at most T threads, and with T = 1 no other thread at all.
 *
 * BLIS initialises once per process and OpenMP keeps its threads, so each
 * test must start in a fresh process: Check's default fork mode gives one
 * per test. Under CK_FORK=no the tests skip. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Whether each test has a process of its own; prints why not. */
static int fresh_process(void)
{
    const char *fork_mode = getenv("CK_FORK");
    if (fork_mode != NULL && strcmp(fork_mode, "no") == 0) {
        fprintf(stderr, "check_machine: skipped: CK_FORK=no runs every test in one process\n");
        return 0;
    }
    return 1;
}

#define SKIP_UNLESS_FRESH() \
    do {                    \
        if (!fresh_process()) \
            return;         \
    } while (0)

/* The environment as libflp would find it without the developer's own
 * overrides, which would change what these tests expect. */
static void plain_environment(void)
{
    unsetenv("BLIS_ARCH_TYPE");
    unsetenv("FLP_KERNELS");
    unsetenv("FLP_NUM_THREADS");
}

#if defined(__x86_64__) && defined(__GNUC__)
static int cpu_has(const char *feature)
{
    __builtin_cpu_init();
    if (strcmp(feature, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    if (strcmp(feature, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return 0;
}
#else
static int cpu_has(const char *feature)
{
    (void)feature;
    return 0;
}
#endif

START_TEST(test_auto_is_not_generic)
{
    SKIP_UNLESS_FRESH();
    plain_environment();
    const char *k = flp_kernels();
    ck_assert_ptr_nonnull(k);
    ck_assert_msg(k[0] != '\0', "empty kernel name");
    fprintf(stderr, "check_machine: kernels %s (%s)\n", k, flp_kernels_reason());
    if (cpu_has("avx512"))
        ck_assert_msg(strcmp(k, "skx") == 0 || strcmp(k, "zen4") == 0,
                      "an AVX-512 CPU runs '%s' (%s), not its AVX-512 kernels", k, flp_kernels_reason());
    else if (cpu_has("avx2"))
        ck_assert_msg(strcmp(k, "generic") != 0, "an AVX2 CPU runs BLIS's generic kernels (%s)",
                      flp_kernels_reason());
    ck_assert_ptr_nonnull(strstr(flp_kernels_reason(), "libflp's choice"));
}
END_TEST

START_TEST(test_set_kernels)
{
    SKIP_UNLESS_FRESH();
    plain_environment();
    ck_flp_fails(flp_set_kernels(NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_set_kernels("fastest"), FLP_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "fastest"));
    const char *want = cpu_has("avx2") ? "haswell" : "blis";
    ck_flp(flp_set_kernels(want));
    if (strcmp(want, "haswell") == 0)
        ck_assert_str_eq(flp_kernels(), "haswell");
    ck_assert_ptr_nonnull(strstr(flp_kernels_reason(), "flp_set_kernels"));
    /* BLIS is initialised now: a later choice is refused, naming the set in use */
    ck_flp_fails(flp_set_kernels("auto"), FLP_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), flp_kernels()));
}
END_TEST

START_TEST(test_set_kernels_unsupported)
{
    SKIP_UNLESS_FRESH();
    plain_environment();
    if (cpu_has("avx512"))
        return; /* every set of the table runs here */
    ck_flp_fails(flp_set_kernels("skx"), FLP_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "skx"));
}
END_TEST

START_TEST(test_blis_own_choice)
{
    SKIP_UNLESS_FRESH();
    plain_environment();
    setenv("FLP_KERNELS", "blis", 1);
    const char *k = flp_kernels();
    ck_assert_ptr_nonnull(strstr(flp_kernels_reason(), "BLIS's own choice"));
    fprintf(stderr, "check_machine: BLIS's own choice here: %s\n", k);
    ck_assert_str_eq(getenv("FLP_KERNELS"), "blis");
    ck_assert_ptr_null(getenv("BLIS_ARCH_TYPE")); /* the environment is as it was */
}
END_TEST

START_TEST(test_env_override)
{
    SKIP_UNLESS_FRESH();
    plain_environment();
    if (!cpu_has("avx2"))
        return;
    setenv("FLP_KERNELS", "haswell", 1);
    ck_assert_str_eq(flp_kernels(), "haswell");
    ck_assert_ptr_nonnull(strstr(flp_kernels_reason(), "FLP_KERNELS"));
    ck_assert_ptr_null(getenv("BLIS_ARCH_TYPE"));
}
END_TEST

START_TEST(test_env_override_bad)
{
    SKIP_UNLESS_FRESH();
    plain_environment();
    setenv("FLP_KERNELS", "warp-drive", 1);
    ck_assert_ptr_nonnull(flp_kernels());
    ck_assert_ptr_nonnull(strstr(flp_kernels_reason(), "warp-drive"));
}
END_TEST

START_TEST(test_user_blis_arch_type_untouched)
{
    SKIP_UNLESS_FRESH();
    plain_environment();
    if (!cpu_has("avx2"))
        return;
    setenv("BLIS_ARCH_TYPE", "3", 1); /* BLIS's id of haswell */
    setenv("FLP_KERNELS", "skx", 1); /* the user's own BLIS setting wins */
    ck_assert_str_eq(flp_kernels(), "haswell");
    ck_assert_ptr_nonnull(strstr(flp_kernels_reason(), "BLIS_ARCH_TYPE"));
    ck_assert_str_eq(getenv("BLIS_ARCH_TYPE"), "3");
}
END_TEST

/* ---- the thread count ---------------------------------------------------- */

START_TEST(test_default_one_thread)
{
    SKIP_UNLESS_FRESH();
    plain_environment();
    int n = 0;
    ck_flp(flp_get_num_threads(&n));
    ck_assert_int_eq(n, 1);
}
END_TEST

START_TEST(test_env_threads)
{
    SKIP_UNLESS_FRESH();
    plain_environment();
    setenv("FLP_NUM_THREADS", "3", 1);
    int n = 0;
    ck_flp(flp_get_num_threads(&n));
    ck_assert_int_eq(n, 3);
    ck_flp(flp_set_num_threads(2)); /* the call wins over the environment */
    ck_flp(flp_get_num_threads(&n));
    ck_assert_int_eq(n, 2);
    ck_flp_fails(flp_set_num_threads(FLP_MAX_THREADS + 1), FLP_ERR_RANGE);
}
END_TEST

/* One bad value per process (a loop test forks each): the count is read
 * from the environment once. */
static const char *bad_threads[] = {"0", "-2", "two", "3x", "100000", ""};

START_TEST(test_env_threads_bad)
{
    SKIP_UNLESS_FRESH();
    plain_environment();
    setenv("FLP_NUM_THREADS", bad_threads[_i], 1);
    int n = 0;
    ck_flp(flp_get_num_threads(&n));
    ck_assert_msg(n == 1, "FLP_NUM_THREADS=%s gave %d threads, expected the default 1", bad_threads[_i], n);
}
END_TEST

/* Threads of this process (/proc/self/task), or -1 where /proc is absent. */
static int os_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A sine network wide enough for every parallel loop to be taken (more
 * weights per layer than the elementwise passes' threshold, products larger
 * than BLIS's sharing threshold), all layers plastic with per-synapse alpha:
 * one lifetime with its gradient, one meta-step and a meta-batch of two. */
static void run_everything(void)
{
    flp_sampler *s;
    ck_flp(flp_sampler_create_sine(5, &s));
    ck_flp(flp_sampler_set(s, FLP_SINE_BATCHES_PER_TASK, 2));
    int64_t in, out;
    int classification;
    ck_flp(flp_sampler_io_size(s, &in, &out, &classification));
    flp_rng *rng;
    ck_flp(flp_rng_create(7, &rng));
    flp_net *net;
    ck_flp(flp_net_create(1, &in, &net));
    for (int i = 0; i < 2; i++) {
        ck_flp(flp_net_add_linear(net, 256, 1));
        ck_flp(flp_net_add_relu(net));
    }
    ck_flp(flp_net_add_linear(net, out, 1));
    ck_flp(flp_net_init(net, FLP_INIT_KAIMING_NORMAL, rng));
    flp_feedback *fb;
    ck_flp(flp_feedback_create(net, &fb));
    ck_flp(flp_feedback_init(fb, rng, 0.5f));
    flp_rule *rule;
    ck_flp(flp_rule_create(net, FLP_RULE_OJA, &rule));
    ck_flp(flp_rule_set(rule, FLP_RULE_PLASTIC_LAST, 3));
    ck_flp(flp_rule_set(rule, FLP_RULE_ALPHA_INIT, 1e-5));
    flp_lifetime *lt;
    ck_flp(flp_lifetime_create(net, fb, rule, &lt));
    flp_meta *meta;
    ck_flp(flp_meta_create(net, fb, rule, &meta));
    ck_flp(flp_meta_freeze(meta, FLP_GROUP_PLASTICITY, 1)); /* keeps the lifetimes finite */
    flp_batch *batch;
    ck_flp(flp_batch_create(meta, &batch));
    flp_episode *ep[2];
    for (int i = 0; i < 2; i++) {
        ck_flp(flp_episode_create(&ep[i]));
        ck_flp(flp_sampler_next(s, FLP_SPLIT_TRAIN, ep[i]));
    }
    float loss, losses[2];
    ck_flp(flp_lifetime_run(lt, ep[0], 1, &loss));
    ck_flp(flp_meta_train_step(meta, lt, ep[1], &loss));
    ck_flp(flp_batch_train_step(batch, (const flp_episode *const *)ep, 2, losses));
    for (int i = 0; i < 2; i++)
        flp_episode_free(ep[i]);
    flp_batch_free(batch);
    flp_meta_free(meta);
    tu_free_lifetime(lt, rule, fb, net, NULL);
    flp_rng_free(rng);
    flp_sampler_free(s);
}

START_TEST(test_one_thread_means_one)
{
    SKIP_UNLESS_FRESH();
    plain_environment();
    if (os_threads() != 1) {
        fprintf(stderr, "check_machine: skipped: the test process has %d threads before it starts\n",
                os_threads());
        return;
    }
    ck_flp(flp_set_num_threads(1));
    run_everything();
    ck_assert_int_eq(os_threads(), 1);
}
END_TEST

START_TEST(test_three_threads_at_most)
{
    SKIP_UNLESS_FRESH();
    plain_environment();
    if (os_threads() != 1)
        return;
    ck_flp(flp_set_num_threads(3));
    run_everything();
    int n = os_threads();
    ck_assert_msg(n >= 2 && n <= 3, "3 threads asked, the process has %d", n);
}
END_TEST

Suite *make_machine_suite(void)
{
    Suite *s = suite_create("machine");
    TCase *tc = tcase_create("kernels");
    tcase_add_test(tc, test_auto_is_not_generic);
    tcase_add_test(tc, test_set_kernels);
    tcase_add_test(tc, test_set_kernels_unsupported);
    tcase_add_test(tc, test_blis_own_choice);
    tcase_add_test(tc, test_env_override);
    tcase_add_test(tc, test_env_override_bad);
    tcase_add_test(tc, test_user_blis_arch_type_untouched);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_add_test(tc, test_default_one_thread);
    tcase_add_test(tc, test_env_threads);
    tcase_add_loop_test(tc, test_env_threads_bad, 0, (int)(sizeof bad_threads / sizeof *bad_threads));
    tcase_add_test(tc, test_one_thread_means_one);
    tcase_add_test(tc, test_three_threads_at_most);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}
