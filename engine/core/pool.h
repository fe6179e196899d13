/* pool.h - a fixed pthread pool for data-parallel loops inside a step. The
 * calling thread takes part; tasks are claimed from a shared counter. */
#ifndef TLM_POOL_H
#define TLM_POOL_H
#include "err.h"

typedef struct tlm_pool tlm_pool;

/* fn(ctx, task, thread) for task in [0, n_tasks); thread in [0, threads). */
typedef void (*tlm_pool_fn)(void *ctx, int task, int thread);

/* Create a pool of `threads` workers in all (the caller counts as one). Worker
 * threads have denormals flushed to zero. */
int tlm_pool_create(tlm_pool **out, int threads, tlm_err *err);
void tlm_pool_destroy(tlm_pool *p);
int tlm_pool_threads(const tlm_pool *p);

/* Run fn over n_tasks tasks and return when all are done. Not reentrant. */
void tlm_pool_run(tlm_pool *p, int n_tasks, tlm_pool_fn fn, void *ctx);

/* Flush denormals to zero (FTZ/DAZ) in the calling thread. */
void tlm_denormals_off(void);

#endif
