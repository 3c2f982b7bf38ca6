/* check_core.c - lib/core: the status map, the thread-local error message,
 * versions, the thread count, the random number generator (known answers,
 * streams, state, statistics, errors), fault-injectable aligned allocation,
 * tensor lists and the checked copies. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/idx.h"
#include "core/tensor.h"
#include "testutil.h"

/* Assert that the calling thread's message names `what` (a function name,
 * an argument, a value). */
#define ck_msg_has(what)                                                                   \
    ck_assert_msg(strstr(flp_last_error(), (what)) != NULL, "message '%s' lacks '%s'",     \
                  flp_last_error(), (what))

static flp_rng *new_rng(uint64_t seed)
{
    flp_rng *rng = NULL;
    ck_flp(flp_rng_create(seed, &rng));
    ck_assert_ptr_nonnull(rng);
    return rng;
}

/* ======================================================================
 * Status codes and error messages
 * ====================================================================== */

typedef struct {
    flp_status code;
    const char *name, *msg;
} status_entry;

static const status_entry status_table[] = {
#define X(name, value, msg) {FLP_##name, #name, msg},
    FLP_STATUS_MAP(X)
#undef X
};
#define N_STATUS ((int)(sizeof status_table / sizeof status_table[0]))

START_TEST(test_status_map)
{
    ck_assert_int_eq(N_STATUS, 12);
    ck_assert_int_eq(FLP_OK, 0);
    ck_assert_str_eq(flp_status_name(FLP_OK), "OK");
    ck_assert_str_eq(flp_strerror(FLP_OK), "success");
    ck_assert_str_eq(flp_status_name(FLP_ERR_SHAPE), "ERR_SHAPE");
    ck_assert_int_eq(FLP_ERR_UNSUPPORTED, -11);
    for (int i = 0; i < N_STATUS; i++) {
        const status_entry *e = &status_table[i];
        /* codes are 0, -1, -2, ... in list order and never change */
        ck_assert_int_eq(e->code, -i);
        ck_assert_str_eq(flp_status_name(e->code), e->name);
        ck_assert_str_eq(flp_strerror(e->code), e->msg);
        ck_assert_msg(strlen(e->msg) > 0, "%s has an empty message", e->name);
        ck_assert_msg(i == 0 || strncmp(e->name, "ERR_", 4) == 0, "%s lacks ERR_", e->name);
        for (int j = 0; j < i; j++) {
            ck_assert_int_ne(status_table[j].code, e->code);
            ck_assert_str_ne(flp_status_name(status_table[j].code), flp_status_name(e->code));
            ck_assert_str_ne(flp_strerror(status_table[j].code), flp_strerror(e->code));
        }
    }
}
END_TEST

START_TEST(test_status_unknown)
{
    static const int unknown[] = {1, 2, -12, -13, 100, -1000, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        flp_status st = (flp_status)unknown[i];
        ck_assert_str_eq(flp_strerror(st), "unknown status");
        ck_assert_str_eq(flp_status_name(st), "UNKNOWN");
    }
}
END_TEST

START_TEST(test_last_error)
{
    flp_clear_error();
    ck_assert_str_eq(flp_last_error(), "");
    uint64_t v = 0;
    ck_assert_int_eq(flp_rng_next(NULL, &v), FLP_ERR_NULL);
    ck_msg_has("flp_rng_next");
    ck_msg_has("rng");
    flp_clear_error();
    ck_assert_str_eq(flp_last_error(), "");

    ck_assert_int_eq(flp_set_num_threads(0), FLP_ERR_RANGE);
    ck_msg_has("flp_set_num_threads");
    ck_msg_has("0");
    /* a later failure replaces the message */
    ck_assert_int_eq(flp_get_num_threads(NULL), FLP_ERR_NULL);
    ck_msg_has("flp_get_num_threads");
    ck_assert_ptr_null(strstr(flp_last_error(), "flp_set_num_threads"));
    flp_clear_error();
    ck_assert_str_eq(flp_last_error(), "");
}
END_TEST

START_TEST(test_error_internals)
{
    ck_assert_int_eq(flp__error(FLP_ERR_SHAPE, "inner %d/%s", 12, "x"), FLP_ERR_SHAPE);
    ck_assert_str_eq(flp_last_error(), "inner 12/x");
    ck_assert_int_eq(flp__error_context(FLP_ERR_IO, "outer(%d)", 3), FLP_ERR_IO);
    ck_assert_str_eq(flp_last_error(), "outer(3): inner 12/x");

    /* an over-long message is truncated, never overflows */
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    flp__error(FLP_ERR_INVALID, "%s", big);
    ck_assert_uint_eq(strlen(flp_last_error()), 1023);
    flp__error_context(FLP_ERR_INVALID, "ctx");
    ck_assert_uint_eq(strlen(flp_last_error()), 1023);
    ck_assert_int_eq(strncmp(flp_last_error(), "ctx: aaa", 8), 0);
    flp__error_context(FLP_ERR_INVALID, "%s", big);
    ck_assert_uint_eq(strlen(flp_last_error()), 1023);
    flp_clear_error();
}
END_TEST

