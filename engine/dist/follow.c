/* follow.c - rank 0's session drives the followers: at every step boundary
 * (and every idle_s seconds while paused, as a heartbeat) rank 0 broadcasts a
 * tick: what comes next (a step, nothing, quit), its step, token count and RNG
 * positions, the configuration text when it changed (set, precision, load)
 * and the whole training state after a load. The followers apply it, answer
 * with their status in a small allreduce (so rank 0 learns of a follower that
 * died or hangs too) and take the step with rank 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dist_int.h"

#define CFG_TEXT 32768

typedef struct tick_msg {
    int32_t what, reload;
    int64_t step;
    double tokens;
    tlm_rng data_rng, aux_rng;
    uint64_t cfg_len;   /* configuration text follows when > 0 */
    uint64_t count;     /* parameters (reload) */
} tick_msg;

/* Every rank's status after a tick: the highest failing rank + 1, 0 when all
 * applied it. */
static int status_round(tlm_dist *d, int failed, int *worst, tlm_err *err)
{
    int mine = failed ? d->rank + 1 : 0;
    MPI_Request r;
    int rc = MPI_Iallreduce(&mine, worst, 1, MPI_INT, MPI_MAX, d->comm, &r);
    if (rc != MPI_SUCCESS)
        return tlm__dist_fail(d, rc, "a step boundary", err);
    return tlm__dist_wait(d, &r, d->timeout, "a step boundary", err);
}

/* The training state (weights, AdamW moments) from rank 0. */
static int bcast_state(tlm_dist *d, tlm_trainer *tr, tlm_err *err)
{
    size_t bytes = tr->model->p.count * sizeof(float);
    return tlm__dist_bcast(d, tr->model->p.mem, bytes, d->timeout, "sending the loaded state",
                           err) ||
           tlm__dist_bcast(d, tr->m, bytes, d->timeout, "sending the loaded state", err) ||
           tlm__dist_bcast(d, tr->v, bytes, d->timeout, "sending the loaded state", err);
}

/* At quit: every rank's weights CRC against rank 0's. */
static int compare_weights(tlm_dist *d, const tlm_trainer *tr, tlm_err *err)
{
    uint32_t mine = tlm__dist_crc(0, tr->model->p.mem, tr->model->p.count * sizeof(float));
    uint32_t *all = calloc((size_t)d->size, sizeof *all);
    if (!all)
        return tlm_errf(err, "out of memory");
    MPI_Request r;
    int rc = MPI_Iallgather(&mine, 1, MPI_UINT32_T, all, 1, MPI_UINT32_T, d->comm, &r);
    rc = rc != MPI_SUCCESS ? tlm__dist_fail(d, rc, "the final weights check", err)
                           : tlm__dist_wait(d, &r, d->timeout, "the final weights check", err);
    for (int i = 1; i < d->size && !rc; i++)
        if (all[i] != all[0])
            rc = tlm_errf(err, "rank %d's weights differ from rank 0's at step %lld (crc %08x vs "
                          "%08x)", i, (long long)tr->step, all[i], all[0]);
    free(all);
    return rc;
}

/* ---- rank 0 ---- */

static int tick(void *ctx, tlm_trainer *tr, int what, int reload, tlm_err *err)
{
    tlm_dist *d = ctx;
    char *cfg = malloc(CFG_TEXT);
    if (!cfg)
        return tlm_errf(err, "out of memory");
    size_t len = tlm_config_serialize(&tr->cfg, cfg, CFG_TEXT);
    tick_msg m = {what, reload, tr->step, tr->tokens, tr->data_rng, tr->aux_rng, 0,
                  tr->model->p.count};
    if (len < CFG_TEXT && (!d->cfg_sent || strcmp(d->cfg_sent, cfg)))
        m.cfg_len = len + 1;
    int worst = 0;
    int rc = tlm__dist_bcast(d, &m, sizeof m, d->timeout, "a step boundary", err);
    if (!rc && m.cfg_len)
        rc = tlm__dist_bcast(d, cfg, m.cfg_len, d->timeout, "sending the configuration", err);
    if (!rc && reload)
        rc = bcast_state(d, tr, err);
    if (!rc)
        rc = status_round(d, 0, &worst, err);
    if (!rc && worst) {
        d->broken = 1;
        rc = tlm_errf(err, "rank %d could not apply the change of step %lld (see its message); "
                      "the ranks are no longer in step: stopping", worst - 1, (long long)tr->step);
    }
    if (!rc && m.cfg_len) {
        free(d->cfg_sent);
        d->cfg_sent = cfg;
        cfg = NULL;
    }
    if (!rc && what == TLM_PAR_QUIT)
        rc = compare_weights(d, tr, err);
    free(cfg);
    return rc;
}

