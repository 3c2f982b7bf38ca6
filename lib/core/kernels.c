/* kernels.c - which of BLIS's sub-configurations (kernel sets) libflp runs on.
 *
 * BLIS picks its sub-configuration once, when it initialises, from its own
 * table of CPU models. That table lags the processors: Debian's BLIS 0.9
 * runs its portable `generic` kernels on AMD family 26 and its AVX2 `zen3`
 * kernels on AVX-512 Zen 4, several times slower than the `skx` kernels
 * those CPUs run (doc/PERFORMANCE.md). BLIS reads BLIS_ARCH_TYPE when it
 * initialises; before libflp's first product, flp__kernels_setup() sets it
 * (only when the user has not) to the best entry of one table below that
 * the CPU supports, initialises BLIS, and puts the environment back as it
 * found it. Setting an id this BLIS was built without, or one the CPU cannot
 * run, would make BLIS abort or fault, so an entry is tried only when the
 * header says the configuration is built in and the CPU has its features. */
#include "core/kernels.h"

#include <blis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

typedef struct {
    const char *name;   /* BLIS's name for the sub-configuration */
    int built;          /* compiled into this BLIS (its blis.h says) */
    int (*runs)(void);  /* the CPU (and the OS) support its instructions */
    const char *needs;  /* for messages: what runs() checks */
} flp__kernel_set;

