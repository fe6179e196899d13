/* qgemm.h - the integer forward product of a quantized linear in training:
 * per-token int8 activations times ternary (or int8) weight codes, summed
 * exactly in int32 and scaled once, which equals the fake-quantized float
 * product y = (q/s)(t g)^T up to the float rounding of that product.
 *
 * Weights are packed in panels of TLM_QG_NR outputs: panel p, k-group kg
 * (4 consecutive inputs) holds 4 bytes per output, byte
 * ((p * kgroups + kg) * TLM_QG_NR + o) * 4 + i = code of W[p*NR + o][4*kg + i].
 * Codes are unsigned: t + 1 for ternary, q + 128 for int8 weights; the
 * offset is taken back with the activation row sums. Padding inputs and
 * outputs get the code of 0. Activations are rows of kpad = round_up(K, 4)
 * signed bytes, zero padded. */
#ifndef TLM_QGEMM_H
#define TLM_QGEMM_H
#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"
#include "../core/pool.h"

#define TLM_QG_NR 32 /* outputs per weight panel */
#define TLM_QG_MAX_K 65536 /* longest input: |sum| <= K 255 127 stays below 2^31 */

typedef enum tlm_qg_impl {
    TLM_QG_FLOAT = 0,  /* no integer kernel: the caller uses the float product */
    TLM_QG_SCALAR = 1, /* portable integer reference (tests) */
    TLM_QG_AVX512 = 2  /* AVX-512 VNNI */
} tlm_qg_impl;

/* round_up(K, 4). */
static inline int tlm_qg_kpad(int K) { return (K + 3) & ~3; }

/* Bytes of the packed panels of an O x K weight matrix. */
size_t tlm_qg_panel_bytes(int O, int K);

/* Pack ternary codes of W [O, K] at scale g (clamp(round(W / g), -1, 1), the
 * training quantizer) into panels; wmul[o] gets g. Rows [r0, r1) only, so the
 * pool can share the work; r1 == O also fills the last panel's padding rows.
 * codes: scratch of kpad(K) bytes. */
void tlm_qg_pack_ternary(uint8_t *panels, float *wmul, const float *w, int O, int K, float g,
                         int r0, int r1, int8_t *codes);

/* Pack int8 codes of W (per row s = 127 / max(max|W_row|, 1e-5), q =
 * clamp(round(W s), -128, 127)) into panels; wmul[o] gets 1 / s of row o.
 * Rows [r0, r1) as above. */
void tlm_qg_pack_int8(uint8_t *panels, float *wmul, const float *w, int O, int K, int r0, int r1,
                      int8_t *codes);

/* Quantize activation rows x [rows, K] as training does (s = 127 /
 * max(max|x|, 1e-5), q = round(x s)): q [rows, kpad] zero padded, xinv[i] =
 * 1 / s, xsum[i] = sum of row i's codes. */
void tlm_qg_quant_acts(int8_t *q, float *xinv, int32_t *xsum, const float *x, size_t rows, int K);

/* y [N, ldy] = ((sum_k q[n][k] code[o][k]) - off xsum[n]) xinv[n] wmul[o]
 * for o < O, with off = 1 (ternary) or 128 (int8); K <= TLM_QG_MAX_K. Split over the pool by
 * rows of y; every value is the same whatever the split or implementation. */
void tlm_qgemm(tlm_qg_impl impl, float *y, size_t ldy, const int8_t *q, const float *xinv,
               const int32_t *xsum, size_t N, const uint8_t *panels, const float *wmul, int int8,
               int O, int K, tlm_pool *pool);

/* The best implementation this CPU runs, unless TLM_TRAIN_KERNEL says
 * "float", "scalar" or "avx512vnni" (an unknown or unsupported name is an
 * error naming it). */
int tlm_qg_select(tlm_qg_impl *out, tlm_err *err);

/* Name of an implementation. */
const char *tlm_qg_name(tlm_qg_impl impl);

/* The AVX-512 VNNI micro-kernel (qgemm_avx512.c): rows [n0, n1) of y.
 * Returns 0 when not compiled in. */
int tlm_qg_rows_avx512(float *y, size_t ldy, const int8_t *q, const float *xinv,
                       const int32_t *xsum, size_t n0, size_t n1, const uint8_t *panels,
                       const float *wmul, int off, int O, int K);

#endif
