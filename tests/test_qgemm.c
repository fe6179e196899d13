/* test_qgemm.c - the integer forward product of training against the
 * fake-quantized float product it replaces, and its implementations
 * against each other (bit for bit). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/core/gemm.h"
#include "engine/core/rng.h"
#include "engine/model/qgemm.h"
#include "engine/model/quant.h"
#include "tap.h"

typedef struct shape {
    size_t N;
    int O, K;
} shape;

/* ||a - b|| / ||b||. */
static double norm_rel(const float *a, const float *b, size_t n)
{
    double d = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        s += (double)b[i] * b[i];
    }
    return sqrt(d / (s > 0 ? s : 1e-300));
}

/* Worst |a - b| / max(|b|, 1e-3 * max|b|) over elements. */
static double elem_rel(const float *a, const float *b, size_t n)
{
    double big = 0.0, worst = 0.0;
    for (size_t i = 0; i < n; i++)
        big = fabs(b[i]) > big ? fabs(b[i]) : big;
    for (size_t i = 0; i < n; i++) {
        double den = fabs(b[i]) > 1e-3 * big ? fabs(b[i]) : 1e-3 * big;
        double r = fabs((double)a[i] - b[i]) / den;
        worst = r > worst ? r : worst;
    }
    return worst;
}

/* Per-row absmax scale s = 127 / max(max|v|, 1e-5), as training computes it. */
static float row_scale(const float *v, int n)
{
    float m = 0.0f;
    for (int i = 0; i < n; i++)
        m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
    return 127.0f / (m > 1e-5f ? m : 1e-5f);
}

/* y = Q(x) Q(W)^T through the float fake quantizers and sgemm; exact gets the
 * integer codes' products summed exactly, times 1/s_x and the weight scale,
 * in double. */
static void float_path(float *y, float *exact, const float *x, const float *w, size_t N, int O,
                       int K, int int8)
{
    float *xq = malloc(N * (size_t)K * sizeof *xq), *wq = malloc((size_t)O * K * sizeof *wq);
    tlm_quant_act_int8(xq, x, N, (size_t)K);
    float g = 0.0f;
    if (int8)
        tlm_quant_int8_rows(wq, w, (size_t)O, (size_t)K);
    else
        g = tlm_quant_ternary(wq, w, (size_t)O * (size_t)K, NULL);
    tlm_gemm(NULL, 0, 1, (int)N, O, K, 1.0f, xq, K, wq, K, 0.0f, y, O);
    for (size_t n = 0; n < N; n++) {
        const float *xr = x + n * (size_t)K;
        float sx = row_scale(xr, K);
        for (int o = 0; o < O; o++) {
            const float *wr = w + (size_t)o * (size_t)K;
            float sw = int8 ? row_scale(wr, K) : 1.0f / g;
            double acc = 0.0;
            for (int k = 0; k < K; k++) {
                double t = int8 ? rintf(wr[k] * sw) : rintf(wq[(size_t)o * K + k] / g);
                acc += rintf(xr[k] * sx) * t;
            }
            exact[n * (size_t)O + (size_t)o] =
                (float)(acc * (double)(1.0f / sx) * (double)(int8 ? 1.0f / sw : g));
        }
    }
    free(xq);
    free(wq);
}

typedef struct packed {
    int8_t *q;
    float *xinv, *wmul;
    int32_t *xsum;
    uint8_t *panels;
} packed;

static void pack_all(packed *pk, const float *x, const float *w, size_t N, int O, int K, int int8)
{
    size_t kp = (size_t)tlm_qg_kpad(K);
    pk->q = malloc(N * kp);
    pk->xinv = malloc(N * sizeof(float));
    pk->xsum = malloc(N * sizeof(int32_t));
    pk->wmul = malloc((size_t)O * sizeof(float));
    pk->panels = malloc(tlm_qg_panel_bytes(O, K));
    int8_t *codes = malloc((size_t)tlm_qg_kpad(K));
    tlm_qg_quant_acts(pk->q, pk->xinv, pk->xsum, x, N, K);
    /* pack in two row ranges, as the pool does */
    int mid = O > TLM_QG_NR ? TLM_QG_NR : O;
    if (int8) {
        tlm_qg_pack_int8(pk->panels, pk->wmul, w, O, K, 0, mid, codes);
        tlm_qg_pack_int8(pk->panels, pk->wmul, w, O, K, mid, O, codes);
    } else {
        float g = tlm_ternary_scale(w, (size_t)O * (size_t)K);
        tlm_qg_pack_ternary(pk->panels, pk->wmul, w, O, K, g, 0, mid, codes);
        tlm_qg_pack_ternary(pk->panels, pk->wmul, w, O, K, g, mid, O, codes);
    }
    free(codes);
}

static void unpack_free(packed *pk)
{
    free(pk->q);
    free(pk->xinv);
    free(pk->xsum);
    free(pk->wmul);
    free(pk->panels);
}

