/* report_out.c - what `tlm report` writes: CSVs, SVG plots and report.md,
 * every number from the runs just made or reused. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"
#include "svg.h"

/* The paper's claims (../shared/PAPER.md). */
static const double claim_layer[12] = {48, 52, 54, 55, 60, 62, 61, 60, 58, 52, 48, 45};
#define CLAIM_PPL 58.42
#define CLAIM_PPL_STD 0.17
#define CLAIM_RATIO_T 1.05
#define CLAIM_RATIO_F 3.51
#define CLAIM_F1 82.47
#define CLAIM_MB_T 498.0
#define CLAIM_MB_F 1197.0
#define CLAIM_MS_T 9.41
#define CLAIM_MS_F 9.52

static const char *kind_name[2] = {"ternary", "fp32"};

static FILE *open_out(const rep *r, const char *name, char *path, size_t n, tlm_err *err)
{
    snprintf(path, n, "%s/%s", r->dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static int close_out(FILE *f, const char *path, tlm_err *err)
{
    if (ferror(f) | fclose(f))
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Mean and std of one figure over the small preset's seeds. */
void rep_stat(const rep *r, int k, size_t off, double *m, double *s)
{
    double x[REP_MAX_SEEDS];
    for (int i = 0; i < r->p.seeds; i++)
        x[i] = *(const double *)((const char *)&r->small[k][i] + off);
    tlm_mean_std(x, r->p.seeds, m, s);
}

/* ---- CSVs ---- */

static void seed_row(FILE *f, const char *preset, int k, const tlm_run_result *x)
{
    fprintf(f, "%s,%s,%d,%lld,%.6f,%.6f,%.6f,%.4f,%.6f,%.6f,%.6f,%.6f,%.1f,%.1f\n", preset,
            kind_name[k], x->seed, (long long)x->steps, x->final_loss, x->train_nll, x->val_nll,
            x->ppl, x->ratio, x->sparsity, x->sparsity_mid, x->sparsity_bnd, x->tok_s,
            x->seconds);
}

static int write_runs_csv(const rep *r, tlm_err *err)
{
    char path[1200];
    FILE *f = open_out(r, "runs.csv", path, sizeof path, err);
    if (!f)
        return -1;
    fprintf(f, "preset,precision,seed,steps,final_train_loss,train_nll,val_nll,val_ppl,"
               "val_over_train,sparsity,sparsity_middle,sparsity_boundary,tok_s,seconds\n");
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < r->p.seeds; i++)
            seed_row(f, r->p.small, k, &r->small[k][i]);
    for (int k = 0; r->have_paper && k < 2; k++)
        seed_row(f, "paper", k, &r->paper[k]);
    return close_out(f, path, err);
}

static int write_summary_csv(const rep *r, tlm_err *err)
{
    char path[1200];
    FILE *f = open_out(r, "summary.csv", path, sizeof path, err);
    if (!f)
        return -1;
    static const struct {
        const char *name;
        size_t off;
        double claim_t, claim_f;
    } figs[] = {
        {"val_ppl", offsetof(tlm_run_result, ppl), CLAIM_PPL, NAN},
        {"val_nll", offsetof(tlm_run_result, val_nll), NAN, NAN},
        {"train_nll", offsetof(tlm_run_result, train_nll), NAN, NAN},
        {"val_over_train", offsetof(tlm_run_result, ratio), CLAIM_RATIO_T, CLAIM_RATIO_F},
        {"final_train_loss", offsetof(tlm_run_result, final_loss), NAN, NAN},
        {"sparsity_middle", offsetof(tlm_run_result, sparsity_mid), 0.61, NAN},
        {"sparsity_boundary", offsetof(tlm_run_result, sparsity_bnd), NAN, NAN},
        {"tok_s", offsetof(tlm_run_result, tok_s), NAN, NAN},
    };
    fprintf(f, "preset,figure,ternary_mean,ternary_std,fp32_mean,fp32_std,seeds,paper_ternary,"
               "paper_fp32\n");
    for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++) {
        double m[2], s[2];
        for (int k = 0; k < 2; k++)
            rep_stat(r, k, figs[i].off, &m[k], &s[k]);
        fprintf(f, "%s,%s,%.6g,%.6g,%.6g,%.6g,%d,%.6g,%.6g\n", r->p.small, figs[i].name, m[0],
                s[0], m[1], s[1], r->p.seeds, figs[i].claim_t, figs[i].claim_f);
        if (r->have_paper)
            fprintf(f, "paper,%s,%.6g,,%.6g,,1,%.6g,%.6g\n", figs[i].name,
                    *(const double *)((const char *)&r->paper[0] + figs[i].off),
                    *(const double *)((const char *)&r->paper[1] + figs[i].off), figs[i].claim_t,
                    figs[i].claim_f);
    }
    return close_out(f, path, err);
}

static int write_sparsity_csv(const rep *r, tlm_err *err)
{
    char path[1200];
    FILE *f = open_out(r, "sparsity.csv", path, sizeof path, err);
    if (!f)
        return -1;
    fprintf(f, "model,layer,sparsity_mean,sparsity_std\n");
    for (int k = 0; k < 2; k++)
        for (int l = 0; l < r->cfg[0].n_layers; l++) {
            double x[REP_MAX_SEEDS], m, s;
            for (int i = 0; i < r->p.seeds; i++)
                x[i] = r->small[k][i].layer_sparsity[l];
            tlm_mean_std(x, r->p.seeds, &m, &s);
            fprintf(f, "%s-%s,L%d,%.6f,%.6f\n", r->p.small, kind_name[k], l, m, s);
        }
    for (int l = 0; l < r->cfg[0].n_layers; l++)
        fprintf(f, "%s-init,L%d,%.6f,\n", r->p.small, l, r->init_sp_small[l]);
    for (int k = 0; r->have_paper && k < 2; k++)
        for (int l = 0; l < 12; l++)
            fprintf(f, "paper-%s,L%d,%.6f,\n", kind_name[k], l, r->paper[k].layer_sparsity[l]);
    for (int l = 0; r->have_paper && l < 12; l++)
        fprintf(f, "paper-init,L%d,%.6f,\n", l, r->init_sp_paper[l]);
    for (int l = 0; l < 12; l++)
        fprintf(f, "paper-claim,L%d,%.6f,\n", l, claim_layer[l] / 100);
    return close_out(f, path, err);
}

static int write_memory_csv(const rep *r, tlm_err *err)
{
    char path[1200];
    FILE *f = open_out(r, "memory.csv", path, sizeof path, err);
    if (!f)
        return -1;
    const tlm_memory_figs *m = &r->mem;
    fprintf(f, "preset,figure,ternary_mb,fp32_mb\n");
    fprintf(f, "%s,training weights (latent+grad+AdamW),%.1f,%.1f\n", r->p.mem_preset,
            m->train_weights_mb, m->train_weights_mb);
    fprintf(f, "%s,inference model,%.1f,%.1f\n", r->p.mem_preset, m->infer_mb[0], m->infer_mb[1]);
    fprintf(f, "%s,peak RSS training step (batch %d),%.1f,%.1f\n", r->p.mem_preset,
            r->mem_cfg.batch, m->rss_train[0], m->rss_train[1]);
    fprintf(f, "%s,peak RSS decoding,%.1f,%.1f\n", r->p.mem_preset, m->rss_decode[0],
            m->rss_decode[1]);
    fprintf(f, "paper (claimed),model memory,%.1f,%.1f\n", CLAIM_MB_T, CLAIM_MB_F);
    return close_out(f, path, err);
}

static void mrpc_row(FILE *f, const char *model, const char *epoch, double loss,
                     const tlm_cls_metrics *m)
{
    char l[32] = "";
    if (isfinite(loss))
        snprintf(l, sizeof l, "%.6f", loss);
    fprintf(f, "%s,%s,%s,%.6f,%.6f,%.6f,%.6f,%ld,%ld,%ld,%ld\n", model, epoch, l, m->accuracy,
            m->f1, m->precision, m->recall, m->tp, m->fp, m->fn, m->tn);
}

static int write_mrpc_csv(const rep *r, tlm_err *err)
{
    char path[1200], name[64], ep[16];
    FILE *f = open_out(r, "mrpc.csv", path, sizeof path, err);
    if (!f)
        return -1;
    fprintf(f, "model,epoch,train_loss,dev_accuracy,dev_f1,dev_precision,dev_recall,tp,fp,fn,tn\n");
    mrpc_row(f, "majority", "", NAN, &r->mrpc[0].info.majority);
    for (int k = 0; k < 2; k++)
        for (int e = 0; e < r->mrpc[k].n_ep; e++) {
            snprintf(name, sizeof name, "%s-%s", r->p.small, kind_name[k]);
            snprintf(ep, sizeof ep, "%d", r->mrpc[k].ep[e].epoch);
            mrpc_row(f, name, ep, r->mrpc[k].ep[e].train_loss, &r->mrpc[k].ep[e].dev);
        }
    return close_out(f, path, err);
}

static int write_latency_csv(const rep *r, tlm_err *err)
{
    char path[1200];
    FILE *f = open_out(r, "latency.csv", path, sizeof path, err);
    if (!f)
        return -1;
    fprintf(f, "model,ternary_ms_per_token,fp32_ms_per_token,fp32_over_ternary\n");
    for (int i = 0; i < r->n_lat; i++)
        fprintf(f, "%s,%.4f,%.4f,%.3f\n", r->lat_name[i], r->lat_ms[i][0], r->lat_ms[i][1],
                r->lat_ms[i][1] / r->lat_ms[i][0]);
    fprintf(f, "paper (claimed),%.2f,%.2f,%.3f\n", CLAIM_MS_T, CLAIM_MS_F, CLAIM_MS_F / CLAIM_MS_T);
    return close_out(f, path, err);
}

/* ---- SVGs ---- */

typedef struct curve {
    double *step, *train, *val;
    size_t n;
} curve;

static void curve_free(curve *c)
{
    free(c->step), free(c->train), free(c->val);
}

/* Read dir/curve.csv (step,train_loss,val_loss; val empty when not evaluated). */
static int curve_read(const char *dir, curve *c, tlm_err *err)
{
    char path[1200], line[256];
    snprintf(path, sizeof path, "%s/curve.csv", dir);
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f)
        return tlm_errf(err, "cannot read %s: %s", path, strerror(errno));
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        double s, t, v = NAN;
        if (sscanf(line, "%lf,%lf,%lf", &s, &t, &v) < 2)
            continue;
        if (c->n == cap) {
            cap = cap ? cap * 2 : 256;
            double *a = realloc(c->step, cap * sizeof *a), *b = a ? realloc(c->train, cap * sizeof *b) : NULL,
                   *d = b ? realloc(c->val, cap * sizeof *d) : NULL;
            c->step = a ? a : c->step, c->train = b ? b : c->train, c->val = d ? d : c->val;
            if (!d) {
                fclose(f);
                return tlm_errf(err, "out of memory reading %s", path);
            }
        }
        c->step[c->n] = s, c->train[c->n] = t, c->val[c->n] = v;
        c->n++;
    }
    fclose(f);
    return 0;
}

