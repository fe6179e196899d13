/* console.c - the command language: splitting lines into words, argument
 * checks and help from the table, completion, and the dispatch the engine
 * thread runs (the table and the handlers are in commands.c). */
#include "console.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../session/session_int.h"

/* ---- splitting ---- */

/* One escaped character after a backslash inside quotes. */
static char unescape(char c)
{
    return c == 'n' ? '\n' : c == 't' ? '\t' : c;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

typedef struct splitter {
    const char *p;      /* input */
    char *o, *end;      /* output */
    tlm_console_words *a;
    tlm_err *err;
} splitter;

/* Scan one word at sp->p into the output; *quoted and *eq (offset of the
 * option's '=' from the word start, -1 when none) describe it. */
static int scan_word(splitter *sp, int *quoted, long *eq)
{
    char *start = sp->o;
    *quoted = 0;
    *eq = -1;
    while (*sp->p && !is_blank(*sp->p)) {
        char c = *sp->p++;
        if (c == '"') {
            *quoted = 1;
            while (*sp->p && *sp->p != '"') {
                c = *sp->p++;
                if (c == '\\' && *sp->p)
                    c = unescape(*sp->p++);
                *sp->o++ = c;
            }
            if (*sp->p != '"')
                return tlm_errf(sp->err, "unterminated \" quote");
            sp->p++;
            continue;
        }
        if (c == '=' && *eq < 0 && !*quoted)
            *eq = sp->o - start;
        *sp->o++ = c;
    }
    *sp->o++ = 0;
    return 0;
}

static int add_word(tlm_console_words *a, char *w, int quoted, long eq, tlm_err *err)
{
    if (a->n == TLM_CONSOLE_MAX_WORDS)
        return tlm_errf(err, "too many words (at most %d)", TLM_CONSOLE_MAX_WORDS);
    a->w[a->n] = w;
    a->quoted[a->n] = (unsigned char)quoted;
    if (a->n++ == 0)
        return 0;
    if (eq < 0) {
        a->pos[a->npos++] = w;
        return 0;
    }
    if (eq == 0)
        return tlm_errf(err, "option '%s' has no name before '='", w);
    w[eq] = 0;
    a->key[a->nopt] = w;
    a->val[a->nopt++] = w + eq + 1;
    return 0;
}

int tlm_console_split(const char *line, tlm_console_words *out, tlm_err *err)
{
    memset(out, 0, offsetof(tlm_console_words, buf));
    out->buf[0] = 0;
    if (strlen(line) > TLM_CONSOLE_LINE)
        return tlm_errf(err, "line longer than %d bytes", TLM_CONSOLE_LINE);
    splitter sp = {line, out->buf, out->buf + sizeof out->buf, out, err};
    for (;;) {
        while (is_blank(*sp.p))
            sp.p++;
        if (!*sp.p || *sp.p == '#')
            return 0;
        char *w = sp.o;
        int quoted;
        long eq;
        if (scan_word(&sp, &quoted, &eq) || add_word(out, w, quoted, eq, err)) {
            out->n = out->npos = out->nopt = 0;
            return -1;
        }
    }
}

/* ---- table lookups, checks, help ---- */

const tlm_console_cmd *tlm_console_find(const char *name)
{
    size_t n;
    const tlm_console_cmd *t = tlm_console_commands(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name))
            return &t[i];
    return NULL;
}

/* 1 when key is in the comma-separated list. */
static int key_allowed(const char *list, const char *key)
{
    if (!list)
        return 0;
    if (!strcmp(list, "*"))
        return 1;
    size_t k = strlen(key);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == k && !strncmp(p, key, k))
            return 1;
        p += len + (e ? 1 : 0);
    }
    return 0;
}

