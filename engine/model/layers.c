/* layers.c - the model's layers, forward and backward. */
#include "layers.h"
#include <math.h>
#include <string.h>
#include "../core/blas.h"
#include "../core/gemm.h"

void tlm_embed_forward(float *out, const int32_t *tok, const float *emb, size_t N, int d)
{
    for (size_t i = 0; i < N; i++)
        memcpy(out + i * (size_t)d, emb + (size_t)tok[i] * (size_t)d, sizeof(float) * (size_t)d);
}

void tlm_embed_backward(float *demb, const int32_t *tok, const float *dout, size_t N, int d)
{
    for (size_t i = 0; i < N; i++) {
        float *g = demb + (size_t)tok[i] * (size_t)d;
        const float *s = dout + i * (size_t)d;
        for (int j = 0; j < d; j++)
            g[j] += s[j];
    }
}

typedef struct rms_job {
    float *out, *rstd;
    const float *x, *w;
    int d;
} rms_job;

static void rms_rows(void *ctx, size_t lo, size_t hi)
{
    const rms_job *j = ctx;
    int d = j->d;
    for (size_t i = lo; i < hi; i++) {
        const float *xi = j->x + i * (size_t)d;
        float *oi = j->out + i * (size_t)d;
        float ss = 0.0f;
        for (int k = 0; k < d; k++)
            ss += xi[k] * xi[k];
        float r = 1.0f / sqrtf(ss / (float)d + 1e-6f);
        j->rstd[i] = r;
        for (int k = 0; k < d; k++)
            oi[k] = xi[k] * r * j->w[k];
    }
}

void tlm_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, size_t N, int d,
                         tlm_pool *pool)
{
    rms_job j = {out, rstd, x, w, d};
    tlm_pool_for(pool, N, rms_rows, &j);
}

void tlm_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                          const float *rstd, size_t N, int d)
{
    for (size_t i = 0; i < N; i++) {
        const float *xi = x + i * (size_t)d, *gi = dout + i * (size_t)d;
        float *dxi = dx + i * (size_t)d;
        float r = rstd[i], dot = 0.0f;
        for (int j = 0; j < d; j++) {
            float xhat = xi[j] * r;
            dw[j] += gi[j] * xhat;
            dot += gi[j] * w[j] * xhat;
        }
        dot /= (float)d;
        for (int j = 0; j < d; j++)
            dxi[j] += r * (gi[j] * w[j] - xi[j] * r * dot);
    }
}

void tlm_linear_forward(float *y, const float *x, const float *w, const float *bias, size_t N,
                        int n_in, int n_out, tlm_pool *pool)
{
    if (bias) {
        for (size_t i = 0; i < N; i++)
            memcpy(y + i * (size_t)n_out, bias, sizeof(float) * (size_t)n_out);
    }
    tlm_gemm(pool, 0, 1, (int)N, n_out, n_in, 1.0f, x, n_in, w, n_in, bias ? 1.0f : 0.0f, y, n_out);
}

void tlm_linear_backward(float *dx, int acc_dx, float *dw, float *dbias, const float *dy,
                         const float *x, const float *w, size_t N, int n_in, int n_out,
                         tlm_pool *pool)
{
    if (dx)
        tlm_gemm(pool, 0, 0, (int)N, n_in, n_out, 1.0f, dy, n_out, w, n_in, acc_dx ? 1.0f : 0.0f,
                 dx, n_in);
    tlm_gemm(pool, 1, 0, n_out, n_in, (int)N, 1.0f, dy, n_out, x, n_in, 1.0f, dw, n_in);
    if (dbias)
        for (size_t i = 0; i < N; i++)
            for (int o = 0; o < n_out; o++)
                dbias[o] += dy[i * (size_t)n_out + (size_t)o];
}

void tlm_rope_tables(float *cos_t, float *sin_t, int max_pos, int hd)
{
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
        float inv = 1.0f / powf(10000.0f, (float)(2 * i) / (float)hd);
        for (int p = 0; p < max_pos; p++) {
            float a = (float)p * inv;
            cos_t[(size_t)p * (size_t)half + (size_t)i] = cosf(a);
            sin_t[(size_t)p * (size_t)half + (size_t)i] = sinf(a);
        }
    }
}

