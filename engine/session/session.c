/* session.c - the engine thread, its command queue, the event queue and the
 * published snapshot (see session.h). */
#include "session_int.h"
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "../core/timer.h"
#include "../io/datapath.h"
#include "../train/adamw.h"

#define LINE_MAX_BYTES 8192
#define EVENTS_MAX 65536

const char *tlm_sess_state_name(tlm_sess_state st)
{
    switch (st) {
    case TLM_SESS_RUNNING:
        return "running";
    case TLM_SESS_PAUSED:
        return "paused";
    case TLM_SESS_STOPPED:
        return "stopped";
    case TLM_SESS_ERROR:
        return "error";
    }
    return "?";
}

/* ---- events ---- */

void tlm__sess_emit(tlm_session *s, tlm_event_kind kind, uint64_t cmd, int status,
                    const char *text)
{
    sess_ev *e = malloc(sizeof *e);
    pthread_mutex_lock(&s->emu);
    if (!e || (s->en >= EVENTS_MAX && kind != TLM_EV_DONE)) {
        s->dropped++;
        pthread_mutex_unlock(&s->emu);
        free(e);
        return;
    }
    e->next = NULL;
    e->ev.kind = kind;
    e->ev.cmd = cmd;
    e->ev.status = status;
    snprintf(e->ev.text, sizeof e->ev.text, "%s", text ? text : "");
    if (s->etail)
        s->etail->next = e;
    else
        s->ehead = e;
    s->etail = e;
    if (s->en++ == 0) {
        uint64_t one = 1;
        ssize_t w = write(s->efd, &one, sizeof one);
        (void)w; /* a full counter is still readable */
    }
    pthread_cond_broadcast(&s->ecv);
    pthread_mutex_unlock(&s->emu);
}

static void emit_v(tlm_session *s, tlm_event_kind kind, uint64_t cmd, const char *fmt, va_list ap)
{
    char buf[TLM_EVENT_TEXT];
    vsnprintf(buf, sizeof buf, fmt, ap);
    tlm__sess_emit(s, kind, cmd, 0, buf);
}

void tlm__sess_linef(tlm_session *s, uint64_t cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_v(s, TLM_EV_LINE, cmd, fmt, ap);
    va_end(ap);
}

void tlm__sess_eventf(tlm_session *s, tlm_event_kind kind, uint64_t cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_v(s, kind, cmd, fmt, ap);
    va_end(ap);
}

void tlm__sess_done(tlm_session *s, uint64_t cmd, int status, const char *msg)
{
    if (status && msg)
        tlm__sess_emit(s, TLM_EV_ERROR, cmd, 0, msg);
    tlm__sess_emit(s, TLM_EV_DONE, cmd, status ? -1 : 0, NULL);
}

/* Take the head event; emu held. */
static int take_event(tlm_session *s, tlm_event *ev)
{
    sess_ev *e = s->ehead;
    if (!e)
        return 0;
    s->ehead = e->next;
    if (!s->ehead)
        s->etail = NULL;
    if (--s->en == 0) {
        uint64_t v;
        ssize_t r = read(s->efd, &v, sizeof v);
        (void)r; /* EAGAIN: already drained */
    }
    *ev = e->ev;
    free(e);
    return 1;
}

int tlm_session_poll_event(tlm_session *s, tlm_event *ev)
{
    pthread_mutex_lock(&s->emu);
    int got = take_event(s, ev);
    pthread_mutex_unlock(&s->emu);
    return got;
}

int tlm_session_wait_event(tlm_session *s, tlm_event *ev, double timeout_s)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (timeout_s >= 0) {
        double t = (double)until.tv_sec + (double)until.tv_nsec * 1e-9 + timeout_s;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
    }
    pthread_mutex_lock(&s->emu);
    int got;
    while (!(got = take_event(s, ev))) {
        int rc = timeout_s < 0 ? pthread_cond_wait(&s->ecv, &s->emu)
                               : pthread_cond_timedwait(&s->ecv, &s->emu, &until);
        if (rc == ETIMEDOUT) {
            got = take_event(s, ev);
            break;
        }
    }
    pthread_mutex_unlock(&s->emu);
    return got;
}

int tlm_session_event_fd(const tlm_session *s)
{
    return s->efd;
}

