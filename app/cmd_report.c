/* cmd_report.c - `tlm report --out DIR [--quick]`: runs (or reuses) the
 * paper's experiments in order (seed sweeps ternary vs FP32, a paper-preset
 * pair, sparsity, memory, MRPC, decode latency) and writes report.md, CSVs
 * and SVG plots. A progress bar on stderr when it is a terminal, plain
 * progress lines otherwise. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "engine/core/rng.h"
#include "engine/core/timer.h"
#include "engine/infer/generate.h"
#include "engine/io/checkpoint.h"
#include "engine/io/datapath.h"
#include "engine/model/params.h"
#include "report.h"

/* ---- the budget ---- */

static void plan_full(rep_plan *p)
{
    *p = (rep_plan){0, "tiny", 3, 200, 16, 512, 50, 4, 20, 4, 24, "paper", 4, 1, 0, 128, 16,
                    1e-4f, 64, 0};
}

static void plan_quick(rep_plan *p)
{
    *p = (rep_plan){1, "nano", 2, 20, 4, 16, 10, 2, 0, 0, 0, "nano", 4, 1, 48, 64, 8, 1e-4f,
                    16, 0};
}

/* ---- progress ---- */

typedef struct prog {
    int tty;
    double total, done, weight, t0, drawn;
    int phase, phases;
    char label[160];
} prog;

static void fmt_time(double s, char *b, size_t n)
{
    if (!isfinite(s) || s < 0)
        snprintf(b, n, "--");
    else
        snprintf(b, n, "%dm%02ds", (int)s / 60, (int)s % 60);
}

