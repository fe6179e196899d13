/* metrics.c - the metrics CSV (see metrics.h). Every non-empty field goes
 * through libcsv's csv_fwrite, which quotes it; an empty field (val_loss when
 * no evaluation ran) is written as nothing between the commas. */
#include "metrics.h"
#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const base_cols[] = {"step",      "tokens",    "lr",   "train_loss",
                                        "val_loss",  "grad_norm", "tok_s"};

/* One field, preceded by a comma unless first; -1 on a write error. */
static int put_field(FILE *f, int first, const char *s)
{
    if (!first && fputc(',', f) == EOF)
        return -1;
    if (!*s)
        return 0;
    return csv_fwrite(f, s, strlen(s)) ? -1 : 0;
}

/* The header row, newline included, as a malloc'ed string. */
static char *header_row(const tlm_config *cfg, int prec_cols, size_t *len)
{
    char *buf = NULL, name[64];
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    int bad = 0;
    for (size_t i = 0; i < sizeof base_cols / sizeof base_cols[0]; i++)
        bad |= put_field(f, i == 0, base_cols[i]);
    for (int l = 0; l < cfg->n_layers; l++)
        for (int j = 0; j < TLM_LIN_PER_BLOCK; j++) {
            char lin[32];
            tlm_linear_name(l, j, lin, sizeof lin);
            snprintf(name, sizeof name, "sparsity.%s", lin);
            bad |= put_field(f, 0, name);
        }
    for (int l = 0; prec_cols && l < cfg->n_layers; l++)
        for (int j = 0; j < TLM_LIN_PER_BLOCK; j++) {
            char lin[32];
            tlm_linear_name(l, j, lin, sizeof lin);
            snprintf(name, sizeof name, "precision.%s", lin);
            bad |= put_field(f, 0, name);
        }
    bad |= fputc('\n', f) == EOF;
    if (fclose(f) || bad) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* 1 when the file at f (positioned at 0) starts with the header row; a file
 * holding only the header without its newline also matches. */
static int same_header(FILE *f, const char *hdr, size_t len)
{
    char *buf = malloc(len);
    if (!buf)
        return 0;
    size_t got = fread(buf, 1, len, f);
    int same = (got == len && memcmp(buf, hdr, len) == 0) ||
               (got == len - 1 && feof(f) && memcmp(buf, hdr, len - 1) == 0);
    free(buf);
    return same;
}

/* Make sure an existing file ends with a newline (an interrupted row). */
static int end_with_newline(FILE *f)
{
    if (fseek(f, -1, SEEK_END))
        return -1;
    int c = fgetc(f);
    if (fseek(f, 0, SEEK_END))
        return -1;
    return c == '\n' ? 0 : fputc('\n', f) == EOF ? -1 : 0;
}

/* Layout of an existing file (positioned at 0): hdr_prec when it starts with
 * hdr, 0 when with plain (may be NULL), else -1. */
static int existing_layout(FILE *f, const char *hdr, size_t len, int hdr_prec, const char *plain,
                           size_t plen)
{
    if (same_header(f, hdr, len))
        return hdr_prec;
    if (!plain)
        return -1;
    rewind(f);
    return same_header(f, plain, plen) ? 0 : -1;
}

int tlm_metrics_open_ex(tlm_metrics_csv *m, const char *path, const tlm_config *cfg,
                        unsigned flags, tlm_err *err)
{
    int rc = -1, want_prec = (flags & TLM_METRICS_PRECISION) != 0, layout = want_prec;
    size_t len = 0, plen = 0;
    char *hdr = NULL, *plain = NULL;
    FILE *f = NULL;
    memset(m, 0, sizeof *m);
    if (strlen(path) >= sizeof m->path) {
        tlm_errf(err, "metrics %s: path too long", path);
        goto cleanup;
    }
    if (!(hdr = header_row(cfg, want_prec, &len)) ||
        (want_prec && !(plain = header_row(cfg, 0, &plen)))) {
        tlm_errf(err, "metrics %s: out of memory", path);
        goto cleanup;
    }
    if (!(f = fopen(path, "a+"))) {
        tlm_errf(err, "metrics %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (fseek(f, 0, SEEK_END)) {
        tlm_errf(err, "metrics %s: %s", path, strerror(errno));
        goto cleanup;
    }
    long size = ftell(f);
    rewind(f);
    if (size > 0 && (layout = existing_layout(f, hdr, len, want_prec, plain, plen)) < 0) {
        tlm_errf(err, "metrics %s: the existing file has different columns (not this model's "
                 "header); not appending to it or overwriting it", path);
        goto cleanup;
    }
    if ((size > 0 ? end_with_newline(f) : fwrite(hdr, 1, len, f) != len) || fflush(f)) {
        tlm_errf(err, "metrics %s: write failed: %s", path, strerror(errno));
        goto cleanup;
    }
    memcpy(m->path, path, strlen(path) + 1);
    m->n_linears = cfg->n_layers * TLM_LIN_PER_BLOCK;
    m->prec_cols = layout;
    m->f = f;
    f = NULL;
    rc = 0;
cleanup:
    if (f)
        fclose(f);
    free(hdr);
    free(plain);
    return rc;
}

int tlm_metrics_open(tlm_metrics_csv *m, const char *path, const tlm_config *cfg, tlm_err *err)
{
    return tlm_metrics_open_ex(m, path, cfg, 0, err);
}

int tlm_metrics_write(tlm_metrics_csv *m, const tlm_metric_row *row, const float *sparsity,
                      tlm_err *err)
{
    return tlm_metrics_write_ex(m, row, sparsity, NULL, err);
}

int tlm_metrics_write_ex(tlm_metrics_csv *m, const tlm_metric_row *row, const float *sparsity,
                         const uint8_t *prec, tlm_err *err)
{
    char v[7][64], s[64];
    if (!m->f)
        return tlm_errf(err, "metrics: file not open");
    snprintf(v[0], sizeof v[0], "%lld", (long long)row->step);
    snprintf(v[1], sizeof v[1], "%.0f", row->tokens); /* a count: keep every digit */
    snprintf(v[2], sizeof v[2], "%.6g", row->lr);
    snprintf(v[3], sizeof v[3], "%.6f", row->train_loss);
    if (isnan(row->val_loss))
        v[4][0] = 0;
    else
        snprintf(v[4], sizeof v[4], "%.6f", row->val_loss);
    snprintf(v[5], sizeof v[5], "%.6g", row->grad_norm);
    snprintf(v[6], sizeof v[6], "%.6g", row->tok_s);
    int bad = 0;
    for (int i = 0; i < 7; i++)
        bad |= put_field(m->f, i == 0, v[i]);
    for (int i = 0; i < m->n_linears; i++) {
        if (sparsity)
            snprintf(s, sizeof s, "%.6g", sparsity[i]);
        else
            s[0] = 0;
        bad |= put_field(m->f, 0, s);
    }
    for (int i = 0; m->prec_cols && i < m->n_linears; i++)
        bad |= put_field(m->f, 0, prec ? tlm_prec_name((tlm_prec)prec[i]) : "");
    bad |= fputc('\n', m->f) == EOF;
    if (bad || fflush(m->f))
        return tlm_errf(err, "metrics %s: write failed: %s", m->path, strerror(errno));
    return 0;
}

int tlm_metrics_close(tlm_metrics_csv *m, tlm_err *err)
{
    if (!m->f)
        return 0;
    int rc = fclose(m->f);
    m->f = NULL;
    if (rc)
        return tlm_errf(err, "metrics %s: close failed: %s", m->path, strerror(errno));
    return 0;
}