typedef struct {
    char before[64];
    char after[1024];
    flp_status st;
} thread_result;

static void *error_thread(void *arg)
{
    thread_result *r = arg;
    snprintf(r->before, sizeof r->before, "%s", flp_last_error());
    r->st = flp_set_num_threads(-7);
    snprintf(r->after, sizeof r->after, "%s", flp_last_error());
    return NULL;
}

START_TEST(test_error_thread_local)
{
    flp_rng *rng = new_rng(1);
    const uint64_t zero[4] = {0, 0, 0, 0};
    ck_assert_int_eq(flp_rng_set_state(rng, zero), FLP_ERR_INVALID);
    char mine[1024];
    snprintf(mine, sizeof mine, "%s", flp_last_error());
    ck_assert_ptr_nonnull(strstr(mine, "flp_rng_set_state"));

    thread_result r;
    memset(&r, 0, sizeof r);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, error_thread, &r), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);

    ck_assert_str_eq(r.before, "");           /* a new thread starts with no message */
    ck_assert_int_eq(r.st, FLP_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(r.after, "flp_set_num_threads"));
    ck_assert_ptr_nonnull(strstr(r.after, "-7"));
    ck_assert_str_eq(flp_last_error(), mine);  /* untouched by the other thread */
    flp_clear_error();
    flp_rng_free(rng);
}
END_TEST

/* ======================================================================
 * Version and threads
 * ====================================================================== */

START_TEST(test_version)
{
    ck_assert_int_eq(FLP_VERSION_NUMBER,
                     FLP_VERSION_MAJOR * 10000 + FLP_VERSION_MINOR * 100 + FLP_VERSION_PATCH);
    ck_assert_uint_eq(flp_version_number(), FLP_VERSION_NUMBER);
    ck_assert_uint_eq(flp_version_number() / 10000, FLP_VERSION_MAJOR);
    ck_assert_str_eq(flp_version(), FLP_VERSION_STRING);
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", FLP_VERSION_MAJOR, FLP_VERSION_MINOR, FLP_VERSION_PATCH);
    ck_assert_str_eq(flp_version(), expect);
    ck_assert_ptr_eq(flp_version(), flp_version()); /* static storage */
}
END_TEST

START_TEST(test_num_threads)
{
    int orig = 0;
    ck_flp(flp_get_num_threads(&orig));
    ck_assert_int_ge(orig, 1);

    static const int bad[] = {0, -1, -100, INT_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_flp_fails(flp_set_num_threads(bad[i]), FLP_ERR_RANGE);
        ck_msg_has("flp_set_num_threads");
        int n = 0;
        ck_flp(flp_get_num_threads(&n));
        ck_assert_int_eq(n, orig); /* a refused value changes nothing */
    }
    ck_flp_fails(flp_get_num_threads(NULL), FLP_ERR_NULL);

    static const int good[] = {3, 1, 2, 7};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int n = 0;
        ck_flp(flp_set_num_threads(good[i]));
        ck_flp(flp_get_num_threads(&n));
        ck_assert_int_eq(n, good[i]);
    }
    ck_flp(flp_set_num_threads(orig));
    int n = 0;
    ck_flp(flp_get_num_threads(&n));
    ck_assert_int_eq(n, orig);
}
END_TEST

/* Defaults, bounds, and set/get; a refused value changes nothing. */
START_TEST(test_limits)
{
    static const struct {
        flp_limit key;
        int64_t def, hi;
    } L[] = {{FLP_LIMIT_IMAGE_PIXELS, (int64_t)1 << 24, (int64_t)1 << 32},
             {FLP_LIMIT_IDX_BYTES, (int64_t)1 << 31, (int64_t)1 << 40},
             {FLP_LIMIT_CSV_BYTES, (int64_t)1 << 26, (int64_t)1 << 40}};
    for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
        int64_t v, lo, hi;
        ck_flp(flp_get_limit(L[i].key, &v));
        ck_assert_int_eq(v, L[i].def);
        ck_flp(flp_limit_bounds(L[i].key, &lo, &hi));
        ck_assert_int_eq(lo, 1);
        ck_assert_int_eq(hi, L[i].hi);
        const int64_t bad[] = {0, -1, hi + 1, INT64_MIN};
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            ck_flp_fails(flp_set_limit(L[i].key, bad[b]), FLP_ERR_RANGE);
            ck_msg_has("flp_set_limit");
            ck_flp(flp_get_limit(L[i].key, &v));
            ck_assert_int_eq(v, L[i].def);
        }
        const int64_t good[] = {1, 12345, hi};
        for (size_t g = 0; g < sizeof good / sizeof good[0]; g++) {
            ck_flp(flp_set_limit(L[i].key, good[g]));
            ck_flp(flp_get_limit(L[i].key, &v));
            ck_assert_int_eq(v, good[g]);
        }
        ck_flp(flp_set_limit(L[i].key, L[i].def));
    }
    int64_t v, lo, hi;
    ck_flp_fails(flp_set_limit((flp_limit)3, 10), FLP_ERR_RANGE);
    ck_flp_fails(flp_get_limit((flp_limit)-1, &v), FLP_ERR_RANGE);
    ck_flp_fails(flp_limit_bounds((flp_limit)99, &lo, &hi), FLP_ERR_RANGE);
    ck_flp_fails(flp_get_limit(FLP_LIMIT_IDX_BYTES, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_limit_bounds(FLP_LIMIT_IDX_BYTES, &lo, NULL), FLP_ERR_NULL);
}
END_TEST

