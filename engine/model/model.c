/* model.c - allocation, forward and backward of the whole transformer. */
#include "model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../core/timer.h"
#include "layers.h"
#include "qgemm.h"
#include "quant.h"

/* Run stmt and charge its wall time to phase ph of model m. */
#define TIMED(m, ph, stmt)                                                           \
    do {                                                                             \
        double t0_ = tlm_now();                                                      \
        stmt;                                                                        \
        (m)->phase_s[ph] += tlm_now() - t0_;                                         \
    } while (0)

const char *tlm_phase_name(tlm_phase p)
{
    static const char *names[TLM_PH_COUNT] = {"matmul fwd", "matmul bwd", "attention",
                                              "norms+elementwise", "optimizer", "quantizers"};
    return p < TLM_PH_COUNT ? names[p] : "?";
}

static int lin_in(const tlm_config *c, int j) { return j == TLM_LIN_DOWN ? c->hidden : c->dim; }
static int lin_out(const tlm_config *c, int j)
{
    return (j == TLM_LIN_GATE || j == TLM_LIN_UP) ? c->hidden : c->dim;
}

/* Carve `n` floats from a running cursor. */
static float *carve(float **cur, size_t n)
{
    float *p = *cur;
    *cur += (n + 15) & ~(size_t)15;
    return p;
}

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Rows of the head's logits computed at a time in training (at most 64 MB of
 * logits): each chunk's product adds into the whole head gradient (vocab x
 * dim), so chunks of a few dozen rows would stream it through memory over and
 * over (64-row chunks cost paper B 4 about 3% of a step). */
static size_t head_chunk(size_t N, int vocab)
{
    size_t ch = ((size_t)1 << 24) / (size_t)vocab;
    ch = ch < 64 ? 64 : (ch + 15) & ~(size_t)15;
    return ch < N ? ch : N;
}

static size_t act_floats(const tlm_config *c, size_t B, size_t T, size_t threads)
{
    size_t N = B * T, d = (size_t)c->dim, h = (size_t)c->hidden;
    size_t blk = 8 * round16(N * d) + 2 * round16(N) + 3 * round16(N * h);
    /* with recompute a block keeps its input and norms' scales; one set of
     * the rest is shared (the block being computed) */
    size_t kept = round16(N * d) + 2 * round16(N);
    size_t w = h > d ? h : d;
    size_t tail = 2 * round16(N * d) + round16(N) + round16(head_chunk(N, c->vocab) * (size_t)c->vocab) +
                  round16(N * w) +
                  5 * round16(N * d) + 3 * round16(N * h) + round16(2 * threads * T * T) +
                  round16(4 * N) +
                  2 * round16((size_t)c->max_ctx * d);
    if (c->recompute)
        return kept * (size_t)c->n_layers + blk + tail;
    return blk * (size_t)c->n_layers + tail;
}

static void carve_acts(tlm_model *m)
{
    const tlm_config *c = &m->cfg;
    size_t B = (size_t)m->cap_B, T = (size_t)m->cap_T, N = B * T;
    size_t d = (size_t)c->dim, h = (size_t)c->hidden;
    float *cur = m->act_mem;
    for (int l = 0; l < c->n_layers; l++) {
        tlm_block_acts *a = &m->a[l];
        a->res = carve(&cur, N * d);
        a->rstd1 = carve(&cur, N);
        a->rstd2 = carve(&cur, N);
        if (c->recompute && l > 0) {
            tlm_block_acts *w0 = &m->a[0]; /* the shared set */
            a->ln1 = w0->ln1, a->q = w0->q, a->k = w0->k, a->v = w0->v, a->atty = w0->atty;
            a->mid = w0->mid, a->ln2 = w0->ln2, a->gate = w0->gate, a->up = w0->up;
            a->act = w0->act;
            continue;
        }
        a->ln1 = carve(&cur, N * d);
        a->q = carve(&cur, N * d);
        a->k = carve(&cur, N * d);
        a->v = carve(&cur, N * d);
        a->atty = carve(&cur, N * d);
        a->mid = carve(&cur, N * d);
        a->ln2 = carve(&cur, N * d);
        a->gate = carve(&cur, N * h);
        a->up = carve(&cur, N * h);
        a->act = carve(&cur, N * h);
    }
    m->acts_layer = -1;
    size_t w = h > d ? h : d;
    m->res_out = carve(&cur, N * d);
    m->lnf = carve(&cur, N * d);
    m->rstdf = carve(&cur, N);
    m->chunk_rows = head_chunk(N, c->vocab);
    m->head_buf = carve(&cur, m->chunk_rows * (size_t)c->vocab);
    m->xq = carve(&cur, N * w);
    m->dres = carve(&cur, N * d);
    for (int i = 0; i < 4; i++)
        m->dtmp[i] = carve(&cur, N * d);
    for (int i = 0; i < 3; i++)
        m->dh[i] = carve(&cur, N * h);
    m->att_scratch = carve(&cur, 2 * (size_t)tlm_pool_threads(m->pool) * T * T);
    m->ce_rows = (double *)carve(&cur, 4 * N);
    m->rope_cos = carve(&cur, (size_t)c->max_ctx * d);
    m->rope_sin = carve(&cur, (size_t)c->max_ctx * d);
}

