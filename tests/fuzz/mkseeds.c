/* mkseeds.c - write the seed corpora of the fuzz targets (tests/fuzz/corpus)
 * with the program's own writers: micro models derived from the nano preset
 * (small enough to fuzz fast), plus a few edge cases. Files named valid-*
 * must load; the replay test checks that they still do.
 *   make tests/fuzz/mkseeds && tests/fuzz/mkseeds $(srcdir)/tests/fuzz/corpus */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "engine/core/rng.h"
#include "engine/infer/infer_impl.h"
#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "engine/model/config.h"

static const char *out;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "mkseeds: %s: %s\n", what, msg);
    exit(1);
}

static void put(const char *target, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out, target);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s/%s", out, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f))
        die(path, "cannot write");
}

static void put_str(const char *target, const char *name, const char *s)
{
    put(target, name, s, strlen(s));
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, "cannot read");
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    if (!b || fread(b, 1, *n, f) != *n)
        die(path, "cannot read");
    fclose(f);
    return b;
}

/* nano with its sizes cut down (layers 1 or 2, dim 8, vocab 16). */
static tlm_config micro(int layers, int mixed)
{
    tlm_config c;
    tlm_err e;
    const char *kv[] = {"dim=8", "heads=2", "hidden=16", "vocab=16", "ctx=8", "max_ctx=8"};
    if (tlm_config_preset(&c, "nano", &e))
        die("preset", e.msg);
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (tlm_config_set_kv(&c, kv[i], &e))
            die(kv[i], e.msg);
    c.n_layers = layers;
    if (mixed && (tlm_config_set_precision(&c, "*.mlp.down", TLM_PREC_INT8, &e) < 1 ||
                  tlm_config_set_precision(&c, "L0.attn.q", TLM_PREC_FP32, &e) < 1))
        die("precision", e.msg);
    if (tlm_config_validate(&c, &e))
        die("micro config", e.msg);
    return c;
}

static float *random_floats(size_t n, uint64_t seed)
{
    tlm_rng r;
    tlm_rng_seed(&r, seed);
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = 0.05f * tlm_rng_normal(&r);
    return p;
}

static size_t count_of(const tlm_config *c)
{
    uint64_t n;
    tlm_err e;
    if (tlm_config_param_count(c, &n, &e))
        die("count", e.msg);
    return (size_t)n;
}

static void checkpoint_seeds(const char *tmp)
{
    for (int v = 0; v < 2; v++) {
        tlm_ckpt k;
        memset(&k, 0, sizeof k);
        k.cfg = micro(v + 1, v);
        k.count = count_of(&k.cfg);
        k.params = random_floats(k.count, 1 + v);
        k.m = random_floats(k.count, 2 + v);
        k.v = random_floats(k.count, 3 + v);
        k.step = 7 * v;
        k.tokens = 1024.0 * v;
        tlm_rng_seed(&k.data_rng, 5);
        tlm_rng_seed(&k.aux_rng, 6);
        tlm_metric_row rows[3] = {{1, 64, 1e-3f, 3.5f, 3.6f, 1.0f, 100.0f},
                                  {2, 128, 2e-3f, 3.4f, 0.0f / 0.0f, 0.9f, 110.0f},
                                  {3, 192, 3e-3f, 3.3f, 3.2f, 0.8f, 120.0f}};
        k.history = rows;
        k.history_n = v ? 3 : 0;
        tlm_err e;
        if (tlm_ckpt_save(tmp, &k, &e))
            die("checkpoint", e.msg);
        size_t n;
        unsigned char *b = slurp(tmp, &n);
        put("checkpoint", v ? "valid-micro-2layers-mixed-history.tlmc" : "valid-micro-1layer.tlmc", b, n);
        if (v == 0) {
            put("checkpoint", "edge-header-only.tlmc", b, 200 < n ? 200 : n);
            b[8] = 2; /* version 2: from the future */
            put("checkpoint", "edge-future-version.tlmc", b, n);
        }
        free(b);
        free(k.params);
        free(k.m);
        free(k.v);
    }
    put("checkpoint", "edge-magic-only.tlmc", "TLMCKPT1", 8);
}

static void model_seeds(const char *tmp)
{
    tlm_config c = micro(2, 1);
    size_t count = count_of(&c);
    float *p = random_floats(count, 9);
    tlm_err e;
    if (tlm_safetensors_save(tmp, &c, p, &e))
        die("safetensors", e.msg);
    size_t n;
    unsigned char *b = slurp(tmp, &n);
    put("safetensors", "valid-micro-mixed.safetensors", b, n);
    put("safetensors", "edge-truncated.safetensors", b, n / 2);
    free(b);
    static const char empty[] = "\x02\0\0\0\0\0\0\0{}";
    put("safetensors", "edge-empty-header.safetensors", empty, sizeof empty - 1);
    static const char dup[] = "\x58\0\0\0\0\0\0\0{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":"
                              "[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
                              "\0\0\0\0";
    put("safetensors", "edge-duplicate-names.safetensors", dup, sizeof dup - 1);

    uint8_t *img;
    size_t size;
    if (tlm_pack_build(&c, p, NULL, NULL, &img, &size, &e))
        die("pack", e.msg);
    put("packfile", "valid-micro-mixed.tlmp", img, size);
    put("packfile", "edge-header-only.tlmp", img, 256 < size ? 256 : size);
    img[8] = 2;
    put("packfile", "edge-future-version.tlmp", img, size);
    free(img);
    tlm_config f = micro(1, 0);
    if (tlm_config_set_precision(&f, "all", TLM_PREC_FP32, &e) < 1)
        die("precision", e.msg);
    tlm_pack_opts po = {TLM_STORE_INT8, TLM_STORE_FP16};
    if (tlm_pack_build(&f, p, &po, NULL, &img, &size, &e))
        die("pack", e.msg);
    put("packfile", "valid-micro-fp32-int8emb-fp16head.tlmp", img, size);
    free(img);
    free(p);
}

