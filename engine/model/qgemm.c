/* qgemm.c - packing, activation codes, the portable integer product and the
 * split over the pool of the training forward's integer linears. */
#include "qgemm.h"
#include <stdlib.h>
#include <string.h>
#include "quant.h"

size_t tlm_qg_panel_bytes(int O, int K)
{
    size_t panels = ((size_t)O + TLM_QG_NR - 1) / TLM_QG_NR;
    return panels * (size_t)tlm_qg_kpad(K) * TLM_QG_NR;
}

/* Add the offset to the K codes of a row in place and fill up to kpad with
 * the code of 0 (written so the compiler vectorizes it). */
static void offset_codes(int8_t *codes, int K, int kpad, int off)
{
    uint8_t *u = (uint8_t *)codes;
    for (int k = 0; k < K; k++)
        u[k] = (uint8_t)(codes[k] + off);
    for (int k = K; k < kpad; k++)
        u[k] = (uint8_t)off;
}

/* Scatter the codes of row o (K values, offset added; codes needs kpad
 * bytes) into its panel, 4 bytes (one k-group) at a time. */
static void scatter_row(uint8_t *panels, int8_t *codes, int o, int K, int off)
{
    int kp = tlm_qg_kpad(K), kg_n = kp / 4, p = o / TLM_QG_NR, oi = o % TLM_QG_NR;
    offset_codes(codes, K, kp, off);
    uint8_t *dst = panels + (size_t)p * (size_t)kg_n * TLM_QG_NR * 4 + (size_t)oi * 4;
    for (int kg = 0; kg < kg_n; kg++, dst += TLM_QG_NR * 4)
        memcpy(dst, codes + 4 * kg, 4);
}

/* Rows past O in the last panel get the code of 0. */
static void pad_rows(uint8_t *panels, int O, int K, int r1, int off, int8_t *zeros)
{
    if (r1 != O)
        return;
    int end = (O + TLM_QG_NR - 1) / TLM_QG_NR * TLM_QG_NR;
    for (int o = O; o < end; o++) {
        memset(zeros, 0, (size_t)K);
        scatter_row(panels, zeros, o, K, off);
    }
}

void tlm_qg_pack_ternary(uint8_t *panels, float *wmul, const float *w, int O, int K, float g,
                         int r0, int r1, int8_t *codes)
{
    for (int o = r0; o < r1; o++) {
        tlm_ternary_codes(codes, w + (size_t)o * (size_t)K, (size_t)K, g);
        scatter_row(panels, codes, o, K, 1);
        wmul[o] = g;
    }
    pad_rows(panels, O, K, r1, 1, codes);
}

void tlm_qg_pack_int8(uint8_t *panels, float *wmul, const float *w, int O, int K, int r0, int r1,
                      int8_t *codes)
{
    for (int o = r0; o < r1; o++) {
        float s = tlm_int8_codes_row(codes, w + (size_t)o * (size_t)K, (size_t)K);
        scatter_row(panels, codes, o, K, 128);
        wmul[o] = 1.0f / s;
    }
    pad_rows(panels, O, K, r1, 128, codes);
}

void tlm_qg_quant_acts(int8_t *q, float *xinv, int32_t *xsum, const float *x, size_t rows, int K)
{
    size_t kp = (size_t)tlm_qg_kpad(K);
    for (size_t i = 0; i < rows; i++) {
        float s;
        tlm_quant_act_codes(q + i * kp, &s, xsum + i, x + i * (size_t)K, (size_t)K, kp);
        xinv[i] = 1.0f / s;
    }
}

