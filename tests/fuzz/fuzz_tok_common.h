/* fuzz_tok_common.h - the body of the two tokenizer fuzz targets: parse the
 * input as a tokenizer file of one kind; when accepted, encode a fixed text
 * and the input's first bytes with it and decode every id. */
#ifndef TLM_FUZZ_TOK_COMMON_H
#define TLM_FUZZ_TOK_COMMON_H
#include <stdlib.h>
#include <string.h>
#include "engine/io/tokenizer.h"
#include "fuzz.h"

static void tok_exercise(const tlm_tokenizer *t, const char *text, size_t len)
{
    tlm_ids ids = {0};
    tlm_err e;
    int v = tlm_tokenizer_vocab_size(t);
    if (tlm_tokenizer_encode(t, text, len, 1, &ids, &e) == 0) {
        char buf[64];
        int prev = -1;
        for (size_t i = 0; i < ids.n; i++) {
            TLM_FUZZ_ASSERT(ids.v[i] >= 0 && ids.v[i] < v);
            TLM_FUZZ_ASSERT(tlm_tokenizer_decode(t, prev, ids.v[i], buf, sizeof buf) < sizeof buf);
            prev = ids.v[i];
        }
    }
    tlm_ids_free(&ids);
}

static int tok_fuzz(const uint8_t *data, size_t size, tlm_tok_kind kind)
{
    tlm_tokenizer *t = NULL;
    tlm_err e = {{0}};
    if (tlm_tokenizer_parse(&t, data, size, kind, "fuzz", &e)) {
        TLM_FUZZ_ASSERT(e.msg[0] && !t);
        return 0;
    }
    tlm_fuzz_accepted = 1;
    int v = tlm_tokenizer_vocab_size(t);
    TLM_FUZZ_ASSERT(v > 0 && tlm_tokenizer_kind(t) == kind);
    for (int i = 0; i < v; i++)
        TLM_FUZZ_ASSERT(tlm_tokenizer_piece(t, i) != NULL);
    TLM_FUZZ_ASSERT(tlm_tokenizer_piece(t, v) == NULL && tlm_tokenizer_piece(t, -1) == NULL);
    static const char text[] = "Once upon a time, Lily's cat sat.\n  Héllo wörld 日本語 <0x0A> "
                               "##ing [UNK] \xff\xfe e\xcc\x81";
    tok_exercise(t, text, sizeof text - 1);
    tok_exercise(t, (const char *)data, size < 256 ? size : 256);
    tlm_tokenizer_free(t);
    return 0;
}

#endif
