/* cmd_bench_infer.c - `tlm bench infer`: GFLOP/s-equivalent of the packed
 * matvec kernels (every version the CPU has) against fp32 matvec, decode and
 * prefill speed of the ternary and fp32 paths on model presets, and memory of
 * the packed model against fp32. Timings drift between runs on shared
 * machines: compare the numbers of one run side by side. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "engine/core/blas.h"
#include "engine/core/pool.h"
#include "engine/core/rng.h"
#include "engine/core/timer.h"
#include "engine/infer/generate.h"
#include "engine/infer/kernels.h"
#include "engine/model/params.h"

/* TLM_BENCH_QUICK set: one short trial each (for tests). */
static int quick;

/* ---- kernels ---- */

enum { K_TERN, K_INT8, K_F16, K_F32 };

typedef struct kjob {
    const tlm_kernels *k;
    int kind, rows, cols, cols_pad, n, rb;
    uint8_t *w;
    int8_t *w8, *x;
    int32_t *wsum, *xsum, *y;
    float *wf, *xf, *yf;
    uint16_t *wh;
} kjob;

static void ktask(void *ctx, int task, int thread)
{
    (void)thread;
    kjob *j = ctx;
    int r0 = task * j->rb, nr = j->rows - r0 < j->rb ? j->rows - r0 : j->rb;
    size_t cp = (size_t)j->cols_pad;
    if (j->kind == K_TERN)
        j->k->tern(j->y + r0, (size_t)j->rows, j->w + (size_t)r0 * cp / 4, cp / 4, nr, j->x, cp,
                   j->xsum, j->n, j->cols_pad);
    else if (j->kind == K_INT8)
        j->k->i8(j->y + r0, (size_t)j->rows, j->w8 + (size_t)r0 * cp, cp, j->wsum + r0, nr, j->x,
                 cp, j->n, j->cols_pad);
    else if (j->kind == K_F16)
        for (int i = 0; i < j->n; i++)
            j->k->f16(j->yf + (size_t)i * (size_t)j->rows + r0, j->wh + (size_t)r0 * (size_t)j->cols,
                      (size_t)j->cols, nr, j->xf + (size_t)i * (size_t)j->cols, j->cols);
    else if (j->n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, nr, j->cols, 1.0f, j->wf + (size_t)r0 * (size_t)j->cols,
                    j->cols, j->xf, 1, 0.0f, j->yf + r0, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->n, nr, j->cols, 1.0f, j->xf,
                    j->cols, j->wf + (size_t)r0 * (size_t)j->cols, j->cols, 0.0f, j->yf + r0,
                    j->rows);
}

/* Best seconds per call of the job over the pool (NULL: one thread). */
static double ktime(kjob *j, tlm_pool *pool)
{
    int threads = tlm_pool_threads(pool), tasks = pool ? threads * 4 : 1;
    j->rb = (j->rows + tasks - 1) / tasks;
    j->rb = (j->rb + 3) & ~3;
    tasks = (j->rows + j->rb - 1) / j->rb;
    double t = tlm_now(); /* one call: warm-up and calibration */
    tlm_pool_run(pool, tasks, ktask, j);
    t = tlm_now() - t;
    int reps = quick || t >= 0.02 ? 1 : (int)(0.02 / (t > 1e-7 ? t : 1e-7)) + 1;
    double best = quick ? t : 1e9;
    for (int trial = 0; trial < (quick ? 0 : 6); trial++) { /* about 20 ms a trial */
        t = tlm_now();
        for (int r = 0; r < reps; r++)
            tlm_pool_run(pool, tasks, ktask, j);
        t = (tlm_now() - t) / reps;
        best = t < best ? t : best;
    }
    return best;
}

static int kjob_alloc(kjob *j, int rows, int cols, int n)
{
    memset(j, 0, sizeof *j);
    j->rows = rows;
    j->cols = cols;
    j->n = n;
    j->cols_pad = (int)tlm_kpad((size_t)cols);
    size_t cp = (size_t)j->cols_pad, R = (size_t)rows, N = (size_t)n;
    j->w = calloc(R * cp / 4, 1);
    j->w8 = calloc(R * cp, 1);
    j->x = calloc(N * cp, 1);
    j->wsum = calloc(R, sizeof(int32_t));
    j->xsum = calloc(N, sizeof(int32_t));
    j->y = calloc(R * N, sizeof(int32_t));
    j->wf = calloc(R * (size_t)cols, sizeof(float));
    j->xf = calloc(N * (size_t)cols, sizeof(float));
    j->yf = calloc(R * N, sizeof(float));
    j->wh = calloc(R * (size_t)cols, sizeof(uint16_t));
    if (!j->wh || !j->w8 || !j->x || !j->wsum || !j->xsum || !j->y || !j->wf || !j->xf || !j->yf)
        return -1;
    tlm_rng r;
    tlm_rng_seed(&r, 7);
    int8_t *t = malloc((size_t)cols);
    if (!t)
        return -1;
    for (size_t i = 0; i < R; i++) {
        for (int c = 0; c < cols; c++) {
            t[c] = (int8_t)((int)tlm_rng_below(&r, 3) - 1);
            j->w8[i * cp + (size_t)c] = (int8_t)((int)tlm_rng_below(&r, 255) - 127);
            j->wf[i * (size_t)cols + (size_t)c] = tlm_rng_float(&r) - 0.5f;
            j->wh[i * (size_t)cols + (size_t)c] = tlm_f32_to_f16(j->wf[i * (size_t)cols + (size_t)c]);
        }
        tlm_tern_pack_row(j->w + i * cp / 4, t, cols, j->cols_pad);
    }
    free(t);
    for (size_t i = 0; i < N * (size_t)cols; i++)
        j->xf[i] = tlm_rng_float(&r) - 0.5f;
    for (size_t i = 0; i < N; i++)
        for (int c = 0; c < cols; c++)
            j->x[i * cp + (size_t)c] = (int8_t)((int)tlm_rng_below(&r, 255) - 127);
    return 0;
}

