/* generate.c - streaming generation: encode the prompt, prefill it as a
 * batch, then sample one token at a time with the KV cache. */
#include "generate.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../core/timer.h"
#include "infer_impl.h"
#include "sampler.h"

int tlm_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlongs */
            hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf; /* up to U+10FFFF */
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t j = 2; j <= k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
        i += k + 1;
    }
    return 1;
}

/* Bytes at the end of s[0..n) that start a UTF-8 character still missing
 * continuation bytes (0 when the text ends on a whole character). */
static size_t utf8_open_tail(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned c = s[n - k];
        if ((c & 0xc0) == 0x80)
            continue;
        size_t need = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 1;
        return need > k ? k : 0;
    }
    return 0;
}

/* Growable byte buffer. */
typedef struct gbuf {
    char *p;
    size_t n, cap;
} gbuf;

static int gbuf_add(gbuf *b, const char *s, size_t n, tlm_err *err)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return tlm_errf(err, "generate: out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

/* The prompt's ids: BOS/[CLS] first, no trailing [SEP]; checked against the
 * model's vocabulary and context. */
static int encode_prompt(const tlm_infer *inf, const tlm_tokenizer *tok, const char *prompt,
                         tlm_ids *ids, tlm_err *err)
{
    const tlm_config *c = &inf->cfg;
    size_t len = prompt ? strlen(prompt) : 0;
    if (len == 0)
        return tlm_errf(err, "generate: the prompt is empty");
    if (!tlm_utf8_valid(prompt, len))
        return tlm_errf(err, "generate: the prompt is not valid UTF-8");
    if (tlm_tokenizer_vocab_size(tok) > c->vocab)
        return tlm_errf(err, "generate: the tokenizer has %d tokens but the model only %d (wrong "
                        "tokenizer?)", tlm_tokenizer_vocab_size(tok), c->vocab);
    if (tlm_tokenizer_encode(tok, prompt, len, 1, ids, err))
        return tlm_err_prefix(err, "generate: ");
    if (tlm_tokenizer_kind(tok) == TLM_TOK_WORDPIECE && ids->n > 1 &&
        ids->v[ids->n - 1] == tlm_tokenizer_eos(tok))
        ids->n--; /* the document goes on */
    if (ids->n < 2)
        return tlm_errf(err, "generate: the prompt encodes to no tokens");
    if (ids->n >= (size_t)c->max_ctx)
        return tlm_errf(err, "generate: the prompt is %zu tokens but the model's context is %d "
                        "tokens (a prompt may use at most %d)", ids->n, c->max_ctx, c->max_ctx - 1);
    return 0;
}

typedef struct gen_run {
    tlm_infer *inf;
    const tlm_tokenizer *tok;
    const tlm_sample_opts *o;
    tlm_sampler *s;
    float *logits;
    gbuf text, out;     /* all generated text; what goes to the callback next */
    tlm_token_cb cb;
    void *ctx;
} gen_run;

/* Pass the finished characters of out + piece to the callback (everything
 * when last). 1 when the callback asks to stop, -1 on error. */
static int emit(gen_run *g, int id, const char *piece, size_t n, int last, tlm_err *err)
{
    if (gbuf_add(&g->out, piece, n, err))
        return -1;
    size_t hold = last ? 0 : utf8_open_tail(g->out.p, g->out.n);
    char keep[4];
    memcpy(keep, g->out.p + g->out.n - hold, hold);
    g->out.p[g->out.n - hold] = 0;
    int stop = g->cb ? g->cb(g->ctx, id, g->out.p) != 0 : 0;
    memcpy(g->out.p, keep, hold);
    g->out.n = hold;
    g->out.p[hold] = 0;
    return stop;
}

/* 1 when the stop string ends within the last `added` bytes of the text. */
static int stop_found(const gen_run *g, size_t added)
{
    if (!g->o->stop)
        return 0;
    size_t sl = strlen(g->o->stop), from = g->text.n > added + sl ? g->text.n - added - sl : 0;
    return memmem(g->text.p + from, g->text.n - from, g->o->stop, sl) != NULL;
}

static int decode_loop(gen_run *g, int prev, tlm_err *err)
{
    tlm_infer *inf = g->inf;
    int eos = tlm_tokenizer_eos(g->tok), bos = tlm_tokenizer_bos(g->tok);
    int tv = tlm_tokenizer_vocab_size(g->tok), V = inf->cfg.vocab;
    for (;;) {
        for (int v = tv; v < V; v++) /* ids the tokenizer cannot write */
            g->logits[v] = -INFINITY;
        int id = tlm_sampler_next(g->s, g->logits);
        if (id == eos || id == bos) {
            inf->stats.reason = TLM_STOP_EOS;
            return 0;
        }
        inf->stats.gen_tokens++;
        tlm_sampler_observe(g->s, id);
        char piece[1024];
        size_t pn = tlm_tokenizer_decode(g->tok, prev, id, piece, sizeof piece);
        if (gbuf_add(&g->text, piece, pn, err))
            return -1;
        int found = stop_found(g, pn);
        int full = inf->stats.gen_tokens >= g->o->max_tokens, ctx_end = inf->pos >= inf->cfg.max_ctx;
        int rc = emit(g, id, piece, pn, found || full || ctx_end, err);
        if (rc < 0)
            return -1;
        prev = id;
        if (rc || found || full || ctx_end) {
            inf->stats.reason = rc      ? TLM_STOP_CALLBACK
                                : found ? TLM_STOP_STRING
                                : full  ? TLM_STOP_MAX
                                        : TLM_STOP_CONTEXT;
            return 0;
        }
        int32_t t = id;
        if (tlm_infer_forward(inf, &t, 1, g->logits, 0, err))
            return -1;
    }
}

int tlm_infer_generate(tlm_infer *inf, const tlm_tokenizer *tok, const char *prompt,
                       const tlm_sample_opts *o, tlm_token_cb cb, void *ctx, int *n_out,
                       tlm_err *err)
{
    tlm_ids ids = {0};
    gen_run g = {.inf = inf, .tok = tok, .o = o, .cb = cb, .ctx = ctx};
    int rc = -1;
    memset(&inf->stats, 0, sizeof inf->stats);
    if (n_out)
        *n_out = 0;
    if (tlm_sample_opts_check(o, err) || encode_prompt(inf, tok, prompt, &ids, err) ||
        tlm_sampler_create(&g.s, inf->cfg.vocab, o, err) ||
        !(g.logits = tlm_calloc((size_t)inf->cfg.vocab, sizeof(float), err)))
        goto out;
    for (size_t i = 0; i < ids.n; i++)
        if (ids.v[i] != tlm_tokenizer_bos(tok))
            tlm_sampler_observe(g.s, ids.v[i]);
    inf->stats.prompt_tokens = (int)ids.n;
    tlm_infer_reset(inf);
    double t0 = tlm_now();
    if (tlm_infer_forward(inf, ids.v, (int)ids.n, g.logits, 0, err))
        goto out;
    double t1 = tlm_now();
    inf->stats.prefill_s = t1 - t0;
    rc = decode_loop(&g, ids.v[ids.n - 1], err);
    inf->stats.decode_s = tlm_now() - t1;
out:
    if (n_out)
        *n_out = inf->stats.gen_tokens;
    tlm_ids_free(&ids);
    tlm_sampler_free(g.s);
    free(g.logits);
    free(g.text.p);
    free(g.out.p);
    return rc;
}