int tlm_console_check(const tlm_console_cmd *c, const tlm_console_words *a, tlm_err *err)
{
    if (a->npos < c->min_pos)
        return tlm_errf(err, "%s: missing argument (usage: %s %s)", c->name, c->name, c->args);
    if (a->npos > c->max_pos)
        return tlm_errf(err, "%s: too many arguments (usage: %s%s%s)", c->name, c->name,
                        c->args[0] ? " " : "", c->args);
    for (int i = 0; i < a->nopt; i++) {
        if (key_allowed(c->opts, a->key[i]))
            continue;
        if (!c->opts)
            return tlm_errf(err, "%s: takes no KEY=VALUE options ('%s=...'); quote an argument "
                            "that contains '='", c->name, a->key[i]);
        return tlm_errf(err, "%s: unknown option '%s' (options: %s)", c->name, a->key[i], c->opts);
    }
    return 0;
}

int tlm_console_help(const char *name, void (*line)(void *ctx, const char *text), void *ctx,
                     tlm_err *err)
{
    char buf[1024];
    size_t n;
    const tlm_console_cmd *t = tlm_console_commands(&n);
    if (!name || !*name) {
        line(ctx, "commands (help COMMAND for details):");
        for (size_t i = 0; i < n; i++) {
            char syn[128];
            snprintf(syn, sizeof syn, "%s %s", t[i].name, t[i].args);
            snprintf(buf, sizeof buf, "  %-34s %s", syn, t[i].help);
            line(ctx, buf);
        }
        return 0;
    }
    const tlm_console_cmd *c = tlm_console_find(name);
    if (!c)
        return tlm_errf(err, "help: no command '%s' (try 'help')", name);
    snprintf(buf, sizeof buf, "usage: %s%s%s", c->name, c->args[0] ? " " : "", c->args);
    line(ctx, buf);
    snprintf(buf, sizeof buf, "  %s", c->help);
    line(ctx, buf);
    for (const char *p = c->more; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        snprintf(buf, sizeof buf, "  %.*s", (int)len, p);
        line(ctx, buf);
        p += len + (e ? 1 : 0);
    }
    return 0;
}

/* ---- completion ---- */

void tlm_strlist_free(tlm_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Add s when it starts with prefix; -1 when out of memory. */
static int offer(tlm_strlist *l, const char *prefix, const char *s)
{
    if (strncmp(s, prefix, strlen(prefix)))
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s)))
        return -1;
    l->n++;
    return 0;
}

static int offer_layers(tlm_strlist *l, const char *prefix, int n_layers, int linears_only)
{
    int bad = 0;
    if (!linears_only)
        bad |= offer(l, prefix, "emb") | offer(l, prefix, "head");
    for (int i = 0; i < n_layers && !bad; i++)
        for (int j = 0; j < TLM_LIN_PER_BLOCK; j++) {
            char name[32];
            tlm_linear_name(i, j, name, sizeof name);
            bad |= offer(l, prefix, name);
        }
    return bad ? -1 : 0;
}

static int offer_patterns(tlm_strlist *l, const char *prefix, int n_layers)
{
    static const char *const globs[] = {"all", "*.attn.*", "*.mlp.*", "*.attn.q", "*.attn.k",
                                        "*.attn.v", "*.attn.o", "*.mlp.gate", "*.mlp.up",
                                        "*.mlp.down"};
    int bad = 0;
    for (size_t i = 0; i < sizeof globs / sizeof globs[0]; i++)
        bad |= offer(l, prefix, globs[i]);
    for (int i = 0; i < n_layers && !bad; i++) {
        char name[32];
        snprintf(name, sizeof name, "L%d.*", i);
        bad |= offer(l, prefix, name);
    }
    return bad ? -1 : offer_layers(l, prefix, n_layers, 1);
}

