/* mpi.h - the tlm program's glue to data-parallel training (engine/dist).
 * Built with --with-mpi (TLM_HAVE_MPI) and started by mpirun, every rank runs
 * the same command: `tlm train` steps in lockstep (rank 0 writes the metrics
 * and checkpoints), `tlm repl` / `tlm ui` run the session on rank 0 while the
 * other ranks follow headless. Otherwise every function here is a no-op and
 * the program is unchanged. */
#ifndef TLM_APP_MPI_H
#define TLM_APP_MPI_H
#include <stdio.h>
#include <stdlib.h>
#include "engine/core/err.h"
#include "engine/io/checkpoint.h"
#include "engine/session/session.h"
#include "engine/train/trainer.h"

#ifdef TLM_HAVE_MPI
/* Start MPI when launched by mpirun; 0, or 1 after printing why not. */
int tlm_app_mpi_init(int *argc, char ***argv);
/* End MPI (a rank that failed before the start check tells the others
 * first); returns the exit status to use. */
int tlm_app_mpi_end(int status);
/* This process's rank and the number of ranks (0 and 1 without MPI). */
int tlm_app_mpi_rank(void);
int tlm_app_mpi_size(void);
/* The start check for tr, then tr takes part in the gradient allreduce. */
int tlm_app_mpi_start(tlm_trainer *tr, tlm_err *err);
/* The session hooks for rank 0 (NULL without MPI). */
const tlm_sess_par *tlm_app_mpi_session_par(void);
/* A follower of a session: build the trainer for cfg (restore ck when not
 * NULL), pass the start check and follow rank 0 until it quits. */
int tlm_app_mpi_follow(const tlm_config *cfg, const tlm_ckpt *ck, tlm_err *err);
/* `tlm train`: pass this rank's stop request along; 1 once every rank agreed
 * to stop (stop_local without MPI). */
int tlm_app_mpi_stop(int stop_local);
/* Report err: on rank 0 (and without MPI) as tlm_cli_fail does; a follower
 * says nothing about a failed start check (rank 0 names it) and prefixes
 * anything else with its rank. Returns 1. */
int tlm_app_mpi_fail(const tlm_err *err);
/* A line for the end of a run: time spent in the gradient allreduce. */
void tlm_app_mpi_summary(void);
#else
/* Started by mpirun with several ranks, a build without MPI would run N
 * independent copies writing the same files: refuse. */
static inline int tlm_app_mpi_init(int *argc, char ***argv)
{
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    (void)argc;
    (void)argv;
    if (!n || atoi(n) < 2)
        return 0;
    fprintf(stderr, "tlm: started by mpirun with %s ranks, but this tlm was built without MPI "
            "(./configure --with-mpi)\n", n);
    return 1;
}
static inline int tlm_app_mpi_end(int status) { return status; }
static inline int tlm_app_mpi_rank(void) { return 0; }
static inline int tlm_app_mpi_size(void) { return 1; }
static inline int tlm_app_mpi_start(tlm_trainer *tr, tlm_err *err)
{ (void)tr; (void)err; return 0; }
static inline const tlm_sess_par *tlm_app_mpi_session_par(void) { return NULL; }
static inline int tlm_app_mpi_follow(const tlm_config *cfg, const tlm_ckpt *ck, tlm_err *err)
{ (void)cfg; (void)ck; return tlm_errf(err, "not built with MPI"); }
static inline int tlm_app_mpi_stop(int stop_local) { return stop_local; }
int tlm_cli_fail(const tlm_err *err);
static inline int tlm_app_mpi_fail(const tlm_err *err) { return tlm_cli_fail(err); }
static inline void tlm_app_mpi_summary(void) {}
#endif

#endif
