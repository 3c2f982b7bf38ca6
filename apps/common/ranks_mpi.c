/* ranks_mpi.c - ranks.h over MPI (built with -Dmpi=enabled). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "ranks.h"

static void check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS)
        return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    fprintf(stderr, "%s failed: %s\n", what, msg);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

ranks ranks_init(int *argc, char ***argv)
{
    ranks r;
    check(MPI_Init(argc, argv), "MPI_Init");
    /* errors come back as codes, so that check() can say what failed */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check(MPI_Comm_rank(MPI_COMM_WORLD, &r.rank), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &r.size), "MPI_Comm_size");
    return r;
}

void ranks_finish(void) { MPI_Finalize(); }

void ranks_sum(float *x, int64_t n)
{
    /* MPI counts are int: large arrays go in pieces */
    const int64_t piece = 1 << 30;
    for (int64_t start = 0; start < n; start += piece) {
        int count = (int)(n - start < piece ? n - start : piece);
        check(MPI_Allreduce(MPI_IN_PLACE, x + start, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
    }
}

const char *ranks_transport(void)
{
    static char name[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(name, &len);
    for (int i = 0; i < len; i++) /* first line, without the build details */
        if (name[i] == ',' || name[i] == '\n') {
            name[i] = '\0';
            break;
        }
    return name;
}
