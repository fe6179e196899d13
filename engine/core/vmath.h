/* vmath.h - element-wise math written so the compiler vectorizes the loops
 * that call it (no calls, no branches, no undefined conversions); the same
 * bits on every instruction set (the project builds with -ffp-contract=off). */
#ifndef TLM_VMATH_H
#define TLM_VMATH_H
#include <stdint.h>
#include <string.h>

/* Hot loops are compiled for AVX-512, AVX2 and plain x86-64, picked at run
 * time (GCC function multi-versioning); all give the same bits. Not under
 * the sanitizers: their runtimes are not ready when the ifunc resolvers run
 * at load time. Files using it add #pragma GCC optimize("no-trapping-math")
 * so comparisons can be if-converted (only exception flags could differ). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
#define TLM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TLM_CLONES
#endif

/* e^x within 2 ulp of expf for x in [-87.3, 88.7]; 0 below -87.34 (expf
 * gives tiny denormals there), +inf above 88.72, NaN for NaN. Cephes-style:
 * x = n ln2 + r with |r| <= ln2/2 (two-part ln2), e^r by a degree-7 series. */
static inline __attribute__((always_inline)) float tlm_expf(float x)
{
    float xc = x < -87.33654f ? -87.33654f : x > 88.72283f ? 88.72283f : x;
    xc = x != x ? 0.0f : xc; /* NaN: keep the conversion below defined */
    float n = (xc * 1.44269504f + 12582912.0f) - 12582912.0f; /* round(x / ln2) */
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = (int32_t)n + 127; /* n in [-126, 128] here: no overflow */
    e = e < 1 ? 1 : e > 254 ? 254 : e;
    uint32_t bits = (uint32_t)e << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    float y = n > 127.5f ? p * s * 2.0f : p * s; /* n = 128 near the top */
    y = x < -87.33654f ? 0.0f : y;
    y = x > 88.72283f ? __builtin_inff() : y;
    return x != x ? x : y;
}

/* 1 / (1 + e^-x). */
static inline __attribute__((always_inline)) float tlm_sigmoidf(float x)
{
    return 1.0f / (1.0f + tlm_expf(-x));
}

#endif