/* In a fresh process (the limits are read from the environment once): a
 * usable FLP_LIMIT_* value is the starting value, an unusable one leaves
 * the default, and the message of a refusal says so. Exit status 0 when
 * all held. */
static int limits_from_environment(void)
{
    setenv("FLP_LIMIT_CSV_BYTES", "4096", 1);
    setenv("FLP_LIMIT_IDX_BYTES", "12abc", 1);
    setenv("FLP_LIMIT_IMAGE_PIXELS", "0", 1);
    int64_t csv, idx, px;
    if (flp_get_limit(FLP_LIMIT_CSV_BYTES, &csv) != FLP_OK || flp_get_limit(FLP_LIMIT_IDX_BYTES, &idx) ||
        flp_get_limit(FLP_LIMIT_IMAGE_PIXELS, &px))
        return 1;
    if (csv != 4096 || idx != (int64_t)1 << 31 || px != (int64_t)1 << 24)
        return 2;
    /* the refusal names the limit and says the variable was not used */
    static const uint8_t header[12] = {0, 0, 8, 2, 0, 1, 0, 0, 0, 1, 0, 0}; /* 65536 x 65536 */
    flp__idx parsed;
    if (flp__idx_parse(header, sizeof header, "big.idx", &parsed) != FLP_ERR_RANGE ||
        strstr(flp_last_error(), "'big.idx' declares 65536 x 65536 one-byte values") == NULL ||
        strstr(flp_last_error(), "flp_set_limit(FLP_LIMIT_IDX_BYTES, n)") == NULL ||
        strstr(flp_last_error(), "not to a whole number") == NULL)
        return 4;
    /* flp_set_limit overrides the environment */
    if (flp_set_limit(FLP_LIMIT_CSV_BYTES, 100) != FLP_OK || flp_get_limit(FLP_LIMIT_CSV_BYTES, &csv) ||
        csv != 100)
        return 3;
    return 0;
}

START_TEST(test_limits_environment)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(limits_from_environment());
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "check %d failed in the child",
                  WEXITSTATUS(status));
}
END_TEST

/* ======================================================================
 * Random number generator
 * ====================================================================== */

/* The first values of seed 1 (xoshiro256** seeded by splitmix64), computed
 * independently of libflp. A change here changes every seeded result
 * (initial weights, samplers, checkpoints): it must be deliberate. */
static const uint64_t seed1_stream[] = {
    0xb3f2af6d0fc710c5ULL, 0x853b559647364ceaULL, 0x92f89756082a4514ULL,
    0x642e1c7bc266a3a7ULL, 0xb27a48e29a233673ULL, 0x24c123126ffda722ULL,
};

START_TEST(test_rng_known_answer)
{
    flp_rng *rng = new_rng(1);
    for (size_t i = 0; i < sizeof seed1_stream / sizeof seed1_stream[0]; i++) {
        uint64_t v = 0;
        ck_flp(flp_rng_next(rng, &v));
        ck_assert_msg(v == seed1_stream[i], "value %zu: 0x%016llx, expected 0x%016llx", i,
                      (unsigned long long)v, (unsigned long long)seed1_stream[i]);
    }
    /* re-seeding in place restarts the same stream */
    ck_flp(flp_rng_seed(rng, 1));
    uint64_t v = 0;
    ck_flp(flp_rng_next(rng, &v));
    ck_assert(v == seed1_stream[0]);
    flp_rng_free(rng);
}
END_TEST

START_TEST(test_rng_streams)
{
    enum { N = 1000 };
    static uint64_t a[N], b[N], c[N];
    flp_rng *ra = new_rng(42), *rb = new_rng(42), *rc = new_rng(43);
    for (int i = 0; i < N; i++) {
        ck_flp(flp_rng_next(ra, &a[i]));
        ck_flp(flp_rng_next(rb, &b[i]));
        ck_flp(flp_rng_next(rc, &c[i]));
    }
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    int same = 0;
    for (int i = 0; i < N; i++)
        same += a[i] == c[i];
    ck_assert_int_eq(same, 0);

    /* seed 0 is a valid seed (splitmix64 never yields the all-zero state) */
    flp_rng *r0 = new_rng(0);
    uint64_t st[4];
    ck_flp(flp_rng_get_state(r0, st));
    ck_assert((st[0] | st[1] | st[2] | st[3]) != 0);

    /* floats too: same seed, same uniforms and normals */
    static float ua[N], ub[N];
    ck_flp(flp_rng_seed(ra, 7));
    ck_flp(flp_rng_seed(rb, 7));
    ck_flp(flp_rng_normal(ra, 0.5f, 2.0f, ua, N));
    ck_flp(flp_rng_normal(rb, 0.5f, 2.0f, ub, N));
    ck_assert_int_eq(memcmp(ua, ub, sizeof ua), 0);
    ck_flp(flp_rng_uniform(ra, -1.0f, 4.0f, ua, N));
    ck_flp(flp_rng_uniform(rb, -1.0f, 4.0f, ub, N));
    ck_assert_int_eq(memcmp(ua, ub, sizeof ua), 0);

    flp_rng_free(ra);
    flp_rng_free(rb);
    flp_rng_free(rc);
    flp_rng_free(r0);
    flp_rng_free(NULL);
}
END_TEST

