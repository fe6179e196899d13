/* paper.h - the paper's measurements (issue "The paper, reproduced honestly"):
 * `tlm finetune`, `tlm sweep`, `tlm report`, and what they share: extra
 * options, one training run with its figures, and the files a run leaves. */
#ifndef TLM_PAPER_H
#define TLM_PAPER_H
#include <stdint.h>
#include <stdio.h>
#include "engine/core/err.h"
#include "engine/model/config.h"

int tlm_cmd_finetune(int argc, char **argv);
int tlm_cmd_sweep(int argc, char **argv);
int tlm_cmd_report(int argc, char **argv);

/* An option the shared parser (cli.c) does not know. Flags (has_arg 0) set
 * *val to "1". */
typedef struct tlm_xopt {
    const char *name;
    int has_arg;
    const char **val;
} tlm_xopt;

/* Take the options in xo[0..n) out of argv[first..*argc) (both "--name V" and
 * "--name=V"), leaving the rest for tlm_cli_parse. Errors name the option. */
int tlm_xopt_take(int *argc, char **argv, int first, const tlm_xopt *xo, int n, const char *cmd,
                  tlm_err *err);

/* Parse an integer option value in [lo, hi]; errors name the option. */
int tlm_xopt_int(const char *opt, const char *v, long lo, long hi, long *out, tlm_err *err);
/* Parse a finite float option value in (lo, hi]. */
int tlm_xopt_float(const char *opt, const char *v, double lo, double hi, double *out,
                   tlm_err *err);

/* Figures of one training run. Losses are mean token NLL (no smoothing) over
 * the same eval_windows consecutive windows of the training and of the
 * validation text; ratio = val / train (1 = no gap; above 1 = overfitting). */
typedef struct tlm_run_result {
    int seed;
    double final_loss;  /* training objective, mean of the last 10% of steps */
    double train_nll, val_nll, ppl, ratio;
    double sparsity, sparsity_mid, sparsity_bnd; /* share of ternary zeros, all linears */
    int n_layers, mid_lo, mid_hi;
    double layer_sparsity[TLM_MAX_LAYERS];
    double tok_s, seconds;
    int64_t steps;
} tlm_run_result;

/* Progress of a run: step done of total. */
typedef void (*tlm_run_progress)(void *ctx, int64_t step, int64_t total);

/* Train cfg from its seed for cfg->steps steps in dir (created): metrics.csv,
 * curve.csv (step,train_loss,val_loss), last.tlmc, result.csv (the figures)
 * and config.txt (the whole configuration; a later run with the same text
 * reuses the result: see tlm_run_reuse). eval_windows 0 = all windows. */
int tlm_run_train(const tlm_config *cfg, const char *dir, int eval_windows, tlm_run_progress cb,
                  void *ctx, tlm_run_result *r, tlm_err *err);

/* 1 and *r filled when dir holds a finished run of exactly cfg (and
 * eval_windows); 0 otherwise. */
int tlm_run_reuse(const tlm_config *cfg, const char *dir, int eval_windows, tlm_run_result *r);

/* Share of ternary zeros of the block linears of params: per layer (layer[]
 * has cfg->n_layers entries), in the middle layers (the paper's L5-L9 of 12,
 * the middle five twelfths for other depths: *lo..*hi, 0-based), at the
 * boundaries and over all. */
void tlm_run_sparsity(const tlm_config *cfg, const float *params, double *layer, double *mid,
                      double *bnd, double *all, int *lo, int *hi);

/* Called before each seed's run (reused 1 when its result was found). */
typedef void (*tlm_sweep_notice)(void *ctx, int index, int n, int seed, int reused);

/* Run (or reuse) seeds first_seed .. first_seed+n-1 of cfg in dir/seed-S,
 * sequentially in this process; res gets n results. */
int tlm_sweep_run(const tlm_config *cfg, int n, int first_seed, const char *dir,
                  int eval_windows, tlm_sweep_notice notice, tlm_run_progress cb, void *ctx,
                  tlm_run_result *res, tlm_err *err);

/* The per-seed rows, then mean and std rows, as CSV at path. */
int tlm_sweep_write_csv(const char *path, const tlm_run_result *res, int n, tlm_err *err);

/* The same as a table on f. */
void tlm_sweep_print(FILE *f, const tlm_run_result *res, int n);

/* `tlm memory`'s measurements (app/cmd_memory.c), MB of 2^20 bytes; [0]
 * ternary, [1] fp32 of the same architecture. Each peak RSS comes from its
 * own child process; packed is a scratch file for the packed model. */
typedef struct tlm_memory_figs {
    uint64_t params;
    double train_weights_mb;   /* latent + gradient + AdamW m, v: the same for both */
    double infer_mb[2];        /* packed model vs all fp32 */
    double linears_mb, emb_head_mb;
    double rss_train[2], rss_decode[2];
} tlm_memory_figs;
int tlm_memory_measure(const tlm_config *cfg, const char *packed, tlm_memory_figs *o,
                       tlm_err *err);

/* MRPC train.tsv and dev.tsv inside dir, or (dir NULL) found by name like
 * other data: mrpc/train.tsv under $TLM_DATA_DIR, datasets/data, then
 * ../shared/datasets. Errors say what was tried. */
int tlm_mrpc_paths(const char *dir, char *train, char *dev, size_t n, tlm_err *err);

/* Mean and sample standard deviation (n - 1; 0 for n < 2) of x[0..n). */
void tlm_mean_std(const double *x, int n, double *mean, double *std);

#endif
