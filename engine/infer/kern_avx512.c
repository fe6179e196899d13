/* kern_avx512.c - AVX-512 VNNI kernels: vpdpbusd of unsigned ternary codes
 * with signed int8 activations (int32 accumulation, no saturation), minus the
 * activation sum; int8 weights through the +128 offset on the activations.
 * Only these functions are compiled for AVX-512. */
#include "kernels.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")))
#define TGT_INLINE TGT static inline __attribute__((always_inline))

TGT_INLINE __m512i codes512(__m512i v, int k)
{
    const __m512i m3 = _mm512_set1_epi8(3);
    return _mm512_and_si512(k ? _mm512_srli_epi16(v, 2 * k) : v, m3);
}

/* The sums of four accumulators, [s(a0), s(a1), s(a2), s(a3)]. */
TGT_INLINE __m128i reduce4(__m512i a0, __m512i a1, __m512i a2, __m512i a3)
{
    __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
    __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
    __m512i u = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
    __m256i v = _mm256_add_epi32(_mm512_castsi512_si256(u), _mm512_extracti64x4_epi64(u, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

/* R rows x T tokens: y[t*ldy + r] = sum_j t(r, j) x[t*ldx + j]. The tail
 * block (m = 16, 32 or 48 bytes) goes through byte-masked loads. */
TGT_INLINE void tern_tile(int R, int T, int32_t *y, size_t ldy, const uint8_t *w, size_t wstride,
                          const int8_t *x, size_t ldx, const int32_t *xsum, int cols_pad)
{
    __m512i acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm512_setzero_si512();
    int full = cols_pad / 256;
    for (int b = 0; b < full; b++) {
        __m512i v[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            v[r] = _mm512_loadu_si512((const void *)(w + (size_t)r * wstride + 64 * (size_t)b));
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m512i c[4];
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                c[r] = codes512(v[r], k);
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) {
                __m512i xv = _mm512_loadu_si512(
                    (const void *)(x + (size_t)t * ldx + 256 * (size_t)b + 64 * k));
#pragma GCC unroll 4
                for (int r = 0; r < R; r++)
                    acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], c[r], xv);
            }
        }
    }
    int m = (cols_pad - 256 * full) / 4;
    if (m) {
        __mmask64 mask = (__mmask64)((1ULL << m) - 1);
        __m512i v[4];
        size_t wo = 64 * (size_t)full, xo = 256 * (size_t)full;
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            v[r] = _mm512_maskz_loadu_epi8(mask, w + (size_t)r * wstride + wo);
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) {
                __m512i xv = _mm512_maskz_loadu_epi8(mask, x + (size_t)t * ldx + xo + (size_t)(m * k));
#pragma GCC unroll 4
                for (int r = 0; r < R; r++)
                    acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], codes512(v[r], k), xv);
            }
        }
    }
    if (R == 4 && T == 1) { /* four rows of one token: one joint reduction */
        __m128i s = _mm_sub_epi32(reduce4(acc[0][0], acc[1][0], acc[2][0], acc[3][0]),
                                  _mm_set1_epi32(xsum[0]));
        _mm_storeu_si128((__m128i *)y, s);
    } else if (T == 4) { /* one row of four tokens */
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            int32_t s[4];
            _mm_storeu_si128((__m128i *)s, _mm_sub_epi32(reduce4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]),
                                                         _mm_loadu_si128((const __m128i *)xsum)));
#pragma GCC unroll 4
            for (int t = 0; t < 4; t++)
                y[(size_t)t * ldy + (size_t)r] = s[t];
        }
    } else {
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int t = 0; t < T; t++)
                y[(size_t)t * ldy + (size_t)r] = _mm512_reduce_add_epi32(acc[r][t]) - xsum[t];
    }
}

