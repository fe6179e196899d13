/* cmd_bench.c - `tlm bench`: BLAS GFLOP/s at the model's shapes and training
 * throughput (tokens/s, model GFLOP/s) on the real data. */
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "engine/core/blas.h"
#include "engine/core/gemm.h"
#include "engine/core/rng.h"
#include "engine/core/timer.h"
#include "engine/model/qgemm.h"
#include "engine/train/trainer.h"

/* GFLOP/s of y[M,N] = x[M,K] w[N,K]^T, best of a few runs. */
static double sgemm_gflops(tlm_pool *pool, int M, int N, int K)
{
    float *a = malloc(sizeof(float) * (size_t)M * (size_t)K);
    float *b = malloc(sizeof(float) * (size_t)N * (size_t)K);
    float *c = malloc(sizeof(float) * (size_t)M * (size_t)N);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0.0;
    }
    tlm_rng r;
    tlm_rng_seed(&r, 1);
    for (size_t i = 0; i < (size_t)M * (size_t)K; i++)
        a[i] = tlm_rng_float(&r) - 0.5f;
    for (size_t i = 0; i < (size_t)N * (size_t)K; i++)
        b[i] = tlm_rng_float(&r) - 0.5f;
    double best = 1e9;
    for (int rep = 0; rep < 6; rep++) {
        double t = tlm_now();
        tlm_gemm(pool, 0, 1, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
        t = tlm_now() - t;
        best = t < best ? t : best;
    }
    free(a), free(b), free(c);
    return 2.0 * M * N * K / best / 1e9;
}

/* Model FLOPs per trained token: 6 x matmul weights + attention (12 L T d). */
static double flops_per_token(const tlm_config *c)
{
    double lin = (double)c->n_layers * (4.0 * c->dim * c->dim + 3.0 * c->dim * c->hidden);
    double head = (double)c->vocab * c->dim;
    return 6.0 * (lin + head) + 12.0 * c->n_layers * (double)c->ctx * c->dim;
}

/* Time share and GFLOP/s of each phase of the timed steps. */
static void print_phases(const tlm_model *m, double total)
{
    double covered = 0.0;
    for (int p = 0; p < TLM_PH_COUNT; p++) {
        double s = m->phase_s[p], f = m->phase_flop[p];
        covered += s;
        if (f > 0)
            printf("  %-18s %5.1f%%  %7.1f ms  %6.1f GFLOP/s\n", tlm_phase_name((tlm_phase)p),
                   100.0 * s / total, 1e3 * s, s > 0 ? f / s / 1e9 : 0.0);
        else
            printf("  %-18s %5.1f%%  %7.1f ms\n", tlm_phase_name((tlm_phase)p), 100.0 * s / total,
                   1e3 * s);
    }
    printf("  %-18s %5.1f%%  %7.1f ms\n", "other (batching)", 100.0 * (total - covered) / total,
           1e3 * (total - covered));
}

int tlm_cmd_bench(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    tlm_config cfg;
    if (argc > 2 && (!strcmp(argv[2], "infer") || !strcmp(argv[2], "--infer")))
        return tlm_cmd_bench_infer(argc, argv, 3); /* inference: app/cmd_bench_infer.c */
    int first = argc > 2 && !strcmp(argv[2], "train") ? 3 : 2; /* `tlm bench train` = `tlm bench` */
    if (tlm_cli_parse(&cli, "bench", OPT_PRESET | OPT_CONFIG | OPT_SET | OPT_STEPS | OPT_BATCH |
                      OPT_THREADS | OPT_FP32, argc, argv, first, &err) ||
        tlm_cli_config(&cli, &cfg, &err))
        return tlm_cli_fail(&err);
    int steps = cli.steps ? cfg.steps : 10;
    cfg.steps = steps > 0 ? steps : 1;
    cfg.eval_every = 0;
    char blas[256];
    tlm_trainer *tr;
    if (tlm_trainer_create(&tr, &cfg, &err))
        return tlm_cli_fail(&err);
    tlm_blas_describe(blas, sizeof blas);
    int N = cfg.batch * cfg.ctx;
    printf("bench: preset %s, batch %d x %d, %d threads; %s\n", cfg.preset, cfg.batch, cfg.ctx,
           tlm_pool_threads(tr->pool), blas);
    printf("quantized forward: %s products%s\n", tlm_qg_name((tlm_qg_impl)tr->model->qg_impl),
           cfg.recompute ? "; recompute: blocks' activations recomputed in backward" : "");
    printf("sgemm %dx%dx%d: %.1f GFLOP/s\n", N, cfg.dim, cfg.dim, sgemm_gflops(tr->pool, N, cfg.dim, cfg.dim));
    printf("sgemm %dx%dx%d: %.1f GFLOP/s\n", N, cfg.hidden, cfg.dim,
           sgemm_gflops(tr->pool, N, cfg.hidden, cfg.dim));
    tlm_step_stats st;
    if (tlm_trainer_step(tr, &st, &err)) { /* warm-up */
        tlm_trainer_free(tr);
        return tlm_cli_fail(&err);
    }
    memset(tr->model->phase_s, 0, sizeof tr->model->phase_s);
    memset(tr->model->phase_flop, 0, sizeof tr->model->phase_flop);
    tr->model->recompute_s = 0.0;
    double t = tlm_now();
    for (int i = 1; i < cfg.steps; i++)
        if (tlm_trainer_step(tr, &st, &err)) {
            tlm_trainer_free(tr);
            return tlm_cli_fail(&err);
        }
    t = tlm_now() - t;
    int timed = cfg.steps - 1 > 0 ? cfg.steps - 1 : 1;
    double tok_s = (double)N * timed / (t > 0 ? t : 1e-9);
    printf("train: %d steps, %.1f ms/step, %.0f tok/s, %.1f model GFLOP/s (%.1f MFLOP/token)\n",
           timed, 1e3 * t / timed, tok_s, tok_s * flops_per_token(&cfg) / 1e9,
           flops_per_token(&cfg) / 1e6);
    print_phases(tr->model, t);
    if (cfg.recompute)
        printf("  (recompute: %.1f%% of the time, inside the phases above)\n",
               100.0 * tr->model->recompute_s / (t > 0 ? t : 1e-9));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS: %.0f MB\n", (double)ru.ru_maxrss / 1024.0);
    tlm_trainer_free(tr);
    return 0;
}