uint64_t tlm_session_events_dropped(tlm_session *s)
{
    pthread_mutex_lock(&s->emu);
    uint64_t n = s->dropped;
    pthread_mutex_unlock(&s->emu);
    return n;
}

/* ---- commands ---- */

uint64_t tlm_session_submit(tlm_session *s, const char *line)
{
    size_t len = strnlen(line, LINE_MAX_BYTES + 1);
    sess_cmd *c = len > LINE_MAX_BYTES ? NULL : malloc(sizeof *c + len + 1);
    if (c) {
        c->next = NULL;
        memcpy(c->line, line, len);
        c->line[len] = 0;
    }
    pthread_mutex_lock(&s->qmu);
    uint64_t id = ++s->next_id;
    int stopped = s->stopped, queued = c && !stopped;
    if (queued) {
        c->id = id;
        if (s->qtail)
            s->qtail->next = c;
        else
            s->qhead = c;
        s->qtail = c;
        pthread_cond_signal(&s->qcv);
    }
    pthread_mutex_unlock(&s->qmu);
    if (queued)
        return id;
    free(c);
    tlm__sess_done(s, id, -1, len > LINE_MAX_BYTES ? "command line longer than 8192 bytes"
                              : stopped ? "the session has stopped ('quit'); no more commands"
                                        : "out of memory queueing the command");
    return id;
}

/* All queued commands, oldest first; waits for one when wait is set (with
 * data parallelism at most par->idle_s, for the followers' heartbeat). */
static sess_cmd *take_commands(tlm_session *s, int wait)
{
    pthread_mutex_lock(&s->qmu);
    if (wait && !s->qhead && s->par && !s->par_broken) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        double t = (double)until.tv_nsec * 1e-9 + s->par->idle_s;
        until.tv_sec += (time_t)t;
        until.tv_nsec = (long)((t - (double)(time_t)t) * 1e9);
        pthread_cond_timedwait(&s->qcv, &s->qmu, &until);
        wait = 0;
    }
    while (wait && !s->qhead)
        pthread_cond_wait(&s->qcv, &s->qmu);
    sess_cmd *l = s->qhead;
    s->qhead = s->qtail = NULL;
    pthread_mutex_unlock(&s->qmu);
    return l;
}

/* ---- snapshot and history ---- */

void tlm__sess_refresh(tlm_session *s)
{
    tlm_snapshot *w = &s->work;
    const tlm_trainer *tr = s->tr;
    const tlm_config *c = &tr->cfg;
    w->state = s->steps_left > 0 ? TLM_SESS_RUNNING : s->state;
    w->step = tr->step;
    w->steps = c->steps;
    w->steps_left = s->steps_left;
    w->tokens = tr->tokens;
    w->lr = tlm_onecycle_lr(c->lr, c->warmup, tr->step, c->steps);
    w->tok_s = (float)s->ema_tok_s;
    w->batch = c->batch;
    w->ctx = c->ctx;
    w->n_layers = c->n_layers;
    w->saves_pending = atomic_load(&s->saver.pending);
    w->gens_pending = atomic_load(&s->gen.pending);
    snprintf(w->preset, sizeof w->preset, "%s", c->preset);
    for (int i = 0; i < w->n_rows; i++)
        if (w->layer[i].linear >= 0)
            w->layer[i].prec = c->prec[w->layer[i].linear];
}

static void ring_push(tlm_session *s, const tlm_hist_row *r)
{
    s->ring[s->ring_head] = *r;
    s->ring_head = (s->ring_head + 1) % s->ring_cap;
    if (s->ring_n < s->ring_cap)
        s->ring_n++;
}

/* The history row of the step just done, from s->work. */
static tlm_hist_row work_row(const tlm_session *s, const tlm_step_stats *st, double val)
{
    const tlm_snapshot *w = &s->work;
    double flip = 0, sp = 0;
    int n = 0;
    for (int i = 0; i < w->n_rows; i++)
        if (w->layer[i].linear >= 0) {
            flip += w->layer[i].flip_rate;
            sp += w->layer[i].sparsity;
            n++;
        }
    tlm_hist_row r = {st->step, st->tokens, st->loss, val, st->lr, (float)st->grad_norm,
                      (float)s->ema_tok_s,
                      (float)(n ? flip / n : 0), (float)(n ? sp / n : 0)};
    return r;
}

