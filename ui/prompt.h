/* prompt.h - GNU readline inside a curses window, through readline's
 * callback interface. Readline never touches the terminal: its input comes
 * from the bytes the UI feeds (rl_getc_function), its display goes through
 * ui_prompt_draw (rl_redisplay_function), its output stream is /dev/null,
 * and it installs no signal handlers and sets no environment. History is
 * kept in a file; tab completion asks the console's completer (command
 * names, layer names, patterns, setting keys, gen options). Readline is
 * process-global: one prompt at a time, UI thread only. */
#ifndef TLM_UI_PROMPT_H
#define TLM_UI_PROMPT_H
#include <curses.h>

typedef struct ui_prompt_hooks {
    void *ctx;
    /* A line was entered (NULL: end of input, Ctrl-D on an empty line; the
     * handler stays installed); the callee owns line (free()). */
    void (*line)(void *ctx, char *line);
    /* Several completions: show them (matches[0 .. n-1]). */
    void (*matches)(void *ctx, char **matches, int n);
} ui_prompt_hooks;

/* Set readline up for a prompt string and install the line handler.
 * history: the history file (NULL or "": none), read now and appended to
 * after each line. n_layers is used for completing layer names. Returns 0,
 * -1 when readline could not be set up. */
int ui_prompt_open(const char *prompt, const char *history, int n_layers,
                   const ui_prompt_hooks *hooks);

/* Remove the handler, trim the history file, close /dev/null. */
void ui_prompt_close(void);

/* Give readline one key from wgetch: bytes are fed as they are; curses key
 * codes (arrows, Home, End, Delete, Backspace, Enter) become the escape
 * sequences readline binds. Returns 1 when the key was used. */
int ui_prompt_key(int key);

/* 1 when the line or the cursor changed since the last ui_prompt_draw. */
int ui_prompt_dirty(void);

/* Draw the prompt and the line into row y of win from column x, w columns,
 * scrolled so the cursor shows; *cursor_x gets the cursor's column. */
void ui_prompt_draw(WINDOW *win, int y, int x, int w, int *cursor_x);

/* The history file to use: $TLM_HISTORY when set ("" for none), else
 * $HOME/.tlm_history. */
const char *ui_prompt_history_path(char *buf, size_t n);

#endif
