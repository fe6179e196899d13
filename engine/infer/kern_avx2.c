/* kern_avx2.c - AVX2 kernels (maddubs of unsigned ternary codes with signed
 * int8 activations, minus the activation sum). Only these functions are
 * compiled for AVX2; the dispatcher calls them when the CPU has it. */
#include "kernels.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma,f16c")))
#define TGT_INLINE TGT static inline __attribute__((always_inline))

TGT_INLINE int32_t hsum128(__m128i s)
{
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

TGT_INLINE int32_t hsum256(__m256i v)
{
    return hsum128(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

/* The sums of four accumulators, [s(a0), s(a1), s(a2), s(a3)]. */
TGT_INLINE __m128i reduce4(__m256i a0, __m256i a1, __m256i a2, __m256i a3)
{
    __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

/* Code k (0..3) of each byte of v, as unsigned bytes. */
TGT_INLINE __m256i codes256(__m256i v, int k)
{
    const __m256i m3 = _mm256_set1_epi8(3);
    return _mm256_and_si256(k ? _mm256_srli_epi16(v, 2 * k) : v, m3);
}

TGT_INLINE __m128i codes128(__m128i v, int k)
{
    const __m128i m3 = _mm_set1_epi8(3);
    return _mm_and_si128(k ? _mm_srli_epi16(v, 2 * k) : v, m3);
}

/* R rows x 1 token: y[r*1] = sum c*x - xsum over the packed rows at w. */
TGT_INLINE void tern_tile(int R, int32_t *y, const uint8_t *w, size_t wstride, const int8_t *x,
                          int32_t xsum, int cols_pad)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[4];
    __m128i tacc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        acc[r] = _mm256_setzero_si256();
        tacc[r] = _mm_setzero_si128();
    }
    int full = cols_pad / 256;
    for (int b = 0; b < full; b++) {
        const uint8_t *wb = w + 64 * (size_t)b;
        const int8_t *xb = x + 256 * (size_t)b;
        __m256i s[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            s[r] = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256i v[4];
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                v[r] = _mm256_loadu_si256((const __m256i *)(wb + (size_t)r * wstride + 32 * h));
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xb + 64 * k + 32 * h));
#pragma GCC unroll 4
                for (int r = 0; r < R; r++)
                    s[r] = _mm256_add_epi16(s[r], _mm256_maddubs_epi16(codes256(v[r], k), xv));
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(s[r], ones));
    }
    int m = (cols_pad - 256 * full) / 4;
    if (m) {
        const uint8_t *wb = w + 64 * (size_t)full;
        const int8_t *xb = x + 256 * (size_t)full;
        const __m128i ones128 = _mm_set1_epi16(1);
        for (int c = 0; c < m; c += 16) {
            __m128i s[4];
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                s[r] = _mm_setzero_si128();
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                __m128i xv = _mm_loadu_si128((const __m128i *)(xb + m * k + c));
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) {
                    __m128i v = _mm_loadu_si128((const __m128i *)(wb + (size_t)r * wstride + c));
                    s[r] = _mm_add_epi16(s[r], _mm_maddubs_epi16(codes128(v, k), xv));
                }
            }
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                tacc[r] = _mm_add_epi32(tacc[r], _mm_madd_epi16(s[r], ones128));
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r] = _mm256_add_epi32(acc[r], _mm256_zextsi128_si256(tacc[r]));
    if (R == 4) {
        __m128i s = _mm_sub_epi32(reduce4(acc[0], acc[1], acc[2], acc[3]), _mm_set1_epi32(xsum));
        _mm_storeu_si128((__m128i *)y, s);
        return;
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        y[r] = hsum256(acc[r]) - xsum;
}

TGT static void tern_avx2(int32_t *y, size_t ldy, const uint8_t *w, size_t wstride, int rows,
                          const int8_t *x, size_t ldx, const int32_t *xsum, int n, int cols_pad)
{
    for (int i = 0; i < n; i++) {
        const int8_t *xi = x + (size_t)i * ldx;
        int32_t *yi = y + (size_t)i * ldy;
        int r = 0;
        for (; r + 4 <= rows; r += 4)
            tern_tile(4, yi + r, w + (size_t)r * wstride, wstride, xi, xsum[i], cols_pad);
        for (; r < rows; r++)
            tern_tile(1, yi + r, w + (size_t)r * wstride, wstride, xi, xsum[i], cols_pad);
    }
}

/* R rows x 1 token of int8 x int8: |w| * sign(x, w), pairs below 2^15. */
TGT_INLINE void i8_tile(int R, int32_t *y, const int8_t *w, size_t wstride, const int8_t *x,
                        int cols_pad)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r] = _mm256_setzero_si256();
    for (int j = 0; j < cols_pad; j += 32) {
        __m256i xv = _mm256_loadu_si256((const __m256i *)(x + j));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256i wv = _mm256_loadu_si256((const __m256i *)(w + (size_t)r * wstride + j));
            __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv));
            acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(p, ones));
        }
    }
    if (R == 4) {
        _mm_storeu_si128((__m128i *)y, reduce4(acc[0], acc[1], acc[2], acc[3]));
        return;
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        y[r] = hsum256(acc[r]);
}

TGT static void i8_avx2(int32_t *y, size_t ldy, const int8_t *w, size_t wstride,
                        const int32_t *wsum, int rows, const int8_t *x, size_t ldx, int n,
                        int cols_pad)
{
    (void)wsum;
    for (int i = 0; i < n; i++) {
        const int8_t *xi = x + (size_t)i * ldx;
        int32_t *yi = y + (size_t)i * ldy;
        int r = 0;
        for (; r + 4 <= rows; r += 4)
            i8_tile(4, yi + r, w + (size_t)r * wstride, wstride, xi, cols_pad);
        for (; r < rows; r++)
            i8_tile(1, yi + r, w + (size_t)r * wstride, wstride, xi, cols_pad);
    }
}

TGT static void f16_avx2(float *y, const uint16_t *w, size_t wstride, int rows, const float *x,
                         int cols)
{
    for (int r = 0; r < rows; r++) {
        const uint16_t *wr = w + (size_t)r * wstride;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int j = 0;
        for (; j + 16 <= cols; j += 16) {
            __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wr + j)));
            __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wr + j + 8)));
            a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + j), a0);
            a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + j + 8), a1);
        }
        __m256 a = _mm256_add_ps(a0, a1);
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        float acc = _mm_cvtss_f32(s);
        for (; j < cols; j++)
            acc += tlm_f16_to_f32(wr[j]) * x[j];
        y[r] = acc;
    }
}

const tlm_kernels tlm_kernels_avx2 = {"avx2", TLM_KERN_AVX2, tern_avx2, i8_avx2, f16_avx2};
#endif
