/* test_infer.c - the packed inference model: logits against the training
 * forward (fake-quantized, same precision) on nano and tiny, the fp32 path,
 * mixed precisions, the KV cache, every kernel version, saving and mapping,
 * embedding/head storage, and packed files treated as hostile input. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "engine/core/rng.h"
#include "engine/infer/generate.h"
#include "engine/infer/infer_impl.h"
#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "engine/model/layers.h"
#include "engine/model/model.h"
#include "tests/tap.h"

static char dir[4096];

static void make_tmpdir(void)
{
    tap_make_tmpdir(dir, sizeof dir, "infer");
}

static char *tpath(char *buf, const char *name)
{
    snprintf(buf, 8192, "%s/%s", dir, name);
    return buf;
}

/* Random parameters for cfg: the model's init plus noisy norms and bias. */
static float *random_params(const tlm_config *cfg, uint64_t seed)
{
    tlm_params p;
    tlm_err err;
    if (tlm_params_alloc(&p, cfg, &err)) {
        printf("Bail out! %s\n", err.msg);
        exit(1);
    }
    tlm_params_init(&p, cfg, seed);
    tlm_rng r;
    tlm_rng_seed(&r, seed + 1);
    int n = tlm_tensor_count(cfg);
    tlm_tensor_info *t = calloc((size_t)n, sizeof *t);
    tlm_tensor_table(cfg, t);
    for (int i = 0; i < n; i++)
        if (t[i].kind == TLM_T_NORM || t[i].kind == TLM_T_HEAD_B)
            for (size_t j = 0; j < t[i].numel; j++)
                p.mem[t[i].offset + j] += 0.1f * tlm_rng_normal(&r);
    free(t);
    return p.mem;
}

static void random_tokens(int32_t *x, int n, int vocab, uint64_t seed)
{
    tlm_rng r;
    tlm_rng_seed(&r, seed);
    for (int i = 0; i < n; i++)
        x[i] = (int32_t)tlm_rng_below(&r, (uint64_t)vocab);
}

/* Training forward logits [T, V] (copied out). */
static float *train_logits(const tlm_config *cfg, const float *params, const int32_t *x, int T)
{
    tlm_model *m;
    tlm_err err;
    if (tlm_model_create(&m, cfg, 1, T, NULL, &err)) {
        printf("Bail out! %s\n", err.msg);
        exit(1);
    }
    memcpy(m->p.mem, params, m->p.count * sizeof(float));
    tlm_model_forward(m, x, NULL, 1, T, NULL, NULL);
    size_t n = (size_t)T * (size_t)cfg->vocab;
    float *out = malloc(n * sizeof(float));
    memcpy(out, m->logits, n * sizeof(float));
    tlm_model_free(m);
    return out;
}

static float *infer_logits(tlm_infer *inf, const int32_t *x, int T)
{
    tlm_err err;
    size_t n = (size_t)T * (size_t)tlm_infer_config(inf)->vocab;
    float *out = malloc(n * sizeof(float));
    tlm_infer_reset(inf);
    if (tlm_infer_forward(inf, x, T, out, 1, &err)) {
        printf("# forward: %s\n", err.msg);
        free(out);
        return NULL;
    }
    return out;
}

/* max |a - b| / max |b| */
static double rel_err(const float *a, const float *b, size_t n)
{
    double d = 0.0, m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        d = e > d ? e : d;
        m = fabs((double)b[i]) > m ? fabs((double)b[i]) : m;
    }
    return m > 0 ? d / m : d;
}

static int same(const float *a, const float *b, size_t n)
{
    return a && b && memcmp(a, b, n * sizeof(float)) == 0;
}

/* ---- against the training forward ----
 * The integer path computes (sum x_int t) * g / s where training computes the
 * float sum of (x_int / s) (t g): equal up to float rounding. Rounding can
 * move an activation that sits on a rounding tie (x * s = k + 0.5 +- 1e-6) to
 * the other integer in the next quantizer, and such a flip reaches every later
 * position through attention. So the test (1) feeds each packed linear the
 * training's own inputs (teacher forcing: every layer, every position, 1e-5),
 * (2) records every quantized activation of the packed forward and compares
 * it with training's: logits must match to 1e-4 at every position before the
 * first flip, and every flip must be a rounding tie. */

