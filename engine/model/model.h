/* model.h - the TernaryLM transformer: parameters, gradients, activations,
 * forward and backward for a (B, T) batch. */
#ifndef TLM_MODEL_H
#define TLM_MODEL_H
#include <stdint.h>
#include "../core/err.h"
#include "../core/pool.h"
#include "config.h"
#include "params.h"

/* Activations of one block, kept for backward. */
typedef struct tlm_block_acts {
    float *res;          /* [N,d] block input */
    float *ln1, *rstd1;  /* [N,d], [N] */
    float *q, *k, *v;    /* [N,d], q and k after RoPE */
    float *atty;         /* [N,d] attention output (input of o) */
    float *mid;          /* [N,d] residual after attention */
    float *ln2, *rstd2;
    float *gate, *up, *act; /* [N,h] */
} tlm_block_acts;

/* Phases of a training step, for the time breakdown of `tlm bench`. */
typedef enum tlm_phase {
    TLM_PH_MM_FWD, TLM_PH_MM_BWD, TLM_PH_ATTN, TLM_PH_ELEM, TLM_PH_OPT, TLM_PH_QUANT, TLM_PH_COUNT
} tlm_phase;

/* Name of a phase ("matmul fwd", ...). */
const char *tlm_phase_name(tlm_phase p);

/* Per-linear quantization state of the last forward. */
typedef struct tlm_linear_stats {
    float gamma;       /* ternary scale g (mean |W|), also reported for int8/fp32 */
    uint64_t counts[3]; /* -1, 0, +1 of the ternary quantizer (zeros for int8: exact zeros) */
    float sparsity;    /* share of zeros in the effective weights */
} tlm_linear_stats;

typedef struct tlm_model {
    tlm_config cfg;
    int cap_B, cap_T;   /* activation capacity */
    int B, T;           /* shape of the last forward */
    tlm_params p, g;    /* weights and gradients (same layout) */
    float *wq_mem;      /* effective (quantized) weights of one linear, made when used */
    float *row_scratch; /* pool threads x row_cap floats */
    size_t row_cap;
    tlm_linear_stats lstats[TLM_MAX_LINEARS];
    float *act_mem;
    tlm_block_acts a[TLM_MAX_LAYERS];
    float *res_out, *lnf, *rstdf;
    float *logits;      /* [B*T, vocab] of the last forward without targets (lazy) */
    float *head_buf;    /* logits of chunk_rows rows, for the loss and its gradient */
    size_t chunk_rows;
    float *xq;          /* scratch for quantized activations [N, max(d,h)] */
    int qg_impl;        /* tlm_qg_impl of the integer forward (0: float products) */
    int8_t *qx;         /* activation codes [N, kpad(max(d,h))] of the integer forward */
    float *qxinv;       /* 1 / s per row */
    int32_t *qxsum;     /* code sums per row */
    uint8_t *qpanels;   /* packed weight codes of one linear */
    float *qwmul;       /* per-output weight scale of that linear */
    float *dres, *dtmp[4], *dh[3], *att_scratch;
    double *ce_rows;    /* per-row losses, 2 * cap_B * cap_T */
    float *rope_cos, *rope_sin;
    int32_t *targets;   /* copy of the last targets */
    int32_t *tokens;    /* copy of the last inputs */
    double loss, nll;   /* of the last forward with targets (or its backward when deferred) */
    int defer_loss;     /* 1: forward with targets skips the head; backward computes the
                         * loss with its gradient (a training step's saving) */
    tlm_pool *pool;
    int own_pool;
    int acts_layer;     /* block whose full activations are in m->a (recompute) */
    double recompute_s; /* seconds of those recomputations (also in the phases) */
    double phase_s[TLM_PH_COUNT];    /* seconds spent per phase, accumulated */
    double phase_flop[TLM_PH_COUNT]; /* floating-point operations per phase */
} tlm_model;

/* Create a model for cfg with activation room for B x T (T <= max_ctx).
 * Parameters are zero: call tlm_params_init(&m->p, ...) or copy weights in.
 * pool may be NULL (single-threaded kernels) and is not owned. */
int tlm_model_create(tlm_model **out, const tlm_config *cfg, int B, int T, tlm_pool *pool,
                     tlm_err *err);
void tlm_model_free(tlm_model *m);

/* Compute every linear's scale g and code counts (lstats) from its latent
 * weights per its precision; the effective weights themselves are made one
 * linear at a time when a product needs them. Called by forward; public for stats and inspection. */
void tlm_model_quantize(tlm_model *m);

/* Forward over tokens x [B*T] (B <= cap_B, T <= cap_T). With targets y the
 * loss (smoothed objective) and the true NLL are returned through loss/nll
 * (may be NULL), computed a chunk of rows at a time (the full logits are never
 * stored). Without targets the logits [B*T, vocab] are left in m->logits. */
void tlm_model_forward(tlm_model *m, const int32_t *x, const int32_t *y, int B, int T, double *loss,
                       double *nll);

/* Backward of the last forward (which must have had targets): zeroes m->g and
 * fills it with d(mean loss)/d(params), straight-through for the quantizers;
 * m->loss and m->nll are (re)computed on the way. */
void tlm_model_backward(tlm_model *m);

/* The activations of block l in the last forward. With cfg.recompute the
 * blocks share one set (only each block's input and norm scales are kept),
 * so this recomputes block l's when the set holds another block: the
 * pointers are valid until the next call, forward or backward. */
const tlm_block_acts *tlm_model_block_acts(tlm_model *m, int l);

/* Forward over tokens x [B*T] up to the final RMSNorm; returns its output
 * [B*T, dim] (m->lnf, valid until the next forward). The head is not run.
 * For task heads (classification) built on the model. */
const float *tlm_model_forward_hidden(tlm_model *m, const int32_t *x, int B, int T);

/* Backward of the last forward given d(loss)/d(final hidden state) dlnf
 * [B*T, dim]: zeroes m->g and fills it (the head's gradients stay zero). */
void tlm_model_backward_hidden(tlm_model *m, const float *dlnf);

#endif
