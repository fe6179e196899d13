/* cmd_tokenize.c - `tlm tokenize`: token ids (and pieces) of a text. */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "engine/io/datapath.h"
#include "engine/io/tokenizer.h"

/* Print a piece with control and non-printable bytes escaped. */
static void print_piece(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\t')
            fputs("\\t", stdout);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
}

int tlm_cmd_tokenize(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    tlm_config cfg;
    if (tlm_cli_parse(&cli, "tokenize", OPT_PRESET | OPT_TOKENIZER | OPT_TEXT | OPT_PIECES, argc,
                      argv, 2, &err))
        return tlm_cli_fail(&err);
    if (!cli.text) {
        tlm_errf(&err, "tokenize: --text \"...\" is required");
        return tlm_cli_fail(&err);
    }
    if (tlm_config_preset(&cfg, cli.preset ? cli.preset : "tiny", &err))
        return tlm_cli_fail(&err);
    char path[4096];
    tlm_tokenizer *tok;
    tlm_ids ids = {0};
    if (tlm_data_resolve(cli.tokenizer ? cli.tokenizer : cfg.tokenizer, path, sizeof path, &err) ||
        tlm_tokenizer_load(&tok, path, &err))
        return tlm_cli_fail(&err);
    int rc = 0;
    if (tlm_tokenizer_encode(tok, cli.text, strlen(cli.text), 0, &ids, &err)) {
        rc = tlm_cli_fail(&err);
    } else {
        for (size_t i = 0; i < ids.n; i++)
            printf("%s%d", i ? "," : "", ids.v[i]);
        printf("\n");
        for (size_t i = 0; cli.pieces && i < ids.n; i++) {
            printf("%d\t", ids.v[i]);
            print_piece(tlm_tokenizer_piece(tok, ids.v[i]));
            printf("\n");
        }
    }
    tlm_ids_free(&ids);
    tlm_tokenizer_free(tok);
    return rc;
}
