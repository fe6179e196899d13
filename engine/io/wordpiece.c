/* wordpiece.c - BERT (uncased) WordPiece tokenizer from a vocab.txt.
 *
 * vocab.txt: one token per line, id = line number - 1 (a trailing "\r" is
 * dropped; a later duplicate line wins, as in HF's load_vocab dict). The
 * special ids are looked up by name: [UNK], [CLS], [SEP] (required), [PAD].
 *
 * Encoding follows HF transformers' BertTokenizer (do_lower_case=True):
 * BasicTokenizer drops NUL, U+FFFD and C* (control, format, unassigned,
 * private use) characters except \t \n \r, splits at whitespace (space, \t,
 * \n, \r, Zs, and Zl/Zp as Python's str.split does), lowercases, decomposes
 * (NFD) and drops Mn marks, and makes every punctuation character (ASCII
 * 33-47, 58-64, 91-96, 123-126, Unicode P*) and CJK ideograph its own token;
 * WordpieceTokenizer then does greedy longest-match-first with "##" for
 * continuations, giving [UNK] for a word longer than 100 codepoints or one it
 * cannot split. Known differences: lowercasing is utf8proc's simple 1:1
 * mapping (Python's str.lower() is context-sensitive for a final sigma and
 * expands a few letters); invalid UTF-8 bytes are dropped like U+FFFD;
 * "[CLS]" etc. written in the text are ordinary text (Google's original
 * tokenizer behaviour), not special tokens. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "tokenizer_impl.h"

#define WP_MAX_WORD 100 /* max_input_chars_per_word */

/* Parse a vocab.txt into t (errors name path). */
int tlm__wp_parse(tlm_tokenizer *t, const unsigned char *buf, size_t n, const char *path,
                  tlm_err *err)
{
    const unsigned char *nul = memchr(buf, 0, n);
    if (nul)
        return tlm_errf(err, "file %s: NUL byte at offset %zu: binary data, not a "
                        "WordPiece vocab.txt or llama2.c tokenizer", path, (size_t)(nul - buf));
    size_t lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    if (buf[n - 1] != '\n')
        lines++;
    if (lines > (size_t)INT32_MAX - 1)
        return tlm_errf(err, "file %s: too many lines", path);
    size_t arena_size;
    if (tlm_add_size(n, 1, &arena_size))
        return tlm_errf(err, "file %s: too large", path);
    t->kind = TLM_TOK_WORDPIECE;
    t->vocab_size = (int)lines;
    t->pieces = tlm_calloc(lines, sizeof *t->pieces, err);
    t->piece_len = tlm_calloc(lines, sizeof *t->piece_len, err);
    t->arena = tlm_calloc(arena_size, 1, err);
    if (!t->pieces || !t->piece_len || !t->arena)
        return tlm_err_prefix(err, "file %s: ", path);
    memcpy(t->arena, buf, n);
    char *s = t->arena, *end = t->arena + n;
    for (size_t k = 0; k < lines; k++) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (len > 0 && s[len - 1] == '\r')
            len--;
        if (len > UINT32_MAX / 2)
            return tlm_errf(err, "file %s: line %zu is too long", path, k + 1);
        s[len] = 0;
        t->pieces[k] = s;
        t->piece_len[k] = (uint32_t)len;
        if (len > t->max_piece_len)
            t->max_piece_len = (uint32_t)len;
        s = nl ? nl + 1 : end;
    }
    if (tlm__tok_index(t, 1, path, err))
        return -1;
    static const char *const need[] = {"[UNK]", "[CLS]", "[SEP]"};
    int ids[3];
    for (int i = 0; i < 3; i++) {
        ids[i] = tlm__tok_find2(t, need[i], strlen(need[i]), "", 0);
        if (ids[i] < 0)
            return tlm_errf(err, "file %s: no %s line: not a BERT WordPiece vocab.txt", path,
                            need[i]);
    }
    t->unk = ids[0];
    t->bos = ids[1];
    t->eos = ids[2];
    t->pad = tlm__tok_find2(t, "[PAD]", 5, "", 0);
    return 0;
}

/* ---- character classes (HF BasicTokenizer) ---- */

static int is_whitespace(int32_t c)
{
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        return 1;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

static int is_control(int32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r')
        return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_CN || k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF ||
           k == UTF8PROC_CATEGORY_CS || k == UTF8PROC_CATEGORY_CO;
}

static int is_punct(int32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return 1;
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

static int is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ---- encoding ---- */

/* The word being built: its first WP_MAX_WORD+1 codepoints as UTF-8 with
 * codepoint offsets, and the full codepoint count (longer words become
 * [UNK] anyway, so nothing more is kept). */
typedef struct wp_word {
    char bytes[(WP_MAX_WORD + 1) * 4];
    uint16_t off[WP_MAX_WORD + 2];
    size_t count;
} wp_word;

static void word_add(wp_word *w, int32_t c)
{
    if (w->count <= WP_MAX_WORD) {
        size_t at = w->off[w->count];
        at += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)w->bytes + at);
        w->off[w->count + 1] = (uint16_t)at;
    }
    w->count++;
}