typedef struct trace_rec {
    const tlm_config *cfg;
    const tlm_model *m;  /* training's recorded activations */
    int force;           /* adopt training's decisions on rounding ties */
    int first, flips, forced, non_tie;
} trace_rec;

/* Training's float input of site s of layer l. */
static const float *site_input(const tlm_model *m, int l, int s)
{
    const tlm_block_acts *a = &m->a[l];
    return s == TLM_SITE_QKV ? a->ln1 : s == TLM_SITE_O ? a->atty : s == TLM_SITE_GATE_UP ? a->ln2 : a->act;
}

/* Compare the packed forward's quantized rows with training's: count the
 * differences (flips), note the first position, and with force adopt
 * training's value where it is a rounding tie (|x*s - midpoint| <= 1e-3). */
static void on_trace(void *ctx, int layer, int site, int pos0, int n, int8_t *q, int ld,
                     int32_t *sum)
{
    trace_rec *r = ctx;
    if (layer < 0)
        return;
    int cols = site == TLM_SITE_DOWN ? r->cfg->hidden : r->cfg->dim;
    int8_t *ref = malloc((size_t)ld);
    for (int i = 0; i < n; i++) {
        int t = pos0 + i;
        const float *x = site_input(r->m, layer, site) + (size_t)t * (size_t)cols;
        int8_t *mine = q + (size_t)i * (size_t)ld;
        float sc;
        int32_t s2;
        tlm_quant_act_row(ref, &sc, &s2, x, cols, ld);
        for (int j = 0; j < cols; j++) {
            if (ref[j] == mine[j])
                continue;
            r->flips++;
            r->first = t < r->first ? t : r->first;
            double v = (double)x[j] * (double)sc, mid = ((double)ref[j] + (double)mine[j]) / 2;
            int tie = abs(ref[j] - mine[j]) == 1 && fabs(v - mid) <= 1e-3;
            if (r->force && !tie && r->non_tie++ < 3)
                printf("# not a tie: layer %d site %d pos %d col %d: training %d (x*s = %.6f), "
                       "packed %d\n", layer, site, t, j, ref[j], v, mine[j]);
            if (r->force && tie) {
                sum[i] += ref[j] - mine[j];
                mine[j] = ref[j];
                r->forced++;
            }
        }
    }
    free(ref);
}

/* max over rows of |a - b| / max|b| of the row, for rows [0, rows). */
static double rel_rows(const float *a, const float *b, int rows, int cols)
{
    double e = 0;
    for (int i = 0; i < rows; i++) {
        double r = rel_err(a + (size_t)i * (size_t)cols, b + (size_t)i * (size_t)cols, (size_t)cols);
        e = r > e ? r : e;
    }
    return e;
}

