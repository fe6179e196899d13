/* test_infer_kernels.c - packed ternary / int8 kernels: every version this CPU
 * supports gives bit-identical integer results to a plain reference on random
 * shapes (odd sizes, tails, several tokens); packing, activation quantization,
 * half floats and kernel selection. */
#include <stdint.h>
#include <string.h>
#include "engine/core/rng.h"
#include "engine/infer/kernels.h"
#include "engine/model/quant.h"
#include "tests/tap.h"

static tlm_rng rng;

static int rnd(int lo, int hi) /* inclusive */
{
    return lo + (int)tlm_rng_below(&rng, (uint64_t)(hi - lo + 1));
}

/* Random ternary matrix t[rows][cols], packed into w (rows x cols_pad/4). */
static void make_tern(int8_t *t, uint8_t *w, int rows, int cols, int cols_pad)
{
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < cols; j++)
            t[(size_t)r * (size_t)cols + (size_t)j] = (int8_t)rnd(-1, 1);
        tlm_tern_pack_row(w + (size_t)r * (size_t)(cols_pad / 4), t + (size_t)r * (size_t)cols,
                          cols, cols_pad);
    }
}

/* Random activations: n rows of cols values in [-128, 127] (or a narrower range), zero padded. */
static void make_x(int8_t *x, int32_t *xsum, int n, int cols, int cols_pad, int lo, int hi)
{
    for (int i = 0; i < n; i++) {
        int32_t s = 0;
        for (int j = 0; j < cols_pad; j++) {
            int v = j < cols ? rnd(lo, hi) : 0;
            x[(size_t)i * (size_t)cols_pad + (size_t)j] = (int8_t)v;
            s += v;
        }
        xsum[i] = s;
    }
}

static int check_tern_shape(int rows, int cols, int n)
{
    int cols_pad = (int)tlm_kpad((size_t)cols);
    size_t wb = (size_t)rows * (size_t)(cols_pad / 4);
    int8_t *t = malloc((size_t)rows * (size_t)cols);
    uint8_t *w = malloc(wb);
    int8_t *x = malloc((size_t)n * (size_t)cols_pad);
    int32_t *xsum = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *ref = malloc(sizeof(int32_t) * (size_t)n * (size_t)rows);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n * (size_t)(rows + 3));
    int good = t && w && x && xsum && ref && y;
    if (!good)
        goto out;
    make_tern(t, w, rows, cols, cols_pad);
    make_x(x, xsum, n, cols, cols_pad, -128, 127);
    for (int i = 0; i < n; i++)
        for (int r = 0; r < rows; r++) {
            int32_t s = 0;
            for (int j = 0; j < cols; j++)
                s += t[(size_t)r * (size_t)cols + (size_t)j] * x[(size_t)i * (size_t)cols_pad + (size_t)j];
            ref[(size_t)i * (size_t)rows + (size_t)r] = s;
        }
    for (int id = 0; id < TLM_KERN_N; id++) {
        const tlm_kernels *k = tlm_kernels_get((tlm_kern_id)id);
        if (!k)
            continue;
        size_t ldy = (size_t)rows + 3; /* a row stride wider than rows */
        for (size_t i = 0; i < (size_t)n * ldy; i++)
            y[i] = 0x5a5a5a5a;
        k->tern(y, ldy, w, (size_t)(cols_pad / 4), rows, x, (size_t)cols_pad, xsum, n, cols_pad);
        for (int i = 0; i < n && good; i++) {
            for (int r = 0; r < rows; r++)
                good &= y[(size_t)i * ldy + (size_t)r] == ref[(size_t)i * (size_t)rows + (size_t)r];
            for (int r = rows; r < rows + 3; r++)
                good &= y[(size_t)i * ldy + (size_t)r] == 0x5a5a5a5a; /* no write past rows */
        }
        if (!good)
            printf("# ternary %s differs at %dx%d n=%d\n", k->name, rows, cols, n);
    }
