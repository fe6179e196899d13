/* infer_impl.h - inside the inference engine: the packed image (the file
 * format, also the in-memory form), weight views and the model state. */
#ifndef TLM_INFER_IMPL_H
#define TLM_INFER_IMPL_H
#include <stddef.h>
#include <stdint.h>
#include "../core/pool.h"
#include "../model/config.h"
#include "../model/params.h"
#include "generate.h"
#include "kernels.h"

/* ---- the packed image ----
 * Little-endian. Fixed header (64 bytes):
 *    0  magic "TLMPACK1"
 *    8  u32 version (TLM_PACK_VERSION)
 *   12  u32 H: header bytes (fixed header + config text + tensor table)
 *   16  u64 file size (exact)
 *   24  u32 tensors (= tlm_tensor_count(cfg), in tensor-table order)
 *   28  u32 config text bytes (tlm_config_serialize)
 *   32  u32 table offset (64 + config bytes rounded up to 8)
 *   36  u32 alignment of tensor data (64)
 *   40  u64 payload offset (H + 4 rounded up to 64)
 *   48  u32 flags (0), 52..63 zero
 *   64  config text, zero padding, tensor table (48-byte records), then at H
 *       the crc32 of bytes [0, H).
 * Record: u32 index (= position), u32 format, u32 rows, u32 cols (0: 1-D),
 *   u64 offset, u64 bytes, f32 scale (g for ternary, else 0), u32 crc32 of
 *   the tensor's bytes, u64 zero.
 * Tensor data: each at the next 64-byte boundary after the previous one
 *   (zero padding between), the last ending at the file size.
 * Formats: F32 rows x cols floats; TERN2 rows x cols_pad/4 packed codes
 *   (kernels.h); INT8 rows f32 scales s = 127/max|row| (padded to 64 bytes)
 *   then rows x cols_pad int8 in [-127, 127]; F16 rows x cols halves. */
#define TLM_PACK_MAGIC "TLMPACK1"
#define TLM_PACK_VERSION 1u
#define TLM_PACK_FIXED 64u
#define TLM_PACK_REC 48u
#define TLM_PACK_ALIGN 64u
#define TLM_PACK_MAX_HEADER (16u << 20)

typedef enum tlm_wfmt {
    TLM_WF_F32 = 0, TLM_WF_TERN2 = 1, TLM_WF_INT8 = 2, TLM_WF_F16 = 3, TLM_WF_N = 4
} tlm_wfmt;

/* A weight matrix [rows, cols] in one of the formats, viewed in the image. */
typedef struct tlm_qmat {
    tlm_wfmt fmt;
    int rows, cols, cols_pad;
    size_t stride;          /* elements per row (bytes for TERN2/INT8) */
    const void *data;
    const float *scale;     /* INT8: per-row s */
    const int32_t *wsum;    /* INT8: per-row sum of the int8 weights (owned) */
    float g;                /* TERN2 */
} tlm_qmat;

typedef struct tlm_iblock {
    const float *norm1, *norm2;
    tlm_qmat lin[TLM_LIN_PER_BLOCK];
} tlm_iblock;

/* Activation rows quantized to int8 (per row scale and sum). */
typedef struct tlm_qact {
    int8_t *q;
    float *s;
    int32_t *sum;
    int ld; /* row stride of q */
} tlm_qact;

/* Inputs of the quantized linears of a block, for the trace hook. */
enum { TLM_SITE_QKV = 0, TLM_SITE_O = 1, TLM_SITE_GATE_UP = 2, TLM_SITE_DOWN = 3 };

/* Called with the int8 rows q [n, ld] (and their sums) of input `site` of
 * layer `layer` for the tokens at positions pos0 .. pos0+n-1, before the
 * linears read them. Tests compare them with training's, and may change them
 * (keeping sum[i] the sum of row i) to follow training's rounding decisions. */
typedef void (*tlm_infer_trace_fn)(void *ctx, int layer, int site, int pos0, int n, int8_t *q,
                                   int ld, int32_t *sum);

struct tlm_infer {
    tlm_config cfg;
    int fp32;
    /* the image: owned memory or a read-only mapping */
    uint8_t *image;
    size_t image_size;
    int mapped;
    tlm_qmat emb, head;
    const float *head_b, *norm;
    tlm_iblock blk[TLM_MAX_LAYERS];
    int32_t *wsum_mem;
    /* compute */
    const tlm_kernels *kern;
    tlm_pool *pool;
    /* state */
    int pos, chunk;
    float *kc, *vc;           /* [layers][max_ctx][dim] */
    float *rope_cos, *rope_sin;
    float *x, *xn, *q, *k, *v, *att, *h1, *h2; /* [chunk, dim or hidden] */
    float *lnf;               /* [dim] */
    float *scores;            /* [threads][max_ctx] attention weights */
    int8_t *aq;               /* int8 activations [chunk, max pad] */
    float *as;
    int32_t *asum, *acc;      /* acc: [max(chunk * max(dim, hidden), vocab)] */
    tlm_qact qa;              /* the current quantized input */
    tlm_infer_trace_fn trace; /* NULL, or a test's hook */
    void *trace_ctx;
    tlm_gen_stats stats;
};

/* Format of tensor t of cfg under the options (NULL: fp32 embedding/head);
 * linears follow cfg->prec. */
tlm_wfmt tlm_pack_format(const tlm_config *cfg, const tlm_tensor_info *t, const tlm_pack_opts *po);

/* Bytes of a tensor of rows x cols in fmt into *out; -1 on overflow. */
int tlm_pack_tensor_bytes(tlm_wfmt fmt, int rows, int cols, uint64_t *out);

/* Build the complete image (header, tensors, checksums) for cfg and params
 * into a 64-byte aligned allocation (free()). pool may be NULL. */
int tlm_pack_build(const tlm_config *cfg, const float *params, const tlm_pack_opts *po,
                   tlm_pool *pool, uint8_t **img, size_t *size, tlm_err *err);

/* Check an image as hostile input and point inf's views into it (inf->cfg,
 * emb, head, blocks, wsum_mem). verify also checks the checksums and the
 * tensor contents (codes, scales); structure is always checked. name is for
 * messages. */
int tlm_pack_bind(tlm_infer *inf, const uint8_t *img, size_t size, int verify, const char *name,
                  tlm_err *err);

/* Expand the bound weights of inf into the tensor-table layout (ternary as
 * t * g, int8 as w / s, halves as floats): params (free()) of the config's
 * parameter count. */
int tlm_pack_unpack(const tlm_infer *inf, float **params, tlm_err *err);

/* y [n, w->rows] = x [n, w->cols] W^T as the forward pass computes it
 * (activations quantized per row unless W is fp32); n <= inf->chunk. */
void tlm_infer_linear(tlm_infer *inf, const tlm_qmat *w, float *y, const float *x, int n);

/* Finish an infer whose image is bound: kernels, pool, KV cache, scratch. */
int tlm_infer_setup(tlm_infer *inf, tlm_err *err);

#endif