/* Buffers of the integer forward (none when it is not used). */
static int alloc_int_forward(tlm_model *m, tlm_err *err)
{
    tlm_qg_impl impl;
    if (tlm_qg_select(&impl, err))
        return -1;
    const tlm_config *c = &m->cfg;
    int w = c->hidden > c->dim ? c->hidden : c->dim;
    if (w > TLM_QG_MAX_K)
        impl = TLM_QG_FLOAT; /* int32 sums could overflow: the float products */
    m->qg_impl = (int)impl;
    if (impl == TLM_QG_FLOAT)
        return 0;
    size_t N = (size_t)m->cap_B * (size_t)m->cap_T;
    m->qx = tlm_calloc_aligned(N * (size_t)tlm_qg_kpad(w), 1, err);
    m->qxinv = tlm_calloc_aligned(N, sizeof(float), err);
    m->qxsum = tlm_calloc_aligned(N, sizeof(int32_t), err);
    m->qpanels = tlm_calloc_aligned(tlm_qg_panel_bytes(c->hidden, c->dim) >
                                            tlm_qg_panel_bytes(c->dim, c->hidden)
                                        ? tlm_qg_panel_bytes(c->hidden, c->dim)
                                        : tlm_qg_panel_bytes(c->dim, c->hidden),
                                    1, err);
    m->qwmul = tlm_calloc_aligned((size_t)w, sizeof(float), err);
    return m->qx && m->qxinv && m->qxsum && m->qpanels && m->qwmul ? 0 : -1;
}

int tlm_model_create(tlm_model **out, const tlm_config *cfg, int B, int T, tlm_pool *pool,
                     tlm_err *err)
{
    if (tlm_config_validate(cfg, err))
        return -1;
    if (B < 1 || T < 1 || T > cfg->max_ctx)
        return tlm_errf(err, "batch shape %d x %d outside 1..max_ctx=%d", B, T, cfg->max_ctx);
    tlm_model *m = tlm_calloc(1, sizeof *m, err);
    if (!m)
        return -1;
    m->cfg = *cfg;
    m->cap_B = B;
    m->cap_T = T;
    m->pool = pool;
    if (tlm_params_alloc(&m->p, cfg, err) || tlm_params_alloc(&m->g, cfg, err))
        goto fail;
    size_t lin_total = (size_t)cfg->dim * (size_t)(cfg->hidden > cfg->dim ? cfg->hidden : cfg->dim);
    m->wq_mem = tlm_calloc_aligned(lin_total, sizeof(float), err);
    m->row_cap = (size_t)(cfg->hidden > cfg->dim ? cfg->hidden : cfg->dim);
    m->row_scratch = tlm_calloc_aligned((size_t)tlm_pool_threads(pool) * m->row_cap,
                                        sizeof(float), err);
    m->act_mem = tlm_calloc_aligned(act_floats(cfg, (size_t)B, (size_t)T,
                                               (size_t)tlm_pool_threads(pool)),
                                    sizeof(float), err);
    m->targets = tlm_calloc((size_t)B * (size_t)T, sizeof(int32_t), err);
    m->tokens = tlm_calloc((size_t)B * (size_t)T, sizeof(int32_t), err);
    if (!m->wq_mem || !m->row_scratch || !m->act_mem || !m->targets || !m->tokens ||
        alloc_int_forward(m, err))
        goto fail;
    carve_acts(m);
    tlm_rope_tables(m->rope_cos, m->rope_sin, cfg->max_ctx, cfg->dim / cfg->n_heads);
    *out = m;
    return 0;
fail:
    tlm_model_free(m);
    return -1;
}

