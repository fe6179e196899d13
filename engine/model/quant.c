/* quant.c - fake quantizers. */
#include "quant.h"
#include <math.h>

static inline float clampf(float x, float lo, float hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static void quant_row_absmax(float *q, const float *x, size_t n)
{
    float m = 0.0f;
    for (size_t j = 0; j < n; j++) {
        float a = fabsf(x[j]);
        m = a > m ? a : m;
    }
    float s = 127.0f / (m > 1e-5f ? m : 1e-5f);
    for (size_t j = 0; j < n; j++)
        q[j] = clampf(rintf(x[j] * s), -128.0f, 127.0f) / s;
}

void tlm_quant_act_int8(float *xq, const float *x, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        quant_row_absmax(xq + i * cols, x + i * cols, cols);
}

float tlm_ternary_scale(const float *w, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += fabsf(w[i]);
    float g = (float)(s / (double)(n ? n : 1));
    return g > 1e-5f ? g : 1e-5f;
}

/* Ternary code of w at scale g: clamp(round(w / g), -1, 1); a NaN weight
 * gives NaN (counted as neither sign). */
static inline float ternary_code(float w, float g)
{
    float r = rintf(w / g);
    return r >= 1.0f ? 1.0f : r <= -1.0f ? -1.0f : r; /* r is +-0 or NaN here */
}

void tlm_ternary_count(const float *w, size_t n, float g, uint64_t counts[3])
{
    uint64_t neg = 0, pos = 0;
    for (size_t i = 0; i < n; i++) {
        float t = ternary_code(w[i], g);
        neg += t < 0.0f;
        pos += t > 0.0f;
    }
    counts[0] = neg;
    counts[1] = n - neg - pos;
    counts[2] = pos;
}

void tlm_quant_ternary_scaled(float *wq, const float *w, size_t n, float g)
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

void tlm_quant_int8_rows(float *wq, const float *w, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        quant_row_absmax(wq + i * cols, w + i * cols, cols);
}
