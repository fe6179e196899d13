/* test_session.c - the threaded engine on the nano preset: step N exactness,
 * pause/resume, bit-exact resume through a checkpoint, load failures leaving
 * the session untouched, failed saves, keeping the last K checkpoints,
 * precision toggles, set, layers/inspect, events and their fd, a storm of
 * commands from two threads (run under ThreadSanitizer), gen, quit. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "engine/io/checkpoint.h"
#include "engine/session/session.h"
#include "engine/session/session_int.h"
#include "tests/bytes.h"
#include "tests/tap.h"

static char dir[4096];

/* ---- helpers ---- */

static void make_tmpdir(void)
{
    tap_make_tmpdir(dir, sizeof dir, "session");
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char p[8192];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

static char *tpath(char *buf, const char *name)
{
    snprintf(buf, 8192, "%s/%s", dir, name);
    return buf;
}

static tlm_config nano(int threads)
{
    tlm_config c;
    tlm_err e;
    if (tlm_config_preset(&c, "nano", &e)) {
        printf("Bail out! %s\n", e.msg);
        exit(1);
    }
    c.threads = threads;
    c.eval_every = 0; /* tests ask for evaluations */
    return c;
}

static tlm_session *open_session(const tlm_config *c, const tlm_ckpt *ck, const char *out)
{
    tlm_session *s = NULL;
    tlm_err e;
    tlm_session_opts o = {out, 0, 0};
    if (tlm_session_create(&s, c, ck, &o, &e)) {
        printf("Bail out! session: %s\n", e.msg);
        exit(1);
    }
    return s;
}

/* The answer of one command. */
typedef struct answer {
    int status;          /* of its DONE */
    int n_lines, n_errors, n_tokens;
    char text[16384];    /* lines, '\n' separated */
    char error[1024];    /* the first error line */
} answer;

/* Submit line and wait for its DONE, collecting its events (other events are
 * dropped: tests call this from one thread). */
static int run(tlm_session *s, const char *line, answer *a)
{
    static answer scratch;
    if (!a)
        a = &scratch;
    memset(a, 0, sizeof *a);
    uint64_t id = tlm_session_submit(s, line);
    tlm_event ev;
    size_t used = 0;
    while (tlm_session_wait_event(s, &ev, 120.0)) {
        if (ev.cmd != id)
            continue;
        if (ev.kind == TLM_EV_DONE) {
            if (used && a->text[used - 1] == '\n')
                a->text[used - 1] = 0;
            a->status = ev.status;
            return ev.status;
        }
        if (ev.kind == TLM_EV_ERROR) {
            if (!a->n_errors++)
                snprintf(a->error, sizeof a->error, "%s", ev.text);
        } else if (ev.kind == TLM_EV_TOKEN) {
            a->n_tokens++;
        } else {
            a->n_lines++;
        }
        int w = snprintf(a->text + used, sizeof a->text - used, "%s%s", ev.text,
                         ev.kind == TLM_EV_TOKEN ? "" : "\n");
        if (w > 0 && used + (size_t)w < sizeof a->text)
            used += (size_t)w;
    }
    printf("# no answer to '%s' within 120 s\n", line);
    a->status = -2;
    return -2;
}

static tlm_snapshot snap;

static const tlm_snapshot *get_snap(tlm_session *s)
{
    tlm_session_snapshot(s, &snap);
    return &snap;
}

static const tlm_layer_snap *layer(const tlm_snapshot *sn, const char *name)
{
    for (int i = 0; i < sn->n_rows; i++)
        if (!strcmp(sn->layer[i].name, name))
            return &sn->layer[i];
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Train losses of steps (from, to] from the history ring. */
static int losses(tlm_session *s, int64_t from, int64_t to, double *out)
{
    tlm_hist_row rows[256];
    size_t n = tlm_session_history(s, rows, 256);
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].step > from && rows[i].step <= to)
            out[k++] = rows[i].train_loss;
    return k;
}

static size_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (size_t)st.st_size : 0;
}

/* ---- tests ---- */