void tlm_model_free(tlm_model *m)
{
    if (!m)
        return;
    tlm_params_free(&m->p);
    tlm_params_free(&m->g);
    free(m->wq_mem);
    free(m->row_scratch);
    free(m->act_mem);
    free(m->targets);
    free(m->tokens);
    free(m->logits);
    free(m->qx);
    free(m->qxinv);
    free(m->qxsum);
    free(m->qpanels);
    free(m->qwmul);
    free(m);
}

typedef struct quant_job {
    tlm_model *m;
} quant_job;

/* Zeros and positives of the int8-quantized rows of w, a row at a time in
 * the thread's scratch row. */
static void int8_count(const float *w, size_t rows, size_t cols, float *row, uint64_t counts[3])
{
    uint64_t z = 0, pos = 0;
    for (size_t r = 0; r < rows; r++) {
        tlm_quant_int8_rows(row, w + r * cols, 1, cols);
        for (size_t i = 0; i < cols; i++) {
            z += row[i] == 0.0f;
            pos += row[i] > 0.0f;
        }
    }
    counts[0] = rows * cols - z - pos;
    counts[1] = z;
    counts[2] = pos;
}

static void quant_task(void *ctx, int task, int thread)
{
    tlm_model *m = ((quant_job *)ctx)->m;
    const tlm_config *c = &m->cfg;
    int l = task / TLM_LIN_PER_BLOCK, j = task % TLM_LIN_PER_BLOCK;
    size_t rows = (size_t)lin_out(c, j), cols = (size_t)lin_in(c, j), n = rows * cols;
    const float *w = m->p.blk[l].lin[j];
    tlm_linear_stats *st = &m->lstats[task];
    st->gamma = tlm_ternary_scale(w, n);
    switch ((tlm_prec)c->prec[task]) {
    case TLM_PREC_TERNARY:
        tlm_ternary_count(w, n, st->gamma, st->counts);
        break;
    case TLM_PREC_INT8:
        int8_count(w, rows, cols, m->row_scratch + (size_t)thread * m->row_cap, st->counts);
        break;
    default: {
        uint64_t z = 0, pos = 0;
        for (size_t i = 0; i < n; i++) {
            z += w[i] == 0.0f;
            pos += w[i] > 0.0f;
        }
        st->counts[0] = n - z - pos;
        st->counts[1] = z;
        st->counts[2] = pos;
    }
    }
    st->sparsity = (float)((double)st->counts[1] / (double)n);
}

void tlm_model_quantize(tlm_model *m)
{
    quant_job j = {m};
    tlm_pool_run(m->pool, m->cfg.n_layers * TLM_LIN_PER_BLOCK, quant_task, &j);
}

typedef struct actq_job {
    float *xq;
    const float *x;
    size_t cols;
} actq_job;

static void actq_rows(void *ctx, size_t lo, size_t hi)
{
    const actq_job *j = ctx;
    tlm_quant_act_int8(j->xq + lo * j->cols, j->x + lo * j->cols, hi - lo, j->cols);
}

/* Per-token 8-bit fake quantization of x [N, cols] into m->xq, on the pool. */
static void quant_acts(tlm_model *m, const float *x, size_t N, size_t cols)
{
    actq_job j = {m->xq, x, cols};
    tlm_pool_for(m->pool, N, actq_rows, &j);
}

typedef struct effw_job {
    float *wq;
    const float *w;
    size_t cols;
    float g;
    int int8;
} effw_job;

