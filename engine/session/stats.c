/* stats.c - per-layer statistics for snapshots and `inspect`: the ternary
 * scale g, ternary codes and their flip rate, sparsity at each layer's
 * precision, gradient norms, weight histograms and activation statistics of
 * the last forward. Engine thread only; the per-layer work runs on the
 * trainer's pool. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../model/quant.h"
#include "session_int.h"

/* [rows, cols] of linear j (torch layout [out, in]). */
static void lin_shape(const tlm_config *c, int j, int *rows, int *cols)
{
    *rows = (j == TLM_LIN_GATE || j == TLM_LIN_UP) ? c->hidden : c->dim;
    *cols = j == TLM_LIN_DOWN ? c->hidden : c->dim;
}

/* Latent weights and gradient of a snapshot row. */
static void row_tensors(const tlm_session *s, const tlm_layer_snap *l, const float **w,
                        const float **g)
{
    const tlm_model *m = s->tr->model;
    if (l->linear >= 0) {
        int layer = l->linear / TLM_LIN_PER_BLOCK, j = l->linear % TLM_LIN_PER_BLOCK;
        *w = m->p.blk[layer].lin[j];
        *g = m->g.blk[layer].lin[j];
    } else if (!strcmp(l->name, "emb")) {
        *w = m->p.emb;
        *g = m->g.emb;
    } else {
        *w = m->p.head_w;
        *g = m->g.head_w;
    }
}

static void set_row(tlm_layer_snap *l, const char *name, int linear, int rows, int cols)
{
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", name);
    l->linear = linear;
    l->rows = rows;
    l->cols = cols;
    l->prec = TLM_PREC_FP32;
}

int tlm__stats_init(tlm_session *s, tlm_err *err)
{
    const tlm_config *c = &s->tr->cfg;
    tlm_snapshot *w = &s->work;
    size_t total = 0;
    int n = 0;
    set_row(&w->layer[n++], "emb", -1, c->vocab, c->dim);
    for (int l = 0; l < c->n_layers; l++)
        for (int j = 0; j < TLM_LIN_PER_BLOCK; j++) {
            char name[24];
            int rows, cols, idx = l * TLM_LIN_PER_BLOCK + j;
            tlm_linear_name(l, j, name, sizeof name);
            lin_shape(c, j, &rows, &cols);
            set_row(&w->layer[n++], name, idx, rows, cols);
            w->layer[n - 1].prec = c->prec[idx];
            s->code_off[idx] = total;
            total += (size_t)rows * (size_t)cols;
        }
    set_row(&w->layer[n++], "head", -1, c->vocab, c->dim);
    w->n_rows = n;
    s->codes = tlm_calloc(total ? total : 1, 1, err);
    return s->codes ? 0 : -1;
}

int tlm__stats_find(const tlm_session *s, const char *name)
{
    for (int i = 0; i < s->work.n_rows; i++)
        if (!strcmp(s->work.layer[i].name, name))
            return i;
    return -1;
}

/* ---- weights: g, codes, flips, sparsity ---- */

typedef struct weights_job {
    tlm_session *s;
    int flips;
} weights_job;

/* Ternary code round(w / g) clamped to {-1, 0, 1}, as tlm_quant_ternary;
 * NaN gives 0. */
static int8_t ternary_code(float w, float g)
{
    float r = rintf(w / g);
    return (int8_t)(r >= 1.0f ? 1 : r <= -1.0f ? -1 : 0);
}

/* Zeros of the int8 row quantizer (s = 127 / max|row|, round half to even). */
static uint64_t int8_zeros(const float *w, size_t rows, size_t cols)
{
    uint64_t z = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *x = w + r * cols;
        float m = 0.0f;
        for (size_t i = 0; i < cols; i++)
            m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
        float sc = 127.0f / (m > 1e-5f ? m : 1e-5f);
        for (size_t i = 0; i < cols; i++)
            z += rintf(x[i] * sc) == 0.0f;
    }
    return z;
}

static void linear_weights(tlm_session *s, tlm_layer_snap *l, const float *w, int flips)
{
    int keep = flips == TLM__FLIPS_KEEP;
    size_t n = (size_t)l->rows * (size_t)l->cols;
    int8_t *code = s->codes + s->code_off[l->linear];
    float g = tlm_ternary_scale(w, n);
    uint64_t cnt[3] = {0, 0, 0}, changed = 0;
    for (size_t i = 0; i < n; i++) {
        int8_t t = ternary_code(w[i], g);
        cnt[t + 1]++;
        if (!keep) {
            changed += code[i] != t;
            code[i] = t;
        }
    }
    l->gamma = g;
    memcpy(l->counts, cnt, sizeof cnt);
    if (!keep)
        l->flip_rate = flips == TLM__FLIPS_UPDATE ? (float)((double)changed / (double)n) : 0.0f;
    uint64_t zeros = cnt[1];
    if (l->prec == TLM_PREC_INT8)
        zeros = int8_zeros(w, (size_t)l->rows, (size_t)l->cols);
    else if (l->prec == TLM_PREC_FP32)
        for (size_t i = zeros = 0; i < n; i++)
            zeros += w[i] == 0.0f;
    l->sparsity = (float)((double)zeros / (double)n);
}

