/* trainer.c - the training step, evaluation and resumable state. */
#include "trainer.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../core/blas.h"
#include "../core/timer.h"
#include "../io/datapath.h"
#include "adamw.h"

static int open_tokenizer(tlm_trainer *tr, tlm_err *err)
{
    char path[4096];
    if (tlm_data_resolve(tr->cfg.tokenizer, path, sizeof path, err))
        return tlm_err_prefix(err, "tokenizer: ");
    if (tlm_tokenizer_load(&tr->tok, path, err))
        return -1;
    int v = tlm_tokenizer_vocab_size(tr->tok);
    if (v != tr->cfg.vocab)
        return tlm_errf(err, "config key 'vocab' is %d but tokenizer %s has %d tokens", tr->cfg.vocab,
                        path, v);
    return 0;
}

static int open_data(tlm_trainer *tr, tlm_err *err)
{
    char path[8192], cache[4096];
    if (tlm_cache_dir(cache, sizeof cache, err))
        return -1;
    if (tlm_data_resolve(tr->cfg.train_data, path, sizeof path, err))
        return tlm_err_prefix(err, "training data: ");
    if (tlm_dataset_open(&tr->train, path, tr->tok, cache, err))
        return -1;
    if (tlm_dataset_size(tr->train) <= (size_t)tr->cfg.ctx + 1)
        return tlm_errf(err, "training data %s: %zu tokens is too few for ctx %d", path,
                        tlm_dataset_size(tr->train), tr->cfg.ctx);
    if (!tr->cfg.val_data[0])
        return 0;
    if (tlm_data_resolve(tr->cfg.val_data, path, sizeof path, err))
        return tlm_err_prefix(err, "validation data: ");
    if (tlm_dataset_open(&tr->val, path, tr->tok, cache, err))
        return -1;
    if (tlm_dataset_size(tr->val) <= (size_t)tr->cfg.ctx + 1)
        return tlm_errf(err, "validation data %s: too few tokens for ctx %d", path, tr->cfg.ctx);
    return 0;
}

int tlm_trainer_create(tlm_trainer **out, const tlm_config *cfg, tlm_err *err)
{
    if (tlm_config_validate(cfg, err))
        return -1;
    tlm_trainer *tr = tlm_calloc(1, sizeof *tr, err);
    if (!tr)
        return -1;
    tr->cfg = *cfg;
    int threads = cfg->threads > 0 ? cfg->threads : tlm_cpu_count();
    if (threads > 64)
        threads = 64;
    tlm_denormals_off();
    tlm_blas_set_threads(1); /* one pool: the BLAS runs inside our threads */
    size_t N = (size_t)cfg->batch * (size_t)cfg->ctx;
    if (open_tokenizer(tr, err) || open_data(tr, err) ||
        tlm_pool_create(&tr->pool, threads, err) ||
        tlm_model_create(&tr->model, cfg, cfg->batch, cfg->ctx, tr->pool, err))
        goto fail;
    tr->m = tlm_calloc_aligned(tr->model->p.count, sizeof(float), err);
    tr->v = tlm_calloc_aligned(tr->model->p.count, sizeof(float), err);
    tr->x = tlm_calloc(N, sizeof(int32_t), err);
    tr->y = tlm_calloc(N, sizeof(int32_t), err);
    if (!tr->m || !tr->v || !tr->x || !tr->y)
        goto fail;
    tlm_params_init(&tr->model->p, cfg, (uint64_t)cfg->seed);
    tlm_rng_seed(&tr->data_rng, (uint64_t)cfg->seed * 2654435761ULL + 1);
    tlm_rng_seed(&tr->aux_rng, (uint64_t)cfg->seed * 40503ULL + 7);
    *out = tr;
    return 0;
fail:
    tlm_trainer_free(tr);
    return -1;
}

