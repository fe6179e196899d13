/* dist_int.h - internals of engine/dist shared by dist.c, check.c and
 * follow.c; the only files that include mpi.h. */
#ifndef TLM_DIST_INT_H
#define TLM_DIST_INT_H
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include "dist.h"

struct tlm_dist {
    MPI_Comm comm;
    int rank, size;
    double timeout;          /* seconds a collective may take (TLM_MPI_TIMEOUT) */
    int broken;              /* a collective failed or timed out */
    int started;             /* tlm_dist_start ran */
    int stop_local, stop_any;
    tlm_trainer_par par;     /* the trainer's hook (reduce) */
    tlm_sess_par spar;       /* the session's hooks (attach, tick) */
    char *cfg_sent;          /* rank 0: the configuration text the followers have */
    double reduce_s, reduce_bytes;
    int64_t reduces;
    /* the watchdog of blocking collectives: armed while one runs */
    pthread_t dog;
    int dog_started;
    atomic_int dog_quit;
    _Atomic double dog_since;  /* tlm_now() when the collective began; 0: none */
    const char *_Atomic dog_what;
};

/* Wait for request r until `timeout` seconds pass; on an MPI error or the
 * deadline the group is marked broken and err says what (with `what`). */
int tlm__dist_wait(tlm_dist *d, MPI_Request *r, double timeout, const char *what, tlm_err *err);
/* Mark the group broken after MPI error code rc in `what`. */
int tlm__dist_fail(tlm_dist *d, int rc, const char *what, tlm_err *err);
/* Broadcast bytes from rank 0 (in chunks below 1 GiB), with the deadline. */
int tlm__dist_bcast(tlm_dist *d, void *buf, size_t bytes, double timeout, const char *what,
                    tlm_err *err);
/* CRC32 of n bytes (zlib), for fingerprints. */
uint32_t tlm__dist_crc(uint32_t crc, const void *p, size_t n);

/* Hook tr to d (tr->par: the gradient allreduce), once the ranks agree. */
void tlm__dist_hook(tlm_dist *d, tlm_trainer *tr);

#endif
