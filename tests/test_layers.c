/* test_layers.c - every layer's backward against central finite differences,
 * and the quantizers against hand-computed values. */
#include <math.h>
#include <string.h>
#include "engine/core/rng.h"
#include "engine/core/vmath.h"
#include "engine/model/layers.h"
#include "engine/model/quant.h"
#include "tap.h"

#define MAXN 4096
static tlm_rng rng;

static void randn(float *x, size_t n, float s)
{
    for (size_t i = 0; i < n; i++)
        x[i] = s * tlm_rng_normal(&rng);
}

static double dotd(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* A layer under test: forward writes out from the inputs; loss = <r, out>. */
typedef double (*loss_fn)(void);

/* Compare analytic gradient g of variable v (n entries) with central
 * differences of f; returns the worst relative error over `checks` entries. */
static double fd_check(loss_fn f, float *v, const float *g, size_t n, int checks, float h)
{
    double worst = 0;
    for (int c = 0; c < checks; c++) {
        size_t i = (size_t)tlm_rng_below(&rng, n);
        float save = v[i];
        v[i] = save + h;
        double lp = f();
        v[i] = save - h;
        double lm = f();
        v[i] = save;
        double num = (lp - lm) / (2.0 * (double)h);
        double e = tap_rel(num, g[i], 1e-2);
        worst = e > worst ? e : worst;
    }
    return worst;
}

/* ---- RMSNorm ---- */
static float x[MAXN], w[MAXN], out[MAXN], r[MAXN], rstd[64], dx[MAXN], dw[MAXN];
static int N_, D_;

static double rms_loss(void)
{
    tlm_rmsnorm_forward(out, rstd, x, w, (size_t)N_, D_, NULL);
    return dotd(out, r, (size_t)(N_ * D_));
}

static void test_rmsnorm(void)
{
    N_ = 3, D_ = 16;
    size_t n = (size_t)(N_ * D_);
    randn(x, n, 1), randn(w, (size_t)D_, 1), randn(r, n, 1);
    memset(dx, 0, sizeof dx), memset(dw, 0, sizeof dw);
    rms_loss();
    float scratch[64]; /* >= D_ */
    tlm_rmsnorm_backward(dx, dw, r, x, w, rstd, (size_t)N_, D_, NULL, scratch);
    ok(fd_check(rms_loss, x, dx, n, 30, 1e-2f) < 2e-2, "rmsnorm dx matches finite differences");
    ok(fd_check(rms_loss, w, dw, (size_t)D_, 16, 1e-2f) < 2e-2, "rmsnorm dw matches finite differences");
    /* forward value: x * rsqrt(mean(x^2) + 1e-6) * w */
    double ss = 0;
    for (int j = 0; j < D_; j++)
        ss += (double)x[j] * x[j];
    double want = x[5] / sqrt(ss / D_ + 1e-6) * w[5];
    ok(tap_rel(out[5], want, 1e-6) < 1e-5, "rmsnorm forward value %g vs %g", out[5], want);
}

/* ---- linear ---- */
static float lw[MAXN], lb[64], dlw[MAXN], dlb[64];
static int IN_, OUT_;

static double lin_loss(void)
{
    tlm_linear_forward(out, x, lw, lb, (size_t)N_, IN_, OUT_, NULL);
    return dotd(out, r, (size_t)(N_ * OUT_));
}

static void test_linear(void)
{
    N_ = 5, IN_ = 12, OUT_ = 7;
    randn(x, (size_t)(N_ * IN_), 1), randn(lw, (size_t)(IN_ * OUT_), 1), randn(lb, (size_t)OUT_, 1);
    randn(r, (size_t)(N_ * OUT_), 1);
    memset(dx, 0, sizeof dx), memset(dlw, 0, sizeof dlw), memset(dlb, 0, sizeof dlb);
    lin_loss();
    tlm_linear_backward(dx, 0, dlw, 1, dlb, r, x, lw, (size_t)N_, IN_, OUT_, NULL);
    ok(fd_check(lin_loss, x, dx, (size_t)(N_ * IN_), 30, 1e-2f) < 1e-2, "linear dx");
    ok(fd_check(lin_loss, lw, dlw, (size_t)(IN_ * OUT_), 30, 1e-2f) < 1e-2, "linear dw");
    ok(fd_check(lin_loss, lb, dlb, (size_t)OUT_, 7, 1e-2f) < 1e-2, "linear dbias");
}

/* ---- RoPE + attention ---- */
static float q[MAXN], k[MAXN], v[MAXN], dq[MAXN], dk[MAXN], dv[MAXN];
static float qr[MAXN], kr[MAXN], rc[4096], rs[4096], scratch[2 * 80 * 80];
static int B_, T_, NH_, HD_;

static double attn_loss(void)
{
    size_t n = (size_t)(B_ * T_ * NH_ * HD_);
    memcpy(qr, q, n * sizeof(float));
    memcpy(kr, k, n * sizeof(float));
    tlm_rope_forward(qr, rc, rs, B_, T_, NH_, HD_);
    tlm_rope_forward(kr, rc, rs, B_, T_, NH_, HD_);
    tlm_attention_forward(out, qr, kr, v, B_, T_, NH_, HD_, scratch, NULL);
    return dotd(out, r, n);
}

static void test_attention(void)
{
    B_ = 2, T_ = 5, NH_ = 2, HD_ = 8;
    size_t n = (size_t)(B_ * T_ * NH_ * HD_);
    tlm_rope_tables(rc, rs, 16, HD_);
    randn(q, n, 1), randn(k, n, 1), randn(v, n, 1), randn(r, n, 1);
    attn_loss();
    tlm_attention_backward(dq, dk, dv, r, qr, kr, v, B_, T_, NH_, HD_, scratch, NULL);
    tlm_rope_backward(dq, rc, rs, B_, T_, NH_, HD_);
    tlm_rope_backward(dk, rc, rs, B_, T_, NH_, HD_);
    ok(fd_check(attn_loss, q, dq, n, 40, 1e-2f) < 2e-2, "attention+rope dq");
    ok(fd_check(attn_loss, k, dk, n, 40, 1e-2f) < 2e-2, "attention+rope dk");
    ok(fd_check(attn_loss, v, dv, n, 40, 1e-2f) < 2e-2, "attention dv");
    /* T = 70: the causal products run in blocks of 32 rows (70 = 32 + 32 + 6) */
    int saveT = T_;
    B_ = 1, T_ = 70, NH_ = 2, HD_ = 8;
    size_t n70 = (size_t)(T_ * NH_ * HD_);
    tlm_rope_tables(rc, rs, 80, HD_);
    randn(q, n70, 1), randn(k, n70, 1), randn(v, n70, 1), randn(r, n70, 1);
    attn_loss();
    double worst = 0; /* against a direct evaluation of softmax(q k^T / sqrt(hd)) v */
    for (int h = 0; h < NH_; h++)
        for (int t = 0; t < T_; t++) {
            double pw[80], mx = -1e30, sum = 0;
            for (int u = 0; u <= t; u++) {
                double d = 0;
                for (int i = 0; i < HD_; i++)
                    d += (double)qr[(t * NH_ + h) * HD_ + i] * kr[(u * NH_ + h) * HD_ + i];
                pw[u] = d / sqrt((double)HD_);
                mx = pw[u] > mx ? pw[u] : mx;
            }
            for (int u = 0; u <= t; u++)
                sum += (pw[u] = exp(pw[u] - mx));
            for (int i = 0; i < HD_; i++) {
                double o = 0;
                for (int u = 0; u <= t; u++)
                    o += pw[u] / sum * v[(u * NH_ + h) * HD_ + i];
                double e = fabs(o - out[(t * NH_ + h) * HD_ + i]);
                worst = e > worst ? e : worst;
            }
        }
    ok(worst < 1e-5, "blocked causal attention at T=70 equals the direct formula (max err %.2e)", worst);
    tlm_attention_backward(dq, dk, dv, r, qr, kr, v, B_, T_, NH_, HD_, scratch, NULL);
    tlm_rope_backward(dq, rc, rs, B_, T_, NH_, HD_);
    tlm_rope_backward(dk, rc, rs, B_, T_, NH_, HD_);
    ok(fd_check(attn_loss, q, dq, n70, 40, 1e-2f) < 2e-2 && fd_check(attn_loss, k, dk, n70, 40, 1e-2f) < 2e-2 &&
           fd_check(attn_loss, v, dv, n70, 40, 1e-2f) < 2e-2,
       "blocked causal attention at T=70: dq, dk, dv match finite differences");
    B_ = 2, T_ = saveT, NH_ = 2, HD_ = 8;
    tlm_rope_tables(rc, rs, 16, HD_);
    randn(q, n, 1), randn(k, n, 1), randn(v, n, 1), randn(r, n, 1);

    /* causality: changing the last token's k/v leaves earlier outputs alone */
    attn_loss();
    float first = out[0];
    k[(size_t)(T_ - 1) * NH_ * HD_] += 5.0f;
    v[(size_t)(T_ - 1) * NH_ * HD_] += 5.0f;
    attn_loss();
    ok(out[0] == first, "attention is causal");
    /* RoPE at position 0 is the identity; rotation keeps the norm */
    float a[8], b[8];
    randn(a, 8, 1);
    memcpy(b, a, sizeof a);
    tlm_rope_forward(b, rc, rs, 1, 1, 1, 8);
    ok(memcmp(a, b, sizeof a) == 0, "rope at position 0 is the identity");
    /* NeoX rotate-half at position 3, dim pair (1, 5): angle 3 / 10000^(2/8) */
    float c8[16 * 4], s8[16 * 4], z[4 * 8] = {0};
    tlm_rope_tables(c8, s8, 4, 8);
    z[3 * 8 + 1] = 1.0f;
    tlm_rope_forward(z, c8, s8, 1, 4, 1, 8);
    double ang = 3.0 / pow(10000.0, 2.0 / 8.0);
    ok(fabs(z[3 * 8 + 1] - cos(ang)) < 1e-6 && fabs(z[3 * 8 + 5] - sin(ang)) < 1e-6,
       "rope rotate-half: (%g, %g) vs (%g, %g)", z[25], z[29], cos(ang), sin(ang));
}

/* ---- SwiGLU ---- */
static float gt[MAXN], up[MAXN], dg[MAXN], du[MAXN];

static double swiglu_loss(void)
{
    tlm_swiglu_forward(out, gt, up, 64, NULL);
    return dotd(out, r, 64);
}

static void test_swiglu(void)
{
    randn(gt, 64, 2), randn(up, 64, 1), randn(r, 64, 1);
    swiglu_loss();
    tlm_swiglu_backward(dg, du, r, gt, up, 64, NULL);
    ok(fd_check(swiglu_loss, gt, dg, 64, 30, 1e-2f) < 1e-2, "swiglu dgate");
    ok(fd_check(swiglu_loss, up, du, 64, 30, 1e-2f) < 1e-2, "swiglu dup");
}

/* ---- cross-entropy with label smoothing ---- */
static float logits[MAXN], dlog[MAXN];
static int32_t tg[8] = {3, 0, 9, 4};
static float eps_;

static double ce_loss(void)
{
    return tlm_cross_entropy(NULL, logits, tg, 4, 11, eps_, NULL, NULL, 0, NULL);
}

static void test_ce(void)
{
    randn(logits, 44, 2);
    for (int e = 0; e < 2; e++) {
        eps_ = e ? 0.1f : 0.0f;
        double nll;
        double l = tlm_cross_entropy(dlog, logits, tg, 4, 11, eps_, &nll, NULL, 0, NULL);
        ok(fd_check(ce_loss, logits, dlog, 44, 30, 1e-3f) < 1e-2, "cross-entropy gradient (eps %.1f)",
           eps_);
        /* reference: mean over rows of (1-eps)(-log p_t) + eps * mean_c(-log p_c) */
        double want = 0, want_nll = 0;
        for (int i = 0; i < 4; i++) {
            double m = -1e30, s = 0, mean = 0;
            for (int c = 0; c < 11; c++)
                m = fmax(m, logits[i * 11 + c]);
            for (int c = 0; c < 11; c++)
                s += exp(logits[i * 11 + c] - m);
            for (int c = 0; c < 11; c++)
                mean += -(logits[i * 11 + c] - m - log(s)) / 11.0;
            double n_i = -(logits[i * 11 + tg[i]] - m - log(s));
            want += ((1 - eps_) * n_i + eps_ * mean) / 4;
            want_nll += n_i / 4;
        }
        ok(fabs(l - want) < 1e-6 && fabs(nll - want_nll) < 1e-6, "cross-entropy value %g vs %g", l,
           want);
    }
}

/* ---- quantizers ---- */
static void test_quant(void)
{
    /* g = mean|W| = 0.8125; zeros only where |W| < g/2 */
    float wv[8] = {0.5f, -0.5f, 0.49f, -0.51f, 1.5f, -2.0f, 1.0f, 0.0f}, wq[8];
    uint64_t cnt[3];
    float g = tlm_quant_ternary(wq, wv, 8, cnt);
    double mean = (0.5 + 0.5 + 0.49 + 0.51 + 1.5 + 2.0 + 1.0 + 0.0) / 8;
    ok(fabsf(g - (float)mean) < 1e-7, "ternary scale g = mean|W| (%g)", g);
    float e[8];
    for (int i = 0; i < 8; i++) {
        float t = rintf(wv[i] / g);
        e[i] = (t > 1 ? 1 : t < -1 ? -1 : t) * g;
    }
    ok(memcmp(wq, e, sizeof e) == 0, "ternary values are clamp(round(W/g)) * g");
    ok(cnt[0] == 3 && cnt[1] == 1 && cnt[2] == 4, "ternary counts -1:%llu 0:%llu +1:%llu",
       (unsigned long long)cnt[0], (unsigned long long)cnt[1], (unsigned long long)cnt[2]);
    /* mean|W| = 1 exactly: W/g = +-0.5 rounds to 0 (half to even), 1.5 -> 2 -> clamp 1 */
    float hv[4] = {0.5f, -0.5f, 1.5f, -1.5f}, hq[4];
    g = tlm_quant_ternary(hq, hv, 4, cnt);
    ok(g == 1.0f && hq[0] == 0.0f && hq[1] == 0.0f && hq[2] == 1.0f && hq[3] == -1.0f &&
           cnt[1] == 2, "ternary rounding half to even at the threshold");
    float zero[4] = {0}, zq[4];
    ok(tlm_quant_ternary(zq, zero, 4, NULL) == 1e-5f && zq[0] == 0.0f, "ternary scale floor 1e-5");
    /* round half to even on the activation grid: max 127 -> scale 1 */
    float a[4] = {127.0f, 2.5f, -3.5f, 0.5f}, aq[4];
    tlm_quant_act_int8(aq, a, 1, 4);
    ok(aq[1] == 2.0f && aq[2] == -4.0f && aq[3] == 0.0f, "int8 activations round half to even");
    float b[3] = {1.0f, -0.3f, 0.25f}, bq[3];
    tlm_quant_act_int8(bq, b, 1, 3);
    float s = 127.0f / 1.0f;
    ok(bq[1] == rintf(-0.3f * s) / s && bq[0] == 1.0f, "int8 activations: x_q = round(x*127/max)/(127/max)");
    float wr[6] = {0.1f, -0.2f, 0.4f, 3.0f, 1.5f, -0.75f}, wrq[6];
    tlm_quant_int8_rows(wrq, wr, 2, 3);
    float s1 = 127.0f / 3.0f;
    ok(wrq[0] == rintf(0.1f * 127.0f / 0.4f) / (127.0f / 0.4f) && wrq[4] == rintf(1.5f * s1) / s1,
       "int8 weights per output row");
}

/* Distance in units in the last place between two finite floats of one sign. */
static long ulps(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    return labs((long)ia - (long)ib);
}

/* The vectorizable exponential against libm over its whole normal range. */
static void test_expf(void)
{
    long worst = 0;
    float at = 0.0f;
    for (float e = -87.3f; e < 88.7f; e += 1e-3f + fabsf(e) * 1e-5f) {
        long u = ulps(tlm_expf(e), expf(e));
        if (u > worst) {
            worst = u;
            at = e;
        }
    }
    ok(worst <= 2, "tlm_expf within 2 ulp of expf on [-87.3, 88.7] (worst %ld at %g)", worst, at);
    ok(tlm_expf(-INFINITY) == 0.0f && tlm_expf(-100.0f) == 0.0f, "tlm_expf(-inf) = e^-100 = 0");
    ok(isinf(tlm_expf(INFINITY)) && isinf(tlm_expf(100.0f)), "tlm_expf(+inf) = e^100 = inf");
    ok(isnan(tlm_expf(NAN)) && tlm_expf(0.0f) == 1.0f, "tlm_expf(NaN) is NaN, e^0 = 1");
    ok(fabsf(tlm_sigmoidf(0.0f) - 0.5f) < 1e-7f && tlm_sigmoidf(-200.0f) == 0.0f &&
           tlm_sigmoidf(200.0f) == 1.0f, "sigmoid at 0, -200, 200");
}

int main(void)
{
    tlm_rng_seed(&rng, 42);
    test_rmsnorm();
    test_linear();
    test_attention();
    test_swiglu();
    test_ce();
    test_quant();
    test_expf();
    return tap_done();
}
