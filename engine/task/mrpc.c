/* mrpc.c - MRPC pairs through libcsv in TSV mode without quoting. */
#include "mrpc.h"
#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MRPC_FIELDS = 5 };

typedef struct reader {
    const char *path;
    tlm_pairs *out;
    char *field[MRPC_FIELDS];
    size_t len[MRPC_FIELDS];
    int nf;          /* fields seen in the current row */
    long line;       /* 1-based line of the current row */
    int failed;
    tlm_err *err;
} reader;

static int no_space(unsigned char c)
{
    (void)c;
    return 0; /* keep every byte of a field: no trimming */
}

static void on_field(void *s, size_t len, void *ctx)
{
    reader *r = ctx;
    if (r->failed)
        return;
    if (r->nf < MRPC_FIELDS) {
        char *f = malloc(len + 1);
        if (!f) {
            r->failed = tlm_errf(r->err, "%s: out of memory", r->path);
            return;
        }
        memcpy(f, s, len);
        f[len] = 0;
        r->field[r->nf] = f;
        r->len[r->nf] = len;
    }
    r->nf++;
}

static void clear_fields(reader *r)
{
    for (int i = 0; i < MRPC_FIELDS && i < r->nf; i++)
        free(r->field[i]);
    memset(r->field, 0, sizeof r->field);
    r->nf = 0;
}

static int check_header(reader *r)
{
    const char *q = r->field[0];
    if (!strncmp(q, "\xEF\xBB\xBF", 3))
        q += 3;
    if (strcmp(q, "Quality") || strcmp(r->field[3], "#1 String") || strcmp(r->field[4], "#2 String"))
        return tlm_errf(r->err, "%s: line 1: not an MRPC header (want 'Quality<TAB>#1 ID<TAB>#2 "
                        "ID<TAB>#1 String<TAB>#2 String')", r->path);
    return 0;
}

static int add_pair(reader *r)
{
    const char *q = r->field[0];
    if (strcmp(q, "0") && strcmp(q, "1"))
        return tlm_errf(r->err, "%s: line %ld: label '%.20s' is not 0 or 1", r->path, r->line, q);
    tlm_pairs *p = r->out;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        tlm_pair *v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return tlm_errf(r->err, "%s: out of memory", r->path);
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n].label = q[0] - '0';
    p->v[p->n].s1 = r->field[3];
    p->v[p->n].s2 = r->field[4];
    r->field[3] = r->field[4] = NULL;
    p->n++;
    return 0;
}

static void on_row(int c, void *ctx)
{
    reader *r = ctx;
    (void)c;
    if (!r->failed) {
        if (r->nf != MRPC_FIELDS)
            r->failed = tlm_errf(r->err, "%s: line %ld: %d tab-separated fields, want %d", r->path,
                                 r->line, r->nf, MRPC_FIELDS);
        else if (r->line == 1)
            r->failed = check_header(r);
        else
            r->failed = add_pair(r);
    }
    clear_fields(r);
    r->line++;
}

/* Feed the file to libcsv one line at a time (so errors know their line). */
static int parse_file(FILE *f, struct csv_parser *p, reader *r)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    long line = 0;
    while (!r->failed && (n = getline(&buf, &cap, f)) > 0) {
        line++;
        if (memchr(buf, 0, (size_t)n)) {
            r->failed = tlm_errf(r->err, "%s: line %ld: NUL byte", r->path, line);
            break;
        }
        if (csv_parse(p, buf, (size_t)n, on_field, on_row, r) != (size_t)n && !r->failed)
            r->failed = tlm_errf(r->err, "%s: line %ld: %s", r->path, line,
                                 csv_strerror(csv_error(p)));
    }
    free(buf);
    if (!r->failed && ferror(f))
        r->failed = tlm_errf(r->err, "%s: read error: %s", r->path, strerror(errno));
    if (!r->failed)
        csv_fini(p, on_field, on_row, r);
    return r->failed ? -1 : 0;
}

int tlm_mrpc_load(const char *path, tlm_pairs *out, tlm_err *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return tlm_errf(err, "%s: %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_APPEND_NULL)) {
        fclose(f);
        return tlm_errf(err, "%s: cannot start the CSV parser", path);
    }
    csv_set_delim(&p, '\t');
    csv_set_quote(&p, '\0'); /* no quoting: NUL never reaches the parser (checked above) */
    csv_set_space_func(&p, no_space);
    reader r = {.path = path, .out = out, .line = 1, .err = err};
    int rc = parse_file(f, &p, &r);
    clear_fields(&r);
    csv_free(&p);
    fclose(f);
    if (rc == 0 && out->n == 0)
        rc = tlm_errf(err, "%s: no sentence pairs after the header", path);
    if (rc)
        tlm_pairs_free(out);
    return rc;
}

void tlm_pairs_free(tlm_pairs *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].s1);
        free(p->v[i].s2);
    }
    free(p->v);
    memset(p, 0, sizeof *p);
}

int tlm_pair_encode(const tlm_tokenizer *t, const char *s1, const char *s2, int max_len,
                    tlm_ids *out, tlm_err *err)
{
    if (max_len < 5)
        return tlm_errf(err, "pair encoding: max length %d is below 5", max_len);
    tlm_ids a = {0}, b = {0};
    int rc = -1;
    if (tlm_tokenizer_encode(t, s1, strlen(s1), 0, &a, err) ||
        tlm_tokenizer_encode(t, s2, strlen(s2), 0, &b, err))
        goto out;
    while (a.n + b.n + 3 > (size_t)max_len) {
        if (a.n > b.n)
            a.n--;
        else
            b.n--;
    }
    out->n = 0;
    int bos = tlm_tokenizer_bos(t), sep = tlm_tokenizer_eos(t);
    if (tlm_ids_push(out, bos, err))
        goto out;
    for (size_t i = 0; i < a.n; i++)
        if (tlm_ids_push(out, a.v[i], err))
            goto out;
    if (tlm_ids_push(out, sep, err))
        goto out;
    for (size_t i = 0; i < b.n; i++)
        if (tlm_ids_push(out, b.v[i], err))
            goto out;
    rc = tlm_ids_push(out, sep, err);
out:
    tlm_ids_free(&a);
    tlm_ids_free(&b);
    return rc;
}