static void rope_apply(float *x, const float *cos_t, const float *sin_t, int B, int T, int nh,
                       int hd, float sign)
{
    int half = hd / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *c = cos_t + (size_t)t * (size_t)half, *s = sin_t + (size_t)t * (size_t)half;
            float *row = x + ((size_t)b * (size_t)T + (size_t)t) * (size_t)(nh * hd);
            for (int h = 0; h < nh; h++) {
                float *v = row + h * hd;
                for (int i = 0; i < half; i++) {
                    float x1 = v[i], x2 = v[i + half], sn = sign * s[i];
                    v[i] = x1 * c[i] - x2 * sn;
                    v[i + half] = x2 * c[i] + x1 * sn;
                }
            }
        }
}

void tlm_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int n_heads,
                      int hd)
{
    rope_apply(x, cos_t, sin_t, B, T, n_heads, hd, 1.0f);
}

void tlm_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int n_heads,
                       int hd)
{
    rope_apply(dx, cos_t, sin_t, B, T, n_heads, hd, -1.0f);
}

/* ---- attention: per (batch, head), T x T products through the BLAS ---- */

typedef struct attn_job {
    float *out, *dq, *dk, *dv, *scratch;
    const float *q, *k, *v, *dout;
    int B, T, nh, hd;
} attn_job;

/* Softmax of row t over s <= t in place; zero for s > t. */
static void causal_softmax_row(float *p, int t, int T)
{
    float mx = -INFINITY, sum = 0.0f;
    for (int s = 0; s <= t; s++)
        mx = p[s] > mx ? p[s] : mx;
    for (int s = 0; s <= t; s++) {
        p[s] = expf(p[s] - mx);
        sum += p[s];
    }
    float inv = 1.0f / sum;
    for (int s = 0; s <= t; s++)
        p[s] *= inv;
    for (int s = t + 1; s < T; s++)
        p[s] = 0.0f;
}

/* P = softmax(Q K^T / sqrt(hd)) with the causal mask, for (b, h) at base. */
/* The causal T x T products skip what the mask discards, a block of rows (or
 * columns) at a time: row block [r0, r1) only meets columns [0, r1). */
#define ATT_BLOCK 32

/* S[t][s] = alpha * A_t . B_s for s < the end of t's row block (the rest of
 * the row is left as it was: callers read s <= t only). */
static void causal_nt(int T, int hd, float alpha, const float *A, const float *Bm, int ld,
                      float *S)
{
    for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
        int n = T - r0 < ATT_BLOCK ? T - r0 : ATT_BLOCK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, r0 + n, hd, alpha,
                    A + (size_t)r0 * (size_t)ld, ld, Bm, ld, 0.0f, S + (size_t)r0 * (size_t)T, T);
    }
}

/* Out = P X for lower-triangular P (zeros above the diagonal). */
static void causal_nn(int T, int hd, const float *P, const float *X, int ld, float *Out)
{
    for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
        int n = T - r0 < ATT_BLOCK ? T - r0 : ATT_BLOCK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, r0 + n, 1.0f,
                    P + (size_t)r0 * (size_t)T, T, X, ld, 0.0f, Out + (size_t)r0 * (size_t)ld, ld);
    }
}

/* Out = P^T X for lower-triangular P: rows [c0, c1) of Out take t >= c0. */
static void causal_tn(int T, int hd, const float *P, const float *X, int ld, float *Out)
{
    for (int c0 = 0; c0 < T; c0 += ATT_BLOCK) {
        int n = T - c0 < ATT_BLOCK ? T - c0 : ATT_BLOCK;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, hd, T - c0, 1.0f,
                    P + (size_t)c0 * (size_t)T + (size_t)c0, T, X + (size_t)c0 * (size_t)ld, ld,
                    0.0f, Out + (size_t)c0 * (size_t)ld, ld);
    }
}