out:
    free(t), free(w), free(x), free(xsum), free(ref), free(y);
    return good;
}

static int check_i8_shape(int rows, int cols, int n)
{
    int cols_pad = (int)tlm_kpad((size_t)cols);
    int8_t *w = calloc((size_t)rows * (size_t)cols_pad, 1);
    int8_t *x = malloc((size_t)n * (size_t)cols_pad);
    int32_t *xsum = malloc(sizeof(int32_t) * (size_t)n), *wsum = calloc((size_t)rows, 4);
    int32_t *ref = malloc(sizeof(int32_t) * (size_t)n * (size_t)rows);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n * (size_t)rows);
    int good = w && x && xsum && wsum && ref && y;
    if (!good)
        goto out;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) {
            int v = rnd(-127, 127);
            w[(size_t)r * (size_t)cols_pad + (size_t)j] = (int8_t)v;
            wsum[r] += v;
        }
    make_x(x, xsum, n, cols, cols_pad, -127, 127);
    for (int i = 0; i < n; i++)
        for (int r = 0; r < rows; r++) {
            int32_t s = 0;
            for (int j = 0; j < cols; j++)
                s += w[(size_t)r * (size_t)cols_pad + (size_t)j] * x[(size_t)i * (size_t)cols_pad + (size_t)j];
            ref[(size_t)i * (size_t)rows + (size_t)r] = s;
        }
    for (int id = 0; id < TLM_KERN_N; id++) {
        const tlm_kernels *k = tlm_kernels_get((tlm_kern_id)id);
        if (!k)
            continue;
        memset(y, 0, sizeof(int32_t) * (size_t)n * (size_t)rows);
        k->i8(y, (size_t)rows, w, (size_t)cols_pad, wsum, rows, x, (size_t)cols_pad, n, cols_pad);
        for (size_t i = 0; i < (size_t)n * (size_t)rows && good; i++)
            good &= y[i] == ref[i];
        if (!good)
            printf("# int8 %s differs at %dx%d n=%d\n", k->name, rows, cols, n);
    }
out:
    free(w), free(x), free(xsum), free(wsum), free(ref), free(y);
    return good;
}

static void test_kernels_identical(void)
{
    static const int fixed[][3] = {{1, 1, 1},     {4, 64, 1},    {5, 65, 3},    {7, 255, 2},
                                   {3, 256, 5},   {9, 257, 4},   {17, 511, 7},  {2, 768, 1},
                                   {33, 768, 6},  {13, 2050, 1}, {8, 2050, 9},  {6, 683, 4},
                                   {11, 1024, 1}, {1, 4096, 8},  {64, 192, 1},  {5, 320, 8}};
    int good = 1, cases = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++, cases++)
        good &= check_tern_shape(fixed[i][0], fixed[i][1], fixed[i][2]);
    for (int c = 0; c < 60; c++, cases++)
        good &= check_tern_shape(rnd(1, 40), rnd(1, 1100), rnd(1, 9));
    ok(good, "ternary kernels of every supported version equal the reference on %d shapes", cases);
    good = 1;
    cases = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++, cases++)
        good &= check_i8_shape(fixed[i][0], fixed[i][1], fixed[i][2]);
    for (int c = 0; c < 40; c++, cases++)
        good &= check_i8_shape(rnd(1, 40), rnd(1, 1100), rnd(1, 6));
    ok(good, "int8 kernels of every supported version equal the reference on %d shapes", cases);
}

