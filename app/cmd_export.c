/* cmd_export.c - `tlm export`: weights to safetensors (or, through
 * tlm_cmd_export_packed, a packed inference model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "engine/io/modelfile.h"
#include "engine/io/safetensors.h"

int tlm_cmd_export(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    if (tlm_cli_parse(&cli, "export", OPT_MODEL | OPT_FORMAT | OPT_OUT | OPT_EMB | OPT_HEAD, argc,
                      argv, 2, &err))
        return tlm_cli_fail(&err);
    if (!cli.model || !cli.out) {
        tlm_errf(&err, "export: give --model FILE --format safetensors|packed --out FILE");
        return tlm_cli_fail(&err);
    }
    if (cli.format && strcmp(cli.format, "packed") == 0)
        return tlm_cmd_export_packed(&cli);
    if (cli.format && strcmp(cli.format, "safetensors") != 0) {
        tlm_errf(&err, "export: unknown --format '%s' (known: safetensors, packed)", cli.format);
        return tlm_cli_fail(&err);
    }
    if (cli.emb || cli.head) {
        tlm_errf(&err, "export: --emb and --head apply to --format packed");
        return tlm_cli_fail(&err);
    }
    tlm_config cfg;
    float *params = NULL;
    /* NULL base: a safetensors file's stored config is kept whole, so an
     * export of an export reproduces it */
    if (tlm_modelfile_load(cli.model, NULL, &cfg, &params, &err) ||
        tlm_safetensors_save(cli.out, &cfg, params, &err)) {
        free(params);
        return tlm_cli_fail(&err);
    }
    free(params);
    printf("wrote %s\n", cli.out);
    return 0;
}
