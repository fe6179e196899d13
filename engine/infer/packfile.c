/* packfile.c - the packed inference image: build it from parameters, check it
 * as hostile input and bind views into it, expand it back, write it to disk. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "../io/fileio.h"
#include "../model/quant.h"
#include "infer_impl.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the packed model format is mapped directly: little-endian hosts only"
#endif

/* ---- little-endian fields ---- */

static void put_u32(uint8_t *p, uint32_t x)
{
    memcpy(p, &x, 4);
}

static void put_u64(uint8_t *p, uint64_t x)
{
    memcpy(p, &x, 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static uint64_t round_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) / a * a;
}

static uint32_t crc_of(const uint8_t *p, size_t n)
{
    uLong c = crc32_z(0, NULL, 0);
    return (uint32_t)crc32_z(c, p, n);
}

/* ---- formats ---- */

static const char *fmt_name(tlm_wfmt f)
{
    static const char *names[TLM_WF_N] = {"f32", "ternary2", "int8", "f16"};
    return f < TLM_WF_N ? names[f] : "unknown";
}

tlm_wfmt tlm_pack_format(const tlm_config *cfg, const tlm_tensor_info *t, const tlm_pack_opts *po)
{
    switch (t->kind) {
    case TLM_T_EMB:
        return po ? (tlm_wfmt)po->emb : TLM_WF_F32;
    case TLM_T_HEAD_W:
        return po ? (tlm_wfmt)po->head : TLM_WF_F32;
    case TLM_T_LINEAR: {
        int p = cfg->prec[t->layer * TLM_LIN_PER_BLOCK + t->lin];
        return p == TLM_PREC_TERNARY ? TLM_WF_TERN2 : p == TLM_PREC_INT8 ? TLM_WF_INT8 : TLM_WF_F32;
    }
    default:
        return TLM_WF_F32;
    }
}

int tlm_pack_tensor_bytes(tlm_wfmt fmt, int rows, int cols, uint64_t *out)
{
    uint64_t r = (uint64_t)rows, c = (uint64_t)(cols ? cols : 1), cp = tlm_kpad((size_t)c), x;
    switch (fmt) {
    case TLM_WF_F32:
        return __builtin_mul_overflow(r, c * 4, out) ? -1 : 0;
    case TLM_WF_F16:
        return __builtin_mul_overflow(r, c * 2, out) ? -1 : 0;
    case TLM_WF_TERN2:
        return __builtin_mul_overflow(r, cp / 4, out) ? -1 : 0;
    case TLM_WF_INT8:
        if (__builtin_mul_overflow(r, cp, &x) || __builtin_add_overflow(x, round_up(r * 4, 64), out))
            return -1;
        return 0;
    default:
        return -1;
    }
}

/* ---- building ---- */

/* Where everything of an image goes, and the per-tensor results. */
typedef struct pack_layout {
    int n;                  /* tensors */
    tlm_tensor_info *info;  /* [n] */
    tlm_wfmt *fmt;          /* [n] */
    uint64_t *off, *bytes;  /* [n] */
    float *scale;           /* [n]: g of ternary tensors, else 0 */
    uint32_t *crc;          /* [n] */
    char *text;             /* the config */
    size_t len;
    uint64_t table, H, payload, size;
} pack_layout;

typedef struct build_job {
    const pack_layout *L;
    const float *params;
    uint8_t *img;
    atomic_int failed;
} build_job;

static int fill_tern(uint8_t *dst, const float *w, int rows, int cols, float *g_out)
{
    int cols_pad = (int)tlm_kpad((size_t)cols);
    int8_t *t = malloc((size_t)cols);
    if (!t)
        return -1;
    float g = tlm_ternary_scale(w, (size_t)rows * (size_t)cols);
    for (int r = 0; r < rows; r++) {
        const float *wr = w + (size_t)r * (size_t)cols;
        for (int j = 0; j < cols; j++) {
            float v = rintf(wr[j] / g); /* as tlm_quant_ternary */
            t[j] = (int8_t)(v < -1.0f ? -1 : v > 1.0f ? 1 : v);
        }
        tlm_tern_pack_row(dst + (size_t)r * (size_t)(cols_pad / 4), t, cols, cols_pad);
    }
    free(t);
    *g_out = g;
    return 0;
}

