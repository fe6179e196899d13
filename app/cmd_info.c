/* cmd_info.c - `tlm info`: configuration, parameter count, BLAS. */
#include <stdio.h>
#include "cli.h"
#include "engine/core/blas.h"

static void print_line(void *ctx, const char *s)
{
    (void)ctx;
    printf("%s\n", s);
}

int tlm_cmd_info(int argc, char **argv)
{
    tlm_cli cli;
    tlm_config cfg;
    tlm_err err;
    if (tlm_cli_parse(&cli, "info", OPT_PRESET | OPT_CONFIG | OPT_SET | OPT_FP32 | OPT_DATA |
                      OPT_STEPS | OPT_BATCH | OPT_SEED | OPT_THREADS | OPT_KEYS, argc, argv, 2,
                      &err) ||
        tlm_cli_config(&cli, &cfg, &err))
        return tlm_cli_fail(&err);
    if (cli.keys) {
        /* The keys a config file or --set accepts, with this configuration's values. */
        printf("configuration keys (--set key=value, or 'key = value' lines in a --config file):\n");
        tlm_config_describe(&cfg, print_line, NULL);
        printf("precision = ternary|int8|fp32          every linear layer\n"
               "precision.PATTERN = ternary|int8|fp32  layers matched by PATTERN "
               "(L3.attn.q, L0-2.attn.*, *.mlp.down, L4.*)\n"
               "preset = nano|tiny|paper               start again from a preset\n");
        return 0;
    }
    tlm_config_describe(&cfg, print_line, NULL);
    uint64_t n;
    if (tlm_config_param_count(&cfg, &n, &err))
        return tlm_cli_fail(&err);
    uint64_t lin = (uint64_t)cfg.n_layers * ((uint64_t)4 * cfg.dim * cfg.dim +
                                             (uint64_t)3 * cfg.dim * cfg.hidden);
    uint64_t tern = 0;
    for (int i = 0; i < cfg.n_layers * TLM_LIN_PER_BLOCK; i++) {
        int j = i % TLM_LIN_PER_BLOCK;
        uint64_t sz = j < 4 ? (uint64_t)cfg.dim * cfg.dim : (uint64_t)cfg.dim * cfg.hidden;
        if (cfg.prec[i] == TLM_PREC_TERNARY)
            tern += sz;
    }
    printf("linear parameters: %llu\n", (unsigned long long)lin);
    printf("ternary parameters: %llu (%.1f%%)\n", (unsigned long long)tern, 100.0 * (double)tern / (double)n);
    printf("parameters: %llu\n", (unsigned long long)n);
    char blas[256];
    tlm_blas_describe(blas, sizeof blas);
    printf("blas: %s\n", blas);
    printf("cpus: %d\n", tlm_cpu_count());
    return 0;
}
