/* dist.c - MPI set-up and tear-down, collectives with a deadline, and the
 * trainer's gradient allreduce (see dist.h). */
#include "dist_int.h"
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "../core/timer.h"

#define CHUNK_FLOATS ((size_t)1 << 27) /* 512 MiB per allreduce call: counts stay int */
#define MAX_CHUNKS 64

int tlm_dist_launched(void)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

static double env_timeout(void)
{
    const char *v = getenv("TLM_MPI_TIMEOUT");
    double t = v && *v ? atof(v) : 120.0;
    return t > 0 ? t : 120.0;
}

/* The watchdog thread: a blocking collective (the gradient allreduce) that
 * runs past the deadline means a rank died or hangs; MPI cannot be called
 * from here, so it says so and ends the process, and the launcher then
 * stops the other ranks. Checkpoints are written temp + rename, so the last
 * one stays good. */
static void *watchdog(void *arg)
{
    tlm_dist *d = arg;
    while (!atomic_load(&d->dog_quit)) {
        struct timespec ts = {0, 200000000};
        nanosleep(&ts, NULL);
        double since = atomic_load(&d->dog_since);
        if (since > 0 && tlm_now() - since > d->timeout) {
            fprintf(stderr, "tlm: rank %d: %s: no answer from the other ranks for %.0f s (a rank "
                    "died or hangs; TLM_MPI_TIMEOUT sets the limit); stopping\n", d->rank,
                    atomic_load(&d->dog_what), d->timeout);
            fflush(stdout);
            fflush(stderr);
            _exit(3);
        }
    }
    return NULL;
}

/* Arm (what != NULL) or disarm the watchdog around a blocking collective. */
static void dog_arm(tlm_dist *d, const char *what)
{
    if (what)
        atomic_store(&d->dog_what, what);
    atomic_store(&d->dog_since, what ? tlm_now() : 0.0);
}

int tlm_dist_init(tlm_dist **out, int *argc, char ***argv, tlm_err *err)
{
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return tlm_errf(err, "MPI_Init_thread failed");
    if (provided < MPI_THREAD_SERIALIZED) {
        MPI_Finalize();
        return tlm_errf(err, "the MPI library offers no MPI_THREAD_SERIALIZED (got level %d)",
                        provided);
    }
    tlm_dist *d = tlm_calloc(1, sizeof *d, err);
    if (!d) {
        MPI_Finalize();
        return -1;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    d->timeout = env_timeout();
    atomic_init(&d->dog_quit, 0);
    atomic_init(&d->dog_since, 0.0);
    atomic_init(&d->dog_what, "a collective");
    d->dog_started = pthread_create(&d->dog, NULL, watchdog, d) == 0;
    *out = d;
    return 0;
}

int tlm_dist_rank(const tlm_dist *d)
{
    return d->rank;
}

int tlm_dist_size(const tlm_dist *d)
{
    return d->size;
}

int tlm_dist_started(const tlm_dist *d)
{
    return d->started;
}

int tlm_dist_broken(const tlm_dist *d)
{
    return d->broken;
}

int tlm_dist_finalize(tlm_dist *d, int status)
{
    if (!d)
        return status;
    int broken = d->broken;
    free(d->cfg_sent);
    if (d->dog_started) {
        atomic_store(&d->dog_quit, 1);
        pthread_join(d->dog, NULL);
    }
    if (broken) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, status ? status : 1); /* stops the ranks that hang */
    } else {
        MPI_Comm_free(&d->comm);
        MPI_Finalize();
    }
    free(d);
    return status;
}

/* ---- collectives with a deadline ---- */

int tlm__dist_fail(tlm_dist *d, int rc, const char *what, tlm_err *err)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    d->broken = 1;
    return tlm_errf(err, "rank %d: MPI error in %s: %s; stopping (a rank died?)", d->rank, what,
                    msg);
}

