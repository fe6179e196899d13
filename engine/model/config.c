/* config.c - presets, key=value settings, config files and validation. */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *lin_names[TLM_LIN_PER_BLOCK] = {
    "attn.q", "attn.k", "attn.v", "attn.o", "mlp.gate", "mlp.up", "mlp.down"};

static void set_defaults(tlm_config *c)
{
    memset(c, 0, sizeof *c);
    c->lr = 3e-4f;
    c->beta1 = 0.9f;
    c->beta2 = 0.98f;
    c->adam_eps = 1e-8f;
    c->weight_decay = 0.01f;
    c->clip = 1.0f;
    c->label_smoothing = 0.0f;
    c->warmup = 0.1f;
    c->init_std = 0.02f;
    c->seed = 1337;
    c->threads = 0;
    c->eval_every = 100;
    c->eval_batches = 16;
    c->log_every = 10;
    c->save_every = 500;
    c->keep_ckpts = 3;
    snprintf(c->tokenizer, sizeof c->tokenizer, "tok4096");
    snprintf(c->train_data, sizeof c->train_data, "tinystories-train");
    snprintf(c->val_data, sizeof c->val_data, "tinystories-valid");
}

static void set_arch(tlm_config *c, const char *name, int dim, int layers, int heads, int vocab,
                     int ctx, int max_ctx)
{
    snprintf(c->preset, sizeof c->preset, "%s", name);
    c->dim = dim;
    c->n_layers = layers;
    c->n_heads = heads;
    c->hidden = dim * 267 / 100; /* int(2.67 * d), exact for the presets */
    c->vocab = vocab;
    c->ctx = ctx;
    c->max_ctx = max_ctx;
}

int tlm_config_preset(tlm_config *cfg, const char *name, tlm_err *err)
{
    set_defaults(cfg);
    if (strcmp(name, "nano") == 0) {
        set_arch(cfg, "nano", 64, 2, 2, 4096, 32, 64);
        cfg->batch = 4;
        cfg->steps = 200;
        cfg->eval_every = 50;
        cfg->eval_batches = 4;
    } else if (strcmp(name, "tiny") == 0) {
        set_arch(cfg, "tiny", 256, 6, 4, 4096, 128, 512);
        cfg->batch = 16;
        cfg->steps = 3000;
    } else if (strcmp(name, "paper") == 0) {
        set_arch(cfg, "paper", 768, 12, 12, 30522, 128, 512);
        snprintf(cfg->tokenizer, sizeof cfg->tokenizer, "bert-base-uncased");
        cfg->batch = 32;
        cfg->steps = 47400;
        cfg->eval_every = 500;
    } else {
        return tlm_errf(err, "unknown preset '%s' (known: nano, tiny, paper)", name);
    }
    return 0;
}

/* ---- value parsing ---- */

static int parse_int(const char *key, const char *v, int lo, int hi, int *out, tlm_err *err)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return tlm_errf(err, "config key '%s': '%s' is not an integer in [%d, %d]", key, v, lo, hi);
    *out = (int)x;
    return 0;
}

static int parse_float(const char *key, const char *v, double lo, double hi, float *out,
                       tlm_err *err)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
        return tlm_errf(err, "config key '%s': '%s' is not a number in [%g, %g]", key, v, lo, hi);
    *out = (float)x;
    return 0;
}

