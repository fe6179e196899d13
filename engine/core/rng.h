/* rng.h - small deterministic RNG (xoshiro256** seeded by splitmix64). */
#ifndef TLM_RNG_H
#define TLM_RNG_H
#include <stdint.h>

typedef struct tlm_rng {
    uint64_t s[4];
} tlm_rng;

/* Seed the generator; the same seed always gives the same stream. */
void tlm_rng_seed(tlm_rng *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t tlm_rng_u64(tlm_rng *r);
/* Uniform integer in [0, n); n > 0. */
uint64_t tlm_rng_below(tlm_rng *r, uint64_t n);
/* Uniform float in [0, 1). */
float tlm_rng_float(tlm_rng *r);
/* Standard normal sample (Box-Muller). */
float tlm_rng_normal(tlm_rng *r);

#endif
