/* test_model_grad.c - the whole model's backward against central finite
 * differences (nano preset, fp32 linears so the loss is differentiable), and
 * determinism across thread counts. */
#include <math.h>
#include <string.h>
#include "engine/core/rng.h"
#include "engine/model/model.h"
#include "engine/model/params.h"
#include "tap.h"

#define B 2
#define T 8

static int32_t xs[B * T], ys[B * T];

static double loss_of(tlm_model *m)
{
    double l;
    tlm_model_forward(m, xs, ys, B, T, &l, NULL);
    return l;
}

/* Worst relative error of `checks` random entries of tensor ti. */
static double check_tensor(tlm_model *m, const tlm_tensor_info *ti, const float *grad, tlm_rng *r,
                           int checks)
{
    double worst = 0;
    float h = 1e-2f;
    for (int c = 0; c < checks; c++) {
        size_t i = ti->offset + (size_t)tlm_rng_below(r, ti->numel);
        if (ti->kind == TLM_T_EMB) /* only rows of tokens in the batch matter */
            i = ti->offset + (size_t)xs[tlm_rng_below(r, B * T)] * (size_t)ti->cols +
                (size_t)tlm_rng_below(r, (uint64_t)ti->cols);
        float save = m->p.mem[i];
        m->p.mem[i] = save + h;
        double lp = loss_of(m);
        m->p.mem[i] = save - h;
        double lm = loss_of(m);
        m->p.mem[i] = save;
        double num = (lp - lm) / (2.0 * h);
        double e = tap_rel(num, grad[i], 1e-2);
        worst = e > worst ? e : worst;
    }
    return worst;
}

static int grads_finite(const tlm_model *m)
{
    for (size_t i = 0; i < m->g.count; i++)
        if (!isfinite(m->g.mem[i]))
            return 0;
    return 1;
}

static int make(tlm_model **m, tlm_config *c, tlm_pool *pool, float eps)
{
    tlm_err err;
    if (tlm_config_preset(c, "nano", &err))
        return -1;
    c->vocab = 61;
    c->init_std = 0.3f;
    c->label_smoothing = eps;
    tlm_config_set_precision(c, "all", TLM_PREC_FP32, &err);
    if (tlm_model_create(m, c, B, T, pool, &err)) {
        printf("# %s\n", err.msg);
        return -1;
    }
    tlm_params_init(&(*m)->p, c, 7);
    return 0;
}

/* recompute = 1 keeps only block inputs: same loss and gradients bit for bit,
 * and the recomputed activations equal the stored ones. Mixed precisions so
 * the integer forward runs too. */
static void check_recompute(tlm_pool *pool)
{
    tlm_config c0, c1;
    tlm_model *m0, *m1;
    tlm_err err;
    if (make(&m0, &c0, pool, 0.1f))
        return;
    tlm_config_set_precision(&c0, "all", TLM_PREC_TERNARY, &err);
    tlm_config_set_precision(&c0, "L1.*", TLM_PREC_INT8, &err);
    c1 = c0;
    c1.recompute = 1;
    m0->cfg = c0;
    if (tlm_model_create(&m1, &c1, B, T, pool, &err)) {
        ok(0, "recompute model: %s", err.msg);
        return;
    }
    memcpy(m1->p.mem, m0->p.mem, m0->p.count * sizeof(float));
    double l0 = loss_of(m0), l1 = loss_of(m1);
    const tlm_block_acts *a1 = tlm_model_block_acts(m1, 0);
    size_t nd = (size_t)B * T * (size_t)c0.dim, nh = (size_t)B * T * (size_t)c0.hidden;
    ok(!memcmp(a1->ln2, m0->a[0].ln2, nd * sizeof(float)) &&
           !memcmp(a1->act, m0->a[0].act, nh * sizeof(float)) &&
           !memcmp(a1->q, m0->a[0].q, nd * sizeof(float)),
       "recompute: block 0's recomputed ln2, act and q equal the stored ones");
    tlm_model_backward(m0);
    for (size_t i = 0; i < m1->g.count; i++) /* stale values must all be replaced */
        m1->g.mem[i] = 1e30f;
    tlm_model_backward(m1);
    ok(l0 == l1 && !memcmp(m0->g.mem, m1->g.mem, m0->g.count * sizeof(float)),
       "recompute: identical loss (%.9g) and gradients bit for bit (over stale gradients)", l1);
    ok(m1->recompute_s > 0.0 && m0->recompute_s == 0.0,
       "recompute: time of the recomputations recorded (%.3f ms)", m1->recompute_s * 1e3);
    tlm_model_free(m0);
    tlm_model_free(m1);
}

