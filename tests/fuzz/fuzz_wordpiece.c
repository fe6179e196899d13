/* fuzz_wordpiece.c - fuzz target: the WordPiece vocab.txt loader
 * (engine/io/wordpiece.c) and the encoder/decoder over what it loaded. */
#include "fuzz_tok_common.h"

const char tlm_fuzz_name[] = "wordpiece";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return tok_fuzz(data, size, TLM_TOK_WORDPIECE);
}