START_TEST(test_rng_state_roundtrip)
{
    enum { N = 257 };
    flp_rng *a = new_rng(2024), *b = new_rng(99);
    float skip[13];
    ck_flp(flp_rng_normal(a, 0, 1, skip, 13)); /* odd count: no cached normal may survive */
    uint64_t st[4], st2[4];
    ck_flp(flp_rng_get_state(a, st));
    ck_flp(flp_rng_set_state(b, st));
    ck_flp(flp_rng_get_state(b, st2));
    ck_assert_int_eq(memcmp(st, st2, sizeof st), 0);

    static float na[N], nb[N];
    ck_flp(flp_rng_normal(a, 0, 1, na, N));
    ck_flp(flp_rng_normal(b, 0, 1, nb, N));
    ck_assert_int_eq(memcmp(na, nb, sizeof na), 0);
    for (int i = 0; i < N; i++) {
        uint64_t x, y;
        ck_flp(flp_rng_next(a, &x));
        ck_flp(flp_rng_next(b, &y));
        ck_assert(x == y);
    }

    /* the all-zero state is refused and leaves the generator as it was */
    ck_flp(flp_rng_get_state(a, st));
    const uint64_t zero[4] = {0, 0, 0, 0};
    ck_flp_fails(flp_rng_set_state(a, zero), FLP_ERR_INVALID);
    ck_msg_has("flp_rng_set_state");
    ck_flp(flp_rng_get_state(a, st2));
    ck_assert_int_eq(memcmp(st, st2, sizeof st), 0);
    /* one non-zero word is enough */
    const uint64_t one[4] = {0, 0, 0, 1};
    ck_flp(flp_rng_set_state(a, one));

    ck_flp_fails(flp_rng_get_state(NULL, st), FLP_ERR_NULL);
    ck_flp_fails(flp_rng_get_state(a, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_rng_set_state(NULL, st), FLP_ERR_NULL);
    ck_flp_fails(flp_rng_set_state(a, NULL), FLP_ERR_NULL);
    flp_rng_free(a);
    flp_rng_free(b);
}
END_TEST

START_TEST(test_rng_uniform_stats)
{
    enum { N = 100000 };
    static float x[N];
    const float lo = -2.0f, hi = 3.0f;
    flp_rng *rng = new_rng(11);
    ck_flp(flp_rng_uniform(rng, lo, hi, x, N));
    double sum = 0, sum2 = 0;
    int below_mid = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_msg(x[i] >= lo && x[i] < hi, "x[%d] = %.9g outside [%g, %g)", i, x[i], lo, hi);
        sum += x[i];
        below_mid += x[i] < 0.5f;
    }
    double mean = sum / N;
    for (int i = 0; i < N; i++)
        sum2 += (x[i] - mean) * (x[i] - mean);
    double var = sum2 / (N - 1);
    /* mean 0.5 (standard error 0.0046), variance 25/12 (standard error 0.006) */
    ck_assert_double_eq_tol(mean, 0.5, 0.025);
    ck_assert_double_eq_tol(var, 25.0 / 12.0, 0.035);
    ck_assert_int_gt(below_mid, N / 2 - 1000);
    ck_assert_int_lt(below_mid, N / 2 + 1000);

    /* lo == hi is allowed and gives lo */
    ck_flp(flp_rng_uniform(rng, 1.25f, 1.25f, x, 10));
    for (int i = 0; i < 10; i++)
        ck_assert_float_eq(x[i], 1.25f);
    flp_rng_free(rng);
}
END_TEST

/* A state whose next output is UINT64_MAX, the largest unit value 1 - 2^-53:
 * rotl(s1 * 5, 7) * 9 == ~0 for this s1. Rounded to float, lo + (hi - lo) u
 * lands on hi. */
