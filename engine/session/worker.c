/* worker.c - a FIFO worker thread for the session's slow jobs (writing
 * checkpoints, generating text), so the engine thread only makes the copy. */
#include <stdlib.h>
#include "../core/pool.h"
#include "session_int.h"

static void *worker_main(void *arg)
{
    sess_worker *w = arg;
    tlm_denormals_off();
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        sess_job *j = w->head;
        if (!j)
            break; /* quit with nothing left */
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        j->run(w->s, j);
        atomic_fetch_sub(&w->pending, 1);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int tlm__worker_start(sess_worker *w, tlm_session *s, tlm_err *err)
{
    w->s = s;
    w->head = w->tail = NULL;
    w->quit = 0;
    atomic_init(&w->pending, 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w)) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        return tlm_errf(err, "session: cannot start a worker thread");
    }
    w->started = 1;
    return 0;
}

int tlm__worker_push(sess_worker *w, sess_job *j, int max_pending)
{
    pthread_mutex_lock(&w->mu);
    if (w->quit || atomic_load(&w->pending) >= max_pending) {
        pthread_mutex_unlock(&w->mu);
        return -1;
    }
    j->next = NULL;
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    atomic_fetch_add(&w->pending, 1);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void tlm__worker_stop(sess_worker *w, int finish)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    sess_job *drop = NULL;
    if (!finish) {
        drop = w->head;
        w->head = w->tail = NULL;
    }
    w->quit = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    while (drop) {
        sess_job *next = drop->next;
        drop->drop(w->s, drop);
        atomic_fetch_sub(&w->pending, 1);
        drop = next;
    }
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->started = 0;
}