void tlm__sess_publish(tlm_session *s)
{
    tlm__sess_refresh(s);
    s->work.seq++;
    pthread_mutex_lock(&s->smu);
    s->snap = s->work;
    pthread_mutex_unlock(&s->smu);
}

/* Publish after a step, with its history row. */
static void publish_step(tlm_session *s, const tlm_hist_row *row)
{
    tlm__sess_refresh(s);
    s->work.seq++;
    pthread_mutex_lock(&s->smu);
    s->snap = s->work;
    ring_push(s, row);
    pthread_mutex_unlock(&s->smu);
}

void tlm__sess_ring_reset(tlm_session *s)
{
    const tlm_trainer *tr = s->tr;
    pthread_mutex_lock(&s->smu);
    s->ring_n = s->ring_head = 0;
    size_t first = tr->history_n > s->ring_cap ? tr->history_n - s->ring_cap : 0;
    for (size_t i = first; i < tr->history_n; i++) {
        const tlm_metric_row *m = &tr->history[i];
        tlm_hist_row r = {m->step, m->tokens, m->train_loss, m->val_loss, m->lr,
                          m->grad_norm, m->tok_s, 0, 0};
        ring_push(s, &r);
    }
    pthread_mutex_unlock(&s->smu);
}

void tlm_session_snapshot(tlm_session *s, tlm_snapshot *out)
{
    pthread_mutex_lock(&s->smu);
    *out = s->snap;
    pthread_mutex_unlock(&s->smu);
}

size_t tlm_session_history(tlm_session *s, tlm_hist_row *out, size_t max)
{
    pthread_mutex_lock(&s->smu);
    size_t n = s->ring_n < max ? s->ring_n : max;
    size_t start = (s->ring_head + s->ring_cap - n) % s->ring_cap;
    for (size_t i = 0; i < n; i++)
        out[i] = s->ring[(start + i) % s->ring_cap];
    pthread_mutex_unlock(&s->smu);
    return n;
}

int tlm_session_n_layers(const tlm_session *s)
{
    return s->n_layers;
}

/* ---- one training step and what follows it ---- */

/* The pending `step N` (if any) is over: answer it. */
static void finish_step_cmd(tlm_session *s, int status, const char *why)
{
    if (!s->step_cmd)
        return;
    int64_t done = s->steps_asked - s->steps_left;
    if (status) {
        tlm__sess_done(s, s->step_cmd, -1, why);
    } else {
        if (why)
            tlm__sess_linef(s, s->step_cmd, "%s after %lld of %lld steps: step %lld, loss %.4f",
                            why, (long long)done, (long long)s->steps_asked, (long long)s->tr->step,
                            s->work.train_loss);
        else
            tlm__sess_linef(s, s->step_cmd, "stepped %lld: step %lld, loss %.4f", (long long)done,
                            (long long)s->tr->step, s->work.train_loss);
        tlm__sess_done(s, s->step_cmd, 0, NULL);
    }
    s->step_cmd = 0;
    s->steps_left = 0;
}

static void schedule_end(tlm_session *s)
{
    const tlm_trainer *tr = s->tr;
    int was_running = s->state == TLM_SESS_RUNNING;
    int64_t left = s->steps_left;
    s->state = TLM_SESS_PAUSED;
    s->steps_left = 0;
    tlm__sess_publish(s);
    s->steps_left = left;
    if (left > 0)
        finish_step_cmd(s, 0, "the schedule ended");
    if (was_running)
        tlm__sess_eventf(s, TLM_EV_NOTE, 0, "reached the end of the schedule at step %lld "
                         "(steps = %d); paused ('set steps N' extends it)", (long long)tr->step,
                         tr->cfg.steps);
}

static void step_failed(tlm_session *s, const tlm_err *err)
{
    snprintf(s->work.error, sizeof s->work.error, "%.255s", err->msg);
    int64_t left = s->steps_left;
    s->state = TLM_SESS_ERROR;
    s->steps_left = 0;
    tlm__sess_publish(s);
    s->steps_left = left;
    if (s->step_cmd)
        finish_step_cmd(s, -1, err->msg);
    else
        tlm__sess_emit(s, TLM_EV_ERROR, 0, 0, err->msg);
    s->steps_left = 0;
}

