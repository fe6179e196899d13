/* test_corrupt.c - hostile model files beyond the per-format tests
 * (test_checkpoint, test_safetensors, test_infer flip and cut bytes in front of
 * the checksums). Here:
 *   1. every bit of a checkpoint's and a packed model's header flipped with
 *      the checksums recomputed, so the parser itself meets the corruption:
 *      each file is rejected with a message naming it, or accepted as a
 *      self-consistent state (sizes agree; re-saved, it loads back equal);
 *   2. a nano checkpoint, safetensors file and packed model cut at every
 *      section / tensor boundary, opened through the entry points the
 *      commands use (tlm_infer_open, tlm_modelfile_load): always rejected;
 *   3. crafted: dimensions whose 64-bit products overflow, absurd counts,
 *      unaligned offsets, in all three formats; a safetensors file with an
 *      unpadded header (unaligned data) is still read exactly. */
#include <jansson.h>
#include <stdint.h>
#include <unistd.h>
#include <zlib.h>
#include "engine/infer/infer_impl.h"
#include "engine/io/checkpoint.h"
#include "engine/io/modelfile.h"
#include "engine/io/safetensors.h"
#include "engine/model/params.h"
#include "tests/bytes.h"
#include "tests/tap.h"

static char dir[4096];

static char *tpath(char *buf, const char *name)
{
    snprintf(buf, 8192, "%s/%s", dir, name);
    return buf;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    *n = 0;
    if (f && !fseek(f, 0, SEEK_END)) {
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        b = malloc((size_t)len + 1);
        if (b && fread(b, 1, (size_t)len, f) == (size_t)len)
            *n = (size_t)len;
    }
    if (f)
        fclose(f);
    return b;
}

static void write_all(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
        printf("Bail out! cannot write %s\n", path);
        exit(1);
    }
}

/* Recompute the header crc (at H, u32 at byte 12) and, for checkpoints, the
 * payload crc in the last 4 bytes. */
static void fix_crcs(unsigned char *b, size_t n, int payload)
{
    uint32_t H = le32(b + 12);
    if (H < 16 || (uint64_t)H + 4 > n)
        return;
    put32(b + H, (uint32_t)crc32(0, b, H));
    if (payload && (uint64_t)H + 8 <= n)
        put32(b + n - 4, (uint32_t)crc32(0, b + H + 4, (uInt)(n - H - 8)));
}

/* nano cut down to dim 8, vocab 16; a long tokenizer value leaves room to
 * rewrite the stored config in place. */
static tlm_config micro(int layers)
{
    tlm_config c;
    tlm_err e;
    tlm_config_preset(&c, "nano", &e);
    c.dim = 8;
    c.n_heads = 2;
    c.hidden = 16;
    c.vocab = 16;
    c.ctx = c.max_ctx = 8;
    c.n_layers = layers;
    memset(c.tokenizer, 0, sizeof c.tokenizer);
    memset(c.tokenizer, 'x', 120);
    tlm_config_set_precision(&c, "*.mlp.down", TLM_PREC_INT8, &e);
    tlm_config_set_precision(&c, "L0.attn.q", TLM_PREC_FP32, &e);
    return c;
}

static float *rand_floats(size_t n, uint64_t seed)
{
    tlm_rng r;
    tlm_rng_seed(&r, seed);
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && i < n; i++)
        p[i] = 0.05f * tlm_rng_normal(&r);
    return p;
}

static size_t count_of(const tlm_config *c)
{
    uint64_t n = 0;
    tlm_err e;
    tlm_config_param_count(c, &n, &e);
    return (size_t)n;
}

/* Overwrite the stored tokenizer line (tokenizer=xxx...) of the config text
 * inside b[0..n) with `text` padded by newlines to the same length. */
static int rewrite_config(unsigned char *b, size_t n, const char *text)
{
    const char key[] = "tokenizer=xxxxxxxx";
    unsigned char *p = memmem(b, n, key, sizeof key - 1);
    if (!p)
        return -1;
    size_t len = 10 + 120, t = strlen(text);
    if (t > len)
        return -1;
    memset(p, '\n', len);
    memcpy(p, text, t);
    return 0;
}

/* ---- 1. every header bit behind the checksums ---- */

