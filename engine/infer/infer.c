/* infer.c - the packed model at run time: creation, kernels and threads, the
 * forward pass over a chunk of tokens with the KV cache, and the head. The
 * fp32 parts (norms, RoPE, attention, SwiGLU, fp32 linears) use the training
 * layers or the same arithmetic, so only the integer linears differ from the
 * fake-quantized training forward, by float rounding. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../core/blas.h"
#include "../io/modelfile.h"
#include "../model/layers.h"
#include "infer_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#define CHUNK 64 /* tokens per forward batch (prompts are split into chunks) */
#define TLM_PAR_MIN_MACS 8e6 /* below this a product runs on the calling thread */

/* ---- creation ---- */

static size_t max3(size_t a, size_t b, size_t c)
{
    size_t m = a > b ? a : b;
    return m > c ? m : c;
}

/* A pool of `threads` (0: all cores) and its attention scratch, replacing
 * the old ones only when both could be made. */
static int make_pool(tlm_infer *inf, int threads, tlm_err *err)
{
    if (threads <= 0)
        threads = tlm_cpu_count();
    tlm_pool *p;
    float *s = tlm_calloc_aligned((size_t)threads * (size_t)inf->cfg.max_ctx, sizeof(float), err);
    if (!s)
        return -1;
    if (tlm_pool_create(&p, threads, err)) {
        free(s);
        return -1;
    }
    tlm_pool_destroy(inf->pool);
    free(inf->scores);
    inf->pool = p;
    inf->scores = s;
    return 0;
}

static int alloc_state(tlm_infer *inf, tlm_err *err)
{
    const tlm_config *c = &inf->cfg;
    size_t d = (size_t)c->dim, h = (size_t)c->hidden, T = (size_t)c->max_ctx, L = (size_t)c->n_layers;
    size_t ch = (size_t)(c->max_ctx < CHUNK ? c->max_ctx : CHUNK), half = d / (size_t)c->n_heads / 2;
    inf->chunk = (int)ch;
    size_t kv = L * T * d;
    size_t pad = tlm_kpad(h > d ? h : d);
    float **f[] = {&inf->x, &inf->xn, &inf->q, &inf->k, &inf->v, &inf->att};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!(*f[i] = tlm_calloc_aligned(ch * d, sizeof(float), err)))
            return -1;
    if (!(inf->h1 = tlm_calloc_aligned(ch * h, sizeof(float), err)) ||
        !(inf->h2 = tlm_calloc_aligned(ch * h, sizeof(float), err)) ||
        !(inf->lnf = tlm_calloc_aligned(ch * d + ch, sizeof(float), err)) ||
        !(inf->kc = tlm_calloc(kv, sizeof(float), err)) || /* lazily zeroed pages: */
        !(inf->vc = tlm_calloc(kv, sizeof(float), err)) ||  /* touched as positions fill */
        !(inf->rope_cos = tlm_calloc_aligned(T * half, sizeof(float), err)) ||
        !(inf->rope_sin = tlm_calloc_aligned(T * half, sizeof(float), err)) ||
        !(inf->aq = tlm_calloc_aligned(ch * pad, 1, err)) ||
        !(inf->as = tlm_calloc(ch, sizeof(float), err)) ||
        !(inf->asum = tlm_calloc(ch, sizeof(int32_t), err)) ||
        !(inf->acc = tlm_calloc_aligned(max3(ch * d, ch * h, (size_t)c->vocab), sizeof(int32_t), err)))
        return -1;
    tlm_rope_tables(inf->rope_cos, inf->rope_sin, c->max_ctx, c->dim / c->n_heads);
    return 0;
}

int tlm_infer_setup(tlm_infer *inf, tlm_err *err)
{
    tlm_blas_set_threads(1); /* one pool: the BLAS runs inside our threads */
    if (tlm_kernels_select(NULL, &inf->kern, err))
        return -1;
    if (!inf->pool && make_pool(inf, 0, err))
        return -1;
    return alloc_state(inf, err);
}

