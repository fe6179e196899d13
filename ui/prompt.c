/* prompt.c - readline's callback interface redirected into a curses row. */
#include "prompt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <readline/history.h>
#include <readline/readline.h>
#include "../engine/console/console.h"
#include "draw.h"
#include "outbuf.h"

#define QUEUE 256
#define HISTORY_MAX 1000

static struct {
    ui_prompt_hooks hooks;
    char prompt[64];
    char history[4096];
    int n_layers;
    unsigned char q[QUEUE]; /* bytes fed, not yet read by readline */
    int qhead, qn;
    int dirty, open;
    FILE *devnull;
    int key_cleft, key_cright; /* curses codes of Ctrl-Left / Ctrl-Right, 0 when unknown */
} P;

/* ---- readline's input and display hooks ---- */

static int getc_hook(FILE *f)
{
    (void)f;
    if (!P.qn)
        return 0; /* not reached: readline asks input_hook first */
    int c = P.q[P.qhead];
    P.qhead = (P.qhead + 1) % QUEUE;
    P.qn--;
    return c;
}

static int input_hook(void)
{
    return P.qn > 0;
}

static void redisplay_hook(void)
{
    P.dirty = 1;
}

static void prep_noop(int meta)
{
    (void)meta;
}

static void deprep_noop(void)
{
}

/* ---- history ---- */

const char *ui_prompt_history_path(char *buf, size_t n)
{
    const char *env = getenv("TLM_HISTORY"), *home = getenv("HOME");
    if (env)
        snprintf(buf, n, "%s", env);
    else
        snprintf(buf, n, "%s/.tlm_history", home && *home ? home : ".");
    return buf;
}

static void history_save_line(const char *line)
{
    add_history(line);
    if (!P.history[0])
        return;
    if (access(P.history, F_OK) != 0)
        write_history(P.history);
    else
        append_history(1, P.history);
}

static int blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return !*s;
}

static void line_handler(char *line)
{
    if (line && !blank(line))
        history_save_line(line);
    P.dirty = 1;
    if (P.hooks.line)
        P.hooks.line(P.hooks.ctx, line);
    else
        free(line);
}

/* ---- completion from the console's table ---- */

/* Longest common prefix of the candidates. */
static char *common_prefix(char **v, size_t n)
{
    size_t len = strlen(v[0]);
    for (size_t i = 1; i < n; i++) {
        size_t k = 0;
        while (k < len && v[i][k] == v[0][k])
            k++;
        len = k;
    }
    return strndup(v[0], len);
}

static char **complete_hook(const char *text, int start, int end)
{
    (void)text;
    (void)start;
    rl_attempted_completion_over = 1;
    tlm_strlist l;
    size_t ws;
    int n = tlm_console_complete(rl_line_buffer, (size_t)end, P.n_layers, &l, &ws);
    if (n <= 0) {
        tlm_strlist_free(&l);
        return NULL;
    }
    char **m = calloc((size_t)n + 2, sizeof *m);
    if (!m) {
        tlm_strlist_free(&l);
        return NULL;
    }
    m[0] = n == 1 ? strdup(l.v[0]) : common_prefix(l.v, l.n);
    for (int i = 0; n > 1 && i < n; i++)
        m[i + 1] = strdup(l.v[i]);
    const char *last = l.v[0] + strlen(l.v[0]);
    rl_completion_suppress_append = n == 1 && last > l.v[0] && last[-1] == '=';
    tlm_strlist_free(&l);
    return m;
}

static void matches_hook(char **matches, int n, int max_len)
{
    (void)max_len;
    if (P.hooks.matches)
        P.hooks.matches(P.hooks.ctx, matches + 1, n);
    P.dirty = 1;
}

/* ---- set-up ---- */

/* Curses code of a terminfo key capability (Ctrl-arrows), 0 when none. */
static int key_code(const char *cap)
{
    const char *s = tigetstr(cap);
    if (!s || s == (char *)-1)
        return 0;
    int k = key_defined(s);
    return k > 0 ? k : 0;
}