static void prog_draw(prog *g, double frac, const char *detail)
{
    double now = tlm_now();
    if (!g->tty || (now - g->drawn < 0.2 && frac < 1))
        return;
    g->drawn = now;
    double all = (g->done + g->weight * frac) / g->total, el = now - g->t0;
    char e[32], eta[32], bar[31];
    fmt_time(el, e, sizeof e);
    fmt_time(all > 0.01 ? el / all - el : NAN, eta, sizeof eta);
    int k = (int)(all * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < k ? '#' : '.';
    bar[30] = 0;
    fprintf(stderr, "\r\033[K[%s] %3.0f%% %s%s | %s, ETA %s", bar, 100 * all, g->label, detail,
            e, eta);
}

/* Start a phase of the given weight (its share of the expected time). */
static void prog_phase(prog *g, double weight, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void prog_phase(prog *g, double weight, const char *fmt, ...)
{
    g->done += g->weight;
    g->weight = weight;
    g->phase++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->label, sizeof g->label, fmt, ap);
    va_end(ap);
    if (g->tty)
        prog_draw(g, 0, "");
    else
        fprintf(stderr, "report: [%d/%d] %s\n", g->phase, g->phases, g->label);
}

static void on_train_step(void *ctx, int64_t step, int64_t total)
{
    char d[64];
    snprintf(d, sizeof d, ": step %lld/%lld", (long long)step, (long long)total);
    prog_draw(ctx, (double)step / (double)total, d);
}

static void on_ft_step(void *ctx, long step, long total, double loss)
{
    (void)loss;
    on_train_step(ctx, step, total);
}

/* ---- stages ---- */

static double n_params(const tlm_config *c)
{
    uint64_t n = 0;
    tlm_config_param_count(c, &n, NULL);
    return (double)n;
}

/* Cost of training steps of cfg in units of 1e9 "params x tokens". */
static double train_cost(const tlm_config *c, int steps)
{
    return n_params(c) * c->batch * (double)c->ctx * steps / 1e9 * 3;
}

static int make_cfg(tlm_config *c, const char *preset, int steps, int batch, int eval_every,
                    int eval_batches, int threads, int fp32, tlm_err *err)
{
    if (tlm_config_preset(c, preset, err))
        return -1;
    c->steps = steps;
    c->batch = batch;
    c->eval_every = eval_every;
    c->eval_batches = eval_batches;
    c->threads = threads;
    c->save_every = 0;
    if (fp32)
        tlm_config_set_precision(c, "all", TLM_PREC_FP32, NULL);
    return tlm_config_validate(c, err);
}

static void notice(void *ctx, int index, int n, int seed, int reused)
{
    prog *g = ctx;
    (void)index, (void)n;
    if (reused && !g->tty)
        fprintf(stderr, "report:   seed %d: finished before with this config, reused\n", seed);
}

static int stage_sweeps(rep *r, prog *g, tlm_err *err)
{
    const rep_plan *p = &r->p;
    for (int k = 0; k < 2; k++) {
        if (make_cfg(&r->cfg[k], p->small, p->steps, p->batch, p->eval_every, p->eval_batches,
                     p->threads, k, err))
            return -1;
        char dir[1100];
        snprintf(dir, sizeof dir, "%s/runs/%s-%s", r->dir, p->small, k ? "fp32" : "ternary");
        for (int s = 0; s < p->seeds; s++) {
            prog_phase(g, train_cost(&r->cfg[k], p->steps), "%s %s seed %d", p->small,
                       k ? "fp32" : "ternary", s + 1);
            if (tlm_sweep_run(&r->cfg[k], 1, s + 1, dir, p->eval_windows, notice, on_train_step,
                              g, &r->small[k][s], err))
                return -1;
        }
    }
    return 0;
}

static int stage_paper(rep *r, prog *g, tlm_err *err)
{
    const rep_plan *p = &r->p;
    if (!p->paper_steps)
        return 0;
    for (int k = 0; k < 2; k++) {
        if (make_cfg(&r->paper_cfg[k], "paper", p->paper_steps, p->paper_batch, 0, 1, p->threads,
                     k, err))
            return -1;
        char dir[1100];
        snprintf(dir, sizeof dir, "%s/runs/paper-%s", r->dir, k ? "fp32" : "ternary");
        prog_phase(g, train_cost(&r->paper_cfg[k], p->paper_steps), "paper %s",
                   k ? "fp32" : "ternary");
        if (tlm_sweep_run(&r->paper_cfg[k], 1, 1, dir, p->paper_eval_windows, notice,
                          on_train_step, g, &r->paper[k], err))
            return -1;
    }
    r->have_paper = 1;
    return 0;
}

/* Sparsity of the untrained N(0, init_std) weights, for comparison. */
static int init_sparsity(const tlm_config *c, double *layer, tlm_err *err)
{
    tlm_params p;
    if (tlm_params_alloc(&p, c, err))
        return -1;
    tlm_params_init(&p, c, 1);
    double mid, bnd, all;
    int lo, hi;
    tlm_run_sparsity(c, p.mem, layer, &mid, &bnd, &all, &lo, &hi);
    tlm_params_free(&p);
    return 0;
}

/* A stage's key file: 1 when dir/name holds exactly key. */
static int key_matches(const char *dir, const char *name, const char *key)
{
    char path[1200], buf[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return !strcmp(buf, key);
}

static int key_write(const char *dir, const char *name, const char *key, tlm_err *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(key, f) == EOF || fclose(f))
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int stage_memory(rep *r, prog *g, tlm_err *err)
{
    tlm_config *c = &r->mem_cfg;
    if (tlm_config_preset(c, r->p.mem_preset, err))
        return -1;
    c->batch = r->p.mem_batch;
    c->threads = r->p.threads;
    char key[256], path[1200];
    snprintf(key, sizeof key, "memory preset=%s batch=%d\n", r->p.mem_preset, c->batch);
    prog_phase(g, 2 * train_cost(c, 1) + 1, "memory of %s (each figure in its own process)",
               r->p.mem_preset);
    snprintf(path, sizeof path, "%s/memory.bin", r->dir);
    if (key_matches(r->dir, "memory.key", key)) {
        FILE *f = fopen(path, "rb");
        size_t n = f ? fread(&r->mem, sizeof r->mem, 1, f) : 0;
        if (f)
            fclose(f);
        if (n == 1)
            return 0;
    }
    char packed[1200];
    snprintf(packed, sizeof packed, "%s/memory-scratch.tlmp", r->dir);
    int rc = tlm_memory_measure(c, packed, &r->mem, err);
    unlink(packed);
    FILE *f = rc ? NULL : fopen(path, "wb");
    if (rc == 0 && (!f || fwrite(&r->mem, sizeof r->mem, 1, f) != 1 || fclose(f)))
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    return rc ? -1 : key_write(r->dir, "memory.key", key, err);
}

/* ---- MRPC ---- */

static void ft_start(void *ctx, const tlm_finetune_info *i)
{
    rep_mrpc *m = ((void **)ctx)[1];
    m->info = *i;
    snprintf(m->separators, sizeof m->separators, "%s", i->separators);
}

static void ft_epoch(void *ctx, const tlm_finetune_epoch *e)
{
    rep_mrpc *m = ((void **)ctx)[1];
    if (m->n_ep < REP_MAX_EPOCHS)
        m->ep[m->n_ep++] = *e;
}

static void ft_step(void *ctx, long step, long total, double loss)
{
    on_ft_step(((void **)ctx)[0], step, total, loss);
}

static int mrpc_save(const char *path, const rep_mrpc *m, tlm_err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(m, sizeof *m, 1, f) != 1 || fclose(f))
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int mrpc_load(const char *path, rep_mrpc *m)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(m, sizeof *m, 1, f) : 0;
    if (f)
        fclose(f);
    if (n != 1 || m->n_ep < 1 || m->n_ep > REP_MAX_EPOCHS)
        return -1;
    m->info.separators = m->separators;
    m->reused = 1;
    return 0;
}

static int stage_mrpc(rep *r, prog *g, tlm_err *err)
{
    const rep_plan *p = &r->p;
    char train[4096], dev[4096];
    if (tlm_mrpc_paths(NULL, train, dev, sizeof train, err))
        return -1;
    for (int k = 0; k < 2; k++) {
        tlm_finetune_opts o;
        tlm_finetune_defaults(&o);
        char model[1200], key[4096], name[64], bin[1300];
        snprintf(model, sizeof model, "%s/runs/%s-%s/seed-1/last.tlmc", r->dir, p->small,
                 k ? "fp32" : "ternary");
        o.model = model, o.train_path = train, o.dev_path = dev;
        o.epochs = p->ft_epochs, o.batch = p->ft_batch, o.max_len = p->ft_max_len;
        o.lr = p->ft_lr, o.threads = p->threads;
        o.limit_train = o.limit_dev = (size_t)p->ft_limit;
        double pairs = p->ft_limit ? p->ft_limit : 3668;
        prog_phase(g, train_cost(&r->cfg[k], 1) * pairs * 60 / (r->cfg[k].batch * 128.0) *
                   p->ft_epochs, "MRPC fine-tuning of the %s %s model", p->small,
                   k ? "fp32" : "ternary");
        /* the options and the pretrained model's own figures (17 digits): a
         * retrained model, even a slightly different one, is fine-tuned anew */
        const tlm_run_result *x = &r->small[k][0];
        snprintf(key, sizeof key, "mrpc epochs=%d batch=%d max_len=%d lr=%g limit=%d seed=%d\n"
                 "model seed=%d steps=%lld train_nll=%.17g val_nll=%.17g sparsity=%.17g\n",
                 o.epochs, o.batch, o.max_len, (double)o.lr, p->ft_limit, o.seed, x->seed,
                 (long long)x->steps, x->train_nll, x->val_nll, x->sparsity);
        snprintf(name, sizeof name, "mrpc-%s.key", k ? "fp32" : "ternary");
        snprintf(bin, sizeof bin, "%s/mrpc-%s.bin", r->dir, k ? "fp32" : "ternary");
        rep_mrpc *m = &r->mrpc[k];
        if (key_matches(r->dir, name, key) && mrpc_load(bin, m) == 0)
            continue;
        memset(m, 0, sizeof *m);
        void *ctx[2] = {g, m};
        tlm_finetune_cb cb = {ctx, ft_start, ft_step, ft_epoch};
        if (tlm_finetune_mrpc(&o, &cb, NULL, err) || mrpc_save(bin, m, err) ||
            key_write(r->dir, name, key, err))
            return -1;
        m->info.separators = m->separators;
    }
    return 0;
}

/* ---- decode latency ---- */

/* Best of three: ms per token of greedy decoding after a 16-token prompt. */
static int decode_ms(tlm_infer *inf, int gen, double *ms, tlm_err *err)
{
    const tlm_config *c = tlm_infer_config(inf);
    float *logits = malloc(sizeof(float) * (size_t)c->vocab);
    int32_t ids[16];
    int rc = logits ? 0 : tlm_errf(err, "out of memory");
    for (int i = 0; i < 16; i++)
        ids[i] = (int32_t)((i * 37 + 11) % c->vocab);
    if (gen > c->max_ctx - 16)
        gen = c->max_ctx - 16;
    *ms = INFINITY;
    for (int trial = 0; trial < 3 && rc == 0; trial++) {
        tlm_infer_reset(inf);
        rc = tlm_infer_forward(inf, ids, 16, logits, 0, err);
        double t0 = tlm_now();
        for (int i = 0; i < gen && rc == 0; i++) {
            int32_t best = 0;
            for (int v = 1; v < c->vocab; v++)
                best = logits[v] > logits[best] ? v : best;
            rc = tlm_infer_forward(inf, &best, 1, logits, 0, err);
        }
        *ms = fmin(*ms, 1e3 * (tlm_now() - t0) / gen);
    }
    free(logits);
    return rc;
}

/* Latency of one pair of trained models (checkpoints in dir/runs/NAME-*). */
static int latency_pair(rep *r, const char *name, int idx, tlm_err *err)
{
    snprintf(r->lat_name[idx], sizeof r->lat_name[idx], "%s", name);
    for (int k = 0; k < 2; k++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/runs/%s-%s/seed-1/last.tlmc", r->dir, name,
                 k ? "fp32" : "ternary");
        tlm_infer *inf;
        if (tlm_infer_open(&inf, path, 0, err))
            return -1;
        int rc = (r->p.threads ? tlm_infer_set_threads(inf, r->p.threads, err) : 0) ||
                 decode_ms(inf, r->p.lat_tokens, &r->lat_ms[idx][k], err);
        tlm_infer_free(inf);
        if (rc)
            return -1;
    }
    return 0;
}

