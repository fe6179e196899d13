/* cmd_sweep.c - `tlm sweep`: N seeds of one configuration, trained one after
 * the other in this process, and the mean and std of each figure. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "paper.h"

/* Columns of the sweep table and CSV. */
static const struct {
    const char *name, *fmt;
    size_t off;
} cols[] = {
    {"final_loss", "%10.4f", offsetof(tlm_run_result, final_loss)},
    {"train_nll", "%10.4f", offsetof(tlm_run_result, train_nll)},
    {"val_nll", "%10.4f", offsetof(tlm_run_result, val_nll)},
    {"val_ppl", "%10.2f", offsetof(tlm_run_result, ppl)},
    {"val/train", "%10.4f", offsetof(tlm_run_result, ratio)},
    {"sparsity", "%10.4f", offsetof(tlm_run_result, sparsity)},
    {"sp_middle", "%10.4f", offsetof(tlm_run_result, sparsity_mid)},
    {"sp_boundary", "%10.4f", offsetof(tlm_run_result, sparsity_bnd)},
    {"tok_s", "%10.0f", offsetof(tlm_run_result, tok_s)},
};
#define N_COLS (sizeof cols / sizeof cols[0])

static double col(const tlm_run_result *r, size_t c)
{
    return *(const double *)((const char *)r + cols[c].off);
}

static void col_stats(const tlm_run_result *res, int n, size_t c, double *mean, double *std)
{
    double x[256];
    int k = n < 256 ? n : 256;
    for (int i = 0; i < k; i++)
        x[i] = col(&res[i], c);
    tlm_mean_std(x, k, mean, std);
}

void tlm_sweep_print(FILE *f, const tlm_run_result *res, int n)
{
    fprintf(f, "%-6s", "seed");
    for (size_t c = 0; c < N_COLS; c++)
        fprintf(f, " %10s", cols[c].name);
    fprintf(f, "\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%-6d", res[i].seed);
        for (size_t c = 0; c < N_COLS; c++) {
            fputc(' ', f);
            fprintf(f, cols[c].fmt, col(&res[i], c));
        }
        fprintf(f, "\n");
    }
    for (int s = 0; s < 2; s++) {
        fprintf(f, "%-6s", s ? "std" : "mean");
        for (size_t c = 0; c < N_COLS; c++) {
            double m, d;
            col_stats(res, n, c, &m, &d);
            fputc(' ', f);
            fprintf(f, cols[c].fmt, s ? d : m);
        }
        fprintf(f, "\n");
    }
}

int tlm_sweep_write_csv(const char *path, const tlm_run_result *res, int n, tlm_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "seed");
    for (size_t c = 0; c < N_COLS; c++)
        fprintf(f, ",%s", cols[c].name);
    fprintf(f, "\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%d", res[i].seed);
        for (size_t c = 0; c < N_COLS; c++)
            fprintf(f, ",%.6g", col(&res[i], c));
        fprintf(f, "\n");
    }
    for (int s = 0; s < 2; s++) {
        fprintf(f, "%s", s ? "std" : "mean");
        for (size_t c = 0; c < N_COLS; c++) {
            double m, d;
            col_stats(res, n, c, &m, &d);
            fprintf(f, ",%.6g", s ? d : m);
        }
        fprintf(f, "\n");
    }
    if (ferror(f) | fclose(f))
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

int tlm_sweep_run(const tlm_config *cfg, int n, int first_seed, const char *dir,
                  int eval_windows, tlm_sweep_notice notice, tlm_run_progress cb, void *ctx,
                  tlm_run_result *res, tlm_err *err)
{
    for (int i = 0; i < n; i++) {
        tlm_config c = *cfg;
        c.seed = first_seed + i;
        char sub[1100];
        snprintf(sub, sizeof sub, "%s/seed-%d", dir, c.seed);
        int reused = tlm_run_reuse(&c, sub, eval_windows, &res[i]);
        if (notice)
            notice(ctx, i, n, c.seed, reused);
        if (!reused && tlm_run_train(&c, sub, eval_windows, cb, ctx, &res[i], err))
            return tlm_err_prefix(err, "seed %d: ", c.seed);
    }
    return 0;
}

