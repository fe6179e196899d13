/* dataset.c - text files encoded once into an on-disk token cache, mmap'd,
 * and (B, T) windows drawn from it.
 *
 * Documents: a file with at least one "<|endoftext|>" line is split at those
 * lines; each story, trimmed of surrounding whitespace, is one document
 * (empty ones are skipped, a cut-off tail after the last separator counts).
 * A file without any separator is running text: each non-empty (trimmed)
 * line is its own document. Every document is encoded with add_special.
 *
 * Cache file <cache_dir>/tokens-<key>.tlmtok, key = hash of (text checksum,
 * text size, tokenizer hash, format version, element width). Layout, all
 * little-endian:
 *   0  "TLMTOKC1"        8 bytes
 *   8  u32 version       (1)
 *  12  u32 width         2 when vocab <= 65536, else 4
 *  16  u64 tokenizer hash
 *  24  u64 text checksum (per file: crc32 and adler32 of the bytes, chained
 *                         with the file sizes)
 *  32  u64 text size     (bytes of all files)
 *  40  u64 token count
 *  48  tokens            count * width bytes
 *  ..  u32 crc32 (zlib) of the token bytes
 * A cache whose size, header, crc or token range does not check out is
 * rebuilt (written to a temporary file, then renamed over it). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "dataset.h"
#include "datapath.h"

#define CACHE_MAGIC "TLMTOKC1"
#define CACHE_VERSION 1u
#define CACHE_HDR 48u
#define SEPARATOR "<|endoftext|>"

struct tlm_dataset {
    const int32_t *tokens;
    size_t n;
    int32_t *owned; /* converted tokens (width 2 or big-endian host) */
    void *map;      /* the cache mapping when tokens point into it */
    size_t map_len;
};

/* One input text file, mapped read-only. */
typedef struct text_file {
    const char *path;
    const char *data;
    size_t size;
} text_file;

typedef struct text_set {
    text_file *f;
    size_t nf;
    char *paths; /* the writable copy the file paths point into */
    uint64_t checksum, size;
} text_set;

/* ---- little-endian helpers ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static int little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* zlib's crc32/adler32 take uInt lengths: feed them in chunks. */
static uint32_t crc_bytes(uint32_t crc, const void *p, size_t n)
{
    const Bytef *s = p;
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, s, k);
        s += k;
        n -= k;
    }
    return crc;
}

static uint32_t adler_bytes(uint32_t a, const void *p, size_t n)
{
    const Bytef *s = p;
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        a = (uint32_t)adler32(a, s, k);
        s += k;
        n -= k;
    }
    return a;
}