static void test_start_and_step(void)
{
    tlm_config c = nano(1);
    tlm_session *s = open_session(&c, NULL, NULL);
    const tlm_snapshot *sn = get_snap(s);
    ok(sn->state == TLM_SESS_PAUSED && sn->step == 0 && sn->n_rows == 2 + 2 * 7 &&
           !strcmp(sn->layer[0].name, "emb") && !strcmp(sn->layer[1].name, "L0.attn.q") &&
           !strcmp(sn->layer[7].name, "L0.mlp.down") && !strcmp(sn->layer[15].name, "head"),
       "starts paused at step 0 with rows emb, L0.attn.q ... L1.mlp.down, head");
    const tlm_layer_snap *q = layer(sn, "L0.attn.q");
    ok(q && q->rows == 64 && q->cols == 64 && q->prec == TLM_PREC_TERNARY &&
           q->counts[0] + q->counts[1] + q->counts[2] == 64 * 64 && q->gamma > 0,
       "a linear's row: shape, ternary precision, codes add up, g > 0");
    sleep_ms(60);
    ok(get_snap(s)->step == 0, "paused: no step happens by itself");
    answer a;
    int rc = run(s, "step 5", &a);
    sn = get_snap(s);
    ok(rc == 0 && sn->step == 5 && sn->state == TLM_SESS_PAUSED && strstr(a.text, "stepped 5"),
       "step 5 from paused: exactly 5 steps, paused again (%lld): %s", (long long)sn->step,
       a.text);
    sleep_ms(60);
    ok(get_snap(s)->step == 5, "still step 5 a while later");
    ok(isfinite(sn->train_loss) && sn->train_loss > 5 && sn->train_loss < 10 && sn->tok_s > 0,
       "snapshot has a finite loss (%.4f) and tok/s", sn->train_loss);
    rc = run(s, "status", &a);
    ok(rc == 0 && a.n_lines == 1 && strstr(a.text, "paused") && strstr(a.text, "step 5/200"),
       "status: %s", a.text);
    rc = run(s, "step", &a);
    ok(rc == 0 && get_snap(s)->step == 6, "step without N runs one step");
    rc = run(s, "resume", &a);
    ok(rc == 0 && strstr(a.text, "running from step 6"), "resume: %s", a.text);
    for (int i = 0; i < 400 && get_snap(s)->step < 10; i++)
        sleep_ms(5);
    ok(get_snap(s)->state == TLM_SESS_RUNNING && get_snap(s)->step >= 10,
       "running: steps go on by themselves");
    rc = run(s, "pause", &a);
    int64_t at = get_snap(s)->step;
    sleep_ms(60);
    ok(rc == 0 && get_snap(s)->step == at && get_snap(s)->state == TLM_SESS_PAUSED,
       "pause stops at a step boundary (step %lld)", (long long)at);
    tlm_hist_row rows[64];
    size_t n = tlm_session_history(s, rows, 64);
    int inc = n == (size_t)at;
    for (size_t i = 1; i < n; i++)
        inc &= rows[i].step == rows[i - 1].step + 1 && isfinite(rows[i].train_loss);
    ok(inc, "history ring: one row per step, in order (%zu rows)", n);
    rc = run(s, "eval", &a);
    ok(rc == 0 && strstr(a.text, "val_loss") && isfinite(get_snap(s)->val_loss),
       "eval: %s", a.text);
    rc = run(s, "history 3", &a);
    ok(rc == 0 && a.n_lines == 3 && strstr(a.text, "loss "), "history 3 gives 3 rows");
    tlm_session_free(s);
}

