/* commands.c - the command table and its handlers. Handlers run on the
 * session's engine thread between steps: they parse their arguments, call the
 * session's operations (engine/session/ops.c) and format the answers. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../session/session_int.h"
#include "console.h"

/* ---- argument parsing ---- */

static int parse_i64(const char *what, const char *v, int64_t lo, int64_t hi, int64_t *out,
                     tlm_err *err)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return tlm_errf(err, "%s: '%s' is not an integer in [%lld, %lld]", what, v, (long long)lo,
                        (long long)hi);
    *out = x;
    return 0;
}

static int parse_f(const char *what, const char *v, double lo, double hi, float *out,
                   tlm_err *err)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
        return tlm_errf(err, "%s: '%s' is not a number in [%g, %g]", what, v, lo, hi);
    *out = (float)x;
    return 0;
}

static void emit_line(void *ctx, const char *text)
{
    void **c = ctx;
    tlm__sess_emit(c[0], TLM_EV_LINE, *(uint64_t *)c[1], 0, text);
}

/* ---- simple commands ---- */

static int cmd_help(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    void *ctx[2] = {s, &cmd};
    return tlm_console_help(a->npos ? a->pos[0] : NULL, emit_line, ctx, err);
}

static void fmt_val(const tlm_snapshot *w, char *buf, size_t n)
{
    if (isnan(w->val_loss))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.4f (step %lld)", w->val_loss, (long long)w->val_step);
}

static int cmd_status(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    tlm__sess_refresh(s);
    const tlm_snapshot *w = &s->work;
    char val[64], loss[32] = "-", left[48] = "";
    fmt_val(w, val, sizeof val);
    if (!isnan(w->train_loss))
        snprintf(loss, sizeof loss, "%.4f", w->train_loss);
    if (w->steps_left > 0)
        snprintf(left, sizeof left, " (%lld steps left)", (long long)w->steps_left);
    tlm__sess_linef(s, cmd, "%s%s | step %lld/%d | tokens %.0f | loss %s | val %s | lr %.3g | "
                    "%.0f tok/s | grad %.3g | batch %d | saves %d | gens %d",
                    tlm_sess_state_name(w->state), left, (long long)w->step, w->steps, w->tokens,
                    loss, val, (double)w->lr, (double)w->tok_s, (double)w->grad_norm,
                    w->batch, w->saves_pending, w->gens_pending);
    if (w->error[0])
        tlm__sess_linef(s, cmd, "last error: %s", w->error);
    return 0;
}

static int cmd_pause(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    return tlm__op_pause(s, cmd, err);
}

static int cmd_resume(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    return tlm__op_resume(s, cmd, err);
}

static int cmd_step(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    int64_t n = 1;
    if (a->npos && parse_i64("step", a->pos[0], 1, 1000000000, &n, err))
        return -1;
    return tlm__op_step(s, cmd, n, err);
}

static int cmd_save(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    return tlm__op_save(s, cmd, a->npos ? a->pos[0] : NULL, err);
}

static int cmd_load(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    return tlm__op_load(s, cmd, a->pos[0], err);
}

static int cmd_eval(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    return tlm__op_eval(s, cmd, err);
}

static int cmd_quit(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    return tlm__op_quit(s, cmd, err);
}

/* ---- set ---- */

static const char *const set_keys[] = {
    "lr", "warmup", "steps", "batch", "seed", "clip", "weight_decay", "beta1", "beta2",
    "adam_eps", "label_smoothing", "eval_every", "eval_batches", "log_every", "save_every",
    "keep_ckpts", NULL};

const char *const *tlm_console_set_keys(void)
{
    return set_keys;
}