/* Only the evaluated points of a curve, for the validation line. */
static size_t val_points(const curve *c, double *xs, double *ys)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (isfinite(c->val[i]))
            xs[n] = c->step[i], ys[n++] = c->val[i];
    return n;
}

static int svg_loss(const rep *r, const char *preset, const char *file, tlm_err *err)
{
    curve c[2] = {{0}};
    double *vx[2] = {0}, *vy[2] = {0};
    int rc = -1;
    tlm_svg_series s[4];
    char names[4][64], path[1200], dir[1100], title[160];
    for (int k = 0; k < 2; k++) {
        snprintf(dir, sizeof dir, "%s/runs/%s-%s/seed-1", r->dir, preset, kind_name[k]);
        if (curve_read(dir, &c[k], err))
            goto out;
        vx[k] = calloc(c[k].n + 1, sizeof(double));
        vy[k] = calloc(c[k].n + 1, sizeof(double));
        if (!vx[k] || !vy[k]) {
            tlm_errf(err, "out of memory");
            goto out;
        }
        snprintf(names[k], sizeof names[k], "%s train (batch)", kind_name[k]);
        snprintf(names[k + 2], sizeof names[k + 2], "%s validation", kind_name[k]);
        s[k] = (tlm_svg_series){names[k], k ? "#d62728" : "#1f77b4", c[k].step, c[k].train,
                                c[k].n, 0};
        s[k + 2] = (tlm_svg_series){names[k + 2], k ? "#d62728" : "#1f77b4", vx[k], vy[k],
                                    val_points(&c[k], vx[k], vy[k]), 1};
    }
    snprintf(path, sizeof path, "%s/%s", r->dir, file);
    snprintf(title, sizeof title, "%s: loss (mean token NLL), ternary vs FP32, seed 1", preset);
    /* runs evaluated only at the end have no validation line */
    rc = tlm_svg_lines(path, title, "step", "loss (nats)", s, s[2].n > 1 || s[3].n > 1 ? 4 : 2,
                       err);
out:
    for (int k = 0; k < 2; k++)
        curve_free(&c[k]), free(vx[k]), free(vy[k]);
    return rc;
}

