/* generate.h - inference: a model packed for decoding (ternary 2-bit, int8
 * rows, fp32 as stored), a KV cache, the sampler, and streaming generation.
 * Contract shared by `tlm generate`, the session's `gen` command and tests. */
#ifndef TLM_GENERATE_H
#define TLM_GENERATE_H
#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"
#include "../io/tokenizer.h"
#include "../model/config.h"

typedef struct tlm_infer tlm_infer;

typedef struct tlm_sample_opts {
    int max_tokens;      /* tokens to generate (>= 1) */
    float temperature;   /* 0 = greedy */
    int top_k;           /* 0 = off */
    float top_p;         /* 1 = off */
    float rep_penalty;   /* 1 = off; positive logits divided, negative multiplied */
    uint64_t seed;
    const char *stop;    /* stop string (may be NULL) */
} tlm_sample_opts;

/* Defaults: 128 tokens, temperature 0.8, top_k 40, top_p 0.95, penalty 1, seed 0. */
void tlm_sample_opts_default(tlm_sample_opts *o);

/* Pack parameters (tensor-table layout, as trained) for inference with each
 * linear in its cfg precision; fp32 != 0 runs every linear unquantized (the
 * baseline path). params are copied/packed; the caller keeps its buffer. */
int tlm_infer_from_params(tlm_infer **out, const tlm_config *cfg, const float *params, int fp32,
                          tlm_err *err);

/* Open a packed inference model, a training checkpoint or a safetensors file
 * (packed on load). Errors name the file. */
int tlm_infer_open(tlm_infer **out, const char *path, int fp32, tlm_err *err);

const tlm_config *tlm_infer_config(const tlm_infer *inf);
void tlm_infer_free(tlm_infer *inf);

/* Called for each generated token with its decoded text; return non-zero to
 * stop generating. */
typedef int (*tlm_token_cb)(void *ctx, int id, const char *text);

/* Encode prompt (with the document-start token), prefill it as a batch, then
 * sample up to o->max_tokens tokens one at a time with the KV cache, calling cb
 * for each. Stops at end-of-text, the stop string, or the context limit (an
 * error naming the limit when the prompt itself does not fit). Same seed,
 * same text. *n_out (may be NULL) gets the number of tokens generated. */
int tlm_infer_generate(tlm_infer *inf, const tlm_tokenizer *tok, const char *prompt,
                       const tlm_sample_opts *o, tlm_token_cb cb, void *ctx, int *n_out,
                       tlm_err *err);

#endif