static int cmd_set(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    char v[640];
    if (a->nopt + a->npos == 0) {
        for (const char *const *k = set_keys; *k; k++) {
            tlm__config_value(&s->tr->cfg, *k, v, sizeof v);
            tlm__sess_linef(s, cmd, "%-16s %s", *k, v);
        }
        return 0;
    }
    if (a->nopt > 1 || (a->nopt == 1 && a->npos))
        return tlm_errf(err, "set: one setting at a time (set KEY VALUE or set KEY=VALUE)");
    if (a->nopt == 1)
        return tlm__op_set(s, cmd, a->key[0], a->val[0], err);
    if (a->npos == 2)
        return tlm__op_set(s, cmd, a->pos[0], a->pos[1], err);
    tlm__config_value(&s->tr->cfg, a->pos[0], v, sizeof v);
    if (!strcmp(v, "?"))
        return tlm_errf(err, "set: unknown key '%s' ('set' lists the keys)", a->pos[0]);
    tlm__sess_linef(s, cmd, "%s = %s", a->pos[0], v);
    return 0;
}

/* ---- precision ---- */

static int cmd_precision(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    return tlm__op_precision(s, cmd, a->pos[0], a->pos[1], err);
}

/* ---- layers, inspect, history ---- */

static void fmt_rate(float r, int linear, char *buf, size_t n)
{
    if (linear < 0)
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.5f", (double)r);
}

static int cmd_layers(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    tlm__sess_refresh(s);
    const tlm_snapshot *w = &s->work;
    tlm__sess_linef(s, cmd, "%-13s %-10s %-8s %8s %10s %9s %10s", "name", "shape", "prec",
                    "sparsity", "g", "flip", "grad");
    for (int i = 0; i < w->n_rows; i++) {
        const tlm_layer_snap *l = &w->layer[i];
        char shape[32], flip[32];
        snprintf(shape, sizeof shape, "%dx%d", l->rows, l->cols);
        fmt_rate(l->flip_rate, l->linear, flip, sizeof flip);
        tlm__sess_linef(s, cmd, "%-13s %-10s %-8s %8.4f %10.4g %9s %10.4g", l->name, shape,
                        tlm_prec_name((tlm_prec)l->prec), (double)l->sparsity, (double)l->gamma,
                        flip, (double)l->grad_norm);
    }
    return 0;
}

static void inspect_weights(tlm_session *s, uint64_t cmd, const tlm_layer_snap *l,
                            const tlm_inspect *in)
{
    uint64_t n = (uint64_t)l->rows * (uint64_t)l->cols, top = 1;
    tlm__sess_linef(s, cmd, "%s: %dx%d, %s, g %.5g, sparsity %.4f, grad norm %.4g", l->name,
                    l->rows, l->cols, tlm_prec_name((tlm_prec)l->prec), (double)l->gamma,
                    (double)l->sparsity, (double)l->grad_norm);
    if (l->linear >= 0)
        tlm__sess_linef(s, cmd, "ternary codes: -1 %llu (%.3f)  0 %llu (%.3f)  +1 %llu (%.3f); "
                        "flip rate %.5f", (unsigned long long)l->counts[0],
                        (double)l->counts[0] / (double)n, (unsigned long long)l->counts[1],
                        (double)l->counts[1] / (double)n, (unsigned long long)l->counts[2],
                        (double)l->counts[2] / (double)n, (double)l->flip_rate);
    tlm__sess_linef(s, cmd, "latent weights: min %.4g max %.4g mean %.4g std %.4g; histogram "
                    "(ternary zero band |w| < g/2 = %.4g):", (double)in->wmin, (double)in->wmax,
                    (double)in->wmean, (double)in->wstd, (double)l->gamma / 2);
    for (int b = 0; b < TLM_HIST_BINS; b++)
        top = in->bins[b] > top ? in->bins[b] : top;
    float width = (in->hi - in->lo) / TLM_HIST_BINS, half = l->gamma / 2;
    for (int b = 0; b < TLM_HIST_BINS; b++) {
        char bar[41];
        float b0 = in->lo + (float)b * width, b1 = in->lo + (float)(b + 1) * width;
        int len = (int)(in->bins[b] * 40 / top);
        /* bins inside the zero band (|w| < g/2) are drawn with '0', others with '#' */
        memset(bar, b0 >= -half && b1 <= half ? '0' : '#', (size_t)len);
        bar[len] = 0;
        const char *mark = "";
        if (l->linear >= 0 && b0 <= -half && -half < b1)
            mark = "  <- -g/2";
        else if (l->linear >= 0 && b0 <= half && half < b1)
            mark = "  <- +g/2";
        tlm__sess_linef(s, cmd, "  [%+9.4f, %+9.4f) %9llu %s%s", (double)b0, (double)b1,
                        (unsigned long long)in->bins[b], bar, mark);
    }
}

