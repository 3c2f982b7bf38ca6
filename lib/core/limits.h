/* limits.h - the resource limits every reader checks what a file declares
 * against, before allocating (flp_set_limit in flp_common.h). */
#ifndef FLP_CORE_LIMITS_H
#define FLP_CORE_LIMITS_H

#include <stdint.h>

#include "flp/flp_common.h"

/* The limit's current value (from the environment on first use). */
uint64_t flp__limit(flp_limit limit);

/* FLP_ERR_RANGE with the message "<what, printf-formatted>, more than the
 * limit FLP_LIMIT_X = <value> <unit> allows (raise it with
 * flp_set_limit(FLP_LIMIT_X, n) or the environment variable FLP_LIMIT_X)".
 * `what` says what the file declares: "'a.png' declares 20000 x 20000 =
 * 400000000 pixels". */
flp_status flp__limit_error(flp_limit limit, const char *what_fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
