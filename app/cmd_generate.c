/* cmd_generate.c - `tlm generate`: stream text from a packed model, a
 * checkpoint or safetensors weights (packed on load); with no prompt on a
 * terminal, a readline prompt loop. Also `tlm export --format packed`. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <readline/history.h>
#include <readline/readline.h>
#include "cli.h"
#include "engine/infer/generate.h"
#include "engine/io/datapath.h"
#include "engine/io/modelfile.h"

/* ---- option values ---- */

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out, tlm_err *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return tlm_errf(err, "generate: %s '%s' is not an integer in [%ld, %ld]", opt, s, lo, hi);
    *out = v;
    return 0;
}

static int parse_float(const char *opt, const char *s, float *out, tlm_err *err)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return tlm_errf(err, "generate: %s '%s' is not a number", opt, s);
    *out = (float)v;
    return 0;
}

static int parse_seed(const char *s, uint64_t *out, tlm_err *err)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return tlm_errf(err, "generate: --seed '%s' is not a non-negative integer", s);
    *out = (uint64_t)v;
    return 0;
}

/* Sampling options from the command line over the defaults; checked. */
static int sample_opts(const tlm_cli *cli, tlm_sample_opts *o, tlm_err *err)
{
    long v = 0;
    tlm_sample_opts_default(o);
    if (cli->tokens) {
        if (parse_long("--tokens", cli->tokens, 1, 1 << 20, &v, err))
            return -1;
        o->max_tokens = (int)v;
    }
    if (cli->top_k) {
        if (parse_long("--top-k", cli->top_k, 0, 1 << 24, &v, err))
            return -1;
        o->top_k = (int)v;
    }
    if ((cli->temp && parse_float("--temp", cli->temp, &o->temperature, err)) ||
        (cli->top_p && parse_float("--top-p", cli->top_p, &o->top_p, err)) ||
        (cli->rep_penalty && parse_float("--rep-penalty", cli->rep_penalty, &o->rep_penalty, err)) ||
        (cli->seed && parse_seed(cli->seed, &o->seed, err)))
        return -1;
    o->stop = cli->stop;
    if (tlm_sample_opts_check(o, err))
        return tlm_err_prefix(err, "generate: ");
    return 0;
}

/* ---- streaming ---- */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct stream {
    const char *prompt;
    int shown; /* the prompt was printed */
} stream;

/* Print the prompt once it is known to be valid, then each token. */
static void show_prompt(stream *s)
{
    if (!s->shown)
        fputs(s->prompt, stdout);
    s->shown = 1;
}

static int on_token(void *ctx, int id, const char *text)
{
    (void)id;
    show_prompt(ctx);
    fputs(text, stdout);
    fflush(stdout);
    return interrupted || ferror(stdout); /* Ctrl-C, or nobody reads any more */
}

static void report(const tlm_infer *inf, int quiet)
{
    const tlm_gen_stats *st = tlm_infer_last_stats(inf);
    const tlm_config *c = tlm_infer_config(inf);
    if (st->reason == TLM_STOP_CONTEXT)
        fprintf(stderr, "[stopped: the model's context of %d tokens is full]\n", c->max_ctx);
    if (quiet)
        return;
    fprintf(stderr, "[%d prompt tokens, %d generated; prefill %.0f tok/s, decode %.1f tok/s; %s "
            "kernels%s]\n", st->prompt_tokens, st->gen_tokens,
            st->prefill_s > 0 ? st->prompt_tokens / st->prefill_s : 0.0,
            st->decode_s > 0 ? st->gen_tokens / st->decode_s : 0.0, tlm_infer_kernels(inf),
            st->reason == TLM_STOP_CALLBACK ? ", interrupted" : "");
}

/* Generate from one prompt: the prompt, then the tokens as they come. */
static int run_prompt(tlm_infer *inf, const tlm_tokenizer *tok, const char *prompt,
                      const tlm_sample_opts *o, int quiet, tlm_err *err)
{
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old);
    stream s = {prompt, 0};
    int rc = tlm_infer_generate(inf, tok, prompt, o, on_token, &s, NULL, err);
    sigaction(SIGINT, &old, NULL);
    if (rc == 0) {
        show_prompt(&s);
        fputc('\n', stdout);
        fflush(stdout);
        report(inf, quiet);
    }
    return rc;
}

/* The readline loop: history, Ctrl-D to leave; errors are shown and the loop
 * goes on. */
static int prompt_loop(tlm_infer *inf, const tlm_tokenizer *tok, const tlm_sample_opts *o,
                       int quiet)
{
    tlm_err err;
    const tlm_config *c = tlm_infer_config(inf);
    fprintf(stderr, "tlm generate: model %s (d %d, %d layers, context %d); type a prompt, "
            "Ctrl-D to leave\n", c->preset[0] ? c->preset : "custom", c->dim, c->n_layers,
            c->max_ctx);
    char *line;
    while ((line = readline("> "))) {
        if (*line)
            add_history(line);
        if (run_prompt(inf, tok, line, o, quiet, &err))
            fprintf(stderr, "tlm: %s\n", err.msg);
        free(line);
    }
    fputc('\n', stderr);
    return 0;
}

