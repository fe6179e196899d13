/* trainer.h - one training step (batch, forward, backward, clip, AdamW),
 * evaluation, and the state a checkpoint needs to resume bit-for-bit. */
#ifndef TLM_TRAINER_H
#define TLM_TRAINER_H
#include <stdint.h>
#include "../core/err.h"
#include "../core/pool.h"
#include "../core/rng.h"
#include "../io/checkpoint.h"
#include "../io/dataset.h"
#include "../io/tokenizer.h"
#include "../model/model.h"

typedef struct tlm_step_stats {
    int64_t step;      /* steps done after this one */
    double loss, nll;  /* training objective and true NLL of the batch */
    double grad_norm;  /* before clipping */
    float lr;
    double seconds;    /* wall time of the step */
    double tokens;     /* total tokens seen */
} tlm_step_stats;

/* Data parallelism (engine/dist; NULL in a single process). Every rank draws
 * the same global batch of size*batch windows from the shared data_rng stream
 * and trains on windows [rank*batch, (rank+1)*batch). After backward and
 * before the gradient norm, clipping and AdamW, reduce() replaces grad (n
 * floats) and scalars (loss, nll) by their mean over the ranks, so every rank
 * applies the same update; -1 with err set stops the step. */
typedef struct tlm_trainer_par {
    int rank, size;
    int (*reduce)(void *ctx, float *grad, size_t n, double *scalars, int n_scalars,
                  tlm_err *err);
    void *ctx;
} tlm_trainer_par;

typedef struct tlm_trainer {
    tlm_config cfg;
    tlm_pool *pool;
    tlm_model *model;
    float *m, *v;          /* AdamW moments, parameter layout */
    int64_t step;
    double tokens;
    tlm_rng data_rng, aux_rng;
    tlm_tokenizer *tok;
    tlm_dataset *train, *val; /* val may be NULL */
    int32_t *x, *y;         /* batch buffers */
    tlm_metric_row *history;
    size_t history_n, history_cap;
    const tlm_trainer_par *par; /* data parallelism hook; NULL: one process */
} tlm_trainer;

/* Build a trainer for cfg: tokenizer, datasets (train required, val optional
 * when val_data is empty), pool, model initialised from cfg->seed. Errors name
 * the file or key. data_override (may be NULL) replaces cfg->train_data. */
int tlm_trainer_create(tlm_trainer **out, const tlm_config *cfg, tlm_err *err);

/* Replace the trainer's whole state by a checkpoint (config must match in
 * architecture; the checkpoint's config wins). */
int tlm_trainer_restore(tlm_trainer *tr, const tlm_ckpt *ck, tlm_err *err);

/* Borrowing view of the trainer's state for tlm_ckpt_save. */
void tlm_trainer_snapshot(const tlm_trainer *tr, tlm_ckpt *ck);

/* One optimisation step. Returns -1 (err set) when the loss is not finite. */
int tlm_trainer_step(tlm_trainer *tr, tlm_step_stats *st, tlm_err *err);

/* Mean validation NLL over eval_batches batches of consecutive windows
 * (deterministic). *smoothed gets the label-smoothed objective (may be NULL). */
int tlm_trainer_eval(tlm_trainer *tr, double *nll, double *smoothed, tlm_err *err);

/* Mean NLL (and smoothed objective) of model m over consecutive windows of
 * cap_T tokens of ds, cap_B at a time; max_windows 0 = all. x, y hold
 * cap_B * cap_T ids. *windows gets the count evaluated (may be NULL). */
int tlm_model_eval(tlm_model *m, const tlm_dataset *ds, size_t max_windows, int32_t *x,
                   int32_t *y, double *nll, double *smoothed, size_t *windows, tlm_err *err);

/* Append a metrics row to the in-memory history. */
int tlm_trainer_record(tlm_trainer *tr, const tlm_metric_row *row, tlm_err *err);

void tlm_trainer_free(tlm_trainer *tr);

/* Unigram entropy (nats) of the dataset's tokens: the loss of the best
 * context-free model, a bar a trained model must beat. */
double tlm_unigram_entropy(const tlm_dataset *ds, int vocab);

/* ---- run-time changes between steps (used by the session) ---- */

/* Make room for batches of up to `batch` sequences: when batch exceeds the
 * model's activation room, the model (weights copied) and the batch buffers
 * are rebuilt; the gradients of the last step are dropped. Atomic: on error
 * (err names the size) the trainer is unchanged. cfg.batch is not changed. */
int tlm_trainer_reserve(tlm_trainer *tr, int batch, tlm_err *err);

/* Apply a changed configuration between steps: training keys (lr, betas,
 * clip, schedule length and warm-up, batch, eval/log/save cadence, seed value,
 * per-linear precision ...) take effect at the next step. Keys the run is built
 * on (dim, layers, heads, hidden, vocab, ctx, max_ctx, tokenizer, data,
 * threads) must stay: changing one is an error naming the key. The RNG streams
 * are not reseeded (see tlm_trainer_reseed). Atomic: on error nothing changed. */
int tlm_trainer_reconfigure(tlm_trainer *tr, const tlm_config *cfg, tlm_err *err);

/* Reseed the batch sampler and the auxiliary stream exactly as
 * tlm_trainer_create does for `seed`, and record seed in the config; the
 * weights are kept. */
void tlm_trainer_reseed(tlm_trainer *tr, int seed);

#endif