static tlm_infer *infer_new(tlm_err *err)
{
    return tlm_calloc(1, sizeof(tlm_infer), err);
}

int tlm_infer_from_params_ex(tlm_infer **out, const tlm_config *cfg, const float *params,
                             int fp32, const tlm_pack_opts *po, tlm_err *err)
{
    tlm_config c = *cfg;
    if (fp32) {
        for (int i = 0; i < TLM_MAX_LINEARS; i++)
            c.prec[i] = TLM_PREC_FP32;
        po = NULL;
    }
    if (tlm_config_validate(&c, err))
        return -1;
    tlm_infer *inf = infer_new(err);
    if (!inf)
        return -1;
    inf->cfg = c;
    if (make_pool(inf, 0, err) ||
        tlm_pack_build(&c, params, po, inf->pool, &inf->image, &inf->image_size, err) ||
        tlm_pack_bind(inf, inf->image, inf->image_size, 0, "(in memory)", err) ||
        tlm_infer_setup(inf, err)) {
        tlm_infer_free(inf);
        return -1;
    }
    *out = inf;
    return 0;
}

int tlm_infer_from_params(tlm_infer **out, const tlm_config *cfg, const float *params, int fp32,
                          tlm_err *err)
{
    return tlm_infer_from_params_ex(out, cfg, params, fp32, NULL, err);
}

/* Map path read-only; *size gets its length. */
static int map_file(const char *path, uint8_t **img, size_t *size, tlm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tlm_errf(err, "model %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        close(fd);
        return tlm_errf(err, "model %s: not a regular non-empty file", path);
    }
    *size = (size_t)st.st_size;
    void *p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return tlm_errf(err, "model %s: mmap failed: %s", path, strerror(errno));
    *img = p;
    return 0;
}

static int open_packed(tlm_infer **out, const char *path, int fp32, tlm_err *err)
{
    tlm_infer *inf = infer_new(err);
    if (!inf)
        return -1;
    if (map_file(path, &inf->image, &inf->image_size, err)) {
        free(inf);
        return -1;
    }
    inf->mapped = 1;
    if (tlm_pack_bind(inf, inf->image, inf->image_size, 1, path, err)) {
        tlm_infer_free(inf);
        return -1;
    }
    if (fp32 && !inf->fp32) { /* expand the packed weights and run them unquantized */
        float *params;
        tlm_infer *f;
        int rc = tlm_pack_unpack(inf, &params, err);
        if (rc == 0)
            rc = tlm_infer_from_params(&f, &inf->cfg, params, 1, err);
        if (rc == 0)
            free(params);
        tlm_infer_free(inf);
        if (rc)
            return tlm_err_prefix(err, "model %s: ", path);
        *out = f;
        return 0;
    }
    if (tlm_infer_setup(inf, err)) {
        tlm_infer_free(inf);
        return -1;
    }
    *out = inf;
    return 0;
}

int tlm_infer_open(tlm_infer **out, const char *path, int fp32, tlm_err *err)
{
    if (access(path, R_OK) != 0)
        return tlm_errf(err, "model %s: %s", path, strerror(errno));
    if (tlm_infer_sniff(path))
        return open_packed(out, path, fp32, err);
    tlm_config cfg;
    float *params = NULL;
    if (tlm_modelfile_load(path, NULL, &cfg, &params, err)) {
        if (strstr(err->msg, "neither"))
            return tlm_errf(err, "model %s: not a packed model, a tlm checkpoint or a safetensors "
                            "file", path);
        return -1;
    }
    int rc = tlm_infer_from_params(out, &cfg, params, fp32, err);
    free(params);
    return rc ? tlm_err_prefix(err, "model %s: ", path) : 0;
}

