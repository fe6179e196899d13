/* qgemm_avx512.c - AVX-512 VNNI micro-kernel of the training forward's
 * integer product: tiles of 8 token rows x 32 outputs, vpdpbusd of the
 * unsigned weight codes with the broadcast signed activation codes, int32
 * accumulation (no saturation: |sum| <= kpad * 255 * 127 < 2^31 for
 * kpad <= 65536). Only this file is compiled for AVX-512. */
#include "qgemm.h"
#include <string.h>
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define TGT_INLINE TGT static inline __attribute__((always_inline))

#define MR 8                  /* token rows of a tile */
#define PANEL_BLOCK (192 << 10) /* bytes of weight panels kept hot in L2 */

/* y rows [0, mr) x the nout (<= 32) outputs of one panel. */
TGT_INLINE void tile(int mr, float *y, size_t ldy, const int8_t *q, size_t kp, const float *xinv,
                     const int32_t *xsum, const uint8_t *pw, const float *wmul, int off, int nout,
                     int kg_n)
{
    __m512i acc[MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (int kg = 0; kg < kg_n; kg++) {
        __m512i w0 = _mm512_loadu_si512((const void *)(pw + (size_t)kg * 128));
        __m512i w1 = _mm512_loadu_si512((const void *)(pw + (size_t)kg * 128 + 64));
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            int32_t x4;
            memcpy(&x4, q + (size_t)r * kp + 4 * (size_t)kg, 4);
            __m512i xb = _mm512_set1_epi32(x4);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], w0, xb);
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], w1, xb);
        }
    }
    __mmask16 m0 = nout >= 16 ? 0xFFFF : (__mmask16)((1u << nout) - 1);
    __mmask16 m1 = nout >= 32 ? 0xFFFF : nout <= 16 ? 0 : (__mmask16)((1u << (nout - 16)) - 1);
    __m512 wm0 = _mm512_maskz_loadu_ps(m0, wmul), wm1 = _mm512_maskz_loadu_ps(m1, wmul + 16);
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) {
        __m512i corr = _mm512_set1_epi32(off * xsum[r]);
        __m512 xs = _mm512_set1_ps(xinv[r]);
        __m512 f0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][0], corr));
        __m512 f1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][1], corr));
        _mm512_mask_storeu_ps(y + (size_t)r * ldy, m0, _mm512_mul_ps(_mm512_mul_ps(f0, xs), wm0));
        _mm512_mask_storeu_ps(y + (size_t)r * ldy + 16, m1,
                              _mm512_mul_ps(_mm512_mul_ps(f1, xs), wm1));
    }
}

TGT static void tile_rows(int mr, float *y, size_t ldy, const int8_t *q, size_t kp,
                          const float *xinv, const int32_t *xsum, const uint8_t *pw,
                          const float *wmul, int off, int nout, int kg_n)
{
    switch (mr) {
#define CASE(n)                                                                       \
    case n:                                                                           \
        tile(n, y, ldy, q, kp, xinv, xsum, pw, wmul, off, nout, kg_n);                \
        break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default:
        break;
    }
}

TGT int tlm_qg_rows_avx512(float *y, size_t ldy, const int8_t *q, const float *xinv,
                           const int32_t *xsum, size_t n0, size_t n1, const uint8_t *panels,
                           const float *wmul, int off, int O, int K)
{
    int kp = tlm_qg_kpad(K), kg_n = kp / 4, npan = (O + TLM_QG_NR - 1) / TLM_QG_NR;
    size_t pbytes = (size_t)kg_n * TLM_QG_NR * 4;
    int block = (int)(PANEL_BLOCK / pbytes);
    block = block < 1 ? 1 : block;
    for (int pb = 0; pb < npan; pb += block) {
        int pe = pb + block < npan ? pb + block : npan;
        for (size_t n = n0; n < n1; n += MR) {
            int mr = n1 - n < MR ? (int)(n1 - n) : MR;
            for (int p = pb; p < pe; p++) {
                int o0 = p * TLM_QG_NR, nout = O - o0 < TLM_QG_NR ? O - o0 : TLM_QG_NR;
                tile_rows(mr, y + n * ldy + (size_t)o0, ldy, q + n * (size_t)kp, (size_t)kp,
                          xinv + n, xsum + n, panels + (size_t)p * pbytes, wmul + o0, off, nout,
                          kg_n);
            }
        }
    }
    return 1;
}
#else
int tlm_qg_rows_avx512(float *y, size_t ldy, const int8_t *q, const float *xinv,
                       const int32_t *xsum, size_t n0, size_t n1, const uint8_t *panels,
                       const float *wmul, int off, int O, int K)
{
    return 0;
}
#endif
