/* session_int.h - the session's internals, shared by engine/session/ (all files) and
 * the console's command handlers (engine/console/commands.c). Not part of the
 * public API: front ends use session.h.
 *
 * Threads: the engine thread owns the trainer (model, optimizer, data) and
 * every field marked "engine"; the saver and the generator are worker threads
 * that get private copies; any thread may submit commands, take events and
 * copy snapshots. */
#ifndef TLM_SESSION_INT_H
#define TLM_SESSION_INT_H
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include "../infer/generate.h"
#include "../io/metrics.h"
#include "../train/trainer.h"
#include "session.h"

/* A queued command line. */
typedef struct sess_cmd {
    struct sess_cmd *next;
    uint64_t id;
    char line[];
} sess_cmd;

/* A queued event. */
typedef struct sess_ev {
    struct sess_ev *next;
    tlm_event ev;
} sess_ev;

/* A job for a worker thread (embedded first in the job's own struct). */
typedef struct sess_job {
    struct sess_job *next;
    uint64_t cmd;                                    /* command answered (0: the engine's own) */
    void (*run)(tlm_session *s, struct sess_job *j); /* does the work, emits events, frees j */
    void (*drop)(tlm_session *s, struct sess_job *j); /* answers "cancelled", frees j unrun */
} sess_job;

/* A FIFO worker thread. */
typedef struct sess_worker {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sess_job *head, *tail;
    int quit;
    atomic_int pending;   /* jobs queued or running */
    tlm_session *s;
} sess_worker;

struct tlm_session {
    /* fixed after create */
    int n_layers, n_linears;
    char out_dir[1024];   /* "" when none */
    pthread_t thread;
    int thread_started;

    /* command queue */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    sess_cmd *qhead, *qtail;
    uint64_t next_id;
    int stopped;          /* no more commands are accepted */

    /* events */
    pthread_mutex_t emu;
    pthread_cond_t ecv;
    sess_ev *ehead, *etail;
    size_t en;
    uint64_t dropped;
    int efd;

    /* published state */
    pthread_mutex_t smu;
    tlm_snapshot snap;
    tlm_hist_row *ring;
    size_t ring_cap, ring_n, ring_head; /* ring_head: next slot to write */

    /* workers */
    sess_worker saver, gen;
    atomic_int cancel_gen; /* generation stops at the next token */

    /* engine thread only */
    tlm_trainer *tr;
    tlm_snapshot work;    /* the snapshot being built */
    tlm_sess_state state; /* RUNNING, PAUSED or ERROR (STOPPED at the end) */
    int quit;
    int64_t steps_left, steps_asked;
    uint64_t step_cmd;
    double ema_tok_s;
    int8_t *codes;        /* ternary codes of every linear weight, for the flip rate */
    size_t code_off[TLM_MAX_LINEARS];
    tlm_metrics_csv csv;
    int have_csv;
    tlm_hist_row row;     /* history row of the step just done */
    /* data parallelism (NULL: one process); engine thread only */
    const tlm_sess_par *par;
    int par_reload;       /* a load replaced the state since the last tick */
    int par_broken;       /* a tick failed: no more ticks, no more steps */
};

/* ---- events (any thread) ---- */

/* Queue an event; text is cut at TLM_EVENT_TEXT - 1 bytes. */
void tlm__sess_emit(tlm_session *s, tlm_event_kind kind, uint64_t cmd, int status,
                    const char *text);