/* A llama2.c tokenizer: <unk> <s> </s>, the 256 byte pieces, a few merges. */
static void bpe_seeds(void)
{
    static const char *const extra[] = {" ", "e", "t", "h", "a", "o", " t", "th", "he", " the",
                                        "Once", " upon", "é", "日本"};
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    uint32_t max_len = 8;
    memcpy(b, &max_len, 4);
    n = 4;
    for (int i = 0; i < 3 + 256 + (int)(sizeof extra / sizeof extra[0]); i++) {
        char piece[16];
        if (i < 3)
            snprintf(piece, sizeof piece, "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
        else if (i < 259)
            snprintf(piece, sizeof piece, "<0x%02X>", i - 3);
        else
            snprintf(piece, sizeof piece, "%s", extra[i - 259]);
        float score = i < 259 ? 0.0f : -(float)(i - 259);
        uint32_t len = (uint32_t)strlen(piece);
        memcpy(b + n, &score, 4);
        memcpy(b + n + 4, &len, 4);
        memcpy(b + n + 8, piece, len);
        n += 8 + len;
    }
    put("bpe", "valid-minimal.bin", b, n);
    put("bpe", "edge-truncated-record.bin", b, n - 3);
    uint32_t zero = 0;
    memcpy(b, &zero, 4);
    put("bpe", "edge-max-len-0.bin", b, n);
    free(b);
}

static void wordpiece_seeds(void)
{
    put_str("wordpiece", "valid-minimal.txt",
            "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n.\n,\n'\na\nb\nc\nd\ne\nh\ni\nn\no\nt\nthe\n"
            "once\nupon\n##s\n##ing\n##e\n##t\n日\n本\n");
    put_str("wordpiece", "valid-crlf-no-final-newline.txt",
            "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nthe\r\n##ing\r\nrun");
    put_str("wordpiece", "edge-no-sep.txt", "[PAD]\n[UNK]\n[CLS]\nthe\n");
    put_str("wordpiece", "edge-duplicates.txt", "[UNK]\n[CLS]\n[SEP]\nthe\nthe\n\n\n##\n");
}

static void config_seeds(void)
{
    tlm_config c = micro(2, 1), nano;
    tlm_err e;
    char buf[1 << 16];
    tlm_config_serialize(&c, buf, sizeof buf);
    put_str("config", "valid-micro-serialized.txt", buf);
    if (tlm_config_preset(&nano, "nano", &e))
        die("preset", e.msg);
    tlm_config_serialize(&nano, buf, sizeof buf);
    put_str("config", "valid-nano-serialized.txt", buf);
    put_str("config", "valid-file.cfg",
            "# a config file\npreset = nano\ndim = 128   # wider\nheads = 4\nlr = 3e-4\n"
            "precision.*.mlp.down = int8\nprecision.L0-1.attn.* = fp32\nsteps=10\n");
    put_str("config", "edge-overflow.cfg", "dim = 2147483646\nhidden = 2147483647\nvocab=2147483647\n");
    put_str("config", "edge-bad-key.cfg", "preset = nano\nno_such_key = 1\nlayers = 9999\n");
}

static void console_seeds(void)
{
    static const char *const lines[][2] = {
        {"valid-gen.txt", "gen \"Once upon a time\" n=40 temp=0.8 top_k=40 seed=7"},
        {"valid-precision.txt", "precision L0.* fp32"},
        {"valid-set.txt", "set lr=1e-3"},
        {"valid-step.txt", "step 5   # five steps"},
        {"valid-save.txt", "save \"/tmp/a b.tlmc\""},
        {"valid-escapes.txt", "gen \"say \\\"hi\\\"\\n\\t\\\\\" n=3"},
        {"valid-inspect.txt", "inspect L1.mlp.down"},
        {"valid-help.txt", "help precision"},
        {"edge-unterminated.txt", "gen \"no end"},
        {"edge-empty-key.txt", "gen =5"},
        {"edge-many-words.txt", "a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7 8"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        put_str("console", lines[i][0], lines[i][1]);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkseeds CORPUS_DIR\n");
        return 2;
    }
    out = argv[1];
    mkdir(out, 0777);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/.mkseeds.tmp", out);
    checkpoint_seeds(tmp);
    model_seeds(tmp);
    remove(tmp);
    bpe_seeds();
    wordpiece_seeds();
    config_seeds();
    console_seeds();
    return 0;
}