static void kjob_free(kjob *j)
{
    free(j->w), free(j->w8), free(j->x), free(j->wsum), free(j->xsum), free(j->y);
    free(j->wf), free(j->xf), free(j->yf), free(j->wh);
}

/* One line per kind for a rows x cols matrix times n tokens. */
static void bench_shape(int rows, int cols, int n, tlm_pool *pool)
{
    kjob j;
    if (kjob_alloc(&j, rows, cols, n)) {
        printf("  %dx%d: out of memory\n", rows, cols);
        kjob_free(&j);
        return;
    }
    double flop = 2.0 * rows * (double)cols * n;
    int th = tlm_pool_threads(pool);
    printf("  %4d x %-4d, %d token%s   1 thread / %d threads, GFLOP/s-equivalent\n", rows, cols, n,
           n > 1 ? "s" : " ", th);
    static const char *kind_name[] = {"ternary", "int8", "fp16", "fp32"};
    for (int kind = K_TERN; kind <= K_F32; kind++) {
        printf("    %-8s", kind_name[kind]);
        for (int id = 0; id < TLM_KERN_N; id++) {
            j.k = tlm_kernels_get((tlm_kern_id)id);
            if (!j.k || (kind == K_F32 && id > 0))
                continue;
            j.kind = kind;
            double t1 = ktime(&j, NULL), tn = th > 1 ? ktime(&j, pool) : t1;
            printf("  %s %6.1f / %6.1f", kind == K_F32 ? "openblas" : j.k->name, flop / t1 / 1e9,
                   flop / tn / 1e9);
        }
        printf("\n");
    }
    kjob_free(&j);
}

/* ---- models ---- */

typedef struct mres {
    double decode_tps, prefill_tps;
    tlm_infer_info info;
} mres;

/* Prefill `prompt` random tokens then decode `gen` tokens greedily. */
static int run_model(tlm_infer *inf, int prompt, int gen, mres *r, tlm_err *err)
{
    const tlm_config *c = tlm_infer_config(inf);
    if (prompt + gen > c->max_ctx)
        gen = c->max_ctx - prompt;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)prompt);
    float *logits = malloc(sizeof(float) * (size_t)c->vocab);
    int rc = -1;
    if (!ids || !logits)
        goto out;
    tlm_rng rng;
    tlm_rng_seed(&rng, 3);
    for (int i = 0; i < prompt; i++)
        ids[i] = (int32_t)tlm_rng_below(&rng, (uint64_t)c->vocab);
    r->prefill_tps = r->decode_tps = 0;
    for (int rep = 0; rep < (quick ? 1 : 3); rep++) { /* best of three: the machine may be shared */
        tlm_infer_reset(inf);
        double t0 = tlm_now();
        if (tlm_infer_forward(inf, ids, prompt, logits, 0, err))
            goto out;
        double t1 = tlm_now();
        for (int i = 0; i < gen; i++) {
            int32_t best = 0;
            for (int v = 1; v < c->vocab; v++)
                best = logits[v] > logits[best] ? v : best;
            if (tlm_infer_forward(inf, &best, 1, logits, 0, err))
                goto out;
        }
        double t2 = tlm_now();
        r->prefill_tps = fmax(r->prefill_tps, prompt / (t1 - t0));
        r->decode_tps = fmax(r->decode_tps, gen / (t2 - t1));
    }
    tlm_infer_describe(inf, &r->info);
    rc = 0;
out:
    free(ids);
    free(logits);
    return rc;
}

