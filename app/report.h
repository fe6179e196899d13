/* report.h - `tlm report`: the plan of experiments, their results, and the
 * writers of report.md, the CSVs and the SVG plots (app/report_out.c). */
#ifndef TLM_REPORT_H
#define TLM_REPORT_H
#include "engine/task/finetune.h"
#include "paper.h"

#define REP_MAX_SEEDS 8
#define REP_MAX_EPOCHS 16

/* The budget: --quick or the full one. */
typedef struct rep_plan {
    int quick;
    const char *small;               /* the preset of the seed sweep */
    int seeds, steps, batch, eval_windows, eval_every, eval_batches;
    int paper_steps, paper_batch, paper_eval_windows; /* paper_steps 0: no paper pair */
    const char *mem_preset;
    int mem_batch;
    int ft_epochs, ft_limit, ft_max_len, ft_batch;
    float ft_lr;
    int lat_tokens;
    int threads;                     /* 0 = all cores */
} rep_plan;

typedef struct rep_mrpc {
    tlm_finetune_info info;
    char separators[96];
    tlm_finetune_epoch ep[REP_MAX_EPOCHS];
    int n_ep;
    int reused;
} rep_mrpc;

typedef struct rep {
    rep_plan p;
    char dir[900];
    tlm_config cfg[2];                        /* small preset: [0] ternary, [1] fp32 */
    tlm_run_result small[2][REP_MAX_SEEDS];
    int have_paper;
    tlm_config paper_cfg[2];
    tlm_run_result paper[2];
    double init_sp_small[TLM_MAX_LAYERS], init_sp_paper[TLM_MAX_LAYERS]; /* untrained N(0, 0.02) */
    tlm_config mem_cfg;
    tlm_memory_figs mem;
    rep_mrpc mrpc[2];                         /* fine-tuned from small [0] ternary, [1] fp32 */
    int n_lat;
    char lat_name[2][32];
    double lat_ms[2][2];                      /* [model][ternary packed, fp32] ms/token */
    double seconds;
} rep;

/* Mean and std over the small preset's seeds of the double at byte offset
 * off of tlm_run_result, for [0] ternary or [1] fp32. */
void rep_stat(const rep *r, int k, size_t off, double *m, double *s);

/* report.md (app/report_md.c). */
int rep_write_md(const rep *r, tlm_err *err);

/* Write the CSVs, SVGs and report.md of a finished run into r->dir. */
int rep_write_all(const rep *r, tlm_err *err);

#endif
