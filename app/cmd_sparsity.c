/* cmd_sparsity.c - `tlm sparsity`: the share of zeros of every linear's
 * ternary codes (clamp(round(W/g), -1, 1), g = mean|W|), per layer, and the
 * middle-versus-boundary comparison the paper makes (its figure: L5-L9 at
 * 60-62% zeros, the boundary layers at 45-55%). */
#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "engine/io/modelfile.h"
#include "engine/model/params.h"
#include "engine/model/quant.h"

typedef struct layer_zeros {
    uint64_t zeros, total;
} layer_zeros;

/* Middle layers: the paper's L5-L9 (1-based) of 12; for other depths the
 * middle five twelfths, the same share. */
static void middle_range(int n_layers, int *lo, int *hi)
{
    *lo = (4 * n_layers + 6) / 12;
    *hi = (9 * n_layers + 6) / 12 - 1;
    if (*hi < *lo)
        *hi = *lo;
}

static int write_csv_row(FILE *f, const char *name, const char *prec, const tlm_tensor_info *t,
                         float g, const uint64_t c[3])
{
    if (csv_fwrite(f, name, strlen(name)) || fputc(',', f) == EOF ||
        csv_fwrite(f, prec, strlen(prec)) < 0)
        return -1;
    return fprintf(f, ",%d,%d,%.6g,%llu,%llu,%llu,%.6f\n", t->rows, t->cols, (double)g,
                   (unsigned long long)c[0], (unsigned long long)c[1], (unsigned long long)c[2],
                   (double)c[1] / (double)t->numel) < 0 ? -1 : 0;
}

/* Table (stdout) and CSV (csv may be NULL) of one model's ternary codes. */
static int report(const tlm_config *cfg, const float *params, FILE *csv, tlm_err *err)
{
    int nt = tlm_tensor_count(cfg);
    tlm_tensor_info *info = tlm_calloc((size_t)nt, sizeof *info, err);
    layer_zeros *per = tlm_calloc((size_t)cfg->n_layers, sizeof *per, err);
    if (!info || !per) {
        free(info);
        free(per);
        return -1;
    }
    tlm_tensor_table(cfg, info);
    if (csv && fputs("linear,precision,rows,cols,g,minus,zero,plus,sparsity\n", csv) == EOF)
        goto io;
    printf("%-12s %-8s %11s %9s %8s\n", "linear", "prec", "shape", "g", "zeros");
    for (int i = 0; i < nt; i++) {
        const tlm_tensor_info *t = &info[i];
        if (t->kind != TLM_T_LINEAR && t->kind != TLM_T_EMB)
            continue;
        const float *w = params + t->offset;
        float g = tlm_ternary_scale(w, t->numel);
        uint64_t c[3];
        tlm_ternary_count(w, t->numel, g, c);
        const char *prec = t->kind == TLM_T_EMB ? "fp32"
                                                : tlm_prec_name((tlm_prec)cfg->prec[t->layer * 7 + t->lin]);
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%d", t->rows, t->cols);
        printf("%-12s %-8s %11s %9.5f %7.2f%%%s\n", t->short_name, prec, shape, (double)g,
               100.0 * (double)c[1] / (double)t->numel,
               t->kind == TLM_T_EMB ? "  (if it were ternary; it is fp32)" : "");
        if (csv && write_csv_row(csv, t->short_name, prec, t, g, c))
            goto io;
        if (t->kind == TLM_T_LINEAR) {
            per[t->layer].zeros += c[1];
            per[t->layer].total += t->numel;
        }
    }
    int lo, hi;
    middle_range(cfg->n_layers, &lo, &hi);
    uint64_t mz = 0, mt = 0, bz = 0, bt = 0;
    printf("\nper layer (all seven linears):\n");
    for (int l = 0; l < cfg->n_layers; l++) {
        double share = (double)per[l].zeros / (double)per[l].total;
        printf("  L%-3d %6.2f%%%s\n", l, 100.0 * share, l >= lo && l <= hi ? "  middle" : "");
        if (l >= lo && l <= hi)
            mz += per[l].zeros, mt += per[l].total;
        else
            bz += per[l].zeros, bt += per[l].total;
    }
    printf("middle L%d-L%d: %.2f%% zeros; boundary layers: %.2f%%", lo, hi,
           100.0 * (double)mz / (double)mt, bt ? 100.0 * (double)bz / (double)bt : 0.0);
    printf(" (the paper claims 60-62%% in its L5-L9 vs 45-55%% at the boundaries; an untrained "
           "Gaussian gives 31%%)\n");
    free(info);
    free(per);
    return 0;
io:
    free(info);
    free(per);
    return tlm_errf(err, "sparsity: cannot write the CSV: %s", strerror(errno));
}

int tlm_cmd_sparsity(int argc, char **argv)
{
    tlm_cli cli;
    tlm_err err;
    if (tlm_cli_parse(&cli, "sparsity", OPT_MODEL | OPT_OUT, argc, argv, 2, &err))
        return tlm_cli_fail(&err);
    if (!cli.model) {
        tlm_errf(&err, "sparsity: --model FILE is required (--out FILE.csv for the CSV)");
        return tlm_cli_fail(&err);
    }
    tlm_config base, cfg;
    float *params = NULL;
    if (tlm_config_preset(&base, "tiny", &err) ||
        tlm_modelfile_load(cli.model, &base, &cfg, &params, &err))
        return tlm_cli_fail(&err);
    FILE *csv = NULL;
    if (cli.out && !(csv = fopen(cli.out, "w"))) {
        tlm_errf(&err, "sparsity: cannot write %s: %s", cli.out, strerror(errno));
        free(params);
        return tlm_cli_fail(&err);
    }
    printf("model: %s (%s, %d layers)\n", cli.model, cfg.preset[0] ? cfg.preset : "custom",
           cfg.n_layers);
    int rc = report(&cfg, params, csv, &err);
    if (csv && fclose(csv) && !rc)
        rc = tlm_errf(&err, "sparsity: cannot write %s: %s", cli.out, strerror(errno));
    free(params);
    return rc ? tlm_cli_fail(&err) : 0;
}