static void effw_rows(void *ctx, size_t lo, size_t hi)
{
    const effw_job *j = ctx;
    size_t off = lo * j->cols;
    if (j->int8)
        tlm_quant_int8_rows(j->wq + off, j->w + off, hi - lo, j->cols);
    else
        tlm_quant_ternary_scaled(j->wq + off, j->w + off, (hi - lo) * j->cols, j->g);
}

/* The effective weights W~ of linear idx (per its precision, with the g of
 * this step's tlm_model_quantize): the latent weights themselves for fp32,
 * else materialized into m->wq_mem (one linear at a time). */
static const float *eff_weight(tlm_model *m, int idx)
{
    const tlm_config *c = &m->cfg;
    int l = idx / TLM_LIN_PER_BLOCK, j = idx % TLM_LIN_PER_BLOCK;
    const float *w = m->p.blk[l].lin[j];
    if (c->prec[idx] == TLM_PREC_FP32)
        return w;
    double t0 = tlm_now();
    effw_job job = {m->wq_mem, w, (size_t)lin_in(c, j), m->lstats[idx].gamma,
                    c->prec[idx] == TLM_PREC_INT8};
    tlm_pool_for(m->pool, (size_t)lin_out(c, j), effw_rows, &job);
    m->phase_s[TLM_PH_QUANT] += tlm_now() - t0;
    return m->wq_mem;
}

typedef struct qacts_job {
    tlm_model *m;
    const float *x;
    int cols;
} qacts_job;

static void qacts_rows(void *ctx, size_t lo, size_t hi)
{
    const qacts_job *j = ctx;
    size_t kp = (size_t)tlm_qg_kpad(j->cols);
    tlm_qg_quant_acts(j->m->qx + lo * kp, j->m->qxinv + lo, j->m->qxsum + lo,
                      j->x + lo * (size_t)j->cols, hi - lo, j->cols);
}

/* Activation codes of x [N, cols] into m->qx (integer forward). */
static void quant_act_codes(tlm_model *m, const float *x, size_t N, int cols)
{
    double t0 = tlm_now();
    qacts_job j = {m, x, cols};
    tlm_pool_for(m->pool, N, qacts_rows, &j);
    m->phase_s[TLM_PH_QUANT] += tlm_now() - t0;
}

typedef struct pack_job {
    tlm_model *m;
    const float *w;
    int O, K, int8;
    float g;
} pack_job;

static void pack_task(void *ctx, int task, int thread)
{
    const pack_job *j = ctx;
    tlm_model *m = j->m;
    int r0 = task * TLM_QG_NR, r1 = r0 + TLM_QG_NR < j->O ? r0 + TLM_QG_NR : j->O;
    int8_t *codes = (int8_t *)(m->row_scratch + (size_t)thread * m->row_cap);
    if (j->int8)
        tlm_qg_pack_int8(m->qpanels, m->qwmul, j->w, j->O, j->K, r0, r1, codes);
    else
        tlm_qg_pack_ternary(m->qpanels, m->qwmul, j->w, j->O, j->K, j->g, r0, r1, codes);
}

/* y = codes(x) codes(W)^T scaled, for linear idx whose activation codes are
 * in m->qx (integer forward of a ternary or int8 linear). */
static void linear_fwd_int(tlm_model *m, int idx, float *y, size_t N)
{
    const tlm_config *c = &m->cfg;
    int j = idx % TLM_LIN_PER_BLOCK, K = lin_in(c, j), O = lin_out(c, j);
    int int8 = c->prec[idx] == TLM_PREC_INT8;
    double t0 = tlm_now();
    pack_job pj = {m, m->p.blk[idx / TLM_LIN_PER_BLOCK].lin[j], O, K, int8, m->lstats[idx].gamma};
    tlm_pool_run(m->pool, (O + TLM_QG_NR - 1) / TLM_QG_NR, pack_task, &pj);
    double t1 = tlm_now();
    m->phase_s[TLM_PH_QUANT] += t1 - t0;
    tlm_qgemm((tlm_qg_impl)m->qg_impl, y, (size_t)O, m->qx, m->qxinv, m->qxsum, N, m->qpanels,
              m->qwmul, int8, O, K, m->pool);
    m->phase_s[TLM_PH_MM_FWD] += tlm_now() - t1;
    m->phase_flop[TLM_PH_MM_FWD] += 2.0 * (double)N * K * O;
}

