/* fuzz_bpe.c - fuzz target: the llama2.c-format BPE tokenizer loader
 * (engine/io/bpe.c) and the encoder/decoder over what it loaded. */
#include "fuzz_tok_common.h"

const char tlm_fuzz_name[] = "bpe";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return tok_fuzz(data, size, TLM_TOK_BPE);
}
