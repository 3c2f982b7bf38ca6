/* ranks_single.c - ranks.h without MPI: one process, nothing to sum. */
#include "ranks.h"

ranks ranks_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return (ranks){0, 1};
}

void ranks_finish(void) {}

void ranks_sum(float *x, int64_t n)
{
    (void)x;
    (void)n;
}

const char *ranks_transport(void) { return "single process"; }
