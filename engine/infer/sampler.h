/* sampler.h - choosing the next token: repetition penalty, temperature,
 * top-k, top-p, from a seeded generator (same seed, same choices). */
#ifndef TLM_SAMPLER_H
#define TLM_SAMPLER_H
#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"
#include "generate.h"

typedef struct tlm_sampler tlm_sampler;

/* A sampler for vocab logits with the settings of o (checked; copied, the
 * stop string is not used here) and its generator seeded with o->seed. */
int tlm_sampler_create(tlm_sampler **out, int vocab, const tlm_sample_opts *o, tlm_err *err);
void tlm_sampler_free(tlm_sampler *s);

/* Mark id as seen: the repetition penalty applies to it from now on (once,
 * however often it was seen). Ids out of range are ignored. */
void tlm_sampler_observe(tlm_sampler *s, int id);

/* The next token from logits [vocab] (modified in place): penalty, then
 * greedy (temperature 0: the first maximum) or temperature, top-k, top-p and
 * a draw. Ties between equal logits go to the lower id. */
int tlm_sampler_next(tlm_sampler *s, float *logits);

/* The repetition penalty alone, as it is done right (CTRL): for each distinct
 * id of ids[0..n) in range, a positive logit is divided by penalty and a
 * negative one multiplied by it, so a penalty > 1 always lowers a repeated
 * token. (The paper's code divides negative logits too, raising them.) */
void tlm_rep_penalty(float *logits, int vocab, const int32_t *ids, size_t n, float penalty);

#endif
