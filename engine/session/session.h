/* session.h - the threaded engine: one engine thread owns a trainer (model,
 * optimizer, data) and a command queue. Its loop: apply the pending commands,
 * run one training step when running, publish a snapshot. Commands are lines
 * of the console language (engine/console/console.h), queued from any thread
 * and applied at the next step boundary; answers, errors and generated tokens
 * come back as events that a front end drains, waking it through a file
 * descriptor it can poll(). Snapshots and the history ring are copied out
 * under a short lock, so readers never hold a lock while drawing. */
#ifndef TLM_SESSION_H
#define TLM_SESSION_H
#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"
#include "../io/checkpoint.h"
#include "../model/config.h"

typedef struct tlm_session tlm_session;

typedef enum tlm_sess_state {
    TLM_SESS_RUNNING = 0, /* stepping continuously */
    TLM_SESS_PAUSED = 1,  /* waiting for commands (also while a `step N` runs: see steps_left) */
    TLM_SESS_STOPPED = 2, /* the engine thread has ended (`quit`) */
    TLM_SESS_ERROR = 3    /* the last step failed (loss not finite); commands still work */
} tlm_sess_state;

/* Name of a state: "running", "paused", "stopped", "error". */
const char *tlm_sess_state_name(tlm_sess_state s);

/* Per-layer state published with each snapshot. Rows are, in order: "emb",
 * the linears of each block (L0.attn.q ... L0.mlp.down, L1...), "head". */
typedef struct tlm_layer_snap {
    char name[24];       /* "emb", "L3.attn.q", "L3.mlp.down", "head" */
    int linear;          /* index layer*7+TLM_LIN_* for linears, -1 for emb/head */
    int rows, cols;      /* [out, in] */
    uint8_t prec;        /* tlm_prec; emb and head are always fp32 */
    float gamma;         /* g = mean |W| of the latent weights (the ternary scale) */
    float sparsity;      /* share of zeros in the effective weights at this precision */
    float flip_rate;     /* share of ternary codes round(W/g) in {-1,0,1} that changed since
                          * the previous snapshot (linears; 0 for emb/head) */
    float grad_norm;     /* L2 norm of this tensor's gradient of the last step (before clipping) */
    uint64_t counts[3];  /* ternary codes -1, 0, +1 of the latent weights (linears) */
} tlm_layer_snap;

#define TLM_SNAP_MAX_LAYERS (TLM_MAX_LINEARS + 2)

typedef struct tlm_snapshot {
    uint64_t seq;            /* increases with every publication */
    tlm_sess_state state;
    int64_t step;            /* steps done */
    int steps;               /* schedule length (config 'steps') */
    int64_t steps_left;      /* steps a pending `step N` still has to run (0 = none) */
    double tokens;           /* tokens seen */
    double train_loss;       /* of the last step (NaN before the first) */
    double val_loss;         /* of the last evaluation (NaN when none) */
    int64_t val_step;        /* step of that evaluation */
    float lr;                /* learning rate the next step will use (schedule position) */
    float tok_s;             /* smoothed training throughput */
    float grad_norm;         /* global gradient norm of the last step, before clipping */
    int batch, ctx, n_layers;
    int saves_pending;       /* checkpoints queued or being written */
    int gens_pending;        /* generations queued or running */
    char preset[32];
    char error[256];         /* the last engine error ("" when none) */
    int n_rows;              /* rows in layer[] */
    tlm_layer_snap layer[TLM_SNAP_MAX_LAYERS];
} tlm_snapshot;

/* One row of the history ring (one per training step), for charts. */
typedef struct tlm_hist_row {
    int64_t step;
    double tokens;
    double train_loss, val_loss; /* val_loss NaN unless evaluated at that step */
    float lr, grad_norm, tok_s;
    float flip_rate;             /* mean over the linears */
    float sparsity;              /* mean over the linears */
} tlm_hist_row;

typedef enum tlm_event_kind {
    TLM_EV_LINE = 0,  /* one line of a command's answer */
    TLM_EV_ERROR = 1, /* an error: a command's (cmd > 0) or the engine's (cmd 0) */
    TLM_EV_TOKEN = 2, /* text of one generated token (no newline added) */
    TLM_EV_NOTE = 3,  /* an engine notice not asked for (schedule end, periodic save) */
    TLM_EV_DONE = 4   /* command cmd has finished; status 0 ok, -1 failed */
} tlm_event_kind;