static int stage_latency(rep *r, prog *g, tlm_err *err)
{
    prog_phase(g, r->have_paper ? 8 : 1, "decode latency, ternary vs fp32 (always measured anew)");
    r->n_lat = 1;
    if (latency_pair(r, r->p.small, 0, err))
        return -1;
    if (r->have_paper && latency_pair(r, "paper", 1, err))
        return -1;
    r->n_lat += r->have_paper;
    return 0;
}

/* ---- the command ---- */

static int run_all(rep *r, prog *g, tlm_err *err)
{
    g->phases = 2 * r->p.seeds + (r->p.paper_steps ? 2 : 0) + 1 + 2 + 1 + 1;
    tlm_config tmp;
    /* the expected total, in the same units as the phases' weights */
    if (make_cfg(&tmp, r->p.small, r->p.steps, r->p.batch, 0, 1, 0, 0, err))
        return -1;
    g->total = 2 * r->p.seeds * train_cost(&tmp, r->p.steps);
    g->total += 2 * train_cost(&tmp, 1) * (r->p.ft_limit ? r->p.ft_limit : 3668) * 60 /
                (tmp.batch * 128.0) * r->p.ft_epochs;
    if (r->p.paper_steps && make_cfg(&tmp, "paper", r->p.paper_steps, r->p.paper_batch, 0, 1, 0,
                                     0, err) == 0)
        g->total += 2 * train_cost(&tmp, r->p.paper_steps) + 8;
    if (tlm_config_preset(&tmp, r->p.mem_preset, err))
        return -1;
    tmp.batch = r->p.mem_batch;
    g->total += 2 * train_cost(&tmp, 1) + 1 + 1;
    if (stage_sweeps(r, g, err) || stage_paper(r, g, err) || stage_memory(r, g, err) ||
        stage_mrpc(r, g, err) || stage_latency(r, g, err))
        return -1;
    if (init_sparsity(&r->cfg[0], r->init_sp_small, err) ||
        (r->have_paper && init_sparsity(&r->paper_cfg[0], r->init_sp_paper, err)))
        return -1;
    prog_phase(g, 0, "writing report.md, CSVs and SVGs");
    r->seconds = tlm_now_since(g->t0);
    return rep_write_all(r, err);
}

