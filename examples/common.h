/* common.h - what every example but the tutorial shares: CHECK, which ends
 * the program with libflp's message when a call fails. Copy it with the
 * example you start from. */
#ifndef FLP_EXAMPLES_COMMON_H
#define FLP_EXAMPLES_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include <flp/flp.h>

/* Run a libflp call; unless it returns FLP_OK, print the call and
 * flp_last_error() (what failed and why) and exit 1. */
#define CHECK(call)                                                      \
    do {                                                                 \
        if ((call) != FLP_OK) {                                          \
            fprintf(stderr, "%s failed: %s\n", #call, flp_last_error()); \
            exit(1);                                                     \
        }                                                                \
    } while (0)

#endif
