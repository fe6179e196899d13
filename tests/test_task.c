/* test_task.c - the MRPC task: the reader (row counts, labels, raw quote
 * characters kept, bad files rejected), pair encoding, the classification
 * head's gradient, accuracy/F1 on hand-made cases, and that right-padding
 * cannot leak into the pooled state or the gradients of a causal model. */
#include <stdint.h>
#include <unistd.h>
#include "engine/core/rng.h"
#include "engine/io/datapath.h"
#include "engine/model/model.h"
#include "engine/model/params.h"
#include "engine/task/classify.h"
#include "engine/task/mrpc.h"
#include "tap.h"

static void test_metrics(void)
{
    /* tp 3, fp 1, fn 2, tn 4 */
    int pred[10] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, gold[10] = {1, 1, 1, 0, 1, 1, 0, 0, 0, 0};
    tlm_cls_metrics m;
    tlm_cls_score(pred, gold, 10, &m);
    ok(m.tp == 3 && m.fp == 1 && m.fn == 2 && m.tn == 4, "confusion counts 3/1/2/4");
    ok(fabs(m.accuracy - 0.7) < 1e-12, "accuracy 7/10 (%g)", m.accuracy);
    ok(fabs(m.precision - 0.75) < 1e-12 && fabs(m.recall - 0.6) < 1e-12, "precision 3/4, recall 3/5");
    ok(fabs(m.f1 - 2.0 / 3.0) < 1e-12, "F1 = 2PR/(P+R) = 2/3 (%g)", m.f1);
    int none[10] = {0};
    tlm_cls_score(none, gold, 10, &m);
    ok(m.f1 == 0 && m.precision == 0 && fabs(m.accuracy - 0.5) < 1e-12, "never positive: F1 0");
    /* MRPC dev's majority: 279 positives of 408 */
    static int p[408], g[408];
    for (int i = 0; i < 408; i++)
        p[i] = 1, g[i] = i < 279;
    tlm_cls_score(p, g, 408, &m);
    ok(fabs(m.accuracy - 279.0 / 408) < 1e-12 && fabs(m.f1 - 558.0 / 687) < 1e-12,
       "always positive on 279/408: accuracy 68.38%%, F1 81.22%% (%.4f, %.4f)", m.accuracy, m.f1);
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static size_t file_count_char(const char *path, char c)
{
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    int ch;
    while (f && (ch = fgetc(f)) != EOF)
        n += ch == c;
    if (f)
        fclose(f);
    return n;
}

static void test_reader_real(void)
{
    static const struct {
        const char *name;
        size_t rows, pos;
    } files[] = {{"mrpc/train.tsv", 3668, 2474}, {"mrpc/dev.tsv", 408, 279}};
    for (int k = 0; k < 2; k++) {
        char path[4096];
        tlm_err err;
        tlm_pairs p;
        if (tlm_data_resolve(files[k].name, path, sizeof path, &err) ||
            tlm_mrpc_load(path, &p, &err)) {
            ok(0, "%s: %s", files[k].name, err.msg);
            continue;
        }
        size_t pos = 0, quotes = 0;
        for (size_t i = 0; i < p.n; i++)
            pos += (size_t)p.v[i].label, quotes += count_char(p.v[i].s1, '"') +
                                                 count_char(p.v[i].s2, '"');
        ok(p.n == files[k].rows, "%s: %zu pairs (want %zu)", files[k].name, p.n, files[k].rows);
        ok(pos == files[k].pos, "%s: %zu paraphrases (want %zu)", files[k].name, pos, files[k].pos);
        size_t raw = file_count_char(path, '"');
        ok(raw > 0 && quotes == raw, "%s: every raw '\"' kept in the sentences (%zu of %zu)",
           files[k].name, quotes, raw);
        if (k == 1)
            ok(!strcmp(p.v[0].s1, "He said the foodservice pie business doesn 't fit the "
                                  "company 's long-term growth strategy ."),
               "dev.tsv: first sentence verbatim");
        tlm_pairs_free(&p);
    }
}

static int load_text(const char *dir, const char *text, tlm_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/bad.tsv", dir);
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, strlen(text) + (strstr(text, "NUL") ? 1 : 0), f);
    if (strstr(text, "NUL"))
        fputs("more\n", f);
    fclose(f);
    tlm_pairs p;
    int rc = tlm_mrpc_load(path, &p, err);
    if (rc == 0)
        tlm_pairs_free(&p);
    return rc;
}

