/* cli.c - option parsing and configuration assembly. */
#include "cli.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
    const char *name;
    int has_arg;
    unsigned bit;
} opts[] = {
    {"preset", 1, OPT_PRESET},   {"config", 1, OPT_CONFIG}, {"set", 1, OPT_SET},
    {"data", 1, OPT_DATA},       {"steps", 1, OPT_STEPS},   {"batch", 1, OPT_BATCH},
    {"seed", 1, OPT_SEED},       {"threads", 1, OPT_THREADS}, {"fp32", 0, OPT_FP32},
    {"out", 1, OPT_OUT},         {"resume", 1, OPT_RESUME}, {"model", 1, OPT_MODEL},
    {"tokens", 1, OPT_TOKENS},   {"text", 1, OPT_TEXT},     {"tokenizer", 1, OPT_TOKENIZER},
    {"format", 1, OPT_FORMAT},   {"pieces", 0, OPT_PIECES}, {"keys", 0, OPT_KEYS},
    {"quiet", 0, OPT_QUIET},
    {"prompt", 1, OPT_PROMPT},   {"temp", 1, OPT_TEMP},     {"top-k", 1, OPT_TOP_K},
    {"top-p", 1, OPT_TOP_P},     {"rep-penalty", 1, OPT_REP_PENALTY}, {"stop", 1, OPT_STOP},
    {"kernel", 1, OPT_KERNEL},   {"emb", 1, OPT_EMB},       {"head", 1, OPT_HEAD},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

static void store(tlm_cli *cli, unsigned bit, const char *arg)
{
    switch (bit) {
    case OPT_PRESET: cli->preset = arg; break;
    case OPT_CONFIG: cli->config = arg; break;
    case OPT_DATA: cli->data = arg; break;
    case OPT_STEPS: cli->steps = arg; break;
    case OPT_BATCH: cli->batch = arg; break;
    case OPT_SEED: cli->seed = arg; break;
    case OPT_THREADS: cli->threads = arg; break;
    case OPT_FP32: cli->fp32 = 1; break;
    case OPT_OUT: cli->out = arg; break;
    case OPT_RESUME: cli->resume = arg; break;
    case OPT_MODEL: cli->model = arg; break;
    case OPT_TOKENS: cli->tokens = arg; break;
    case OPT_TEXT: cli->text = arg; break;
    case OPT_TOKENIZER: cli->tokenizer = arg; break;
    case OPT_FORMAT: cli->format = arg; break;
    case OPT_PIECES: cli->pieces = 1; break;
    case OPT_KEYS: cli->keys = 1; break;
    case OPT_QUIET: cli->quiet = 1; break;
    case OPT_PROMPT: cli->prompt = arg; break;
    case OPT_TEMP: cli->temp = arg; break;
    case OPT_TOP_K: cli->top_k = arg; break;
    case OPT_TOP_P: cli->top_p = arg; break;
    case OPT_REP_PENALTY: cli->rep_penalty = arg; break;
    case OPT_STOP: cli->stop = arg; break;
    case OPT_KERNEL: cli->kernel = arg; break;
    case OPT_EMB: cli->emb = arg; break;
    case OPT_HEAD: cli->head = arg; break;
    default: break;
    }
}

int tlm_cli_parse(tlm_cli *cli, const char *cmd, unsigned mask, int argc, char **argv, int first,
                  tlm_err *err)
{
    memset(cli, 0, sizeof *cli);
    cli->cmd = cmd;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            if (a[0] == '-' && a[1])
                return tlm_errf(err, "%s: unknown option '%s'", cmd, a);
            cli->args = argv + i;
            cli->n_args = argc - i;
            if (cli->n_args)
                return tlm_errf(err, "%s: unexpected argument '%s'", cmd, a);
            break;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        size_t k = 0;
        for (; k < N_OPTS; k++)
            if (strlen(opts[k].name) == len && !strncmp(opts[k].name, name, len))
                break;
        if (k == N_OPTS || !(mask & opts[k].bit))
            return tlm_errf(err, "%s: unknown option '--%.*s' (see 'tlm help')", cmd, (int)len, name);
        const char *arg = NULL;
        if (opts[k].has_arg) {
            if (eq)
                arg = eq + 1;
            else if (i + 1 < argc)
                arg = argv[++i];
            else
                return tlm_errf(err, "%s: option '--%s' needs a value", cmd, opts[k].name);
        } else if (eq) {
            return tlm_errf(err, "%s: option '--%s' takes no value", cmd, opts[k].name);
        }
        if (opts[k].bit == OPT_SET) {
            if (cli->n_sets == CLI_MAX_SETS)
                return tlm_errf(err, "%s: too many --set options", cmd);
            cli->sets[cli->n_sets++] = arg;
        } else {
            store(cli, opts[k].bit, arg);
        }
    }
    if (cli->preset && cli->config)
        return tlm_errf(err, "%s: give --preset or --config, not both", cmd);
    return 0;
}

int tlm_cli_overrides(const tlm_cli *cli, tlm_config *cfg, tlm_err *err)
{
    for (int i = 0; i < cli->n_sets; i++)
        if (tlm_config_set_kv(cfg, cli->sets[i], err))
            return tlm_err_prefix(err, "--set: ");
    struct {
        const char *opt, *key, *val;
    } ov[] = {{"--data", "train_data", cli->data}, {"--steps", "steps", cli->steps},
              {"--batch", "batch", cli->batch},    {"--seed", "seed", cli->seed},
              {"--threads", "threads", cli->threads}};
    for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++)
        if (ov[i].val && tlm_config_set(cfg, ov[i].key, ov[i].val, err))
            return tlm_err_prefix(err, "%s: ", ov[i].opt);
    if (cli->fp32)
        tlm_config_set_precision(cfg, "all", TLM_PREC_FP32, err);
    return tlm_config_validate(cfg, err);
}

int tlm_cli_config(const tlm_cli *cli, tlm_config *cfg, tlm_err *err)
{
    if (tlm_config_preset(cfg, cli->preset ? cli->preset : "tiny", err))
        return -1;
    struct stat st;
    if (cli->config && stat(cli->config, &st) == 0 && !S_ISREG(st.st_mode))
        return tlm_errf(err, "config %s: %s", cli->config,
                        S_ISDIR(st.st_mode) ? "is a directory, not a file" : "not a regular file");
    if (cli->config && tlm_config_load_file(cfg, cli->config, err))
        return -1;
    return tlm_cli_overrides(cli, cfg, err);
}

int tlm_cli_fail(const tlm_err *err)
{
    fprintf(stderr, "tlm: %s\n", err->msg);
    return 1;
}
