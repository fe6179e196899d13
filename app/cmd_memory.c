/* cmd_memory.c - `tlm memory`: bytes of the weights by precision and the
 * measured peak RSS of training (fp32 latent weights + gradients + AdamW +
 * activations) and of inference (the packed model, mmap'd, decoding), the
 * ternary model beside the FP32 model of the same architecture. Each
 * measurement runs in its own child process (fork before anything big is
 * allocated here), and its peak RSS comes from wait4(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli.h"
#include "engine/infer/generate.h"
#include "engine/io/datapath.h"
#include "engine/model/params.h"
#include "engine/train/trainer.h"

typedef int (*child_job)(const tlm_config *cfg, const char *path);

/* Run job in a child; its peak RSS in MB into *mb. -1 when it failed. */
static int measure(child_job job, const tlm_config *cfg, const char *path, double *mb)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(job(cfg, path) ? 1 : 0);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
        return -1;
    *mb = (double)ru.ru_maxrss / 1024.0;
    return 0;
}

/* Child: build the trainer and run one training step. */
static int job_train(const tlm_config *cfg, const char *path)
{
    (void)path;
    tlm_trainer *tr;
    tlm_err err;
    tlm_step_stats st;
    if (tlm_trainer_create(&tr, cfg, &err) || tlm_trainer_step(tr, &st, &err)) {
        fprintf(stderr, "tlm: memory: %s\n", err.msg);
        return -1;
    }
    tlm_trainer_free(tr);
    return 0;
}

/* Child: initialise the weights, pack them and write the packed model. */
static int job_pack(const tlm_config *cfg, const char *path)
{
    tlm_params p;
    tlm_infer *inf;
    tlm_err err;
    if (tlm_params_alloc(&p, cfg, &err))
        goto fail;
    tlm_params_init(&p, cfg, (uint64_t)cfg->seed);
    if (tlm_infer_from_params(&inf, cfg, p.mem, 0, &err))
        goto fail;
    tlm_params_free(&p);
    int rc = tlm_infer_save(inf, path, &err);
    tlm_infer_free(inf);
    if (rc)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "tlm: memory: %s\n", err.msg);
    return -1;
}

/* Child: open the packed model (fp32: expanded to fp32) and decode 32
 * tokens after a 16-token prompt. */
static int decode(const char *path, int fp32)
{
    tlm_infer *inf;
    tlm_err err;
    if (tlm_infer_open(&inf, path, fp32, &err))
        goto fail;
    const tlm_config *c = tlm_infer_config(inf);
    float *logits = malloc(sizeof(float) * (size_t)c->vocab);
    int32_t ids[16];
    for (int i = 0; i < 16; i++)
        ids[i] = (int32_t)((i * 37 + 11) % c->vocab);
    int rc = logits ? tlm_infer_forward(inf, ids, 16, logits, 0, &err) : -1;
    for (int i = 0; i < 32 && rc == 0 && tlm_infer_position(inf) < c->max_ctx; i++)
        rc = tlm_infer_forward(inf, &ids[i % 16], 1, logits, 0, &err);
    free(logits);
    tlm_infer_free(inf);
    if (rc)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "tlm: memory: %s\n", err.msg);
    return -1;
}

static int job_decode_packed(const tlm_config *cfg, const char *path)
{
    (void)cfg;
    return decode(path, 0);
}

static int job_decode_fp32(const tlm_config *cfg, const char *path)
{
    (void)cfg;
    return decode(path, 1);
}

/* Sizes of the packed model written at path. */
static int packed_sizes(const char *path, tlm_infer_info *info, tlm_err *err)
{
    tlm_infer *inf;
    if (tlm_infer_open(&inf, path, 0, err))
        return -1;
    tlm_infer_describe(inf, info);
    tlm_infer_free(inf);
    return 0;
}

static double mb(size_t bytes)
{
    return (double)bytes / 1048576.0;
}

static int report(const tlm_config *cfg, const char *packed, tlm_err *err)
{
    tlm_config fp = *cfg;
    tlm_config_set_precision(&fp, "all", TLM_PREC_FP32, NULL);
    double rss[4];
    if (measure(job_pack, cfg, packed, &rss[0]))
        return tlm_errf(err, "memory: packing the model failed");
    tlm_infer_info info;
    if (packed_sizes(packed, &info, err))
        return -1;
    uint64_t n = 0;
    tlm_config_param_count(cfg, &n, NULL);
    printf("memory: preset %s, %llu parameters, training batch %d x %d\n",
           cfg->preset[0] ? cfg->preset : "custom", (unsigned long long)n, cfg->batch, cfg->ctx);
    printf("%-44s %12s %12s\n", "weights", "ternary", "fp32");
    printf("%-44s %9.1f MB %9.1f MB  (16 bytes a parameter either way)\n",
           "  training: latent + gradient + AdamW m, v", mb((size_t)n * 16), mb((size_t)n * 16));
    printf("%-44s %9.1f MB %9.1f MB  (%.2fx smaller)\n", "  inference model", mb(info.image_bytes),
           mb(info.fp32_bytes), (double)info.fp32_bytes / (double)info.image_bytes);
    printf("%-44s %9.1f MB\n", "    block linears (packed)", mb(info.linear_bytes));
    printf("%-44s %9.1f MB\n", "    embedding + head (fp32, as the paper)",
           mb(info.emb_bytes + info.head_bytes));
    if (measure(job_train, cfg, NULL, &rss[0]) || measure(job_train, &fp, NULL, &rss[1]) ||
        measure(job_decode_packed, cfg, packed, &rss[2]) ||
        measure(job_decode_fp32, cfg, packed, &rss[3]))
        return tlm_errf(err, "memory: a measurement failed (see above)");
    printf("peak RSS, each in its own process:\n");
    printf("%-44s %9.1f MB %9.1f MB\n", "  training, one step", rss[0], rss[1]);
    printf("%-44s %9.1f MB %9.1f MB\n", "  inference, 16-token prompt + 32 tokens", rss[2], rss[3]);
    printf("(the paper claims 498 MB vs 1,197 MB, 2.4x, for the ternary model vs fp32)\n");
    return 0;
}

int tlm_cmd_memory(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    tlm_config cfg;
    if (tlm_cli_parse(&cli, "memory", OPT_PRESET | OPT_CONFIG | OPT_SET | OPT_BATCH | OPT_THREADS,
                      argc, argv, 2, &err) ||
        tlm_cli_config(&cli, &cfg, &err))
        return tlm_cli_fail(&err);
    char dir[4096], packed[4200];
    if (tlm_cache_dir(dir, sizeof dir, &err))
        return tlm_cli_fail(&err);
    snprintf(packed, sizeof packed, "%s/memory-%ld.tlmp", dir, (long)getpid());
    int rc = report(&cfg, packed, &err);
    unlink(packed);
    return rc ? tlm_cli_fail(&err) : 0;
}