int tlm_trainer_restore(tlm_trainer *tr, const tlm_ckpt *ck, tlm_err *err)
{
    const tlm_config *a = &tr->cfg, *b = &ck->cfg;
    if (a->dim != b->dim || a->n_layers != b->n_layers || a->n_heads != b->n_heads ||
        a->hidden != b->hidden || a->vocab != b->vocab)
        return tlm_errf(err, "checkpoint architecture (dim %d, layers %d, heads %d, hidden %d, vocab %d) "
                        "differs from the run's", b->dim, b->n_layers, b->n_heads, b->hidden, b->vocab);
    if (ck->count != tr->model->p.count)
        return tlm_errf(err, "checkpoint holds %zu parameters, model has %zu", ck->count,
                        tr->model->p.count);
    if (ck->tokenizer_hash && ck->tokenizer_hash != tlm_tokenizer_hash(tr->tok))
        return tlm_errf(err, "checkpoint was trained with a different tokenizer than %s",
                        tr->cfg.tokenizer);
    size_t hn = ck->history_n;
    tlm_metric_row *h = NULL;
    if (hn) {
        h = tlm_calloc(hn, sizeof *h, err);
        if (!h)
            return -1;
        memcpy(h, ck->history, hn * sizeof *h);
    }
    memcpy(tr->model->p.mem, ck->params, ck->count * sizeof(float));
    memcpy(tr->m, ck->m, ck->count * sizeof(float));
    memcpy(tr->v, ck->v, ck->count * sizeof(float));
    memcpy(tr->cfg.prec, b->prec, sizeof tr->cfg.prec);
    tr->model->cfg = tr->cfg;
    tr->step = ck->step;
    tr->tokens = ck->tokens;
    tr->data_rng = ck->data_rng;
    tr->aux_rng = ck->aux_rng;
    free(tr->history);
    tr->history = h;
    tr->history_n = tr->history_cap = hn;
    return 0;
}

void tlm_trainer_snapshot(const tlm_trainer *tr, tlm_ckpt *ck)
{
    memset(ck, 0, sizeof *ck);
    ck->cfg = tr->cfg;
    ck->count = tr->model->p.count;
    ck->params = tr->model->p.mem;
    ck->m = tr->m;
    ck->v = tr->v;
    ck->step = tr->step;
    ck->tokens = tr->tokens;
    ck->data_rng = tr->data_rng;
    ck->aux_rng = tr->aux_rng;
    ck->tokenizer_hash = tlm_tokenizer_hash(tr->tok);
    ck->history = tr->history;
    ck->history_n = tr->history_n;
}

/* Data parallelism: this rank's windows [lo, lo+B) of a global batch of
 * size*B drawn exactly as tlm_dataset_sample draws size*B windows, so the
 * ranks together see what one process with batch size*B sees. */
static void sample_slice(tlm_trainer *tr, int B, int T)
{
    const tlm_dataset *ds = tr->train;
    size_t n = tlm_dataset_size(ds), t = (size_t)T;
    int lo = tr->par->rank * B, all = tr->par->size * B;
    tlm_rng *rng = &tr->data_rng;
    if (n <= t) { /* never: tlm_trainer_create checks the size */
        memset(tr->x, 0, (size_t)B * t * sizeof *tr->x);
        memset(tr->y, 0, (size_t)B * t * sizeof *tr->y);
        return;
    }
    for (int b = 0; b < all; b++) {
        size_t s = (size_t)tlm_rng_below(rng, (uint64_t)(n - t));
        if (b < lo || b >= lo + B)
            continue;
        memcpy(tr->x + (size_t)(b - lo) * t, tlm_dataset_tokens(ds) + s, t * sizeof *tr->x);
        memcpy(tr->y + (size_t)(b - lo) * t, tlm_dataset_tokens(ds) + s + 1, t * sizeof *tr->y);
    }
}

