/* gemm.c - pool-parallel BLAS products and ranges. */
#include "gemm.h"
#include <cblas.h>

typedef struct gemm_job {
    int ta, tb, M, N, K, lda, ldb, ldc, split_m, chunk;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_job;

static void gemm_task(void *ctx, int task, int thread)
{
    (void)thread;
    const gemm_job *j = ctx;
    int total = j->split_m ? j->M : j->N;
    int lo = task * j->chunk, len = total - lo < j->chunk ? total - lo : j->chunk;
    if (len <= 0)
        return;
    const float *A = j->A, *B = j->B;
    float *C = j->C;
    int M = j->M, N = j->N;
    if (j->split_m) {
        A += j->ta ? (size_t)lo : (size_t)lo * (size_t)j->lda;
        C += (size_t)lo * (size_t)j->ldc;
        M = len;
    } else {
        B += j->tb ? (size_t)lo * (size_t)j->ldb : (size_t)lo;
        C += (size_t)lo;
        N = len;
    }
    cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans,
                M, N, j->K, j->alpha, A, j->lda, B, j->ldb, j->beta, C, j->ldc);
}

void tlm_gemm(tlm_pool *pool, int ta, int tb, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    int threads = tlm_pool_threads(pool);
    gemm_job j = {ta, tb, M, N, K, lda, ldb, ldc, M >= N, 0, alpha, beta, A, B, C};
    int total = j.split_m ? M : N;
    if (threads <= 1 || total < 32) {
        j.chunk = total;
        gemm_task(&j, 0, 0);
        return;
    }
    /* chunks rounded to 16 rows/columns keep the BLAS micro-kernels full */
    j.chunk = ((total + threads - 1) / threads + 15) & ~15;
    tlm_pool_run(pool, (total + j.chunk - 1) / j.chunk, gemm_task, &j);
}

typedef struct range_job {
    tlm_range_fn fn;
    void *ctx;
    size_t n, chunk;
} range_job;

static void range_task(void *ctx, int task, int thread)
{
    (void)thread;
    const range_job *j = ctx;
    size_t lo = (size_t)task * j->chunk, hi = lo + j->chunk < j->n ? lo + j->chunk : j->n;
    if (lo < hi)
        j->fn(j->ctx, lo, hi);
}

void tlm_pool_for(tlm_pool *pool, size_t n, tlm_range_fn fn, void *ctx)
{
    int threads = tlm_pool_threads(pool);
    if (threads <= 1 || n < 2) {
        if (n)
            fn(ctx, 0, n);
        return;
    }
    range_job j = {fn, ctx, n, (n + (size_t)threads - 1) / (size_t)threads};
    tlm_pool_run(pool, threads, range_task, &j);
}
