/* quant.h - the fake quantizers of TernaryLM's BitLinear (float in, float out,
 * values on the quantization grid), rounding half to even as PyTorch does. */
#ifndef TLM_QUANT_H
#define TLM_QUANT_H
#include <stddef.h>
#include <stdint.h>

/* Per-row 8-bit activations: s = 127 / max(max|x_row|, 1e-5),
 * xq = clamp(round(x * s), -128, 127) / s. rows x cols, may be in place. */
void tlm_quant_act_int8(float *xq, const float *x, size_t rows, size_t cols);

/* Ternary weights: g = max(mean|W|, 1e-5), wq = clamp(round(W / g), -1, 1) * g.
 * Returns g. counts (may be NULL) receives the number of -1, 0, +1. */
float tlm_quant_ternary(float *wq, const float *w, size_t n, uint64_t counts[3]);

/* Ternary weights with a given scale g (as tlm_quant_ternary computes it). */
void tlm_quant_ternary_scaled(float *wq, const float *w, size_t n, float g);

/* Counts of the ternary codes -1, 0, +1 of w at scale g, without writing. */
void tlm_ternary_count(const float *w, size_t n, float g, uint64_t counts[3]);

/* Int8 weights, symmetric per output row: s = 127 / max(max|W_row|, 1e-5),
 * wq = clamp(round(W * s), -128, 127) / s. */
void tlm_quant_int8_rows(float *wq, const float *w, size_t rows, size_t cols);

/* Codes of one activation row as tlm_quant_act_int8 quantizes it: q[0..cols)
 * = clamp(round(x s), -128, 127) with s = 127 / max(max|x|, 1e-5) (a NaN or
 * infinite input gives code 0), zeros up to qcols; *scale = s, *sum = sum of
 * the codes. Used by the training forward and by packed inference. */
void tlm_quant_act_codes(int8_t *q, float *scale, int32_t *sum, const float *x, size_t cols,
                         size_t qcols);

/* Ternary codes clamp(round(w / g), -1, 1) of n weights (a NaN weight gives 0). */
void tlm_ternary_codes(int8_t *t, const float *w, size_t n, float g);

/* Int8 codes of one weight row as tlm_quant_int8_rows quantizes it; returns
 * its scale s (NaN when the row holds a NaN, whose code is 0). */
float tlm_int8_codes_row(int8_t *q, const float *w, size_t n);

/* Mean |W| with the 1e-5 floor (the ternary scale g). */
float tlm_ternary_scale(const float *w, size_t n);

#endif