static int svg_sparsity(const rep *r, tlm_err *err)
{
    char path[1200], cats[TLM_MAX_LAYERS][12], title[160];
    const char *cp[TLM_MAX_LAYERS];
    double v[3][TLM_MAX_LAYERS];
    int n = r->cfg[0].n_layers;
    for (int l = 0; l < n; l++) {
        snprintf(cats[l], sizeof cats[l], "L%d", l + 1);
        cp[l] = cats[l];
        for (int k = 0; k < 2; k++) {
            double x[REP_MAX_SEEDS], s;
            for (int i = 0; i < r->p.seeds; i++)
                x[i] = r->small[k][i].layer_sparsity[l];
            tlm_mean_std(x, r->p.seeds, &v[k][l], &s);
            v[k][l] *= 100;
        }
        v[2][l] = 100 * r->init_sp_small[l];
    }
    tlm_svg_group g[3] = {{"ternary, trained", "#1f77b4", v[0]},
                          {"fp32, trained (if quantized)", "#d62728", v[1]},
                          {"untrained N(0, 0.02)", "#aaaaaa", v[2]}};
    snprintf(path, sizeof path, "%s/sparsity.svg", r->dir);
    snprintf(title, sizeof title, "%s: share of zeros per layer (%% , mean of %d seeds)",
             r->p.small, r->p.seeds);
    if (tlm_svg_bars(path, title, "zeros (%)", cp, n, g, 3, err))
        return -1;
    if (!r->have_paper)
        return 0;
    double w[3][12];
    for (int l = 0; l < 12; l++) {
        snprintf(cats[l], sizeof cats[l], "L%d", l + 1);
        cp[l] = cats[l];
        w[0][l] = 100 * r->paper[0].layer_sparsity[l];
        w[1][l] = 100 * r->init_sp_paper[l];
        w[2][l] = claim_layer[l];
    }
    tlm_svg_group h[3] = {{"ternary, trained here", "#1f77b4", w[0]},
                          {"untrained N(0, 0.02)", "#aaaaaa", w[1]},
                          {"the paper's figure", "#ff7f0e", w[2]}};
    snprintf(path, sizeof path, "%s/sparsity_paper.svg", r->dir);
    return tlm_svg_bars(path, "paper preset: share of zeros per layer (%)", "zeros (%)", cp, 12,
                        h, 3, err);
}