static void attn_probs(const attn_job *j, size_t base, float *P)
{
    int T = j->T, C = j->nh * j->hd, hd = j->hd;
    causal_nt(T, hd, 1.0f / sqrtf((float)hd), j->q + base, j->k + base, C, P);
    for (int t = 0; t < T; t++)
        causal_softmax_row(P + (size_t)t * (size_t)T, t, T);
}

static void attn_fwd_task(void *ctx, int task, int thread)
{
    attn_job *j = ctx;
    int b = task / j->nh, h = task % j->nh, T = j->T, C = j->nh * j->hd, hd = j->hd;
    size_t base = (size_t)b * (size_t)T * (size_t)C + (size_t)h * (size_t)hd;
    float *P = j->scratch + (size_t)thread * (size_t)T * (size_t)T;
    attn_probs(j, base, P);
    causal_nn(T, hd, P, j->v + base, C, j->out + base);
}

void tlm_attention_forward(float *out, const float *q, const float *k, const float *v, int B,
                           int T, int nh, int hd, float *scratch, tlm_pool *pool)
{
    attn_job j = {.out = out, .scratch = scratch, .q = q, .k = k, .v = v, .B = B, .T = T,
                  .nh = nh, .hd = hd};
    tlm_pool_run(pool, B * nh, attn_fwd_task, &j);
}

static void attn_bwd_task(void *ctx, int task, int thread)
{
    attn_job *j = ctx;
    int b = task / j->nh, h = task % j->nh, T = j->T, C = j->nh * j->hd, hd = j->hd;
    float scale = 1.0f / sqrtf((float)hd);
    size_t base = (size_t)b * (size_t)T * (size_t)C + (size_t)h * (size_t)hd;
    float *P = j->scratch + (size_t)thread * 2 * (size_t)T * (size_t)T;
    float *dS = P + (size_t)T * (size_t)T;
    attn_probs(j, base, P);
    /* dP = dY V^T; dV = P^T dY */
    causal_nt(T, hd, 1.0f, j->dout + base, j->v + base, C, dS);
    causal_tn(T, hd, P, j->dout + base, C, j->dv + base);
    /* dS = P * (dP - rowsum(P * dP)) * scale */
    for (int t = 0; t < T; t++) {
        const float *pt = P + (size_t)t * (size_t)T;
        float *st = dS + (size_t)t * (size_t)T, acc = 0.0f;
        for (int s = 0; s <= t; s++)
            acc += pt[s] * st[s];
        for (int s = 0; s <= t; s++)
            st[s] = pt[s] * (st[s] - acc) * scale;
        for (int s = t + 1; s < T; s++)
            st[s] = 0.0f;
    }
    /* dQ = dS K; dK = dS^T Q */
    causal_nn(T, hd, dS, j->k + base, C, j->dq + base);
    causal_tn(T, hd, dS, j->q + base, C, j->dk + base);
}

void tlm_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                            const float *k, const float *v, int B, int T, int nh, int hd,
                            float *scratch, tlm_pool *pool)
{
    attn_job j = {.dq = dq, .dk = dk, .dv = dv, .dout = dout, .q = q, .k = k, .v = v,
                  .scratch = scratch, .B = B, .T = T, .nh = nh, .hd = hd};
    tlm_pool_run(pool, B * nh, attn_bwd_task, &j);
}

/* ---- SwiGLU ---- */

typedef struct swiglu_job {
    float *out, *dgate, *dup;
    const float *gate, *up, *dout;
} swiglu_job;

static void swiglu_fwd_range(void *ctx, size_t lo, size_t hi)
{
    const swiglu_job *j = ctx;
    for (size_t i = lo; i < hi; i++) {
        float g = j->gate[i];
        j->out[i] = g / (1.0f + expf(-g)) * j->up[i];
    }
}

void tlm_swiglu_forward(float *out, const float *gate, const float *up, size_t n, tlm_pool *pool)
{
    swiglu_job j = {.out = out, .gate = gate, .up = up};
    tlm_pool_for(pool, n, swiglu_fwd_range, &j);
}