START_TEST(test_rng_uniform_top)
{
    const uint64_t st[4] = {1, 0x4fc71c71c71c71c7ULL, 0, 0};
    flp_rng *rng = new_rng(1);
    ck_flp(flp_rng_set_state(rng, st));
    uint64_t v = 0;
    ck_flp(flp_rng_next(rng, &v));
    ck_assert(v == UINT64_MAX);

    static const float ranges[][2] = {{0.0f, 1.0f}, {-2.0f, 3.0f}, {1e-3f, 2e-3f}, {-1.0f, 0.0f}};
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        float x = 0;
        ck_flp(flp_rng_set_state(rng, st));
        ck_flp(flp_rng_uniform(rng, ranges[k][0], ranges[k][1], &x, 1));
        ck_assert_msg(x >= ranges[k][0] && x < ranges[k][1], "%.9g outside [%g, %g)", x,
                      ranges[k][0], ranges[k][1]);
    }
    /* the widest finite range stays finite */
    float x[64];
    ck_flp(flp_rng_uniform(rng, -FLT_MAX, FLT_MAX, x, 64));
    int negative = 0;
    for (int i = 0; i < 64; i++) {
        ck_assert_msg(isfinite(x[i]) && x[i] < FLT_MAX, "x[%d] = %g", i, x[i]);
        negative += x[i] < 0;
    }
    ck_assert_int_gt(negative, 16); /* spread over the range, about half below 0 */
    ck_assert_int_lt(negative, 48);
    flp_rng_free(rng);
}
END_TEST

START_TEST(test_rng_normal_stats)
{
    enum { N = 100000 };
    static float x[N];
    const double mu = 1.5, sigma = 2.0;
    flp_rng *rng = new_rng(12);
    ck_flp(flp_rng_normal(rng, (float)mu, (float)sigma, x, N));
    double sum = 0, sum2 = 0;
    int within1 = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(isfinite(x[i]));
        sum += x[i];
        within1 += fabs(x[i] - mu) < sigma;
    }
    double mean = sum / N;
    for (int i = 0; i < N; i++)
        sum2 += (x[i] - mean) * (x[i] - mean);
    double sd = sqrt(sum2 / (N - 1));
    /* standard errors: mean 0.0063, sd 0.0045, P(|z| < 1) 0.0015 */
    ck_assert_double_eq_tol(mean, mu, 0.035);
    ck_assert_double_eq_tol(sd, sigma, 0.025);
    ck_assert_double_eq_tol((double)within1 / N, 0.682689, 0.008);

    /* std 0 gives the mean exactly */
    ck_flp(flp_rng_normal(rng, -0.75f, 0.0f, x, 10));
    for (int i = 0; i < 10; i++)
        ck_assert_float_eq(x[i], -0.75f);
    flp_rng_free(rng);
}
END_TEST

START_TEST(test_rng_errors)
{
    flp_rng *rng = new_rng(3);
    float x[4] = {0};
    ck_flp_fails(flp_rng_create(1, NULL), FLP_ERR_NULL);
    ck_msg_has("flp_rng_create");
    ck_flp_fails(flp_rng_seed(NULL, 1), FLP_ERR_NULL);
    uint64_t v;
    ck_flp_fails(flp_rng_next(NULL, &v), FLP_ERR_NULL);
    ck_flp_fails(flp_rng_next(rng, NULL), FLP_ERR_NULL);
    ck_msg_has("out");

    ck_flp_fails(flp_rng_uniform(NULL, 0, 1, x, 4), FLP_ERR_NULL);
    ck_msg_has("flp_rng_uniform");
    ck_flp_fails(flp_rng_uniform(rng, 0, 1, NULL, 4), FLP_ERR_NULL);
    ck_msg_has("dst");
    ck_flp_fails(flp_rng_uniform(rng, 0, 1, x, -1), FLP_ERR_RANGE);
    ck_msg_has("-1");
    ck_flp_fails(flp_rng_uniform(rng, 2, 1, x, 4), FLP_ERR_RANGE);
    ck_msg_has("flp_rng_uniform");
    ck_flp_fails(flp_rng_uniform(rng, NAN, 1, x, 4), FLP_ERR_RANGE);
    ck_flp_fails(flp_rng_uniform(rng, 0, NAN, x, 4), FLP_ERR_RANGE);
    ck_flp_fails(flp_rng_uniform(rng, 0, INFINITY, x, 4), FLP_ERR_RANGE);
    ck_flp_fails(flp_rng_uniform(rng, -INFINITY, 0, x, 4), FLP_ERR_RANGE);

    ck_flp_fails(flp_rng_normal(NULL, 0, 1, x, 4), FLP_ERR_NULL);
    ck_msg_has("flp_rng_normal");
    ck_flp_fails(flp_rng_normal(rng, 0, 1, NULL, 4), FLP_ERR_NULL);
    ck_flp_fails(flp_rng_normal(rng, 0, 1, x, -5), FLP_ERR_RANGE);
    ck_flp_fails(flp_rng_normal(rng, 0, -1, x, 4), FLP_ERR_RANGE);
    ck_msg_has("flp_rng_normal");
    ck_flp_fails(flp_rng_normal(rng, 0, NAN, x, 4), FLP_ERR_RANGE);
    ck_flp_fails(flp_rng_normal(rng, NAN, 1, x, 4), FLP_ERR_RANGE);
    ck_flp_fails(flp_rng_normal(rng, 0, INFINITY, x, 4), FLP_ERR_RANGE);
    ck_flp_fails(flp_rng_normal(rng, INFINITY, 1, x, 4), FLP_ERR_RANGE);

    /* n == 0 with no buffer is fine and draws nothing */
    uint64_t before[4], after[4];
    ck_flp(flp_rng_get_state(rng, before));
    ck_flp(flp_rng_uniform(rng, 0, 1, NULL, 0));
    ck_flp(flp_rng_normal(rng, 0, 1, NULL, 0));
    ck_flp(flp_rng_get_state(rng, after));
    ck_assert_int_eq(memcmp(before, after, sizeof before), 0);
    flp_rng_free(rng);
}
END_TEST