/* Losses of steps 11..20: straight, and through a checkpoint. */
static void test_bit_exact_resume(void)
{
    char ck_path[8192];
    tpath(ck_path, "half.tlmc");
    tlm_config c = nano(2);
    double straight[10], resumed[10], loaded[10];
    tlm_session *s = open_session(&c, NULL, NULL);
    run(s, "step 20", NULL);
    int n1 = losses(s, 10, 20, straight);
    tlm_session_free(s);

    s = open_session(&c, NULL, NULL);
    answer a;
    char line[9000];
    run(s, "step 10", NULL);
    snprintf(line, sizeof line, "save %s", ck_path);
    int rc = run(s, line, &a);
    ok(rc == 0 && strstr(a.text, "saved") && file_size(ck_path) > 0, "save PATH: %s", a.text);
    tlm_session_free(s);

    tlm_ckpt ck;
    tlm_err e;
    rc = tlm_ckpt_load(ck_path, &ck, &e);
    ok(rc == 0 && ck.step == 10, "the checkpoint holds step 10");
    if (rc)
        return;
    s = open_session(&ck.cfg, &ck, NULL);
    tlm_ckpt_free(&ck);
    ok(get_snap(s)->step == 10, "a session created from it starts at step 10");
    run(s, "step 10", NULL);
    int n2 = losses(s, 10, 20, resumed);
    tlm_session_free(s);
    ok(n1 == 10 && n2 == 10 && !memcmp(straight, resumed, sizeof straight),
       "20 steps straight == 10 + save + resume + 10: byte-identical losses (%.17g vs %.17g)",
       straight[9], resumed[9]);

    s = open_session(&c, NULL, NULL);
    run(s, "step 3", NULL);
    snprintf(line, sizeof line, "load %s", ck_path);
    rc = run(s, line, &a);
    ok(rc == 0 && get_snap(s)->step == 10 && strstr(a.text, "loaded"), "load PATH: %s", a.text);
    run(s, "step 10", NULL);
    int n3 = losses(s, 10, 20, loaded);
    ok(n3 == 10 && !memcmp(straight, loaded, sizeof straight),
       "load in a running session then 10 steps: byte-identical losses too");
    tlm_session_free(s);
}