static int same_state(const tlm_ckpt *a, const tlm_ckpt *b)
{
    char x[8192], y[8192];
    size_t nx = tlm_config_serialize(&a->cfg, x, sizeof x), ny = tlm_config_serialize(&b->cfg, y, sizeof y);
    return a->count == b->count && nx == ny && !memcmp(x, y, nx) && a->step == b->step &&
           !memcmp(&a->tokens, &b->tokens, sizeof a->tokens) &&
           !memcmp(a->params, b->params, a->count * 4) && !memcmp(a->m, b->m, a->count * 4) &&
           !memcmp(a->v, b->v, a->count * 4) && a->history_n == b->history_n &&
           !memcmp(&a->data_rng, &b->data_rng, sizeof a->data_rng) &&
           a->tokenizer_hash == b->tokenizer_hash;
}

static void test_ckpt_header_bits(void)
{
    tlm_ckpt k;
    memset(&k, 0, sizeof k);
    k.cfg = micro(2);
    k.count = count_of(&k.cfg);
    k.params = rand_floats(k.count, 1);
    k.m = rand_floats(k.count, 2);
    k.v = rand_floats(k.count, 3);
    k.step = 9;
    k.tokens = 4096;
    tlm_metric_row rows[2] = {{1, 64, 1e-3f, 3.5f, NAN, 1.0f, 100.0f}, {2, 128, 2e-3f, 3.4f, 3.3f, 0.9f, 110.0f}};
    k.history = rows;
    k.history_n = 2;
    char f[8192], t[8192], r[8192];
    tlm_err e = {{0}};
    int rc = tlm_ckpt_save(tpath(f, "micro.tlmc"), &k, &e);
    size_t n;
    unsigned char *b = read_all(f, &n), *c = malloc(n);
    uint32_t H = rc == 0 && b ? le32(b + 12) : 0;
    int tried = 0, rejected = 0, unnamed = 0, accepted = 0, inconsistent = 0, resaved = 0;
    for (uint32_t i = 0; i < H; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(c, b, n);
            c[i] ^= (unsigned char)(1u << bit);
            fix_crcs(c, n, 1);
            write_all(tpath(t, "flip.tlmc"), c, n);
            tlm_ckpt got;
            tried++;
            if (tlm_ckpt_load(t, &got, &e)) {
                rejected++;
                unnamed += strstr(e.msg, t) == NULL;
                continue;
            }
            accepted++;
            uint64_t want = 0;
            tlm_err e2;
            if (tlm_config_validate(&got.cfg, &e2) || tlm_config_param_count(&got.cfg, &want, &e2) ||
                want != got.count || !got.params || !got.m || !got.v)
                inconsistent++;
            else if (accepted % 64 == 1) { /* a sample goes through save and load again */
                tlm_ckpt again;
                resaved++;
                if (tlm_ckpt_save(tpath(r, "resaved.tlmc"), &got, &e2) || tlm_ckpt_load(r, &again, &e2))
                    inconsistent++;
                else {
                    inconsistent += !same_state(&got, &again);
                    tlm_ckpt_free(&again);
                }
            }
            tlm_ckpt_free(&got);
        }
    ok(rc == 0 && tried == (int)H * 8 && tried > 4000,
       "checkpoint: each of the %d bits of the %u-byte header flipped, checksums recomputed", tried, H);
    ok(tried > 0 && unnamed == 0, "%d rejected, every message names the file", rejected);
    ok(tried > 0 && inconsistent == 0 && rejected > tried / 4,
       "%d accepted (values such as step, tokens, RNG, lr): each self-consistent; %d re-saved and "
       "loaded back equal", accepted, resaved);
    unlink(t);
    unlink(r);
    free(b);
    free(c);
    free(k.params);
    free(k.m);
    free(k.v);
}

/* Bind an in-memory packed image (64-byte aligned copy); on success expand
 * it and check the sizes. Returns 1 accepted, 0 rejected, -1 inconsistent. */
static int bind_image(const unsigned char *img, size_t n, tlm_err *e)
{
    unsigned char *a = NULL;
    if (posix_memalign((void **)&a, 64, n))
        return -1;
    memcpy(a, img, n);
    tlm_infer *inf = calloc(1, sizeof *inf);
    int res = 0;
    if (tlm_pack_bind(inf, a, n, 1, "flip.tlmp", e) == 0) {
        float *p = NULL;
        res = tlm_pack_unpack(inf, &p, e) == 0 && p ? 1 : -1;
        free(p);
    }
    tlm_infer_free(inf);
    free(a);
    return res;
}

