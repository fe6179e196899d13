/* layers.c - the model's layers, forward and backward. */
#include "layers.h"
#include <math.h>
#include <string.h>
#include "../core/blas.h"

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

void tlm_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, size_t N, int d)
{
    for (size_t i = 0; i < N; i++) {
        const float *xi = x + i * (size_t)d;
        float *oi = out + i * (size_t)d;
        float ss = 0.0f;
        for (int j = 0; j < d; j++)
            ss += xi[j] * xi[j];
        float r = 1.0f / sqrtf(ss / (float)d + 1e-6f);
        rstd[i] = r;
        for (int j = 0; j < d; j++)
            oi[j] = xi[j] * r * w[j];
    }
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
                        int n_in, int n_out)
{
    if (bias) {
        for (size_t i = 0; i < N; i++)
            memcpy(y + i * (size_t)n_out, bias, sizeof(float) * (size_t)n_out);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, n_out, n_in, 1.0f, x, n_in, w, n_in,
                bias ? 1.0f : 0.0f, y, n_out);
}

void tlm_linear_backward(float *dx, int acc_dx, float *dw, float *dbias, const float *dy,
                         const float *x, const float *w, size_t N, int n_in, int n_out)
{
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, n_in, n_out, 1.0f, dy, n_out, w, n_in,
                    acc_dx ? 1.0f : 0.0f, dx, n_in);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, (int)N, 1.0f, dy, n_out, x, n_in, 1.0f,
                dw, n_in);
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

/* ---- attention ---- */

static float dot(const float *a, const float *b, int n)
{
    float s[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += a[i + k] * b[i + k];
    float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++)
        r += a[i] * b[i];
    return r;
}

static void axpy(float *y, float a, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

typedef struct attn_job {
    float *out, *att, *dq, *dk, *dv, *scratch;
    const float *q, *k, *v, *dout, *att_c;
    int B, T, nh, hd;
} attn_job;

static void attn_fwd_task(void *ctx, int task, int thread)
{
    attn_job *j = ctx;
    int b = task / j->nh, h = task % j->nh, T = j->T, C = j->nh * j->hd, hd = j->hd;
    float scale = 1.0f / sqrtf((float)hd);
    size_t base = (size_t)b * (size_t)T * (size_t)C + (size_t)h * (size_t)hd;
    float *P = j->att + (size_t)task * (size_t)T * (size_t)T;
    for (int t = 0; t < T; t++) {
        const float *qt = j->q + base + (size_t)t * (size_t)C;
        float *pt = P + (size_t)t * (size_t)T, mx = -INFINITY;
        for (int s = 0; s <= t; s++) {
            pt[s] = dot(qt, j->k + base + (size_t)s * (size_t)C, hd) * scale;
            mx = pt[s] > mx ? pt[s] : mx;
        }
        float sum = 0.0f;
        for (int s = 0; s <= t; s++) {
            pt[s] = expf(pt[s] - mx);
            sum += pt[s];
        }
        float inv = 1.0f / sum;
        for (int s = 0; s <= t; s++)
            pt[s] *= inv;
        for (int s = t + 1; s < T; s++)
            pt[s] = 0.0f;
        float *ot = j->out + base + (size_t)t * (size_t)C;
        memset(ot, 0, sizeof(float) * (size_t)hd);
        for (int s = 0; s <= t; s++)
            axpy(ot, pt[s], j->v + base + (size_t)s * (size_t)C, hd);
    }
}

void tlm_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                           int B, int T, int nh, int hd, tlm_pool *pool)
{
    attn_job j = {.out = out, .att = att, .q = q, .k = k, .v = v, .B = B, .T = T, .nh = nh, .hd = hd};
    tlm_pool_run(pool, B * nh, attn_fwd_task, &j);
}

