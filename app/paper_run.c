/* paper_run.c - one training run for the paper's measurements: train, then
 * evaluate train and validation NLL on the same number of windows, count the
 * ternary zeros per layer, and leave the files a report reuses. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine/core/timer.h"
#include "engine/io/datapath.h"
#include "engine/io/metrics.h"
#include "engine/model/params.h"
#include "engine/model/quant.h"
#include "engine/train/trainer.h"
#include "paper.h"

void tlm_mean_std(const double *x, int n, double *mean, double *std)
{
    double s = 0, q = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    *mean = n ? s / n : NAN;
    for (int i = 0; i < n; i++)
        q += (x[i] - *mean) * (x[i] - *mean);
    *std = n > 1 ? sqrt(q / (n - 1)) : 0.0;
}

void tlm_run_sparsity(const tlm_config *cfg, const float *params, double *layer, double *mid,
                      double *bnd, double *all, int *lo, int *hi)
{
    /* the same middle as `tlm sparsity`: L5-L9 (1-based) of 12 */
    *lo = (4 * cfg->n_layers + 6) / 12;
    *hi = (9 * cfg->n_layers + 6) / 12 - 1;
    if (*hi < *lo)
        *hi = *lo;
    int nt = tlm_tensor_count(cfg);
    tlm_tensor_info *info = calloc((size_t)nt, sizeof *info);
    uint64_t z[TLM_MAX_LAYERS] = {0}, t[TLM_MAX_LAYERS] = {0};
    if (!info)
        return;
    tlm_tensor_table(cfg, info);
    for (int i = 0; i < nt; i++) {
        if (info[i].kind != TLM_T_LINEAR)
            continue;
        const float *w = params + info[i].offset;
        uint64_t c[3];
        tlm_ternary_count(w, info[i].numel, tlm_ternary_scale(w, info[i].numel), c);
        z[info[i].layer] += c[1];
        t[info[i].layer] += info[i].numel;
    }
    free(info);
    uint64_t mz = 0, mt = 0, bz = 0, bt = 0;
    for (int l = 0; l < cfg->n_layers; l++) {
        layer[l] = (double)z[l] / (double)t[l];
        if (l >= *lo && l <= *hi)
            mz += z[l], mt += t[l];
        else
            bz += z[l], bt += t[l];
    }
    *mid = (double)mz / (double)mt;
    *bnd = bt ? (double)bz / (double)bt : NAN;
    *all = (double)(mz + bz) / (double)(mt + bt);
}

/* ---- files of a run ---- */

static void path_in(char *out, size_t n, const char *dir, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

/* The configuration text a reuse must match. */
static char *config_text(const tlm_config *cfg, int eval_windows)
{
    size_t n = tlm_config_serialize(cfg, NULL, 0);
    char *s = malloc(n + 64);
    if (!s)
        return NULL;
    tlm_config_serialize(cfg, s, n + 1);
    snprintf(s + strlen(s), 64, "eval_windows=%d\n", eval_windows);
    return s;
}

static int write_text(const char *path, const char *text, tlm_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) == EOF || fclose(f))
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    while (s && (n += fread(s + n, 1, cap - 1 - n, f)) == cap - 1) {
        char *t = realloc(s, cap *= 2);
        if (!t) {
            free(s);
            s = NULL;
        }
        s = t;
    }
    fclose(f);
    if (s)
        s[n] = 0;
    return s;
}