int tlm_trainer_step(tlm_trainer *tr, tlm_step_stats *st, tlm_err *err)
{
    const tlm_config *c = &tr->cfg;
    tlm_model *m = tr->model;
    double t0 = tlm_now();
    if (tr->par)
        sample_slice(tr, c->batch, c->ctx);
    else
        tlm_dataset_sample(tr->train, &tr->data_rng, c->batch, c->ctx, tr->x, tr->y);
    m->defer_loss = 1; /* the head's loss comes with its gradient in backward */
    tlm_model_forward(m, tr->x, tr->y, c->batch, c->ctx, NULL, NULL);
    tlm_model_backward(m);
    m->defer_loss = 0;
    double loss = m->loss, nll = m->nll;
    if (tr->par) { /* data parallelism: mean gradient and losses over the ranks */
        double sc[2] = {loss, nll};
        if (tr->par->reduce(tr->par->ctx, m->g.mem, m->g.count, sc, 2, err))
            return tlm_err_prefix(err, "step %lld: ", (long long)tr->step + 1);
        loss = sc[0];
        nll = sc[1];
    }
    if (!isfinite(loss))
        return tlm_errf(err, "training loss is %s at step %lld (lr %g): stopping; lower 'lr' or "
                        "check the data", isnan(loss) ? "NaN" : "infinite",
                        (long long)tr->step + 1, (double)tlm_onecycle_lr(c->lr, c->warmup, tr->step, c->steps));
    double t_opt = tlm_now();
    /* clipping is folded into AdamW: the gradient stays as computed */
    double gnorm = tlm_grad_norm(m->g.mem, m->g.count, tr->pool);
    if (!isfinite(gnorm))
        return tlm_errf(err, "gradient norm is not finite at step %lld", (long long)tr->step + 1);
    tlm_adamw_hp hp = {tlm_onecycle_lr(c->lr, c->warmup, tr->step, c->steps), c->beta1, c->beta2,
                       c->adam_eps, c->weight_decay};
    tlm_adamw_update(m->p.mem, m->g.mem, tr->m, tr->v, m->p.count, tr->step + 1, &hp,
                     tlm_clip_coef(gnorm, c->clip), tr->pool);
    m->phase_s[TLM_PH_OPT] += tlm_now() - t_opt;
    tr->step++;
    tr->tokens += (double)c->batch * (double)c->ctx * (tr->par ? tr->par->size : 1);
    if (st) {
        st->step = tr->step;
        st->loss = loss;
        st->nll = nll;
        st->grad_norm = gnorm;
        st->lr = hp.lr;
        st->seconds = tlm_now() - t0;
        st->tokens = tr->tokens;
    }
    return 0;
}

int tlm_model_eval(tlm_model *m, const tlm_dataset *ds, size_t max_windows, int32_t *x,
                   int32_t *y, double *nll, double *smoothed, size_t *windows, tlm_err *err)
{
    int B = m->cap_B, T = m->cap_T;
    size_t want = tlm_dataset_window(ds, 0, T, x, y);
    if (max_windows && want > max_windows)
        want = max_windows;
    if (want == 0)
        return tlm_errf(err, "evaluation data too short for one window of %d tokens", T);
    double sum_nll = 0.0, sum_loss = 0.0;
    size_t done = 0;
    while (done < want) {
        int b = 0;
        for (; b < B && done + (size_t)b < want; b++)
            tlm_dataset_window(ds, done + (size_t)b, T, x + (size_t)b * (size_t)T,
                               y + (size_t)b * (size_t)T);
        double l, n;
        tlm_model_forward(m, x, y, b, T, &l, &n);
        sum_nll += n * b;
        sum_loss += l * b;
        done += (size_t)b;
    }
    *nll = sum_nll / (double)done;
    if (smoothed)
        *smoothed = sum_loss / (double)done;
    if (windows)
        *windows = done;
    return 0;
}

int tlm_trainer_eval(tlm_trainer *tr, double *nll, double *smoothed, tlm_err *err)
{
    const tlm_dataset *ds = tr->val ? tr->val : tr->train;
    size_t max = (size_t)tr->cfg.eval_batches * (size_t)tr->cfg.batch *
                 (size_t)(tr->par ? tr->par->size : 1); /* data parallelism: the global batch */
    return tlm_model_eval(tr->model, ds, max, tr->x, tr->y, nll, smoothed, NULL, err);
}

int tlm_trainer_record(tlm_trainer *tr, const tlm_metric_row *row, tlm_err *err)
{
    if (tr->history_n == tr->history_cap) {
        size_t cap = tr->history_cap ? tr->history_cap * 2 : 256;
        tlm_metric_row *h = realloc(tr->history, cap * sizeof *h);
        if (!h)
            return tlm_errf(err, "out of memory for metrics history");
        tr->history = h;
        tr->history_cap = cap;
    }
    tr->history[tr->history_n++] = *row;
    return 0;
}

