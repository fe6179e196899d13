/* cli.h - option parsing shared by the tlm subcommands. */
#ifndef TLM_CLI_H
#define TLM_CLI_H
#include "engine/core/err.h"
#include "engine/model/config.h"

/* Options a subcommand accepts (bit mask). */
enum {
    OPT_PRESET = 1 << 0, OPT_CONFIG = 1 << 1, OPT_SET = 1 << 2, OPT_DATA = 1 << 3,
    OPT_STEPS = 1 << 4, OPT_BATCH = 1 << 5, OPT_SEED = 1 << 6, OPT_THREADS = 1 << 7,
    OPT_FP32 = 1 << 8, OPT_OUT = 1 << 9, OPT_RESUME = 1 << 10, OPT_MODEL = 1 << 11,
    OPT_TOKENS = 1 << 12, OPT_TEXT = 1 << 13, OPT_TOKENIZER = 1 << 14, OPT_FORMAT = 1 << 15,
    OPT_PIECES = 1 << 16, OPT_KEYS = 1 << 17, OPT_QUIET = 1 << 18,
    /* inference (generate, export --format packed, bench infer): from the top bit down */
    OPT_PROMPT = 1 << 30, OPT_TEMP = 1 << 29, OPT_TOP_K = 1 << 28, OPT_TOP_P = 1 << 27,
    OPT_REP_PENALTY = 1 << 26, OPT_STOP = 1 << 25, OPT_KERNEL = 1 << 24, OPT_EMB = 1 << 23,
    OPT_HEAD = 1 << 22
};

#define CLI_MAX_SETS 128

typedef struct tlm_cli {
    const char *cmd;
    const char *preset, *config, *data, *out, *resume, *model, *tokens, *text, *tokenizer, *format;
    const char *steps, *batch, *seed, *threads;
    int fp32, pieces, keys, quiet;
    const char *prompt, *temp, *top_k, *top_p, *rep_penalty, *stop, *kernel, *emb, *head;
    const char *sets[CLI_MAX_SETS];
    int n_sets;
    char **args; /* positional arguments left */
    int n_args;
} tlm_cli;

/* Parse argv[first..] for command `cmd`, allowing only the options in mask.
 * Errors name the option. */
int tlm_cli_parse(tlm_cli *cli, const char *cmd, unsigned mask, int argc, char **argv, int first,
                  tlm_err *err);

/* Build the configuration: preset (default tiny) or config file, then --set
 * in order, then --data/--steps/--batch/--seed/--threads/--fp32; validated. */
int tlm_cli_config(const tlm_cli *cli, tlm_config *cfg, tlm_err *err);

/* Apply only the overrides (--set, --steps, ... --fp32) onto cfg. */
int tlm_cli_overrides(const tlm_cli *cli, tlm_config *cfg, tlm_err *err);

/* Print "tlm: msg" on stderr and return 1 (the exit status of an error). */
int tlm_cli_fail(const tlm_err *err);

/* Subcommands: each returns the process exit status. */
int tlm_cmd_info(int argc, char **argv);
int tlm_cmd_train(int argc, char **argv);
int tlm_cmd_eval(int argc, char **argv);
int tlm_cmd_score(int argc, char **argv);
int tlm_cmd_export(int argc, char **argv);
int tlm_cmd_tokenize(int argc, char **argv);
int tlm_cmd_bench(int argc, char **argv);
int tlm_cmd_generate(int argc, char **argv);
/* `tlm bench infer`: argv[first..] are its options. */
int tlm_cmd_bench_infer(int argc, char **argv, int first);
/* `tlm export --format packed`: cli already parsed. */
int tlm_cmd_export_packed(const tlm_cli *cli);
int tlm_cmd_repl(int argc, char **argv);
int tlm_cmd_ui(int argc, char **argv);
int tlm_cmd_sparsity(int argc, char **argv);
int tlm_cmd_memory(int argc, char **argv);

#endif