static void write_bytes(const char *p, const unsigned char *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

static unsigned char *read_bytes(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n ? *n : 1);
    if (b && fread(b, 1, *n, f) != *n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Loading a bad file: an error naming the problem, the session unchanged. */
static void expect_bad_load(tlm_session *s, const char *path, const char *want, const char *what)
{
    const tlm_snapshot *sn = get_snap(s);
    int64_t step = sn->step;
    float g = layer(sn, "L1.mlp.up")->gamma;
    answer a;
    char line[9000];
    snprintf(line, sizeof line, "load %s", path);
    int rc = run(s, line, &a);
    sn = get_snap(s);
    ok(rc == -1 && a.n_errors == 1 && strstr(a.error, want) && sn->step == step &&
           layer(sn, "L1.mlp.up")->gamma == g,
       "load of a %s file: error, session untouched: %s", what, a.error);
}

static void test_bad_loads(void)
{
    char good[8192], bad[8192];
    tpath(good, "good.tlmc");
    tpath(bad, "bad.tlmc");
    tlm_config c = nano(1);
    tlm_session *s = open_session(&c, NULL, NULL);
    char line[9000];
    snprintf(line, sizeof line, "save %s", good);
    run(s, "step 2", NULL);
    run(s, line, NULL);
    run(s, "step 3", NULL);
    size_t n;
    unsigned char *b = read_bytes(good, &n);
    if (!b) {
        ok(0, "read the checkpoint back");
        tlm_session_free(s);
        return;
    }
    write_bytes(bad, b, n / 2);
    expect_bad_load(s, bad, "truncated", "truncated");
    b[n - 100] ^= 0x40;
    write_bytes(bad, b, n);
    expect_bad_load(s, bad, "checksum", "corrupted");
    b[n - 100] ^= 0x40;
    uint32_t h = get32(b + 12);
    put32(b + 8, 99);
    put32(b + h, (uint32_t)crc32(0L, b, h));
    write_bytes(bad, b, n);
    expect_bad_load(s, bad, "version", "future-version");
    expect_bad_load(s, "/nonexistent/x.tlmc", "/nonexistent/x.tlmc", "missing");
    /* a well-formed file whose weights are NaN: it loads, the next step fails */
    put32(b + 8, 1);
    put32(b + h, (uint32_t)crc32(0L, b, h));
    uint32_t L = get32(b + 120);
    const unsigned char *tab = b + 128 + L;
    uint64_t off = get32(tab + 16) | (uint64_t)get32(tab + 20) << 32;
    uint64_t bytes = get32(tab + 24) | (uint64_t)get32(tab + 28) << 32;
    float qnan = NAN;
    for (uint64_t i = 0; off + bytes <= n && i < bytes / 4; i++)
        memcpy(b + off + 4 * i, &qnan, 4);
    put32(b + n - 4, (uint32_t)crc32(0L, b + h + 4, (uInt)(n - 8 - h)));
    write_bytes(bad, b, n);
    answer a;
    snprintf(line, sizeof line, "load %s", bad);
    int rc = run(s, line, &a);
    int rc2 = run(s, "step 3", &a);
    const tlm_snapshot *sn = get_snap(s);
    ok(rc == 0 && rc2 == -1 && strstr(a.error, "NaN") && sn->state == TLM_SESS_ERROR &&
           strstr(sn->error, "NaN") && sn->step == 2,
       "a step whose loss is NaN: the command fails, the state is 'error': %s", a.error);
    rc = run(s, "status", &a);
    ok(rc == 0 && a.n_lines == 2 && !strncmp(a.text, "error |", 7) && strstr(a.text, "last error"),
       "status in the error state: state 'error' and the last error");
    snprintf(line, sizeof line, "load %s", good);
    rc = run(s, line, &a);
    rc2 = run(s, "step 3", &a);
    sn = get_snap(s);
    ok(rc == 0 && rc2 == 0 && sn->state == TLM_SESS_PAUSED && sn->step == 5 && !sn->error[0] &&
           isfinite(sn->train_loss),
       "loading a good checkpoint recovers from the error state");
    free(b);
    tlm_config other = nano(1);
    other.dim = 32;
    other.hidden = 85;
    tlm_session *s2 = open_session(&other, NULL, NULL);
    snprintf(line, sizeof line, "save %s", bad);
    run(s2, line, NULL);
    tlm_session_free(s2);
    expect_bad_load(s, bad, "architecture", "other-architecture");
    ok(run(s, "step 1", &a) == 0 && get_snap(s)->step == 6, "training goes on after failed loads");
    unlink(good);
    unlink(bad);
    tlm_session_free(s);
}

static int count_numbered(const char *d)
{
    DIR *dd = opendir(d);
    struct dirent *e;
    int n = 0;
    while (dd && (e = readdir(dd)))
        n += !strncmp(e->d_name, "step-", 5);
    if (dd)
        closedir(dd);
    return n;
}

static void test_failed_saves(void)
{
    char good[8192];
    tpath(good, "keep.tlmc");
    tlm_config c = nano(1);
    tlm_session *s = open_session(&c, NULL, NULL);
    char line[9000];
    answer a;
    run(s, "step 2", NULL);
    int rc = run(s, "save /nonexistent/dir/x.tlmc", &a);
    ok(rc == -1 && strstr(a.error, "/nonexistent/dir/x.tlmc"), "save to an unwritable path: %s",
       a.error);
    snprintf(line, sizeof line, "save %s", good);
    rc = run(s, line, NULL);
    size_t before = file_size(good);
    run(s, "resume", NULL);
    /* a full disk while training runs: writes past 64 KiB fail with EFBIG */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 65536;
    setrlimit(RLIMIT_FSIZE, &lim);
    rc = run(s, line, &a);
    setrlimit(RLIMIT_FSIZE, &old);
    int64_t at = get_snap(s)->step;
    ok(rc == -1 && a.n_errors == 1 && strstr(a.error, good), "save on a full disk: %s", a.error);
    for (int i = 0; i < 1000 && get_snap(s)->step < at + 3; i++)
        sleep_ms(5);
    ok(get_snap(s)->step >= at + 3 && get_snap(s)->state == TLM_SESS_RUNNING,
       "training goes on after a failed save (step %lld -> %lld)", (long long)at,
       (long long)get_snap(s)->step);
    run(s, "pause", NULL);
    tlm_ckpt ck;
    tlm_err e;
    int lrc = tlm_ckpt_load(good, &ck, &e);
    ok(lrc == 0 && ck.step == 2 && file_size(good) == before,
       "the previous checkpoint is intact (step %lld)", lrc ? -1LL : (long long)ck.step);
    if (!lrc)
        tlm_ckpt_free(&ck);
    DIR *d = opendir(dir);
    struct dirent *de;
    int temps = 0;
    while (d && (de = readdir(d)))
        temps += strstr(de->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    ok(temps == 0, "no temp file left behind");
    char folder[8300];
    snprintf(folder, sizeof folder, "save %s/new/", dir);
    rc = run(s, folder, &a);
    snprintf(folder, sizeof folder, "%s/new", dir);
    ok(rc == 0 && count_numbered(folder) == 1, "save FOLDER/ creates it and writes a numbered "
       "checkpoint: %s", a.text);
    remove_tree(folder);
    rc = run(s, "save", &a);
    ok(rc == -1 && strstr(a.error, "no output folder"), "save without PATH or folder: %s",
       a.error);
    unlink(good);
    tlm_session_free(s);
}

static void test_keep_last_k_and_metrics(void)
{
    char out[8192], p[8400];
    tpath(out, "run");
    tlm_config c = nano(1);
    c.keep_ckpts = 2;
    c.log_every = 1;
    tlm_session *s = open_session(&c, NULL, out);
    answer a;
    int all = 1;
    for (int i = 0; i < 4; i++) {
        all &= run(s, "step 1", NULL) == 0;
        all &= run(s, "save", &a) == 0;
    }
    snprintf(p, sizeof p, "%s/step-00000004.tlmc", out);
    int k = count_numbered(out);
    ok(all && k == 2 && file_size(p) > 0, "save keeps the last keep_ckpts=2 checkpoints (%d)", k);
    run(s, "precision L0.attn.* fp32", NULL);
    run(s, "step 1", NULL);
    run(s, "quit", NULL);
    tlm_session_free(s);
    snprintf(p, sizeof p, "%s/metrics.csv", out);
    size_t n;
    char *csv = (char *)read_bytes(p, &n);
    if (csv) {
        csv = realloc(csv, n + 1);
        csv[n] = 0;
    }
    int lines = 0;
    for (size_t i = 0; csv && i < n; i++)
        lines += csv[i] == '\n';
    char *last = NULL, *prev = NULL;
    for (char *q = csv ? strchr(csv, '\n') : NULL; q && q[1]; q = strchr(q + 1, '\n')) {
        prev = last;
        last = q + 1;
    }
    if (last)
        last[-1] = 0; /* prev ends where last begins */
    ok(csv && strstr(csv, "\"precision.L0.attn.q\"") && lines == 6 && last && prev &&
           strstr(last, "\"fp32\"") && !strstr(prev, "\"fp32\""),
       "metrics.csv: one row per step with the precision columns; the toggle is recorded");
    free(csv);
}

static void test_precision(void)
{
    tlm_config c = nano(1);
    tlm_session *s = open_session(&c, NULL, NULL);
    answer a;
    int rc = run(s, "precision L0.attn.* fp32", &a);
    const tlm_snapshot *sn = get_snap(s);
    ok(rc == 0 && strstr(a.text, "4 linears -> fp32") && strstr(a.text, "L0.attn.q") &&
           layer(sn, "L0.attn.o")->prec == TLM_PREC_FP32 &&
           layer(sn, "L1.attn.q")->prec == TLM_PREC_TERNARY,
       "precision L0.attn.* fp32: %s", a.text);
    int fin = 1;
    for (int i = 0; i < 3; i++) {
        fin &= run(s, "step 1", NULL) == 0 && isfinite(get_snap(s)->train_loss);
    }
    rc = run(s, "precision all ternary", &a);
    ok(rc == 0 && strstr(a.text, "14 linears"), "precision all ternary: %s", a.text);
    for (int i = 0; i < 3; i++)
        fin &= run(s, "step 1", NULL) == 0 && isfinite(get_snap(s)->train_loss);
    rc = run(s, "precision *.mlp.down int8", &a);
    fin &= run(s, "step 2", NULL) == 0 && isfinite(get_snap(s)->train_loss);
    sn = get_snap(s);
    ok(fin && rc == 0 && sn->step == 8 && layer(sn, "L1.mlp.down")->prec == TLM_PREC_INT8,
       "ternary -> fp32 -> ternary -> int8: every loss finite (%.4f)", sn->train_loss);
    const tlm_layer_snap *d = layer(sn, "L1.mlp.down");
    ok(d->sparsity < 0.2f, "an int8 layer's sparsity is its int8 zeros (%.4f)", d->sparsity);
    char p[8192], line[9000];
    tpath(p, "prec.tlmc");
    snprintf(line, sizeof line, "save %s", p);
    run(s, line, NULL);
    tlm_ckpt ck;
    tlm_err e;
    rc = tlm_ckpt_load(p, &ck, &e);
    ok(rc == 0 && ck.cfg.prec[1 * 7 + TLM_LIN_DOWN] == TLM_PREC_INT8 &&
           ck.cfg.prec[0] == TLM_PREC_TERNARY,
       "the checkpoint records each linear's precision");
    if (!rc)
        tlm_ckpt_free(&ck);
    unlink(p);
    rc = run(s, "precision L7.attn.q fp32", &a);
    ok(rc == -1 && strstr(a.error, "matches no linear"), "pattern matching nothing: %s", a.error);
    rc = run(s, "precision emb fp32", &a);
    ok(rc == -1 && strstr(a.error, "pattern"), "emb is not a linear: %s", a.error);
    rc = run(s, "precision all fp16", &a);
    ok(rc == -1 && strstr(a.error, "fp16"), "unknown precision: %s", a.error);
    tlm_session_free(s);
}

static void test_set_layers_inspect(void)
{
    tlm_config c = nano(1);
    tlm_session *s = open_session(&c, NULL, NULL);
    answer a;
    int rc = run(s, "set lr 0.05", &a);
    ok(rc == 0 && strstr(a.text, "lr = 0.05") && strstr(a.text, "was 0.0003"), "set lr: %s",
       a.text);
    rc = run(s, "set eval_interval=7", &a);
    ok(rc == 0 && strstr(a.text, "eval_every = 7"), "set eval_interval=7 (alias): %s", a.text);
    rc = run(s, "set batch 6", &a);
    run(s, "step 3", NULL);
    const tlm_snapshot *sn = get_snap(s);
    ok(rc == 0 && sn->batch == 6 && sn->step == 3 && isfinite(sn->train_loss) &&
           sn->tokens == 3.0 * 6 * 32,
       "set batch 6: the next steps use 6 sequences (%.0f tokens)", sn->tokens);
    float maxflip = 0;
    for (int i = 0; i < sn->n_rows; i++)
        maxflip = sn->layer[i].flip_rate > maxflip ? sn->layer[i].flip_rate : maxflip;
    ok(maxflip > 0 && maxflip < 1, "with lr 0.05 ternary codes flip (max rate %.5f)",
       (double)maxflip);
    ok(layer(sn, "L0.mlp.down")->grad_norm > 0 && layer(sn, "head")->grad_norm > 0,
       "per-layer gradient norms");
    rc = run(s, "set seed 7", &a);
    ok(rc == 0 && strstr(a.text, "reseeded"), "set seed: %s", a.text);
    rc = run(s, "set dim 128", &a);
    ok(rc == -1 && strstr(a.error, "'dim' cannot change"), "set dim: %s", a.error);
    rc = run(s, "set lr abc", &a);
    ok(rc == -1 && strstr(a.error, "'lr'"), "set lr abc: %s", a.error);
    rc = run(s, "set nokey 1", &a);
    ok(rc == -1 && strstr(a.error, "nokey"), "set of an unknown key: %s", a.error);
    rc = run(s, "set", &a);
    ok(rc == 0 && a.n_lines >= 10 && strstr(a.text, "eval_every"), "set lists the keys");
    rc = run(s, "layers", &a);
    ok(rc == 0 && a.n_lines == 17 && strstr(a.text, "L1.mlp.down") && strstr(a.text, "ternary") &&
           strstr(a.text, "sparsity"),
       "layers: header and 16 rows");
    rc = run(s, "inspect L0.mlp.down", &a);
    ok(rc == 0 && strstr(a.text, "64x170") && strstr(a.text, "ternary codes") &&
           strstr(a.text, "histogram") && strstr(a.text, "clipped") && strstr(a.text, "absmax"),
       "inspect L0.mlp.down: histogram, codes, activations (%d lines)", a.n_lines);
    ok(strstr(a.text, "<- -g/2") && strstr(a.text, "<- +g/2"),
       "inspect marks the bins of the ternary thresholds +-g/2 in the histogram");
    rc = run(s, "inspect emb", &a);
    ok(rc == 0 && strstr(a.text, "token ids"), "inspect emb");
    rc = run(s, "inspect L9.attn.q", &a);
    ok(rc == -1 && strstr(a.error, "L9.attn.q"), "inspect of an unknown layer: %s", a.error);
    tlm_session_free(s);
}

static void test_bad_input(void)
{
    tlm_config c = nano(1);
    tlm_session *s = open_session(&c, NULL, NULL);
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"frobnicate", "unknown command 'frobnicate'"},
        {"stat", "did you mean 'status'"},
        {"step abc", "'abc' is not an integer"},
        {"step 0", "not an integer in [1"},
        {"step 1 2", "too many arguments"},
        {"load", "missing argument"},
        {"gen \"unterminated", "unterminated"},
        {"gen x nope=1", "unknown option 'nope'"},
        {"help nope", "no command 'nope'"},
        {"layers extra", "too many arguments"},
    };
    int all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        answer a;
        int rc = run(s, bad[i].line, &a);
        int good = rc == -1 && a.n_errors == 1 && strstr(a.error, bad[i].want);
        if (!good)
            printf("# '%s' -> %d: %s\n", bad[i].line, rc, a.error);
        all &= good;
    }
    ok(all, "bad commands: one error line each, naming the problem");
    answer a;
    ok(run(s, "", &a) == 0 && run(s, "# comment", &a) == 0, "empty and comment lines are fine");
    ok(run(s, "step 2", &a) == 0 && get_snap(s)->step == 2 && get_snap(s)->state == TLM_SESS_PAUSED,
       "the session carries on after errors");
    ok(run(s, "help", &a) == 0 && strstr(a.text, "precision PATTERN"), "help lists commands");
    tlm_session_free(s);
}

