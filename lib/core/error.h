/* error.h - the thread-local last-error message and the argument checks
 * every public function starts with. */
#ifndef FLP_CORE_ERROR_H
#define FLP_CORE_ERROR_H

#include "flp/flp_common.h"

/* Record `status` with a printf-style message for flp_last_error(); returns
 * `status` so that callers can write `return flp__error(FLP_ERR_SHAPE, ...)`. */
flp_status flp__error(flp_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the current thread's message with "where: " (used when an inner
 * call failed and the outer function wants to add context). */
flp_status flp__error_context(flp_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define FLP__CHECK_NULL(ptr)                                                  \
    do {                                                                      \
        if ((ptr) == NULL)                                                    \
            return flp__error(FLP_ERR_NULL, "%s: argument '%s' is NULL",      \
                              __func__, #ptr);                                \
    } while (0)

#define FLP__TRY(expr)                                                        \
    do {                                                                      \
        flp_status flp__st = (expr);                                          \
        if (flp__st != FLP_OK)                                                \
            return flp__st;                                                   \
    } while (0)

#endif