static void test_reader_bad(void)
{
    char dir[4096];
    tap_make_tmpdir(dir, sizeof dir, "test_task");
    const char *hdr = "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n";
    static const struct {
        const char *body, *want, *name;
    } cases[] = {
        {"", "no sentence pairs", "header only"},
        {"1\t1\t2\ta \"b\nc\t\n", "line 2: 4 tab-separated fields", "four fields"},
        {"2\t1\t2\ta\tb\n", "line 2: label '2'", "label 2"},
        {"1\t1\t2\ta\tb\n0\t3\t4\tc\n", "line 3", "second row short"},
        {"1\t1\t2\ta NUL", "NUL byte", "NUL byte"},
    };
    tlm_err err;
    char text[512];
    snprintf(text, sizeof text, "Label\tx\ty\tz\tw\n1\t1\t2\ta\tb\n");
    ok(load_text(dir, text, &err) && strstr(err.msg, "line 1: not an MRPC header") &&
       strstr(err.msg, "bad.tsv"), "wrong header rejected: %s", err.msg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "%s%s", hdr, cases[i].body);
        int rc = load_text(dir, text, &err);
        ok(rc && strstr(err.msg, cases[i].want) && strstr(err.msg, "bad.tsv"), "%s rejected: %s",
           cases[i].name, rc ? err.msg : "(accepted)");
    }
    snprintf(text, sizeof text, "%s1\t1\t2\t \"quoted, \"\"twice\"\t b \n", hdr);
    char path[4200];
    snprintf(path, sizeof path, "%s/bad.tsv", dir);
    tlm_pairs p;
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
    ok(tlm_mrpc_load(path, &p, &err) == 0 && p.n == 1 &&
       !strcmp(p.v[0].s1, " \"quoted, \"\"twice\"") && !strcmp(p.v[0].s2, " b "),
       "quotes, commas and spaces are kept verbatim");
    if (p.n)
        tlm_pairs_free(&p);
    unlink(path);
    rmdir(dir);
}

static void test_encode(void)
{
    char path[4096];
    tlm_err err;
    tlm_tokenizer *t;
    if (tlm_data_resolve("tok4096", path, sizeof path, &err) || tlm_tokenizer_load(&t, path, &err)) {
        ok(0, "tok4096: %s", err.msg);
        return;
    }
    tlm_ids ids = {0};
    int rc = tlm_pair_encode(t, "The cat sat .", "A dog ran .", 64, &ids, &err);
    ok(rc == 0 && ids.n > 5 && ids.v[0] == 1 && ids.v[ids.n - 1] == 2,
       "BPE pair: <s> first, </s> last (%zu ids)", ids.n);
    int seps = 0;
    for (size_t i = 0; i < ids.n; i++)
        seps += ids.v[i] == 2;
    ok(seps == 2, "BPE pair: two </s> separators");
    char longs[2000] = "";
    for (int i = 0; i < 100; i++)
        strcat(longs, "word ");
    ok(tlm_pair_encode(t, longs, "short .", 40, &ids, &err) == 0 && ids.n == 40 &&
       ids.v[39] == 2, "truncated to max_len with the last separator kept");
    ok(tlm_pair_encode(t, "a", "b", 4, &ids, &err) && strstr(err.msg, "max length"),
       "max_len below 5 rejected");
    tlm_ids_free(&ids);
    tlm_tokenizer_free(t);
}

/* Central differences of the head's loss against its analytic gradient. */
static void test_head_grad(tlm_pool_mode mode)
{
    enum { B = 3, T = 5, D = 6 };
    float h[B * T * D], head[2 * D + 2], dh[B * T * D], dhead[2 * D + 2], pooled[B * D], lg[B * 2];
    int32_t len[B] = {5, 2, 3};
    int lab[B] = {1, 0, 1};
    tlm_rng r;
    tlm_rng_seed(&r, 5);
    for (int i = 0; i < B * T * D; i++)
        h[i] = tlm_rng_normal(&r);
    for (int i = 0; i < 2 * D + 2; i++)
        head[i] = 0.5f * tlm_rng_normal(&r);
    memset(dhead, 0, sizeof dhead);
    tlm_cls_loss(h, B, T, D, len, mode, head, lab, pooled, lg, dh, dhead);
    double worst = 0;
    for (int i = 0; i < B * T * D; i++) {
        float keep = h[i];
        h[i] = keep + 1e-2f;
        double up = tlm_cls_loss(h, B, T, D, len, mode, head, lab, pooled, lg, NULL, NULL);
        h[i] = keep - 1e-2f;
        double dn = tlm_cls_loss(h, B, T, D, len, mode, head, lab, pooled, lg, NULL, NULL);
        h[i] = keep;
        worst = fmax(worst, fabs((up - dn) / 2e-2 - dh[i]));
    }
    for (int i = 0; i < 2 * D + 2; i++) {
        float keep = head[i];
        head[i] = keep + 1e-2f;
        double up = tlm_cls_loss(h, B, T, D, len, mode, head, lab, pooled, lg, NULL, NULL);
        head[i] = keep - 1e-2f;
        double dn = tlm_cls_loss(h, B, T, D, len, mode, head, lab, pooled, lg, NULL, NULL);
        head[i] = keep;
        worst = fmax(worst, fabs((up - dn) / 2e-2 - dhead[i]));
    }
    ok(worst < 1e-3, "%s pooling: head and hidden gradients match central differences (%.2g)",
       tlm_pool_name(mode), worst);
    int pad_zero = 1; /* rows past a sequence's length get no gradient */
    for (int b = 0; b < B; b++)
        for (int t = len[b]; t < T; t++)
            for (int d = 0; d < D; d++)
                pad_zero &= dh[(b * T + t) * D + d] == 0.0f;
    ok(pad_zero, "%s pooling: padding rows get zero gradient", tlm_pool_name(mode));
}