static int bench_preset(const char *name, int threads, const char *kernel, int gen,
                        tlm_err *err)
{
    tlm_config cfg;
    tlm_params p;
    if (tlm_config_preset(&cfg, name, err) || tlm_params_alloc(&p, &cfg, err))
        return -1;
    tlm_params_init(&p, &cfg, 1);
    struct {
        const char *label;
        int fp32;
        tlm_pack_opts po;
    } runs[] = {{"ternary, fp32 emb/head", 0, {TLM_STORE_FP32, TLM_STORE_FP32}},
                {"ternary, int8 emb/head", 0, {TLM_STORE_INT8, TLM_STORE_INT8}},
                {"ternary, fp16 emb/head", 0, {TLM_STORE_FP16, TLM_STORE_FP16}},
                {"fp32 (baseline)", 1, {TLM_STORE_FP32, TLM_STORE_FP32}}};
    printf("%s: d %d, %d layers, hidden %d, vocab %d; prefill 32 tokens, then decode %d (best "
           "of 3)\n", name,
           cfg.dim, cfg.n_layers, cfg.hidden, cfg.vocab, gen);
    int rc = 0;
    for (size_t i = 0; i < sizeof runs / sizeof runs[0] && rc == 0; i++) {
        tlm_infer *inf = NULL;
        mres r;
        rc = tlm_infer_from_params_ex(&inf, &cfg, p.mem, runs[i].fp32, &runs[i].po, err);
        if (rc == 0)
            rc = tlm_infer_set_kernels(inf, kernel, err);
        if (rc == 0 && threads)
            rc = tlm_infer_set_threads(inf, threads, err);
        if (rc == 0)
            rc = run_model(inf, 32, gen, &r, err);
        if (rc == 0)
            printf("  %-24s decode %7.1f tok/s (%6.2f ms/token)  prefill %7.0f tok/s  "
                   "weights %8.2f MB (linears %7.2f, emb %7.2f, head %7.2f)  KV cache %.1f MB\n",
                   runs[i].label, r.decode_tps, 1e3 / r.decode_tps, r.prefill_tps,
                   r.info.image_bytes / 1e6, r.info.linear_bytes / 1e6, r.info.emb_bytes / 1e6,
                   r.info.head_bytes / 1e6, r.info.kv_bytes / 1e6);
        if (rc == 0 && i == 0)
            printf("  %-24s %s kernels, %.2fx smaller than fp32 (%.2f MB)\n", "", tlm_infer_kernels(inf),
                   (double)r.info.fp32_bytes / (double)r.info.image_bytes, r.info.fp32_bytes / 1e6);
        tlm_infer_free(inf);
    }
    tlm_params_free(&p);
    return rc;
}

int tlm_cmd_bench_infer(int argc, char **argv, int first)
{
    tlm_cli cli;
    tlm_err err;
    if (tlm_cli_parse(&cli, "bench infer", OPT_PRESET | OPT_THREADS | OPT_KERNEL | OPT_TOKENS,
                      argc, argv, first, &err))
        return tlm_cli_fail(&err);
    int threads = cli.threads ? atoi(cli.threads) : 0, gen = cli.tokens ? atoi(cli.tokens) : 64;
    if (threads < 0 || threads > 1024 || gen < 1 || gen > 100000) {
        tlm_errf(&err, "bench infer: --threads 0..1024, --tokens 1..100000");
        return tlm_cli_fail(&err);
    }
    const tlm_kernels *k;
    if (tlm_kernels_select(cli.kernel, &k, &err))
        return tlm_cli_fail(&err);
    tlm_blas_set_threads(1); /* one pool: the BLAS runs inside our threads */
    tlm_pool *pool;
    if (tlm_pool_create(&pool, threads ? threads : tlm_cpu_count(), &err))
        return tlm_cli_fail(&err);
    char blas[256];
    tlm_blas_describe(blas, sizeof blas);
    printf("bench infer: %d threads; kernels here:", tlm_pool_threads(pool));
    for (int id = 0; id < TLM_KERN_N; id++)
        if (tlm_kernels_get((tlm_kern_id)id))
            printf(" %s", tlm_kernels_get((tlm_kern_id)id)->name);
    printf(" (using %s); %s\n", k->name, blas);
    printf("matvec kernels (reference on this CPU kind: ggml TQ2_0 145 GFLOP/s at 1024x1024, "
           "168 at 2048x2048; fp32 matvec 52 / 28):\n");
    tlm_denormals_off();
    int shapes[][3] = {{1024, 1024, 1}, {2048, 2048, 1}, {768, 768, 1},  {2050, 768, 1},
                       {768, 2050, 1},  {2048, 2048, 8}, {30522, 768, 1}};
    quick = getenv("TLM_BENCH_QUICK") != NULL;
    for (size_t i = 0; i < (quick ? 1 : sizeof shapes / sizeof shapes[0]); i++)
        bench_shape(shapes[i][0], shapes[i][1], shapes[i][2], pool);
    tlm_pool_destroy(pool);
    const char *presets[] = {"tiny", "paper"};
    int np = 2;
    if (cli.preset) {
        presets[0] = cli.preset;
        np = 1;
    }
    for (int i = 0; i < np; i++)
        if (bench_preset(presets[i], threads, cli.kernel, gen, &err))
            return tlm_cli_fail(&err);
    return 0;
}
