/* tokenizer_impl.h - internals shared by tokenizer.c, bpe.c and wordpiece.c.
 * Not part of the public API. */
#ifndef TLM_TOKENIZER_IMPL_H
#define TLM_TOKENIZER_IMPL_H
#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"
#include "tokenizer.h"

struct tlm_tokenizer {
    tlm_tok_kind kind;
    int vocab_size;
    uint64_t hash;
    int bos, eos;          /* BPE: 1 / 2; WordPiece: [CLS] / [SEP] */
    int unk, pad;          /* WordPiece: [UNK] / [PAD] (pad -1 when absent) */
    char **pieces;         /* vocab_size NUL-terminated strings */
    uint32_t *piece_len;   /* byte length of each piece */
    float *scores;         /* BPE merge scores (NULL for WordPiece) */
    uint32_t max_piece_len;
    char *arena;           /* storage the pieces point into */
    int32_t *table;        /* open-addressing hash: piece -> id, -1 = empty */
    size_t table_mask;     /* table size - 1 (power of two) */
};

/* FNV-1a 64 over n bytes, continuing from state h (start: TLM_FNV_INIT). */
#define TLM_FNV_INIT 0xcbf29ce484222325ULL
uint64_t tlm__fnv1a(uint64_t h, const void *p, size_t n);

/* Build t->table from t->pieces. When two ids share a piece, `last_wins`
 * selects which id the lookup returns (first id otherwise). */
int tlm__tok_index(tlm_tokenizer *t, int last_wins, const char *path, tlm_err *err);

/* Id of the piece equal to the concatenation a[0..an) b[0..bn), or -1. */
int tlm__tok_find2(const tlm_tokenizer *t, const char *a, size_t an, const char *b, size_t bn);

/* Format parsers: fill t (kind, vocab, specials, pieces, index) from the file
 * bytes buf[0..n) (buf is owned by the caller; the parser copies what it
 * keeps). Errors name `path`. */
int tlm__bpe_parse(tlm_tokenizer *t, const unsigned char *buf, size_t n, const char *path,
                   tlm_err *err);
int tlm__wp_parse(tlm_tokenizer *t, const unsigned char *buf, size_t n, const char *path,
                  tlm_err *err);

/* Encoders: append ids for text[0..len) to out. */
int tlm__bpe_encode(const tlm_tokenizer *t, const char *text, size_t len, int add_special,
                    tlm_ids *out, tlm_err *err);
int tlm__wp_encode(const tlm_tokenizer *t, const char *text, size_t len, int add_special,
                   tlm_ids *out, tlm_err *err);

/* Decoders: write the text of id (in range) after prev into buf, at most
 * n-1 bytes plus NUL (n > 0); return the bytes written. */
size_t tlm__bpe_decode(const tlm_tokenizer *t, int prev, int id, char *buf, size_t n);
size_t tlm__wp_decode(const tlm_tokenizer *t, int prev, int id, char *buf, size_t n);

/* Append s[0..len) to buf (capacity n, *used bytes so far), truncating and
 * keeping room for the NUL. */
void tlm__tok_put(char *buf, size_t n, size_t *used, const char *s, size_t len);

#endif
