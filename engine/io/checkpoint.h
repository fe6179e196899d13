/* checkpoint.h - the whole training state in one versioned file.
 * Layout: header (magic "TLMCKPT1", u32 version, u32 header bytes, ..., header
 * crc32), sections table, payload, payload crc32; exact file size checked.
 * Written temp -> fsync -> rename -> fsync(dir). */
#ifndef TLM_CHECKPOINT_H
#define TLM_CHECKPOINT_H
#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"
#include "../core/rng.h"
#include "../model/config.h"

/* One row of the metrics history kept in checkpoints. */
typedef struct tlm_metric_row {
    int64_t step;
    double tokens;
    float lr, train_loss, val_loss, grad_norm, tok_s; /* val_loss NaN when not evaluated */
} tlm_metric_row;

typedef struct tlm_ckpt {
    tlm_config cfg;
    size_t count;          /* floats in each of params, m, v */
    float *params, *m, *v; /* owned after load (free()); borrowed for save */
    int64_t step;
    double tokens;
    tlm_rng data_rng;      /* batch sampler state */
    tlm_rng aux_rng;       /* any other stream (dropout, sampling) */
    uint64_t tokenizer_hash;
    tlm_metric_row *history; /* owned after load */
    size_t history_n;
} tlm_ckpt;

/* Write c to path atomically (temp file, fsync, rename, fsync of the folder).
 * On error the previous file at path is untouched. */
int tlm_ckpt_save(const char *path, const tlm_ckpt *c, tlm_err *err);

/* Read path into c (allocating params, m, v, history). Rejects bad magic, a
 * future version, bad checksums, wrong or truncated sizes, configs that do not
 * validate, with a message naming the file and the problem; c is untouched on
 * error. */
int tlm_ckpt_load(const char *path, tlm_ckpt *c, tlm_err *err);

/* Free what tlm_ckpt_load allocated. */
void tlm_ckpt_free(tlm_ckpt *c);

/* 1 when the file starts with the checkpoint magic. */
int tlm_ckpt_sniff(const char *path);

#endif