static int parse_str(const char *key, const char *v, char *dst, size_t n, tlm_err *err)
{
    if (!*v)
        return tlm_errf(err, "config key '%s': empty value", key);
    if (strlen(v) >= n)
        return tlm_errf(err, "config key '%s': value longer than %zu bytes", key, n - 1);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

typedef enum { K_INT, K_FLOAT, K_STR } key_type;

typedef struct key_def {
    const char *name;
    key_type type;
    size_t off;
    double lo, hi;
    size_t size; /* for strings */
    const char *help;
} key_def;

#define KI(n, f, lo, hi, h) {n, K_INT, offsetof(tlm_config, f), lo, hi, 0, h}
#define KF(n, f, lo, hi, h) {n, K_FLOAT, offsetof(tlm_config, f), lo, hi, 0, h}
#define KS(n, f, h) {n, K_STR, offsetof(tlm_config, f), 0, 0, sizeof(((tlm_config *)0)->f), h}

/* Limits are generous but keep every product of sizes far from overflow. */
static const key_def keys[] = {
    KI("dim", dim, 1, 65536, "model width d"),
    KI("layers", n_layers, 1, TLM_MAX_LAYERS, "number of blocks"),
    KI("heads", n_heads, 1, 1024, "attention heads (dim must be a multiple)"),
    KI("hidden", hidden, 1, 1 << 20, "SwiGLU hidden size"),
    KI("vocab", vocab, 1, 1 << 24, "vocabulary size (must match the tokenizer)"),
    KI("ctx", ctx, 1, 1 << 16, "training context (window length T)"),
    KI("max_ctx", max_ctx, 1, 1 << 16, "longest context (RoPE table, generation)"),
    KS("tokenizer", tokenizer, "tokenizer name or path"),
    KS("train_data", train_data, "training text: name or path(s), comma separated"),
    KS("val_data", val_data, "validation text: name or path"),
    KF("lr", lr, 0, 10, "peak learning rate"),
    KF("beta1", beta1, 0, 0.999999, "AdamW beta1"),
    KF("beta2", beta2, 0, 0.999999, "AdamW beta2"),
    KF("adam_eps", adam_eps, 0, 1, "AdamW epsilon"),
    KF("weight_decay", weight_decay, 0, 10, "AdamW decoupled weight decay"),
    KF("clip", clip, 0, 1e9, "gradient norm clip (0 = off)"),
    KF("label_smoothing", label_smoothing, 0, 0.999, "cross-entropy label smoothing"),
    KF("warmup", warmup, 0, 1, "one-cycle warm-up share of the steps"),
    KF("init_std", init_std, 0, 10, "std of the normal initialisation"),
    KI("batch", batch, 1, 1 << 16, "sequences per step (B)"),
    KI("steps", steps, 0, INT_MAX, "total training steps (schedule length)"),
    KI("seed", seed, 0, INT_MAX, "random seed"),
    KI("threads", threads, 0, 1024, "compute threads (0 = all cores)"),
    KI("eval_every", eval_every, 0, INT_MAX, "steps between validation runs (0 = never)"),
    KI("eval_batches", eval_batches, 1, 1 << 20, "validation windows per evaluation, in batches"),
    KI("log_every", log_every, 1, INT_MAX, "steps between metrics rows"),
    KI("save_every", save_every, 0, INT_MAX, "steps between checkpoints (0 = only at the end)"),
    KI("keep_ckpts", keep_ckpts, 1, 1000, "periodic checkpoints kept"),
    KI("recompute", recompute, 0, 1,
       "1: store only each block's input and recompute the rest in backward (memory for time)"),
};

static const key_def *find_key(const char *k)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].name, k) == 0)
            return &keys[i];
    return NULL;
}