/* Greedy longest-match-first WordPiece of one word, appended to out. */
static int word_flush(const tlm_tokenizer *t, wp_word *w, tlm_ids *out, tlm_err *err)
{
    size_t n = w->count;
    w->count = 0;
    if (n == 0)
        return 0;
    if (n > WP_MAX_WORD)
        return tlm_ids_push(out, t->unk, err);
    int32_t sub[WP_MAX_WORD];
    size_t nsub = 0;
    for (size_t start = 0; start < n;) {
        int id = -1;
        size_t end = n;
        for (; end > start; end--) {
            const char *p = w->bytes + w->off[start];
            size_t len = (size_t)(w->off[end] - w->off[start]);
            id = start ? tlm__tok_find2(t, "##", 2, p, len) : tlm__tok_find2(t, p, len, "", 0);
            if (id >= 0)
                break;
        }
        if (id < 0)
            return tlm_ids_push(out, t->unk, err);
        sub[nsub++] = id;
        start = end;
    }
    for (size_t i = 0; i < nsub; i++)
        if (tlm_ids_push(out, sub[i], err))
            return -1;
    return 0;
}

/* A single-codepoint token (punctuation or CJK). */
static int single(const tlm_tokenizer *t, wp_word *w, int32_t c, tlm_ids *out, tlm_err *err)
{
    if (word_flush(t, w, out, err))
        return -1;
    word_add(w, c);
    return word_flush(t, w, out, err);
}

/* Lowercase, NFD, drop Mn, split off punctuation: one cleaned character. */
static int add_char(const tlm_tokenizer *t, wp_word *w, int32_t c, tlm_ids *out, tlm_err *err)
{
    utf8proc_int32_t d[32];
    int boundclass = 0;
    utf8proc_ssize_t nd = utf8proc_decompose_char(utf8proc_tolower(c), d, 32,
                                                  UTF8PROC_DECOMPOSE, &boundclass);
    if (nd < 0 || nd > 32) {
        d[0] = utf8proc_tolower(c);
        nd = 1;
    }
    for (utf8proc_ssize_t i = 0; i < nd; i++) {
        if (utf8proc_category(d[i]) == UTF8PROC_CATEGORY_MN)
            continue;
        if (is_punct(d[i])) {
            if (single(t, w, d[i], out, err))
                return -1;
        } else {
            word_add(w, d[i]);
        }
    }
    return 0;
}

/* BERT BasicTokenizer + WordpieceTokenizer; [CLS] ... [SEP] with add_special. */
int tlm__wp_encode(const tlm_tokenizer *t, const char *text, size_t len, int add_special,
                   tlm_ids *out, tlm_err *err)
{
    if (add_special && tlm_ids_push(out, t->bos, err))
        return -1;
    wp_word *w = malloc(sizeof *w);
    if (!w)
        return tlm_errf(err, "out of memory");
    w->count = 0;
    w->off[0] = 0;
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
    size_t i = 0;
    int rc = 0;
    while (i < len && rc == 0) {
        utf8proc_int32_t c;
        size_t rest = len - i > 8 ? 8 : len - i;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)rest, &c);
        if (k <= 0) {
            i++; /* invalid UTF-8: dropped like U+FFFD */
            continue;
        }
        i += (size_t)k;
        if (c == 0 || c == 0xFFFD || is_control(c))
            continue;
        if (is_whitespace(c))
            rc = word_flush(t, w, out, err);
        else if (is_cjk(c))
            rc = single(t, w, c, out, err);
        else
            rc = add_char(t, w, c, out, err);
    }
    if (rc == 0)
        rc = word_flush(t, w, out, err);
    free(w);
    if (rc == 0 && add_special)
        rc = tlm_ids_push(out, t->eos, err);
    return rc;
}

/* ---- decoding ---- */

/* "##x" joins the previous text; other pieces get a leading space, except
 * at the start (prev < 0 or prev = [CLS]). */
size_t tlm__wp_decode(const tlm_tokenizer *t, int prev, int id, char *buf, size_t n)
{
    const char *s = t->pieces[id];
    size_t len = t->piece_len[id], used = 0;
    if (len >= 2 && s[0] == '#' && s[1] == '#') {
        tlm__tok_put(buf, n, &used, s + 2, len - 2);
        return used;
    }
    if (prev >= 0 && prev != t->bos)
        tlm__tok_put(buf, n, &used, " ", 1);
    tlm__tok_put(buf, n, &used, s, len);
    return used;
}