static void fill_int8(uint8_t *dst, const float *w, int rows, int cols)
{
    size_t cols_pad = tlm_kpad((size_t)cols);
    float *sc = (float *)dst;
    int8_t *q = (int8_t *)(dst + round_up((uint64_t)rows * 4, 64));
    for (int r = 0; r < rows; r++) {
        const float *wr = w + (size_t)r * (size_t)cols;
        float m = 0.0f;
        for (int j = 0; j < cols; j++)
            m = fabsf(wr[j]) > m ? fabsf(wr[j]) : m;
        float s = 127.0f / (m > 1e-5f ? m : 1e-5f); /* as tlm_quant_int8_rows */
        sc[r] = s;
        for (int j = 0; j < cols; j++) {
            float v = rintf(wr[j] * s);
            q[(size_t)r * cols_pad + (size_t)j] = (int8_t)(v < -127.0f ? -127 : v > 127.0f ? 127 : v);
        }
    }
}

/* Tensor i into its place in the image, and its checksum. */
static void build_task(void *ctx, int i, int thread)
{
    build_job *j = ctx;
    const pack_layout *L = j->L;
    const tlm_tensor_info *t = &L->info[i];
    uint8_t *dst = j->img + L->off[i];
    const float *src = j->params + t->offset;
    int cols = t->cols ? t->cols : 1;
    L->scale[i] = 0.0f;
    switch (L->fmt[i]) {
    case TLM_WF_F32:
        memcpy(dst, src, t->numel * sizeof(float));
        break;
    case TLM_WF_F16:
        for (size_t k = 0; k < t->numel; k++)
            ((uint16_t *)dst)[k] = tlm_f32_to_f16(src[k]);
        break;
    case TLM_WF_TERN2:
        if (fill_tern(dst, src, t->rows, cols, &L->scale[i]))
            atomic_store(&j->failed, 1);
        break;
    case TLM_WF_INT8:
        fill_int8(dst, src, t->rows, cols);
        break;
    default:
        atomic_store(&j->failed, 1);
    }
    L->crc[i] = crc_of(dst, (size_t)L->bytes[i]);
}

/* Check cfg can be packed: int8 kernels need inner sizes up to 65536. */
static int check_packable(const tlm_config *cfg, const tlm_pack_opts *po, tlm_err *err)
{
    if (tlm_config_validate(cfg, err))
        return -1;
    if (po && ((po->emb != TLM_STORE_FP32 && po->emb != TLM_STORE_INT8 && po->emb != TLM_STORE_FP16) ||
               (po->head != TLM_STORE_FP32 && po->head != TLM_STORE_INT8 &&
                po->head != TLM_STORE_FP16)))
        return tlm_errf(err, "pack: embedding/head storage must be fp32, int8 or fp16");
    for (int i = 0; i < cfg->n_layers * TLM_LIN_PER_BLOCK; i++) {
        int in = i % TLM_LIN_PER_BLOCK == TLM_LIN_DOWN ? cfg->hidden : cfg->dim;
        if (cfg->prec[i] == TLM_PREC_INT8 && in > 65536)
            return tlm_errf(err, "pack: int8 layers need an input size of at most 65536 (have %d)",
                            in);
        if (cfg->prec[i] > TLM_PREC_FP32)
            return tlm_errf(err, "pack: linear %d has an unknown precision %d", i, cfg->prec[i]);
    }
    return 0;
}

static void layout_free(pack_layout *L)
{
    free(L->info), free(L->fmt), free(L->off), free(L->bytes), free(L->scale), free(L->crc);
    free(L->text);
}

/* Formats, offsets and sizes of every tensor of cfg, the header's size and
 * the file's; errors on overflow. */