static void check_shape(shape s, int int8, tlm_pool *pool)
{
    tlm_rng rng;
    tlm_rng_seed(&rng, (uint64_t)(s.N * 131 + (size_t)s.O * 7 + (size_t)s.K + (size_t)int8));
    size_t nx = s.N * (size_t)s.K, nw = (size_t)s.O * (size_t)s.K, ny = s.N * (size_t)s.O;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w);
    for (size_t i = 0; i < nx; i++)
        x[i] = tlm_rng_normal(&rng);
    for (size_t i = 0; i < nw; i++)
        w[i] = 0.02f * tlm_rng_normal(&rng);
    float *yf = malloc(ny * sizeof *yf), *ys = malloc(ny * sizeof *ys), *yv = malloc(ny * sizeof *yv);
    float *ye = malloc(ny * sizeof *ye);
    float_path(yf, ye, x, w, s.N, s.O, s.K, int8);
    packed pk;
    pack_all(&pk, x, w, s.N, s.O, s.K, int8);
    tlm_qgemm(TLM_QG_SCALAR, ys, (size_t)s.O, pk.q, pk.xinv, pk.xsum, s.N, pk.panels, pk.wmul, int8,
              s.O, s.K, pool);
    const char *kind = int8 ? "int8" : "ternary";
    double nr = norm_rel(ys, yf, ny), er = elem_rel(ys, ye, ny), ef = elem_rel(yf, ye, ny);
    ok(nr < 1e-6, "%s %zux%dx%d: integer vs fake-quantized float (sgemm) product, norm rel %.2e < 1e-6",
       kind, s.N, s.O, s.K, nr);
    ok(er < 1e-6, "%s %zux%dx%d: integer vs exact products of the codes, worst element rel "
       "%.2e < 1e-6 (sgemm vs those: %.2e)", kind, s.N, s.O, s.K, er, ef);
    tlm_qg_impl best;
    if (tlm_qg_select(&best, NULL) == 0 && best == TLM_QG_AVX512) {
        memset(yv, 0xff, ny * sizeof *yv);
        tlm_qgemm(TLM_QG_AVX512, yv, (size_t)s.O, pk.q, pk.xinv, pk.xsum, s.N, pk.panels, pk.wmul,
                  int8, s.O, s.K, pool);
        ok(!memcmp(yv, ys, ny * sizeof *yv), "%s %zux%dx%d: AVX-512 VNNI == scalar bit for bit",
           kind, s.N, s.O, s.K);
    } else {
        ok(1, "# SKIP %s %zux%dx%d: no AVX-512 VNNI here", kind, s.N, s.O, s.K);
    }
    unpack_free(&pk);
    free(x);
    free(w);
    free(yf);
    free(ye);
    free(ys);
    free(yv);
}

/* A hand-made case: every value known. */
static void check_hand(void)
{
    float x[2 * 5] = {1, -2, 0.5f, 4, 0, 0, 0, 0, 0, 0};
    float w[3 * 5] = {1, 1, 1, 1, 1, -1, 0, 1, 0, -1, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f};
    packed pk;
    pack_all(&pk, x, w, 2, 3, 5, 0);
    float y[6];
    tlm_qgemm(TLM_QG_SCALAR, y, 3, pk.q, pk.xinv, pk.xsum, 2, pk.panels, pk.wmul, 0, 3, 5, NULL);
    /* g = mean|W| = 8.5/15; codes row0 = 1 1 1 1 1, row1 = -1 0 1 0 -1,
     * row2 = 0 (0.1/g < 0.5); x codes: s = 127/4: 32 -64 16 127 0 (31.75 -> 32,
     * -63.5 -> -64 even, 15.875 -> 16) */
    float xinv = 4.0f / 127.0f, g = 8.5f / 15.0f;
    float e0 = (32 - 64 + 16 + 127) * xinv * g, e1 = (-32 + 16) * xinv * g;
    ok(pk.xsum[0] == 111 && pk.xsum[1] == 0, "hand case: activation code sums 111 and 0 (got %d %d)",
       pk.xsum[0], pk.xsum[1]);
    ok(fabsf(y[0] - e0) < 1e-6f && fabsf(y[1] - e1) < 1e-6f && y[2] == 0.0f,
       "hand case: row 0 = %.6f %.6f %.6f (expect %.6f %.6f 0)", y[0], y[1], y[2], e0, e1);
    ok(y[3] == 0.0f && y[4] == 0.0f && y[5] == 0.0f, "hand case: an all-zero row gives zeros");
    unpack_free(&pk);
}

int main(void)
{
    tlm_pool *pool = NULL;
    tlm_pool_create(&pool, 2, NULL);
    check_hand();
    shape shapes[] = {{1, 1, 1}, {13, 45, 70}, {8, 32, 64}, {37, 96, 129}, {256, 192, 256},
                      {64, 683, 256}, {64, 256, 683}, {9, 33, 2051}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int int8 = 0; int8 < 2; int8++)
            check_shape(shapes[i], int8, pool);
    tlm_err err;
    setenv("TLM_TRAIN_KERNEL", "bogus", 1);
    tlm_qg_impl impl;
    ok(tlm_qg_select(&impl, &err) != 0 && strstr(err.msg, "TLM_TRAIN_KERNEL=bogus"),
       "an unknown TLM_TRAIN_KERNEL is an error naming it: %s", err.msg);
    setenv("TLM_TRAIN_KERNEL", "scalar", 1);
    ok(tlm_qg_select(&impl, &err) == 0 && impl == TLM_QG_SCALAR, "TLM_TRAIN_KERNEL=scalar selects it");
    tlm_pool_destroy(pool);
    return tap_done();
}