/* Not a terminal and no --prompt: every line of stdin is a prompt. */
static int stdin_prompts(tlm_infer *inf, const tlm_tokenizer *tok, const tlm_sample_opts *o,
                         int quiet, tlm_err *err)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0, any = 0;
    while (rc == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        any = 1;
        rc = run_prompt(inf, tok, line, o, quiet, err);
    }
    free(line);
    if (rc == 0 && !any)
        return tlm_errf(err, "generate: no prompt (give --prompt \"...\", lines on stdin, or run "
                        "on a terminal for the prompt loop)");
    return rc;
}

static int load_tokenizer(const tlm_cli *cli, const tlm_config *c, tlm_tokenizer **tok,
                          tlm_err *err)
{
    char path[4096];
    if (tlm_data_resolve(cli->tokenizer ? cli->tokenizer : c->tokenizer, path, sizeof path, err) ||
        tlm_tokenizer_load(tok, path, err))
        return tlm_err_prefix(err, "generate: tokenizer: ");
    return 0;
}

static int generate(const tlm_cli *cli, tlm_err *err)
{
    tlm_sample_opts o;
    tlm_infer *inf = NULL;
    tlm_tokenizer *tok = NULL;
    long threads = 0;
    int rc = -1;
    if (sample_opts(cli, &o, err) ||
        (cli->threads && parse_long("--threads", cli->threads, 0, 1024, &threads, err)) ||
        tlm_infer_open(&inf, cli->model, cli->fp32, err) ||
        tlm_infer_set_kernels(inf, cli->kernel, err) ||
        (threads && tlm_infer_set_threads(inf, (int)threads, err)) ||
        load_tokenizer(cli, tlm_infer_config(inf), &tok, err))
        goto out;
    if (cli->prompt)
        rc = run_prompt(inf, tok, cli->prompt, &o, cli->quiet, err);
    else if (isatty(STDIN_FILENO))
        rc = prompt_loop(inf, tok, &o, cli->quiet);
    else
        rc = stdin_prompts(inf, tok, &o, cli->quiet, err);
out:
    tlm_tokenizer_free(tok);
    tlm_infer_free(inf);
    return rc;
}

int tlm_cmd_generate(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    unsigned mask = OPT_MODEL | OPT_PROMPT | OPT_TOKENS | OPT_TEMP | OPT_TOP_K | OPT_TOP_P |
                    OPT_REP_PENALTY | OPT_STOP | OPT_SEED | OPT_FP32 | OPT_TOKENIZER |
                    OPT_THREADS | OPT_KERNEL | OPT_QUIET;
    if (tlm_cli_parse(&cli, "generate", mask, argc, argv, 2, &err))
        return tlm_cli_fail(&err);
    if (!cli.model) {
        tlm_errf(&err, "generate: give --model FILE (packed, checkpoint or safetensors) and "
                 "--prompt \"...\"");
        return tlm_cli_fail(&err);
    }
    return generate(&cli, &err) ? tlm_cli_fail(&err) : 0;
}

/* ---- export --format packed ---- */

static int store_opt(const char *opt, const char *s, tlm_store *out, tlm_err *err)
{
    int v = s ? tlm_store_parse(s) : TLM_STORE_FP32;
    if (v < 0)
        return tlm_errf(err, "export: %s '%s' is not fp32, int8 or fp16", opt, s);
    *out = (tlm_store)v;
    return 0;
}

static int export_packed(const tlm_cli *cli, tlm_err *err)
{
    tlm_pack_opts po;
    tlm_infer *inf = NULL;
    float *params = NULL;
    tlm_config cfg;
    int rc = -1;
    if (store_opt("--emb", cli->emb, &po.emb, err) || store_opt("--head", cli->head, &po.head, err))
        return -1;
    if (tlm_infer_sniff(cli->model)) {
        if (cli->emb || cli->head)
            return tlm_errf(err, "export: %s is already packed; export from its checkpoint to "
                            "choose --emb/--head", cli->model);
        rc = tlm_infer_open(&inf, cli->model, 0, err);
    } else if (tlm_modelfile_load(cli->model, NULL, &cfg, &params, err) == 0) {
        rc = tlm_infer_from_params_ex(&inf, &cfg, params, 0, &po, err);
        if (rc)
            tlm_err_prefix(err, "export: ");
    }
    free(params);
    if (rc == 0)
        rc = tlm_infer_save(inf, cli->out, err);
    if (rc == 0) {
        tlm_infer_info i;
        tlm_infer_describe(inf, &i);
        printf("wrote %s: %.2f MB (fp32 weights: %.2f MB, %.2fx smaller); linears %.2f MB "
               "(%d ternary, %d int8, %d fp32), embedding %.2f MB %s, head %.2f MB %s\n",
               cli->out, i.image_bytes / 1e6, i.fp32_bytes / 1e6,
               (double)i.fp32_bytes / (double)i.image_bytes, i.linear_bytes / 1e6, i.n_ternary,
               i.n_int8, i.n_fp32, i.emb_bytes / 1e6, tlm_store_name(i.emb), i.head_bytes / 1e6,
               tlm_store_name(i.head));
    }
    tlm_infer_free(inf);
    return rc;
}

int tlm_cmd_export_packed(const tlm_cli *cli)
{
    tlm_err err;
    return export_packed(cli, &err) ? tlm_cli_fail(&err) : 0;
}