static void attn_bwd_task(void *ctx, int task, int thread)
{
    attn_job *j = ctx;
    int b = task / j->nh, h = task % j->nh, T = j->T, C = j->nh * j->hd, hd = j->hd;
    float scale = 1.0f / sqrtf((float)hd);
    size_t base = (size_t)b * (size_t)T * (size_t)C + (size_t)h * (size_t)hd;
    const float *P = j->att_c + (size_t)task * (size_t)T * (size_t)T;
    float *dP = j->scratch + (size_t)thread * (size_t)T;
    for (int t = 0; t < T; t++) {
        memset(j->dq + base + (size_t)t * (size_t)C, 0, sizeof(float) * (size_t)hd);
        memset(j->dk + base + (size_t)t * (size_t)C, 0, sizeof(float) * (size_t)hd);
        memset(j->dv + base + (size_t)t * (size_t)C, 0, sizeof(float) * (size_t)hd);
    }
    for (int t = 0; t < T; t++) {
        const float *pt = P + (size_t)t * (size_t)T;
        const float *dot_t = j->dout + base + (size_t)t * (size_t)C;
        const float *qt = j->q + base + (size_t)t * (size_t)C;
        float *dqt = j->dq + base + (size_t)t * (size_t)C;
        float acc = 0.0f;
        for (int s = 0; s <= t; s++) {
            dP[s] = dot(dot_t, j->v + base + (size_t)s * (size_t)C, hd);
            axpy(j->dv + base + (size_t)s * (size_t)C, pt[s], dot_t, hd);
            acc += pt[s] * dP[s];
        }
        for (int s = 0; s <= t; s++) {
            float ds = pt[s] * (dP[s] - acc) * scale;
            axpy(dqt, ds, j->k + base + (size_t)s * (size_t)C, hd);
            axpy(j->dk + base + (size_t)s * (size_t)C, ds, qt, hd);
        }
    }
}

void tlm_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *att,
                            const float *q, const float *k, const float *v, int B, int T, int nh,
                            int hd, float *scratch, tlm_pool *pool)
{
    attn_job j = {.dq = dq, .dk = dk, .dv = dv, .dout = dout, .att_c = att, .q = q, .k = k,
                  .v = v, .scratch = scratch, .B = B, .T = T, .nh = nh, .hd = hd};
    tlm_pool_run(pool, B * nh, attn_bwd_task, &j);
}

/* ---- SwiGLU ---- */

void tlm_swiglu_forward(float *out, const float *gate, const float *up, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void tlm_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                         const float *up, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], sig = 1.0f / (1.0f + expf(-g));
        float silu = g * sig;
        dup[i] = dout[i] * silu;
        dgate[i] = dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}

/* ---- loss ---- */

double tlm_cross_entropy(float *dlogits, const float *logits, const int32_t *targets, size_t N,
                         int V, float eps, double *nll)
{
    double loss = 0.0, nll_sum = 0.0;
    float invN = 1.0f / (float)N, smooth = eps / (float)V;
    for (size_t i = 0; i < N; i++) {
        const float *l = logits + i * (size_t)V;
        float mx = -INFINITY;
        for (int c = 0; c < V; c++)
            mx = l[c] > mx ? l[c] : mx;
        double sum = 0.0, sum_logits = 0.0;
        for (int c = 0; c < V; c++) {
            sum += exp((double)(l[c] - mx));
            sum_logits += (double)l[c];
        }
        double lse = (double)mx + log(sum);
        double n_i = lse - (double)l[targets[i]];
        double mean_nlp = lse - sum_logits / (double)V; /* mean over classes of -log p */
        nll_sum += n_i;
        loss += (1.0 - (double)eps) * n_i + (double)eps * mean_nlp;
        if (dlogits) {
            float *g = dlogits + i * (size_t)V;
            for (int c = 0; c < V; c++) {
                float p = (float)exp((double)l[c] - lse);
                g[c] = (p - smooth) * invN;
            }
            g[targets[i]] -= (1.0f - eps) * invN;
        }
    }
    if (nll)
        *nll = nll_sum / (double)N;
    return loss / (double)N;
}