/* Portable product of rows [n0, n1). */
static void rows_scalar(float *y, size_t ldy, const int8_t *q, const float *xinv,
                        const int32_t *xsum, size_t n0, size_t n1, const uint8_t *panels,
                        const float *wmul, int off, int O, int K)
{
    int kp = tlm_qg_kpad(K), kg_n = kp / 4;
    for (size_t n = n0; n < n1; n++) {
        const int8_t *qr = q + n * (size_t)kp;
        for (int o = 0; o < O; o++) {
            const uint8_t *pw = panels + (size_t)(o / TLM_QG_NR) * (size_t)kg_n * TLM_QG_NR * 4 +
                                (size_t)(o % TLM_QG_NR) * 4;
            int32_t acc = 0;
            for (int kg = 0; kg < kg_n; kg++, pw += TLM_QG_NR * 4)
                for (int i = 0; i < 4; i++)
                    acc += (int32_t)pw[i] * (int32_t)qr[4 * kg + i];
            acc -= off * xsum[n];
            y[n * ldy + (size_t)o] = (float)acc * xinv[n] * wmul[o];
        }
    }
}

typedef struct qg_job {
    tlm_qg_impl impl;
    float *y;
    size_t ldy, N, chunk;
    const int8_t *q;
    const float *xinv, *wmul;
    const int32_t *xsum;
    const uint8_t *panels;
    int off, O, K;
} qg_job;

static void qg_task(void *ctx, int task, int thread)
{
    (void)thread;
    const qg_job *j = ctx;
    size_t n0 = (size_t)task * j->chunk, n1 = n0 + j->chunk < j->N ? n0 + j->chunk : j->N;
    if (j->impl == TLM_QG_AVX512 &&
        tlm_qg_rows_avx512(j->y, j->ldy, j->q, j->xinv, j->xsum, n0, n1, j->panels, j->wmul,
                           j->off, j->O, j->K))
        return;
    rows_scalar(j->y, j->ldy, j->q, j->xinv, j->xsum, n0, n1, j->panels, j->wmul, j->off, j->O,
                j->K);
}

void tlm_qgemm(tlm_qg_impl impl, float *y, size_t ldy, const int8_t *q, const float *xinv,
               const int32_t *xsum, size_t N, const uint8_t *panels, const float *wmul, int int8,
               int O, int K, tlm_pool *pool)
{
    if (N == 0)
        return;
    int threads = pool ? tlm_pool_threads(pool) : 1;
    /* one piece per thread, in whole micro-tiles of 8 rows */
    size_t chunk = (N + (size_t)threads - 1) / (size_t)threads;
    chunk = (chunk + 7) & ~(size_t)7;
    int tasks = (int)((N + chunk - 1) / chunk);
    qg_job j = {impl, y, ldy, N, chunk, q, xinv, wmul, xsum, panels, int8 ? 128 : 1, O, K};
    if (pool && tasks > 1)
        tlm_pool_run(pool, tasks, qg_task, &j);
    else
        for (int t = 0; t < tasks; t++)
            qg_task(&j, t, 0);
}

const char *tlm_qg_name(tlm_qg_impl impl)
{
    static const char *names[] = {"float", "scalar", "avx512vnni"};
    return (unsigned)impl < 3 ? names[impl] : "?";
}

static int avx512_supported(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

int tlm_qg_select(tlm_qg_impl *out, tlm_err *err)
{
    const char *env = getenv("TLM_TRAIN_KERNEL");
    tlm_qg_impl best = avx512_supported() ? TLM_QG_AVX512 : TLM_QG_FLOAT;
    if (!env || !*env || !strcmp(env, "auto")) {
        *out = best;
        return 0;
    }
    for (int i = 0; i < 3; i++)
        if (!strcmp(env, tlm_qg_name((tlm_qg_impl)i))) {
            if (i == TLM_QG_AVX512 && best != TLM_QG_AVX512)
                return tlm_errf(err, "TLM_TRAIN_KERNEL=%s: this CPU has no AVX-512 VNNI", env);
            *out = (tlm_qg_impl)i;
            return 0;
        }
    return tlm_errf(err, "TLM_TRAIN_KERNEL=%s: unknown (float, scalar, avx512vnni, auto)", env);
}
