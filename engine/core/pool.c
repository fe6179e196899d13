/* pool.c - the engine's thread pool. */
#include "pool.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

struct tlm_pool {
    int threads;
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    unsigned long generation;
    int active, quit;
    tlm_pool_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next;
};

void tlm_denormals_off(void)
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ | DAZ */
#endif
}

static void run_tasks(tlm_pool *p, int thread)
{
    for (;;) {
        int t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks)
            break;
        p->fn(p->ctx, t, thread);
    }
}

typedef struct worker_arg {
    tlm_pool *p;
    int index;
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    tlm_pool *p = wa->p;
    int index = wa->index;
    free(wa);
    tlm_denormals_off();
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->quit)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, index);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int tlm_pool_create(tlm_pool **out, int threads, tlm_err *err)
{
    if (threads < 1)
        threads = 1;
    tlm_pool *p = tlm_calloc(1, sizeof *p, err);
    if (!p)
        return -1;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->tid = tlm_calloc((size_t)threads, sizeof *p->tid, err);
    if (!p->tid) {
        free(p);
        return -1;
    }
    for (int i = 1; i < threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->p = p;
            wa->index = i;
        }
        if (!wa || pthread_create(&p->tid[i], NULL, worker, wa)) {
            free(wa);
            p->threads = i;
            tlm_pool_destroy(p);
            return tlm_errf(err, "cannot start compute thread %d", i);
        }
    }
    *out = p;
    return 0;
}

void tlm_pool_destroy(tlm_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads; i++)
        pthread_join(p->tid[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->tid);
    free(p);
}

int tlm_pool_threads(const tlm_pool *p)
{
    return p ? p->threads : 1;
}

void tlm_pool_run(tlm_pool *p, int n_tasks, tlm_pool_fn fn, void *ctx)
{
    if (!p || p->threads == 1 || n_tasks <= 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    p->active = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->active > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
