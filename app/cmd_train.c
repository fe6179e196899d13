/* cmd_train.c - `tlm train`: headless training with a progress line, metrics
 * CSV and checkpoints. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "mpi.h"
#include "engine/core/blas.h"
#include "engine/io/checkpoint.h"
#include "engine/io/datapath.h"
#include "engine/io/metrics.h"
#include "engine/core/timer.h"
#include "engine/train/trainer.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct run {
    tlm_trainer *tr;
    tlm_metrics_csv csv;
    char dir[1024];
    int tty, quiet;
    double ema_tok_s, last_val, started;
    int64_t start_step; /* step when this process started (resume) */
    int rank;           /* MPI rank (0 without MPI): only rank 0 writes files */
} run;

static int save_to(run *r, const char *name, tlm_err *err)
{
    char path[1200];
    if (r->rank)
        return 0; /* rank 0 writes the checkpoints */
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    tlm_ckpt ck;
    tlm_trainer_snapshot(r->tr, &ck);
    return tlm_ckpt_save(path, &ck, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Delete the oldest step-*.tlmc files beyond keep. */
static void prune(run *r, int keep)
{
    DIR *d = opendir(r->dir);
    if (!d)
        return;
    char *names[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        size_t len = strlen(e->d_name);
        if (!strncmp(e->d_name, "step-", 5) && len > 5 && !strcmp(e->d_name + len - 5, ".tlmc"))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (int i = 0; i < n; i++) {
        if (i < n - keep && names[i]) {
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", r->dir, names[i]);
            unlink(path);
        }
        free(names[i]);
    }
}

static void fmt_duration(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "--");
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

static void progress(run *r, const tlm_step_stats *st, int force_line)
{
    const tlm_config *c = &r->tr->cfg;
    double elapsed = tlm_now_since(r->started);
    int64_t done = st->step - r->start_step;
    double per_step = elapsed / (double)(done > 0 ? done : 1);
    char eta[32], val[32];
    fmt_duration(per_step * (double)(c->steps - st->step), eta, sizeof eta);
    if (isnan(r->last_val))
        snprintf(val, sizeof val, "-");
    else
        snprintf(val, sizeof val, "%.4f", r->last_val);
    char line[256];
    snprintf(line, sizeof line, "step %lld/%d | loss %.4f | val %s | %.0f tok/s | lr %.2e | ETA %s",
             (long long)st->step, c->steps, st->loss, val, r->ema_tok_s, (double)st->lr, eta);
    if (r->quiet)
        return;
    if (r->tty && !force_line) {
        printf("\r\033[K%s", line);
        fflush(stdout);
    } else if (force_line) {
        printf("%s%s\n", r->tty ? "\r\033[K" : "", line);
        fflush(stdout);
    }
}

static int log_row(run *r, const tlm_step_stats *st, double val, tlm_err *err)
{
    const tlm_config *c = &r->tr->cfg;
    float sp[TLM_MAX_LINEARS];
    for (int i = 0; i < c->n_layers * TLM_LIN_PER_BLOCK; i++)
        sp[i] = r->tr->model->lstats[i].sparsity;
    tlm_metric_row row = {st->step, st->tokens, st->lr, (float)st->loss, (float)val,
                          (float)st->grad_norm, (float)r->ema_tok_s};
    if (tlm_trainer_record(r->tr, &row, err))
        return -1;
    return r->rank ? 0 : tlm_metrics_write(&r->csv, &row, sp, err);
}

static int train_loop(run *r, tlm_err *err)
{
    tlm_trainer *tr = r->tr;
    const tlm_config *c = &tr->cfg;
    tlm_step_stats st = {0};
    /* under MPI a stop request travels with the next step: the ranks stop together */
    while (tr->step < c->steps && !tlm_app_mpi_stop(stop_requested)) {
        if (tlm_trainer_step(tr, &st, err))
            return -1;
        double tok_s = (double)c->batch * c->ctx * tlm_app_mpi_size() /
                       (st.seconds > 0 ? st.seconds : 1e-9); /* all ranks together */
        r->ema_tok_s = r->ema_tok_s > 0 ? 0.9 * r->ema_tok_s + 0.1 * tok_s : tok_s;
        int last = tr->step == c->steps;
        double val = NAN;
        if (c->eval_every && (tr->step % c->eval_every == 0 || last)) {
            if (tlm_trainer_eval(tr, &val, NULL, err))
                return -1;
            r->last_val = val;
        }
        if (tr->step % c->log_every == 0 || last || !isnan(val))
            if (log_row(r, &st, val, err))
                return -1;
        progress(r, &st, !isnan(val) || (!r->tty && tr->step % (c->log_every * 10) == 0));
        if (c->save_every && tr->step % c->save_every == 0 && !last) {
            char name[64];
            snprintf(name, sizeof name, "step-%08lld.tlmc", (long long)tr->step);
            if (save_to(r, name, err))
                return -1;
            if (!r->rank)
                prune(r, c->keep_ckpts);
        }
    }
    return 0;
}

static int setup(run *r, const tlm_cli *cli, tlm_err *err)
{
    tlm_config cfg;
    tlm_ckpt ck;
    int have_ck = 0;
    if (cli->resume) {
        if (tlm_ckpt_load(cli->resume, &ck, err))
            return -1;
        have_ck = 1;
        cfg = ck.cfg;
        /* The checkpoint's configuration is the base; --preset must agree with
         * it and a --config file applies on top of it like --set. */
        if (cli->preset) {
            tlm_config p;
            if (tlm_config_preset(&p, cli->preset, err))
                goto fail;
            if (cfg.preset[0] && strcmp(cfg.preset, cli->preset)) {
                tlm_errf(err, "--resume: checkpoint %s is a '%s' run, not --preset %s",
                         cli->resume, cfg.preset, cli->preset);
                goto fail;
            }
        }
        if (cli->config && tlm_config_load_file(&cfg, cli->config, err))
            goto fail;
        if (tlm_cli_overrides(cli, &cfg, err))
            goto fail;
    } else if (tlm_cli_config(cli, &cfg, err)) {
        return -1;
    }
    if (cli->out && (!cli->out[0] || strlen(cli->out) >= sizeof r->dir)) {
        tlm_errf(err, "--out: '%.40s' is not a usable folder name", cli->out);
        goto fail;
    }
    if (cli->out)
        snprintf(r->dir, sizeof r->dir, "%s", cli->out);
    else
        snprintf(r->dir, sizeof r->dir, "runs/%s", cfg.preset[0] ? cfg.preset : "custom");
    if (!r->rank && tlm_mkdirs(r->dir, err))
        goto fail;
    if (tlm_trainer_create(&r->tr, &cfg, err))
        goto fail;
    if (have_ck) {
        if (tlm_trainer_restore(r->tr, &ck, err))
            goto fail;
        tlm_ckpt_free(&ck);
        have_ck = 0;
    }
    if (tlm_app_mpi_start(r->tr, err)) /* MPI: the ranks agree, then reduce together */
        return -1;
    if (r->rank)
        return 0;
    char csv[1200];
    snprintf(csv, sizeof csv, "%s/metrics.csv", r->dir);
    if (tlm_metrics_open(&r->csv, csv, &r->tr->cfg, err))
        goto fail;
    return 0;
fail:
    if (have_ck)
        tlm_ckpt_free(&ck);
    return -1;
}

static void banner(const run *r)
{
    const tlm_config *c = &r->tr->cfg;
    uint64_t n = 0;
    tlm_config_param_count(c, &n, NULL);
    char blas[256];
    tlm_blas_describe(blas, sizeof blas);
    printf("tlm train: preset %s, %llu parameters, batch %d x %d, steps %lld -> %d, %d threads\n",
           c->preset[0] ? c->preset : "custom", (unsigned long long)n, c->batch, c->ctx,
           (long long)r->tr->step, c->steps, tlm_pool_threads(r->tr->pool));
    if (tlm_app_mpi_size() > 1)
        printf("data parallel: %d ranks (MPI), global batch %d x %d\n", tlm_app_mpi_size(),
               c->batch * tlm_app_mpi_size(), c->ctx);
    printf("data: %s (%zu tokens), validation %zu tokens; output %s; %s\n", c->train_data,
           tlm_dataset_size(r->tr->train), r->tr->val ? tlm_dataset_size(r->tr->val) : 0, r->dir,
           blas);
    fflush(stdout);
}

int tlm_cmd_train(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    int first = argc >= 2 && !strcmp(argv[1], "train") ? 2 : 1;
    if (tlm_cli_parse(&cli, "train", OPT_PRESET | OPT_CONFIG | OPT_SET | OPT_DATA | OPT_STEPS |
                      OPT_BATCH | OPT_SEED | OPT_THREADS | OPT_FP32 | OPT_OUT | OPT_RESUME |
                      OPT_QUIET, argc, argv, first, &err))
        return tlm_cli_fail(&err);
    run r = {.tty = isatty(STDOUT_FILENO), .quiet = cli.quiet, .last_val = NAN,
             .rank = tlm_app_mpi_rank()};
    if (r.rank)
        r.quiet = 1; /* rank 0 reports */
    if (setup(&r, &cli, &err)) {
        tlm_trainer_free(r.tr);
        return tlm_app_mpi_fail(&err);
    }
    if (!r.quiet)
        banner(&r);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    r.started = tlm_now();
    r.start_step = r.tr->step;
    int rc = train_loop(&r, &err);
    int status = 0;
    if (rc) {
        status = tlm_app_mpi_fail(&err);
    } else {
        if (save_to(&r, "last.tlmc", &err))
            status = tlm_cli_fail(&err);
        else if (!r.quiet)
            printf("%ssaved %s/last.tlmc at step %lld\n", r.tty ? "\r\033[K" : "", r.dir,
                   (long long)r.tr->step);
        if (!r.quiet)
            tlm_app_mpi_summary();
        if (tlm_app_mpi_stop(stop_requested)) {
            if (!r.rank)
                fprintf(stderr, "tlm: interrupted at step %lld; state saved in %s/last.tlmc\n",
                        (long long)r.tr->step, r.dir);
            status = 1;
        }
    }
    if (tlm_metrics_close(&r.csv, &err) && !status)
        status = tlm_cli_fail(&err);
    tlm_trainer_free(r.tr);
    return status;
}