static int make_layout(pack_layout *L, const tlm_config *cfg, const tlm_pack_opts *po,
                       tlm_err *err)
{
    int n = L->n = tlm_tensor_count(cfg);
    L->len = tlm_config_serialize(cfg, NULL, 0);
    L->info = tlm_calloc((size_t)n, sizeof *L->info, err);
    L->fmt = tlm_calloc((size_t)n, sizeof *L->fmt, err);
    L->off = tlm_calloc((size_t)n, sizeof *L->off, err);
    L->bytes = tlm_calloc((size_t)n, sizeof *L->bytes, err);
    L->scale = tlm_calloc((size_t)n, sizeof *L->scale, err);
    L->crc = tlm_calloc((size_t)n, sizeof *L->crc, err);
    L->text = tlm_calloc(L->len + 1, 1, err);
    if (!L->info || !L->fmt || !L->off || !L->bytes || !L->scale || !L->crc || !L->text)
        return -1;
    tlm_config_serialize(cfg, L->text, L->len + 1);
    tlm_tensor_table(cfg, L->info);
    L->table = TLM_PACK_FIXED + round_up(L->len, 8);
    L->H = L->table + (uint64_t)n * TLM_PACK_REC;
    L->payload = round_up(L->H + 4, TLM_PACK_ALIGN);
    uint64_t cur = L->payload;
    for (int i = 0; i < n; i++) {
        L->fmt[i] = tlm_pack_format(cfg, &L->info[i], po);
        L->off[i] = round_up(cur, TLM_PACK_ALIGN);
        if (tlm_pack_tensor_bytes(L->fmt[i], L->info[i].rows, L->info[i].cols, &L->bytes[i]) ||
            __builtin_add_overflow(L->off[i], L->bytes[i], &cur) || cur > ((uint64_t)1 << 46))
            return tlm_errf(err, "pack: model too large to pack");
    }
    L->size = cur;
    if (L->H > TLM_PACK_MAX_HEADER || L->size > SIZE_MAX)
        return tlm_errf(err, "pack: model too large to pack");
    return 0;
}

/* The header, the tensor table and the header checksum. */
static void write_header(uint8_t *img, const pack_layout *L)
{
    memcpy(img, TLM_PACK_MAGIC, 8);
    put_u32(img + 8, TLM_PACK_VERSION);
    put_u32(img + 12, (uint32_t)L->H);
    put_u64(img + 16, L->size);
    put_u32(img + 24, (uint32_t)L->n);
    put_u32(img + 28, (uint32_t)L->len);
    put_u32(img + 32, (uint32_t)L->table);
    put_u32(img + 36, TLM_PACK_ALIGN);
    put_u64(img + 40, L->payload);
    memcpy(img + TLM_PACK_FIXED, L->text, L->len);
    for (int i = 0; i < L->n; i++) {
        uint8_t *r = img + L->table + (uint64_t)i * TLM_PACK_REC;
        uint32_t sbits;
        memcpy(&sbits, &L->scale[i], 4);
        put_u32(r, (uint32_t)i);
        put_u32(r + 4, (uint32_t)L->fmt[i]);
        put_u32(r + 8, (uint32_t)L->info[i].rows);
        put_u32(r + 12, (uint32_t)L->info[i].cols);
        put_u64(r + 16, L->off[i]);
        put_u64(r + 24, L->bytes[i]);
        put_u32(r + 32, sbits);
        put_u32(r + 36, L->crc[i]);
    }
    put_u32(img + L->H, crc_of(img, (size_t)L->H));
}

int tlm_pack_build(const tlm_config *cfg, const float *params, const tlm_pack_opts *po,
                   tlm_pool *pool, uint8_t **img_out, size_t *size_out, tlm_err *err)
{
    pack_layout L = {0};
    uint8_t *img = NULL;
    int rc = -1;
    if (check_packable(cfg, po, err) || make_layout(&L, cfg, po, err) ||
        !(img = tlm_calloc_aligned((size_t)L.size, 1, err)))
        goto out;
    build_job job = {.L = &L, .params = params, .img = img};
    atomic_init(&job.failed, 0);
    tlm_pool_run(pool, L.n, build_task, &job);
    if (atomic_load(&job.failed)) {
        tlm_errf(err, "pack: out of memory");
        goto out;
    }
    write_header(img, &L);
    *img_out = img;
    *size_out = (size_t)L.size;
    img = NULL;
    rc = 0;
out:
    free(img);
    layout_free(&L);
    return rc;
}

