/* main.c - the tlm program: picks a subcommand. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "paper.h"
#include "engine/core/blas.h"
#include "mpi.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} commands[] = {
    {"train", tlm_cmd_train, "train a model (the default without a terminal or with options)"},
    {"info", tlm_cmd_info, "show a configuration and its parameter count"},
    {"eval", tlm_cmd_eval, "validation loss and perplexity of a model file"},
    {"score", tlm_cmd_score, "mean next-token NLL of one sequence"},
    {"export", tlm_cmd_export, "write a model's weights as safetensors"},
    {"sparsity", tlm_cmd_sparsity, "share of zeros of every linear's ternary codes, per layer"},
    {"memory", tlm_cmd_memory, "weights by precision and measured peak RSS, ternary vs fp32"},
    {"finetune", tlm_cmd_finetune, "fine-tune a model on MRPC: dev accuracy and F1 per epoch"},
    {"sweep", tlm_cmd_sweep, "train N seeds of a config: mean and std of each figure"},
    {"report", tlm_cmd_report, "run the paper's measurements: report.md, CSVs and SVG plots"},
    {"tokenize", tlm_cmd_tokenize, "show how text is split into tokens"},
    {"bench", tlm_cmd_bench, "measure kernels and training speed ('bench infer': inference)"},
    {"generate", tlm_cmd_generate, "generate text from a model (packed, checkpoint or safetensors)"},
    {"repl", tlm_cmd_repl, "a training session driven by commands (stdin, a script or a prompt)"},
    {"ui", tlm_cmd_ui, "the workbench: live loss chart, layer bars, a prompt ('tlm' on a TTY)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: tlm [COMMAND] [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\ncommon options: --preset nano|tiny|paper, --config FILE, --set key=value,\n"
               "  --data PATH, --steps N, --batch B, --seed S, --threads N, --fp32, --out DIR,\n"
               "  --resume CKPT, --model FILE. See README.md for each command.\n");
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2 && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
        return tlm_cmd_ui(argc, argv);
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            usage(stdout);
            return 0;
        }
        return tlm_cmd_train(argc, argv);
    }
    if (!strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc, argv);
    fprintf(stderr, "tlm: unknown command '%s' (see 'tlm help')\n", argv[1]);
    return 1;
}

int main(int argc, char **argv)
{
    tlm_blas_ensure_fast_core(argv);
    signal(SIGPIPE, SIG_IGN);
    if (tlm_app_mpi_init(&argc, &argv)) /* only under mpirun in an --with-mpi build */
        return 1;
    return tlm_app_mpi_end(dispatch(argc, argv));
}
