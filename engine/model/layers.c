/* layers.c - the model's layers, forward and backward. */
#include "layers.h"
#include <math.h>
#include <string.h>
#include "../core/blas.h"
#include "../core/gemm.h"
#include "../core/vmath.h"

/* Comparisons may be if-converted (vectorized): values are unchanged, only
 * floating-point exception flags could differ, and nothing reads them. */
#pragma GCC optimize("no-trapping-math")

#define LANES 16 /* independent partial sums of the row reductions */

/* Sum of squares of x[0..n) in LANES partial sums added in a fixed order. */
static inline __attribute__((always_inline)) float sumsq_lanes(const float *x, int n)
{
    float acc[LANES] = {0};
    int k = 0;
    for (; k + LANES <= n; k += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] += x[k + j] * x[k + j];
    for (; k < n; k++)
        acc[k % LANES] += x[k] * x[k];
    float s = 0.0f;
    for (int j = 0; j < LANES; j++)
        s += acc[j];
    return s;
}

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

TLM_CLONES static void rms_rows(void *ctx, size_t lo, size_t hi)
{
    const rms_job *j = ctx;
    int d = j->d;
    for (size_t i = lo; i < hi; i++) {
        const float *xi = j->x + i * (size_t)d;
        float *oi = j->out + i * (size_t)d;
        float ss = sumsq_lanes(xi, d);
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

typedef struct rmsb_job {
    float *dx, *dw_part; /* dw_part: one row of d per task */
    const float *dout, *x, *w, *rstd;
    size_t N, chunk;
    int d;
} rmsb_job;

TLM_CLONES static void rmsb_task(void *ctx, int task, int thread)
{
    (void)thread;
    const rmsb_job *j = ctx;
    int d = j->d;
    float *dw = j->dw_part + (size_t)task * (size_t)d;
    memset(dw, 0, sizeof(float) * (size_t)d);
    size_t lo = (size_t)task * j->chunk, hi = lo + j->chunk < j->N ? lo + j->chunk : j->N;
    for (size_t i = lo; i < hi; i++) {
        const float *xi = j->x + i * (size_t)d, *gi = j->dout + i * (size_t)d;
        float *dxi = j->dx + i * (size_t)d;
        float r = j->rstd[i], acc[LANES] = {0};
        for (int k = 0; k < d; k++) {
            float xhat = xi[k] * r;
            dw[k] += gi[k] * xhat;
        }
        int k = 0;
        for (; k + LANES <= d; k += LANES)
            for (int l = 0; l < LANES; l++)
                acc[l] += gi[k + l] * j->w[k + l] * (xi[k + l] * r);
        for (; k < d; k++)
            acc[k % LANES] += gi[k] * j->w[k] * (xi[k] * r);
        float dot = 0.0f;
        for (int l = 0; l < LANES; l++)
            dot += acc[l];
        dot /= (float)d;
        for (int k2 = 0; k2 < d; k2++)
            dxi[k2] += r * (gi[k2] * j->w[k2] - xi[k2] * r * dot);
    }
}

void tlm_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                          const float *rstd, size_t N, int d, tlm_pool *pool, float *scratch)
{
    int tasks = pool ? tlm_pool_threads(pool) : 1;
    tasks = tasks > TLM_RMSB_MAX_TASKS ? TLM_RMSB_MAX_TASKS : tasks;
    size_t chunk = (N + (size_t)tasks - 1) / (size_t)tasks;
    chunk = chunk ? chunk : 1;
    tasks = (int)((N + chunk - 1) / chunk);
    rmsb_job j = {dx, scratch, dout, x, w, rstd, N, chunk, d};
    if (pool && tasks > 1)
        tlm_pool_run(pool, tasks, rmsb_task, &j);
    else
        for (int t = 0; t < tasks; t++)
            rmsb_task(&j, t, 0);
    for (int t = 0; t < tasks; t++) /* partial dw added in task order */
        for (int k = 0; k < d; k++)
            dw[k] += scratch[(size_t)t * (size_t)d + (size_t)k];
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

void tlm_linear_backward(float *dx, int acc_dx, float *dw, int acc_dw, float *dbias, const float *dy,
                         const float *x, const float *w, size_t N, int n_in, int n_out,
                         tlm_pool *pool)
{
    if (dx)
        tlm_gemm(pool, 0, 0, (int)N, n_in, n_out, 1.0f, dy, n_out, w, n_in, acc_dx ? 1.0f : 0.0f,
                 dx, n_in);
    tlm_gemm(pool, 1, 0, n_out, n_in, (int)N, 1.0f, dy, n_out, x, n_in, acc_dw ? 1.0f : 0.0f, dw,
             n_in);
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
TLM_CLONES static void causal_softmax_row(float *p, int t, int T)
{
    float mx = -INFINITY, sum = 0.0f;
    for (int s = 0; s <= t; s++)
        mx = p[s] > mx ? p[s] : mx;
    for (int s = 0; s <= t; s++)
        p[s] = tlm_expf(p[s] - mx);
    for (int s = 0; s <= t; s++)
        sum += p[s];
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

/* Row t of dS = P * (dP - rowsum(P * dP)) * scale in place of dP (s <= t;
 * zero for s > t). */
TLM_CLONES static void softmax_grad_row(float *st, const float *pt, int t, int T, float scale)
{
    float acc[LANES] = {0};
    int s = 0;
    for (; s + LANES <= t + 1; s += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += pt[s + l] * st[s + l];
    for (; s <= t; s++)
        acc[s % LANES] += pt[s] * st[s];
    float dot = 0.0f;
    for (int l = 0; l < LANES; l++)
        dot += acc[l];
    for (s = 0; s <= t; s++)
        st[s] = pt[s] * (st[s] - dot) * scale;
    for (s = t + 1; s < T; s++)
        st[s] = 0.0f;
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
    for (int t = 0; t < T; t++)
        softmax_grad_row(dS + (size_t)t * (size_t)T, P + (size_t)t * (size_t)T, t, T, scale);
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

TLM_CLONES static void swiglu_fwd_range(void *ctx, size_t lo, size_t hi)
{
    const swiglu_job *j = ctx;
    for (size_t i = lo; i < hi; i++) {
        float g = j->gate[i];
        j->out[i] = g * tlm_sigmoidf(g) * j->up[i];
    }
}

void tlm_swiglu_forward(float *out, const float *gate, const float *up, size_t n, tlm_pool *pool)
{
    swiglu_job j = {.out = out, .gate = gate, .up = up};
    tlm_pool_for(pool, n, swiglu_fwd_range, &j);
}

TLM_CLONES static void swiglu_bwd_range(void *ctx, size_t lo, size_t hi)
{
    const swiglu_job *j = ctx;
    for (size_t i = lo; i < hi; i++) {
        float g = j->gate[i], sig = tlm_sigmoidf(g);
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

TLM_CLONES static void add_range(void *ctx, size_t lo, size_t hi)
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

/* Max of l[0..n). */
static inline __attribute__((always_inline)) float max_lanes(const float *l, int n)
{
    float acc[LANES];
    for (int j = 0; j < LANES; j++)
        acc[j] = -INFINITY;
    int c = 0;
    for (; c + LANES <= n; c += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] = l[c + j] > acc[j] ? l[c + j] : acc[j];
    for (; c < n; c++)
        acc[c % LANES] = l[c] > acc[c % LANES] ? l[c] : acc[c % LANES];
    float m = acc[0];
    for (int j = 1; j < LANES; j++)
        m = acc[j] > m ? acc[j] : m;
    return m;
}

/* sum e^(l - mx) and sum l over l[0..n) (each in LANES float partial sums,
 * added in double); e^(l - mx) is stored in e when e is not NULL (e may
 * alias l). */
static inline __attribute__((always_inline)) void exp_sums(float *e, const float *l, int n, float mx, double *sum_e,
                            double *sum_l)
{
    float se[LANES] = {0}, sl[LANES] = {0};
    int c = 0;
    for (; c + LANES <= n; c += LANES)
        for (int j = 0; j < LANES; j++) {
            float v = l[c + j], x = tlm_expf(v - mx);
            sl[j] += v;
            se[j] += x;
            if (e)
                e[c + j] = x;
        }
    for (; c < n; c++) {
        float v = l[c], x = tlm_expf(v - mx);
        sl[c % LANES] += v;
        se[c % LANES] += x;
        if (e)
            e[c] = x;
    }
    double a = 0.0, b = 0.0;
    for (int j = 0; j < LANES; j++) {
        a += se[j];
        b += sl[j];
    }
    *sum_e = a;
    *sum_l = b;
}

TLM_CLONES static void ce_rows(void *ctx, size_t lo, size_t hi)
{
    const ce_job *j = ctx;
    int V = j->V;
    float invN = 1.0f / (float)j->norm_rows, smooth = j->eps / (float)V;
    for (size_t i = lo; i < hi; i++) {
        const float *l = j->logits + i * (size_t)V;
        float *g = j->dlogits ? j->dlogits + i * (size_t)V : NULL;
        float mx = max_lanes(l, V);
        float target = l[j->targets[i]];
        double sum, sum_logits;
        if (g)
            exp_sums(g, l, V, mx, &sum, &sum_logits); /* g may alias l */
        else
            exp_sums(NULL, l, V, mx, &sum, &sum_logits);
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
