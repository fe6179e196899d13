/* layers.h - forward/backward pairs over plain float arrays (llm.c style).
 * Shapes: N = rows (B*T tokens), d = width. Backward functions ACCUMULATE
 * (+=) into parameter gradients and into input gradients unless noted. */
#ifndef TLM_LAYERS_H
#define TLM_LAYERS_H
#include <stddef.h>
#include <stdint.h>
#include "../core/gemm.h"
#include "../core/pool.h"

/* out[i] = emb[tok[i]] (rows of width d). */
void tlm_embed_forward(float *out, const int32_t *tok, const float *emb, size_t N, int d);
/* demb[tok[i]] += dout[i]. */
void tlm_embed_backward(float *demb, const int32_t *tok, const float *dout, size_t N, int d);

/* RMSNorm: out = x * rstd * w, rstd = 1/sqrt(mean(x^2) + 1e-6). */
void tlm_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, size_t N, int d,
                         tlm_pool *pool);
#define TLM_RMSB_MAX_TASKS 64

/* dx += d(loss)/dx, dw += d(loss)/dw of the RMSNorm above, rows split over
 * pool (may be NULL); scratch holds min(threads, TLM_RMSB_MAX_TASKS) x d
 * floats for the per-piece dw, added in piece order (deterministic for a
 * thread count). */
void tlm_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                          const float *rstd, size_t N, int d, tlm_pool *pool, float *scratch);

/* y[N,O] = x[N,I] W[O,I]^T (+ bias[O] when bias != NULL), through the BLAS
 * split over pool (may be NULL). */
void tlm_linear_forward(float *y, const float *x, const float *w, const float *bias, size_t N,
                        int n_in, int n_out, tlm_pool *pool);
/* dx[N,I] = dy W (accumulate when acc_dx), dw[O,I] = dy^T x (added to dw when
 * acc_dw), dbias += colsum dy. w is the weight used in forward (quantized for
 * STE); x the unquantized input. */
void tlm_linear_backward(float *dx, int acc_dx, float *dw, int acc_dw, float *dbias, const float *dy,
                         const float *x, const float *w, size_t N, int n_in, int n_out,
                         tlm_pool *pool);

/* RoPE tables for positions [0, max_pos): cos/sin [max_pos, hd/2],
 * inv_freq[i] = 1 / 10000^(2i/hd). */
void tlm_rope_tables(float *cos_t, float *sin_t, int max_pos, int hd);
/* In-place NeoX (rotate-half) RoPE on x [B*T, n_heads*hd], position = t. */
void tlm_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int n_heads,
                      int hd);
/* In-place inverse rotation of the gradient. */
void tlm_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int n_heads,
                       int hd);

/* Causal attention. q, k, v, out [B*T, nh*hd]. The probabilities are not
 * kept: scratch holds pool threads x T x T floats for one (batch, head) at a
 * time. Parallel over (b, h) on pool. */
void tlm_attention_forward(float *out, const float *q, const float *k, const float *v, int B,
                           int T, int nh, int hd, float *scratch, tlm_pool *pool);
/* Backward, recomputing the probabilities: dq, dk, dv are OVERWRITTEN.
 * scratch: pool threads x 2 x T x T floats. */
void tlm_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                            const float *k, const float *v, int B, int T, int nh, int hd,
                            float *scratch, tlm_pool *pool);

/* SwiGLU: out = silu(gate) * up, all [N*h]. */
void tlm_swiglu_forward(float *out, const float *gate, const float *up, size_t n, tlm_pool *pool);
/* dgate, dup OVERWRITTEN. */
void tlm_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                         const float *up, size_t n, tlm_pool *pool);

/* Cross-entropy over logits [N, V] with label smoothing eps. Returns the mean
 * smoothed loss; *nll (may be NULL) gets the mean true NLL. When dlogits !=
 * NULL it gets the gradient of (sum of row losses) / norm_rows (0: N), and may
 * alias logits. row_scratch (may be NULL: serial) receives the N row losses
 * then the N row NLLs; rows run in parallel on pool. */
double tlm_cross_entropy(float *dlogits, const float *logits, const int32_t *targets, size_t N,
                         int V, float eps, double *nll, double *row_scratch, size_t norm_rows,
                         tlm_pool *pool);

/* dst[i] += src[i] for i < n, on pool. */
void tlm_add_inplace(float *dst, const float *src, size_t n, tlm_pool *pool);

#endif