/* y = x W~^T for linear (l, j), quantizing x per token unless fp32. */
static void linear_fwd(tlm_model *m, int l, int j, float *y, const float *x, size_t N)
{
    const tlm_config *c = &m->cfg;
    int idx = l * TLM_LIN_PER_BLOCK + j, n_in = lin_in(c, j), n_out = lin_out(c, j);
    const float *xin = x;
    if (c->prec[idx] != TLM_PREC_FP32 && m->qg_impl != TLM_QG_FLOAT) {
        quant_act_codes(m, x, N, n_in);
        linear_fwd_int(m, idx, y, N);
        return;
    }
    if (c->prec[idx] != TLM_PREC_FP32) {
        TIMED(m, TLM_PH_QUANT, quant_acts(m, x, N, (size_t)n_in));
        xin = m->xq;
    }
    const float *wq = eff_weight(m, idx);
    TIMED(m, TLM_PH_MM_FWD, tlm_linear_forward(y, xin, wq, NULL, N, n_in, n_out, m->pool));
    m->phase_flop[TLM_PH_MM_FWD] += 2.0 * (double)N * n_in * n_out;
}

/* Linears j0 .. j0+n-1 of block l on the same input x [N, dim] (q, k, v or
 * gate, up): when all are quantized, x is quantized once for all of them. */
static void shared_forward(tlm_model *m, int l, int j0, int n, float **outs, const float *x,
                           size_t N)
{
    const tlm_config *c = &m->cfg;
    int shared = 1, K = lin_in(c, j0);
    for (int j = 0; j < n; j++)
        shared &= c->prec[l * TLM_LIN_PER_BLOCK + j0 + j] != TLM_PREC_FP32;
    if (!shared) {
        for (int j = 0; j < n; j++)
            linear_fwd(m, l, j0 + j, outs[j], x, N);
    } else if (m->qg_impl != TLM_QG_FLOAT) {
        quant_act_codes(m, x, N, K);
        for (int j = 0; j < n; j++)
            linear_fwd_int(m, l * TLM_LIN_PER_BLOCK + j0 + j, outs[j], N);
    } else {
        TIMED(m, TLM_PH_QUANT, quant_acts(m, x, N, (size_t)K));
        for (int j = 0; j < n; j++) {
            int O = lin_out(c, j0 + j);
            const float *wq = eff_weight(m, l * TLM_LIN_PER_BLOCK + j0 + j);
            TIMED(m, TLM_PH_MM_FWD, tlm_linear_forward(outs[j], m->xq, wq, NULL, N, K, O, m->pool));
            m->phase_flop[TLM_PH_MM_FWD] += 2.0 * (double)N * K * O;
        }
    }
}

/* Block l from its input res; with full, also the down projection and the
 * residual into res_next (a recompute for backward stops before them). */
static void block_forward(tlm_model *m, int l, const float *res, float *res_next, int B, int T,
                          int full)
{
    const tlm_config *c = &m->cfg;
    tlm_block_acts *a = &m->a[l];
    size_t N = (size_t)B * (size_t)T, d = (size_t)c->dim, h = (size_t)c->hidden;
    int hd = c->dim / c->n_heads;
    if (a->res != res)
        memcpy(a->res, res, N * d * sizeof(float));
    TIMED(m, TLM_PH_ELEM,
          tlm_rmsnorm_forward(a->ln1, a->rstd1, a->res, m->p.blk[l].norm1, N, c->dim, m->pool));
    float *qkv[3] = {a->q, a->k, a->v}, *gu[2] = {a->gate, a->up};
    shared_forward(m, l, TLM_LIN_Q, 3, qkv, a->ln1, N);
    double ta = tlm_now();
    tlm_rope_forward(a->q, m->rope_cos, m->rope_sin, B, T, c->n_heads, hd);
    tlm_rope_forward(a->k, m->rope_cos, m->rope_sin, B, T, c->n_heads, hd);
    tlm_attention_forward(a->atty, a->q, a->k, a->v, B, T, c->n_heads, hd, m->att_scratch,
                          m->pool);
    m->phase_s[TLM_PH_ATTN] += tlm_now() - ta;
    m->phase_flop[TLM_PH_ATTN] += 4.0 * (double)N * T * c->dim;
    linear_fwd(m, l, TLM_LIN_O, a->mid, a->atty, N);
    double te = tlm_now();
    tlm_add_inplace(a->mid, a->res, N * d, m->pool);
    tlm_rmsnorm_forward(a->ln2, a->rstd2, a->mid, m->p.blk[l].norm2, N, c->dim, m->pool);
    m->phase_s[TLM_PH_ELEM] += tlm_now() - te;
    shared_forward(m, l, TLM_LIN_GATE, 2, gu, a->ln2, N);
    TIMED(m, TLM_PH_ELEM, tlm_swiglu_forward(a->act, a->gate, a->up, N * h, m->pool));
    m->acts_layer = l;
    if (!full)
        return;
    linear_fwd(m, l, TLM_LIN_DOWN, res_next, a->act, N);
    TIMED(m, TLM_PH_ELEM, tlm_add_inplace(res_next, a->mid, N * d, m->pool));
}

