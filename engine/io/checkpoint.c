/* checkpoint.c - the training state in one versioned file (see checkpoint.h).
 *
 * Layout, all integers little-endian:
 *   0    8  magic "TLMCKPT1"
 *   8    4  format version (1)
 *   12   4  header bytes H (from offset 0 to the end of the section table)
 *   16   8  step (int64)
 *   24   8  tokens (float64)
 *   32  32  data_rng state (4 x u64)
 *   64  32  aux_rng state (4 x u64)
 *   96   8  tokenizer hash
 *   104  8  floats per tensor block (params, adam_m, adam_v each)
 *   112  8  history rows
 *   120  4  config text bytes L
 *   124  4  sections (4)
 *   128  L  config text (tlm_config_serialize)
 *   128+L   section table: 4 x {name[16] NUL-padded, u64 offset, u64 bytes}
 *   H    4  crc32 of bytes [0, H)
 *   then the sections params, adam_m, adam_v, history, each at a 64-byte
 *   aligned offset (zero padding between), and the crc32 of everything
 *   between the header crc and itself as the last 4 bytes of the file.
 * History rows are 40 bytes: i64 step, f64 tokens, f32 lr, train_loss,
 * val_loss, grad_norm, tok_s, u32 zero. */
#include "checkpoint.h"
#include "fileio.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "checkpoints store host floats as little-endian");

#define CK_MAGIC "TLMCKPT1"
#define CK_VERSION 1u
#define CK_FIXED 128u      /* fixed part of the header */
#define CK_NSEC 4u
#define CK_SEC_BYTES 32u   /* one section table entry */
#define CK_ROW_BYTES 40u   /* one history row */
#define CK_CONFIG_MAX 65536u
#define CK_BUF ((size_t)4 << 20)

static const char sec_names[CK_NSEC][16] = {"params", "adam_m", "adam_v", "history"};

/* ---- little-endian fields ---- */