TGT static void tern_avx512(int32_t *y, size_t ldy, const uint8_t *w, size_t wstride, int rows,
                            const int8_t *x, size_t ldx, const int32_t *xsum, int n, int cols_pad)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) { /* 2 rows x 4 tokens share unpacked codes */
        const int8_t *xi = x + (size_t)i * ldx;
        int32_t *yi = y + (size_t)i * ldy;
        int r = 0;
        for (; r + 2 <= rows; r += 2)
            tern_tile(2, 4, yi + r, ldy, w + (size_t)r * wstride, wstride, xi, ldx, xsum + i,
                      cols_pad);
        for (; r < rows; r++)
            tern_tile(1, 4, yi + r, ldy, w + (size_t)r * wstride, wstride, xi, ldx, xsum + i,
                      cols_pad);
    }
    for (; i < n; i++) {
        const int8_t *xi = x + (size_t)i * ldx;
        int32_t *yi = y + (size_t)i * ldy;
        int r = 0;
        for (; r + 4 <= rows; r += 4)
            tern_tile(4, 1, yi + r, ldy, w + (size_t)r * wstride, wstride, xi, ldx, xsum + i,
                      cols_pad);
        for (; r < rows; r++)
            tern_tile(1, 1, yi + r, ldy, w + (size_t)r * wstride, wstride, xi, ldx, xsum + i,
                      cols_pad);
    }
}

/* R rows x 1 token of int8 x int8: (x + 128) as unsigned times w, minus 128 sum w. */
TGT_INLINE void i8_tile(int R, int32_t *y, const int8_t *w, size_t wstride, const int32_t *wsum,
                        const int8_t *x, int cols_pad)
{
    const __m512i off = _mm512_set1_epi8((char)0x80);
    __m512i acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r] = _mm512_setzero_si512();
    for (int j = 0; j < cols_pad; j += 64) {
        __m512i xu = _mm512_xor_si512(_mm512_loadu_si512((const void *)(x + j)), off);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_dpbusd_epi32(
                acc[r], xu, _mm512_loadu_si512((const void *)(w + (size_t)r * wstride + j)));
    }
    if (R == 4) {
        __m128i s = reduce4(acc[0], acc[1], acc[2], acc[3]);
        s = _mm_sub_epi32(s, _mm_slli_epi32(_mm_loadu_si128((const __m128i *)wsum), 7));
        _mm_storeu_si128((__m128i *)y, s);
        return;
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        y[r] = _mm512_reduce_add_epi32(acc[r]) - 128 * wsum[r];
}

TGT static void i8_avx512(int32_t *y, size_t ldy, const int8_t *w, size_t wstride,
                          const int32_t *wsum, int rows, const int8_t *x, size_t ldx, int n,
                          int cols_pad)
{
    for (int i = 0; i < n; i++) {
        const int8_t *xi = x + (size_t)i * ldx;
        int32_t *yi = y + (size_t)i * ldy;
        int r = 0;
        for (; r + 4 <= rows; r += 4)
            i8_tile(4, yi + r, w + (size_t)r * wstride, wstride, wsum + r, xi, cols_pad);
        for (; r < rows; r++)
            i8_tile(1, yi + r, w + (size_t)r * wstride, wstride, wsum + r, xi, cols_pad);
    }
}

TGT static void f16_avx512(float *y, const uint16_t *w, size_t wstride, int rows, const float *x,
                           int cols)
{
    for (int r = 0; r < rows; r++) {
        const uint16_t *wr = w + (size_t)r * wstride;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        int j = 0;
        for (; j + 32 <= cols; j += 32) {
            __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(wr + j)));
            __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(wr + j + 16)));
            a0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + j), a0);
            a1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + j + 16), a1);
        }
        float acc = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        for (; j < cols; j++)
            acc += tlm_f16_to_f32(wr[j]) * x[j];
        y[r] = acc;
    }
}

const tlm_kernels tlm_kernels_avx512vnni = {"avx512vnni", TLM_KERN_AVX512VNNI, tern_avx512,
                                            i8_avx512, f16_avx512};
#endif
