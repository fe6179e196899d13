/* quant.c - fake quantizers. */
#include "quant.h"
#include <math.h>
#include "../core/vmath.h"

/* Comparisons may be if-converted (vectorized): values are unchanged, only
 * floating-point exception flags could differ, and nothing reads them. */
#pragma GCC optimize("no-trapping-math")

/* Round half to even, exactly rintf() in the default rounding mode, for
 * |x| <= 2^22 (here |x| <= 2); written so the compiler can vectorize it. */
static inline float round_even_small(float x)
{
    return (x + 12582912.0f) - 12582912.0f; /* 1.5 * 2^23 */
}

static inline float clampf(float x, float lo, float hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static inline void quant_row_absmax(float *q, const float *x, size_t n)
{
    float m = 0.0f;
    for (size_t j = 0; j < n; j++) {
        float a = fabsf(x[j]);
        m = a > m ? a : m;
    }
    float s = 127.0f / (m > 1e-5f ? m : 1e-5f);
    for (size_t j = 0; j < n; j++)
        q[j] = clampf(round_even_small(x[j] * s), -128.0f, 127.0f) / s; /* |x*s| <= 127 */
}

TLM_CLONES void tlm_quant_act_int8(float *xq, const float *x, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        quant_row_absmax(xq + i * cols, x + i * cols, cols);
}

TLM_CLONES float tlm_ternary_scale(const float *w, size_t n)
{
    double acc[8] = {0}; /* lane sums, added in a fixed order */
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += fabsf(w[i + k]);
    for (; i < n; i++)
        acc[0] += fabsf(w[i]);
    double s = 0.0;
    for (int k = 0; k < 8; k++)
        s += acc[k];
    float g = (float)(s / (double)(n ? n : 1));
    return g > 1e-5f ? g : 1e-5f;
}

/* Ternary code of w at scale g: clamp(round(w / g), -1, 1); a NaN weight
 * gives NaN (counted as neither sign). */
static inline float ternary_code(float w, float g)
{
    float x = w / g;
    x = x > 2.0f ? 2.0f : x < -2.0f ? -2.0f : x; /* NaN passes through */
    float r = round_even_small(x);
    return r >= 1.0f ? 1.0f : r <= -1.0f ? -1.0f : r; /* r is +-0 or NaN here */
}

TLM_CLONES void tlm_ternary_count(const float *w, size_t n, float g, uint64_t counts[3])
{
    uint64_t neg = 0, pos = 0;
    /* 32-bit counters per block keep the loop branch-free and vectorizable */
    for (size_t b = 0; b < n; b += 1 << 20) {
        size_t e = n - b < (1 << 20) ? n : b + (1 << 20);
        int32_t bneg = 0, bpos = 0;
        /* round(x) half to even is negative exactly when x < -0.5 and positive
         * when x > 0.5 (+-0.5 round to 0); NaN is neither */
        for (size_t i = b; i < e; i++) {
            float x = w[i] / g;
            bneg += x < -0.5f;
            bpos += x > 0.5f;
        }
        neg += (uint64_t)bneg;
        pos += (uint64_t)bpos;
    }
    counts[0] = neg;
    counts[1] = n - neg - pos;
    counts[2] = pos;
}

TLM_CLONES void tlm_quant_ternary_scaled(float *wq, const float *w, size_t n, float g)
{
    for (size_t i = 0; i < n; i++)
        wq[i] = ternary_code(w[i], g) * g;
}

float tlm_quant_ternary(float *wq, const float *w, size_t n, uint64_t counts[3])
{
    float g = tlm_ternary_scale(w, n);
    tlm_quant_ternary_scaled(wq, w, n, g);
    if (counts)
        tlm_ternary_count(w, n, g, counts);
    return g;
}

TLM_CLONES void tlm_quant_int8_rows(float *wq, const float *w, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        quant_row_absmax(wq + i * cols, w + i * cols, cols);
}

TLM_CLONES void tlm_quant_act_codes(int8_t *q, float *scale, int32_t *sum, const float *x,
                                    size_t cols, size_t qcols)
{
    float m = 0.0f;
    for (size_t j = 0; j < cols; j++) {
        float a = fabsf(x[j]);
        m = a > m ? a : m;
    }
    float s = 127.0f / (m > 1e-5f ? m : 1e-5f);
    int32_t acc = 0;
    for (size_t j = 0; j < cols; j++) {
        float r = clampf(round_even_small(x[j] * s), -128.0f, 127.0f);
        int32_t v = r == r ? (int32_t)r : 0; /* NaN (a NaN or infinite input): no UB cast */
        q[j] = (int8_t)v;
        acc += v;
    }
    for (size_t j = cols; j < qcols; j++)
        q[j] = 0;
    *scale = s;
    *sum = acc;
}

TLM_CLONES void tlm_ternary_codes(int8_t *t, const float *w, size_t n, float g)
{
    for (size_t i = 0; i < n; i++) {
        float x = w[i] / g;
        t[i] = (int8_t)((x > 0.5f) - (x < -0.5f)); /* round half to even, clamped; NaN: 0 */
    }
}

TLM_CLONES float tlm_int8_codes_row(int8_t *q, const float *w, size_t n)
{
    float m = 0.0f;
    int nan = 0;
    for (size_t j = 0; j < n; j++) {
        float a = fabsf(w[j]);
        m = a > m ? a : m;
        nan |= w[j] != w[j];
    }
    float s = 127.0f / (m > 1e-5f ? m : 1e-5f);
    for (size_t j = 0; j < n; j++) {
        float r = clampf(round_even_small(w[j] * s), -128.0f, 127.0f);
        q[j] = (int8_t)(r == r ? r : 0.0f);
    }
    return nan ? NAN : s;
}