/* "ternary", "fp32" or "mixed": the precision of the linears. */
static const char *precision_label(const tlm_config *c)
{
    int n[3] = {0};
    for (int i = 0; i < c->n_layers * TLM_LIN_PER_BLOCK; i++)
        n[c->prec[i] < 3 ? c->prec[i] : 0]++;
    int all = c->n_layers * TLM_LIN_PER_BLOCK;
    return n[TLM_PREC_TERNARY] == all ? "ternary" : n[TLM_PREC_FP32] == all ? "fp32" : "mixed";
}

typedef struct sweep_ui {
    int tty, quiet;
} sweep_ui;

static void notice(void *ctx, int index, int n, int seed, int reused)
{
    sweep_ui *u = ctx;
    if (!u->quiet)
        fprintf(stderr, "%ssweep: seed %d (%d of %d)%s\n", u->tty ? "\r\033[K" : "", seed,
                index + 1, n, reused ? ": finished before with this config, reused" : "");
}

static void progress(void *ctx, int64_t step, int64_t total)
{
    sweep_ui *u = ctx;
    if (u->tty && !u->quiet && (step % 5 == 0 || step == total))
        fprintf(stderr, "\r\033[K  step %lld/%lld", (long long)step, (long long)total);
}

int tlm_cmd_sweep(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    tlm_config cfg;
    const char *seeds = NULL, *ew = NULL;
    tlm_xopt xo[] = {{"seeds", 1, &seeds}, {"eval-windows", 1, &ew}};
    long n = 0, first = 1, windows = 256;
    if (tlm_xopt_take(&argc, argv, 2, xo, 2, "sweep", &err) ||
        tlm_cli_parse(&cli, "sweep", OPT_PRESET | OPT_CONFIG | OPT_SET | OPT_DATA | OPT_STEPS |
                      OPT_BATCH | OPT_SEED | OPT_THREADS | OPT_FP32 | OPT_OUT | OPT_QUIET,
                      argc, argv, 2, &err))
        return tlm_cli_fail(&err);
    if (!seeds) {
        tlm_errf(&err, "sweep: --seeds N is required");
        return tlm_cli_fail(&err);
    }
    if (tlm_xopt_int("--seeds", seeds, 1, 256, &n, &err) ||
        (ew && tlm_xopt_int("--eval-windows", ew, 0, 1L << 30, &windows, &err)) ||
        (cli.seed && tlm_xopt_int("--seed", cli.seed, 0, 1L << 30, &first, &err)) ||
        tlm_cli_config(&cli, &cfg, &err))
        return tlm_cli_fail(&err);
    char dir[1024];
    if (cli.out && (!cli.out[0] || strlen(cli.out) >= 900)) {
        tlm_errf(&err, "--out: '%.40s' is not a usable folder name", cli.out);
        return tlm_cli_fail(&err);
    }
    if (cli.out)
        snprintf(dir, sizeof dir, "%s", cli.out);
    else
        snprintf(dir, sizeof dir, "runs/sweep-%s-%s", cfg.preset[0] ? cfg.preset : "custom",
                 precision_label(&cfg));
    tlm_run_result res[256];
    sweep_ui u = {isatty(STDERR_FILENO), cli.quiet};
    printf("sweep: preset %s (%s linears), %ld seeds from %ld, %d steps of %d x %d, eval %ld "
           "windows; output %s\n", cfg.preset[0] ? cfg.preset : "custom", precision_label(&cfg), n,
           first, cfg.steps, cfg.batch, cfg.ctx, windows, dir);
    fflush(stdout);
    if (tlm_sweep_run(&cfg, (int)n, (int)first, dir, (int)windows, notice, progress, &u, res, &err))
        return tlm_cli_fail(&err);
    if (u.tty && !u.quiet)
        fprintf(stderr, "\r\033[K");
    tlm_sweep_print(stdout, res, (int)n);
    char csv[1100];
    snprintf(csv, sizeof csv, "%s/sweep.csv", dir);
    if (tlm_sweep_write_csv(csv, res, (int)n, &err))
        return tlm_cli_fail(&err);
    printf("csv: %s\n", csv);
    return 0;
}
