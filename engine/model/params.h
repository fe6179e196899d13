/* params.h - the model's parameters: one allocation carved into named tensors.
 * Gradients and AdamW moments mirror the same layout, so the table below
 * describes all of them. */
#ifndef TLM_PARAMS_H
#define TLM_PARAMS_H
#include <stddef.h>
#include "config.h"

/* Tensor kinds, for initialisation and quantization. */
typedef enum tlm_tensor_kind {
    TLM_T_EMB, TLM_T_NORM, TLM_T_LINEAR, TLM_T_HEAD_W, TLM_T_HEAD_B
} tlm_tensor_kind;

/* One named tensor inside the parameter block. */
typedef struct tlm_tensor_info {
    char name[64];       /* paper state-dict name, e.g. "blocks.3.attn.q_proj.weight" */
    char short_name[24]; /* workbench name, e.g. "L3.attn.q", "emb", "head", "L3.norm1" */
    tlm_tensor_kind kind;
    int layer;           /* block index, -1 outside blocks */
    int lin;             /* TLM_LIN_* for linears, -1 otherwise */
    size_t offset;       /* in floats from the start of the block */
    int ndim;
    int rows, cols;      /* [out, in] for 2-D (torch layout); rows = n for 1-D */
    size_t numel;
} tlm_tensor_info;

/* Views of one block's tensors. */
typedef struct tlm_block_params {
    float *norm1, *norm2;
    float *lin[TLM_LIN_PER_BLOCK]; /* q, k, v, o [d,d]; gate, up [h,d]; down [d,h] */
} tlm_block_params;

typedef struct tlm_params {
    float *mem;   /* the single allocation */
    size_t count; /* floats in mem */
    float *emb;   /* [vocab, dim] */
    tlm_block_params blk[TLM_MAX_LAYERS];
    float *norm;  /* [dim] */
    float *head_w; /* [vocab, dim] */
    float *head_b; /* [vocab] */
} tlm_params;

/* Number of tensors for cfg (9 per block + 4). */
int tlm_tensor_count(const tlm_config *cfg);

/* Fill info[i] for i < tlm_tensor_count(cfg); returns total floats. */
size_t tlm_tensor_table(const tlm_config *cfg, tlm_tensor_info *info);

/* Allocate a zeroed parameter block for cfg and set its views. */
int tlm_params_alloc(tlm_params *p, const tlm_config *cfg, tlm_err *err);

/* Point the views of p into mem (count floats laid out for cfg). */
void tlm_params_bind(tlm_params *p, const tlm_config *cfg, float *mem);

void tlm_params_free(tlm_params *p);

/* Initialise: N(0, init_std) for embedding, linears and head weight; norms 1;
 * head bias 0. Deterministic for the seed. */
void tlm_params_init(tlm_params *p, const tlm_config *cfg, uint64_t seed);

/* Find a tensor by paper name or short name; -1 when absent. */
int tlm_tensor_find(const tlm_config *cfg, const tlm_tensor_info *info, const char *name);

#endif