static void swiglu_bwd_range(void *ctx, size_t lo, size_t hi)
{
    const swiglu_job *j = ctx;
    for (size_t i = lo; i < hi; i++) {
        float g = j->gate[i], sig = 1.0f / (1.0f + expf(-g));
        j->dup[i] = j->dout[i] * g * sig;
        j->dgate[i] = j->dout[i] * j->up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}

void tlm_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                         const float *up, size_t n, tlm_pool *pool)
{
    swiglu_job j = {.dgate = dgate, .dup = dup, .gate = gate, .up = up, .dout = dout};
    tlm_pool_for(pool, n, swiglu_bwd_range, &j);
}

typedef struct add_job {
    float *dst;
    const float *src;
} add_job;

static void add_range(void *ctx, size_t lo, size_t hi)
{
    const add_job *j = ctx;
    for (size_t i = lo; i < hi; i++)
        j->dst[i] += j->src[i];
}

void tlm_add_inplace(float *dst, const float *src, size_t n, tlm_pool *pool)
{
    add_job j = {dst, src};
    tlm_pool_for(pool, n, add_range, &j);
}

/* ---- loss ---- */

typedef struct ce_job {
    float *dlogits;
    const float *logits;
    const int32_t *targets;
    double *row_loss, *row_nll; /* indexed by row - base */
    size_t N, base, norm_rows;
    int V;
    float eps;
} ce_job;

static void ce_rows(void *ctx, size_t lo, size_t hi)
{
    const ce_job *j = ctx;
    int V = j->V;
    float invN = 1.0f / (float)j->norm_rows, smooth = j->eps / (float)V;
    for (size_t i = lo; i < hi; i++) {
        const float *l = j->logits + i * (size_t)V;
        float *g = j->dlogits ? j->dlogits + i * (size_t)V : NULL;
        float mx = -INFINITY;
        for (int c = 0; c < V; c++)
            mx = l[c] > mx ? l[c] : mx;
        float target = l[j->targets[i]];
        double sum = 0.0, sum_logits = 0.0;
        for (int c = 0; c < V; c++) {
            float e = expf(l[c] - mx);
            sum_logits += (double)l[c];
            sum += (double)e;
            if (g)
                g[c] = e; /* g may alias l: l[c] is not read again */
        }
        double lse = (double)mx + log(sum);
        double n_i = lse - (double)target;
        j->row_nll[i - j->base] = n_i;
        j->row_loss[i - j->base] = (1.0 - (double)j->eps) * n_i + (double)j->eps * (lse - sum_logits / V);
        if (g) {
            float inv = (float)(1.0 / sum);
            for (int c = 0; c < V; c++)
                g[c] = (g[c] * inv - smooth) * invN;
            g[j->targets[i]] -= (1.0f - j->eps) * invN;
        }
    }
}

double tlm_cross_entropy(float *dlogits, const float *logits, const int32_t *targets, size_t N,
                         int V, float eps, double *nll, double *row_scratch, size_t norm_rows,
                         tlm_pool *pool)
{
    if (norm_rows == 0)
        norm_rows = N;
    double local[2 * 64];
    double *rows = row_scratch;
    if (!rows) {
        /* small problems without scratch run serially, 64 rows at a time */
        double loss = 0.0, nsum = 0.0;
        for (size_t lo = 0; lo < N; lo += 64) {
            size_t hi = lo + 64 < N ? lo + 64 : N;
            ce_job j = {dlogits, logits, targets, local, local + 64, N, lo, norm_rows, V, eps};
            ce_rows(&j, lo, hi);
            for (size_t i = lo; i < hi; i++) {
                loss += local[i - lo];
                nsum += local[64 + i - lo];
            }
        }
        if (nll)
            *nll = nsum / (double)N;
        return loss / (double)N;
    }
    ce_job j = {dlogits, logits, targets, rows, rows + N, N, 0, norm_rows, V, eps};
    tlm_pool_for(pool, N, ce_rows, &j);
    double loss = 0.0, nsum = 0.0;
    for (size_t i = 0; i < N; i++) {
        loss += rows[i];
        nsum += rows[N + i];
    }
    if (nll)
        *nll = nsum / (double)N;
    return loss / (double)N;
}
