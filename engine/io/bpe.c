/* bpe.c - llama2.c-format BPE tokenizer (tokenizer.bin).
 *
 * File: u32 max_token_length, then per token { f32 score, u32 len, len bytes };
 * the vocabulary runs to the end of the file. Encoding reproduces llama2.c
 * run.c encode(): optional BOS, a dummy-prefix " " when the text is not empty,
 * one piece per UTF-8 codepoint (byte fallback <0xXX> = byte + 3 when the
 * codepoint is not a piece), then repeatedly merge the adjacent pair whose
 * concatenation is a piece with the highest score (leftmost on ties, only
 * scores > -1e10).
 *
 * llama2.c rescans all pairs after every merge (O(n^2) per text). Here the
 * candidate pairs live in a max-heap with lazy invalidation, which picks the
 * very same pair at every step (highest score, then leftmost position, since
 * merged tokens keep the position of their left half and the order of tokens
 * never changes), so long documents cost O(n log n).
 * To bound memory (about 90 bytes of work space per input byte), texts
 * longer than BPE_CHUNK bytes are encoded in chunks, cut just before a space
 * that follows a non-space byte: a SentencePiece vocabulary (whitespace only
 * as a piece prefix) has no piece spanning such a cut, so the ids are the
 * same as llama2.c's. Only a run of BPE_CHUNK/2 bytes without such a space
 * gets cut at a UTF-8 character boundary instead.
 * Unlike llama2.c, the BOS token never takes part in merges (only a vocabulary
 * holding "\n<s>\n..." concatenations could tell the difference). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer_impl.h"

#define BPE_BOS 1
#define BPE_EOS 2
#define BPE_BYTE0 3              /* id of <0x00> */
#define BPE_MIN_VOCAB (3 + 256)  /* <unk>, <s>, </s> and the 256 byte pieces */
#define BPE_MAX_PIECE (1u << 16) /* refuse absurd max_token_length values */
#define BPE_NO_SCORE (-1e10f)    /* llama2.c's initial best_score */
#ifndef BPE_CHUNK
#define BPE_CHUNK ((size_t)1 << 16) /* max bytes merged at once */
#endif

