/* adamw.c - optimizer, schedule, clipping. */
#include "adamw.h"
#include <math.h>
#include "../core/vmath.h"

/* sqrtf of the (non-negative) second moment never sets errno: let the
 * compiler use the vector square root. */
#pragma GCC optimize("no-math-errno")

typedef struct adam_job {
    float *p, *m, *v;
    const float *g;
    size_t n, chunk;
    float lr, b1, b2, eps, decay, step_size, bc2_sqrt, gscale;
} adam_job;

TLM_CLONES static void adam_task(void *ctx, int task, int thread)
{
    const adam_job *j = ctx;
    size_t lo = (size_t)task * j->chunk, hi = lo + j->chunk < j->n ? lo + j->chunk : j->n;
    float *restrict p = j->p, *restrict m = j->m, *restrict v = j->v;
    const float *restrict gr = j->g;
    const float gscale = j->gscale, decay = j->decay, b1 = j->b1, b2 = j->b2, eps = j->eps;
    const float bc2_sqrt = j->bc2_sqrt, step_size = j->step_size;
    for (size_t i = lo; i < hi; i++) {
        float g = gr[i] * gscale;
        float pi = p[i] * decay;
        float mi = m[i] * b1 + g * (1.0f - b1);
        float vi = v[i] * b2 + g * g * (1.0f - b2);
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * (mi / denom);
    }
}

void tlm_adamw_update(float *p, const float *g, float *m, float *v, size_t n, int64_t t,
                      const tlm_adamw_hp *hp, float grad_scale, tlm_pool *pool)
{
    adam_job j = {.p = p, .m = m, .v = v, .g = g, .n = n, .lr = hp->lr, .b1 = hp->beta1,
                  .b2 = hp->beta2, .eps = hp->eps, .gscale = grad_scale};
    j.decay = 1.0f - hp->lr * hp->weight_decay;
    double bc1 = 1.0 - pow((double)hp->beta1, (double)t);
    double bc2 = 1.0 - pow((double)hp->beta2, (double)t);
    j.step_size = (float)((double)hp->lr / bc1);
    j.bc2_sqrt = (float)sqrt(bc2);
    j.chunk = 1 << 16;
    int tasks = (int)((n + j.chunk - 1) / j.chunk);
    tlm_pool_run(pool, tasks, adam_task, &j);
}

float tlm_onecycle_lr(float max_lr, float warmup, int64_t step, int64_t total)
{
    double initial = (double)max_lr / 25.0, min_lr = initial / 1e4;
    double end_up = (double)warmup * (double)total - 1.0, end_down = (double)total - 1.0;
    double s = (double)step, start, end, pct;
    if (s <= end_up) {
        start = initial;
        end = max_lr;
        pct = end_up > 0 ? s / end_up : 1.0;
    } else {
        start = max_lr;
        end = min_lr;
        pct = end_down - end_up > 0 ? (s - end_up) / (end_down - end_up) : 1.0;
    }
    if (pct > 1.0)
        pct = 1.0;
    return (float)(end + (start - end) / 2.0 * (cos(M_PI * pct) + 1.0));
}

typedef struct norm_job {
    float *g;
    size_t n, chunk;
    double *partial;
    float coef;
} norm_job;

TLM_CLONES static void sumsq_task(void *ctx, int task, int thread)
{
    (void)thread;
    norm_job *j = ctx;
    size_t lo = (size_t)task * j->chunk, hi = lo + j->chunk < j->n ? lo + j->chunk : j->n;
    double acc[8] = {0}; /* lane sums, added in a fixed order */
    size_t i = lo;
    for (; i + 8 <= hi; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += (double)j->g[i + k] * (double)j->g[i + k];
    for (; i < hi; i++)
        acc[0] += (double)j->g[i] * (double)j->g[i];
    double s = 0.0;
    for (int k = 0; k < 8; k++)
        s += acc[k];
    j->partial[task] = s;
}

static void scale_task(void *ctx, int task, int thread)
{
    (void)thread;
    norm_job *j = ctx;
    size_t lo = (size_t)task * j->chunk, hi = lo + j->chunk < j->n ? lo + j->chunk : j->n;
    for (size_t i = lo; i < hi; i++)
        j->g[i] *= j->coef;
}

/* Fixed chunking (not thread-dependent) keeps the sum's order deterministic. */
#define NORM_CHUNKS 64

double tlm_grad_norm(const float *g, size_t n, tlm_pool *pool)
{
    double partial[NORM_CHUNKS];
    norm_job j = {(float *)g, n, (n + NORM_CHUNKS - 1) / NORM_CHUNKS, partial, 1.0f};
    if (j.chunk == 0)
        return 0.0;
    int tasks = (int)((n + j.chunk - 1) / j.chunk);
    tlm_pool_run(pool, tasks, sumsq_task, &j);
    double s = 0.0;
    for (int t = 0; t < tasks; t++)
        s += partial[t];
    return sqrt(s);
}

float tlm_clip_coef(double norm, float max_norm)
{
    if (max_norm <= 0.0f)
        return 1.0f;
    float coef = (float)((double)max_norm / (norm + 1e-6));
    return coef < 1.0f ? coef : 1.0f;
}

double tlm_clip_grad(float *g, size_t n, float max_norm, tlm_pool *pool)
{
    double norm = tlm_grad_norm(g, n, pool);
    float coef = tlm_clip_coef(norm, max_norm);
    if (coef < 1.0f) {
        norm_job j = {g, n, (n + NORM_CHUNKS - 1) / NORM_CHUNKS, NULL, coef};
        tlm_pool_run(pool, (int)((n + j.chunk - 1) / j.chunk), scale_task, &j);
    }
    return norm;
}