static int write_result(const char *path, const tlm_run_result *r, tlm_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "figure,value\nseed,%d\nsteps,%lld\nfinal_loss,%.17g\ntrain_nll,%.17g\n"
               "val_nll,%.17g\nppl,%.17g\nratio,%.17g\nsparsity,%.17g\nsparsity_mid,%.17g\n"
               "sparsity_bnd,%.17g\ntok_s,%.17g\nseconds,%.17g\nn_layers,%d\nmid_lo,%d\n"
               "mid_hi,%d\n",
            r->seed, (long long)r->steps, r->final_loss, r->train_nll, r->val_nll, r->ppl,
            r->ratio, r->sparsity, r->sparsity_mid, r->sparsity_bnd, r->tok_s, r->seconds,
            r->n_layers, r->mid_lo, r->mid_hi);
    for (int l = 0; l < r->n_layers; l++)
        fprintf(f, "layer%d,%.17g\n", l, r->layer_sparsity[l]);
    if (fclose(f))
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int read_result(const char *path, tlm_run_result *r)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char key[64];
    double v;
    int got = 0;
    memset(r, 0, sizeof *r);
    if (fscanf(f, "figure,value ") != 0) {
        fclose(f);
        return -1;
    }
    while (fscanf(f, " %63[^,],%lf", key, &v) == 2) {
        int l;
        got++;
        if (!strcmp(key, "seed")) r->seed = (int)v;
        else if (!strcmp(key, "steps")) r->steps = (int64_t)v;
        else if (!strcmp(key, "final_loss")) r->final_loss = v;
        else if (!strcmp(key, "train_nll")) r->train_nll = v;
        else if (!strcmp(key, "val_nll")) r->val_nll = v;
        else if (!strcmp(key, "ppl")) r->ppl = v;
        else if (!strcmp(key, "ratio")) r->ratio = v;
        else if (!strcmp(key, "sparsity")) r->sparsity = v;
        else if (!strcmp(key, "sparsity_mid")) r->sparsity_mid = v;
        else if (!strcmp(key, "sparsity_bnd")) r->sparsity_bnd = v;
        else if (!strcmp(key, "tok_s")) r->tok_s = v;
        else if (!strcmp(key, "seconds")) r->seconds = v;
        else if (!strcmp(key, "n_layers")) r->n_layers = (int)v;
        else if (!strcmp(key, "mid_lo")) r->mid_lo = (int)v;
        else if (!strcmp(key, "mid_hi")) r->mid_hi = (int)v;
        else if (sscanf(key, "layer%d", &l) == 1 && l >= 0 && l < TLM_MAX_LAYERS)
            r->layer_sparsity[l] = v;
        else
            got--;
    }
    fclose(f);
    return got >= 15 + r->n_layers && r->n_layers > 0 && r->n_layers <= TLM_MAX_LAYERS ? 0 : -1;
}

/* The configuration stored in dir/config.txt, re-serialized by this build (a
 * key added since then takes its default), and its eval_windows. */
static char *stored_config(const char *dir, int *eval_windows)
{
    char path[1200];
    path_in(path, sizeof path, dir, "config.txt");
    char *have = read_text(path), *ew = have ? strstr(have, "eval_windows=") : NULL;
    tlm_config c;
    tlm_err err;
    char *out = NULL;
    if (ew && sscanf(ew, "eval_windows=%d", eval_windows) == 1 &&
        tlm_config_deserialize(&c, have, (size_t)(ew - have), &err) == 0)
        out = config_text(&c, *eval_windows);
    free(have);
    return out;
}

int tlm_run_reuse(const tlm_config *cfg, const char *dir, int eval_windows, tlm_run_result *r)
{
    char path[1200];
    int stored_windows = -1;
    char *want = config_text(cfg, eval_windows), *have = stored_config(dir, &stored_windows);
    int same = want && have && stored_windows == eval_windows && !strcmp(want, have);
    free(want);
    free(have);
    path_in(path, sizeof path, dir, "result.csv");
    return same && read_result(path, r) == 0 && r->steps == cfg->steps;
}

/* ---- training ---- */

typedef struct run {
    tlm_trainer *tr;
    tlm_metrics_csv csv;
    FILE *curve;
    double *losses;
} run;

static int log_step(run *u, const tlm_step_stats *st, double val, double tok_s, tlm_err *err)
{
    const tlm_config *c = &u->tr->cfg;
    float sp[TLM_MAX_LINEARS];
    for (int i = 0; i < c->n_layers * TLM_LIN_PER_BLOCK; i++)
        sp[i] = u->tr->model->lstats[i].sparsity;
    tlm_metric_row row = {st->step, st->tokens, st->lr, (float)st->loss, (float)val,
                          (float)st->grad_norm, (float)tok_s};
    if (tlm_trainer_record(u->tr, &row, err) || tlm_metrics_write(&u->csv, &row, sp, err))
        return -1;
    if (fprintf(u->curve, "%lld,%.6f,", (long long)st->step, st->nll) < 0 ||
        (isnan(val) ? fputs("\n", u->curve) : fprintf(u->curve, "%.6f\n", val)) < 0)
        return tlm_errf(err, "cannot write curve.csv: %s", strerror(errno));
    return 0;
}