static uint64_t mix64(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- input text ---- */

static int map_text(text_file *f, tlm_err *err)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tlm_errf(err, "file %s: cannot open: %s", f->path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        return tlm_errf(err, "file %s: cannot stat: %s", f->path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return tlm_errf(err, "file %s: not a regular file%s", f->path,
                        S_ISDIR(st.st_mode) ? " (it is a directory)" : "");
    }
    if (st.st_size <= 0) {
        close(fd);
        return tlm_errf(err, "file %s: empty, no text to train on", f->path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX / 2) {
        close(fd);
        return tlm_errf(err, "file %s: too large", f->path);
    }
    f->size = (size_t)st.st_size;
    void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED)
        return tlm_errf(err, "file %s: cannot map: %s", f->path, strerror(e));
    f->data = m;
    const char *nul = memchr(f->data, 0, f->size);
    if (nul)
        return tlm_errf(err, "file %s: NUL byte at offset %zu: binary data, not text", f->path,
                        (size_t)(nul - f->data));
    return 0;
}

static void text_free(text_set *ts)
{
    for (size_t i = 0; i < ts->nf; i++)
        if (ts->f[i].data)
            munmap((void *)ts->f[i].data, ts->f[i].size);
    free(ts->f);
    free(ts->paths);
    memset(ts, 0, sizeof *ts);
}

/* Split the ','-separated list, map every file and checksum the lot. */
static int text_open(text_set *ts, const char *paths, tlm_err *err)
{
    memset(ts, 0, sizeof *ts);
    if (!paths || !*paths)
        return tlm_errf(err, "dataset: no text file given");
    size_t len = strlen(paths), nf = 1;
    for (size_t i = 0; i < len; i++)
        nf += paths[i] == ',';
    ts->paths = malloc(len + 1);
    ts->f = tlm_calloc(nf, sizeof *ts->f, err);
    if (!ts->paths || !ts->f) {
        text_free(ts);
        return tlm_errf(err, "dataset: out of memory");
    }
    memcpy(ts->paths, paths, len + 1);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (char *s = ts->paths, *next; s; s = next) {
        next = strchr(s, ',');
        if (next)
            *next++ = 0;
        if (!*s) {
            text_free(ts);
            return tlm_errf(err, "dataset: empty file name in list '%s'", paths);
        }
        text_file *f = &ts->f[ts->nf++];
        f->path = s;
        if (map_text(f, err)) {
            text_free(ts);
            return -1;
        }
        uint64_t sum = (uint64_t)crc_bytes(0, f->data, f->size) << 32 |
                       adler_bytes(1, f->data, f->size);
        h = mix64(mix64(h, f->size), sum);
        ts->size += f->size;
    }
    ts->checksum = h;
    return 0;
}

/* ---- encoding ---- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Encode s[0..n) trimmed as one document when it is not empty. */
static int encode_doc(const tlm_tokenizer *tok, const char *s, size_t n, tlm_ids *out,
                      tlm_err *err)
{
    while (n && is_space(*s))
        s++, n--;
    while (n && is_space(s[n - 1]))
        n--;
    if (n == 0)
        return 0;
    return tlm_tokenizer_encode(tok, s, n, 1, out, err);
}

/* True when line s[0..n) is a "<|endoftext|>" separator (surrounding
 * whitespace allowed). */
static int is_separator(const char *s, size_t n)
{
    while (n && is_space(*s))
        s++, n--;
    while (n && is_space(s[n - 1]))
        n--;
    return n == sizeof SEPARATOR - 1 && memcmp(s, SEPARATOR, n) == 0;
}

static const char *line_end(const char *s, const char *end)
{
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    return nl ? nl : end;
}

static int has_separator(const text_file *f)
{
    const char *end = f->data + f->size;
    for (const char *s = f->data; s < end;) {
        const char *e = line_end(s, end);
        if (is_separator(s, (size_t)(e - s)))
            return 1;
        s = e + (e < end);
    }
    return 0;
}

/* Encode one file's documents, appending to out. */
static int encode_file(const tlm_tokenizer *tok, const text_file *f, tlm_ids *out, tlm_err *err)
{
    const char *end = f->data + f->size, *doc = f->data;
    int stories = has_separator(f);
    size_t before = out->n;
    for (const char *s = f->data; s < end;) {
        const char *e = line_end(s, end);
        if (!stories) {
            if (encode_doc(tok, s, (size_t)(e - s), out, err))
                return tlm_err_prefix(err, "file %s: ", f->path);
        } else if (is_separator(s, (size_t)(e - s))) {
            if (encode_doc(tok, doc, (size_t)(s - doc), out, err))
                return tlm_err_prefix(err, "file %s: ", f->path);
            doc = e + (e < end);
        }
        s = e + (e < end);
    }
    if (stories && encode_doc(tok, doc, (size_t)(end - doc), out, err))
        return tlm_err_prefix(err, "file %s: ", f->path);
    if (out->n - before < 2)
        return tlm_errf(err, "file %s: no text to train on (%zu tokens after encoding)",
                        f->path, out->n - before);
    return 0;
}

/* ---- cache file ---- */

static unsigned cache_width(const tlm_tokenizer *tok)
{
    return tlm_tokenizer_vocab_size(tok) <= 65536 ? 2u : 4u;
}

static void cache_header(unsigned char *h, const tlm_tokenizer *tok, const text_set *ts,
                         size_t count)
{
    memcpy(h, CACHE_MAGIC, 8);
    put_u32(h + 8, CACHE_VERSION);
    put_u32(h + 12, cache_width(tok));
    put_u64(h + 16, tlm_tokenizer_hash(tok));
    put_u64(h + 24, ts->checksum);
    put_u64(h + 32, ts->size);
    put_u64(h + 40, (uint64_t)count);
}

static int write_all(FILE *fp, const void *p, size_t n)
{
    return fwrite(p, 1, n, fp) == n ? 0 : -1;
}

/* Write the tokens to tmp (header, tokens, crc). */
static int cache_write_fp(FILE *fp, const tlm_tokenizer *tok, const text_set *ts,
                          const tlm_ids *ids)
{
    unsigned char hdr[CACHE_HDR], buf[1 << 16];
    unsigned w = cache_width(tok);
    cache_header(hdr, tok, ts, ids->n);
    if (write_all(fp, hdr, sizeof hdr))
        return -1;
    uint32_t crc = 0;
    size_t per = sizeof buf / w;
    for (size_t i = 0; i < ids->n; i += per) {
        size_t k = ids->n - i < per ? ids->n - i : per;
        for (size_t j = 0; j < k; j++) {
            uint32_t v = (uint32_t)ids->v[i + j];
            if (w == 2)
                buf[2 * j] = (unsigned char)v, buf[2 * j + 1] = (unsigned char)(v >> 8);
            else
                put_u32(buf + 4 * j, v);
        }
        crc = crc_bytes(crc, buf, k * w);
        if (write_all(fp, buf, k * w))
            return -1;
    }
    unsigned char tail[4];
    put_u32(tail, crc);
    if (write_all(fp, tail, 4) || fflush(fp) || fsync(fileno(fp)))
        return -1;
    return 0;
}

static int cache_write(const char *path, const tlm_tokenizer *tok, const text_set *ts,
                       const tlm_ids *ids, tlm_err *err)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return tlm_errf(err, "cache %s: path too long", path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp)
        return tlm_errf(err, "cache %s: cannot create: %s", tmp, strerror(errno));
    int rc = cache_write_fp(fp, tok, ts, ids);
    int e = errno;
    if (fclose(fp))
        rc = -1, e = errno;
    if (rc == 0 && rename(tmp, path))
        rc = -1, e = errno;
    if (rc) {
        unlink(tmp);
        return tlm_errf(err, "cache %s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

/* Check the mapped cache m[0..n) against what we expect; 0 when valid. */
static int cache_valid(const unsigned char *m, size_t n, const tlm_tokenizer *tok,
                       const text_set *ts)
{
    if (n < CACHE_HDR + 4)
        return -1;
    uint64_t count = get_u64(m + 40);
    unsigned w = cache_width(tok);
    size_t body, want;
    if (count < 2 || count > SIZE_MAX || tlm_mul_size((size_t)count, w, &body) ||
        tlm_add_size(body, CACHE_HDR + 4, &want) || want != n)
        return -1;
    unsigned char hdr[CACHE_HDR];
    cache_header(hdr, tok, ts, (size_t)count);
    if (memcmp(hdr, m, CACHE_HDR) != 0)
        return -1;
    if (crc_bytes(0, m + CACHE_HDR, body) != get_u32(m + CACHE_HDR + body))
        return -1;
    uint32_t vocab = (uint32_t)tlm_tokenizer_vocab_size(tok);
    for (size_t i = 0; i < count; i++) {
        const unsigned char *p = m + CACHE_HDR + i * w;
        uint32_t v = w == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : get_u32(p);
        if (v >= vocab)
            return -1;
    }
    return 0;
}

/* Map the cache and, when valid, make ds->tokens point at its tokens.
 * Returns 0 (loaded), 1 (missing or invalid: rebuild) or -1 (error). */
static int cache_load(tlm_dataset *ds, const char *path, const tlm_tokenizer *tok,
                      const text_set *ts, tlm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : tlm_errf(err, "cache %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return 1;
    }
    size_t n = (size_t)st.st_size;
    void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return 1;
    if (cache_valid(m, n, tok, ts)) {
        munmap(m, n);
        return 1;
    }
    const unsigned char *b = (const unsigned char *)m + CACHE_HDR;
    size_t count = (size_t)get_u64((const unsigned char *)m + 40);
    if (cache_width(tok) == 4 && little_endian()) {
        ds->tokens = (const int32_t *)(const void *)b;
        ds->map = m;
        ds->map_len = n;
    } else {
        ds->owned = tlm_calloc(count, sizeof *ds->owned, err);
        if (!ds->owned) {
            munmap(m, n);
            return -1;
        }
        for (size_t i = 0; i < count; i++)
            ds->owned[i] = cache_width(tok) == 2 ? (int32_t)(b[2 * i] | b[2 * i + 1] << 8)
                                                 : (int32_t)get_u32(b + 4 * i);
        munmap(m, n);
        ds->tokens = ds->owned;
    }
    ds->n = count;
    return 0;
}

static int cache_path(char *out, size_t n, const char *cache_dir, const tlm_tokenizer *tok,
                      const text_set *ts, tlm_err *err)
{
    uint64_t key = 0xcbf29ce484222325ULL;
    key = mix64(key, ts->checksum);
    key = mix64(key, ts->size);
    key = mix64(key, tlm_tokenizer_hash(tok));
    key = mix64(key, CACHE_VERSION);
    key = mix64(key, cache_width(tok));
    if (snprintf(out, n, "%s/tokens-%016llx.tlmtok", cache_dir, (unsigned long long)key) >=
        (int)n)
        return tlm_errf(err, "cache folder path too long: %s", cache_dir);
    return 0;
}

static int encode_all(const tlm_tokenizer *tok, const text_set *ts, tlm_ids *ids, tlm_err *err)
{
    for (size_t i = 0; i < ts->nf; i++)
        if (encode_file(tok, &ts->f[i], ids, err))
            return -1;
    return 0;
}

/* Open (building when needed) the token cache of `paths`; 0 with *out set,
 * or -1 with err naming the file at fault. */
int tlm_dataset_open(tlm_dataset **out, const char *paths, const tlm_tokenizer *tok,
                     const char *cache_dir, tlm_err *err)
{
    *out = NULL;
    if (!tok)
        return tlm_errf(err, "dataset: no tokenizer");
    char dir[4096], path[4200];
    if (!cache_dir || !*cache_dir) {
        if (tlm_cache_dir(dir, sizeof dir, err))
            return -1;
        cache_dir = dir;
    } else if (tlm_mkdirs(cache_dir, err)) {
        return -1;
    }
    text_set ts;
    if (text_open(&ts, paths, err))
        return -1;
    tlm_dataset *ds = tlm_calloc(1, sizeof *ds, err);
    int rc = ds ? cache_path(path, sizeof path, cache_dir, tok, &ts, err) : -1;
    if (rc == 0)
        rc = cache_load(ds, path, tok, &ts, err);
    if (rc == 1) {
        tlm_ids ids = {0};
        rc = encode_all(tok, &ts, &ids, err);
        if (rc == 0)
            rc = cache_write(path, tok, &ts, &ids, err);
        tlm_ids_free(&ids);
        if (rc == 0)
            rc = cache_load(ds, path, tok, &ts, err);
        if (rc == 1)
            rc = tlm_errf(err, "cache %s: invalid right after writing it", path);
    }
    text_free(&ts);
    if (rc) {
        tlm_dataset_close(ds);
        return -1;
    }
    *out = ds;
    return 0;
}

void tlm_dataset_close(tlm_dataset *ds)
{
    if (!ds)
        return;
    if (ds->map)
        munmap(ds->map, ds->map_len);
    free(ds->owned);
    free(ds);
}

size_t tlm_dataset_size(const tlm_dataset *ds)
{
    return ds->n;
}

const int32_t *tlm_dataset_tokens(const tlm_dataset *ds)
{
    return ds->tokens;
}

/* B random windows, start uniform in [0, size - T); when size <= T (or B, T
 * not positive) x and y are zero-filled instead. */
void tlm_dataset_sample(const tlm_dataset *ds, tlm_rng *rng, int B, int T, int32_t *x, int32_t *y)
{
    if (B <= 0 || T <= 0)
        return;
    size_t t = (size_t)T;
    for (int b = 0; b < B; b++) {
        int32_t *xb = x + (size_t)b * t, *yb = y + (size_t)b * t;
        if (ds->n <= t) {
            memset(xb, 0, t * sizeof *xb);
            memset(yb, 0, t * sizeof *yb);
            continue;
        }
        size_t s = (size_t)tlm_rng_below(rng, (uint64_t)(ds->n - t));
        memcpy(xb, ds->tokens + s, t * sizeof *xb);
        memcpy(yb, ds->tokens + s + 1, t * sizeof *yb);
    }
}

/* Window `index` of the consecutive non-overlapping (T+1)-token windows:
 * x = tok[i*(T+1) .. +T), y = x shifted by one. Fills nothing when index is
 * out of range (or x/y are NULL); returns the number of windows. */
size_t tlm_dataset_window(const tlm_dataset *ds, size_t index, int T, int32_t *x, int32_t *y)
{
    if (T <= 0)
        return 0;
    size_t span = (size_t)T + 1, count = ds->n / span;
    if (index >= count || !x || !y)
        return count;
    const int32_t *s = ds->tokens + index * span;
    memcpy(x, s, (size_t)T * sizeof *x);
    memcpy(y, s + 1, (size_t)T * sizeof *y);
    return count;
}
