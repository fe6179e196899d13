/* metrics.h - metrics CSV written through libcsv: one row per logged step,
 * columns step,tokens,lr,train_loss,val_loss,grad_norm,tok_s, then one
 * sparsity column per linear ("sparsity.L0.attn.q", ...), then (files opened
 * with TLM_METRICS_PRECISION) one precision column per linear
 * ("precision.L0.attn.q": ternary, int8 or fp32). */
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
    int prec_cols;  /* the file has the precision.* columns */
} tlm_metrics_csv;

/* tlm_metrics_open_ex flags. */
enum { TLM_METRICS_PRECISION = 1 };

/* Open (append when the file exists with the same header, else create with a
 * header row) path for the model described by cfg. */
int tlm_metrics_open(tlm_metrics_csv *m, const char *path, const tlm_config *cfg, tlm_err *err);

/* Append one row; sparsity has cfg->n_layers*7 entries (share of zeros). */
int tlm_metrics_write(tlm_metrics_csv *m, const tlm_metric_row *row, const float *sparsity,
                      tlm_err *err);

/* Like tlm_metrics_open; with TLM_METRICS_PRECISION a new file gets the
 * precision.* columns too, and an existing file is appended to in whichever of
 * the two layouts it has (m->prec_cols says which). */
int tlm_metrics_open_ex(tlm_metrics_csv *m, const char *path, const tlm_config *cfg,
                        unsigned flags, tlm_err *err);

/* Like tlm_metrics_write, with the precision (tlm_prec) of each linear for
 * files that have those columns; prec may be NULL (empty fields). */
int tlm_metrics_write_ex(tlm_metrics_csv *m, const tlm_metric_row *row, const float *sparsity,
                         const uint8_t *prec, tlm_err *err);

int tlm_metrics_close(tlm_metrics_csv *m, tlm_err *err);

#endif
