/* mpi.c - the program's glue to engine/dist (see mpi.h); built only with
 * --with-mpi. */
#include "mpi.h"
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "engine/dist/dist.h"

static tlm_dist *g_dist;
static char g_error[1024];    /* a follower's failure before the start check */
static int g_start_failed;    /* the start check failed: rank 0 reports it */

int tlm_app_mpi_init(int *argc, char ***argv)
{
    tlm_err err;
    if (!tlm_dist_launched())
        return 0;
    if (tlm_dist_init(&g_dist, argc, argv, &err))
        return tlm_cli_fail(&err);
    return 0;
}

int tlm_app_mpi_end(int status)
{
    if (!g_dist)
        return status;
    if (status && !tlm_dist_started(g_dist)) { /* the others wait in the start check */
        tlm_err err;
        tlm_dist_start(g_dist, NULL, g_error[0] ? g_error : "failed before the start check",
                       &err);
    }
    int rc = tlm_dist_finalize(g_dist, status);
    g_dist = NULL;
    return rc;
}

int tlm_app_mpi_rank(void)
{
    return g_dist ? tlm_dist_rank(g_dist) : 0;
}

int tlm_app_mpi_size(void)
{
    return g_dist ? tlm_dist_size(g_dist) : 1;
}

int tlm_app_mpi_start(tlm_trainer *tr, tlm_err *err)
{
    if (g_dist && tlm_dist_start(g_dist, tr, NULL, err))
        return g_start_failed = -1;
    return 0;
}

const tlm_sess_par *tlm_app_mpi_session_par(void)
{
    return g_dist ? tlm_dist_session_par(g_dist) : NULL;
}

int tlm_app_mpi_follow(const tlm_config *cfg, const tlm_ckpt *ck, tlm_err *err)
{
    tlm_trainer *tr = NULL;
    int rc = -1;
    if (tlm_trainer_create(&tr, cfg, err) || (ck && tlm_trainer_restore(tr, ck, err))) {
        snprintf(g_error, sizeof g_error, "%s", err->msg);
        tlm_dist_start(g_dist, NULL, g_error, err);
        g_start_failed = 1;
        goto done;
    }
    if (tlm_dist_start(g_dist, tr, NULL, err)) {
        g_start_failed = 1;
        goto done;
    }
    rc = tlm_dist_follow(g_dist, tr, err);
    if (!rc)
        fprintf(stderr, "tlm: rank %d: stopped at step %lld with rank 0\n", tlm_dist_rank(g_dist),
                (long long)tr->step);
done:
    tlm_trainer_free(tr);
    return rc;
}

int tlm_app_mpi_stop(int stop_local)
{
    if (!g_dist)
        return stop_local;
    tlm_dist_request_stop(g_dist, stop_local);
    return tlm_dist_stop_agreed(g_dist);
}

int tlm_app_mpi_fail(const tlm_err *err)
{
    if (!g_dist || tlm_dist_rank(g_dist) == 0)
        return tlm_cli_fail(err);
    if (!tlm_dist_started(g_dist)) { /* rank 0 names it in the start check */
        snprintf(g_error, sizeof g_error, "%s", err->msg);
        return 1;
    }
    if (!g_start_failed && !strncmp(err->msg, "rank ", 5)) { /* engine/dist named it */
        fprintf(stderr, "tlm: %s\n", err->msg);
        fflush(stderr);
    } else if (!g_start_failed) {
        fprintf(stderr, "tlm: rank %d: %s\n", tlm_dist_rank(g_dist), err->msg);
        fflush(stderr);
    }
    return 1;
}

void tlm_app_mpi_summary(void)
{
    if (!g_dist || tlm_dist_rank(g_dist) != 0)
        return;
    double s, bytes;
    int64_t n;
    tlm_dist_reduce_stats(g_dist, &s, &bytes, &n);
    if (n)
        printf("%d ranks: gradient allreduce %.3f s in %lld steps (%.1f ms a step, %.2f ns per "
               "parameter byte, waits for slower ranks included)\n", tlm_dist_size(g_dist), s,
               (long long)n, 1e3 * s / (double)n, 1e9 * s / bytes);
}