int main(void)
{
    tlm_rng r;
    tlm_rng_seed(&r, 3);
    for (int i = 0; i < B * T; i++) {
        xs[i] = (int32_t)tlm_rng_below(&r, 61);
        ys[i] = (int32_t)tlm_rng_below(&r, 61);
    }
    tlm_config c;
    tlm_model *m;
    if (!ok(make(&m, &c, NULL, 0.1f) == 0, "nano model created"))
        return tap_done();
    loss_of(m);
    tlm_model_backward(m);
    float *grad = malloc(m->g.count * sizeof(float));
    memcpy(grad, m->g.mem, m->g.count * sizeof(float));
    int nt = tlm_tensor_count(&c);
    tlm_tensor_info *info = calloc((size_t)nt, sizeof *info);
    tlm_tensor_table(&c, info);
    double worst_all = 0;
    for (int t = 0; t < nt; t++) {
        double w = check_tensor(m, &info[t], grad, &r, 6);
        worst_all = w > worst_all ? w : worst_all;
        if (info[t].layer <= 0)
            ok(w < 5e-2, "gradient of %s matches finite differences (worst rel %.2e)", info[t].name, w);
    }
    ok(worst_all < 5e-2, "all %d tensors match finite differences (worst rel %.2e)", nt, worst_all);

    /* a training step's deferred loss (computed in backward with its gradient)
     * equals the forward's, and the gradients are the same bits */
    double lf = loss_of(m);
    tlm_model_backward(m);
    m->defer_loss = 1;
    tlm_model_forward(m, xs, ys, B, T, NULL, NULL);
    int nan_before = isnan(m->loss);
    tlm_model_backward(m);
    m->defer_loss = 0;
    ok(nan_before && m->loss == lf && memcmp(m->g.mem, grad, m->g.count * sizeof(float)) == 0,
       "deferred loss %.9g equals the forward's %.9g, gradients identical", m->loss, lf);

    /* the head's loss and gradient computed 5 rows at a time (chunks that do
     * not divide the batch) agree with one chunk */
    size_t saved_chunk = m->chunk_rows;
    double l0 = loss_of(m);
    m->chunk_rows = 5;
    double lc = loss_of(m);
    tlm_model_backward(m);
    double dn = 0, dd = 0;
    for (size_t i = 0; i < m->g.count; i++) {
        double e = (double)m->g.mem[i] - grad[i];
        dn += e * e;
        dd += (double)grad[i] * grad[i];
    }
    m->chunk_rows = saved_chunk;
    ok(fabs(lc - l0) < 1e-6 * l0 && sqrt(dn / dd) < 1e-6,
       "head in chunks of 5 rows: same loss, gradient relative error %.2e", sqrt(dn / dd));

    /* two compute threads: the same run twice is bit-identical; against one
     * thread only the BLAS blocking differs */
    tlm_pool *pool;
    tlm_err err;
    tlm_model *m2, *m3;
    tlm_pool_create(&pool, 2, &err);
    make(&m2, &c, pool, 0.1f);
    make(&m3, &c, pool, 0.1f);
    double l1 = loss_of(m), l2 = loss_of(m2), l3 = loss_of(m3);
    tlm_model_backward(m);
    tlm_model_backward(m2);
    tlm_model_backward(m3);
    ok(l2 == l3 && memcmp(m3->g.mem, m2->g.mem, m2->g.count * sizeof(float)) == 0,
       "2 threads twice: identical loss (%.9g) and gradients", l2);
    double num = 0, den = 0;
    for (size_t i = 0; i < m->g.count; i++) {
        num += ((double)m->g.mem[i] - m2->g.mem[i]) * ((double)m->g.mem[i] - m2->g.mem[i]);
        den += (double)m->g.mem[i] * m->g.mem[i];
    }
    ok(tap_rel(l1, l2, 1e-9) < 1e-6 && sqrt(num / den) < 1e-5,
       "1 vs 2 threads: loss %.9g vs %.9g, gradient relative error %.2e", l1, l2, sqrt(num / den));
    tlm_model_free(m3);

    /* ternary precision: loss finite, zeros where |W| < g/2 */
    tlm_config_set_precision(&m->cfg, "all", TLM_PREC_TERNARY, &err);
    double lt = loss_of(m);
    tlm_model_backward(m);
    ok(isfinite(lt) && grads_finite(m), "ternary model: finite loss %.4f and gradients", lt);
    tlm_linear_stats *st = &m->lstats[0];
    uint64_t n = st->counts[0] + st->counts[1] + st->counts[2];
    ok(n == (uint64_t)c.dim * c.dim && st->sparsity > 0.2f && st->sparsity < 0.5f,
       "L0.attn.q ternary sparsity %.3f of a Gaussian (expect ~0.31)", st->sparsity);
    check_recompute(pool);
    free(grad);
    free(info);
    tlm_model_free(m);
    tlm_model_free(m2);
    tlm_pool_destroy(pool);
    return tap_done();
}