#if defined(__x86_64__) && defined(__GNUC__)
/* __builtin_cpu_supports also checks that the OS saves the vector state. */
static int has_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}
static int has_avx512_amd(void) { return has_avx512() && __builtin_cpu_is("amd"); }
static int has_avx2_fma(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static int has_avx2_fma_amd(void) { return has_avx2_fma() && __builtin_cpu_is("amd"); }
static int has_avx(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx");
}
#define FLP__X86(name, built, runs, needs) {name, built, runs, needs}
#else
static int never(void) { return 0; }
#define FLP__X86(name, built, runs, needs) {name, 0, never, needs}
#endif

#ifdef BLIS_CONFIG_ZEN4
#define FLP__HAVE_ZEN4 1
#else
#define FLP__HAVE_ZEN4 0
#endif
#ifdef BLIS_CONFIG_SKX
#define FLP__HAVE_SKX 1
#else
#define FLP__HAVE_SKX 0
#endif
#ifdef BLIS_CONFIG_ZEN3
#define FLP__HAVE_ZEN3 1
#else
#define FLP__HAVE_ZEN3 0
#endif
#ifdef BLIS_CONFIG_HASWELL
#define FLP__HAVE_HASWELL 1
#else
#define FLP__HAVE_HASWELL 0
#endif
#ifdef BLIS_CONFIG_SANDYBRIDGE
#define FLP__HAVE_SANDYBRIDGE 1
#else
#define FLP__HAVE_SANDYBRIDGE 0
#endif

/* In order of preference: the first one built in that the CPU runs wins.
 * zen3's kernels are haswell's AVX2 kernels with blocking tuned for AMD's
 * caches; on AMD they measure faster (doc/PERFORMANCE.md, "Kernels").
 * zen4 (BLIS 1.0 and later) is AMD's own AVX-512 set. */
static const flp__kernel_set flp__table[] = {
    FLP__X86("zen4", FLP__HAVE_ZEN4, has_avx512_amd, "an AMD CPU with AVX-512"),
    FLP__X86("skx", FLP__HAVE_SKX, has_avx512, "AVX-512 F/DQ/BW/VL"),
    FLP__X86("zen3", FLP__HAVE_ZEN3, has_avx2_fma_amd, "an AMD CPU with AVX2 and FMA"),
    FLP__X86("haswell", FLP__HAVE_HASWELL, has_avx2_fma, "AVX2 and FMA"),
    FLP__X86("sandybridge", FLP__HAVE_SANDYBRIDGE, has_avx, "AVX"),
};
#define FLP__TABLE_SIZE ((int)(sizeof flp__table / sizeof flp__table[0]))

/* What was asked before BLIS initialised, and what came of it. */
static char flp__wanted[32];          /* flp_set_kernels(): "" = not called */
static char flp__chosen[32];          /* what BLIS runs */
static char flp__reason[160];         /* how that came about */
static pthread_once_t flp__once = PTHREAD_ONCE_INIT;
/* Held by setup() from start to end, so that flp_set_kernels either lands
 * before BLIS initialises or sees that it has. */
static pthread_mutex_t flp__lock = PTHREAD_MUTEX_INITIALIZER;
static int flp__done;                 /* setup has run (under flp__lock) */

/* BLIS's id for `name`, or -1. bli_arch_string reads a static table and
 * needs no initialisation. */
static int blis_id(const char *name)
{
    for (int id = 0; id < (int)BLIS_NUM_ARCHS; id++)
        if (strcmp(bli_arch_string((arch_t)id), name) == 0)
            return id;
    return -1;
}

/* The table's entry named `name`, or -1. */
static int table_index(const char *name)
{
    for (int i = 0; i < FLP__TABLE_SIZE; i++)
        if (strcmp(flp__table[i].name, name) == 0)
            return i;
    return -1;
}

static int usable(int i) { return flp__table[i].built && flp__table[i].runs(); }

/* Where the request came from and what it was: the call wins over
 * FLP_KERNELS; "auto" (or nothing) means the table's best. */
static const char *request(const char **source)
{
    if (flp__wanted[0] != '\0') {
        *source = "flp_set_kernels";
        return flp__wanted;
    }
    const char *env = getenv("FLP_KERNELS");
    if (env != NULL && env[0] != '\0') {
        *source = "FLP_KERNELS";
        return env;
    }
    *source = NULL;
    return "auto";
}

/* Initialise BLIS with BLIS_ARCH_TYPE = id for the duration, restoring the
 * environment afterwards (the variable was unset: the caller checked). */
static void init_blis_as(int id)
{
    char value[16];
    snprintf(value, sizeof value, "%d", id);
    setenv("BLIS_ARCH_TYPE", value, 0);
    bli_init();
    unsetenv("BLIS_ARCH_TYPE");
}

static void setup(void)
{
    pthread_mutex_lock(&flp__lock);
    const char *source;
    const char *req = request(&source);
    const char *user_arch = getenv("BLIS_ARCH_TYPE");
    int target = -1;  /* table index to ask BLIS for; -1: BLIS's own choice */
    const char *why;
    char note[sizeof flp__reason];
    if (user_arch != NULL) {
        why = "BLIS_ARCH_TYPE is set in the environment: BLIS's choice, untouched";
    } else if (strcmp(req, "blis") == 0) {
        why = source ? "BLIS's own choice, as asked" : "BLIS's own choice";
    } else if (strcmp(req, "auto") == 0) {
        for (int i = 0; i < FLP__TABLE_SIZE && target < 0; i++)
            if (usable(i) && blis_id(flp__table[i].name) >= 0)
                target = i;
        why = target >= 0 ? "libflp's choice from the CPU's features" : "BLIS's own choice (no better kernels for this CPU)";
    } else {
        /* a name was checked by flp_set_kernels; one from FLP_KERNELS is checked here */
        int i = table_index(req);
        if (i >= 0 && usable(i) && blis_id(req) >= 0) {
            target = i;
            why = "as FLP_KERNELS asks";
            if (source && strcmp(source, "flp_set_kernels") == 0)
                why = "as flp_set_kernels asked";
        } else {
            snprintf(note, sizeof note, "FLP_KERNELS='%.32s' is not a kernel set this CPU and BLIS build run: "
                     "BLIS's own choice", req);
            why = note;
        }
    }
    if (target >= 0)
        init_blis_as(blis_id(flp__table[target].name));
    else
        bli_init();
    const char *got = bli_arch_string(bli_arch_query_id());
    snprintf(flp__chosen, sizeof flp__chosen, "%s", got);
    if (target >= 0 && strcmp(got, flp__table[target].name) != 0)
        snprintf(flp__reason, sizeof flp__reason,
                 "BLIS was initialised before libflp could choose %s: BLIS's own choice", flp__table[target].name);
    else
        snprintf(flp__reason, sizeof flp__reason, "%s", why);
    flp__done = 1;
    pthread_mutex_unlock(&flp__lock);
}

void flp__kernels_setup(void) { pthread_once(&flp__once, setup); }

flp_status flp_set_kernels(const char *name)
{
    FLP__CHECK_NULL(name);
    int known = strcmp(name, "auto") == 0 || strcmp(name, "blis") == 0;
    if (!known) {
        int i = table_index(name);
        if (i < 0)
            return flp__error(FLP_ERR_INVALID,
                              "%s: unknown kernels '%s' (auto, blis, zen4, skx, zen3, haswell or sandybridge)",
                              __func__, name);
        if (!flp__table[i].built || blis_id(name) < 0)
            return flp__error(FLP_ERR_UNSUPPORTED, "%s: this BLIS was built without its '%s' kernels",
                              __func__, name);
        if (!flp__table[i].runs())
            return flp__error(FLP_ERR_UNSUPPORTED, "%s: '%s' needs %s, which this CPU lacks", __func__,
                              name, flp__table[i].needs);
    }
    pthread_mutex_lock(&flp__lock);
    int done = flp__done;
    if (!done)
        snprintf(flp__wanted, sizeof flp__wanted, "%s", name);
    pthread_mutex_unlock(&flp__lock);
    if (done)
        return flp__error(FLP_ERR_STATE,
                          "%s: BLIS is already initialised (with '%s'); choose kernels before the first "
                          "product, or with FLP_KERNELS", __func__, flp__chosen);
    return FLP_OK;
}

const char *flp_kernels(void)
{
    flp__kernels_setup();
    return flp__chosen;
}

const char *flp_kernels_reason(void)
{
    flp__kernels_setup();
    return flp__reason;
}