/* Teacher forcing: each packed linear on training's recorded inputs. */
static double teacher_forced(tlm_infer *inf, const tlm_config *cfg, const tlm_model *m, int T)
{
    size_t d = (size_t)cfg->dim, h = (size_t)cfg->hidden, N = (size_t)T;
    float *y = malloc(sizeof(float) * N * (h > d ? h : d));
    int hd = cfg->dim / cfg->n_heads, half = hd / 2;
    double worst = 0;
    for (int l = 0; l < cfg->n_layers; l++) {
        const tlm_block_acts *a = &m->a[l];
        const float *next = l + 1 < cfg->n_layers ? m->a[l + 1].res : m->res_out;
        for (int j = 0; j < TLM_LIN_PER_BLOCK; j++) {
            const tlm_qmat *w = &inf->blk[l].lin[j];
            const float *in = j <= TLM_LIN_V ? a->ln1 : j == TLM_LIN_O ? a->atty : j == TLM_LIN_DOWN ? a->act : a->ln2;
            size_t cols = (size_t)w->cols, rows = (size_t)w->rows;
            for (int t0 = 0; t0 < T; t0 += inf->chunk) {
                int n = T - t0 < inf->chunk ? T - t0 : inf->chunk;
                float *yo = y + (size_t)t0 * rows;
                tlm_infer_linear(inf, w, yo, in + (size_t)t0 * cols, n);
                if (j == TLM_LIN_Q || j == TLM_LIN_K)
                    tlm_rope_forward(yo, inf->rope_cos + (size_t)t0 * (size_t)half,
                                     inf->rope_sin + (size_t)t0 * (size_t)half, 1, n, cfg->n_heads, hd);
            }
            const float *ref = j == TLM_LIN_Q ? a->q : j == TLM_LIN_K ? a->k : j == TLM_LIN_V ? a->v
                             : j == TLM_LIN_GATE ? a->gate : j == TLM_LIN_UP ? a->up
                             : j == TLM_LIN_O ? a->mid : next;
            if (j == TLM_LIN_O || j == TLM_LIN_DOWN) /* compare after the residual, as stored */
                for (size_t i = 0; i < N * d; i++)
                    y[i] += j == TLM_LIN_O ? a->res[i] : a->mid[i];
            double e = rel_rows(y, ref, T, (int)rows);
            worst = e > worst ? e : worst;
        }
    }
    free(y);
    return worst;
}

/* Packed logits vs training on preset `name` with every kernel version. */
static void test_vs_training(const char *name, const tlm_config *cfgp, int T)
{
    tlm_config cfg = *cfgp;
    tlm_err err;
    float *params = random_params(&cfg, 7);
    int32_t *x = malloc(sizeof(int32_t) * (size_t)T);
    random_tokens(x, T, cfg.vocab, 11);
    tlm_model *m;
    if (tlm_model_create(&m, &cfg, 1, T, NULL, &err)) {
        printf("Bail out! %s\n", err.msg);
        exit(1);
    }
    memcpy(m->p.mem, params, m->p.count * sizeof(float));
    tlm_model_forward(m, x, NULL, 1, T, NULL, NULL);
    size_t V = (size_t)cfg.vocab, n = (size_t)T * V;
    tlm_infer *inf;
    if (!ok(tlm_infer_from_params(&inf, &cfg, params, 0, &err) == 0, "%s: pack (%s)", name,
            err.msg))
        return;
    float *first = NULL;
    const char *names[] = {"scalar", "avx2", "avx512vnni"};
    for (int id = 0; id < TLM_KERN_N; id++) {
        if (!tlm_kernels_supported((tlm_kern_id)id))
            continue;
        tlm_infer_set_kernels(inf, names[id], &err);
        double tf = teacher_forced(inf, &cfg, m, T);
        ok(tf <= 1e-5, "%s, %s kernels: every linear of every layer on training's inputs matches "
           "training (teacher forced, rel err %.2e <= 1e-5)", name, names[id], tf);
        /* free running: exact up to the first rounding-tie flip */
        trace_rec fr = {&cfg, m, 0, T, 0, 0, 0};
        inf->trace = on_trace;
        inf->trace_ctx = &fr;
        float *got = infer_logits(inf, x, T);
        double pre = got && fr.first > 0 ? rel_rows(got, m->logits, fr.first, (int)V) : 0;
        double all = got ? rel_rows(got, m->logits, T, (int)V) : 1;
        /* following training's decisions on ties: exact everywhere */
        trace_rec fo = {&cfg, m, 1, T, 0, 0, 0};
        inf->trace_ctx = &fo;
        float *forced = infer_logits(inf, x, T);
        inf->trace = NULL;
        double e = forced ? rel_rows(forced, m->logits, T, (int)V) : 1;
        ok(forced && e <= 1e-4 && fo.non_tie == 0,
           "%s, %d tokens, %s kernels: logits match the training forward at every position "
           "(rel err %.2e <= 1e-4) once %d activation(s) on a rounding tie (|x*s - k.5| <= 1e-3) "
           "take training's side", name, T, names[id], e, fo.forced);
        ok(got && pre <= 1e-4,
           "%s, %s kernels, free running: %.2e before the first tie flip (position %d of %d), "
           "%.1e after it", name, names[id], pre, fr.first, T, all);
        free(forced);
        if (!first)
            first = got;
        else {
            ok(same(first, got, n), "%s: %s logits are bit-identical to the scalar kernels'", name,
               names[id]);
            free(got);
        }
    }
    free(first);
    tlm_infer_free(inf);
    tlm_model_free(m);
    free(x), free(params);
}

