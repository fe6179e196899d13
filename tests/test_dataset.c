/* test_dataset.c - token cache build/reuse/rebuild, document splitting,
 * sampling and evaluation windows. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "engine/core/rng.h"
#include "engine/io/datapath.h"
#include "engine/io/dataset.h"
#include "engine/io/tokenizer.h"
#include "tests/tap.h"

/* tap.h's ok() is a comma expression; used as a statement it trips
 * -Wunused-value under -Wall -Werror. */
#pragma GCC diagnostic ignored "-Wunused-value"

static char tmpdir[4096];

/* tinystories_sample.cs336.txt with tok4096 (reference: a Python port of
 * llama2.c encode(), stories split at <|endoftext|> lines and stripped). */
#define SAMPLE_TOKENS 918
#define SAMPLE_SUM 1162978LL
static const int32_t sample_first[12] = {1, 403, 407, 261, 378, 383, 286, 261, 376, 490, 395, 547};
static const int32_t sample_last[5] = {366, 456, 337, 474, 4010};

static tlm_tokenizer *load_tok(const char *name)
{
    char path[4096];
    tlm_err err = {{0}};
    tlm_tokenizer *t = NULL;
    if (tlm_data_resolve(name, path, sizeof path, &err) || tlm_tokenizer_load(&t, path, &err))
        printf("# %s: %s\n", name, err.msg);
    return t;
}

static void sub(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(data, 1, n, f);
    fclose(f);
}