static void weights_task(void *ctx, int task, int thread)
{
    weights_job *job = ctx;
    tlm_session *s = job->s;
    tlm_layer_snap *l = &s->work.layer[task];
    const float *w, *g;
    row_tensors(s, l, &w, &g);
    if (l->linear >= 0) {
        l->prec = s->tr->cfg.prec[l->linear];
        linear_weights(s, l, w, job->flips);
        return;
    }
    size_t n = (size_t)l->rows * (size_t)l->cols;
    uint64_t zeros = 0;
    for (size_t i = 0; i < n; i++)
        zeros += w[i] == 0.0f;
    l->gamma = tlm_ternary_scale(w, n);
    l->sparsity = (float)((double)zeros / (double)n);
}

void tlm__stats_weights(tlm_session *s, int flips)
{
    weights_job job = {s, flips};
    tlm_pool_run(s->tr->pool, s->work.n_rows, weights_task, &job);
}

/* ---- gradients ---- */

typedef struct grads_job {
    tlm_session *s;
    double unclip; /* 1 / clipping coefficient */
} grads_job;

static void grads_task(void *ctx, int task, int thread)
{
    grads_job *job = ctx;
    tlm_layer_snap *l = &job->s->work.layer[task];
    const float *w, *g;
    row_tensors(job->s, l, &w, &g);
    size_t n = (size_t)l->rows * (size_t)l->cols;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (double)g[i] * (double)g[i];
    l->grad_norm = (float)(sqrt(ss) * job->unclip);
}

void tlm__stats_grads(tlm_session *s, double gnorm)
{
    (void)gnorm;
    grads_job job = {s, 1.0}; /* the trainer folds clipping into AdamW: g is unclipped */
    tlm_pool_run(s->tr->pool, s->work.n_rows, grads_task, &job);
}

/* ---- inspect ---- */

static void weight_hist(const float *w, size_t n, tlm_inspect *o)
{
    double sum = 0.0, sq = 0.0;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        sum += w[i];
        sq += (double)w[i] * w[i];
        lo = w[i] < lo ? w[i] : lo;
        hi = w[i] > hi ? w[i] : hi;
    }
    double mean = sum / (double)n, var = sq / (double)n - mean * mean;
    o->wmin = lo;
    o->wmax = hi;
    o->wmean = (float)mean;
    o->wstd = (float)sqrt(var > 0 ? var : 0);
    float r = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
    if (!(r > 0.0f))
        r = 1e-6f;
    o->lo = -r;
    o->hi = r;
    for (size_t i = 0; i < n; i++) {
        int b = (int)((w[i] + r) / (2.0f * r) * TLM_HIST_BINS);
        b = b < 0 ? 0 : b >= TLM_HIST_BINS ? TLM_HIST_BINS - 1 : b;
        o->bins[b]++;
    }
}

/* Input of a row's matmul in the last forward, with its width; NULL when
 * there is none (emb, or no forward yet). */
static const float *row_input(const tlm_session *s, const tlm_layer_snap *l, size_t *cols)
{
    tlm_model *m = s->tr->model;
    if (m->B <= 0 || m->T <= 0)
        return NULL;
    *cols = (size_t)l->cols;
    if (l->linear < 0)
        return strcmp(l->name, "head") ? NULL : m->lnf;
    const tlm_block_acts *a = tlm_model_block_acts(m, l->linear / TLM_LIN_PER_BLOCK);
    switch (l->linear % TLM_LIN_PER_BLOCK) {
    case TLM_LIN_O:
        return a->atty;
    case TLM_LIN_GATE:
    case TLM_LIN_UP:
        return a->ln2;
    case TLM_LIN_DOWN:
        return a->act;
    default:
        return a->ln1;
    }
}

static void act_stats(const float *x, size_t rows, size_t cols, tlm_inspect *o)
{
    double sum = 0.0, sq = 0.0;
    float amax = 0.0f;
    uint64_t clipped = 0, zeroed = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *v = x + r * cols;
        float m = 0.0f;
        for (size_t i = 0; i < cols; i++) {
            sum += v[i];
            sq += (double)v[i] * v[i];
            m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
        }
        amax = m > amax ? m : amax;
        float sc = 127.0f / (m > 1e-5f ? m : 1e-5f);
        for (size_t i = 0; i < cols; i++) {
            float q = rintf(v[i] * sc);
            clipped += fabsf(q) >= 127.0f;
            zeroed += q == 0.0f;
        }
    }
    double n = (double)rows * (double)cols, mean = sum / n, var = sq / n - mean * mean;
    o->have_act = 1;
    o->act_rows = rows;
    o->act_cols = cols;
    o->amean = (float)mean;
    o->astd = (float)sqrt(var > 0 ? var : 0);
    o->aabsmax = amax;
    o->clipped = (float)((double)clipped / n);
    o->zeroed = (float)((double)zeroed / n);
}

void tlm__stats_inspect(tlm_session *s, int row, tlm_inspect *out)
{
    memset(out, 0, sizeof *out);
    out->row = row;
    const tlm_layer_snap *l = &s->work.layer[row];
    const float *w, *g;
    row_tensors(s, l, &w, &g);
    weight_hist(w, (size_t)l->rows * (size_t)l->cols, out);
    size_t cols = 0;
    const float *x = row_input(s, l, &cols);
    if (x)
        act_stats(x, (size_t)s->tr->model->B * (size_t)s->tr->model->T, cols, out);
}