void tlm_infer_free(tlm_infer *inf)
{
    if (!inf)
        return;
    if (inf->mapped && inf->image)
        munmap(inf->image, inf->image_size);
    else
        free(inf->image);
    tlm_pool_destroy(inf->pool);
    free(inf->wsum_mem);
    void *bufs[] = {inf->kc, inf->vc, inf->rope_cos, inf->rope_sin, inf->x, inf->xn, inf->q,
                    inf->k, inf->v, inf->att, inf->h1, inf->h2, inf->lnf, inf->scores, inf->aq,
                    inf->as, inf->asum, inf->acc};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(inf);
}

const tlm_config *tlm_infer_config(const tlm_infer *inf)
{
    return &inf->cfg;
}

int tlm_infer_set_kernels(tlm_infer *inf, const char *name, tlm_err *err)
{
    const tlm_kernels *k;
    if (tlm_kernels_select(name, &k, err))
        return -1;
    inf->kern = k;
    return 0;
}

const char *tlm_infer_kernels(const tlm_infer *inf)
{
    return inf->kern->name;
}

int tlm_infer_set_threads(tlm_infer *inf, int threads, tlm_err *err)
{
    if (threads < 0 || threads > 1024)
        return tlm_errf(err, "threads: %d is not in [0, 1024]", threads);
    return make_pool(inf, threads, err);
}

static size_t mat_bytes(const tlm_qmat *m)
{
    size_t r = (size_t)m->rows;
    switch (m->fmt) {
    case TLM_WF_TERN2:
        return r * m->stride + sizeof(float);
    case TLM_WF_INT8:
        return r * m->stride + r * sizeof(float);
    case TLM_WF_F16:
        return r * m->stride * 2;
    default:
        return r * m->stride * 4;
    }
}

void tlm_infer_describe(const tlm_infer *inf, tlm_infer_info *info)
{
    const tlm_config *c = &inf->cfg;
    uint64_t n = 0;
    memset(info, 0, sizeof *info);
    tlm_config_param_count(c, &n, NULL);
    info->image_bytes = inf->image_size;
    info->fp32_bytes = (size_t)n * sizeof(float);
    info->emb_bytes = mat_bytes(&inf->emb);
    info->head_bytes = mat_bytes(&inf->head) + (size_t)c->vocab * sizeof(float);
    info->kv_bytes = 2 * sizeof(float) * (size_t)c->n_layers * (size_t)c->max_ctx * (size_t)c->dim;
    for (int l = 0; l < c->n_layers; l++)
        for (int j = 0; j < TLM_LIN_PER_BLOCK; j++) {
            const tlm_qmat *m = &inf->blk[l].lin[j];
            info->linear_bytes += mat_bytes(m);
            info->n_ternary += m->fmt == TLM_WF_TERN2;
            info->n_int8 += m->fmt == TLM_WF_INT8;
            info->n_fp32 += m->fmt == TLM_WF_F32;
        }
    info->emb = (tlm_store)inf->emb.fmt;
    info->head = (tlm_store)inf->head.fmt;
    info->fp32 = inf->fp32;
    info->mapped = inf->mapped;
}

void tlm_infer_reset(tlm_infer *inf)
{
    inf->pos = 0;
}

int tlm_infer_position(const tlm_infer *inf)
{
    return inf->pos;
}

const tlm_gen_stats *tlm_infer_last_stats(const tlm_infer *inf)
{
    return &inf->stats;
}

int tlm_store_parse(const char *s)
{
    if (!strcmp(s, "fp32") || !strcmp(s, "f32"))
        return TLM_STORE_FP32;
    if (!strcmp(s, "int8"))
        return TLM_STORE_INT8;
    if (!strcmp(s, "fp16") || !strcmp(s, "f16"))
        return TLM_STORE_FP16;
    return -1;
}

const char *tlm_store_name(tlm_store s)
{
    return s == TLM_STORE_INT8 ? "int8" : s == TLM_STORE_FP16 ? "fp16" : "fp32";
}

/* ---- integer linears ---- */

