/* threads.c - the one thread count for BLIS and libflp's own parallel loops.
 *
 * BLIS and OpenMP each keep a thread count of their own, read from their
 * own environment variables and set per thread (omp_set_num_threads) or per
 * process (BLIS). libflp keeps one count instead and hands it explicitly to
 * every product (core/gemm.c) and every parallel loop (num_threads(...)), so
 * what flp_get_num_threads() says is what runs, whichever thread calls.
 * The default is 1: a user who never sets it is never slower than one
 * thread, even on a machine whose other cores are busy. */
#include "core/threads.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "core/error.h"

static atomic_int flp__threads; /* 0: not yet read from FLP_NUM_THREADS */

/* FLP_NUM_THREADS, when it holds a whole number in range; else 1. */
static int from_environment(void)
{
    const char *s = getenv("FLP_NUM_THREADS");
    if (s == NULL || *s == '\0')
        return 1;
    char *end;
    long n = strtol(s, &end, 10);
    return *end == '\0' && n >= 1 && n <= FLP_MAX_THREADS ? (int)n : 1;
}

int flp__num_threads(void)
{
    int n = atomic_load_explicit(&flp__threads, memory_order_relaxed);
    if (n > 0)
        return n;
    int expected = 0;
    atomic_compare_exchange_strong(&flp__threads, &expected, from_environment());
    return atomic_load(&flp__threads);
}

flp_status flp_set_num_threads(int n)
{
    if (n < 1 || n > FLP_MAX_THREADS)
        return flp__error(FLP_ERR_RANGE, "flp_set_num_threads: n = %d, need 1 to %d", n, FLP_MAX_THREADS);
    atomic_store(&flp__threads, n);
    return FLP_OK;
}

flp_status flp_get_num_threads(int *n)
{
    FLP__CHECK_NULL(n);
    *n = flp__num_threads();
    return FLP_OK;
}