/* ---- checking and binding ---- */

typedef struct bind_ctx {
    const uint8_t *img;
    size_t size;
    const char *name;
    tlm_err *err;
} bind_ctx;

static int zeros(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Fixed header fields: sizes, version, checksum. */
static int check_fixed(const bind_ctx *b, uint64_t *H, uint64_t *payload, uint32_t *n,
                       uint32_t *len, uint64_t *table)
{
    const uint8_t *p = b->img;
    if (b->size < TLM_PACK_FIXED + 4)
        return tlm_errf(b->err, "model %s: %zu bytes is too short for a packed model", b->name,
                        b->size);
    if (memcmp(p, TLM_PACK_MAGIC, 8) != 0)
        return tlm_errf(b->err, "model %s: not a packed tlm model (bad magic)", b->name);
    uint32_t version = get_u32(p + 8);
    if (version > TLM_PACK_VERSION)
        return tlm_errf(b->err, "model %s: format version %u is newer than this tlm reads (%u)",
                        b->name, version, TLM_PACK_VERSION);
    if (version == 0)
        return tlm_errf(b->err, "model %s: bad format version 0", b->name);
    *H = get_u32(p + 12);
    uint64_t fsize = get_u64(p + 16);
    if (fsize != b->size)
        return tlm_errf(b->err, "model %s: the file is %zu bytes but its header says %llu "
                        "(truncated or extended)", b->name, b->size, (unsigned long long)fsize);
    if (*H < TLM_PACK_FIXED || *H > TLM_PACK_MAX_HEADER || *H + 4 > b->size)
        return tlm_errf(b->err, "model %s: header size %llu out of range", b->name,
                        (unsigned long long)*H);
    if (crc_of(p, (size_t)*H) != get_u32(p + *H))
        return tlm_errf(b->err, "model %s: header checksum mismatch (corrupt file)", b->name);
    *n = get_u32(p + 24);
    *len = get_u32(p + 28);
    *table = get_u32(p + 32);
    *payload = get_u64(p + 40);
    if (get_u32(p + 36) != TLM_PACK_ALIGN || get_u32(p + 48) != 0 || !zeros(p + 52, 12))
        return tlm_errf(b->err, "model %s: unknown alignment or flags", b->name);
    if (*table != TLM_PACK_FIXED + round_up(*len, 8) ||
        *H != *table + (uint64_t)*n * TLM_PACK_REC || *payload != round_up(*H + 4, TLM_PACK_ALIGN) ||
        *payload > b->size)
        return tlm_errf(b->err, "model %s: inconsistent header sizes", b->name);
    return 0;
}

/* Record i against the expected tensor; *cur is the end of the previous one. */
static int check_record(const bind_ctx *b, const tlm_config *cfg, const tlm_tensor_info *t, int i,
                        uint64_t *cur, const uint8_t *r)
{
    uint32_t fmt = get_u32(r + 4), rows = get_u32(r + 8), cols = get_u32(r + 12);
    uint64_t off = get_u64(r + 16), bytes = get_u64(r + 24), want = 0, end = 0;
    float scale;
    memcpy(&scale, r + 32, 4);
    if (get_u32(r) != (uint32_t)i || get_u64(r + 40) != 0)
        return tlm_errf(b->err, "model %s: tensor record %d is out of order", b->name, i);
    if (rows != (uint32_t)t->rows || cols != (uint32_t)t->cols)
        return tlm_errf(b->err, "model %s: tensor %s has shape %ux%u, expected %dx%d", b->name,
                        t->name, rows, cols, t->rows, t->cols);
    int ok_fmt = fmt < TLM_WF_N;
    if (t->kind == TLM_T_NORM || t->kind == TLM_T_HEAD_B)
        ok_fmt = fmt == TLM_WF_F32;
    else if (t->kind == TLM_T_LINEAR)
        ok_fmt = fmt == (uint32_t)tlm_pack_format(cfg, t, NULL);
    else
        ok_fmt = ok_fmt && fmt != TLM_WF_TERN2;
    if (!ok_fmt)
        return tlm_errf(b->err, "model %s: tensor %s stored as %s, which its kind/precision does "
                        "not allow", b->name, t->name, fmt_name((tlm_wfmt)fmt));
    if (tlm_pack_tensor_bytes((tlm_wfmt)fmt, t->rows, t->cols, &want) || bytes != want)
        return tlm_errf(b->err, "model %s: tensor %s has %llu bytes, expected %llu", b->name,
                        t->name, (unsigned long long)bytes, (unsigned long long)want);
    if (off != round_up(*cur, TLM_PACK_ALIGN) || __builtin_add_overflow(off, bytes, &end) ||
        end > b->size)
        return tlm_errf(b->err, "model %s: tensor %s at offset %llu is misplaced or past the end",
                        b->name, t->name, (unsigned long long)off);
    if (fmt == TLM_WF_TERN2 ? !(isfinite(scale) && scale > 0.0f) : scale != 0.0f)
        return tlm_errf(b->err, "model %s: tensor %s has a bad scale %g", b->name, t->name,
                        (double)scale);
    *cur = end;
    return 0;
}

/* Checksum, zero padding before the tensor, and the values of one tensor. */
static int verify_tensor(const bind_ctx *b, const tlm_tensor_info *t, const uint8_t *r,
                         uint64_t prev_end)
{
    uint32_t fmt = get_u32(r + 4);
    uint64_t off = get_u64(r + 16), bytes = get_u64(r + 24);
    const uint8_t *p = b->img + off;
    if (!zeros(b->img + prev_end, (size_t)(off - prev_end)))
        return tlm_errf(b->err, "model %s: non-zero padding before tensor %s", b->name, t->name);
    if (crc_of(p, (size_t)bytes) != get_u32(r + 36))
        return tlm_errf(b->err, "model %s: tensor %s checksum mismatch (corrupt file)", b->name,
                        t->name);
    if (fmt == TLM_WF_TERN2 && tlm_tern_has_bad_code(p, (size_t)bytes))
        return tlm_errf(b->err, "model %s: tensor %s holds the invalid ternary code 3", b->name,
                        t->name);
    if (fmt == TLM_WF_INT8) {
        for (int i = 0; i < t->rows; i++) {
            float s;
            memcpy(&s, p + 4 * (size_t)i, 4);
            if (!isfinite(s) || s <= 0.0f)
                return tlm_errf(b->err, "model %s: tensor %s row %d has a bad scale", b->name,
                                t->name, i);
        }
        size_t sb = (size_t)round_up((uint64_t)t->rows * 4, 64);
        if (memchr(p + sb, 0x80, (size_t)bytes - sb))
            return tlm_errf(b->err, "model %s: tensor %s holds the int8 value -128", b->name,
                            t->name);
    }
    return 0;
}

static void set_view(tlm_qmat *m, tlm_wfmt fmt, const tlm_tensor_info *t, const uint8_t *p,
                     float g)
{
    memset(m, 0, sizeof *m);
    m->fmt = fmt;
    m->rows = t->rows;
    m->cols = t->cols ? t->cols : 1;
    m->cols_pad = (int)tlm_kpad((size_t)m->cols);
    m->g = g;
    switch (fmt) {
    case TLM_WF_TERN2:
        m->stride = (size_t)m->cols_pad / 4;
        m->data = p;
        break;
    case TLM_WF_INT8:
        m->stride = (size_t)m->cols_pad;
        m->scale = (const float *)p;
        m->data = p + round_up((uint64_t)t->rows * 4, 64);
        break;
    default:
        m->stride = (size_t)m->cols;
        m->data = p;
        break;
    }
}

/* The view of tensor t in inf (NULL for 1-D tensors, whose pointer is set). */
static tlm_qmat *view_of(tlm_infer *inf, const tlm_tensor_info *t, const uint8_t *p)
{
    switch (t->kind) {
    case TLM_T_EMB:
        return &inf->emb;
    case TLM_T_HEAD_W:
        return &inf->head;
    case TLM_T_LINEAR:
        return &inf->blk[t->layer].lin[t->lin];
    case TLM_T_HEAD_B:
        inf->head_b = (const float *)p;
        return NULL;
    default:
        if (t->layer < 0)
            inf->norm = (const float *)p;
        else if (strstr(t->name, "norm1"))
            inf->blk[t->layer].norm1 = (const float *)p;
        else
            inf->blk[t->layer].norm2 = (const float *)p;
        return NULL;
    }
}

/* Per-row sums of every int8 matrix (for the unsigned-offset kernels). */
static int make_wsums(tlm_infer *inf, tlm_err *err)
{
    tlm_qmat *m[TLM_MAX_LINEARS + 2];
    int nm = 0;
    size_t total = 0;
    for (int l = 0; l < inf->cfg.n_layers; l++)
        for (int j = 0; j < TLM_LIN_PER_BLOCK; j++)
            if (inf->blk[l].lin[j].fmt == TLM_WF_INT8)
                m[nm++] = &inf->blk[l].lin[j];
    if (inf->head.fmt == TLM_WF_INT8)
        m[nm++] = &inf->head;
    for (int i = 0; i < nm; i++)
        total += (size_t)m[i]->rows;
    if (!nm)
        return 0;
    int32_t *s = inf->wsum_mem = tlm_calloc(total, sizeof(int32_t), err);
    if (!s)
        return -1;
    for (int i = 0; i < nm; i++) {
        const int8_t *w = m[i]->data;
        for (int r = 0; r < m[i]->rows; r++) {
            int32_t acc = 0;
            for (int j = 0; j < m[i]->cols_pad; j++)
                acc += w[(size_t)r * m[i]->stride + (size_t)j];
            s[r] = acc;
        }
        m[i]->wsum = s;
        s += m[i]->rows;
    }
    return 0;
}

static int bind_tensors(tlm_infer *inf, const bind_ctx *b, uint32_t n, uint64_t table,
                        uint64_t payload, int verify)
{
    const tlm_config *cfg = &inf->cfg;
    if (n != (uint32_t)tlm_tensor_count(cfg))
        return tlm_errf(b->err, "model %s: %u tensors, the config needs %d", b->name, n,
                        tlm_tensor_count(cfg));
    tlm_tensor_info *info = tlm_calloc(n, sizeof *info, b->err);
    if (!info)
        return -1;
    tlm_tensor_table(cfg, info);
    uint64_t cur = payload, H = table + (uint64_t)n * TLM_PACK_REC;
    int rc = verify && !zeros(b->img + H + 4, (size_t)(payload - H - 4))
                 ? tlm_errf(b->err, "model %s: non-zero padding after the header", b->name)
                 : 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const uint8_t *r = b->img + table + (uint64_t)i * TLM_PACK_REC;
        uint64_t prev = cur;
        rc = check_record(b, cfg, &info[i], (int)i, &cur, r);
        if (rc == 0 && verify)
            rc = verify_tensor(b, &info[i], r, prev);
        if (rc == 0) {
            const uint8_t *p = b->img + get_u64(r + 16);
            float g;
            memcpy(&g, r + 32, 4);
            tlm_qmat *m = view_of(inf, &info[i], p);
            if (m)
                set_view(m, (tlm_wfmt)get_u32(r + 4), &info[i], p, g);
        }
    }
    if (rc == 0 && cur != b->size)
        rc = tlm_errf(b->err, "model %s: %zu bytes after the last tensor", b->name,
                      b->size - (size_t)cur);
    free(info);
    return rc;
}