/* The fp32 path equals the training forward with every linear in fp32; mixed
 * ternary/int8/fp32 precisions equal training in the same precisions. */
static void test_precisions(void)
{
    tlm_config cfg, all32;
    tlm_err err;
    tlm_config_preset(&cfg, "tiny", &err);
    int T = 70;
    float *params = random_params(&cfg, 21);
    int32_t x[70];
    random_tokens(x, T, cfg.vocab, 22);
    size_t n = (size_t)T * (size_t)cfg.vocab;
    all32 = cfg;
    tlm_config_set_precision(&all32, "all", TLM_PREC_FP32, &err);
    float *ref = train_logits(&all32, params, x, T);
    tlm_infer *inf;
    tlm_infer_info info;
    if (tlm_infer_from_params(&inf, &cfg, params, 1, &err) == 0) {
        float *got = infer_logits(inf, x, T);
        double e = got ? rel_err(got, ref, n) : 1;
        tlm_infer_describe(inf, &info);
        ok(got && e <= 1e-5 && info.fp32 && info.n_fp32 == 7 * cfg.n_layers,
           "fp32 path equals the all-fp32 training forward (rel err %.2e)", e);
        free(got);
        tlm_infer_free(inf);
    } else {
        ok(0, "fp32 path: %s", err.msg);
    }
    free(ref);
    free(params);
    tlm_config mix = cfg;
    tlm_config_set_precision(&mix, "L0-1.attn.*", TLM_PREC_INT8, &err);
    tlm_config_set_precision(&mix, "*.mlp.down", TLM_PREC_INT8, &err);
    tlm_config_set_precision(&mix, "L3.attn.k", TLM_PREC_FP32, &err);
    tlm_config_set_precision(&mix, "L5.mlp.*", TLM_PREC_FP32, &err);
    params = random_params(&mix, 21);
    if (tlm_infer_from_params(&inf, &mix, params, 0, &err) == 0) {
        tlm_infer_describe(inf, &info);
        ok(info.n_ternary == 25 && info.n_int8 == 13 && info.n_fp32 == 4,
           "mixed: %d ternary, %d int8, %d fp32 linears as configured", info.n_ternary,
           info.n_int8, info.n_fp32);
        tlm_infer_free(inf);
    }
    free(params);
    test_vs_training("tiny mixed ternary/int8/fp32", &mix, 70);
}