static int cmd_inspect(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    int row = tlm__stats_find(s, a->pos[0]);
    if (row < 0)
        return tlm_errf(err, "inspect: no layer '%s' (names like emb, L0.attn.q, L0.mlp.down, "
                        "head; 'layers' lists them)", a->pos[0]);
    tlm__sess_refresh(s);
    tlm_inspect in;
    tlm__stats_inspect(s, row, &in);
    const tlm_layer_snap *l = &s->work.layer[row];
    inspect_weights(s, cmd, l, &in);
    if (!in.have_act) {
        tlm__sess_linef(s, cmd, "activations: %s", l->linear < 0 && strcmp(l->name, "head")
                        ? "none (the input is token ids)" : "no forward pass yet");
        return 0;
    }
    int quantized = l->linear >= 0 && l->prec != TLM_PREC_FP32;
    tlm__sess_linef(s, cmd, "input activations of the last forward (%zux%zu): mean %.4g std "
                    "%.4g absmax %.4g; int8 quantizer: %.4f clipped (at +-127), %.4f rounded "
                    "to 0%s",
                    in.act_rows, in.act_cols, (double)in.amean, (double)in.astd,
                    (double)in.aabsmax, (double)in.clipped, (double)in.zeroed,
                    quantized ? "" : " (this layer does not quantize them)");
    return 0;
}

static int cmd_history(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    int64_t n = 10;
    if (a->npos && parse_i64("history", a->pos[0], 1, 100000, &n, err))
        return -1;
    tlm_hist_row *rows = tlm_calloc((size_t)n, sizeof *rows, err);
    if (!rows)
        return -1;
    size_t got = tlm_session_history(s, rows, (size_t)n);
    for (size_t i = 0; i < got; i++) {
        const tlm_hist_row *r = &rows[i];
        char val[40] = "-";
        if (!isnan(r->val_loss))
            snprintf(val, sizeof val, "%.9g", r->val_loss);
        tlm__sess_linef(s, cmd, "step %lld loss %.17g val %s lr %.6g grad %.6g flip %.6g "
                        "sparsity %.6g", (long long)r->step, r->train_loss, val, (double)r->lr,
                        (double)r->grad_norm, (double)r->flip_rate, (double)r->sparsity);
    }
    free(rows);
    return 0;
}

/* ---- gen ---- */

static int gen_option(tlm_sample_opts *o, const char *k, const char *v, tlm_err *err)
{
    int64_t x = 0;
    if (!strcmp(k, "n")) {
        if (parse_i64("gen n", v, 1, 1000000, &x, err))
            return -1;
        o->max_tokens = (int)x;
    } else if (!strcmp(k, "temp")) {
        return parse_f("gen temp", v, 0, 100, &o->temperature, err);
    } else if (!strcmp(k, "top_k")) {
        if (parse_i64("gen top_k", v, 0, INT_MAX, &x, err))
            return -1;
        o->top_k = (int)x;
    } else if (!strcmp(k, "top_p")) {
        if (parse_f("gen top_p", v, 0, 1, &o->top_p, err))
            return -1;
        if (!(o->top_p > 0))
            return tlm_errf(err, "gen top_p: must be above 0");
    } else if (!strcmp(k, "seed")) {
        if (parse_i64("gen seed", v, 0, INT64_MAX, &x, err))
            return -1;
        o->seed = (uint64_t)x;
    } else if (!strcmp(k, "penalty")) {
        return parse_f("gen penalty", v, 0.01, 100, &o->rep_penalty, err);
    } else if (!strcmp(k, "stop")) {
        o->stop = *v ? v : NULL;
    }
    return 0;
}

