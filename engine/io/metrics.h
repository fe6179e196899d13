/* metrics.h - metrics CSV written through libcsv: one row per logged step,
 * columns step,tokens,lr,train_loss,val_loss,grad_norm,tok_s, then one
 * sparsity column per linear ("sparsity.L0.attn.q", ...). */
#ifndef TLM_METRICS_H
#define TLM_METRICS_H
#include <stdio.h>
#include "../core/err.h"
#include "../model/config.h"
#include "checkpoint.h"

typedef struct tlm_metrics_csv {
    FILE *f;
    char path[512];
    int n_linears;
} tlm_metrics_csv;

/* Open (append when the file exists with the same header, else create with a
 * header row) path for the model described by cfg. */
int tlm_metrics_open(tlm_metrics_csv *m, const char *path, const tlm_config *cfg, tlm_err *err);

/* Append one row; sparsity has cfg->n_layers*7 entries (share of zeros). */
int tlm_metrics_write(tlm_metrics_csv *m, const tlm_metric_row *row, const float *sparsity,
                      tlm_err *err);

int tlm_metrics_close(tlm_metrics_csv *m, tlm_err *err);

#endif
