/* tokenizer.c - tokenizer loading, kind sniffing, piece index and dispatch.
 * The format-specific parts live in bpe.c and wordpiece.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tokenizer_impl.h"

/* Tokenizer files larger than this are refused (the real ones are < 1 MiB). */
#define TLM_TOK_MAX_FILE ((size_t)256 << 20)

int tlm_ids_push(tlm_ids *ids, int32_t id, tlm_err *err)
{
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap : 64, bytes;
        if (tlm_mul_size(cap, 2, &cap) || tlm_mul_size(cap, sizeof *ids->v, &bytes))
            return tlm_errf(err, "token id array too large");
        int32_t *v = realloc(ids->v, bytes);
        if (!v)
            return tlm_errf(err, "out of memory growing the token id array to %zu ids", cap);
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return 0;
}

void tlm_ids_free(tlm_ids *ids)
{
    if (!ids)
        return;
    free(ids->v);
    ids->v = NULL;
    ids->n = ids->cap = 0;
}

uint64_t tlm__fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void tlm__tok_put(char *buf, size_t n, size_t *used, const char *s, size_t len)
{
    if (n == 0 || *used >= n - 1)
        return;
    size_t room = n - 1 - *used;
    if (len > room)
        len = room;
    memcpy(buf + *used, s, len);
    *used += len;
    buf[*used] = 0;
}

