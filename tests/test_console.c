/* test_console.c - the command language without an engine: splitting lines
 * (quotes, escapes, options, comments), the table's argument checks, help and
 * completion. */
#include <string.h>
#include "engine/console/console.h"
#include "tests/tap.h"

static tlm_console_words w;

static void test_split(void)
{
    tlm_err e = {{0}};
    int rc = tlm_console_split("gen \"Once upon a time\" n=40 temp=0.8", &w, &e);
    ok(rc == 0 && w.n == 4 && !strcmp(w.w[0], "gen") && w.npos == 1 &&
           !strcmp(w.pos[0], "Once upon a time") && w.quoted[1] && w.nopt == 2 &&
           !strcmp(w.key[0], "n") && !strcmp(w.val[0], "40") && !strcmp(w.key[1], "temp") &&
           !strcmp(w.val[1], "0.8"),
       "split: quoted prompt and two options");
    rc = tlm_console_split("  gen \"say \\\"hi\\\"\\n\\\\ x\"  ", &w, &e);
    ok(rc == 0 && w.npos == 1 && !strcmp(w.pos[0], "say \"hi\"\n\\ x"),
       "split: escapes \\\" \\n \\\\ inside quotes");
    ok(tlm_console_split("", &w, &e) == 0 && w.n == 0, "split: empty line has no words");
    ok(tlm_console_split("   # a comment", &w, &e) == 0 && w.n == 0, "split: comment line");
    ok(tlm_console_split("step 5 # five", &w, &e) == 0 && w.n == 2 && !strcmp(w.pos[0], "5"),
       "split: trailing comment dropped");
    ok(tlm_console_split("gen \"a=b\"", &w, &e) == 0 && w.npos == 1 && w.nopt == 0 &&
           !strcmp(w.pos[0], "a=b"),
       "split: a quoted '=' stays an argument");
    ok(tlm_console_split("gen x stop=\"The end\"", &w, &e) == 0 && w.nopt == 1 &&
           !strcmp(w.key[0], "stop") && !strcmp(w.val[0], "The end"),
       "split: option with a quoted value");
    ok(tlm_console_split("precision L0-2.attn.* fp32", &w, &e) == 0 && w.npos == 2 &&
           !strcmp(w.pos[0], "L0-2.attn.*"),
       "split: glob patterns are plain words");
    rc = tlm_console_split("gen \"open", &w, &e);
    ok(rc == -1 && strstr(e.msg, "unterminated"), "split: unterminated quote: %s", e.msg);
    char many[400] = "step";
    for (int i = 0; i < 40; i++)
        strcat(many, " x");
    rc = tlm_console_split(many, &w, &e);
    ok(rc == -1 && strstr(e.msg, "too many words"), "split: too many words: %s", e.msg);
    rc = tlm_console_split("set =3", &w, &e);
    ok(rc == -1 && strstr(e.msg, "no name"), "split: option without a key: %s", e.msg);
    char *huge = malloc(TLM_CONSOLE_LINE + 10);
    memset(huge, 'a', TLM_CONSOLE_LINE + 9);
    huge[TLM_CONSOLE_LINE + 9] = 0;
    rc = tlm_console_split(huge, &w, &e);
    ok(rc == -1 && strstr(e.msg, "longer"), "split: overlong line: %s", e.msg);
    free(huge);
}

static int check_line(const char *line, tlm_err *e)
{
    if (tlm_console_split(line, &w, e))
        return -1;
    const tlm_console_cmd *c = tlm_console_find(w.w[0]);
    if (!c)
        return -2;
    return tlm_console_check(c, &w, e);
}

static void test_table(void)
{
    static const char *const need[] = {"status", "pause", "resume", "step",    "save",
                                       "load",   "eval",  "set",    "layers",  "inspect",
                                       "precision", "gen", "help",  "quit",    "history"};
    int all = 1;
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        const tlm_console_cmd *c = tlm_console_find(need[i]);
        all &= c && c->fn && c->help && c->help[0] && c->args;
    }
    ok(all, "table: every command of the issue has a row with help and a handler");
    ok(tlm_console_find("frobnicate") == NULL, "table: unknown name not found");
    tlm_err e = {{0}};
    ok(check_line("step 5", &e) == 0, "check: step 5");
    ok(check_line("step", &e) == 0, "check: step without N");
    ok(check_line("step 1 2", &e) == -1 && strstr(e.msg, "too many") && strstr(e.msg, "[N]"),
       "check: step 1 2: %s", e.msg);
    ok(check_line("inspect", &e) == -1 && strstr(e.msg, "missing") && strstr(e.msg, "LAYER"),
       "check: inspect without a layer: %s", e.msg);
    ok(check_line("precision all", &e) == -1 && strstr(e.msg, "missing"),
       "check: precision needs two arguments: %s", e.msg);
    ok(check_line("layers x=1", &e) == -1 && strstr(e.msg, "no KEY=VALUE"),
       "check: options refused where none exist: %s", e.msg);
    ok(check_line("gen \"x\" foo=1", &e) == -1 && strstr(e.msg, "unknown option 'foo'"),
       "check: unknown gen option: %s", e.msg);
    ok(check_line("gen \"x\" n=3 temp=0 top_k=5 top_p=0.9 seed=2 stop=x", &e) == 0,
       "check: all gen options");
    ok(check_line("set lr=0.1", &e) == 0 && check_line("set lr 0.1", &e) == 0,
       "check: set KEY=VALUE and set KEY VALUE");
}