#define TLM_EVENT_TEXT 1024

typedef struct tlm_event {
    tlm_event_kind kind;
    uint64_t cmd;                /* id of the command answered; 0 for the engine's own */
    int status;                  /* TLM_EV_DONE only */
    char text[TLM_EVENT_TEXT];   /* NUL-terminated; long lines are cut */
} tlm_event;

/* Data parallelism (engine/dist under `mpirun`): the session runs on rank 0
 * and drives the other ranks, which follow headless. */
struct tlm_trainer;
enum { TLM_PAR_STEP = 0, TLM_PAR_IDLE = 1, TLM_PAR_QUIT = 2 };
typedef struct tlm_sess_par {
    /* Once the trainer is built (and restored), before the engine thread
     * starts: check that the ranks agree and hook the trainer (tr->par). */
    int (*attach)(void *ctx, struct tlm_trainer *tr, tlm_err *err);
    /* At a step boundary, after the queued commands ran, on the engine
     * thread: what is TLM_PAR_STEP (a training step follows), TLM_PAR_IDLE
     * (nothing to do; called at least every idle_s seconds) or TLM_PAR_QUIT;
     * reload: a load replaced the trainer's state since the last call.
     * -1 (err set): the group of ranks is broken; no more calls follow. */
    int (*tick)(void *ctx, struct tlm_trainer *tr, int what, int reload, tlm_err *err);
    void *ctx;
    double idle_s;
} tlm_sess_par;

typedef struct tlm_session_opts {
    const char *out_dir;  /* folder of `save` without a path, periodic saves (save_every, the
                           * last keep_ckpts kept) and metrics.csv; NULL: none of those */
    size_t history_cap;   /* rows in the history ring (0: 4096) */
    int start_running;    /* 1: start training at once; 0: start paused */
} tlm_session_opts;

/* Build the trainer for cfg (tokenizer, data, model; errors name the file or
 * key), restore the checkpoint `resume` into it when not NULL (its config
 * should be the cfg given, as `tlm train --resume` builds it; resume is only
 * read), open out_dir/metrics.csv, and start the engine thread, paused unless
 * opts->start_running. opts may be NULL. */
int tlm_session_create(tlm_session **out, const tlm_config *cfg, const tlm_ckpt *resume,
                       const tlm_session_opts *opts, tlm_err *err);

/* tlm_session_create on rank 0 of a data-parallel run: par (NULL: one
 * process, as tlm_session_create) checks the ranks and hooks the trainer
 * before the engine starts, and drives the other ranks at step boundaries. */
int tlm_session_create_par(tlm_session **out, const tlm_config *cfg, const tlm_ckpt *resume,
                           const tlm_session_opts *opts, const tlm_sess_par *par, tlm_err *err);

/* Stop the engine (as `quit` does: pending saves are finished, generation is
 * cancelled) if it still runs, join its threads and free everything. */
void tlm_session_free(tlm_session *s);

/* Queue one command line (console language) from any thread; never waits for
 * the engine. Returns the command's id (> 0): every command gets exactly one
 * TLM_EV_DONE event with this id, after its answer lines. A line submitted
 * after the session stopped is answered at once with an error. */
uint64_t tlm_session_submit(tlm_session *s, const char *line);

/* Take the oldest pending event into *ev: 1 when one was taken, 0 when none
 * is pending. */
int tlm_session_poll_event(tlm_session *s, tlm_event *ev);

/* Like tlm_session_poll_event but waits up to timeout_s seconds (< 0: no
 * limit) for an event; 0 on timeout. */
int tlm_session_wait_event(tlm_session *s, tlm_event *ev, double timeout_s);

/* A file descriptor that is readable (POLLIN) while events are pending, for a
 * front end that sleeps in poll(). Owned by the session; only poll it. */
int tlm_session_event_fd(const tlm_session *s);

/* Events dropped because the queue was full (a front end that never drains);
 * TLM_EV_DONE events are never dropped. */
uint64_t tlm_session_events_dropped(tlm_session *s);

/* Copy the latest snapshot into *out. */
void tlm_session_snapshot(tlm_session *s, tlm_snapshot *out);

/* Copy up to max of the most recent history rows into out, oldest first;
 * returns the number copied. */
size_t tlm_session_history(tlm_session *s, tlm_hist_row *out, size_t max);

/* Number of layers of the session's model (for completion of layer names). */
int tlm_session_n_layers(const tlm_session *s);

#endif