int tlm_pack_bind(tlm_infer *inf, const uint8_t *img, size_t size, int verify, const char *name,
                  tlm_err *err)
{
    bind_ctx b = {img, size, name, err};
    uint64_t H = 0, payload = 0, table = 0;
    uint32_t n = 0, len = 0;
    if (check_fixed(&b, &H, &payload, &n, &len, &table))
        return -1;
    if (tlm_config_deserialize(&inf->cfg, (const char *)img + TLM_PACK_FIXED, len, err))
        return tlm_err_prefix(err, "model %s: ", name);
    if (check_packable(&inf->cfg, NULL, err))
        return tlm_err_prefix(err, "model %s: ", name);
    if (bind_tensors(inf, &b, n, table, payload, verify))
        return -1;
    inf->fp32 = 1;
    for (int i = 0; i < inf->cfg.n_layers * TLM_LIN_PER_BLOCK; i++)
        inf->fp32 &= inf->cfg.prec[i] == TLM_PREC_FP32;
    return make_wsums(inf, err);
}

/* ---- expanding back to floats ---- */

static void unpack_mat(float *dst, const tlm_qmat *m)
{
    for (int r = 0; r < m->rows; r++) {
        float *d = dst + (size_t)r * (size_t)m->cols;
        const uint8_t *row = (const uint8_t *)m->data + (size_t)r * m->stride *
                             (m->fmt == TLM_WF_F32 ? 4 : m->fmt == TLM_WF_F16 ? 2 : 1);
        for (int j = 0; j < m->cols; j++) {
            switch (m->fmt) {
            case TLM_WF_TERN2:
                d[j] = (float)tlm_tern_get(row, m->cols_pad, j) * m->g;
                break;
            case TLM_WF_INT8:
                d[j] = (float)((const int8_t *)row)[j] / m->scale[r];
                break;
            case TLM_WF_F16:
                d[j] = tlm_f16_to_f32(((const uint16_t *)row)[j]);
                break;
            default:
                d[j] = ((const float *)row)[j];
            }
        }
    }
}

