/* test_infer_sample.c - the sampler (penalty direction, greedy, top-k, top-p,
 * seeds, the distribution) and streaming generation (same seed same text,
 * stop string, max tokens, context limit, callback stop, bad prompts). */
#include <string.h>
#include "engine/core/rng.h"
#include "engine/infer/generate.h"
#include "engine/infer/kernels.h"
#include "engine/infer/sampler.h"
#include "engine/io/datapath.h"
#include "engine/model/params.h"
#include "tests/tap.h"

static float softmax_p(const float *l, int n, int k)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += exp(l[i]);
    return (float)(exp(l[k]) / s);
}

static void test_penalty(void)
{
    float l[5] = {2.0f, -2.0f, 1.0f, -1.0f, 0.5f};
    float before1 = softmax_p(l, 5, 1), before0 = softmax_p(l, 5, 0);
    int32_t ids[4] = {0, 1, 0, 1};
    tlm_rep_penalty(l, 5, ids, 4, 2.0f);
    ok(l[0] == 1.0f && l[1] == -4.0f && l[2] == 1.0f && l[3] == -1.0f && l[4] == 0.5f,
       "penalty 2: a positive logit is halved, a negative one doubled, once per distinct id");
    ok(softmax_p(l, 5, 0) < before0 && softmax_p(l, 5, 1) < before1,
       "both repeated tokens become less likely (%.3f -> %.3f, %.4f -> %.4f)", before0,
       softmax_p(l, 5, 0), before1, softmax_p(l, 5, 1));
    float paper = -2.0f / 2.0f; /* the notebook divides negative logits */
    ok(paper > -2.0f && l[1] < -2.0f,
       "the paper's division of a negative logit would raise it (-2 -> -1); done right it falls");
}

static int draw(tlm_sampler *s, const float *l, int n)
{
    float tmp[16];
    memcpy(tmp, l, sizeof(float) * (size_t)n);
    return tlm_sampler_next(s, tmp);
}

static void test_greedy_and_filters(void)
{
    tlm_sample_opts o;
    tlm_err err;
    tlm_sampler *s;
    float l[6] = {0.1f, 3.0f, 3.0f, -1.0f, 2.9f, 0.0f};
    tlm_sample_opts_default(&o);
    o.temperature = 0.0f;
    tlm_sampler_create(&s, 6, &o, &err);
    ok(draw(s, l, 6) == 1, "greedy takes the first maximum");
    o.rep_penalty = 1.5f;
    tlm_sampler_free(s);
    tlm_sampler_create(&s, 6, &o, &err);
    tlm_sampler_observe(s, 1);
    tlm_sampler_observe(s, 2);
    tlm_sampler_observe(s, 2);
    ok(draw(s, l, 6) == 4, "with ids 1 and 2 seen, the penalty moves greedy to id 4");
    tlm_sampler_free(s);
    tlm_sample_opts_default(&o);
    o.temperature = 5.0f;
    o.top_k = 1;
    int good = 1;
    for (uint64_t seed = 0; seed < 50; seed++) {
        o.seed = seed;
        tlm_sampler_create(&s, 6, &o, &err);
        good &= draw(s, l, 6) == 1;
        tlm_sampler_free(s);
    }
    ok(good, "top-k 1 is greedy at any temperature and seed");
    o.top_k = 0;
    o.top_p = 0.01f;
    o.temperature = 1.0f;
    good = 1;
    for (uint64_t seed = 0; seed < 50; seed++) {
        o.seed = seed;
        tlm_sampler_create(&s, 6, &o, &err);
        good &= draw(s, l, 6) == 1;
        tlm_sampler_free(s);
    }
    ok(good, "a tiny top-p keeps only the best token");
}

/* Frequencies of 40000 draws against the expected probabilities. */
static double freq_err(const tlm_sample_opts *o, const float *l, int n, const double *want)
{
    tlm_sampler *s;
    tlm_err err;
    tlm_sampler_create(&s, n, o, &err);
    int cnt[16] = {0}, N = 40000;
    for (int i = 0; i < N; i++)
        cnt[draw(s, l, n)]++;
    tlm_sampler_free(s);
    double e = 0;
    for (int i = 0; i < n; i++)
        e = fmax(e, fabs((double)cnt[i] / N - want[i]));
    return e;
}