const tlm_block_acts *tlm_model_block_acts(tlm_model *m, int l)
{
    if (m->cfg.recompute && m->acts_layer != l && m->B > 0) {
        double t0 = tlm_now();
        block_forward(m, l, m->a[l].res, NULL, m->B, m->T, 0);
        m->recompute_s += tlm_now() - t0;
    }
    return &m->a[l];
}

/* Logits of rows [r0, r0+n) into m->head_buf. */
static void head_chunk_logits(tlm_model *m, size_t r0, size_t n)
{
    const tlm_config *c = &m->cfg;
    TIMED(m, TLM_PH_MM_FWD, tlm_linear_forward(m->head_buf, m->lnf + r0 * (size_t)c->dim,
                                               m->p.head_w, m->p.head_b, n, c->dim, c->vocab,
                                               m->pool));
    m->phase_flop[TLM_PH_MM_FWD] += 2.0 * (double)n * c->dim * c->vocab;
}

/* Loss over the N rows, a chunk of logits at a time; with grad, also the
 * head's backward: dW, db and d(lnf) into m->dtmp[0]. Returns the mean loss
 * and sets *nll; row sums are added in row order (deterministic). */
static double head_loss(tlm_model *m, size_t N, int grad, double *nll)
{
    const tlm_config *c = &m->cfg;
    double *rows = m->ce_rows;
    for (size_t r0 = 0; r0 < N; r0 += m->chunk_rows) {
        size_t n = N - r0 < m->chunk_rows ? N - r0 : m->chunk_rows;
        head_chunk_logits(m, r0, n);
        /* scale the gradient by 1/N of the whole batch, not of the chunk */
        TIMED(m, TLM_PH_ELEM, tlm_cross_entropy(grad ? m->head_buf : NULL, m->head_buf,
                                                m->targets + r0, n, c->vocab, c->label_smoothing,
                                                NULL, rows + 2 * r0, N, m->pool));
        if (!grad)
            continue;
        float *dl = m->head_buf;
        TIMED(m, TLM_PH_MM_BWD,
              tlm_linear_backward(m->dtmp[0] + r0 * (size_t)c->dim, 0, m->g.head_w, r0 > 0,
                                  m->g.head_b, dl,
                                  m->lnf + r0 * (size_t)c->dim, m->p.head_w, n, c->dim, c->vocab,
                                  m->pool));
        m->phase_flop[TLM_PH_MM_BWD] += 4.0 * (double)n * c->dim * c->vocab;
    }
    double loss = 0.0, nsum = 0.0;
    for (size_t r0 = 0; r0 < N; r0 += m->chunk_rows) {
        size_t n = N - r0 < m->chunk_rows ? N - r0 : m->chunk_rows;
        for (size_t i = 0; i < n; i++) {
            loss += rows[2 * r0 + i];
            nsum += rows[2 * r0 + n + i];
        }
    }
    *nll = nsum / (double)N;
    return loss / (double)N;
}