void tlm_trainer_free(tlm_trainer *tr)
{
    if (!tr)
        return;
    tlm_model_free(tr->model);
    tlm_pool_destroy(tr->pool);
    tlm_dataset_close(tr->train);
    tlm_dataset_close(tr->val);
    tlm_tokenizer_free(tr->tok);
    free(tr->m);
    free(tr->v);
    free(tr->x);
    free(tr->y);
    free(tr->history);
    free(tr);
}

double tlm_unigram_entropy(const tlm_dataset *ds, int vocab)
{
    size_t n = tlm_dataset_size(ds);
    const int32_t *t = tlm_dataset_tokens(ds);
    uint64_t *cnt = calloc((size_t)vocab, sizeof *cnt);
    if (!cnt || n == 0) {
        free(cnt);
        return NAN;
    }
    for (size_t i = 0; i < n; i++)
        if (t[i] >= 0 && t[i] < vocab)
            cnt[t[i]]++;
    double h = 0.0;
    for (int v = 0; v < vocab; v++)
        if (cnt[v]) {
            double p = (double)cnt[v] / (double)n;
            h -= p * log(p);
        }
    free(cnt);
    return h;
}

/* ---- run-time changes between steps ---- */

int tlm_trainer_reserve(tlm_trainer *tr, int batch, tlm_err *err)
{
    tlm_model *old = tr->model;
    if (batch <= old->cap_B)
        return 0;
    tlm_config c = tr->cfg;
    c.batch = batch;
    if (tlm_config_validate(&c, err))
        return -1;
    size_t N = (size_t)batch * (size_t)old->cap_T;
    tlm_model *m = NULL;
    if (tlm_model_create(&m, &old->cfg, batch, old->cap_T, tr->pool, err))
        return tlm_err_prefix(err, "room for batch %d: ", batch);
    int32_t *x = tlm_calloc(N, sizeof(int32_t), err);
    int32_t *y = x ? tlm_calloc(N, sizeof(int32_t), err) : NULL;
    if (!y) {
        free(x);
        tlm_model_free(m);
        return tlm_err_prefix(err, "room for batch %d: ", batch);
    }
    memcpy(m->p.mem, old->p.mem, old->p.count * sizeof(float));
    tlm_model_free(old);
    free(tr->x);
    free(tr->y);
    tr->model = m;
    tr->x = x;
    tr->y = y;
    return 0;
}

/* Name of the first key the run is built on that differs between a and b. */
static const char *fixed_key_changed(const tlm_config *a, const tlm_config *b)
{
    if (a->dim != b->dim)
        return "dim";
    if (a->n_layers != b->n_layers)
        return "layers";
    if (a->n_heads != b->n_heads)
        return "heads";
    if (a->hidden != b->hidden)
        return "hidden";
    if (a->vocab != b->vocab)
        return "vocab";
    if (a->ctx != b->ctx)
        return "ctx";
    if (a->max_ctx != b->max_ctx)
        return "max_ctx";
    if (a->threads != b->threads)
        return "threads";
    if (a->recompute != b->recompute)
        return "recompute";
    if (strcmp(a->tokenizer, b->tokenizer))
        return "tokenizer";
    if (strcmp(a->train_data, b->train_data))
        return "train_data";
    if (strcmp(a->val_data, b->val_data))
        return "val_data";
    return NULL;
}

int tlm_trainer_reconfigure(tlm_trainer *tr, const tlm_config *cfg, tlm_err *err)
{
    const char *key = fixed_key_changed(&tr->cfg, cfg);
    if (key)
        return tlm_errf(err, "config key '%s' cannot change during a run (it is built into the "
                        "model or its data)", key);
    if (tlm_config_validate(cfg, err) || tlm_trainer_reserve(tr, cfg->batch, err))
        return -1;
    tr->cfg = *cfg;
    tr->model->cfg = *cfg;
    return 0;
}

void tlm_trainer_reseed(tlm_trainer *tr, int seed)
{
    tr->cfg.seed = seed;
    tr->model->cfg.seed = seed;
    tlm_rng_seed(&tr->data_rng, (uint64_t)seed * 2654435761ULL + 1);
    tlm_rng_seed(&tr->aux_rng, (uint64_t)seed * 40503ULL + 7);
}
