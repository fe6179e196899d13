/* kernels.c - the portable scalar kernels, packing, activation quantization,
 * half floats and run-time dispatch. */
#include "kernels.h"
#include "../model/quant.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* ---- packing ---- */

void tlm_tern_pack_row(uint8_t *dst, const int8_t *t, int cols, int cols_pad)
{
    memset(dst, 0x55, (size_t)cols_pad / 4); /* code 1 (t = 0) everywhere */
    for (int j = 0; j < cols; j++) {
        int byte, shift;
        tlm_tern_pos(cols_pad, j, &byte, &shift);
        unsigned code = (unsigned)(t[j] + 1) & 3u;
        dst[byte] = (uint8_t)((dst[byte] & ~(3u << shift)) | (code << shift));
    }
}

int tlm_tern_has_bad_code(const uint8_t *p, size_t n)
{
    uint8_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= (uint8_t)(p[i] & (p[i] >> 1) & 0x55);
    return bad != 0;
}

void tlm_quant_act_row(int8_t *q, float *scale, int32_t *sum, const float *x, int cols,
                       int cols_pad)
{
    /* the training quantizer itself (engine/model/quant.c) */
    tlm_quant_act_codes(q, scale, sum, x, (size_t)cols,
                        (size_t)(cols_pad > cols ? cols_pad : cols));
}

/* ---- half floats ---- */

float tlm_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13);
    } else if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t tlm_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf or NaN (keep a quiet NaN) */
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0));
    if (a >= 0x477ff000u) /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        if (a < 0x33000000u)
            return (uint16_t)sign;
        uint32_t man = (a & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(a >> 23); /* 14 .. 24 */
        uint32_t r = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((a - 0x38000000u) >> 13), rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1)))
        r++;
    return (uint16_t)(sign | r);
}

/* ---- scalar kernels ---- */

/* sum of code * x over one packed row (codes unsigned, so t * x = code * x - x):
 * one pass per code position k over contiguous bytes and activations, which
 * compilers vectorize. */
static int32_t tern_row_scalar(const uint8_t *w, const int8_t *x, int cols_pad)
{
    int32_t acc = 0;
    int base = 0;
    while (base < cols_pad) {
        int m = cols_pad - base >= 256 ? 64 : (cols_pad - base) / 4;
        for (int k = 0; k < 4; k++) {
            const int8_t *xk = x + base + m * k;
            for (int j = 0; j < m; j++)
                acc += (int32_t)((w[j] >> (2 * k)) & 3u) * xk[j];
        }
        w += m;
        base += 4 * m;
    }
    return acc;
}

static void tern_scalar(int32_t *y, size_t ldy, const uint8_t *w, size_t wstride, int rows,
                        const int8_t *x, size_t ldx, const int32_t *xsum, int n, int cols_pad)
{
    for (int i = 0; i < n; i++)
        for (int r = 0; r < rows; r++)
            y[(size_t)i * ldy + (size_t)r] =
                tern_row_scalar(w + (size_t)r * wstride, x + (size_t)i * ldx, cols_pad) - xsum[i];
}

static void i8_scalar(int32_t *y, size_t ldy, const int8_t *w, size_t wstride, const int32_t *wsum,
                      int rows, const int8_t *x, size_t ldx, int n, int cols_pad)
{
    (void)wsum;
    for (int i = 0; i < n; i++)
        for (int r = 0; r < rows; r++) {
            const int8_t *wr = w + (size_t)r * wstride, *xi = x + (size_t)i * ldx;
            int32_t acc = 0;
            for (int j = 0; j < cols_pad; j++)
                acc += (int32_t)wr[j] * xi[j];
            y[(size_t)i * ldy + (size_t)r] = acc;
        }
}

static void f16_scalar(float *y, const uint16_t *w, size_t wstride, int rows, const float *x,
                       int cols)
{
    for (int r = 0; r < rows; r++) {
        const uint16_t *wr = w + (size_t)r * wstride;
        float s[8] = {0};
        int j = 0;
        for (; j + 8 <= cols; j += 8)
            for (int k = 0; k < 8; k++)
                s[k] += tlm_f16_to_f32(wr[j + k]) * x[j + k];
        float acc = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
        for (; j < cols; j++)
            acc += tlm_f16_to_f32(wr[j]) * x[j];
        y[r] = acc;
    }
}

const tlm_kernels tlm_kernels_scalar = {"scalar", TLM_KERN_SCALAR, tern_scalar, i8_scalar,
                                        f16_scalar};

/* ---- dispatch ---- */

#if defined(__x86_64__) || defined(__i386__)
/* F16C from cpuid (clang's __builtin_cpu_supports does not know "f16c"). */
static int has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

static const char *kern_names[TLM_KERN_N] = {"scalar", "avx2", "avx512vnni"};

int tlm_kernels_supported(tlm_kern_id id)
{
    switch (id) {
    case TLM_KERN_SCALAR:
        return 1;
#if defined(__x86_64__) || defined(__i386__)
    case TLM_KERN_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    case TLM_KERN_AVX512VNNI:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#endif
    default:
        return 0;
    }
}

const tlm_kernels *tlm_kernels_get(tlm_kern_id id)
{
    if (!tlm_kernels_supported(id))
        return NULL;
    switch (id) {
    case TLM_KERN_SCALAR:
        return &tlm_kernels_scalar;
#if defined(__x86_64__) || defined(__i386__)
    case TLM_KERN_AVX2:
        return &tlm_kernels_avx2;
    case TLM_KERN_AVX512VNNI:
        return &tlm_kernels_avx512vnni;
#endif
    default:
        return NULL;
    }
}

int tlm_kernels_select(const char *name, const tlm_kernels **out, tlm_err *err)
{
    const char *src = "kernel";
    if (!name) {
        name = getenv("TLM_KERNEL");
        src = "TLM_KERNEL";
    }
    if (!name || !*name || !strcmp(name, "auto")) {
        for (int id = TLM_KERN_N - 1; id >= 0; id--)
            if ((*out = tlm_kernels_get((tlm_kern_id)id)))
                return 0;
        return tlm_errf(err, "no kernel available");
    }
    for (int id = 0; id < TLM_KERN_N; id++) {
        if (strcmp(name, kern_names[id]) != 0)
            continue;
        *out = tlm_kernels_get((tlm_kern_id)id);
        if (!*out)
            return tlm_errf(err, "%s '%s': this CPU does not support it", src, name);
        return 0;
    }
    return tlm_errf(err, "%s '%s': unknown (known: auto, scalar, avx2, avx512vnni)", src, name);
}
