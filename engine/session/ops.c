/* ops.c - what the session's commands do to the engine, on the engine thread:
 * pause, resume, step N, save (copy here, write on the saver thread, keep the
 * last K), load, eval, set, precision, quit. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../core/timer.h"
#include "../io/datapath.h"
#include "session_int.h"

#define SAVES_MAX_PENDING 2

/* ---- pause, resume, step ---- */

/* End a pending `step N` early (its DONE says why). */
static void end_step_cmd(tlm_session *s, const char *why)
{
    if (!s->step_cmd)
        return;
    int64_t done = s->steps_asked - s->steps_left;
    tlm__sess_linef(s, s->step_cmd, "%s after %lld of %lld steps (step %lld)", why,
                    (long long)done, (long long)s->steps_asked, (long long)s->tr->step);
    tlm__sess_done(s, s->step_cmd, 0, NULL);
    s->step_cmd = 0;
    s->steps_left = 0;
}

static int schedule_over(const tlm_session *s, tlm_err *err)
{
    const tlm_trainer *tr = s->tr;
    if (tr->step < tr->cfg.steps)
        return 0;
    return tlm_errf(err, "the schedule is over (step %lld of steps = %d); 'set steps N' extends it",
                    (long long)tr->step, tr->cfg.steps);
}

int tlm__op_pause(tlm_session *s, uint64_t cmd, tlm_err *err)
{
    end_step_cmd(s, "paused");
    if (s->state == TLM_SESS_RUNNING)
        s->state = TLM_SESS_PAUSED;
    tlm__sess_linef(s, cmd, "paused at step %lld", (long long)s->tr->step);
    return 0;
}

int tlm__op_resume(tlm_session *s, uint64_t cmd, tlm_err *err)
{
    if (schedule_over(s, err))
        return tlm_err_prefix(err, "resume: ");
    end_step_cmd(s, "resumed");
    s->state = TLM_SESS_RUNNING;
    s->work.error[0] = 0;
    tlm__sess_linef(s, cmd, "running from step %lld", (long long)s->tr->step);
    return 0;
}

int tlm__op_step(tlm_session *s, uint64_t cmd, int64_t n, tlm_err *err)
{
    if (n < 1)
        return tlm_errf(err, "step: N must be at least 1");
    if (schedule_over(s, err))
        return tlm_err_prefix(err, "step: ");
    end_step_cmd(s, "superseded");
    s->state = TLM_SESS_PAUSED; /* runs n steps, then stays paused */
    s->work.error[0] = 0;
    s->steps_left = s->steps_asked = n;
    s->step_cmd = cmd;
    return 1;
}

/* ---- save ---- */

typedef struct save_job {
    sess_job base;
    tlm_ckpt ck;          /* private copy of the state */
    char path[4096];
    char prune_dir[4000]; /* "" when the file is not a numbered one */
    int keep;
} save_job;

static void free_save(save_job *j)
{
    free(j->ck.params);
    free(j->ck.m);
    free(j->ck.v);
    free(j->ck.history);
    free(j);
}

static void save_run(tlm_session *s, sess_job *base)
{
    save_job *j = (save_job *)base;
    tlm_err err;
    double t0 = tlm_now();
    if ((j->prune_dir[0] && tlm_mkdirs(j->prune_dir, &err)) ||
        tlm_ckpt_save(j->path, &j->ck, &err)) {
        if (base->cmd)
            tlm__sess_done(s, base->cmd, -1, err.msg);
        else
            tlm__sess_eventf(s, TLM_EV_ERROR, 0, "periodic save: %s", err.msg);
        free_save(j);
        return;
    }
    int pruned = j->prune_dir[0] ? tlm__prune_checkpoints(j->prune_dir, j->keep) : 0;
    char msg[TLM_EVENT_TEXT];
    snprintf(msg, sizeof msg, "saved %.400s (step %lld, %.1f MB, %.2f s%s)", j->path,
             (long long)j->ck.step, (double)j->ck.count * 12.0 / 1e6, tlm_now_since(t0),
             pruned ? ", older checkpoints pruned" : "");
    if (base->cmd) {
        tlm__sess_emit(s, TLM_EV_LINE, base->cmd, 0, msg);
        tlm__sess_done(s, base->cmd, 0, NULL);
    } else {
        tlm__sess_emit(s, TLM_EV_NOTE, 0, 0, msg);
    }
    free_save(j);
}

