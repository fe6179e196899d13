/* test_checkpoint.c - checkpoint save/load (round trip, layout, truncation,
 * bit flips, versions, failed saves) and the metrics CSV. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "engine/io/checkpoint.h"
#include "engine/io/metrics.h"
#include "engine/model/params.h"
#include "tests/bytes.h"
#include "tests/tap.h"

static char dir[4096];

/* ---- files ---- */

static void make_tmpdir(void)
{
    tap_make_tmpdir(dir, sizeof dir, "ck");
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

/* dir/name into buf. */
static char *tpath(char *buf, const char *name)
{
    snprintf(buf, 8192, "%s/%s", dir, name);
    return buf;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    *len = 0;
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
    if (b)
        b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_all(const char *path, const void *a, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(a, 1, n, f) != n) {
        printf("Bail out! cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* Recompute the header crc after patching header fields. */
static void fix_header_crc(unsigned char *b)
{
    uint32_t H = le32(b + 12);
    put32(b + H, (uint32_t)crc32(0, b, H));
}

/* ---- a training state ---- */

static tlm_ckpt make_state(const char *preset, size_t hist, tlm_params *p)
{
    tlm_ckpt c;
    tlm_err e;
    memset(&c, 0, sizeof c);
    tlm_config_preset(&c.cfg, preset, &e);
    tlm_config_set_precision(&c.cfg, "L1.mlp.*", TLM_PREC_INT8, &e);
    if (tlm_params_alloc(p, &c.cfg, &e)) {
        printf("Bail out! %s\n", e.msg);
        exit(1);
    }
    tlm_params_init(p, &c.cfg, 11);
    c.count = p->count;
    c.params = p->mem;
    c.m = malloc(c.count * sizeof(float));
    c.v = malloc(c.count * sizeof(float));
    tlm_rng r;
    tlm_rng_seed(&r, 5);
    for (size_t i = 0; i < c.count; i++) {
        c.m[i] = tlm_rng_normal(&r) * 1e-3f;
        c.v[i] = tlm_rng_float(&r) * 1e-6f;
    }
    c.step = 1234;
    c.tokens = 1234.0 * 4 * 32;
    tlm_rng_seed(&c.data_rng, 99);
    tlm_rng_seed(&c.aux_rng, 100);
    for (int i = 0; i < 17; i++)
        tlm_rng_u64(&c.data_rng);
    tlm_rng_u64(&c.aux_rng);
    c.tokenizer_hash = 0x0123456789abcdefULL;
    c.history_n = hist;
    c.history = hist ? calloc(hist, sizeof *c.history) : NULL;
    for (size_t i = 0; i < hist; i++) {
        c.history[i].step = (int64_t)(i * 10);
        c.history[i].tokens = (double)i * 1280.5;
        c.history[i].lr = 3e-4f * (float)i;
        c.history[i].train_loss = 8.0f - (float)i * 0.01f;
        c.history[i].val_loss = i % 3 ? NAN : 7.5f - (float)i * 0.01f;
        c.history[i].grad_norm = 1.0f / (float)(i + 1);
        c.history[i].tok_s = 10000.0f + (float)i;
    }
    return c;
}

static void free_state(tlm_ckpt *c, tlm_params *p)
{
    free(c->m);
    free(c->v);
    free(c->history);
    tlm_params_free(p);
}

static int rows_equal(const tlm_metric_row *a, const tlm_metric_row *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].step != b[i].step || memcmp(&a[i].tokens, &b[i].tokens, 8) ||
            memcmp(&a[i].lr, &b[i].lr, 4) || memcmp(&a[i].train_loss, &b[i].train_loss, 4) ||
            memcmp(&a[i].val_loss, &b[i].val_loss, 4) ||
            memcmp(&a[i].grad_norm, &b[i].grad_norm, 4) || memcmp(&a[i].tok_s, &b[i].tok_s, 4))
            return 0;
    }
    return 1;
}

static int config_equal(const tlm_config *a, const tlm_config *b)
{
    char x[8192], y[8192];
    tlm_config_serialize(a, x, sizeof x);
    tlm_config_serialize(b, y, sizeof y);
    return !strcmp(x, y);
}

/* Load must fail, name the file, contain needle and leave the struct as it was. */
static void expect_reject(const char *path, const char *what, const char *needle)
{
    tlm_ckpt c, before;
    memset(&c, 0xa5, sizeof c);
    before = c;
    tlm_err e = {{0}};
    int rc = tlm_ckpt_load(path, &c, &e);
    ok(rc == -1 && strstr(e.msg, path) && strstr(e.msg, needle) && !memcmp(&c, &before, sizeof c),
       "%s rejected (want '%s'): %s", what, needle, e.msg);
}

/* 0 when the load fails with the file named and c unchanged, else 1. */
static int load_accepted(const char *path)
{
    tlm_ckpt c, before;
    memset(&c, 0x3c, sizeof c);
    before = c;
    tlm_err e = {{0}};
    if (tlm_ckpt_load(path, &c, &e) == 0) {
        tlm_ckpt_free(&c);
        return 1;
    }
    return !strstr(e.msg, path) || memcmp(&c, &before, sizeof c) != 0;
}

/* ---- checkpoint cases ---- */

static void test_round_trip(const tlm_ckpt *s, const char *f)
{
    tlm_err e = {{0}};
    ok(tlm_ckpt_save(f, s, &e) == 0, "save nano checkpoint: %s", e.msg);
    ok(count_files() == 1, "no temp file left behind");
    tlm_ckpt c;
    memset(&c, 0, sizeof c);
    int rc = tlm_ckpt_load(f, &c, &e);
    ok(rc == 0, "load nano checkpoint: %s", e.msg);
    size_t b = s->count * sizeof(float);
    ok(rc == 0 && c.count == s->count && !memcmp(c.params, s->params, b) &&
       !memcmp(c.m, s->m, b) && !memcmp(c.v, s->v, b), "params, adam_m, adam_v bit-identical");
    ok(rc == 0 && c.step == s->step && c.tokens == s->tokens &&
       c.tokenizer_hash == s->tokenizer_hash, "step, tokens, tokenizer hash");
    ok(rc == 0 && !memcmp(&c.data_rng, &s->data_rng, sizeof c.data_rng) &&
       !memcmp(&c.aux_rng, &s->aux_rng, sizeof c.aux_rng), "rng states");
    tlm_rng r1 = s->data_rng;
    ok(rc == 0 && tlm_rng_u64(&c.data_rng) == tlm_rng_u64(&r1), "data stream continues alike");
    ok(rc == 0 && c.history_n == s->history_n && rows_equal(c.history, s->history, c.history_n) &&
       isnan(c.history[1].val_loss), "history rows (NaN val_loss kept)");
    ok(rc == 0 && config_equal(&c.cfg, &s->cfg) && c.cfg.prec[7 + 4] == TLM_PREC_INT8,
       "config equal (precision included)");
    tlm_ckpt_free(&c);
    ok(c.params == NULL && c.history == NULL, "tlm_ckpt_free clears the pointers");
    ok(tlm_ckpt_sniff(f) == 1, "sniff recognises the checkpoint");
    char p[8192];
    write_all(tpath(p, "text"), "TLMCKPT0 no", 11);
    ok(tlm_ckpt_sniff(p) == 0 && tlm_ckpt_sniff(tpath(p, "none")) == 0,
       "sniff is 0 for other files and missing files");
    unlink(tpath(p, "text"));
}

static void test_layout(const tlm_ckpt *s, const char *f)
{
    size_t len;
    unsigned char *b = read_all(f, &len);
    uint32_t H = le32(b + 12), clen = le32(b + 120);
    ok(!memcmp(b, "TLMCKPT1", 8) && le32(b + 8) == 1, "magic TLMCKPT1 and version 1");
    char text[8192];
    size_t tl = tlm_config_serialize(&s->cfg, text, sizeof text);
    ok(H == 128 + clen + 4 * 32 && clen == tl && !memcmp(b + 128, text, tl),
       "header holds the serialized config (%u bytes)", clen);
    ok(le64(b + 16) == (uint64_t)s->step && le64(b + 104) == s->count &&
       le64(b + 112) == s->history_n && le64(b + 96) == s->tokenizer_hash &&
       le64(b + 32) == s->data_rng.s[0] && le64(b + 88) == s->aux_rng.s[3],
       "fixed header fields");
    const char *names[4] = {"params", "adam_m", "adam_v", "history"};
    uint64_t pos = H + 4, bad = 0;
    for (int i = 0; i < 4; i++) {
        const unsigned char *t = b + 128 + clen + 32 * i;
        uint64_t off = le64(t + 16), n = le64(t + 24);
        uint64_t want = i < 3 ? s->count * 4 : s->history_n * 40;
        bad += strcmp((const char *)t, names[i]) != 0 || off % 64 || off < pos || off - pos >= 64 ||
               n != want;
        for (uint64_t k = pos; k < off; k++)
            bad += b[k] != 0;
        if (i == 0)
            bad += memcmp(b + off, s->params, (size_t)n) != 0;
        pos = off + n;
    }
    ok(bad == 0 && pos + 4 == len, "sections 64-byte aligned with zero padding; size %zu exact",
       len);
    ok(le32(b + H) == (uint32_t)crc32(0, b, H), "header crc32 follows the header");
    ok(le32(b + len - 4) == (uint32_t)crc32(0, b + H + 4, (uInt)(len - H - 8)),
       "payload crc32 ends the file");
    free(b);
}

static void test_truncation(const char *f)
{
    char t[8192];
    size_t len;
    unsigned char *b = read_all(f, &len);
    write_all(tpath(t, "trunc.ckpt"), b, len);
    uint32_t H = le32(b + 12), clen = le32(b + 120);
    /* cut points: around every section boundary, then a sample, in
     * decreasing order so one copy serves all */
    size_t cuts[2048];
    int nc = 0;
    cuts[nc++] = len - 1;
    cuts[nc++] = len - 4;
    cuts[nc++] = len - 5;
    for (int i = 3; i >= 0; i--) {
        const unsigned char *e = b + 128 + clen + 32 * i;
        size_t off = (size_t)le64(e + 16), n = (size_t)le64(e + 24);
        size_t pts[] = {off + n + 1, off + n, off + n - 1, off + n / 2, off + 1, off, off - 1};
        for (int k = 0; k < 7; k++)
            cuts[nc++] = pts[k];
    }
    size_t more[] = {H + 5, H + 4, H + 3, H, H - 1, 128 + clen, 128, 127, 16, 15, 12, 8, 4, 1, 0};
    for (size_t k = 0; k < sizeof more / sizeof more[0]; k++)
        cuts[nc++] = more[k];
    for (size_t k = 1; k < 300; k++)
        cuts[nc++] = len - k * (len / 301);
    /* sort decreasing */
    for (int i = 1; i < nc; i++)
        for (int j = i; j > 0 && cuts[j] > cuts[j - 1]; j--) {
            size_t x = cuts[j];
            cuts[j] = cuts[j - 1];
            cuts[j - 1] = x;
        }
    int accepted = 0, tried = 0;
    size_t prev = len;
    for (int k = 0; k < nc; k++) {
        if (cuts[k] >= prev)
            continue;
        prev = cuts[k];
        if (truncate(t, (off_t)cuts[k]))
            break;
        tried++;
        accepted += load_accepted(t);
    }
    ok(tried > 300 && accepted == 0, "truncated at %d offsets (every section boundary, a sample): "
       "all rejected (%d accepted)", tried, accepted);
    write_all(t, b, len);
    FILE *a = fopen(t, "ab");
    fputs("x", a);
    fclose(a);
    expect_reject(t, "one trailing byte", "trailing data");
    write_all(t, b, len - 64);
    expect_reject(t, "64 bytes missing at the end", "truncated");
    unlink(t);
    free(b);
}

/* A very small model: truncation at every byte of its checkpoint. */
static void test_truncation_every_byte(void)
{
    tlm_params p;
    tlm_ckpt s;
    memset(&p, 0, sizeof p);
    memset(&s, 0, sizeof s);
    tlm_err e = {{0}};
    tlm_config_preset(&s.cfg, "nano", &e);
    s.cfg.dim = 4;
    s.cfg.n_heads = 2;
    s.cfg.hidden = 6;
    s.cfg.vocab = 5;
    s.cfg.n_layers = 1;
    s.cfg.ctx = 2;
    s.cfg.max_ctx = 4;
    if (tlm_params_alloc(&p, &s.cfg, &e))
        return;
    tlm_params_init(&p, &s.cfg, 3);
    s.params = s.m = s.v = p.mem;
    s.count = p.count;
    tlm_metric_row rows[3] = {{1, 2, 3, 4, 5, 6, 7}, {8, 9, 10, 11, NAN, 12, 13}, {0}};
    s.history = rows;
    s.history_n = 3;
    char f[8192], t[8192];
    int rc = tlm_ckpt_save(tpath(f, "small.ckpt"), &s, &e);
    size_t len;
    unsigned char *b = read_all(f, &len);
    int accepted = 0;
    for (size_t cut = 0; cut < len; cut++) {
        write_all(tpath(t, "cut.ckpt"), b, cut);
        accepted += load_accepted(t);
    }
    ok(rc == 0 && len > 0 && accepted == 0, "small checkpoint truncated at each of its %zu bytes: "
       "all rejected (%d accepted)", len, accepted);
    /* every single-bit flip of the small file */
    accepted = 0;
    for (size_t i = 0; i < len; i++) {
        b[i] ^= (unsigned char)(1u << (i % 8));
        write_all(t, b, len);
        accepted += load_accepted(t);
        b[i] ^= (unsigned char)(1u << (i % 8));
    }
    ok(accepted == 0, "small checkpoint: a bit flip in each of its %zu bytes is rejected (%d "
       "accepted)", len, accepted);
    s.history = NULL;
    s.history_n = 0;
    tlm_ckpt c;
    rc = tlm_ckpt_save(f, &s, &e) || tlm_ckpt_load(f, &c, &e);
    ok(rc == 0 && c.history_n == 0 && c.count == s.count && !memcmp(c.v, p.mem, p.count * 4),
       "checkpoint without history round-trips: %s", rc ? e.msg : "");
    if (!rc)
        tlm_ckpt_free(&c);
    unlink(f);
    unlink(t);
    free(b);
    tlm_params_free(&p);
}

static void test_bit_flips(const char *f)
{
    char t[8192];
    size_t len;
    unsigned char *b = read_all(f, &len);
    write_all(tpath(t, "flip.ckpt"), b, len);
    FILE *w = fopen(t, "r+b");
    int accepted = 0, n = 0;
    tlm_rng r;
    tlm_rng_seed(&r, 42);
    for (int i = 0; i < 200; i++) {
        /* spread over the file, denser in the first 4 KB (header) */
        size_t pos = i < 60 ? (size_t)tlm_rng_below(&r, 4096 < len ? 4096 : len)
                            : (size_t)((double)(i - 60) / 140 * (double)(len - 1)) +
                                  (size_t)tlm_rng_below(&r, 64);
        if (pos >= len)
            pos = len - 1;
        unsigned char x = b[pos] ^ (unsigned char)(1u << tlm_rng_below(&r, 8));
        fseek(w, (long)pos, SEEK_SET);
        fputc(x, w);
        fflush(w);
        accepted += load_accepted(t);
        fseek(w, (long)pos, SEEK_SET);
        fputc(b[pos], w);
        fflush(w);
        n++;
    }
    fclose(w);
    ok(n == 200 && accepted == 0, "single-bit flips at %d positions: all rejected (%d accepted)",
       n, accepted);
    ok(load_accepted(t) == 1, "the restored copy loads again");
    free(b);
    unlink(t);
}

static void test_patched(const char *f)
{
    char t[8192];
    size_t len;
    unsigned char *b = read_all(f, &len), *c = malloc(len);
    tpath(t, "patched.ckpt");
    uint32_t H = le32(b + 12), clen = le32(b + 120);

    memcpy(c, b, len);
    put32(c + 8, 2);
    write_all(t, c, len);
    expect_reject(t, "version 2 (header crc stale)", "newer");
    fix_header_crc(c);
    write_all(t, c, len);
    expect_reject(t, "version 2 (header crc fixed)", "newer");
    put32(c + 8, 0);
    fix_header_crc(c);
    write_all(t, c, len);
    expect_reject(t, "version 0", "bad format version");

    memcpy(c, b, len);
    c[0] = 'X';
    write_all(t, c, len);
    expect_reject(t, "bad magic", "magic");

    memcpy(c, b, len);
    c[130] ^= 1;
    write_all(t, c, len);
    expect_reject(t, "flipped config byte", "header checksum");

    memcpy(c, b, len);
    c[len / 2] ^= 0x10;
    write_all(t, c, len);
    expect_reject(t, "flipped payload byte", "payload checksum");

    memcpy(c, b, len);
    c[len - 1] ^= 0x80;
    write_all(t, c, len);
    expect_reject(t, "flipped payload crc", "payload checksum");

    memcpy(c, b, len);
    put64(c + 104, le64(b + 104) + 1);
    fix_header_crc(c);
    write_all(t, c, len);
    expect_reject(t, "count off by one (crc fixed)", "parameters");

    memcpy(c, b, len);
    put64(c + 104, (uint64_t)1 << 62);
    fix_header_crc(c);
    write_all(t, c, len);
    expect_reject(t, "count 2^62 (crc fixed)", "parameters");

    memcpy(c, b, len);
    put64(c + 112, UINT64_MAX / 8);
    fix_header_crc(c);
    write_all(t, c, len);
    expect_reject(t, "history rows 2^61 (crc fixed)", "overflow");

    memcpy(c, b, len);
    put64(c + 112, le64(b + 112) + 1);
    fix_header_crc(c);
    write_all(t, c, len);
    expect_reject(t, "one history row too many (crc fixed)", "section 3");

    memcpy(c, b, len);
    put64(c + 128 + clen + 32 + 16, le64(b + 128 + clen + 32 + 16) + 64);
    fix_header_crc(c);
    write_all(t, c, len);
    expect_reject(t, "section offset moved (crc fixed)", "section 1 ('adam_m')");

    memcpy(c, b, len);
    c[128 + clen + 2] = 'X';
    fix_header_crc(c);
    write_all(t, c, len);
    expect_reject(t, "section renamed (crc fixed)", "section 0 ('params')");

    memcpy(c, b, len);
    put32(c + 12, 0xffffffffu);
    write_all(t, c, len);
    expect_reject(t, "header length 2^32-1", "bad header length");

    memcpy(c, b, len);
    put32(c + 12, H + 1);
    write_all(t, c, len);
    expect_reject(t, "header length off by one", "header checksum");

    memcpy(c, b, len);
    memcpy(c + 128, "dim=abc\n", 8);
    fix_header_crc(c);
    write_all(t, c, len);
    expect_reject(t, "bad stored config (crc fixed)", "config key 'dim'");

    /* non-zero padding with both crcs fixed */
    memcpy(c, b, len);
    size_t pad = H + 4;
    if (pad % 64) {
        c[pad] = 1;
        put32(c + len - 4, (uint32_t)crc32(0, c + H + 4, (uInt)(len - H - 8)));
        write_all(t, c, len);
        expect_reject(t, "non-zero padding (crcs fixed)", "padding");
    }
    char missing[8192];
    expect_reject(tpath(missing, "does-not-exist.ckpt"), "missing file", "No such file");
    write_all(t, "TLMC", 4);
    expect_reject(t, "4-byte file", "truncated");
    unlink(t);
    free(b);
    free(c);
}

static void test_failed_saves(tlm_ckpt *s, const char *f)
{
    tlm_err e = {{0}};
    size_t len0, len1;
    unsigned char *before = read_all(f, &len0), *after;
    int files = count_files();

    ok(tlm_ckpt_save("/proc/tlm-test/x.ckpt", s, &e) == -1 && strstr(e.msg, "/proc/tlm-test/x.ckpt"),
       "save under /proc fails: %s", e.msg);
    char p[8192];
    ok(tlm_ckpt_save(tpath(p, "no/such/folder/x.ckpt"), s, &e) == -1 && strstr(e.msg, p),
       "save into a missing folder fails: %s", e.msg);

    /* a write that fails half-way (file size limit): old file kept, temp removed */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1 << 20;
    signal(SIGXFSZ, SIG_IGN);
    s->step++;
    int rc = setrlimit(RLIMIT_FSIZE, &lim) ? 0 : tlm_ckpt_save(f, s, &e);
    setrlimit(RLIMIT_FSIZE, &old);
    s->step--;
    after = read_all(f, &len1);
    ok(rc == -1 && strstr(e.msg, f) && len0 == len1 && !memcmp(before, after, len0) &&
       count_files() == files, "write failing at 1 MB: error, previous file intact, no temp "
       "left: %s", e.msg);
    free(after);

    size_t count = s->count;
    s->count--;
    rc = tlm_ckpt_save(f, s, &e);
    s->count = count;
    after = read_all(f, &len1);
    ok(rc == -1 && strstr(e.msg, "does not match") && len0 == len1 && !memcmp(before, after, len0),
       "count not matching the config: error, previous file intact: %s", e.msg);
    free(after);
    float *m = s->m;
    s->m = NULL;
    rc = tlm_ckpt_save(f, s, &e);
    s->m = m;
    ok(rc == -1 && strstr(e.msg, "required"), "missing adam_m: %s", e.msg);
    free(before);

    s->step += 5;
    tlm_ckpt c;
    rc = tlm_ckpt_save(f, s, &e) || tlm_ckpt_load(f, &c, &e);
    ok(rc == 0 && c.step == s->step && count_files() == files,
       "saving again replaces the file (step %lld)", rc ? -1LL : (long long)c.step);
    if (!rc)
        tlm_ckpt_free(&c);
    s->step -= 5;
}

/* ---- metrics CSV ---- */

static const char *metrics_header =
    "\"step\",\"tokens\",\"lr\",\"train_loss\",\"val_loss\",\"grad_norm\",\"tok_s\","
    "\"sparsity.L0.attn.q\",\"sparsity.L0.attn.k\",\"sparsity.L0.attn.v\","
    "\"sparsity.L0.attn.o\",\"sparsity.L0.mlp.gate\",\"sparsity.L0.mlp.up\","
    "\"sparsity.L0.mlp.down\"\n";
static const char *metrics_rows =
    "\"10\",\"1280\",\"0.0003\",\"8.123457\",,\"1.5\",\"12345.7\","
    "\"0.5\",\"0.25\",\"0.125\",\"0.3\",\"0.31\",\"0.32\",\"0.33\"\n"
    "\"20\",\"2560\",\"0.00025\",\"7.500000\",\"7.250000\",\"0.75\",\"20000\","
    "\"0\",\"0\",\"0\",\"0\",\"0\",\"0\",\"0\"\n"
    "\"30\",\"3840\",\"1e-05\",\"6.000000\",,\"1.23457e+08\",\"0.001\","
    "\"1\",\"1\",\"1\",\"1\",\"1\",\"1\",\"1\"\n";
static const char *metrics_row4 =
    "\"40\",\"5120\",\"1e-05\",\"5.000000\",\"4.000000\",\"2\",\"3\","
    "\"0\",\"0\",\"0\",\"0\",\"0\",\"0\",\"0\"\n";

static void test_metrics(void)
{
    tlm_config c, nano;
    tlm_err e = {{0}};
    tlm_config_preset(&c, "nano", &e);
    tlm_config_preset(&nano, "nano", &e);
    c.n_layers = 1;
    char f[8192], want[4096];
    tpath(f, "metrics.csv");
    tlm_metric_row rows[4] = {
        {10, 1280, 0.0003f, 8.123456789f, NAN, 1.5f, 12345.678f},
        {20, 2560, 0.00025f, 7.5f, 7.25f, 0.75f, 20000},
        {30, 3840, 1e-5f, 6.0f, NAN, 123456789.0f, 0.001f},
        {40, 5120, 1e-5f, 5.0f, 4.0f, 2.0f, 3.0f}};
    float sp[3][7] = {{0.5f, 0.25f, 0.125f, 0.3f, 0.31f, 0.32f, 0.33f},
                      {0},
                      {1, 1, 1, 1, 1, 1, 1}};
    float zero[7] = {0};
    tlm_metrics_csv m;
    int rc = tlm_metrics_open(&m, f, &c, &e);
    for (int i = 0; i < 3 && !rc; i++)
        rc = tlm_metrics_write(&m, &rows[i], sp[i], &e);
    rc |= tlm_metrics_close(&m, &e);
    size_t len;
    char *text = (char *)read_all(f, &len);
    snprintf(want, sizeof want, "%s%s", metrics_header, metrics_rows);
    int same = rc == 0 && text && !strcmp(text, want);
    ok(same, "metrics: header and 3 rows byte-for-byte");
    if (!same && text) {
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
            printf("# got: %s\n", line);
    }
    free(text);

    rc = tlm_metrics_open(&m, f, &c, &e) || tlm_metrics_write(&m, &rows[3], zero, &e) ||
         tlm_metrics_close(&m, &e);
    text = (char *)read_all(f, &len);
    snprintf(want, sizeof want, "%s%s%s", metrics_header, metrics_rows, metrics_row4);
    ok(rc == 0 && text && !strcmp(text, want), "metrics: reopening appends (no second header)");
    free(text);

    rc = tlm_metrics_open(&m, f, &nano, &e);
    text = (char *)read_all(f, &len);
    ok(rc == -1 && strstr(e.msg, f) && strstr(e.msg, "different columns") && !strcmp(text, want),
       "metrics: header mismatch is an error and the file is kept: %s", e.msg);
    free(text);

    /* an interrupted last row gets its newline before the next row */
    FILE *a = fopen(f, "ab");
    fputs("\"50\",\"64", a);
    fclose(a);
    rc = tlm_metrics_open(&m, f, &c, &e) || tlm_metrics_write(&m, &rows[3], zero, &e) ||
         tlm_metrics_close(&m, &e);
    text = (char *)read_all(f, &len);
    snprintf(want, sizeof want, "%s%s%s\"50\",\"64\n%s", metrics_header, metrics_rows,
             metrics_row4, metrics_row4);
    ok(rc == 0 && text && !strcmp(text, want), "metrics: a cut-off last row is ended first");
    free(text);

    write_all(f, "step,tokens\n1,2\n", 16);
    ok(tlm_metrics_open(&m, f, &c, &e) == -1, "metrics: a foreign CSV is not appended to");
    ok(tlm_metrics_open(&m, tpath(f, "no/dir/m.csv"), &c, &e) == -1 && strstr(e.msg, f),
       "metrics: unwritable path: %s", e.msg);
    unlink(tpath(f, "metrics.csv"));
}

/* The precision columns (tlm_metrics_open_ex with TLM_METRICS_PRECISION). */
static void test_metrics_precision(void)
{
    tlm_config c;
    tlm_err e = {{0}};
    tlm_config_preset(&c, "nano", &e);
    c.n_layers = 1;
    char f[8192], want[4096];
    tpath(f, "mprec.csv");
    unlink(f);
    tlm_metric_row row = {10, 1280, 0.0003f, 8.123456789f, NAN, 1.5f, 12345.678f};
    float sp[7] = {0.5f, 0.25f, 0.125f, 0.3f, 0.31f, 0.32f, 0.33f};
    uint8_t prec[7] = {TLM_PREC_FP32, TLM_PREC_FP32, TLM_PREC_TERNARY, TLM_PREC_TERNARY,
                       TLM_PREC_INT8, TLM_PREC_TERNARY, TLM_PREC_TERNARY};
    tlm_metrics_csv m;
    int rc = tlm_metrics_open_ex(&m, f, &c, TLM_METRICS_PRECISION, &e) ||
             tlm_metrics_write_ex(&m, &row, sp, prec, &e) || tlm_metrics_close(&m, &e);
    size_t len;
    char *text = (char *)read_all(f, &len);
    snprintf(want, sizeof want, "%.*s,\"precision.L0.attn.q\",\"precision.L0.attn.k\","
             "\"precision.L0.attn.v\",\"precision.L0.attn.o\",\"precision.L0.mlp.gate\","
             "\"precision.L0.mlp.up\",\"precision.L0.mlp.down\"\n%.*s,\"fp32\",\"fp32\","
             "\"ternary\",\"ternary\",\"int8\",\"ternary\",\"ternary\"\n",
             (int)strlen(metrics_header) - 1, metrics_header,
             (int)strcspn(metrics_rows, "\n"), metrics_rows);
    ok(rc == 0 && m.prec_cols == 1 && text && !strcmp(text, want),
       "metrics: precision columns after the sparsity columns, one name per linear");
    free(text);
    rc = tlm_metrics_open(&m, f, &c, &e);
    ok(rc == -1 && strstr(e.msg, "different columns"),
       "metrics: a file with precision columns is not appended to as a plain one");
    write_all(f, metrics_header, strlen(metrics_header));
    rc = tlm_metrics_open_ex(&m, f, &c, TLM_METRICS_PRECISION, &e);
    int plain = rc == 0 && m.prec_cols == 0;
    rc = rc || tlm_metrics_write_ex(&m, &row, sp, prec, &e) || tlm_metrics_close(&m, &e);
    text = (char *)read_all(f, &len);
    snprintf(want, sizeof want, "%s%.*s\n", metrics_header, (int)strcspn(metrics_rows, "\n"),
             metrics_rows);
    ok(rc == 0 && plain && text && !strcmp(text, want),
       "metrics: a plain file (from tlm train) is appended to in its own layout");
    free(text);
    unlink(f);
}

int main(void)
{
    make_tmpdir();
    tlm_params p;
    tlm_ckpt s = make_state("nano", 25, &p);
    char f[8192];
    tpath(f, "nano.ckpt");
    test_round_trip(&s, f);
    test_layout(&s, f);
    test_truncation(f);
    test_truncation_every_byte();
    test_bit_flips(f);
    test_patched(f);
    test_failed_saves(&s, f);
    test_metrics();
    test_metrics_precision();
    unlink(f);
    ok(count_files() == 0, "temp folder empty at the end");
    free_state(&s, &p);
    remove_tmpdir();
    return tap_done();
}