/* --seeds, --steps, --paper-steps, --epochs over the plan's budget. */
static int plan_overrides(rep_plan *p, const tlm_cli *cli, const char *const x[3], tlm_err *err)
{
    long v;
    if (x[0]) {
        if (tlm_xopt_int("--seeds", x[0], 1, REP_MAX_SEEDS, &v, err))
            return -1;
        p->seeds = (int)v;
    }
    if (cli->steps) {
        if (tlm_xopt_int("--steps", cli->steps, 1, 10000000, &v, err))
            return -1;
        p->steps = (int)v;
    }
    if (x[1]) {
        if (tlm_xopt_int("--paper-steps", x[1], 0, 10000000, &v, err))
            return -1;
        p->paper_steps = (int)v;
        p->paper_batch = p->paper_batch ? p->paper_batch : 4;
        p->paper_eval_windows = p->paper_eval_windows ? p->paper_eval_windows : 24;
    }
    if (x[2]) {
        if (tlm_xopt_int("--epochs", x[2], 1, REP_MAX_EPOCHS, &v, err))
            return -1;
        p->ft_epochs = (int)v;
    }
    if (cli->threads) {
        if (tlm_xopt_int("--threads", cli->threads, 1, 1024, &v, err))
            return -1;
        p->threads = (int)v;
    }
    return 0;
}