/* Worst case magnitudes: all codes -1 / +1 with x = -128 / 127 over a long row. */
static void test_kernel_extremes(void)
{
    int rows = 5, cols = 8192, cols_pad = 8192, good = 1;
    int8_t *t = malloc((size_t)rows * (size_t)cols);
    uint8_t *w = malloc((size_t)rows * (size_t)cols_pad / 4);
    int8_t *x = malloc((size_t)cols_pad);
    int32_t xsum = 0, y[5];
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++)
            t[(size_t)r * (size_t)cols + (size_t)j] = (int8_t)(r % 2 ? 1 : -1);
    for (int r = 0; r < rows; r++)
        tlm_tern_pack_row(w + (size_t)r * (size_t)cols_pad / 4, t + (size_t)r * (size_t)cols, cols,
                          cols_pad);
    for (int j = 0; j < cols; j++) {
        x[j] = (int8_t)(j % 3 ? -128 : 127);
        xsum += x[j];
    }
    for (int id = 0; id < TLM_KERN_N; id++) {
        const tlm_kernels *k = tlm_kernels_get((tlm_kern_id)id);
        if (!k)
            continue;
        k->tern(y, 5, w, (size_t)cols_pad / 4, rows, x, (size_t)cols_pad, &xsum, 1, cols_pad);
        for (int r = 0; r < rows; r++)
            good &= y[r] == (r % 2 ? xsum : -xsum);
    }
    ok(good, "no saturation at the extremes (codes 0/2 times -128/127 over 8192 weights)");
    free(t), free(w), free(x);
}

static void test_packing(void)
{
    int good = 1;
    for (int cols = 1; cols <= 600; cols += 7) {
        int cols_pad = (int)tlm_kpad((size_t)cols);
        int8_t t[600];
        uint8_t w[160];
        for (int j = 0; j < cols; j++)
            t[j] = (int8_t)rnd(-1, 1);
        tlm_tern_pack_row(w, t, cols, cols_pad);
        for (int j = 0; j < cols_pad; j++)
            good &= tlm_tern_get(w, cols_pad, j) == (j < cols ? t[j] : 0);
        good &= !tlm_tern_has_bad_code(w, (size_t)cols_pad / 4);
    }
    ok(good, "pack/unpack round trip, padding is t = 0, no invalid codes");
    uint8_t bad[5] = {0x55, 0x00, 0xaa, 0x1b, 0x55};
    ok(tlm_tern_has_bad_code(bad, 5) && !tlm_tern_has_bad_code(bad, 3),
       "the invalid code 3 is detected");
    /* the block layout: a tail block of 16 bytes after one full block (cols_pad 320) */
    int byte, shift;
    tlm_tern_pos(320, 256 + 17, &byte, &shift);
    ok(byte == 64 + 1 && shift == 2, "tail block layout: weight 273 of 320 at byte 65, bits 2-3");
    tlm_tern_pos(320, 64 + 3, &byte, &shift);
    ok(byte == 3 && shift == 2, "full block layout: weight 67 at byte 3, bits 2-3");
}

static void test_act_quant(void)
{
    float x[300], xq[300];
    int8_t q[320];
    float s;
    int32_t sum;
    int good = 1;
    for (int rep = 0; rep < 50; rep++) {
        int n = rnd(1, 300);
        float amp = rep == 0 ? 1e-7f : (float)rnd(1, 1000) / 100.0f;
        for (int j = 0; j < n; j++)
            x[j] = amp * (tlm_rng_float(&rng) * 2.0f - 1.0f);
        tlm_quant_act_int8(xq, x, 1, (size_t)n);
        tlm_quant_act_row(q, &s, &sum, x, n, (int)tlm_kpad((size_t)n));
        int32_t ssum = 0;
        for (int j = 0; j < n; j++) {
            good &= xq[j] == (float)q[j] / s; /* the training quantizer's exact values */
            ssum += q[j];
        }
        for (int j = n; j < (int)tlm_kpad((size_t)n); j++)
            good &= q[j] == 0;
        good &= ssum == sum;
    }
    ok(good, "activation quantization reproduces training's fake quantizer exactly");
}