static void test_events_fd(void)
{
    tlm_config c = nano(1);
    tlm_session *s = open_session(&c, NULL, NULL);
    int fd = tlm_session_event_fd(s);
    struct pollfd p = {fd, POLLIN, 0};
    tlm_event ev;
    while (tlm_session_poll_event(s, &ev))
        ;
    int idle = poll(&p, 1, 0);
    tlm_session_submit(s, "status");
    int woke = poll(&p, 1, 5000);
    int n = 0, done = 0;
    while (!done && tlm_session_wait_event(s, &ev, 10.0)) {
        n++;
        done = ev.kind == TLM_EV_DONE;
    }
    p.revents = 0;
    int after = poll(&p, 1, 0);
    ok(idle == 0 && woke == 1 && after == 0 && done == 1 && n == 2,
       "event fd: idle, readable when an answer comes, idle again once drained (%d events)", n);
    ok(!tlm_session_wait_event(s, &ev, 0.05), "wait_event times out when nothing comes");
    tlm_session_free(s);
}

/* ---- the storm ---- */

typedef struct stormer {
    tlm_session *s;
    unsigned seed;
    int n;
    uint64_t ids[400];
    const char *save_path;
} stormer;

static void *storm_thread(void *arg)
{
    stormer *t = arg;
    static const char *const cmds[] = {
        "status", "pause", "resume", "step 2", "step 1", "layers", "inspect L1.attn.v",
        "inspect head", "precision L0.mlp.* fp32", "precision all ternary", "set lr 0.001",
        "set batch 5", "set batch 4", "eval", "history 5", "frobnicate", "step x",
        "precision Lx fp32", "help", "gen \"Once\" n=3 seed=1", NULL};
    size_t nc = 0;
    while (cmds[nc])
        nc++;
    char line[9000];
    for (int i = 0; i < t->n; i++) {
        unsigned r = rand_r(&t->seed);
        if (r % 29 == 0)
            snprintf(line, sizeof line, "save %s", t->save_path);
        else
            snprintf(line, sizeof line, "%s", cmds[r % nc]);
        t->ids[i] = tlm_session_submit(t->s, line);
        if (r % 7 == 0)
            sleep_ms(1);
    }
    return NULL;
}

