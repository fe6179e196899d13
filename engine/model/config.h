/* config.h - model and training configuration: presets, config files, --set. */
#ifndef TLM_CONFIG_H
#define TLM_CONFIG_H
#include <stdint.h>
#include "../core/err.h"

#define TLM_MAX_LAYERS 64
#define TLM_LIN_PER_BLOCK 7
#define TLM_MAX_LINEARS (TLM_MAX_LAYERS * TLM_LIN_PER_BLOCK)

/* Precision of one linear layer. */
typedef enum tlm_prec { TLM_PREC_TERNARY = 0, TLM_PREC_INT8 = 1, TLM_PREC_FP32 = 2 } tlm_prec;

/* The seven linears of a block, in parameter order. */
enum { TLM_LIN_Q, TLM_LIN_K, TLM_LIN_V, TLM_LIN_O, TLM_LIN_GATE, TLM_LIN_UP, TLM_LIN_DOWN };

typedef struct tlm_config {
    char preset[32];
    /* architecture */
    int dim, n_layers, n_heads, hidden, vocab, ctx, max_ctx;
    char tokenizer[256]; /* tokenizer name (tok4096, bert-base-uncased, ...) or a path */
    /* data (names resolved by io/datapath, or paths) */
    char train_data[512];
    char val_data[512];
    /* training */
    float lr, beta1, beta2, adam_eps, weight_decay, clip, label_smoothing, warmup, init_std;
    int batch, steps, seed, threads;
    int eval_every, eval_batches, log_every, save_every, keep_ckpts;
    int recompute; /* 1: keep only each block's input; backward recomputes the rest */
    /* per-linear precision, index layer * 7 + TLM_LIN_* */
    uint8_t prec[TLM_MAX_LINEARS];
} tlm_config;

/* Fill cfg with a named preset (nano, tiny, paper); -1 and err on unknown name. */
int tlm_config_preset(tlm_config *cfg, const char *name, tlm_err *err);

/* Apply one "key=value" (or key, value) setting; unknown keys and bad values are
 * errors naming the key. Precision keys: "precision" (all linears) and
 * "precision.PATTERN" handled by tlm_config_set_precision. */
int tlm_config_set(tlm_config *cfg, const char *key, const char *value, tlm_err *err);

/* Parse "key=value" and apply it. */
int tlm_config_set_kv(tlm_config *cfg, const char *kv, tlm_err *err);

/* Read a config file: lines "key = value", '#' comments, an optional
 * "preset = NAME" first. Errors name the file and line. */
int tlm_config_load_file(tlm_config *cfg, const char *path, tlm_err *err);

/* Check sizes and ranges (0 layers, dim % heads, overflow ...); errors name the key. */
int tlm_config_validate(const tlm_config *cfg, tlm_err *err);

/* Set every linear matched by PATTERN to prec. Patterns: "all", a layer name
 * ("L3.attn.q"), globs ("*.mlp.down", "L0-2.attn.*", "L4.*"). Returns the
 * number of linears matched (0 is an error). */
int tlm_config_set_precision(tlm_config *cfg, const char *pattern, tlm_prec prec, tlm_err *err);

/* Name of a precision ("ternary", "int8", "fp32") and its parse (-1 if bad). */
const char *tlm_prec_name(tlm_prec p);
int tlm_prec_parse(const char *s);

/* Short name of linear `lin` of layer `layer`, e.g. "L3.attn.q", "L0.mlp.down". */
void tlm_linear_name(int layer, int lin, char *buf, size_t n);

/* Number of parameters of the model described by cfg (overflow-checked). */
int tlm_config_param_count(const tlm_config *cfg, uint64_t *out, tlm_err *err);

/* Write a human-readable description of the config, one "key: value" per line,
 * via the callback. */
void tlm_config_describe(const tlm_config *cfg, void (*line)(void *ctx, const char *s), void *ctx);

/* Serialize to "key=value\n" lines (every key, precision included) into buf;
 * returns bytes needed (like snprintf). tlm_config_deserialize parses it back. */
size_t tlm_config_serialize(const tlm_config *cfg, char *buf, size_t n);
int tlm_config_deserialize(tlm_config *cfg, const char *text, size_t len, tlm_err *err);

#endif