int tlm_pack_unpack(const tlm_infer *inf, float **params, tlm_err *err)
{
    tlm_params p;
    if (tlm_params_alloc(&p, &inf->cfg, err))
        return -1;
    const tlm_config *c = &inf->cfg;
    size_t d = (size_t)c->dim;
    unpack_mat(p.emb, &inf->emb);
    unpack_mat(p.head_w, &inf->head);
    memcpy(p.head_b, inf->head_b, sizeof(float) * (size_t)c->vocab);
    memcpy(p.norm, inf->norm, sizeof(float) * d);
    for (int l = 0; l < c->n_layers; l++) {
        memcpy(p.blk[l].norm1, inf->blk[l].norm1, sizeof(float) * d);
        memcpy(p.blk[l].norm2, inf->blk[l].norm2, sizeof(float) * d);
        for (int j = 0; j < TLM_LIN_PER_BLOCK; j++)
            unpack_mat(p.blk[l].lin[j], &inf->blk[l].lin[j]);
    }
    *params = p.mem;
    return 0;
}

/* ---- files ---- */

int tlm_infer_save(const tlm_infer *inf, const char *path, tlm_err *err)
{
    char *tmp;
    int fd = tlm_file_open_temp(path, "packed model", &tmp, err), rc = -1;
    if (fd < 0)
        return -1;
    if (tlm_file_write_all(fd, inf->image, inf->image_size) || fsync(fd)) {
        tlm_errf(err, "packed model %s: writing %s failed: %s", path, tmp, strerror(errno));
        close(fd);
    } else if (close(fd) || rename(tmp, path)) {
        tlm_errf(err, "packed model %s: rename of %s failed: %s", path, tmp, strerror(errno));
    } else if (tlm_file_fsync_dir(path)) {
        tlm_errf(err, "packed model %s: fsync of the folder failed: %s", path, strerror(errno));
    } else {
        rc = 0;
    }
    if (rc && access(tmp, F_OK) == 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int tlm_infer_sniff(const char *path)
{
    FILE *f = fopen(path, "rb");
    char m[8];
    int yes = f && fread(m, 1, 8, f) == 8 && memcmp(m, TLM_PACK_MAGIC, 8) == 0;
    if (f)
        fclose(f);
    return yes;
}
