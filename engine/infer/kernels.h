/* kernels.h - integer kernels of the packed inference path: int8 activations
 * (per-token absmax, as in training) times packed ternary or int8 weights,
 * accumulated exactly in int32; fp16 matvec for an fp16 head. One portable
 * scalar version and SIMD versions (AVX2, AVX-512 VNNI) chosen at run time
 * from the CPU's flags; every version gives bit-identical integer results.
 *
 * Ternary layout (2 bits a weight, codes c = t + 1 in {0, 1, 2}; 3 is
 * invalid). A row of `cols` weights is padded with t = 0 to
 * cols_pad = round_up(cols, 64) and stored in cols_pad / 4 bytes as blocks:
 * full blocks of 256 weights in m = 64 bytes, then (when cols_pad % 256 != 0)
 * one tail block of m = (cols_pad % 256) / 4 bytes (16, 32 or 48). Inside a
 * block starting at weight B, byte j holds weight B + j + m*k in bits 2k..2k+1
 * (k = 0..3), so unpacking code k of a run of bytes gives a run of
 * consecutive weights: each SIMD width loads activations in natural order.
 *
 * Int8 layout: rows of cols_pad signed bytes in [-127, 127], zero padded. */
#ifndef TLM_KERNELS_H
#define TLM_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"

#define TLM_KPAD 64 /* inner sizes are padded to a multiple of this */

typedef enum tlm_kern_id {
    TLM_KERN_SCALAR = 0, TLM_KERN_AVX2 = 1, TLM_KERN_AVX512VNNI = 2, TLM_KERN_N = 3
} tlm_kern_id;

/* y[i*ldy + r] = sum_j t(r, j) * x[i*ldx + j] for r < rows, i < n, where t(r, .)
 * is row r of the packed ternary matrix w (row r at w + r*wstride) and
 * cols_pad a multiple of 64; xsum[i] = sum of x[i*ldx + 0 .. cols_pad). */
typedef void (*tlm_tern_fn)(int32_t *y, size_t ldy, const uint8_t *w, size_t wstride, int rows,
                            const int8_t *x, size_t ldx, const int32_t *xsum, int n, int cols_pad);

/* y[i*ldy + r] = sum_j w[r*wstride + j] * x[i*ldx + j]; wsum[r] = sum_j w(r, j).
 * Every w and x value must be in [-127, 127]; cols_pad a multiple of 64 and at
 * most 65536. */
typedef void (*tlm_i8_fn)(int32_t *y, size_t ldy, const int8_t *w, size_t wstride,
                          const int32_t *wsum, int rows, const int8_t *x, size_t ldx, int n,
                          int cols_pad);

/* y[r] = sum_j f32(w[r*wstride + j]) * x[j] (IEEE half weights); float sums,
 * so the versions agree only to rounding. */
typedef void (*tlm_f16_fn)(float *y, const uint16_t *w, size_t wstride, int rows, const float *x,
                           int cols);

typedef struct tlm_kernels {
    const char *name; /* "scalar", "avx2", "avx512vnni" */
    tlm_kern_id id;
    tlm_tern_fn tern;
    tlm_i8_fn i8;
    tlm_f16_fn f16;
} tlm_kernels;

/* 1 when this CPU (and build) can run kernel version id. */
int tlm_kernels_supported(tlm_kern_id id);

/* The kernels of version id, or NULL when unsupported. */
const tlm_kernels *tlm_kernels_get(tlm_kern_id id);

/* Select kernels by name ("scalar", "avx2", "avx512vnni", or "auto"/NULL):
 * with name NULL the environment variable TLM_KERNEL decides, else the best
 * version the CPU supports. An unknown or unsupported name is an error. */
int tlm_kernels_select(const char *name, const tlm_kernels **out, tlm_err *err);

/* round_up(n, 64). */
static inline size_t tlm_kpad(size_t n)
{
    return (n + (TLM_KPAD - 1)) & ~(size_t)(TLM_KPAD - 1);
}

/* Byte index and bit shift of weight j in a packed row of cols_pad weights. */
static inline void tlm_tern_pos(int cols_pad, int j, int *byte, int *shift)
{
    int full = cols_pad / 256, b = j / 256, in = j % 256;
    int m = b < full ? 64 : (cols_pad - 256 * full) / 4;
    *byte = 64 * b + in % m;
    *shift = 2 * (in / m);
}

/* Pack one row of ternary values t[0..cols) in {-1, 0, 1} into cols_pad / 4
 * bytes at dst (padding weights get t = 0). */
void tlm_tern_pack_row(uint8_t *dst, const int8_t *t, int cols, int cols_pad);

/* t(j) of a packed row: code - 1 (2 for the invalid code 3). */
static inline int tlm_tern_get(const uint8_t *row, int cols_pad, int j)
{
    int byte, shift;
    tlm_tern_pos(cols_pad, j, &byte, &shift);
    return (int)((row[byte] >> shift) & 3) - 1;
}

/* 1 when any 2-bit code in bytes p[0..n) is the invalid code 3. */
int tlm_tern_has_bad_code(const uint8_t *p, size_t n);

/* Quantize one activation row with training's quantizer (tlm_quant_act_codes:
 * s = 127 / max(max|x|, 1e-5), q = round half to even of x * s, within
 * [-127, 127] since |x s| <= 127). q gets cols_pad bytes (zero padded),
 * *scale gets s and *sum the sum of q. */
void tlm_quant_act_row(int8_t *q, float *scale, int32_t *sum, const float *x, int cols,
                       int cols_pad);

/* IEEE half <-> float (round to nearest even; NaN and infinities kept). */
float tlm_f16_to_f32(uint16_t h);
uint16_t tlm_f32_to_f16(float f);

/* The versions: kernels.c (scalar), kern_avx2.c, kern_avx512.c. */
extern const tlm_kernels tlm_kernels_scalar;
extern const tlm_kernels tlm_kernels_avx2;
extern const tlm_kernels tlm_kernels_avx512vnni;

#endif
