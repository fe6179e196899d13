/* console.h - the command language of the workbench. Every command is a row
 * of one table (name, argument synopsis, help, handler); `tlm repl`, the TUI
 * prompt and the tests all send the same lines to a session
 * (tlm_session_submit), and every answer comes back as text events.
 *
 * A line is words separated by blanks. A double-quoted part keeps blanks and
 * understands \" \\ \n \t; an unquoted word KEY=VALUE is an option; a word
 * starting with '#' begins a comment. Example:
 *     gen "Once upon a time" n=40 temp=0.8 top_k=40 seed=7 */
#ifndef TLM_CONSOLE_H
#define TLM_CONSOLE_H
#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"
#include "../session/session.h"

#define TLM_CONSOLE_MAX_WORDS 32
#define TLM_CONSOLE_LINE 8192

/* A command line split into words. */
typedef struct tlm_console_words {
    int n;                                   /* words, the command name first */
    const char *w[TLM_CONSOLE_MAX_WORDS];
    unsigned char quoted[TLM_CONSOLE_MAX_WORDS]; /* the word had a quoted part */
    int npos;                                /* positional arguments after the name */
    const char *pos[TLM_CONSOLE_MAX_WORDS];
    int nopt;                                /* KEY=VALUE options, in order */
    const char *key[TLM_CONSOLE_MAX_WORDS], *val[TLM_CONSOLE_MAX_WORDS];
    char buf[TLM_CONSOLE_LINE + 2 * TLM_CONSOLE_MAX_WORDS];
} tlm_console_words;

/* Split line into *out. An empty line or a comment gives n = 0. Errors: an
 * unterminated quote, more than TLM_CONSOLE_MAX_WORDS words, a line longer
 * than TLM_CONSOLE_LINE bytes, an option with an empty key. */
int tlm_console_split(const char *line, tlm_console_words *out, tlm_err *err);

/* Handler of a command, run on the session's engine thread: 0 done, 1 its
 * answer comes later (the session finishes it), -1 failed with err set. */
typedef int (*tlm_console_fn)(tlm_session *s, uint64_t cmd, const tlm_console_words *a,
                              tlm_err *err);

typedef struct tlm_console_cmd {
    const char *name;
    const char *args;    /* synopsis, e.g. "[N]", "PATTERN ternary|int8|fp32" */
    const char *help;    /* one line */
    const char *more;    /* further help lines separated by '\n' (may be NULL) */
    int min_pos, max_pos;/* positional argument counts */
    const char *opts;    /* option keys allowed, comma separated; "*" any; NULL none */
    tlm_console_fn fn;
} tlm_console_cmd;

/* The command table (*n rows). */
const tlm_console_cmd *tlm_console_commands(size_t *n);

/* The row named name; NULL when there is none. */
const tlm_console_cmd *tlm_console_find(const char *name);

/* Check a's arguments against c's row: positional counts and option keys.
 * The error names the command and shows its synopsis. */
int tlm_console_check(const tlm_console_cmd *c, const tlm_console_words *a, tlm_err *err);

/* Help as text lines: the command list (name NULL or "") or one command's
 * usage and details; -1 (err) for an unknown command. */
int tlm_console_help(const char *name, void (*line)(void *ctx, const char *text), void *ctx,
                     tlm_err *err);

/* Keys `set` changes during a run, NULL-terminated. */
const char *const *tlm_console_set_keys(void);

/* A list of strings (completion candidates). */
typedef struct tlm_strlist {
    char **v;
    size_t n, cap;
} tlm_strlist;

void tlm_strlist_free(tlm_strlist *l);

/* Completion: candidates for the word of line that ends at byte `point`:
 * command names for the first word; for arguments, by command: layer names
 * for inspect; "all", layer names and globs ("*.mlp.down", "L2.*") for
 * precision's pattern, then ternary/int8/fp32; setting keys for set; command
 * names for help; option keys ("n=", "temp=" ...) for gen. n_layers gives the
 * layer names (tlm_session_n_layers). *start gets the offset of that word.
 * Candidates are sorted and unique. Returns their number, -1 when out of
 * memory. */
int tlm_console_complete(const char *line, size_t point, int n_layers, tlm_strlist *out,
                         size_t *start);

#endif