/* Candidates for argument number argi (1-based) of command c. */
static int offer_args(tlm_strlist *l, const tlm_console_cmd *c, int argi, const char *prefix,
                      int n_layers)
{
    int bad = 0;
    if (!strcmp(c->name, "inspect") && argi == 1)
        return offer_layers(l, prefix, n_layers, 0);
    if (!strcmp(c->name, "precision"))
        return argi == 1 ? offer_patterns(l, prefix, n_layers)
               : argi == 2 ? offer(l, prefix, "ternary") | offer(l, prefix, "int8") |
                                 offer(l, prefix, "fp32")
                           : 0;
    if (!strcmp(c->name, "set") && argi == 1) {
        for (const char *const *k = tlm_console_set_keys(); *k && !bad; k++)
            bad |= offer(l, prefix, *k);
        return bad ? -1 : 0;
    }
    if (!strcmp(c->name, "help") && argi == 1) {
        size_t n;
        const tlm_console_cmd *t = tlm_console_commands(&n);
        for (size_t i = 0; i < n && !bad; i++)
            bad |= offer(l, prefix, t[i].name);
        return bad ? -1 : 0;
    }
    if (c->opts && strcmp(c->opts, "*") && argi > 1) {
        char key[64];
        for (const char *p = c->opts; *p && !bad;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            snprintf(key, sizeof key, "%.*s=", (int)len, p);
            bad |= offer(l, prefix, key);
            p += len + (e ? 1 : 0);
        }
    }
    return bad ? -1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_unique(tlm_strlist *l)
{
    if (l->n < 2)
        return;
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (k && !strcmp(l->v[k - 1], l->v[i]))
            free(l->v[i]);
        else
            l->v[k++] = l->v[i];
    }
    l->n = k;
}

int tlm_console_complete(const char *line, size_t point, int n_layers, tlm_strlist *out,
                         size_t *start)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(line);
    if (point > len)
        point = len;
    size_t ws = point;
    while (ws > 0 && !is_blank(line[ws - 1]))
        ws--;
    *start = ws;
    char prefix[256], first[64] = "";
    snprintf(prefix, sizeof prefix, "%.*s", (int)(point - ws), line + ws);
    int argi = 0;
    for (size_t i = 0; i < ws;) { /* count the words before this one */
        while (i < ws && is_blank(line[i]))
            i++;
        size_t b = i;
        while (i < ws && !is_blank(line[i]))
            i++;
        if (i > b) {
            if (argi == 0)
                snprintf(first, sizeof first, "%.*s", (int)(i - b), line + b);
            argi++;
        }
    }
    int rc = 0;
    if (argi == 0) {
        size_t n;
        const tlm_console_cmd *t = tlm_console_commands(&n);
        for (size_t i = 0; i < n && !rc; i++)
            rc = offer(out, prefix, t[i].name);
    } else {
        const tlm_console_cmd *c = tlm_console_find(first);
        if (c)
            rc = offer_args(out, c, argi, prefix, n_layers);
    }
    if (rc) {
        tlm_strlist_free(out);
        return -1;
    }
    sort_unique(out);
    return (int)out->n;
}

/* ---- dispatch (engine thread) ---- */

/* "did you mean" for an unknown command: the single command it prefixes. */
static const char *suggest(const char *name)
{
    size_t n, len = strlen(name);
    const tlm_console_cmd *t = tlm_console_commands(&n), *hit = NULL;
    for (size_t i = 0; i < n && len; i++)
        if (!strncmp(t[i].name, name, len)) {
            if (hit)
                return NULL;
            hit = &t[i];
        }
    return hit ? hit->name : NULL;
}

int tlm_console_exec(tlm_session *s, uint64_t cmd, const char *line, tlm_err *err)
{
    tlm_console_words *a = malloc(sizeof *a);
    int rc = -1;
    if (!a) {
        tlm_errf(err, "out of memory");
    } else if (tlm_console_split(line, a, err) == 0) {
        const tlm_console_cmd *c = a->n ? tlm_console_find(a->w[0]) : NULL;
        const char *hint = a->n && !c ? suggest(a->w[0]) : NULL;
        if (a->n == 0)
            rc = 0;
        else if (!c && hint)
            tlm_errf(err, "unknown command '%s' (did you mean '%s'? 'help' lists them)", a->w[0],
                     hint);
        else if (!c)
            tlm_errf(err, "unknown command '%s' ('help' lists them)", a->w[0]);
        else if (tlm_console_check(c, a, err) == 0)
            rc = c->fn(s, cmd, a, err);
    }
    free(a);
    return rc;
}