static void test_distribution(void)
{
    tlm_sample_opts o;
    tlm_sample_opts_default(&o);
    o.seed = 5;
    o.top_k = 0;
    o.top_p = 1.0f;
    o.temperature = 1.0f;
    float p[4] = {0.4f, 0.3f, 0.2f, 0.1f}, l[4];
    for (int i = 0; i < 4; i++)
        l[i] = logf(p[i]);
    double full[4] = {0.4, 0.3, 0.2, 0.1};
    double e = freq_err(&o, l, 4, full);
    ok(e < 0.01, "temperature 1, no filters: frequencies follow softmax (max err %.4f)", e);
    o.temperature = 0.5f; /* p^2 normalised */
    double sq[4] = {0.16 / 0.30, 0.09 / 0.30, 0.04 / 0.30, 0.01 / 0.30};
    e = freq_err(&o, l, 4, sq);
    ok(e < 0.01, "temperature 0.5 squares the probabilities (max err %.4f)", e);
    o.temperature = 1.0f;
    o.top_k = 2;
    double k2[4] = {0.4 / 0.7, 0.3 / 0.7, 0, 0};
    e = freq_err(&o, l, 4, k2);
    ok(e < 0.01, "top-k 2 renormalises over the two best (max err %.4f)", e);
    o.top_k = 0;
    o.top_p = 0.75f; /* 0.4 + 0.3 = 0.7 < 0.75: the nucleus takes three */
    double p3[4] = {0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9, 0};
    e = freq_err(&o, l, 4, p3);
    ok(e < 0.01, "top-p 0.75 keeps the smallest set reaching 0.75 (max err %.4f)", e);
    o.top_p = 0.7f;
    double p2[4] = {0.4 / 0.7, 0.3 / 0.7, 0, 0};
    e = freq_err(&o, l, 4, p2);
    ok(e < 0.01, "top-p 0.7 keeps two (max err %.4f)", e);
    o.top_k = 3;
    o.top_p = 0.5f;
    double kp[4] = {0.4 / 0.7, 0.3 / 0.7, 0, 0}; /* 0.4/0.9 < 0.5 <= 0.7/0.9 */
    e = freq_err(&o, l, 4, kp);
    ok(e < 0.01, "top-k 3 then top-p 0.5 of the renormalised three (max err %.4f)", e);
}

static void test_seeds_and_checks(void)
{
    tlm_sample_opts o;
    tlm_err err;
    tlm_sample_opts_default(&o);
    o.top_k = 0;
    float l[8] = {0, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f};
    int a[64], b[64], c[64];
    tlm_sampler *s;
    for (int pass = 0; pass < 3; pass++) {
        o.seed = pass == 2 ? 43 : 42;
        tlm_sampler_create(&s, 8, &o, &err);
        for (int i = 0; i < 64; i++)
            (pass == 0 ? a : pass == 1 ? b : c)[i] = draw(s, l, 8);
        tlm_sampler_free(s);
    }
    ok(!memcmp(a, b, sizeof a), "the same seed gives the same draws");
    ok(memcmp(a, c, sizeof a) != 0, "another seed gives other draws");
    const char *bad[] = {"max tokens 0", "temperature -1", "top-p 0", "top-p 1.5",
                         "penalty 0",    "top-k -1",       "empty stop"};
    for (int i = 0; i < 7; i++) {
        tlm_sample_opts_default(&o);
        switch (i) {
        case 0: o.max_tokens = 0; break;
        case 1: o.temperature = -1; break;
        case 2: o.top_p = 0; break;
        case 3: o.top_p = 1.5f; break;
        case 4: o.rep_penalty = 0; break;
        case 5: o.top_k = -1; break;
        default: o.stop = ""; break;
        }
        ok(tlm_sample_opts_check(&o, &err) == -1, "%s is refused: %s", bad[i], err.msg);
    }
}