static void quant_rows(tlm_qact *a, const float *x, int n, int cols, int cols_pad)
{
    for (int i = 0; i < n; i++)
        tlm_quant_act_row(a->q + (size_t)i * (size_t)a->ld, &a->s[i], &a->sum[i],
                          x + (size_t)i * (size_t)cols, cols, cols_pad);
}

typedef struct lin_job {
    const tlm_infer *inf;
    const tlm_qmat *w;
    const tlm_qact *a;
    float *y;
    const float *bias;
    const float *xf; /* F16: the float input */
    int n, rb;
} lin_job;

/* Rows [r0, r1) of one token's float outputs from its int32 sums: the exact
 * product rounded once (in double) to float, plus the bias. */
static void scale_rows(float *y, const int32_t *acc, const tlm_qmat *w, double s,
                       const float *bias, int r0, int r1)
{
    if (w->fmt == TLM_WF_TERN2) {
        double gs = (double)w->g / s;
        for (int r = r0; r < r1; r++)
            y[r] = (float)((double)acc[r] * gs);
    } else {
        for (int r = r0; r < r1; r++)
            y[r] = (float)((double)acc[r] / (s * (double)w->scale[r]));
    }
    if (bias)
        for (int r = r0; r < r1; r++)
            y[r] += bias[r];
}

static void lin_task(void *ctx, int task, int thread)
{
    lin_job *j = ctx;
    const tlm_qmat *w = j->w;
    int r0 = task * j->rb, nr = w->rows - r0 < j->rb ? w->rows - r0 : j->rb;
    size_t rows = (size_t)w->rows;
    int32_t *acc = j->inf->acc;
    if (w->fmt == TLM_WF_F32) { /* one token: a matvec per row block */
        if (j->bias)
            memcpy(j->y + r0, j->bias + r0, sizeof(float) * (size_t)nr);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, nr, w->cols, 1.0f,
                    (const float *)w->data + (size_t)r0 * w->stride, (int)w->stride, j->xf, 1,
                    j->bias ? 1.0f : 0.0f, j->y + r0, 1);
        return;
    }
    if (w->fmt == TLM_WF_F16) {
        j->inf->kern->f16(j->y + r0, (const uint16_t *)w->data + (size_t)r0 * w->stride, w->stride,
                          nr, j->xf, w->cols);
        if (j->bias)
            for (int r = r0; r < r0 + nr; r++)
                j->y[r] += j->bias[r];
        return;
    }
    if (w->fmt == TLM_WF_TERN2)
        j->inf->kern->tern(acc + r0, rows, (const uint8_t *)w->data + (size_t)r0 * w->stride,
                           w->stride, nr, j->a->q, (size_t)j->a->ld, j->a->sum, j->n, w->cols_pad);
    else
        j->inf->kern->i8(acc + r0, rows, (const int8_t *)w->data + (size_t)r0 * w->stride, w->stride,
                         w->wsum + r0, nr, j->a->q, (size_t)j->a->ld, j->n, w->cols_pad);
    for (int i = 0; i < j->n; i++) /* y = acc * g / s (ternary), acc / (s * s_w) (int8) */
        scale_rows(j->y + (size_t)i * rows, acc + (size_t)i * rows, w, (double)j->a->s[i], j->bias,
                   r0, r0 + nr);
}

/* Rows per task: about four tasks per thread, a multiple of 4, at least 16. */
static int row_block(const tlm_infer *inf, int rows)
{
    int t = tlm_pool_threads(inf->pool) * 4;
    int rb = (rows + t - 1) / t;
    rb = (rb + 3) & ~3;
    return rb < 16 ? 16 : rb;
}

/* The pool for `macs` multiply-adds, or NULL (the calling thread alone) when
 * waking the other threads would cost more than it saves: a pool round trip
 * takes 10-50 us on the machines measured, the time of ~4M int8 MACs. */
