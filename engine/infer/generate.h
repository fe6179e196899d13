/* generate.h - inference: a model packed for decoding (ternary 2-bit, int8
 * rows, fp32 as stored), a KV cache, the sampler, and streaming generation.
 * Contract shared by `tlm generate`, the session's `gen` command and tests.
 *
 * One tlm_infer is used by one thread at a time (it owns its KV cache,
 * scratch and compute pool); several may exist side by side. */
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

/* Check the ranges of o (max_tokens >= 1, temperature >= 0, top_k >= 0,
 * top_p in (0, 1], rep_penalty > 0, all finite); errors name the field. */
int tlm_sample_opts_check(const tlm_sample_opts *o, tlm_err *err);

/* How the embedding and the head are stored in a packed model (fp32 as the
 * paper keeps them by default; int8 rows with a scale each; IEEE half). */
typedef enum tlm_store { TLM_STORE_FP32 = 0, TLM_STORE_INT8 = 2, TLM_STORE_FP16 = 3 } tlm_store;

typedef struct tlm_pack_opts {
    tlm_store emb, head;
} tlm_pack_opts;

/* "fp32" | "int8" | "fp16" -> tlm_store; -1 when unknown. */
int tlm_store_parse(const char *s);
const char *tlm_store_name(tlm_store s);

/* Pack parameters (tensor-table layout, as trained) for inference with each
 * linear in its cfg precision; fp32 != 0 runs every linear unquantized (the
 * baseline path). params are copied/packed; the caller keeps its buffer. */
int tlm_infer_from_params(tlm_infer **out, const tlm_config *cfg, const float *params, int fp32,
                          tlm_err *err);

/* The same with the embedding/head storage chosen (po NULL: both fp32). */
int tlm_infer_from_params_ex(tlm_infer **out, const tlm_config *cfg, const float *params,
                             int fp32, const tlm_pack_opts *po, tlm_err *err);

/* Open a packed inference model, a training checkpoint or a safetensors file
 * (packed on load). Errors name the file. A packed file is mapped read-only
 * and checked like hostile input (magic, version, sizes, checksums, codes).
 * With fp32 a packed file's weights are expanded to fp32 (ternary t*g, int8
 * w/s) and run unquantized; a checkpoint's latent weights run unquantized. */
int tlm_infer_open(tlm_infer **out, const char *path, int fp32, tlm_err *err);

/* Write the packed model to path (temp file, fsync, rename, fsync of the
 * folder): mmap-able, versioned, checksummed. */
int tlm_infer_save(const tlm_infer *inf, const char *path, tlm_err *err);

/* 1 when the file starts with the packed-model magic. */
int tlm_infer_sniff(const char *path);

const tlm_config *tlm_infer_config(const tlm_infer *inf);
void tlm_infer_free(tlm_infer *inf);

/* Kernel version: "auto" or NULL (TLM_KERNEL, else the best the CPU has),
 * "scalar", "avx2", "avx512vnni"; unsupported is an error. */
int tlm_infer_set_kernels(tlm_infer *inf, const char *name, tlm_err *err);
const char *tlm_infer_kernels(const tlm_infer *inf);

/* Compute threads (0 = all cores); the caller's thread is one of them. */
int tlm_infer_set_threads(tlm_infer *inf, int threads, tlm_err *err);

/* Sizes of what a model holds. */
typedef struct tlm_infer_info {
    size_t image_bytes;   /* the packed model (= file size when saved) */
    size_t linear_bytes;  /* the block linears' weights and scales */
    size_t emb_bytes, head_bytes;
    size_t fp32_bytes;    /* all parameters in fp32, for comparison */
    size_t kv_bytes;      /* KV cache for max_ctx tokens */
    int n_ternary, n_int8, n_fp32; /* linears by precision */
    tlm_store emb, head;
    int fp32;             /* every linear unquantized */
    int mapped;           /* weights mapped from a file */
} tlm_infer_info;
void tlm_infer_describe(const tlm_infer *inf, tlm_infer_info *info);

/* Forget the KV cache (position 0). */
void tlm_infer_reset(tlm_infer *inf);

/* Tokens already in the KV cache. */
int tlm_infer_position(const tlm_infer *inf);

/* Run n tokens (ids in [0, vocab)) at the current position through the model,
 * appending them to the KV cache (the prompt is processed as a batch). logits
 * gets the next-token logits of the last token ([vocab]) or, with all, of
 * every token ([n, vocab]); it may be NULL. An error (the cache unchanged)
 * when the tokens would pass max_ctx. */
int tlm_infer_forward(tlm_infer *inf, const int32_t *ids, int n, float *logits, int all,
                      tlm_err *err);

/* Called for each generated token with its decoded text; return non-zero to
 * stop generating. The text holds whole UTF-8 characters: the bytes of a
 * character split over tokens come with the token that completes it (text
 * may then be ""). */
typedef int (*tlm_token_cb)(void *ctx, int id, const char *text);

/* Why the last generation stopped. */
typedef enum tlm_stop_reason {
    TLM_STOP_MAX = 0,    /* max_tokens generated */
    TLM_STOP_EOS,        /* the end-of-text token (not passed to cb) */
    TLM_STOP_STRING,     /* the stop string appeared (its token was passed to cb) */
    TLM_STOP_CONTEXT,    /* max_ctx tokens in the cache */
    TLM_STOP_CALLBACK    /* cb returned non-zero */
} tlm_stop_reason;

typedef struct tlm_gen_stats {
    int prompt_tokens, gen_tokens;
    tlm_stop_reason reason;
    double prefill_s, decode_s; /* wall time of the prompt batch and of the decoding */
} tlm_gen_stats;

/* Statistics of the last tlm_infer_generate on inf. */
const tlm_gen_stats *tlm_infer_last_stats(const tlm_infer *inf);

/* Encode prompt (with the document-start token), prefill it as a batch, then
 * sample up to o->max_tokens tokens one at a time with the KV cache, calling cb
 * for each. Stops at end-of-text, the stop string, or the context limit (an
 * error naming the limit when the prompt itself does not fit). Same seed,
 * same text. *n_out (may be NULL) gets the number of tokens generated.
 * An empty prompt, invalid UTF-8 and a tokenizer larger than the model's
 * vocabulary are errors. The KV cache is reset first. */
int tlm_infer_generate(tlm_infer *inf, const tlm_tokenizer *tok, const char *prompt,
                       const tlm_sample_opts *o, tlm_token_cb cb, void *ctx, int *n_out,
                       tlm_err *err);

/* 1 when s[0..n) is valid UTF-8 (no overlongs, surrogates or code points
 * above U+10FFFF). */
int tlm_utf8_valid(const char *s, size_t n);

#endif