int tlm_config_set(tlm_config *cfg, const char *key, const char *value, tlm_err *err)
{
    if (strcmp(key, "preset") == 0) {
        tlm_config tmp;
        if (tlm_config_preset(&tmp, value, err))
            return -1;
        *cfg = tmp;
        return 0;
    }
    if (strcmp(key, "precision") == 0 || strncmp(key, "precision.", 10) == 0) {
        int p = tlm_prec_parse(value);
        if (p < 0)
            return tlm_errf(err, "config key '%s': '%s' is not ternary, int8 or fp32", key, value);
        const char *pattern = key[9] ? key + 10 : "all";
        return tlm_config_set_precision(cfg, pattern, (tlm_prec)p, err) < 0 ? -1 : 0;
    }
    if (strcmp(key, "precisions") == 0) {
        size_t n = strlen(value);
        if (n > TLM_MAX_LINEARS)
            return tlm_errf(err, "config key 'precisions': more than %d entries", TLM_MAX_LINEARS);
        for (size_t i = 0; i < n; i++) {
            const char *codes = "t8f";
            const char *c = strchr(codes, value[i]);
            if (!c || !value[i])
                return tlm_errf(err, "config key 'precisions': bad code '%c' (t, 8 or f)", value[i]);
            cfg->prec[i] = (uint8_t)(c - codes);
        }
        return 0;
    }
    const key_def *k = find_key(key);
    if (!k)
        return tlm_errf(err, "unknown config key '%s' (see 'tlm info --keys')", key);
    char *base = (char *)cfg + k->off;
    switch (k->type) {
    case K_INT:
        return parse_int(key, value, (int)k->lo, (int)k->hi, (int *)base, err);
    case K_FLOAT:
        return parse_float(key, value, k->lo, k->hi, (float *)base, err);
    case K_STR:
        return parse_str(key, value, base, k->size, err);
    }
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

int tlm_config_set_kv(tlm_config *cfg, const char *kv, tlm_err *err)
{
    char buf[1024];
    if (strlen(kv) >= sizeof buf)
        return tlm_errf(err, "setting too long: %.40s...", kv);
    memcpy(buf, kv, strlen(kv) + 1);
    char *eq = strchr(buf, '=');
    if (!eq)
        return tlm_errf(err, "setting '%s' is not key=value", kv);
    *eq = 0;
    return tlm_config_set(cfg, trim(buf), trim(eq + 1), err);
}

int tlm_config_load_file(tlm_config *cfg, const char *path, tlm_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tlm_errf(err, "config %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0, settings = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (memchr(line, 0, (size_t)len)) {
            rc = tlm_errf(err, "config %s:%d: binary data (NUL byte); not a config file", path, lineno);
            break;
        }
        if (len > 1000) {
            rc = tlm_errf(err, "config %s:%d: line longer than 1000 bytes", path, lineno);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (!*s)
            continue;
        if (tlm_config_set_kv(cfg, s, err)) {
            rc = tlm_err_prefix(err, "config %s:%d: ", path, lineno);
            break;
        }
        settings++;
    }
    if (!rc && ferror(f))
        rc = tlm_errf(err, "config %s: read error", path);
    if (!rc && settings == 0)
        rc = tlm_errf(err, "config %s: no settings (an empty config file is a mistake; use --preset)",
                      path);
    free(line);
    fclose(f);
    return rc;
}

int tlm_config_validate(const tlm_config *c, tlm_err *err)
{
    if (c->n_layers < 1 || c->n_layers > TLM_MAX_LAYERS)
        return tlm_errf(err, "config key 'layers': %d is not in [1, %d]", c->n_layers, TLM_MAX_LAYERS);
    if (c->dim < 1 || c->n_heads < 1 || c->dim % c->n_heads)
        return tlm_errf(err, "config key 'dim': %d is not a multiple of heads=%d", c->dim, c->n_heads);
    if ((c->dim / c->n_heads) % 2)
        return tlm_errf(err, "config key 'heads': head size %d must be even for RoPE",
                        c->dim / c->n_heads);
    if (c->vocab < 2)
        return tlm_errf(err, "config key 'vocab': %d is too small", c->vocab);
    if (c->hidden < 1)
        return tlm_errf(err, "config key 'hidden': %d is too small", c->hidden);
    if (c->ctx < 2)
        return tlm_errf(err, "config key 'ctx': %d is too small (at least 2)", c->ctx);
    if (c->max_ctx < c->ctx)
        return tlm_errf(err, "config key 'max_ctx': %d is below ctx=%d", c->max_ctx, c->ctx);
    if (c->batch < 1)
        return tlm_errf(err, "config key 'batch': %d is too small", c->batch);
    uint64_t n;
    if (tlm_config_param_count(c, &n, err))
        return -1;
    /* activations: B*T*max(d, hidden, vocab) floats must stay addressable */
    size_t bt, wide, act;
    size_t w = (size_t)c->vocab > (size_t)c->hidden ? (size_t)c->vocab : (size_t)c->hidden;
    if (tlm_mul_size((size_t)c->batch, (size_t)c->ctx, &bt) || tlm_mul_size(bt, w, &wide) ||
        tlm_mul_size(wide, 64, &act) || act > ((size_t)1 << 46))
        return tlm_errf(err, "config: batch x ctx x width = %d x %d x %zu is absurdly large",
                        c->batch, c->ctx, w);
    if (n > ((uint64_t)1 << 36))
        return tlm_errf(err, "config: %llu parameters is absurdly large", (unsigned long long)n);
    return 0;
}

/* ---- precision patterns ---- */

const char *tlm_prec_name(tlm_prec p)
{
    return p == TLM_PREC_TERNARY ? "ternary" : p == TLM_PREC_INT8 ? "int8" : "fp32";
}

int tlm_prec_parse(const char *s)
{
    if (!strcmp(s, "ternary") || !strcmp(s, "t"))
        return TLM_PREC_TERNARY;
    if (!strcmp(s, "int8") || !strcmp(s, "8"))
        return TLM_PREC_INT8;
    if (!strcmp(s, "fp32") || !strcmp(s, "f"))
        return TLM_PREC_FP32;
    return -1;
}

void tlm_linear_name(int layer, int lin, char *buf, size_t n)
{
    snprintf(buf, n, "L%d.%s", layer, lin_names[lin]);
}

/* Parse a layer spec "*", "L3" or "L0-2" into [lo, hi]; -1 if not one. */
static int parse_layer_spec(const char *s, size_t len, int *lo, int *hi)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    if (!strcmp(buf, "*")) {
        *lo = 0;
        *hi = INT_MAX;
        return 0;
    }
    if (buf[0] != 'L' || !isdigit((unsigned char)buf[1]))
        return -1;
    char *end;
    long a = strtol(buf + 1, &end, 10), b = a;
    if (*end == '-') {
        const char *q = end + 1;
        if (!isdigit((unsigned char)*q))
            return -1;
        b = strtol(q, &end, 10);
    }
    if (*end || a < 0 || b < a || b > TLM_MAX_LAYERS)
        return -1;
    *lo = (int)a;
    *hi = (int)b;
    return 0;
}

