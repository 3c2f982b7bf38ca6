/* ranks.h - the processes a run is split across: MPI ranks in the MPI
 * build (-Dmpi=enabled: ranks_mpi.c), a single process otherwise
 * (ranks_single.c). The programs call only these, so the same source runs
 * alone or under mpirun. */
#ifndef FLP_APPS_RANKS_H
#define FLP_APPS_RANKS_H

#include <stdint.h>

typedef struct {
    int rank;   /* this process, 0-based; rank 0 logs and writes files */
    int size;   /* number of processes */
} ranks;

/* Start (MPI_Init) and say who we are. Call before parsing the command line. */
ranks ranks_init(int *argc, char ***argv);
/* Stop (MPI_Finalize). */
void ranks_finish(void);
/* x[0..n) = the elementwise sum of every rank's x (MPI_Allreduce in place);
 * a single process keeps x. Exits with a message if the transport fails. */
void ranks_sum(float *x, int64_t n);
/* "MPI (Open MPI 4.1.4)" or "single process": for the run's description. */
const char *ranks_transport(void);

#endif