/* The KV cache: prefill then one token at a time equals one batch; threads. */
static void test_kv_cache(void)
{
    tlm_config cfg;
    tlm_err err;
    tlm_config_preset(&cfg, "tiny", &err);
    float *params = random_params(&cfg, 31);
    int T = 90;
    int32_t x[90];
    random_tokens(x, T, cfg.vocab, 32);
    tlm_infer *inf;
    if (tlm_infer_from_params(&inf, &cfg, params, 0, &err)) {
        ok(0, "kv: %s", err.msg);
        return;
    }
    size_t V = (size_t)cfg.vocab;
    float *all = infer_logits(inf, x, T), *step = malloc(V * sizeof(float));
    int good = all != NULL;
    tlm_infer_reset(inf);
    good &= tlm_infer_forward(inf, x, 10, step, 0, &err) == 0;
    good &= same(step, all + 9 * V, V);
    for (int t = 10; t < T && good; t++) {
        good &= tlm_infer_forward(inf, x + t, 1, step, 0, &err) == 0;
        good &= same(step, all + (size_t)t * V, V);
    }
    ok(good && tlm_infer_position(inf) == T,
       "prefill of 10 then 80 single steps gives the batch logits bit for bit");
    tlm_infer_set_threads(inf, 1, &err);
    float *one = infer_logits(inf, x, T);
    tlm_infer_set_threads(inf, 3, &err);
    float *three = infer_logits(inf, x, T);
    ok(same(one, all, (size_t)T * V) && same(three, all, (size_t)T * V),
       "1 and 3 threads give the same logits");
    free(one), free(three);
    /* the context limit */
    tlm_infer_reset(inf);
    int32_t *big = calloc((size_t)cfg.max_ctx + 1, sizeof(int32_t));
    int rc = tlm_infer_forward(inf, big, cfg.max_ctx + 1, NULL, 0, &err);
    ok(rc == -1 && strstr(err.msg, "context") && strstr(err.msg, "512") &&
           tlm_infer_position(inf) == 0,
       "passing max_ctx is an error naming the limit: %s", err.msg);
    rc = tlm_infer_forward(inf, big, cfg.max_ctx, NULL, 0, &err);
    int rc2 = tlm_infer_forward(inf, big, 1, NULL, 0, &err);
    ok(rc == 0 && rc2 == -1 && tlm_infer_position(inf) == cfg.max_ctx,
       "max_ctx tokens fit (RoPE table to the end), one more does not");
    int32_t bad = cfg.vocab;
    tlm_infer_reset(inf);
    ok(tlm_infer_forward(inf, &bad, 1, NULL, 0, &err) == -1 && strstr(err.msg, "token id"),
       "a token id out of range is an error: %s", err.msg);
    free(big), free(all), free(step), free(params);
    tlm_infer_free(inf);
}

