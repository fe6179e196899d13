/* check.c - the start check: before the first step every rank compares what
 * it is about to train with rank 0's (configuration but threads, tokenizer,
 * data, training state, program version); a mismatch or a rank that failed
 * to start stops every rank with one message naming the rank and the key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dist_int.h"

#define CFG_TEXT 32768
#define VERDICT 480

typedef struct fingerprint {
    int32_t failed;          /* this rank could not start */
    char error[VERDICT];     /* why */
    char version[32];
    uint64_t tok_hash;
    uint64_t train_n, val_n; /* tokens */
    uint32_t train_crc, val_crc;
    int64_t step;
    double tokens;
    tlm_rng data_rng;
    uint64_t count;          /* parameters */
    uint32_t state_crc;      /* weights and AdamW moments */
} fingerprint;

static uint32_t data_crc(const tlm_dataset *ds, uint64_t *n)
{
    *n = ds ? tlm_dataset_size(ds) : 0;
    return ds ? tlm__dist_crc(0, tlm_dataset_tokens(ds), *n * sizeof(int32_t)) : 0;
}

static void take_fingerprint(const tlm_trainer *tr, const char *local_error, fingerprint *f,
                             char *cfg, size_t cfg_n)
{
    memset(f, 0, sizeof *f);
    snprintf(f->version, sizeof f->version, "%s", TLM_VERSION);
    cfg[0] = 0;
    if (!tr) {
        f->failed = 1;
        snprintf(f->error, sizeof f->error, "%s", local_error ? local_error : "failed to start");
        return;
    }
    if (tlm_config_serialize(&tr->cfg, cfg, cfg_n) >= cfg_n)
        cfg[0] = 0;
    f->tok_hash = tlm_tokenizer_hash(tr->tok);
    f->train_crc = data_crc(tr->train, &f->train_n);
    f->val_crc = data_crc(tr->val, &f->val_n);
    f->step = tr->step;
    f->tokens = tr->tokens;
    f->data_rng = tr->data_rng;
    f->count = tr->model->p.count;
    size_t bytes = f->count * sizeof(float);
    f->state_crc = tlm__dist_crc(tlm__dist_crc(tlm__dist_crc(0, tr->model->p.mem, bytes), tr->m,
                                               bytes), tr->v, bytes);
}

/* The next "key=value" line of *p (cut at the newline); NULL at the end. */
static char *next_line(char **p)
{
    if (!*p || !**p)
        return NULL;
    char *l = *p, *nl = strchr(l, '\n');
    if (nl)
        *nl = 0;
    *p = nl ? nl + 1 : NULL;
    return l;
}

/* The value of a "key=value" line as a person writes it (floats to 6
 * digits, as `set` shows them); "(none)" for no line. */
static void show_value(const char *line, char *out, size_t n)
{
    const char *v = line ? strchr(line, '=') : NULL;
    if (!v) {
        snprintf(out, n, "(none)");
        return;
    }
    v++;
    char *end;
    double x = strtod(v, &end);
    if (*v && !*end && strpbrk(v, ".eE"))
        snprintf(out, n, "%.6g", x);
    else
        snprintf(out, n, "%.150s", v);
}

/* First configuration key (threads aside) whose line differs; 0 when none. */
static int config_verdict(char *mine, char *ref, int rank, char *out, size_t n)
{
    for (;;) {
        char *a = next_line(&mine), *b = next_line(&ref);
        while (a && !strncmp(a, "threads=", 8))
            a = next_line(&mine);
        while (b && !strncmp(b, "threads=", 8))
            b = next_line(&ref);
        if (!a && !b)
            return 0;
        if (a && b && !strcmp(a, b))
            continue;
        const char *line = a ? a : b, *eq = strchr(line, '=');
        int klen = eq ? (int)(eq - line) : (int)strlen(line);
        char va[160], vb[160];
        show_value(a, va, sizeof va);
        show_value(b, vb, sizeof vb);
        snprintf(out, n, "config key '%.*s' is %s on rank %d but %s on rank 0", klen, line, va,
                 rank, vb);
        return 1;
    }
}

