/* cmd_export.c - `tlm export`: weights to safetensors. */
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
    if (tlm_cli_parse(&cli, "export", OPT_MODEL | OPT_FORMAT | OPT_OUT, argc, argv, 2, &err))
        return tlm_cli_fail(&err);
    if (!cli.model || !cli.out) {
        tlm_errf(&err, "export: give --model FILE --format safetensors --out FILE");
        return tlm_cli_fail(&err);
    }
    if (cli.format && strcmp(cli.format, "safetensors") != 0) {
        tlm_errf(&err, "export: unknown --format '%s' (known: safetensors)", cli.format);
        return tlm_cli_fail(&err);
    }
    tlm_config base, cfg;
    float *params = NULL;
    if (tlm_config_preset(&base, "tiny", &err) ||
        tlm_modelfile_load(cli.model, &base, &cfg, &params, &err) ||
        tlm_safetensors_save(cli.out, &cfg, params, &err)) {
        free(params);
        return tlm_cli_fail(&err);
    }
    free(params);
    printf("wrote %s\n", cli.out);
    return 0;
}