/* Saving, mapping, other model files, embedding/head storage. */
static void test_files(void)
{
    tlm_config cfg;
    tlm_err err;
    char p1[8192], p2[8192], p3[8192], p4[8192];
    tlm_config_preset(&cfg, "nano", &err);
    float *params = random_params(&cfg, 41);
    int T = 30;
    int32_t x[30];
    random_tokens(x, T, cfg.vocab, 42);
    size_t n = (size_t)T * (size_t)cfg.vocab;
    tlm_infer *a, *b;
    tlm_infer_from_params(&a, &cfg, params, 0, &err);
    ok(tlm_infer_save(a, tpath(p1, "nano.tlmp"), &err) == 0, "save a packed model (%s)", err.msg);
    ok(tlm_infer_sniff(p1), "the saved file sniffs as packed");
    int rc = tlm_infer_open(&b, p1, 0, &err);
    if (!ok(rc == 0, "open it (%s)", rc ? err.msg : "mapped"))
        return;
    tlm_infer_info ia, ib;
    tlm_infer_describe(a, &ia);
    tlm_infer_describe(b, &ib);
    float *la = infer_logits(a, x, T), *lb = infer_logits(b, x, T);
    ok(same(la, lb, n) && ib.mapped && ib.image_bytes == ia.image_bytes,
       "the mapped file gives the in-memory logits bit for bit (%zu bytes)", ib.image_bytes);
    struct stat st;
    stat(p1, &st);
    ok((size_t)st.st_size == ia.image_bytes, "file size = image size");
    printf("# nano packed %zu bytes vs fp32 %zu; linears %zu, emb %zu, head %zu\n", ia.image_bytes,
           ia.fp32_bytes, ia.linear_bytes, ia.emb_bytes, ia.head_bytes);
    tlm_infer_free(b);
    /* a checkpoint and a safetensors file pack on load */
    tlm_ckpt ck = {0};
    ck.cfg = cfg;
    tlm_params pp;
    tlm_params_alloc(&pp, &cfg, &err);
    ck.count = pp.count;
    ck.params = params;
    ck.m = pp.mem;
    ck.v = pp.mem;
    int s1 = tlm_ckpt_save(tpath(p2, "nano.tlmc"), &ck, &err);
    int s2 = tlm_safetensors_save(tpath(p3, "nano.safetensors"), &cfg, params, &err);
    tlm_params_free(&pp);
    tlm_infer *c = NULL, *d = NULL;
    int o1 = s1 == 0 ? tlm_infer_open(&c, p2, 0, &err) : -1;
    float *lc = o1 == 0 ? infer_logits(c, x, T) : NULL;
    ok(o1 == 0 && same(la, lc, n), "a training checkpoint packs on load to the same logits");
    int o2 = s2 == 0 ? tlm_infer_open(&d, p3, 0, &err) : -1;
    float *ld = o2 == 0 ? infer_logits(d, x, T) : NULL;
    ok(o2 == 0 && same(la, ld, n), "a safetensors file packs on load to the same logits");
    tlm_infer_free(c), tlm_infer_free(d);
    free(lc), free(ld);
    /* --fp32 on a packed file: ternary expanded to t*g and run unquantized */
    tlm_infer *e = NULL;
    rc = tlm_infer_open(&e, p1, 1, &err);
    tlm_infer_info ie;
    if (rc == 0)
        tlm_infer_describe(e, &ie);
    float *le = rc == 0 ? infer_logits(e, x, T) : NULL;
    double de = le ? rel_err(le, la, n) : 1;
    ok(rc == 0 && ie.fp32 && !ie.mapped && de < 0.05,
       "fp32 on a packed file runs its weights unquantized (differs from int8 activations by %.2e)",
       de);
    free(le);
    tlm_infer_free(e);
    /* embedding/head storage */
    const char *fmts[] = {"int8", "fp16"};
    for (int i = 0; i < 2; i++) {
        tlm_pack_opts po = {(tlm_store)tlm_store_parse(fmts[i]), (tlm_store)tlm_store_parse(fmts[i])};
        tlm_infer *f = NULL, *g = NULL;
        tlm_infer_info fi;
        rc = tlm_infer_from_params_ex(&f, &cfg, params, 0, &po, &err);
        if (!ok(rc == 0, "pack with %s embedding and head (%s)", fmts[i], rc ? err.msg : "ok"))
            continue;
        tlm_infer_describe(f, &fi);
        float *lf = infer_logits(f, x, T);
        double e2 = rel_err(lf, la, n);
        ok(e2 < (i ? 3e-2 : 1e-1) && fi.image_bytes < ia.image_bytes && fi.emb == po.emb,
           "%s embedding+head: logits within %.2e of fp32 ones, %zu bytes vs %zu", fmts[i], e2,
           fi.image_bytes, ia.image_bytes);
        tlm_infer_save(f, tpath(p4, "q.tlmp"), &err);
        rc = tlm_infer_open(&g, p4, 0, &err);
        float *lg = rc == 0 ? infer_logits(g, x, T) : NULL;
        ok(rc == 0 && same(lf, lg, n), "%s embedding+head survive save and open", fmts[i]);
        free(lf), free(lg);
        tlm_infer_free(f), tlm_infer_free(g);
    }
    /* not a model */
    FILE *fp = fopen(tpath(p4, "text.txt"), "w");
    fputs("hello world, this is not a model\n", fp);
    fclose(fp);
    rc = tlm_infer_open(&b, p4, 0, &err);
    ok(rc == -1 && strstr(err.msg, "not a packed model") && strstr(err.msg, p4),
       "a text file is refused, naming the file: %s", err.msg);
    rc = tlm_infer_open(&b, tpath(p4, "missing.tlmp"), 0, &err);
    ok(rc == -1 && strstr(err.msg, "missing.tlmp"), "a missing file: %s", err.msg);
    free(la), free(lb), free(params);
    tlm_infer_free(a);
}

/* ---- hostile packed files ---- */

static unsigned char *img;
static size_t img_n;

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void wr32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void fix_header_crc(unsigned char *b)
{
    uint32_t H = rd32(b + 12);
    wr32(b + H, (uint32_t)crc32_z(crc32_z(0, NULL, 0), b, H));
}

/* Write b[0..n) and try to open it; returns the open's status (err filled). */
static int try_open(const unsigned char *b, size_t n, tlm_err *err)
{
    char p[8192];
    FILE *f = fopen(tpath(p, "hostile.tlmp"), "wb");
    if (n)
        fwrite(b, 1, n, f);
    fclose(f);
    tlm_infer *inf = NULL;
    int rc = tlm_infer_open(&inf, p, 0, err);
    tlm_infer_free(inf);
    return rc;
}

