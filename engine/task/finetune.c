/* finetune.c - MRPC fine-tuning of a whole model with a two-class head. */
#include "finetune.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../core/blas.h"
#include "../core/pool.h"
#include "../core/rng.h"
#include "../core/timer.h"
#include "../io/datapath.h"
#include "../io/modelfile.h"
#include "../io/tokenizer.h"
#include "../model/model.h"
#include "../train/adamw.h"
#include "mrpc.h"

void tlm_finetune_defaults(tlm_finetune_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 3;
    o->batch = 16;
    o->max_len = 0; /* the model's max_ctx, at most 128 */
    o->seed = 1;
    o->lr = 1e-4f;
    o->weight_decay = 0.01f;
    o->warmup = 0.1f;
    o->clip = 1.0f;
    o->pool = TLM_POOL_LAST;
}

/* Encoded pairs: sequence i is ids[off[i] .. off[i] + len[i]). */
typedef struct enc {
    int32_t *ids, *len;
    size_t *off;
    int *label;
    size_t n;
} enc;

typedef struct ft {
    const tlm_finetune_opts *o;
    tlm_pool *pool;
    tlm_model *m;
    tlm_tokenizer *tok;
    enc train, dev;
    float *mm, *vm;                 /* AdamW moments of the model */
    float *head, *ghead, *mh, *vh;  /* the head, its gradient and moments */
    float *dh, *pooled, *logits;
    int32_t *x, *blen;
    int *blab, *pred;
    size_t *perm;
    long step, total;
    int max_len;                    /* o->max_len, or the model's max_ctx up to 128 */
} ft;

static void enc_free(enc *e)
{
    free(e->ids), free(e->len), free(e->off), free(e->label);
}

static void ft_free(ft *f)
{
    tlm_model_free(f->m);
    tlm_tokenizer_free(f->tok);
    tlm_pool_destroy(f->pool);
    enc_free(&f->train);
    enc_free(&f->dev);
    free(f->mm), free(f->vm), free(f->head), free(f->ghead), free(f->mh), free(f->vh);
    free(f->dh), free(f->pooled), free(f->logits), free(f->x), free(f->blen), free(f->blab);
    free(f->pred), free(f->perm);
}

static int check_opts(const tlm_finetune_opts *o, tlm_err *err)
{
    if (!o->model || !o->train_path || !o->dev_path)
        return tlm_errf(err, "finetune: a model, a training file and a dev file are needed");
    if (o->epochs < 1 || o->epochs > 1000)
        return tlm_errf(err, "finetune: --epochs must be 1..1000 (got %d)", o->epochs);
    if (o->batch < 1 || o->batch > 4096)
        return tlm_errf(err, "finetune: --batch must be 1..4096 (got %d)", o->batch);
    if (o->max_len && o->max_len < 5)
        return tlm_errf(err, "finetune: --max-len must be at least 5 (got %d)", o->max_len);
    if (!(o->lr > 0 && o->lr < 1) || !isfinite(o->lr))
        return tlm_errf(err, "finetune: --lr must be in (0, 1) (got %g)", (double)o->lr);
    if (!(o->warmup >= 0 && o->warmup < 1) || !(o->weight_decay >= 0) || !(o->clip >= 0))
        return tlm_errf(err, "finetune: warm-up in [0, 1), weight decay and clip >= 0");
    return 0;
}

