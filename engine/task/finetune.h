/* finetune.h - fine-tune a pretrained model on MRPC: the whole model (ternary
 * linears stay ternary through the straight-through path) plus a two-class
 * fp32 head on the pooled final hidden state; dev accuracy and F1 per epoch,
 * with the majority-class baseline computed from the data. */
#ifndef TLM_FINETUNE_H
#define TLM_FINETUNE_H
#include <stddef.h>
#include "../core/err.h"
#include "classify.h"

typedef struct tlm_finetune_opts {
    const char *model;      /* training checkpoint or safetensors */
    const char *train_path, *dev_path; /* MRPC train.tsv / dev.tsv */
    int epochs, batch, max_len, seed, threads; /* max_len 0: see defaults; threads 0 = all */
    float lr, weight_decay, warmup, clip; /* warmup: share of steps (linear up, then linear down) */
    tlm_pool_mode pool;
    size_t limit_train, limit_dev; /* first N pairs only; 0 = all */
} tlm_finetune_opts;

/* Defaults: 3 epochs, batch 16, max_len 0 (the model's max_ctx, at most
 * 128), seed 1, lr 1e-4, weight decay
 * 0.01, warm-up 0.1, clip 1, pooling at the last real token. */
void tlm_finetune_defaults(tlm_finetune_opts *o);

typedef struct tlm_finetune_info {
    size_t n_train, n_dev;
    int majority_label;         /* the commoner label of the training pairs */
    tlm_cls_metrics majority;   /* that label predicted for every dev pair */
    double mean_len;            /* mean encoded length of the training pairs */
    size_t truncated;           /* pairs (train + dev) cut to max_len */
    int dim, vocab, max_len;     /* max_len: the one used */
    const char *separators;     /* how pairs are framed, in words */
} tlm_finetune_info;

typedef struct tlm_finetune_epoch {
    int epoch;                  /* 1-based */
    double train_loss;          /* mean cross-entropy over the epoch's batches */
    tlm_cls_metrics dev;
    double seconds;
} tlm_finetune_epoch;

/* Callbacks (any may be NULL): once after loading, after every step, after
 * every epoch's dev evaluation. */
typedef struct tlm_finetune_cb {
    void *ctx;
    void (*start)(void *ctx, const tlm_finetune_info *info);
    void (*step)(void *ctx, long step, long total, double loss);
    void (*epoch)(void *ctx, const tlm_finetune_epoch *e);
} tlm_finetune_cb;

/* Run the fine-tuning described by o. Errors name the file or the option
 * (max_len above the model's max_ctx, bad sizes, a tokenizer that does not
 * match the model). *last (may be NULL) gets the last epoch's figures. */
int tlm_finetune_mrpc(const tlm_finetune_opts *o, const tlm_finetune_cb *cb,
                      tlm_finetune_epoch *last, tlm_err *err);

#endif
