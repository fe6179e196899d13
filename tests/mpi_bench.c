/* mpi_bench.c - the gradient allreduce's cost per parameter byte (MPI builds
 * only): mpirun -np 2 tests/mpi_bench [FLOATS [REPS]]. Rank 0 prints one line
 * per size: seconds per call through engine/dist (blocking MPI_Allreduce
 * under the watchdog) and through MPI_Iallreduce + test, and ns per byte. */
#include <stdio.h>
#include <stdlib.h>
#include "engine/dist/dist.h"

int main(int argc, char **argv)
{
    tlm_dist *d;
    tlm_err err;
    if (tlm_dist_init(&d, &argc, &argv, &err)) {
        fprintf(stderr, "mpi_bench: %s\n", err.msg);
        return 1;
    }
    size_t sizes[] = {1u << 16, 1u << 20, 6815744, 1u << 25}; /* 6,815,744: about tiny */
    size_t only = argc > 1 ? (size_t)atoll(argv[1]) : 0;
    int reps = argc > 2 ? atoi(argv[2]) : 10;
    int rc = 0;
    for (size_t i = 0; i < 4 && !rc; i++) {
        size_t n = only ? only : sizes[i];
        double ts, tb;
        rc = tlm_dist_bench_allreduce(d, n, reps, &ts, &tb, &err);
        if (!rc && tlm_dist_rank(d) == 0)
            printf("%d ranks, %zu floats (%.1f MB): %.3f ms a call (%.3f ns/byte); "
                   "MPI_Iallreduce %.3f ms (%.3f ns/byte)\n", tlm_dist_size(d), n, n * 4e-6,
                   ts * 1e3, ts * 1e9 / (n * 4.0), tb * 1e3, tb * 1e9 / (n * 4.0));
        if (only)
            break;
    }
    if (rc)
        fprintf(stderr, "mpi_bench: %s\n", err.msg);
    return tlm_dist_finalize(d, rc ? 1 : 0);
}