static int cmd_gen(tlm_session *s, uint64_t cmd, const tlm_console_words *a, tlm_err *err)
{
    tlm_sample_opts o;
    tlm_sample_opts_default(&o);
    for (int i = 0; i < a->nopt; i++)
        if (gen_option(&o, a->key[i], a->val[i], err))
            return -1;
    return tlm__op_gen(s, cmd, a->pos[0], &o, err);
}

/* ---- the table ---- */

static const tlm_console_cmd commands[] = {
    {"help", "[COMMAND]", "list the commands, or show one command's usage", NULL, 0, 1, NULL,
     cmd_help},
    {"status", "", "one line: state, step, loss, val loss, lr, tok/s, grad norm, saves, gens",
     NULL, 0, 0, NULL, cmd_status},
    {"pause", "", "stop training at the next step boundary", NULL, 0, 0, NULL, cmd_pause},
    {"resume", "", "train continuously (until pause or the end of the schedule)", NULL, 0, 0,
     NULL, cmd_resume},
    {"step", "[N]", "run exactly N training steps (default 1), then stay paused",
     "answered when the N steps are done; pause, resume or another step ends it early", 0, 1,
     NULL, cmd_step},
    {"save", "[PATH]", "write a checkpoint of the whole training state",
     "without PATH (or with a folder) writes step-NNNNNNNN.tlmc into the output folder and\n"
     "keeps the last keep_ckpts of them; training stops only for the copy, a writer\n"
     "thread writes the file (temp, fsync, rename); answered when it is on disk",
     0, 1, NULL, cmd_save},
    {"load", "PATH", "replace the training state by a checkpoint's (same architecture)",
     "the file is checked completely first: on any error the session is unchanged", 1, 1, NULL,
     cmd_load},
    {"eval", "", "validation loss and perplexity now", NULL, 0, 0, NULL, cmd_eval},
    {"set", "[KEY [VALUE]]", "show or change a training setting (from the next step)",
     "keys: lr warmup steps batch seed clip weight_decay beta1 beta2 adam_eps\n"
     "label_smoothing eval_every (eval_interval) eval_batches log_every save_every keep_ckpts\n"
     "also precision.PATTERN; seed reseeds the batch sampler; KEY=VALUE works too",
     0, 2, "*", cmd_set},
    {"layers", "", "table of every layer: shape, precision, sparsity, g, flip rate, grad norm",
     NULL, 0, 0, NULL, cmd_layers},
    {"inspect", "LAYER", "one layer: weight histogram, ternary codes, g, activations, grad norm",
     "LAYER: emb, head, L3.attn.q (q k v o), L3.mlp.down (gate up down)", 1, 1, NULL,
     cmd_inspect},
    {"precision", "PATTERN ternary|int8|fp32", "set the precision of linears from the next step",
     "PATTERN: all, a name (L3.attn.q), or a glob (L0-2.attn.*, *.mlp.down, L4.*)", 2, 2, NULL,
     cmd_precision},
    {"gen", "\"PROMPT\" [n=N] [temp=T] [top_k=K] [top_p=P] [seed=S] [stop=TEXT]",
     "sample text from a copy of the current weights (streams tokens)",
     "runs on its own thread; training goes on. penalty=R sets the repetition penalty", 1, 1,
     "n,temp,top_k,top_p,seed,stop,penalty", cmd_gen},
    {"history", "[N]", "the last N steps (default 10): loss, val, lr, grad, flip rate, sparsity",
     NULL, 0, 1, NULL, cmd_history},
    {"quit", "", "stop the engine (pending saves are finished first)", NULL, 0, 0, NULL,
     cmd_quit},
};

const tlm_console_cmd *tlm_console_commands(size_t *n)
{
    *n = sizeof commands / sizeof commands[0];
    return commands;
}