static void test_f16(void)
{
    int good = 1;
    /* every half value round-trips */
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu))
            continue; /* NaN payloads */
        good &= tlm_f32_to_f16(tlm_f16_to_f32((uint16_t)h)) == h;
    }
    ok(good, "every finite/infinite half float round-trips through float");
    ok(tlm_f32_to_f16(1.0f) == 0x3c00 && tlm_f32_to_f16(65504.0f) == 0x7bff &&
           tlm_f32_to_f16(1e6f) == 0x7c00 && tlm_f32_to_f16(-2.0f) == 0xc000 &&
           tlm_f32_to_f16(1.0f + 1.0f / 4096.0f) == 0x3c00 &&
           tlm_f32_to_f16(1.0f + 1.0f / 2048.0f) == 0x3c00 &&
           tlm_f32_to_f16(1.0f + 3.0f / 2048.0f) == 0x3c02 &&
           tlm_f32_to_f16(1.0f + 3.0f / 4096.0f) == 0x3c01,
       "half conversion rounds to nearest even and saturates to infinity");
    int rows = 7, cols = 77;
    uint16_t w[7 * 77];
    float x[77], ref[7], y[7];
    for (int j = 0; j < cols; j++)
        x[j] = tlm_rng_float(&rng) - 0.5f;
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int j = 0; j < cols; j++) {
            w[r * cols + j] = tlm_f32_to_f16(tlm_rng_float(&rng) - 0.5f);
            s += (double)tlm_f16_to_f32(w[r * cols + j]) * x[j];
        }
        ref[r] = (float)s;
    }
    good = 1;
    for (int id = 0; id < TLM_KERN_N; id++) {
        const tlm_kernels *k = tlm_kernels_get((tlm_kern_id)id);
        if (!k)
            continue;
        k->f16(y, w, (size_t)cols, rows, x, cols);
        for (int r = 0; r < rows; r++)
            good &= fabsf(y[r] - ref[r]) < 1e-5f;
    }
    ok(good, "fp16 matvec of every version matches a double reference");
}

static void test_select(void)
{
    tlm_err err;
    const tlm_kernels *k;
    ok(tlm_kernels_select("scalar", &k, &err) == 0 && k->id == TLM_KERN_SCALAR,
       "select scalar by name");
    ok(tlm_kernels_select("fast", &k, &err) == -1 && strstr(err.msg, "unknown"),
       "unknown kernel name is an error: %s", err.msg);
    for (int id = 1; id < TLM_KERN_N; id++) {
        const char *names[] = {"scalar", "avx2", "avx512vnni"};
        int rc = tlm_kernels_select(names[id], &k, &err);
        if (tlm_kernels_supported((tlm_kern_id)id))
            ok(rc == 0 && k->id == (tlm_kern_id)id, "select %s (supported here)", names[id]);
        else
            ok(rc == -1 && strstr(err.msg, "does not support"), "select %s fails: %s", names[id],
               err.msg);
    }
    setenv("TLM_KERNEL", "scalar", 1);
    ok(tlm_kernels_select(NULL, &k, &err) == 0 && k->id == TLM_KERN_SCALAR,
       "TLM_KERNEL=scalar forces the scalar version");
    setenv("TLM_KERNEL", "bogus", 1);
    ok(tlm_kernels_select(NULL, &k, &err) == -1 && strstr(err.msg, "TLM_KERNEL"),
       "a bad TLM_KERNEL is an error naming the variable: %s", err.msg);
    unsetenv("TLM_KERNEL");
    int rc = tlm_kernels_select(NULL, &k, &err);
    int best = TLM_KERN_N - 1;
    while (!tlm_kernels_supported((tlm_kern_id)best))
        best--;
    ok(rc == 0 && k->id == (tlm_kern_id)best, "auto picks the best supported version: %s",
       k->name);
    for (int id = 0; id < TLM_KERN_N; id++)
        printf("# kernel version %d %s\n", id, tlm_kernels_supported((tlm_kern_id)id) ? "supported" : "not supported");
}

int main(void)
{
    tlm_rng_seed(&rng, 20240601);
    test_kernels_identical();
    test_kernel_extremes();
    test_packing();
    test_act_quant();
    test_f16();
    test_select();
    return tap_done();
}