static void test_utf8(void)
{
    const char *good[] = {"abc", "h\xc3\xa9llo", "\xe2\x82\xac", "\xf0\x9f\x98\x80", ""};
    const char *bad[] = {"\xff", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                         "\xf4\x90\x80\x80", "a\x80", "\xe2\x82"};
    int g = 1, b = 1;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        g &= tlm_utf8_valid(good[i], strlen(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        b &= !tlm_utf8_valid(bad[i], strlen(bad[i]));
    ok(g && b, "UTF-8 check: accepts text, refuses stray, overlong, surrogate, too large, cut");
}

/* ---- generation ---- */

typedef struct collect {
    char text[65536];
    size_t n;
    int tokens, stop_after;
} collect;

static int on_token(void *ctx, int id, const char *text)
{
    collect *c = ctx;
    size_t k = strlen(text);
    if (c->n + k < sizeof c->text) {
        memcpy(c->text + c->n, text, k);
        c->n += k;
        c->text[c->n] = 0;
    }
    c->tokens++;
    return c->stop_after && c->tokens >= c->stop_after;
}

static int max_id;

static int on_token_id(void *ctx, int id, const char *text)
{
    (void)ctx;
    (void)text;
    max_id = id > max_id ? id : max_id;
    return 0;
}

static int gen(tlm_infer *inf, const tlm_tokenizer *tok, const char *prompt,
               const tlm_sample_opts *o, collect *c, tlm_err *err)
{
    c->text[0] = 0;
    c->n = 0;
    c->tokens = 0;
    int n;
    int rc = tlm_infer_generate(inf, tok, prompt, o, on_token, c, &n, err);
    return rc ? -1 : n;
}

static void test_generation(void)
{
    char path[4096];
    tlm_err err;
    tlm_tokenizer *tok = NULL;
    if (tlm_data_resolve("tok4096", path, sizeof path, &err) || tlm_tokenizer_load(&tok, path, &err)) {
        ok(1, "generation # SKIP tokenizer tok4096 not found");
        return;
    }
    tlm_config cfg;
    tlm_config_preset(&cfg, "nano", &err);
    tlm_params p;
    tlm_params_alloc(&p, &cfg, &err);
    tlm_params_init(&p, &cfg, 3);
    for (size_t i = 0; i < (size_t)cfg.vocab * (size_t)cfg.dim; i++)
        p.head_w[i] *= 20.0f; /* a peakier random model */
    tlm_infer *inf;
    tlm_infer_from_params(&inf, &cfg, p.mem, 0, &err);
    tlm_sample_opts o;
    tlm_sample_opts_default(&o);
    o.max_tokens = 20;
    o.seed = 1234;
    collect a, b, c;
    a.stop_after = b.stop_after = c.stop_after = 0;
    int na = gen(inf, tok, "Once upon a time", &o, &a, &err);
    int nb = gen(inf, tok, "Once upon a time", &o, &b, &err);
    o.seed = 99;
    int nc = gen(inf, tok, "Once upon a time", &o, &c, &err);
    const tlm_gen_stats *st = tlm_infer_last_stats(inf);
    ok(na > 0 && na == nb && !strcmp(a.text, b.text) && a.tokens == na,
       "same seed, same text (%d tokens: \"%.60s\")", na, a.text);
    ok(nc > 0 && strcmp(a.text, c.text) != 0, "another seed, other text");
    ok(st->prompt_tokens == 5 && (st->reason == TLM_STOP_MAX) == (nc == 20),
       "stats: 5 prompt tokens (BOS + 4), stop reason %d", (int)st->reason);
    o.seed = 1234;
    const char *names[] = {"scalar", "avx2", "avx512vnni"};
    int good = 1;
    for (int id = 0; id < TLM_KERN_N; id++) {
        if (!tlm_kernels_supported((tlm_kern_id)id))
            continue;
        tlm_infer_set_kernels(inf, names[id], &err);
        good &= gen(inf, tok, "Once upon a time", &o, &b, &err) == na && !strcmp(a.text, b.text);
    }
    tlm_infer_set_kernels(inf, NULL, &err);
    ok(good, "every kernel version generates the same text");
    /* a stop string taken from the middle of the text */
    if (a.n > 12) {
        char stop[8];
        memcpy(stop, a.text + a.n / 2, 4);
        stop[4] = 0;
        o.stop = stop;
        int ns = gen(inf, tok, "Once upon a time", &o, &b, &err);
        char *at = strstr(b.text, stop);
        ok(ns > 0 && ns < na && tlm_infer_last_stats(inf)->reason == TLM_STOP_STRING && at &&
               strlen(at) < strlen(stop) + 32 && !strncmp(a.text, b.text, b.n),
           "stop string \"%s\": stops after %d tokens, on it", stop, ns);
        o.stop = NULL;
    }
    o.max_tokens = 7;
    int n7 = gen(inf, tok, "Once upon a time", &o, &b, &err);
    ok(n7 <= 7 && (n7 == 7) == (tlm_infer_last_stats(inf)->reason == TLM_STOP_MAX) &&
           !strncmp(a.text, b.text, b.n),
       "max tokens 7: %d tokens, the prefix of the longer text", n7);
    o.max_tokens = 100;
    b.stop_after = 3;
    int n3 = gen(inf, tok, "Once upon a time", &o, &b, &err);
    ok(n3 == 3 && tlm_infer_last_stats(inf)->reason == TLM_STOP_CALLBACK,
       "the callback stops generation after 3 tokens");
    b.stop_after = 0;
    /* the context limit: nano has max_ctx 64 */
    o.max_tokens = 1000;
    o.temperature = 0.0f;
    o.rep_penalty = 1.3f;
    int nctx = gen(inf, tok, "Once upon a time there was", &o, &b, &err);
    st = tlm_infer_last_stats(inf);
    ok((st->reason == TLM_STOP_CONTEXT && nctx == cfg.max_ctx - st->prompt_tokens + 1) ||
           st->reason == TLM_STOP_EOS,
       "generation stops at the context limit (%d prompt + %d generated, reason %d)",
       st->prompt_tokens, nctx, (int)st->reason);
    /* bad prompts */
    ok(gen(inf, tok, "", &o, &b, &err) == -1 && strstr(err.msg, "empty"), "empty prompt: %s",
       err.msg);
    ok(gen(inf, tok, "caf\xc3", &o, &b, &err) == -1 && strstr(err.msg, "UTF-8"),
       "invalid UTF-8: %s", err.msg);
    char longp[4096] = "";
    for (int i = 0; i < 80; i++)
        strcat(longp, "the cat sat. ");
    ok(gen(inf, tok, longp, &o, &b, &err) == -1 && strstr(err.msg, "context is 64"),
       "a prompt longer than the context: %s", err.msg);
    tlm_tokenizer *small = NULL;
    if (tlm_data_resolve("tok2048", path, sizeof path, &err) == 0 &&
        tlm_tokenizer_load(&small, path, &err) == 0) {
        o.temperature = 1.5f;
        o.top_k = 0;
        o.max_tokens = 40;
        o.rep_penalty = 1.0f;
        max_id = -1;
        int ns = tlm_infer_generate(inf, small, "Once upon a time", &o, on_token_id, NULL, NULL, &err);
        ok(ns == 0 && max_id >= 0 && max_id < 2048,
           "a tokenizer smaller than the vocabulary: only ids it can write are sampled (max %d)",
           max_id);
        tlm_tokenizer_free(small);
    }
    tlm_tokenizer *bert = NULL;
    if (tlm_data_resolve("bert-base-uncased", path, sizeof path, &err) == 0 &&
        tlm_tokenizer_load(&bert, path, &err) == 0) {
        ok(gen(inf, bert, "hello", &o, &b, &err) == -1 && strstr(err.msg, "tokenizer"),
           "a tokenizer larger than the model's vocabulary: %s", err.msg);
        tlm_tokenizer_free(bert);
    }
    tlm_infer_free(inf);
    tlm_params_free(&p);
    tlm_tokenizer_free(tok);
}

int main(void)
{
    test_penalty();
    test_greedy_and_filters();
    test_distribution();
    test_seeds_and_checks();
    test_utf8();
    test_generation();
    return tap_done();
}