static tlm_pool *pool_for(const tlm_infer *inf, double macs)
{
    return macs >= TLM_PAR_MIN_MACS ? inf->pool : NULL;
}

static void run_lin(tlm_infer *inf, const tlm_qmat *w, float *y, const tlm_qact *a,
                    const float *xf, const float *bias, int n)
{
    lin_job j = {inf, w, a, y, bias, xf, n, row_block(inf, w->rows)};
    double macs = (double)w->rows * (double)w->cols * (double)n;
    tlm_pool_run(pool_for(inf, macs), (w->rows + j.rb - 1) / j.rb, lin_task, &j);
}

/* y[n, rows] = x[n, cols] W^T: fp32 through the BLAS, else from the int8
 * rows a (x already quantized). */
static void linear(tlm_infer *inf, const tlm_qmat *w, float *y, const float *x, int n,
                   const tlm_qact *a)
{
    if (w->fmt != TLM_WF_F32)
        run_lin(inf, w, y, a, NULL, NULL, n);
    else if (n == 1)
        run_lin(inf, w, y, NULL, x, NULL, 1);
    else
        tlm_linear_forward(y, x, w->data, NULL, (size_t)n, w->cols, w->rows, inf->pool);
}

/* Quantize x [n, cols] once for the linears that read it (when need), and
 * report it to the trace hook as input `site` of layer l. */
static const tlm_qact *quant_input(tlm_infer *inf, int l, int site, const float *x, int n,
                                   int cols, int need)
{
    if (!need)
        return NULL;
    int pad = (int)tlm_kpad((size_t)cols);
    inf->qa = (tlm_qact){inf->aq, inf->as, inf->asum, pad};
    quant_rows(&inf->qa, x, n, cols, pad);
    if (inf->trace)
        inf->trace(inf->trace_ctx, l, site, inf->pos, n, inf->aq, pad, inf->asum);
    return &inf->qa;
}

void tlm_infer_linear(tlm_infer *inf, const tlm_qmat *w, float *y, const float *x, int n)
{
    const tlm_qact *a = quant_input(inf, -1, -1, x, n, w->cols, w->fmt != TLM_WF_F32);
    linear(inf, w, y, x, n, a);
}

/* The pool for element-wise work over n tokens: none for a few tokens, where
 * waking the threads costs more than the work. */
static tlm_pool *small_pool(tlm_infer *inf, int n)
{
    return n >= 8 ? inf->pool : NULL;
}

/* ---- attention over the cache ---- */

typedef struct attn_job {
    tlm_infer *inf;
    int layer, p0;
} attn_job;

/* Token i of the chunk, head h: softmax(q K^T / sqrt(hd)) V over the cached
 * positions 0 .. pos0+i, both products through the BLAS (one thread). */
static void attn_task(void *ctx, int task, int thread)
{
    attn_job *j = ctx;
    tlm_infer *inf = j->inf;
    const tlm_config *c = &inf->cfg;
    int nh = c->n_heads, hd = c->dim / nh, i = task / nh, h = task % nh, p = j->p0 + i;
    size_t d = (size_t)c->dim, base = (size_t)j->layer * (size_t)c->max_ctx * d + (size_t)(h * hd);
    const float *q = inf->q + (size_t)i * d + (size_t)(h * hd);
    float *sc = inf->scores + (size_t)thread * (size_t)c->max_ctx, mx = -INFINITY;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, p + 1, hd, 1.0f / sqrtf((float)hd), inf->kc + base,
                (int)d, q, 1, 0.0f, sc, 1);
    for (int s = 0; s <= p; s++)
        mx = sc[s] > mx ? sc[s] : mx;
    float sum = 0.0f;
    for (int s = 0; s <= p; s++) {
        sc[s] = expf(sc[s] - mx);
        sum += sc[s];
    }
    float *o = inf->att + (size_t)i * d + (size_t)(h * hd);
    cblas_sgemv(CblasRowMajor, CblasTrans, p + 1, hd, 1.0f / sum, inf->vc + base, (int)d, sc, 1,
                0.0f, o, 1);
}