static unsigned char *copy(void)
{
    unsigned char *b = malloc(img_n);
    memcpy(b, img, img_n);
    return b;
}

/* Offset of record i of the tensor table. */
static size_t rec(int i)
{
    return rd32(img + 32) + (size_t)i * TLM_PACK_REC;
}

static int find_tensor(const tlm_config *cfg, const char *name)
{
    int n = tlm_tensor_count(cfg);
    tlm_tensor_info *t = calloc((size_t)n, sizeof *t);
    tlm_tensor_table(cfg, t);
    int k = tlm_tensor_find(cfg, t, name);
    free(t);
    return k;
}

/* Change a tensor's bytes, then make every checksum agree again. */
static void fix_tensor_crc(unsigned char *b, int i)
{
    uint64_t off, bytes;
    memcpy(&off, b + rec(i) + 16, 8);
    memcpy(&bytes, b + rec(i) + 24, 8);
    wr32(b + rec(i) + 36, (uint32_t)crc32_z(crc32_z(0, NULL, 0), b + off, (size_t)bytes));
    fix_header_crc(b);
}

static void expect_reject(unsigned char *b, size_t n, const char *want, const char *what)
{
    tlm_err err = {{0}};
    int rc = try_open(b, n, &err);
    ok(rc == -1 && (!want || strstr(err.msg, want)), "%s is rejected: %s", what, err.msg);
}