/* Full logits [N, vocab] into m->logits (allocated on first use). */
static void head_logits(tlm_model *m, size_t N)
{
    const tlm_config *c = &m->cfg;
    if (!m->logits) {
        size_t cap = (size_t)m->cap_B * (size_t)m->cap_T;
        m->logits = tlm_calloc_aligned(cap * (size_t)c->vocab, sizeof(float), NULL);
        if (!m->logits)
            abort(); /* out of memory for the logits of an inference call */
    }
    TIMED(m, TLM_PH_MM_FWD, tlm_linear_forward(m->logits, m->lnf, m->p.head_w, m->p.head_b, N,
                                               c->dim, c->vocab, m->pool));
}

const float *tlm_model_forward_hidden(tlm_model *m, const int32_t *x, int B, int T)
{
    const tlm_config *c = &m->cfg;
    size_t N = (size_t)B * (size_t)T;
    m->B = B;
    m->T = T;
    TIMED(m, TLM_PH_QUANT, tlm_model_quantize(m));
    TIMED(m, TLM_PH_ELEM, tlm_embed_forward(m->a[0].res, x, m->p.emb, N, c->dim));
    for (int l = 0; l < c->n_layers; l++) {
        float *next = l + 1 < c->n_layers ? m->a[l + 1].res : m->res_out;
        block_forward(m, l, m->a[l].res, next, B, T, 1);
    }
    TIMED(m, TLM_PH_ELEM,
          tlm_rmsnorm_forward(m->lnf, m->rstdf, m->res_out, m->p.norm, N, c->dim, m->pool));
    memcpy(m->tokens, x, N * sizeof(int32_t)); /* for the embedding backward */
    return m->lnf;
}

void tlm_model_forward(tlm_model *m, const int32_t *x, const int32_t *y, int B, int T, double *loss,
                       double *nll)
{
    size_t N = (size_t)B * (size_t)T;
    tlm_model_forward_hidden(m, x, B, T);
    if (y && m->defer_loss) {
        memcpy(m->targets, y, N * sizeof(int32_t)); /* loss comes with the backward */
        m->loss = m->nll = NAN;
    } else if (y) {
        memcpy(m->targets, y, N * sizeof(int32_t));
        m->loss = head_loss(m, N, 0, &m->nll);
        if (loss)
            *loss = m->loss;
        if (nll)
            *nll = m->nll;
    } else {
        head_logits(m, N);
    }
}

/* dx (+)= dy W~, dW += dy^T x for linear (l, j). */
static void linear_bwd(tlm_model *m, int l, int j, float *dx, int acc, const float *dy,
                       const float *x, size_t N)
{
    const tlm_config *c = &m->cfg;
    int idx = l * TLM_LIN_PER_BLOCK + j;
    const float *wq = eff_weight(m, idx);
    TIMED(m, TLM_PH_MM_BWD,
          tlm_linear_backward(dx, acc, m->g.blk[l].lin[j], 0, NULL, dy, x, wq, N,
                              lin_in(c, j), lin_out(c, j), m->pool));
    m->phase_flop[TLM_PH_MM_BWD] += 4.0 * (double)N * lin_in(c, j) * lin_out(c, j);
}