static void save_drop(tlm_session *s, sess_job *base)
{
    if (base->cmd)
        tlm__sess_done(s, base->cmd, -1, "save cancelled: the session stopped");
    free_save((save_job *)base);
}

/* Deep copy of the trainer's state. */
static int copy_state(const tlm_trainer *tr, tlm_ckpt *ck, tlm_err *err)
{
    tlm_ckpt view;
    tlm_trainer_snapshot(tr, &view);
    *ck = view;
    ck->params = tlm_calloc(view.count, sizeof(float), err);
    ck->m = tlm_calloc(view.count, sizeof(float), err);
    ck->v = tlm_calloc(view.count, sizeof(float), err);
    ck->history = view.history_n ? tlm_calloc(view.history_n, sizeof *ck->history, err) : NULL;
    if (!ck->params || !ck->m || !ck->v || (view.history_n && !ck->history))
        return -1;
    memcpy(ck->params, view.params, view.count * sizeof(float));
    memcpy(ck->m, view.m, view.count * sizeof(float));
    memcpy(ck->v, view.v, view.count * sizeof(float));
    if (view.history_n)
        memcpy(ck->history, view.history, view.history_n * sizeof *ck->history);
    return 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    size_t n = strlen(p);
    return (n && p[n - 1] == '/') || (stat(p, &st) == 0 && S_ISDIR(st.st_mode));
}

/* The file to write and the folder to prune ("" for none). */
static int save_target(const tlm_session *s, const char *path, save_job *j, tlm_err *err)
{
    const char *dir = path ? (is_dir(path) ? path : NULL) : s->out_dir;
    if (!path && !s->out_dir[0])
        return tlm_errf(err, "save: no output folder for numbered checkpoints; give a PATH "
                        "(or start the session with an output folder)");
    if (!dir) {
        if (strlen(path) >= sizeof j->path)
            return tlm_errf(err, "save: path too long");
        snprintf(j->path, sizeof j->path, "%s", path);
        return 0;
    }
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n + 32 >= sizeof j->path)
        return tlm_errf(err, "save: folder name too long");
    snprintf(j->prune_dir, sizeof j->prune_dir, "%.*s", (int)n, dir);
    snprintf(j->path, sizeof j->path, "%s/step-%08lld.tlmc", j->prune_dir,
             (long long)s->tr->step);
    j->keep = s->tr->cfg.keep_ckpts;
    return 0;
}

