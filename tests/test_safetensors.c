/* test_safetensors.c - safetensors save/load: round trips, exact bytes,
 * metadata, inference from shapes, and hostile files. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "engine/io/safetensors.h"
#include "engine/model/params.h"
#include "tests/tap.h"

static char dir[4096];

/* ---- files ---- */

static void make_tmpdir(void)
{
    tap_make_tmpdir(dir, sizeof dir, "st");
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[8192];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int count_files(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static const char *tpath(const char *name)
{
    static char p[8][8192];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_all(const char *path, const void *a, size_t an, const void *b, size_t bn)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(a, 1, an, f) != an || (bn && fwrite(b, 1, bn, f) != bn)) {
        printf("Bail out! cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static void put_le64(unsigned char *p, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(x >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

/* Write a safetensors file from a header text (padded to 8) and a data blob. */
static void write_st(const char *path, const char *hdr, const void *data, size_t dlen)
{
    size_t n = strlen(hdr), full = (n + 7) & ~(size_t)7;
    unsigned char *b = malloc(8 + full);
    put_le64(b, full);
    memcpy(b + 8, hdr, n);
    memset(b + 8 + n, ' ', full - n);
    write_all(path, b, 8 + full, data, dlen);
    free(b);
}

/* ---- headers built by the test ---- */

/* The header as an object from the tensor table; meta adds __metadata__. */
static json_t *table_json(const tlm_config *cfg, int meta)
{
    int n = tlm_tensor_count(cfg);
    tlm_tensor_info *t = calloc((size_t)n, sizeof *t);
    tlm_tensor_table(cfg, t);
    json_t *root = json_object();
    if (meta) {
        char text[8192];
        tlm_config_serialize(cfg, text, sizeof text);
        json_object_set_new(root, "__metadata__", json_pack("{s:s}", "tlm.config", text));
    }
    for (int i = 0; i < n; i++) {
        json_t *shape = t[i].ndim == 2 ? json_pack("[i,i]", t[i].rows, t[i].cols)
                                       : json_pack("[i]", t[i].rows);
        json_object_set_new(root, t[i].name,
                            json_pack("{s:s,s:o,s:[I,I]}", "dtype", "F32", "shape", shape,
                                      "data_offsets", (json_int_t)(t[i].offset * 4),
                                      (json_int_t)((t[i].offset + t[i].numel) * 4)));
    }
    free(t);
    return root;
}

static void write_json(const char *path, json_t *root, const void *data, size_t dlen)
{
    char *s = json_dumps(root, JSON_COMPACT);
    write_st(path, s, data, dlen);
    free(s);
}

static void set_offsets(json_t *root, const char *name, long long b, long long e)
{
    json_object_set_new(json_object_get(root, name), "data_offsets", json_pack("[I,I]", b, e));
}

static long long begin_of(json_t *root, const char *name)
{
    return json_integer_value(json_array_get(json_object_get(json_object_get(root, name),
                                                             "data_offsets"), 0));
}

/* ---- the cases ---- */

static tlm_config cfg_nano;
static tlm_params P;
static size_t bytes_nano;

static void expect_reject(const char *path, const char *what, const char *needle)
{
    tlm_config c, before;
    memset(&c, 0x5a, sizeof c);
    before = c;
    float *p = (float *)&before; /* any sentinel address */
    tlm_err e = {{0}};
    int rc = tlm_safetensors_load(path, &cfg_nano, &c, &p, &e);
    int good = rc == -1 && strstr(e.msg, needle) && strstr(e.msg, path) &&
               p == (float *)&before && !memcmp(&c, &before, sizeof c);
    ok(good, "%s rejected (want '%s'): %s", what, needle, e.msg);
}

static void test_round_trip(void)
{
    tlm_err e = {{0}};
    const char *f = tpath("nano.safetensors");
    ok(tlm_safetensors_save(f, &cfg_nano, P.mem, &e) == 0, "save nano: %s", e.msg);
    ok(count_files() == 1, "no temp file left behind");
    tlm_config c;
    float *p = NULL;
    int rc = tlm_safetensors_load(f, &cfg_nano, &c, &p, &e);
    ok(rc == 0, "load nano: %s", e.msg);
    ok(p && !memcmp(p, P.mem, bytes_nano), "params bit-identical after round trip");
    char a[8192], b[8192];
    tlm_config_serialize(&cfg_nano, a, sizeof a);
    tlm_config_serialize(&c, b, sizeof b);
    ok(rc == 0 && !strcmp(a, b), "config equal after round trip");
    free(p);
    p = NULL;
    rc = tlm_safetensors_load(f, NULL, &c, &p, &e);
    tlm_config_serialize(&c, b, sizeof b);
    ok(rc == 0 && !strcmp(a, b) && !memcmp(p, P.mem, bytes_nano),
       "load without a base config gives the stored config: %s", rc ? e.msg : "");
    free(p);
    ok(tlm_safetensors_sniff(f) == 1, "sniff recognises the file");
    ok(tlm_safetensors_sniff(tpath("none")) == 0, "sniff of a missing file is 0");
    write_all(tpath("text.txt"), "hello world, not weights\n", 25, NULL, 0);
    ok(tlm_safetensors_sniff(tpath("text.txt")) == 0, "sniff of a text file is 0");
    unlink(tpath("text.txt"));
}

static void test_file_layout(void)
{
    const char *f = tpath("nano.safetensors");
    size_t len;
    unsigned char *b = read_all(f, &len);
    uint64_t n = get_le64(b);
    ok(n % 8 == 0 && 8 + n + bytes_nano == len, "header length %llu: multiple of 8, file = 8 + "
       "header + %zu data bytes", (unsigned long long)n, bytes_nano);
    char *h = strndup((char *)b + 8, (size_t)n);
    size_t raw = strlen(h);
    while (raw && h[raw - 1] == ' ')
        raw--;
    ok(h[0] == '{' && h[raw - 1] == '}' && n - raw < 8, "header is a JSON object padded with "
       "spaces");
    json_error_t je;
    json_t *root = json_loadb(h, n, 0, &je);
    int nt = tlm_tensor_count(&cfg_nano), bad = 0;
    tlm_tensor_info *t = calloc((size_t)nt, sizeof *t);
    tlm_tensor_table(&cfg_nano, t);
    const char *last = h;
    for (int i = 0; i < nt; i++) {
        char key[80];
        snprintf(key, sizeof key, "\"%s\":", t[i].name);
        const char *at = strstr(h, key);
        json_t *o = json_object_get(root, t[i].name);
        json_t *sh = json_object_get(o, "shape"), *off = json_object_get(o, "data_offsets");
        bad += !at || at < last;
        last = at ? at : last;
        bad += strcmp(json_string_value(json_object_get(o, "dtype")), "F32") != 0;
        bad += (int)json_array_size(sh) != t[i].ndim ||
               json_integer_value(json_array_get(sh, 0)) != t[i].rows ||
               (t[i].ndim == 2 && json_integer_value(json_array_get(sh, 1)) != t[i].cols);
        bad += json_integer_value(json_array_get(off, 0)) != (json_int_t)(t[i].offset * 4) ||
               json_integer_value(json_array_get(off, 1)) !=
                   (json_int_t)((t[i].offset + t[i].numel) * 4);
    }
    ok(root && json_object_size(root) == (size_t)nt + 1 && bad == 0,
       "every tensor in table order with dtype F32, shape and contiguous offsets (%d bad)", bad);
    json_t *meta = json_object_get(root, "__metadata__");
    char text[8192];
    tlm_config_serialize(&cfg_nano, text, sizeof text);
    const char *jc = json_string_value(json_object_get(meta, "tlm.config"));
    ok(jc && !strcmp(jc, text), "metadata tlm.config is the serialized config");
    const char *fmt = json_string_value(json_object_get(meta, "format"));
    ok(fmt && !strcmp(fmt, "pt"), "metadata format is pt");
    const char *jp = json_string_value(json_object_get(meta, "tlm.precision"));
    ok(jp && strlen(jp) == 14 * 8 - 1 && !strncmp(jp, "ternary,ternary,", 16),
       "metadata tlm.precision lists 14 linears");
    ok(!memcmp(b + 8 + n, P.mem, bytes_nano), "data region equals the params memory");
    json_decref(root);
    free(t);
    free(h);
    free(b);
}

/* JSON string escape for the few characters a config text can hold. */
static void json_escape(const char *s, char *out)
{
    for (; *s; s++) {
        if (*s == '\n')
            *out++ = '\\', *out++ = 'n';
        else if (*s == '"' || *s == '\\')
            *out++ = '\\', *out++ = *s;
        else
            *out++ = *s;
    }
    *out = 0;
}

/* A model small enough to write its file out by hand. */
static void small_config(tlm_config *c)
{
    tlm_err e;
    tlm_config_preset(c, "nano", &e);
    c->dim = 4;
    c->n_heads = 2;
    c->hidden = 6;
    c->vocab = 5;
    c->n_layers = 1;
    c->ctx = 2;
    c->max_ctx = 4;
}

static void test_exact_bytes(void)
{
    static const struct {
        const char *name;
        int r, c;
    } tens[] = {
        {"token_emb.weight", 5, 4},           {"blocks.0.norm1.weight", 4, 0},
        {"blocks.0.attn.q_proj.weight", 4, 4}, {"blocks.0.attn.k_proj.weight", 4, 4},
        {"blocks.0.attn.v_proj.weight", 4, 4}, {"blocks.0.attn.out_proj.weight", 4, 4},
        {"blocks.0.norm2.weight", 4, 0},      {"blocks.0.mlp.gate_proj.weight", 6, 4},
        {"blocks.0.mlp.up_proj.weight", 6, 4}, {"blocks.0.mlp.down_proj.weight", 4, 6},
        {"norm.weight", 4, 0},                {"head.weight", 5, 4},
        {"head.bias", 5, 0}};
    tlm_config c;
    small_config(&c);
    tlm_config_set_precision(&c, "L0.attn.v", TLM_PREC_INT8, NULL);
    tlm_config_set_precision(&c, "L0.mlp.down", TLM_PREC_FP32, NULL);
    float data[193];
    for (int i = 0; i < 193; i++)
        data[i] = (float)i * 0.25f - 3.0f;
    char text[8192], esc[16384], hdr[32768];
    tlm_config_serialize(&c, text, sizeof text);
    json_escape(text, esc);
    int n = snprintf(hdr, sizeof hdr, "{\"__metadata__\":{\"tlm.config\":\"%s\",\"tlm.precision\":"
                     "\"ternary,ternary,int8,ternary,ternary,ternary,fp32\",\"format\":\"pt\"}",
                     esc);
    long off = 0;
    for (size_t i = 0; i < sizeof tens / sizeof tens[0]; i++) {
        long numel = (long)tens[i].r * (tens[i].c ? tens[i].c : 1);
        char shape[32];
        if (tens[i].c)
            snprintf(shape, sizeof shape, "%d,%d", tens[i].r, tens[i].c);
        else
            snprintf(shape, sizeof shape, "%d", tens[i].r);
        n += snprintf(hdr + n, sizeof hdr - (size_t)n,
                      ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[%ld,%ld]}",
                      tens[i].name, shape, off * 4, (off + numel) * 4);
        off += numel;
    }
    n += snprintf(hdr + n, sizeof hdr - (size_t)n, "}");
    char want[8192], got[8192], cut[8192];
    snprintf(want, sizeof want, "%s", tpath("want.safetensors"));
    snprintf(got, sizeof got, "%s", tpath("small.safetensors"));
    snprintf(cut, sizeof cut, "%s", tpath("cut.safetensors"));
    write_st(want, hdr, data, sizeof data);
    tlm_err e = {{0}};
    int rc = tlm_safetensors_save(got, &c, data, &e);
    size_t la, lb;
    unsigned char *a = read_all(want, &la), *b = read_all(got, &lb);
    ok(off == 193 && rc == 0 && la == lb && !memcmp(a, b, la),
       "hand-built small model: file is byte-for-byte as expected (%zu bytes) %s", lb, e.msg);
    /* truncation at every byte of the small file */
    int accepted = 0, named = 0;
    for (size_t n_cut = 0; n_cut < lb; n_cut++) {
        write_all(cut, b, n_cut, NULL, 0);
        tlm_config c2;
        float *p = NULL;
        if (tlm_safetensors_load(cut, NULL, &c2, &p, &e) == 0) {
            accepted++;
            free(p);
        } else {
            named += strstr(e.msg, "cut.safetensors") != NULL;
        }
    }
    ok(accepted == 0 && named == (int)lb, "small file truncated at each of %zu bytes: all "
       "rejected with the file named (%d accepted)", lb, accepted);
    tlm_config c3;
    float *p = NULL;
    rc = tlm_safetensors_load(got, NULL, &c3, &p, &e);
    ok(rc == 0 && c3.prec[2] == TLM_PREC_INT8 && c3.prec[6] == TLM_PREC_FP32 &&
       c3.prec[0] == TLM_PREC_TERNARY && p && !memcmp(p, data, sizeof data),
       "small model loads back with its precisions: %s", rc ? e.msg : "");
    free(p);
    unlink(want);
    unlink(got);
    unlink(cut);
    free(a);
    free(b);
}

static void test_precision(void)
{
    tlm_config c = cfg_nano, back;
    tlm_err e = {{0}};
    tlm_config_set_precision(&c, "L0.attn.q", TLM_PREC_INT8, &e);
    tlm_config_set_precision(&c, "L1.mlp.down", TLM_PREC_FP32, &e);
    tlm_config_set_precision(&c, "*.attn.v", TLM_PREC_FP32, &e);
    const char *f = tpath("prec.safetensors");
    float *p = NULL;
    int rc = tlm_safetensors_save(f, &c, P.mem, &e) || tlm_safetensors_load(f, &cfg_nano, &back,
                                                                            &p, &e);
    ok(rc == 0 && !memcmp(back.prec, c.prec, sizeof c.prec) && back.prec[0] == TLM_PREC_INT8 &&
       back.prec[13] == TLM_PREC_FP32 && back.prec[9] == TLM_PREC_FP32,
       "precision round trip (int8 / fp32 linears): %s", e.msg);
    free(p);
    size_t len;
    unsigned char *b = read_all(f, &len);
    const char *want = "\"tlm.precision\":\"int8,ternary,fp32,ternary,ternary,ternary,ternary,"
                       "ternary,ternary,fp32,ternary,ternary,ternary,fp32\"";
    ok(b && memmem(b, len, want, strlen(want)) != NULL,
       "tlm.precision text in the header");
    free(b);

    /* metadata with only tlm.precision: shapes inferred, precision applied */
    json_t *root = table_json(&cfg_nano, 0);
    json_object_set_new(root, "__metadata__",
                        json_pack("{s:s}", "tlm.precision",
                                  "fp32,int8,t,8,f,ternary,ternary,ternary,ternary,ternary,"
                                  "ternary,ternary,ternary,int8"));
    write_json(f, root, P.mem, bytes_nano);
    p = NULL;
    rc = tlm_safetensors_load(f, &cfg_nano, &back, &p, &e);
    ok(rc == 0 && back.prec[0] == TLM_PREC_FP32 && back.prec[1] == TLM_PREC_INT8 &&
       back.prec[2] == TLM_PREC_TERNARY && back.prec[3] == TLM_PREC_INT8 &&
       back.prec[4] == TLM_PREC_FP32 && back.prec[13] == TLM_PREC_INT8 && back.dim == 64,
       "tlm.precision alone overrides the inferred precision: %s", rc ? e.msg : "");
    free(p);
    json_object_set_new(root, "__metadata__",
                        json_pack("{s:s}", "tlm.precision", "ternary,ternary,ternary"));
    write_json(f, root, P.mem, bytes_nano);
    expect_reject(f, "tlm.precision with 3 entries", "3 entries, 14 expected");
    json_object_set_new(root, "__metadata__",
                        json_pack("{s:s}", "tlm.precision",
                                  "ternary,ternary,ternary,ternary,ternary,ternary,ternary,"
                                  "ternary,ternary,ternary,ternary,ternary,ternary,int4"));
    write_json(f, root, P.mem, bytes_nano);
    expect_reject(f, "tlm.precision with a bad name", "entry 13 is not");
    json_decref(root);
    unlink(f);
}

static void test_inference(void)
{
    const char *f = tpath("plain.safetensors");
    json_t *root = table_json(&cfg_nano, 0);
    write_json(f, root, P.mem, bytes_nano);
    json_decref(root);
    tlm_config c, tiny;
    float *p = NULL;
    tlm_err e = {{0}};
    int rc = tlm_safetensors_load(f, &cfg_nano, &c, &p, &e);
    ok(rc == 0 && c.dim == 64 && c.vocab == 4096 && c.n_layers == 2 && c.hidden == 170 &&
       c.n_heads == 1 && c.ctx == 128 && c.max_ctx == 512,
       "no metadata: shapes inferred (dim %d vocab %d layers %d hidden %d heads %d) %s", c.dim,
       c.vocab, c.n_layers, c.hidden, c.n_heads, e.msg);
    ok(p && !memcmp(p, P.mem, bytes_nano), "no metadata: params bit-identical");
    free(p);
    p = NULL;
    tlm_config_preset(&tiny, "tiny", &e);
    rc = tlm_safetensors_load(f, &tiny, &c, &p, &e);
    ok(rc == 0 && c.dim == 64 && c.batch == 16 && c.steps == 3000 &&
       !strcmp(c.train_data, tiny.train_data), "no metadata: training keys from the base config");
    free(p);
    p = NULL;
    rc = tlm_safetensors_load(f, NULL, &c, &p, &e);
    ok(rc == 0 && c.dim == 64 && c.n_layers == 2, "no metadata and no base config: %s",
       rc ? e.msg : "ok");
    free(p);

    /* metadata config present: training keys from base, architecture from the file */
    const char *g = tpath("nano.safetensors");
    p = NULL;
    rc = tlm_safetensors_load(g, &tiny, &c, &p, &e);
    ok(rc == 0 && c.dim == 64 && c.n_heads == 2 && c.ctx == 32 && c.batch == 16 &&
       !strcmp(c.preset, "nano"), "metadata: architecture from the file, training keys from base");
    free(p);

    root = table_json(&cfg_nano, 0);
    json_object_del(root, "token_emb.weight");
    write_json(f, root, P.mem, bytes_nano);
    expect_reject(f, "no metadata and no token_emb.weight", "token_emb.weight");
    json_decref(root);
    unlink(f);
}

static void test_truncation(void)
{
    const char *src = tpath("nano.safetensors"), *f = tpath("trunc.safetensors");
    size_t len;
    unsigned char *b = read_all(src, &len);
    write_all(f, b, len, NULL, 0);
    uint64_t n = get_le64(b);
    /* cut points, in decreasing order so one copy serves all */
    size_t cuts[1024];
    int nc = 0;
    for (size_t k = 1; k <= 200; k++)
        cuts[nc++] = len - k * (len / 211);
    size_t bound[] = {8 + (size_t)n + 4, 8 + (size_t)n + 1, 8 + (size_t)n, 8 + (size_t)n - 1,
                      8 + (size_t)n / 2};
    for (size_t k = 0; k < sizeof bound / sizeof bound[0]; k++)
        cuts[nc++] = bound[k];
    for (int k = 199; k >= 0; k--)
        cuts[nc++] = (size_t)k;
    cuts[0] = len - 1;
    int accepted = 0, named = 0, tried = 0;
    size_t prev = len;
    tlm_err e = {{0}};
    for (int k = 0; k < nc; k++) {
        if (cuts[k] >= prev)
            continue;
        prev = cuts[k];
        if (truncate(f, (off_t)cuts[k]))
            break;
        tlm_config c;
        float *p = NULL;
        tried++;
        if (tlm_safetensors_load(f, &cfg_nano, &c, &p, &e) == 0) {
            accepted++;
            free(p);
        } else {
            named += strstr(e.msg, f) != NULL;
        }
    }
    ok(tried > 380 && accepted == 0 && named == tried, "truncated at %d offsets (first 200 bytes, "
       "the header end, a sample): all rejected (%d accepted)", tried, accepted);
    unlink(f);
    free(b);
}

/* Hostile headers built from the good one. */
static void test_hostile(void)
{
    const char *f = tpath("bad.safetensors");
    size_t dl = bytes_nano;
    unsigned char *data = calloc(1, dl + 64);
    memcpy(data, P.mem, dl);
    json_t *good = table_json(&cfg_nano, 1), *r;
    unsigned char hb[16];

    write_all(f, "\x10\0\0", 3, NULL, 0);
    expect_reject(f, "file of 3 bytes", "too short");
    put_le64(hb, 1000);
    memcpy(hb + 8, "{}      ", 8);
    write_all(f, hb, 16, NULL, 0);
    expect_reject(f, "header length larger than the file", "larger than the file");
    put_le64(hb, (uint64_t)1 << 63);
    write_all(f, hb, 16, NULL, 0);
    expect_reject(f, "header length 2^63", "100 MB");
    put_le64(hb, 100000008);
    write_all(f, hb, 16, NULL, 0);
    expect_reject(f, "header length just over 100 MB", "100 MB");

    write_st(f, "this is not json", data, dl);
    expect_reject(f, "non-JSON header", "not start with '{'");
    write_st(f, "{\"a\": [1, 2", data, dl);
    expect_reject(f, "unterminated JSON header", "not valid JSON");
    write_st(f, "{} trailing", data, dl);
    expect_reject(f, "garbage after the JSON object", "not valid JSON");
    write_st(f, "{}", data, dl);
    expect_reject(f, "empty object", "no tensors");

    r = json_deep_copy(good);
    set_offsets(r, "blocks.0.norm1.weight", begin_of(r, "blocks.0.norm1.weight") - 4,
                begin_of(r, "blocks.0.norm1.weight") - 4 + 256);
    write_json(f, r, data, dl);
    expect_reject(f, "overlapping offsets", "overlap");
    json_decref(r);

    r = json_deep_copy(good);
    set_offsets(r, "head.bias", begin_of(r, "head.bias") + 4, begin_of(r, "head.bias") + 4 + 4 * 4096);
    write_json(f, r, data, dl + 4);
    expect_reject(f, "hole before the last tensor", "hole");
    json_decref(r);

    write_json(f, good, data, dl + 8);
    expect_reject(f, "data after the last tensor", "after the last tensor");

    write_json(f, good, data, dl - 4);
    expect_reject(f, "data area 4 bytes short", "out of range");

    r = json_deep_copy(good);
    set_offsets(r, "norm.weight", 100, 50);
    write_json(f, r, data, dl);
    expect_reject(f, "end before begin", "out of range");
    set_offsets(r, "norm.weight", -8, 248);
    write_json(f, r, data, dl);
    expect_reject(f, "negative offset", "non-negative");
    set_offsets(r, "norm.weight", 0, 252);
    write_json(f, r, data, dl);
    expect_reject(f, "offsets not matching the shape", "span 252 bytes");
    json_object_set_new(json_object_get(r, "norm.weight"), "data_offsets", json_pack("[i]", 0));
    write_json(f, r, data, dl);
    expect_reject(f, "one data offset", "data_offsets");
    json_decref(r);

    r = json_deep_copy(good);
    json_object_set_new(json_object_get(r, "head.bias"), "dtype", json_string("F16"));
    write_json(f, r, data, dl);
    expect_reject(f, "dtype F16", "dtype 'F16'");
    json_object_del(json_object_get(r, "head.bias"), "dtype");
    write_json(f, r, data, dl);
    expect_reject(f, "missing dtype", "missing 'dtype'");
    json_decref(r);

    r = json_deep_copy(good);
    json_object_set_new(json_object_get(r, "blocks.0.mlp.gate_proj.weight"), "shape",
                        json_pack("[i,i]", 64, 170));
    write_json(f, r, data, dl);
    expect_reject(f, "transposed gate_proj shape", "shape [64, 170] does not match");
    json_object_set_new(json_object_get(r, "blocks.0.mlp.gate_proj.weight"), "shape",
                        json_pack("[i,i,i]", 170, 64, 1));
    write_json(f, r, data, dl);
    expect_reject(f, "3-D shape", "3 dimensions");
    json_object_set_new(json_object_get(r, "blocks.0.mlp.gate_proj.weight"), "shape",
                        json_pack("[I,i]", (json_int_t)1 << 40, 64));
    write_json(f, r, data, dl);
    expect_reject(f, "dimension 2^40", "shape entry 0");
    json_decref(r);

    char *s = json_dumps(good, JSON_COMPACT);
    char *k = strstr(s, "\"blocks.0.norm2.weight\"");
    memcpy(k, "\"blocks.0.norm1.weight\"", 23);
    write_st(f, s, data, dl);
    free(s);
    expect_reject(f, "duplicate key", "duplicate");

    r = json_deep_copy(good);
    json_object_set_new(r, "extra.weight",
                        json_pack("{s:s,s:[i],s:[I,I]}", "dtype", "F32", "shape", 2, "data_offsets",
                                  (json_int_t)dl, (json_int_t)dl + 8));
    write_json(f, r, data, dl + 8);
    expect_reject(f, "unknown tensor", "unknown tensor 'extra.weight'");
    json_decref(r);

    r = json_deep_copy(good);
    json_object_del(r, "head.bias");
    write_json(f, r, data, dl - 4 * 4096);
    expect_reject(f, "missing tensor", "missing tensor 'head.bias'");
    json_decref(r);

    r = json_deep_copy(good);
    json_object_set_new(json_object_get(r, "__metadata__"), "x", json_integer(3));
    write_json(f, r, data, dl);
    expect_reject(f, "metadata value not a string", "not a string");
    json_object_set_new(r, "__metadata__", json_pack("{s:s}", "tlm.config", "dim=abc\n"));
    write_json(f, r, data, dl);
    expect_reject(f, "bad tlm.config", "tlm.config");
    json_object_set_new(r, "__metadata__", json_pack("[]"));
    write_json(f, r, data, dl);
    expect_reject(f, "metadata not an object", "__metadata__");
    json_object_set_new(r, "__metadata__", json_object());
    json_object_set_new(r, "head.bias", json_string("x"));
    write_json(f, r, data, dl);
    expect_reject(f, "tensor entry not an object", "not an object");
    json_decref(r);

    write_st(f, "[1,2]", data, dl);
    expect_reject(f, "header is an array", "not start with '{'");

    expect_reject(tpath("does-not-exist"), "missing file", "No such file");
    json_decref(good);
    free(data);
    unlink(f);

    tlm_err e = {{0}};
    ok(tlm_safetensors_save("/proc/tlm-no-such/x.safetensors", &cfg_nano, P.mem, &e) == -1 &&
       strstr(e.msg, "/proc/tlm-no-such/x.safetensors"), "save to an unwritable path: %s", e.msg);
    ok(tlm_safetensors_save(tpath("no/such/dir/x.safetensors"), &cfg_nano, P.mem, &e) == -1 &&
       strstr(e.msg, "cannot create"), "save into a missing folder: %s", e.msg);
}

int main(void)
{
    tlm_err e;
    make_tmpdir();
    if (tlm_config_preset(&cfg_nano, "nano", &e) || tlm_params_alloc(&P, &cfg_nano, &e)) {
        printf("Bail out! %s\n", e.msg);
        return 1;
    }
    tlm_params_init(&P, &cfg_nano, 7);
    bytes_nano = P.count * sizeof(float);
    test_round_trip();
    test_file_layout();
    test_exact_bytes();
    test_precision();
    test_inference();
    test_truncation();
    test_hostile();
    tlm_params_free(&P);
    unlink(tpath("nano.safetensors"));
    ok(count_files() == 0, "temp folder empty at the end");
    remove_tmpdir();
    return tap_done();
}