int ui_prompt_open(const char *prompt, const char *history, int n_layers,
                   const ui_prompt_hooks *hooks)
{
    memset(&P, 0, sizeof P);
    P.hooks = *hooks;
    P.n_layers = n_layers;
    snprintf(P.prompt, sizeof P.prompt, "%s", prompt);
    snprintf(P.history, sizeof P.history, "%s", history ? history : "");
    P.devnull = fopen("/dev/null", "w");
    if (!P.devnull)
        return -1;
    rl_readline_name = "tlm";
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_outstream = P.devnull;
    rl_instream = stdin;
    rl_getc_function = getc_hook;
    rl_input_available_hook = input_hook;
    rl_redisplay_function = redisplay_hook;
    rl_prep_term_function = prep_noop;
    rl_deprep_term_function = deprep_noop;
    rl_attempted_completion_function = complete_hook;
    rl_completion_display_matches_hook = matches_hook;
    rl_basic_word_break_characters = " \t";
    rl_completer_word_break_characters = " \t";
    rl_completer_quote_characters = NULL;
    using_history();
    stifle_history(HISTORY_MAX);
    if (P.history[0])
        read_history(P.history);
    rl_callback_handler_install(P.prompt, line_handler);
    rl_variable_bind("enable-bracketed-paste", "off");
    rl_variable_bind("bell-style", "none");
    rl_variable_bind("show-all-if-ambiguous", "on");
    rl_variable_bind("completion-query-items", "0");
    rl_variable_bind("page-completions", "off");
    P.key_cleft = key_code("kLFT5");
    P.key_cright = key_code("kRIT5");
    P.open = 1;
    P.dirty = 1;
    return 0;
}

void ui_prompt_close(void)
{
    if (!P.open)
        return;
    rl_callback_handler_remove();
    if (P.history[0])
        history_truncate_file(P.history, HISTORY_MAX);
    rl_outstream = stdout;
    fclose(P.devnull);
    P.devnull = NULL;
    P.open = 0;
}

/* ---- keys ---- */

static void push(const char *bytes, size_t n)
{
    for (size_t i = 0; i < n && P.qn < QUEUE; i++) {
        P.q[(P.qhead + P.qn) % QUEUE] = (unsigned char)bytes[i];
        P.qn++;
    }
}

/* The bytes readline binds for a curses key code; NULL when none. */
static const char *key_bytes(int key)
{
    switch (key) {
    case KEY_LEFT: return "\033[D";
    case KEY_RIGHT: return "\033[C";
    case KEY_UP: return "\033[A";
    case KEY_DOWN: return "\033[B";
    case KEY_HOME: return "\033[H";
    case KEY_END: return "\033[F";
    case KEY_DC: return "\033[3~";
    case KEY_BACKSPACE: return "\177";
    case KEY_ENTER: return "\r";
    default: break;
    }
    if (key && key == P.key_cleft)
        return "\033b";
    if (key && key == P.key_cright)
        return "\033f";
    return NULL;
}

int ui_prompt_key(int key)
{
    if (!P.open)
        return 0;
    if (key >= 0 && key < 256) {
        char b = (char)key;
        push(&b, 1);
    } else {
        const char *s = key_bytes(key);
        if (!s)
            return 0;
        push(s, strlen(s));
    }
    while (P.qn > 0 && P.open)
        rl_callback_read_char();
    return 1;
}

int ui_prompt_dirty(void)
{
    return P.dirty;
}

/* ---- display ---- */

/* Byte offset into line from which [off, point) fits in avail columns. */
static size_t scroll_start(const char *line, size_t point, int avail)
{
    size_t off = 0;
    while (off < point && ui_text_width(line + off, point - off) > avail) {
        off++;
        while (off < point && ((unsigned char)line[off] & 0xC0) == 0x80)
            off++;
    }
    return off;
}

void ui_prompt_draw(WINDOW *win, int y, int x, int w, int *cursor_x)
{
    const char *pr = rl_display_prompt ? rl_display_prompt : P.prompt;
    char prompt[256];
    size_t k = 0;
    for (const char *p = pr; *p && k + 1 < sizeof prompt; p++)
        if (*p != RL_PROMPT_START_IGNORE && *p != RL_PROMPT_END_IGNORE)
            prompt[k++] = *p;
    prompt[k] = 0;
    wmove(win, y, x);
    wattr_set(win, A_NORMAL, 0, NULL);
    for (int i = 0; i < w; i++)
        waddch(win, ' ');
    int pw = ui_draw_text(win, y, x, w, prompt, strlen(prompt), UI_R_ECHO);
    const char *line = rl_line_buffer ? rl_line_buffer : "";
    size_t point = rl_point > 0 ? (size_t)rl_point : 0, end = rl_end > 0 ? (size_t)rl_end : 0;
    int avail = w - pw - 1;
    if (avail < 1)
        avail = 1;
    size_t off = scroll_start(line, point, avail);
    ui_draw_text(win, y, x + pw, avail + 1, line + off, end - off, UI_R_NORMAL);
    *cursor_x = x + pw + ui_text_width(line + off, point - off);
    P.dirty = 0;
}