/* Metrics row, in the trainer's history and the CSV. */
static void log_metrics(tlm_session *s, const tlm_step_stats *st, double val)
{
    tlm_trainer *tr = s->tr;
    tlm_err err;
    tlm_metric_row row = {st->step, st->tokens, st->lr, (float)st->loss, (float)val,
                          (float)st->grad_norm, (float)s->ema_tok_s};
    if (tlm_trainer_record(tr, &row, &err))
        tlm__sess_emit(s, TLM_EV_ERROR, 0, 0, err.msg);
    if (!s->have_csv)
        return;
    float sp[TLM_MAX_LINEARS];
    uint8_t prec[TLM_MAX_LINEARS];
    for (int i = 0; i < s->work.n_rows; i++) {
        const tlm_layer_snap *l = &s->work.layer[i];
        if (l->linear >= 0) {
            sp[l->linear] = l->sparsity;
            prec[l->linear] = tr->cfg.prec[l->linear];
        }
    }
    if (tlm_metrics_write_ex(&s->csv, &row, sp, prec, &err)) {
        tlm__sess_eventf(s, TLM_EV_ERROR, 0, "%s; metrics are no longer written", err.msg);
        tlm_metrics_close(&s->csv, NULL);
        s->have_csv = 0;
    }
}

static void periodic_eval(tlm_session *s, double *val)
{
    tlm_err err;
    if (tlm_trainer_eval(s->tr, val, NULL, &err)) {
        tlm__sess_eventf(s, TLM_EV_ERROR, 0, "evaluation: %s", err.msg);
        *val = NAN;
        return;
    }
    s->work.val_loss = *val;
    s->work.val_step = s->tr->step;
}

static void after_step(tlm_session *s, const tlm_step_stats *st)
{
    tlm_trainer *tr = s->tr;
    const tlm_config *c = &tr->cfg;
    double tok_s = (double)c->batch * c->ctx * (tr->par ? tr->par->size : 1) /
                   (st->seconds > 0 ? st->seconds : 1e-9); /* all ranks together */
    s->ema_tok_s = s->ema_tok_s > 0 ? 0.9 * s->ema_tok_s + 0.1 * tok_s : tok_s;
    s->work.train_loss = st->loss;
    s->work.grad_norm = (float)st->grad_norm;
    s->work.error[0] = 0;
    tlm__stats_grads(s, st->grad_norm);
    tlm__stats_weights(s, TLM__FLIPS_UPDATE);
    int last = tr->step == c->steps;
    double val = NAN;
    if (c->eval_every && (tr->step % c->eval_every == 0 || last))
        periodic_eval(s, &val);
    if (tr->step % c->log_every == 0 || last || !isnan(val))
        log_metrics(s, st, val);
    if (s->out_dir[0] && c->save_every && tr->step % c->save_every == 0) {
        tlm_err err;
        if (tlm__op_save(s, 0, NULL, &err) < 0)
            tlm__sess_eventf(s, TLM_EV_ERROR, 0, "periodic save: %s", err.msg);
    }
    s->row = work_row(s, st, val);
}

/* Data parallelism: tell the followers what comes next (see tlm_sess_par).
 * A failure breaks the group for good: training stops, commands still work. */
static int par_tick(tlm_session *s, int what, tlm_err *err)
{
    if (!s->par)
        return 0;
    if (s->par_broken)
        return tlm_errf(err, "data parallelism: the group of ranks is broken (see the earlier "
                        "error); save and quit");
    int reload = s->par_reload;
    s->par_reload = 0;
    if (s->par->tick(s->par->ctx, s->tr, what, reload, err) == 0)
        return 0;
    s->par_broken = 1;
    return -1;
}

/* One step; the snapshot is published before a finished `step N` is
 * answered, so its DONE comes with the new state visible. */
static void engine_step(tlm_session *s)
{
    tlm_trainer *tr = s->tr;
    tlm_step_stats st;
    tlm_err err;
    if (tr->step >= tr->cfg.steps) {
        schedule_end(s);
        return;
    }
    if (par_tick(s, TLM_PAR_STEP, &err)) {
        step_failed(s, &err);
        return;
    }
    if (tlm_trainer_step(tr, &st, &err)) {
        step_failed(s, &err);
        return;
    }
    after_step(s, &st);
    int finished = s->steps_left > 0 && --s->steps_left == 0;
    publish_step(s, &s->row);
    if (finished)
        finish_step_cmd(s, 0, NULL);
}

/* ---- the engine thread ---- */