static void test_hostile(void)
{
    tlm_config cfg;
    tlm_err err;
    char p[8192];
    tlm_config_preset(&cfg, "nano", &err);
    tlm_config_set_precision(&cfg, "L0.attn.q", TLM_PREC_INT8, &err);
    tlm_config_set_precision(&cfg, "L1.mlp.up", TLM_PREC_FP32, &err);
    float *params = random_params(&cfg, 51);
    tlm_pack_opts po = {TLM_STORE_INT8, TLM_STORE_FP16};
    tlm_infer *inf;
    tlm_infer_from_params_ex(&inf, &cfg, params, 0, &po, &err);
    tlm_infer_save(inf, tpath(p, "base.tlmp"), &err);
    tlm_infer_free(inf);
    free(params);
    FILE *f = fopen(p, "rb");
    fseek(f, 0, SEEK_END);
    img_n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    img = malloc(img_n);
    if (fread(img, 1, img_n, f) != img_n)
        img_n = 0;
    fclose(f);
    ok(try_open(img, img_n, &err) == 0, "the untouched file (int8, fp32, fp16 tensors) opens");
    /* truncation anywhere */
    int good = 1;
    size_t cuts[] = {0, 1, 7, 8, 63, 64, 67, 200, rd32(img + 12), rd32(img + 12) + 4,
                     img_n / 3, img_n / 2, img_n - 64, img_n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        good &= try_open(img, cuts[i], &err) == -1;
    ok(good, "truncated at %zu points (empty to one byte short): all rejected",
       sizeof cuts / sizeof cuts[0]);
    unsigned char *b = malloc(img_n + 64);
    memcpy(b, img, img_n);
    memset(b + img_n, 0, 64);
    expect_reject(b, img_n + 64, "truncated or extended", "a file with 64 extra bytes");
    free(b);
    /* bit flips anywhere: header, table, padding, every tensor */
    good = 1;
    tlm_rng r;
    tlm_rng_seed(&r, 99);
    int flips = 0;
    for (size_t pos = 0; pos < img_n; pos += pos < 4096 ? 37 : img_n / 150, flips++) {
        b = copy();
        b[pos] ^= (unsigned char)(1u << tlm_rng_below(&r, 8));
        good &= try_open(b, img_n, &err) == -1;
        free(b);
    }
    ok(good, "%d single-bit flips across the file: all rejected", flips);
    /* fields changed with a valid header checksum */
    b = copy();
    wr32(b + 8, TLM_PACK_VERSION + 1);
    fix_header_crc(b);
    expect_reject(b, img_n, "newer", "a future version");
    free(b);
    b = copy();
    wr32(b + 8, 0);
    fix_header_crc(b);
    expect_reject(b, img_n, "version", "version 0");
    free(b);
    b = copy();
    b[0] = 'X';
    expect_reject(b, img_n, "not a packed model", "a bad magic");
    free(b);
    int q0 = find_tensor(&cfg, "L0.attn.q"), k0 = find_tensor(&cfg, "L0.attn.k");
    b = copy();
    wr32(b + rec(k0) + 8, rd32(b + rec(k0) + 8) + 1); /* rows */
    fix_header_crc(b);
    expect_reject(b, img_n, "shape", "a tensor with a wrong row count");
    free(b);
    b = copy();
    wr32(b + rec(k0) + 24, rd32(b + rec(k0) + 24) - 16); /* bytes */
    fix_header_crc(b);
    expect_reject(b, img_n, "bytes", "a tensor with a wrong byte count");
    free(b);
    b = copy();
    wr32(b + rec(k0) + 16, rd32(b + rec(k0) + 16) + 64); /* offset */
    fix_header_crc(b);
    expect_reject(b, img_n, "offset", "a tensor at a shifted offset");
    free(b);
    b = copy();
    wr32(b + rec(k0) + 16, 0xfffffff0u);
    b[rec(k0) + 20] = 0xff; /* offset near 2^64 */
    fix_header_crc(b);
    expect_reject(b, img_n, NULL, "a tensor offset near 2^64");
    free(b);
    b = copy();
    wr32(b + rec(k0) + 4, 2); /* ternary layer claims int8 */
    fix_header_crc(b);
    expect_reject(b, img_n, "does not allow", "a layer stored in another precision than its config");
    free(b);
    b = copy();
    wr32(b + rec(k0) + 32, 0x7fc00000u); /* g = NaN */
    fix_header_crc(b);
    expect_reject(b, img_n, "scale", "a NaN ternary scale");
    free(b);
    b = copy();
    wr32(b + 24, rd32(b + 24) + 1); /* tensor count */
    fix_header_crc(b);
    expect_reject(b, img_n, NULL, "a wrong tensor count");
    free(b);
    b = copy();
    wr32(b + 12, 0xffffffffu); /* header size */
    expect_reject(b, img_n, "header", "a huge header size");
    free(b);
    /* contents with valid checksums */
    uint64_t off;
    b = copy();
    memcpy(&off, b + rec(k0) + 16, 8);
    b[off + 5] |= 0x0c; /* code 3 */
    fix_tensor_crc(b, k0);
    expect_reject(b, img_n, "code 3", "a ternary code 3");
    free(b);
    b = copy();
    memcpy(&off, b + rec(q0) + 16, 8);
    b[off + (size_t)(cfg.dim * 4 + 63) / 64 * 64 + 3] = 0x80; /* -128, after the row scales */
    fix_tensor_crc(b, q0);
    expect_reject(b, img_n, "-128", "an int8 weight of -128");
    free(b);
    b = copy();
    memcpy(&off, b + rec(q0) + 16, 8);
    wr32(b + off + 4, 0xff800000u); /* a row scale of -inf */
    fix_tensor_crc(b, q0);
    expect_reject(b, img_n, "scale", "an int8 row scale of -inf");
    free(b);
    b = copy();
    size_t cfg_at = TLM_PACK_FIXED;
    char *dimkey = memmem(b + cfg_at, rd32(b + 28), "dim=64", 6);
    if (dimkey)
        dimkey[4] = '9'; /* dim=94: not a multiple of the heads' size */
    fix_header_crc(b);
    expect_reject(b, img_n, NULL, "a stored config that does not match the tensors");
    free(b);
    free(img);
}

int main(void)
{
    make_tmpdir();
    tlm_config cfg;
    tlm_err err;
    tlm_config_preset(&cfg, "nano", &err);
    test_vs_training("nano", &cfg, 40);
    tlm_config_preset(&cfg, "tiny", &err);
    test_vs_training("tiny", &cfg, 100);
    test_precisions();
    test_kv_cache();
    test_files();
    test_hostile();
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
