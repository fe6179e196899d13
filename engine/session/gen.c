/* gen.c - `gen` during training: the engine thread copies the weights (and
 * the config, with each linear's precision) at a step boundary; the generator
 * thread packs them for inference (engine/infer/generate.h) and streams the
 * tokens as TLM_EV_TOKEN events, so training loses only the copy. */
#include <stdlib.h>
#include <string.h>
#include "../core/timer.h"
#include "../infer/generate.h"
#include "session_int.h"

#define GENS_MAX_PENDING 2

typedef struct gen_job {
    sess_job base;
    tlm_config cfg;
    float *params;
    const tlm_tokenizer *tok; /* the trainer's; the worker is joined before it is freed */
    tlm_sample_opts o;
    char *prompt, *stop;
} gen_job;

typedef struct gen_ctx {
    tlm_session *s;
    uint64_t cmd;
} gen_ctx;

static void free_gen(gen_job *j)
{
    free(j->params);
    free(j->prompt);
    free(j->stop);
    free(j);
}

static int on_token(void *ctx, int id, const char *text)
{
    gen_ctx *g = ctx;
    (void)id;
    tlm__sess_emit(g->s, TLM_EV_TOKEN, g->cmd, 0, text);
    return atomic_load(&g->s->cancel_gen);
}

static void gen_run(tlm_session *s, sess_job *base)
{
    gen_job *j = (gen_job *)base;
    tlm_err err;
    tlm_infer *inf = NULL;
    gen_ctx ctx = {s, base->cmd};
    int n = 0;
    double t0 = tlm_now();
    int rc = tlm_infer_from_params(&inf, &j->cfg, j->params, 0, &err);
    free(j->params);
    j->params = NULL;
    if (!rc) /* one core: the others are training */
        rc = tlm_infer_set_threads(inf, 1, &err);
    if (!rc)
        rc = tlm_infer_generate(inf, j->tok, j->prompt, &j->o, on_token, &ctx, &n, &err);
    if (inf)
        tlm_infer_free(inf);
    if (rc) {
        tlm__sess_done(s, base->cmd, -1, err.msg);
    } else {
        double dt = tlm_now_since(t0);
        tlm__sess_linef(s, base->cmd, "[%d tokens in %.2f s, %.1f tok/s%s]", n, dt,
                        dt > 0 ? n / dt : 0.0, atomic_load(&s->cancel_gen) ? ", cancelled" : "");
        tlm__sess_done(s, base->cmd, 0, NULL);
    }
    free_gen(j);
}

static void gen_drop(tlm_session *s, sess_job *base)
{
    tlm__sess_done(s, base->cmd, -1, "gen cancelled: the session stopped");
    free_gen((gen_job *)base);
}

int tlm__op_gen(tlm_session *s, uint64_t cmd, const char *prompt, const tlm_sample_opts *o,
                tlm_err *err)
{
    if (tlm_sample_opts_check(o, err))
        return tlm_err_prefix(err, "gen: ");
    if (atomic_load(&s->gen.pending) >= GENS_MAX_PENDING)
        return tlm_errf(err, "gen: %d generations are already queued; wait for one to finish",
                        GENS_MAX_PENDING);
    const tlm_trainer *tr = s->tr;
    gen_job *j = tlm_calloc(1, sizeof *j, err);
    if (!j)
        return -1;
    j->base.cmd = cmd;
    j->base.run = gen_run;
    j->base.drop = gen_drop;
    j->cfg = tr->cfg;
    j->tok = tr->tok;
    j->o = *o;
    j->params = tlm_calloc(tr->model->p.count, sizeof(float), err);
    j->prompt = strdup(prompt);
    j->stop = o->stop ? strdup(o->stop) : NULL;
    if (!j->params || !j->prompt || (o->stop && !j->stop)) {
        free_gen(j);
        return tlm_errf(err, "gen: out of memory copying the weights");
    }
    j->o.stop = j->stop;
    memcpy(j->params, tr->model->p.mem, tr->model->p.count * sizeof(float));
    if (tlm__worker_push(&s->gen, &j->base, GENS_MAX_PENDING)) {
        free_gen(j);
        return tlm_errf(err, "gen: the generator is busy or stopped");
    }
    return 1;
}