static int loop(run *u, tlm_run_progress cb, void *ctx, tlm_run_result *r, tlm_err *err)
{
    tlm_trainer *tr = u->tr;
    const tlm_config *c = &tr->cfg;
    double t0 = tlm_now();
    while (tr->step < c->steps) {
        tlm_step_stats st;
        if (tlm_trainer_step(tr, &st, err))
            return -1;
        u->losses[tr->step - 1] = st.loss;
        double val = NAN;
        int last = tr->step == c->steps;
        if (c->eval_every && (tr->step % c->eval_every == 0 || last) &&
            tlm_trainer_eval(tr, &val, NULL, err))
            return -1;
        double tok_s = (double)tr->tokens / tlm_now_since(t0);
        if ((tr->step % c->log_every == 0 || last || !isnan(val)) &&
            log_step(u, &st, val, tok_s, err))
            return -1;
        if (cb)
            cb(ctx, tr->step, c->steps);
    }
    r->seconds = tlm_now_since(t0);
    r->tok_s = tr->tokens / (r->seconds > 0 ? r->seconds : 1e-9);
    int64_t k = c->steps / 10 > 0 ? c->steps / 10 : 1;
    double s = 0;
    for (int64_t i = c->steps - k; i < c->steps; i++)
        s += u->losses[i];
    r->final_loss = c->steps ? s / (double)k : NAN;
    return 0;
}

/* Train and validation NLL over the same number of windows. */
static int final_eval(tlm_trainer *tr, int eval_windows, tlm_run_result *r, tlm_err *err)
{
    if (!tr->val)
        return tlm_errf(err, "the run names no validation text (config key 'val_data')");
    size_t w = (size_t)eval_windows;
    if (tlm_model_eval(tr->model, tr->val, w, tr->x, tr->y, &r->val_nll, NULL, &w, err))
        return -1;
    /* as many training windows as validation windows were scored */
    if (tlm_model_eval(tr->model, tr->train, w, tr->x, tr->y, &r->train_nll, NULL, NULL, err))
        return -1;
    r->ppl = exp(r->val_nll);
    r->ratio = r->val_nll / r->train_nll;
    return 0;
}

static int open_outputs(run *u, const char *dir, tlm_err *err)
{
    char path[1200];
    path_in(path, sizeof path, dir, "metrics.csv");
    unlink(path); /* a fresh run: the metrics writer would append */
    if (tlm_metrics_open(&u->csv, path, &u->tr->cfg, err))
        return -1;
    path_in(path, sizeof path, dir, "curve.csv");
    if (!(u->curve = fopen(path, "w")) || fputs("step,train_loss,val_loss\n", u->curve) == EOF)
        return tlm_errf(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

int tlm_run_train(const tlm_config *cfg, const char *dir, int eval_windows, tlm_run_progress cb,
                  void *ctx, tlm_run_result *r, tlm_err *err)
{
    char path[1200];
    memset(r, 0, sizeof *r);
    run u = {0};
    int rc = -1;
    char *text = config_text(cfg, eval_windows);
    path_in(path, sizeof path, dir, "config.txt");
    if (!text || tlm_mkdirs(dir, err)) {
        if (!text)
            tlm_errf(err, "out of memory");
        goto out;
    }
    unlink(path); /* the run is not reusable until it has finished */
    if (tlm_trainer_create(&u.tr, cfg, err) || open_outputs(&u, dir, err))
        goto out;
    if (!(u.losses = tlm_calloc((size_t)cfg->steps + 1, sizeof(double), err)))
        goto out;
    r->seed = cfg->seed;
    r->steps = cfg->steps;
    if (loop(&u, cb, ctx, r, err) || final_eval(u.tr, eval_windows, r, err))
        goto out;
    r->n_layers = cfg->n_layers;
    tlm_run_sparsity(cfg, u.tr->model->p.mem, r->layer_sparsity, &r->sparsity_mid,
                     &r->sparsity_bnd, &r->sparsity, &r->mid_lo, &r->mid_hi);
    tlm_ckpt ck;
    tlm_trainer_snapshot(u.tr, &ck);
    path_in(path, sizeof path, dir, "last.tlmc");
    if (tlm_ckpt_save(path, &ck, err))
        goto out;
    path_in(path, sizeof path, dir, "result.csv");
    if (write_result(path, r, err))
        goto out;
    path_in(path, sizeof path, dir, "config.txt");
    rc = write_text(path, text, err);
out:
    if (u.curve && fclose(u.curve) && rc == 0)
        rc = tlm_errf(err, "cannot write %s/curve.csv: %s", dir, strerror(errno));
    if (u.csv.f) {
        tlm_err e2;
        if (tlm_metrics_close(&u.csv, &e2) && rc == 0)
            rc = tlm_errf(err, "%s", e2.msg);
    }
    tlm_trainer_free(u.tr);
    free(u.losses);
    free(text);
    return rc;
}