static void test_storm(void)
{
    char p[8192];
    tpath(p, "storm.tlmc");
    tlm_config c = nano(2);
    tlm_session *s = open_session(&c, NULL, NULL);
    run(s, "resume", NULL);
    stormer t[2] = {{s, 11, 150, {0}, p}, {s, 23, 150, {0}, p}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, storm_thread, &t[i]);
    /* this thread is the front end: drain events, copy snapshots and history */
    static unsigned char done_count[1024];
    int bad = 0, dones = 0, errors = 0;
    tlm_snapshot local;
    tlm_hist_row rows[32];
    int joined = 0;
    for (int spins = 0; spins < 200000; spins++) {
        tlm_event ev;
        if (tlm_session_wait_event(s, &ev, 0.002)) {
            if (ev.kind == TLM_EV_DONE) {
                if (ev.cmd < 1024)
                    done_count[ev.cmd]++;
                dones++;
            }
            errors += ev.kind == TLM_EV_ERROR;
            continue;
        }
        tlm_session_snapshot(s, &local);
        tlm_session_history(s, rows, 32);
        if (!joined && spins > 10) {
            for (int i = 0; i < 2; i++)
                pthread_join(th[i], NULL);
            joined = 1;
        }
        if (joined && dones >= 300)
            break;
    }
    if (!joined)
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < t[k].n; i++)
            bad += t[k].ids[i] >= 1024 || done_count[t[k].ids[i]] != 1;
    answer a;
    run(s, "pause", &a);
    const tlm_snapshot *sn = get_snap(s);
    ok(bad == 0 && dones >= 300, "storm: 300 commands from two threads, each answered once "
       "(%d done, %d errors)", dones, errors);
    ok(isfinite(sn->train_loss) && sn->step > 0 && sn->state == TLM_SESS_PAUSED,
       "storm: training went on (step %lld, loss %.4f)", (long long)sn->step, sn->train_loss);
    int rc = run(s, "quit", &a);
    ok(rc == 0 && strstr(a.text, "stopped at step") && get_snap(s)->state == TLM_SESS_STOPPED,
       "quit: %s", a.text);
    rc = run(s, "status", &a);
    ok(rc == -1 && strstr(a.error, "stopped"), "a command after quit: %s", a.error);
    tlm_session_free(s);
    unlink(p);
}