static void block_backward(tlm_model *m, int l, int B, int T)
{
    const tlm_config *c = &m->cfg;
    tlm_block_acts *a = &m->a[l];
    size_t N = (size_t)B * (size_t)T, h = (size_t)c->hidden;
    int hd = c->dim / c->n_heads;
    float *dact = m->dh[0], *dgate = m->dh[1], *dup_h = m->dh[2];
    float *dln = m->dtmp[0], *dq = m->dtmp[1], *dk = m->dtmp[2], *dv = m->dtmp[3];
    /* dres holds d(block output); it is also d(mid) through the residual */
    linear_bwd(m, l, TLM_LIN_DOWN, dact, 0, m->dres, a->act, N);
    TIMED(m, TLM_PH_ELEM, tlm_swiglu_backward(dgate, dup_h, dact, a->gate, a->up, N * h, m->pool));
    linear_bwd(m, l, TLM_LIN_GATE, dln, 0, dgate, a->ln2, N);
    linear_bwd(m, l, TLM_LIN_UP, dln, 1, dup_h, a->ln2, N);
    TIMED(m, TLM_PH_ELEM, tlm_rmsnorm_backward(m->dres, m->g.blk[l].norm2, dln, a->mid,
                                               m->p.blk[l].norm2, a->rstd2, N, c->dim, m->pool,
                                               m->row_scratch));
    /* dres is now d(mid); attention branch */
    float *datty = m->dtmp[0];
    linear_bwd(m, l, TLM_LIN_O, datty, 0, m->dres, a->atty, N);
    double ta = tlm_now();
    tlm_attention_backward(dq, dk, dv, datty, a->q, a->k, a->v, B, T, c->n_heads, hd,
                           m->att_scratch, m->pool);
    tlm_rope_backward(dq, m->rope_cos, m->rope_sin, B, T, c->n_heads, hd);
    tlm_rope_backward(dk, m->rope_cos, m->rope_sin, B, T, c->n_heads, hd);
    m->phase_s[TLM_PH_ATTN] += tlm_now() - ta;
    m->phase_flop[TLM_PH_ATTN] += 10.0 * (double)N * T * c->dim;
    linear_bwd(m, l, TLM_LIN_Q, dln, 0, dq, a->ln1, N);
    linear_bwd(m, l, TLM_LIN_K, dln, 1, dk, a->ln1, N);
    linear_bwd(m, l, TLM_LIN_V, dln, 1, dv, a->ln1, N);
    TIMED(m, TLM_PH_ELEM, tlm_rmsnorm_backward(m->dres, m->g.blk[l].norm1, dln, a->res,
                                               m->p.blk[l].norm1, a->rstd1, N, c->dim, m->pool,
                                               m->row_scratch));
}

/* Backward from d(lnf) [B*T, d] of the last forward through the final norm,
 * the blocks and the embedding; gradients are added to m->g. dlnf may be
 * m->dtmp[0] (it is read before that buffer is reused). */
static void backward_from_lnf(tlm_model *m, const float *dlnf)
{
    const tlm_config *c = &m->cfg;
    int B = m->B, T = m->T;
    size_t N = (size_t)B * (size_t)T;
    double te = tlm_now();
    memset(m->dres, 0, N * (size_t)c->dim * sizeof(float));
    tlm_rmsnorm_backward(m->dres, m->g.norm, dlnf, m->res_out, m->p.norm, m->rstdf, N, c->dim,
                         m->pool, m->row_scratch);
    m->phase_s[TLM_PH_ELEM] += tlm_now() - te;
    for (int l = c->n_layers - 1; l >= 0; l--) {
        tlm_model_block_acts(m, l); /* recomputed when not kept */
        block_backward(m, l, B, T);
    }
    TIMED(m, TLM_PH_ELEM, tlm_embed_backward(m->g.emb, m->tokens, m->dres, N, c->dim));
}

/* Zero the gradients that backward adds into (embedding, norms, head bias;
 * the whole head with `head`); the linears' are written by their products. */
static void zero_summed_grads(tlm_model *m, int head)
{
    const tlm_config *c = &m->cfg;
    size_t d = (size_t)c->dim, V = (size_t)c->vocab;
    double te = tlm_now();
    memset(m->g.emb, 0, V * d * sizeof(float));
    for (int l = 0; l < c->n_layers; l++) {
        memset(m->g.blk[l].norm1, 0, d * sizeof(float));
        memset(m->g.blk[l].norm2, 0, d * sizeof(float));
    }
    memset(m->g.norm, 0, d * sizeof(float));
    memset(m->g.head_b, 0, V * sizeof(float));
    if (head)
        memset(m->g.head_w, 0, V * d * sizeof(float));
    m->phase_s[TLM_PH_ELEM] += tlm_now() - te;
}

void tlm_model_backward(tlm_model *m)
{
    size_t N = (size_t)m->B * (size_t)m->T;
    zero_summed_grads(m, 0);
    m->loss = head_loss(m, N, 1, &m->nll);
    backward_from_lnf(m, m->dtmp[0]);
}

void tlm_model_backward_hidden(tlm_model *m, const float *dlnf)
{
    zero_summed_grads(m, 1);
    backward_from_lnf(m, dlnf);
}
