/* cmd_memory.c - `tlm memory`: bytes of the weights by precision and the
 * measured peak RSS of training (fp32 latent weights + gradients + AdamW +
 * activations) and of inference (the packed model, mmap'd, decoding), the
 * ternary model beside the FP32 model of the same architecture. Each
 * measurement runs in a fresh process (this program re-executed as
 * `tlm memory --job NAME PATH`, the configuration in TLM_MEMORY_JOB_CONFIG),
 * which reports its own peak RSS (VmHWM) through a pipe: a forked child's
 * peak would include every page of the parent (the report process holds
 * models and results), so it is not used. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli.h"
#include "paper.h"
#include "engine/infer/generate.h"
#include "engine/io/datapath.h"
#include "engine/model/params.h"
#include "engine/train/trainer.h"

typedef int (*child_job)(const tlm_config *cfg, const char *path);

#define JOB_ENV "TLM_MEMORY_JOB_CONFIG"

/* Peak RSS of this process in kB (VmHWM of /proc/self/status), -1 if unknown. */
static long self_peak_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* Run job `name` in a fresh process (this program re-executed); its peak
 * RSS in MB into *mb. -1 when it failed. */
static int measure(const char *name, const tlm_config *cfg, const char *path, double *mb)
{
    static char text[16384];
    if (tlm_config_serialize(cfg, text, sizeof text) >= sizeof text)
        return -1;
    int fds[2];
    if (pipe(fds))
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        setenv(JOB_ENV, text, 1);
        execl("/proc/self/exe", "tlm", "memory", "--job", name, path ? path : "-", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[64] = {0};
    ssize_t got = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    int status;
    long kb = -1;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) || got <= 0 ||
        sscanf(buf, "peak_kb %ld", &kb) != 1 || kb <= 0)
        return -1;
    *mb = (double)kb / 1024.0;
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

static const struct {
    const char *name;
    child_job fn;
} jobs[] = {{"pack", job_pack}, {"train", job_train}, {"decode", job_decode_packed},
            {"decode-fp32", job_decode_fp32}};

/* `tlm memory --job NAME PATH`: one measurement in this fresh process; prints
 * its peak RSS for the parent. */
static int run_job(const char *name, const char *path)
{
    const char *text = getenv(JOB_ENV);
    tlm_config cfg;
    tlm_err err;
    if (!text || tlm_config_deserialize(&cfg, text, strlen(text), &err)) {
        fprintf(stderr, "tlm: memory --job is internal (%s unset or bad)\n", JOB_ENV);
        return 1;
    }
    for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++)
        if (!strcmp(jobs[i].name, name)) {
            if (jobs[i].fn(&cfg, strcmp(path, "-") ? path : NULL))
                return 1;
            printf("peak_kb %ld\n", self_peak_kb());
            return 0;
        }
    fprintf(stderr, "tlm: memory --job: unknown job '%s'\n", name);
    return 1;
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

int tlm_memory_measure(const tlm_config *cfg, const char *packed, tlm_memory_figs *o,
                       tlm_err *err)
{
    tlm_config fp = *cfg;
    tlm_config_set_precision(&fp, "all", TLM_PREC_FP32, NULL);
    double rss;
    if (measure("pack", cfg, packed, &rss))
        return tlm_errf(err, "memory: packing the model failed");
    tlm_infer_info info;
    if (packed_sizes(packed, &info, err))
        return -1;
    o->params = 0;
    tlm_config_param_count(cfg, &o->params, NULL);
    o->train_weights_mb = mb((size_t)o->params * 16);
    o->infer_mb[0] = mb(info.image_bytes);
    o->infer_mb[1] = mb(info.fp32_bytes);
    o->linears_mb = mb(info.linear_bytes);
    o->emb_head_mb = mb(info.emb_bytes + info.head_bytes);
    if (measure("train", cfg, NULL, &o->rss_train[0]) ||
        measure("train", &fp, NULL, &o->rss_train[1]) ||
        measure("decode", cfg, packed, &o->rss_decode[0]) ||
        measure("decode-fp32", cfg, packed, &o->rss_decode[1]))
        return tlm_errf(err, "memory: a measurement failed (see above)");
    return 0;
}

static int report(const tlm_config *cfg, const char *packed, tlm_err *err)
{
    tlm_memory_figs m;
    if (tlm_memory_measure(cfg, packed, &m, err))
        return -1;
    printf("memory: preset %s, %llu parameters, training batch %d x %d\n",
           cfg->preset[0] ? cfg->preset : "custom", (unsigned long long)m.params, cfg->batch,
           cfg->ctx);
    printf("%-44s %12s %12s\n", "weights", "ternary", "fp32");
    printf("%-44s %9.1f MB %9.1f MB  (16 bytes a parameter either way)\n",
           "  training: latent + gradient + AdamW m, v", m.train_weights_mb, m.train_weights_mb);
    printf("%-44s %9.1f MB %9.1f MB  (%.2fx smaller)\n", "  inference model", m.infer_mb[0],
           m.infer_mb[1], m.infer_mb[1] / m.infer_mb[0]);
    printf("%-44s %9.1f MB\n", "    block linears (packed)", m.linears_mb);
    printf("%-44s %9.1f MB\n", "    embedding + head (fp32, as the paper)", m.emb_head_mb);
    printf("peak RSS, each in its own process:\n");
    printf("%-44s %9.1f MB %9.1f MB\n", "  training, one step", m.rss_train[0], m.rss_train[1]);
    printf("%-44s %9.1f MB %9.1f MB\n", "  inference, 16-token prompt + 32 tokens",
           m.rss_decode[0], m.rss_decode[1]);
    printf("(the paper claims 498 MB vs 1,197 MB, 2.4x, for the ternary model vs fp32)\n");
    return 0;
}

int tlm_cmd_memory(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    tlm_config cfg;
    if (argc == 5 && !strcmp(argv[2], "--job"))
        return run_job(argv[3], argv[4]);
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