static void test_gen(void)
{
    tlm_config c = nano(1);
    tlm_session *s = open_session(&c, NULL, NULL);
    answer a;
    run(s, "step 3", NULL);
    run(s, "resume", NULL);
    int rc = run(s, "gen \"Once upon a time\" n=8 seed=3 temp=0", &a);
    ok(rc == 0 && a.n_tokens >= 1 && a.n_tokens <= 8 && strstr(a.text, "tokens"),
       "gen during training streams tokens (%d): %s", a.n_tokens, a.text);
    run(s, "pause", NULL);
    answer b;
    run(s, "gen \"Once upon a time\" n=8 seed=3 temp=0", &a);
    run(s, "gen \"Once upon a time\" n=8 seed=3 temp=0", &b);
    char *ta = strrchr(a.text, '['), *tb = strrchr(b.text, '[');
    if (ta)
        *ta = 0;
    if (tb)
        *tb = 0;
    ok(!strcmp(a.text, b.text), "gen: same weights and seed, same text");
    rc = run(s, "gen \"x\" top_p=0", &a);
    ok(rc == -1 && strstr(a.error, "top_p"), "gen: bad option value: %s", a.error);
    tlm_session_free(s);
}

static void test_create_fails(void)
{
    tlm_config c = nano(1);
    snprintf(c.train_data, sizeof c.train_data, "/nonexistent/stories.txt");
    tlm_session *s = NULL;
    tlm_err e;
    int rc = tlm_session_create(&s, &c, NULL, NULL, &e);
    ok(rc == -1 && !s && strstr(e.msg, "/nonexistent/stories.txt"),
       "a session that cannot start: an error naming the file: %s", e.msg);
    c = nano(1);
    c.dim = 63;
    rc = tlm_session_create(&s, &c, NULL, NULL, &e);
    ok(rc == -1 && strstr(e.msg, "dim"), "a bad config: %s", e.msg);
}

int main(void)
{
    make_tmpdir();
    test_create_fails();
    test_start_and_step();
    test_bit_exact_resume();
    test_bad_loads();
    test_failed_saves();
    test_keep_last_k_and_metrics();
    test_precision();
    test_set_layers_inspect();
    test_bad_input();
    test_events_fd();
    test_gen();
    test_storm();
    remove_tree(dir);
    return tap_done();
}
