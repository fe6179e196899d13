/* dist.h - data-parallel training over MPI: every rank holds the model and
 * takes its slice of each global batch; gradients are averaged with an
 * allreduce before clipping and AdamW (see tlm_trainer_par), so the ranks keep
 * identical weights. Rank 0 owns the front end, metrics and checkpoints; in a
 * session it tells the other ranks ("followers") at every step boundary what
 * comes next (tlm_sess_par), the followers run headless. Every collective has
 * a deadline (TLM_MPI_TIMEOUT seconds, default 120): a rank that dies or
 * hangs makes the others stop with a message instead of waiting forever
 * (control messages: non-blocking calls tested against the deadline; the
 * gradient allreduce: blocking, under a watchdog thread that ends the
 * process).
 * Only built with ./configure --with-mpi. */
#ifndef TLM_DIST_H
#define TLM_DIST_H
#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"
#include "../session/session.h"
#include "../train/trainer.h"

typedef struct tlm_dist tlm_dist;

/* 1 when this process was started by an MPI launcher (mpirun: Open MPI,
 * PMIx, MPICH/Hydra); a plain run never touches MPI. */
int tlm_dist_launched(void);

/* MPI_Init_thread (MPI_THREAD_SERIALIZED: the session's engine thread makes
 * the calls), errors returned instead of aborting. */
int tlm_dist_init(tlm_dist **out, int *argc, char ***argv, tlm_err *err);
int tlm_dist_rank(const tlm_dist *d);
int tlm_dist_size(const tlm_dist *d);

/* The start check, collective: every rank compares its configuration (but
 * threads), tokenizer, training and validation data, training state and
 * program version with rank 0's, then hooks tr (tr->par). tr NULL: this rank
 * failed to start (local_error says why) and only tells the others. -1 on
 * every rank when any disagrees or failed; err names the rank and the key or
 * file (the same text on every rank). */
int tlm_dist_start(tlm_dist *d, tlm_trainer *tr, const char *local_error, tlm_err *err);
/* 1 once tlm_dist_start was called (whatever its result). */
int tlm_dist_started(const tlm_dist *d);

/* Hooks for the session on rank 0: attach runs tlm_dist_start, tick sends
 * the followers the next step boundary. Owned by d. */
const tlm_sess_par *tlm_dist_session_par(tlm_dist *d);

/* A follower's loop (ranks > 0 under a session on rank 0): apply what rank 0
 * sends (configuration, loaded state, RNG positions), step when told, return
 * 0 when rank 0 quits; -1 with err set when the group broke (timeout, a dead
 * rank) or a change could not be applied. */
int tlm_dist_follow(tlm_dist *d, tlm_trainer *tr, tlm_err *err);

/* `tlm train`: a rank asks to stop (a signal); the request travels with the
 * next step's allreduce, after which every rank sees tlm_dist_stop_agreed. */
void tlm_dist_request_stop(tlm_dist *d, int stop);
int tlm_dist_stop_agreed(const tlm_dist *d);

/* 1 when a collective failed or timed out: MPI is no longer usable. */
int tlm_dist_broken(const tlm_dist *d);

/* End MPI: MPI_Finalize when the group is whole, else MPI_Abort(status) so
 * that the launcher stops the ranks that hang. Frees d; returns status. */
int tlm_dist_finalize(tlm_dist *d, int status);

/* Time `reps` gradient allreduces of n floats the way training does them
 * (blocking MPI_Allreduce under the watchdog) and with MPI_Iallreduce + test
 * (what overlapping with backward would use); seconds per call in *t_step and
 * *t_nonblocking. Collective. */
int tlm_dist_bench_allreduce(tlm_dist *d, size_t n, int reps, double *t_step,
                             double *t_nonblocking, tlm_err *err);

/* Time spent in the gradient allreduce so far (waiting for slower ranks
 * included), the bytes reduced and the number of calls. */
void tlm_dist_reduce_stats(const tlm_dist *d, double *seconds, double *bytes, int64_t *calls);

#endif
