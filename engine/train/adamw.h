/* adamw.h - AdamW exactly as torch.optim.AdamW (decoupled decay applied first),
 * the one-cycle learning-rate schedule of torch's OneCycleLR, and gradient
 * clipping as torch.nn.utils.clip_grad_norm_. */
#ifndef TLM_ADAMW_H
#define TLM_ADAMW_H
#include <stddef.h>
#include <stdint.h>
#include "../core/pool.h"

typedef struct tlm_adamw_hp {
    float lr, beta1, beta2, eps, weight_decay;
} tlm_adamw_hp;

/* One AdamW update of n parameters with gradient g * grad_scale (the clipping
 * coefficient, 1 for none: the same bits as scaling g first); t is the
 * 1-based step number. */
void tlm_adamw_update(float *p, const float *g, float *m, float *v, size_t n, int64_t t,
                      const tlm_adamw_hp *hp, float grad_scale, tlm_pool *pool);

/* The clipping coefficient of tlm_clip_grad for a gradient of this norm:
 * max_norm / (norm + 1e-6) when that is below 1, else 1. */
float tlm_clip_coef(double norm, float max_norm);

/* OneCycleLR (anneal cos, pct_start = warmup, div_factor 25, final_div_factor
 * 1e4) learning rate at 0-based step for a run of `total` steps. */
float tlm_onecycle_lr(float max_lr, float warmup, int64_t step, int64_t total);

/* L2 norm of g (computed in double, in a fixed order; parallel on pool). */
double tlm_grad_norm(const float *g, size_t n, tlm_pool *pool);

/* Scale g so its norm is at most max_norm (torch: coef = max/(norm+1e-6),
 * applied when < 1). Returns the norm before clipping. max_norm <= 0: no clip. */
double tlm_clip_grad(float *g, size_t n, float max_norm, tlm_pool *pool);

#endif
