/* cmd_score.c - `tlm score`: mean next-token NLL of one sequence. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "engine/io/datapath.h"
#include "engine/io/modelfile.h"
#include "engine/io/tokenizer.h"

/* Parse "ID,ID,..." into ids; every id must be in [0, vocab). */
static int parse_ids(const char *s, int vocab, tlm_ids *ids, tlm_err *err)
{
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v >= vocab)
            return tlm_errf(err, "--tokens: '%.20s' is not a token id in [0, %d)", p, vocab);
        if (tlm_ids_push(ids, (int32_t)v, err))
            return -1;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return tlm_errf(err, "--tokens: unexpected '%c' (ids are separated by commas)", *p);
    }
    return 0;
}

static int encode_text(const tlm_config *c, const char *text, tlm_ids *ids, tlm_err *err)
{
    char path[4096];
    tlm_tokenizer *tok;
    if (tlm_data_resolve(c->tokenizer, path, sizeof path, err) ||
        tlm_tokenizer_load(&tok, path, err))
        return -1;
    int rc;
    if (tlm_tokenizer_vocab_size(tok) != c->vocab)
        rc = tlm_errf(err, "model has vocab %d but tokenizer %s has %d tokens", c->vocab, path,
                      tlm_tokenizer_vocab_size(tok));
    else
        rc = tlm_tokenizer_encode(tok, text, strlen(text), 1, ids, err);
    tlm_tokenizer_free(tok);
    return rc;
}

static int score(const tlm_cli *cli, double *nll, size_t *n, tlm_err *err)
{
    tlm_config cfg;
    float *params = NULL;
    tlm_ids ids = {0};
    tlm_model *m = NULL;
    int rc = -1;
    if (tlm_modelfile_load(cli->model, NULL, &cfg, &params, err))
        return -1;
    if (cli->tokens ? parse_ids(cli->tokens, cfg.vocab, &ids, err)
                    : encode_text(&cfg, cli->text, &ids, err))
        goto out;
    if (ids.n < 2 || ids.n > (size_t)cfg.max_ctx + 1) {
        tlm_errf(err, "score: the sequence has %zu tokens; it needs 2 to %d", ids.n, cfg.max_ctx + 1);
        goto out;
    }
    int T = (int)ids.n - 1;
    if (tlm_model_create(&m, &cfg, 1, T, NULL, err))
        goto out;
    memcpy(m->p.mem, params, m->p.count * sizeof(float));
    tlm_model_forward(m, ids.v, ids.v + 1, 1, T, NULL, nll);
    if (!isfinite(*nll)) {
        tlm_errf(err, "model %s: the NLL is not finite (broken weights?)", cli->model);
        goto out;
    }
    *n = (size_t)T;
    rc = 0;
out:
    tlm_model_free(m);
    tlm_ids_free(&ids);
    free(params);
    return rc;
}

int tlm_cmd_score(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    if (tlm_cli_parse(&cli, "score", OPT_MODEL | OPT_TOKENS | OPT_TEXT, argc, argv, 2, &err))
        return tlm_cli_fail(&err);
    if (!cli.model || !!cli.tokens == !!cli.text) {
        tlm_errf(&err, "score: give --model FILE and one of --tokens ID,ID,... or --text \"...\"");
        return tlm_cli_fail(&err);
    }
    double nll;
    size_t n;
    if (score(&cli, &nll, &n, &err))
        return tlm_cli_fail(&err);
    printf("%.17g\n", nll);
    return 0;
}