START_TEST(test_rng_create_nomem)
{
    flp_rng *rng = (flp_rng *)&rng; /* any non-NULL value: a failed create resets it */
    flp__alloc_fail_after(1);
    ck_flp_fails(flp_rng_create(5, &rng), FLP_ERR_NOMEM);
    flp__alloc_fail_after(0);
    ck_assert_ptr_null(rng);
    ck_msg_has("flp_rng");
}
END_TEST

/* ======================================================================
 * Allocation
 * ====================================================================== */

START_TEST(test_alloc_fault_injection)
{
    void *p[6];
    flp__alloc_fail_after(3);
    for (int i = 0; i < 6; i++) {
        flp_clear_error();
        p[i] = flp__alloc_bytes(100, "widget");
        if (i == 2) {
            ck_assert_ptr_null(p[i]);
            ck_msg_has("widget");
            ck_msg_has("100");
        } else {
            ck_assert_ptr_nonnull(p[i]);
            ck_assert_str_eq(flp_last_error(), "");
        }
    }
    ck_assert_int_eq(flp__alloc_fail_after(0), 6); /* six attempts since the last call */
    for (int i = 0; i < 6; i++)
        flp__free(p[i]);

    /* disabled: nothing fails */
    for (int i = 0; i < 100; i++) {
        float *f = flp__alloc_floats(10, "ok");
        ck_assert_ptr_nonnull(f);
        flp__free(f);
    }
    ck_assert_int_eq(flp__alloc_fail_after(0), 100);

    /* 1 = the very next allocation; later ones succeed again */
    flp__alloc_fail_after(1);
    ck_assert_ptr_null(flp__alloc_floats(4, "first"));
    ck_msg_has("first");
    float *f = flp__alloc_floats(4, "second");
    ck_assert_ptr_nonnull(f);
    flp__free(f);
    ck_assert_int_eq(flp__alloc_fail_after(0), 2);

    /* the public API turns the failure into FLP_ERR_NOMEM */
    for (int n = 1; n <= 3; n++) {
        flp__alloc_fail_after(n);
        flp_rng *rngs[3] = {NULL, NULL, NULL};
        for (int i = 0; i < 3; i++) {
            flp_status st = flp_rng_create(1, &rngs[i]);
            ck_assert_int_eq(st, i + 1 == n ? FLP_ERR_NOMEM : FLP_OK);
            ck_assert(i + 1 == n ? rngs[i] == NULL : rngs[i] != NULL);
        }
        flp__alloc_fail_after(0);
        for (int i = 0; i < 3; i++)
            flp_rng_free(rngs[i]);
    }
    flp_clear_error();
}
END_TEST

START_TEST(test_alloc_alignment)
{
    static const size_t sizes[] = {0, 1, 3, 63, 64, 65, 1000, 4097};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        unsigned char *p = flp__alloc_bytes(sizes[k], "bytes");
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 64, 0);
        for (size_t i = 0; i < sizes[k]; i++)
            ck_assert_uint_eq(p[i], 0); /* zero-filled */
        memset(p, 0xab, sizes[k]);      /* and writable over its whole size */
        flp__free(p);

        float *f = flp__alloc_floats((int64_t)sizes[k], "floats");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq((uintptr_t)f % 64, 0);
        for (size_t i = 0; i < sizes[k]; i++)
            ck_assert_float_eq(f[i], 0.0f);
        for (size_t i = 0; i < sizes[k]; i++)
            f[i] = 1.0f;
        flp__free(f);
    }
    flp__free(NULL);
}
END_TEST

START_TEST(test_alloc_bad_count)
{
    static const int64_t bad[] = {-1, -4096, INT64_MIN, INT64_MAX};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        flp_clear_error();
        ck_assert_ptr_null(flp__alloc_floats(bad[k], "gizmo"));
        ck_msg_has("gizmo");
    }
    flp_clear_error();
}
END_TEST

/* Sizes within 63 bytes of SIZE_MAX, rounded up to whole 64-byte units,
 * wrapped to 0 and came back as one 64-byte block: every size no block can
 * have (beyond PTRDIFF_MAX) must fail as out of memory, never succeed
 * small, and without asking malloc. */
START_TEST(test_alloc_rounding_wrap)
{
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 62, SIZE_MAX - 63,
                                  (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX};
    for (size_t k = 0; k < sizeof huge / sizeof huge[0]; k++) {
        flp_clear_error();
        void *p = flp__alloc_bytes(huge[k], "sprocket");
        ck_assert_msg(p == NULL, "%zu bytes came back as a block", huge[k]);
        ck_msg_has("sprocket");
        ck_msg_has("out of memory");
    }
    flp_clear_error();
}
END_TEST