static uint32_t rd_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float rd_f32(const unsigned char *p)
{
    uint32_t u = rd_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Walk the records once to validate them and count pieces and bytes. */
static int bpe_scan(const unsigned char *buf, size_t n, uint32_t max_len, const char *path,
                    size_t *count, size_t *bytes, tlm_err *err)
{
    size_t off = 4, k = 0, total = 0;
    while (off < n) {
        if (n - off < 8)
            return tlm_errf(err, "file %s: token %zu: truncated record at offset %zu "
                            "(%zu bytes left, need 8)", path, k, off, n - off);
        float score = rd_f32(buf + off);
        uint32_t len = rd_u32(buf + off + 4);
        off += 8;
        if (!isfinite(score))
            return tlm_errf(err, "file %s: token %zu: score is not a finite number", path, k);
        if (len == 0 || len > max_len)
            return tlm_errf(err, "file %s: token %zu: length %u outside 1..max_token_length %u",
                            path, k, len, max_len);
        if (len > n - off)
            return tlm_errf(err, "file %s: token %zu: length %u runs past the end of the file "
                            "(%zu bytes left)", path, k, len, n - off);
        if (memchr(buf + off, 0, len))
            return tlm_errf(err, "file %s: token %zu: piece contains a NUL byte", path, k);
        off += len;
        total += len;
        k++;
        if (k > (size_t)INT32_MAX - 1)
            return tlm_errf(err, "file %s: too many tokens", path);
    }
    if (k < BPE_MIN_VOCAB)
        return tlm_errf(err, "file %s: %zu tokens; a llama2.c tokenizer needs at least %d "
                        "(<unk>, <s>, </s>, 256 byte pieces)", path, k, BPE_MIN_VOCAB);
    *count = k;
    *bytes = total;
    return 0;
}

/* Parse a llama2.c tokenizer .bin into t (errors name path). */
int tlm__bpe_parse(tlm_tokenizer *t, const unsigned char *buf, size_t n, const char *path,
                   tlm_err *err)
{
    if (n < 4)
        return tlm_errf(err, "file %s: truncated llama2.c tokenizer header (%zu bytes)", path, n);
    uint32_t max_len = rd_u32(buf);
    if (max_len == 0 || max_len > BPE_MAX_PIECE)
        return tlm_errf(err, "file %s: max_token_length %u is not in 1..%u", path, max_len,
                        BPE_MAX_PIECE);
    size_t count = 0, bytes = 0, arena_size;
    if (bpe_scan(buf, n, max_len, path, &count, &bytes, err))
        return -1;
    if (tlm_add_size(bytes, count, &arena_size))
        return tlm_errf(err, "file %s: vocabulary too large", path);
    t->kind = TLM_TOK_BPE;
    t->vocab_size = (int)count;
    t->pieces = tlm_calloc(count, sizeof *t->pieces, err);
    t->piece_len = tlm_calloc(count, sizeof *t->piece_len, err);
    t->scores = tlm_calloc(count, sizeof *t->scores, err);
    t->arena = tlm_calloc(arena_size, 1, err);
    if (!t->pieces || !t->piece_len || !t->scores || !t->arena)
        return tlm_err_prefix(err, "file %s: ", path);
    char *dst = t->arena;
    size_t off = 4;
    for (size_t k = 0; k < count; k++) {
        uint32_t len = rd_u32(buf + off + 4);
        t->scores[k] = rd_f32(buf + off);
        memcpy(dst, buf + off + 8, len);
        dst[len] = 0;
        t->pieces[k] = dst;
        t->piece_len[k] = len;
        if (len > t->max_piece_len)
            t->max_piece_len = len;
        dst += len + 1;
        off += 8 + (size_t)len;
    }
    t->bos = BPE_BOS;
    t->eos = BPE_EOS;
    return tlm__tok_index(t, 0, path, err);
}

/* ---- encoding ---- */

typedef struct bpe_cand {
    float score;
    int32_t id;          /* the merged piece */
    uint32_t left, right; /* node indices */
    uint32_t vl, vr;      /* their versions when pushed */
} bpe_cand;

typedef struct bpe_work {
    int32_t *tok;   /* token of each node */
    uint32_t *next; /* next live node, n = none */
    uint32_t *prev; /* previous live node, UINT32_MAX = none */
    uint32_t *ver;  /* bumped when a node changes or dies */
    bpe_cand *heap;
    size_t n, nheap, capheap;
} bpe_work;

/* True when a should be merged before b: higher score, then leftmost. */
static int cand_before(const bpe_cand *a, const bpe_cand *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(bpe_work *w, bpe_cand c)
{
    size_t i = w->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_before(&c, &w->heap[p]))
            break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = c;
}

static bpe_cand heap_pop(bpe_work *w)
{
    bpe_cand top = w->heap[0], last = w->heap[--w->nheap];
    size_t i = 0, n = w->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && cand_before(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!cand_before(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n)
        w->heap[i] = last;
    return top;
}

/* Push the pair (l, next[l]) when its concatenation is a piece. The heap
 * holds at most (n-1) + 2*(n-1) candidates, so capheap = 3n never overflows. */
static void push_pair(const tlm_tokenizer *t, bpe_work *w, uint32_t l)
{
    uint32_t r = w->next[l];
    if (r >= w->n)
        return;
    int32_t a = w->tok[l], b = w->tok[r];
    int id = tlm__tok_find2(t, t->pieces[a], t->piece_len[a], t->pieces[b], t->piece_len[b]);
    if (id < 0 || !(t->scores[id] > BPE_NO_SCORE))
        return;
    bpe_cand c = {t->scores[id], id, l, r, w->ver[l], w->ver[r]};
    heap_push(w, c);
}

/* Initial tokens of llama2.c encode(): dummy prefix, then one piece per UTF-8
 * codepoint (at most 4 bytes) or its bytes as <0xXX> pieces. */
static size_t bpe_initial(const tlm_tokenizer *t, const char *text, size_t len, int dummy,
                          int32_t *tok)
{
    size_t n = 0;
    if (len == 0)
        return 0;
    if (dummy) {
        int sp = tlm__tok_find2(t, " ", 1, "", 0);
        tok[n++] = sp >= 0 ? sp : ' ' + BPE_BYTE0;
    }
    size_t start = 0, cur = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            start = i, cur = 0;
        cur++;
        if (i + 1 < len && ((unsigned char)text[i + 1] & 0xC0) == 0x80 && cur < 4)
            continue;
        int id = tlm__tok_find2(t, text + start, cur, "", 0);
        if (id >= 0) {
            tok[n++] = id;
        } else {
            for (size_t k = 0; k < cur; k++)
                tok[n++] = (unsigned char)text[start + k] + BPE_BYTE0;
        }
        cur = 0;
        start = i + 1;
    }
    return n;
}

static void bpe_merge(const tlm_tokenizer *t, bpe_work *w)
{
    for (uint32_t i = 0; i < w->n; i++) {
        w->next[i] = i + 1;
        w->prev[i] = i ? i - 1 : UINT32_MAX;
        w->ver[i] = 0;
    }
    for (uint32_t i = 0; i + 1 < w->n; i++)
        push_pair(t, w, i);
    while (w->nheap) {
        bpe_cand c = heap_pop(w);
        uint32_t l = c.left, r = c.right;
        if (w->ver[l] != c.vl || w->ver[r] != c.vr || w->next[l] != r)
            continue; /* stale */
        w->tok[l] = c.id;
        w->ver[l]++;
        w->ver[r]++;
        w->next[l] = w->next[r];
        if (w->next[r] < w->n)
            w->prev[w->next[r]] = l;
        if (w->prev[l] != UINT32_MAX)
            push_pair(t, w, w->prev[l]);
        push_pair(t, w, l);
    }
}

static void work_free(bpe_work *w)
{
    free(w->tok);
    free(w->next);
    free(w->prev);
    free(w->ver);
    free(w->heap);
}

static int work_alloc(bpe_work *w, size_t cap, tlm_err *err)
{
    size_t hcap;
    memset(w, 0, sizeof *w);
    if (cap > UINT32_MAX - 1 || tlm_mul_size(cap, 3, &hcap))
        return tlm_errf(err, "text of %zu bytes is too long to encode at once", cap);
    w->tok = tlm_calloc(cap, sizeof *w->tok, err);
    w->next = tlm_calloc(cap, sizeof *w->next, err);
    w->prev = tlm_calloc(cap, sizeof *w->prev, err);
    w->ver = tlm_calloc(cap, sizeof *w->ver, err);
    w->heap = tlm_calloc(hcap, sizeof *w->heap, err);
    w->capheap = hcap;
    if (!w->tok || !w->next || !w->prev || !w->ver || !w->heap) {
        work_free(w);
        return -1;
    }
    return 0;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* End of the chunk starting at pos (see the top comment). */
static size_t chunk_end(const char *text, size_t pos, size_t len)
{
    if (len - pos <= BPE_CHUNK)
        return len;
    size_t hi = pos + BPE_CHUNK, lo = pos + BPE_CHUNK / 2;
    for (size_t i = hi; i > lo; i--)
        if (text[i] == ' ' && !is_ws(text[i - 1]))
            return i;
    size_t i = hi;
    while (i > lo && ((unsigned char)text[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* llama2.c encode(text, bos=add_special, eos=0), appended to out. */
int tlm__bpe_encode(const tlm_tokenizer *t, const char *text, size_t len, int add_special,
                    tlm_ids *out, tlm_err *err)
{
    if (add_special && tlm_ids_push(out, t->bos, err))
        return -1;
    if (len == 0)
        return 0;
    bpe_work w;
    if (work_alloc(&w, (len < BPE_CHUNK ? len : BPE_CHUNK) + 1, err))
        return -1;
    int rc = 0;
    for (size_t pos = 0; pos < len && rc == 0;) {
        size_t end = chunk_end(text, pos, len);
        w.n = bpe_initial(t, text + pos, end - pos, pos == 0, w.tok);
        w.nheap = 0;
        bpe_merge(t, &w);
        for (uint32_t i = 0; i < w.n && rc == 0; i = w.next[i])
            rc = tlm_ids_push(out, w.tok[i], err);
        pos = end;
    }
    work_free(&w);
    return rc;
}

/* ---- decoding ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* llama2.c decode(): drop the leading space of a piece right after BOS and
 * turn "<0xXX>" pieces into the raw byte. */
size_t tlm__bpe_decode(const tlm_tokenizer *t, int prev, int id, char *buf, size_t n)
{
    const char *s = t->pieces[id];
    size_t len = t->piece_len[id], used = 0;
    if (prev == t->bos && len > 0 && s[0] == ' ')
        s++, len--;
    if (len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' && hexval(s[3]) >= 0 &&
        hexval(s[4]) >= 0) {
        char byte = (char)(hexval(s[3]) * 16 + hexval(s[4]));
        tlm__tok_put(buf, n, &used, &byte, 1);
        return used;
    }
    tlm__tok_put(buf, n, &used, s, len);
    return used;
}
