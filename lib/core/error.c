/* error.c - status names and the thread-local last-error message. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FLP__MSG_SIZE 1024
static _Thread_local char flp__msg[FLP__MSG_SIZE];

const char *flp_strerror(flp_status status)
{
    switch (status) {
#define FLP__CASE(name, value, msg) case FLP_##name: return msg;
        FLP_STATUS_MAP(FLP__CASE)
#undef FLP__CASE
    }
    return "unknown status";
}

const char *flp_status_name(flp_status status)
{
    switch (status) {
#define FLP__CASE(name, value, msg) case FLP_##name: return #name;
        FLP_STATUS_MAP(FLP__CASE)
#undef FLP__CASE
    }
    return "UNKNOWN";
}

const char *flp_last_error(void) { return flp__msg; }

void flp_clear_error(void) { flp__msg[0] = '\0'; }

flp_status flp__error(flp_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(flp__msg, sizeof flp__msg, fmt, ap);
    va_end(ap);
    return status;
}

flp_status flp__error_context(flp_status status, const char *fmt, ...)
{
    char prefix[FLP__MSG_SIZE], old[FLP__MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, flp__msg, sizeof old);
    int n = snprintf(flp__msg, sizeof flp__msg, "%s: ", prefix);
    if (n > 0 && (size_t)n < sizeof flp__msg)
        snprintf(flp__msg + n, sizeof flp__msg - (size_t)n, "%s", old);
    return status;
}