/* What rank `rank` (fingerprint m, config text mc) disagrees on with rank 0
 * (r, rc); "" when nothing. */
static void verdict(const fingerprint *m, char *mc, const fingerprint *r, char *rc, int rank,
                    char *out, size_t n)
{
    out[0] = 0;
    if (m->failed) {
        snprintf(out, n, "rank %d could not start: %.400s", rank, m->error);
    } else if (r->failed) {
        return; /* rank 0 reports its own failure */
    } else if (strcmp(m->version, r->version)) {
        snprintf(out, n, "rank %d runs tlm %s but rank 0 runs %s", rank, m->version, r->version);
    } else if (config_verdict(mc, rc, rank, out, n)) {
        return;
    } else if (m->tok_hash != r->tok_hash) {
        snprintf(out, n, "the tokenizer file differs on rank %d from rank 0's (hash %016llx vs "
                 "%016llx)", rank, (unsigned long long)m->tok_hash,
                 (unsigned long long)r->tok_hash);
    } else if (m->train_n != r->train_n || m->train_crc != r->train_crc) {
        snprintf(out, n, "the training data differs on rank %d from rank 0's (%llu tokens, crc "
                 "%08x vs %llu tokens, crc %08x): every host needs the same files",
                 rank, (unsigned long long)m->train_n, m->train_crc,
                 (unsigned long long)r->train_n, r->train_crc);
    } else if (m->val_n != r->val_n || m->val_crc != r->val_crc) {
        snprintf(out, n, "the validation data differs on rank %d from rank 0's (%llu tokens, crc "
                 "%08x vs %llu tokens, crc %08x)", rank, (unsigned long long)m->val_n, m->val_crc,
                 (unsigned long long)r->val_n, r->val_crc);
    } else if (m->count != r->count || m->step != r->step || m->tokens != r->tokens ||
               memcmp(&m->data_rng, &r->data_rng, sizeof m->data_rng) ||
               m->state_crc != r->state_crc) {
        snprintf(out, n, "the training state differs on rank %d from rank 0's (step %lld, "
                 "weights crc %08x vs step %lld, crc %08x): resume every rank from the same "
                 "checkpoint", rank, (long long)m->step, m->state_crc, (long long)r->step,
                 r->state_crc);
    }
}

int tlm_dist_start(tlm_dist *d, tlm_trainer *tr, const char *local_error, tlm_err *err)
{
    double timeout = d->timeout > 600 ? d->timeout : 600; /* data caches may be built first */
    fingerprint mine, ref;
    char *buf = malloc(3 * CFG_TEXT + (size_t)d->size * VERDICT);
    d->started = 1;
    if (!buf)
        return tlm_errf(err, "out of memory for the start check");
    char *mc = buf, *rc = buf + CFG_TEXT, *mine_v = buf + 2 * CFG_TEXT;
    char *all = buf + 3 * CFG_TEXT;
    take_fingerprint(tr, local_error, &mine, mc, CFG_TEXT);
    ref = mine;
    memcpy(rc, mc, CFG_TEXT);
    int st = tlm__dist_bcast(d, &ref, sizeof ref, timeout, "the start check", err) ||
             tlm__dist_bcast(d, rc, CFG_TEXT, timeout, "the start check", err);
    if (!st) {
        verdict(&mine, mc, &ref, rc, d->rank, mine_v, VERDICT);
        MPI_Request r;
        int e = MPI_Iallgather(mine_v, VERDICT, MPI_CHAR, all, VERDICT, MPI_CHAR, d->comm, &r);
        st = e != MPI_SUCCESS ? tlm__dist_fail(d, e, "the start check", err)
                              : tlm__dist_wait(d, &r, timeout, "the start check", err);
    }
    if (!st) {
        for (int i = 0; i < d->size && !st; i++)
            if (all[(size_t)i * VERDICT])
                st = tlm_errf(err, "%.*s", VERDICT, all + (size_t)i * VERDICT);
        if (!st && ref.failed)
            st = tlm_errf(err, "rank 0 could not start: %s", ref.error);
        if (!st && tr)
            tlm__dist_hook(d, tr);
    }
    free(buf);
    return st ? -1 : 0;
}
