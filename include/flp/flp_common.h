/*
 * flp_common.h - versions, status codes, error messages and export macros.
 *
 * Every libflp function returns an flp_status. FLP_OK (0) means success; every
 * error is negative. On error, flp_last_error() returns a message for the
 * calling thread saying what was wrong and where ("flp_net_forward: x has 12
 * columns, the network expects 11"). Nothing in libflp aborts or exits.
 */
#ifndef FLP_COMMON_H
#define FLP_COMMON_H

#include <float.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- export and deprecation macros ------------------------------------ */
#if defined(_WIN32) && defined(FLP_BUILDING)
#  define FLP_API __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define FLP_API __attribute__((visibility("default")))
#else
#  define FLP_API
#endif

#if defined(__GNUC__)
#  define FLP_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#  define FLP_DEPRECATED(msg)
#endif

/* ---- version ------------------------------------------------------------
 * Same major version = ABI compatible. A binding checks
 * flp_version_number() / 10000 == FLP_VERSION_MAJOR at load time. */
#define FLP_VERSION_MAJOR 0
#define FLP_VERSION_MINOR 1
#define FLP_VERSION_PATCH 0
#define FLP_VERSION_NUMBER (FLP_VERSION_MAJOR * 10000 + FLP_VERSION_MINOR * 100 + FLP_VERSION_PATCH)
#define FLP__STR2(x) #x
#define FLP__STR(x) FLP__STR2(x)
#define FLP_VERSION_STRING \
    FLP__STR(FLP_VERSION_MAJOR) "." FLP__STR(FLP_VERSION_MINOR) "." FLP__STR(FLP_VERSION_PATCH)

/** Runtime version as MAJOR*10000 + MINOR*100 + PATCH. @since 0.1 */
FLP_API unsigned flp_version_number(void);
/** Runtime version as "MAJOR.MINOR.PATCH"; static storage. @since 0.1 */
FLP_API const char *flp_version(void);

/* ---- status codes ---------------------------------------------------------
 * One list generates the enum, flp_status_name() and flp_strerror().
 * Codes only ever grow at the end; their values never change. */
#define FLP_STATUS_MAP(X)                                                            \
    X(OK, 0, "success")                                                              \
    X(ERR_NULL, -1, "a required pointer argument is NULL")                           \
    X(ERR_INVALID, -2, "invalid argument")                                           \
    X(ERR_SHAPE, -3, "array shape does not match")                                   \
    X(ERR_RANGE, -4, "value out of range")                                           \
    X(ERR_NOMEM, -5, "out of memory")                                                \
    X(ERR_IO, -6, "file could not be opened, read or written")                       \
    X(ERR_FORMAT, -7, "file is corrupt or not in the expected format")               \
    X(ERR_VERSION, -8, "file was written by an incompatible version or configuration") \
    X(ERR_NONFINITE, -9, "a non-finite value (NaN or infinity) appeared")            \
    X(ERR_STATE, -10, "call not valid in the handle's current state")                \
    X(ERR_UNSUPPORTED, -11, "operation not supported by this build or configuration")

typedef enum {
#define FLP__STATUS_ENUM(name, value, msg) FLP_##name = value,
    FLP_STATUS_MAP(FLP__STATUS_ENUM)
#undef FLP__STATUS_ENUM
} flp_status;

/** Short description of a status code; "unknown status" for values not in
 *  FLP_STATUS_MAP. Static storage, never NULL. @since 0.1 */
FLP_API const char *flp_strerror(flp_status status);

/** The code's name without prefix ("ERR_SHAPE"); static storage. @since 0.1 */
FLP_API const char *flp_status_name(flp_status status);

/** Message of the last error raised on the calling thread, naming the
 *  function and the offending argument; "" if none. The string stays valid
 *  until the next libflp call on this thread. @since 0.1 */
FLP_API const char *flp_last_error(void);

/** Forget the calling thread's last error message. @since 0.1 */
FLP_API void flp_clear_error(void);

/* ---- settings: one key map per handle --------------------------------------
 * A handle's settings are keys of one enum, set, read and bounded with
 * flp_<handle>_set / _get / _bounds (double values; integers and enums are
 * passed as their value). Each enum comes from one X-macro list,
 * FLP_<HANDLE>_KEY_MAP(X), one line per key:
 *
 *     X(HANDLE, NAME, value, type, default, lo, hi)
 *
 * It generates the enum (FLP_<HANDLE>_<NAME> = value) here and, inside
 * libflp, every key's name, bounds, default and check, the checkpoint's
 * record of the settings and the bindings' enums. `type` is what a key
 * takes: INT (an integer in [lo, hi]), BOOL (0 or 1), ENUM (an integer in
 * [lo, hi], the values of an enum) or REAL (any double in [lo, hi]; DBL_MAX
 * means "any finite value"). Values never change and keys are only
 * appended. On every handle a key the handle does not have is
 * FLP_ERR_INVALID and a value outside its bounds FLP_ERR_RANGE, with a
 * message naming the key ("flp_rule_set: FLP_RULE_PLASTIC_LAST takes an
 * integer in [0, 1000000000], got 2.5"). */
#define FLP__KEY_ENUM(handle, name, value, type, def, lo, hi) FLP_##handle##_##name = (value),

