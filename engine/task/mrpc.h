/* mrpc.h - sentence-pair classification data (MRPC, GLUE layout) read with
 * libcsv as plain TSV (no quote processing: the files hold raw '"'), and the
 * encoding of a pair for a causal model: BOS s1 SEP s2 SEP. */
#ifndef TLM_MRPC_H
#define TLM_MRPC_H
#include <stddef.h>
#include "../core/err.h"
#include "../io/tokenizer.h"

typedef struct tlm_pair {
    char *s1, *s2; /* the two sentences, exactly as in the file */
    int label;     /* 1: paraphrase, 0: not */
} tlm_pair;

typedef struct tlm_pairs {
    tlm_pair *v;
    size_t n, cap;
} tlm_pairs;

/* Read a GLUE MRPC file (train.tsv, dev.tsv, msr_paraphrase_*.txt): a header
 * "Quality<TAB>#1 ID<TAB>#2 ID<TAB>#1 String<TAB>#2 String" (a UTF-8 BOM is
 * skipped), then one pair per line with label 0 or 1. Fields are taken
 * verbatim: no quote processing, no trimming. Errors name the file and line
 * (wrong header, wrong field count, bad label, NUL bytes, no rows). */
int tlm_mrpc_load(const char *path, tlm_pairs *out, tlm_err *err);
void tlm_pairs_free(tlm_pairs *p);

/* Encode one pair into out (cleared first) as BOS s1 SEP s2 SEP: WordPiece
 * [CLS] s1 [SEP] s2 [SEP]; llama2.c BPE <s> s1 </s> s2 </s> (its BOS and EOS
 * as separators). When longer than max_len (>= 5) the longer sentence loses
 * its last token until it fits (BERT's truncate_seq_pair). */
int tlm_pair_encode(const tlm_tokenizer *t, const char *s1, const char *s2, int max_len,
                    tlm_ids *out, tlm_err *err);

#endif