static int attach(void *ctx, tlm_trainer *tr, tlm_err *err)
{
    return tlm_dist_start(ctx, tr, NULL, err);
}

const tlm_sess_par *tlm_dist_session_par(tlm_dist *d)
{
    d->spar.attach = attach;
    d->spar.tick = tick;
    d->spar.ctx = d;
    d->spar.idle_s = d->timeout / 8 < 1.0 ? d->timeout / 8 : 1.0;
    return &d->spar;
}

/* ---- followers ---- */

/* Apply rank 0's configuration text (this rank keeps its thread count). */
static int apply_config(tlm_trainer *tr, const char *text, size_t len, tlm_err *err)
{
    tlm_config c = tr->cfg;
    if (tlm_config_deserialize(&c, text, len, err))
        return -1;
    c.threads = tr->cfg.threads;
    return tlm_trainer_reconfigure(tr, &c, err);
}

/* Receive and apply one tick; *what gets its kind. */
static int follow_one(tlm_dist *d, tlm_trainer *tr, char *cfg, int *what, tlm_err *err)
{
    tick_msg m;
    if (tlm__dist_bcast(d, &m, sizeof m, d->timeout, "waiting for rank 0", err))
        return -1;
    int failed = 0;
    tlm_err why;
    if (m.cfg_len) {
        if (m.cfg_len > CFG_TEXT)
            return tlm_errf(err, "rank %d: configuration text of %llu bytes from rank 0", d->rank,
                            (unsigned long long)m.cfg_len);
        if (tlm__dist_bcast(d, cfg, m.cfg_len, d->timeout, "receiving the configuration", err))
            return -1;
        failed = apply_config(tr, cfg, m.cfg_len - 1, &why);
    }
    if (m.reload) {
        if (m.count != tr->model->p.count)
            return tlm_errf(err, "rank %d: rank 0 loaded %llu parameters, this rank has %zu",
                            d->rank, (unsigned long long)m.count, tr->model->p.count);
        if (bcast_state(d, tr, err))
            return -1;
    }
    tr->step = m.step;
    tr->tokens = m.tokens;
    tr->data_rng = m.data_rng;
    tr->aux_rng = m.aux_rng;
    if (failed)
        fprintf(stderr, "tlm: rank %d: %s\n", d->rank, why.msg);
    int worst = 0;
    if (status_round(d, failed, &worst, err))
        return -1;
    if (worst)
        return tlm_errf(err, "rank %d could not apply the change of step %lld: stopping",
                        worst - 1, (long long)m.step);
    *what = m.what;
    return 0;
}

int tlm_dist_follow(tlm_dist *d, tlm_trainer *tr, tlm_err *err)
{
    char *cfg = malloc(CFG_TEXT);
    if (!cfg)
        return tlm_errf(err, "out of memory");
    int rc = 0, what = TLM_PAR_IDLE;
    while (!rc) {
        rc = follow_one(d, tr, cfg, &what, err);
        if (rc || what == TLM_PAR_QUIT)
            break;
        if (what == TLM_PAR_STEP && tlm_trainer_step(tr, NULL, err) && d->broken)
            rc = -1; /* a failed loss fails on rank 0 too: only a broken group ends here */
    }
    if (!rc && what == TLM_PAR_QUIT)
        rc = compare_weights(d, tr, err);
    free(cfg);
    return rc;
}