/* ======================================================================
 * Tensor lists and checked copies
 * ====================================================================== */

START_TEST(test_tensor_list_growth)
{
    enum { N = 40 };
    static float values[N], grads[N];
    flp__tensor_list list = {NULL, 0, 0};
    int64_t expect_total = 0;
    for (int i = 0; i < N; i++) {
        ck_flp(flp__tensor_list_add(&list, &values[i], &grads[i], i % FLP_GROUP_COUNT, 1,
                                    (int64_t[]){i + 1}, "layer.%d.%s", i, i % 2 ? "B" : "c"));
        expect_total += i + 1;
        ck_assert_int_eq(list.n, i + 1);
        ck_assert_int_ge(list.cap, list.n);
    }
    ck_assert_int_eq(list.cap, 64); /* 16, 32, 64 */
    for (int i = 0; i < N; i++) {
        const flp__tensor *t = &list.items[i];
        char name[32];
        snprintf(name, sizeof name, "layer.%d.%s", i, i % 2 ? "B" : "c");
        ck_assert_ptr_eq(t->value, &values[i]);
        ck_assert_ptr_eq(t->grad, &grads[i]);
        ck_assert_int_eq(t->count, i + 1);
        ck_assert_int_eq(t->group, i % FLP_GROUP_COUNT);
        ck_assert_str_eq(t->name, name);
    }
    ck_assert_int_eq(flp__tensor_list_total(&list), expect_total);
    ck_assert_int_eq(expect_total, N * (N + 1) / 2);
    /* found by name, with its place in the flat layout: tensor i starts after 1 + ... + i floats */
    int64_t offset = -1;
    ck_assert_int_eq(flp__tensor_list_find(&list, "layer.7.B", &offset), 7);
    ck_assert_int_eq(offset, 7 * 8 / 2);
    ck_assert_int_eq(flp__tensor_list_find(&list, "layer.0.c", NULL), 0);
    ck_assert_int_eq(flp__tensor_list_find(&list, "layer.7.c", &offset), -1);
    ck_assert_int_eq(offset, 7 * 8 / 2); /* untouched */

    /* a name longer than the field is truncated and terminated */
    ck_flp(flp__tensor_list_add(&list, NULL, NULL, 0, 1, (int64_t[]){0}, "%s",
                                "a-very-long-tensor-name-that-does-not-fit-at-all"));
    ck_assert_uint_eq(strlen(list.items[N].name), 31);
    ck_assert_int_eq(strncmp(list.items[N].name, "a-very-long-tensor-name-that-do", 31), 0);

    flp__tensor_list_clear(&list);
    ck_assert_int_eq(list.n, 0);
    ck_assert_int_eq(flp__tensor_list_total(&list), 0);
    ck_assert_ptr_nonnull(list.items); /* storage kept for reuse */
    ck_flp(flp__tensor_list_add(&list, &values[0], NULL, 1, 2, (int64_t[]){5, 1}, "again"));
    ck_assert_int_eq(list.n, 1);
    ck_assert_str_eq(list.items[0].name, "again");
    ck_assert_int_eq(flp__tensor_list_total(&list), 5);
    /* the count is the product of the extents; those past the rank read 1 */
    ck_flp(flp__tensor_list_add(&list, &values[0], NULL, 0, 3, (int64_t[]){2, 3, 4}, "cube"));
    const flp__tensor *cube = &list.items[1];
    ck_assert_int_eq(cube->rank, 3);
    ck_assert_int_eq(cube->count, 24);
    ck_assert_int_eq(cube->dims[0] * 100 + cube->dims[1] * 10 + cube->dims[2], 234);
    ck_assert_int_eq(cube->dims[3], 1);
    ck_assert_int_eq(list.items[0].rank, 2);
    ck_assert_int_eq(list.items[0].dims[0], 5);

    flp__tensor_list_free(&list);
    ck_assert_ptr_null(list.items);
    ck_assert_int_eq(list.n, 0);
    ck_assert_int_eq(list.cap, 0);
    flp__tensor_list_free(&list); /* twice is harmless */
}
END_TEST

START_TEST(test_tensor_list_nomem)
{
    static float values[17];
    flp__tensor_list list = {NULL, 0, 0};
    flp__alloc_fail_after(1);
    ck_flp_fails(flp__tensor_list_add(&list, values, NULL, 0, 1, (int64_t[]){1}, "x"), FLP_ERR_NOMEM);
    ck_assert_int_eq(list.n, 0);
    ck_assert_ptr_null(list.items);
    flp__alloc_fail_after(0);
    for (int i = 0; i < 16; i++)
        ck_flp(flp__tensor_list_add(&list, &values[i], NULL, 0, 1, (int64_t[]){2}, "t%d", i));
    /* the 17th entry needs a larger array: its failure keeps the list intact */
    flp__alloc_fail_after(1);
    ck_flp_fails(flp__tensor_list_add(&list, &values[16], NULL, 0, 1, (int64_t[]){2}, "t16"), FLP_ERR_NOMEM);
    flp__alloc_fail_after(0);
    ck_assert_int_eq(list.n, 16);
    ck_assert_int_eq(list.cap, 16);
    for (int i = 0; i < 16; i++)
        ck_assert_ptr_eq(list.items[i].value, &values[i]);
    ck_assert_int_eq(flp__tensor_list_total(&list), 32);
    ck_flp(flp__tensor_list_add(&list, &values[16], NULL, 0, 1, (int64_t[]){2}, "t16"));
    ck_assert_str_eq(list.items[16].name, "t16");
    ck_assert_str_eq(list.items[3].name, "t3");
    flp__tensor_list_free(&list);
}
END_TEST