static void test_pack_header_bits(void)
{
    tlm_config c = micro(2);
    float *p = rand_floats(count_of(&c), 4);
    unsigned char *img = NULL, *x;
    size_t n = 0;
    tlm_err e = {{0}};
    int rc = tlm_pack_build(&c, p, NULL, NULL, &img, &n, &e);
    uint32_t H = rc == 0 ? le32(img + 12) : 0;
    x = malloc(n ? n : 1);
    int tried = 0, rejected = 0, accepted = 0, bad = 0, unnamed = 0;
    for (uint32_t i = 0; i < H; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(x, img, n);
            x[i] ^= (unsigned char)(1u << bit);
            fix_crcs(x, n, 0);
            tried++;
            int r = bind_image(x, n, &e);
            rejected += r == 0;
            accepted += r == 1;
            bad += r < 0;
            unnamed += r == 0 && !strstr(e.msg, "flip.tlmp");
        }
    ok(rc == 0 && tried == (int)H * 8 && tried > 8000,
       "packed model: each of the %d bits of the %u-byte header and tensor table flipped, header "
       "checksum recomputed", tried, H);
    ok(tried > 0 && bad == 0 && unnamed == 0 && rejected > tried / 2,
       "%d rejected naming the file, %d accepted and expanded to weights, none inconsistent",
       rejected, accepted);
    free(img);
    free(x);
    free(p);
}

/* ---- 2. nano files cut at every boundary, through the commands' openers ---- */

/* Open path as the commands do; 1 when any opener accepts it. *unnamed counts
 * messages that do not name the file. */
static int opened(const char *path, int *unnamed)
{
    tlm_err e = {{0}};
    tlm_infer *inf = NULL;
    int acc = 0;
    if (tlm_infer_open(&inf, path, 0, &e) == 0) {
        acc = 1;
        tlm_infer_free(inf);
    } else {
        *unnamed += strstr(e.msg, path) == NULL;
    }
    if (!tlm_infer_sniff(path)) {
        tlm_config cfg;
        float *params = NULL;
        if (tlm_modelfile_load(path, NULL, &cfg, &params, &e) == 0) {
            acc = 1;
            free(params);
        } else {
            *unnamed += strstr(e.msg, path) == NULL;
        }
    }
    return acc;
}

static int cmp_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Cut a copy of src at each of cuts[0..nc) (boundary points; +/-1 around each
 * are added) and 40 spread offsets; report. */
static void cut_everywhere(const char *what, const char *src, size_t *cuts, int nc)
{
    char t[8192];
    size_t n;
    unsigned char *b = read_all(src, &n);
    size_t all[1024];
    int k = 0;
    for (int i = 0; i < nc && k < 1000 - 3; i++)
        for (int d = -1; d <= 1; d++)
            if (cuts[i] + (size_t)d < n)
                all[k++] = cuts[i] + (size_t)d;
    for (int i = 0; i < 40 && n; i++)
        all[k++] = n / 41 * (size_t)(i + 1);
    all[k++] = 0;
    all[k++] = n - 1;
    qsort(all, (size_t)k, sizeof all[0], cmp_desc);
    snprintf(t, sizeof t, "%s.cut", src);
    write_all(t, b, n);
    int tried = 0, accepted = 0, unnamed = 0;
    size_t prev = n;
    for (int i = 0; i < k; i++) {
        if (all[i] >= prev)
            continue;
        prev = all[i];
        if (truncate(t, (off_t)all[i]))
            break;
        tried++;
        accepted += opened(t, &unnamed);
    }
    int whole = opened(src, &unnamed);
    ok(b && whole == 1 && tried > 2 * nc && accepted == 0 && unnamed == 0,
       "%s (%zu bytes) cut at %d offsets (every section boundary +/-1, a sample): all rejected "
       "naming the file, the whole file opens", what, n, tried);
    unlink(t);
    free(b);
}