/* The pooled state and the gradients of one real sequence are the same alone
 * (T = its length) and right-padded with random tokens inside a batch. */
static void test_no_leak(void)
{
    tlm_config cfg;
    tlm_err err;
    tlm_model *m;
    enum { L = 10, T = 16 };
    if (tlm_config_preset(&cfg, "nano", &err) || tlm_model_create(&m, &cfg, 2, T, NULL, &err)) {
        ok(0, "nano model: %s", err.msg);
        return;
    }
    tlm_params_init(&m->p, &cfg, 3);
    size_t D = (size_t)cfg.dim, P = m->g.count;
    int32_t x1[L], x2[2 * T];
    tlm_rng r;
    tlm_rng_seed(&r, 9);
    for (int i = 0; i < L; i++)
        x1[i] = x2[i] = (int32_t)tlm_rng_below(&r, 4096);
    for (int i = L; i < 2 * T; i++)
        x2[i] = (int32_t)tlm_rng_below(&r, 4096);
    float head[2 * 64 + 2];
    for (size_t i = 0; i < 2 * D + 2; i++)
        head[i] = 0.1f * tlm_rng_normal(&r);
    float *dh = calloc(2 * T * D, sizeof(float)), *g1 = malloc(P * sizeof(float));
    float dhead[2 * 64 + 2], pooled[2 * 64], lg[4], ref[64];
    for (int mode = 0; mode < 2; mode++) {
        int32_t len1[1] = {L}, len2[2] = {L, T};
        int lab1[1] = {1}, lab2[2] = {1, 0};
        const float *h = tlm_model_forward_hidden(m, x1, 1, L);
        tlm_cls_loss(h, 1, L, (int)D, len1, (tlm_pool_mode)mode, head, lab1, pooled, lg, dh, dhead);
        memcpy(ref, pooled, D * sizeof(float));
        tlm_model_backward_hidden(m, dh);
        memcpy(g1, m->g.mem, P * sizeof(float));
        h = tlm_model_forward_hidden(m, x2, 2, T);
        /* only the first sequence's loss: the second gets no gradient */
        tlm_cls_loss(h, 2, T, (int)D, len2, (tlm_pool_mode)mode, head, lab2, pooled, lg, dh, dhead);
        double dp = 0;
        for (size_t d = 0; d < D; d++)
            dp = fmax(dp, fabs(pooled[d] - ref[d]));
        ok(dp < 1e-5, "%s pooling: padded state equals the unpadded one (%.2g)",
           tlm_pool_name((tlm_pool_mode)mode), dp);
        memset(dh + T * D, 0, T * D * sizeof(float));
        for (size_t i = 0; i < T * D; i++)
            dh[i] *= 2; /* the batch mean halves it */
        tlm_model_backward_hidden(m, dh);
        double gd = 0, gm = 0;
        for (size_t i = 0; i < P; i++)
            gd = fmax(gd, fabs(m->g.mem[i] - g1[i])), gm = fmax(gm, fabs(g1[i]));
        ok(gd <= 1e-4 * gm, "%s pooling: gradients with padding equal those without (%.2g of %.2g)",
           tlm_pool_name((tlm_pool_mode)mode), gd, gm);
    }
    free(dh);
    free(g1);
    tlm_model_free(m);
}

int main(void)
{
    test_metrics();
    test_reader_real();
    test_reader_bad();
    test_encode();
    test_head_grad(TLM_POOL_LAST);
    test_head_grad(TLM_POOL_MEAN);
    test_no_leak();
    return tap_done();
}