/* Encode pairs (the first `limit` when non-zero). */
static int encode_all(ft *f, const char *path, size_t limit, enc *e, size_t *truncated,
                      tlm_err *err)
{
    tlm_pairs p;
    if (tlm_mrpc_load(path, &p, err))
        return -1;
    size_t n = limit && limit < p.n ? limit : p.n;
    int rc = -1;
    tlm_ids ids = {0};
    e->n = n;
    e->len = tlm_calloc(n, sizeof *e->len, err);
    e->off = tlm_calloc(n, sizeof *e->off, err);
    e->label = tlm_calloc(n, sizeof *e->label, err);
    e->ids = tlm_calloc(n * (size_t)f->max_len, sizeof *e->ids, err);
    if (!e->len || !e->off || !e->label || !e->ids)
        goto out;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (tlm_pair_encode(f->tok, p.v[i].s1, p.v[i].s2, f->max_len, &ids, err)) {
            tlm_err_prefix(err, "%s: pair %zu: ", path, i + 1);
            goto out;
        }
        tlm_ids probe = {0}; /* would it have been longer? */
        if (tlm_pair_encode(f->tok, p.v[i].s1, p.v[i].s2, 1 << 20, &probe, err) == 0 &&
            probe.n > ids.n)
            (*truncated)++;
        tlm_ids_free(&probe);
        memcpy(e->ids + at, ids.v, ids.n * sizeof(int32_t));
        e->off[i] = at;
        e->len[i] = (int32_t)ids.n;
        e->label[i] = p.v[i].label;
        at += ids.n;
    }
    rc = 0;
out:
    tlm_ids_free(&ids);
    tlm_pairs_free(&p);
    return rc;
}

static int open_model(ft *f, tlm_err *err)
{
    const tlm_finetune_opts *o = f->o;
    tlm_config cfg;
    float *params = NULL;
    if (tlm_modelfile_load(o->model, NULL, &cfg, &params, err))
        return -1;
    int rc = -1;
    f->max_len = o->max_len ? o->max_len : cfg.max_ctx < 128 ? cfg.max_ctx : 128;
    if (f->max_len > cfg.max_ctx) {
        tlm_errf(err, "finetune: --max-len %d is above the model's max_ctx %d (%s)", o->max_len,
                 cfg.max_ctx, o->model);
        goto out;
    }
    char tok[4096];
    if (tlm_data_resolve(cfg.tokenizer, tok, sizeof tok, err) ||
        tlm_tokenizer_load(&f->tok, tok, err))
        goto out;
    if (tlm_tokenizer_vocab_size(f->tok) != cfg.vocab) {
        tlm_errf(err, "model %s has vocab %d but tokenizer %s has %d", o->model, cfg.vocab, tok,
                 tlm_tokenizer_vocab_size(f->tok));
        goto out;
    }
    int threads = o->threads > 0 ? o->threads : tlm_cpu_count();
    tlm_denormals_off();
    tlm_blas_set_threads(1);
    if (tlm_pool_create(&f->pool, threads > 64 ? 64 : threads, err) ||
        tlm_model_create(&f->m, &cfg, o->batch, f->max_len, f->pool, err))
        goto out;
    memcpy(f->m->p.mem, params, f->m->p.count * sizeof(float));
    rc = 0;
out:
    free(params);
    return rc;
}

static int alloc_state(ft *f, tlm_err *err)
{
    const tlm_finetune_opts *o = f->o;
    size_t P = f->m->p.count, H = tlm_cls_size(f->m->cfg.dim), D = (size_t)f->m->cfg.dim;
    size_t N = (size_t)o->batch * (size_t)f->max_len;
    f->mm = tlm_calloc_aligned(P, sizeof(float), err);
    f->vm = tlm_calloc_aligned(P, sizeof(float), err);
    f->head = tlm_calloc(H, sizeof(float), err);
    f->ghead = tlm_calloc(H, sizeof(float), err);
    f->mh = tlm_calloc(H, sizeof(float), err);
    f->vh = tlm_calloc(H, sizeof(float), err);
    f->dh = tlm_calloc(N * D, sizeof(float), err);
    f->pooled = tlm_calloc((size_t)o->batch * D, sizeof(float), err);
    f->logits = tlm_calloc((size_t)o->batch * 2, sizeof(float), err);
    f->x = tlm_calloc(N, sizeof(int32_t), err);
    f->blen = tlm_calloc((size_t)o->batch, sizeof(int32_t), err);
    f->blab = tlm_calloc((size_t)o->batch, sizeof(int), err);
    f->pred = tlm_calloc(f->dev.n, sizeof(int), err);
    f->perm = tlm_calloc(f->train.n, sizeof(size_t), err);
    if (!f->mm || !f->vm || !f->head || !f->ghead || !f->mh || !f->vh || !f->dh || !f->pooled ||
        !f->logits || !f->x || !f->blen || !f->blab || !f->pred || !f->perm)
        return -1;
    tlm_rng r;
    tlm_rng_seed(&r, (uint64_t)o->seed * 7919ULL + 3);
    for (size_t i = 0; i < 2 * D; i++) /* N(0, 0.02) as the model's own init; bias 0 */
        f->head[i] = 0.02f * tlm_rng_normal(&r);
    return 0;
}