/* ---- one chunk of tokens ---- */

static void attention_part(tlm_infer *inf, int l, int n)
{
    const tlm_config *c = &inf->cfg;
    const tlm_iblock *b = &inf->blk[l];
    size_t d = (size_t)c->dim, half = d / (size_t)c->n_heads / 2;
    int hd = c->dim / c->n_heads;
    float *rstd = inf->lnf + (size_t)inf->chunk * d;
    tlm_rmsnorm_forward(inf->xn, rstd, inf->x, b->norm1, (size_t)n, c->dim, small_pool(inf, n));
    const tlm_qmat *W = b->lin;
    const tlm_qact *a = quant_input(inf, l, TLM_SITE_QKV, inf->xn, n, c->dim,
                                    W[TLM_LIN_Q].fmt != TLM_WF_F32 || W[TLM_LIN_K].fmt != TLM_WF_F32 ||
                                        W[TLM_LIN_V].fmt != TLM_WF_F32);
    linear(inf, &W[TLM_LIN_Q], inf->q, inf->xn, n, a); /* q, k, v share one quantized input */
    linear(inf, &W[TLM_LIN_K], inf->k, inf->xn, n, a);
    linear(inf, &W[TLM_LIN_V], inf->v, inf->xn, n, a);
    const float *cs = inf->rope_cos + (size_t)inf->pos * half, *sn = inf->rope_sin + (size_t)inf->pos * half;
    tlm_rope_forward(inf->q, cs, sn, 1, n, c->n_heads, hd);
    tlm_rope_forward(inf->k, cs, sn, 1, n, c->n_heads, hd);
    size_t at = ((size_t)l * (size_t)c->max_ctx + (size_t)inf->pos) * d;
    memcpy(inf->kc + at, inf->k, sizeof(float) * (size_t)n * d);
    memcpy(inf->vc + at, inf->v, sizeof(float) * (size_t)n * d);
    attn_job j = {inf, l, inf->pos};
    double macs = 2.0 * (double)n * (double)(inf->pos + n) * (double)c->dim;
    tlm_pool_run(pool_for(inf, macs), n * c->n_heads, attn_task, &j);
    a = quant_input(inf, l, TLM_SITE_O, inf->att, n, c->dim, W[TLM_LIN_O].fmt != TLM_WF_F32);
    linear(inf, &W[TLM_LIN_O], inf->k, inf->att, n, a);
    for (size_t i = 0; i < (size_t)n * d; i++)
        inf->x[i] += inf->k[i];
}

static void mlp_part(tlm_infer *inf, int l, int n)
{
    const tlm_config *c = &inf->cfg;
    const tlm_iblock *b = &inf->blk[l];
    size_t d = (size_t)c->dim;
    float *rstd = inf->lnf + (size_t)inf->chunk * d;
    tlm_rmsnorm_forward(inf->xn, rstd, inf->x, b->norm2, (size_t)n, c->dim, small_pool(inf, n));
    const tlm_qmat *W = b->lin;
    const tlm_qact *a = quant_input(inf, l, TLM_SITE_GATE_UP, inf->xn, n, c->dim,
                                    W[TLM_LIN_GATE].fmt != TLM_WF_F32 || W[TLM_LIN_UP].fmt != TLM_WF_F32);
    linear(inf, &W[TLM_LIN_GATE], inf->h1, inf->xn, n, a);
    linear(inf, &W[TLM_LIN_UP], inf->h2, inf->xn, n, a);
    tlm_swiglu_forward(inf->h1, inf->h1, inf->h2, (size_t)n * (size_t)c->hidden, small_pool(inf, n));
    a = quant_input(inf, l, TLM_SITE_DOWN, inf->h1, n, c->hidden, W[TLM_LIN_DOWN].fmt != TLM_WF_F32);
    linear(inf, &W[TLM_LIN_DOWN], inf->q, inf->h1, n, a);
    for (size_t i = 0; i < (size_t)n * d; i++)
        inf->x[i] += inf->q[i];
}

