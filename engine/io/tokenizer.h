/* tokenizer.h - text <-> token ids: llama2.c-format BPE and BERT WordPiece. */
#ifndef TLM_TOKENIZER_H
#define TLM_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"

typedef enum tlm_tok_kind { TLM_TOK_BPE = 1, TLM_TOK_WORDPIECE = 2 } tlm_tok_kind;

typedef struct tlm_tokenizer tlm_tokenizer;

/* A growable array of token ids. */
typedef struct tlm_ids {
    int32_t *v;
    size_t n, cap;
} tlm_ids;

/* Append one id; -1 and err on allocation failure. */
int tlm_ids_push(tlm_ids *ids, int32_t id, tlm_err *err);
void tlm_ids_free(tlm_ids *ids);

/* Load a tokenizer file. The kind comes from the content: a llama2.c tokenizer
 * .bin (u32 max_len, then per token f32 score, u32 len, bytes; vocab size is
 * taken from the file length) or a WordPiece vocab.txt (one token per line).
 * Every byte is treated as hostile; errors name the file and the problem. */
int tlm_tokenizer_load(tlm_tokenizer **out, const char *path, tlm_err *err);
/* The same from memory: buf[0..n) holds the file bytes (kept by the caller);
 * kind is TLM_TOK_BPE, TLM_TOK_WORDPIECE or 0 to sniff it from the bytes.
 * Errors name `name`. */
int tlm_tokenizer_parse(tlm_tokenizer **out, const unsigned char *buf, size_t n, int kind,
                        const char *name, tlm_err *err);
void tlm_tokenizer_free(tlm_tokenizer *t);

tlm_tok_kind tlm_tokenizer_kind(const tlm_tokenizer *t);
int tlm_tokenizer_vocab_size(const tlm_tokenizer *t);
/* 64-bit identity of the tokenizer (hash of its file bytes). */
uint64_t tlm_tokenizer_hash(const tlm_tokenizer *t);
/* Begin/end-of-document ids: BPE 1 (<s>) / 2 (</s>); WordPiece [CLS] / [SEP]. */
int tlm_tokenizer_bos(const tlm_tokenizer *t);
int tlm_tokenizer_eos(const tlm_tokenizer *t);

/* Encode len bytes of UTF-8 text, appending ids to out. With add_special the
 * document is wrapped: BPE: BOS first (like llama2.c encode(bos=1, eos=0));
 * WordPiece: [CLS] ... [SEP]. BPE follows llama2.c's encode: a dummy-prefix
 * space, piece lookup per UTF-8 codepoint with byte fallback (<0xXX> = byte+3),
 * then greedy merges by best score. WordPiece follows BERT's
 * BasicTokenizer (clean, lowercase, strip accents, split punctuation and CJK)
 * then greedy longest-match-first with "##" continuations, [UNK] for words
 * that cannot be split or are longer than 100 characters. */
int tlm_tokenizer_encode(const tlm_tokenizer *t, const char *text, size_t len, int add_special,
                         tlm_ids *out, tlm_err *err);

/* Piece string of id (as stored: "▁the" already mapped to " the" for BPE,
 * "##ing" for WordPiece); NULL for an id out of range. */
const char *tlm_tokenizer_piece(const tlm_tokenizer *t, int id);

/* Text of id when it follows prev (BPE: strips the leading space after BOS,
 * maps <0xXX> to the raw byte; WordPiece: "##x" joins, others get a space).
 * Writes at most n-1 bytes plus NUL into buf; returns bytes written. */
size_t tlm_tokenizer_decode(const tlm_tokenizer *t, int prev, int id, char *buf, size_t n);

#endif