static int svg_memory(const rep *r, tlm_err *err)
{
    const tlm_memory_figs *m = &r->mem;
    const char *cats[] = {"inference model", "decode peak RSS", "train step peak RSS",
                          "paper's claim"};
    double t[4] = {m->infer_mb[0], m->rss_decode[0], m->rss_train[0], CLAIM_MB_T};
    double f[4] = {m->infer_mb[1], m->rss_decode[1], m->rss_train[1], CLAIM_MB_F};
    tlm_svg_group g[2] = {{"ternary", "#1f77b4", t}, {"fp32", "#d62728", f}};
    char path[1200], title[128];
    snprintf(path, sizeof path, "%s/memory.svg", r->dir);
    snprintf(title, sizeof title, "%s preset: memory (MB), ternary vs FP32", r->p.mem_preset);
    return tlm_svg_bars(path, title, "MB", cats, 4, g, 2, err);
}

static int svg_mrpc(const rep *r, tlm_err *err)
{
    const char *cats[] = {"dev accuracy", "dev F1"};
    const tlm_cls_metrics *mj = &r->mrpc[0].info.majority;
    double maj[2] = {100 * mj->accuracy, 100 * mj->f1}, v[2][2], paper[2] = {NAN, CLAIM_F1};
    for (int k = 0; k < 2; k++) {
        const tlm_cls_metrics *d = &r->mrpc[k].ep[r->mrpc[k].n_ep - 1].dev;
        v[k][0] = 100 * d->accuracy, v[k][1] = 100 * d->f1;
    }
    tlm_svg_group g[4] = {{"majority class", "#aaaaaa", maj},
                          {"ternary, fine-tuned", "#1f77b4", v[0]},
                          {"fp32, fine-tuned", "#d62728", v[1]},
                          {"the paper (F1)", "#ff7f0e", paper}};
    char path[1200];
    snprintf(path, sizeof path, "%s/mrpc.svg", r->dir);
    return tlm_svg_bars(path, "MRPC dev (%), last epoch", "%", cats, 2, g, 4, err);
}

int rep_write_all(const rep *r, tlm_err *err)
{
    if (write_runs_csv(r, err) || write_summary_csv(r, err) || write_sparsity_csv(r, err) ||
        write_memory_csv(r, err) || write_mrpc_csv(r, err) || write_latency_csv(r, err) ||
        svg_loss(r, r->p.small, "loss.svg", err) ||
        (r->have_paper && svg_loss(r, "paper", "loss_paper.svg", err)) ||
        svg_sparsity(r, err) || svg_memory(r, err) || svg_mrpc(r, err))
        return -1;
    return rep_write_md(r, err);
}