static void put_u32(unsigned char *p, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(x >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(x >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static double bits_f64(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- layout shared by save and load ---- */

typedef struct ck_layout {
    uint64_t header;         /* H */
    uint64_t off[CK_NSEC], bytes[CK_NSEC];
    uint64_t total;          /* exact file size */
} ck_layout;

static int align64(uint64_t x, uint64_t *out)
{
    if (x > UINT64_MAX - 63)
        return -1;
    *out = (x + 63) & ~(uint64_t)63;
    return 0;
}

/* Section offsets and the file size for H header bytes, count floats per
 * tensor block and rows history rows; -1 on overflow. */
static int make_layout(uint64_t header, uint64_t count, uint64_t rows, ck_layout *L)
{
    uint64_t pos = header + 4, fb, rb;
    if (__builtin_mul_overflow(count, (uint64_t)sizeof(float), &fb) ||
        __builtin_mul_overflow(rows, (uint64_t)CK_ROW_BYTES, &rb))
        return -1;
    L->header = header;
    for (unsigned s = 0; s < CK_NSEC; s++) {
        L->bytes[s] = s < 3 ? fb : rb;
        if (align64(pos, &L->off[s]) || __builtin_add_overflow(L->off[s], L->bytes[s], &pos))
            return -1;
    }
    if (__builtin_add_overflow(pos, 4, &L->total) || L->total > (uint64_t)INT64_MAX)
        return -1;
    return 0;
}

/* ---- buffered writer with a running payload crc ---- */

typedef struct ck_writer {
    int fd;
    unsigned char *buf;
    size_t used;
    uint64_t pos;  /* bytes put so far */
    uLong crc;
    int crc_on;
} ck_writer;

static int w_flush(ck_writer *w)
{
    unsigned char *p = w->buf;
    while (w->used) {
        ssize_t n = write(w->fd, p, w->used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n;
        w->used -= (size_t)n;
    }
    return 0;
}

static int w_put(ck_writer *w, const void *src, size_t n)
{
    const unsigned char *p = src;
    if (w->crc_on)
        w->crc = crc32_z(w->crc, p, n);
    w->pos += n;
    while (n) {
        size_t k = CK_BUF - w->used < n ? CK_BUF - w->used : n;
        memcpy(w->buf + w->used, p, k);
        w->used += k;
        p += k;
        n -= k;
        if (w->used == CK_BUF && w_flush(w))
            return -1;
    }
    return 0;
}

static int w_pad_to(ck_writer *w, uint64_t off)
{
    static const unsigned char zeros[64];
    while (w->pos < off) {
        size_t k = off - w->pos < sizeof zeros ? (size_t)(off - w->pos) : sizeof zeros;
        if (w_put(w, zeros, k))
            return -1;
    }
    return 0;
}

/* ---- temp file, rename, folder fsync ---- */

/* ---- save ---- */

static int check_input(const char *path, const tlm_ckpt *c, tlm_err *err)
{
    uint64_t n;
    if (tlm_config_validate(&c->cfg, err) || tlm_config_param_count(&c->cfg, &n, err))
        return tlm_err_prefix(err, "checkpoint %s: ", path);
    if (n != (uint64_t)c->count)
        return tlm_errf(err, "checkpoint %s: count %zu does not match the config's %llu "
                        "parameters", path, c->count, (unsigned long long)n);
    if (c->step < 0 || !(c->tokens >= 0) || isinf(c->tokens))
        return tlm_errf(err, "checkpoint %s: bad step %lld or token count %g", path,
                        (long long)c->step, c->tokens);
    if (!c->params || !c->m || !c->v || (c->history_n && !c->history))
        return tlm_errf(err, "checkpoint %s: params, adam_m, adam_v (and history when "
                        "history_n > 0) are required", path);
    return 0;
}

/* The header (without its crc) into a malloc'ed buffer; fills L. */
static unsigned char *build_header(const char *path, const tlm_ckpt *c, ck_layout *L,
                                   tlm_err *err)
{
    size_t clen = tlm_config_serialize(&c->cfg, NULL, 0);
    if (clen > CK_CONFIG_MAX) {
        tlm_errf(err, "checkpoint %s: config text too long (%zu bytes)", path, clen);
        return NULL;
    }
    uint64_t H = CK_FIXED + clen + CK_NSEC * CK_SEC_BYTES;
    if (make_layout(H, c->count, c->history_n, L)) {
        tlm_errf(err, "checkpoint %s: sizes overflow", path);
        return NULL;
    }
    unsigned char *h = calloc(1, (size_t)H + 1);
    if (!h) {
        tlm_errf(err, "checkpoint %s: out of memory", path);
        return NULL;
    }
    memcpy(h, CK_MAGIC, 8);
    put_u32(h + 8, CK_VERSION);
    put_u32(h + 12, (uint32_t)H);
    put_u64(h + 16, (uint64_t)c->step);
    put_u64(h + 24, f64_bits(c->tokens));
    for (int i = 0; i < 4; i++) {
        put_u64(h + 32 + 8 * i, c->data_rng.s[i]);
        put_u64(h + 64 + 8 * i, c->aux_rng.s[i]);
    }
    put_u64(h + 96, c->tokenizer_hash);
    put_u64(h + 104, (uint64_t)c->count);
    put_u64(h + 112, (uint64_t)c->history_n);
    put_u32(h + 120, (uint32_t)clen);
    put_u32(h + 124, CK_NSEC);
    tlm_config_serialize(&c->cfg, (char *)h + CK_FIXED, clen + 1); /* NUL lands in the table */
    unsigned char *t = h + CK_FIXED + clen;
    for (unsigned s = 0; s < CK_NSEC; s++, t += CK_SEC_BYTES) {
        memset(t, 0, 16);
        memcpy(t, sec_names[s], 16);
        put_u64(t + 16, L->off[s]);
        put_u64(t + 24, L->bytes[s]);
    }
    return h;
}

static int put_row(ck_writer *w, const tlm_metric_row *r)
{
    unsigned char b[CK_ROW_BYTES] = {0};
    put_u64(b, (uint64_t)r->step);
    put_u64(b + 8, f64_bits(r->tokens));
    put_u32(b + 16, f32_bits(r->lr));
    put_u32(b + 20, f32_bits(r->train_loss));
    put_u32(b + 24, f32_bits(r->val_loss));
    put_u32(b + 28, f32_bits(r->grad_norm));
    put_u32(b + 32, f32_bits(r->tok_s));
    return w_put(w, b, sizeof b);
}

/* Everything from the header to the payload crc. */
static int write_body(ck_writer *w, const tlm_ckpt *c, const unsigned char *h, const ck_layout *L)
{
    unsigned char crc[4];
    size_t fb = (size_t)L->bytes[0];
    put_u32(crc, (uint32_t)crc32_z(0, h, (size_t)L->header));
    if (w_put(w, h, (size_t)L->header) || w_put(w, crc, 4))
        return -1;
    w->crc_on = 1;
    const float *arr[3] = {c->params, c->m, c->v};
    for (int s = 0; s < 3; s++)
        if (w_pad_to(w, L->off[s]) || w_put(w, arr[s], fb))
            return -1;
    if (w_pad_to(w, L->off[3]))
        return -1;
    for (size_t i = 0; i < c->history_n; i++)
        if (put_row(w, &c->history[i]))
            return -1;
    w->crc_on = 0;
    put_u32(crc, (uint32_t)w->crc);
    return w_put(w, crc, 4) || w_flush(w) ? -1 : 0;
}

int tlm_ckpt_save(const char *path, const tlm_ckpt *c, tlm_err *err)
{
    int rc = -1;
    char *tmp = NULL;
    unsigned char *h = NULL;
    ck_layout L = {0};
    ck_writer w = {.fd = -1, .crc = crc32_z(0, NULL, 0)};
    if (check_input(path, c, err) || !(h = build_header(path, c, &L, err)))
        goto cleanup;
    if (!(w.buf = malloc(CK_BUF))) {
        tlm_errf(err, "checkpoint %s: out of memory", path);
        goto cleanup;
    }
    if ((w.fd = tlm_file_open_temp(path, "checkpoint", &tmp, err)) < 0)
        goto cleanup;
    if (write_body(&w, c, h, &L) || fsync(w.fd)) {
        tlm_errf(err, "checkpoint %s: writing %s failed: %s", path, tmp, strerror(errno));
        goto cleanup;
    }
    int cr = close(w.fd);
    w.fd = -1;
    if (cr || rename(tmp, path)) {
        tlm_errf(err, "checkpoint %s: %s of %s failed: %s", path, cr ? "close" : "rename", tmp,
                 strerror(errno));
        goto cleanup;
    }
    free(tmp);
    tmp = NULL;
    if (tlm_file_fsync_dir(path)) {
        tlm_errf(err, "checkpoint %s: fsync of the folder failed: %s", path, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (w.fd >= 0)
        close(w.fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(w.buf);
    free(h);
    return rc;
}

/* ---- load ---- */

typedef struct ck_reader {
    const char *path;
    int fd;
    uint64_t size;
    uLong crc;
} ck_reader;

/* Read exactly n bytes (sequentially); crc them when crc is set. */
static int r_read(ck_reader *r, void *dst, size_t n, int crc, tlm_err *err)
{
    unsigned char *p = dst;
    while (n) {
        size_t k = n < CK_BUF ? n : CK_BUF;
        ssize_t got = read(r->fd, p, k);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return tlm_errf(err, "checkpoint %s: read failed: %s", r->path,
                            got ? strerror(errno) : "unexpected end of file");
        if (crc)
            r->crc = crc32_z(r->crc, p, (size_t)got);
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

/* Read the zero padding up to off (the reader is at pos). */
static int r_pad(ck_reader *r, uint64_t pos, uint64_t off, tlm_err *err)
{
    unsigned char b[64];
    size_t n = (size_t)(off - pos);
    if (r_read(r, b, n, 1, err))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return tlm_errf(err, "checkpoint %s: non-zero padding at byte %llu (file corrupt)",
                            r->path, (unsigned long long)(pos + i));
    return 0;
}

/* Magic, version and header length; reads the header and checks its crc. */
static int read_header(ck_reader *r, unsigned char **hp, tlm_err *err)
{
    unsigned char pre[16];
    struct stat st;
    if (fstat(r->fd, &st) || !S_ISREG(st.st_mode))
        return tlm_errf(err, "checkpoint %s: not a regular file", r->path);
    r->size = (uint64_t)st.st_size;
    if (r->size < 16 || r_read(r, pre, 16, 0, err))
        return tlm_errf(err, "checkpoint %s: truncated (%llu bytes; too short for a header)",
                        r->path, (unsigned long long)r->size);
    if (memcmp(pre, CK_MAGIC, 8) != 0)
        return tlm_errf(err, "checkpoint %s: not a tlm checkpoint (bad magic)", r->path);
    uint32_t version = get_u32(pre + 8), H = get_u32(pre + 12);
    if (version > CK_VERSION)
        return tlm_errf(err, "checkpoint %s: written by a newer tlm (format version %u; this "
                        "build reads version %u)", r->path, version, CK_VERSION);
    if (version < 1)
        return tlm_errf(err, "checkpoint %s: bad format version %u", r->path, version);
    if (H < CK_FIXED + CK_NSEC * CK_SEC_BYTES || H > CK_FIXED + CK_NSEC * CK_SEC_BYTES + CK_CONFIG_MAX)
        return tlm_errf(err, "checkpoint %s: bad header length %u", r->path, H);
    if ((uint64_t)H + 4 > r->size)
        return tlm_errf(err, "checkpoint %s: truncated (header of %u bytes, file of %llu bytes)",
                        r->path, H, (unsigned long long)r->size);
    unsigned char *h = malloc((size_t)H + 4);
    if (!h)
        return tlm_errf(err, "checkpoint %s: out of memory", r->path);
    *hp = h;
    memcpy(h, pre, 16);
    if (r_read(r, h + 16, (size_t)H + 4 - 16, 0, err))
        return -1;
    if (crc32_z(0, h, H) != get_u32(h + H))
        return tlm_errf(err, "checkpoint %s: header checksum mismatch (file corrupt)", r->path);
    return 0;
}

/* The fixed fields and config into c; the expected layout into L. */
static int parse_header(ck_reader *r, const unsigned char *h, tlm_ckpt *c, ck_layout *L,
                        tlm_err *err)
{
    uint32_t H = get_u32(h + 12), clen = get_u32(h + 120), nsec = get_u32(h + 124);
    uint64_t count = get_u64(h + 104), rows = get_u64(h + 112), n;
    if (nsec != CK_NSEC || (uint64_t)CK_FIXED + clen + CK_NSEC * CK_SEC_BYTES != H)
        return tlm_errf(err, "checkpoint %s: bad section count %u or config length %u", r->path,
                        nsec, clen);
    if (tlm_config_deserialize(&c->cfg, (const char *)h + CK_FIXED, clen, err))
        return tlm_err_prefix(err, "checkpoint %s: ", r->path);
    if (tlm_config_param_count(&c->cfg, &n, err))
        return tlm_err_prefix(err, "checkpoint %s: ", r->path);
    if (count != n || count > SIZE_MAX / sizeof(float))
        return tlm_errf(err, "checkpoint %s: %llu floats per tensor block, but the config has "
                        "%llu parameters", r->path, (unsigned long long)count, (unsigned long long)n);
    c->step = (int64_t)get_u64(h + 16);
    c->tokens = bits_f64(get_u64(h + 24));
    if (c->step < 0 || !(c->tokens >= 0) || isinf(c->tokens))
        return tlm_errf(err, "checkpoint %s: bad step %lld or token count", r->path,
                        (long long)c->step);
    for (int i = 0; i < 4; i++) {
        c->data_rng.s[i] = get_u64(h + 32 + 8 * i);
        c->aux_rng.s[i] = get_u64(h + 64 + 8 * i);
    }
    c->tokenizer_hash = get_u64(h + 96);
    c->count = (size_t)count;
    if (make_layout(H, count, rows, L) || rows > SIZE_MAX / sizeof(tlm_metric_row))
        return tlm_errf(err, "checkpoint %s: section sizes overflow", r->path);
    c->history_n = (size_t)rows;
    const unsigned char *t = h + CK_FIXED + clen;
    for (unsigned s = 0; s < CK_NSEC; s++, t += CK_SEC_BYTES)
        if (memcmp(t, sec_names[s], 16) || get_u64(t + 16) != L->off[s] ||
            get_u64(t + 24) != L->bytes[s])
            return tlm_errf(err, "checkpoint %s: section %u ('%s') has a bad name, offset or size",
                            r->path, s, sec_names[s]);
    if (L->total != r->size)
        return tlm_errf(err, "checkpoint %s: file is %llu bytes, the header says %llu (%s)",
                        r->path, (unsigned long long)r->size, (unsigned long long)L->total,
                        r->size < L->total ? "truncated" : "trailing data");
    return 0;
}

static void decode_row(const unsigned char *b, tlm_metric_row *r)
{
    r->step = (int64_t)get_u64(b);
    r->tokens = bits_f64(get_u64(b + 8));
    r->lr = bits_f32(get_u32(b + 16));
    r->train_loss = bits_f32(get_u32(b + 20));
    r->val_loss = bits_f32(get_u32(b + 24));
    r->grad_norm = bits_f32(get_u32(b + 28));
    r->tok_s = bits_f32(get_u32(b + 32));
}

/* The payload sections into freshly allocated arrays of c, and the crc. */
static int read_payload(ck_reader *r, tlm_ckpt *c, const ck_layout *L, tlm_err *err)
{
    unsigned char *rows = NULL, crc[4];
    float **arr[3] = {&c->params, &c->m, &c->v};
    uint64_t pos = L->header + 4;
    int rc = -1;
    r->crc = crc32_z(0, NULL, 0);
    for (int s = 0; s < 3; s++) {
        if (!(*arr[s] = tlm_calloc_aligned(c->count, sizeof(float), err))) {
            tlm_err_prefix(err, "checkpoint %s: ", r->path);
            goto cleanup;
        }
        if (r_pad(r, pos, L->off[s], err) || r_read(r, *arr[s], (size_t)L->bytes[s], 1, err))
            goto cleanup;
        pos = L->off[s] + L->bytes[s];
    }
    if (!(rows = tlm_calloc((size_t)L->bytes[3] + 1, 1, err)) ||
        !(c->history = tlm_calloc(c->history_n + 1, sizeof *c->history, err))) {
        tlm_err_prefix(err, "checkpoint %s: ", r->path);
        goto cleanup;
    }
    if (r_pad(r, pos, L->off[3], err) || r_read(r, rows, (size_t)L->bytes[3], 1, err) ||
        r_read(r, crc, 4, 0, err))
        goto cleanup;
    if ((uint32_t)r->crc != get_u32(crc)) {
        tlm_errf(err, "checkpoint %s: payload checksum mismatch (file corrupt)", r->path);
        goto cleanup;
    }
    for (size_t i = 0; i < c->history_n; i++)
        decode_row(rows + i * CK_ROW_BYTES, &c->history[i]);
    rc = 0;
cleanup:
    free(rows);
    return rc;
}

int tlm_ckpt_load(const char *path, tlm_ckpt *c, tlm_err *err)
{
    ck_reader r = {.path = path, .fd = -1};
    unsigned char *h = NULL;
    tlm_ckpt tmp;
    ck_layout L = {0};
    int rc = -1;
    memset(&tmp, 0, sizeof tmp);
    if ((r.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        tlm_errf(err, "checkpoint %s: %s", path, strerror(errno));
        goto cleanup;
    }
    posix_fadvise(r.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (read_header(&r, &h, err) || parse_header(&r, h, &tmp, &L, err) ||
        read_payload(&r, &tmp, &L, err))
        goto cleanup;
    *c = tmp;
    memset(&tmp, 0, sizeof tmp);
    rc = 0;
cleanup:
    tlm_ckpt_free(&tmp);
    if (r.fd >= 0)
        close(r.fd);
    free(h);
    return rc;
}

void tlm_ckpt_free(tlm_ckpt *c)
{
    free(c->params);
    free(c->m);
    free(c->v);
    free(c->history);
    c->params = c->m = c->v = NULL;
    c->history = NULL;
    c->history_n = 0;
    c->count = 0;
}

int tlm_ckpt_sniff(const char *path)
{
    char b[8];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, b, 8, 0);
    close(fd);
    return n == 8 && memcmp(b, CK_MAGIC, 8) == 0;
}