typedef struct lines {
    int n;
    char text[64][160];
} lines;

static void collect(void *ctx, const char *text)
{
    lines *l = ctx;
    if (l->n < 64)
        snprintf(l->text[l->n++], sizeof l->text[0], "%s", text);
}

static int any_has(const lines *l, const char *s)
{
    for (int i = 0; i < l->n; i++)
        if (strstr(l->text[i], s))
            return 1;
    return 0;
}

static void test_help(void)
{
    lines l = {0};
    tlm_err e = {{0}};
    size_t n;
    tlm_console_commands(&n);
    int rc = tlm_console_help(NULL, collect, &l, &e);
    ok(rc == 0 && l.n == (int)n + 1 && any_has(&l, "precision PATTERN") && any_has(&l, "quit"),
       "help: one line per command (%d lines)", l.n);
    memset(&l, 0, sizeof l);
    rc = tlm_console_help("step", collect, &l, &e);
    ok(rc == 0 && l.n >= 2 && !strcmp(l.text[0], "usage: step [N]"), "help step: %s", l.text[0]);
    rc = tlm_console_help("nope", collect, &l, &e);
    ok(rc == -1 && strstr(e.msg, "nope"), "help of an unknown command: %s", e.msg);
}

/* Complete line at its end; 1 when the candidates are exactly want (sorted). */
static int completes(const char *line, const char *const *want, size_t want_start)
{
    tlm_strlist l;
    size_t start;
    int n = tlm_console_complete(line, strlen(line), 2, &l, &start);
    int same = n >= 0 && start == want_start;
    size_t k = 0;
    for (; want[k]; k++)
        same &= k < l.n && !strcmp(l.v[k], want[k]);
    same &= k == l.n;
    if (!same) {
        printf("# completing '%s': %d candidates, start %zu:", line, n, start);
        for (size_t i = 0; i < l.n; i++)
            printf(" %s", l.v[i]);
        printf("\n");
    }
    tlm_strlist_free(&l);
    return same;
}

static void test_complete(void)
{
    const char *const c1[] = {"status", "step", NULL};
    ok(completes("st", c1, 0), "complete: command names");
    const char *const c2[] = {"L1.mlp.down", "L1.mlp.gate", "L1.mlp.up", NULL};
    ok(completes("inspect L1.m", c2, 8), "complete: layer names for inspect");
    const char *const c3[] = {"emb", NULL};
    ok(completes("inspect e", c3, 8), "complete: emb");
    const char *const c4[] = {"*.mlp.*", "*.mlp.down", "*.mlp.gate", "*.mlp.up", NULL};
    ok(completes("precision *.m", c4, 10), "complete: precision globs");
    const char *const c5[] = {"fp32", NULL};
    ok(completes("precision all f", c5, 14), "complete: precisions");
    const char *const c6[] = {"label_smoothing", "log_every", "lr", NULL};
    ok(completes("set l", c6, 4), "complete: setting keys");
    const char *const c7[] = {"quit", NULL};
    ok(completes("help q", c7, 5), "complete: help's command names");
    const char *const c8[] = {"temp=", "top_k=", "top_p=", NULL};
    ok(completes("gen \"x\" t", c8, 8), "complete: gen options");
    const char *const none[] = {NULL};
    ok(completes("layers x", none, 7), "complete: nothing after layers");
    tlm_strlist l;
    size_t start;
    int n = tlm_console_complete("", 0, 2, &l, &start);
    size_t nc;
    tlm_console_commands(&nc);
    ok(n == (int)nc && start == 0, "complete: empty line offers every command (%d)", n);
    tlm_strlist_free(&l);
    n = tlm_console_complete("inspect ", 8, 2, &l, &start);
    ok(n == 2 + 2 * 7, "complete: all layer names of a 2-layer model (%d)", n);
    tlm_strlist_free(&l);
}

int main(void)
{
    test_split();
    test_table();
    test_help();
    test_complete();
    return tap_done();
}