/* Queue a formatted TLM_EV_LINE answer of cmd. */
void tlm__sess_linef(tlm_session *s, uint64_t cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Queue a formatted event of any kind. */
void tlm__sess_eventf(tlm_session *s, tlm_event_kind kind, uint64_t cmd, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Finish command cmd: an error line first when status is -1 and msg is not
 * NULL, then TLM_EV_DONE. */
void tlm__sess_done(tlm_session *s, uint64_t cmd, int status, const char *msg);

/* ---- workers (worker.c) ---- */

int tlm__worker_start(sess_worker *w, tlm_session *s, tlm_err *err);
/* Queue j; -1 (j untouched) when more than max_pending jobs are pending. */
int tlm__worker_push(sess_worker *w, sess_job *j, int max_pending);
/* Run the jobs still queued (finish = 1) or drop them, then join. */
void tlm__worker_stop(sess_worker *w, int finish);

/* ---- engine operations (ops.c), engine thread only. Each returns 0 when
 * the command is done, 1 when its TLM_EV_DONE comes later (a step count, a
 * save or a generation in flight), -1 with err set when it failed. ---- */

int tlm__op_pause(tlm_session *s, uint64_t cmd, tlm_err *err);
int tlm__op_resume(tlm_session *s, uint64_t cmd, tlm_err *err);
int tlm__op_step(tlm_session *s, uint64_t cmd, int64_t n, tlm_err *err);
/* path NULL: out_dir/step-N.tlmc; a folder: folder/step-N.tlmc (the last
 * keep_ckpts of those are kept); else that file. */
int tlm__op_save(tlm_session *s, uint64_t cmd, const char *path, tlm_err *err);
int tlm__op_load(tlm_session *s, uint64_t cmd, const char *path, tlm_err *err);
int tlm__op_eval(tlm_session *s, uint64_t cmd, tlm_err *err);
/* Apply config key=value (precision.PATTERN keys included). */
int tlm__op_set(tlm_session *s, uint64_t cmd, const char *key, const char *value, tlm_err *err);
int tlm__op_precision(tlm_session *s, uint64_t cmd, const char *pattern, const char *prec,
                      tlm_err *err);
/* Sample from a copy of the weights on the generator thread (prompt and
 * o->stop are copied). */
int tlm__op_gen(tlm_session *s, uint64_t cmd, const char *prompt, const tlm_sample_opts *o,
                tlm_err *err);
int tlm__op_quit(tlm_session *s, uint64_t cmd, tlm_err *err);

/* Value of config key in c as its config file would write it; "?" when c has
 * no such key. */
void tlm__config_value(const tlm_config *c, const char *key, char *out, size_t n);

/* Delete the oldest step-*.tlmc files in dir beyond keep; returns the number
 * deleted. */
int tlm__prune_checkpoints(const char *dir, int keep);

/* ---- statistics (stats.c), engine thread only ---- */

/* Allocate the flip-rate codes; fill the layer rows' names and shapes. */
int tlm__stats_init(tlm_session *s, tlm_err *err);
/* Recompute g, ternary counts, precision and sparsity of every row from the
 * latent weights. flips: TLM__FLIPS_UPDATE computes the flip rates against the
 * codes of the previous call and updates the codes; TLM__FLIPS_RESET zeroes
 * the rates and takes the codes afresh (start, load); TLM__FLIPS_KEEP leaves
 * both (weights unchanged, e.g. a precision toggle). */
enum { TLM__FLIPS_RESET = 0, TLM__FLIPS_UPDATE = 1, TLM__FLIPS_KEEP = 2 };
void tlm__stats_weights(tlm_session *s, int flips);
/* Per-tensor gradient norms of the last step, before clipping (the global norm
 * before clipping was gnorm). */
void tlm__stats_grads(tlm_session *s, double gnorm);

/* What `inspect` shows of one tensor. */
#define TLM_HIST_BINS 16
typedef struct tlm_inspect {
    int row;                  /* index into the snapshot's layer rows */
    float wmin, wmax, wmean, wstd;
    float lo, hi;             /* histogram range */
    uint64_t bins[TLM_HIST_BINS];
    int have_act;             /* activation stats of the last forward */
    size_t act_rows, act_cols;
    float amean, astd, aabsmax;
    float clipped;            /* share at the int8 grid's ends (|q| >= 127) */
    float zeroed;             /* share rounded to 0 by the int8 quantizer */
} tlm_inspect;

/* Find the row of a layer name ("emb", "head", "L3.attn.q"); -1 when none. */
int tlm__stats_find(const tlm_session *s, const char *name);
/* Fill *out for row (weights histogram; input activations of the last forward). */
void tlm__stats_inspect(tlm_session *s, int row, tlm_inspect *out);

/* ---- the engine (session.c) ---- */

/* Refresh s->work and copy it to the shared snapshot. */
void tlm__sess_publish(tlm_session *s);
/* Refresh s->work's scalar fields from the trainer and the engine state. */
void tlm__sess_refresh(tlm_session *s);
/* Rebuild the history ring from the trainer's metrics history (after a load). */
void tlm__sess_ring_reset(tlm_session *s);
/* Reset s->work's losses, gradient norms and flip codes and the history ring
 * to the trainer's state (at start and after a load). */
void tlm__sess_reset_work(tlm_session *s);

/* Console dispatch (engine/console/console.c): run one command line on the
 * engine thread, emitting its answer lines. Returns 0 (done), 1 (its DONE
 * comes later) or -1 (failed, err set); the caller publishes the snapshot and
 * then sends the DONE, so a front end that sees DONE sees the new state. */
int tlm_console_exec(tlm_session *s, uint64_t cmd, const char *line, tlm_err *err);

#endif