int tlm_cmd_report(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    const char *quick = NULL, *x[3] = {0};
    tlm_xopt xo[] = {{"quick", 0, &quick}, {"seeds", 1, &x[0]}, {"paper-steps", 1, &x[1]},
                     {"epochs", 1, &x[2]}};
    if (tlm_xopt_take(&argc, argv, 2, xo, 4, "report", &err) ||
        tlm_cli_parse(&cli, "report", OPT_OUT | OPT_THREADS | OPT_STEPS, argc, argv, 2, &err))
        return tlm_cli_fail(&err);
    rep *r = calloc(1, sizeof *r);
    if (!r) {
        tlm_errf(&err, "report: out of memory");
        return tlm_cli_fail(&err);
    }
    quick ? plan_quick(&r->p) : plan_full(&r->p);
    int rc = 0;
    if (!cli.out || !cli.out[0] || strlen(cli.out) >= sizeof r->dir - 100)
        rc = tlm_errf(&err, "report: --out DIR is required (a usable folder name)");
    else if (plan_overrides(&r->p, &cli, x, &err) || tlm_mkdirs(cli.out, &err))
        rc = -1;
    if (rc == 0) {
        snprintf(r->dir, sizeof r->dir, "%s", cli.out);
        prog g = {.tty = isatty(STDERR_FILENO), .t0 = tlm_now()};
        rc = run_all(r, &g, &err);
        if (g.tty)
            fprintf(stderr, "\r\033[K");
    }
    if (rc == 0)
        printf("report: %s/report.md (%.0f s)\n", r->dir, r->seconds);
    free(r);
    return rc ? tlm_cli_fail(&err) : 0;
}