static void test_nano_cuts(void)
{
    tlm_config c;
    tlm_params P;
    tlm_err e = {{0}};
    char f[8192];
    tlm_config_preset(&c, "nano", &e);
    if (tlm_params_alloc(&P, &c, &e)) {
        ok(0, "alloc nano: %s", e.msg);
        return;
    }
    tlm_params_init(&P, &c, 7);
    size_t cuts[512];
    int nc;
    /* checkpoint: header end, each section's start and end, the final crc */
    tlm_ckpt k;
    memset(&k, 0, sizeof k);
    k.cfg = c;
    k.count = P.count;
    k.params = k.m = k.v = P.mem;
    int rc = tlm_ckpt_save(tpath(f, "nano.tlmc"), &k, &e);
    size_t n;
    unsigned char *b = read_all(f, &n);
    if (rc == 0 && b) {
        uint32_t H = le32(b + 12), clen = le32(b + 120);
        nc = 0;
        cuts[nc++] = 16;
        cuts[nc++] = 128;
        cuts[nc++] = H;
        cuts[nc++] = H + 4;
        for (int s = 0; s < 4; s++) {
            const unsigned char *row = b + 128 + clen + 32 * s;
            cuts[nc++] = (size_t)le64(row + 16);
            cuts[nc++] = (size_t)(le64(row + 16) + le64(row + 24));
        }
        cuts[nc++] = n - 4;
        cut_everywhere("nano checkpoint", f, cuts, nc);
    } else {
        ok(0, "save nano checkpoint: %s", e.msg);
    }
    free(b);
    /* safetensors: the header end and every tensor's data offsets */
    rc = tlm_safetensors_save(tpath(f, "nano.safetensors"), &c, P.mem, &e);
    b = read_all(f, &n);
    if (rc == 0 && b) {
        uint64_t hl = le64(b);
        json_t *root = json_loadb((const char *)b + 8, (size_t)hl, 0, NULL);
        const char *key;
        json_t *v;
        nc = 0;
        cuts[nc++] = 8;
        cuts[nc++] = 8 + (size_t)hl;
        json_object_foreach(root, key, v) {
            json_t *o = json_object_get(v, "data_offsets");
            if (o && nc < 500) {
                cuts[nc++] = 8 + (size_t)hl + (size_t)json_integer_value(json_array_get(o, 0));
                cuts[nc++] = 8 + (size_t)hl + (size_t)json_integer_value(json_array_get(o, 1));
            }
        }
        json_decref(root);
        cut_everywhere("nano safetensors", f, cuts, nc);
    } else {
        ok(0, "save nano safetensors: %s", e.msg);
    }
    free(b);
    /* packed: the header, the table, every tensor's start and end */
    unsigned char *img = NULL;
    rc = tlm_pack_build(&c, P.mem, NULL, NULL, &img, &n, &e);
    if (rc == 0) {
        write_all(tpath(f, "nano.tlmp"), img, n);
        uint32_t H = le32(img + 12), nt = le32(img + 24), table = le32(img + 32);
        nc = 0;
        cuts[nc++] = 64;
        cuts[nc++] = table;
        cuts[nc++] = H;
        cuts[nc++] = H + 4;
        for (uint32_t i = 0; i < nt && nc < 500; i++) {
            const unsigned char *r = img + table + 48 * (size_t)i;
            cuts[nc++] = (size_t)le64(r + 16);
            cuts[nc++] = (size_t)(le64(r + 16) + le64(r + 24));
        }
        cut_everywhere("nano packed model", f, cuts, nc);
    } else {
        ok(0, "pack nano: %s", e.msg);
    }
    free(img);
    tlm_params_free(&P);
}

/* ---- 3. crafted sizes and offsets ---- */

static void expect_ckpt_reject(const char *path, const char *what, const char *const *needles)
{
    tlm_ckpt c;
    tlm_err e = {{0}};
    int rc = tlm_ckpt_load(path, &c, &e), found = 0;
    for (int i = 0; needles[i]; i++)
        found |= strstr(e.msg, needles[i]) != NULL;
    ok(rc == -1 && strstr(e.msg, path) && found, "checkpoint: %s rejected: %s", what, e.msg);
    if (rc == 0)
        tlm_ckpt_free(&c);
}

static void expect_pack_reject(const unsigned char *img, size_t n, const char *what, const char *needle)
{
    tlm_err e = {{0}};
    int r = bind_image(img, n, &e);
    ok(r == 0 && strstr(e.msg, "flip.tlmp") && strstr(e.msg, needle), "packed model: %s rejected: %s",
       what, e.msg);
}

static void expect_st(const char *path, const char *what, const char *needle)
{
    tlm_config cfg;
    float *p = NULL;
    tlm_err e = {{0}};
    int rc = tlm_safetensors_load(path, NULL, &cfg, &p, &e);
    ok(rc == -1 && strstr(e.msg, path) && strstr(e.msg, needle), "safetensors: %s rejected: %s",
       what, e.msg);
    free(p);
}

/* A config text in place of the tokenizer line: every size at the top of its
 * key's range, so only the products (parameters, B x T x width) are wrong. */