int tlm__op_save(tlm_session *s, uint64_t cmd, const char *path, tlm_err *err)
{
    if (atomic_load(&s->saver.pending) >= SAVES_MAX_PENDING)
        return tlm_errf(err, "save: %d checkpoints are already being written; try again when "
                        "one is done", SAVES_MAX_PENDING);
    save_job *j = tlm_calloc(1, sizeof *j, err);
    if (!j)
        return -1;
    j->base.cmd = cmd;
    j->base.run = save_run;
    j->base.drop = save_drop;
    if (save_target(s, path, j, err) || copy_state(s->tr, &j->ck, err)) {
        free_save(j);
        return -1;
    }
    if (tlm__worker_push(&s->saver, &j->base, SAVES_MAX_PENDING)) {
        free_save(j);
        return tlm_errf(err, "save: the checkpoint writer is busy or stopped");
    }
    return 1;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 for "step-<digits>.tlmc". */
static int numbered_name(const char *n)
{
    size_t len = strlen(n);
    if (strncmp(n, "step-", 5) || len <= 10 || strcmp(n + len - 5, ".tlmc"))
        return 0;
    for (size_t i = 5; i < len - 5; i++)
        if (n[i] < '0' || n[i] > '9')
            return 0;
    return 1;
}

int tlm__prune_checkpoints(const char *dir, int keep)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!numbered_name(e->d_name))
            continue;
        if (n == cap) {
            char **t = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *names);
            if (!t)
                break;
            names = t;
        }
        if (!(names[n] = strdup(e->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_name);
    int deleted = 0;
    for (size_t i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (keep >= 0 && i + (size_t)keep < n && unlink(path) == 0)
            deleted++;
        free(names[i]);
    }
    free(names);
    return deleted;
}

/* ---- load ---- */

/* The configuration a loaded checkpoint runs with: its own, but the session's
 * data, tokenizer and threads (the datasets already open). */
static void loaded_config(const tlm_config *cur, const tlm_config *ck, tlm_config *out)
{
    *out = *ck;
    memcpy(out->tokenizer, cur->tokenizer, sizeof out->tokenizer);
    memcpy(out->train_data, cur->train_data, sizeof out->train_data);
    memcpy(out->val_data, cur->val_data, sizeof out->val_data);
    out->threads = cur->threads;
}

int tlm__op_load(tlm_session *s, uint64_t cmd, const char *path, tlm_err *err)
{
    tlm_ckpt ck;
    if (tlm_ckpt_load(path, &ck, err))
        return -1;
    tlm_config old = s->tr->cfg, cfg;
    const tlm_config *b = &ck.cfg;
    if (b->dim != old.dim || b->n_layers != old.n_layers || b->n_heads != old.n_heads ||
        b->hidden != old.hidden || b->vocab != old.vocab) {
        tlm_errf(err, "load %s: checkpoint architecture (dim %d, layers %d, heads %d, hidden %d, "
                 "vocab %d) differs from the session's (dim %d, layers %d, heads %d, hidden %d, "
                 "vocab %d)", path, b->dim, b->n_layers, b->n_heads, b->hidden, b->vocab, old.dim,
                 old.n_layers, old.n_heads, old.hidden, old.vocab);
        tlm_ckpt_free(&ck);
        return -1;
    }
    loaded_config(&old, &ck.cfg, &cfg);
    /* the config first (atomic), then the restore (atomic); a failed restore
     * puts the old config back, which cannot fail (the room only grew) */
    int rc = tlm_trainer_reconfigure(s->tr, &cfg, err);
    if (!rc && (rc = tlm_trainer_restore(s->tr, &ck, err)) != 0)
        tlm_trainer_reconfigure(s->tr, &old, NULL);
    tlm_ckpt_free(&ck);
    if (rc)
        return tlm_err_prefix(err, "load %s: ", path);
    tlm__sess_reset_work(s);
    s->par_reload = 1; /* data parallelism: the next tick sends the loaded state */
    if (s->state == TLM_SESS_ERROR)
        s->state = TLM_SESS_PAUSED;
    tlm__sess_linef(s, cmd, "loaded %s: step %lld, %.0f tokens, %zu history rows", path,
                    (long long)s->tr->step, s->tr->tokens, s->tr->history_n);
    return 0;
}

/* ---- eval ---- */

int tlm__op_eval(tlm_session *s, uint64_t cmd, tlm_err *err)
{
    double nll;
    double t0 = tlm_now();
    if (tlm_trainer_eval(s->tr, &nll, NULL, err))
        return tlm_err_prefix(err, "eval: ");
    s->work.val_loss = nll;
    s->work.val_step = s->tr->step;
    tlm__sess_linef(s, cmd, "val_loss %.4f (perplexity %.2f) at step %lld on %s, %.2f s", nll,
                    exp(nll), (long long)s->tr->step,
                    s->tr->val ? "the validation set" : "the training set", tlm_now_since(t0));
    return 0;
}

/* ---- set and precision ---- */

void tlm__config_value(const tlm_config *c, const char *key, char *out, size_t n)
{
    char buf[16384];
    size_t len = tlm_config_serialize(c, buf, sizeof buf), klen = strlen(key);
    snprintf(out, n, "?");
    if (len >= sizeof buf)
        return;
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (!strncmp(line, key, klen) && line[klen] == '=') {
            const char *v = line + klen + 1;
            char *end;
            double x = strtod(v, &end);
            if (*v && !*end && strpbrk(v, ".eE")) /* a float key: 6 digits, not 9 */
                snprintf(out, n, "%.6g", x);
            else
                snprintf(out, n, "%s", v);
            return;
        }
        line = nl ? nl + 1 : NULL;
    }
}

