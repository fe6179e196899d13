/* gemm.h - fp32 matrix products through the BLAS, split across the engine's
 * thread pool (the BLAS itself runs one thread per call, so there is one pool
 * and no oversubscription), plus a parallel-for over index ranges. */
#ifndef TLM_GEMM_H
#define TLM_GEMM_H
#include <stddef.h>
#include "pool.h"

/* Row-major C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C, op = transpose
 * when ta / tb. Split along M or N into one piece per pool thread; every
 * element is computed by exactly one BLAS call, so results do not depend on
 * the split. pool may be NULL. */
void tlm_gemm(tlm_pool *pool, int ta, int tb, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* fn(ctx, lo, hi) over [0, n) in contiguous chunks, on the pool. */
typedef void (*tlm_range_fn)(void *ctx, size_t lo, size_t hi);
void tlm_pool_for(tlm_pool *pool, size_t n, tlm_range_fn fn, void *ctx);

#endif