static void answer_stopped(tlm_session *s, sess_cmd *l)
{
    while (l) {
        sess_cmd *next = l->next;
        tlm__sess_done(s, l->id, -1, "the session is stopping ('quit'); command not run");
        free(l);
        l = next;
    }
}

static void shutdown_engine(tlm_session *s)
{
    pthread_mutex_lock(&s->qmu);
    s->stopped = 1;
    sess_cmd *rest = s->qhead;
    s->qhead = s->qtail = NULL;
    pthread_mutex_unlock(&s->qmu);
    answer_stopped(s, rest);
    finish_step_cmd(s, 0, "stopped");
    atomic_store(&s->cancel_gen, 1);
    tlm__worker_stop(&s->gen, 0);
    tlm__worker_stop(&s->saver, 1);
    if (s->have_csv)
        tlm_metrics_close(&s->csv, NULL);
    s->have_csv = 0;
    s->state = TLM_SESS_STOPPED;
    tlm__sess_publish(s);
}

static void *engine_main(void *arg)
{
    tlm_session *s = arg;
    tlm_denormals_off();
    uint64_t quit_cmd = 0;
    while (!s->quit) {
        int busy = s->state == TLM_SESS_RUNNING || s->steps_left > 0;
        sess_cmd *l = take_commands(s, !busy);
        while (l && !s->quit) {
            sess_cmd *next = l->next;
            tlm_err err;
            int rc = tlm_console_exec(s, l->id, l->line, &err);
            if (s->quit)
                quit_cmd = l->id;
            else
                tlm__sess_publish(s);
            if (rc != 1)
                tlm__sess_done(s, l->id, rc, err.msg);
            free(l);
            l = next;
        }
        answer_stopped(s, l);
        if (s->quit)
            break;
        if (s->state == TLM_SESS_RUNNING || s->steps_left > 0) {
            engine_step(s);
        } else if (s->par && !s->par_broken) { /* followers' heartbeat */
            tlm_err err;
            if (par_tick(s, TLM_PAR_IDLE, &err)) {
                snprintf(s->work.error, sizeof s->work.error, "%.255s", err.msg);
                s->state = TLM_SESS_ERROR;
                tlm__sess_publish(s);
                tlm__sess_emit(s, TLM_EV_ERROR, 0, 0, err.msg);
            }
        }
    }
    if (s->par && !s->par_broken) { /* the followers stop with rank 0 */
        tlm_err err;
        if (par_tick(s, TLM_PAR_QUIT, &err))
            tlm__sess_emit(s, TLM_EV_ERROR, 0, 0, err.msg);
    }
    int64_t step = s->tr->step;
    shutdown_engine(s);
    if (quit_cmd) {
        tlm__sess_linef(s, quit_cmd, "stopped at step %lld", (long long)step);
        tlm__sess_done(s, quit_cmd, 0, NULL);
    }
    return NULL;
}

/* ---- create and free ---- */

static void release(tlm_session *s)
{
    if (s->have_csv)
        tlm_metrics_close(&s->csv, NULL);
    tlm_trainer_free(s->tr);
    for (sess_cmd *c = s->qhead; c;) {
        sess_cmd *n = c->next;
        free(c);
        c = n;
    }
    for (sess_ev *e = s->ehead; e;) {
        sess_ev *n = e->next;
        free(e);
        e = n;
    }
    if (s->efd >= 0)
        close(s->efd);
    free(s->codes);
    free(s->ring);
    pthread_mutex_destroy(&s->qmu);
    pthread_mutex_destroy(&s->emu);
    pthread_mutex_destroy(&s->smu);
    pthread_cond_destroy(&s->qcv);
    pthread_cond_destroy(&s->ecv);
    free(s);
}

static int init_sync(tlm_session *s, tlm_err *err)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->qmu, NULL);
    pthread_mutex_init(&s->emu, NULL);
    pthread_mutex_init(&s->smu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    pthread_cond_init(&s->ecv, &ca);
    pthread_condattr_destroy(&ca);
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0)
        return tlm_errf(err, "session: eventfd: %s", strerror(errno));
    return 0;
}