int tlm_config_set_precision(tlm_config *cfg, const char *pattern, tlm_prec prec, tlm_err *err)
{
    int lo = 0, hi = INT_MAX;
    const char *rest = "*";
    if (strcmp(pattern, "all") != 0) {
        const char *dot = strchr(pattern, '.');
        size_t len = dot ? (size_t)(dot - pattern) : strlen(pattern);
        if (parse_layer_spec(pattern, len, &lo, &hi))
            return tlm_errf(err, "bad layer pattern '%s' (try all, L3.attn.q, L0-2.attn.*, *.mlp.down)",
                            pattern);
        rest = dot ? dot + 1 : "*";
    }
    int matched = 0;
    for (int l = 0; l < cfg->n_layers; l++) {
        if (l < lo || l > hi)
            continue;
        for (int j = 0; j < TLM_LIN_PER_BLOCK; j++) {
            if (fnmatch(rest, lin_names[j], 0) == 0) {
                cfg->prec[l * TLM_LIN_PER_BLOCK + j] = (uint8_t)prec;
                matched++;
            }
        }
    }
    if (!matched)
        return tlm_errf(err, "layer pattern '%s' matches no linear layer", pattern);
    return matched;
}

int tlm_config_param_count(const tlm_config *c, uint64_t *out, tlm_err *err)
{
    uint64_t d = (uint64_t)c->dim, h = (uint64_t)c->hidden, v = (uint64_t)c->vocab;
    uint64_t blk, emb, tot;
    if (__builtin_mul_overflow(d, d, &blk) || __builtin_mul_overflow(blk, 4, &blk))
        goto overflow;
    uint64_t mlp;
    if (__builtin_mul_overflow(d, h, &mlp) || __builtin_mul_overflow(mlp, 3, &mlp) ||
        __builtin_add_overflow(blk, mlp, &blk) || __builtin_add_overflow(blk, 2 * d, &blk) ||
        __builtin_mul_overflow(blk, (uint64_t)c->n_layers, &blk))
        goto overflow;
    if (__builtin_mul_overflow(v, d, &emb) || __builtin_mul_overflow(emb, 2, &emb) ||
        __builtin_add_overflow(emb, v + d, &emb) || __builtin_add_overflow(emb, blk, &tot))
        goto overflow;
    *out = tot;
    return 0;
overflow:
    return tlm_errf(err, "config: parameter count overflows (dim=%d hidden=%d vocab=%d layers=%d)",
                    c->dim, c->hidden, c->vocab, c->n_layers);
}