static const char *key_alias(const char *key)
{
    if (!strcmp(key, "eval_interval") || !strcmp(key, "eval-interval") || !strcmp(key, "eval"))
        return "eval_every";
    if (!strcmp(key, "save_interval"))
        return "save_every";
    if (!strcmp(key, "keep"))
        return "keep_ckpts";
    return key;
}

int tlm__op_set(tlm_session *s, uint64_t cmd, const char *key, const char *value, tlm_err *err)
{
    key = key_alias(key);
    if (!strcmp(key, "preset") || !strcmp(key, "preset_name"))
        return tlm_errf(err, "set: the preset cannot change during a run");
    tlm_config c = s->tr->cfg;
    char before[640], after[640];
    tlm__config_value(&c, key, before, sizeof before);
    if (tlm_config_set(&c, key, value, err))
        return tlm_err_prefix(err, "set: ");
    if (tlm_trainer_reconfigure(s->tr, &c, err))
        return tlm_err_prefix(err, "set: ");
    if (!strcmp(key, "seed"))
        tlm_trainer_reseed(s->tr, c.seed);
    if (!strncmp(key, "precision", 9)) {
        tlm__stats_weights(s, TLM__FLIPS_KEEP);
        tlm__sess_linef(s, cmd, "%s = %s (from step %lld)", key, value,
                        (long long)s->tr->step + 1);
        return 0;
    }
    tlm__config_value(&s->tr->cfg, key, after, sizeof after);
    tlm__sess_linef(s, cmd, "%s = %s (was %s)%s", key, after, before,
                    !strcmp(key, "seed") ? "; batch sampler reseeded" : "");
    return 0;
}

int tlm__op_precision(tlm_session *s, uint64_t cmd, const char *pattern, const char *prec,
                      tlm_err *err)
{
    int p = tlm_prec_parse(prec);
    if (p < 0)
        return tlm_errf(err, "precision: '%s' is not ternary, int8 or fp32", prec);
    tlm_config c = s->tr->cfg, probe = s->tr->cfg;
    int n = tlm_config_set_precision(&c, pattern, (tlm_prec)p, err);
    if (n < 0)
        return tlm_err_prefix(err, "precision: ");
    if (tlm_trainer_reconfigure(s->tr, &c, err))
        return tlm_err_prefix(err, "precision: ");
    tlm__stats_weights(s, TLM__FLIPS_KEEP);
    memset(probe.prec, 0xff, sizeof probe.prec); /* marks which linears the pattern matched */
    tlm_config_set_precision(&probe, pattern, (tlm_prec)p, NULL);
    char names[TLM_EVENT_TEXT] = "";
    size_t used = 0;
    int shown = 0;
    for (int i = 0; i < s->work.n_rows && used + 40 < sizeof names; i++) {
        const tlm_layer_snap *l = &s->work.layer[i];
        if (l->linear < 0 || probe.prec[l->linear] == 0xff)
            continue;
        if (shown++ < 6)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                     shown > 1 ? " " : "", l->name);
    }
    tlm__sess_linef(s, cmd, "%d linear%s -> %s from step %lld: %s%s", n, n == 1 ? "" : "s",
                    tlm_prec_name((tlm_prec)p), (long long)s->tr->step + 1, names,
                    shown > 6 ? " ..." : "");
    return 0;
}

/* ---- quit ---- */

int tlm__op_quit(tlm_session *s, uint64_t cmd, tlm_err *err)
{
    s->quit = 1;
    return 1; /* answered once the workers are done */
}