static void embed(tlm_infer *inf, const int32_t *ids, int n)
{
    const tlm_qmat *e = &inf->emb;
    size_t d = (size_t)inf->cfg.dim;
    for (int i = 0; i < n; i++) {
        float *x = inf->x + (size_t)i * d;
        size_t r = (size_t)ids[i];
        if (e->fmt == TLM_WF_F32) {
            memcpy(x, (const float *)e->data + r * e->stride, sizeof(float) * d);
        } else if (e->fmt == TLM_WF_F16) {
            const uint16_t *w = (const uint16_t *)e->data + r * e->stride;
            for (size_t j = 0; j < d; j++)
                x[j] = tlm_f16_to_f32(w[j]);
        } else {
            const int8_t *w = (const int8_t *)e->data + r * e->stride;
            for (size_t j = 0; j < d; j++)
                x[j] = (float)w[j] / e->scale[r];
        }
    }
}

/* Logits of rows [0, n) of the normalised states xf into out [n, vocab]. */
static void head(tlm_infer *inf, const float *xf, int n, float *out)
{
    const tlm_config *c = &inf->cfg;
    const tlm_qmat *w = &inf->head;
    size_t V = (size_t)c->vocab;
    for (int i = 0; i < n; i++) { /* one row at a time: batch and single steps agree bit for bit */
        const float *x = xf + (size_t)i * (size_t)c->dim;
        tlm_qact a = {inf->aq, inf->as, inf->asum, w->cols_pad};
        if (w->fmt == TLM_WF_INT8)
            quant_rows(&a, x, 1, c->dim, w->cols_pad);
        run_lin(inf, w, out + (size_t)i * V, &a, x, inf->head_b, 1);
    }
}

/* n <= chunk tokens at inf->pos; out (may be NULL) gets the logits of the last
 * token, or of all n with all. */
static void forward_chunk(tlm_infer *inf, const int32_t *ids, int n, float *out, int all)
{
    const tlm_config *c = &inf->cfg;
    size_t d = (size_t)c->dim;
    embed(inf, ids, n);
    for (int l = 0; l < c->n_layers; l++) {
        attention_part(inf, l, n);
        mlp_part(inf, l, n);
    }
    inf->pos += n;
    if (!out)
        return;
    int first = all ? 0 : n - 1, m = n - first;
    float *rstd = inf->lnf + (size_t)inf->chunk * d;
    tlm_rmsnorm_forward(inf->lnf, rstd, inf->x + (size_t)first * d, inf->norm, (size_t)m, c->dim,
                        small_pool(inf, m));
    head(inf, inf->lnf, m, out);
}

int tlm_infer_forward(tlm_infer *inf, const int32_t *ids, int n, float *logits, int all,
                      tlm_err *err)
{
    const tlm_config *c = &inf->cfg;
    if (n < 1)
        return tlm_errf(err, "forward: no tokens");
    if (n > c->max_ctx - inf->pos)
        return tlm_errf(err, "context full: %d tokens after %d would pass the model's context of "
                        "%d tokens", n, inf->pos, c->max_ctx);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return tlm_errf(err, "forward: token id %d is not in [0, %d)", ids[i], c->vocab);
#if defined(__x86_64__) || defined(__i386__)
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040); /* denormals off here, as in the pool's threads */
#endif
    size_t V = (size_t)c->vocab;
    for (int i0 = 0; i0 < n; i0 += inf->chunk) {
        int m = n - i0 < inf->chunk ? n - i0 : inf->chunk;
        float *out = NULL;
        if (logits && all)
            out = logits + (size_t)i0 * V;
        else if (logits && i0 + m == n)
            out = logits;
        forward_chunk(inf, ids + i0, m, out, all);
    }
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(csr);
#endif
    return 0;
}