/* ---- description and serialization ---- */

static int format_key(const tlm_config *c, const key_def *k, char *buf, size_t n)
{
    const char *base = (const char *)c + k->off;
    switch (k->type) {
    case K_INT:
        return snprintf(buf, n, "%d", *(const int *)base);
    case K_FLOAT:
        return snprintf(buf, n, "%.9g", *(const float *)base);
    case K_STR:
        return snprintf(buf, n, "%s", base);
    }
    return 0;
}

static void precision_codes(const tlm_config *c, char *buf)
{
    int n = c->n_layers * TLM_LIN_PER_BLOCK;
    for (int i = 0; i < n; i++)
        buf[i] = "t8f"[c->prec[i] % 3];
    buf[n] = 0;
}

void tlm_config_describe(const tlm_config *c, void (*line)(void *ctx, const char *s), void *ctx)
{
    char buf[1024], val[600];
    snprintf(buf, sizeof buf, "preset: %s", c->preset[0] ? c->preset : "(custom)");
    line(ctx, buf);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        format_key(c, &keys[i], val, sizeof val);
        snprintf(buf, sizeof buf, "%s: %s", keys[i].name, val);
        line(ctx, buf);
    }
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < c->n_layers * TLM_LIN_PER_BLOCK; i++)
        counts[c->prec[i] % 3]++;
    snprintf(buf, sizeof buf, "precision: %d ternary, %d int8, %d fp32 linears", counts[0],
             counts[1], counts[2]);
    line(ctx, buf);
}

size_t tlm_config_serialize(const tlm_config *c, char *buf, size_t n)
{
    size_t used = 0;
    char val[600], codes[TLM_MAX_LINEARS + 1];
#define EMIT(...)                                                                    \
    do {                                                                             \
        int w_ = snprintf(used < n ? buf + used : NULL, used < n ? n - used : 0, __VA_ARGS__); \
        if (w_ > 0)                                                                  \
            used += (size_t)w_;                                                      \
    } while (0)
    if (c->preset[0])
        EMIT("preset_name=%s\n", c->preset);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        format_key(c, &keys[i], val, sizeof val);
        EMIT("%s=%s\n", keys[i].name, val);
    }
    precision_codes(c, codes);
    EMIT("precisions=%s\n", codes);
#undef EMIT
    return used;
}

int tlm_config_deserialize(tlm_config *cfg, const char *text, size_t len, tlm_err *err)
{
    tlm_config c;
    set_defaults(&c);
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        char line[1024];
        if (j - i >= sizeof line)
            return tlm_errf(err, "stored config: line too long");
        memcpy(line, text + i, j - i);
        line[j - i] = 0;
        if (memchr(text + i, 0, j - i))
            return tlm_errf(err, "stored config: NUL byte");
        i = j + 1;
        if (!line[0])
            continue;
        if (!strncmp(line, "preset_name=", 12)) {
            snprintf(c.preset, sizeof c.preset, "%.31s", line + 12);
            continue;
        }
        if (tlm_config_set_kv(&c, line, err))
            return tlm_err_prefix(err, "stored config: ");
    }
    if (tlm_config_validate(&c, err))
        return tlm_err_prefix(err, "stored config: ");
    *cfg = c;
    return 0;
}
