/* threads.h - the process's thread count (threads.c). */
#ifndef FLP_CORE_THREADS_H
#define FLP_CORE_THREADS_H

#include "flp/flp_common.h"

/* The count set by flp_set_num_threads, else FLP_NUM_THREADS, else 1.
 * Every parallel loop in libflp runs on at most this many threads. */
int flp__num_threads(void);

#endif