/* Fill x (right-padded with the separator) for sequences idx[0..B); returns T. */
static int make_batch(ft *f, const enc *e, const size_t *idx, int B)
{
    int T = 1;
    for (int b = 0; b < B; b++)
        T = e->len[idx[b]] > T ? e->len[idx[b]] : T;
    int32_t pad = tlm_tokenizer_eos(f->tok);
    for (int b = 0; b < B; b++) {
        size_t i = idx[b];
        int32_t *row = f->x + (size_t)b * (size_t)T;
        memcpy(row, e->ids + e->off[i], (size_t)e->len[i] * sizeof(int32_t));
        for (int t = e->len[i]; t < T; t++)
            row[t] = pad;
        f->blen[b] = e->len[i];
        f->blab[b] = e->label[i];
    }
    return T;
}

static float lr_at(const tlm_finetune_opts *o, long step, long total)
{
    long wu = (long)(o->warmup * (float)total);
    if (step < wu)
        return o->lr * (float)(step + 1) / (float)wu;
    return o->lr * (float)(total - step) / (float)(total - wu > 0 ? total - wu : 1);
}

static double train_step(ft *f, const size_t *idx, int B, tlm_err *err)
{
    const tlm_finetune_opts *o = f->o;
    tlm_model *m = f->m;
    int D = m->cfg.dim, T = make_batch(f, &f->train, idx, B);
    const float *h = tlm_model_forward_hidden(m, f->x, B, T);
    memset(f->ghead, 0, tlm_cls_size(D) * sizeof(float));
    double loss = tlm_cls_loss(h, B, T, D, f->blen, o->pool, f->head, f->blab, f->pooled,
                               f->logits, f->dh, f->ghead);
    if (!isfinite(loss)) {
        tlm_errf(err, "finetune: the loss is not finite at step %ld (lower --lr)", f->step + 1);
        return NAN;
    }
    tlm_model_backward_hidden(m, f->dh);
    double gm = tlm_grad_norm(m->g.mem, m->g.count, f->pool);
    double gh = tlm_grad_norm(f->ghead, tlm_cls_size(D), NULL);
    float coef = tlm_clip_coef(sqrt(gm * gm + gh * gh), o->clip);
    tlm_adamw_hp hp = {lr_at(o, f->step, f->total), 0.9f, 0.999f, 1e-8f, o->weight_decay};
    tlm_adamw_update(m->p.mem, m->g.mem, f->mm, f->vm, m->p.count, f->step + 1, &hp, coef, f->pool);
    tlm_adamw_update(f->head, f->ghead, f->mh, f->vh, tlm_cls_size(D), f->step + 1, &hp, coef, NULL);
    f->step++;
    return loss;
}