/* Output folder and its metrics CSV. */
static int open_outputs(tlm_session *s, const char *dir, tlm_err *err)
{
    if (!dir || !*dir)
        return 0;
    if (strlen(dir) >= sizeof s->out_dir - 32)
        return tlm_errf(err, "output folder name too long: %.60s...", dir);
    if (tlm_mkdirs(dir, err))
        return -1;
    snprintf(s->out_dir, sizeof s->out_dir, "%s", dir);
    char csv[1100];
    snprintf(csv, sizeof csv, "%s/metrics.csv", dir);
    if (tlm_metrics_open_ex(&s->csv, csv, &s->tr->cfg, TLM_METRICS_PRECISION, err))
        return -1;
    s->have_csv = 1;
    return 0;
}

void tlm__sess_reset_work(tlm_session *s)
{
    tlm_snapshot *w = &s->work;
    const tlm_trainer *tr = s->tr;
    w->train_loss = NAN;
    w->val_loss = NAN;
    w->val_step = -1;
    w->grad_norm = 0;
    w->error[0] = 0;
    for (int i = 0; i < w->n_rows; i++)
        w->layer[i].grad_norm = 0;
    for (size_t i = tr->history_n; i-- > 0;) /* the last evaluation of a resumed run */
        if (!isnan(tr->history[i].val_loss)) {
            w->val_loss = tr->history[i].val_loss;
            w->val_step = tr->history[i].step;
            break;
        }
    if (tr->history_n)
        w->train_loss = tr->history[tr->history_n - 1].train_loss;
    s->ema_tok_s = 0;
    tlm__stats_weights(s, TLM__FLIPS_RESET);
    tlm__sess_ring_reset(s);
}

static int build(tlm_session *s, const tlm_config *cfg, const tlm_ckpt *resume,
                 const tlm_session_opts *o, const tlm_sess_par *par, tlm_err *err)
{
    s->ring_cap = o && o->history_cap ? o->history_cap : 4096;
    s->ring = tlm_calloc(s->ring_cap, sizeof *s->ring, err);
    if (!s->ring || tlm_trainer_create(&s->tr, cfg, err))
        return -1;
    if (resume && tlm_trainer_restore(s->tr, resume, err))
        return -1;
    if (par && par->attach(par->ctx, s->tr, err))
        return -1; /* the ranks disagree (err names what) */
    s->par = par;
    s->n_layers = s->tr->cfg.n_layers;
    s->n_linears = s->n_layers * TLM_LIN_PER_BLOCK;
    if (open_outputs(s, o ? o->out_dir : NULL, err) || tlm__stats_init(s, err))
        return -1;
    tlm__sess_reset_work(s);
    s->state = o && o->start_running ? TLM_SESS_RUNNING : TLM_SESS_PAUSED;
    tlm__sess_publish(s);
    if (tlm__worker_start(&s->saver, s, err) || tlm__worker_start(&s->gen, s, err))
        return -1;
    if (pthread_create(&s->thread, NULL, engine_main, s))
        return tlm_errf(err, "session: cannot start the engine thread");
    s->thread_started = 1;
    return 0;
}

int tlm_session_create(tlm_session **out, const tlm_config *cfg, const tlm_ckpt *resume,
                       const tlm_session_opts *opts, tlm_err *err)
{
    return tlm_session_create_par(out, cfg, resume, opts, NULL, err);
}

/* Saves, loads and generations copy the whole state (82 MB for tiny) on one
 * thread and free it on another. With glibc's sliding mmap threshold such
 * blocks soon come from thread arenas that do not shrink, and RSS crept up by
 * 50-80 MB steps in a long run (scripts/soak.sh). A fixed threshold keeps
 * every block of 1 MB or more in its own mapping, returned on free; nothing
 * that large is allocated per training step. */
static void big_blocks_mapped(void)
{
#ifdef M_MMAP_THRESHOLD
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

int tlm_session_create_par(tlm_session **out, const tlm_config *cfg, const tlm_ckpt *resume,
                           const tlm_session_opts *opts, const tlm_sess_par *par, tlm_err *err)
{
    big_blocks_mapped();
    tlm_session *s = tlm_calloc(1, sizeof *s, err);
    if (!s)
        return -1;
    s->efd = -1;
    if (init_sync(s, err) || build(s, cfg, resume, opts, par, err)) {
        tlm__worker_stop(&s->gen, 0);
        tlm__worker_stop(&s->saver, 0);
        release(s);
        return -1;
    }
    *out = s;
    return 0;
}

void tlm_session_free(tlm_session *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        tlm_session_submit(s, "quit");
        pthread_join(s->thread, NULL);
    }
    release(s);
}