START_TEST(test_copy_in)
{
    float dst[5] = {9, 9, 9, 9, 9};
    const float ok[5] = {1, -2, 3.5f, 0, 1e30f};
    ck_flp(flp__copy_in("fn_in", "thing", dst, 5, ok, 5));
    ck_assert_int_eq(memcmp(dst, ok, sizeof dst), 0);

    const float keep[5] = {1, -2, 3.5f, 0, 1e30f};
    static const float bad_values[] = {NAN, INFINITY, -INFINITY};
    for (int b = 0; b < 3; b++)
        for (int pos = 0; pos < 5; pos++) {
            float src[5] = {7, 7, 7, 7, 7};
            src[pos] = bad_values[b];
            ck_flp_fails(flp__copy_in("fn_in", "thing", dst, 5, src, 5), FLP_ERR_NONFINITE);
            ck_msg_has("fn_in");
            ck_msg_has("thing");
            char idx[8];
            snprintf(idx, sizeof idx, "%d", pos);
            ck_msg_has(idx);
            ck_assert_int_eq(memcmp(dst, keep, sizeof dst), 0); /* untouched */
        }

    ck_flp_fails(flp__copy_in("fn_in", "thing", dst, 5, ok, 4), FLP_ERR_SHAPE);
    ck_msg_has("fn_in");
    ck_msg_has("thing");
    ck_flp_fails(flp__copy_in("fn_in", "thing", dst, 5, ok, 6), FLP_ERR_SHAPE);
    ck_flp_fails(flp__copy_in("fn_in", "thing", dst, 5, NULL, 5), FLP_ERR_NULL);
    ck_msg_has("fn_in");
    ck_assert_int_eq(memcmp(dst, keep, sizeof dst), 0);

    /* zero elements */
    ck_flp(flp__copy_in("fn_in", "empty", dst, 0, ok, 0));
    ck_assert_int_eq(memcmp(dst, keep, sizeof dst), 0);
}
END_TEST

START_TEST(test_copy_out)
{
    const float src[4] = {1, 2, 3, NAN}; /* copy_out does not judge values */
    float dst[4] = {0};
    ck_flp(flp__copy_out("fn_out", "thing", src, 4, dst, 4));
    ck_assert_float_eq(dst[0], 1);
    ck_assert_float_eq(dst[2], 3);
    ck_assert(isnan(dst[3]));

    float d2[4] = {5, 5, 5, 5};
    ck_flp_fails(flp__copy_out("fn_out", "thing", src, 4, d2, 3), FLP_ERR_SHAPE);
    ck_msg_has("fn_out");
    ck_msg_has("thing");
    ck_flp_fails(flp__copy_out("fn_out", "thing", src, 4, NULL, 4), FLP_ERR_NULL);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(d2[i], 5);
}
END_TEST

Suite *make_core_suite(void)
{
    Suite *s = suite_create("core");

    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, test_status_map);
    tcase_add_test(tc, test_status_unknown);
    tcase_add_test(tc, test_last_error);
    tcase_add_test(tc, test_error_internals);
    tcase_add_test(tc, test_error_thread_local);
    suite_add_tcase(s, tc);

    tc = tcase_create("version_threads");
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_num_threads);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_limits_environment);
    suite_add_tcase(s, tc);

    tc = tcase_create("rng");
    tcase_add_test(tc, test_rng_known_answer);
    tcase_add_test(tc, test_rng_streams);
    tcase_add_test(tc, test_rng_state_roundtrip);
    tcase_add_test(tc, test_rng_uniform_stats);
    tcase_add_test(tc, test_rng_uniform_top);
    tcase_add_test(tc, test_rng_normal_stats);
    tcase_add_test(tc, test_rng_errors);
    tcase_add_test(tc, test_rng_create_nomem);
    suite_add_tcase(s, tc);

    tc = tcase_create("alloc");
    tcase_add_test(tc, test_alloc_fault_injection);
    tcase_add_test(tc, test_alloc_alignment);
    tcase_add_test(tc, test_alloc_bad_count);
    tcase_add_test(tc, test_alloc_rounding_wrap);
    suite_add_tcase(s, tc);

    tc = tcase_create("tensor");
    tcase_add_test(tc, test_tensor_list_growth);
    tcase_add_test(tc, test_tensor_list_nomem);
    tcase_add_test(tc, test_copy_in);
    tcase_add_test(tc, test_copy_out);
    suite_add_tcase(s, tc);
    return s;
}