static const char huge_cfg[] = "layers=64\ndim=65536\nheads=2\nhidden=1048576\nvocab=16777216\n"
                               "ctx=65536\nmax_ctx=65536\nbatch=65536\n";
static const char *const huge_needles[] = {"absurdly large", NULL};

static void test_crafted_ckpt(void)
{
    tlm_ckpt k;
    memset(&k, 0, sizeof k);
    k.cfg = micro(1);
    k.count = count_of(&k.cfg);
    k.params = k.m = k.v = rand_floats(k.count, 5);
    char f[8192], t[8192];
    tlm_err e = {{0}};
    if (tlm_ckpt_save(tpath(f, "craft.tlmc"), &k, &e)) {
        ok(0, "save: %s", e.msg);
        free(k.params);
        return;
    }
    size_t n;
    unsigned char *b = read_all(f, &n), *c = malloc(n);
    uint32_t clen = le32(b + 120);
    tpath(t, "crafted.tlmc");

    memcpy(c, b, n);
    ok(rewrite_config(c, n, huge_cfg) == 0, "stored config rewritten in place");
    fix_crcs(c, n, 1);
    write_all(t, c, n);
    expect_ckpt_reject(t, "sizes whose products are absurd", huge_needles);

    static const char *const sec[] = {"section", NULL};
    memcpy(c, b, n);
    put64(c + 128 + clen + 32 + 16, le64(b + 128 + clen + 32 + 16) + 4);
    fix_crcs(c, n, 1);
    write_all(t, c, n);
    expect_ckpt_reject(t, "a section offset off its 64-byte alignment", sec);

    memcpy(c, b, n);
    put32(c + 124, 0xffffffffu);
    fix_crcs(c, n, 1);
    write_all(t, c, n);
    expect_ckpt_reject(t, "2^32-1 sections", sec);

    memcpy(c, b, n);
    put32(c + 120, 0xffffffffu);
    fix_crcs(c, n, 1);
    write_all(t, c, n);
    expect_ckpt_reject(t, "a config length of 2^32-1", sec);

    static const char *const cnt[] = {"parameters", "overflow", NULL};
    memcpy(c, b, n);
    put64(c + 104, UINT64_MAX / 4 + 2); /* count * 4 wraps to a small number */
    fix_crcs(c, n, 1);
    write_all(t, c, n);
    expect_ckpt_reject(t, "a float count whose byte size wraps 64 bits", cnt);
    unlink(t);
    free(b);
    free(c);
    free(k.params);
}

static void test_crafted_pack(void)
{
    tlm_config cfg = micro(1);
    float *p = rand_floats(count_of(&cfg), 6);
    unsigned char *img = NULL, *c;
    size_t n = 0;
    tlm_err e = {{0}};
    if (tlm_pack_build(&cfg, p, NULL, NULL, &img, &n, &e)) {
        ok(0, "pack: %s", e.msg);
        free(p);
        return;
    }
    c = malloc(n);
    uint32_t table = le32(img + 32);

    memcpy(c, img, n);
    rewrite_config(c, n, huge_cfg);
    fix_crcs(c, n, 0);
    expect_pack_reject(c, n, "sizes whose products are absurd", "absurdly large");

    memcpy(c, img, n);
    put32(c + 24, 0xffffffffu);
    fix_crcs(c, n, 0);
    expect_pack_reject(c, n, "2^32-1 tensors", "inconsistent header sizes");

    memcpy(c, img, n);
    put64(c + table + 48 + 16, le64(img + table + 48 + 16) + 4);
    fix_crcs(c, n, 0);
    expect_pack_reject(c, n, "a tensor offset off its 64-byte alignment", "misplaced");

    memcpy(c, img, n);
    put32(c + table + 48 + 8, 0xffffffffu);
    put32(c + table + 48 + 12, 0xffffffffu);
    fix_crcs(c, n, 0);
    expect_pack_reject(c, n, "a tensor of 2^32-1 x 2^32-1", "shape");

    memcpy(c, img, n);
    put64(c + table + 48 + 24, UINT64_MAX - 3);
    fix_crcs(c, n, 0);
    expect_pack_reject(c, n, "a tensor of 2^64-4 bytes", "bytes");
    free(c);
    free(img);
    free(p);
}

/* Write a safetensors file with header text h (no padding) and data. */
static void write_st(const char *path, const char *h, const void *data, size_t dl)
{
    size_t hl = strlen(h);
    unsigned char *b = malloc(8 + hl + dl);
    put64(b, hl);
    memcpy(b + 8, h, hl);
    memcpy(b + 8 + hl, data, dl);
    write_all(path, b, 8 + hl + dl);
    free(b);
}