/* Read a whole regular file into a malloc'd buffer (plus one NUL byte). */
static int read_file(const char *path, unsigned char **out, size_t *n, tlm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tlm_errf(err, "file %s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        return tlm_errf(err, "file %s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return tlm_errf(err, "file %s: not a regular file%s", path,
                        S_ISDIR(st.st_mode) ? " (it is a directory)" : "");
    }
    if (st.st_size <= 0 || (uint64_t)st.st_size > TLM_TOK_MAX_FILE) {
        close(fd);
        return st.st_size <= 0 ? tlm_errf(err, "file %s: empty file, not a tokenizer", path)
                               : tlm_errf(err, "file %s: %lld bytes is too large for a tokenizer",
                                          path, (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    unsigned char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return tlm_errf(err, "file %s: out of memory reading %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            free(buf);
            close(fd);
            return r < 0 ? tlm_errf(err, "file %s: read error: %s", path, strerror(e))
                         : tlm_errf(err, "file %s: shrank while reading", path);
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = 0;
    *out = buf;
    *n = size;
    return 0;
}

int tlm__tok_index(tlm_tokenizer *t, int last_wins, const char *path, tlm_err *err)
{
    size_t cap = 16, want;
    if (tlm_mul_size((size_t)t->vocab_size, 2, &want))
        return tlm_errf(err, "file %s: vocabulary too large", path);
    while (cap < want)
        cap *= 2;
    t->table = malloc(cap * sizeof *t->table);
    if (!t->table)
        return tlm_errf(err, "file %s: out of memory for the piece index", path);
    memset(t->table, 0xff, cap * sizeof *t->table); /* all -1 */
    t->table_mask = cap - 1;
    for (int id = 0; id < t->vocab_size; id++) {
        uint64_t h = tlm__fnv1a(TLM_FNV_INIT, t->pieces[id], t->piece_len[id]);
        for (size_t i = (size_t)h & t->table_mask;; i = (i + 1) & t->table_mask) {
            int32_t e = t->table[i];
            if (e < 0) {
                t->table[i] = id;
                break;
            }
            if (t->piece_len[e] == t->piece_len[id] &&
                memcmp(t->pieces[e], t->pieces[id], t->piece_len[id]) == 0) {
                if (last_wins)
                    t->table[i] = id;
                break;
            }
        }
    }
    return 0;
}

int tlm__tok_find2(const tlm_tokenizer *t, const char *a, size_t an, const char *b, size_t bn)
{
    size_t len = an + bn;
    if (len < an || len > t->max_piece_len)
        return -1;
    uint64_t h = tlm__fnv1a(tlm__fnv1a(TLM_FNV_INIT, a, an), b, bn);
    for (size_t i = (size_t)h & t->table_mask;; i = (i + 1) & t->table_mask) {
        int32_t e = t->table[i];
        if (e < 0)
            return -1;
        if (t->piece_len[e] == len && memcmp(t->pieces[e], a, an) == 0 &&
            memcmp(t->pieces[e] + an, b, bn) == 0)
            return e;
    }
}

/* The kind from the content: a llama2.c .bin starts with a little-endian u32
 * max_token_length (small, so its top byte is 0); a vocab.txt is text and
 * never has a NUL byte in its first four bytes. */
static tlm_tok_kind sniff(const unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n && i < 4; i++)
        if (buf[i] == 0)
            return TLM_TOK_BPE;
    return TLM_TOK_WORDPIECE;
}

/* Parse tokenizer bytes buf[0..n) of the given kind (0: sniffed); 0 with
 * *out set, or -1 with err naming `name`. */
int tlm_tokenizer_parse(tlm_tokenizer **out, const unsigned char *buf, size_t n, int kind,
                        const char *name, tlm_err *err)
{
    *out = NULL;
    if (n == 0)
        return tlm_errf(err, "file %s: empty file, not a tokenizer", name);
    if (n > TLM_TOK_MAX_FILE)
        return tlm_errf(err, "file %s: %zu bytes is too large for a tokenizer", name, n);
    tlm_tokenizer *t = tlm_calloc(1, sizeof *t, err);
    if (!t)
        return -1;
    t->pad = t->unk = -1;
    t->hash = tlm__fnv1a(tlm__fnv1a(TLM_FNV_INIT, buf, n), &(uint64_t){n}, sizeof(uint64_t));
    if (kind == 0)
        kind = sniff(buf, n);
    int rc = kind == TLM_TOK_BPE ? tlm__bpe_parse(t, buf, n, name, err)
                                 : tlm__wp_parse(t, buf, n, name, err);
    if (rc) {
        tlm_tokenizer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* Load a tokenizer file (BPE .bin or WordPiece vocab.txt, sniffed from the
 * bytes); 0 with *out set, or -1 with err naming the file. */
int tlm_tokenizer_load(tlm_tokenizer **out, const char *path, tlm_err *err)
{
    *out = NULL;
    if (!path || !*path)
        return tlm_errf(err, "tokenizer: empty path");
    unsigned char *buf = NULL;
    size_t n = 0;
    if (read_file(path, &buf, &n, err))
        return -1;
    int rc = tlm_tokenizer_parse(out, buf, n, 0, path, err);
    free(buf);
    return rc;
}

void tlm_tokenizer_free(tlm_tokenizer *t)
{
    if (!t)
        return;
    free(t->pieces);
    free(t->piece_len);
    free(t->scores);
    free(t->arena);
    free(t->table);
    free(t);
}

tlm_tok_kind tlm_tokenizer_kind(const tlm_tokenizer *t)
{
    return t->kind;
}

int tlm_tokenizer_vocab_size(const tlm_tokenizer *t)
{
    return t->vocab_size;
}

uint64_t tlm_tokenizer_hash(const tlm_tokenizer *t)
{
    return t->hash;
}

int tlm_tokenizer_bos(const tlm_tokenizer *t)
{
    return t->bos;
}

int tlm_tokenizer_eos(const tlm_tokenizer *t)
{
    return t->eos;
}

/* Encode text[0..len) and append the ids to out; -1 with err on failure
 * (out keeps what was appended before the failure). */
int tlm_tokenizer_encode(const tlm_tokenizer *t, const char *text, size_t len, int add_special,
                         tlm_ids *out, tlm_err *err)
{
    if (!t || !out)
        return tlm_errf(err, "tokenizer encode: NULL argument");
    if (!text && len)
        return tlm_errf(err, "tokenizer encode: NULL text");
    if (!text)
        text = "";
    if (t->kind == TLM_TOK_BPE)
        return tlm__bpe_encode(t, text, len, add_special, out, err);
    return tlm__wp_encode(t, text, len, add_special, out, err);
}

/* Piece string of id as stored, or NULL when id is out of range. */
const char *tlm_tokenizer_piece(const tlm_tokenizer *t, int id)
{
    if (!t || id < 0 || id >= t->vocab_size)
        return NULL;
    return t->pieces[id];
}

/* Text of id after prev into buf (n-1 bytes at most plus NUL); returns the
 * bytes written; an out-of-range id writes "". */
size_t tlm_tokenizer_decode(const tlm_tokenizer *t, int prev, int id, char *buf, size_t n)
{
    if (!buf || n == 0)
        return 0;
    buf[0] = 0;
    if (!t || id < 0 || id >= t->vocab_size)
        return 0;
    if (t->kind == TLM_TOK_BPE)
        return tlm__bpe_decode(t, prev, id, buf, n);
    return tlm__wp_decode(t, prev, id, buf, n);
}