static void evaluate(ft *f, tlm_cls_metrics *out)
{
    const enc *e = &f->dev;
    int D = f->m->cfg.dim;
    size_t idx[4096];
    for (size_t i = 0; i < e->n; i += (size_t)f->o->batch) {
        int B = (int)(e->n - i < (size_t)f->o->batch ? e->n - i : (size_t)f->o->batch);
        for (int b = 0; b < B; b++)
            idx[b] = i + (size_t)b;
        int T = make_batch(f, e, idx, B);
        const float *h = tlm_model_forward_hidden(f->m, f->x, B, T);
        tlm_cls_loss(h, B, T, D, f->blen, f->o->pool, f->head, NULL, f->pooled, f->logits, NULL,
                     NULL);
        for (int b = 0; b < B; b++)
            f->pred[i + (size_t)b] = f->logits[2 * b + 1] > f->logits[2 * b];
    }
    tlm_cls_score(f->pred, e->label, e->n, out);
}

static void shuffle(size_t *p, size_t n, tlm_rng *r)
{
    for (size_t i = 0; i < n; i++)
        p[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)tlm_rng_below(r, i), t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
}

static int setup(ft *f, tlm_finetune_info *info, tlm_err *err)
{
    const tlm_finetune_opts *o = f->o;
    memset(info, 0, sizeof *info);
    if (open_model(f, err) ||
        encode_all(f, o->train_path, o->limit_train, &f->train, &info->truncated, err) ||
        encode_all(f, o->dev_path, o->limit_dev, &f->dev, &info->truncated, err) ||
        alloc_state(f, err))
        return -1;
    size_t pos = 0, toks = 0;
    for (size_t i = 0; i < f->train.n; i++) {
        pos += (size_t)f->train.label[i];
        toks += (size_t)f->train.len[i];
    }
    info->n_train = f->train.n;
    info->n_dev = f->dev.n;
    info->majority_label = 2 * pos >= f->train.n;
    for (size_t i = 0; i < f->dev.n; i++)
        f->pred[i] = info->majority_label;
    tlm_cls_score(f->pred, f->dev.label, f->dev.n, &info->majority);
    info->mean_len = (double)toks / (double)f->train.n;
    info->dim = f->m->cfg.dim;
    info->vocab = f->m->cfg.vocab;
    info->max_len = f->max_len;
    info->separators = tlm_tokenizer_kind(f->tok) == TLM_TOK_WORDPIECE
                           ? "[CLS] s1 [SEP] s2 [SEP] (WordPiece)"
                           : "<s> s1 </s> s2 </s> (the BPE's BOS and EOS as separators)";
    return 0;
}

int tlm_finetune_mrpc(const tlm_finetune_opts *o, const tlm_finetune_cb *cb,
                      tlm_finetune_epoch *last, tlm_err *err)
{
    if (check_opts(o, err))
        return -1;
    ft f = {.o = o};
    tlm_finetune_info info;
    int rc = -1;
    if (setup(&f, &info, err))
        goto out;
    if (cb && cb->start)
        cb->start(cb->ctx, &info);
    long spe = (long)((f.train.n + (size_t)o->batch - 1) / (size_t)o->batch);
    f.total = spe * o->epochs;
    tlm_rng rng;
    tlm_rng_seed(&rng, (uint64_t)o->seed * 2654435761ULL + 11);
    for (int ep = 1; ep <= o->epochs; ep++) {
        double t0 = tlm_now(), sum = 0;
        shuffle(f.perm, f.train.n, &rng);
        for (long s = 0; s < spe; s++) {
            size_t i0 = (size_t)s * (size_t)o->batch;
            int B = (int)(f.train.n - i0 < (size_t)o->batch ? f.train.n - i0 : (size_t)o->batch);
            double loss = train_step(&f, f.perm + i0, B, err);
            if (isnan(loss))
                goto out;
            sum += loss;
            if (cb && cb->step)
                cb->step(cb->ctx, f.step, f.total, loss);
        }
        tlm_finetune_epoch e = {.epoch = ep, .train_loss = sum / (double)spe};
        evaluate(&f, &e.dev);
        e.seconds = tlm_now() - t0;
        if (cb && cb->epoch)
            cb->epoch(cb->ctx, &e);
        if (last)
            *last = e;
    }
    rc = 0;
out:
    ft_free(&f);
    return rc;
}