static void test_crafted_safetensors(void)
{
    tlm_config cfg = micro(1), back;
    size_t count = count_of(&cfg);
    float *p = rand_floats(count, 8), *q = NULL;
    char f[8192], t[8192];
    tlm_err e = {{0}};
    if (tlm_safetensors_save(tpath(f, "craft.safetensors"), &cfg, p, &e)) {
        ok(0, "save: %s", e.msg);
        free(p);
        return;
    }
    size_t n;
    unsigned char *b = read_all(f, &n);
    size_t hl = (size_t)le64(b);
    const unsigned char *data = b + 8 + hl;
    size_t dl = n - 8 - hl;
    json_t *good = json_loadb((const char *)b + 8, hl, 0, NULL);
    tpath(t, "crafted.safetensors");
    const char *name = "blocks.0.mlp.up_proj.weight";

    /* unpadded header: the data starts at an odd offset; still read exactly */
    char *s = json_dumps(good, JSON_COMPACT);
    if (strlen(s) % 8 == 0) { /* make its length odd with a space inside */
        memmove(s + 2, s + 1, strlen(s));
        s[1] = ' ';
    }
    write_st(t, s, data, dl);
    free(s);
    int rc = tlm_safetensors_load(t, NULL, &back, &q, &e);
    ok(rc == 0 && q && !memcmp(q, p, count * 4), "safetensors: an unpadded header (data at an "
       "unaligned offset) is read bit-exactly: %s", rc ? e.msg : "ok");
    free(q);

    struct {
        const char *what, *needle;
        json_t *shape;
    } shapes[] = {
        {"shape [2^32, 2^32] (the product overflows 64 bits)", "shape",
         json_pack("[I,I]", (json_int_t)1 << 32, (json_int_t)1 << 32)},
        {"shape [2^62, 8]", "shape", json_pack("[I,i]", (json_int_t)1 << 62, 8)},
        {"shape [-1, 16]", "shape", json_pack("[i,i]", -1, 16)},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        json_t *r = json_deep_copy(good);
        json_object_set_new(json_object_get(r, name), "shape", shapes[i].shape);
        s = json_dumps(r, JSON_COMPACT);
        write_st(t, s, data, dl);
        free(s);
        json_decref(r);
        expect_st(t, shapes[i].what, shapes[i].needle);
    }
    json_t *r = json_deep_copy(good), *dims = json_array();
    for (int i = 0; i < 1000; i++)
        json_array_append_new(dims, json_integer(1));
    json_object_set_new(json_object_get(r, name), "shape", dims);
    s = json_dumps(r, JSON_COMPACT);
    write_st(t, s, data, dl);
    free(s);
    json_decref(r);
    expect_st(t, "a 1000-dimension shape", "dimensions");

    r = json_deep_copy(good);
    json_object_set_new(json_object_get(r, name), "data_offsets",
                        json_pack("[I,I]", (json_int_t)(INT64_MAX - 7), (json_int_t)(INT64_MAX - 3)));
    s = json_dumps(r, JSON_COMPACT);
    write_st(t, s, data, dl);
    free(s);
    json_decref(r);
    expect_st(t, "data offsets near 2^63", "data_offsets");

    r = json_deep_copy(good);
    char cfgtext[8192];
    tlm_config_serialize(&cfg, cfgtext, sizeof cfgtext);
    strcat(cfgtext, huge_cfg);
    json_object_set_new(json_object_get(r, "__metadata__"), "tlm.config", json_string(cfgtext));
    s = json_dumps(r, JSON_COMPACT);
    write_st(t, s, data, dl);
    free(s);
    json_decref(r);
    expect_st(t, "a stored config with absurd sizes", "absurdly large");
    json_decref(good);
    unlink(t);
    free(b);
    free(p);
}

int main(void)
{
    tap_make_tmpdir(dir, sizeof dir, "corrupt");
    test_ckpt_header_bits();
    test_pack_header_bits();
    test_nano_cuts();
    test_crafted_ckpt();
    test_crafted_pack();
    test_crafted_safetensors();
    char f[8192];
    const char *names[] = {"micro.tlmc", "nano.tlmc", "nano.safetensors", "nano.tlmp",
                           "craft.tlmc", "craft.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tpath(f, names[i]));
    rmdir(dir);
    return tap_done();
}
