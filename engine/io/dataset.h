/* dataset.h - text encoded once into a token cache on disk, mmap'd, and
 * (B, T) training windows drawn from it with a seeded RNG. */
#ifndef TLM_DATASET_H
#define TLM_DATASET_H
#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"
#include "../core/rng.h"
#include "tokenizer.h"

typedef struct tlm_dataset tlm_dataset;

/* Open the token cache for the text file(s) in `paths` (one path, or several
 * separated by ','), encoding them when no valid cache exists. Stories are
 * split at "<|endoftext|>" lines and each is encoded as a document
 * (add_special). The cache lives in cache_dir (created if missing) and is keyed
 * by the text's size and checksum and the tokenizer's hash; a stale or
 * corrupt cache is rebuilt. Errors name the file. */
int tlm_dataset_open(tlm_dataset **out, const char *paths, const tlm_tokenizer *tok,
                     const char *cache_dir, tlm_err *err);
void tlm_dataset_close(tlm_dataset *ds);

/* Number of tokens and a pointer to them. */
size_t tlm_dataset_size(const tlm_dataset *ds);
const int32_t *tlm_dataset_tokens(const tlm_dataset *ds);

/* Fill x and y (B*T each) with B random windows: x = tok[s .. s+T),
 * y = tok[s+1 .. s+T]. Requires size > T. */
void tlm_dataset_sample(const tlm_dataset *ds, tlm_rng *rng, int B, int T, int32_t *x, int32_t *y);

/* Fill x and y with window number `index` (consecutive, non-overlapping windows
 * of T+1 tokens); returns the number of windows available. Used for evaluation. */
size_t tlm_dataset_window(const tlm_dataset *ds, size_t index, int T, int32_t *x, int32_t *y);

#endif