/* The single *.tlmtok file in dir (name into out); returns how many exist. */
static int find_cache(const char *dir, char *out, size_t n)
{
    DIR *d = opendir(dir);
    int count = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 7 && strcmp(e->d_name + len - 7, ".tlmtok") == 0) {
            count++;
            snprintf(out, n, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    return count;
}

static int same_file_state(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void flip_byte(const char *path, long off)
{
    FILE *f = fopen(path, "r+b");
    if (!f)
        return;
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

static tlm_dataset *open_ds(const char *paths, const tlm_tokenizer *t, const char *cache)
{
    tlm_dataset *ds = NULL;
    tlm_err err = {{0}};
    if (tlm_dataset_open(&ds, paths, t, cache, &err))
        printf("# open %s: %s\n", paths, err.msg);
    return ds;
}

static int tokens_match(const tlm_dataset *ds, const int32_t *ref, size_t n)
{
    return ds && tlm_dataset_size(ds) == n && memcmp(tlm_dataset_tokens(ds), ref, n * 4) == 0;
}

static void test_cache(const tlm_tokenizer *tok)
{
    char sample[4096], cache[4200], file[4400];
    tlm_err err = {{0}};
    if (tlm_data_resolve("tinystories-sample", sample, sizeof sample, &err)) {
        ok(0, "resolve tinystories-sample: %s", err.msg);
        return;
    }
    sub(cache, sizeof cache, "cache/sub"); /* created on demand */
    tlm_dataset *ds = open_ds(sample, tok, cache);
    ok(ds != NULL, "open tinystories-sample (builds the cache)");
    if (!ds)
        return;
    size_t n = tlm_dataset_size(ds);
    const int32_t *tk = tlm_dataset_tokens(ds);
    long long sum = 0;
    int bos = 0;
    for (size_t i = 0; i < n; i++)
        sum += tk[i], bos += tk[i] == 1;
    ok(n == SAMPLE_TOKENS, "sample: %zu tokens (want %d)", n, SAMPLE_TOKENS);
    ok(sum == SAMPLE_SUM, "sample: token id sum %lld (want %lld)", sum, SAMPLE_SUM);
    ok(bos == 5, "sample: 5 stories, 5 BOS tokens (got %d)", bos);
    ok(n >= 12 && memcmp(tk, sample_first, sizeof sample_first) == 0, "sample: first 12 ids");
    ok(n >= 5 && memcmp(tk + n - 5, sample_last, sizeof sample_last) == 0, "sample: last 5 ids");
    int32_t *ref = malloc(n * sizeof *ref + 1);
    if (!ref) {
        tlm_dataset_close(ds);
        return;
    }
    memcpy(ref, tk, n * sizeof *ref);
    tlm_dataset_close(ds);

    struct stat st0, st1;
    int ncache = find_cache(cache, file, sizeof file);
    ok(ncache == 1 && stat(file, &st0) == 0, "one cache file in the created cache folder");
    ok((size_t)st0.st_size == 48 + 2 * n + 4, "cache holds uint16 tokens: %lld bytes",
       (long long)st0.st_size);

    ds = open_ds(sample, tok, cache);
    ok(tokens_match(ds, ref, n), "reopen gives the same tokens");
    ok(stat(file, &st1) == 0 && same_file_state(&st0, &st1),
       "reopen reuses the cache (same inode and mtime, no re-encode)");
    tlm_dataset_close(ds);

    flip_byte(file, 48 + 2 * 100); /* a token byte: crc mismatch */
    ds = open_ds(sample, tok, cache);
    ok(tokens_match(ds, ref, n), "corrupted token byte: cache rebuilt, same tokens");
    ok(stat(file, &st1) == 0 && st1.st_ino != st0.st_ino, "corrupted cache replaced by rename");
    tlm_dataset_close(ds);

    flip_byte(file, 17); /* tokenizer hash in the header */
    ds = open_ds(sample, tok, cache);
    ok(tokens_match(ds, ref, n), "corrupted header: cache rebuilt, same tokens");
    tlm_dataset_close(ds);

    if (truncate(file, 100) == 0) {
        ds = open_ds(sample, tok, cache);
        ok(tokens_match(ds, ref, n) && stat(file, &st1) == 0 && st1.st_size == st0.st_size,
           "truncated cache rebuilt");
        tlm_dataset_close(ds);
    }

    tlm_tokenizer *tok2 = load_tok("tok2048");
    ds = tok2 ? open_ds(sample, tok2, cache) : NULL;
    ok(ds && tlm_dataset_size(ds) > n && find_cache(cache, file, sizeof file) == 2,
       "another tokenizer gets its own cache (%zu tokens with tok2048)",
       ds ? tlm_dataset_size(ds) : 0);
    tlm_dataset_close(ds);
    tlm_tokenizer_free(tok2);
    free(ref);
}

static void test_sample(const tlm_tokenizer *tok)
{
    char sample[4096], cache[4200];
    tlm_err err = {{0}};
    sub(cache, sizeof cache, "cache");
    if (tlm_data_resolve("tinystories-sample", sample, sizeof sample, &err))
        return;
    tlm_dataset *ds = open_ds(sample, tok, cache);
    if (!ds)
        return;
    enum { B = 4, T = 16 };
    int32_t x[B * T], y[B * T], x2[B * T], y2[B * T];
    const int32_t *tk = tlm_dataset_tokens(ds);
    size_t n = tlm_dataset_size(ds);
    tlm_rng r1, r2;
    tlm_rng_seed(&r1, 1234);
    tlm_dataset_sample(ds, &r1, B, T, x, y);
    int shifted = 1, found = 1;
    for (int b = 0; b < B; b++) {
        for (int t = 0; t + 1 < T; t++)
            shifted &= y[b * T + t] == x[b * T + t + 1];
        int hit = 0;
        for (size_t s = 0; s + T < n && !hit; s++)
            hit = memcmp(tk + s, x + b * T, sizeof(int32_t) * T) == 0 &&
                  memcmp(tk + s + 1, y + b * T, sizeof(int32_t) * T) == 0;
        found &= hit;
    }
    ok(shifted, "sample: y is x shifted by one");
    ok(found, "sample: every (x, y) row is a window of the token stream");
    tlm_rng_seed(&r2, 1234);
    tlm_dataset_sample(ds, &r2, B, T, x2, y2);
    ok(memcmp(x, x2, sizeof x) == 0 && memcmp(y, y2, sizeof y) == 0, "sample: same seed, same batch");
    tlm_rng_seed(&r2, 99);
    tlm_dataset_sample(ds, &r2, B, T, x2, y2);
    ok(memcmp(x, x2, sizeof x) != 0, "sample: another seed, another batch");

    size_t count = tlm_dataset_window(ds, 0, T, x, y);
    ok(count == n / (T + 1), "window count %zu = %zu / %d", count, n, T + 1);
    ok(memcmp(x, tk, T * 4) == 0 && memcmp(y, tk + 1, T * 4) == 0, "window 0 is tok[0..T]");
    tlm_dataset_window(ds, count - 1, T, x, y);
    ok(memcmp(x, tk + (count - 1) * (T + 1), T * 4) == 0 &&
       memcmp(y, tk + (count - 1) * (T + 1) + 1, T * 4) == 0, "last window");
    x[0] = -7;
    ok(tlm_dataset_window(ds, count, T, x, y) == count && x[0] == -7,
       "window past the end returns the count and writes nothing");
    tlm_dataset_close(ds);
}

/* Running text (no separator), several files, width-4 caches, errors. */
static void test_files(const tlm_tokenizer *tok)
{
    char a[4200], b[4200], list[8600], cache[4200];
    sub(cache, sizeof cache, "cache");
    sub(a, sizeof a, "lines.txt");
    write_file(a, "hello world\n\n  the end  \n\n", 26);
    tlm_dataset *ds = open_ds(a, tok, cache);
    static const int32_t want[] = {1, 2357, 1471, 1, 265, 790};
    ok(tokens_match(ds, want, 6), "no separator: each non-empty line is a document");
    tlm_dataset_close(ds);

    sub(b, sizeof b, "stories.txt");
    write_file(b, "hello world\n<|endoftext|>\n\n<|endoftext|>\nthe end", 48);
    ds = open_ds(b, tok, cache);
    ok(tokens_match(ds, want, 6), "separator lines split stories; empty stories skipped");
    tlm_dataset_close(ds);

    snprintf(list, sizeof list, "%s,%s", a, b);
    static const int32_t want2[] = {1, 2357, 1471, 1, 265, 790, 1, 2357, 1471, 1, 265, 790};
    ds = open_ds(list, tok, cache);
    ok(tokens_match(ds, want2, 12), "two files separated by ',' are concatenated");
    tlm_dataset_close(ds);

    /* A WordPiece vocabulary above 65536 entries: tokens stored as uint32. */
    char vocab[4200];
    sub(vocab, sizeof vocab, "big_vocab.txt");
    FILE *f = fopen(vocab, "w");
    if (f) {
        fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n", f);
        for (int i = 0; i < 70000; i++)
            fprintf(f, "w%d\n", i);
        fclose(f);
    }
    tlm_tokenizer *big = NULL;
    tlm_err err = {{0}};
    char c4[4200], file[4400];
    sub(c4, sizeof c4, "cache4");
    if (tlm_tokenizer_load(&big, vocab, &err) == 0) {
        sub(b, sizeof b, "w.txt");
        write_file(b, "w5 w69999\n", 10);
        ds = open_ds(b, big, c4);
        static const int32_t want4[] = {2, 9, 70003, 3};
        struct stat st;
        ok(tokens_match(ds, want4, 4) && find_cache(c4, file, sizeof file) == 1 &&
           stat(file, &st) == 0 && st.st_size == 48 + 4 * 4 + 4,
           "vocab > 65536: uint32 cache, ids [CLS] w5 w69999 [SEP]");
        tlm_dataset_close(ds);
        ds = open_ds(b, big, c4);
        ok(tokens_match(ds, want4, 4), "uint32 cache reopens");
        tlm_dataset_close(ds);
        tlm_tokenizer_free(big);
    } else {
        ok(0, "load 70004-line vocab: %s", err.msg);
    }
}

static void open_fails(const tlm_tokenizer *tok, const char *paths, const char *culprit,
                       const char *what)
{
    char cache[4200];
    sub(cache, sizeof cache, "cache");
    tlm_dataset *ds = (tlm_dataset *)(uintptr_t)1;
    tlm_err err = {{0}};
    int rc = tlm_dataset_open(&ds, paths, tok, cache, &err);
    ok(rc == -1 && ds == NULL && strstr(err.msg, culprit), "%s -> error naming the file: %s", what,
       err.msg);
    if (rc == 0)
        tlm_dataset_close(ds);
}

static void test_errors(const tlm_tokenizer *tok)
{
    char p[4200], good[4200], list[8600];
    sub(p, sizeof p, "nope.txt");
    open_fails(tok, p, p, "missing file");
    open_fails(tok, tmpdir, tmpdir, "directory");
    sub(p, sizeof p, "empty.txt");
    write_file(p, "", 0);
    open_fails(tok, p, p, "empty file");
    sub(p, sizeof p, "blank.txt");
    write_file(p, " \n\n<|endoftext|>\n  \n", 20);
    open_fails(tok, p, p, "only whitespace and separators");
    sub(p, sizeof p, "binary.txt");
    write_file(p, "text\0more", 9);
    open_fails(tok, p, p, "binary file (NUL byte)");
    sub(good, sizeof good, "lines.txt");
    sub(p, sizeof p, "nope2.txt");
    snprintf(list, sizeof list, "%s,%s", good, p);
    open_fails(tok, list, p, "list with a missing second file");
}

/* Encode time of the two TinyStories train heads (diagnostic). */
static void test_train(const tlm_tokenizer *tok)
{
    char paths[8192], cache[4200];
    tlm_err err = {{0}};
    if (tlm_data_resolve("tinystories-train", paths, sizeof paths, &err)) {
        printf("# skip tinystories-train: %s\n", err.msg);
        return;
    }
    sub(cache, sizeof cache, "cache_train");
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tlm_dataset *ds = open_ds(paths, tok, cache);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    tlm_dataset *ds2 = open_ds(paths, tok, cache);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    double enc = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double re = (double)(t2.tv_sec - t1.tv_sec) + 1e-9 * (double)(t2.tv_nsec - t1.tv_nsec);
    size_t bos = 0;
    for (size_t i = 0; ds && i < tlm_dataset_size(ds); i++)
        bos += tlm_dataset_tokens(ds)[i] == 1;
    /* 2316 + 1727 complete stories and two cut-off tails. */
    ok(ds && bos == 2317 + 1728, "tinystories-train: %zu documents, %zu tokens", bos,
       ds ? tlm_dataset_size(ds) : 0);
    ok(ds2 && tlm_dataset_size(ds2) == tlm_dataset_size(ds), "tinystories-train cache reopens");
    printf("# tinystories-train: encode + cache %.3f s, reopen %.3f s\n", enc, re);
    tlm_dataset_close(ds);
    tlm_dataset_close(ds2);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/tlm-test-ds-XXXXXX", tap_getenv_or("TMPDIR", "/tmp"));
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! cannot create a temporary folder\n");
        return 1;
    }
    tlm_tokenizer *tok = load_tok("tok4096");
    ok(tok != NULL, "load tok4096");
    if (tok) {
        test_cache(tok);
        test_sample(tok);
        test_files(tok);
        test_errors(tok);
        test_train(tok);
    }
    tlm_tokenizer_free(tok);
    char cmd[4200 + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpdir);
    return tap_done();
}