int tlm__dist_wait(tlm_dist *d, MPI_Request *r, double timeout, const char *what, tlm_err *err)
{
    double t0 = tlm_now();
    unsigned spins = 0;
    for (;;) {
        int done = 0;
        int rc = MPI_Test(r, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return tlm__dist_fail(d, rc, what, err);
        if (done)
            return 0;
        if (tlm_now() - t0 > timeout) {
            d->broken = 1;
            return tlm_errf(err, "rank %d: %s: no answer from the other ranks for %.0f s (a rank "
                            "died or hangs; TLM_MPI_TIMEOUT sets the limit); stopping", d->rank,
                            what, timeout);
        }
        if (++spins < 2000) { /* a partner a few microseconds away: spin */
            sched_yield();
        } else { /* a long wait (a paused session, a slower rank): sleep a little */
            struct timespec ts = {0, spins < 20000 ? 50000 : 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

int tlm__dist_bcast(tlm_dist *d, void *buf, size_t bytes, double timeout, const char *what,
                    tlm_err *err)
{
    char *p = buf;
    while (bytes) {
        size_t n = bytes < ((size_t)1 << 30) ? bytes : ((size_t)1 << 30);
        MPI_Request r;
        int rc = MPI_Ibcast(p, (int)n, MPI_BYTE, 0, d->comm, &r);
        if (rc != MPI_SUCCESS)
            return tlm__dist_fail(d, rc, what, err);
        if (tlm__dist_wait(d, &r, timeout, what, err))
            return -1;
        p += n;
        bytes -= n;
    }
    return 0;
}

uint32_t tlm__dist_crc(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n) {
        unsigned k = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        crc = (uint32_t)crc32(crc, b, k);
        b += k;
        n -= k;
    }
    return crc;
}

/* ---- the trainer's hook: mean gradient and scalars over the ranks ---- */

/* Start the allreduce (sum) of g in chunks; *nreq gets the request count. */
static int start_grad(tlm_dist *d, float *g, size_t n, MPI_Request *req, int *nreq, tlm_err *err)
{
    *nreq = 0;
    for (size_t off = 0; off < n; off += CHUNK_FLOATS) {
        size_t k = n - off < CHUNK_FLOATS ? n - off : CHUNK_FLOATS;
        if (*nreq == MAX_CHUNKS)
            return tlm_errf(err, "gradient of %zu floats is too large to reduce", n);
        int rc = MPI_Iallreduce(MPI_IN_PLACE, g + off, (int)k, MPI_FLOAT, MPI_SUM, d->comm,
                                &req[(*nreq)++]);
        if (rc != MPI_SUCCESS)
            return tlm__dist_fail(d, rc, "the gradient allreduce", err);
    }
    return 0;
}

static int reduce(void *ctx, float *g, size_t n, double *sc, int ns, tlm_err *err)
{
    tlm_dist *d = ctx;
    double t0 = tlm_now(), buf[9];
    if (d->broken)
        return tlm_errf(err, "the group of ranks is broken");
    if (ns > 8)
        return tlm_errf(err, "too many scalars to reduce");
    memcpy(buf, sc, (size_t)ns * sizeof *buf);
    buf[ns] = d->stop_local ? 1.0 : 0.0; /* a stop request rides along */
    /* blocking: Open MPI's tuned MPI_Allreduce beats MPI_Iallreduce here (see
     * tests/mpi_bench); the watchdog bounds the wait */
    dog_arm(d, "the gradient allreduce");
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, ns + 1, MPI_DOUBLE, MPI_SUM, d->comm);
    for (size_t off = 0; off < n && rc == MPI_SUCCESS; off += CHUNK_FLOATS) {
        size_t k = n - off < CHUNK_FLOATS ? n - off : CHUNK_FLOATS;
        rc = MPI_Allreduce(MPI_IN_PLACE, g + off, (int)k, MPI_FLOAT, MPI_SUM, d->comm);
    }
    dog_arm(d, NULL);
    if (rc != MPI_SUCCESS)
        return tlm__dist_fail(d, rc, "the gradient allreduce", err);
    float inv = 1.0f / (float)d->size;
    for (size_t i = 0; i < n; i++)
        g[i] *= inv;
    for (int i = 0; i < ns; i++)
        sc[i] = buf[i] / d->size;
    d->stop_any = buf[ns] > 0;
    d->reduce_s += tlm_now() - t0;
    d->reduce_bytes += (double)n * sizeof(float);
    d->reduces++;
    return 0;
}

void tlm_dist_request_stop(tlm_dist *d, int stop)
{
    d->stop_local = stop != 0;
}

int tlm_dist_stop_agreed(const tlm_dist *d)
{
    return d->stop_any;
}

void tlm_dist_reduce_stats(const tlm_dist *d, double *seconds, double *bytes, int64_t *calls)
{
    *seconds = d->reduce_s;
    *bytes = d->reduce_bytes;
    *calls = d->reduces;
}

void tlm__dist_hook(tlm_dist *d, tlm_trainer *tr)
{
    d->par.rank = d->rank;
    d->par.size = d->size;
    d->par.reduce = reduce;
    d->par.ctx = d;
    tr->par = &d->par;
}

int tlm_dist_bench_allreduce(tlm_dist *d, size_t n, int reps, double *t_step,
                             double *t_nonblocking, tlm_err *err)
{
    float *g = tlm_calloc_aligned(n, sizeof(float), err);
    if (!g)
        return -1;
    for (size_t i = 0; i < n; i++)
        g[i] = (float)(i % 97) * 1e-3f;
    double sc[2] = {1, 2};
    int rc = reduce(d, g, n, sc, 2, err); /* warm-up */
    MPI_Barrier(d->comm);
    double t0 = tlm_now();
    for (int i = 0; i < reps && !rc; i++)
        rc = reduce(d, g, n, sc, 2, err);
    *t_step = (tlm_now() - t0) / reps;
    MPI_Barrier(d->comm);
    t0 = tlm_now();
    for (int i = 0; i < reps && !rc; i++) {
        MPI_Request req[MAX_CHUNKS];
        int nreq = 0;
        rc = start_grad(d, g, n, req, &nreq, err);
        for (int k = 0; k < nreq && !rc; k++)
            rc = tlm__dist_wait(d, &req[k], d->timeout, "the gradient allreduce", err);
    }
    *t_nonblocking = (tlm_now() - t0) / reps;
    free(g);
    return rc;
}