/* ---- meta-parameter groups ------------------------------------------------
 * Every meta-parameter belongs to one group; the meta-optimizer gives each
 * group its own learning rate and schedule and can freeze it. */
typedef enum {
    FLP_GROUP_WEIGHTS = 0,    /* initial weights and biases of the network */
    FLP_GROUP_FEEDBACK = 1,   /* feedback weights B_l and biases c_l */
    FLP_GROUP_PLASTICITY = 2, /* plasticity coefficients alpha_l (or inner learning rates) */
    FLP_GROUP_STRENGTH = 3,   /* feedback strengths beta_l */
    FLP_GROUP_RULE = 4        /* rule-family coefficients theta */
} flp_group;
#define FLP_GROUP_COUNT 5

/* ---- threads ---------------------------------------------------------------
 * One count governs every thread libflp runs: BLIS's products and libflp's
 * own parallel loops. It is process-wide (set from any thread, seen by all),
 * starts at FLP_NUM_THREADS from the environment when that holds a number
 * from 1 to FLP_MAX_THREADS, else at 1, so that a program that never sets it
 * is never slower than one thread on a busy machine. BLIS_NUM_THREADS and
 * OMP_NUM_THREADS do not apply to libflp. Results never depend on the count:
 * every reduction libflp does itself has a fixed order. */
#define FLP_MAX_THREADS 1024

/** Set the number of threads every later libflp call may use (1 to
 *  FLP_MAX_THREADS; FLP_ERR_RANGE otherwise). @since 0.1 */
FLP_API flp_status flp_set_num_threads(int n);
/** The number of threads libflp's calls use. @since 0.1 */
FLP_API flp_status flp_get_num_threads(int *n);

/* ---- kernels ---------------------------------------------------------------
 * BLIS ships several sub-configurations (kernel sets) and picks one when it
 * initialises, from a table of CPU models that lags new processors (BLIS 0.9
 * runs its slow "generic" kernels on AMD Zen 5 and AVX2 ones on Zen 4).
 * Before its first product libflp picks the fastest set this CPU and this
 * BLIS build support ("zen4", "skx" on AVX-512; "zen3" on other AMD CPUs with
 * AVX2, "haswell" on other AVX2 CPUs, "sandybridge" on AVX; otherwise BLIS's
 * choice), by setting BLIS_ARCH_TYPE for the moment BLIS initialises and then
 * restoring the environment. A BLIS_ARCH_TYPE the user set is never
 * overridden. FLP_KERNELS=NAME in the environment, or flp_set_kernels(NAME),
 * chooses instead ("auto": libflp's choice, "blis": BLIS's own). */

/** Choose the kernels by name ("auto", "blis" or a set named above). Only
 *  before libflp's first use of BLIS (FLP_ERR_STATE after); FLP_ERR_INVALID
 *  for an unknown name, FLP_ERR_UNSUPPORTED for a set this CPU or BLIS build
 *  cannot run. @since 0.1 */
FLP_API flp_status flp_set_kernels(const char *name);
/** The kernel set BLIS runs ("skx", "generic", ...), as BLIS reports it
 *  after initialising (which this call does if nothing has yet); static
 *  storage. @since 0.1 */
FLP_API const char *flp_kernels(void);
/** How that set came to be chosen ("libflp's choice from the CPU's
 *  features", "BLIS_ARCH_TYPE is set in the environment: ...", "BLIS was
 *  initialised before libflp could choose ..."); static storage. @since 0.1 */
FLP_API const char *flp_kernels_reason(void);

/* ---- resource limits -------------------------------------------------------
 * Every reader bounds the memory and time a file can cost by what the file
 * declares (an image's width x height, an IDX file's extents, a file's
 * size), checked before anything of that size is allocated or decoded. A
 * file beyond a limit is refused with FLP_ERR_RANGE, and the message names
 * the limit and how to raise it. Limits are process-wide; each starts at
 * the environment variable of its enumerator's name (FLP_LIMIT_IMAGE_PIXELS
 * =100000000) when that holds a whole number within its bounds, else at its
 * default. Checkpoints need no limit: what a checkpoint may hold is fixed by
 * the handles it is loaded into (doc/RELIABILITY.md, "Resource limits"). */
typedef enum {
    FLP_LIMIT_IMAGE_PIXELS = 0, /* width x height of one PNG or JPEG; default 2^24 (16,777,216) */
    FLP_LIMIT_IDX_BYTES = 1,    /* values one IDX file declares (after gunzip); default 2^31 */
    FLP_LIMIT_CSV_BYTES = 2     /* size of one split file (CSV); default 2^26 (64 MiB) */
} flp_limit;

/** Set a limit (within flp_limit_bounds; FLP_ERR_RANGE otherwise, or for an
 *  unknown limit). Applies to every later read, on every thread. @since 0.1 */
FLP_API flp_status flp_set_limit(flp_limit limit, int64_t value);
/** A limit's current value. @since 0.1 */
FLP_API flp_status flp_get_limit(flp_limit limit, int64_t *value);
/** The values a limit accepts, lo to hi inclusive. @since 0.1 */
FLP_API flp_status flp_limit_bounds(flp_limit limit, int64_t *lo, int64_t *hi);

#ifdef __cplusplus
}
#endif
#endif /* FLP_COMMON_H */
